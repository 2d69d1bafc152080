//! Access to resources: the effective role, check, lookups and explain, all following the
//! rules of API.md.
//!
//! The effective role of a user on a resource is the highest of: their direct grant; the
//! grants of every group they are in at any depth (when the group applies privileges);
//! what the parent resource gives through `from_parent`; what their workspace role implies.
//! A deny grant (to the user or to a group they are in) removes everything but locked
//! parent roles and workspace-role implications.

use roaring::{MultiOps, RoaringBitmap};
use rolecall_model::{ResourceRef, RoleLevel, Subject, TypeIx, WsRoleIx};

use crate::EngineError;
use crate::explain::{Explanation, Path, Step};
use crate::index::{Grant, GroupIx, NO_PARENT, ResIx, UserIx, UserRec, WorkspaceIndex};

/// What the sources of access on one resource add up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The best role from any source.
    pub best: Option<RoleLevel>,
    /// The best role from sources a deny cannot take away.
    pub kept: Option<RoleLevel>,
    pub denied: bool,
}

impl Resolved {
    pub fn effective(self) -> Option<RoleLevel> {
        if self.denied { self.kept } else { self.best }
    }

    fn raise(&mut self, level: RoleLevel, kept: bool) {
        self.best = self.best.max(Some(level));
        if kept {
            self.kept = self.kept.max(Some(level));
        }
    }
}

/// Observes the traversal that resolves access. A check uses [`NoTrace`], which compiles to
/// nothing; explain records every source. Both run the very same code.
pub(crate) trait Trace: Sized {
    /// Visit every source instead of stopping once the answer is known.
    const FULL: bool;
    fn fork(&self) -> Self;
    fn source(&mut self, index: &WorkspaceIndex, u: UserIx, r: ResIx, source: Source);
    fn inherit(&mut self, index: &WorkspaceIndex, r: ResIx, parent: ResIx, parent_trace: Self, parent: Resolved);
}

/// A source of access found on a resource itself.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    WorkspaceRole(WsRoleIx, RoleLevel),
    UserGrant(Grant),
    GroupGrant(GroupIx, Grant),
}

pub(crate) struct NoTrace;

impl Trace for NoTrace {
    const FULL: bool = false;
    fn fork(&self) -> Self {
        NoTrace
    }
    #[inline(always)]
    fn source(&mut self, _: &WorkspaceIndex, _: UserIx, _: ResIx, _: Source) {}
    #[inline(always)]
    fn inherit(&mut self, _: &WorkspaceIndex, _: ResIx, _: ResIx, _: Self, _: Resolved) {}
}

/// A chain of steps under construction: the level it gives and whether a deny spares it.
#[derive(Clone, Debug)]
pub(crate) struct Chain {
    level: RoleLevel,
    kept: bool,
    steps: Vec<Step>,
}

#[derive(Default)]
pub(crate) struct PathTrace {
    chains: Vec<Chain>,
    denies: Vec<Vec<Step>>,
}

impl Trace for PathTrace {
    const FULL: bool = true;

    fn fork(&self) -> Self {
        PathTrace::default()
    }

    fn source(&mut self, index: &WorkspaceIndex, u: UserIx, r: ResIx, source: Source) {
        let resource = index.resource_ref(r);
        let ty = index.resource(r).map(|x| index.schema.ty(x.ty));
        let role_name = |grant: Grant| match (grant, ty) {
            (Grant::Role(l), Some(ty)) => ty.role_name(l).to_string(),
            (Grant::Deny, Some(ty)) => ty.deny_role.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let (steps, grant, kept) = match source {
            Source::WorkspaceRole(w, level) => {
                let step = Step::WorkspaceRole {
                    workspace_role: index.schema.workspace_roles[usize::from(w)].clone(),
                    resource,
                    role: role_name(Grant::Role(level)),
                };
                (vec![step], Grant::Role(level), true)
            }
            Source::UserGrant(grant) => {
                let subject = Subject::User(index.user_id(u).to_string());
                (vec![Step::Grant { subject, resource, role: role_name(grant) }], grant, false)
            }
            Source::GroupGrant(g, grant) => {
                let mut steps = index.membership_steps(u, g);
                let subject = Subject::Group(index.group_id(g).to_string());
                steps.push(Step::Grant { subject, resource, role: role_name(grant) });
                (steps, grant, false)
            }
        };
        match grant {
            Grant::Role(level) => self.chains.push(Chain { level, kept, steps }),
            Grant::Deny => self.denies.push(steps),
        }
    }

    fn inherit(&mut self, index: &WorkspaceIndex, r: ResIx, parent: ResIx, parent_trace: Self, at_parent: Resolved) {
        let Some(ty) = index.resource(r).map(|x| index.schema.ty(x.ty)) else { return };
        let Some(parent_ty) = index.resource(parent).map(|x| index.schema.ty(x.ty)) else { return };
        let (from, resource) = (index.resource_ref(parent), index.resource_ref(r));
        for chain in parent_trace.chains {
            // Only what survives on the parent is inherited.
            if at_parent.denied && !chain.kept {
                continue;
            }
            let at = usize::from(chain.level);
            let best = ty.inherited.get(at).copied().flatten();
            let locked = ty.inherited_locked.get(at).copied().flatten();
            let mut push = |level: RoleLevel, kept: bool| {
                let mut steps = chain.steps.clone();
                steps.push(Step::Inherit {
                    from: from.clone(),
                    parent_role: parent_ty.role_name(chain.level).to_string(),
                    resource: resource.clone(),
                    role: ty.role_name(level).to_string(),
                    locked: kept,
                });
                self.chains.push(Chain { level, kept, steps });
            };
            match (best, locked) {
                (Some(b), Some(l)) if b == l => push(b, true),
                (Some(b), locked) => {
                    push(b, false);
                    if let Some(l) = locked {
                        push(l, true);
                    }
                }
                (None, _) => {}
            }
        }
    }
}

/// A check's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision<'a> {
    pub allowed: bool,
    /// The effective role (for groups, the membership role; for the workspace, the
    /// workspace role).
    pub role: Option<&'a str>,
}

impl WorkspaceIndex {
    /// Resolves every source of access for `u` on `r`.
    pub(crate) fn resolve<T: Trace>(&self, u: UserIx, user: &UserRec, r: ResIx, trace: &mut T) -> Resolved {
        let ws_role = user.ws_role;
        let mut out = Resolved::default();
        let Some(res) = self.resource(r) else { return out };
        let ty = self.schema.ty(res.ty);

        if let Some(level) = ty.ws_implied.get(usize::from(ws_role)).copied().flatten() {
            out.raise(level, true);
            trace.source(self, u, r, Source::WorkspaceRole(ws_role, level));
            // Nothing outranks the top role and no deny takes a workspace role away.
            if !T::FULL && level == ty.top_level() {
                return out;
            }
        }
        if let Some(grant) = res.user_grant(u) {
            match grant {
                Grant::Role(level) => out.raise(level, false),
                Grant::Deny => out.denied = true,
            }
            trace.source(self, u, r, Source::UserGrant(grant));
        }
        for &(g, grant) in &res.group_grants {
            // A group with privileges switched off contributes nothing, deny included (seed 001).
            let applies = self.group_applies(g) && user.reaches(g);
            if !applies {
                continue;
            }
            match grant {
                Grant::Role(level) => out.raise(level, false),
                Grant::Deny => out.denied = true,
            }
            trace.source(self, u, r, Source::GroupGrant(g, grant));
        }
        if let Some(p) = res.parent {
            let mut parent_trace = trace.fork();
            let at_parent = self.resolve(u, user, p, &mut parent_trace);
            if let Some(pl) = at_parent.effective() {
                let at = usize::from(pl);
                if let Some(level) = ty.inherited.get(at).copied().flatten() {
                    out.raise(level, false);
                }
                if let Some(level) = ty.inherited_locked.get(at).copied().flatten() {
                    out.raise(level, true);
                }
            }
            trace.inherit(self, r, p, parent_trace, at_parent);
        }
        out
    }

    /// The membership chain from user `u` to group `g`, as steps.
    pub(crate) fn membership_steps(&self, u: UserIx, g: GroupIx) -> Vec<Step> {
        let chain = self.membership_chain(u, g);
        let mut steps = Vec::with_capacity(chain.len());
        let mut member = Subject::User(self.user_id(u).to_string());
        for x in chain {
            let group = self.group_id(x).to_string();
            steps.push(Step::Member { member, group: group.clone() });
            member = Subject::Group(group);
        }
        steps
    }

    /// The effective role of `user` on `resource`, by name.
    pub fn effective_role(&self, user: &str, resource: &ResourceRef) -> Result<Option<&str>, EngineError> {
        let (u, rec) = self.user_rec(user)?;
        let r = self.resource_by_ref(resource)?;
        if self.is_suspended(u) {
            return Ok(None);
        }
        let ty = self.schema.ty(self.resource(r).map_or(0, |x| x.ty));
        Ok(self.resolve(u, rec, r, &mut NoTrace).effective().map(|l| ty.role_name(l)))
    }

    /// Resolves a question about a schema resource of type `t` into indexes: the type, the
    /// level the action needs, the user and the resource.
    fn resource_question(
        &self,
        t: TypeIx,
        user: &str,
        action: &str,
        resource: &ResourceRef,
    ) -> Result<(&rolecall_model::ResourceType, RoleLevel, UserIx, &UserRec, ResIx), EngineError> {
        let ty = self.schema.ty(t);
        let needed = ty
            .action_level(action)
            .ok_or_else(|| EngineError::UnknownAction { kind: resource.kind.clone(), action: action.to_string() })?;
        // Find the user's and the resource's records in two independent steps, so that the
        // memory accesses of both overlap; then make sure each is the one asked for.
        let table = self.resource_ix.get(usize::from(t));
        let maybe_user = self.user_ix.candidate(crate::ids::hash(user));
        let maybe_resource = table.and_then(|x| x.candidate(crate::ids::hash(&resource.id)));
        let user_rec = maybe_user.and_then(|u| self.user(u).map(|rec| (u, rec)));
        let resource_rec = maybe_resource.and_then(|r| self.resource(r).map(|rec| (r, rec)));
        // Start loading the parent's record too (a workflow's app is read next); the value
        // is not used, only the memory access it starts.
        let parent = maybe_resource.and_then(|r| self.parent_hint.get(r as usize)).filter(|p| **p != NO_PARENT);
        std::hint::black_box(parent.and_then(|p| self.resource(*p)).map(|rec| rec.ty));
        let (u, rec) = match user_rec {
            Some((u, rec)) if rec.id == user => (u, rec),
            _ => self.user_rec(user)?,
        };
        let r = match resource_rec {
            Some((r, rec)) if rec.id == resource.id => r,
            _ => self
                .resource_ix_of(t, &resource.id)
                .ok_or_else(|| EngineError::ResourceNotFound(resource.to_string()))?,
        };
        Ok((ty, needed, u, rec, r))
    }

    pub(crate) fn check_resource(
        &self,
        t: TypeIx,
        user: &str,
        action: &str,
        resource: &ResourceRef,
    ) -> Result<Decision<'_>, EngineError> {
        let (ty, needed, u, rec, r) = self.resource_question(t, user, action, resource)?;
        let role = self.resolve(u, rec, r, &mut NoTrace).effective();
        Ok(Decision { allowed: role.is_some_and(|l| l >= needed), role: role.map(|l| ty.role_name(l)) })
    }

    pub(crate) fn explain_resource(
        &self,
        t: TypeIx,
        user: &str,
        action: &str,
        resource: &ResourceRef,
    ) -> Result<Explanation, EngineError> {
        let (ty, needed, u, rec, r) = self.resource_question(t, user, action, resource)?;
        let mut trace = PathTrace::default();
        let resolved = self.resolve(u, rec, r, &mut trace);
        let role = resolved.effective();
        let mut chains = trace.chains;
        chains.sort_by(|a, b| b.level.cmp(&a.level).then(b.kept.cmp(&a.kept)));
        let paths = chains
            .into_iter()
            .map(|c| Path {
                gives: ty.role_name(c.level).to_string(),
                blocked: resolved.denied && !c.kept,
                steps: c.steps,
            })
            .collect();
        Ok(Explanation {
            allowed: role.is_some_and(|l| l >= needed),
            role: role.map(|l| ty.role_name(l).to_string()),
            required: ty.role_name(needed).to_string(),
            paths,
            denied_by: trace.denies,
        })
    }

    /// Resources of type `t` on which the user's effective role is at least `level`,
    /// computed with set operations over the user's and their groups' grants.
    pub(crate) fn resources_at_least(
        &self,
        u: UserIx,
        ws_role: WsRoleIx,
        groups: &RoaringBitmap,
        t: TypeIx,
        level: RoleLevel,
    ) -> RoaringBitmap {
        let ty = self.schema.ty(t);
        let ti = usize::from(t);
        if ty.ws_implied.get(usize::from(ws_role)).copied().flatten() >= Some(level) {
            return self.of_type[ti].clone();
        }
        let mut granted = Vec::new();
        let mut denied = Vec::new();
        let own = self.user(u).map(|x| &x.grants);
        let group_grants = groups.iter().filter_map(|g| self.group(g)).map(|x| &x.grants);
        for grants in own.into_iter().chain(group_grants) {
            if let Some(tg) = grants.get(t) {
                granted.extend(tg.roles.iter().skip(usize::from(level)));
                denied.push(&tg.deny);
            }
        }
        let mut found = granted.into_iter().union();
        let mut kept = RoaringBitmap::new();
        if let Some(pt) = ty.parent {
            let any = ty.min_parent_level(level, false);
            let locked = ty.min_parent_level(level, true);
            if let Some(pl) = any {
                let parents = self.resources_at_least(u, ws_role, groups, pt, pl);
                let children = self.children_of(&parents, pt, t);
                if locked == Some(pl) {
                    kept = children.clone();
                }
                found |= children;
            }
            if let Some(pl) = locked.filter(|l| Some(*l) != any) {
                let parents = self.resources_at_least(u, ws_role, groups, pt, pl);
                kept = self.children_of(&parents, pt, t);
            }
        }
        found -= denied.into_iter().union();
        found | kept
    }

    /// The children of type `t` of the given resources of type `pt`.
    fn children_of(&self, parents: &RoaringBitmap, pt: TypeIx, t: TypeIx) -> RoaringBitmap {
        let ti = usize::from(t);
        if parents.len() == self.of_type[usize::from(pt)].len() {
            // Every parent: every resource of the type that has one.
            return self.with_parent[ti].clone();
        }
        let children = parents.iter().filter_map(|p| self.resource(p)).map(|x| &x.children).union();
        children & &self.of_type[ti]
    }

    /// Groups of `user` whose privileges apply.
    pub(crate) fn privileged_groups_of(&self, u: UserIx) -> RoaringBitmap {
        let Some(user) = self.user(u) else { return RoaringBitmap::new() };
        let mut groups = self.groups_of(user);
        groups.retain(|g| self.group(g).is_some_and(|x| x.apply_privileges));
        groups
    }

    /// Users whose effective role on `r` is at least `level`.
    /// Every user allowed at least `level` on `r` (suspended users never are).
    pub(crate) fn users_at_least(&self, r: ResIx, level: RoleLevel) -> RoaringBitmap {
        let mut users = self.held_at_least(r, level);
        users -= &self.suspended;
        users
    }

    /// Every user holding at least `level` on `r`, suspended or not.
    fn held_at_least(&self, r: ResIx, level: RoleLevel) -> RoaringBitmap {
        let Some(res) = self.resource(r) else { return RoaringBitmap::new() };
        let ty = self.schema.ty(res.ty);
        let mut found: RoaringBitmap = res.user_roles.iter().skip(usize::from(level)).union();
        let mut denied = res.user_deny.clone();
        for &(g, grant) in &res.group_grants {
            let Some(group) = self.group(g).filter(|x| x.apply_privileges) else { continue };
            match grant {
                Grant::Role(l) if l >= level => found |= &group.members,
                Grant::Role(_) => {}
                Grant::Deny => denied |= &group.members,
            }
        }
        let ws_roles = (0..ty.ws_implied.len()).filter(|w| ty.ws_implied[*w] >= Some(level)).map(|w| w as WsRoleIx);
        let mut kept = self.users_with_ws_roles(ws_roles);
        if let Some(p) = res.parent {
            let any = ty.min_parent_level(level, false);
            let locked = ty.min_parent_level(level, true);
            if let Some(pl) = any {
                let users = self.held_at_least(p, pl);
                if locked == Some(pl) {
                    kept |= &users;
                }
                found |= users;
            }
            if let Some(pl) = locked.filter(|l| Some(*l) != any) {
                kept |= self.held_at_least(p, pl);
            }
        }
        found -= denied;
        found | kept
    }
}
