//! The final state a list of generated changes builds, in plain tables: what every peer is
//! loaded from, so that Rolecall and the peers hold the very same facts.

use std::collections::{BTreeMap, BTreeSet};

use rolecall_engine::EVERYONE;
use rolecall_model::{Change, Op, ResourceRef, Subject};

/// A role a grant gives, in the Actioner-like schema of [`crate::schema`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Runner,
    Admin,
    /// The workflow deny role.
    Restricted,
}

impl Role {
    pub fn parse(role: &str) -> Option<Role> {
        match role {
            "runner" => Some(Role::Runner),
            "admin" => Some(Role::Admin),
            "restricted" => Some(Role::Restricted),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Runner => "runner",
            Role::Admin => "admin",
            Role::Restricted => "restricted",
        }
    }
}

/// Users, groups, resources and grants as they stand after every change is applied.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// User id -> whether their workspace role is an admin role.
    pub users: BTreeMap<String, bool>,
    /// Group id -> the groups it is nested in (its parents).
    pub groups: BTreeMap<String, BTreeSet<String>>,
    /// User id -> the groups they are a direct member of.
    pub memberships: BTreeMap<String, BTreeSet<String>>,
    /// App id -> its workflows.
    pub apps: BTreeMap<String, Vec<String>>,
    /// Workflow id -> its app.
    pub workflows: BTreeMap<String, String>,
    /// One grant per (resource, subject): a later grant replaces an earlier one.
    pub grants: BTreeMap<(ResourceRef, Subject), Role>,
}

impl Dataset {
    /// Replays the changes a generator made (only the operations it makes are read).
    pub fn from_changes(changes: &[Change]) -> Dataset {
        let mut d = Dataset::default();
        for change in changes {
            match &change.op {
                Op::PutUser { user, workspace_role, .. } => {
                    d.users.insert(user.clone(), matches!(workspace_role.as_str(), "admin" | "owner"));
                    // Every regular user is in the built-in group `everyone`.
                    d.memberships.entry(user.clone()).or_default().insert(EVERYONE.into());
                    d.groups.entry(EVERYONE.into()).or_default();
                }
                Op::PutGroup { group, .. } => {
                    d.groups.entry(group.clone()).or_default();
                }
                Op::PutChildGroup { group, child } => {
                    d.groups.entry(child.clone()).or_default().insert(group.clone());
                }
                Op::PutMember { group, user, .. } => {
                    d.memberships.entry(user.clone()).or_default().insert(group.clone());
                }
                Op::PutResource { resource, parent } => match parent {
                    None => {
                        d.apps.entry(resource.id.clone()).or_default();
                    }
                    Some(app) => {
                        d.apps.entry(app.id.clone()).or_default().push(resource.id.clone());
                        d.workflows.insert(resource.id.clone(), app.id.clone());
                    }
                },
                Op::PutGrant { resource, subject, role } => {
                    if let Some(role) = Role::parse(role) {
                        d.grants.insert((resource.clone(), subject.clone()), role);
                    }
                }
                _ => {}
            }
        }
        d
    }

    /// Every group `group` is nested in, at any depth, itself included.
    pub fn ancestors(&self, group: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![group.to_string()];
        while let Some(g) = todo.pop() {
            if out.insert(g.clone()) {
                todo.extend(self.groups.get(&g).into_iter().flatten().cloned());
            }
        }
        out
    }

    /// Every group a user is in, directly or through nesting.
    pub fn groups_of(&self, user: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for g in self.memberships.get(user).into_iter().flatten() {
            out.extend(self.ancestors(g));
        }
        out
    }

    /// The grants on one resource, by subject.
    pub fn grants_on<'a>(&'a self, resource: &'a ResourceRef) -> impl Iterator<Item = (&'a Subject, Role)> + 'a {
        let from = (resource.clone(), Subject::User(String::new()));
        self.grants.range(from..).take_while(move |((r, _), _)| r == resource).map(|((_, s), role)| (s, *role))
    }
}
