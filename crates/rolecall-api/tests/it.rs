//! The API through its router (no network): one seed story end to end, and bad input
//! answered with a JSON 4xx, never a 5xx.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rolecall_model::Limits;
use rolecall_service::Service;
use rolecall_store_sqlite::SqliteStore;
use serde_json::{Value, json};
use tower::ServiceExt;

struct TestApp {
    router: axum::Router,
    _dir: tempfile::TempDir,
}

impl TestApp {
    async fn new() -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("rolecall.db")).await.unwrap();
        let service = Service::open(store, Limits::default()).await.unwrap();
        let router = rolecall_api::router(Arc::new(rolecall_api::AppState::new(service, "root-secret")));
        TestApp { router, _dir: dir }
    }

    async fn send(&self, method: &str, path: &str, key: &str, actor: Option<&str>, body: Body) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json");
        if let Some(a) = actor {
            req = req.header("rolecall-actor", a);
        }
        let res = self.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
        (status, value)
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(method, path, "root-secret", None, Body::from(body.to_string())).await
    }
}

#[tokio::test]
async fn sarah_is_editor_through_marketing() {
    let app = TestApp::new().await;
    let schema = json!({"workspace_roles": ["consumer", "member", "admin"], "admin_roles": ["admin"],
        "resource_types": {"assistant": {"roles": ["viewer", "editor"], "actions": {"view": "viewer", "edit": "editor"}}}});
    assert_eq!(
        app.call("POST", "/v1/workspaces", json!({"id": "acme", "name": "Acme", "schema": schema})).await.0,
        StatusCode::CREATED
    );
    let (s, sarah) = app
        .call(
            "POST",
            "/v1/workspaces/acme/users",
            json!({"id": "sarah", "email": "sarah@example.com", "name": "Sarah"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sarah}");
    assert_eq!(sarah["workspace_role"], "member");
    let (s, _) = app
        .call("POST", "/v1/workspaces/acme/groups", json!({"id": "marketing", "name": "Marketing", "tags": ["team"]}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app.call("PUT", "/v1/workspaces/acme/groups/marketing/members/users/sarah", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(
            "POST",
            "/v1/workspaces/acme/resources",
            json!({"type": "assistant", "id": "plan", "name": "Launch plan"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let grants = "/v1/workspaces/acme/resources/assistant/plan/grants";
    let (s, body) = app.call("PUT", grants, json!({"subject": {"user": "sarah"}, "role": "viewer"})).await;
    assert_eq!((s, body["outcome"].clone()), (StatusCode::CREATED, json!("created")));
    let (s, body) = app.call("PUT", grants, json!({"subject": {"user": "sarah"}, "role": "viewer"})).await;
    assert_eq!((s, body["outcome"].clone()), (StatusCode::OK, json!("unchanged")));
    let (s, body) = app.call("PUT", grants, json!({"subject": {"user": "sarah"}, "role": "editor"})).await;
    assert_eq!((s, body["error"]["code"].clone()), (StatusCode::CONFLICT, json!("role_conflict")));
    let (s, body) = app.call("PUT", grants, json!({"subject": {"group": "marketing"}, "role": "editor"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let revision = body["revision"].as_str().unwrap().to_string();

    let question = json!({"subject": {"user": "sarah"}, "action": "edit", "resource": {"type": "assistant", "id": "plan"},
        "consistency": {"at_least": revision}});
    let (s, body) = app.call("POST", "/v1/workspaces/acme/check", question.clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((body["allowed"].clone(), body["role"].clone()), (json!(true), json!("editor")));
    let (_, body) = app.call("POST", "/v1/workspaces/acme/explain", question).await;
    let open: Vec<&Value> = body["paths"].as_array().unwrap().iter().filter(|p| p["gives"] == "editor").collect();
    assert_eq!(open[0]["steps"][0], json!({"kind": "member", "member": {"user": "sarah"}, "group": "marketing"}));
    let (_, body) = app
        .call(
            "POST",
            "/v1/workspaces/acme/lookup/subjects",
            json!({"resource": {"type": "assistant", "id": "plan"}, "action": "edit"}),
        )
        .await;
    assert_eq!(body["items"], json!([{"user": "sarah", "role": "editor"}]));
    let (_, body) = app
        .call(
            "POST",
            "/v1/workspaces/acme/check/batch",
            json!({"checks": [
            {"subject": {"user": "sarah"}, "action": "view", "resource": {"type": "assistant", "id": "plan"}},
            {"subject": {"user": "sarah"}, "action": "edit", "resource": {"type": "assistant", "id": "plan"}}]}),
        )
        .await;
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    // A workspace key works inside its workspace and nowhere else.
    let (s, key) = app.call("POST", "/v1/workspaces/acme/api-keys", json!({"name": "ci"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let key = key["key"].as_str().unwrap().to_string();
    let body = Body::from(
        json!({"subject": {"user": "sarah"}, "action": "edit", "resource": {"type": "assistant", "id": "plan"}})
            .to_string(),
    );
    assert_eq!(app.send("POST", "/v1/workspaces/acme/check", &key, None, body).await.0, StatusCode::OK);
    app.call("POST", "/v1/workspaces", json!({"id": "other", "name": "Other"})).await;
    let body = Body::from(json!({"id": "x", "email": "x@example.com", "name": "X"}).to_string());
    let (s, err) = app.send("POST", "/v1/workspaces/other/users", &key, None, body).await;
    assert_eq!((s, err["error"]["code"].clone()), (StatusCode::NOT_FOUND, json!("workspace_not_found")));
    // Acting as Sarah, a member: she may not create users.
    let body = Body::from(json!({"id": "y", "email": "y@example.com", "name": "Y"}).to_string());
    let (s, err) = app.send("POST", "/v1/workspaces/acme/users", &key, Some("sarah"), body).await;
    assert_eq!((s, err["error"]["code"].clone()), (StatusCode::FORBIDDEN, json!("forbidden")));
}

#[tokio::test]
async fn bad_input_is_a_json_4xx() {
    let app = TestApp::new().await;
    app.call("POST", "/v1/workspaces", json!({"id": "acme", "name": "Acme"})).await;
    let cases: Vec<(&str, &str, Body, StatusCode, &str)> = vec![
        ("POST", "/v1/workspaces/acme/check", Body::from("{not json"), StatusCode::BAD_REQUEST, "invalid_json"),
        (
            "POST",
            "/v1/workspaces/acme/check",
            Body::from(
                r#"{"subject": {"user": "a"}, "action": "run", "resource": {"type": "app", "id": "x"}, "extra": 1}"#,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "POST",
            "/v1/workspaces/acme/check",
            Body::from(r#"{"subject": {"user": "a"}, "action": "run", "resource": {"type": "app", "id": "x"}}"#),
            StatusCode::NOT_FOUND,
            "user_not_found",
        ),
        (
            "POST",
            "/v1/workspaces/acme/users",
            Body::from(r#"{"email": "nope", "name": "A"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "POST",
            "/v1/workspaces/acme/users",
            Body::from(r#"{"id": "a b", "email": "a@example.com", "name": "A"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_id",
        ),
        (
            "POST",
            "/v1/workspaces/acme/resources",
            Body::from(r#"{"type": "page", "id": "x", "name": "X"}"#),
            StatusCode::BAD_REQUEST,
            "unknown_type",
        ),
        (
            "POST",
            "/v1/workspaces/nope/groups",
            Body::from(r#"{"name": "G"}"#),
            StatusCode::NOT_FOUND,
            "workspace_not_found",
        ),
        (
            "POST",
            "/v1/workspaces/acme/check",
            Body::from(format!("{{\"pad\": \"{}\"}}", "a".repeat(2 * 1024 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        ),
        (
            "POST",
            "/v1/workspaces/acme/lookup/subjects",
            Body::from(r#"{"resource": {"type": "group", "id": "everyone"}, "action": "view", "cursor": "zzz"}"#),
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "POST",
            "/v1/workspaces/acme/check",
            Body::from(
                r#"{"subject": {"user": "a"}, "action": "run", "resource": {"type": "app", "id": "x"}, "consistency": {"at_least": "soon"}}"#,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_consistency",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (s, v) = app.send(method, path, "root-secret", None, body).await;
        assert_eq!((s, v["error"]["code"].as_str()), (status, Some(code)), "{method} {path}: {v}");
    }
    let (s, v) = app.send("POST", "/v1/workspaces", "wrong-key", None, Body::from("{}")).await;
    assert_eq!((s, v["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
}

#[tokio::test]
async fn listings_search_page_and_stay_sealed() {
    let app = TestApp::new().await;
    app.call("POST", "/v1/workspaces", json!({"id": "acme", "name": "Acme"})).await;
    for (id, name) in [("ann", "Ann Lee"), ("bob", "Bob Stone"), ("cid", "Cid Lee")] {
        let (s, _) = app
            .call(
                "POST",
                "/v1/workspaces/acme/users",
                json!({"id": id, "email": format!("{id}@example.com"), "name": name}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    // A user created with an unknown group is not created at all.
    let (s, e) = app
        .call(
            "POST",
            "/v1/workspaces/acme/users",
            json!({"id": "dan", "email": "dan@example.com", "name": "Dan", "groups": ["nope"]}),
        )
        .await;
    assert_eq!((s, e["error"]["code"].clone()), (StatusCode::NOT_FOUND, json!("group_not_found")));
    assert_eq!(app.call("GET", "/v1/workspaces/acme/users/dan", json!(null)).await.0, StatusCode::NOT_FOUND);
    let (_, page) = app.call("GET", "/v1/workspaces/acme/users?q=lee&limit=1", json!(null)).await;
    assert_eq!(page["items"][0]["id"], "ann");
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, page) =
        app.call("GET", &format!("/v1/workspaces/acme/users?q=lee&limit=1&cursor={cursor}"), json!(null)).await;
    assert_eq!(page["items"][0]["id"], "cid");
    assert_eq!(page["next_cursor"], Value::Null);
    let (s, e) = app.call("GET", "/v1/workspaces/acme/users?bogus=1", json!(null)).await;
    assert_eq!((s, e["error"]["code"].clone()), (StatusCode::BAD_REQUEST, json!("invalid_query")));

    // A private group is invisible to a user who is not in it.
    app.call("POST", "/v1/workspaces/acme/groups", json!({"id": "secret", "name": "Secret", "visibility": "private"}))
        .await;
    app.call("POST", "/v1/workspaces/acme/groups", json!({"id": "open", "name": "Open", "tags": ["team"]})).await;
    let (_, key) = app.call("POST", "/v1/workspaces/acme/api-keys", json!({"name": "t"})).await;
    let key = key["key"].as_str().unwrap().to_string();
    let (_, groups) = app.send("GET", "/v1/workspaces/acme/groups", &key, Some("bob"), Body::empty()).await;
    let ids: Vec<&str> = groups["items"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["everyone", "open", "workspace-admins"], "the private group is hidden");
    let (_, everyone) = app.call("GET", "/v1/workspaces/acme/groups/everyone", json!(null)).await;
    assert_eq!((everyone["builtin"].clone(), everyone["member_count"].clone()), (json!(true), json!(3)));
    let (s, _) = app.send("GET", "/v1/workspaces/acme/groups/secret", &key, Some("bob"), Body::empty()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, g) = app.call("GET", "/v1/workspaces/acme/groups/secret", json!(null)).await;
    assert_eq!((s, g["visibility"].clone()), (StatusCode::OK, json!("private")));

    // Rules of a resource: tabs, search, roles, and removal by query.
    app.call("POST", "/v1/workspaces/acme/resources", json!({"type": "app", "id": "crm", "name": "CRM"})).await;
    let grants = "/v1/workspaces/acme/resources/app/crm/grants";
    app.call("PUT", grants, json!({"subject": {"user": "ann"}, "role": "runner"})).await;
    app.call("PUT", grants, json!({"subject": {"user": "bob"}, "role": "admin"})).await;
    app.call("PUT", grants, json!({"subject": {"group": "open"}, "role": "runner"})).await;
    let (_, rules) = app.call("GET", &format!("{grants}?subject_kind=user&roles=runner"), json!(null)).await;
    assert_eq!(rules["items"].as_array().unwrap().len(), 1);
    assert_eq!(rules["items"][0]["subject_email"], "ann@example.com");
    let (s, _) = app.call("DELETE", &format!("{grants}?user=ann"), json!(null)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, e) = app.call("DELETE", &format!("{grants}?user=ann"), json!(null)).await;
    assert_eq!((s, e["error"]["code"].clone()), (StatusCode::NOT_FOUND, json!("grant_not_found")));
    let (s, _) = app.call("DELETE", &format!("{grants}?user=ann&group=open"), json!(null)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The change feed and the audit log.
    let (_, feed) = app.call("GET", "/v1/workspaces/acme/changes?after=0&limit=2", json!(null)).await;
    assert_eq!(feed["items"][0]["change"]["op"], "create_workspace");
    let after = feed["next_cursor"].as_str().unwrap().to_string();
    let (_, rest) = app.call("GET", &format!("/v1/workspaces/acme/changes?after={after}"), json!(null)).await;
    let head = rest["next_cursor"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let (_, empty) = app.call("GET", &format!("/v1/workspaces/acme/changes?after={head}&wait=1"), json!(null)).await;
    assert!(empty["items"].as_array().unwrap().is_empty());
    assert!(started.elapsed() >= std::time::Duration::from_millis(900), "a long poll waits when nothing is new");
    let (s, _) = app.call("GET", "/v1/workspaces/acme/changes?wait=3600", json!(null)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, audit) = app.call("GET", "/v1/workspaces/acme/audit?actor=root", json!(null)).await;
    assert!(audit["items"].as_array().unwrap().iter().any(|e| e["action"] == "grant.delete"));
    let (s, _) = app.send("GET", "/v1/workspaces/acme/audit", &key, Some("bob"), Body::empty()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.call("DELETE", "/v1/workspaces/acme/users/cid", json!(null)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call("GET", "/v1/workspaces/acme/users/cid", json!(null)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
