//! SCIM 2.0 provisioning (RFC 7643/7644) as commands. The protocol (documents, filters,
//! PATCH) belongs to the API; here are the writes it ends in: a user with what the SCIM
//! client wrote about them, and a group with its `externalId` and its member edits, each
//! in one transaction. Groups and users written this way are ordinary Rolecall ones.

use std::collections::BTreeSet;

use rolecall_engine::EngineError;
use rolecall_model::{Change, Group, MemberRole, Op, Revision, User};
use rolecall_store::{ScimUser, ScimUserKey, Store, Write};
use serde_json::json;

use crate::{Actor, Service, ServiceError};

/// Whether a write creates its user or group or replaces one that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    New,
    Replace,
}

/// What a SCIM write does to a group's direct members (users and nested groups).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum MemberEdit {
    /// They stay as they are.
    #[default]
    Keep,
    /// Exactly these (PUT, or PATCH replacing `members`). Users who stay keep their role.
    Replace { users: Vec<String>, groups: Vec<String> },
    /// Adding someone already there, or removing someone who is not, changes nothing.
    Change { add_users: Vec<String>, remove_users: Vec<String>, add_groups: Vec<String>, remove_groups: Vec<String> },
}

/// A group as a SCIM client writes it.
#[derive(Clone, Debug)]
pub struct ScimGroup {
    pub group: Group,
    pub external_id: Option<String>,
    pub members: MemberEdit,
}

impl<S: Store> Service<S> {
    /// Creates or replaces a user with what the SCIM client wrote about them, active or
    /// suspended. The `userName` may be nobody else's: neither another SCIM user's nor the
    /// email of a user SCIM never wrote. Workspace admins (and keys) only.
    pub async fn scim_put_user(
        &self,
        actor: &Actor,
        workspace: &str,
        user: User,
        scim: ScimUser,
        active: bool,
        existing: Existing,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        user.validate()?;
        let taken = self.store.scim_user_ids(workspace, ScimUserKey::UserName(&scim.user_name)).await?;
        if taken.iter().any(|id| *id != user.id) {
            return Err(ServiceError::Conflict(format!(
                "userName `{}` is already used by another user of workspace `{workspace}`",
                scim.user_name
            )));
        }
        let before = self.store.user(workspace, &user.id).await?;
        let was_active = self.read()?.workspace(workspace)?.is_active(&user.id).unwrap_or(true);
        let action = if existing == Existing::New { "user.create" } else { "user.update" };
        let audit = Self::audit(
            workspace,
            action,
            format!("user:{}", user.id),
            before.map(|b| json!(b)),
            Some(json!({"user": user, "scim": scim, "active": active})),
        );
        let id = user.id.clone();
        let mut changes = vec![Change::new(workspace, user.put_op())];
        // A suspension is always written (what was read may have changed since); lifting
        // one only when there is one.
        if !active || !was_active {
            changes.push(Change::new(workspace, Op::SetUserActive { user: user.id.clone(), active }));
        }
        let batch = Self::batch(
            actor,
            vec![
                Write::PutUser { workspace: workspace.into(), user: user.clone() },
                Write::PutScimUser { workspace: workspace.into(), scim },
            ],
            changes,
            audit,
        );
        self.run_if(&allowed, batch, |engine| match (engine.workspace(workspace)?.user_info(&id), existing) {
            (Some(_), Existing::New) => Err(ServiceError::Conflict(format!("user `{id}` already exists"))),
            (None, Existing::Replace) => Err(EngineError::UserNotFound(id.clone()).into()),
            _ => Ok(()),
        })
        .await
    }

    /// Creates or replaces a group with its `externalId` and member edits, all in one
    /// transaction: an unknown member, a cycle or a full group changes nothing. The
    /// built-in groups are not SCIM's to write. Workspace admins (and keys) only.
    pub async fn scim_put_group(
        &self,
        actor: &Actor,
        workspace: &str,
        write: ScimGroup,
        existing: Existing,
    ) -> Result<Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        write.group.validate()?;
        let id = write.group.id.clone();
        let (member_changes, added, removed) = {
            let engine = self.read()?;
            let index = engine.workspace(workspace)?;
            if index.builtin(&id).is_some() {
                return Err(EngineError::BuiltinGroup { group: id, what: "SCIM cannot write it" }.into());
            }
            member_changes(index, workspace, &id, &write.members)
        };
        let before = self.store.group(workspace, &id).await?;
        let action = if existing == Existing::New { "group.create" } else { "group.update" };
        let audit = Self::audit(
            workspace,
            action,
            format!("group:{id}"),
            before.map(|b| json!(b)),
            Some(json!({"group": write.group, "external_id": write.external_id, "added": added, "removed": removed})),
        );
        let mut changes = vec![Change::new(workspace, write.group.put_op())];
        changes.extend(member_changes);
        let batch = Self::batch(
            actor,
            vec![
                Write::PutGroup { workspace: workspace.into(), group: write.group },
                Write::PutScimGroup { workspace: workspace.into(), group: id.clone(), external_id: write.external_id },
            ],
            changes,
            audit,
        );
        self.run_if(&allowed, batch, |engine| match (engine.workspace(workspace)?.member_count(&id), existing) {
            (Some(_), Existing::New) => Err(ServiceError::Conflict(format!("group `{id}` already exists"))),
            (None, Existing::Replace) => Err(EngineError::GroupNotFound(id.clone()).into()),
            _ => Ok(()),
        })
        .await
    }
}

/// The changes that make `edit` true of `group`'s direct members as the index has them,
/// with the ids added and removed (for the audit).
fn member_changes(
    index: &rolecall_engine::WorkspaceIndex,
    workspace: &str,
    group: &str,
    edit: &MemberEdit,
) -> (Vec<Change>, Vec<String>, Vec<String>) {
    let set = |ids: &[String]| ids.iter().cloned().collect::<BTreeSet<String>>();
    let groups_now: BTreeSet<String> =
        index.child_groups(group).unwrap_or_default().into_iter().map(str::to_string).collect();
    let is_member = |user: &String| index.direct_role(group, user).is_some();
    let (add_users, remove_users, add_groups, remove_groups): (Vec<String>, Vec<String>, Vec<String>, Vec<String>) =
        match edit {
            MemberEdit::Keep => Default::default(),
            MemberEdit::Replace { users, groups } => {
                // The one edit that needs every member: a million-member group is read once.
                let users_now: BTreeSet<String> =
                    index.direct_members(group).unwrap_or_default().into_iter().map(|(u, _)| u.to_string()).collect();
                let (users, groups) = (set(users), set(groups));
                (
                    users.difference(&users_now).cloned().collect(),
                    users_now.difference(&users).cloned().collect(),
                    groups.difference(&groups_now).cloned().collect(),
                    groups_now.difference(&groups).cloned().collect(),
                )
            }
            MemberEdit::Change { add_users, remove_users, add_groups, remove_groups } => {
                let (removing_users, removing_groups) = (set(remove_users), set(remove_groups));
                (
                    set(add_users).into_iter().filter(|u| !is_member(u) && !removing_users.contains(u)).collect(),
                    removing_users.into_iter().filter(is_member).collect(),
                    set(add_groups)
                        .difference(&groups_now)
                        .filter(|g| !removing_groups.contains(*g))
                        .cloned()
                        .collect(),
                    removing_groups.intersection(&groups_now).cloned().collect(),
                )
            }
        };
    let mut changes = Vec::new();
    let op = |op| Change::new(workspace, op);
    for user in &remove_users {
        changes.push(op(Op::RemoveMember { group: group.into(), user: user.clone() }));
    }
    for child in &remove_groups {
        changes.push(op(Op::RemoveChildGroup { group: group.into(), child: child.clone() }));
    }
    for user in &add_users {
        changes.push(op(Op::PutMember { group: group.into(), user: user.clone(), role: MemberRole::Member }));
    }
    for child in &add_groups {
        changes.push(op(Op::PutChildGroup { group: group.into(), child: child.clone() }));
    }
    let added = add_users.into_iter().chain(add_groups).collect();
    let removed = remove_users.into_iter().chain(remove_groups).collect();
    (changes, added, removed)
}
