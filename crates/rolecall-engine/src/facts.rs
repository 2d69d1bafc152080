//! A workspace as the list of changes that rebuilds it: used to move a workspace onto a
//! new schema, and by tests to compare states.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use rolecall_model::{Effect, GroupPermissions, MemberRole, Op, ResourceRef, Subject, UserKind};

use crate::index::{Builtin, BuiltinSet, Grant, Scope, WorkspaceIndex};

impl WorkspaceIndex {
    /// Changes that, applied in order to a fresh workspace, rebuild this one.
    pub fn facts(&self) -> Vec<Op> {
        let mut ops = Vec::new();
        let role_name = |w: u8| self.schema.workspace_roles[usize::from(w)].clone();
        for (u, user) in self.users.iter() {
            ops.push(Op::PutUser {
                user: user.id.to_string(),
                workspace_role: role_name(user.ws_role),
                kind: user.kind,
            });
            if self.is_suspended(u) {
                ops.push(Op::SetUserActive { user: user.id.to_string(), active: false });
            }
        }
        let groups: Vec<_> = self.groups.values().collect();
        for group in &groups {
            ops.push(Op::PutGroup {
                group: group.id.to_string(),
                visibility: group.visibility,
                apply_privileges: group.apply_privileges,
                notify: group.notify,
            });
        }
        for group in &groups {
            for &c in &group.children {
                ops.push(Op::PutChildGroup { group: group.id.to_string(), child: self.group_id(c).to_string() });
            }
            if group.builtin.is_none() {
                // Owners first, so a group never passes through having none.
                let mut members: Vec<_> = group.direct.iter().filter_map(|u| Some((u, group.role_of(u)?))).collect();
                members.sort_by_key(|(_, role)| std::cmp::Reverse(*role));
                for (u, role) in members {
                    ops.push(Op::PutMember { group: group.id.to_string(), user: self.user_id(u).to_string(), role });
                }
            }
        }
        for group in &groups {
            for set in &group.sets {
                if set.builtin != Some(BuiltinSet::Owners) {
                    ops.push(Op::PutPermissionSet {
                        group: group.id.to_string(),
                        set: set.id.to_string(),
                        permissions: set.permissions,
                    });
                }
                let subjects = set.users.iter().map(|u| Subject::User(self.user_id(u).to_string()));
                let subjects = subjects.chain(set.groups.iter().map(|h| Subject::Group(self.group_id(*h).to_string())));
                for subject in subjects {
                    ops.push(Op::PutAssignee { group: group.id.to_string(), set: set.id.to_string(), subject });
                }
            }
            for (d, scope) in &group.scopes {
                ops.push(Op::PutDataScope {
                    group: group.id.to_string(),
                    dataset: self.schema.datasets[*d].name.clone(),
                    scope: scope.iter().map(|(k, v)| (k.clone(), v.iter().cloned().collect())).collect(),
                });
            }
        }
        for policy in self.policies.iter().flatten() {
            let rules = policy.rules.iter().map(|(c, e)| (self.schema.capabilities[*c].name.clone(), *e)).collect();
            ops.push(Op::PutPolicy { policy: policy.id.to_string(), rules });
            for g in &policy.groups {
                ops.push(Op::AttachPolicy { group: self.group_id(*g).to_string(), policy: policy.id.to_string() });
            }
        }
        // Parents before children: order resources by the depth of their type.
        let depth = |t: u16| {
            let mut d = 0;
            let mut at = self.schema.ty(t).parent;
            while let Some(p) = at {
                d += 1;
                at = self.schema.ty(p).parent;
            }
            d
        };
        let mut resources: Vec<_> = self.resources.iter().map(|(i, r)| (i as usize, r)).collect();
        resources.sort_by_key(|(i, r)| (depth(r.ty), *i));
        for (i, res) in &resources {
            ops.push(Op::PutResource {
                resource: self.resource_ref(*i as u32),
                parent: res.parent.map(|p| self.resource_ref(p)),
            });
        }
        for (i, res) in &resources {
            let resource: ResourceRef = self.resource_ref(*i as u32);
            let ty = self.schema.ty(res.ty);
            let role_of = |grant: Grant| match grant {
                Grant::Role(l) => ty.role_name(l).to_string(),
                Grant::Deny => ty.deny_role.clone().unwrap_or_default(),
            };
            let users =
                res.user_roles.iter().enumerate().flat_map(|(l, s)| s.iter().map(move |u| (u, Grant::Role(l as u8))));
            for (u, grant) in users.chain(res.user_deny.iter().map(|u| (u, Grant::Deny))) {
                let subject = Subject::User(self.user_id(u).to_string());
                ops.push(Op::PutGrant { resource: resource.clone(), subject, role: role_of(grant) });
            }
            for &(g, grant) in &res.group_grants {
                let subject = Subject::Group(self.group_id(g).to_string());
                ops.push(Op::PutGrant { resource: resource.clone(), subject, role: role_of(grant) });
            }
        }
        ops
    }

    /// Whether this is one of the two built-in groups, and which.
    pub fn builtin(&self, group: &str) -> Option<Builtin> {
        self.group_ix.get(group).and_then(|g| self.group(*g)).and_then(|x| x.builtin)
    }

    /// A user's workspace role and kind.
    pub fn user_info(&self, user: &str) -> Option<(&str, UserKind)> {
        let u = self.user(self.user_ix_of(user)?)?;
        Some((self.schema.workspace_roles[usize::from(u.ws_role)].as_str(), u.kind))
    }

    /// Direct user members of a group with their roles.
    pub fn direct_members(&self, group: &str) -> Option<Vec<(&str, MemberRole)>> {
        let g = self.group(*self.group_ix.get(group)?)?;
        Some(g.direct.iter().filter_map(|u| Some((self.user_id(u), g.role_of(u)?))).collect())
    }

    /// The groups nested directly in a group.
    pub fn child_groups(&self, group: &str) -> Option<Vec<&str>> {
        let g = self.group(*self.group_ix.get(group)?)?;
        Some(g.children.iter().map(|c| self.group_id(*c)).collect())
    }

    /// How many users are direct members of a group (automatic members for built-in groups).
    pub fn direct_member_count(&self, group: &str) -> Option<u64> {
        Some(self.group(*self.group_ix.get(group)?)?.direct.len())
    }

    /// How many users a group holds, counting nested groups.
    pub fn member_count(&self, group: &str) -> Option<u64> {
        Some(self.group(*self.group_ix.get(group)?)?.members.len())
    }
}

impl WorkspaceIndex {
    /// Every user id, in creation order.
    pub fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.users.values().map(|u| &*u.id)
    }

    /// Every group id (built-in groups first), in creation order.
    pub fn group_ids(&self) -> impl Iterator<Item = &str> {
        self.groups.values().map(|g| &*g.id)
    }

    /// Every resource, in registration order.
    pub fn resource_refs(&self) -> impl Iterator<Item = ResourceRef> + '_ {
        self.resources.iter().map(|(i, _)| self.resource_ref(i))
    }
}

/// A permission set of a group as the directory shows it (seed 002).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionSetInfo<'a> {
    pub id: &'a str,
    /// For the built-in sets `owners`, `members` and `everyone`, whose assignees follow
    /// membership; `None` for custom sets.
    pub builtin: Option<BuiltinSet>,
    pub permissions: GroupPermissions,
    /// Assigned users (custom sets only), in creation order.
    pub users: Vec<&'a str>,
    /// Assigned groups (custom sets only).
    pub groups: Vec<&'a str>,
}

/// A permission policy and the groups it is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyInfo<'a> {
    pub id: &'a str,
    pub rules: BTreeMap<String, Effect>,
    pub groups: Vec<&'a str>,
}

impl WorkspaceIndex {
    /// The permission sets of a group, built-in sets first.
    pub fn permission_sets(&self, group: &str) -> Option<Vec<PermissionSetInfo<'_>>> {
        let g = self.group(*self.group_ix.get(group)?)?;
        let mut sets: Vec<_> = g
            .sets
            .iter()
            .map(|s| PermissionSetInfo {
                id: &s.id,
                builtin: s.builtin,
                permissions: s.permissions,
                users: s.users.iter().map(|u| self.user_id(u)).collect(),
                groups: s.groups.iter().map(|h| self.group_id(*h)).collect(),
            })
            .collect();
        sets.sort_by_key(|s| s.builtin.is_none());
        Some(sets)
    }

    /// Every policy of the workspace, by id.
    pub fn policies(&self) -> Vec<PolicyInfo<'_>> {
        let mut out: Vec<_> = self.policies.iter().flatten().map(|p| self.policy_info(p)).collect();
        out.sort_by_key(|p| p.id);
        out
    }

    /// One policy.
    pub fn policy(&self, id: &str) -> Option<PolicyInfo<'_>> {
        let p = self.policies.get(*self.policy_ix.get(id)? as usize)?.as_ref()?;
        Some(self.policy_info(p))
    }

    fn policy_info<'a>(&'a self, p: &'a crate::index::PolicyRec) -> PolicyInfo<'a> {
        PolicyInfo {
            id: &p.id,
            rules: p.rules.iter().map(|(c, e)| (self.schema.capabilities[*c].name.clone(), *e)).collect(),
            groups: p.groups.iter().map(|g| self.group_id(*g)).collect(),
        }
    }

    /// The policies attached to a group, by id.
    pub fn group_policies(&self, group: &str) -> Option<Vec<&str>> {
        let g = self.group(*self.group_ix.get(group)?)?;
        let mut ids: Vec<&str> =
            g.policies.iter().filter_map(|p| self.policies.get(*p as usize)?.as_ref().map(|x| &*x.id)).collect();
        ids.sort_unstable();
        Some(ids)
    }

    /// A group's data scopes: dataset -> attribute -> allowed values.
    pub fn data_scopes(&self, group: &str) -> Option<BTreeMap<&str, &Scope>> {
        let g = self.group(*self.group_ix.get(group)?)?;
        Some(g.scopes.iter().map(|(d, scope)| (self.schema.datasets[*d].name.as_str(), scope)).collect())
    }

    /// The rules that name a group (its privileges, seed 001): each resource it holds a
    /// role on (or the deny role), with the role, in resource order.
    pub fn group_grants(&self, group: &str) -> Option<Vec<(ResourceRef, String)>> {
        let g = self.group(*self.group_ix.get(group)?)?;
        let mut out: Vec<(ResourceRef, String)> = g
            .grants
            .all()
            .into_iter()
            .filter_map(|(r, grant)| {
                let ty = self.schema.ty(self.resource(r)?.ty);
                let role = match grant {
                    Grant::Role(l) => ty.role_name(l).to_string(),
                    Grant::Deny => ty.deny_role.clone().unwrap_or_default(),
                };
                Some((self.resource_ref(r), role))
            })
            .collect();
        out.sort();
        Some(out)
    }

    /// Whether a resource is registered.
    pub fn has_resource(&self, resource: &ResourceRef) -> bool {
        self.require_resource(resource).is_ok()
    }
}

/// One page of a group's direct members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberPage<'a> {
    pub users: Vec<(&'a str, MemberRole)>,
    /// Whether more members follow this page.
    pub more: bool,
}

impl WorkspaceIndex {
    /// Up to `limit` direct user members of a group from position `offset`, in the order
    /// users were created, optionally only those holding `role`. For the built-in groups
    /// these are their automatic members. Cost is linear in `offset + limit`, never in the
    /// group's size.
    pub fn members_page(
        &self,
        group: &str,
        role: Option<MemberRole>,
        offset: u64,
        limit: usize,
    ) -> Option<MemberPage<'_>> {
        let g = self.group(*self.group_ix.get(group)?)?;
        let selected = match role {
            None => g.direct.clone(),
            Some(MemberRole::Owner) => g.owners.clone(),
            Some(MemberRole::Editor) => g.editors.clone(),
            Some(MemberRole::Member) => &(&g.direct - &g.owners) - &g.editors,
        };
        let mut users: Vec<_> = selected
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(limit.saturating_add(1))
            .filter_map(|u| Some((self.user_id(u), g.role_of(u)?)))
            .collect();
        let more = users.len() > limit;
        users.truncate(limit);
        Some(MemberPage { users, more })
    }
}

/// One page of the users of a group at any depth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserPage<'a> {
    pub users: Vec<&'a str>,
    /// How many users the whole list holds.
    pub total: u64,
}

impl WorkspaceIndex {
    /// Up to `limit` users from position `offset` in creation order: every user of the
    /// workspace, or with `group` the users in it at any depth. Finding the position costs
    /// a rank lookup in the member bitmap, never a walk over the users before it.
    pub fn users_page(&self, group: Option<&str>, offset: u64, limit: usize) -> Option<UserPage<'_>> {
        let page = |set: &RoaringBitmap| -> UserPage<'_> {
            let start = u32::try_from(offset).ok().and_then(|n| set.select(n));
            let users = match start {
                None => Vec::new(),
                Some(first) => set.range(first..).take(limit).map(|u| self.user_id(u)).collect(),
            };
            UserPage { users, total: set.len() }
        };
        match group {
            Some(group) => Some(page(&self.group(*self.group_ix.get(group)?)?.members)),
            None => Some(page(&self.all_users)),
        }
    }

    /// The groups a user is in, each with whether they are a direct member (`false`: through
    /// a nested group), built-in groups left out. `None` for an unknown user.
    pub fn user_groups(&self, user: &str) -> Option<Vec<(&str, bool)>> {
        let u = self.user(self.user_ix_of(user)?)?;
        Some(
            u.reach
                .iter()
                .filter_map(|g| self.group(*g).map(|rec| (*g, rec)))
                .filter(|(_, rec)| rec.builtin.is_none())
                .map(|(g, rec)| (&*rec.id, u.groups.binary_search(&g).is_ok()))
                .collect(),
        )
    }

    /// Whether a user is active (not suspended); `None` for an unknown user.
    pub fn is_active(&self, user: &str) -> Option<bool> {
        Some(!self.is_suspended(self.user_ix_of(user)?))
    }

    /// A user's role in a group they are a direct member of.
    pub fn direct_role(&self, group: &str, user: &str) -> Option<MemberRole> {
        let g = self.group(*self.group_ix.get(group)?)?;
        g.role_of(self.user_ix_of(user)?)
    }
}
