//! Keeping transitive group membership precomputed (Zanzibar's Leopard index).
//!
//! Each group holds `members` (every user in it at any depth) and `ancestors` (every group
//! it is in at any depth). A membership or nesting change touches only the groups above the
//! change: adding is a union into each ancestor; removing recomputes just the affected
//! ancestors from their direct members and children.

use roaring::RoaringBitmap;
use rolecall_model::{LimitKind, Limits, MemberRole};

use crate::EngineError;
use crate::index::{GroupIx, UserIx, WorkspaceIndex};

impl WorkspaceIndex {
    /// Refuses adding `users` below group `g` when a custom group above would exceed its
    /// member limit. Built-in groups are exempt: Everyone is every regular user.
    pub(crate) fn check_member_limit(&self, g: GroupIx, users: &RoaringBitmap) -> Result<(), EngineError> {
        let Limits { max_members, .. } = self.limits;
        let Some(group) = self.group(g) else { return Ok(()) };
        for a in &group.ancestors {
            let Some(above) = self.group(a) else { continue };
            if above.builtin.is_some() {
                continue;
            }
            if above.members.union_len(users) > max_members {
                return Err(EngineError::LimitExceeded {
                    limit: LimitKind::MembersPerGroup,
                    max: max_members,
                    group: Some(above.id.to_string()),
                });
            }
        }
        Ok(())
    }

    /// Makes `u` a direct member of `g` with `role` (or changes their role).
    pub(crate) fn add_direct_member(&mut self, g: GroupIx, u: UserIx, role: MemberRole) {
        let Some(group) = self.group_mut(g) else { return };
        group.direct.insert(u);
        match role {
            MemberRole::Owner => {
                group.owners.insert(u);
                group.editors.remove(u);
            }
            MemberRole::Editor => {
                group.owners.remove(u);
                group.editors.insert(u);
            }
            MemberRole::Member => {
                group.owners.remove(u);
                group.editors.remove(u);
            }
        }
        let ancestors = group.ancestors.clone();
        if let Some(user) = self.user_mut(u)
            && let Err(at) = user.groups.binary_search(&g)
        {
            user.groups.insert(at, g);
        }
        for a in &ancestors {
            if let Some(above) = self.group_mut(a) {
                above.members.insert(u);
            }
        }
        self.refresh_reach([u]);
    }

    /// Removes `u` as a direct member of `g`; they stay in the groups above `g` that they
    /// still reach through another membership.
    pub(crate) fn remove_direct_member(&mut self, g: GroupIx, u: UserIx) {
        let Some(group) = self.group_mut(g) else { return };
        group.direct.remove(u);
        group.owners.remove(u);
        group.editors.remove(u);
        let ancestors = group.ancestors.clone();
        let mut still_reached = RoaringBitmap::new();
        if let Some(user) = self.user_mut(u) {
            user.groups.retain(|x| *x != g);
            let direct = user.groups.clone();
            for d in direct {
                if let Some(group) = self.group(d) {
                    still_reached |= &group.ancestors;
                }
            }
        }
        for a in &(ancestors - still_reached) {
            if let Some(above) = self.group_mut(a) {
                above.members.remove(u);
            }
        }
        self.refresh_reach([u]);
    }

    /// Groups nested in `g` at any depth, `g` included.
    pub(crate) fn descendants(&self, g: GroupIx) -> RoaringBitmap {
        self.all_groups.iter().filter(|d| self.group(*d).is_some_and(|x| x.ancestors.contains(g))).collect()
    }

    /// Nests `child` in `g`. The caller has refused cycles.
    pub(crate) fn add_child(&mut self, g: GroupIx, child: GroupIx) {
        let (Some(parent), Some(c)) = (self.group(g), self.group(child)) else { return };
        let above = parent.ancestors.clone();
        let members = c.members.clone();
        for d in &self.descendants(child) {
            if let Some(below) = self.group_mut(d) {
                below.ancestors |= &above;
            }
        }
        for a in &above {
            if let Some(x) = self.group_mut(a) {
                x.members |= &members;
            }
        }
        if let Some(parent) = self.group_mut(g) {
            parent.children.insert(child);
        }
        if let Some(c) = self.group_mut(child) {
            c.parents.insert(g);
        }
        self.refresh_reach(&members);
    }

    /// Un-nests `child` from `g` and recomputes what that edge contributed.
    pub(crate) fn remove_child(&mut self, g: GroupIx, child: GroupIx) {
        if let Some(parent) = self.group_mut(g) {
            parent.children.remove(&child);
        }
        if let Some(c) = self.group_mut(child) {
            c.parents.remove(&g);
        }
        let below = self.descendants(child);
        self.recompute_ancestors(&below);
        let above = self.group(g).map(|x| x.ancestors.clone()).unwrap_or_default();
        self.recompute_members(&above);
        let members = self.group(child).map(|x| x.members.clone()).unwrap_or_default();
        self.refresh_reach(&members);
    }

    /// Recomputes `ancestors` for every group in `set`, parents before children.
    pub(crate) fn recompute_ancestors(&mut self, set: &RoaringBitmap) {
        for d in self.topological(set, |x| &x.parents) {
            let Some(group) = self.group(d) else { continue };
            let mut ancestors = RoaringBitmap::new();
            ancestors.insert(d);
            for &p in &group.parents {
                if let Some(parent) = self.group(p) {
                    ancestors |= &parent.ancestors;
                }
            }
            if let Some(group) = self.group_mut(d) {
                group.ancestors = ancestors;
            }
        }
    }

    /// Recomputes `members` for every group in `set`, children before parents.
    pub(crate) fn recompute_members(&mut self, set: &RoaringBitmap) {
        for a in self.topological(set, |x| &x.children) {
            let Some(group) = self.group(a) else { continue };
            let mut members = group.direct.clone();
            for &c in &group.children {
                if let Some(child) = self.group(c) {
                    members |= &child.members;
                }
            }
            if let Some(group) = self.group_mut(a) {
                group.members = members;
            }
        }
    }

    /// Orders `set` so that every group comes after the groups `first` names for it (its
    /// parents, or its children) that are also in `set`. The group graph is acyclic.
    fn topological(
        &self,
        set: &RoaringBitmap,
        first: impl Fn(&crate::index::GroupRec) -> &std::collections::BTreeSet<GroupIx>,
    ) -> Vec<GroupIx> {
        let mut order = Vec::with_capacity(set.len() as usize);
        let mut done = RoaringBitmap::new();
        for start in set {
            if done.contains(start) {
                continue;
            }
            // Iterative depth-first search; a group is emitted once all it waits for are.
            let mut stack = vec![(start, false)];
            while let Some((g, expanded)) = stack.pop() {
                if done.contains(g) {
                    continue;
                }
                if expanded {
                    done.insert(g);
                    order.push(g);
                    continue;
                }
                stack.push((g, true));
                if let Some(group) = self.group(g) {
                    for &x in first(group) {
                        if set.contains(x) && !done.contains(x) {
                            stack.push((x, false));
                        }
                    }
                }
            }
        }
        order
    }

    /// The shortest chain of nested groups from one of the user's direct groups up to
    /// `target`, starting with the direct group. Empty when the user is not in `target`.
    pub(crate) fn membership_chain(&self, u: UserIx, target: GroupIx) -> Vec<GroupIx> {
        let Some(user) = self.user(u) else { return Vec::new() };
        let mut previous: std::collections::BTreeMap<GroupIx, Option<GroupIx>> = Default::default();
        let mut queue = std::collections::VecDeque::new();
        for &g in &user.groups {
            if self.group(g).is_some_and(|x| x.ancestors.contains(target)) {
                previous.insert(g, None);
                queue.push_back(g);
            }
        }
        while let Some(g) = queue.pop_front() {
            if g == target {
                let mut chain = vec![g];
                let mut at = g;
                while let Some(Some(p)) = previous.get(&at) {
                    chain.push(*p);
                    at = *p;
                }
                chain.reverse();
                return chain;
            }
            let Some(group) = self.group(g) else { continue };
            for &p in &group.parents {
                if self.group(p).is_some_and(|x| x.ancestors.contains(target)) && !previous.contains_key(&p) {
                    previous.insert(p, Some(g));
                    queue.push_back(p);
                }
            }
        }
        Vec::new()
    }
}
