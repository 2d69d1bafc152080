//! What the service needs from storage, shaped for this domain (after SpiceDB's
//! datastore): every command writes one [`Batch`] (directory rows, its changes and its audit
//! entries) in one transaction that commits whole or not at all; the change log is read in
//! revision order from any revision; directory reads serve listings and search.
//!
//! Checks never read a store: the engine answers them from memory.

pub mod conformance;
pub mod rows;

use std::future::Future;

use rolecall_model::{Change, Group, Resource, ResourceRef, Revision, Subject, User, Workspace};
use serde::{Deserialize, Serialize};

/// Why a store refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule would be broken (an email or group name already taken, an id
    /// already used). Nothing was written.
    #[error("{0}")]
    Conflict(String),
    /// Another writer appended to the change log since the caller validated its batch.
    /// Nothing was written; reload and retry.
    #[error("the change log moved on: expected revision {expected}, found {actual}")]
    HeadMoved { expected: u64, actual: u64 },
    /// The backend failed (I/O, connection). Nothing is known to be written.
    #[error("storage failed: {0}")]
    Backend(String),
    /// Stored data could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

/// One directory row to write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Write {
    /// Creates a workspace (or renames it), with its schema document as JSON.
    PutWorkspace {
        workspace: Workspace,
        schema: serde_json::Value,
    },
    /// Deletes a workspace and every row in it.
    DeleteWorkspace {
        workspace: String,
    },
    PutUser {
        workspace: String,
        user: User,
    },
    DeleteUser {
        workspace: String,
        user: String,
    },
    PutGroup {
        workspace: String,
        group: Group,
    },
    DeleteGroup {
        workspace: String,
        group: String,
    },
    PutResource {
        workspace: String,
        resource: Resource,
    },
    DeleteResource {
        workspace: String,
        resource: ResourceRef,
    },
    /// Records a rule: `subject` holds `role` on `resource` (updated at the batch's time).
    PutGrant {
        workspace: String,
        resource: ResourceRef,
        subject: Subject,
        role: String,
    },
    DeleteGrant {
        workspace: String,
        resource: ResourceRef,
        subject: Subject,
    },
    /// Stores an API key by the hash of its secret; the secret itself is never stored.
    PutApiKey {
        workspace: String,
        key: ApiKey,
    },
    DeleteApiKey {
        workspace: String,
        id: String,
    },
    /// Names a thing the engine knows only by id (`kind` is e.g. `permission_set`, `policy`).
    PutLabel {
        workspace: String,
        kind: String,
        key: String,
        name: String,
    },
    /// Removes the labels of `kind` whose key is `key` or starts with `key/`.
    DeleteLabels {
        workspace: String,
        kind: String,
        key: String,
    },
    /// Subscribes a URL to events (or replaces a subscription of the same id).
    PutWebhook {
        workspace: String,
        webhook: Webhook,
    },
    /// Ends a subscription; its deliveries go with it.
    DeleteWebhook {
        workspace: String,
        id: String,
    },
    /// What a SCIM client wrote about a user beyond Rolecall's own fields (the user row
    /// must exist; the row goes when the user does).
    PutScimUser {
        workspace: String,
        scim: ScimUser,
    },
    /// A group's SCIM `externalId` (the group row must exist; the row goes with it).
    PutScimGroup {
        workspace: String,
        group: String,
        external_id: Option<String>,
    },
    /// A user's console password as an Argon2id PHC string (never the password itself).
    /// Every session the user has ends with it.
    PutPassword {
        workspace: String,
        user: String,
        hash: String,
    },
}

/// A signed-in console session. Only the hash of its token is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub hash: String,
    pub workspace: String,
    pub user: String,
    /// The token forms of this session must carry (CSRF).
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// What a SCIM client wrote about a user that Rolecall's user row does not hold: the
/// `userName` (unique per workspace without regard to case), the `externalId` and the
/// rest of the attributes as the client wrote them (`name`, `emails`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimUser {
    pub user: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub attributes: serde_json::Value,
}

/// A user with what a SCIM client wrote about them, if anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimUserRow {
    pub user: User,
    pub scim: Option<ScimUser>,
}

/// An exact key by which SCIM clients look users up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimUserKey<'a> {
    /// `userName`, without regard to case: the SCIM row's, or for users SCIM never
    /// wrote, their email.
    UserName(&'a str),
    ExternalId(&'a str),
}

/// A subscription to a workspace's events.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    /// The signing secret (Standard Webhooks: `whsec_` and base64).
    pub secret: String,
    /// Event types (`group.member.put`), prefixes (`group.*`) or `*`.
    pub events: Vec<String>,
    pub created_at: i64,
}

impl std::fmt::Debug for Webhook {
    // The secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("id", &self.id).field("url", &self.url).field("events", &self.events).finish()
    }
}

impl Webhook {
    /// Whether the subscription asks for events of type `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        wants(&self.events, kind)
    }
}

/// Whether `patterns` (types, `prefix.*` or `*`) cover event type `kind`.
pub fn wants(patterns: &[String], kind: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => p == kind,
    })
}

/// Something that happened in a workspace, for its webhooks: committed with the batch, one
/// delivery per subscription that wants it (the outbox).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub workspace: String,
    /// e.g. `group.member.put`, `access.changed`.
    pub kind: String,
    pub data: serde_json::Value,
    /// The position in the batch of the change whose revision the event carries; the
    /// batch's last (or the log's head, for a batch without changes) when `None`.
    pub change: Option<usize>,
}

/// A notification (seed 001): what its users gained and lost, or a summary. One message
/// to every user it names (a million members who lost the same access share one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationRecord {
    pub workspace: String,
    pub users: Vec<String>,
    pub group: Option<String>,
    /// e.g. `member_added`, `privileges_off`, `summary`.
    pub reason: String,
    pub body: serde_json::Value,
    /// As [`Event::change`].
    pub change: Option<usize>,
}

/// A notification as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: u64,
    pub user: String,
    pub group: Option<String>,
    pub reason: String,
    pub revision: Revision,
    pub at: i64,
    pub body: serde_json::Value,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first or next attempt.
    Pending,
    Delivered,
    /// Every attempt failed; it waits for a redelivery on request.
    Dead,
}

/// One event to one webhook: the message and how its attempts went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: u64,
    pub webhook: String,
    pub event: String,
    /// The exact body that is signed and sent.
    pub body: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: i64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Delivery {
    /// The message id receivers see (`webhook-id`): the same on every attempt.
    pub fn message_id(&self) -> String {
        format!("msg_{}", self.id)
    }
}

/// A delivery taken for an attempt, with where to send it.
#[derive(Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub delivery: Delivery,
    pub workspace: String,
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery").field("delivery", &self.delivery).field("url", &self.url).finish()
    }
}

/// How an attempt went, and what comes next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub at: i64,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub next: AttemptNext,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptNext {
    Delivered,
    /// Try again at this time.
    RetryAt(i64),
    /// That was the last try.
    Dead,
}

/// The kinds of labels the service keeps.
pub mod label {
    /// A permission set of a group; key `group/set`.
    pub const PERMISSION_SET: &str = "permission_set";
    /// A permission policy; key = its id.
    pub const POLICY: &str = "policy";
}

/// A workspace API key as stored: the hash of the secret, never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub hash: String,
    pub created_at: i64,
}

/// A rule on a resource as its Permissions page lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRow {
    pub subject: Subject,
    pub subject_name: String,
    /// For users.
    pub subject_email: Option<String>,
    pub role: String,
    pub updated_at: i64,
    /// For users: their last activity (the "Recent Activity" sort).
    pub last_active_at: Option<i64>,
}

/// How to sort the rules of a resource.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GrantSort {
    #[default]
    Name,
    /// Most recently active first.
    RecentActivity,
}

/// Which rules of a resource to list (seed 003: tabs, search, role filter, sort).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GrantQuery {
    /// `Some(true)` for the Users tab, `Some(false)` for the Groups tab.
    pub users: Option<bool>,
    /// Matches the subject's name or email, any case.
    pub search: Option<String>,
    /// Only these roles; empty means every role.
    pub roles: Vec<String>,
    pub sort: GrantSort,
    /// Rows to skip (the opaque cursor of the API wraps this).
    pub offset: u32,
    pub limit: u32,
}

/// An audit entry: who changed what, before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub workspace: String,
    /// A short name for the command, e.g. `group.create`.
    pub action: String,
    /// What was changed, e.g. `group:marketing`.
    pub target: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Everything one command writes, committed in one transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// When set, the batch is written only if the change log's head is still this revision.
    pub expected_head: Option<Revision>,
    /// Who acted (a user id, `key:<id>` or `root`).
    pub actor: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub writes: Vec<Write>,
    /// Appended to the change log in order; each gets the next revision.
    pub changes: Vec<Change>,
    pub audit: Vec<AuditRecord>,
    pub notifications: Vec<NotificationRecord>,
    /// Fanned out to the deliveries of the workspace's webhooks in the same transaction.
    pub events: Vec<Event>,
}

/// A change as the log holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedChange {
    pub revision: Revision,
    pub at: i64,
    pub change: Change,
}

/// An audit entry as the log holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: u64,
    pub revision: Revision,
    pub actor: String,
    pub at: i64,
    pub record: AuditRecord,
}

/// A page of a listing: `after` is the last key of the previous page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: u32,
}

/// A page of results and the key to pass as `after` for the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// A write in progress that holds the change log's head: until it commits or is dropped
/// (which writes nothing), no other writer appends to the log, in this process or another.
/// The service catches its engine up to [`WriteLock::head`], validates on that state and
/// commits: writers queue on the lock instead of racing, so none of them is starved.
pub trait WriteLock: Send {
    /// The head of the log while the lock is held.
    fn head(&self) -> Revision;

    /// Writes `batch` after the head, in the same transaction, and ends the lock (also when
    /// it fails: nothing is written then).
    fn commit(self, batch: Batch) -> impl Future<Output = Result<Vec<Revision>, StoreError>> + Send;

    /// Ends the lock without writing, at once (dropping it also ends it, a moment later).
    fn release(self) -> impl Future<Output = ()> + Send;
}

/// Storage for Rolecall. Implementations: `rolecall-store-sqlite` (the embedded default)
/// and `rolecall-store-postgres`. A clone is another handle on the same store.
pub trait Store: Clone + Send + Sync + 'static {
    /// Changes whenever another process may have appended to the change log (the value is
    /// the newest revision heard of). `None` when this process is the only writer (the
    /// embedded store), so nobody needs to follow the log.
    fn change_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// What [`Store::lock_head`] hands out.
    type WriteLock: WriteLock;

    /// Takes the head of the change log for one write (waits while another writer has it).
    fn lock_head(&self) -> impl Future<Output = Result<Self::WriteLock, StoreError>> + Send;

    /// The revision of the last change in the log (0 when empty).
    fn head(&self) -> impl Future<Output = Result<Revision, StoreError>> + Send;

    /// Writes `batch` in one transaction and returns the revision of each of its changes.
    /// On any error nothing of the batch is written.
    fn commit(&self, batch: Batch) -> impl Future<Output = Result<Vec<Revision>, StoreError>> + Send;

    /// Up to `limit` changes after `after`, in revision order.
    fn changes_after(
        &self,
        after: Revision,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<LoggedChange>, StoreError>> + Send;

    /// Up to `limit` changes of one workspace after `after`, in revision order.
    fn workspace_changes(
        &self,
        workspace: &str,
        after: Revision,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<LoggedChange>, StoreError>> + Send;

    /// Audit entries of a workspace after entry `after`, optionally by one actor, oldest first.
    fn audit(
        &self,
        workspace: &str,
        after: u64,
        actor: Option<&str>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;

    fn workspace(&self, id: &str) -> impl Future<Output = Result<Option<Workspace>, StoreError>> + Send;

    /// The schema document of a workspace, as it was written.
    fn schema(&self, workspace: &str) -> impl Future<Output = Result<Option<serde_json::Value>, StoreError>> + Send;

    /// Labels of one kind in a workspace whose key is `prefix` or starts with `prefix/`
    /// (every label of the kind when `prefix` is `None`), by key: `(key, name)`.
    fn labels(
        &self,
        workspace: &str,
        kind: &str,
        prefix: Option<&str>,
    ) -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send;

    /// Resources of a workspace, optionally of one type, whose name or id contains `query`
    /// (any case), ordered by type then id.
    fn resources(
        &self,
        workspace: &str,
        kind: Option<&str>,
        query: Option<&str>,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<Resource>, StoreError>> + Send;

    fn user(&self, workspace: &str, id: &str) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Users of a workspace whose name or email contains `query` (any case), by id.
    fn users(
        &self,
        workspace: &str,
        query: Option<&str>,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<User>, StoreError>> + Send;

    fn resource(
        &self,
        workspace: &str,
        resource: &ResourceRef,
    ) -> impl Future<Output = Result<Option<Resource>, StoreError>> + Send;

    /// The rules on a resource, filtered and sorted; `next` is the next offset.
    fn grants(
        &self,
        workspace: &str,
        resource: &ResourceRef,
        query: GrantQuery,
    ) -> impl Future<Output = Result<Page<GrantRow>, StoreError>> + Send;

    /// The API key whose secret hashes to `hash`, with its workspace.
    fn api_key(&self, hash: &str) -> impl Future<Output = Result<Option<(String, ApiKey)>, StoreError>> + Send;

    /// A workspace's API keys (hashes, never secrets), oldest first.
    fn api_keys(&self, workspace: &str) -> impl Future<Output = Result<Vec<ApiKey>, StoreError>> + Send;

    fn group(&self, workspace: &str, id: &str) -> impl Future<Output = Result<Option<Group>, StoreError>> + Send;

    /// A workspace's webhooks, oldest first.
    fn webhooks(&self, workspace: &str) -> impl Future<Output = Result<Vec<Webhook>, StoreError>> + Send;

    /// Deliveries of one webhook after delivery `after`, optionally in one state, oldest first.
    fn deliveries(
        &self,
        workspace: &str,
        webhook: &str,
        state: Option<DeliveryState>,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Delivery>, StoreError>> + Send;

    /// Takes up to `limit` pending deliveries due at `now` for an attempt: none of them is
    /// handed out again (to this or another process) until `lease_until` or until its
    /// attempt is recorded.
    fn claim_due(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<DueDelivery>, StoreError>> + Send;

    /// Records an attempt of a delivery taken with [`Store::claim_due`].
    fn record_attempt(&self, delivery: u64, attempt: Attempt) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Makes a delivery pending again, due at `now`, with a fresh set of attempts.
    /// `None` when there is no such delivery in the workspace's webhook.
    fn redeliver(
        &self,
        workspace: &str,
        webhook: &str,
        delivery: u64,
        now: i64,
    ) -> impl Future<Output = Result<Option<Delivery>, StoreError>> + Send;

    /// When the earliest pending delivery is due, if any.
    fn next_due(&self) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// One user's notifications after notification `after`, oldest first.
    fn notifications(
        &self,
        workspace: &str,
        user: &str,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Notification>, StoreError>> + Send;

    /// The users among `ids` that exist, with their SCIM rows, in no particular order.
    fn scim_users(
        &self,
        workspace: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<ScimUserRow>, StoreError>> + Send;

    /// The ids of the users a SCIM key names, by id.
    fn scim_user_ids(
        &self,
        workspace: &str,
        key: ScimUserKey<'_>,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The id and password hash of the user of `workspace` whose email is `email` (any
    /// case), if they have a password.
    fn password_of(
        &self,
        workspace: &str,
        email: &str,
    ) -> impl Future<Output = Result<Option<(String, String)>, StoreError>> + Send;

    /// Starts a console session.
    fn create_session(&self, session: &Session) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The session whose token hashes to `hash`, unless it expired before `now`.
    fn session(&self, hash: &str, now: i64) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;

    /// Ends a session (and clears out every expired one).
    fn delete_session(&self, hash: &str, now: i64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every group's SCIM `externalId` that was written: `(group, external_id)`.
    fn scim_groups(&self, workspace: &str) -> impl Future<Output = Result<Vec<(String, String)>, StoreError>> + Send;

    /// Groups of a workspace whose name or description contains `query` (any case) and
    /// that carry `tag`, by id.
    fn groups(
        &self,
        workspace: &str,
        query: Option<&str>,
        tag: Option<&str>,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<Group>, StoreError>> + Send;
}
