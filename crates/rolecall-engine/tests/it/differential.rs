//! The engine against the reference model on random operation sequences: the same
//! changes are applied to both, every refusal must match, and the whole workspace must
//! answer the same. Small limits make the limits part of the game.

use proptest::prelude::*;
use rolecall_engine::Engine;
use rolecall_model::{
    Change, Effect, GroupPermissions, Limits, MemberRole, Notify, Op, ResourceRef, SchemaDoc, Subject, UserKind,
    Visibility,
};

use crate::consistency::assert_consistent;
use crate::reference::Reference;

const WS: &str = "ws";

fn schema() -> SchemaDoc {
    SchemaDoc::from_json(
        r#"{
        "workspace_roles": ["consumer", "member", "creator", "admin", "owner"],
        "admin_roles": ["admin", "owner"],
        "capabilities": {"create_app": "admin", "install_app": "creator", "create_group": "member"},
        "resource_types": {
            "app": {"roles": ["runner", "admin"], "actions": {"run": "runner", "update": "admin"},
                    "implied_by_workspace_role": {"owner": "admin", "creator": "runner"}},
            "workflow": {"parent": "app", "roles": ["runner", "editor", "admin"], "deny_role": "restricted",
                    "actions": {"run": "runner", "edit": "editor", "update": "admin"},
                    "from_parent": {"runner": "runner", "admin": "admin"}, "locked_from_parent": ["admin"]},
            "step": {"parent": "workflow", "roles": ["viewer", "editor"], "deny_role": "blocked",
                    "actions": {"view": "viewer", "edit": "editor"},
                    "from_parent": {"runner": "viewer", "editor": "editor"}, "locked_from_parent": ["viewer"]}
        },
        "datasets": {"sales": {"attributes": ["country", "product"], "without_scope": "nothing"},
                     "open": {"attributes": ["region"], "without_scope": "everything"}}
    }"#,
    )
    .expect("differential schema")
}

const LIMITS: Limits = Limits { max_groups: 4, max_owners: 2, max_members: 4 };
const WS_ROLES: [&str; 5] = ["consumer", "member", "creator", "admin", "owner"];
const GROUPS: [&str; 7] = ["g0", "g1", "g2", "g3", "g4", "everyone", "workspace-admins"];

fn user() -> impl Strategy<Value = String> {
    (0..6u8).prop_map(|i| format!("u{i}"))
}

fn group() -> impl Strategy<Value = String> {
    prop_oneof![8 => (0..5usize).prop_map(|i| GROUPS[i].to_string()), 1 => (5..7usize).prop_map(|i| GROUPS[i].to_string())]
}

fn resource() -> impl Strategy<Value = ResourceRef> {
    prop_oneof![
        (0..2u8).prop_map(|i| ResourceRef::new("app", format!("a{i}"))),
        (0..3u8).prop_map(|i| ResourceRef::new("workflow", format!("w{i}"))),
        (0..2u8).prop_map(|i| ResourceRef::new("step", format!("s{i}"))),
    ]
}

fn subject() -> impl Strategy<Value = Subject> {
    prop_oneof![user().prop_map(Subject::User), group().prop_map(Subject::Group)]
}

fn role_for(r: &ResourceRef, pick: u8) -> String {
    let roles: &[&str] = match r.kind.as_str() {
        "app" => &["runner", "admin", "bogus"],
        "workflow" => &["runner", "editor", "admin", "restricted", "restricted"],
        _ => &["viewer", "editor", "blocked", "blocked"],
    };
    roles[usize::from(pick) % roles.len()].to_string()
}

fn permissions() -> impl Strategy<Value = GroupPermissions> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(view, edit, delete)| GroupPermissions {
        view,
        edit,
        delete,
    })
}

fn set_id() -> impl Strategy<Value = String> {
    prop_oneof![4 => Just("leads".to_string()), 1 => Just("members".to_string()), 1 => Just("everyone".to_string()), 1 => Just("owners".to_string())]
}

fn op() -> impl Strategy<Value = Op> {
    let member_role = prop_oneof![Just(MemberRole::Member), Just(MemberRole::Editor), Just(MemberRole::Owner)];
    prop_oneof![
        6 => (user(), 0..5usize, prop::bool::weighted(0.8)).prop_map(|(user, r, regular)| Op::PutUser {
            user,
            workspace_role: WS_ROLES[r].to_string(),
            kind: if regular { UserKind::Regular } else { UserKind::OneTime },
        }),
        1 => user().prop_map(|user| Op::DeleteUser { user }),
        2 => (user(), prop::bool::weighted(0.4)).prop_map(|(user, active)| Op::SetUserActive { user, active }),
        4 => (group(), any::<bool>(), prop::bool::weighted(0.8), any::<bool>()).prop_map(|(group, private, apply_privileges, notify)| Op::PutGroup {
            group,
            visibility: if private { Visibility::Private } else { Visibility::Public },
            apply_privileges,
            notify: if notify { Notify::OnChange } else { Notify::None },
        }),
        1 => group().prop_map(|group| Op::DeleteGroup { group }),
        8 => (group(), user(), member_role).prop_map(|(group, user, role)| Op::PutMember { group, user, role }),
        3 => (group(), user()).prop_map(|(group, user)| Op::RemoveMember { group, user }),
        4 => (group(), group()).prop_map(|(group, child)| Op::PutChildGroup { group, child }),
        2 => (group(), group()).prop_map(|(group, child)| Op::RemoveChildGroup { group, child }),
        2 => (group(), set_id(), permissions()).prop_map(|(group, set, permissions)| Op::PutPermissionSet { group, set, permissions }),
        1 => (group(), set_id()).prop_map(|(group, set)| Op::DeletePermissionSet { group, set }),
        2 => (group(), set_id(), subject()).prop_map(|(group, set, subject)| Op::PutAssignee { group, set, subject }),
        1 => (group(), set_id(), subject()).prop_map(|(group, set, subject)| Op::RemoveAssignee { group, set, subject }),
        2 => (0..2u8, any::<bool>(), any::<bool>()).prop_map(|(p, create, install)| {
            let effect = |b| if b { Effect::Allow } else { Effect::Deny };
            Op::PutPolicy {
                policy: format!("p{p}"),
                rules: [("create_app".to_string(), effect(create)), ("install_app".to_string(), effect(install))].into(),
            }
        }),
        1 => (0..2u8).prop_map(|p| Op::DeletePolicy { policy: format!("p{p}") }),
        2 => (group(), 0..2u8).prop_map(|(group, p)| Op::AttachPolicy { group, policy: format!("p{p}") }),
        1 => (group(), 0..2u8).prop_map(|(group, p)| Op::DetachPolicy { group, policy: format!("p{p}") }),
        2 => (group(), prop::option::of(prop::sample::subsequence(vec!["FR", "DE"], 0..=2)), prop::option::of(prop::sample::subsequence(vec!["cars", "bikes"], 0..=2)))
            .prop_map(|(group, country, product)| {
                let mut scope = std::collections::BTreeMap::new();
                if let Some(c) = country { scope.insert("country".to_string(), c.into_iter().map(String::from).collect()); }
                if let Some(p) = product { scope.insert("product".to_string(), p.into_iter().map(String::from).collect()); }
                Op::PutDataScope { group, dataset: "sales".into(), scope }
            }),
        1 => group().prop_map(|group| Op::RemoveDataScope { group, dataset: "sales".into() }),
        6 => (resource(), 0..4u8, 0..3u8).prop_map(|(resource, p, i)| {
            let parent = match (resource.kind.as_str(), p) {
                (_, 0) => None,
                ("workflow", _) => Some(ResourceRef::new("app", format!("a{}", i % 2))),
                ("step", 3) => Some(ResourceRef::new("app", "a0")),
                ("step", _) => Some(ResourceRef::new("workflow", format!("w{i}"))),
                _ => Some(ResourceRef::new("app", "a1")),
            };
            Op::PutResource { resource, parent }
        }),
        1 => resource().prop_map(|resource| Op::DeleteResource { resource }),
        16 => (resource(), subject(), any::<u8>()).prop_map(|(resource, subject, pick)| {
            let role = role_for(&resource, pick);
            Op::PutGrant { resource, subject, role }
        }),
        3 => (resource(), subject()).prop_map(|(resource, subject)| Op::RemoveGrant { resource, subject }),
    ]
}

/// A populated workspace to start from: every user, four groups, every resource, mostly
/// with parents; the random operations then change it.
fn prelude() -> impl Strategy<Value = Vec<Op>> {
    let users = prop::collection::vec((0..5usize, prop::bool::weighted(0.85)), 6);
    let groups = prop::collection::vec((any::<bool>(), prop::bool::weighted(0.85), prop::bool::weighted(0.7)), 4);
    let parents = prop::collection::vec(0..4u8, 5);
    (users, groups, parents).prop_map(|(users, groups, parents)| {
        let mut ops = Vec::new();
        for (i, (role, regular)) in users.into_iter().enumerate() {
            ops.push(Op::PutUser {
                user: format!("u{i}"),
                workspace_role: WS_ROLES[role].to_string(),
                kind: if regular { UserKind::Regular } else { UserKind::OneTime },
            });
        }
        for (i, (private, apply_privileges, notify)) in groups.into_iter().enumerate() {
            ops.push(Op::PutGroup {
                group: format!("g{i}"),
                visibility: if private { Visibility::Private } else { Visibility::Public },
                apply_privileges,
                notify: if notify { Notify::OnChange } else { Notify::None },
            });
        }
        for a in 0..2 {
            ops.push(Op::PutResource { resource: ResourceRef::new("app", format!("a{a}")), parent: None });
        }
        for (w, p) in parents.iter().take(3).enumerate() {
            let parent = (*p > 0).then(|| ResourceRef::new("app", format!("a{}", p % 2)));
            ops.push(Op::PutResource { resource: ResourceRef::new("workflow", format!("w{w}")), parent });
        }
        for s in 0..2usize {
            let p = parents[3 + s];
            let parent = (p > 0).then(|| ResourceRef::new("workflow", format!("w{}", p % 3)));
            ops.push(Op::PutResource { resource: ResourceRef::new("step", format!("s{s}")), parent });
        }
        ops
    })
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let mut engine = Engine::new(LIMITS);
    engine.apply(&Change::new(WS, Op::CreateWorkspace { schema: schema() })).expect("create");
    let mut reference = Reference::new(WS, schema(), LIMITS);
    for (i, op) in ops.iter().enumerate() {
        let change = Change::new(WS, op.clone());
        let before = engine.workspace(WS).expect("ws").facts();
        if i % 4 == 0 {
            // The next few changes as one batch: tried on a copy that shares the index's
            // records until it writes to them, it must be accepted exactly when they would
            // all apply in turn, and leave the index as it was.
            let batch: Vec<Change> = ops[i..ops.len().min(i + 4)].iter().map(|o| Change::new(WS, o.clone())).collect();
            let mut trial = reference.clone();
            let all_apply = batch.iter().all(|c| trial.apply(c).is_ok());
            prop_assert_eq!(engine.validate_all(&batch).is_ok(), all_apply, "batch at op {}", i);
            prop_assert_eq!(&engine.workspace(WS).expect("ws").facts(), &before, "trying a batch changed state");
        }
        let was = engine.clone();
        let told = engine.access_changes(std::slice::from_ref(&change));
        let previewed = engine.preview(WS, std::slice::from_ref(op));
        let got = engine.apply(&change).map(|_| ()).map_err(|e| e.code());
        match (&previewed, got) {
            (Ok(classes), Ok(())) => assert_previewed(&was, &engine, op, classes, i)?,
            (Ok(_), Err(code)) => prop_assert!(false, "op {}: previewed a change refused with {}", i, code),
            (Err(e), got) => prop_assert_eq!(got, Err(e.code()), "op {}: preview refused differently", i),
        }
        match told {
            Ok(told) if got.is_ok() => assert_told(&was, &engine, op, &told, i)?,
            Ok(told) => prop_assert!(told.is_empty(), "op {}: access changes told for a refused change", i),
            Err(e) => prop_assert_eq!(got, Err(e.code()), "op {}: access changes refused differently", i),
        }
        let expected = reference.apply(&change);
        prop_assert_eq!(got, expected, "op {} {:?}", i, op);
        if got.is_err() {
            prop_assert_eq!(&engine.workspace(WS).expect("ws").facts(), &before, "a refused change changed state");
        }
        if i % 8 == 7 {
            assert_consistent(engine.workspace(WS).expect("ws"), &reference, &format!("after op {i}"));
        }
    }
    let index = engine.workspace(WS).expect("ws");
    assert_consistent(index, &reference, "at the end");

    // The incrementally maintained index equals one built from scratch from the same facts.
    let mut rebuilt = Engine::new(LIMITS);
    rebuilt.apply(&Change::new(WS, Op::CreateWorkspace { schema: schema() })).expect("create");
    for op in index.facts() {
        rebuilt
            .apply(&Change::new(WS, op.clone()))
            .map_err(|e| TestCaseError::fail(format!("replaying {op:?}: {e}")))?;
    }
    assert_consistent(rebuilt.workspace(WS).expect("ws"), &reference, "rebuilt from facts");
    Ok(())
}

type Moved = std::collections::BTreeSet<(String, ResourceRef, Option<String>, Option<String>)>;

/// Every (user, resource, role before, role after) that differs between two states.
fn moved_between(was: &Engine, now: &Engine) -> Moved {
    let (before, after) = (was.workspace(WS).expect("ws"), now.workspace(WS).expect("ws"));
    let mut moved = Moved::new();
    let resources: Vec<ResourceRef> = before.resource_refs().filter(|r| after.has_resource(r)).collect();
    for user in before.user_ids().filter(|u| after.user_info(u).is_some()) {
        for r in &resources {
            let (b, a) = (before.effective_role(user, r).expect("role"), after.effective_role(user, r).expect("role"));
            if b != a {
                moved.insert((user.to_string(), r.clone(), b.map(String::from), a.map(String::from)));
            }
        }
    }
    moved
}

/// A preview of a change through a group (what the console shows before it is made) must
/// be exactly how the effective roles then moved; other changes are not previewed.
fn assert_previewed(
    was: &Engine,
    now: &Engine,
    op: &Op,
    classes: &[rolecall_engine::AccessClass],
    i: usize,
) -> Result<(), TestCaseError> {
    let previewed: Moved = classes
        .iter()
        .flat_map(|c| {
            c.users.iter().flat_map(move |u| {
                c.roles.iter().map(move |r| (u.clone(), r.resource.clone(), r.before.clone(), r.after.clone()))
            })
        })
        .collect();
    let through_group = matches!(
        op,
        Op::PutMember { .. }
            | Op::RemoveMember { .. }
            | Op::PutChildGroup { .. }
            | Op::RemoveChildGroup { .. }
            | Op::PutGroup { .. }
            | Op::DeleteGroup { .. }
            | Op::PutGrant { subject: Subject::Group(_), .. }
            | Op::RemoveGrant { subject: Subject::Group(_), .. }
    );
    if through_group {
        prop_assert_eq!(&previewed, &moved_between(was, now), "op {} {:?}: the preview differs from what moved", i, op);
    } else {
        prop_assert!(previewed.is_empty(), "op {} {:?}: previewed a change that goes through no group", i, op);
    }
    Ok(())
}

/// What `access_changes` told about one change must be exactly how the effective roles
/// moved: every user and resource it names changed as it says, and when the change went
/// through a group that asks for notifications, nothing that changed is missing.
fn assert_told(
    was: &Engine,
    now: &Engine,
    op: &Op,
    told: &[rolecall_engine::GroupAccessChange],
    i: usize,
) -> Result<(), TestCaseError> {
    let (before, after) = (was.workspace(WS).expect("ws"), now.workspace(WS).expect("ws"));
    let moved = moved_between(was, now);
    let reported: std::collections::BTreeSet<_> = told
        .iter()
        .flat_map(|t| t.per_user())
        .flat_map(|(u, roles)| {
            roles.iter().map(move |c| (u.to_string(), c.resource.clone(), c.before.clone(), c.after.clone()))
        })
        .collect();
    prop_assert!(reported.is_subset(&moved), "op {} {:?}: reported {:?} but moved {:?}", i, op, reported, moved);
    let notify_of = |index: &rolecall_engine::WorkspaceIndex, g: &str| {
        index.facts().into_iter().find_map(|f| match f {
            Op::PutGroup { group, notify, .. } if group == g => Some(notify),
            _ => None,
        })
    };
    let through = match op {
        Op::PutMember { group, .. }
        | Op::RemoveMember { group, .. }
        | Op::PutChildGroup { group, .. }
        | Op::RemoveChildGroup { group, .. }
        | Op::PutGroup { group, .. } => notify_of(after, group),
        Op::DeleteGroup { group } => notify_of(before, group),
        Op::PutGrant { subject: Subject::Group(group), .. }
        | Op::RemoveGrant { subject: Subject::Group(group), .. } => notify_of(after, group),
        _ => None,
    };
    if through == Some(Notify::OnChange) {
        prop_assert_eq!(&reported, &moved, "op {} {:?}: not every change was told", i, op);
        prop_assert!(told.iter().all(|t| t.change == 0), "op {}: one change, position 0", i);
        // A user is in one class per change (the set above holds each user's own changes).
        for t in told {
            let users: Vec<&str> = t.per_user().into_iter().map(|(u, _)| u).collect();
            let mut unique = users.clone();
            unique.dedup();
            prop_assert_eq!(users.len(), unique.len(), "op {}: a user in two classes", i);
        }
    } else {
        prop_assert!(told.is_empty(), "op {} {:?}: told {:?} though no notifying group was involved", i, op, told);
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), max_shrink_iters: 4096, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_answers_like_the_reference_model(start in prelude(), ops in prop::collection::vec(op(), 1..64)) {
        run(&[start, ops].concat())?;
    }
}
