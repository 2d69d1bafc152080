//! The peers are only worth timing if they answer the same questions the same way: every
//! check of every kind, on a small generated workspace, gets the same answer from Rolecall
//! and from each peer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rolecall_bench::dataset::Dataset;
use rolecall_bench::peers::casbin::CasbinPeer;
use rolecall_bench::peers::cedar::CedarPeer;
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

#[test]
fn cedar_gives_rolecall_answers() {
    let changes = changes(Scale::SMALL, 42);
    let d = Dataset::from_changes(&changes);
    let checks = every_kind(&d);
    let expected = rolecall_answers(&changes, &checks);
    let cedar = CedarPeer::load(&d).expect("cedar loads");
    let mut wrong = Vec::new();
    for (c, want) in checks.iter().zip(&expected) {
        let got = cedar.check(c).expect("cedar answers");
        if got != *want {
            wrong.push(format!("{} {} {}: rolecall {want}, cedar {got}", c.user, c.action, c.resource));
        }
    }
    assert!(wrong.is_empty(), "{} of {} differ:\n{}", wrong.len(), checks.len(), wrong.join("\n"));
    assert!(expected.iter().filter(|a| **a).count() > 100, "the fixture allows something");
}

#[test]
fn casbin_gives_rolecall_answers() {
    let changes = changes(Scale::SMALL, 42);
    let d = Dataset::from_changes(&changes);
    let checks = every_kind(&d);
    let expected = rolecall_answers(&changes, &checks);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let casbin = runtime.block_on(CasbinPeer::load(&d)).expect("casbin loads");
    let mut wrong = Vec::new();
    for (c, want) in checks.iter().zip(&expected) {
        let got = casbin.check(c).expect("casbin answers");
        if got != *want {
            wrong.push(format!("{} {} {}: rolecall {want}, casbin {got}", c.user, c.action, c.resource));
        }
    }
    assert!(wrong.is_empty(), "{} of {} differ:\n{}", wrong.len(), checks.len(), wrong.join("\n"));
}
