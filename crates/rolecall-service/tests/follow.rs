//! Following a change log that another process writes: the follower applies it in order,
//! a gap in what it reads makes it reload the whole log (never skip a change, such as a
//! revoke), and a follower that cannot reach its store stops answering (fail closed).
//!
//! Two services share one SQLite file here: one writes; the other follows through a
//! store wrapper that can hide a revision from one read, or fail, on demand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rolecall_model::{Group, Limits, Resource, ResourceRef, Revision, SchemaDoc, Subject, User, UserKind, Workspace};
use rolecall_service::{Actor, Consistency, Follow, Service};
use rolecall_store::{
    ApiKey, AuditEntry, Batch, GrantQuery, GrantRow, LoggedChange, Page, PageRequest, Store, StoreError,
};
use rolecall_store_sqlite::SqliteStore;

const WS: &str = "acme";

/// The SQLite store, seen by a follower: it announces changes only when told, can hide one
/// revision from the next read of the log, and can fail every read of the head.
#[derive(Clone)]
struct Unreliable {
    inner: SqliteStore,
    announce: Arc<tokio::sync::watch::Sender<u64>>,
    hide_once: Arc<AtomicU64>,
    down: Arc<AtomicBool>,
}

impl Unreliable {
    fn new(inner: SqliteStore) -> Unreliable {
        let (announce, _) = tokio::sync::watch::channel(0);
        Unreliable {
            inner,
            announce: Arc::new(announce),
            hide_once: Arc::new(AtomicU64::new(0)),
            down: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Store for Unreliable {
    fn change_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.announce.subscribe())
    }

    type WriteLock = <SqliteStore as Store>::WriteLock;

    async fn lock_head(&self) -> Result<Self::WriteLock, StoreError> {
        self.inner.lock_head().await
    }

    async fn head(&self) -> Result<Revision, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("the database is away".into()));
        }
        self.inner.head().await
    }

    async fn commit(&self, batch: Batch) -> Result<Vec<Revision>, StoreError> {
        self.inner.commit(batch).await
    }

    async fn changes_after(&self, after: Revision, limit: u32) -> Result<Vec<LoggedChange>, StoreError> {
        let mut changes = self.inner.changes_after(after, limit).await?;
        let hidden = self.hide_once.swap(0, Ordering::SeqCst);
        changes.retain(|c| c.revision.0 != hidden);
        Ok(changes)
    }

    async fn workspace_changes(&self, ws: &str, after: Revision, limit: u32) -> Result<Vec<LoggedChange>, StoreError> {
        self.inner.workspace_changes(ws, after, limit).await
    }

    async fn audit(
        &self,
        ws: &str,
        after: u64,
        actor: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit(ws, after, actor, limit).await
    }

    async fn workspace(&self, id: &str) -> Result<Option<Workspace>, StoreError> {
        self.inner.workspace(id).await
    }

    async fn schema(&self, ws: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.inner.schema(ws).await
    }

    async fn labels(&self, ws: &str, kind: &str, prefix: Option<&str>) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.labels(ws, kind, prefix).await
    }

    async fn resources(
        &self,
        ws: &str,
        kind: Option<&str>,
        query: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Resource>, StoreError> {
        self.inner.resources(ws, kind, query, page).await
    }

    async fn user(&self, ws: &str, id: &str) -> Result<Option<User>, StoreError> {
        self.inner.user(ws, id).await
    }

    async fn users(&self, ws: &str, query: Option<&str>, page: PageRequest) -> Result<Page<User>, StoreError> {
        self.inner.users(ws, query, page).await
    }

    async fn resource(&self, ws: &str, resource: &ResourceRef) -> Result<Option<Resource>, StoreError> {
        self.inner.resource(ws, resource).await
    }

    async fn grants(&self, ws: &str, resource: &ResourceRef, query: GrantQuery) -> Result<Page<GrantRow>, StoreError> {
        self.inner.grants(ws, resource, query).await
    }

    async fn api_key(&self, hash: &str) -> Result<Option<(String, ApiKey)>, StoreError> {
        self.inner.api_key(hash).await
    }

    async fn api_keys(&self, ws: &str) -> Result<Vec<ApiKey>, StoreError> {
        self.inner.api_keys(ws).await
    }

    async fn group(&self, ws: &str, id: &str) -> Result<Option<Group>, StoreError> {
        self.inner.group(ws, id).await
    }

    async fn groups(
        &self,
        ws: &str,
        query: Option<&str>,
        tag: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<Group>, StoreError> {
        self.inner.groups(ws, query, tag, page).await
    }

    async fn webhooks(&self, ws: &str) -> Result<Vec<rolecall_store::Webhook>, StoreError> {
        self.inner.webhooks(ws).await
    }

    async fn deliveries(
        &self,
        ws: &str,
        webhook: &str,
        state: Option<rolecall_store::DeliveryState>,
        after: u64,
        limit: u32,
    ) -> Result<Vec<rolecall_store::Delivery>, StoreError> {
        self.inner.deliveries(ws, webhook, state, after, limit).await
    }

    async fn claim_due(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<rolecall_store::DueDelivery>, StoreError> {
        self.inner.claim_due(now, lease_until, limit).await
    }

    async fn record_attempt(&self, delivery: u64, attempt: rolecall_store::Attempt) -> Result<(), StoreError> {
        self.inner.record_attempt(delivery, attempt).await
    }

    async fn redeliver(
        &self,
        ws: &str,
        webhook: &str,
        delivery: u64,
        now: i64,
    ) -> Result<Option<rolecall_store::Delivery>, StoreError> {
        self.inner.redeliver(ws, webhook, delivery, now).await
    }

    async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        self.inner.next_due().await
    }

    async fn notifications(
        &self,
        ws: &str,
        user: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<rolecall_store::Notification>, StoreError> {
        self.inner.notifications(ws, user, after, limit).await
    }

    async fn scim_users(&self, ws: &str, ids: &[String]) -> Result<Vec<rolecall_store::ScimUserRow>, StoreError> {
        self.inner.scim_users(ws, ids).await
    }

    async fn scim_user_ids(&self, ws: &str, key: rolecall_store::ScimUserKey<'_>) -> Result<Vec<String>, StoreError> {
        self.inner.scim_user_ids(ws, key).await
    }

    async fn scim_groups(&self, ws: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.inner.scim_groups(ws).await
    }

    async fn password_of(&self, ws: &str, email: &str) -> Result<Option<(String, String)>, StoreError> {
        self.inner.password_of(ws, email).await
    }

    async fn create_session(&self, session: &rolecall_store::Session) -> Result<(), StoreError> {
        self.inner.create_session(session).await
    }

    async fn session(&self, hash: &str, now: i64) -> Result<Option<rolecall_store::Session>, StoreError> {
        self.inner.session(hash, now).await
    }

    async fn delete_session(&self, hash: &str, now: i64) -> Result<(), StoreError> {
        self.inner.delete_session(hash, now).await
    }
}

fn ann() -> User {
    User {
        id: "ann".into(),
        email: "ann@example.com".into(),
        name: "Ann".into(),
        workspace_role: "member".into(),
        kind: UserKind::Regular,
        last_active_at: None,
    }
}

/// A writer and a follower on one file; the writer made a workspace, `ann` and app `crm`.
async fn pair(dir: &std::path::Path, follow: Follow) -> (Service<SqliteStore>, Service<Unreliable>, Unreliable) {
    let file = dir.join("rolecall.db");
    let writer = Service::open(SqliteStore::open(&file).await.unwrap(), Limits::default()).await.unwrap();
    let ws = Workspace { id: WS.into(), name: "Acme".into() };
    writer.create_workspace(&Actor::Root, ws, Some(SchemaDoc::default_schema())).await.unwrap();
    writer.put_user(&Actor::Root, WS, ann()).await.unwrap();
    let crm = Resource { resource: ResourceRef::new("app", "crm"), name: "CRM".into(), parent: None };
    writer.put_resource(&Actor::Root, WS, crm).await.unwrap();
    let hr = Resource { resource: ResourceRef::new("app", "hr"), name: "HR".into(), parent: None };
    writer.put_resource(&Actor::Root, WS, hr).await.unwrap();
    let store = Unreliable::new(SqliteStore::open(&file).await.unwrap());
    let follower = Service::open_following(store.clone(), Limits::default(), follow).await.unwrap();
    (writer, follower, store)
}

async fn may_use(service: &Service<Unreliable>, at_least: Revision) -> bool {
    let engine = service.engine(Consistency::AtLeast(at_least)).await.unwrap();
    assert!(engine.revision() >= at_least);
    engine.workspace(WS).unwrap().check("ann", "run", &ResourceRef::new("app", "crm")).unwrap().allowed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_in_the_log_reloads_it_and_never_skips_a_revoke() {
    let dir = tempfile::tempdir().unwrap();
    // No polling: the follower reads the log only when told (announce) or asked (at_least).
    let follow = Follow { poll: Duration::from_secs(3600), ..Follow::default() };
    let (writer, follower, store) = pair(dir.path(), follow).await;
    let crm = ResourceRef::new("app", "crm");
    let subject = Subject::User("ann".into());
    let (_, granted) = writer.put_grant(&Actor::Root, WS, &crm, &subject, "runner", false).await.unwrap();
    store.announce.send_modify(|_| {});
    assert!(may_use(&follower, granted).await);

    // The revoke is hidden from the follower's next read of the log, which then holds
    // only a later, unrelated grant: a gap.
    store.hide_once.store(granted.0 + 1, Ordering::SeqCst);
    let revoked = writer.revoke_grant(&Actor::Root, WS, &crm, &subject).await.unwrap();
    assert_eq!(revoked.0, granted.0 + 1);
    let hr = ResourceRef::new("app", "hr");
    let (_, last) = writer.put_grant(&Actor::Root, WS, &hr, &subject, "runner", false).await.unwrap();
    store.announce.send_modify(|_| {});
    // Applying what it read and skipping the revoke would leave ann on crm: a stale allow
    // at a revision that claims to include the revoke. The follower reloads instead.
    assert!(!may_use(&follower, last).await, "the revoke was skipped");
    assert_eq!(follower.snapshot().revision(), writer.snapshot().revision());
    assert_eq!(
        follower.snapshot().workspace(WS).unwrap().facts(),
        writer.snapshot().workspace(WS).unwrap().facts(),
        "the follower's index differs from the writer's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_that_cannot_reach_its_store_stops_answering_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let follow = Follow { poll: Duration::from_millis(20), max_staleness: Duration::from_millis(200) };
    let (writer, follower, store) = pair(dir.path(), follow).await;
    assert!(follower.engine(Consistency::Any).await.is_ok());
    store.down.store(true, Ordering::SeqCst);
    // A write it has not seen lands meanwhile.
    let crm = ResourceRef::new("app", "crm");
    let (_, granted) =
        writer.put_grant(&Actor::Root, WS, &crm, &Subject::User("ann".into()), "runner", false).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let refused = follower.engine(Consistency::Any).await.map(|_| ()).unwrap_err();
    assert_eq!(refused.code(), "replica_stale");
    store.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(may_use(&follower, granted).await, "the follower did not catch up by polling");
    assert!(follower.engine(Consistency::Any).await.is_ok());
}
