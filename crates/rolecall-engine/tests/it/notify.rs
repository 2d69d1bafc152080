//! What a group's notifications say, on the story of seed 001: members who join gain the
//! group's app access, members with individual access fall back to it when the group's
//! privileges are switched off, and a summary lists each member's access on demand. (The
//! differential test checks the same against every change on random workspaces.)

use rolecall_engine::{AccessReason, Engine, GroupAccessChange, RoleChange};

/// Each user with their changes.
fn expanded(t: &GroupAccessChange) -> Vec<(String, Vec<RoleChange>)> {
    t.per_user().into_iter().map(|(u, r)| (u.to_string(), r.to_vec())).collect()
}
use rolecall_model::{Change, Limits, MemberRole, Notify, Op, ResourceRef, SchemaDoc, Subject, UserKind, Visibility};

const WS: &str = "ws";

fn group(id: &str, apply_privileges: bool, notify: Notify) -> Op {
    Op::PutGroup { group: id.into(), visibility: Visibility::Public, apply_privileges, notify }
}

fn member(g: &str, u: &str) -> Change {
    Change::new(WS, Op::PutMember { group: g.into(), user: u.into(), role: MemberRole::Member })
}

fn role(resource: ResourceRef, before: Option<&str>, after: Option<&str>) -> RoleChange {
    RoleChange { resource, before: before.map(String::from), after: after.map(String::from) }
}

fn world() -> Engine {
    let mut engine = Engine::new(Limits::default());
    let mut ok = |op: Op| engine.apply(&Change::new(WS, op)).map(|_| ()).expect("set up");
    ok(Op::CreateWorkspace { schema: SchemaDoc::default_schema() });
    for user in ["sarah", "tom"] {
        ok(Op::PutUser { user: user.into(), workspace_role: "member".into(), kind: UserKind::Regular });
    }
    ok(Op::PutResource { resource: ResourceRef::new("app", "crm"), parent: None });
    for w in ["w1", "w2"] {
        ok(Op::PutResource { resource: ResourceRef::new("workflow", w), parent: Some(ResourceRef::new("app", "crm")) });
    }
    ok(group("marketing", true, Notify::OnChange));
    ok(group("quiet", true, Notify::None));
    for g in ["marketing", "quiet"] {
        ok(Op::PutGrant {
            resource: ResourceRef::new("app", "crm"),
            subject: Subject::Group(g.into()),
            role: "admin".into(),
        });
    }
    ok(Op::PutGrant {
        resource: ResourceRef::new("app", "crm"),
        subject: Subject::User("tom".into()),
        role: "runner".into(),
    });
    engine
}

fn crm() -> ResourceRef {
    ResourceRef::new("app", "crm")
}

fn wf(id: &str) -> ResourceRef {
    ResourceRef::new("workflow", id)
}

#[test]
fn joining_a_group_tells_each_new_member_what_they_gained() {
    let engine = world();
    let told = engine.access_changes(&[member("marketing", "sarah"), member("marketing", "tom")]).unwrap();
    let told: Vec<_> = told.iter().map(|t| (t.change, t.group.as_str(), t.reason, expanded(t))).collect();
    assert_eq!(
        told,
        vec![
            (
                0,
                "marketing",
                AccessReason::MemberAdded,
                vec![(
                    "sarah".into(),
                    vec![
                        role(crm(), None, Some("admin")),
                        role(wf("w1"), None, Some("admin")),
                        role(wf("w2"), None, Some("admin"))
                    ]
                )],
            ),
            (
                1,
                "marketing",
                AccessReason::MemberAdded,
                vec![(
                    "tom".into(),
                    vec![
                        role(crm(), Some("runner"), Some("admin")),
                        role(wf("w1"), Some("runner"), Some("admin")),
                        role(wf("w2"), Some("runner"), Some("admin"))
                    ]
                )],
            ),
        ]
    );
    // Nothing was applied.
    assert_eq!(engine.workspace(WS).unwrap().effective_role("sarah", &crm()).unwrap(), None);
}

#[test]
fn a_group_that_does_not_ask_tells_nothing_and_a_member_who_gains_nothing_is_not_told() {
    let mut engine = world();
    assert_eq!(engine.access_changes(&[member("quiet", "sarah")]).unwrap(), vec![]);
    engine.apply(&member("quiet", "sarah")).unwrap();
    // Sarah already is an admin of crm through `quiet`: joining marketing changes nothing.
    assert_eq!(engine.access_changes(&[member("marketing", "sarah")]).unwrap(), vec![]);
}

#[test]
fn privileges_switched_off_send_members_back_to_their_individual_access() {
    let mut engine = world();
    engine.apply(&member("marketing", "sarah")).unwrap();
    engine.apply(&member("marketing", "tom")).unwrap();
    let told = engine.access_changes(&[Change::new(WS, group("marketing", false, Notify::OnChange))]).unwrap();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].reason, AccessReason::PrivilegesOff);
    assert_eq!(
        expanded(&told[0]),
        vec![
            (
                "sarah".to_string(),
                vec![
                    role(crm(), Some("admin"), None),
                    role(wf("w1"), Some("admin"), None),
                    role(wf("w2"), Some("admin"), None)
                ]
            ),
            (
                "tom".to_string(),
                vec![
                    role(crm(), Some("admin"), Some("runner")),
                    role(wf("w1"), Some("admin"), Some("runner")),
                    role(wf("w2"), Some("admin"), Some("runner"))
                ]
            ),
        ]
    );
    // Deleting the group tells its last setting's members what they lost.
    let told = engine.access_changes(&[Change::new(WS, Op::DeleteGroup { group: "marketing".into() })]).unwrap();
    assert_eq!(told[0].reason, AccessReason::GroupDeleted);
    assert_eq!(told[0].per_user().len(), 2);
}

#[test]
fn a_summary_lists_each_members_access_on_what_the_group_covers() {
    let mut engine = world();
    engine.apply(&member("marketing", "sarah")).unwrap();
    engine
        .apply(&Change::new(
            WS,
            Op::PutGrant { resource: wf("w2"), subject: Subject::User("sarah".into()), role: "restricted".into() },
        ))
        .unwrap();
    let summary = engine.workspace(WS).unwrap().access_summary("marketing").unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].user, "sarah");
    // Admin of the app keeps admin on its workflows (locked), even where restricted.
    assert_eq!(
        summary[0].roles,
        vec![(crm(), "admin".to_string()), (wf("w1"), "admin".to_string()), (wf("w2"), "admin".to_string())]
    );
    assert!(engine.workspace(WS).unwrap().access_summary("nope").is_err());
}

#[test]
fn members_who_lose_the_same_access_are_one_class() {
    let mut engine = world();
    for i in 0..50 {
        let user = format!("u{i:02}");
        let op = Op::PutUser { user: user.clone(), workspace_role: "member".into(), kind: UserKind::Regular };
        engine.apply(&Change::new(WS, op)).unwrap();
        engine.apply(&member("marketing", &user)).unwrap();
    }
    engine.apply(&member("marketing", "tom")).unwrap();
    let told = engine.access_changes(&[Change::new(WS, Op::DeleteGroup { group: "marketing".into() })]).unwrap();
    assert_eq!(told.len(), 1);
    // Fifty members lose admin on all three; Tom falls back to his own runner role.
    let classes = &told[0].classes;
    assert_eq!(classes.len(), 2);
    let lost: Vec<_> = [crm(), wf("w1"), wf("w2")].into_iter().map(|r| role(r, Some("admin"), None)).collect();
    let (fifty, tom) =
        if classes[0].users.len() == 50 { (&classes[0], &classes[1]) } else { (&classes[1], &classes[0]) };
    assert_eq!((fifty.users.len(), &fifty.roles), (50, &lost));
    assert_eq!(tom.users, ["tom"]);
    assert_eq!(told[0].per_user().len(), 51);
}

#[test]
fn a_preview_says_what_deleting_a_group_takes_whatever_its_notify_setting() {
    let mut engine = world();
    for g in ["marketing", "quiet"] {
        engine.apply(&member(g, "sarah")).unwrap();
    }
    engine.apply(&member("quiet", "tom")).unwrap();
    assert_eq!(
        engine.workspace(WS).unwrap().group_grants("quiet"),
        Some(vec![(crm(), "admin".to_string())]),
        "the group's privileges"
    );
    // Sarah keeps admin through marketing; Tom falls back to his own runner rule.
    let classes = engine.preview(WS, &[Op::DeleteGroup { group: "quiet".into() }]).unwrap();
    let users: Vec<_> = classes.iter().map(|c| (c.users.clone(), c.roles.clone())).collect();
    assert_eq!(
        users,
        vec![(
            vec!["tom".to_string()],
            vec![
                role(crm(), Some("admin"), Some("runner")),
                role(wf("w1"), Some("admin"), Some("runner")),
                role(wf("w2"), Some("admin"), Some("runner")),
            ]
        )]
    );
    // Nothing was changed.
    assert!(engine.workspace(WS).unwrap().group_grants("quiet").is_some());
    // A change that would be refused is refused in preview too.
    assert!(engine.preview(WS, &[Op::RemoveMember { group: "marketing".into(), user: "tom".into() }]).is_err());
}
