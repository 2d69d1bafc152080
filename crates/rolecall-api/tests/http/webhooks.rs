//! Webhooks and notifications over HTTP: a receiver on loopback that refuses some
//! deliveries, the deliveries listed with their state and response code, a dead delivery
//! redelivered on request, and each member's notifications.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::app::{App, apps_schema};

const W: &str = "/v1/workspaces/acme";

/// A receiver on 127.0.0.1 answering 503 while `down` holds; it keeps each body it gets
/// and whether the signature verified (with the Standard Webhooks crate) for `secret`.
async fn receiver(
    secret: Arc<Mutex<String>>,
    down: Arc<std::sync::atomic::AtomicBool>,
) -> (String, Arc<Mutex<Vec<(Value, bool)>>>) {
    let got: Arc<Mutex<Vec<(Value, bool)>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let (seen, secret, down) = (seen.clone(), secret.clone(), down.clone());
            async move {
                let key = secret.lock().unwrap().clone();
                let verified = standardwebhooks::Webhook::new(&key).is_ok_and(|w| w.verify(&body, &headers).is_ok());
                seen.lock().unwrap().push((serde_json::from_slice(&body).unwrap_or(Value::Null), verified));
                if down.load(std::sync::atomic::Ordering::SeqCst) {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// The webhook's deliveries once none is pending (at most 10 s).
async fn settled(app: &App, hook: &str) -> Vec<Value> {
    for _ in 0..200 {
        let page = app.ok("GET", &format!("{W}/webhooks/{hook}/deliveries"), Value::Null, 200).await;
        let items = page["items"].as_array().unwrap().clone();
        if !items.is_empty() && items.iter().all(|d| d["state"] != "pending") {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deliveries still pending after 10 s");
}

#[tokio::test]
async fn deliveries_are_listed_with_their_state_and_a_dead_one_is_redelivered() {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    let secret = Arc::new(Mutex::new(String::new()));
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (url, got) = receiver(secret.clone(), down.clone()).await;

    // No secret given: one is generated and shown only now.
    let created =
        app.ok("POST", &format!("{W}/webhooks"), json!({"id": "ops", "url": url, "events": ["group.*"]}), 201).await;
    let key = created["secret"].as_str().unwrap().to_string();
    assert!(key.starts_with("whsec_"), "{created}");
    *secret.lock().unwrap() = key;
    let listed = app.ok("GET", &format!("{W}/webhooks"), Value::Null, 200).await;
    assert_eq!(listed["items"][0]["events"], json!(["group.*"]));
    assert!(listed["items"][0].get("secret").is_none(), "the secret is never shown again");
    assert!(app.ok("GET", &format!("{W}/webhooks/ops"), Value::Null, 200).await.get("secret").is_none());

    app.ok("POST", &format!("{W}/groups"), json!({"id": "sales", "name": "Sales"}), 201).await;
    let dead = settled(&app, "ops").await;
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0]["event"].as_str(), dead[0]["state"].as_str()), (Some("group.create"), Some("dead")));
    assert_eq!((dead[0]["attempts"].as_u64(), dead[0]["last_status"].as_u64()), (Some(3), Some(503)));
    assert_eq!(dead[0]["payload"]["data"]["target"], "group:sales");
    let only_dead = app.ok("GET", &format!("{W}/webhooks/ops/deliveries?state=dead"), Value::Null, 200).await;
    assert_eq!(only_dead["items"].as_array().unwrap().len(), 1);
    assert!(
        app.ok("GET", &format!("{W}/webhooks/ops/deliveries?state=delivered"), Value::Null, 200).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    down.store(false, std::sync::atomic::Ordering::SeqCst);
    let id = dead[0]["id"].as_str().unwrap();
    let again = app.ok("POST", &format!("{W}/webhooks/ops/deliveries/{id}/redeliver"), Value::Null, 202).await;
    assert_eq!((again["state"].as_str(), again["attempts"].as_u64()), (Some("pending"), Some(0)));
    let done = settled(&app, "ops").await;
    assert_eq!((done[0]["state"].as_str(), done[0]["last_status"].as_u64()), (Some("delivered"), Some(200)));
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 4, "three refused attempts and the redelivery");
    assert!(got.iter().all(|(_, verified)| *verified), "every attempt is signed with the subscription's secret");
    assert!(got.iter().all(|(body, _)| body["data"]["workspace"] == "acme"));

    // Refusals: a clear 4xx each.
    let bad = app.root("POST", &format!("{W}/webhooks"), json!({"url": "gopher://x", "events": ["*"]})).await;
    assert_eq!((bad.status.as_u16(), bad.code()), (400, "invalid_input"), "{}", bad.body);
    let dup = app.root("POST", &format!("{W}/webhooks"), json!({"id": "ops", "url": url, "events": ["*"]})).await;
    assert_eq!((dup.status.as_u16(), dup.code()), (409, "conflict"), "{}", dup.body);
    let missing = app.root("POST", &format!("{W}/webhooks/ops/deliveries/999999/redeliver"), Value::Null).await;
    assert_eq!((missing.status.as_u16(), missing.code()), (404, "delivery_not_found"));
    let missing = app.root("GET", &format!("{W}/webhooks/nope/deliveries"), Value::Null).await;
    assert_eq!((missing.status.as_u16(), missing.code()), (404, "webhook_not_found"));
    let bad = app.root("GET", &format!("{W}/webhooks/ops/deliveries?state=lost"), Value::Null).await;
    assert_eq!(bad.status.as_u16(), 400);
    app.user("acme", "sam", "member").await;
    let refused = app.acting("sam", "GET", &format!("{W}/webhooks"), Value::Null).await;
    assert_eq!(refused.status.as_u16(), 403);
    let gone = app.root("DELETE", &format!("{W}/webhooks/ops"), Value::Null).await;
    assert_eq!(gone.status.as_u16(), 204);
    assert_eq!(app.root("GET", &format!("{W}/webhooks/ops"), Value::Null).await.status.as_u16(), 404);
}

#[tokio::test]
async fn members_read_what_they_were_told_and_owners_notify_on_demand() {
    let app = App::start().await;
    app.workspace("acme", apps_schema()).await;
    for (u, role) in [("sam", "member"), ("eve", "member"), ("ada", "admin")] {
        app.user("acme", u, role).await;
    }
    app.ok("POST", &format!("{W}/resources"), json!({"type": "app", "id": "crm", "name": "CRM"}), 201).await;
    app.ok(
        "POST",
        &format!("{W}/resources"),
        json!({"type": "workflow", "id": "leads", "name": "Leads", "parent": {"type": "app", "id": "crm"}}),
        201,
    )
    .await;
    app.ok("POST", &format!("{W}/groups"), json!({"id": "mkt", "name": "Marketing", "notify": "on_change"}), 201).await;
    app.ok(
        "PUT",
        &format!("{W}/resources/app/crm/grants"),
        json!({"subject": {"group": "mkt"}, "role": "runner"}),
        201,
    )
    .await;
    app.ok("PUT", &format!("{W}/groups/mkt/members/users/sam"), json!({"role": "owner"}), 200).await;
    app.ok("PUT", &format!("{W}/groups/mkt/members/users/eve"), json!({}), 200).await;

    let sam = app.acting("sam", "GET", &format!("{W}/users/sam/notifications"), Value::Null).await;
    assert_eq!(sam.status.as_u16(), 200, "{}", sam.body);
    let item = &sam.body["items"][0];
    assert_eq!((item["group"].as_str(), item["reason"].as_str()), (Some("mkt"), Some("member_added")));
    assert_eq!(
        item["gained"],
        json!([{"resource": {"type": "app", "id": "crm"}, "role": "runner", "previous": null},
               {"resource": {"type": "workflow", "id": "leads"}, "role": "runner", "previous": null}])
    );
    assert!(item["revision"].is_string());
    // Eve may not read Sam's; an admin may.
    assert_eq!(
        app.acting("eve", "GET", &format!("{W}/users/sam/notifications"), Value::Null).await.status.as_u16(),
        403
    );
    assert_eq!(
        app.acting("ada", "GET", &format!("{W}/users/sam/notifications"), Value::Null).await.status.as_u16(),
        200
    );

    // Removing the group's grant tells both members what they lost.
    let revoked = app.root("DELETE", &format!("{W}/resources/app/crm/grants?group=mkt"), Value::Null).await;
    assert_eq!(revoked.status.as_u16(), 204);
    let eve = app.ok("GET", &format!("{W}/users/eve/notifications"), Value::Null, 200).await;
    let last = eve["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["reason"], "grants_changed");
    assert_eq!(last["lost"][0], json!({"resource": {"type": "app", "id": "crm"}, "role": "runner", "now": null}));

    // "Notify users of their access": the owner may, a plain member may not.
    let refused = app.acting("eve", "POST", &format!("{W}/groups/mkt/notify"), Value::Null).await;
    assert_eq!(refused.status.as_u16(), 403, "{}", refused.body);
    let sent = app.acting("sam", "POST", &format!("{W}/groups/mkt/notify"), Value::Null).await;
    assert_eq!((sent.status.as_u16(), sent.body["sent"].as_u64()), (200, Some(2)), "{}", sent.body);
    let bulk = app.ok("POST", &format!("{W}/groups/notify"), json!({"group_ids": ["mkt", "everyone"]}), 200).await;
    assert_eq!(bulk["sent"], 5, "two members of mkt and three of everyone");
    let unknown = app.root("POST", &format!("{W}/groups/notify"), json!({"group_ids": ["nope"]})).await;
    assert_eq!(unknown.status.as_u16(), 404, "{}", unknown.body);
    let empty = app.root("POST", &format!("{W}/groups/notify"), json!({"group_ids": []})).await;
    assert_eq!(empty.status.as_u16(), 400);
    // Paging with the cursor.
    let first = app.ok("GET", &format!("{W}/users/eve/notifications?limit=1"), Value::Null, 200).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let rest = app.ok("GET", &format!("{W}/users/eve/notifications?cursor={cursor}"), Value::Null, 200).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 4, "grants_changed and three summaries");
    for bad in ["abc", "-1", "1e3"] {
        let a = app.root("GET", &format!("{W}/users/eve/notifications?cursor={bad}"), Value::Null).await;
        assert_eq!((a.status.as_u16(), a.code()), (400, "invalid_cursor"), "{bad}: {}", a.body);
    }
}
