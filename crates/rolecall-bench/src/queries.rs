//! The questions every system is asked: the same checks, drawn with a fixed seed from the
//! dataset, in named kinds (allowed, denied, restricted, deep nesting, workspace admin).

use std::collections::BTreeMap;

use rolecall_model::{ResourceRef, Subject};

use crate::dataset::{Dataset, Role};

/// One check: may `user` do `action` on `resource`?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub user: String,
    pub action: &'static str,
    pub resource: ResourceRef,
}

/// A named kind of check and its cases.
#[derive(Clone, Debug)]
pub struct CheckSet {
    pub name: &'static str,
    pub what: &'static str,
    pub checks: Vec<Check>,
}

impl Check {
    /// Reads the check's strings, as a server has just read them from the request it
    /// parsed: a latency taken after this is the system's, not the fetching of a test case
    /// generated long before (which measurably slowed the first kind timed).
    pub fn warm(&self) {
        let bytes = |s: &str| s.bytes().fold(0u8, u8::wrapping_add);
        std::hint::black_box(bytes(&self.user) ^ bytes(&self.resource.kind) ^ bytes(&self.resource.id));
    }
}

fn check(user: &str, action: &'static str, resource: &ResourceRef) -> Check {
    Check { user: user.to_string(), action, resource: resource.clone() }
}

/// Up to `n` cases of each kind. The kinds are named for how the answer is reached; which
/// answer is right is what every system must agree on, Rolecall included.
pub fn check_sets<'a>(d: &'a Dataset, n: usize, seed: u64) -> Vec<CheckSet> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let users: Vec<&String> = d.users.keys().collect();
    let workflows: Vec<&String> = d.workflows.keys().collect();
    let grants: Vec<(&ResourceRef, &Subject, Role)> = d.grants.iter().map(|((r, s), role)| (r, s, *role)).collect();
    let pick = |rng: &mut fastrand::Rng, len: usize| rng.usize(0..len.max(1));

    // A direct user grant of a normal role on a workflow.
    let direct: Vec<Check> = sample(&mut rng, &grants, n, |&(r, s, role)| match (s, role) {
        (Subject::User(u), Role::Runner | Role::Admin) if r.kind == "workflow" => Some(check(u, "run", r)),
        _ => None,
    });

    // A random user and workflow with no grant between them (to them or any group of
    // theirs, on the workflow or its app), the user no admin: nothing may allow it.
    let mut denied = Vec::with_capacity(n);
    for _ in 0..n * 50 {
        if denied.len() == n {
            break;
        }
        let u = users[pick(&mut rng, users.len())];
        let w = workflows[pick(&mut rng, workflows.len())];
        let resource = ResourceRef::new("workflow", w.as_str());
        let app = ResourceRef::new("app", d.workflows[w.as_str()].as_str());
        let mut subjects = d.groups_of(u).into_iter().map(Subject::Group).collect::<Vec<_>>();
        subjects.push(Subject::User(u.clone()));
        let granted = [&resource, &app].iter().any(|r| d.grants_on(r).any(|(s, _)| subjects.contains(s)));
        if !granted && !d.users[u.as_str()] {
            denied.push(check(u, "run", &resource));
        }
    }

    // Every user of each group, at any depth; and for each top-level group, the users who
    // are in it only through two levels of nesting (their group's parent's parent).
    let mut members: BTreeMap<&'a str, Vec<&'a str>> = BTreeMap::new();
    let mut deep_members: BTreeMap<String, Vec<&'a str>> = BTreeMap::new();
    for (user, direct) in &d.memberships {
        for g in direct {
            let up = d.ancestors(g);
            if up.len() == 3 {
                for top in up.iter().filter(|x| d.groups.get(*x).is_some_and(|p| p.is_empty())) {
                    deep_members.entry(top.clone()).or_default().push(user);
                }
            }
        }
        for g in d.groups_of(user) {
            if let Some((key, _)) = d.groups.get_key_value(&g) {
                members.entry(key.as_str()).or_default().push(user);
            }
        }
    }

    // Members are taken in turn, so that a group's cases are not all about one user.
    let turn = std::cell::Cell::new(0usize);
    let one_of = |list: &[&'a str]| -> Option<&'a str> {
        turn.set(turn.get() + 1);
        list.get(turn.get() % list.len().max(1)).copied()
    };

    // A deny grant, to the user or to a group they are in, that takes away access another
    // grant gives (on the workflow or its app); app admins are left out, since admin on
    // the app is kept on its workflows whatever the deny.
    let subjects_of = |u: &str| {
        let mut subjects: Vec<Subject> = d.groups_of(u).into_iter().map(Subject::Group).collect();
        subjects.push(Subject::User(u.to_string()));
        subjects
    };
    let restricted: Vec<Check> = sample(&mut rng, &grants, n, |&(r, s, role)| {
        if role != Role::Restricted {
            return None;
        }
        let app = ResourceRef::new("app", d.workflows.get(&r.id)?.as_str());
        let candidates: Vec<&str> = match s {
            Subject::User(u) => vec![u.as_str()],
            Subject::Group(g) => members.get(g.as_str())?.iter().take(200).copied().collect(),
        };
        let user = candidates.into_iter().find(|u| {
            let subjects = subjects_of(u);
            let app_admin = d.grants_on(&app).any(|(s, role)| role == Role::Admin && subjects.contains(s));
            let other_way = d
                .grants_on(r)
                .chain(d.grants_on(&app))
                .any(|(s, role)| role != Role::Restricted && subjects.contains(s));
            other_way && !app_admin && !d.users[*u]
        })?;
        Some(check(user, "run", r))
    });

    // A user whose way in is a grant to a group two levels of nesting above theirs.
    let deep: Vec<Check> = sample(&mut rng, &grants, n, |&(r, s, role)| {
        let Subject::Group(top) = s else { return None };
        if role == Role::Restricted {
            return None;
        }
        let user = one_of(deep_members.get(top)?)?;
        let target = match r.kind.as_str() {
            "app" => ResourceRef::new("workflow", d.apps.get(&r.id)?.first()?.as_str()),
            _ => r.clone(),
        };
        Some(check(user, "run", &target))
    });

    let admins: Vec<&String> = d.users.iter().filter(|(_, admin)| **admin).map(|(u, _)| u).collect();
    let admin: Vec<Check> = if admins.is_empty() {
        Vec::new()
    } else {
        (0..n)
            .map(|_| {
                let u = admins[pick(&mut rng, admins.len())];
                let w = workflows[pick(&mut rng, workflows.len())];
                check(u, "update", &ResourceRef::new("workflow", w.as_str()))
            })
            .collect()
    };

    vec![
        CheckSet { name: "allowed", what: "a user's own grant on a workflow", checks: direct },
        CheckSet { name: "denied", what: "a random user and workflow with no grant between them", checks: denied },
        CheckSet {
            name: "restricted",
            what: "the deny role (to the user or a group of theirs) taking away another grant",
            checks: restricted,
        },
        CheckSet { name: "deep nesting", what: "a grant to a group two nesting levels up", checks: deep },
        CheckSet { name: "workspace admin", what: "an admin updating any workflow", checks: admin },
    ]
}

/// Up to `n` items made by `make` from items drawn at random from `from` (each tried once).
fn sample<T, U>(rng: &mut fastrand::Rng, from: &[T], n: usize, make: impl Fn(&T) -> Option<U>) -> Vec<U> {
    let mut order: Vec<usize> = (0..from.len()).collect();
    rng.shuffle(&mut order);
    order.into_iter().filter_map(|i| make(&from[i])).take(n).collect()
}
