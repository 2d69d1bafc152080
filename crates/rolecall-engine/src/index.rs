//! The in-memory index of one workspace: interned ids, records, and the precomputed sets the
//! questions are answered from.
//!
//! Every entity gets a compact `u32` index when it is first seen; indexes are never reused
//! within a run, so a stale index can only ever point at an empty slot. Sets of users,
//! groups and resources are roaring bitmaps of these indexes.

use std::collections::{BTreeMap, BTreeSet};

use roaring::RoaringBitmap;
use rolecall_model::{
    Effect, GroupPermissions, Limits, MemberRole, Notify, ResourceRef, RoleLevel, Schema, TypeIx, UserKind, Visibility,
    WsRoleIx,
};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use crate::ids::IdTable;
use crate::slots::Slots;

/// An interned id. Ids up to 24 bytes live inline in the hash table's own memory.
pub(crate) type Key = compact_str::CompactString;

pub(crate) type UserIx = u32;
pub(crate) type GroupIx = u32;
pub(crate) type ResIx = u32;
pub(crate) type PolicyIx = u32;

/// [`WorkspaceIndex::parent_hint`] of a resource with no parent.
pub(crate) const NO_PARENT: ResIx = ResIx::MAX;

/// The id of the built-in group of every regular user.
pub const EVERYONE: &str = "everyone";
/// The id of the built-in group of every admin and owner.
pub const WORKSPACE_ADMINS: &str = "workspace-admins";

/// Which built-in group a group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Everyone,
    WorkspaceAdmins,
}

/// Which built-in permission set a set is (seed 002).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinSet {
    /// The group's owners: view, edit and delete, fixed.
    Owners,
    /// Every member of the group other than its owners.
    Members,
    /// Every regular user of the workspace.
    Everyone,
}

impl BuiltinSet {
    pub fn id(self) -> &'static str {
        match self {
            BuiltinSet::Owners => "owners",
            BuiltinSet::Members => "members",
            BuiltinSet::Everyone => "everyone",
        }
    }

    pub fn from_id(id: &str) -> Option<BuiltinSet> {
        [BuiltinSet::Owners, BuiltinSet::Members, BuiltinSet::Everyone].into_iter().find(|b| b.id() == id)
    }
}

/// A grant's role on a resource: a normal role, or the type's deny role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grant {
    Role(RoleLevel),
    Deny,
}

/// A data scope: attribute -> allowed values.
pub type Scope = BTreeMap<String, BTreeSet<String>>;

/// A user. What a check reads comes first (`repr(C)` keeps the order), in the record's
/// first two cache lines, which are fetched together: the id, which the id lookup compares,
/// the workspace role and the groups.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub(crate) struct UserRec {
    pub id: Key,
    pub ws_role: WsRoleIx,
    /// INVARIANT: every group the user is in at any depth (the ancestors of `groups`),
    /// sorted. A check reads this one small array instead of each group's member bitmap;
    /// up to ten groups are stored in the record itself.
    pub reach: SmallVec<[GroupIx; 10]>,
    pub kind: UserKind,
    /// Groups the user is a direct member of (built-in ones included), sorted.
    pub groups: Vec<GroupIx>,
    pub grants: SubjectGrants,
}

impl UserRec {
    /// Whether the user is in group `g`, directly or through nesting.
    pub fn reaches(&self, g: GroupIx) -> bool {
        self.reach.binary_search(&g).is_ok()
    }
}

#[derive(Clone, Debug)]
pub(crate) struct GroupRec {
    pub id: Box<str>,
    pub builtin: Option<Builtin>,
    pub visibility: Visibility,
    pub apply_privileges: bool,
    pub notify: Notify,
    /// Direct user members; `owners` and `editors` are subsets giving their roles.
    pub direct: RoaringBitmap,
    pub owners: RoaringBitmap,
    pub editors: RoaringBitmap,
    pub children: BTreeSet<GroupIx>,
    pub parents: BTreeSet<GroupIx>,
    /// INVARIANT: every user who is a direct member of this group or of any group nested in
    /// it, at any depth. This is the precomputed transitive membership a check relies on.
    pub members: RoaringBitmap,
    /// INVARIANT: this group and every group it is nested in, at any depth.
    pub ancestors: RoaringBitmap,
    pub grants: SubjectGrants,
    pub sets: Vec<PermissionSetRec>,
    pub policies: BTreeSet<PolicyIx>,
    /// Dataset index -> scope.
    pub scopes: BTreeMap<usize, Scope>,
}

impl GroupRec {
    pub fn role_of(&self, u: UserIx) -> Option<MemberRole> {
        if !self.direct.contains(u) {
            None
        } else if self.owners.contains(u) {
            Some(MemberRole::Owner)
        } else if self.editors.contains(u) {
            Some(MemberRole::Editor)
        } else {
            Some(MemberRole::Member)
        }
    }

    pub fn set(&self, id: &str) -> Option<usize> {
        self.sets.iter().position(|s| &*s.id == id)
    }

    pub fn builtin_set(&self, which: BuiltinSet) -> GroupPermissions {
        self.sets.iter().find(|s| s.builtin == Some(which)).map_or(GroupPermissions::NONE, |s| s.permissions)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct PermissionSetRec {
    pub id: Box<str>,
    pub builtin: Option<BuiltinSet>,
    pub permissions: GroupPermissions,
    pub users: RoaringBitmap,
    pub groups: BTreeSet<GroupIx>,
}

#[derive(Clone, Debug)]
pub(crate) struct PolicyRec {
    pub id: Box<str>,
    /// Capability index -> effect.
    pub rules: BTreeMap<usize, Effect>,
    pub groups: BTreeSet<GroupIx>,
}

/// A resource. What a check reads comes first, in the record's first two cache lines
/// (`repr(C)` keeps the order; the few grants most resources have are stored inline).
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub(crate) struct ResourceRec {
    pub id: Key,
    pub ty: TypeIx,
    pub parent: Option<ResIx>,
    /// INVARIANT: the same user grants as `user_roles` and `user_deny`, sorted by user. A
    /// check reads this (one binary search); lookups read the bitmaps.
    pub user_grants: SmallVec<[(UserIx, Grant); 6]>,
    /// Groups granted a role (or the deny role) here.
    pub group_grants: SmallVec<[(GroupIx, Grant); 3]>,
    pub children: RoaringBitmap,
    /// Indexed by role level: users granted exactly that role here.
    pub user_roles: Vec<RoaringBitmap>,
    pub user_deny: RoaringBitmap,
}

impl ResourceRec {
    pub fn user_grant(&self, u: UserIx) -> Option<Grant> {
        let at = self.user_grants.binary_search_by_key(&u, |(x, _)| *x).ok()?;
        self.user_grants.get(at).map(|(_, grant)| *grant)
    }

    pub fn group_grant(&self, g: GroupIx) -> Option<Grant> {
        self.group_grants.iter().find(|(x, _)| *x == g).map(|(_, grant)| *grant)
    }
}

/// The grants one subject holds, by type and role, as resource bitmaps: what a lookup of
/// resources reads instead of scanning every resource.
#[derive(Clone, Debug, Default)]
pub(crate) struct SubjectGrants {
    pub per_type: Vec<TypeGrants>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct TypeGrants {
    pub roles: Vec<RoaringBitmap>,
    pub deny: RoaringBitmap,
}

impl SubjectGrants {
    pub fn get(&self, ty: TypeIx) -> Option<&TypeGrants> {
        self.per_type.get(usize::from(ty))
    }

    fn slot(&mut self, ty: TypeIx, grant: Grant) -> &mut RoaringBitmap {
        let t = usize::from(ty);
        if self.per_type.len() <= t {
            self.per_type.resize_with(t + 1, TypeGrants::default);
        }
        let tg = &mut self.per_type[t];
        match grant {
            Grant::Deny => &mut tg.deny,
            Grant::Role(l) => {
                let l = usize::from(l);
                if tg.roles.len() <= l {
                    tg.roles.resize_with(l + 1, RoaringBitmap::new);
                }
                &mut tg.roles[l]
            }
        }
    }

    pub fn insert(&mut self, ty: TypeIx, r: ResIx, grant: Grant) {
        self.slot(ty, grant).insert(r);
    }

    pub fn remove(&mut self, ty: TypeIx, r: ResIx, grant: Grant) {
        self.slot(ty, grant).remove(r);
    }

    /// Every (resource, grant) held, in no particular order.
    pub fn all(&self) -> Vec<(ResIx, Grant)> {
        let mut out = Vec::new();
        for tg in &self.per_type {
            for (l, set) in tg.roles.iter().enumerate() {
                out.extend(set.iter().map(|r| (r, Grant::Role(l as RoleLevel))));
            }
            out.extend(tg.deny.iter().map(|r| (r, Grant::Deny)));
        }
        out
    }
}

/// Everything the engine knows about one workspace.
#[derive(Clone, Debug)]
pub struct WorkspaceIndex {
    pub(crate) id: String,
    pub(crate) schema: Schema,
    pub(crate) limits: Limits,
    pub(crate) applied: rolecall_model::Revision,
    pub(crate) users: Slots<UserRec>,
    pub(crate) user_ix: IdTable,
    pub(crate) all_users: RoaringBitmap,
    /// INVARIANT: the suspended users. Nothing is allowed to them: every question answers
    /// for them as if they held nothing (`Op::SetUserActive`).
    pub(crate) suspended: RoaringBitmap,
    /// Indexed by workspace role: the users who have it.
    pub(crate) ws_role_users: Vec<RoaringBitmap>,
    pub(crate) groups: Slots<GroupRec, 4>,
    pub(crate) group_ix: FxHashMap<Key, GroupIx>,
    pub(crate) all_groups: RoaringBitmap,
    /// INVARIANT: indexed by group, whether it exists and its privileges apply (the
    /// group's `apply_privileges`): a check reads this instead of the group's record.
    pub(crate) applies: Vec<bool>,
    pub(crate) custom_groups: u32,
    pub(crate) everyone: GroupIx,
    pub(crate) admins: GroupIx,
    pub(crate) resources: Slots<ResourceRec>,
    /// Indexed by type: resource id -> index.
    pub(crate) resource_ix: Vec<IdTable>,
    /// Indexed by type: every resource of the type.
    pub(crate) of_type: Vec<RoaringBitmap>,
    /// Indexed by type: every resource of the type that has a parent.
    pub(crate) with_parent: Vec<RoaringBitmap>,
    /// Indexed by resource: its parent, or [`NO_PARENT`]. A hint and nothing more: a check
    /// reads it to start fetching the parent's record while the resource's own record is
    /// still on its way from memory; every answer follows `ResourceRec::parent`.
    pub(crate) parent_hint: Vec<ResIx>,
    pub(crate) policies: Vec<Option<PolicyRec>>,
    pub(crate) policy_ix: FxHashMap<Key, PolicyIx>,
}

impl WorkspaceIndex {
    /// An empty workspace with its two built-in groups.
    pub(crate) fn new(id: &str, schema: Schema, limits: Limits) -> WorkspaceIndex {
        let types = schema.types.len();
        let ws_roles = schema.workspace_roles.len();
        let mut index = WorkspaceIndex {
            id: id.to_string(),
            schema,
            limits,
            applied: rolecall_model::Revision(0),
            users: Slots::default(),
            user_ix: IdTable::default(),
            all_users: RoaringBitmap::new(),
            suspended: RoaringBitmap::new(),
            ws_role_users: vec![RoaringBitmap::new(); ws_roles],
            groups: Slots::default(),
            group_ix: FxHashMap::default(),
            all_groups: RoaringBitmap::new(),
            applies: Vec::new(),
            custom_groups: 0,
            everyone: 0,
            admins: 0,
            resources: Slots::default(),
            resource_ix: vec![IdTable::default(); types],
            of_type: vec![RoaringBitmap::new(); types],
            with_parent: vec![RoaringBitmap::new(); types],
            parent_hint: Vec::new(),
            policies: Vec::new(),
            policy_ix: FxHashMap::default(),
        };
        index.everyone = index.insert_group(EVERYONE, Some(Builtin::Everyone), Visibility::Public, true, Notify::None);
        index.admins = index.insert_group(
            WORKSPACE_ADMINS,
            Some(Builtin::WorkspaceAdmins),
            Visibility::Public,
            true,
            Notify::None,
        );
        index
    }

    pub(crate) fn insert_group(
        &mut self,
        id: &str,
        builtin: Option<Builtin>,
        visibility: Visibility,
        apply_privileges: bool,
        notify: Notify,
    ) -> GroupIx {
        let g = self.groups.len();
        let mut ancestors = RoaringBitmap::new();
        ancestors.insert(g);
        let sets = [
            (BuiltinSet::Owners, GroupPermissions::ALL),
            (BuiltinSet::Members, GroupPermissions::VIEW),
            (BuiltinSet::Everyone, GroupPermissions::NONE),
        ]
        .into_iter()
        .map(|(b, permissions)| PermissionSetRec {
            id: b.id().into(),
            builtin: Some(b),
            permissions,
            users: RoaringBitmap::new(),
            groups: BTreeSet::new(),
        })
        .collect();
        self.groups.push(GroupRec {
            id: id.into(),
            builtin,
            visibility,
            apply_privileges,
            notify,
            direct: RoaringBitmap::new(),
            owners: RoaringBitmap::new(),
            editors: RoaringBitmap::new(),
            children: BTreeSet::new(),
            parents: BTreeSet::new(),
            members: RoaringBitmap::new(),
            ancestors,
            grants: SubjectGrants::default(),
            sets,
            policies: BTreeSet::new(),
            scopes: BTreeMap::new(),
        });
        self.group_ix.insert(id.into(), g);
        self.all_groups.insert(g);
        self.applies.push(apply_privileges);
        if builtin.is_none() {
            self.custom_groups += 1;
        }
        g
    }

    /// The workspace id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The workspace's compiled schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The revision of the last change applied to this workspace.
    pub fn applied_revision(&self) -> rolecall_model::Revision {
        self.applied
    }

    /// How many users, groups (built-in included) and resources the workspace holds.
    pub fn counts(&self) -> (u64, u64, usize) {
        let resources = self.resource_ix.iter().map(|m| m.len()).sum();
        (self.all_users.len(), self.all_groups.len(), resources)
    }

    pub(crate) fn user(&self, u: UserIx) -> Option<&UserRec> {
        self.users.get(u)
    }

    pub(crate) fn user_mut(&mut self, u: UserIx) -> Option<&mut UserRec> {
        self.users.get_mut(u)
    }

    pub(crate) fn group(&self, g: GroupIx) -> Option<&GroupRec> {
        self.groups.get(g)
    }

    pub(crate) fn group_mut(&mut self, g: GroupIx) -> Option<&mut GroupRec> {
        self.groups.get_mut(g)
    }

    pub(crate) fn resource(&self, r: ResIx) -> Option<&ResourceRec> {
        self.resources.get(r)
    }

    pub(crate) fn resource_mut(&mut self, r: ResIx) -> Option<&mut ResourceRec> {
        self.resources.get_mut(r)
    }

    /// The index of the user with this id.
    pub(crate) fn user_ix_of(&self, id: &str) -> Option<UserIx> {
        let users = &self.users;
        self.user_ix.get(id, |u| users.get(u).map(|x| x.id.as_str()))
    }

    /// The index of the resource of type `ty` with this id.
    pub(crate) fn resource_ix_of(&self, ty: TypeIx, id: &str) -> Option<ResIx> {
        let resources = &self.resources;
        self.resource_ix.get(usize::from(ty))?.get(id, |r| resources.get(r).map(|x| x.id.as_str()))
    }

    pub(crate) fn user_by_id(&self, id: &str) -> Result<UserIx, crate::EngineError> {
        self.user_ix_of(id).ok_or_else(|| crate::EngineError::UserNotFound(id.to_string()))
    }

    /// Whether user `u` is suspended.
    pub(crate) fn is_suspended(&self, u: UserIx) -> bool {
        !self.suspended.is_empty() && self.suspended.contains(u)
    }

    pub(crate) fn user_rec(&self, id: &str) -> Result<(UserIx, &UserRec), crate::EngineError> {
        let u = self.user_by_id(id)?;
        let rec = self.user(u).ok_or_else(|| crate::EngineError::UserNotFound(id.to_string()))?;
        Ok((u, rec))
    }

    pub(crate) fn group_by_id(&self, id: &str) -> Result<GroupIx, crate::EngineError> {
        self.group_ix.get(id).copied().ok_or_else(|| crate::EngineError::GroupNotFound(id.to_string()))
    }

    pub(crate) fn policy_by_id(&self, id: &str) -> Result<PolicyIx, crate::EngineError> {
        self.policy_ix.get(id).copied().ok_or_else(|| crate::EngineError::PolicyNotFound(id.to_string()))
    }

    pub(crate) fn type_by_name(&self, kind: &str) -> Result<TypeIx, crate::EngineError> {
        self.schema.type_ix(kind).ok_or_else(|| crate::EngineError::UnknownType(kind.to_string()))
    }

    pub(crate) fn resource_by_ref(&self, r: &ResourceRef) -> Result<ResIx, crate::EngineError> {
        let ty = self.type_by_name(&r.kind)?;
        self.resource_ix_of(ty, &r.id).ok_or_else(|| crate::EngineError::ResourceNotFound(r.to_string()))
    }

    pub(crate) fn resource_ref(&self, r: ResIx) -> ResourceRef {
        match self.resource(r) {
            Some(res) => ResourceRef::new(self.schema.ty(res.ty).name.clone(), &*res.id),
            None => ResourceRef::new("", ""),
        }
    }

    pub(crate) fn user_id(&self, u: UserIx) -> &str {
        self.user(u).map_or("", |x| &x.id)
    }

    pub(crate) fn group_id(&self, g: GroupIx) -> &str {
        self.group(g).map_or("", |x| &x.id)
    }

    pub(crate) fn is_admin(&self, user: &UserRec) -> bool {
        self.schema.ws_role_is_admin(user.ws_role)
    }

    /// Every group `user` belongs to, directly or through nesting.
    pub(crate) fn groups_of(&self, user: &UserRec) -> RoaringBitmap {
        user.reach.iter().copied().collect()
    }

    /// Whether group `g`'s grants count (it exists and applies privileges).
    pub(crate) fn group_applies(&self, g: GroupIx) -> bool {
        self.applies.get(g as usize).copied().unwrap_or(false)
    }

    /// Recomputes [`UserRec::reach`] of each user from their direct groups' ancestors.
    pub(crate) fn refresh_reach(&mut self, users: impl IntoIterator<Item = UserIx>) {
        let mut reach = RoaringBitmap::new();
        for u in users {
            let Some(user) = self.user(u) else { continue };
            reach.clear();
            for &g in &user.groups {
                if let Some(group) = self.group(g) {
                    reach |= &group.ancestors;
                }
            }
            let fresh: SmallVec<[GroupIx; 10]> = reach.iter().collect();
            if let Some(user) = self.user_mut(u) {
                user.reach = fresh;
            }
        }
    }

    /// Users whose workspace role is one of `roles`.
    pub(crate) fn users_with_ws_roles(&self, roles: impl Iterator<Item = WsRoleIx>) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for w in roles {
            if let Some(set) = self.ws_role_users.get(usize::from(w)) {
                out |= set;
            }
        }
        out
    }

    /// Users with an admin workspace role.
    pub(crate) fn admin_users(&self) -> RoaringBitmap {
        let admin_roles =
            (0..self.schema.workspace_roles.len() as WsRoleIx).filter(|w| self.schema.ws_role_is_admin(*w));
        self.users_with_ws_roles(admin_roles)
    }
}

#[cfg(test)]
mod layout {
    /// What a check reads of a resource, and of a user, fits in the record's first two
    /// cache lines.
    #[test]
    fn a_check_reads_two_cache_lines_of_each_record() {
        let resource = std::mem::offset_of!(super::ResourceRec, children);
        assert!(resource <= 128, "the resource's check fields end at byte {resource}");
        let user = std::mem::offset_of!(super::UserRec, kind);
        assert!(user <= 128, "the user's check fields end at byte {user}");
    }
}
