//! Applying a change to a workspace: `prepare` checks everything and resolves ids into a
//! [`Plan`] without touching the index; `commit` carries the plan out and cannot fail. So a
//! refused change never leaves a partial update behind, and `validate` is just `prepare`.

use std::collections::{BTreeMap, BTreeSet};

use roaring::RoaringBitmap;
use rolecall_model::{
    Effect, GroupPermissions, LimitKind, MemberRole, Notify, Op, ResourceRef, Subject, TypeIx, UserKind, Visibility,
    WsRoleIx, validate_id,
};

use crate::EngineError;
use crate::index::{
    BuiltinSet, Grant, GroupIx, NO_PARENT, PermissionSetRec, PolicyIx, PolicyRec, ResIx, ResourceRec, Scope, UserIx,
    UserRec, WorkspaceIndex,
};

/// A subject resolved to its index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sub {
    User(UserIx),
    Group(GroupIx),
}

/// A checked change, ready to commit.
#[derive(Debug)]
pub(crate) enum Plan {
    Nothing,
    PutUser { existing: Option<UserIx>, id: String, ws_role: WsRoleIx, kind: UserKind },
    DeleteUser(UserIx),
    SetActive { u: UserIx, active: bool },
    PutGroup { existing: Option<GroupIx>, id: String, visibility: Visibility, apply_privileges: bool, notify: Notify },
    DeleteGroup(GroupIx),
    PutMember { g: GroupIx, u: UserIx, role: MemberRole },
    RemoveMember { g: GroupIx, u: UserIx },
    PutChild { g: GroupIx, child: GroupIx },
    RemoveChild { g: GroupIx, child: GroupIx },
    PutSet { g: GroupIx, existing: Option<usize>, id: String, permissions: GroupPermissions },
    DeleteSet { g: GroupIx, set: usize },
    PutAssignee { g: GroupIx, set: usize, sub: Sub },
    RemoveAssignee { g: GroupIx, set: usize, sub: Sub },
    PutPolicy { existing: Option<PolicyIx>, id: String, rules: BTreeMap<usize, Effect> },
    DeletePolicy(PolicyIx),
    Attach { g: GroupIx, p: PolicyIx },
    Detach { g: GroupIx, p: PolicyIx },
    PutScope { g: GroupIx, dataset: usize, scope: Scope },
    RemoveScope { g: GroupIx, dataset: usize },
    PutResource { existing: Option<ResIx>, ty: TypeIx, id: String, parent: Option<ResIx> },
    DeleteResource(ResIx),
    PutGrant { r: ResIx, sub: Sub, grant: Grant },
    RemoveGrant { r: ResIx, sub: Sub, grant: Grant },
}

/// The most values one attribute of a data scope may list.
pub const MAX_SCOPE_VALUES: usize = 10_000;

impl WorkspaceIndex {
    fn sub(&self, subject: &Subject) -> Result<Sub, EngineError> {
        Ok(match subject {
            Subject::User(id) => Sub::User(self.user_by_id(id)?),
            Subject::Group(id) => Sub::Group(self.group_by_id(id)?),
        })
    }

    fn custom_group(&self, id: &str, what: &'static str) -> Result<GroupIx, EngineError> {
        let g = self.group_by_id(id)?;
        if self.group(g).is_some_and(|x| x.builtin.is_some()) {
            return Err(EngineError::BuiltinGroup { group: id.to_string(), what });
        }
        Ok(g)
    }

    fn set_of(&self, g: GroupIx, group: &str, set: &str) -> Result<usize, EngineError> {
        self.group(g)
            .and_then(|x| x.set(set))
            .ok_or_else(|| EngineError::PermissionSetNotFound { group: group.to_string(), set: set.to_string() })
    }

    fn editable_set(&self, g: GroupIx, group: &str, set: &str, what: &'static str) -> Result<usize, EngineError> {
        let s = self.set_of(g, group, set)?;
        if self.group(g).and_then(|x| x.sets.get(s)).is_some_and(|x| x.builtin.is_some()) {
            return Err(EngineError::BuiltinPermissionSet(set.to_string(), what));
        }
        Ok(s)
    }

    fn grant_of(&self, r: ResIx, sub: Sub) -> Option<Grant> {
        let res = self.resource(r)?;
        match sub {
            Sub::User(u) => res.user_grant(u),
            Sub::Group(g) => res.group_grant(g),
        }
    }

    /// The role `subject` holds on `resource`, if any: the deny role by name too.
    pub fn grant(&self, resource: &ResourceRef, subject: &Subject) -> Result<Option<String>, EngineError> {
        let r = self.resource_by_ref(resource)?;
        let sub = self.sub(subject)?;
        let ty = self.schema.ty(self.resource(r).map_or(0, |x| x.ty));
        Ok(self.grant_of(r, sub).map(|g| match g {
            Grant::Role(l) => ty.role_name(l).to_string(),
            Grant::Deny => ty.deny_role.clone().unwrap_or_default(),
        }))
    }

    /// Checks `op` against the current state and resolves it into a plan.
    pub(crate) fn prepare(&self, op: &Op) -> Result<Plan, EngineError> {
        let limits = self.limits;
        Ok(match op {
            Op::CreateWorkspace { .. } | Op::DeleteWorkspace | Op::ReplaceSchema { .. } => Plan::Nothing,

            Op::PutUser { user, workspace_role, kind } => {
                validate_id("user", user)?;
                let ws_role = self
                    .schema
                    .ws_role(workspace_role)
                    .ok_or_else(|| EngineError::UnknownWorkspaceRole(workspace_role.clone()))?;
                let existing = self.user_ix_of(user);
                let u = existing.unwrap_or(self.users.len());
                let mut just_u = RoaringBitmap::new();
                just_u.insert(u);
                if *kind == UserKind::Regular {
                    self.check_member_limit(self.everyone, &just_u)?;
                }
                if self.schema.ws_role_is_admin(ws_role) {
                    self.check_member_limit(self.admins, &just_u)?;
                }
                Plan::PutUser { existing, id: user.clone(), ws_role, kind: *kind }
            }
            Op::DeleteUser { user } => Plan::DeleteUser(self.user_by_id(user)?),
            Op::SetUserActive { user, active } => {
                let u = self.user_by_id(user)?;
                if self.is_suspended(u) != *active { Plan::Nothing } else { Plan::SetActive { u, active: *active } }
            }

            Op::PutGroup { group, visibility, apply_privileges, notify } => {
                validate_id("group", group)?;
                let existing = self.group_ix.get(group.as_str()).copied();
                if existing.is_none() && self.custom_groups >= limits.max_groups {
                    return Err(EngineError::LimitExceeded {
                        limit: LimitKind::GroupsPerWorkspace,
                        max: u64::from(limits.max_groups),
                        group: None,
                    });
                }
                Plan::PutGroup {
                    existing,
                    id: group.clone(),
                    visibility: *visibility,
                    apply_privileges: *apply_privileges,
                    notify: *notify,
                }
            }
            Op::DeleteGroup { group } => Plan::DeleteGroup(self.custom_group(group, "it cannot be deleted")?),

            Op::PutMember { group, user, role } => {
                let g = self.custom_group(group, "its members are kept automatically")?;
                let u = self.user_by_id(user)?;
                let Some(grp) = self.group(g) else { return Err(EngineError::GroupNotFound(group.clone())) };
                let current = grp.role_of(u);
                if current == Some(*role) {
                    return Ok(Plan::Nothing);
                }
                if *role == MemberRole::Owner && grp.owners.len() >= u64::from(limits.max_owners) {
                    return Err(EngineError::LimitExceeded {
                        limit: LimitKind::OwnersPerGroup,
                        max: u64::from(limits.max_owners),
                        group: Some(group.clone()),
                    });
                }
                if current == Some(MemberRole::Owner) && grp.owners.len() == 1 {
                    return Err(EngineError::LastOwner(group.clone()));
                }
                if current.is_none() {
                    let mut just_u = RoaringBitmap::new();
                    just_u.insert(u);
                    self.check_member_limit(g, &just_u)?;
                }
                Plan::PutMember { g, u, role: *role }
            }
            Op::RemoveMember { group, user } => {
                let g = self.custom_group(group, "its members are kept automatically")?;
                let u = self.user_by_id(user)?;
                let Some(grp) = self.group(g) else { return Err(EngineError::GroupNotFound(group.clone())) };
                match grp.role_of(u) {
                    None => {
                        return Err(EngineError::MemberNotFound { group: group.clone(), user: user.clone() });
                    }
                    Some(MemberRole::Owner) if grp.owners.len() == 1 => {
                        return Err(EngineError::LastOwner(group.clone()));
                    }
                    Some(_) => Plan::RemoveMember { g, u },
                }
            }
            Op::PutChildGroup { group, child } => {
                let g = self.custom_group(group, "its members are kept automatically")?;
                let c = self.group_by_id(child)?;
                let Some(grp) = self.group(g) else { return Err(EngineError::GroupNotFound(group.clone())) };
                if grp.children.contains(&c) {
                    return Ok(Plan::Nothing);
                }
                // INVARIANT: the group graph stays acyclic: `child` may not be `group` or
                // any group that `group` is already nested in.
                if grp.ancestors.contains(c) {
                    return Err(EngineError::Cycle { group: group.clone(), child: child.clone() });
                }
                let joining = self.group(c).map(|x| x.members.clone()).unwrap_or_default();
                self.check_member_limit(g, &joining)?;
                Plan::PutChild { g, child: c }
            }
            Op::RemoveChildGroup { group, child } => {
                let g = self.custom_group(group, "its members are kept automatically")?;
                let c = self.group_by_id(child)?;
                if !self.group(g).is_some_and(|x| x.children.contains(&c)) {
                    return Err(EngineError::ChildNotFound { group: group.clone(), child: child.clone() });
                }
                Plan::RemoveChild { g, child: c }
            }

            Op::PutPermissionSet { group, set, permissions } => {
                let g = self.group_by_id(group)?;
                validate_id("permission set", set)?;
                if BuiltinSet::from_id(set) == Some(BuiltinSet::Owners) {
                    return Err(EngineError::BuiltinPermissionSet(set.clone(), "its permissions are fixed"));
                }
                let existing = self.group(g).and_then(|x| x.set(set));
                Plan::PutSet { g, existing, id: set.clone(), permissions: *permissions }
            }
            Op::DeletePermissionSet { group, set } => {
                let g = self.group_by_id(group)?;
                let set = self.editable_set(g, group, set, "it cannot be deleted")?;
                Plan::DeleteSet { g, set }
            }
            Op::PutAssignee { group, set, subject } => {
                let g = self.group_by_id(group)?;
                let s = self.editable_set(g, group, set, "its assignees follow membership")?;
                let sub = self.sub(subject)?;
                Plan::PutAssignee { g, set: s, sub }
            }
            Op::RemoveAssignee { group, set, subject } => {
                let g = self.group_by_id(group)?;
                let s = self.editable_set(g, group, set, "its assignees follow membership")?;
                let sub = self.sub(subject)?;
                let assigned = self.group(g).and_then(|x| x.sets.get(s)).is_some_and(|x| match sub {
                    Sub::User(u) => x.users.contains(u),
                    Sub::Group(h) => x.groups.contains(&h),
                });
                if !assigned {
                    return Err(EngineError::AssigneeNotFound { set: set.clone(), subject: subject.to_string() });
                }
                Plan::RemoveAssignee { g, set: s, sub }
            }

            Op::PutPolicy { policy, rules } => {
                validate_id("policy", policy)?;
                let mut resolved = BTreeMap::new();
                for (capability, effect) in rules {
                    let c = self
                        .schema
                        .capability(capability)
                        .ok_or_else(|| EngineError::UnknownCapability(capability.clone()))?;
                    resolved.insert(c, *effect);
                }
                let existing = self.policy_ix.get(policy.as_str()).copied();
                Plan::PutPolicy { existing, id: policy.clone(), rules: resolved }
            }
            Op::DeletePolicy { policy } => Plan::DeletePolicy(self.policy_by_id(policy)?),
            Op::AttachPolicy { group, policy } => {
                let g = self.group_by_id(group)?;
                let p = self.policy_by_id(policy)?;
                if self.group(g).is_some_and(|x| x.policies.contains(&p)) {
                    return Ok(Plan::Nothing);
                }
                Plan::Attach { g, p }
            }
            Op::DetachPolicy { group, policy } => {
                let g = self.group_by_id(group)?;
                let p = self.policy_by_id(policy)?;
                if !self.group(g).is_some_and(|x| x.policies.contains(&p)) {
                    return Err(EngineError::PolicyNotAttached { group: group.clone(), policy: policy.clone() });
                }
                Plan::Detach { g, p }
            }

            Op::PutDataScope { group, dataset, scope } => {
                let g = self.group_by_id(group)?;
                let d = self.schema.dataset(dataset).ok_or_else(|| EngineError::UnknownDataset(dataset.clone()))?;
                let def = &self.schema.datasets[d];
                let mut resolved = Scope::new();
                for (attribute, values) in scope {
                    if !def.attributes.contains(attribute) {
                        return Err(EngineError::UnknownAttribute {
                            dataset: dataset.clone(),
                            attribute: attribute.clone(),
                        });
                    }
                    if values.len() > MAX_SCOPE_VALUES {
                        return Err(EngineError::TooManyValues { attribute: attribute.clone(), max: MAX_SCOPE_VALUES });
                    }
                    resolved.insert(attribute.clone(), values.iter().cloned().collect::<BTreeSet<_>>());
                }
                Plan::PutScope { g, dataset: d, scope: resolved }
            }
            Op::RemoveDataScope { group, dataset } => {
                let g = self.group_by_id(group)?;
                let d = self.schema.dataset(dataset).ok_or_else(|| EngineError::UnknownDataset(dataset.clone()))?;
                if !self.group(g).is_some_and(|x| x.scopes.contains_key(&d)) {
                    return Err(EngineError::ScopeNotFound { group: group.clone(), dataset: dataset.clone() });
                }
                Plan::RemoveScope { g, dataset: d }
            }

            Op::PutResource { resource, parent } => {
                let ty = self.type_by_name(&resource.kind)?;
                validate_id("resource", &resource.id)?;
                let parent_ix = match parent {
                    None => None,
                    Some(p) => {
                        let expected = self.schema.ty(ty).parent;
                        let p_ty = self.type_by_name(&p.kind)?;
                        if expected != Some(p_ty) {
                            let reason = match expected {
                                Some(e) => format!("its parent must be of type `{}`", self.schema.ty(e).name),
                                None => format!("type `{}` has no parent type", resource.kind),
                            };
                            return Err(EngineError::InvalidParent {
                                resource: resource.to_string(),
                                parent: p.to_string(),
                                reason,
                            });
                        }
                        Some(self.resource_by_ref(p)?)
                    }
                };
                let existing = self.resource_ix_of(ty, &resource.id);
                if let Some(r) = existing
                    && self.resource(r).is_some_and(|x| x.parent == parent_ix)
                {
                    return Ok(Plan::Nothing);
                }
                Plan::PutResource { existing, ty, id: resource.id.clone(), parent: parent_ix }
            }
            Op::DeleteResource { resource } => {
                let r = self.resource_by_ref(resource)?;
                let children = self.resource(r).map_or(0, |x| x.children.len());
                if children > 0 {
                    return Err(EngineError::ResourceHasChildren { resource: resource.to_string(), children });
                }
                Plan::DeleteResource(r)
            }
            Op::PutGrant { resource, subject, role } => {
                let r = self.resource_by_ref(resource)?;
                let sub = self.sub(subject)?;
                let ty = self.schema.ty(self.resource(r).map_or(0, |x| x.ty));
                let grant =
                    if ty.is_deny_role(role) {
                        Grant::Deny
                    } else {
                        Grant::Role(ty.role_level(role).ok_or_else(|| EngineError::UnknownRole {
                            kind: resource.kind.clone(),
                            role: role.clone(),
                        })?)
                    };
                if self.grant_of(r, sub) == Some(grant) {
                    return Ok(Plan::Nothing);
                }
                Plan::PutGrant { r, sub, grant }
            }
            Op::RemoveGrant { resource, subject } => {
                let r = self.resource_by_ref(resource)?;
                let sub = self.sub(subject)?;
                let grant = self.grant_of(r, sub).ok_or_else(|| EngineError::GrantNotFound {
                    resource: resource.to_string(),
                    subject: subject.to_string(),
                })?;
                Plan::RemoveGrant { r, sub, grant }
            }
        })
    }

    /// Carries out a plan made by [`WorkspaceIndex::prepare`] against the same state.
    pub(crate) fn commit(&mut self, plan: Plan) {
        match plan {
            Plan::Nothing => {}
            Plan::PutUser { existing, id, ws_role, kind } => self.put_user(existing, id, ws_role, kind),
            Plan::DeleteUser(u) => {
                self.suspended.remove(u);
                self.delete_user(u)
            }
            Plan::SetActive { u, active } => {
                if active {
                    self.suspended.remove(u);
                } else {
                    self.suspended.insert(u);
                }
            }
            Plan::PutGroup { existing: Some(g), visibility, apply_privileges, notify, .. } => {
                if let Some(group) = self.group_mut(g) {
                    group.visibility = visibility;
                    group.apply_privileges = apply_privileges;
                    group.notify = notify;
                }
                if let Some(applies) = self.applies.get_mut(g as usize) {
                    *applies = apply_privileges;
                }
            }
            Plan::PutGroup { existing: None, id, visibility, apply_privileges, notify } => {
                self.insert_group(&id, None, visibility, apply_privileges, notify);
            }
            Plan::DeleteGroup(g) => self.delete_group(g),
            Plan::PutMember { g, u, role } => self.add_direct_member(g, u, role),
            Plan::RemoveMember { g, u } => self.remove_direct_member(g, u),
            Plan::PutChild { g, child } => self.add_child(g, child),
            Plan::RemoveChild { g, child } => self.remove_child(g, child),
            Plan::PutSet { g, existing, id, permissions } => {
                let Some(group) = self.group_mut(g) else { return };
                match existing {
                    Some(s) => group.sets[s].permissions = permissions,
                    None => group.sets.push(PermissionSetRec {
                        id: id.into(),
                        builtin: None,
                        permissions,
                        users: RoaringBitmap::new(),
                        groups: BTreeSet::new(),
                    }),
                }
            }
            Plan::DeleteSet { g, set } => {
                if let Some(group) = self.group_mut(g) {
                    group.sets.remove(set);
                }
            }
            Plan::PutAssignee { g, set, sub } => {
                if let Some(s) = self.group_mut(g).and_then(|x| x.sets.get_mut(set)) {
                    match sub {
                        Sub::User(u) => s.users.insert(u),
                        Sub::Group(h) => s.groups.insert(h),
                    };
                }
            }
            Plan::RemoveAssignee { g, set, sub } => {
                if let Some(s) = self.group_mut(g).and_then(|x| x.sets.get_mut(set)) {
                    match sub {
                        Sub::User(u) => s.users.remove(u),
                        Sub::Group(h) => s.groups.remove(&h),
                    };
                }
            }
            Plan::PutPolicy { existing: Some(p), rules, .. } => {
                if let Some(Some(policy)) = self.policies.get_mut(p as usize) {
                    policy.rules = rules;
                }
            }
            Plan::PutPolicy { existing: None, id, rules } => {
                let p = self.policies.len() as PolicyIx;
                self.policies.push(Some(PolicyRec { id: id.as_str().into(), rules, groups: BTreeSet::new() }));
                self.policy_ix.insert(id.into(), p);
            }
            Plan::DeletePolicy(p) => {
                let Some(policy) = self.policies.get_mut(p as usize).and_then(Option::take) else { return };
                self.policy_ix.remove(&*policy.id);
                for g in policy.groups {
                    if let Some(group) = self.group_mut(g) {
                        group.policies.remove(&p);
                    }
                }
            }
            Plan::Attach { g, p } => {
                if let Some(group) = self.group_mut(g) {
                    group.policies.insert(p);
                }
                if let Some(Some(policy)) = self.policies.get_mut(p as usize) {
                    policy.groups.insert(g);
                }
            }
            Plan::Detach { g, p } => {
                if let Some(group) = self.group_mut(g) {
                    group.policies.remove(&p);
                }
                if let Some(Some(policy)) = self.policies.get_mut(p as usize) {
                    policy.groups.remove(&g);
                }
            }
            Plan::PutScope { g, dataset, scope } => {
                if let Some(group) = self.group_mut(g) {
                    group.scopes.insert(dataset, scope);
                }
            }
            Plan::RemoveScope { g, dataset } => {
                if let Some(group) = self.group_mut(g) {
                    group.scopes.remove(&dataset);
                }
            }
            Plan::PutResource { existing, ty, id, parent } => self.put_resource(existing, ty, id, parent),
            Plan::DeleteResource(r) => self.delete_resource(r),
            Plan::PutGrant { r, sub, grant } => {
                if let Some(old) = self.grant_of(r, sub) {
                    self.unset_grant(r, sub, old);
                }
                self.set_grant(r, sub, grant);
            }
            Plan::RemoveGrant { r, sub, grant } => self.unset_grant(r, sub, grant),
        }
    }

    fn put_user(&mut self, existing: Option<UserIx>, id: String, ws_role: WsRoleIx, kind: UserKind) {
        let u = match existing {
            Some(u) => u,
            None => {
                let u = self.users.len();
                self.users.push(UserRec {
                    id: id.as_str().into(),
                    ws_role,
                    kind,
                    groups: Vec::new(),
                    reach: Default::default(),
                    grants: Default::default(),
                });
                let users = &self.users;
                self.user_ix.insert(&id, u, |x| users.get(x).map(|r| r.id.as_str()));
                self.all_users.insert(u);
                u
            }
        };
        let Some(user) = self.user_mut(u) else { return };
        let old_role = std::mem::replace(&mut user.ws_role, ws_role);
        user.kind = kind;
        if let Some(set) = self.ws_role_users.get_mut(usize::from(old_role)) {
            set.remove(u);
        }
        if let Some(set) = self.ws_role_users.get_mut(usize::from(ws_role)) {
            set.insert(u);
        }
        // INVARIANT: Everyone holds exactly the regular users, Workspace Admins exactly the
        // users with an admin workspace role.
        let (everyone, admins) = (self.everyone, self.admins);
        let regular = kind == UserKind::Regular;
        let admin = self.schema.ws_role_is_admin(ws_role);
        for (g, belongs) in [(everyone, regular), (admins, admin)] {
            let is_member = self.group(g).is_some_and(|x| x.direct.contains(u));
            if belongs && !is_member {
                self.add_direct_member(g, u, MemberRole::Member);
            } else if !belongs && is_member {
                self.remove_direct_member(g, u);
            }
        }
    }

    fn delete_user(&mut self, u: UserIx) {
        let Some(user) = self.user(u).cloned() else { return };
        for &g in &user.groups {
            self.remove_direct_member(g, u);
        }
        for (r, grant) in user.grants.all() {
            self.unset_grant(r, Sub::User(u), grant);
        }
        for group in self.groups.values_mut() {
            for set in &mut group.sets {
                set.users.remove(u);
            }
        }
        if let Some(set) = self.ws_role_users.get_mut(usize::from(user.ws_role)) {
            set.remove(u);
        }
        self.all_users.remove(u);
        let users = &self.users;
        self.user_ix.remove(&user.id, |x| users.get(x).map(|r| r.id.as_str()));
        self.users.clear(u);
    }

    fn delete_group(&mut self, g: GroupIx) {
        let Some(group) = self.group(g).cloned() else { return };
        // Detach from above first: `g` becomes a root, so dropping it cannot change any
        // other group's members.
        for &p in &group.parents {
            self.remove_child(p, g);
        }
        for &c in &group.children {
            self.remove_child(g, c);
        }
        for u in &group.direct {
            if let Some(user) = self.user_mut(u) {
                user.groups.retain(|x| *x != g);
            }
        }
        self.refresh_reach(&group.direct);
        for (r, grant) in group.grants.all() {
            self.unset_grant(r, Sub::Group(g), grant);
        }
        for other in self.groups.values_mut() {
            for set in &mut other.sets {
                set.groups.remove(&g);
            }
        }
        for &p in &group.policies {
            if let Some(Some(policy)) = self.policies.get_mut(p as usize) {
                policy.groups.remove(&g);
            }
        }
        self.group_ix.remove(&*group.id);
        self.all_groups.remove(g);
        if let Some(applies) = self.applies.get_mut(g as usize) {
            *applies = false;
        }
        self.custom_groups -= 1;
        self.groups.clear(g);
    }

    fn put_resource(&mut self, existing: Option<ResIx>, ty: TypeIx, id: String, parent: Option<ResIx>) {
        let t = usize::from(ty);
        let r = match existing {
            Some(r) => {
                let old = self.resource(r).and_then(|x| x.parent);
                if let Some(old) = old.and_then(|p| self.resource_mut(p)) {
                    old.children.remove(r);
                }
                r
            }
            None => {
                let r = self.resources.len();
                let roles = self.schema.ty(ty).roles.len();
                self.resources.push(ResourceRec {
                    ty,
                    id: id.as_str().into(),
                    parent: None,
                    children: RoaringBitmap::new(),
                    user_roles: vec![RoaringBitmap::new(); roles],
                    user_deny: RoaringBitmap::new(),
                    user_grants: Default::default(),
                    group_grants: Default::default(),
                });
                let resources = &self.resources;
                let id_of = |x: u32| resources.get(x).map(|r| r.id.as_str());
                self.resource_ix[t].insert(&id, r, id_of);
                self.of_type[t].insert(r);
                r
            }
        };
        if let Some(res) = self.resource_mut(r) {
            res.parent = parent;
        }
        let at = r as usize;
        if self.parent_hint.len() <= at {
            self.parent_hint.resize(at + 1, NO_PARENT);
        }
        self.parent_hint[at] = parent.unwrap_or(NO_PARENT);
        match parent {
            Some(p) => {
                if let Some(p) = self.resource_mut(p) {
                    p.children.insert(r);
                }
                self.with_parent[t].insert(r);
            }
            None => {
                self.with_parent[t].remove(r);
            }
        }
    }

    fn delete_resource(&mut self, r: ResIx) {
        let Some(res) = self.resource(r).cloned() else { return };
        for (l, users) in res.user_roles.iter().enumerate() {
            for u in users {
                self.unset_grant(r, Sub::User(u), Grant::Role(l as u8));
            }
        }
        for u in &res.user_deny {
            self.unset_grant(r, Sub::User(u), Grant::Deny);
        }
        for &(g, grant) in &res.group_grants {
            self.unset_grant(r, Sub::Group(g), grant);
        }
        if let Some(p) = res.parent.and_then(|p| self.resource_mut(p)) {
            p.children.remove(r);
        }
        let t = usize::from(res.ty);
        let resources = &self.resources;
        let id_of = |x: u32| resources.get(x).map(|r| r.id.as_str());
        self.resource_ix[t].remove(&res.id, id_of);
        self.of_type[t].remove(r);
        self.with_parent[t].remove(r);
        if let Some(hint) = self.parent_hint.get_mut(r as usize) {
            *hint = NO_PARENT;
        }
        self.resources.clear(r);
    }

    fn set_grant(&mut self, r: ResIx, sub: Sub, grant: Grant) {
        let Some(res) = self.resource_mut(r) else { return };
        let ty = res.ty;
        match (sub, grant) {
            (Sub::User(u), Grant::Role(l)) => {
                if let Some(set) = res.user_roles.get_mut(usize::from(l)) {
                    set.insert(u);
                }
            }
            (Sub::User(u), Grant::Deny) => {
                res.user_deny.insert(u);
            }
            (Sub::Group(g), _) => res.group_grants.push((g, grant)),
        }
        if let Sub::User(u) = sub {
            match res.user_grants.binary_search_by_key(&u, |(x, _)| *x) {
                Ok(at) => res.user_grants[at].1 = grant,
                Err(at) => res.user_grants.insert(at, (u, grant)),
            }
        }
        match sub {
            Sub::User(u) => {
                if let Some(user) = self.user_mut(u) {
                    user.grants.insert(ty, r, grant);
                }
            }
            Sub::Group(g) => {
                if let Some(group) = self.group_mut(g) {
                    group.grants.insert(ty, r, grant);
                }
            }
        }
    }

    fn unset_grant(&mut self, r: ResIx, sub: Sub, grant: Grant) {
        let Some(res) = self.resource_mut(r) else { return };
        let ty = res.ty;
        match (sub, grant) {
            (Sub::User(u), Grant::Role(l)) => {
                if let Some(set) = res.user_roles.get_mut(usize::from(l)) {
                    set.remove(u);
                }
            }
            (Sub::User(u), Grant::Deny) => {
                res.user_deny.remove(u);
            }
            (Sub::Group(g), _) => res.group_grants.retain(|(x, _)| *x != g),
        }
        if let Sub::User(u) = sub
            && let Ok(at) = res.user_grants.binary_search_by_key(&u, |(x, _)| *x)
        {
            res.user_grants.remove(at);
        }
        match sub {
            Sub::User(u) => {
                if let Some(user) = self.user_mut(u) {
                    user.grants.remove(ty, r, grant);
                }
            }
            Sub::Group(g) => {
                if let Some(group) = self.group_mut(g) {
                    group.grants.remove(ty, r, grant);
                }
            }
        }
    }
}
