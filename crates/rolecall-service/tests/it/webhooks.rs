//! Webhooks against a real receiver on loopback that fails some deliveries on purpose:
//! every attempt is signed per Standard Webhooks (checked with the specification's own
//! crate), failures are retried with backoff, the last failure leaves the delivery dead
//! until it is redelivered, and nothing is lost across a restart. Notifications tell each
//! member what a group change gave or took.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rolecall_model::{Notify, ResourceRef, Subject, Workspace};
use rolecall_service::{Actor, DeliveryPolicy, Service, ServiceError};
use rolecall_store::{DeliveryState, Store, Webhook};
use rolecall_store_sqlite::SqliteStore;

use super::{WS, as_user, group, open, seeded};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// What the receiver saw: per message id, each attempt's event type and whether its
/// signature verified.
#[derive(Default)]
struct Seen {
    attempts: BTreeMap<String, Vec<(String, bool)>>,
    bodies: Vec<serde_json::Value>,
}

/// A webhook receiver on 127.0.0.1. `fail(message_id, attempt)` says which attempts get a 503.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Failures = Arc<dyn Fn(&str, usize) -> bool + Send + Sync>;

async fn receiver(fail: impl Fn(&str, usize) -> bool + Send + Sync + 'static) -> Receiver {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let fail: Failures = Arc::new(fail);
    let state = (seen.clone(), fail);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            |axum::extract::State((seen, fail)): axum::extract::State<(Arc<Mutex<Seen>>, Failures)>,
             headers: axum::http::HeaderMap,
             body: axum::body::Bytes| async move {
                let verified = standardwebhooks::Webhook::new(SECRET).unwrap().verify(&body, &headers).is_ok();
                let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let mut seen = seen.lock().unwrap();
                let tries = seen.attempts.entry(id.clone()).or_default();
                tries.push((json["type"].as_str().unwrap_or_default().to_string(), verified));
                let attempt = tries.len();
                seen.bodies.push(json);
                if fail(&id, attempt) {
                    axum::http::StatusCode::SERVICE_UNAVAILABLE
                } else {
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let app = app.with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver { url, seen, task }
}

fn fast() -> DeliveryPolicy {
    DeliveryPolicy {
        max_attempts: 3,
        first_retry: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        timeout: Duration::from_secs(2),
        lease: Duration::from_secs(5),
        batch: 8,
        poll: Duration::from_millis(50),
        private_targets: true,
    }
}

fn hook(id: &str, url: &str, events: &[&str]) -> Webhook {
    Webhook {
        id: id.into(),
        url: url.into(),
        secret: SECRET.into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        created_at: 0,
    }
}

/// Waits (at most 10 s) until every delivery of `webhook` is out of `pending`.
async fn settled(service: &Service<SqliteStore>, webhook: &str) -> Vec<rolecall_store::Delivery> {
    for _ in 0..200 {
        let all = service.deliveries(&Actor::Root, WS, webhook, None, 0, 1000).await.unwrap();
        if !all.is_empty() && all.iter().all(|d| d.state != DeliveryState::Pending) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deliveries of `{webhook}` still pending after 10 s");
}

#[tokio::test]
async fn deliveries_are_signed_and_retried_until_the_receiver_takes_them() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    // Every message fails twice, then is taken.
    let rx = receiver(|_, attempt| attempt <= 2).await;
    service.create_webhook(&Actor::Root, WS, hook("all", &rx.url, &["*"])).await.unwrap();
    service.create_webhook(&Actor::Root, WS, hook("groups", &rx.url, &["group.*"])).await.unwrap();
    let _dispatcher = service.start_dispatcher(fast()).unwrap();
    service.create_group(&Actor::Root, WS, group("sales")).await.unwrap();
    service.put_member(&Actor::Root, WS, "sales", "sam", rolecall_model::MemberRole::Member).await.unwrap();

    let all = settled(&service, "all").await;
    let kinds: Vec<&str> = all.iter().map(|d| d.event.as_str()).collect();
    // A new subscription hears its own creation first (a ping), then the second one's.
    assert_eq!(kinds, ["webhook.create", "webhook.create", "group.create", "group.member.put"]);
    for d in &all {
        assert_eq!((d.state, d.attempts, d.last_status), (DeliveryState::Delivered, 3, Some(204)), "{d:?}");
    }
    let groups = settled(&service, "groups").await;
    assert_eq!(groups.len(), 2);
    let seen = rx.seen.lock().unwrap();
    assert_eq!(seen.attempts.len(), 6, "one message per event and subscription");
    for (id, tries) in &seen.attempts {
        assert_eq!(tries.len(), 3, "{id}: two failures and a success, same message id each time");
        assert!(tries.iter().all(|(_, verified)| *verified), "{id}: every attempt is signed");
    }
    let body = seen.bodies.iter().find(|b| b["type"] == "group.member.put").unwrap();
    assert_eq!(body["data"]["workspace"], WS);
    assert_eq!(body["data"]["target"], "group:sales");
    assert_eq!(body["data"]["after"]["user"], "sam");
    assert!(body["data"]["revision"].as_str().is_some());
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn the_last_failure_leaves_a_delivery_dead_until_it_is_redelivered() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    let healed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = healed.clone();
    let rx = receiver(move |_, _| !flag.load(std::sync::atomic::Ordering::SeqCst)).await;
    service.create_webhook(&Actor::Root, WS, hook("h", &rx.url, &["group.create"])).await.unwrap();
    let _dispatcher = service.start_dispatcher(fast()).unwrap();
    service.create_group(&Actor::Root, WS, group("sales")).await.unwrap();
    let dead = settled(&service, "h").await;
    assert_eq!((dead[0].state, dead[0].attempts, dead[0].last_status), (DeliveryState::Dead, 3, Some(503)));
    assert!(dead[0].last_error.as_deref().unwrap().contains("503"));
    let listed = service.deliveries(&Actor::Root, WS, "h", Some(DeliveryState::Dead), 0, 10).await.unwrap();
    assert_eq!(listed.len(), 1);

    healed.store(true, std::sync::atomic::Ordering::SeqCst);
    let again = service.redeliver(&Actor::Root, WS, "h", dead[0].id).await.unwrap();
    assert_eq!((again.state, again.attempts), (DeliveryState::Pending, 0));
    let done = settled(&service, "h").await;
    assert_eq!((done[0].state, done[0].last_status), (DeliveryState::Delivered, Some(204)));
    assert_eq!(rx.seen.lock().unwrap().attempts.values().next().unwrap().len(), 4, "three failures, one redelivery");
    // An unknown delivery or webhook is a clear 404-kind error.
    assert!(matches!(service.redeliver(&Actor::Root, WS, "h", 999).await, Err(ServiceError::DeliveryNotFound(999))));
    assert!(matches!(service.redeliver(&Actor::Root, WS, "nope", 1).await, Err(ServiceError::WebhookNotFound(_))));
}

#[tokio::test]
async fn a_server_that_delivers_to_public_addresses_only_never_calls_its_own_network() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    let rx = receiver(|_, _| false).await;
    // The receiver by its address, and by a name that resolves to it.
    let by_name = rx.url.replace("127.0.0.1", "localhost");
    service.create_webhook(&Actor::Root, WS, hook("ip", &rx.url, &["group.create"])).await.unwrap();
    service.create_webhook(&Actor::Root, WS, hook("name", &by_name, &["group.create"])).await.unwrap();
    let _dispatcher = service.start_dispatcher(DeliveryPolicy { private_targets: false, ..fast() }).unwrap();
    service.create_group(&Actor::Root, WS, group("sales")).await.unwrap();
    for (webhook, why) in [("ip", "address is not public"), ("name", "no public address")] {
        let done = settled(&service, webhook).await;
        assert!(done.iter().all(|d| d.state == DeliveryState::Dead && d.last_status.is_none()), "{done:?}");
        let error = done[0].last_error.as_deref().unwrap();
        assert!(error.contains(why), "{webhook}: {error}");
    }
    assert!(rx.seen.lock().unwrap().attempts.is_empty(), "the receiver on loopback was never called");
}

#[tokio::test]
async fn nothing_is_lost_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rx = receiver(|_, _| false).await;
    {
        let service = seeded(dir.path()).await;
        service.create_webhook(&Actor::Root, WS, hook("h", &rx.url, &["*"])).await.unwrap();
        // No dispatcher runs: the events wait in the outbox, written with their changes.
        service.create_group(&Actor::Root, WS, group("sales")).await.unwrap();
        service.create_group(&Actor::Root, WS, group("ops")).await.unwrap();
    }
    let service = open(dir.path()).await;
    let pending = service.deliveries(&Actor::Root, WS, "h", Some(DeliveryState::Pending), 0, 10).await.unwrap();
    let kinds: Vec<&str> = pending.iter().map(|d| d.event.as_str()).collect();
    assert_eq!(kinds, ["webhook.create", "group.create", "group.create"]);
    let _dispatcher = service.start_dispatcher(fast()).unwrap();
    let done = settled(&service, "h").await;
    assert!(done.iter().all(|d| d.state == DeliveryState::Delivered));
    assert_eq!(rx.seen.lock().unwrap().attempts.len(), 3);
}

#[tokio::test]
async fn subscriptions_are_checked_admin_only_and_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    let url = "http://127.0.0.1:9/hook";
    for bad in [
        hook("a", "ftp://example.com/x", &["*"]),
        hook("a", "http:///x", &["*"]),
        hook("a", url, &[]),
        hook("a", url, &["Group.Create"]),
        hook("a", url, &["group*"]),
        Webhook { secret: "whsec_c2hvcnQ=".into(), ..hook("a", url, &["*"]) },
        Webhook { secret: "not-a-secret".into(), ..hook("a", url, &["*"]) },
        hook("bad id!", url, &["*"]),
    ] {
        let refused = service.create_webhook(&Actor::Root, WS, bad.clone()).await;
        assert!(matches!(refused, Err(ServiceError::Invalid(_))), "{bad:?}: {refused:?}");
    }
    service.create_webhook(&Actor::Root, WS, hook("a", url, &["group.*", "access.changed"])).await.unwrap();
    let again = service.create_webhook(&Actor::Root, WS, hook("a", url, &["*"])).await;
    assert!(matches!(again, Err(ServiceError::Conflict(_))), "{again:?}");
    let refused = service.create_webhook(&as_user("sam"), WS, hook("b", url, &["*"])).await;
    assert!(matches!(refused, Err(ServiceError::Forbidden(_))), "{refused:?}");
    assert!(matches!(service.webhooks(&as_user("sam"), WS).await, Err(ServiceError::Forbidden(_))));
    // Another workspace sees none of it.
    service.create_workspace(&Actor::Root, Workspace { id: "other".into(), name: "Other".into() }, None).await.unwrap();
    assert!(service.webhooks(&Actor::Root, "other").await.unwrap().is_empty());
    let key = Actor::Key { workspace: "other".into(), key: "k".into() };
    assert!(service.webhooks(&key, WS).await.is_err());
    // The audit keeps the subscription, never its secret.
    let audit = service.store().audit(WS, 0, None, 100).await.unwrap();
    let created = audit.iter().find(|a| a.record.action == "webhook.create").unwrap();
    assert!(!created.record.after.as_ref().unwrap().to_string().contains("whsec_"));
    service.delete_webhook(&Actor::Root, WS, "a").await.unwrap();
    assert!(service.webhooks(&Actor::Root, WS).await.unwrap().is_empty());
    assert!(matches!(service.delete_webhook(&Actor::Root, WS, "a").await, Err(ServiceError::WebhookNotFound(_))));
}

#[tokio::test]
async fn members_are_told_what_a_group_change_gave_or_took() {
    let dir = tempfile::tempdir().unwrap();
    let service = seeded(dir.path()).await;
    let rx = receiver(|_, _| false).await;
    service.create_webhook(&Actor::Root, WS, hook("access", &rx.url, &["access.*"])).await.unwrap();
    let _dispatcher = service.start_dispatcher(fast()).unwrap();
    let crm = ResourceRef::new("app", "crm");
    service
        .put_resource(
            &Actor::Root,
            WS,
            rolecall_model::Resource { resource: crm.clone(), name: "CRM".into(), parent: None },
        )
        .await
        .unwrap();
    let marketing = rolecall_model::Group { notify: Notify::OnChange, ..group("marketing") };
    service.create_group(&Actor::Root, WS, marketing.clone()).await.unwrap();
    service.create_group(&Actor::Root, WS, group("quiet")).await.unwrap();
    service.put_grant(&Actor::Root, WS, &crm, &Subject::Group("marketing".into()), "admin", false).await.unwrap();
    service.put_grant(&Actor::Root, WS, &crm, &Subject::Group("quiet".into()), "runner", false).await.unwrap();
    service.put_member(&Actor::Root, WS, "marketing", "sam", rolecall_model::MemberRole::Member).await.unwrap();
    service.put_member(&Actor::Root, WS, "quiet", "eve", rolecall_model::MemberRole::Member).await.unwrap();

    let sam = service.notifications(&as_user("sam"), WS, "sam", 0, 10).await.unwrap();
    assert_eq!(sam.len(), 1);
    assert_eq!((sam[0].group.as_deref(), sam[0].reason.as_str()), (Some("marketing"), "member_added"));
    assert_eq!(
        sam[0].body["gained"],
        serde_json::json!([{"resource": {"type": "app", "id": "crm"}, "role": "admin", "previous": null}])
    );
    assert_eq!(sam[0].body["lost"], serde_json::json!([]));
    // `quiet` does not ask: Eve is told nothing.
    assert!(service.notifications(&Actor::Root, WS, "eve", 0, 10).await.unwrap().is_empty());

    // Switching the group's privileges off takes the access back, and says so.
    let off = rolecall_model::Group { apply_privileges: false, ..marketing.clone() };
    service.update_group(&Actor::Root, WS, off).await.unwrap();
    let sam = service.notifications(&as_user("sam"), WS, "sam", 0, 10).await.unwrap();
    assert_eq!(sam.len(), 2);
    assert_eq!(sam[1].reason, "privileges_off");
    assert_eq!(
        sam[1].body["lost"],
        serde_json::json!([{"resource": {"type": "app", "id": "crm"}, "role": "admin", "now": null}])
    );

    // "Notify users of their access": a summary per member, on demand; owners and admins only.
    service.update_group(&Actor::Root, WS, marketing).await.unwrap();
    assert!(matches!(
        service.notify_members(&as_user("sam"), WS, &["marketing".into()]).await,
        Err(ServiceError::Forbidden(_))
    ));
    let (sent, _) = service.notify_members(&Actor::Root, WS, &["marketing".into(), "quiet".into()]).await.unwrap();
    assert_eq!(sent, 2, "Sam for marketing, Eve for quiet");
    let eve = service.notifications(&Actor::Root, WS, "eve", 0, 10).await.unwrap();
    assert_eq!(eve[0].reason, "summary");
    assert_eq!(eve[0].body["roles"], serde_json::json!([{"resource": {"type": "app", "id": "crm"}, "role": "runner"}]));

    // Only the user themself (or an admin) reads their notifications.
    assert!(matches!(service.notifications(&as_user("eve"), WS, "sam", 0, 10).await, Err(ServiceError::Forbidden(_))));
    assert!(service.notifications(&Actor::Root, WS, "nobody", 0, 10).await.is_err());

    // Each notification went out as a signed webhook too.
    for _ in 0..200 {
        if rx.seen.lock().unwrap().attempts.len() >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = rx.seen.lock().unwrap();
    let kinds: Vec<&str> = seen.bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "access.changed").count(), 3, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "access.summary").count(), 2, "{kinds:?}");
    let changed = seen.bodies.iter().find(|b| b["type"] == "access.changed").unwrap();
    assert_eq!(changed["data"]["users"], serde_json::json!(["sam"]));
    assert_eq!(changed["data"]["group"], "marketing");
}
