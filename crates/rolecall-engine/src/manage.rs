//! Who may manage a group (seeds 002, 004) and who holds a workspace capability (seed 000).
//!
//! Group management: workspace admins may do everything; an owner views, edits and
//! deletes; an editor views and adds or removes members; the permission sets `members`
//! (every member but the owners), `everyone` (every regular user) and custom sets (their
//! assigned users and the members of their assigned groups) give what their flags say; a
//! public group may be seen by everyone. Built-in groups are never deleted and their
//! membership is never edited by hand.
//!
//! Capabilities: admins and owners always have them; otherwise a deny in any policy of any
//! group the user is in wins, then an allow, then the schema's default workspace role.

use roaring::RoaringBitmap;
use rolecall_model::{Effect, GroupPermissions, MemberRole, UserKind, Visibility};

use crate::EngineError;
use crate::explain::{Path, Step};
use crate::index::{BuiltinSet, GroupIx, UserIx, UserRec, WorkspaceIndex};

/// What one may do to a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GroupAction {
    /// See the group, its members and its permission sets.
    View,
    /// Change the group's settings and permission sets.
    Edit,
    /// Add and remove members.
    ManageMembers,
    Delete,
}

impl GroupAction {
    pub const ALL: [GroupAction; 4] =
        [GroupAction::View, GroupAction::Edit, GroupAction::ManageMembers, GroupAction::Delete];

    pub fn name(self) -> &'static str {
        match self {
            GroupAction::View => "view",
            GroupAction::Edit => "edit",
            GroupAction::ManageMembers => "manage_members",
            GroupAction::Delete => "delete",
        }
    }

    pub fn parse(name: &str) -> Option<GroupAction> {
        GroupAction::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// The group actions a user may take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct GroupAccess {
    view: bool,
    edit: bool,
    manage_members: bool,
    delete: bool,
}

impl GroupAccess {
    const ALL: GroupAccess = GroupAccess { view: true, edit: true, manage_members: true, delete: true };

    fn from_permissions(p: GroupPermissions) -> GroupAccess {
        GroupAccess { view: !p.is_empty(), edit: p.edit, manage_members: p.edit, delete: p.delete }
    }

    fn union(self, o: GroupAccess) -> GroupAccess {
        GroupAccess {
            view: self.view || o.view,
            edit: self.edit || o.edit,
            manage_members: self.manage_members || o.manage_members,
            delete: self.delete || o.delete,
        }
    }

    pub fn allows(self, action: GroupAction) -> bool {
        match action {
            GroupAction::View => self.view,
            GroupAction::Edit => self.edit,
            GroupAction::ManageMembers => self.manage_members,
            GroupAction::Delete => self.delete,
        }
    }

    fn names(self) -> String {
        GroupAction::ALL.into_iter().filter(|a| self.allows(*a)).map(GroupAction::name).collect::<Vec<_>>().join(",")
    }
}

impl WorkspaceIndex {
    /// What `u` may do to group `g`; with `reasons`, also every chain that gives something.
    pub(crate) fn group_access(
        &self,
        u: UserIx,
        user: &UserRec,
        g: GroupIx,
        mut reasons: Option<&mut Vec<Path>>,
    ) -> GroupAccess {
        let Some(group) = self.group(g) else { return GroupAccess::default() };
        let gid = group.id.to_string();
        let mut access = GroupAccess::default();
        let mut give = |part: GroupAccess, steps: Vec<Step>| {
            if part == GroupAccess::default() {
                return;
            }
            access = access.union(part);
            if let Some(reasons) = reasons.as_deref_mut() {
                reasons.push(Path { gives: part.names(), steps, blocked: false });
            }
        };
        let permission_step =
            |set: &str, permissions| Step::PermissionSet { group: gid.clone(), set: set.to_string(), permissions };

        if self.is_admin(user) {
            let workspace_role = self.schema.workspace_roles[usize::from(user.ws_role)].clone();
            give(GroupAccess::ALL, vec![Step::Admin { workspace_role }]);
        }
        let role = group.role_of(u);
        match role {
            Some(MemberRole::Owner) => {
                let owners = group.builtin_set(BuiltinSet::Owners);
                give(
                    GroupAccess::from_permissions(owners),
                    vec![
                        Step::MembershipRole { group: gid.clone(), role: MemberRole::Owner },
                        permission_step(BuiltinSet::Owners.id(), owners),
                    ],
                );
            }
            Some(MemberRole::Editor) => give(
                GroupAccess { view: true, manage_members: true, ..Default::default() },
                vec![Step::MembershipRole { group: gid.clone(), role: MemberRole::Editor }],
            ),
            _ => {}
        }
        if role != Some(MemberRole::Owner) && group.members.contains(u) {
            let members = group.builtin_set(BuiltinSet::Members);
            let mut steps = self.membership_steps(u, g);
            steps.push(permission_step(BuiltinSet::Members.id(), members));
            give(GroupAccess::from_permissions(members), steps);
        }
        if user.kind == UserKind::Regular {
            let everyone = group.builtin_set(BuiltinSet::Everyone);
            give(GroupAccess::from_permissions(everyone), vec![permission_step(BuiltinSet::Everyone.id(), everyone)]);
        }
        for set in group.sets.iter().filter(|s| s.builtin.is_none()) {
            let mut steps = if set.users.contains(u) {
                Some(Vec::new())
            } else {
                let via = set.groups.iter().find(|h| self.group(**h).is_some_and(|x| x.members.contains(u)));
                via.map(|h| self.membership_steps(u, *h))
            };
            if let Some(steps) = steps.as_mut() {
                steps.push(permission_step(&set.id, set.permissions));
                give(GroupAccess::from_permissions(set.permissions), std::mem::take(steps));
            }
        }
        if group.visibility == Visibility::Public {
            give(GroupAccess { view: true, ..Default::default() }, vec![Step::PublicGroup { group: gid.clone() }]);
        }
        if group.builtin.is_some() {
            // INVARIANT: built-in groups are never deleted and never edited by hand.
            access.delete = false;
            access.manage_members = false;
        }
        access
    }

    /// Users who may take `action` on group `g`, by set operations.
    pub(crate) fn group_subjects(&self, g: GroupIx, action: GroupAction) -> RoaringBitmap {
        let Some(group) = self.group(g) else { return RoaringBitmap::new() };
        if group.builtin.is_some() && matches!(action, GroupAction::Delete | GroupAction::ManageMembers) {
            return RoaringBitmap::new();
        }
        let mut out = self.admin_users();
        let everyone_users = self.group(self.everyone).map(|x| x.members.clone()).unwrap_or_default();
        for set in &group.sets {
            if !GroupAccess::from_permissions(set.permissions).allows(action) {
                continue;
            }
            match set.builtin {
                Some(BuiltinSet::Owners) => out |= &group.owners,
                Some(BuiltinSet::Members) => out |= &group.members - &group.owners,
                Some(BuiltinSet::Everyone) => out |= &everyone_users,
                None => {
                    out |= &set.users;
                    for h in &set.groups {
                        if let Some(h) = self.group(*h) {
                            out |= &h.members;
                        }
                    }
                }
            }
        }
        if matches!(action, GroupAction::View | GroupAction::ManageMembers) {
            out |= &group.editors;
        }
        if action == GroupAction::View && group.visibility == Visibility::Public {
            out |= &self.all_users;
        }
        out
    }

    /// Whether `u` holds capability `cap`; with `reasons`, the chains that decide it.
    pub(crate) fn capability_access(
        &self,
        user: &UserRec,
        cap: usize,
        mut reasons: Option<(&mut Vec<Path>, &mut Vec<Vec<Step>>)>,
        u: UserIx,
    ) -> bool {
        let def = &self.schema.capabilities[cap];
        let role_name = |w: u8| self.schema.workspace_roles[usize::from(w)].clone();
        let admin = self.is_admin(user);
        let groups = self.groups_of(user);
        let (mut allowed, mut denied) = (false, false);
        for policy in self.policies.iter().flatten() {
            let Some(effect) = policy.rules.get(&cap) else { continue };
            for &g in policy.groups.iter().filter(|g| groups.contains(**g)) {
                match effect {
                    Effect::Allow => allowed = true,
                    Effect::Deny => denied = true,
                }
                if let Some((paths, denies)) = reasons.as_mut() {
                    let mut steps = self.membership_steps(u, g);
                    steps.push(Step::Policy {
                        policy: policy.id.to_string(),
                        group: self.group_id(g).to_string(),
                        capability: def.name.clone(),
                        effect: *effect,
                    });
                    match effect {
                        Effect::Allow => paths.push(Path { gives: "allow".into(), steps, blocked: false }),
                        Effect::Deny => denies.push(steps),
                    }
                }
            }
        }
        let by_default = user.ws_role >= def.min_role;
        if let Some((paths, _)) = reasons.as_mut() {
            if admin {
                paths.insert(
                    0,
                    Path {
                        gives: "allow".into(),
                        steps: vec![Step::Admin { workspace_role: role_name(user.ws_role) }],
                        blocked: false,
                    },
                );
            }
            if by_default {
                paths.push(Path {
                    gives: "allow".into(),
                    steps: vec![Step::CapabilityDefault {
                        capability: def.name.clone(),
                        workspace_role: role_name(user.ws_role),
                        min_role: role_name(def.min_role),
                    }],
                    blocked: false,
                });
            }
            // A deny anywhere blocks every allow but an admin's.
            for p in paths.iter_mut() {
                if !matches!(p.steps.first(), Some(Step::Admin { .. })) {
                    p.blocked = denied && !admin;
                }
            }
        }
        admin || (!denied && (allowed || by_default))
    }

    /// Users who hold capability `cap`, by set operations.
    pub(crate) fn capability_subjects(&self, cap: usize) -> RoaringBitmap {
        let def = &self.schema.capabilities[cap];
        let roles = (def.min_role..self.schema.workspace_roles.len() as u8).collect::<Vec<_>>();
        let mut out = self.users_with_ws_roles(roles.into_iter());
        let (mut allowed, mut denied) = (RoaringBitmap::new(), RoaringBitmap::new());
        for policy in self.policies.iter().flatten() {
            let Some(effect) = policy.rules.get(&cap) else { continue };
            for g in &policy.groups {
                let Some(group) = self.group(*g) else { continue };
                match effect {
                    Effect::Allow => allowed |= &group.members,
                    Effect::Deny => denied |= &group.members,
                }
            }
        }
        out |= allowed;
        out -= denied;
        out | self.admin_users()
    }

    pub(crate) fn parse_group_action(action: &str) -> Result<GroupAction, EngineError> {
        GroupAction::parse(action)
            .ok_or_else(|| EngineError::UnknownAction { kind: "group".into(), action: action.to_string() })
    }
}
