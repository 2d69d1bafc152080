//! Who gains or loses access through a group, and what: the content of the notifications
//! of seed 001 ("notify users of their access"). Computed from the index before and after
//! each change, never guessed from the change itself: a new member of a group whose grants
//! they already held individually gains nothing, and a deny elsewhere is respected.
//!
//! Only resources a change can reach are compared: the grants of the group (and of the
//! groups above it, for a change of membership) and everything below them through the
//! schema's parent chain. On each one the users at or above every role are compared as
//! bitmaps, so the cost follows the resources, not the members.

use roaring::RoaringBitmap;
use rolecall_model::{Change, Notify, Op, ResourceRef, RoleLevel, Subject};

use crate::index::{GroupIx, ResIx, UserIx, WorkspaceIndex};
use crate::{Engine, EngineError};

/// Why a group changed someone's access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessReason {
    MemberAdded,
    MemberRemoved,
    /// Another group was nested in it: its members joined.
    GroupNested,
    GroupUnnested,
    /// Its grants changed.
    GrantsChanged,
    PrivilegesOn,
    PrivilegesOff,
    GroupDeleted,
}

impl AccessReason {
    pub fn name(self) -> &'static str {
        match self {
            AccessReason::MemberAdded => "member_added",
            AccessReason::MemberRemoved => "member_removed",
            AccessReason::GroupNested => "group_nested",
            AccessReason::GroupUnnested => "group_unnested",
            AccessReason::GrantsChanged => "grants_changed",
            AccessReason::PrivilegesOn => "privileges_on",
            AccessReason::PrivilegesOff => "privileges_off",
            AccessReason::GroupDeleted => "group_deleted",
        }
    }
}

/// One user's effective role on one resource, before and after.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleChange {
    pub resource: ResourceRef,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl RoleChange {
    /// Whether the user gained (a role where they had none, or a higher one); otherwise
    /// they lost.
    pub fn gained(&self, index: &WorkspaceIndex) -> bool {
        let level = |role: &Option<String>| {
            let ty = index.type_by_name(&self.resource.kind).ok().map(|t| index.schema.ty(t));
            role.as_deref().and_then(|r| ty.and_then(|ty| ty.roles.iter().position(|x| x == r)))
        };
        level(&self.after) > level(&self.before)
    }
}

/// What one change did to the access of the members of a group that asks for
/// notifications (`notify: on_change`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupAccessChange {
    /// The change's position in the batch.
    pub change: usize,
    pub group: String,
    pub reason: AccessReason,
    /// The users whose access changed, in classes of users whose roles changed alike (a
    /// group of a million members that is deleted is one class, not a million lists).
    /// Users whose access did not change are absent.
    pub classes: Vec<AccessClass>,
}

/// Users whose effective roles changed in exactly the same way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessClass {
    /// In id order.
    pub users: Vec<String>,
    /// By resource.
    pub roles: Vec<RoleChange>,
}

impl GroupAccessChange {
    /// Each user with their changes (classes expanded), by user id.
    pub fn per_user(&self) -> Vec<(&str, &[RoleChange])> {
        let mut out: Vec<_> =
            self.classes.iter().flat_map(|c| c.users.iter().map(move |u| (u.as_str(), c.roles.as_slice()))).collect();
        out.sort_by(|a, b| a.0.cmp(b.0));
        out
    }
}

/// One member's access on what a group's privileges cover (a summary on demand).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessSummary {
    pub user: String,
    /// The member's effective role on each resource the group's grants (or those of the
    /// groups above it) reach, where they have one, by resource.
    pub roles: Vec<(ResourceRef, String)>,
}

impl Engine {
    /// Applies `changes` in order to a copy of their workspace and says, for each change
    /// made through a group whose `notify` is `on_change`, whose effective roles it changed
    /// and how. Nothing is changed. Changes that do not go through a group, or whose group
    /// does not ask, produce nothing; so does a batch that edits several workspaces or
    /// replaces a schema. Meant for a batch already validated: one that goes through no
    /// group at all is not looked at.
    pub fn access_changes(&self, changes: &[Change]) -> Result<Vec<GroupAccessChange>, EngineError> {
        let Some(first) = changes.first() else { return Ok(Vec::new()) };
        let plain = |c: &Change| {
            c.workspace == first.workspace
                && !matches!(c.op, Op::CreateWorkspace { .. } | Op::DeleteWorkspace | Op::ReplaceSchema { .. })
        };
        if !changes.iter().all(plain) {
            return Ok(Vec::new());
        }
        let index = self.workspace(&first.workspace)?;
        // Only a group that asks (now, or as set in this batch) makes this worth a copy.
        let asks = |c: &Change| match &c.op {
            Op::PutGroup { notify, .. } => *notify == Notify::OnChange,
            op => through_group(op).is_some_and(|g| index.group_notify(g) == Some(Notify::OnChange)),
        };
        if !changes.iter().any(asks) {
            return Ok(Vec::new());
        }
        let mut state = index.clone();
        let mut found = Vec::new();
        for (at, change) in changes.iter().enumerate() {
            // Whether the group asks is known before the change: its setting after the
            // change is the one it has now, but for a `PutGroup`, which says it.
            let asked = match &change.op {
                Op::PutGroup { notify, .. } => Some(*notify),
                op => through_group(op).and_then(|g| state.group_notify(g)),
            };
            let watched = through_group(&change.op)
                .filter(|_| asked == Some(Notify::OnChange))
                .and_then(|group| state.watch(&change.op, group));
            let before = watched.is_some().then(|| state.clone());
            let plan = state.prepare(&change.op)?;
            state.commit(plan);
            let (Some((group, reason, groups, extra)), Some(before)) = (watched, before) else { continue };
            let resources = reach_of(&before, &state, &groups, extra);
            let classes = diff(&before, &state, &resources);
            if !classes.is_empty() {
                found.push(GroupAccessChange { change: at, group, reason, classes });
            }
        }
        Ok(found)
    }
}

impl Engine {
    /// What `ops` would do to anyone's effective roles in `workspace` (see
    /// [`WorkspaceIndex::preview`]); nothing is changed.
    pub fn preview(&self, workspace: &str, ops: &[Op]) -> Result<Vec<AccessClass>, EngineError> {
        self.workspace(workspace)?.preview(ops)
    }
}

impl WorkspaceIndex {
    /// What `ops` would do to anyone's effective roles, applied in order to a copy of this
    /// workspace; nothing is changed. The console shows this before a change that takes
    /// access away (deleting a group, turning its privileges off, a member leaving). Only
    /// changes that go through a group are looked at: they are the ones whose reach can be
    /// bounded (the group's grants, those of the groups above it, and everything below
    /// them). Users whose access does not change are absent. A caller holding the engine's
    /// lock can clone the index (copy-on-write, cheap) and preview after letting go.
    pub fn preview(&self, ops: &[Op]) -> Result<Vec<AccessClass>, EngineError> {
        let before = self;
        let mut state = before.clone();
        let mut groups = RoaringBitmap::new();
        let mut extra = Vec::new();
        for op in ops {
            if let Some((_, _, g, r)) = through_group(op).and_then(|group| state.watch(op, group)) {
                groups |= g;
                extra.extend(r);
            }
            let plan = state.prepare(op)?;
            state.commit(plan);
        }
        let mut resources = reach_of(before, &state, &groups, None);
        for r in extra {
            resources |= reach_of(before, &state, &RoaringBitmap::new(), Some(r));
        }
        Ok(diff(before, &state, &resources))
    }
}

/// The group a change goes through, if any.
fn through_group(op: &Op) -> Option<&str> {
    match op {
        Op::PutMember { group, .. }
        | Op::RemoveMember { group, .. }
        | Op::PutChildGroup { group, .. }
        | Op::RemoveChildGroup { group, .. }
        | Op::PutGroup { group, .. }
        | Op::DeleteGroup { group } => Some(group),
        Op::PutGrant { subject: Subject::Group(group), .. }
        | Op::RemoveGrant { subject: Subject::Group(group), .. } => Some(group),
        _ => None,
    }
}

impl WorkspaceIndex {
    fn group_notify(&self, group: &str) -> Option<Notify> {
        self.group_by_id(group).ok().and_then(|g| self.group(g)).map(|x| x.notify)
    }

    /// What `op` on `group` is, and where it can change access: the groups whose grants it
    /// can bring to or take from someone, and a resource it touches directly. `None` when
    /// it cannot change anyone's roles (a new group, a change of settings other than
    /// privileges, a member's role in the group).
    fn watch(&self, op: &Op, group: &str) -> Option<(String, AccessReason, RoaringBitmap, Option<ResourceRef>)> {
        let g = self.group_by_id(group).ok();
        let above = |g: Option<GroupIx>| g.and_then(|g| self.group(g)).map(|x| x.ancestors.clone()).unwrap_or_default();
        let (reason, groups, extra) = match op {
            Op::PutMember { user, .. } => {
                let already = self.user_ix_of(user).zip(g).is_some_and(|(u, g)| self.is_direct_member(g, u));
                if already {
                    return None;
                }
                (AccessReason::MemberAdded, above(g), None)
            }
            Op::RemoveMember { .. } => (AccessReason::MemberRemoved, above(g), None),
            Op::PutChildGroup { .. } => (AccessReason::GroupNested, above(g), None),
            Op::RemoveChildGroup { .. } => (AccessReason::GroupUnnested, above(g), None),
            Op::DeleteGroup { .. } => (AccessReason::GroupDeleted, above(g), None),
            Op::PutGroup { apply_privileges, .. } => {
                let was = g.and_then(|g| self.group(g)).map(|x| x.apply_privileges)?;
                if was == *apply_privileges {
                    return None;
                }
                let reason = if *apply_privileges { AccessReason::PrivilegesOn } else { AccessReason::PrivilegesOff };
                (reason, g.into_iter().collect(), None)
            }
            Op::PutGrant { resource, .. } | Op::RemoveGrant { resource, .. } => {
                (AccessReason::GrantsChanged, RoaringBitmap::new(), Some(resource.clone()))
            }
            _ => return None,
        };
        Some((group.to_string(), reason, groups, extra))
    }

    fn is_direct_member(&self, g: GroupIx, u: UserIx) -> bool {
        self.group(g).is_some_and(|x| x.direct.contains(u))
    }

    /// Every resource on which one of `groups` holds a grant, and every resource below them.
    fn granted_to(&self, groups: &RoaringBitmap, out: &mut RoaringBitmap) {
        for g in groups {
            if let Some(group) = self.group(g) {
                out.extend(group.grants.all().into_iter().map(|(r, _)| r));
            }
        }
    }

    fn with_descendants(&self, roots: &RoaringBitmap) -> RoaringBitmap {
        let mut all = roots.clone();
        let mut frontier = roots.clone();
        while !frontier.is_empty() {
            let mut next = RoaringBitmap::new();
            for r in &frontier {
                if let Some(res) = self.resource(r) {
                    next |= &res.children;
                }
            }
            next -= &all;
            all |= &next;
            frontier = next;
        }
        all
    }

    /// The users whose effective role on `r` is at least each role level, lowest first.
    fn levels(&self, r: ResIx) -> Vec<RoaringBitmap> {
        let Some(res) = self.resource(r) else { return Vec::new() };
        let roles = self.schema.ty(res.ty).roles.len();
        (0..roles).map(|l| self.users_at_least(r, l as RoleLevel)).collect()
    }

    /// A member's summary: their effective role on everything the group's privileges (and
    /// those of the groups above it) cover.
    pub fn access_summary(&self, group: &str) -> Result<Vec<AccessSummary>, EngineError> {
        let rec = self.group(self.group_by_id(group)?).ok_or_else(|| EngineError::GroupNotFound(group.to_string()))?;
        let mut roots = RoaringBitmap::new();
        self.granted_to(&rec.ancestors, &mut roots);
        let resources = self.with_descendants(&roots);
        let members = rec.members.clone();
        let mut per_user: Vec<(UserIx, Vec<(ResourceRef, String)>)> = members.iter().map(|u| (u, Vec::new())).collect();
        for r in &resources {
            let levels = self.levels(r);
            let Some(ty) = self.resource(r).map(|x| self.schema.ty(x.ty)) else { continue };
            let reference = self.resource_ref(r);
            for (u, roles) in &mut per_user {
                if let Some(l) = level_of(&levels, *u) {
                    roles.push((reference.clone(), ty.role_name(l).to_string()));
                }
            }
        }
        let mut out: Vec<AccessSummary> = per_user
            .into_iter()
            .map(|(u, mut roles)| {
                roles.sort();
                AccessSummary { user: self.user_id(u).to_string(), roles }
            })
            .collect();
        out.sort_by(|a, b| a.user.cmp(&b.user));
        Ok(out)
    }
}

/// The resources a change can have touched: the grants of `groups` (in either state), the
/// resource it names, and everything below them (in either state).
fn reach_of(
    before: &WorkspaceIndex,
    after: &WorkspaceIndex,
    groups: &RoaringBitmap,
    extra: Option<ResourceRef>,
) -> RoaringBitmap {
    let mut roots = RoaringBitmap::new();
    before.granted_to(groups, &mut roots);
    after.granted_to(groups, &mut roots);
    if let Some(r) = extra.and_then(|r| before.resource_by_ref(&r).ok()) {
        roots.insert(r);
    }
    before.with_descendants(&roots) | after.with_descendants(&roots)
}

/// The highest level whose users include `u`.
fn level_of(levels: &[RoaringBitmap], u: UserIx) -> Option<RoleLevel> {
    levels.iter().rposition(|users| users.contains(u)).map(|l| l as RoleLevel)
}

/// Every user whose effective role on one of `resources` differs between the two states,
/// in classes of users whose changes are the same. On each resource the changed users are
/// split by (role before, role after) as bitmaps, and the classes are found by refining one
/// partition of the changed users with each of those bitmaps: the work follows the number
/// of resources and of distinct outcomes, not of users.
fn diff(before: &WorkspaceIndex, after: &WorkspaceIndex, resources: &RoaringBitmap) -> Vec<AccessClass> {
    // (resource, role before, role after, the users who went that way)
    let mut moves: Vec<(ResIx, Option<RoleLevel>, Option<RoleLevel>, RoaringBitmap)> = Vec::new();
    let mut everyone = RoaringBitmap::new();
    for r in resources {
        let (was, now) = (before.levels(r), after.levels(r));
        let mut changed = RoaringBitmap::new();
        for (b, a) in was.iter().zip(&now) {
            changed |= b ^ a;
        }
        if changed.is_empty() {
            continue;
        }
        // Users holding exactly each level (None: no role), among those who changed.
        let exactly = |levels: &[RoaringBitmap]| -> Vec<(Option<RoleLevel>, RoaringBitmap)> {
            let mut out = Vec::with_capacity(levels.len() + 1);
            let none = levels.first().map_or_else(|| changed.clone(), |l0| &changed - l0);
            out.push((None, none));
            for (l, at_least) in levels.iter().enumerate() {
                let above = levels.get(l + 1).map_or_else(RoaringBitmap::new, |x| at_least & x);
                out.push((Some(l as RoleLevel), (at_least - above) & &changed));
            }
            out
        };
        let (from, to) = (exactly(&was), exactly(&now));
        for (b, users_b) in from.iter().filter(|(_, u)| !u.is_empty()) {
            for (a, users_a) in to.iter().filter(|(a, _)| a != b) {
                let went = users_b & users_a;
                if !went.is_empty() {
                    moves.push((r, *b, *a, went));
                }
            }
        }
        everyone |= changed;
    }
    if everyone.is_empty() {
        return Vec::new();
    }
    // Partition refinement: two users stay together only if every move holds both or neither.
    let mut parts = vec![everyone];
    for (_, _, _, went) in &moves {
        let mut next = Vec::with_capacity(parts.len());
        for part in parts {
            if part.len() == 1 {
                next.push(part);
                continue;
            }
            let inside = &part & went;
            if inside.is_empty() || inside.len() == part.len() {
                next.push(part);
            } else {
                next.push(&part - &inside);
                next.push(inside);
            }
        }
        parts = next;
    }
    let id = |u: UserIx| if before.user(u).is_some() { before.user_id(u) } else { after.user_id(u) };
    let mut classes: Vec<AccessClass> = parts
        .into_iter()
        .filter_map(|part| {
            let one = part.min()?;
            let mut roles: Vec<RoleChange> = moves
                .iter()
                .filter(|(_, _, _, went)| went.contains(one))
                .filter_map(|(r, b, a, _)| {
                    let res = before.resource(*r).or_else(|| after.resource(*r))?;
                    let ty = before.schema.ty(res.ty);
                    Some(RoleChange {
                        resource: before.resource_ref(*r),
                        before: b.map(|l| ty.role_name(l).to_string()),
                        after: a.map(|l| ty.role_name(l).to_string()),
                    })
                })
                .collect();
            roles.sort_by(|x, y| x.resource.cmp(&y.resource));
            let mut users: Vec<String> = part.iter().map(|u| id(u).to_string()).collect();
            users.sort();
            Some(AccessClass { users, roles })
        })
        .collect();
    classes.sort_by(|a, b| a.users.first().cmp(&b.users.first()));
    classes
}
