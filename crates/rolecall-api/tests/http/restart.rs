//! After a restart every question answers as before: the engine is rebuilt from the store.

use std::collections::BTreeMap;

use rolecall_model::Limits;
use serde_json::{Value, json};

use crate::app::{App, apps_schema};

const W: &str = "/v1/workspaces/acme";

/// Every check of every user on every resource and action, with explain and lookups.
async fn every_answer(app: &App) -> BTreeMap<String, Value> {
    let schema = app.ok("GET", &format!("{W}/schema"), Value::Null, 200).await;
    let users = app.ok("GET", &format!("{W}/users?limit=1000"), Value::Null, 200).await;
    let resources = app.ok("GET", &format!("{W}/resources?limit=1000"), Value::Null, 200).await;
    let mut out = BTreeMap::new();
    for user in users["items"].as_array().unwrap() {
        let user = user["id"].as_str().unwrap();
        for resource in resources["items"].as_array().unwrap() {
            let kind = resource["type"].as_str().unwrap();
            let id = resource["id"].as_str().unwrap();
            for action in schema["resource_types"][kind]["actions"].as_object().unwrap().keys() {
                let q = json!({"subject": {"user": user}, "action": action,
                               "resource": {"type": kind, "id": id}});
                let mut check = app.ok("POST", &format!("{W}/check"), q.clone(), 200).await;
                let mut explain = app.ok("POST", &format!("{W}/explain"), q, 200).await;
                check.as_object_mut().unwrap().remove("revision");
                explain.as_object_mut().unwrap().remove("revision");
                out.insert(format!("check {user} {action} {kind}:{id}"), check);
                out.insert(format!("explain {user} {action} {kind}:{id}"), explain);
            }
        }
        for kind in ["app", "workflow"] {
            let q = json!({"subject": {"user": user}, "action": "run", "resource_type": kind, "limit": 1000});
            let items = app.ok("POST", &format!("{W}/lookup/resources"), q, 200).await["items"].clone();
            out.insert(format!("lookup {user} run {kind}"), items);
        }
        let f = app.ok("POST", &format!("{W}/data-filter"), json!({"user": user, "dataset": "sales"}), 200).await;
        out.insert(format!("filter {user}"), f["sql"].clone());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_is_the_same_after_a_restart() {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    for (u, role) in [("ann", "member"), ("bob", "member"), ("cat", "consumer"), ("dan", "admin"), ("eve", "member")] {
        app.user("acme", u, role).await;
    }
    for (g, members) in [("sales", vec!["ann", "bob"]), ("emea", vec!["cat"]), ("blocked", vec!["bob"])] {
        app.ok("POST", &format!("{W}/groups"), json!({"id": g, "name": g}), 201).await;
        for m in members {
            app.ok("PUT", &format!("{W}/groups/{g}/members/users/{m}"), Value::Null, 200).await;
        }
    }
    app.ok("PUT", &format!("{W}/groups/sales/members/groups/emea"), Value::Null, 200).await;
    for (id, parent) in
        [("crm", None), ("hr", None), ("deals", Some("crm")), ("leads", Some("crm")), ("pay", Some("hr"))]
    {
        let kind = if parent.is_some() { "workflow" } else { "app" };
        let parent = parent.map(|p| json!({"type": "app", "id": p}));
        app.ok("POST", &format!("{W}/resources"), json!({"type": kind, "id": id, "name": id, "parent": parent}), 201)
            .await;
    }
    for (kind, id, subject, role) in [
        ("app", "crm", json!({"group": "sales"}), "runner"),
        ("workflow", "leads", json!({"group": "blocked"}), "restricted"),
        ("app", "hr", json!({"user": "eve"}), "admin"),
        ("workflow", "pay", json!({"user": "ann"}), "runner"),
        ("workflow", "deals", json!({"user": "cat"}), "admin"),
    ] {
        let body = json!({"subject": subject, "role": role});
        app.ok("PUT", &format!("{W}/resources/{kind}/{id}/grants"), body, 201).await;
    }
    app.ok("PUT", &format!("{W}/groups/emea/data-scopes/sales"), json!({"country": ["DE", "FR"]}), 200).await;
    // Revoked grants must stay revoked across the restart.
    for (path, user) in [("app/hr", "eve"), ("workflow/pay", "ann")] {
        let gone = app.root("DELETE", &format!("{W}/resources/{path}/grants?user={user}"), Value::Null).await;
        assert_eq!(gone.status.as_u16(), 204);
    }
    let before = every_answer(&app).await;
    assert!(before.len() > 100, "{} answers", before.len());
    assert_eq!(before["check eve update app:hr"]["allowed"], false);
    assert_eq!(before["check bob run workflow:leads"]["allowed"], false);
    assert_eq!(before["check cat run workflow:leads"]["allowed"], true);

    let dir = app.stop().await;
    let app = App::start_in(dir, Limits::default()).await;
    let after = every_answer(&app).await;
    let differ: Vec<&String> = before.keys().filter(|k| before.get(*k) != after.get(*k)).collect();
    assert!(differ.is_empty(), "answers changed after a restart: {differ:?}");
    // And it keeps taking writes where it left off.
    let next = app.root("PUT", &format!("{W}/groups/sales/members/users/eve"), Value::Null).await;
    assert_eq!(next.status.as_u16(), 200);
    app.stop().await;
}
