//! OpenID AuthZEN 1.0, shown with the specification's own examples (its sections on the
//! access evaluation, the evaluations with their three semantics, the three searches and
//! the PDP metadata), on a workspace whose schema has the examples' `account` and
//! `document` types and whose users are the examples' Alice and Bob.

use serde_json::{Value, json};

use crate::app::{App, ROOT};

const W: &str = "/v1/workspaces/acme";

async fn acmecorp() -> App {
    let app = App::start().await;
    let schema = json!({
        "workspace_roles": ["member", "admin"], "admin_roles": ["admin"],
        "resource_types": {
            "account": {"roles": ["reader", "writer"], "actions": {"can_read": "reader", "can_write": "writer"}},
            "document": {"roles": ["viewer", "editor"], "actions": {"can_read": "viewer", "can_edit": "editor"}}
        }
    });
    app.workspace("acme", schema).await;
    for user in ["alice@acmecorp.com", "bob@acmecorp.com", "carol@acmecorp.com"] {
        let body = json!({"id": user, "email": user, "name": user, "workspace_role": "member"});
        app.ok("POST", &format!("{W}/users"), body, 201).await;
    }
    for (kind, id) in [
        ("account", "123"),
        ("account", "456"),
        ("document", "boxcarring.md"),
        ("document", "subject-search.md"),
        ("document", "resource-search.md"),
    ] {
        app.ok("POST", &format!("{W}/resources"), json!({"type": kind, "id": id, "name": id}), 201).await;
    }
    for (kind, id, user, role) in [
        ("account", "123", "alice@acmecorp.com", "writer"),
        ("account", "123", "bob@acmecorp.com", "reader"),
        ("account", "456", "alice@acmecorp.com", "reader"),
        ("document", "boxcarring.md", "alice@acmecorp.com", "viewer"),
        ("document", "resource-search.md", "alice@acmecorp.com", "editor"),
    ] {
        let body = json!({"subject": {"user": user}, "role": role});
        app.ok("PUT", &format!("{W}/resources/{kind}/{id}/grants"), body, 201).await;
    }
    app
}

#[tokio::test]
async fn the_specifications_access_evaluation_example() {
    let app = acmecorp().await;
    // The specification's example request, as written (properties and context included).
    let request = json!({
        "subject": {"type": "user", "id": "alice@acmecorp.com", "properties": {"department": "Sales"}},
        "resource": {"type": "account", "id": "123", "properties": {"owner": "bob@acmecorp.com"}},
        "action": {"name": "can_read", "properties": {"method": "GET"}},
        "context": {"time": "1985-10-26T01:22-07:00"}
    });
    let answer = app.ok("POST", &format!("{W}/access/v1/evaluation"), request.clone(), 200).await;
    assert_eq!(answer["decision"], true, "{answer}");
    let mut carol = request.clone();
    carol["subject"]["id"] = json!("carol@acmecorp.com");
    assert_eq!(app.ok("POST", &format!("{W}/access/v1/evaluation"), carol, 200).await["decision"], false);
    // Unknown things are denials that say why, never an allow.
    let mut ghost = request.clone();
    ghost["subject"]["id"] = json!("mallory@acmecorp.com");
    let denied = app.ok("POST", &format!("{W}/access/v1/evaluation"), ghost, 200).await;
    assert_eq!(
        (denied["decision"].as_bool(), denied["context"]["reason"].as_str()),
        (Some(false), Some("user_not_found"))
    );
    let mut nowhere = request.clone();
    nowhere["resource"]["id"] = json!("999");
    assert_eq!(app.ok("POST", &format!("{W}/access/v1/evaluation"), nowhere, 200).await["decision"], false);
    // A malformed request is a 400.
    let bad =
        app.root("POST", &format!("{W}/access/v1/evaluation"), json!({"subject": {"type": "user", "id": "x"}})).await;
    assert_eq!(bad.status.as_u16(), 400, "{}", bad.body);

    // At the root, the workspace comes from a workspace key (or the header, with the root key).
    let key = app.ok("POST", &format!("{W}/api-keys"), json!({"name": "pep"}), 201).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let by_key = app.send("POST", "/access/v1/evaluation", &key, None, Some(&request)).await;
    assert_eq!((by_key.status.as_u16(), by_key.body["decision"].as_bool()), (200, Some(true)), "{}", by_key.body);
    let no_workspace = app.send("POST", "/access/v1/evaluation", ROOT, None, Some(&request)).await;
    assert_eq!(no_workspace.status.as_u16(), 400);
    // A key of another workspace learns nothing about this one.
    app.workspace("other", Value::Null).await;
    let other = app.ok("POST", "/v1/workspaces/other/api-keys", json!({"name": "pep"}), 201).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    let sealed = app.send("POST", &format!("{W}/access/v1/evaluation"), &other, None, Some(&request)).await;
    assert_eq!(sealed.status.as_u16(), 404, "{}", sealed.body);
}

#[tokio::test]
async fn the_specifications_evaluations_examples_with_each_semantic() {
    let app = acmecorp().await;
    let mut request = json!({
        "subject": {"type": "user", "id": "alice@acmecorp.com"},
        "action": {"name": "can_read"},
        "evaluations": [
            {"resource": {"type": "document", "id": "boxcarring.md"}},
            {"resource": {"type": "document", "id": "subject-search.md"}},
            {"action": {"name": "can_edit"}, "resource": {"type": "document", "id": "resource-search.md"}}
        ]
    });
    let decisions = |answer: &Value| -> Vec<bool> {
        answer["evaluations"].as_array().unwrap().iter().map(|e| e["decision"].as_bool().unwrap()).collect()
    };
    let all = app.ok("POST", &format!("{W}/access/v1/evaluations"), request.clone(), 200).await;
    assert_eq!(decisions(&all), [true, false, true], "{all}");
    request["options"] = json!({"evaluations_semantic": "execute_all"});
    assert_eq!(
        decisions(&app.ok("POST", &format!("{W}/access/v1/evaluations"), request.clone(), 200).await),
        [true, false, true]
    );
    request["options"] = json!({"evaluations_semantic": "deny_on_first_deny"});
    assert_eq!(
        decisions(&app.ok("POST", &format!("{W}/access/v1/evaluations"), request.clone(), 200).await),
        [true, false]
    );
    request["options"] = json!({"evaluations_semantic": "permit_on_first_permit"});
    assert_eq!(decisions(&app.ok("POST", &format!("{W}/access/v1/evaluations"), request.clone(), 200).await), [true]);
    request["options"] = json!({"evaluations_semantic": "first_come"});
    assert_eq!(app.root("POST", &format!("{W}/access/v1/evaluations"), request.clone()).await.status.as_u16(), 400);

    // The specification's example with a default resource and several subjects and actions.
    let by_subject = json!({
        "resource": {"type": "account", "id": "123"},
        "evaluations": [
            {"subject": {"type": "user", "id": "alice@acmecorp.com"}, "action": {"name": "can_write"}},
            {"subject": {"type": "user", "id": "bob@acmecorp.com"}, "action": {"name": "can_write"}},
            {"subject": {"type": "user", "id": "bob@acmecorp.com"}, "action": {"name": "can_read"}}
        ]
    });
    assert_eq!(
        decisions(&app.ok("POST", &format!("{W}/access/v1/evaluations"), by_subject, 200).await),
        [true, false, true]
    );
    // Without `evaluations`, it is one evaluation and one decision.
    let single = json!({"subject": {"type": "user", "id": "bob@acmecorp.com"}, "action": {"name": "can_read"}, "resource": {"type": "account", "id": "123"}});
    assert_eq!(app.ok("POST", &format!("{W}/access/v1/evaluations"), single, 200).await["decision"], true);
    // An item with nothing to fall back on is a 400.
    let incomplete = json!({"evaluations": [{"action": {"name": "can_read"}}]});
    assert_eq!(app.root("POST", &format!("{W}/access/v1/evaluations"), incomplete).await.status.as_u16(), 400);
    let too_many = json!({"subject": {"type": "user", "id": "bob@acmecorp.com"}, "action": {"name": "can_read"},
        "evaluations": vec![json!({"resource": {"type": "account", "id": "123"}}); 1001]});
    assert_eq!(app.root("POST", &format!("{W}/access/v1/evaluations"), too_many).await.status.as_u16(), 413);
}

#[tokio::test]
async fn the_specifications_search_examples() {
    let app = acmecorp().await;
    let subjects = app
        .ok(
            "POST",
            &format!("{W}/access/v1/search/subject"),
            json!({"subject": {"type": "user"}, "action": {"name": "can_read"}, "resource": {"type": "account", "id": "123"}}),
            200,
        )
        .await;
    assert_eq!(
        subjects,
        json!({"results": [{"type": "user", "id": "alice@acmecorp.com"}, {"type": "user", "id": "bob@acmecorp.com"}], "page": {"next_token": ""}})
    );
    let resources = app
        .ok(
            "POST",
            &format!("{W}/access/v1/search/resource"),
            json!({"subject": {"type": "user", "id": "alice@acmecorp.com"}, "action": {"name": "can_read"}, "resource": {"type": "account"}}),
            200,
        )
        .await;
    assert_eq!(resources["results"], json!([{"type": "account", "id": "123"}, {"type": "account", "id": "456"}]));
    let actions = app
        .ok(
            "POST",
            &format!("{W}/access/v1/search/action"),
            json!({"subject": {"type": "user", "id": "alice@acmecorp.com"}, "resource": {"type": "account", "id": "123"}}),
            200,
        )
        .await;
    assert_eq!(actions["results"], json!([{"name": "can_read"}, {"name": "can_write"}]));
    let bobs = app
        .ok(
            "POST",
            &format!("{W}/access/v1/search/action"),
            json!({"subject": {"type": "user", "id": "bob@acmecorp.com"}, "resource": {"type": "account", "id": "123"}}),
            200,
        )
        .await;
    assert_eq!(bobs["results"], json!([{"name": "can_read"}]));
    // Pages: one result at a time, following next_token to the end.
    let mut token = String::new();
    let mut seen = Vec::new();
    loop {
        let body = json!({"subject": {"type": "user"}, "action": {"name": "can_read"}, "resource": {"type": "account", "id": "123"}, "page": {"limit": 1, "token": token}});
        let page = app.ok("POST", &format!("{W}/access/v1/search/subject"), body, 200).await;
        seen.extend(page["results"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()));
        token = page["page"]["next_token"].as_str().unwrap().to_string();
        if token.is_empty() {
            break;
        }
        assert!(seen.len() < 10, "paging must end");
    }
    assert_eq!(seen, ["alice@acmecorp.com", "bob@acmecorp.com"]);
}

#[tokio::test]
async fn the_pdp_metadata_names_every_endpoint_and_they_answer() {
    let app = acmecorp().await;
    let meta = app.ok("GET", &format!("{W}/.well-known/authzen-configuration"), Value::Null, 200).await;
    let base = app.url(W);
    assert_eq!(meta["policy_decision_point"], base.as_str());
    assert_eq!(meta["access_evaluation_endpoint"], format!("{base}/access/v1/evaluation"));
    let root = app.ok("GET", "/.well-known/authzen-configuration", Value::Null, 200).await;
    assert_eq!(root["access_evaluations_endpoint"], app.url("/access/v1/evaluations"));
    // Every advertised endpoint is served (a bad body gets a 400 there, not a 404).
    for key in [
        "access_evaluation_endpoint",
        "access_evaluations_endpoint",
        "search_subject_endpoint",
        "search_resource_endpoint",
        "search_action_endpoint",
    ] {
        let url = meta[key].as_str().unwrap();
        let path = url.strip_prefix(&app.url("")).unwrap();
        let answer = app.root("POST", path, json!({"nonsense": true})).await;
        assert_eq!(answer.status.as_u16(), 400, "{key}: {}", answer.body);
    }
}
