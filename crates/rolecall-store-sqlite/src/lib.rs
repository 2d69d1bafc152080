//! The embedded default store: one SQLite file (`./rolecall-data/rolecall.db` by default)
//! in WAL mode with `synchronous = FULL`, so an acknowledged commit survives a crash.
//! Migrations are embedded in the binary. Commits are serialised in the process: SQLite
//! has one writer anyway, and it keeps the change log free of gaps and duplicates.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use rolecall_model::{Change, Group, Resource, ResourceRef, Revision, Subject, User, Workspace, email_key, name_key};
use rolecall_store::rows::{backend, conflict, corrupt, event_body, from_name, name_of, page, subject_parts, text};
use rolecall_store::{
    ApiKey, Attempt, AttemptNext, AuditEntry, AuditRecord, Batch, Delivery, DeliveryState, DueDelivery, GrantQuery,
    GrantRow, GrantSort, LoggedChange, Notification, Page, PageRequest, ScimUser, ScimUserKey, ScimUserRow, Session,
    Store, StoreError, Webhook, Write, WriteLock,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

/// Rolecall's store on SQLite.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| backend(format!("cannot create `{}`: {e}", dir.display())))?;
        }
        let options = SqliteConnectOptions::new().filename(path);
        SqliteStore::connect(options).await
    }

    /// Opens a `sqlite://PATH` URL.
    pub async fn open_url(url: &str) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url).map_err(backend)?;
        SqliteStore::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> Result<SqliteStore, StoreError> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // INVARIANT: an acknowledged commit is on disk before `commit` returns.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await.map_err(backend)?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(backend)?;
        Ok(SqliteStore { pool, writer: Default::default() })
    }

    async fn delete_grants_of(
        tx: &mut Transaction<'_, Sqlite>,
        workspace: &str,
        kind: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM grants WHERE workspace = ? AND subject_kind = ? AND subject_id = ?")
            .bind(workspace)
            .bind(kind)
            .bind(id)
            .execute(&mut **tx)
            .await
            .map(|_| ())
            .map_err(backend)
    }

    async fn delete_labels(
        tx: &mut Transaction<'_, Sqlite>,
        workspace: &str,
        kind: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM labels WHERE workspace = ? AND kind = ?
               AND (key = ? OR substr(key, 1, length(?) + 1) = ? || '/')",
        )
        .bind(workspace)
        .bind(kind)
        .bind(key)
        .bind(key)
        .bind(key)
        .execute(&mut **tx)
        .await
        .map(|_| ())
        .map_err(backend)
    }

    async fn changes(
        &self,
        workspace: Option<&str>,
        after: Revision,
        limit: u32,
    ) -> Result<Vec<LoggedChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT revision, change, at FROM change_log WHERE revision > ? AND (? IS NULL OR workspace = ?)
             ORDER BY revision LIMIT ?",
        )
        .bind(after.0 as i64)
        .bind(workspace)
        .bind(workspace)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let change: String = row.try_get("change").map_err(corrupt)?;
                Ok(LoggedChange {
                    revision: Revision(row.try_get::<i64, _>("revision").map_err(corrupt)? as u64),
                    at: row.try_get("at").map_err(corrupt)?,
                    change: serde_json::from_str::<Change>(&change).map_err(corrupt)?,
                })
            })
            .collect()
    }

    /// Appends changes to the log in one statement; they get consecutive revisions (the
    /// caller holds the write lock, and AUTOINCREMENT hands them out in insertion order).
    async fn append_changes(
        tx: &mut Transaction<'_, Sqlite>,
        changes: &[Change],
        at: i64,
    ) -> Result<Vec<Revision>, StoreError> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let rows = changes
            .iter()
            .map(|c| Ok(serde_json::json!([c.workspace, text(c)?])))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let done = sqlx::query(
            "INSERT INTO change_log (workspace, change, at)
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ? FROM json_each(?) ORDER BY key",
        )
        .bind(at)
        .bind(text(&rows)?)
        .execute(&mut **tx)
        .await
        .map_err(backend)?;
        let last = done.last_insert_rowid() as u64;
        let n = changes.len() as u64;
        if done.rows_affected() != n {
            return Err(corrupt(format!("{} of {n} changes were logged", done.rows_affected())));
        }
        Ok((last + 1 - n..=last).map(Revision).collect())
    }

    /// Writes several users in one statement. When one of them conflicts, they are written
    /// one by one instead (the failed statement changed nothing), so the refusal names it.
    async fn put_users(tx: &mut Transaction<'_, Sqlite>, writes: &[Write]) -> Result<(), StoreError> {
        let mut rows = Vec::with_capacity(writes.len());
        for write in writes {
            if let Write::PutUser { workspace, user } = write {
                rows.push(serde_json::json!([
                    workspace,
                    user.id,
                    user.email,
                    email_key(&user.email),
                    user.name,
                    user.workspace_role,
                    name_of(&user.kind)?,
                    user.last_active_at,
                ]));
            }
        }
        let done = sqlx::query(
            "INSERT INTO users (workspace, id, email, email_key, name, workspace_role, kind, last_active_at)
             SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
                    json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]'),
                    json_extract(value, '$[6]'), json_extract(value, '$[7]')
             FROM json_each(?) WHERE true
             ON CONFLICT (workspace, id) DO UPDATE SET email = excluded.email,
               email_key = excluded.email_key, name = excluded.name,
               workspace_role = excluded.workspace_role, kind = excluded.kind,
               last_active_at = excluded.last_active_at",
        )
        .bind(text(&rows)?)
        .execute(&mut **tx)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                for write in writes {
                    SqliteStore::write(tx, write, 0).await?;
                }
                Err(corrupt("a conflict in a batch of users that no single user has"))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn write(tx: &mut Transaction<'_, Sqlite>, write: &Write, at: i64) -> Result<(), StoreError> {
        let result = match write {
            Write::PutWorkspace { workspace, schema } => {
                sqlx::query(
                    "INSERT INTO workspaces (id, name, schema) VALUES (?, ?, ?)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, schema = excluded.schema",
                )
                .bind(&workspace.id)
                .bind(&workspace.name)
                .bind(text(schema)?)
                .execute(&mut **tx)
                .await
            }
            Write::DeleteWorkspace { workspace } => {
                sqlx::query("DELETE FROM workspaces WHERE id = ?").bind(workspace).execute(&mut **tx).await
            }
            Write::PutUser { workspace, user } => {
                sqlx::query(
                    "INSERT INTO users (workspace, id, email, email_key, name, workspace_role, kind, last_active_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (workspace, id) DO UPDATE SET email = excluded.email,
                       email_key = excluded.email_key, name = excluded.name,
                       workspace_role = excluded.workspace_role, kind = excluded.kind,
                       last_active_at = excluded.last_active_at",
                )
                .bind(workspace)
                .bind(&user.id)
                .bind(&user.email)
                .bind(email_key(&user.email))
                .bind(&user.name)
                .bind(&user.workspace_role)
                .bind(name_of(&user.kind)?)
                .bind(user.last_active_at)
                .execute(&mut **tx)
                .await
            }
            Write::DeleteUser { workspace, user } => {
                SqliteStore::delete_grants_of(tx, workspace, "user", user).await?;
                sqlx::query("DELETE FROM users WHERE workspace = ? AND id = ?")
                    .bind(workspace)
                    .bind(user)
                    .execute(&mut **tx)
                    .await
            }
            Write::PutGroup { workspace, group } => {
                sqlx::query(
                    "INSERT INTO groups (workspace, id, name, name_key, description, tags, icon, visibility,
                       apply_privileges, notify)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (workspace, id) DO UPDATE SET name = excluded.name,
                       name_key = excluded.name_key, description = excluded.description,
                       tags = excluded.tags, icon = excluded.icon, visibility = excluded.visibility,
                       apply_privileges = excluded.apply_privileges, notify = excluded.notify",
                )
                .bind(workspace)
                .bind(&group.id)
                .bind(&group.name)
                .bind(name_key(&group.name))
                .bind(&group.description)
                .bind(text(&group.tags)?)
                .bind(&group.icon)
                .bind(name_of(&group.visibility)?)
                .bind(group.apply_privileges)
                .bind(name_of(&group.notify)?)
                .execute(&mut **tx)
                .await
            }
            Write::DeleteGroup { workspace, group } => {
                SqliteStore::delete_grants_of(tx, workspace, "group", group).await?;
                SqliteStore::delete_labels(tx, workspace, rolecall_store::label::PERMISSION_SET, group).await?;
                sqlx::query("DELETE FROM groups WHERE workspace = ? AND id = ?")
                    .bind(workspace)
                    .bind(group)
                    .execute(&mut **tx)
                    .await
            }
            Write::PutResource { workspace, resource } => sqlx::query(
                "INSERT INTO resources (workspace, type, id, name, parent_type, parent_id) VALUES (?, ?, ?, ?, ?, ?)
                     ON CONFLICT (workspace, type, id) DO UPDATE SET name = excluded.name,
                       parent_type = excluded.parent_type, parent_id = excluded.parent_id",
            )
            .bind(workspace)
            .bind(&resource.resource.kind)
            .bind(&resource.resource.id)
            .bind(&resource.name)
            .bind(resource.parent.as_ref().map(|p| &p.kind))
            .bind(resource.parent.as_ref().map(|p| &p.id))
            .execute(&mut **tx)
            .await,
            Write::DeleteResource { workspace, resource } => {
                sqlx::query("DELETE FROM grants WHERE workspace = ? AND type = ? AND id = ?")
                    .bind(workspace)
                    .bind(&resource.kind)
                    .bind(&resource.id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                sqlx::query("DELETE FROM resources WHERE workspace = ? AND type = ? AND id = ?")
                    .bind(workspace)
                    .bind(&resource.kind)
                    .bind(&resource.id)
                    .execute(&mut **tx)
                    .await
            }
            Write::PutGrant { workspace, resource, subject, role } => {
                let (kind, id) = subject_parts(subject);
                sqlx::query(
                    "INSERT INTO grants (workspace, type, id, subject_kind, subject_id, role, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (workspace, type, id, subject_kind, subject_id)
                     DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at",
                )
                .bind(workspace)
                .bind(&resource.kind)
                .bind(&resource.id)
                .bind(kind)
                .bind(id)
                .bind(role)
                .bind(at)
                .execute(&mut **tx)
                .await
            }
            Write::DeleteGrant { workspace, resource, subject } => {
                let (kind, id) = subject_parts(subject);
                sqlx::query(
                    "DELETE FROM grants WHERE workspace = ? AND type = ? AND id = ? AND subject_kind = ? AND subject_id = ?",
                )
                .bind(workspace)
                .bind(&resource.kind)
                .bind(&resource.id)
                .bind(kind)
                .bind(id)
                .execute(&mut **tx)
                .await
            }
            Write::PutApiKey { workspace, key } => {
                sqlx::query("INSERT INTO api_keys (workspace, id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)")
                    .bind(workspace)
                    .bind(&key.id)
                    .bind(&key.name)
                    .bind(&key.hash)
                    .bind(key.created_at)
                    .execute(&mut **tx)
                    .await
            }
            Write::DeleteApiKey { workspace, id } => {
                sqlx::query("DELETE FROM api_keys WHERE workspace = ? AND id = ?")
                    .bind(workspace)
                    .bind(id)
                    .execute(&mut **tx)
                    .await
            }
            Write::PutLabel { workspace, kind, key, name } => {
                sqlx::query(
                    "INSERT INTO labels (workspace, kind, key, name) VALUES (?, ?, ?, ?)
                     ON CONFLICT (workspace, kind, key) DO UPDATE SET name = excluded.name",
                )
                .bind(workspace)
                .bind(kind)
                .bind(key)
                .bind(name)
                .execute(&mut **tx)
                .await
            }
            Write::DeleteLabels { workspace, kind, key } => {
                return SqliteStore::delete_labels(tx, workspace, kind, key).await;
            }
            Write::PutWebhook { workspace, webhook } => {
                sqlx::query(
                    "INSERT INTO webhooks (workspace, id, url, secret, events, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                )
                .bind(workspace)
                .bind(&webhook.id)
                .bind(&webhook.url)
                .bind(&webhook.secret)
                .bind(text(&webhook.events)?)
                .bind(webhook.created_at)
                .execute(&mut **tx)
                .await
            }
            Write::PutScimUser { workspace, scim } => {
                sqlx::query(
                    "INSERT INTO scim_users (workspace, id, user_name, user_name_key, external_id, attributes) VALUES (?, ?, ?, ?, ?, ?)
                     ON CONFLICT (workspace, id) DO UPDATE SET user_name = excluded.user_name,
                       user_name_key = excluded.user_name_key, external_id = excluded.external_id,
                       attributes = excluded.attributes",
                )
                .bind(workspace)
                .bind(&scim.user)
                .bind(&scim.user_name)
                .bind(email_key(&scim.user_name))
                .bind(&scim.external_id)
                .bind(text(&scim.attributes)?)
                .execute(&mut **tx)
                .await
            }
            Write::PutScimGroup { workspace, group, external_id } => {
                sqlx::query(
                    "INSERT INTO scim_groups (workspace, id, external_id) VALUES (?, ?, ?)
                     ON CONFLICT (workspace, id) DO UPDATE SET external_id = excluded.external_id",
                )
                .bind(workspace)
                .bind(group)
                .bind(external_id)
                .execute(&mut **tx)
                .await
            }
            Write::PutPassword { workspace, user, hash } => {
                sqlx::query("DELETE FROM sessions WHERE workspace = ? AND user_id = ?")
                    .bind(workspace)
                    .bind(user)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                sqlx::query(
                    "INSERT INTO passwords (workspace, id, hash, updated_at) VALUES (?, ?, ?, ?)
                     ON CONFLICT (workspace, id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at",
                )
                .bind(workspace)
                .bind(user)
                .bind(hash)
                .bind(at)
                .execute(&mut **tx)
                .await
            }
            Write::DeleteWebhook { workspace, id } => {
                sqlx::query("DELETE FROM webhooks WHERE workspace = ? AND id = ?")
                    .bind(workspace)
                    .bind(id)
                    .execute(&mut **tx)
                    .await
            }
        };
        result.map(|_| ()).map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(conflict(write)),
            _ => backend(e),
        })
    }
}

/// A user row joined with its SCIM row (`scim_*` columns, NULL when SCIM never wrote one).
fn scim_user_from(row: &SqliteRow) -> Result<ScimUserRow, StoreError> {
    let user = user_from(row)?;
    let user_name: Option<String> = row.try_get("scim_user_name").map_err(corrupt)?;
    let scim = match user_name {
        None => None,
        Some(user_name) => {
            let attributes: String = row.try_get("scim_attributes").map_err(corrupt)?;
            Some(ScimUser {
                user: user.id.clone(),
                user_name,
                external_id: row.try_get("scim_external_id").map_err(corrupt)?,
                attributes: serde_json::from_str(&attributes).map_err(corrupt)?,
            })
        }
    };
    Ok(ScimUserRow { user, scim })
}

fn user_from(row: &SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id").map_err(corrupt)?,
        email: row.try_get("email").map_err(corrupt)?,
        name: row.try_get("name").map_err(corrupt)?,
        workspace_role: row.try_get("workspace_role").map_err(corrupt)?,
        kind: from_name(row.try_get("kind").map_err(corrupt)?)?,
        last_active_at: row.try_get("last_active_at").map_err(corrupt)?,
    })
}

fn group_from(row: &SqliteRow) -> Result<Group, StoreError> {
    let tags: String = row.try_get("tags").map_err(corrupt)?;
    Ok(Group {
        id: row.try_get("id").map_err(corrupt)?,
        name: row.try_get("name").map_err(corrupt)?,
        description: row.try_get("description").map_err(corrupt)?,
        tags: serde_json::from_str(&tags).map_err(corrupt)?,
        icon: row.try_get("icon").map_err(corrupt)?,
        visibility: from_name(row.try_get("visibility").map_err(corrupt)?)?,
        apply_privileges: row.try_get("apply_privileges").map_err(corrupt)?,
        notify: from_name(row.try_get("notify").map_err(corrupt)?)?,
    })
}

fn webhook_from(row: &SqliteRow) -> Result<Webhook, StoreError> {
    let events: String = row.try_get("events").map_err(corrupt)?;
    Ok(Webhook {
        id: row.try_get("id").map_err(corrupt)?,
        url: row.try_get("url").map_err(corrupt)?,
        secret: row.try_get("secret").map_err(corrupt)?,
        events: serde_json::from_str(&events).map_err(corrupt)?,
        created_at: row.try_get("created_at").map_err(corrupt)?,
    })
}

fn delivery_from(row: &SqliteRow) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: row.try_get::<i64, _>("id").map_err(corrupt)? as u64,
        webhook: row.try_get("webhook").map_err(corrupt)?,
        event: row.try_get("event").map_err(corrupt)?,
        body: row.try_get("body").map_err(corrupt)?,
        state: from_name(row.try_get("state").map_err(corrupt)?)?,
        attempts: row.try_get::<i64, _>("attempts").map_err(corrupt)? as u32,
        next_attempt_at: row.try_get("next_attempt_at").map_err(corrupt)?,
        last_status: row.try_get::<Option<i64>, _>("last_status").map_err(corrupt)?.map(|s| s as u16),
        last_error: row.try_get("last_error").map_err(corrupt)?,
        created_at: row.try_get("created_at").map_err(corrupt)?,
        updated_at: row.try_get("updated_at").map_err(corrupt)?,
    })
}

fn resource_from(row: &SqliteRow) -> Result<Resource, StoreError> {
    let parent_type: Option<String> = row.try_get("parent_type").map_err(corrupt)?;
    let parent_id: Option<String> = row.try_get("parent_id").map_err(corrupt)?;
    Ok(Resource {
        resource: ResourceRef::new(
            row.try_get::<String, _>("type").map_err(corrupt)?,
            row.try_get::<String, _>("id").map_err(corrupt)?,
        ),
        name: row.try_get("name").map_err(corrupt)?,
        parent: parent_type.zip(parent_id).map(|(t, i)| ResourceRef::new(t, i)),
    })
}

/// The head of the log, held by this process's one writer (SQLite has one writing process).
#[derive(Debug)]
pub struct HeadLock {
    store: SqliteStore,
    head: Revision,
    _writer: tokio::sync::OwnedMutexGuard<()>,
}

impl WriteLock for HeadLock {
    fn head(&self) -> Revision {
        self.head
    }

    async fn commit(self, mut batch: Batch) -> Result<Vec<Revision>, StoreError> {
        batch.expected_head = Some(self.head);
        self.store.commit_locked(batch).await
    }

    async fn release(self) {}
}

impl SqliteStore {
    /// Writes a batch; the caller holds `writer`.
    async fn commit_locked(&self, batch: Batch) -> Result<Vec<Revision>, StoreError> {
        // IMMEDIATE: the write lock is taken at the start (waiting up to the busy timeout),
        // never by upgrading a read, which SQLite may refuse at once with "database is locked".
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
        match SqliteStore::write_batch(&mut tx, &batch).await {
            Ok(revisions) => {
                tx.commit().await.map_err(backend)?;
                Ok(revisions)
            }
            Err(e) => {
                // Rolled back now, not whenever the pool gets round to it: the lock goes with it.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    async fn write_batch(tx: &mut Transaction<'_, Sqlite>, batch: &Batch) -> Result<Vec<Revision>, StoreError> {
        if let Some(expected) = batch.expected_head {
            let row = sqlx::query("SELECT COALESCE(MAX(revision), 0) AS head FROM change_log")
                .fetch_one(&mut **tx)
                .await
                .map_err(backend)?;
            let actual = row.try_get::<i64, _>("head").map_err(corrupt)? as u64;
            if actual != expected.0 {
                return Err(StoreError::HeadMoved { expected: expected.0, actual });
            }
        }
        let mut rest = batch.writes.as_slice();
        while let Some(write) = rest.first() {
            // A run of users (an import's) is written in one statement: each statement is a
            // round trip to SQLite's thread, which is what a million single rows cost.
            let run = rest.iter().take_while(|w| matches!(w, Write::PutUser { .. })).count();
            if run > 1 {
                SqliteStore::put_users(tx, &rest[..run]).await?;
                rest = &rest[run..];
                continue;
            }
            SqliteStore::write(tx, write, batch.at).await?;
            rest = &rest[1..];
        }
        let revisions = SqliteStore::append_changes(tx, &batch.changes, batch.at).await?;
        let revision = match revisions.last() {
            Some(r) => r.0 as i64,
            None => {
                let row = sqlx::query("SELECT COALESCE(MAX(revision), 0) AS head FROM change_log")
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(backend)?;
                row.try_get::<i64, _>("head").map_err(corrupt)?
            }
        };
        for record in &batch.audit {
            sqlx::query(
                "INSERT INTO audit_log (revision, workspace, actor, action, target, before, after, at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(revision)
            .bind(&record.workspace)
            .bind(&batch.actor)
            .bind(&record.action)
            .bind(&record.target)
            .bind(record.before.as_ref().map(text).transpose()?)
            .bind(record.after.as_ref().map(text).transpose()?)
            .bind(batch.at)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        }
        let at_change = |change: Option<usize>| change.and_then(|c| revisions.get(c)).map_or(revision, |r| r.0 as i64);
        for n in &batch.notifications {
            let done = sqlx::query(
                "INSERT INTO notifications (workspace, group_id, reason, revision, body, at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&n.workspace)
            .bind(&n.group)
            .bind(&n.reason)
            .bind(at_change(n.change))
            .bind(text(&n.body)?)
            .bind(batch.at)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
            let id = done.last_insert_rowid();
            // One statement per notification, however many users it is for.
            sqlx::query(
                "INSERT INTO notification_recipients (workspace, user_id, notification)
                 SELECT ?, value, ? FROM json_each(?)",
            )
            .bind(&n.workspace)
            .bind(id)
            .bind(text(&n.users)?)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        }
        SqliteStore::fan_out(tx, batch, &at_change).await?;
        Ok(revisions)
    }

    /// The outbox: one delivery per event and webhook that wants it, in the batch's transaction.
    async fn fan_out(
        tx: &mut Transaction<'_, Sqlite>,
        batch: &Batch,
        at_change: &impl Fn(Option<usize>) -> i64,
    ) -> Result<(), StoreError> {
        let mut hooks: std::collections::BTreeMap<&str, Vec<Webhook>> = Default::default();
        for event in &batch.events {
            if !hooks.contains_key(event.workspace.as_str()) {
                let rows = sqlx::query("SELECT * FROM webhooks WHERE workspace = ?")
                    .bind(&event.workspace)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(backend)?;
                hooks.insert(&event.workspace, rows.iter().map(webhook_from).collect::<Result<_, _>>()?);
            }
            let wanting = hooks.get(event.workspace.as_str()).into_iter().flatten().filter(|h| h.wants(&event.kind));
            let mut body = None;
            for hook in wanting {
                let body = match &body {
                    Some(b) => b,
                    None => body.insert(event_body(event, Revision(at_change(event.change) as u64), batch.at)?),
                };
                sqlx::query(
                    "INSERT INTO deliveries (workspace, webhook, event, body, state, next_attempt_at, created_at, updated_at)
                     VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                )
                .bind(&event.workspace)
                .bind(&hook.id)
                .bind(&event.kind)
                .bind(body.as_str())
                .bind(batch.at)
                .bind(batch.at)
                .bind(batch.at)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            }
        }
        Ok(())
    }
}

impl Store for SqliteStore {
    async fn head(&self) -> Result<Revision, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(revision), 0) AS head FROM change_log")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(Revision(row.try_get::<i64, _>("head").map_err(corrupt)? as u64))
    }

    type WriteLock = HeadLock;

    async fn lock_head(&self) -> Result<HeadLock, StoreError> {
        let writer = self.writer.clone().lock_owned().await;
        let head = self.head().await?;
        Ok(HeadLock { store: self.clone(), head, _writer: writer })
    }

    async fn commit(&self, batch: Batch) -> Result<Vec<Revision>, StoreError> {
        let _writer = self.writer.lock().await;
        self.commit_locked(batch).await
    }

    async fn changes_after(&self, after: Revision, limit: u32) -> Result<Vec<LoggedChange>, StoreError> {
        self.changes(None, after, limit).await
    }

    async fn workspace_changes(
        &self,
        workspace: &str,
        after: Revision,
        limit: u32,
    ) -> Result<Vec<LoggedChange>, StoreError> {
        self.changes(Some(workspace), after, limit).await
    }

    async fn audit(
        &self,
        workspace: &str,
        after: u64,
        actor: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, revision, actor, action, target, before, after, at FROM audit_log
             WHERE workspace = ? AND id > ? AND (? IS NULL OR actor = ?) ORDER BY id LIMIT ?",
        )
        .bind(workspace)
        .bind(after as i64)
        .bind(actor)
        .bind(actor)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let json = |v: Option<String>| v.map(|s| serde_json::from_str(&s).map_err(corrupt)).transpose();
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get::<i64, _>("id").map_err(corrupt)? as u64,
                    revision: Revision(row.try_get::<i64, _>("revision").map_err(corrupt)? as u64),
                    actor: row.try_get("actor").map_err(corrupt)?,
                    at: row.try_get("at").map_err(corrupt)?,
                    record: AuditRecord {
                        workspace: workspace.to_string(),
                        action: row.try_get("action").map_err(corrupt)?,
                        target: row.try_get("target").map_err(corrupt)?,
                        before: json(row.try_get("before").map_err(corrupt)?)?,
                        after: json(row.try_get("after").map_err(corrupt)?)?,
                    },
                })
            })
            .collect()
    }

    async fn workspace(&self, id: &str) -> Result<Option<Workspace>, StoreError> {
        let row = sqlx::query("SELECT id, name FROM workspaces WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| Ok(Workspace { id: r.try_get("id").map_err(corrupt)?, name: r.try_get("name").map_err(corrupt)? }))
            .transpose()
    }

    async fn schema(&self, workspace: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let row = sqlx::query("SELECT schema FROM workspaces WHERE id = ?")
            .bind(workspace)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| {
            let text: String = r.try_get("schema").map_err(corrupt)?;
            serde_json::from_str(&text).map_err(corrupt)
        })
        .transpose()
    }

    async fn labels(
        &self,
        workspace: &str,
        kind: &str,
        prefix: Option<&str>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT key, name FROM labels WHERE workspace = ? AND kind = ?
               AND (? IS NULL OR key = ? OR substr(key, 1, length(?) + 1) = ? || '/')
             ORDER BY key",
        )
        .bind(workspace)
        .bind(kind)
        .bind(prefix)
        .bind(prefix)
        .bind(prefix)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|r| Ok((r.try_get("key").map_err(corrupt)?, r.try_get("name").map_err(corrupt)?))).collect()
    }

    async fn resources(
        &self,
        workspace: &str,
        kind: Option<&str>,
        query: Option<&str>,
        req: PageRequest,
    ) -> Result<Page<Resource>, StoreError> {
        // The page key is `type/id`: ids cannot contain `/`, so it orders like (type, id).
        let rows = sqlx::query(
            "SELECT * FROM resources WHERE workspace = ? AND (type || '/' || id) > ?
               AND (? IS NULL OR type = ?)
               AND (? IS NULL OR instr(lower(name), lower(?)) > 0 OR instr(lower(id), lower(?)) > 0)
             ORDER BY type || '/' || id LIMIT ?",
        )
        .bind(workspace)
        .bind(req.after.as_deref().unwrap_or(""))
        .bind(kind)
        .bind(kind)
        .bind(query)
        .bind(query)
        .bind(query)
        .bind(i64::from(req.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let items = rows.iter().map(resource_from).collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, req.limit, |r| format!("{}/{}", r.resource.kind, r.resource.id)))
    }

    async fn user(&self, workspace: &str, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE workspace = ? AND id = ?")
            .bind(workspace)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_from).transpose()
    }

    async fn users(&self, workspace: &str, query: Option<&str>, req: PageRequest) -> Result<Page<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM users WHERE workspace = ? AND id > ?
               AND (? IS NULL OR instr(lower(name), lower(?)) > 0 OR instr(email_key, lower(?)) > 0)
             ORDER BY id LIMIT ?",
        )
        .bind(workspace)
        .bind(req.after.as_deref().unwrap_or(""))
        .bind(query)
        .bind(query)
        .bind(query)
        .bind(i64::from(req.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let users = rows.iter().map(user_from).collect::<Result<Vec<_>, _>>()?;
        Ok(page(users, req.limit, |u| u.id.clone()))
    }

    async fn resource(&self, workspace: &str, resource: &ResourceRef) -> Result<Option<Resource>, StoreError> {
        let row = sqlx::query("SELECT * FROM resources WHERE workspace = ? AND type = ? AND id = ?")
            .bind(workspace)
            .bind(&resource.kind)
            .bind(&resource.id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(resource_from).transpose()
    }

    async fn grants(
        &self,
        workspace: &str,
        resource: &ResourceRef,
        query: GrantQuery,
    ) -> Result<Page<GrantRow>, StoreError> {
        let order = match query.sort {
            GrantSort::Name => "lower(subject_name), g.subject_kind, g.subject_id",
            GrantSort::RecentActivity => {
                "u.last_active_at IS NULL, u.last_active_at DESC, lower(subject_name), g.subject_kind, g.subject_id"
            }
        };
        let kind = query.users.map(|users| if users { "user" } else { "group" });
        let roles = (!query.roles.is_empty()).then(|| text(&query.roles)).transpose()?;
        let sql = format!(
            "SELECT g.subject_kind, g.subject_id, g.role, g.updated_at,
                COALESCE(u.name, gr.name, g.subject_id) AS subject_name, u.email AS subject_email, u.last_active_at
             FROM grants g
             LEFT JOIN users u ON g.subject_kind = 'user' AND u.workspace = g.workspace AND u.id = g.subject_id
             LEFT JOIN groups gr ON g.subject_kind = 'group' AND gr.workspace = g.workspace AND gr.id = g.subject_id
             WHERE g.workspace = ? AND g.type = ? AND g.id = ?
               AND (? IS NULL OR g.subject_kind = ?)
               AND (? IS NULL OR instr(lower(COALESCE(u.name, gr.name, g.subject_id)), lower(?)) > 0
                    OR instr(COALESCE(u.email_key, ''), lower(?)) > 0)
               AND (? IS NULL OR g.role IN (SELECT value FROM json_each(?)))
             ORDER BY {order} LIMIT ? OFFSET ?"
        );
        // The only interpolated text is `order`, one of two fixed strings above.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(workspace)
            .bind(&resource.kind)
            .bind(&resource.id)
            .bind(kind)
            .bind(kind)
            .bind(&query.search)
            .bind(&query.search)
            .bind(&query.search)
            .bind(&roles)
            .bind(&roles)
            .bind(i64::from(query.limit) + 1)
            .bind(i64::from(query.offset))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let items = rows
            .iter()
            .map(|row| {
                let kind: String = row.try_get("subject_kind").map_err(corrupt)?;
                let id: String = row.try_get("subject_id").map_err(corrupt)?;
                Ok(GrantRow {
                    subject: if kind == "user" { Subject::User(id) } else { Subject::Group(id) },
                    subject_name: row.try_get("subject_name").map_err(corrupt)?,
                    subject_email: row.try_get("subject_email").map_err(corrupt)?,
                    role: row.try_get("role").map_err(corrupt)?,
                    updated_at: row.try_get("updated_at").map_err(corrupt)?,
                    last_active_at: row.try_get("last_active_at").map_err(corrupt)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let offset = query.offset;
        let mut page = page(items, query.limit, |_| String::new());
        if page.next.is_some() {
            page.next = Some((offset + query.limit).to_string());
        }
        Ok(page)
    }

    async fn api_key(&self, hash: &str) -> Result<Option<(String, ApiKey)>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_keys WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok((
                r.try_get("workspace").map_err(corrupt)?,
                ApiKey {
                    id: r.try_get("id").map_err(corrupt)?,
                    name: r.try_get("name").map_err(corrupt)?,
                    hash: r.try_get("hash").map_err(corrupt)?,
                    created_at: r.try_get("created_at").map_err(corrupt)?,
                },
            ))
        })
        .transpose()
    }

    async fn api_keys(&self, workspace: &str) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query("SELECT * FROM api_keys WHERE workspace = ? ORDER BY created_at, id")
            .bind(workspace)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(ApiKey {
                    id: r.try_get("id").map_err(corrupt)?,
                    name: r.try_get("name").map_err(corrupt)?,
                    hash: r.try_get("hash").map_err(corrupt)?,
                    created_at: r.try_get("created_at").map_err(corrupt)?,
                })
            })
            .collect()
    }

    async fn scim_users(&self, workspace: &str, ids: &[String]) -> Result<Vec<ScimUserRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.*, s.user_name AS scim_user_name, s.external_id AS scim_external_id,
                    s.attributes AS scim_attributes
             FROM users u LEFT JOIN scim_users s ON s.workspace = u.workspace AND s.id = u.id
             WHERE u.workspace = ? AND u.id IN (SELECT value FROM json_each(?))",
        )
        .bind(workspace)
        .bind(text(&ids)?)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(scim_user_from).collect()
    }

    async fn scim_user_ids(&self, workspace: &str, key: ScimUserKey<'_>) -> Result<Vec<String>, StoreError> {
        let rows = match key {
            // Users SCIM never wrote go by their email.
            ScimUserKey::UserName(name) => sqlx::query(
                "SELECT id FROM scim_users WHERE workspace = ? AND user_name_key = ? UNION SELECT u.id FROM users u WHERE u.workspace = ? AND u.email_key = ? AND NOT EXISTS (SELECT 1 FROM scim_users s WHERE s.workspace = u.workspace AND s.id = u.id) ORDER BY id",
            )
            .bind(workspace)
            .bind(email_key(name))
            .bind(workspace)
            .bind(email_key(name)),
            ScimUserKey::ExternalId(id) => {
                sqlx::query("SELECT id FROM scim_users WHERE workspace = ? AND external_id = ? ORDER BY id")
                    .bind(workspace)
                    .bind(id)
            }
        }
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|r| r.try_get("id").map_err(corrupt)).collect()
    }

    async fn password_of(&self, workspace: &str, email: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, p.hash FROM users u JOIN passwords p ON p.workspace = u.workspace AND p.id = u.id WHERE u.workspace = ? AND u.email_key = ?",
        )
        .bind(workspace)
        .bind(email_key(email))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| Ok((r.try_get("id").map_err(corrupt)?, r.try_get("hash").map_err(corrupt)?))).transpose()
    }

    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (hash, workspace, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.hash)
        .bind(&session.workspace)
        .bind(&session.user)
        .bind(&session.csrf)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn session(&self, hash: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT * FROM sessions WHERE hash = ? AND expires_at > ?")
            .bind(hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r: SqliteRow| {
            Ok(Session {
                hash: r.try_get("hash").map_err(corrupt)?,
                workspace: r.try_get("workspace").map_err(corrupt)?,
                user: r.try_get("user_id").map_err(corrupt)?,
                csrf: r.try_get("csrf").map_err(corrupt)?,
                created_at: r.try_get("created_at").map_err(corrupt)?,
                expires_at: r.try_get("expires_at").map_err(corrupt)?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, hash: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE hash = ? OR expires_at <= ?")
            .bind(hash)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn scim_groups(&self, workspace: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, external_id FROM scim_groups WHERE workspace = ? AND external_id IS NOT NULL ORDER BY id",
        )
        .bind(workspace)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| Ok((r.try_get("id").map_err(corrupt)?, r.try_get("external_id").map_err(corrupt)?)))
            .collect()
    }

    async fn group(&self, workspace: &str, id: &str) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query("SELECT * FROM groups WHERE workspace = ? AND id = ?")
            .bind(workspace)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(group_from).transpose()
    }

    async fn groups(
        &self,
        workspace: &str,
        query: Option<&str>,
        tag: Option<&str>,
        req: PageRequest,
    ) -> Result<Page<Group>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM groups WHERE workspace = ? AND id > ?
               AND (? IS NULL OR instr(lower(name), lower(?)) > 0 OR instr(lower(description), lower(?)) > 0)
               AND (? IS NULL OR EXISTS (SELECT 1 FROM json_each(groups.tags) WHERE value = ?))
             ORDER BY id LIMIT ?",
        )
        .bind(workspace)
        .bind(req.after.as_deref().unwrap_or(""))
        .bind(query)
        .bind(query)
        .bind(query)
        .bind(tag)
        .bind(tag)
        .bind(i64::from(req.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let groups = rows.iter().map(group_from).collect::<Result<Vec<_>, _>>()?;
        Ok(page(groups, req.limit, |g| g.id.clone()))
    }

    async fn webhooks(&self, workspace: &str) -> Result<Vec<Webhook>, StoreError> {
        let rows = sqlx::query("SELECT * FROM webhooks WHERE workspace = ? ORDER BY created_at, id")
            .bind(workspace)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(webhook_from).collect()
    }

    async fn deliveries(
        &self,
        workspace: &str,
        webhook: &str,
        state: Option<DeliveryState>,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let state = state.as_ref().map(name_of).transpose()?;
        let rows = sqlx::query(
            "SELECT * FROM deliveries WHERE workspace = ? AND webhook = ? AND id > ? AND (? IS NULL OR state = ?)
             ORDER BY id LIMIT ?",
        )
        .bind(workspace)
        .bind(webhook)
        .bind(after as i64)
        .bind(&state)
        .bind(&state)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(delivery_from).collect()
    }

    async fn claim_due(&self, now: i64, lease_until: i64, limit: u32) -> Result<Vec<DueDelivery>, StoreError> {
        let _writer = self.writer.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(backend)?;
        let rows = sqlx::query(
            "SELECT d.*, w.url, w.secret FROM deliveries d
               JOIN webhooks w ON w.workspace = d.workspace AND w.id = d.webhook
             WHERE d.state = 'pending' AND d.next_attempt_at <= ? AND d.lease_until <= ?
             ORDER BY d.next_attempt_at, d.id LIMIT ?",
        )
        .bind(now)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let mut due = Vec::with_capacity(rows.len());
        for row in &rows {
            let delivery = delivery_from(row)?;
            sqlx::query("UPDATE deliveries SET lease_until = ? WHERE id = ?")
                .bind(lease_until)
                .bind(delivery.id as i64)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            due.push(DueDelivery {
                delivery,
                workspace: row.try_get("workspace").map_err(corrupt)?,
                url: row.try_get("url").map_err(corrupt)?,
                secret: row.try_get("secret").map_err(corrupt)?,
            });
        }
        tx.commit().await.map_err(backend)?;
        Ok(due)
    }

    async fn record_attempt(&self, delivery: u64, attempt: Attempt) -> Result<(), StoreError> {
        let (state, next) = match attempt.next {
            AttemptNext::Delivered => (DeliveryState::Delivered, attempt.at),
            AttemptNext::RetryAt(at) => (DeliveryState::Pending, at),
            AttemptNext::Dead => (DeliveryState::Dead, attempt.at),
        };
        let _writer = self.writer.lock().await;
        sqlx::query(
            "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, lease_until = 0,
               last_status = ?, last_error = ?, updated_at = ? WHERE id = ?",
        )
        .bind(name_of(&state)?)
        .bind(next)
        .bind(attempt.status.map(i64::from))
        .bind(&attempt.error)
        .bind(attempt.at)
        .bind(delivery as i64)
        .execute(&self.pool)
        .await
        .map(|_| ())
        .map_err(backend)
    }

    async fn redeliver(
        &self,
        workspace: &str,
        webhook: &str,
        delivery: u64,
        now: i64,
    ) -> Result<Option<Delivery>, StoreError> {
        let _writer = self.writer.lock().await;
        let row = sqlx::query(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?, lease_until = 0, updated_at = ?
             WHERE workspace = ? AND webhook = ? AND id = ? RETURNING *",
        )
        .bind(now)
        .bind(now)
        .bind(workspace)
        .bind(webhook)
        .bind(delivery as i64)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.as_ref().map(delivery_from).transpose()
    }

    async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let row =
            sqlx::query("SELECT MIN(MAX(next_attempt_at, lease_until)) AS due FROM deliveries WHERE state = 'pending'")
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
        row.try_get("due").map_err(corrupt)
    }

    async fn notifications(
        &self,
        workspace: &str,
        user: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.*, r.user_id FROM notification_recipients r JOIN notifications n ON n.id = r.notification
             WHERE r.workspace = ? AND r.user_id = ? AND r.notification > ? ORDER BY r.notification LIMIT ?",
        )
        .bind(workspace)
        .bind(user)
        .bind(after as i64)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let body: String = row.try_get("body").map_err(corrupt)?;
                Ok(Notification {
                    id: row.try_get::<i64, _>("id").map_err(corrupt)? as u64,
                    user: row.try_get("user_id").map_err(corrupt)?,
                    group: row.try_get("group_id").map_err(corrupt)?,
                    reason: row.try_get("reason").map_err(corrupt)?,
                    revision: Revision(row.try_get::<i64, _>("revision").map_err(corrupt)? as u64),
                    at: row.try_get("at").map_err(corrupt)?,
                    body: serde_json::from_str(&body).map_err(corrupt)?,
                })
            })
            .collect()
    }
}
