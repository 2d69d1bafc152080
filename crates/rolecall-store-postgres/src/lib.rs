//! Rolecall's store on PostgreSQL (`--database postgres://...`): the same trait and the
//! same conformance suite as the embedded SQLite store.
//!
//! Every commit locks the one `log_head` row, checks the caller's expected head, appends
//! its changes at the next revisions and moves the head, all in one transaction: revisions
//! are consecutive (no gap, no duplicate) whatever the number of writers or replicas, and a
//! writer whose engine is behind gets `HeadMoved` and nothing written. The commit also
//! sends `NOTIFY rolecall_changes, '<revision>'` (delivered when it commits) so other
//! replicas wake up and read the log.

pub mod testing;

use std::time::Duration;

use rolecall_model::{Change, Group, Resource, ResourceRef, Revision, Subject, User, Workspace, email_key, name_key};
use rolecall_store::rows::{backend, conflict, corrupt, event_body, from_name, name_of, page, subject_parts, text};
use rolecall_store::{
    ApiKey, Attempt, AttemptNext, AuditEntry, AuditRecord, Batch, Delivery, DeliveryState, DueDelivery, GrantQuery,
    GrantRow, GrantSort, LoggedChange, Notification, Page, PageRequest, ScimUser, ScimUserKey, ScimUserRow, Session,
    Store, StoreError, Webhook, Write, WriteLock,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};

/// The channel commits notify on; the payload is the new head revision.
pub const CHANNEL: &str = "rolecall_changes";

/// Rolecall's store on PostgreSQL.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    /// The newest revision another commit announced (see [`PostgresStore::listen`]).
    signal: tokio::sync::watch::Receiver<u64>,
}

fn revision(n: i64) -> Revision {
    Revision(u64::try_from(n).unwrap_or(0))
}

fn db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`) and brings the schema up to date.
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(backend)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            // A database that is away fails requests in seconds rather than holding them.
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(options)
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations").run(&pool).await.map_err(backend)?;
        let (announce, signal) = tokio::sync::watch::channel(0);
        tokio::spawn(PostgresStore::listen(pool.clone(), announce));
        Ok(PostgresStore { pool, signal })
    }

    /// LISTENs on [`CHANNEL`] and passes each announced revision on, until every handle on
    /// the store is gone. Notifications sent while the connection is lost are gone, so a
    /// lost connection wakes followers to read the log themselves (their polling is the
    /// safety net either way).
    async fn listen(pool: PgPool, announce: tokio::sync::watch::Sender<u64>) {
        let mut listener: Option<sqlx::postgres::PgListener> = None;
        loop {
            if listener.is_none() {
                let connected = async {
                    let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
                    l.listen(CHANNEL).await?;
                    Ok::<_, sqlx::Error>(l)
                };
                match connected.await {
                    Ok(l) => {
                        listener = Some(l);
                        // Whatever happened before this point is unknown: read the log.
                        announce.send_modify(|_| {});
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot listen for changes; polling only"),
                }
            }
            let received = match listener.as_mut() {
                Some(l) => tokio::select! {
                    r = l.try_recv() => r,
                    () = announce.closed() => return,
                },
                None => Ok(None),
            };
            match received {
                Ok(Some(note)) => {
                    let revision = note.payload().parse::<u64>().unwrap_or(0);
                    announce.send_modify(|seen| *seen = (*seen).max(revision));
                    continue;
                }
                // The connection was lost: wake followers and reconnect at once (the next
                // try_recv does; if the database is away that fails and we wait below).
                Ok(None) if listener.is_some() => {
                    announce.send_modify(|_| {});
                    continue;
                }
                // No listener could be made: wait before trying again.
                Ok(None) => announce.send_modify(|_| {}),
                Err(e) => {
                    tracing::warn!(error = %e, "listening for changes failed");
                    listener = None;
                    announce.send_modify(|_| {});
                }
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
                () = announce.closed() => return,
            }
        }
    }

    /// The connection pool (for listening to [`CHANNEL`]).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn delete_grants_of(
        tx: &mut Transaction<'_, Postgres>,
        workspace: &str,
        kind: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM grants WHERE workspace = $1 AND subject_kind = $2 AND subject_id = $3")
            .bind(workspace)
            .bind(kind)
            .bind(id)
            .execute(&mut **tx)
            .await
            .map(|_| ())
            .map_err(backend)
    }

    async fn delete_labels(
        tx: &mut Transaction<'_, Postgres>,
        workspace: &str,
        kind: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM labels WHERE workspace = $1 AND kind = $2 AND (key = $3 OR starts_with(key, $3 || '/'))",
        )
        .bind(workspace)
        .bind(kind)
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
            "SELECT revision, change, at FROM change_log WHERE revision > $1 AND ($2::text IS NULL OR workspace = $2)
             ORDER BY revision LIMIT $3",
        )
        .bind(db(after.0))
        .bind(workspace)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let change: String = row.try_get("change").map_err(corrupt)?;
                Ok(LoggedChange {
                    revision: revision(row.try_get("revision").map_err(corrupt)?),
                    at: row.try_get("at").map_err(corrupt)?,
                    change: serde_json::from_str::<Change>(&change).map_err(corrupt)?,
                })
            })
            .collect()
    }

    /// Writes several users in one statement. When one of them conflicts (or one id comes
    /// twice), they are written one by one instead, from a savepoint taken before the
    /// statement, so a refusal names the user.
    async fn put_users(tx: &mut Transaction<'_, Postgres>, writes: &[Write]) -> Result<(), StoreError> {
        let users: Vec<(&String, &User)> = writes
            .iter()
            .filter_map(|w| match w {
                Write::PutUser { workspace, user } => Some((workspace, user)),
                _ => None,
            })
            .collect();
        let distinct: std::collections::HashSet<(&str, &str)> =
            users.iter().map(|(w, u)| (w.as_str(), u.id.as_str())).collect();
        if distinct.len() == users.len() {
            sqlx::query("SAVEPOINT put_users").execute(&mut **tx).await.map_err(backend)?;
            let kinds = users.iter().map(|(_, u)| name_of(&u.kind)).collect::<Result<Vec<String>, StoreError>>()?;
            let done = sqlx::query(
                "INSERT INTO users (workspace, id, email, email_key, name, workspace_role, kind, last_active_at)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                      $7::text[], $8::bigint[])
                 ON CONFLICT (workspace, id) DO UPDATE SET email = excluded.email,
                   email_key = excluded.email_key, name = excluded.name,
                   workspace_role = excluded.workspace_role, kind = excluded.kind,
                   last_active_at = excluded.last_active_at",
            )
            .bind(users.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>())
            .bind(users.iter().map(|(_, u)| u.id.as_str()).collect::<Vec<_>>())
            .bind(users.iter().map(|(_, u)| u.email.as_str()).collect::<Vec<_>>())
            .bind(users.iter().map(|(_, u)| email_key(&u.email)).collect::<Vec<_>>())
            .bind(users.iter().map(|(_, u)| u.name.as_str()).collect::<Vec<_>>())
            .bind(users.iter().map(|(_, u)| u.workspace_role.as_str()).collect::<Vec<_>>())
            .bind(&kinds)
            .bind(users.iter().map(|(_, u)| u.last_active_at).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await;
            match done {
                Ok(_) => {
                    sqlx::query("RELEASE SAVEPOINT put_users").execute(&mut **tx).await.map_err(backend)?;
                    return Ok(());
                }
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                    sqlx::query("ROLLBACK TO SAVEPOINT put_users").execute(&mut **tx).await.map_err(backend)?;
                }
                Err(e) => return Err(backend(e)),
            }
        }
        for write in writes {
            PostgresStore::write(tx, write, 0).await?;
        }
        Ok(())
    }

    async fn write(tx: &mut Transaction<'_, Postgres>, write: &Write, at: i64) -> Result<(), StoreError> {
        let result = match write {
            Write::PutWorkspace { workspace, schema } => {
                sqlx::query(
                    "INSERT INTO workspaces (id, name, schema) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, schema = excluded.schema",
                )
                .bind(&workspace.id)
                .bind(&workspace.name)
                .bind(text(schema)?)
                .execute(&mut **tx)
                .await
            }
            Write::DeleteWorkspace { workspace } => {
                sqlx::query("DELETE FROM workspaces WHERE id = $1").bind(workspace).execute(&mut **tx).await
            }
            Write::PutUser { workspace, user } => {
                sqlx::query(
                    "INSERT INTO users (workspace, id, email, email_key, name, workspace_role, kind, last_active_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
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
                PostgresStore::delete_grants_of(tx, workspace, "user", user).await?;
                sqlx::query("DELETE FROM users WHERE workspace = $1 AND id = $2")
                    .bind(workspace)
                    .bind(user)
                    .execute(&mut **tx)
                    .await
            }
            Write::PutGroup { workspace, group } => {
                sqlx::query(
                    "INSERT INTO groups (workspace, id, name, name_key, description, tags, icon, visibility,
                       apply_privileges, notify)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
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
                .bind(&group.tags)
                .bind(&group.icon)
                .bind(name_of(&group.visibility)?)
                .bind(group.apply_privileges)
                .bind(name_of(&group.notify)?)
                .execute(&mut **tx)
                .await
            }
            Write::DeleteGroup { workspace, group } => {
                PostgresStore::delete_grants_of(tx, workspace, "group", group).await?;
                PostgresStore::delete_labels(tx, workspace, rolecall_store::label::PERMISSION_SET, group).await?;
                sqlx::query("DELETE FROM groups WHERE workspace = $1 AND id = $2")
                    .bind(workspace)
                    .bind(group)
                    .execute(&mut **tx)
                    .await
            }
            Write::PutResource { workspace, resource } => {
                sqlx::query(
                    "INSERT INTO resources (workspace, type, id, name, parent_type, parent_id)
                     VALUES ($1, $2, $3, $4, $5, $6)
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
                .await
            }
            Write::DeleteResource { workspace, resource } => {
                sqlx::query("DELETE FROM grants WHERE workspace = $1 AND type = $2 AND id = $3")
                    .bind(workspace)
                    .bind(&resource.kind)
                    .bind(&resource.id)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                sqlx::query("DELETE FROM resources WHERE workspace = $1 AND type = $2 AND id = $3")
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
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
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
                    "DELETE FROM grants
                     WHERE workspace = $1 AND type = $2 AND id = $3 AND subject_kind = $4 AND subject_id = $5",
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
                sqlx::query("INSERT INTO api_keys (workspace, id, name, hash, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(workspace)
                    .bind(&key.id)
                    .bind(&key.name)
                    .bind(&key.hash)
                    .bind(key.created_at)
                    .execute(&mut **tx)
                    .await
            }
            Write::DeleteApiKey { workspace, id } => {
                sqlx::query("DELETE FROM api_keys WHERE workspace = $1 AND id = $2")
                    .bind(workspace)
                    .bind(id)
                    .execute(&mut **tx)
                    .await
            }
            Write::PutLabel { workspace, kind, key, name } => {
                sqlx::query(
                    "INSERT INTO labels (workspace, kind, key, name) VALUES ($1, $2, $3, $4)
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
                return PostgresStore::delete_labels(tx, workspace, kind, key).await;
            }
            Write::PutWebhook { workspace, webhook } => sqlx::query(
                "INSERT INTO webhooks (workspace, id, url, secret, events, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(workspace)
            .bind(&webhook.id)
            .bind(&webhook.url)
            .bind(&webhook.secret)
            .bind(text(&webhook.events)?)
            .bind(webhook.created_at)
            .execute(&mut **tx)
            .await,
            Write::PutScimUser { workspace, scim } => {
                sqlx::query(
                    "INSERT INTO scim_users (workspace, id, user_name, user_name_key, external_id, attributes) VALUES ($1, $2, $3, $4, $5, $6)
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
                    "INSERT INTO scim_groups (workspace, id, external_id) VALUES ($1, $2, $3)
                     ON CONFLICT (workspace, id) DO UPDATE SET external_id = excluded.external_id",
                )
                .bind(workspace)
                .bind(group)
                .bind(external_id)
                .execute(&mut **tx)
                .await
            }
            Write::PutPassword { workspace, user, hash } => {
                sqlx::query("DELETE FROM sessions WHERE workspace = $1 AND user_id = $2")
                    .bind(workspace)
                    .bind(user)
                    .execute(&mut **tx)
                    .await
                    .map_err(backend)?;
                sqlx::query(
                    "INSERT INTO passwords (workspace, id, hash, updated_at) VALUES ($1, $2, $3, $4)
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
                sqlx::query("DELETE FROM webhooks WHERE workspace = $1 AND id = $2")
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

fn webhook_from(row: &PgRow) -> Result<Webhook, StoreError> {
    let events: String = row.try_get("events").map_err(corrupt)?;
    Ok(Webhook {
        id: row.try_get("id").map_err(corrupt)?,
        url: row.try_get("url").map_err(corrupt)?,
        secret: row.try_get("secret").map_err(corrupt)?,
        events: serde_json::from_str(&events).map_err(corrupt)?,
        created_at: row.try_get("created_at").map_err(corrupt)?,
    })
}

fn delivery_from(row: &PgRow) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: row.try_get::<i64, _>("id").map_err(corrupt)? as u64,
        webhook: row.try_get("webhook").map_err(corrupt)?,
        event: row.try_get("event").map_err(corrupt)?,
        body: row.try_get("body").map_err(corrupt)?,
        state: from_name(row.try_get("state").map_err(corrupt)?)?,
        attempts: row.try_get::<i32, _>("attempts").map_err(corrupt)? as u32,
        next_attempt_at: row.try_get("next_attempt_at").map_err(corrupt)?,
        last_status: row.try_get::<Option<i32>, _>("last_status").map_err(corrupt)?.map(|s| s as u16),
        last_error: row.try_get("last_error").map_err(corrupt)?,
        created_at: row.try_get("created_at").map_err(corrupt)?,
        updated_at: row.try_get("updated_at").map_err(corrupt)?,
    })
}

/// A user row joined with its SCIM row (`scim_*` columns, NULL when SCIM never wrote one).
fn scim_user_from(row: &PgRow) -> Result<ScimUserRow, StoreError> {
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

fn user_from(row: &PgRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id").map_err(corrupt)?,
        email: row.try_get("email").map_err(corrupt)?,
        name: row.try_get("name").map_err(corrupt)?,
        workspace_role: row.try_get("workspace_role").map_err(corrupt)?,
        kind: from_name(row.try_get("kind").map_err(corrupt)?)?,
        last_active_at: row.try_get("last_active_at").map_err(corrupt)?,
    })
}

fn group_from(row: &PgRow) -> Result<Group, StoreError> {
    Ok(Group {
        id: row.try_get("id").map_err(corrupt)?,
        name: row.try_get("name").map_err(corrupt)?,
        description: row.try_get("description").map_err(corrupt)?,
        tags: row.try_get("tags").map_err(corrupt)?,
        icon: row.try_get("icon").map_err(corrupt)?,
        visibility: from_name(row.try_get("visibility").map_err(corrupt)?)?,
        apply_privileges: row.try_get("apply_privileges").map_err(corrupt)?,
        notify: from_name(row.try_get("notify").map_err(corrupt)?)?,
    })
}

fn resource_from(row: &PgRow) -> Result<Resource, StoreError> {
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

fn api_key_from(r: &PgRow) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: r.try_get("id").map_err(corrupt)?,
        name: r.try_get("name").map_err(corrupt)?,
        hash: r.try_get("hash").map_err(corrupt)?,
        created_at: r.try_get("created_at").map_err(corrupt)?,
    })
}

/// The head of the log, locked (`SELECT ... FOR UPDATE`) by an open transaction; dropping
/// it rolls the transaction back.
#[derive(Debug)]
pub struct HeadLock {
    tx: Transaction<'static, Postgres>,
    head: i64,
}

impl WriteLock for HeadLock {
    fn head(&self) -> Revision {
        revision(self.head)
    }

    async fn commit(mut self, batch: Batch) -> Result<Vec<Revision>, StoreError> {
        match HeadLock::write_batch(&mut self.tx, self.head, &batch).await {
            Ok(revisions) => {
                self.tx.commit().await.map_err(backend)?;
                Ok(revisions)
            }
            Err(e) => {
                // Rolled back now, so the head row is free for the next writer at once.
                let _ = self.tx.rollback().await;
                Err(e)
            }
        }
    }

    async fn release(self) {
        let _ = self.tx.rollback().await;
    }
}

impl HeadLock {
    async fn write_batch(
        tx: &mut Transaction<'static, Postgres>,
        head: i64,
        batch: &Batch,
    ) -> Result<Vec<Revision>, StoreError> {
        if let Some(expected) = batch.expected_head
            && db(expected.0) != head
        {
            return Err(StoreError::HeadMoved { expected: expected.0, actual: revision(head).0 });
        }
        let mut rest = batch.writes.as_slice();
        while let Some(write) = rest.first() {
            // A run of users (an import's) is written in one statement: one round trip to
            // the server instead of one per user.
            let run = rest.iter().take_while(|w| matches!(w, Write::PutUser { .. })).count();
            if run > 1 {
                PostgresStore::put_users(tx, &rest[..run]).await?;
                rest = &rest[run..];
                continue;
            }
            PostgresStore::write(tx, write, batch.at).await?;
            rest = &rest[1..];
        }
        // The changes in one statement, at consecutive revisions after the locked head.
        let revisions: Vec<i64> = (head + 1..=head + batch.changes.len() as i64).collect();
        if !batch.changes.is_empty() {
            let workspaces: Vec<&str> = batch.changes.iter().map(|c| c.workspace.as_str()).collect();
            let bodies = batch.changes.iter().map(text).collect::<Result<Vec<String>, StoreError>>()?;
            sqlx::query(
                "INSERT INTO change_log (revision, workspace, change, at)
                 SELECT r, w, c, $4 FROM UNNEST($1::bigint[], $2::text[], $3::text[]) AS t(r, w, c)",
            )
            .bind(&revisions)
            .bind(&workspaces)
            .bind(&bodies)
            .bind(batch.at)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
        }
        let next = revisions.last().copied().unwrap_or(head);
        let revisions: Vec<Revision> = revisions.into_iter().map(revision).collect();
        for record in &batch.audit {
            sqlx::query(
                "INSERT INTO audit_log (revision, workspace, actor, action, target, before, after, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(next)
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
        let at_change = |change: Option<usize>| change.and_then(|c| revisions.get(c)).map_or(next, |r| db(r.0));
        for n in &batch.notifications {
            let row = sqlx::query(
                "INSERT INTO notifications (workspace, group_id, reason, revision, body, at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&n.workspace)
            .bind(&n.group)
            .bind(&n.reason)
            .bind(at_change(n.change))
            .bind(text(&n.body)?)
            .bind(batch.at)
            .fetch_one(&mut **tx)
            .await
            .map_err(backend)?;
            let id: i64 = row.try_get("id").map_err(corrupt)?;
            // Recipients in chunks: one statement per 10,000 users.
            for chunk in n.users.chunks(10_000) {
                sqlx::query(
                    "INSERT INTO notification_recipients (workspace, user_id, notification)
                     SELECT $1, u, $2 FROM UNNEST($3::text[]) AS u",
                )
                .bind(&n.workspace)
                .bind(id)
                .bind(chunk)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            }
        }
        HeadLock::fan_out(tx, batch, &at_change).await?;
        if next != head {
            sqlx::query("UPDATE log_head SET revision = $1 WHERE id = 1")
                .bind(next)
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(next.to_string())
                .execute(&mut **tx)
                .await
                .map_err(backend)?;
        }
        Ok(revisions)
    }

    /// The outbox: one delivery per event and webhook that wants it, in the batch's transaction.
    async fn fan_out(
        tx: &mut Transaction<'static, Postgres>,
        batch: &Batch,
        at_change: &impl Fn(Option<usize>) -> i64,
    ) -> Result<(), StoreError> {
        let mut hooks: std::collections::BTreeMap<&str, Vec<Webhook>> = Default::default();
        for event in &batch.events {
            if !hooks.contains_key(event.workspace.as_str()) {
                let rows = sqlx::query("SELECT * FROM webhooks WHERE workspace = $1")
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
                    None => body.insert(event_body(event, revision(at_change(event.change)), batch.at)?),
                };
                sqlx::query(
                    "INSERT INTO deliveries (workspace, webhook, event, body, state, next_attempt_at, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)",
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

impl Store for PostgresStore {
    fn change_signal(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.signal.clone())
    }

    async fn head(&self) -> Result<Revision, StoreError> {
        let row =
            sqlx::query("SELECT revision FROM log_head WHERE id = 1").fetch_one(&self.pool).await.map_err(backend)?;
        Ok(revision(row.try_get("revision").map_err(corrupt)?))
    }

    type WriteLock = HeadLock;

    async fn lock_head(&self) -> Result<HeadLock, StoreError> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // INVARIANT: every commit holds this row lock until it ends, so heads and
        // revisions are handed out one writer at a time, whatever the number of replicas.
        let row = sqlx::query("SELECT revision FROM log_head WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let head: i64 = row.try_get("revision").map_err(corrupt)?;
        Ok(HeadLock { tx, head })
    }

    async fn commit(&self, batch: Batch) -> Result<Vec<Revision>, StoreError> {
        let lock = self.lock_head().await?;
        lock.commit(batch).await
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
            "SELECT * FROM audit_log WHERE workspace = $1 AND id > $2 AND ($3::text IS NULL OR actor = $3)
             ORDER BY id LIMIT $4",
        )
        .bind(workspace)
        .bind(db(after))
        .bind(actor)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|row| {
                let json = |col: &str| -> Result<Option<serde_json::Value>, StoreError> {
                    let text: Option<String> = row.try_get(col).map_err(corrupt)?;
                    text.map(|t| serde_json::from_str(&t).map_err(corrupt)).transpose()
                };
                Ok(AuditEntry {
                    id: u64::try_from(row.try_get::<i64, _>("id").map_err(corrupt)?).unwrap_or(0),
                    revision: revision(row.try_get("revision").map_err(corrupt)?),
                    actor: row.try_get("actor").map_err(corrupt)?,
                    at: row.try_get("at").map_err(corrupt)?,
                    record: AuditRecord {
                        workspace: row.try_get("workspace").map_err(corrupt)?,
                        action: row.try_get("action").map_err(corrupt)?,
                        target: row.try_get("target").map_err(corrupt)?,
                        before: json("before")?,
                        after: json("after")?,
                    },
                })
            })
            .collect()
    }

    async fn workspace(&self, id: &str) -> Result<Option<Workspace>, StoreError> {
        let row = sqlx::query("SELECT id, name FROM workspaces WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| Ok(Workspace { id: r.try_get("id").map_err(corrupt)?, name: r.try_get("name").map_err(corrupt)? }))
            .transpose()
    }

    async fn schema(&self, workspace: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let row = sqlx::query("SELECT schema FROM workspaces WHERE id = $1")
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
            "SELECT key, name FROM labels WHERE workspace = $1 AND kind = $2
               AND ($3::text IS NULL OR key = $3 OR starts_with(key, $3 || '/'))
             ORDER BY key",
        )
        .bind(workspace)
        .bind(kind)
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
        let rows = sqlx::query(
            "SELECT * FROM resources WHERE workspace = $1 AND (type || '/' || id) COLLATE \"C\" > $2
               AND ($3::text IS NULL OR type = $3)
               AND ($4::text IS NULL OR strpos(lower(name), lower($4)) > 0 OR strpos(lower(id), lower($4)) > 0)
             ORDER BY (type || '/' || id) COLLATE \"C\" LIMIT $5",
        )
        .bind(workspace)
        .bind(req.after.as_deref().unwrap_or(""))
        .bind(kind)
        .bind(query)
        .bind(i64::from(req.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let items = rows.iter().map(resource_from).collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, req.limit, |r| format!("{}/{}", r.resource.kind, r.resource.id)))
    }

    async fn user(&self, workspace: &str, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE workspace = $1 AND id = $2")
            .bind(workspace)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.as_ref().map(user_from).transpose()
    }

    async fn users(&self, workspace: &str, query: Option<&str>, req: PageRequest) -> Result<Page<User>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM users WHERE workspace = $1 AND id > $2
               AND ($3::text IS NULL OR strpos(lower(name), lower($3)) > 0 OR strpos(email_key, lower($3)) > 0)
             ORDER BY id LIMIT $4",
        )
        .bind(workspace)
        .bind(req.after.as_deref().unwrap_or(""))
        .bind(query)
        .bind(i64::from(req.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let users = rows.iter().map(user_from).collect::<Result<Vec<_>, _>>()?;
        Ok(page(users, req.limit, |u| u.id.clone()))
    }

    async fn resource(&self, workspace: &str, resource: &ResourceRef) -> Result<Option<Resource>, StoreError> {
        let row = sqlx::query("SELECT * FROM resources WHERE workspace = $1 AND type = $2 AND id = $3")
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
            // (PostgreSQL orders by an output name only when it stands alone, hence the repeat.)
            GrantSort::Name => "lower(COALESCE(u.name, gr.name, g.subject_id)), g.subject_kind, g.subject_id",
            GrantSort::RecentActivity => {
                "u.last_active_at IS NULL, u.last_active_at DESC, lower(COALESCE(u.name, gr.name, g.subject_id)),
                 g.subject_kind, g.subject_id"
            }
        };
        let kind = query.users.map(|users| if users { "user" } else { "group" });
        let roles = (!query.roles.is_empty()).then_some(&query.roles);
        let sql = format!(
            "SELECT g.subject_kind, g.subject_id, g.role, g.updated_at,
                COALESCE(u.name, gr.name, g.subject_id) AS subject_name, u.email AS subject_email, u.last_active_at
             FROM grants g
             LEFT JOIN users u ON g.subject_kind = 'user' AND u.workspace = g.workspace AND u.id = g.subject_id
             LEFT JOIN groups gr ON g.subject_kind = 'group' AND gr.workspace = g.workspace AND gr.id = g.subject_id
             WHERE g.workspace = $1 AND g.type = $2 AND g.id = $3
               AND ($4::text IS NULL OR g.subject_kind = $4)
               AND ($5::text IS NULL OR strpos(lower(COALESCE(u.name, gr.name, g.subject_id)), lower($5)) > 0
                    OR strpos(COALESCE(u.email_key, ''), lower($5)) > 0)
               AND ($6::text[] IS NULL OR g.role = ANY($6))
             ORDER BY {order} LIMIT $7 OFFSET $8"
        );
        // The only interpolated text is `order`, one of two fixed strings above.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(workspace)
            .bind(&resource.kind)
            .bind(&resource.id)
            .bind(kind)
            .bind(&query.search)
            .bind(roles)
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
        let row = sqlx::query("SELECT * FROM api_keys WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| Ok((r.try_get("workspace").map_err(corrupt)?, api_key_from(&r)?))).transpose()
    }

    async fn api_keys(&self, workspace: &str) -> Result<Vec<ApiKey>, StoreError> {
        let rows = sqlx::query("SELECT * FROM api_keys WHERE workspace = $1 ORDER BY created_at, id")
            .bind(workspace)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(api_key_from).collect()
    }

    async fn scim_users(&self, workspace: &str, ids: &[String]) -> Result<Vec<ScimUserRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.*, s.user_name AS scim_user_name, s.external_id AS scim_external_id,
                    s.attributes AS scim_attributes
             FROM users u LEFT JOIN scim_users s ON s.workspace = u.workspace AND s.id = u.id
             WHERE u.workspace = $1 AND u.id = ANY($2)",
        )
        .bind(workspace)
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(scim_user_from).collect()
    }

    async fn scim_user_ids(&self, workspace: &str, key: ScimUserKey<'_>) -> Result<Vec<String>, StoreError> {
        let rows = match key {
            // Users SCIM never wrote go by their email.
            ScimUserKey::UserName(name) => sqlx::query(
                "SELECT id FROM scim_users WHERE workspace = $1 AND user_name_key = $2 UNION SELECT u.id FROM users u WHERE u.workspace = $3 AND u.email_key = $4 AND NOT EXISTS (SELECT 1 FROM scim_users s WHERE s.workspace = u.workspace AND s.id = u.id) ORDER BY id",
            )
            .bind(workspace)
            .bind(email_key(name))
            .bind(workspace)
            .bind(email_key(name)),
            ScimUserKey::ExternalId(id) => {
                sqlx::query("SELECT id FROM scim_users WHERE workspace = $1 AND external_id = $2 ORDER BY id")
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
            "SELECT u.id, p.hash FROM users u JOIN passwords p ON p.workspace = u.workspace AND p.id = u.id WHERE u.workspace = $1 AND u.email_key = $2",
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
            "INSERT INTO sessions (hash, workspace, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
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
        let row = sqlx::query("SELECT * FROM sessions WHERE hash = $1 AND expires_at > $2")
            .bind(hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r: PgRow| {
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
        sqlx::query("DELETE FROM sessions WHERE hash = $1 OR expires_at <= $2")
            .bind(hash)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn scim_groups(&self, workspace: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, external_id FROM scim_groups WHERE workspace = $1 AND external_id IS NOT NULL ORDER BY id",
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
        let row = sqlx::query("SELECT * FROM groups WHERE workspace = $1 AND id = $2")
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
            "SELECT * FROM groups WHERE workspace = $1 AND id > $2
               AND ($3::text IS NULL OR strpos(lower(name), lower($3)) > 0
                    OR strpos(lower(description), lower($3)) > 0)
               AND ($4::text IS NULL OR $4 = ANY(tags))
             ORDER BY id LIMIT $5",
        )
        .bind(workspace)
        .bind(req.after.as_deref().unwrap_or(""))
        .bind(query)
        .bind(tag)
        .bind(i64::from(req.limit) + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        let groups = rows.iter().map(group_from).collect::<Result<Vec<_>, _>>()?;
        Ok(page(groups, req.limit, |g| g.id.clone()))
    }
    async fn webhooks(&self, workspace: &str) -> Result<Vec<Webhook>, StoreError> {
        let rows = sqlx::query("SELECT * FROM webhooks WHERE workspace = $1 ORDER BY created_at, id")
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
            "SELECT * FROM deliveries WHERE workspace = $1 AND webhook = $2 AND id > $3 AND ($4 IS NULL OR state = $5)
             ORDER BY id LIMIT $6",
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let rows = sqlx::query(
            "SELECT d.*, w.url, w.secret FROM deliveries d
               JOIN webhooks w ON w.workspace = d.workspace AND w.id = d.webhook
             WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND d.lease_until <= $2
             ORDER BY d.next_attempt_at, d.id LIMIT $3 FOR UPDATE OF d SKIP LOCKED",
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
            sqlx::query("UPDATE deliveries SET lease_until = $1 WHERE id = $2")
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
        sqlx::query(
            "UPDATE deliveries SET state = $1, attempts = attempts + 1, next_attempt_at = $2, lease_until = 0,
               last_status = $3, last_error = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(name_of(&state)?)
        .bind(next)
        .bind(attempt.status.map(i32::from))
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
        let row = sqlx::query(
            "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, lease_until = 0, updated_at = $2
             WHERE workspace = $3 AND webhook = $4 AND id = $5 RETURNING *",
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
        let row = sqlx::query(
            "SELECT MIN(GREATEST(next_attempt_at, lease_until)) AS due FROM deliveries WHERE state = 'pending'",
        )
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
             WHERE r.workspace = $1 AND r.user_id = $2 AND r.notification > $3 ORDER BY r.notification LIMIT $4",
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
                    revision: revision(row.try_get("revision").map_err(corrupt)?),
                    at: row.try_get("at").map_err(corrupt)?,
                    body: serde_json::from_str(&body).map_err(corrupt)?,
                })
            })
            .collect()
    }
}
