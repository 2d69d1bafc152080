//! A suspended user (SCIM's `active: false`) is allowed nothing by any question, keeps what
//! they hold for when the suspension is lifted, and stays suspended across role changes and
//! a rebuild from the workspace's facts. (The differential test suspends and reactivates
//! users at random against the reference model too.)

use rolecall_engine::{DataAccess, Engine, EngineError};
use rolecall_model::{Change, Limits, MemberRole, Notify, Op, ResourceRef, SchemaDoc, Subject, UserKind, Visibility};

const WS: &str = "ws";

fn engine() -> Engine {
    let mut engine = Engine::new(Limits::default());
    let mut ok = |op: Op| engine.apply(&Change::new(WS, op)).map(|_| ()).expect("set up");
    ok(Op::CreateWorkspace { schema: SchemaDoc::default_schema() });
    ok(Op::PutUser { user: "ada".into(), workspace_role: "admin".into(), kind: UserKind::Regular });
    ok(Op::PutUser { user: "bo".into(), workspace_role: "member".into(), kind: UserKind::Regular });
    ok(Op::PutGroup {
        group: "ops".into(),
        visibility: Visibility::Private,
        apply_privileges: true,
        notify: Notify::OnChange,
    });
    ok(Op::PutMember { group: "ops".into(), user: "ada".into(), role: MemberRole::Owner });
    ok(Op::PutMember { group: "ops".into(), user: "bo".into(), role: MemberRole::Member });
    ok(Op::PutResource { resource: crm(), parent: None });
    ok(Op::PutGrant { resource: crm(), subject: Subject::Group("ops".into()), role: "runner".into() });
    ok(Op::PutGrant { resource: crm(), subject: Subject::User("ada".into()), role: "admin".into() });
    ok(Op::PutDataScope {
        group: "ops".into(),
        dataset: "sales".into(),
        scope: [("country".to_string(), vec!["FR".to_string()])].into(),
    });
    engine
}

fn crm() -> ResourceRef {
    ResourceRef::new("app", "crm")
}

fn set(engine: &mut Engine, user: &str, active: bool) {
    engine.apply(&Change::new(WS, Op::SetUserActive { user: user.into(), active })).expect("applies");
}

/// Everything `user` is allowed, by every kind of question.
fn allowed(engine: &Engine, user: &str) -> Vec<String> {
    let index = engine.workspace(WS).unwrap();
    let ops = ResourceRef::new("group", "ops");
    let ws = ResourceRef::new("workspace", WS);
    let mut out = Vec::new();
    for (action, resource) in [
        ("run", crm()),
        ("update", crm()),
        ("view", ops.clone()),
        ("edit", ops),
        ("create_app", ws.clone()),
        ("create_group", ws),
    ] {
        if index.check(user, action, &resource).unwrap().allowed {
            out.push(format!("check {action} {}", resource.kind));
        }
        if index.explain(user, action, &resource).unwrap().allowed {
            out.push(format!("explain {action} {}", resource.kind));
        }
        if index.lookup_subjects(&resource, action).unwrap().get(user).is_some() {
            out.push(format!("subject of {action} {}", resource.kind));
        }
    }
    for (action, kind) in [("run", "app"), ("view", "group"), ("create_app", "workspace")] {
        if !index.lookup_resources(user, action, kind).unwrap().is_empty() {
            out.push(format!("resources {action} {kind}"));
        }
    }
    if index.data_filter(user, "sales").unwrap().access != DataAccess::Nothing {
        out.push("data".into());
    }
    if index.is_admin_user(user).unwrap() {
        out.push("admin".into());
    }
    out
}

#[test]
fn a_suspended_user_is_allowed_nothing_and_gets_everything_back_when_active() {
    let mut engine = engine();
    let before = allowed(&engine, "ada");
    assert!(before.len() > 15, "ada holds a lot to lose: {before:?}");
    set(&mut engine, "ada", false);
    assert_eq!(allowed(&engine, "ada"), Vec::<String>::new());
    assert_eq!(engine.workspace(WS).unwrap().is_active("ada"), Some(false));
    // Bo, in the same group, is not touched.
    assert!(allowed(&engine, "bo").contains(&"check run app".to_string()));

    // Why: every path is blocked, and the suspension is named first.
    let why = engine.workspace(WS).unwrap().explain("ada", "run", &crm()).unwrap();
    assert!(!why.paths.is_empty() && why.paths.iter().all(|p| p.blocked));
    assert_eq!(why.role, None);
    assert_eq!(why.denied_by[0], vec![rolecall_engine::Step::Suspended { user: "ada".into() }]);

    // A role change does not lift a suspension; a rebuild from the facts keeps it.
    engine
        .apply(&Change::new(
            WS,
            Op::PutUser { user: "ada".into(), workspace_role: "owner".into(), kind: UserKind::Regular },
        ))
        .unwrap();
    assert!(allowed(&engine, "ada").is_empty());
    let mut rebuilt = Engine::new(Limits::default());
    rebuilt.apply(&Change::new(WS, Op::CreateWorkspace { schema: SchemaDoc::default_schema() })).unwrap();
    for op in engine.workspace(WS).unwrap().facts() {
        rebuilt.apply(&Change::new(WS, op)).unwrap();
    }
    assert!(allowed(&rebuilt, "ada").is_empty(), "the facts carry the suspension");

    // Lifted: everything is back (ada is an owner now, so at least what she had).
    set(&mut engine, "ada", true);
    let after = allowed(&engine, "ada");
    assert!(before.iter().all(|a| after.contains(a)), "{before:?} -> {after:?}");
}

#[test]
fn suspending_is_refused_for_nobody_and_a_new_user_of_the_same_id_starts_active() {
    let mut engine = engine();
    let err = engine.apply(&Change::new(WS, Op::SetUserActive { user: "ghost".into(), active: false })).unwrap_err();
    assert!(matches!(err, EngineError::UserNotFound(_)), "{err:?}");
    set(&mut engine, "bo", false);
    set(&mut engine, "bo", false);
    engine.apply(&Change::new(WS, Op::DeleteUser { user: "bo".into() })).unwrap();
    engine
        .apply(&Change::new(
            WS,
            Op::PutUser { user: "bo".into(), workspace_role: "member".into(), kind: UserKind::Regular },
        ))
        .unwrap();
    assert_eq!(engine.workspace(WS).unwrap().is_active("bo"), Some(true));
    assert!(allowed(&engine, "bo").contains(&"check create_group workspace".to_string()));
}
