//! A deliberately naive model of Rolecall's rules: plain maps, recursion, no index, no
//! caching. It is meant to be obviously right by reading API.md next to it; the engine is
//! compared with it on fixtures and on random operation sequences.

use std::collections::{BTreeMap, BTreeSet};

use rolecall_model::{
    Change, Effect, GroupPermissions, Limits, MemberRole, Op, ResourceRef, Schema, SchemaDoc, Subject, UserKind,
    Visibility, WithoutScope, validate_id,
};

const EVERYONE: &str = "everyone";
const ADMINS: &str = "workspace-admins";

#[derive(Clone, Debug)]
struct User {
    role: String,
    kind: UserKind,
    /// Suspended users are allowed nothing.
    suspended: bool,
}

#[derive(Clone, Debug)]
struct Group {
    visibility: Visibility,
    apply_privileges: bool,
    members: BTreeMap<String, MemberRole>,
    children: BTreeSet<String>,
    /// Set id -> (permissions, assignees). The built-in sets are here too.
    sets: BTreeMap<String, (GroupPermissions, BTreeSet<Subject>)>,
    policies: BTreeSet<String>,
    scopes: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
}

impl Group {
    fn new(visibility: Visibility, apply_privileges: bool) -> Group {
        let mut sets = BTreeMap::new();
        sets.insert("owners".to_string(), (GroupPermissions::ALL, BTreeSet::new()));
        sets.insert("members".to_string(), (GroupPermissions::VIEW, BTreeSet::new()));
        sets.insert("everyone".to_string(), (GroupPermissions::NONE, BTreeSet::new()));
        Group {
            visibility,
            apply_privileges,
            members: BTreeMap::new(),
            children: BTreeSet::new(),
            sets,
            policies: BTreeSet::new(),
            scopes: BTreeMap::new(),
        }
    }
}

/// One workspace, naively.
#[derive(Clone, Debug)]
pub struct Reference {
    pub id: String,
    pub schema: Schema,
    limits: Limits,
    users: BTreeMap<String, User>,
    groups: BTreeMap<String, Group>,
    policies: BTreeMap<String, BTreeMap<String, Effect>>,
    resources: BTreeMap<ResourceRef, Option<ResourceRef>>,
    grants: BTreeMap<(ResourceRef, Subject), String>,
}

/// An answer to a check: allowed, and the role reported.
pub type Answer = (bool, Option<String>);

fn is_builtin(group: &str) -> bool {
    group == EVERYONE || group == ADMINS
}

impl Reference {
    pub fn new(id: &str, schema: SchemaDoc, limits: Limits) -> Reference {
        let mut groups = BTreeMap::new();
        groups.insert(EVERYONE.to_string(), Group::new(Visibility::Public, true));
        groups.insert(ADMINS.to_string(), Group::new(Visibility::Public, true));
        Reference {
            id: id.to_string(),
            schema: Schema::compile(schema).expect("reference schema"),
            limits,
            users: BTreeMap::new(),
            groups,
            policies: BTreeMap::new(),
            resources: BTreeMap::new(),
            grants: BTreeMap::new(),
        }
    }

    pub fn user_ids(&self) -> Vec<String> {
        self.users.keys().cloned().collect()
    }

    pub fn group_ids(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }

    pub fn resource_refs(&self) -> Vec<ResourceRef> {
        self.resources.keys().cloned().collect()
    }

    fn ws_level(&self, role: &str) -> usize {
        self.schema.workspace_roles.iter().position(|r| r == role).expect("known workspace role")
    }

    fn is_admin(&self, user: &str) -> bool {
        self.users.get(user).is_some_and(|u| self.schema.admin_roles_contains(&u.role))
    }

    /// Whether `user` is in `group`, directly or through nested groups.
    pub fn is_member(&self, user: &str, group: &str) -> bool {
        let Some(u) = self.users.get(user) else { return false };
        if group == EVERYONE {
            return u.kind == UserKind::Regular;
        }
        if group == ADMINS {
            return self.is_admin(user);
        }
        let Some(g) = self.groups.get(group) else { return false };
        g.members.contains_key(user) || g.children.iter().any(|c| self.is_member(user, c))
    }

    fn subject_covers(&self, subject: &Subject, user: &str) -> bool {
        match subject {
            Subject::User(u) => u == user,
            Subject::Group(g) => self.is_member(user, g),
        }
    }

    fn contains_group(&self, group: &str, inner: &str) -> bool {
        group == inner
            || self.groups.get(group).is_some_and(|g| g.children.iter().any(|c| self.contains_group(c, inner)))
    }

    // ----- the rules for resources (API.md) -----

    /// (best role from any source, best role a deny cannot take away, denied), as role levels.
    fn sources(&self, user: &str, r: &ResourceRef) -> (Option<usize>, Option<usize>, bool) {
        let t = self.schema.type_ix(&r.kind).expect("known type");
        let ty = self.schema.ty(t);
        let level_of = |role: &str| ty.roles.iter().position(|x| x == role);
        let mut best: Option<usize> = None;
        let mut kept: Option<usize> = None;
        let mut denied = false;
        let ws = self.ws_level(&self.users[user].role);
        for (w, role) in &ty.implied {
            if usize::from(*w) <= ws {
                best = best.max(Some(usize::from(*role)));
                kept = kept.max(Some(usize::from(*role)));
            }
        }
        for ((res, subject), role) in &self.grants {
            if res != r {
                continue;
            }
            let applies = match subject {
                Subject::User(u) => u == user,
                Subject::Group(g) => self.groups[g].apply_privileges && self.is_member(user, g),
            };
            if !applies {
                continue;
            }
            if ty.deny_role.as_deref() == Some(role.as_str()) {
                denied = true;
            } else {
                best = best.max(level_of(role));
            }
        }
        if let Some(Some(parent)) = self.resources.get(r)
            && let Some(on_parent) = self.effective_level(user, parent)
        {
            for (parent_role, role, locked) in &ty.from_parent {
                if usize::from(*parent_role) <= on_parent {
                    best = best.max(Some(usize::from(*role)));
                    if *locked {
                        kept = kept.max(Some(usize::from(*role)));
                    }
                }
            }
        }
        (best, kept, denied)
    }

    fn effective_level(&self, user: &str, r: &ResourceRef) -> Option<usize> {
        let (best, kept, denied) = self.sources(user, r);
        if denied { kept } else { best }
    }

    // ----- group management (seeds 002, 004) -----

    fn group_allows(&self, user: &str, group: &str, action: &str) -> bool {
        let g = &self.groups[group];
        let builtin = is_builtin(group);
        if builtin && (action == "delete" || action == "manage_members") {
            return false;
        }
        if self.is_admin(user) {
            return true;
        }
        let role = g.members.get(user).copied();
        let mut perms = GroupPermissions::NONE;
        if role == Some(MemberRole::Owner) {
            perms = perms.union(g.sets["owners"].0);
        } else if self.is_member(user, group) {
            perms = perms.union(g.sets["members"].0);
        }
        if self.users[user].kind == UserKind::Regular {
            perms = perms.union(g.sets["everyone"].0);
        }
        for (id, (p, assignees)) in &g.sets {
            if !["owners", "members", "everyone"].contains(&id.as_str())
                && assignees.iter().any(|s| self.subject_covers(s, user))
            {
                perms = perms.union(*p);
            }
        }
        let editor = role == Some(MemberRole::Editor);
        match action {
            "view" => !perms.is_empty() || editor || g.visibility == Visibility::Public,
            "edit" => perms.edit,
            "manage_members" => perms.edit || editor,
            "delete" => perms.delete,
            _ => false,
        }
    }

    // ----- capabilities (seed 000) -----

    fn capability(&self, user: &str, capability: &str) -> bool {
        if self.is_admin(user) {
            return true;
        }
        let mut allowed = false;
        for (group_id, g) in &self.groups {
            if !self.is_member(user, group_id) {
                continue;
            }
            for p in &g.policies {
                match self.policies[p].get(capability) {
                    Some(Effect::Deny) => return false,
                    Some(Effect::Allow) => allowed = true,
                    None => {}
                }
            }
        }
        let def = self.schema.capabilities.iter().find(|c| c.name == capability).expect("known capability");
        allowed || self.ws_level(&self.users[user].role) >= usize::from(def.min_role)
    }

    /// The answer of a check, or the error code. A suspended user is allowed nothing and
    /// holds no role.
    pub fn check(&self, user: &str, action: &str, r: &ResourceRef) -> Result<Answer, &'static str> {
        let answer = self.check_held(user, action, r)?;
        Ok(if self.users[user].suspended { (false, None) } else { answer })
    }

    fn check_held(&self, user: &str, action: &str, r: &ResourceRef) -> Result<Answer, &'static str> {
        if !self.users.contains_key(user) {
            return Err("user_not_found");
        }
        match r.kind.as_str() {
            "workspace" => {
                if r.id != self.id {
                    return Err("resource_not_found");
                }
                Ok((self.capability(user, action), Some(self.users[user].role.clone())))
            }
            "group" => {
                if !self.groups.contains_key(&r.id) {
                    return Err("group_not_found");
                }
                // Members of the built-in groups are kept automatically, as plain members.
                let role = if is_builtin(&r.id) {
                    self.is_member(user, &r.id).then(|| "member".to_string())
                } else {
                    self.groups[&r.id].members.get(user).map(|m| m.as_str().to_string())
                };
                Ok((self.group_allows(user, &r.id, action), role))
            }
            kind => {
                let t = self.schema.type_ix(kind).ok_or("unknown_type")?;
                let ty = self.schema.ty(t);
                let needed = ty.action_level(action).ok_or("unknown_action")?;
                if !self.resources.contains_key(r) {
                    return Err("resource_not_found");
                }
                let level = self.effective_level(user, r);
                Ok((level.is_some_and(|l| l >= usize::from(needed)), level.map(|l| ty.roles[l].clone())))
            }
        }
    }

    /// The user's data filter as (unrestricted, the scopes whose union they see).
    pub fn data_filter(&self, user: &str, dataset: &str) -> (bool, Vec<BTreeMap<String, BTreeSet<String>>>) {
        if self.users[user].suspended {
            return (false, Vec::new());
        }
        if self.is_admin(user) {
            return (true, Vec::new());
        }
        let mut scopes = Vec::new();
        for (id, g) in &self.groups {
            if let Some(scope) = g.scopes.get(dataset)
                && self.is_member(user, id)
            {
                if scope.is_empty() {
                    return (true, Vec::new());
                }
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
        }
        scopes.sort();
        if scopes.is_empty() {
            let def = &self.schema.datasets[self.schema.dataset(dataset).expect("known dataset")];
            return (def.without_scope == WithoutScope::Everything, Vec::new());
        }
        (false, scopes)
    }

    // ----- changes -----

    fn member_counts_ok(&self) -> bool {
        self.groups.keys().filter(|g| !is_builtin(g)).all(|g| {
            let n = self.users.keys().filter(|u| self.is_member(u, g)).count() as u64;
            n <= self.limits.max_members
        })
    }

    fn need_group(&self, g: &str) -> Result<(), &'static str> {
        if self.groups.contains_key(g) { Ok(()) } else { Err("group_not_found") }
    }

    fn need_custom_group(&self, g: &str) -> Result<(), &'static str> {
        self.need_group(g)?;
        if is_builtin(g) { Err("builtin_group") } else { Ok(()) }
    }

    fn need_user(&self, u: &str) -> Result<(), &'static str> {
        if self.users.contains_key(u) { Ok(()) } else { Err("user_not_found") }
    }

    fn need_subject(&self, s: &Subject) -> Result<(), &'static str> {
        match s {
            Subject::User(u) => self.need_user(u),
            Subject::Group(g) => self.need_group(g),
        }
    }

    fn need_resource(&self, r: &ResourceRef) -> Result<(), &'static str> {
        self.schema.type_ix(&r.kind).ok_or("unknown_type")?;
        if self.resources.contains_key(r) { Ok(()) } else { Err("resource_not_found") }
    }

    fn owners(&self, g: &str) -> usize {
        self.groups[g].members.values().filter(|r| **r == MemberRole::Owner).count()
    }

    /// Applies a change, or refuses it with the error code and changes nothing.
    pub fn apply(&mut self, change: &Change) -> Result<(), &'static str> {
        let mut next = self.clone();
        next.apply_unchecked(&change.op)?;
        if !next.member_counts_ok() {
            return Err("limit_exceeded");
        }
        *self = next;
        Ok(())
    }

    fn apply_unchecked(&mut self, op: &Op) -> Result<(), &'static str> {
        match op {
            Op::PutUser { user, workspace_role, kind } => {
                validate_id("user", user).map_err(|_| "invalid_id")?;
                if !self.schema.workspace_roles.contains(workspace_role) {
                    return Err("unknown_workspace_role");
                }
                let suspended = self.users.get(user).is_some_and(|u| u.suspended);
                self.users.insert(user.clone(), User { role: workspace_role.clone(), kind: *kind, suspended });
            }
            Op::SetUserActive { user, active } => {
                self.need_user(user)?;
                if let Some(u) = self.users.get_mut(user) {
                    u.suspended = !*active;
                }
            }
            Op::DeleteUser { user } => {
                self.need_user(user)?;
                self.users.remove(user);
                for g in self.groups.values_mut() {
                    g.members.remove(user);
                    for (_, assignees) in g.sets.values_mut() {
                        assignees.remove(&Subject::User(user.clone()));
                    }
                }
                self.grants.retain(|(_, s), _| *s != Subject::User(user.clone()));
            }
            Op::PutGroup { group, visibility, apply_privileges, .. } => {
                validate_id("group", group).map_err(|_| "invalid_id")?;
                match self.groups.get_mut(group) {
                    Some(g) => {
                        g.visibility = *visibility;
                        g.apply_privileges = *apply_privileges;
                    }
                    None => {
                        let custom = self.groups.keys().filter(|g| !is_builtin(g)).count();
                        if custom as u32 >= self.limits.max_groups {
                            return Err("limit_exceeded");
                        }
                        self.groups.insert(group.clone(), Group::new(*visibility, *apply_privileges));
                    }
                }
            }
            Op::DeleteGroup { group } => {
                self.need_custom_group(group)?;
                self.groups.remove(group);
                let gone = Subject::Group(group.clone());
                for g in self.groups.values_mut() {
                    g.children.remove(group);
                    for (_, assignees) in g.sets.values_mut() {
                        assignees.remove(&gone);
                    }
                }
                self.grants.retain(|(_, s), _| *s != gone);
            }
            Op::PutMember { group, user, role } => {
                self.need_custom_group(group)?;
                self.need_user(user)?;
                let current = self.groups[group].members.get(user).copied();
                if current == Some(*role) {
                    return Ok(());
                }
                if *role == MemberRole::Owner && self.owners(group) >= self.limits.max_owners as usize {
                    return Err("limit_exceeded");
                }
                if current == Some(MemberRole::Owner) && self.owners(group) == 1 {
                    return Err("last_owner");
                }
                self.groups.get_mut(group).expect("group").members.insert(user.clone(), *role);
            }
            Op::RemoveMember { group, user } => {
                self.need_custom_group(group)?;
                self.need_user(user)?;
                match self.groups[group].members.get(user) {
                    None => return Err("member_not_found"),
                    Some(MemberRole::Owner) if self.owners(group) == 1 => return Err("last_owner"),
                    Some(_) => {}
                }
                self.groups.get_mut(group).expect("group").members.remove(user);
            }
            Op::PutChildGroup { group, child } => {
                self.need_custom_group(group)?;
                self.need_group(child)?;
                if self.groups[group].children.contains(child) {
                    return Ok(());
                }
                if self.contains_group(child, group) {
                    return Err("cycle");
                }
                self.groups.get_mut(group).expect("group").children.insert(child.clone());
            }
            Op::RemoveChildGroup { group, child } => {
                self.need_custom_group(group)?;
                self.need_group(child)?;
                if !self.groups.get_mut(group).expect("group").children.remove(child) {
                    return Err("child_group_not_found");
                }
            }
            Op::PutPermissionSet { group, set, permissions } => {
                self.need_group(group)?;
                validate_id("permission set", set).map_err(|_| "invalid_id")?;
                if set == "owners" {
                    return Err("builtin_permission_set");
                }
                let g = self.groups.get_mut(group).expect("group");
                g.sets.entry(set.clone()).or_insert((GroupPermissions::NONE, BTreeSet::new())).0 = *permissions;
            }
            Op::DeletePermissionSet { group, set } => {
                self.need_group(group)?;
                if !self.groups[group].sets.contains_key(set) {
                    return Err("permission_set_not_found");
                }
                if ["owners", "members", "everyone"].contains(&set.as_str()) {
                    return Err("builtin_permission_set");
                }
                self.groups.get_mut(group).expect("group").sets.remove(set);
            }
            Op::PutAssignee { group, set, subject } | Op::RemoveAssignee { group, set, subject } => {
                self.need_group(group)?;
                if !self.groups[group].sets.contains_key(set) {
                    return Err("permission_set_not_found");
                }
                if ["owners", "members", "everyone"].contains(&set.as_str()) {
                    return Err("builtin_permission_set");
                }
                self.need_subject(subject)?;
                let assignees = &mut self.groups.get_mut(group).expect("group").sets.get_mut(set).expect("set").1;
                if matches!(op, Op::PutAssignee { .. }) {
                    assignees.insert(subject.clone());
                } else if !assignees.remove(subject) {
                    return Err("assignee_not_found");
                }
            }
            Op::PutPolicy { policy, rules } => {
                validate_id("policy", policy).map_err(|_| "invalid_id")?;
                if rules.keys().any(|c| self.schema.capability(c).is_none()) {
                    return Err("unknown_capability");
                }
                self.policies.insert(policy.clone(), rules.clone());
            }
            Op::DeletePolicy { policy } => {
                if self.policies.remove(policy).is_none() {
                    return Err("policy_not_found");
                }
                for g in self.groups.values_mut() {
                    g.policies.remove(policy);
                }
            }
            Op::AttachPolicy { group, policy } | Op::DetachPolicy { group, policy } => {
                self.need_group(group)?;
                if !self.policies.contains_key(policy) {
                    return Err("policy_not_found");
                }
                let policies = &mut self.groups.get_mut(group).expect("group").policies;
                if matches!(op, Op::AttachPolicy { .. }) {
                    policies.insert(policy.clone());
                } else if !policies.remove(policy) {
                    return Err("policy_not_attached");
                }
            }
            Op::PutDataScope { group, dataset, scope } => {
                self.need_group(group)?;
                let d = self.schema.dataset(dataset).ok_or("unknown_dataset")?;
                if scope.keys().any(|a| !self.schema.datasets[d].attributes.contains(a)) {
                    return Err("unknown_attribute");
                }
                let scope = scope.iter().map(|(k, v)| (k.clone(), v.iter().cloned().collect())).collect();
                self.groups.get_mut(group).expect("group").scopes.insert(dataset.clone(), scope);
            }
            Op::RemoveDataScope { group, dataset } => {
                self.need_group(group)?;
                self.schema.dataset(dataset).ok_or("unknown_dataset")?;
                if self.groups.get_mut(group).expect("group").scopes.remove(dataset).is_none() {
                    return Err("data_scope_not_found");
                }
            }
            Op::PutResource { resource, parent } => {
                let t = self.schema.type_ix(&resource.kind).ok_or("unknown_type")?;
                validate_id("resource", &resource.id).map_err(|_| "invalid_id")?;
                if let Some(p) = parent {
                    let pt = self.schema.type_ix(&p.kind).ok_or("unknown_type")?;
                    if self.schema.ty(t).parent != Some(pt) {
                        return Err("invalid_parent");
                    }
                    self.need_resource(p)?;
                }
                self.resources.insert(resource.clone(), parent.clone());
            }
            Op::DeleteResource { resource } => {
                self.need_resource(resource)?;
                if self.resources.values().any(|p| p.as_ref() == Some(resource)) {
                    return Err("resource_has_children");
                }
                self.resources.remove(resource);
                self.grants.retain(|(r, _), _| r != resource);
            }
            Op::PutGrant { resource, subject, role } => {
                self.need_resource(resource)?;
                self.need_subject(subject)?;
                let ty = self.schema.ty(self.schema.type_ix(&resource.kind).expect("type"));
                if !ty.roles.contains(role) && ty.deny_role.as_ref() != Some(role) {
                    return Err("unknown_role");
                }
                self.grants.insert((resource.clone(), subject.clone()), role.clone());
            }
            Op::RemoveGrant { resource, subject } => {
                self.need_resource(resource)?;
                self.need_subject(subject)?;
                if self.grants.remove(&(resource.clone(), subject.clone())).is_none() {
                    return Err("grant_not_found");
                }
            }
            Op::CreateWorkspace { .. } | Op::DeleteWorkspace | Op::ReplaceSchema { .. } => {
                return Err("not_modelled");
            }
        }
        Ok(())
    }
}

/// The one helper the reference needs from a compiled schema.
trait AdminRoles {
    fn admin_roles_contains(&self, role: &str) -> bool;
}

impl AdminRoles for Schema {
    fn admin_roles_contains(&self, role: &str) -> bool {
        self.ws_role(role).is_some_and(|w| self.ws_role_is_admin(w))
    }
}
