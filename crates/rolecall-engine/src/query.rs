//! The questions an application asks, for every kind of resource: schema resources,
//! groups (`{"type": "group"}`) and the workspace itself (`{"type": "workspace"}`).

use roaring::RoaringBitmap;
use rolecall_model::{GROUP_TYPE, ResourceRef, RoleLevel, TypeIx, WORKSPACE_TYPE};

use crate::EngineError;
use crate::access::Decision;
use crate::explain::Explanation;
use crate::index::{GroupIx, UserIx, WorkspaceIndex};
use crate::manage::GroupAction;

/// What kind of thing a question is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Typed(TypeIx),
    Group,
    Workspace,
}

/// The resources a lookup found, in the order they were registered.
#[derive(Clone, Debug)]
pub struct ResourceSet<'a> {
    index: &'a WorkspaceIndex,
    kind: Kind,
    set: RoaringBitmap,
}

impl<'a> ResourceSet<'a> {
    pub fn len(&self) -> u64 {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The ids of the resources found.
    pub fn ids(&self) -> impl Iterator<Item = &'a str> + '_ {
        let index = self.index;
        self.set.iter().map(move |x| match self.kind {
            Kind::Typed(_) => index.resource(x).map_or("", |r| &*r.id),
            Kind::Group => index.group_id(x),
            Kind::Workspace => index.id(),
        })
    }

    /// Whether a resource of the looked-up type with this id was found.
    pub fn contains(&self, id: &str) -> bool {
        let ix = match self.kind {
            Kind::Typed(t) => self.index.resource_ix_of(t, id),
            Kind::Group => self.index.group_ix.get(id).copied(),
            Kind::Workspace => (id == self.index.id()).then_some(0),
        };
        ix.is_some_and(|x| self.set.contains(x))
    }
}

/// How the role of each user in a [`SubjectSet`] is found.
#[derive(Clone, Debug)]
enum RoleOf {
    /// For each role level, highest first, the users whose effective role is at least it.
    Levels(TypeIx, Vec<(RoleLevel, RoaringBitmap)>),
    Membership(GroupIx),
    WorkspaceRole,
}

/// The users a lookup found, with their role, in the order they were created.
#[derive(Clone, Debug)]
pub struct SubjectSet<'a> {
    index: &'a WorkspaceIndex,
    users: RoaringBitmap,
    roles: RoleOf,
}

impl<'a> SubjectSet<'a> {
    pub fn len(&self) -> u64 {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    fn role_of(&self, u: UserIx) -> Option<&'a str> {
        let index = self.index;
        match &self.roles {
            RoleOf::Levels(t, levels) => {
                let level = levels.iter().find(|(_, users)| users.contains(u)).map(|(l, _)| *l)?;
                Some(index.schema.ty(*t).role_name(level))
            }
            RoleOf::Membership(g) => index.group(*g).and_then(|x| x.role_of(u)).map(|r| r.as_str()),
            RoleOf::WorkspaceRole => {
                index.user(u).map(|x| index.schema.workspace_roles[usize::from(x.ws_role)].as_str())
            }
        }
    }

    /// Each user found, with their role.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + '_ {
        self.users.iter().map(|u| (self.index.user_id(u), self.role_of(u)))
    }

    /// Whether the user with this id was found, and their role.
    pub fn get(&self, user: &str) -> Option<Option<&'a str>> {
        let u = self.index.user_ix_of(user)?;
        self.users.contains(u).then(|| self.role_of(u))
    }
}

impl WorkspaceIndex {
    fn kind(&self, kind: &str) -> Result<Kind, EngineError> {
        Ok(match kind {
            WORKSPACE_TYPE => Kind::Workspace,
            GROUP_TYPE => Kind::Group,
            _ => Kind::Typed(self.type_by_name(kind)?),
        })
    }

    fn capability_by_name(&self, action: &str) -> Result<usize, EngineError> {
        self.schema
            .capability(action)
            .ok_or_else(|| EngineError::UnknownAction { kind: WORKSPACE_TYPE.into(), action: action.to_string() })
    }

    fn this_workspace(&self, resource: &ResourceRef) -> Result<(), EngineError> {
        if resource.id == self.id { Ok(()) } else { Err(EngineError::ResourceNotFound(resource.to_string())) }
    }

    /// Whether `user` is a suspended user.
    fn suspended_id(&self, user: &str) -> bool {
        !self.suspended.is_empty() && self.user_ix_of(user).is_some_and(|u| self.suspended.contains(u))
    }

    /// May `user` do `action` on `resource`, and with which effective role? A suspended
    /// user may do nothing.
    pub fn check(&self, user: &str, action: &str, resource: &ResourceRef) -> Result<Decision<'_>, EngineError> {
        let decision = self.check_held(user, action, resource)?;
        Ok(if self.suspended_id(user) { Decision { allowed: false, role: None } } else { decision })
    }

    fn check_held(&self, user: &str, action: &str, resource: &ResourceRef) -> Result<Decision<'_>, EngineError> {
        match self.kind(&resource.kind)? {
            Kind::Typed(t) => self.check_resource(t, user, action, resource),
            Kind::Group => {
                let a = Self::parse_group_action(action)?;
                let (u, rec) = self.user_rec(user)?;
                let g = self.group_by_id(&resource.id)?;
                let allowed = self.group_access(u, rec, g, None).allows(a);
                let role = self.group(g).and_then(|x| x.role_of(u)).map(|r| r.as_str());
                Ok(Decision { allowed, role })
            }
            Kind::Workspace => {
                let cap = self.capability_by_name(action)?;
                let (u, rec) = self.user_rec(user)?;
                self.this_workspace(resource)?;
                let allowed = self.capability_access(rec, cap, None, u);
                let role = Some(self.schema.workspace_roles[usize::from(rec.ws_role)].as_str());
                Ok(Decision { allowed, role })
            }
        }
    }

    /// Every chain that gives `user` access to `resource`, and every deny that blocks it
    /// (a suspended user's chains are all blocked).
    pub fn explain(&self, user: &str, action: &str, resource: &ResourceRef) -> Result<Explanation, EngineError> {
        let mut explanation = self.explain_held(user, action, resource)?;
        if self.suspended_id(user) {
            explanation.allowed = false;
            explanation.role = None;
            explanation.paths.iter_mut().for_each(|p| p.blocked = true);
            explanation.denied_by.insert(0, vec![crate::explain::Step::Suspended { user: user.to_string() }]);
        }
        Ok(explanation)
    }

    fn explain_held(&self, user: &str, action: &str, resource: &ResourceRef) -> Result<Explanation, EngineError> {
        match self.kind(&resource.kind)? {
            Kind::Typed(t) => self.explain_resource(t, user, action, resource),
            Kind::Group => {
                let a = Self::parse_group_action(action)?;
                let (u, rec) = self.user_rec(user)?;
                let g = self.group_by_id(&resource.id)?;
                let mut paths = Vec::new();
                let access = self.group_access(u, rec, g, Some(&mut paths));
                paths.retain(|p| p.gives.split(',').any(|x| x == a.name()));
                let role = self.group(g).and_then(|x| x.role_of(u)).map(|r| r.as_str().to_string());
                let mut denied_by = Vec::new();
                let builtin = self.group(g).is_some_and(|x| x.builtin.is_some());
                if builtin && matches!(a, GroupAction::Delete | GroupAction::ManageMembers) {
                    paths.iter_mut().for_each(|p| p.blocked = true);
                    denied_by.push(vec![crate::explain::Step::BuiltinGroup { group: resource.id.clone() }]);
                }
                Ok(Explanation { allowed: access.allows(a), role, required: a.name().into(), paths, denied_by })
            }
            Kind::Workspace => {
                let cap = self.capability_by_name(action)?;
                let (u, rec) = self.user_rec(user)?;
                self.this_workspace(resource)?;
                let (mut paths, mut denied_by) = (Vec::new(), Vec::new());
                let allowed = self.capability_access(rec, cap, Some((&mut paths, &mut denied_by)), u);
                let role = Some(self.schema.workspace_roles[usize::from(rec.ws_role)].clone());
                Ok(Explanation { allowed, role, required: action.to_string(), paths, denied_by })
            }
        }
    }

    /// Every resource of type `kind` that `user` may do `action` on.
    pub fn lookup_resources(&self, user: &str, action: &str, kind: &str) -> Result<ResourceSet<'_>, EngineError> {
        let k = self.kind(kind)?;
        let set = match k {
            Kind::Typed(t) => {
                let ty = self.schema.ty(t);
                let needed = ty
                    .action_level(action)
                    .ok_or_else(|| EngineError::UnknownAction { kind: kind.to_string(), action: action.to_string() })?;
                let u = self.user_by_id(user)?;
                let ws_role = self.user(u).map_or(0, |x| x.ws_role);
                let groups = self.privileged_groups_of(u);
                self.resources_at_least(u, ws_role, &groups, t, needed)
            }
            Kind::Group => {
                let a = Self::parse_group_action(action)?;
                let (u, rec) = self.user_rec(user)?;
                // At most a thousand groups: asking each is cheap and exact.
                self.all_groups.iter().filter(|g| self.group_access(u, rec, *g, None).allows(a)).collect()
            }
            Kind::Workspace => {
                let cap = self.capability_by_name(action)?;
                let (u, rec) = self.user_rec(user)?;
                let mut set = RoaringBitmap::new();
                if self.capability_access(rec, cap, None, u) {
                    set.insert(0);
                }
                set
            }
        };
        let set = if self.suspended_id(user) { RoaringBitmap::new() } else { set };
        Ok(ResourceSet { index: self, kind: k, set })
    }

    /// Every user who may do `action` on `resource`, with their role (never a suspended user).
    pub fn lookup_subjects(&self, resource: &ResourceRef, action: &str) -> Result<SubjectSet<'_>, EngineError> {
        let mut subjects = self.subjects_held(resource, action)?;
        subjects.users -= &self.suspended;
        Ok(subjects)
    }

    fn subjects_held(&self, resource: &ResourceRef, action: &str) -> Result<SubjectSet<'_>, EngineError> {
        Ok(match self.kind(&resource.kind)? {
            Kind::Typed(t) => {
                let ty = self.schema.ty(t);
                let needed = ty.action_level(action).ok_or_else(|| EngineError::UnknownAction {
                    kind: resource.kind.clone(),
                    action: action.to_string(),
                })?;
                let r = self.resource_by_ref(resource)?;
                let levels: Vec<(RoleLevel, RoaringBitmap)> =
                    (needed..=ty.top_level()).rev().map(|l| (l, self.users_at_least(r, l))).collect();
                let users = levels.last().map(|(_, s)| s.clone()).unwrap_or_default();
                SubjectSet { index: self, users, roles: RoleOf::Levels(t, levels) }
            }
            Kind::Group => {
                let a = Self::parse_group_action(action)?;
                let g = self.group_by_id(&resource.id)?;
                SubjectSet { index: self, users: self.group_subjects(g, a), roles: RoleOf::Membership(g) }
            }
            Kind::Workspace => {
                let cap = self.capability_by_name(action)?;
                self.this_workspace(resource)?;
                SubjectSet { index: self, users: self.capability_subjects(cap), roles: RoleOf::WorkspaceRole }
            }
        })
    }
}

impl WorkspaceIndex {
    /// Whether a user's workspace role is an admin role.
    pub fn is_admin_user(&self, user: &str) -> Result<bool, EngineError> {
        let (u, rec) = self.user_rec(user)?;
        Ok(self.is_admin(rec) && !self.is_suspended(u))
    }

    /// Whether holding `held` on a resource of this type covers granting `role`: a normal
    /// role needs at least that role; the deny role needs the type's highest role.
    pub fn role_at_least(&self, resource: &ResourceRef, held: Option<&str>, role: &str) -> Result<bool, EngineError> {
        let ty = self.schema.ty(self.type_by_name(&resource.kind)?);
        let wanted = if ty.is_deny_role(role) {
            ty.top_level()
        } else {
            ty.role_level(role)
                .ok_or_else(|| EngineError::UnknownRole { kind: resource.kind.clone(), role: role.to_string() })?
        };
        Ok(held.and_then(|h| ty.role_level(h)).is_some_and(|h| h >= wanted))
    }
}

impl WorkspaceIndex {
    /// Every action a resource of `kind` has: its schema type's actions (lowest role
    /// first), a group's management actions, or the workspace's capabilities.
    pub fn actions_of(&self, kind: &str) -> Result<Vec<&str>, EngineError> {
        Ok(match self.kind(kind)? {
            Kind::Typed(t) => {
                let mut actions: Vec<_> = self.schema.ty(t).actions.iter().collect();
                actions.sort_by_key(|(name, level)| (*level, name.as_str()));
                actions.into_iter().map(|(name, _)| name.as_str()).collect()
            }
            Kind::Group => crate::GroupAction::ALL.iter().map(|a| a.name()).collect(),
            Kind::Workspace => self.schema.capabilities.iter().map(|c| c.name.as_str()).collect(),
        })
    }

    /// Refuses a resource that is not registered (unknown type or id).
    pub fn require_resource(&self, resource: &ResourceRef) -> Result<(), EngineError> {
        self.resource_by_ref(resource).map(|_| ())
    }
}
