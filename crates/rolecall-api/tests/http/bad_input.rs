//! Bad input is a 4xx with a JSON error code, never a 5xx or a hang (every answer passes
//! through `App::send`, which fails the test on any 5xx).

use rolecall_model::Limits;
use serde_json::{Value, json};

use crate::app::{App, ROOT, apps_schema};

const W: &str = "/v1/workspaces/acme";

/// method, path, content type, body, expected status, expected code.
type Case = (&'static str, String, Option<&'static str>, Vec<u8>, u16, &'static str);

async fn raw(app: &App, method: &str, path: &str, content_type: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut req = client.request(method.parse().unwrap(), app.url(path)).bearer_auth(ROOT).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn malformed_bodies_and_requests() {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    let json_ct = Some("application/json");
    let cases: Vec<Case> = vec![
        ("POST", format!("{W}/users"), json_ct, b"{not json".to_vec(), 400, "invalid_json"),
        (
            "POST",
            format!("{W}/users"),
            json_ct,
            br#"{"email":"a@b.c","name":"A","shoe":1}"#.to_vec(),
            400,
            "invalid_json",
        ),
        (
            "POST",
            format!("{W}/users"),
            Some("text/plain"),
            br#"{"email":"a@b.c","name":"A"}"#.to_vec(),
            415,
            "unsupported_media_type",
        ),
        ("POST", format!("{W}/users"), json_ct, vec![b' '; 2 * 1024 * 1024], 413, "too_large"),
        (
            "POST",
            format!("{W}/users"),
            json_ct,
            br#"{"email":"not-an-email","name":"A"}"#.to_vec(),
            400,
            "invalid_field",
        ),
        (
            "POST",
            format!("{W}/users"),
            json_ct,
            br#"{"id":"bad id!","email":"a@b.c","name":"A"}"#.to_vec(),
            400,
            "invalid_id",
        ),
        (
            "POST",
            format!("{W}/users"),
            json_ct,
            br#"{"email":"a@b.c","name":"A","workspace_role":"king"}"#.to_vec(),
            400,
            "unknown_workspace_role",
        ),
        ("POST", format!("{W}/groups"), json_ct, br#"{"name":""}"#.to_vec(), 400, "invalid_field"),
        (
            "POST",
            format!("{W}/groups"),
            json_ct,
            br#"{"name":"G","visibility":"secret"}"#.to_vec(),
            400,
            "invalid_json",
        ),
        (
            "POST",
            format!("{W}/resources"),
            json_ct,
            br#"{"type":"robot","id":"r","name":"R"}"#.to_vec(),
            400,
            "unknown_type",
        ),
        (
            "PUT",
            format!("{W}/groups/everyone/members/users/x"),
            json_ct,
            br#"{"role":"king"}"#.to_vec(),
            400,
            "invalid_json",
        ),
        ("PUT", format!("{W}/schema"), json_ct, br#"{"workspace_roles":[]}"#.to_vec(), 400, "invalid_schema"),
        // Endpoints whose body may be left out still refuse a bad one, or one too large.
        ("POST", format!("{W}/users/x/activity"), json_ct, br#"{"at":"yesterday"}"#.to_vec(), 400, "invalid_json"),
        ("PUT", format!("{W}/groups/everyone/members/users/x"), json_ct, vec![b' '; 2 * 1024 * 1024], 413, "too_large"),
        (
            "POST",
            "/v1/workspaces".into(),
            json_ct,
            br#"{"id":"acme","name":"Again"}"#.to_vec(),
            409,
            "workspace_exists",
        ),
    ];
    for (method, path, ct, body, status, code) in cases {
        let (got, body) = raw(&app, method, &path, ct, body).await;
        assert_eq!((got, body["error"]["code"].as_str().unwrap_or("")), (status, code), "{method} {path}: {body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // Imports take bigger bodies (16 MiB), and no more.
    let mut big = br#"{"facts": []"#.to_vec();
    big.extend(vec![b' '; 2 * 1024 * 1024]);
    big.push(b'}');
    let (status, body) = raw(&app, "POST", &format!("{W}/import"), json_ct, big).await;
    assert_eq!((status, body["imported"].as_u64()), (200, Some(0)), "{body}");
    let (status, body) = raw(&app, "POST", &format!("{W}/import"), json_ct, vec![b' '; 17 * 1024 * 1024]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("too_large")));
    let removal = json!({"facts": [{"op": "delete_user", "user": "x"}]});
    let (status, body) = raw(&app, "POST", &format!("{W}/import"), json_ct, removal.to_string().into_bytes()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_input")));
    // No key, a wrong key: 401 before anything else.
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let res = client.get(app.url(&format!("{W}/users"))).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 401);
    assert_eq!(app.send("GET", &format!("{W}/users"), "nope", None, None).await.code(), "unauthorized");
    // An unknown workspace is a 404 whatever the key.
    assert_eq!(app.root("GET", "/v1/workspaces/ghost/users", Value::Null).await.code(), "workspace_not_found");
}

#[tokio::test]
async fn unknown_names_in_questions() {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    app.user("acme", "ann", "member").await;
    app.ok("POST", &format!("{W}/resources"), json!({"type": "app", "id": "crm", "name": "CRM"}), 201).await;
    let ask = |subject: &str, action: &str, kind: &str, id: &str| json!({"subject": {"user": subject}, "action": action, "resource": {"type": kind, "id": id}});
    for (body, code) in [
        (ask("ghost", "run", "app", "crm"), "user_not_found"),
        (ask("ann", "fly", "app", "crm"), "unknown_action"),
        (ask("ann", "run", "robot", "crm"), "unknown_type"),
        (ask("ann", "run", "app", "ghost"), "resource_not_found"),
    ] {
        let a = app.root("POST", &format!("{W}/check"), body.clone()).await;
        assert!(a.status.is_client_error() && a.code() == code, "{body}: {} {}", a.status, a.body);
        let a = app.root("POST", &format!("{W}/explain"), body.clone()).await;
        assert_eq!(a.code(), code);
    }
    let grant = json!({"subject": {"user": "ann"}, "role": "emperor"});
    assert_eq!(app.root("PUT", &format!("{W}/resources/app/crm/grants"), grant).await.code(), "unknown_role");
    let lookup = json!({"subject": {"user": "ann"}, "action": "run", "resource_type": "robot"});
    assert_eq!(app.root("POST", &format!("{W}/lookup/resources"), lookup).await.code(), "unknown_type");
    let filter = json!({"user": "ann", "dataset": "nope"});
    assert_eq!(app.root("POST", &format!("{W}/data-filter"), filter).await.code(), "unknown_dataset");
    let checks: Vec<Value> = (0..1001).map(|_| ask("ann", "run", "app", "crm")).collect();
    let a = app.root("POST", &format!("{W}/check/batch"), json!({"checks": checks})).await;
    assert_eq!((a.status.as_u16(), a.code()), (413, "too_large"));
    let stale = json!({"subject": {"user": "ann"}, "action": "run", "resource": {"type": "app", "id": "crm"},
                       "consistency": {"at_least": "999999"}});
    let a = app.root("POST", &format!("{W}/check"), stale).await;
    assert_eq!((a.status.as_u16(), a.code()), (429, "not_yet_consistent"));
}

#[tokio::test]
async fn bad_cursors_and_limits() {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    app.ok("POST", &format!("{W}/resources"), json!({"type": "app", "id": "crm", "name": "CRM"}), 201).await;
    for path in [
        "/users?cursor=zz",
        "/users?cursor=c4",
        "/groups?cursor=not-ours",
        "/resources?cursor=%00",
        "/groups/everyone/members?cursor=cxyz",
        "/resources/app/crm/grants?cursor=c41",
        "/changes?after=yesterday",
        "/audit?after=-1",
    ] {
        let a = app.root("GET", &format!("{W}{path}"), Value::Null).await;
        assert!(a.status.as_u16() == 400 && a.code() == "invalid_cursor", "{path}: {} {}", a.status, a.body);
    }
    for path in ["/users?limit=0", "/users?limit=1001", "/groups?limit=-5", "/users?color=red", "/changes?wait=3600"] {
        let a = app.root("GET", &format!("{W}{path}"), Value::Null).await;
        assert_eq!(a.status.as_u16(), 400, "{path}: {}", a.body);
    }
    let lookup = json!({"resource": {"type": "app", "id": "crm"}, "action": "run", "cursor": "q1"});
    assert_eq!(app.root("POST", &format!("{W}/lookup/subjects"), lookup).await.code(), "invalid_cursor");
}

#[tokio::test]
async fn every_limit_is_a_clear_conflict() {
    let limits = Limits { max_groups: 2, max_owners: 2, max_members: 3 };
    let app = App::with_limits(limits).await;
    app.workspace("acme", apps_schema()).await;
    for u in ["a", "b", "c", "d"] {
        app.user("acme", u, "member").await;
    }
    app.ok("POST", &format!("{W}/groups"), json!({"id": "g1", "name": "G1"}), 201).await;
    app.ok("POST", &format!("{W}/groups"), json!({"id": "g2", "name": "G2"}), 201).await;
    let third = app.root("POST", &format!("{W}/groups"), json!({"id": "g3", "name": "G3"})).await;
    assert_eq!((third.status.as_u16(), third.code()), (409, "limit_exceeded"));
    assert_eq!(third.body["error"]["details"]["limit"], "groups_per_workspace");
    assert_eq!(third.body["error"]["details"]["max"], 2);

    for u in ["a", "b"] {
        app.ok("PUT", &format!("{W}/groups/g1/members/users/{u}"), json!({"role": "owner"}), 200).await;
    }
    let owner = app.root("PUT", &format!("{W}/groups/g1/members/users/c"), json!({"role": "owner"})).await;
    assert_eq!(
        (owner.code(), owner.body["error"]["details"]["limit"].as_str()),
        ("limit_exceeded", Some("owners_per_group"))
    );
    app.ok("PUT", &format!("{W}/groups/g1/members/users/c"), Value::Null, 200).await;
    let member = app.root("PUT", &format!("{W}/groups/g1/members/users/d"), Value::Null).await;
    assert_eq!(
        (member.code(), member.body["error"]["details"]["limit"].as_str()),
        ("limit_exceeded", Some("members_per_group"))
    );
    // Nesting a group that would overflow the parent is refused the same way.
    app.ok("PUT", &format!("{W}/groups/g2/members/users/d"), Value::Null, 200).await;
    let nest = app.root("PUT", &format!("{W}/groups/g1/members/groups/g2"), Value::Null).await;
    assert_eq!(nest.code(), "limit_exceeded");
    assert_eq!(app.ok("GET", &format!("{W}/groups/g1"), Value::Null, 200).await["member_count"], 3);
}
