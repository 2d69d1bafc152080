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

/// A workspace exported for SpiceDB (`rolecall_service::interop`), loaded into the real
/// SpiceDB engine, answers every action of every user on every resource as Rolecall does:
/// three levels of parents with locked and unlocked inheritance, deny roles on two levels,
/// roles implied by the workspace role, nested groups, Everyone, a group whose privileges
/// are off, one-time users, and ids SpiceDB must have escaped.
#[test]
fn a_spicedb_export_answers_as_rolecall_does() {
    use rolecall_model::{Change, Limits, MemberRole, Notify, Op, SchemaDoc, Subject, UserKind, Visibility};
    let schema = SchemaDoc::from_json(
        r#"{
        "workspace_roles": ["consumer", "member", "creator", "admin", "owner"],
        "admin_roles": ["admin", "owner"],
        "resource_types": {
            "app": {"roles": ["runner", "admin"], "actions": {"run": "runner", "update": "admin"},
                    "implied_by_workspace_role": {"owner": "admin", "creator": "runner"}},
            "workflow": {"parent": "app", "roles": ["runner", "editor", "admin"], "deny_role": "restricted",
                    "actions": {"run": "runner", "edit": "editor", "update": "admin"},
                    "from_parent": {"runner": "runner", "admin": "admin"}, "locked_from_parent": ["admin"]},
            "step": {"parent": "workflow", "roles": ["viewer", "editor"], "deny_role": "blocked",
                    "actions": {"view": "viewer", "edit": "editor"},
                    "from_parent": {"runner": "viewer", "editor": "editor"}, "locked_from_parent": ["viewer"]}
        }
    }"#,
    )
    .unwrap();
    let ws = "acme-co";
    let mut engine = rolecall_engine::Engine::new(Limits::default());
    let mut ok = |op: Op| engine.apply(&Change::new(ws, op.clone())).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    ok(Op::CreateWorkspace { schema });
    let users = [
        ("alice@acme.com", "member", UserKind::Regular),
        ("bob", "member", UserKind::Regular),
        ("carol:ops", "creator", UserKind::Regular),
        ("dan", "consumer", UserKind::OneTime),
        ("erin", "admin", UserKind::Regular),
        ("olga", "owner", UserKind::Regular),
        ("pat", "member", UserKind::Regular),
        // An owner in a group and with grants of her own, suspended: allowed nothing.
        ("sam", "owner", UserKind::Regular),
    ];
    for (user, role, kind) in users {
        ok(Op::PutUser { user: user.into(), workspace_role: role.into(), kind });
    }
    let group = |id: &str, apply_privileges| Op::PutGroup {
        group: id.into(),
        visibility: Visibility::Public,
        apply_privileges,
        notify: Notify::None,
    };
    ok(group("sales", true));
    ok(group("sales.emea", true));
    ok(group("paused", false));
    ok(Op::PutChildGroup { group: "sales".into(), child: "sales.emea".into() });
    for (g, u) in
        [("sales.emea", "alice@acme.com"), ("sales", "bob"), ("paused", "pat"), ("paused", "dan"), ("sales", "sam")]
    {
        ok(Op::PutMember { group: g.into(), user: u.into(), role: MemberRole::Member });
    }
    let r = ResourceRef::new;
    ok(Op::PutResource { resource: r("app", "crm"), parent: None });
    ok(Op::PutResource { resource: r("app", "hr"), parent: None });
    ok(Op::PutResource { resource: r("workflow", "leads"), parent: Some(r("app", "crm")) });
    ok(Op::PutResource { resource: r("workflow", "deals"), parent: Some(r("app", "crm")) });
    ok(Op::PutResource { resource: r("workflow", "payroll"), parent: Some(r("app", "hr")) });
    ok(Op::PutResource { resource: r("step", "score"), parent: Some(r("workflow", "leads")) });
    ok(Op::PutResource { resource: r("step", "close"), parent: Some(r("workflow", "deals")) });
    ok(Op::PutResource { resource: r("step", "loose"), parent: None });
    let grants = [
        ("app", "crm", Subject::Group("sales".into()), "runner"),
        ("app", "crm", Subject::User("pat".into()), "admin"),
        ("workflow", "leads", Subject::User("alice@acme.com".into()), "editor"),
        ("workflow", "deals", Subject::Group("sales.emea".into()), "restricted"),
        ("workflow", "deals", Subject::User("pat".into()), "restricted"),
        ("workflow", "payroll", Subject::Group("everyone".into()), "runner"),
        ("workflow", "payroll", Subject::User("bob".into()), "restricted"),
        ("app", "hr", Subject::Group("paused".into()), "admin"),
        ("step", "score", Subject::User("bob".into()), "blocked"),
        ("step", "loose", Subject::Group("workspace-admins".into()), "editor"),
        ("step", "close", Subject::User("carol:ops".into()), "editor"),
        ("app", "hr", Subject::User("sam".into()), "admin"),
    ];
    for (kind, id, subject, role) in grants {
        ok(Op::PutGrant { resource: r(kind, id), subject, role: role.into() });
    }
    ok(Op::SetUserActive { user: "sam".into(), active: false });
    let index = engine.workspace(ws).unwrap();
    let export = rolecall_service::interop::spicedb(index);

    let mut checks = Vec::new();
    let mut expected = Vec::new();
    for resource in index.resource_refs() {
        for action in index.actions_of(&resource.kind).unwrap() {
            let (definition, permission) =
                rolecall_service::interop::exported_names(index, &resource.kind, action).unwrap();
            for (user, _, _) in users {
                expected.push(index.check(user, action, &resource).unwrap().allowed);
                checks.push([
                    definition.clone(),
                    rolecall_service::interop::spicedb_id(&resource.id),
                    permission.clone(),
                    rolecall_service::interop::spicedb_id(user),
                ]);
            }
        }
    }
    let answers = spicedb::check_export(&export.to_yaml(), &checks).unwrap();

    // The same workspace for OpenFGA passes OpenFGA's own validation, every tuple included.
    let fga = rolecall_service::interop::openfga(index);
    let model = spicedb::check_openfga(&serde_json::to_value(&fga).unwrap()).unwrap();
    let types: Vec<&str> =
        model["type_definitions"].as_array().unwrap().iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["user", "group", "workspace", "app", "step", "workflow"]);
    assert!(
        fga.tuples
            .iter()
            .any(|t| t.user == "user:alice@acme.com" && t.relation == "editor" && t.object == "workflow:leads")
    );
    assert_eq!(answers.len(), expected.len());
    let differ: Vec<_> = checks.iter().zip(answers.iter().zip(&expected)).filter(|(_, (a, e))| a != e).collect();
    assert!(
        differ.is_empty(),
        "SpiceDB differs on {} of {} checks: {differ:?}\n{}",
        differ.len(),
        checks.len(),
        export.to_yaml()
    );
    assert!(expected.iter().filter(|a| **a).count() > 30, "the fixture allows a fair share");
    assert!(expected.iter().filter(|a| !**a).count() > 30, "and denies a fair share");
}
