//! The rest of the management commands, each the same shape: authorize, build one batch,
//! run it. Who may do what (PRODUCT.md 5, API.md conventions):
//! workspace admins and keys manage users, resources, policies and data scopes; a group's
//! `manage_members` right adds and removes members and nested groups; its `edit` right
//! changes its settings and permission sets; its `delete` right deletes it.

use std::collections::BTreeMap;

use rolecall_engine::GroupAction;
use rolecall_model::{Change, Effect, Group, GroupPermissions, MemberRole, Op, ResourceRef, Revision, Subject};
use rolecall_store::{AuditRecord, Batch, Store, Write, label};
use serde_json::json;

use crate::{Actor, Allowed, Service, ServiceError};

/// What a bulk action does to every selected group (seed 001).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BulkAction {
    AddMembers { users: Vec<String>, role: MemberRole },
    RemoveMembers { users: Vec<String> },
    SetMemberRole { users: Vec<String>, role: MemberRole },
    Delete,
}

/// The most groups or users one bulk request may name.
pub const MAX_BULK: usize = 1_000;

impl<S: Store> Service<S> {
    pub(crate) fn batch(actor: &Actor, writes: Vec<Write>, changes: Vec<Change>, audit: AuditRecord) -> Batch {
        Batch { actor: actor.name(), writes, changes, audit: vec![audit], ..Batch::default() }
    }

    async fn group_right(
        &self,
        actor: &Actor,
        workspace: &str,
        group: &str,
        action: GroupAction,
    ) -> Result<Allowed, ServiceError> {
        self.authorize(actor, workspace, action.name(), &ResourceRef::new("group", group)).await
    }

    pub async fn delete_user(&self, actor: &Actor, workspace: &str, user: &str) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        let before = self.store().user(workspace, user).await?;
        let audit = Self::audit(workspace, "user.delete", format!("user:{user}"), before.map(|b| json!(b)), None);
        let writes = vec![Write::DeleteUser { workspace: workspace.into(), user: user.into() }];
        let changes = vec![Change::new(workspace, Op::DeleteUser { user: user.into() })];
        self.run(&allowed, Self::batch(actor, writes, changes, audit)).await
    }

    /// Records that a user was active at `at` (milliseconds since the epoch; now when
    /// `None`), for the "Recent Activity" sort. A directory write only: it changes no access,
    /// so it adds nothing to the change log or the audit. Admins (and keys) only.
    pub async fn record_activity(
        &self,
        actor: &Actor,
        workspace: &str,
        user: &str,
        at: Option<i64>,
    ) -> Result<i64, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        let mut row = self
            .store()
            .user(workspace, user)
            .await?
            .ok_or_else(|| rolecall_engine::EngineError::UserNotFound(user.to_string()))?;
        let at = at.unwrap_or_else(crate::now_ms);
        row.last_active_at = Some(row.last_active_at.map_or(at, |before| before.max(at)));
        let batch = Batch {
            actor: actor.name(),
            writes: vec![Write::PutUser { workspace: workspace.into(), user: row.clone() }],
            ..Batch::default()
        };
        let id = user.to_string();
        self.run_if(&allowed, batch, |engine| match engine.workspace(workspace)?.user_info(&id) {
            Some(_) => Ok(()),
            None => Err(rolecall_engine::EngineError::UserNotFound(id.clone()).into()),
        })
        .await?;
        Ok(row.last_active_at.unwrap_or(at))
    }

    /// Changes a group's details and settings. Needs `edit`.
    pub async fn update_group(&self, actor: &Actor, workspace: &str, group: Group) -> Result<Revision, ServiceError> {
        let allowed = self.group_right(actor, workspace, &group.id, GroupAction::Edit).await?;
        group.validate()?;
        if self.read()?.workspace(workspace)?.builtin(&group.id).is_some() {
            return Err(
                rolecall_engine::EngineError::BuiltinGroup { group: group.id, what: "its settings are fixed" }.into()
            );
        }
        let before = self.store().group(workspace, &group.id).await?;
        let op = group.put_op();
        let audit = Self::audit(
            workspace,
            "group.update",
            format!("group:{}", group.id),
            before.map(|b| json!(b)),
            Some(json!(group)),
        );
        let writes = vec![Write::PutGroup { workspace: workspace.into(), group }];
        self.run(&allowed, Self::batch(actor, writes, vec![Change::new(workspace, op)], audit)).await
    }

    /// Deletes a group. Needs `delete`.
    pub async fn delete_group(&self, actor: &Actor, workspace: &str, group: &str) -> Result<Revision, ServiceError> {
        let allowed = self.group_right(actor, workspace, group, GroupAction::Delete).await?;
        let before = self.store().group(workspace, group).await?;
        let audit = Self::audit(workspace, "group.delete", format!("group:{group}"), before.map(|b| json!(b)), None);
        let writes = vec![Write::DeleteGroup { workspace: workspace.into(), group: group.into() }];
        let changes = vec![Change::new(workspace, Op::DeleteGroup { group: group.into() })];
        self.run(&allowed, Self::batch(actor, writes, changes, audit)).await
    }

    /// Removes a member. Needs `manage_members`; removing an owner needs `edit`.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        workspace: &str,
        group: &str,
        user: &str,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.group_right(actor, workspace, group, GroupAction::ManageMembers).await?;
        // Whether the member is an owner (whose removal needs `edit` too) is decided on the
        // state the removal is written on, like every other right.
        let owner_needs_edit = |engine: &rolecall_engine::Engine| -> Result<(), ServiceError> {
            let Actor::User { user: me, .. } = actor else { return Ok(()) };
            let is_owner = engine
                .workspace(workspace)?
                .direct_members(group)
                .is_some_and(|m| m.iter().any(|(u, r)| *u == user && *r == MemberRole::Owner));
            if is_owner {
                Allowed::action(workspace, me, GroupAction::Edit.name(), &ResourceRef::new("group", group))
                    .check(engine)?;
            }
            Ok(())
        };
        owner_needs_edit(&*self.read()?)?;
        let audit =
            Self::audit(workspace, "group.member.remove", format!("group:{group}"), Some(json!({"user": user})), None);
        let changes = vec![Change::new(workspace, Op::RemoveMember { group: group.into(), user: user.into() })];
        self.run_if(&allowed, Self::batch(actor, vec![], changes, audit), owner_needs_edit).await
    }

    /// Nests `child` in `group` (or un-nests it). Needs `manage_members` on `group` and
    /// `view` on `child`: nobody nests a group they cannot see.
    pub async fn nest_group(
        &self,
        actor: &Actor,
        workspace: &str,
        group: &str,
        child: &str,
        nest: bool,
    ) -> Result<Revision, ServiceError> {
        let mut allowed = self.group_right(actor, workspace, group, GroupAction::ManageMembers).await?;
        allowed.extend(self.group_right(actor, workspace, child, GroupAction::View).await?);
        let (op, action) = if nest {
            (Op::PutChildGroup { group: group.into(), child: child.into() }, "group.child.put")
        } else {
            (Op::RemoveChildGroup { group: group.into(), child: child.into() }, "group.child.remove")
        };
        let audit = Self::audit(workspace, action, format!("group:{group}"), None, Some(json!({"group": child})));
        self.run(&allowed, Self::batch(actor, vec![], vec![Change::new(workspace, op)], audit)).await
    }

    /// Removes a rule. A user actor must hold at least the removed role, unless admin.
    pub async fn revoke_grant(
        &self,
        actor: &Actor,
        workspace: &str,
        resource: &ResourceRef,
        subject: &Subject,
    ) -> Result<Revision, ServiceError> {
        actor.require_workspace(workspace)?;
        self.current().await?;
        // Decided again under the write lock, on the state the revoke is written on.
        let may_remove = |engine: &rolecall_engine::Engine| -> Result<String, ServiceError> {
            let index = engine.workspace(workspace)?;
            let role = index.grant(resource, subject)?.ok_or_else(|| {
                ServiceError::Engine(rolecall_engine::EngineError::GrantNotFound {
                    resource: resource.to_string(),
                    subject: subject.to_string(),
                })
            })?;
            if let Actor::User { user, .. } = actor
                && !index.is_admin_user(user)?
                && !index.role_at_least(resource, index.effective_role(user, resource)?, &role)?
            {
                return Err(ServiceError::Forbidden(format!("`{user}` cannot remove a `{role}` rule on `{resource}`")));
            }
            Ok(role)
        };
        let held = may_remove(&*self.read()?)?;
        let audit = Self::audit(
            workspace,
            "grant.delete",
            resource.to_string(),
            Some(json!({"subject": subject, "role": held})),
            None,
        );
        let writes = vec![Write::DeleteGrant {
            workspace: workspace.into(),
            resource: resource.clone(),
            subject: subject.clone(),
        }];
        let changes =
            vec![Change::new(workspace, Op::RemoveGrant { resource: resource.clone(), subject: subject.clone() })];
        let batch = Self::batch(actor, writes, changes, audit);
        self.run_if(&Allowed::default(), batch, |engine| may_remove(engine).map(|_| ())).await
    }

    /// Creates or changes a permission set of a group, with its display name. Needs `edit`
    /// on the group.
    pub async fn put_permission_set(
        &self,
        actor: &Actor,
        workspace: &str,
        group: &str,
        set: &str,
        name: Option<&str>,
        permissions: GroupPermissions,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.group_right(actor, workspace, group, GroupAction::Edit).await?;
        if let Some(name) = name {
            rolecall_model::validate_name("name", name)?;
        }
        let op = Op::PutPermissionSet { group: group.into(), set: set.into(), permissions };
        let audit = Self::audit(
            workspace,
            "permission_set.put",
            format!("group:{group}"),
            None,
            Some(json!({"set": set, "name": name, "permissions": permissions})),
        );
        let writes = name
            .map(|name| Write::PutLabel {
                workspace: workspace.into(),
                kind: label::PERMISSION_SET.into(),
                key: format!("{group}/{set}"),
                name: name.into(),
            })
            .into_iter()
            .collect();
        self.run(&allowed, Self::batch(actor, writes, vec![Change::new(workspace, op)], audit)).await
    }

    /// Deletes a custom permission set. Needs `edit` on the group.
    pub async fn delete_permission_set(
        &self,
        actor: &Actor,
        workspace: &str,
        group: &str,
        set: &str,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.group_right(actor, workspace, group, GroupAction::Edit).await?;
        let op = Op::DeletePermissionSet { group: group.into(), set: set.into() };
        let audit =
            Self::audit(workspace, "permission_set.delete", format!("group:{group}"), Some(json!({"set": set})), None);
        let writes = vec![Write::DeleteLabels {
            workspace: workspace.into(),
            kind: label::PERMISSION_SET.into(),
            key: format!("{group}/{set}"),
        }];
        self.run(&allowed, Self::batch(actor, writes, vec![Change::new(workspace, op)], audit)).await
    }

    /// Adds or removes an assignee of a permission set. Needs `edit` on the group.
    pub async fn assign_permission_set(
        &self,
        actor: &Actor,
        workspace: &str,
        group: &str,
        set: &str,
        subject: &Subject,
        assign: bool,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.group_right(actor, workspace, group, GroupAction::Edit).await?;
        let op = if assign {
            Op::PutAssignee { group: group.into(), set: set.into(), subject: subject.clone() }
        } else {
            Op::RemoveAssignee { group: group.into(), set: set.into(), subject: subject.clone() }
        };
        let action = if assign { "permission_set.assign" } else { "permission_set.unassign" };
        let audit = Self::audit(
            workspace,
            action,
            format!("group:{group}"),
            None,
            Some(json!({"set": set, "subject": subject})),
        );
        self.run(&allowed, Self::batch(actor, vec![], vec![Change::new(workspace, op)], audit)).await
    }

    /// Creates or replaces a permission policy, with its display name. Admins only.
    pub async fn put_policy(
        &self,
        actor: &Actor,
        workspace: &str,
        policy: &str,
        name: &str,
        rules: BTreeMap<String, Effect>,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        rolecall_model::validate_name("name", name)?;
        let before = self.read()?.workspace(workspace)?.policy(policy).map(|p| json!(p.rules));
        let audit = Self::audit(
            workspace,
            "policy.put",
            format!("policy:{policy}"),
            before,
            Some(json!({"name": name, "rules": rules})),
        );
        let op = Op::PutPolicy { policy: policy.into(), rules };
        let writes = vec![Write::PutLabel {
            workspace: workspace.into(),
            kind: label::POLICY.into(),
            key: policy.into(),
            name: name.into(),
        }];
        self.run(&allowed, Self::batch(actor, writes, vec![Change::new(workspace, op)], audit)).await
    }

    /// Deletes a policy (detaching it from every group). Admins only.
    pub async fn delete_policy(&self, actor: &Actor, workspace: &str, policy: &str) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        let before = self.read()?.workspace(workspace)?.policy(policy).map(|p| json!(p.rules));
        let audit = Self::audit(workspace, "policy.delete", format!("policy:{policy}"), before, None);
        let op = Op::DeletePolicy { policy: policy.into() };
        let writes =
            vec![Write::DeleteLabels { workspace: workspace.into(), kind: label::POLICY.into(), key: policy.into() }];
        self.run(&allowed, Self::batch(actor, writes, vec![Change::new(workspace, op)], audit)).await
    }

    /// Attaches a policy to a group or detaches it. Admins only.
    pub async fn attach_policy(
        &self,
        actor: &Actor,
        workspace: &str,
        group: &str,
        policy: &str,
        attach: bool,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        let op = if attach {
            Op::AttachPolicy { group: group.into(), policy: policy.into() }
        } else {
            Op::DetachPolicy { group: group.into(), policy: policy.into() }
        };
        let action = if attach { "policy.attach" } else { "policy.detach" };
        let audit = Self::audit(workspace, action, format!("group:{group}"), None, Some(json!({"policy": policy})));
        self.run(&allowed, Self::batch(actor, vec![], vec![Change::new(workspace, op)], audit)).await
    }

    /// Sets (or, with `None`, removes) a group's scope on a dataset. Admins only.
    pub async fn put_data_scope(
        &self,
        actor: &Actor,
        workspace: &str,
        group: &str,
        dataset: &str,
        scope: Option<BTreeMap<String, Vec<String>>>,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        let audit = Self::audit(
            workspace,
            "data_scope.put",
            format!("group:{group}"),
            None,
            Some(json!({"dataset": dataset, "scope": scope})),
        );
        let op = match scope {
            Some(scope) => Op::PutDataScope { group: group.into(), dataset: dataset.into(), scope },
            None => Op::RemoveDataScope { group: group.into(), dataset: dataset.into() },
        };
        self.run(&allowed, Self::batch(actor, vec![], vec![Change::new(workspace, op)], audit)).await
    }

    /// Acts on several groups at once, all or nothing (seed 001). Each group needs the
    /// right the action needs.
    pub async fn bulk_groups(
        &self,
        actor: &Actor,
        workspace: &str,
        groups: &[String],
        action: BulkAction,
    ) -> Result<Revision, ServiceError> {
        let users = match &action {
            BulkAction::AddMembers { users, .. }
            | BulkAction::RemoveMembers { users }
            | BulkAction::SetMemberRole { users, .. } => users.len(),
            BulkAction::Delete => 0,
        };
        if groups.is_empty() || groups.len() > MAX_BULK || users > MAX_BULK {
            return Err(ServiceError::TooLarge(format!(
                "a bulk action names 1 to {MAX_BULK} groups and at most {MAX_BULK} users"
            )));
        }
        let right = match &action {
            BulkAction::Delete => GroupAction::Delete,
            BulkAction::AddMembers { role: MemberRole::Owner, .. }
            | BulkAction::SetMemberRole { role: MemberRole::Owner, .. } => GroupAction::Edit,
            _ => GroupAction::ManageMembers,
        };
        let mut changes = Vec::new();
        let mut writes = Vec::new();
        let mut allowed = Allowed::default();
        for group in groups {
            allowed.extend(self.group_right(actor, workspace, group, right).await?);
            match &action {
                BulkAction::AddMembers { users, role } | BulkAction::SetMemberRole { users, role } => {
                    for user in users {
                        changes.push(Change::new(
                            workspace,
                            Op::PutMember { group: group.clone(), user: user.clone(), role: *role },
                        ));
                    }
                }
                BulkAction::RemoveMembers { users } => {
                    for user in users {
                        changes.push(Change::new(
                            workspace,
                            Op::RemoveMember { group: group.clone(), user: user.clone() },
                        ));
                    }
                }
                BulkAction::Delete => {
                    writes.push(Write::DeleteGroup { workspace: workspace.into(), group: group.clone() });
                    changes.push(Change::new(workspace, Op::DeleteGroup { group: group.clone() }));
                }
            }
        }
        let audit = Self::audit(
            workspace,
            "group.bulk",
            "groups".into(),
            None,
            Some(json!({"groups": groups, "action": format!("{action:?}")})),
        );
        self.run(&allowed, Self::batch(actor, writes, changes, audit)).await
    }
}

impl<S: Store> Service<S> {
    /// Deletes a workspace and everything in it. Root only.
    pub async fn delete_workspace(&self, actor: &Actor, workspace: &str) -> Result<Revision, ServiceError> {
        actor.require_root()?;
        self.current().await?;
        self.read()?.workspace(workspace)?;
        let before = self.store().workspace(workspace).await?;
        let audit = Self::audit(
            workspace,
            "workspace.delete",
            format!("workspace:{workspace}"),
            before.map(|w| json!(w)),
            None,
        );
        let writes = vec![Write::DeleteWorkspace { workspace: workspace.into() }];
        self.run(
            &Allowed::default(),
            Self::batch(actor, writes, vec![Change::new(workspace, Op::DeleteWorkspace)], audit),
        )
        .await
    }

    /// Replaces a workspace's schema. Refused (naming them) when existing grants, resources,
    /// users, policies or scopes would not fit the new one. Admins only.
    pub async fn replace_schema(
        &self,
        actor: &Actor,
        workspace: &str,
        schema: rolecall_model::SchemaDoc,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        let row = self.store().workspace(workspace).await?.ok_or_else(|| {
            ServiceError::Engine(rolecall_engine::EngineError::WorkspaceNotFound(workspace.to_string()))
        })?;
        let before = self.store().schema(workspace).await?;
        let schema_json = serde_json::to_value(&schema).map_err(|e| ServiceError::Corrupt(e.to_string()))?;
        let audit = Self::audit(
            workspace,
            "schema.replace",
            format!("workspace:{workspace}"),
            before,
            Some(schema_json.clone()),
        );
        let writes = vec![Write::PutWorkspace { workspace: row, schema: schema_json }];
        let changes = vec![Change::new(workspace, Op::ReplaceSchema { schema })];
        self.run(&allowed, Self::batch(actor, writes, changes, audit)).await
    }

    /// Deletes a resource and its rules; refused while it has children. Admins only.
    pub async fn delete_resource(
        &self,
        actor: &Actor,
        workspace: &str,
        resource: &ResourceRef,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        let before = self.store().resource(workspace, resource).await?;
        let audit = Self::audit(workspace, "resource.delete", resource.to_string(), before.map(|r| json!(r)), None);
        let writes = vec![Write::DeleteResource { workspace: workspace.into(), resource: resource.clone() }];
        let changes = vec![Change::new(workspace, Op::DeleteResource { resource: resource.clone() })];
        self.run(&allowed, Self::batch(actor, writes, changes, audit)).await
    }

    /// Stores a workspace API key (its hash). Root, the workspace's keys and its admins.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        workspace: &str,
        key: rolecall_store::ApiKey,
    ) -> Result<(), ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        self.read()?.workspace(workspace)?;
        let audit = Self::audit(
            workspace,
            "api_key.create",
            format!("api_key:{}", key.id),
            None,
            Some(json!({"id": key.id, "name": key.name})),
        );
        let writes = vec![Write::PutApiKey { workspace: workspace.into(), key }];
        self.run(&allowed, Self::batch(actor, writes, vec![], audit)).await.map(|_| ())
    }

    /// Revokes a workspace API key: the next request with it is a 401.
    pub async fn delete_api_key(&self, actor: &Actor, workspace: &str, id: &str) -> Result<(), ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        let keys = self.store().api_keys(workspace).await?;
        let key = keys.iter().find(|k| k.id == id).ok_or_else(|| ServiceError::ApiKeyNotFound(id.to_string()))?;
        let audit = Self::audit(
            workspace,
            "api_key.delete",
            format!("api_key:{id}"),
            Some(json!({"id": id, "name": key.name})),
            None,
        );
        let writes = vec![Write::DeleteApiKey { workspace: workspace.into(), id: id.into() }];
        self.run(&allowed, Self::batch(actor, writes, vec![], audit)).await.map(|_| ())
    }
}
