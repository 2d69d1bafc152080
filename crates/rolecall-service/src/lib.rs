//! Rolecall's commands. Each one authorizes its actor, validates its input against the
//! engine, writes its directory rows, its changes and its audit entries in one store
//! transaction, and only then applies the changes to the engine. Questions are answered by
//! the engine alone.
//!
//! Commands run one at a time in a process (a write lock) and, across processes, one at a
//! time on the store's log head (`Store::lock_head`): the engine catches up to the locked
//! head, the actor's rights and the changes are checked on that state, and the batch is
//! committed in the same transaction, so the engine always equals the log replayed.

mod actor;
mod allowed;
mod commands;
pub mod console;
mod error;
mod follow;
pub mod interop;
pub mod scim;
mod transfer;
mod webhooks;

use std::sync::{Arc, RwLockReadGuard};
use std::time::Duration;

use rolecall_engine::{Engine, GroupAction};
use rolecall_model::{
    Change, Group, Limits, MemberRole, Op, Resource, ResourceRef, Revision, SchemaDoc, Subject, User, Workspace,
};
use rolecall_store::{AuditRecord, Batch, Store, Write, WriteLock};
use serde_json::json;

pub use actor::Actor;
use allowed::Allowed;
pub use commands::BulkAction;
pub use error::ServiceError;
pub use follow::Follow;
pub use transfer::{EXPORT_FORMAT, Export, ImportChunk, MAX_IMPORT_CHUNK};
pub use webhooks::{DeliveryPolicy, Dispatcher, MAX_EVENT_PATTERNS, MAX_URL_LEN, signature_headers, validate_webhook};

/// How fresh an answer must be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consistency {
    /// Whatever the engine has applied.
    #[default]
    Any,
    /// At least this revision (a write the caller made).
    AtLeast(Revision),
    /// Every write acknowledged anywhere: the head of the log (read from the database when
    /// other processes write to it too).
    Full,
}

/// What happened to a grant (API.md: created, unchanged, replaced).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GrantOutcome {
    Created,
    Unchanged,
    Replaced { previous: String },
}

/// What a write expects of the thing it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exists {
    Must,
    MustNot,
    Either,
}

/// The service: a store and the engine kept equal to its change log.
#[derive(Debug)]
pub struct Service<S: Store> {
    store: S,
    core: Arc<follow::Core>,
    /// The task following other processes' commits (stores others write to).
    follower: Option<tokio::task::AbortHandle>,
}

impl<S: Store> Drop for Service<S> {
    fn drop(&mut self) {
        if let Some(follower) = &self.follower {
            follower.abort();
        }
    }
}

fn builtin_group(id: &str, name: &str) -> Group {
    Group {
        description: match id {
            rolecall_engine::EVERYONE => "Every regular user of the workspace, kept automatically.".into(),
            _ => "Every admin and owner of the workspace, kept automatically.".into(),
        },
        ..Group::new(id, name)
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl<S: Store> Service<S> {
    /// Opens the service on `store`: the engine is rebuilt by replaying the change log.
    /// When other processes may write to the store too, a follower keeps the engine
    /// current with the default [`Follow`] settings.
    pub async fn open(store: S, limits: Limits) -> Result<Service<S>, ServiceError> {
        Service::open_following(store, limits, Follow::default()).await
    }

    /// Like [`Service::open`], with how to follow other processes' writes.
    pub async fn open_following(store: S, limits: Limits, follow: Follow) -> Result<Service<S>, ServiceError> {
        let signal = store.change_signal();
        let core = Arc::new(follow::Core::open(&store, limits, signal.is_some().then_some(follow)).await?);
        core.mark_synced(std::time::Instant::now());
        let follower = signal.map(|signal| {
            tokio::spawn(follow::follow(store.clone(), core.clone(), signal, follow.poll)).abort_handle()
        });
        Ok(Service { store, core, follower })
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The engine, for questions. Waits briefly for `consistency`; a revision that does
    /// not arrive in time is a retryable error, never a stale answer. A process that
    /// follows other writers and could not confirm it is current refuses (fail closed).
    pub async fn engine(&self, consistency: Consistency) -> Result<RwLockReadGuard<'_, Engine>, ServiceError> {
        self.core.require_fresh()?;
        let wanted = match consistency {
            Consistency::Any => return self.read(),
            Consistency::AtLeast(wanted) => wanted,
            // One process owns an embedded store: its engine has every acknowledged write.
            Consistency::Full if self.core.follow.is_none() => return self.read(),
            Consistency::Full => self.store.head().await?,
        };
        for attempt in 0..50 {
            // Revisions only grow: once seen, the next read sees it too.
            if self.read()?.revision() >= wanted {
                return self.read();
            }
            if attempt % 10 == 0 {
                self.core.poke.notify_one();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(ServiceError::NotYet { wanted: wanted.0 })
    }

    /// The engine as it is now, without waiting for any revision.
    pub fn snapshot(&self) -> RwLockReadGuard<'_, Engine> {
        self.core.snapshot()
    }

    pub(crate) fn read(&self) -> Result<RwLockReadGuard<'_, Engine>, ServiceError> {
        self.core.read()
    }

    /// Validates `changes` one by one against the engine as it would be after the previous
    /// ones, commits the batch, then applies the changes. Returns the last revision.
    pub(crate) async fn run(&self, allowed: &Allowed, batch: Batch) -> Result<Revision, ServiceError> {
        self.run_if(allowed, batch, |_| Ok(())).await
    }

    /// Like [`Service::run`], after `precondition` holds on the engine under the write lock
    /// (e.g. "this id is not taken": checked and written with no other write in between).
    pub(crate) async fn run_if(
        &self,
        allowed: &Allowed,
        batch: Batch,
        precondition: impl Fn(&Engine) -> Result<(), ServiceError>,
    ) -> Result<Revision, ServiceError> {
        self.run_with(allowed, batch, precondition).await.map(|((), revision)| revision)
    }

    /// Like [`Service::run_if`], where the precondition also says something about the state
    /// the batch was written on (e.g. the role a grant replaced).
    ///
    /// The store's head is locked first (other replicas' writers wait), the engine catches
    /// up with whatever other processes committed before, and only then are the
    /// precondition and every change checked: an invariant (limits, cycles, last owner)
    /// holds across processes exactly as within one.
    pub(crate) async fn run_with<T>(
        &self,
        allowed: &Allowed,
        mut batch: Batch,
        precondition: impl Fn(&Engine) -> Result<T, ServiceError>,
    ) -> Result<(T, Revision), ServiceError> {
        let _one_at_a_time = self.core.writer.lock().await;
        let asked = std::time::Instant::now();
        let lock = self.store.lock_head().await?;
        let head = lock.head();
        let prepared = async {
            if self.read()?.revision() != head {
                self.core.catch_up_to(&self.store, head).await?;
            }
            let engine = self.read()?;
            allowed.check(&engine)?;
            let said = precondition(&engine)?;
            engine.validate_all(&batch.changes)?;
            // What the batch does to the access of members of groups that ask to be told.
            let told = engine.access_changes(&batch.changes)?;
            webhooks::record(&mut batch, &engine, told);
            Ok::<_, ServiceError>(said)
        };
        let said = match prepared.await {
            Ok(said) => said,
            Err(refused) => {
                lock.release().await;
                return Err(refused);
            }
        };
        let wrote_deliveries = !batch.events.is_empty();
        batch.expected_head = Some(head);
        batch.at = now_ms();
        let revisions = lock.commit(batch.clone()).await?;
        let mut engine = self.core.write()?;
        for (revision, change) in revisions.iter().zip(&batch.changes) {
            // INVARIANT: validated above on the state at the locked head, so this cannot
            // fail; if it ever did, the engine no longer equals the log and must not answer.
            engine.apply_at(*revision, change).map_err(|e| ServiceError::Corrupt(e.to_string()))?;
        }
        drop(engine);
        self.core.mark_synced(asked);
        if wrote_deliveries {
            self.core.outbox.notify_one();
        }
        Ok((said, revisions.last().copied().unwrap_or(head)))
    }

    pub(crate) fn audit(
        workspace: &str,
        action: &str,
        target: String,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> AuditRecord {
        AuditRecord { workspace: workspace.to_string(), action: action.to_string(), target, before, after }
    }

    /// Creates a workspace with its built-in groups. Root only.
    pub async fn create_workspace(
        &self,
        actor: &Actor,
        workspace: Workspace,
        schema: Option<SchemaDoc>,
    ) -> Result<Revision, ServiceError> {
        actor.require_root()?;
        rolecall_model::validate_name("name", &workspace.name)?;
        let schema = schema.unwrap_or_else(SchemaDoc::default_schema);
        let schema_json = serde_json::to_value(&schema).map_err(|e| ServiceError::Corrupt(e.to_string()))?;
        let id = workspace.id.clone();
        let batch = Batch {
            actor: actor.name(),
            writes: vec![
                Write::PutWorkspace { workspace: workspace.clone(), schema: schema_json },
                // The built-in groups are directory rows too, so they list and their names are taken.
                Write::PutGroup { workspace: id.clone(), group: builtin_group(rolecall_engine::EVERYONE, "Everyone") },
                Write::PutGroup {
                    workspace: id.clone(),
                    group: builtin_group(rolecall_engine::WORKSPACE_ADMINS, "Workspace Admins"),
                },
            ],
            changes: vec![Change::new(&id, Op::CreateWorkspace { schema })],
            audit: vec![Self::audit(&id, "workspace.create", format!("workspace:{id}"), None, Some(json!(workspace)))],
            ..Batch::default()
        };
        self.run(&Allowed::default(), batch).await
    }

    /// Creates or updates a user. Workspace admins (and keys) only.
    pub async fn put_user(&self, actor: &Actor, workspace: &str, user: User) -> Result<Revision, ServiceError> {
        self.write_user(actor, workspace, user, &[], Exists::Either, None).await
    }

    /// Changes an existing user (a user deleted meanwhile is not brought back), and
    /// suspends them (`active: Some(false)`) or lifts their suspension.
    pub async fn update_user(
        &self,
        actor: &Actor,
        workspace: &str,
        user: User,
        active: Option<bool>,
    ) -> Result<Revision, ServiceError> {
        self.write_user(actor, workspace, user, &[], Exists::Must, active).await
    }

    /// Creates a user and adds them to `groups` as a member, in one transaction: an
    /// unknown group or a full group changes nothing (seed 001: users are created with
    /// their groups). A user id already taken is a conflict. Workspace admins (and keys) only.
    pub async fn create_user(
        &self,
        actor: &Actor,
        workspace: &str,
        user: User,
        groups: &[String],
    ) -> Result<Revision, ServiceError> {
        self.write_user(actor, workspace, user, groups, Exists::MustNot, None).await
    }

    async fn write_user(
        &self,
        actor: &Actor,
        workspace: &str,
        user: User,
        groups: &[String],
        exists: Exists,
        active: Option<bool>,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        user.validate()?;
        let before = self.store.user(workspace, &user.id).await?;
        let mut changes = vec![Change::new(workspace, user.put_op())];
        if let Some(active) = active {
            changes.push(Change::new(workspace, Op::SetUserActive { user: user.id.clone(), active }));
        }
        for group in groups {
            changes.push(Change::new(
                workspace,
                Op::PutMember { group: group.clone(), user: user.id.clone(), role: MemberRole::Member },
            ));
        }
        let action = if before.is_some() { "user.update" } else { "user.create" };
        let batch = Batch {
            actor: actor.name(),
            writes: vec![Write::PutUser { workspace: workspace.into(), user: user.clone() }],
            changes,
            audit: vec![Self::audit(
                workspace,
                action,
                format!("user:{}", user.id),
                before.map(|b| json!(b)),
                Some(json!({"user": user, "groups": groups, "active": active})),
            )],
            ..Batch::default()
        };
        let id = user.id.clone();
        self.run_if(&allowed, batch, |engine| match engine.workspace(workspace)?.user_info(&id) {
            Some(_) if exists == Exists::MustNot => Err(ServiceError::Conflict(format!("user `{id}` already exists"))),
            None if exists == Exists::Must => Err(rolecall_engine::EngineError::UserNotFound(id.clone()).into()),
            _ => Ok(()),
        })
        .await
    }

    /// The workspace role a new user gets when none is given: `member` when the schema has
    /// it, otherwise its lowest role.
    pub fn default_workspace_role(&self, workspace: &str) -> Result<String, ServiceError> {
        let engine = self.read()?;
        let roles = &engine.workspace(workspace)?.schema().workspace_roles;
        Ok(roles.iter().find(|r| *r == "member").or(roles.first()).cloned().unwrap_or_default())
    }

    /// Creates a group. Needs the `create_group` capability; a user who creates a group
    /// becomes its owner.
    pub async fn create_group(&self, actor: &Actor, workspace: &str, group: Group) -> Result<Revision, ServiceError> {
        let allowed =
            self.authorize(actor, workspace, "create_group", &ResourceRef::new("workspace", workspace)).await?;
        group.validate()?;
        let mut changes = vec![Change::new(workspace, group.put_op())];
        if let Actor::User { user, .. } = actor {
            changes.push(Change::new(
                workspace,
                Op::PutMember { group: group.id.clone(), user: user.clone(), role: MemberRole::Owner },
            ));
        }
        let batch = Batch {
            actor: actor.name(),
            writes: vec![Write::PutGroup { workspace: workspace.into(), group: group.clone() }],
            changes,
            audit: vec![Self::audit(
                workspace,
                "group.create",
                format!("group:{}", group.id),
                None,
                Some(json!(group)),
            )],
            ..Batch::default()
        };
        let id = group.id.clone();
        self.run_if(&allowed, batch, |engine| match engine.workspace(workspace)?.member_count(&id) {
            Some(_) => Err(ServiceError::Conflict(format!("group `{id}` already exists"))),
            None => Ok(()),
        })
        .await
    }

    /// Adds a user to a group or changes their role. Needs `manage_members` on the group;
    /// making someone an owner needs `edit`.
    pub async fn put_member(
        &self,
        actor: &Actor,
        workspace: &str,
        group: &str,
        user: &str,
        role: MemberRole,
    ) -> Result<Revision, ServiceError> {
        let target = ResourceRef::new("group", group);
        let mut allowed = self.authorize(actor, workspace, GroupAction::ManageMembers.name(), &target).await?;
        if role == MemberRole::Owner {
            allowed.extend(self.authorize(actor, workspace, GroupAction::Edit.name(), &target).await?);
        }
        let batch = Batch {
            actor: actor.name(),
            changes: vec![Change::new(workspace, Op::PutMember { group: group.into(), user: user.into(), role })],
            audit: vec![Self::audit(
                workspace,
                "group.member.put",
                format!("group:{group}"),
                None,
                Some(json!({"user": user, "role": role})),
            )],
            ..Batch::default()
        };
        self.run(&allowed, batch).await
    }

    /// Gives `subject` `role` on `resource` (API.md's grant outcomes). A user actor must
    /// hold at least that role there themselves, unless they are an admin.
    pub async fn put_grant(
        &self,
        actor: &Actor,
        workspace: &str,
        resource: &ResourceRef,
        subject: &Subject,
        role: &str,
        replace: bool,
    ) -> Result<(GrantOutcome, Revision), ServiceError> {
        actor.require_workspace(workspace)?;
        self.current().await?;
        // Who may grant, and what the grant replaces, are decided on the state the grant is
        // written on (again after a race with another process), never on an older one.
        let outcome = |engine: &Engine| -> Result<GrantOutcome, ServiceError> {
            let index = engine.workspace(workspace)?;
            if let Actor::User { user, .. } = actor
                && !index.is_admin_user(user)?
            {
                let held = index.effective_role(user, resource)?;
                if !index.role_at_least(resource, held, role)? {
                    return Err(ServiceError::Forbidden(format!(
                        "`{user}` cannot grant `{role}` on `{resource}`: nobody grants more than they hold"
                    )));
                }
            }
            match index.grant(resource, subject)? {
                Some(p) if p == role => Ok(GrantOutcome::Unchanged),
                Some(p) if !replace => Err(ServiceError::RoleConflict { held: p }),
                Some(p) => Ok(GrantOutcome::Replaced { previous: p }),
                None => Ok(GrantOutcome::Created),
            }
        };
        // Nothing to write when the rule is already there.
        if outcome(&*self.read()?)? == GrantOutcome::Unchanged {
            return Ok((GrantOutcome::Unchanged, self.read()?.revision()));
        }
        let batch = Batch {
            actor: actor.name(),
            writes: vec![Write::PutGrant {
                workspace: workspace.into(),
                resource: resource.clone(),
                subject: subject.clone(),
                role: role.into(),
            }],
            changes: vec![Change::new(
                workspace,
                Op::PutGrant { resource: resource.clone(), subject: subject.clone(), role: role.into() },
            )],
            audit: vec![Self::audit(
                workspace,
                "grant.put",
                format!("{resource}"),
                None,
                Some(json!({"subject": subject, "role": role})),
            )],
            ..Batch::default()
        };
        self.run_with(&Allowed::default(), batch, outcome).await
    }

    /// Registers a resource (or renames or moves it). Workspace admins (and keys) only.
    pub async fn put_resource(
        &self,
        actor: &Actor,
        workspace: &str,
        resource: Resource,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        resource.validate()?;
        let before = self.store.resource(workspace, &resource.resource).await?;
        let batch = Batch {
            actor: actor.name(),
            writes: vec![Write::PutResource { workspace: workspace.into(), resource: resource.clone() }],
            changes: vec![Change::new(
                workspace,
                Op::PutResource { resource: resource.resource.clone(), parent: resource.parent.clone() },
            )],
            audit: vec![Self::audit(
                workspace,
                if before.is_some() { "resource.update" } else { "resource.create" },
                resource.resource.to_string(),
                before.map(|b| json!(b)),
                Some(json!(resource)),
            )],
            ..Batch::default()
        };
        self.run(&allowed, batch).await
    }

    /// The workspace as a SpiceDB schema and relationships (`interop`). Admins (and keys).
    pub async fn export_spicedb(&self, actor: &Actor, workspace: &str) -> Result<interop::SpiceDbExport, ServiceError> {
        self.require_admin(actor, workspace).await?;
        Ok(interop::spicedb(self.read()?.workspace(workspace)?))
    }

    /// The workspace as an OpenFGA model and tuples (`interop`). Admins (and keys).
    pub async fn export_openfga(&self, actor: &Actor, workspace: &str) -> Result<interop::OpenFgaExport, ServiceError> {
        self.require_admin(actor, workspace).await?;
        Ok(interop::openfga(self.read()?.workspace(workspace)?))
    }

    /// Brings the engine up to the log's head before a write is authorized, when other
    /// processes write to the store too (a user made on another replica a moment ago is
    /// known here). One read of the head; a catch-up only when it moved.
    pub(crate) async fn current(&self) -> Result<(), ServiceError> {
        if self.core.follow.is_some() {
            self.core.sync(&self.store).await?;
        }
        Ok(())
    }

    pub(crate) async fn require_admin(&self, actor: &Actor, workspace: &str) -> Result<Allowed, ServiceError> {
        actor.require_workspace(workspace)?;
        self.current().await?;
        let Actor::User { user, .. } = actor else { return Ok(Allowed::default()) };
        let allowed = Allowed::admin(workspace, user);
        allowed.check(&*self.read()?)?;
        Ok(allowed)
    }

    /// Refuses unless the actor may do `action` on `resource` (keys and root may do all).
    pub(crate) async fn authorize(
        &self,
        actor: &Actor,
        workspace: &str,
        action: &str,
        resource: &ResourceRef,
    ) -> Result<Allowed, ServiceError> {
        actor.require_workspace(workspace)?;
        self.current().await?;
        let Actor::User { user, .. } = actor else { return Ok(Allowed::default()) };
        let allowed = Allowed::action(workspace, user, action, resource);
        allowed.check(&*self.read()?)?;
        Ok(allowed)
    }
}
