//! Every endpoint of API.md, as a client uses it.

use serde_json::{Value, json};

use crate::app::{App, ROOT, apps_schema};

const W: &str = "/v1/workspaces/acme";

async fn acme() -> App {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    app
}

#[tokio::test]
async fn workspace_get_schema_put_and_delete() {
    let app = acme().await;
    let ws = app.ok("GET", W, Value::Null, 200).await;
    assert_eq!((ws["id"].as_str(), ws["name"].as_str()), (Some("acme"), Some("Workspace acme")));
    // The built-in groups are there from the start.
    assert_eq!(ws["groups"], 2);
    assert_eq!(
        app.ok("GET", &format!("{W}/schema"), Value::Null, 200).await["resource_types"]["app"]["roles"],
        json!(["runner", "admin"])
    );

    // A schema change that keeps every resource is applied...
    app.ok("POST", &format!("{W}/resources"), json!({"type": "app", "id": "crm", "name": "CRM"}), 201).await;
    let mut wider = apps_schema();
    wider["resource_types"]["report"] = json!({"roles": ["reader"], "actions": {"read": "reader"}});
    let done = app.ok("PUT", &format!("{W}/schema"), wider.clone(), 200).await;
    assert!(done["revision"].is_string());
    assert!(app.ok("GET", &format!("{W}/schema"), Value::Null, 200).await["resource_types"]["report"].is_object());
    // ...one that would orphan the app is a 409 naming it, and changes nothing.
    let mut narrower = wider.clone();
    narrower["resource_types"].as_object_mut().unwrap().remove("app");
    narrower["resource_types"].as_object_mut().unwrap().remove("workflow");
    let refused = app.root("PUT", &format!("{W}/schema"), narrower).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (409, "schema_orphans"), "{}", refused.body);
    assert!(refused.body["error"]["details"]["orphans"].to_string().contains("crm"), "{}", refused.body);
    assert!(app.ok("GET", &format!("{W}/schema"), Value::Null, 200).await["resource_types"]["app"].is_object());

    // Deleting the workspace: 204 with the revision, then it is gone.
    let gone = app.root("DELETE", W, Value::Null).await;
    assert_eq!(gone.status.as_u16(), 204);
    assert!(gone.revision.is_some());
    assert_eq!(app.root("GET", W, Value::Null).await.code(), "workspace_not_found");
    // Its id can be used again, empty.
    app.workspace("acme", Value::Null).await;
    assert_eq!(app.ok("GET", W, Value::Null, 200).await["resources"], 0);
}

#[tokio::test]
async fn users_create_list_page_patch_and_delete() {
    let app = acme().await;
    for (id, name) in [("ann", "Ann Lee"), ("bob", "Bob Stone"), ("cat", "Cat Annis"), ("dan", "Dan Ray")] {
        let body = json!({"id": id, "email": format!("{id}@Example.test"), "name": name});
        let u = app.ok("POST", &format!("{W}/users"), body, 201).await;
        assert_eq!((u["workspace_role"].as_str(), u["kind"].as_str()), (Some("member"), Some("regular")));
    }
    // Same id, or same email in another case: 409.
    let dup = json!({"id": "ann", "email": "other@example.test", "name": "X"});
    assert_eq!(app.root("POST", &format!("{W}/users"), dup).await.status.as_u16(), 409);
    let dup = json!({"id": "ann2", "email": "ANN@example.TEST", "name": "X"});
    assert_eq!(app.root("POST", &format!("{W}/users"), dup).await.status.as_u16(), 409);
    // A generated id when none is given.
    let generated =
        app.ok("POST", &format!("{W}/users"), json!({"email": "eve@example.test", "name": "Eve"}), 201).await;
    assert!(generated["id"].as_str().is_some_and(|id| !id.is_empty()));

    // Search by name or email, any case.
    let found = app.ok("GET", &format!("{W}/users?q=ANN"), Value::Null, 200).await;
    let ids: Vec<&str> = found["items"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["ann", "cat"]);
    // Pages of two follow on with no gap and no repeat.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{W}/users?limit=2&cursor={c}"),
            None => format!("{W}/users?limit=2"),
        };
        let page = app.ok("GET", &path, Value::Null, 200).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<std::collections::BTreeSet<_>>().len(), 5);

    // PATCH changes only what it names.
    let patched = app.ok("PATCH", &format!("{W}/users/bob"), json!({"workspace_role": "admin"}), 200).await;
    assert_eq!((patched["workspace_role"].as_str(), patched["name"].as_str()), (Some("admin"), Some("Bob Stone")));
    assert_eq!(app.ok("GET", &format!("{W}/users/bob"), Value::Null, 200).await["workspace_role"], "admin");
    // Bob is now in Workspace Admins.
    let admins = app.ok("GET", &format!("{W}/groups/workspace-admins/members"), Value::Null, 200).await;
    assert_eq!(admins["items"], json!([{"user": "bob", "role": "member"}]));
    let bad_role = app.root("PATCH", &format!("{W}/users/bob"), json!({"workspace_role": "emperor"})).await;
    assert_eq!((bad_role.status.as_u16(), bad_role.code()), (400, "unknown_workspace_role"));
    assert_eq!(app.root("PATCH", &format!("{W}/users/nobody"), json!({"name": "N"})).await.code(), "user_not_found");

    let gone = app.root("DELETE", &format!("{W}/users/dan"), Value::Null).await;
    assert_eq!(gone.status.as_u16(), 204);
    assert!(gone.revision.is_some());
    assert_eq!(app.root("GET", &format!("{W}/users/dan"), Value::Null).await.status.as_u16(), 404);
    assert_eq!(app.root("DELETE", &format!("{W}/users/dan"), Value::Null).await.code(), "user_not_found");
}

#[tokio::test]
async fn groups_members_nesting_and_their_listing() {
    let app = acme().await;
    for u in ["ann", "bob", "cat"] {
        app.user("acme", u, "member").await;
    }
    let g = json!({"id": "sales", "name": "Sales", "tags": ["team", "emea"], "icon": "chart"});
    let created = app.ok("POST", &format!("{W}/groups"), g, 201).await;
    assert_eq!((created["builtin"].as_bool(), created["member_count"].as_u64()), (Some(false), Some(0)));
    app.ok("POST", &format!("{W}/groups"), json!({"id": "emea", "name": "EMEA", "tags": ["region"]}), 201).await;
    // The same name again is a conflict, and so is a built-in id.
    assert_eq!(app.root("POST", &format!("{W}/groups"), json!({"name": "sales"})).await.status.as_u16(), 409);
    assert_eq!(
        app.root("POST", &format!("{W}/groups"), json!({"id": "everyone", "name": "E"})).await.status.as_u16(),
        409
    );

    app.ok("PUT", &format!("{W}/groups/sales/members/users/ann"), json!({"role": "owner"}), 200).await;
    app.ok("PUT", &format!("{W}/groups/sales/members/users/bob"), json!({"role": "editor"}), 200).await;
    app.ok("PUT", &format!("{W}/groups/emea/members/users/cat"), Value::Null, 200).await;
    app.ok("PUT", &format!("{W}/groups/sales/members/groups/emea"), Value::Null, 200).await;
    // Nesting back is a cycle.
    let cycle = app.root("PUT", &format!("{W}/groups/emea/members/groups/sales"), Value::Null).await;
    assert_eq!((cycle.status.as_u16(), cycle.code()), (409, "cycle"));

    let members = app.ok("GET", &format!("{W}/groups/sales/members"), Value::Null, 200).await;
    assert_eq!(
        members["items"],
        json!([{"user": "ann", "role": "owner"}, {"user": "bob", "role": "editor"}, {"group": "emea"}])
    );
    assert_eq!(members["member_count"], 3);
    let owners = app.ok("GET", &format!("{W}/groups/sales/members?role=owner"), Value::Null, 200).await;
    assert_eq!(owners["items"], json!([{"user": "ann", "role": "owner"}]));
    // Paging runs from the users into the nested groups.
    let first = app.ok("GET", &format!("{W}/groups/sales/members?limit=2"), Value::Null, 200).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app.ok("GET", &format!("{W}/groups/sales/members?limit=2&cursor={cursor}"), Value::Null, 200).await;
    assert_eq!(second["items"], json!([{"group": "emea"}]));
    assert_eq!(second["next_cursor"], Value::Null);
    // Everyone lists its automatic members.
    let everyone = app.ok("GET", &format!("{W}/groups/everyone/members"), Value::Null, 200).await;
    assert_eq!(everyone["items"].as_array().unwrap().len(), 3);

    // Listing by tag and search; GET one with its count.
    let teams = app.ok("GET", &format!("{W}/groups?tag=team"), Value::Null, 200).await;
    assert_eq!(teams["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.ok("GET", &format!("{W}/groups/sales"), Value::Null, 200).await["member_count"], 3);

    // PATCH: settings change, an explicit null clears the icon.
    let patched =
        app.ok("PATCH", &format!("{W}/groups/sales"), json!({"visibility": "private", "icon": null}), 200).await;
    assert_eq!((patched["visibility"].as_str(), patched["icon"].clone()), (Some("private"), Value::Null));
    assert_eq!(patched["tags"], json!(["team", "emea"]));
    let builtin = app.root("PATCH", &format!("{W}/groups/everyone"), json!({"name": "All"})).await;
    assert_eq!((builtin.status.as_u16(), builtin.code()), (409, "builtin_group"));

    // Un-nesting and removing members.
    assert_eq!(
        app.root("DELETE", &format!("{W}/groups/sales/members/groups/emea"), Value::Null).await.status.as_u16(),
        204
    );
    assert_eq!(
        app.root("DELETE", &format!("{W}/groups/sales/members/users/bob"), Value::Null).await.status.as_u16(),
        204
    );
    assert_eq!(app.ok("GET", &format!("{W}/groups/sales"), Value::Null, 200).await["member_count"], 1);
    // The last owner stays.
    let last = app.root("DELETE", &format!("{W}/groups/sales/members/users/ann"), Value::Null).await;
    assert_eq!((last.status.as_u16(), last.code()), (409, "last_owner"));

    assert_eq!(app.root("DELETE", &format!("{W}/groups/sales"), Value::Null).await.status.as_u16(), 204);
    assert_eq!(app.root("GET", &format!("{W}/groups/sales"), Value::Null).await.code(), "group_not_found");
    let builtin = app.root("DELETE", &format!("{W}/groups/everyone"), Value::Null).await;
    assert_eq!((builtin.status.as_u16(), builtin.code()), (409, "builtin_group"));
}

#[tokio::test]
async fn permission_sets_and_their_assignees() {
    let app = acme().await;
    for u in ["fiona", "gus", "hal"] {
        app.user("acme", u, "member").await;
    }
    app.ok("POST", &format!("{W}/groups"), json!({"id": "support", "name": "Support", "visibility": "private"}), 201)
        .await;
    app.ok("PUT", &format!("{W}/groups/support/members/users/gus"), Value::Null, 200).await;
    let sets = app.ok("GET", &format!("{W}/groups/support/permission-sets"), Value::Null, 200).await;
    let names: Vec<&str> = sets["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Owners", "Members", "Everyone"]);

    let body = json!({"id": "leads", "name": "Team Leaders", "permissions": ["view", "edit"]});
    let set = app.ok("POST", &format!("{W}/groups/support/permission-sets"), body.clone(), 201).await;
    assert_eq!((set["builtin"].as_bool(), set["permissions"].clone()), (Some(false), json!(["view", "edit"])));
    assert_eq!(app.root("POST", &format!("{W}/groups/support/permission-sets"), body).await.status.as_u16(), 409);

    // Fiona, an outsider, cannot see the private group until she is assigned the set.
    let check = json!({"subject": {"user": "fiona"}, "action": "edit", "resource": {"type": "group", "id": "support"}});
    assert_eq!(app.ok("POST", &format!("{W}/check"), check.clone(), 200).await["allowed"], false);
    app.ok("PUT", &format!("{W}/groups/support/permission-sets/leads/assignees/users/fiona"), Value::Null, 200).await;
    assert_eq!(app.ok("POST", &format!("{W}/check"), check.clone(), 200).await["allowed"], true);
    let listed = app.ok("GET", &format!("{W}/groups/support/permission-sets"), Value::Null, 200).await;
    assert_eq!(listed["items"][3]["assignees"], json!([{"user": "fiona"}]));

    // Rename and narrow; the built-in sets keep their names.
    let patched = app
        .ok(
            "PATCH",
            &format!("{W}/groups/support/permission-sets/leads"),
            json!({"name": "Leads", "permissions": ["view"]}),
            200,
        )
        .await;
    assert_eq!((patched["name"].as_str(), patched["permissions"].clone()), (Some("Leads"), json!(["view"])));
    assert_eq!(app.ok("POST", &format!("{W}/check"), check.clone(), 200).await["allowed"], false);
    let renamed = app.root("PATCH", &format!("{W}/groups/support/permission-sets/members"), json!({"name": "X"})).await;
    assert_eq!(renamed.status.as_u16(), 409);
    let owners =
        app.root("PATCH", &format!("{W}/groups/support/permission-sets/owners"), json!({"permissions": []})).await;
    assert_eq!(owners.code(), "builtin_permission_set");

    // Unassign, delete; a group can be an assignee too.
    app.ok("PUT", &format!("{W}/groups/support/permission-sets/leads/assignees/groups/everyone"), Value::Null, 200)
        .await;
    let gone = app
        .root("DELETE", &format!("{W}/groups/support/permission-sets/leads/assignees/users/fiona"), Value::Null)
        .await;
    assert_eq!(gone.status.as_u16(), 204);
    let wrong_kind =
        app.root("PUT", &format!("{W}/groups/support/permission-sets/leads/assignees/robots/r1"), Value::Null).await;
    assert_eq!(wrong_kind.status.as_u16(), 404);
    assert_eq!(
        app.root("DELETE", &format!("{W}/groups/support/permission-sets/leads"), Value::Null).await.status.as_u16(),
        204
    );
    let sets = app.ok("GET", &format!("{W}/groups/support/permission-sets"), Value::Null, 200).await;
    assert_eq!(sets["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        app.root("DELETE", &format!("{W}/groups/support/permission-sets/members"), Value::Null).await.code(),
        "builtin_permission_set"
    );
}

#[tokio::test]
async fn bulk_group_actions_are_all_or_nothing() {
    let app = acme().await;
    for u in ["ann", "bob"] {
        app.user("acme", u, "member").await;
    }
    for g in ["g1", "g2", "g3"] {
        app.ok("POST", &format!("{W}/groups"), json!({"id": g, "name": g}), 201).await;
    }
    let bulk = format!("{W}/groups/bulk");
    app.ok("POST", &bulk, json!({"group_ids": ["g1", "g2"], "action": "add_members", "users": ["ann", "bob"]}), 200)
        .await;
    for g in ["g1", "g2"] {
        assert_eq!(app.ok("GET", &format!("{W}/groups/{g}"), Value::Null, 200).await["member_count"], 2);
    }
    // One unknown group: nothing happens to the others.
    let refused =
        app.root("POST", &bulk, json!({"group_ids": ["g3", "ghost"], "action": "add_members", "users": ["ann"]})).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (404, "group_not_found"));
    assert_eq!(app.ok("GET", &format!("{W}/groups/g3"), Value::Null, 200).await["member_count"], 0);

    app.ok(
        "POST",
        &bulk,
        json!({"group_ids": ["g1", "g2"], "action": "set_member_role", "users": ["bob"], "role": "editor"}),
        200,
    )
    .await;
    let editors = app.ok("GET", &format!("{W}/groups/g2/members?role=editor"), Value::Null, 200).await;
    assert_eq!(editors["items"], json!([{"user": "bob", "role": "editor"}]));
    app.ok("POST", &bulk, json!({"group_ids": ["g1"], "action": "remove_members", "users": ["ann", "bob"]}), 200).await;
    assert_eq!(app.ok("GET", &format!("{W}/groups/g1"), Value::Null, 200).await["member_count"], 0);
    app.ok("POST", &bulk, json!({"group_ids": ["g1", "g2"], "action": "delete"}), 200).await;
    assert_eq!(app.root("GET", &format!("{W}/groups/g2"), Value::Null).await.status.as_u16(), 404);

    let unknown = app.root("POST", &bulk, json!({"group_ids": ["g3"], "action": "explode"})).await;
    assert_eq!(unknown.status.as_u16(), 400);
    let no_users = app.root("POST", &bulk, json!({"group_ids": ["g3"], "action": "add_members"})).await;
    assert_eq!(no_users.status.as_u16(), 400);
    let many: Vec<String> = (0..1001).map(|i| format!("g{i}")).collect();
    let too_many = app.root("POST", &bulk, json!({"group_ids": many, "action": "delete"})).await;
    assert_eq!(too_many.status.as_u16(), 413);
}

#[tokio::test]
async fn policies_and_data_scopes() {
    let app = acme().await;
    app.user("acme", "ann", "member").await;
    app.ok("POST", &format!("{W}/groups"), json!({"id": "france", "name": "France"}), 201).await;
    app.ok("PUT", &format!("{W}/groups/france/members/users/ann"), Value::Null, 200).await;

    let can =
        json!({"subject": {"user": "ann"}, "action": "create_group", "resource": {"type": "workspace", "id": "acme"}});
    assert_eq!(app.ok("POST", &format!("{W}/check"), can.clone(), 200).await["allowed"], true);
    let policy = json!({"id": "no-groups", "name": "No new groups", "rules": {"create_group": "deny"}});
    let created = app.ok("POST", &format!("{W}/policies"), policy.clone(), 201).await;
    assert_eq!(created["name"], "No new groups");
    assert_eq!(app.root("POST", &format!("{W}/policies"), policy).await.status.as_u16(), 409);
    let unknown = json!({"name": "Fly", "rules": {"fly": "allow"}});
    assert_eq!(app.root("POST", &format!("{W}/policies"), unknown).await.code(), "unknown_capability");

    app.ok("PUT", &format!("{W}/groups/france/policies/no-groups"), Value::Null, 200).await;
    assert_eq!(app.ok("POST", &format!("{W}/check"), can.clone(), 200).await["allowed"], false);
    let attached = app.ok("GET", &format!("{W}/groups/france/policies"), Value::Null, 200).await;
    assert_eq!(attached["items"][0]["id"], "no-groups");
    let listed = app.ok("GET", &format!("{W}/policies"), Value::Null, 200).await;
    assert_eq!(listed["items"][0]["groups"], json!(["france"]));
    // A PATCH that allows it again takes effect at once.
    app.ok("PATCH", &format!("{W}/policies/no-groups"), json!({"rules": {"create_group": "allow"}}), 200).await;
    assert_eq!(app.ok("POST", &format!("{W}/check"), can.clone(), 200).await["allowed"], true);
    assert_eq!(app.ok("GET", &format!("{W}/policies/no-groups"), Value::Null, 200).await["name"], "No new groups");
    assert_eq!(
        app.root("DELETE", &format!("{W}/groups/france/policies/no-groups"), Value::Null).await.status.as_u16(),
        204
    );
    assert_eq!(app.root("DELETE", &format!("{W}/policies/no-groups"), Value::Null).await.status.as_u16(), 204);
    assert_eq!(app.root("GET", &format!("{W}/policies/no-groups"), Value::Null).await.code(), "policy_not_found");

    // Data scopes: France sees France.
    let filter = json!({"user": "ann", "dataset": "sales"});
    assert_eq!(app.ok("POST", &format!("{W}/data-filter"), filter.clone(), 200).await["sql"]["where"], "FALSE");
    app.ok("PUT", &format!("{W}/groups/france/data-scopes/sales"), json!({"country": ["FR"]}), 200).await;
    let f = app.ok("POST", &format!("{W}/data-filter"), filter.clone(), 200).await;
    assert_eq!(f["filter"], json!({"country": ["FR"]}));
    let scopes = app.ok("GET", &format!("{W}/groups/france/data-scopes"), Value::Null, 200).await;
    assert_eq!(scopes["items"], json!([{"dataset": "sales", "scope": {"country": ["FR"]}}]));
    let bad = app.root("PUT", &format!("{W}/groups/france/data-scopes/sales"), json!({"city": ["Paris"]})).await;
    assert_eq!(bad.code(), "unknown_attribute");
    assert_eq!(
        app.root("DELETE", &format!("{W}/groups/france/data-scopes/sales"), Value::Null).await.status.as_u16(),
        204
    );
    assert_eq!(app.ok("POST", &format!("{W}/data-filter"), filter, 200).await["sql"]["where"], "FALSE");
}

#[tokio::test]
async fn resources_list_get_patch_and_delete() {
    let app = acme().await;
    app.ok("POST", &format!("{W}/resources"), json!({"type": "app", "id": "crm", "name": "Sales CRM"}), 201).await;
    app.ok("POST", &format!("{W}/resources"), json!({"type": "app", "id": "hr", "name": "People"}), 201).await;
    let wf = json!({"type": "workflow", "id": "deals", "name": "Close deals", "parent": {"type": "app", "id": "crm"}});
    app.ok("POST", &format!("{W}/resources"), wf, 201).await;

    let apps = app.ok("GET", &format!("{W}/resources?type=app"), Value::Null, 200).await;
    assert_eq!(apps["items"].as_array().unwrap().len(), 2);
    let found = app.ok("GET", &format!("{W}/resources?q=sales"), Value::Null, 200).await;
    assert_eq!(found["items"], json!([{"type": "app", "id": "crm", "name": "Sales CRM", "parent": null}]));
    assert_eq!(app.root("GET", &format!("{W}/resources?type=robot"), Value::Null).await.code(), "unknown_type");
    let one = app.ok("GET", &format!("{W}/resources/workflow/deals"), Value::Null, 200).await;
    assert_eq!(one["parent"], json!({"type": "app", "id": "crm"}));

    // Move the workflow to another app; its access follows the new parent.
    app.user("acme", "ann", "member").await;
    let grant = json!({"subject": {"user": "ann"}, "role": "runner"});
    assert_eq!(app.root("PUT", &format!("{W}/resources/app/hr/grants"), grant).await.status.as_u16(), 201);
    let run = json!({"subject": {"user": "ann"}, "action": "run", "resource": {"type": "workflow", "id": "deals"}});
    assert_eq!(app.ok("POST", &format!("{W}/check"), run.clone(), 200).await["allowed"], false);
    let moved = app
        .ok(
            "PATCH",
            &format!("{W}/resources/workflow/deals"),
            json!({"name": "Deals", "parent": {"type": "app", "id": "hr"}}),
            200,
        )
        .await;
    assert_eq!(moved["name"], "Deals");
    assert_eq!(app.ok("POST", &format!("{W}/check"), run.clone(), 200).await["allowed"], true);

    // An app with a workflow cannot go; the workflow can, then the app.
    let busy = app.root("DELETE", &format!("{W}/resources/app/hr"), Value::Null).await;
    assert_eq!((busy.status.as_u16(), busy.code()), (409, "resource_has_children"));
    assert_eq!(app.root("DELETE", &format!("{W}/resources/workflow/deals"), Value::Null).await.status.as_u16(), 204);
    assert_eq!(app.root("DELETE", &format!("{W}/resources/app/hr"), Value::Null).await.status.as_u16(), 204);
    assert_eq!(app.root("GET", &format!("{W}/resources/app/hr"), Value::Null).await.code(), "resource_not_found");
    // Its rules went with it.
    assert_eq!(app.root("GET", &format!("{W}/resources/app/hr/grants"), Value::Null).await.status.as_u16(), 404);
}

#[tokio::test]
async fn api_keys_work_in_their_workspace_only() {
    let app = acme().await;
    app.workspace("other", Value::Null).await;
    let key = app.ok("POST", &format!("{W}/api-keys"), json!({"name": "backend"}), 201).await;
    let secret = key["key"].as_str().unwrap().to_string();
    let mine = app.send("GET", &format!("{W}/users"), &secret, None, None).await;
    assert_eq!(mine.status.as_u16(), 200);
    let body = json!({"id": "x", "email": "x@example.test", "name": "X"});
    let theirs = app.send("POST", "/v1/workspaces/other/users", &secret, None, Some(&body)).await;
    assert_eq!((theirs.status.as_u16(), theirs.code()), (404, "workspace_not_found"));
    let check = json!({"subject": {"user": "x"}, "action": "view", "resource": {"type": "workspace", "id": "other"}});
    let other_check = app.send("POST", "/v1/workspaces/other/check", &secret, None, Some(&check)).await;
    assert_eq!(other_check.status.as_u16(), 404);
    // A key cannot make workspaces or delete its own.
    let made = app.send("POST", "/v1/workspaces", &secret, None, Some(&json!({"name": "Mine"}))).await;
    assert_eq!(made.status.as_u16(), 403);
    assert_eq!(app.send("DELETE", W, &secret, None, None).await.status.as_u16(), 403);
    // The key is never shown again, and the root key is not a workspace key.
    assert!(!app.ok("GET", &format!("{W}/audit"), Value::Null, 200).await.to_string().contains(&secret));
    assert_eq!(app.send("GET", &format!("{W}/users"), "rk_wrong", None, None).await.status.as_u16(), 401);
    assert_eq!(app.send("GET", &format!("{W}/users"), ROOT, None, None).await.status.as_u16(), 200);

    // Listed without the secret; revoked, it stops working at once.
    let keys = app.ok("GET", &format!("{W}/api-keys"), Value::Null, 200).await;
    assert_eq!(keys["items"][0]["name"], "backend");
    assert!(!keys.to_string().contains(&secret));
    let id = key["id"].as_str().unwrap();
    assert_eq!(app.root("DELETE", &format!("{W}/api-keys/{id}"), Value::Null).await.status.as_u16(), 204);
    assert_eq!(app.send("GET", &format!("{W}/users"), &secret, None, None).await.status.as_u16(), 401);
    assert_eq!(app.root("DELETE", &format!("{W}/api-keys/{id}"), Value::Null).await.code(), "api_key_not_found");
}

#[tokio::test]
async fn a_resources_rules_by_tab_search_roles_and_recent_activity() {
    let app = acme().await;
    app.ok("POST", &format!("{W}/resources"), json!({"type": "app", "id": "crm", "name": "CRM"}), 201).await;
    for u in ["ann", "bob", "cat"] {
        app.user("acme", u, "member").await;
    }
    app.ok("POST", &format!("{W}/groups"), json!({"id": "sales", "name": "Sales"}), 201).await;
    let rules = format!("{W}/resources/app/crm/grants");
    for (subject, role) in [
        (json!({"user": "ann"}), "runner"),
        (json!({"user": "bob"}), "admin"),
        (json!({"user": "cat"}), "runner"),
        (json!({"group": "sales"}), "runner"),
    ] {
        app.ok("PUT", &rules, json!({"subject": subject, "role": role}), 201).await;
    }
    app.ok("POST", &format!("{W}/users/bob/activity"), json!({"at": 2_000}), 200).await;
    app.ok("POST", &format!("{W}/users/ann/activity"), json!({"at": 1_000}), 200).await;
    // An older report never moves the time back.
    let kept = app.ok("POST", &format!("{W}/users/bob/activity"), json!({"at": 5}), 200).await;
    assert_eq!(kept["last_active_at"], 2_000);
    assert_eq!(app.root("POST", &format!("{W}/users/ghost/activity"), Value::Null).await.code(), "user_not_found");

    let ids = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["subject"].to_string()).collect()
    };
    let recent = app.ok("GET", &format!("{rules}?subject_kind=user&sort=recent_activity"), Value::Null, 200).await;
    assert_eq!(ids(&recent), [r#"{"user":"bob"}"#, r#"{"user":"ann"}"#, r#"{"user":"cat"}"#]);
    let runners = app.ok("GET", &format!("{rules}?subject_kind=user&roles=runner"), Value::Null, 200).await;
    assert_eq!(ids(&runners), [r#"{"user":"ann"}"#, r#"{"user":"cat"}"#]);
    // Both filters together, sorted by activity; and the Groups tab.
    let both =
        app.ok("GET", &format!("{rules}?roles=runner,admin&sort=recent_activity&limit=2"), Value::Null, 200).await;
    assert_eq!(ids(&both), [r#"{"user":"bob"}"#, r#"{"user":"ann"}"#]);
    assert!(both["next_cursor"].is_string());
    let groups = app.ok("GET", &format!("{rules}?subject_kind=group"), Value::Null, 200).await;
    assert_eq!(groups["items"][0]["subject_name"], "Sales");
    let search = app.ok("GET", &format!("{rules}?q=CAT%40EXAMPLE"), Value::Null, 200).await;
    assert_eq!(ids(&search), [r#"{"user":"cat"}"#]);
    assert_eq!(app.root("GET", &format!("{rules}?sort=loudest"), Value::Null).await.status.as_u16(), 400);
}

#[tokio::test]
async fn exports_for_spicedb_and_openfga() {
    let app = acme().await;
    app.user("acme", "sam", "member").await;
    app.ok("POST", &format!("{W}/resources"), json!({"type": "app", "id": "crm", "name": "CRM"}), 201).await;
    app.ok("PUT", &format!("{W}/resources/app/crm/grants"), json!({"subject": {"user": "sam"}, "role": "runner"}), 201)
        .await;
    let res = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(app.url(&format!("{W}/export/spicedb")))
        .bearer_auth(ROOT)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers()["content-type"], "application/yaml");
    let yaml = res.text().await.unwrap();
    assert!(yaml.contains("  definition app {") && yaml.contains("  app:crm#runner@user:sam"), "{yaml}");
    let fga = app.ok("GET", &format!("{W}/export/openfga"), Value::Null, 200).await;
    assert!(fga["model"].as_str().unwrap().contains("\ntype app\n"), "{fga}");
    assert!(
        fga["tuples"]
            .as_array()
            .unwrap()
            .contains(&json!({"user": "user:sam", "relation": "runner", "object": "app:crm"}))
    );
    // Admins and keys only.
    assert_eq!(app.acting("sam", "GET", &format!("{W}/export/openfga"), Value::Null).await.status.as_u16(), 403);
    assert_eq!(app.acting("sam", "GET", &format!("{W}/export/spicedb"), Value::Null).await.status.as_u16(), 403);
}

#[tokio::test]
async fn a_suspended_user_is_allowed_nothing_until_reactivated() {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    app.user("acme", "ann", "admin").await;
    app.ok("POST", "/v1/workspaces/acme/resources", json!({"type": "app", "id": "crm", "name": "CRM"}), 201).await;
    let check = json!({"subject": {"user": "ann"}, "action": "update", "resource": {"type": "app", "id": "crm"}});
    assert_eq!(app.ok("POST", "/v1/workspaces/acme/check", check.clone(), 200).await["allowed"], true);
    let off = app.ok("PATCH", "/v1/workspaces/acme/users/ann", json!({"active": false}), 200).await;
    assert_eq!(off["active"], false);
    assert_eq!(app.ok("POST", "/v1/workspaces/acme/check", check.clone(), 200).await["allowed"], false);
    // A suspended admin administers nothing either.
    let acting =
        app.acting("ann", "POST", "/v1/workspaces/acme/users", json!({"email": "x@example.test", "name": "X"})).await;
    assert_eq!(acting.status, 403, "{}", acting.body);
    let listed = app.ok("GET", "/v1/workspaces/acme/users", Value::Null, 200).await;
    assert_eq!(listed["items"][0]["active"], false);
    // Other changes to the user keep the suspension; lifting it brings everything back.
    app.ok("PATCH", "/v1/workspaces/acme/users/ann", json!({"name": "Ann B."}), 200).await;
    assert_eq!(app.ok("POST", "/v1/workspaces/acme/check", check.clone(), 200).await["allowed"], false);
    app.ok("PATCH", "/v1/workspaces/acme/users/ann", json!({"active": true}), 200).await;
    assert_eq!(app.ok("POST", "/v1/workspaces/acme/check", check, 200).await["allowed"], true);
    let bad = app.root("PATCH", "/v1/workspaces/acme/users/ann", json!({"active": "no"})).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn console_passwords_are_set_by_the_user_or_an_admin() {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    app.user("acme", "ann", "member").await;
    app.user("acme", "bob", "member").await;
    let path = "/v1/workspaces/acme/users/ann/password";
    let set = app.root("PUT", path, json!({"password": "a long enough passphrase"})).await;
    assert_eq!(set.status, 204);
    assert!(set.revision.is_some());
    let own = app.acting("ann", "PUT", path, json!({"password": "another long passphrase"})).await;
    assert_eq!(own.status, 204, "{}", own.body);
    let other = app.acting("bob", "PUT", path, json!({"password": "bob sets ann's password"})).await;
    assert_eq!(other.status, 403, "{}", other.body);
    let short = app.root("PUT", path, json!({"password": "short"})).await;
    assert_eq!((short.status.as_u16(), short.code()), (400, "invalid_input"));
    let nobody = app
        .root("PUT", "/v1/workspaces/acme/users/nobody/password", json!({"password": "a long enough passphrase"}))
        .await;
    assert_eq!(nobody.status, 404);
    // Neither the password nor its hash is ever shown.
    let audit = app.ok("GET", "/v1/workspaces/acme/audit", Value::Null, 200).await;
    assert!(audit.to_string().contains("user.password.set"));
    assert!(!audit.to_string().contains("passphrase") && !audit.to_string().contains("argon2"));
    let export = app.ok("GET", "/v1/workspaces/acme/export", Value::Null, 200).await;
    assert!(!export.to_string().contains("argon2"));
}
