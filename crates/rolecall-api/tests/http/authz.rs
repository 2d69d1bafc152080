//! Who may and who may not, for every management action, acting as a user through
//! `Rolecall-Actor` (API.md conventions, PRODUCT.md's rules).

use serde_json::{Value, json};

use crate::app::{App, apps_schema};

const W: &str = "/v1/workspaces/acme";

/// acme with: olga owns `team` (private), eddie edits it, mia is a member, otto is an
/// outsider member of the workspace, connie a consumer, ada an admin. App `crm` with
/// workflow `deals`; olga is admin on crm, mia runner.
async fn world() -> App {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    for (u, role) in [
        ("olga", "member"),
        ("eddie", "member"),
        ("mia", "member"),
        ("otto", "member"),
        ("connie", "consumer"),
        ("ada", "admin"),
    ] {
        app.user("acme", u, role).await;
    }
    app.ok("POST", &format!("{W}/groups"), json!({"id": "team", "name": "Team", "visibility": "private"}), 201).await;
    app.ok("POST", &format!("{W}/groups"), json!({"id": "other", "name": "Other"}), 201).await;
    for (u, role) in [("olga", "owner"), ("eddie", "editor"), ("mia", "member")] {
        app.ok("PUT", &format!("{W}/groups/team/members/users/{u}"), json!({"role": role}), 200).await;
    }
    app.ok("POST", &format!("{W}/resources"), json!({"type": "app", "id": "crm", "name": "CRM"}), 201).await;
    let wf = json!({"type": "workflow", "id": "deals", "name": "Deals", "parent": {"type": "app", "id": "crm"}});
    app.ok("POST", &format!("{W}/resources"), wf, 201).await;
    app.ok("PUT", &format!("{W}/resources/app/crm/grants"), json!({"subject": {"user": "olga"}, "role": "admin"}), 201)
        .await;
    app.ok("PUT", &format!("{W}/resources/app/crm/grants"), json!({"subject": {"user": "mia"}, "role": "runner"}), 201)
        .await;
    app
}

/// Sends as `user` and returns the status.
async fn status(app: &App, user: &str, method: &str, path: &str, body: Value) -> u16 {
    app.acting(user, method, &format!("{W}{path}"), body).await.status.as_u16()
}

fn allowed(s: u16) -> bool {
    (200..300).contains(&s)
}

#[tokio::test]
async fn group_management_follows_membership_roles() {
    let app = world().await;
    // Adding a member: owner and editor yes; member, outsider, consumer no.
    for (who, may) in [("mia", false), ("otto", false), ("connie", false), ("eddie", true), ("olga", true)] {
        let s = status(&app, who, "PUT", "/groups/team/members/users/otto", json!({"role": "member"})).await;
        assert_eq!(allowed(s), may, "{who} adding a member: {s}");
        if may {
            assert_eq!(status(&app, "ada", "DELETE", "/groups/team/members/users/otto", Value::Null).await, 204);
        }
    }
    // An outsider does not even see the private group: 404, not 403.
    assert_eq!(status(&app, "otto", "GET", "/groups/team", Value::Null).await, 404);
    assert_eq!(status(&app, "otto", "GET", "/groups/team/members", Value::Null).await, 404);
    let listed = app.acting("otto", "GET", &format!("{W}/groups"), Value::Null).await;
    assert!(!listed.body.to_string().contains("\"team\""), "{}", listed.body);
    assert_eq!(status(&app, "mia", "GET", "/groups/team/members", Value::Null).await, 200);
    // Making an owner: only an owner (or admin).
    assert!(!allowed(status(&app, "eddie", "PUT", "/groups/team/members/users/mia", json!({"role": "owner"})).await));
    assert!(allowed(status(&app, "olga", "PUT", "/groups/team/members/users/mia", json!({"role": "owner"})).await));
    // Removing an owner: an editor may not, an owner may.
    assert!(!allowed(status(&app, "eddie", "DELETE", "/groups/team/members/users/mia", Value::Null).await));
    assert!(allowed(status(&app, "olga", "DELETE", "/groups/team/members/users/mia", Value::Null).await));
    assert!(allowed(status(&app, "olga", "PUT", "/groups/team/members/users/mia", Value::Null).await));
    // Editing settings and permission sets: owner yes, editor and member no.
    for (who, may) in [("mia", false), ("eddie", false), ("olga", true)] {
        let s = status(&app, who, "PATCH", "/groups/team", json!({"description": format!("by {who}")})).await;
        assert_eq!(allowed(s), may, "{who} editing: {s}");
        let set = json!({"id": format!("set-{who}"), "name": "Set", "permissions": ["view"]});
        let s = status(&app, who, "POST", "/groups/team/permission-sets", set).await;
        assert_eq!(allowed(s), may, "{who} adding a permission set: {s}");
    }
    // Nesting: needs manage-members on the parent and sight of the child.
    assert!(allowed(status(&app, "eddie", "PUT", "/groups/team/members/groups/other", Value::Null).await));
    assert!(!allowed(status(&app, "otto", "PUT", "/groups/other/members/groups/team", Value::Null).await));
    // Bulk: each group needs the right; one refusal refuses all.
    let bulk = json!({"group_ids": ["team", "other"], "action": "add_members", "users": ["connie"]});
    assert_eq!(status(&app, "eddie", "POST", "/groups/bulk", bulk).await, 403);
    assert_eq!(app.ok("GET", &format!("{W}/groups/team"), Value::Null, 200).await["member_count"], 3);
    // Deleting: editor no, owner yes.
    assert_eq!(status(&app, "eddie", "DELETE", "/groups/team", Value::Null).await, 403);
    assert_eq!(status(&app, "olga", "DELETE", "/groups/team", Value::Null).await, 204);
}

#[tokio::test]
async fn workspace_roles_gate_directory_and_capabilities() {
    let app = world().await;
    // A consumer may not create groups; a member may and becomes its owner.
    assert_eq!(status(&app, "connie", "POST", "/groups", json!({"name": "Mine"})).await, 403);
    let made = app.acting("otto", "POST", &format!("{W}/groups"), json!({"id": "ottos", "name": "Otto's"})).await;
    assert_eq!(made.status.as_u16(), 201);
    let members = app.ok("GET", &format!("{W}/groups/ottos/members"), Value::Null, 200).await;
    assert_eq!(members["items"], json!([{"user": "otto", "role": "owner"}]));

    // Users, resources, policies, scopes, schema, keys, audit: admins only.
    let user = json!({"id": "new", "email": "new@example.test", "name": "New"});
    let policy = json!({"id": "p", "name": "P", "rules": {"create_group": "deny"}});
    let checks: Vec<(&str, String, Value)> = vec![
        ("POST", "/users".into(), user),
        ("PATCH", "/users/mia".into(), json!({"workspace_role": "admin"})),
        ("DELETE", "/users/connie".into(), Value::Null),
        ("POST", "/resources".into(), json!({"type": "app", "id": "x", "name": "X"})),
        ("PATCH", "/resources/app/crm".into(), json!({"name": "Renamed"})),
        ("POST", "/policies".into(), policy),
        ("PUT", "/groups/other/data-scopes/sales".into(), json!({"country": ["FR"]})),
        ("PUT", "/schema".into(), apps_schema()),
        ("POST", "/api-keys".into(), json!({"name": "k"})),
        ("GET", "/audit".into(), Value::Null),
    ];
    for (method, path, body) in &checks {
        let s = status(&app, "olga", method, path, body.clone()).await;
        assert_eq!(s, 403, "a member doing {method} {path}");
    }
    for (method, path, body) in &checks {
        let s = status(&app, "ada", method, path, body.clone()).await;
        assert!(allowed(s), "an admin doing {method} {path}: {s}");
    }
    // Deleting the workspace is the root key's alone, whoever acts.
    assert_eq!(status(&app, "ada", "DELETE", "", Value::Null).await, 403);
}

#[tokio::test]
async fn nobody_grants_or_revokes_more_than_they_hold() {
    let app = world().await;
    let grants = "/resources/app/crm/grants";
    // Mia is a runner: she may share runner, not admin.
    let s = status(&app, "mia", "PUT", grants, json!({"subject": {"user": "otto"}, "role": "runner"})).await;
    assert_eq!(s, 201);
    let s = status(&app, "mia", "PUT", grants, json!({"subject": {"user": "otto"}, "role": "admin", "replace": true}))
        .await;
    assert_eq!(s, 403);
    // Otto, without a role, may not share at all; Olga (admin on crm) may give admin.
    assert_eq!(
        status(&app, "connie", "PUT", grants, json!({"subject": {"user": "connie"}, "role": "runner"})).await,
        403
    );
    let s = status(&app, "olga", "PUT", grants, json!({"subject": {"user": "eddie"}, "role": "admin"})).await;
    assert_eq!(s, 201);
    // Mia may not remove Eddie's admin rule; Olga may. A workspace admin may do either.
    assert_eq!(status(&app, "mia", "DELETE", &format!("{grants}?user=eddie"), Value::Null).await, 403);
    assert_eq!(status(&app, "olga", "DELETE", &format!("{grants}?user=eddie"), Value::Null).await, 204);
    assert_eq!(status(&app, "ada", "DELETE", &format!("{grants}?user=otto"), Value::Null).await, 204);
    // A revoked grant stays revoked.
    let check = json!({"subject": {"user": "otto"}, "action": "run", "resource": {"type": "app", "id": "crm"}});
    assert_eq!(app.ok("POST", &format!("{W}/check"), check, 200).await["allowed"], false);
}

#[tokio::test]
async fn an_actor_must_be_a_user_of_the_workspace() {
    let app = world().await;
    app.workspace("other", Value::Null).await;
    app.user("other", "stranger", "admin").await;
    let s = app.acting("stranger", "POST", &format!("{W}/groups"), json!({"name": "Sneaky"})).await;
    assert_eq!((s.status.as_u16(), s.code()), (404, "user_not_found"));
    let bad = app.acting("not a valid id!", "GET", &format!("{W}/groups"), Value::Null).await;
    assert_eq!((bad.status.as_u16(), bad.code()), (400, "invalid_actor"));
}
