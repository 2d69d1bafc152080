//! The peers are only worth timing if they answer the same questions the same way: every
//! check of every kind, on a small generated workspace, gets the same answer from Rolecall
//! and from each peer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rolecall_bench::dataset::Dataset;
use rolecall_bench::peers::casbin::CasbinPeer;
use rolecall_bench::peers::cedar::CedarPeer;
use rolecall_bench::peers::spicedb::{self, Questions};
use rolecall_bench::queries::{Check, check_sets};
use rolecall_bench::{Scale, WORKSPACE, changes, engine};
use rolecall_model::ResourceRef;

fn rolecall_answers(changes: &[rolecall_model::Change], checks: &[Check]) -> Vec<bool> {
    let engine = engine(changes).expect("the generated workspace applies");
    let index = engine.workspace(WORKSPACE).expect("the workspace exists");
    checks.iter().map(|c| index.check(&c.user, c.action, &c.resource).expect("a known check").allowed).collect()
}

fn every_kind(d: &Dataset) -> Vec<Check> {
    let mut checks: Vec<Check> = check_sets(d, 300, 11).into_iter().flat_map(|s| s.checks).collect();
    // Every action on apps and workflows, for a spread of users.
    for (i, user) in d.users.keys().enumerate().step_by(7) {
        let app = d.apps.keys().nth(i % d.apps.len()).expect("apps");
        let workflow = d.workflows.keys().nth(i % d.workflows.len()).expect("workflows");
        for action in ["run", "update"] {
            checks.push(Check { user: user.clone(), action, resource: ResourceRef::new("app", app.as_str()) });
        }
        for action in ["view", "run", "update", "view_history"] {
            checks.push(Check {
                user: user.clone(),
                action,
                resource: ResourceRef::new("workflow", workflow.as_str()),
            });
        }
    }
    checks
}

#[test]
fn the_check_kinds_are_what_they_say() {
    let changes = changes(Scale::SMALL, 42);
    let d = Dataset::from_changes(&changes);
    let sets = check_sets(&d, 200, 11);
    for set in &sets {
        assert!(set.checks.len() >= 20, "{}: only {} cases", set.name, set.checks.len());
        let answers = rolecall_answers(&changes, &set.checks);
        let allowed = answers.iter().filter(|a| **a).count();
        match set.name {
            "allowed" | "workspace admin" => assert!(allowed * 10 >= answers.len() * 9, "{}: {allowed}", set.name),
            "denied" | "restricted" => assert_eq!(allowed, 0, "{}", set.name),
            "deep nesting" => assert!(allowed * 10 >= answers.len() * 9, "{}: {allowed}", set.name),
            other => panic!("unexpected kind {other}"),
        }
    }
}

/// Asks `peer` every check of every kind on the small workspace and fails on any answer
/// that is not Rolecall's.
fn assert_agrees(name: &str, peer: impl FnOnce(&Dataset, &[Check]) -> Vec<bool>) {
    let changes = changes(Scale::SMALL, 42);
    let d = Dataset::from_changes(&changes);
    let checks = every_kind(&d);
    let expected = rolecall_answers(&changes, &checks);
    assert!(expected.iter().filter(|a| **a).count() > 100, "the fixture allows something");
    let answers = peer(&d, &checks);
    assert_eq!(answers.len(), checks.len(), "{name} answers every check");
    let wrong: Vec<String> = checks
        .iter()
        .zip(&expected)
        .zip(&answers)
        .filter(|((_, want), got)| got != want)
        .map(|((c, want), got)| format!("{} {} {}: rolecall {want}, {name} {got}", c.user, c.action, c.resource))
        .collect();
    assert!(wrong.is_empty(), "{} of {} differ:\n{}", wrong.len(), checks.len(), wrong.join("\n"));
}

#[test]
fn cedar_gives_rolecall_answers() {
    assert_agrees("cedar", |d, checks| {
        let cedar = CedarPeer::load(d).expect("cedar loads");
        checks.iter().map(|c| cedar.check(c).expect("cedar answers")).collect()
    });
}

#[test]
fn casbin_gives_rolecall_answers() {
    assert_agrees("casbin", |d, checks| {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let casbin = runtime.block_on(CasbinPeer::load(d)).expect("casbin loads");
        checks.iter().map(|c| casbin.check(c).expect("casbin answers")).collect()
    });
}

/// SpiceDB itself (the embedded library, through Node) answers every check as Rolecall
/// does, and its lookups find the same workflows and the same users.
#[test]
fn spicedb_gives_rolecall_answers() {
    let changes = changes(Scale::SMALL, 42);
    let d = Dataset::from_changes(&changes);
    let engine = engine(&changes).expect("the generated workspace applies");
    let index = engine.workspace(WORKSPACE).expect("the workspace exists");
    let users: Vec<String> = d.users.keys().step_by(97).cloned().collect();
    let apps: Vec<String> = d.apps.keys().step_by(9).cloned().collect();
    let mut answers = None;
    assert_agrees("spicedb", |d, checks| {
        let q = Questions {
            checks: checks.to_vec(),
            lookup_resources: users.iter().map(|u| (u.clone(), "workflow", "run")).collect(),
            lookup_subjects: apps.iter().map(|a| ("app", a.clone(), "run")).collect(),
        };
        let a = spicedb::run(d, &q).expect("spicedb runs");
        let checks = a.checks.iter().map(|(allowed, _)| *allowed).collect();
        answers = Some(a);
        checks
    });
    let answers = answers.expect("spicedb answered");
    let sorted = |ids: &mut dyn Iterator<Item = String>| -> Vec<String> {
        let mut v: Vec<String> = ids.collect();
        v.sort();
        v.dedup();
        v
    };
    let mut found = 0;
    for (user, (ids, _)) in users.iter().zip(&answers.lookup_resources) {
        let want = sorted(&mut index.lookup_resources(user, "run", "workflow").unwrap().ids().map(str::to_string));
        assert_eq!(sorted(&mut ids.iter().cloned()), want, "workflows {user} may run");
        found += want.len();
    }
    for (app, (ids, _)) in apps.iter().zip(&answers.lookup_subjects) {
        let resource = ResourceRef::new("app", app.as_str());
        let want = sorted(&mut index.lookup_subjects(&resource, "run").unwrap().iter().map(|(id, _)| id.to_string()));
        assert_eq!(sorted(&mut ids.iter().cloned()), want, "users who may run {app}");
        found += want.len();
    }
    assert!(found > 1000, "the lookups find something ({found})");
}
