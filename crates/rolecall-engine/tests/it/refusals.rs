//! Every refusal: cycles, each limit, unknown names, built-in groups, the last owner,
//! schema changes that would orphan data. A refused change must change nothing.

use rolecall_engine::{Engine, EngineError};
use rolecall_model::{
    Change, LimitKind, Limits, MemberRole, Notify, Op, ResourceRef, Revision, SchemaDoc, Subject, UserKind, Visibility,
};

const WS: &str = "ws";

struct World {
    engine: Engine,
}

impl World {
    fn new(limits: Limits) -> World {
        let mut engine = Engine::new(limits);
        engine.apply(&Change::new(WS, Op::CreateWorkspace { schema: SchemaDoc::default_schema() })).unwrap();
        World { engine }
    }

    fn ok(&mut self, op: Op) {
        self.engine.apply(&Change::new(WS, op.clone())).unwrap_or_else(|e| panic!("{op:?} refused: {e}"));
    }

    #[track_caller]
    fn refused(&mut self, op: Op) -> EngineError {
        let before = self.engine.workspace(WS).unwrap().facts();
        let revision = self.engine.revision();
        let err = self.engine.apply(&Change::new(WS, op.clone())).expect_err("should be refused");
        assert_eq!(self.engine.workspace(WS).unwrap().facts(), before, "{op:?} was refused but changed the workspace");
        assert_eq!(self.engine.revision(), revision, "a refused change must not use a revision");
        err
    }

    fn user(&mut self, id: &str, role: &str) {
        self.ok(Op::PutUser { user: id.into(), workspace_role: role.into(), kind: UserKind::Regular });
    }

    fn group(&mut self, id: &str) {
        self.ok(group(id));
    }

    fn check(&self, user: &str, action: &str, kind: &str, id: &str) -> bool {
        self.engine.workspace(WS).unwrap().check(user, action, &ResourceRef::new(kind, id)).unwrap().allowed
    }
}

fn group(id: &str) -> Op {
    Op::PutGroup { group: id.into(), visibility: Visibility::Public, apply_privileges: true, notify: Notify::None }
}

fn member(g: &str, u: &str, role: MemberRole) -> Op {
    Op::PutMember { group: g.into(), user: u.into(), role }
}

fn nest(g: &str, c: &str) -> Op {
    Op::PutChildGroup { group: g.into(), child: c.into() }
}

#[test]
fn nesting_a_group_in_itself_or_below_itself_is_a_cycle() {
    let mut w = World::new(Limits::default());
    for g in ["a", "b", "c"] {
        w.group(g);
    }
    assert_eq!(w.refused(nest("a", "a")).code(), "cycle");
    w.ok(nest("a", "b"));
    assert_eq!(w.refused(nest("b", "a")).code(), "cycle");
    w.ok(nest("b", "c"));
    let err = w.refused(nest("c", "a"));
    assert_eq!(err, EngineError::Cycle { group: "c".into(), child: "a".into() });
    assert_eq!(err.to_string(), "nesting group `a` inside `c` would make a cycle");
    // Un-nesting breaks the chain, and then the edge is allowed.
    w.ok(Op::RemoveChildGroup { group: "b".into(), child: "c".into() });
    w.ok(nest("c", "a"));
}

#[test]
fn the_group_limit_counts_custom_groups_and_is_configurable() {
    let mut w = World::new(Limits { max_groups: 3, ..Limits::default() });
    for g in ["a", "b", "c"] {
        w.group(g);
    }
    let err = w.refused(group("d"));
    assert_eq!(err, EngineError::LimitExceeded { limit: LimitKind::GroupsPerWorkspace, max: 3, group: None });
    assert_eq!(err.to_string(), "limit reached: at most 3 groups per workspace");
    // Changing an existing group's settings is not a new group.
    w.ok(group("a"));
    w.ok(Op::DeleteGroup { group: "a".into() });
    w.group("d");
}

#[test]
fn the_default_limits_are_the_documented_ones() {
    assert_eq!(Limits::default(), Limits { max_groups: 1_000, max_owners: 10, max_members: 1_000_000 });
    let mut w = World::new(Limits::default());
    for i in 0..1_000 {
        w.group(&format!("g{i}"));
    }
    assert_eq!(w.refused(group("one-too-many")).code(), "limit_exceeded");
}

#[test]
fn the_owner_limit_refuses_one_more_owner_but_not_a_member() {
    let mut w = World::new(Limits { max_owners: 2, ..Limits::default() });
    w.group("team");
    for u in ["a", "b", "c"] {
        w.user(u, "member");
    }
    w.ok(member("team", "a", MemberRole::Owner));
    w.ok(member("team", "b", MemberRole::Owner));
    let err = w.refused(member("team", "c", MemberRole::Owner));
    assert_eq!(
        err,
        EngineError::LimitExceeded { limit: LimitKind::OwnersPerGroup, max: 2, group: Some("team".into()) }
    );
    w.ok(member("team", "c", MemberRole::Member));
    // Promoting an existing member hits the same limit.
    assert_eq!(w.refused(member("team", "c", MemberRole::Owner)).code(), "limit_exceeded");
}

#[test]
fn the_member_limit_counts_nested_members_and_automatic_growth() {
    let mut w = World::new(Limits { max_members: 3, ..Limits::default() });
    for u in ["a", "b", "c", "d"] {
        w.user(u, "member");
    }
    w.group("small");
    w.group("other");
    for u in ["a", "b", "c"] {
        w.ok(member("small", u, MemberRole::Member));
    }
    let err = w.refused(member("small", "d", MemberRole::Member));
    assert_eq!(
        err,
        EngineError::LimitExceeded { limit: LimitKind::MembersPerGroup, max: 3, group: Some("small".into()) }
    );
    // A nested group that would bring a new member is refused too...
    w.ok(member("other", "d", MemberRole::Member));
    assert_eq!(w.refused(nest("small", "other")).code(), "limit_exceeded");
    // ...but one whose members are already in is fine.
    w.ok(Op::RemoveMember { group: "other".into(), user: "d".into() });
    w.ok(member("other", "a", MemberRole::Member));
    w.ok(nest("small", "other"));
    // Everyone is exempt, but a custom group that contains Everyone is not: a new user
    // who would push it over the limit is refused with an error naming it.
    w.group("all");
    w.ok(Op::RemoveMember { group: "small".into(), user: "c".into() });
    w.ok(Op::RemoveMember { group: "small".into(), user: "b".into() });
    let err = w.refused(nest("all", "everyone"));
    assert_eq!(err.code(), "limit_exceeded");
    w.ok(Op::DeleteUser { user: "d".into() });
    w.ok(nest("all", "everyone"));
    let err = w.refused(Op::PutUser { user: "e".into(), workspace_role: "member".into(), kind: UserKind::Regular });
    assert_eq!(
        err,
        EngineError::LimitExceeded { limit: LimitKind::MembersPerGroup, max: 3, group: Some("all".into()) }
    );
    // A one-time user is not part of Everyone, so it may be created.
    w.ok(Op::PutUser { user: "e".into(), workspace_role: "member".into(), kind: UserKind::OneTime });
}

#[test]
fn built_in_groups_cannot_be_deleted_or_edited_by_hand() {
    let mut w = World::new(Limits::default());
    w.user("ann", "member");
    w.group("team");
    for builtin in ["everyone", "workspace-admins"] {
        assert_eq!(w.refused(Op::DeleteGroup { group: builtin.into() }).code(), "builtin_group");
        assert_eq!(w.refused(member(builtin, "ann", MemberRole::Member)).code(), "builtin_group");
        assert_eq!(w.refused(Op::RemoveMember { group: builtin.into(), user: "ann".into() }).code(), "builtin_group");
        assert_eq!(w.refused(nest(builtin, "team")).code(), "builtin_group");
        assert!(!w.check("ann", "delete", "group", builtin));
    }
    // They may be nested inside a custom group.
    w.ok(nest("team", "everyone"));
    assert!(w.engine.workspace(WS).unwrap().member_count("team") == Some(1));
    // And they follow the users: an admin joins Workspace Admins, a one-time user leaves Everyone.
    w.user("ann", "admin");
    assert_eq!(w.engine.workspace(WS).unwrap().member_count("workspace-admins"), Some(1));
    w.ok(Op::PutUser { user: "ann".into(), workspace_role: "member".into(), kind: UserKind::OneTime });
    assert_eq!(w.engine.workspace(WS).unwrap().member_count("everyone"), Some(0));
    assert_eq!(w.engine.workspace(WS).unwrap().member_count("workspace-admins"), Some(0));
}

#[test]
fn a_group_with_owners_keeps_at_least_one() {
    let mut w = World::new(Limits::default());
    w.user("a", "member");
    w.user("b", "member");
    w.group("team");
    w.ok(member("team", "a", MemberRole::Owner));
    assert_eq!(
        w.refused(Op::RemoveMember { group: "team".into(), user: "a".into() }),
        EngineError::LastOwner("team".into())
    );
    assert_eq!(w.refused(member("team", "a", MemberRole::Editor)).code(), "last_owner");
    w.ok(member("team", "b", MemberRole::Owner));
    w.ok(member("team", "a", MemberRole::Editor));
    // Deleting the user who is the last owner is allowed: the user is gone.
    w.ok(Op::DeleteUser { user: "b".into() });
}

#[test]
fn unknown_names_are_refused_with_their_own_codes() {
    let mut w = World::new(Limits::default());
    w.user("a", "member");
    w.ok(Op::PutResource { resource: ResourceRef::new("app", "crm"), parent: None });
    let cases: Vec<(Op, &str)> = vec![
        (
            Op::PutUser { user: "b".into(), workspace_role: "boss".into(), kind: UserKind::Regular },
            "unknown_workspace_role",
        ),
        (Op::PutResource { resource: ResourceRef::new("page", "x"), parent: None }, "unknown_type"),
        (
            Op::PutGrant {
                resource: ResourceRef::new("app", "crm"),
                subject: Subject::User("a".into()),
                role: "owner".into(),
            },
            "unknown_role",
        ),
        // `restricted` is the workflow's deny role, not the app's.
        (
            Op::PutGrant {
                resource: ResourceRef::new("app", "crm"),
                subject: Subject::User("a".into()),
                role: "restricted".into(),
            },
            "unknown_role",
        ),
        (
            Op::PutGrant {
                resource: ResourceRef::new("app", "nope"),
                subject: Subject::User("a".into()),
                role: "runner".into(),
            },
            "resource_not_found",
        ),
        (
            Op::PutGrant {
                resource: ResourceRef::new("app", "crm"),
                subject: Subject::Group("nope".into()),
                role: "runner".into(),
            },
            "group_not_found",
        ),
        (
            Op::PutGrant {
                resource: ResourceRef::new("app", "crm"),
                subject: Subject::User("nope".into()),
                role: "runner".into(),
            },
            "user_not_found",
        ),
        (
            Op::PutPolicy { policy: "p".into(), rules: [("fly".to_string(), rolecall_model::Effect::Allow)].into() },
            "unknown_capability",
        ),
        (
            Op::PutDataScope { group: "everyone".into(), dataset: "nope".into(), scope: Default::default() },
            "unknown_dataset",
        ),
        (
            Op::PutDataScope {
                group: "everyone".into(),
                dataset: "sales".into(),
                scope: [("city".to_string(), vec![])].into(),
            },
            "unknown_attribute",
        ),
        (
            Op::PutUser { user: "has space".into(), workspace_role: "member".into(), kind: UserKind::Regular },
            "invalid_id",
        ),
        (group(&"x".repeat(129)), "invalid_id"),
        (
            Op::PutResource {
                resource: ResourceRef::new("workflow", "w"),
                parent: Some(ResourceRef::new("workflow", "w0")),
            },
            "invalid_parent",
        ),
        (
            Op::PutResource { resource: ResourceRef::new("app", "a2"), parent: Some(ResourceRef::new("app", "crm")) },
            "invalid_parent",
        ),
        (
            Op::PutResource {
                resource: ResourceRef::new("workflow", "w"),
                parent: Some(ResourceRef::new("app", "nope")),
            },
            "resource_not_found",
        ),
        (Op::AttachPolicy { group: "everyone".into(), policy: "nope".into() }, "policy_not_found"),
        (
            Op::RemoveGrant { resource: ResourceRef::new("app", "crm"), subject: Subject::User("a".into()) },
            "grant_not_found",
        ),
    ];
    for (op, code) in cases {
        let err = w.refused(op.clone());
        assert_eq!(err.code(), code, "{op:?}: {err}");
    }
}

#[test]
fn questions_about_unknown_things_are_errors_not_denials() {
    let mut w = World::new(Limits::default());
    w.user("a", "member");
    w.ok(Op::PutResource { resource: ResourceRef::new("app", "crm"), parent: None });
    let index = w.engine.workspace(WS).unwrap();
    let code = |r: Result<rolecall_engine::Decision<'_>, EngineError>| r.unwrap_err().code();
    assert_eq!(code(index.check("ghost", "run", &ResourceRef::new("app", "crm"))), "user_not_found");
    assert_eq!(code(index.check("a", "fly", &ResourceRef::new("app", "crm"))), "unknown_action");
    assert_eq!(code(index.check("a", "run", &ResourceRef::new("app", "nope"))), "resource_not_found");
    assert_eq!(code(index.check("a", "run", &ResourceRef::new("page", "x"))), "unknown_type");
    assert_eq!(code(index.check("a", "fly", &ResourceRef::new("workspace", WS))), "unknown_action");
    assert_eq!(code(index.check("a", "create_app", &ResourceRef::new("workspace", "other"))), "resource_not_found");
    assert_eq!(code(index.check("a", "view", &ResourceRef::new("group", "nope"))), "group_not_found");
    assert_eq!(code(index.check("a", "fly", &ResourceRef::new("group", "everyone"))), "unknown_action");
    assert_eq!(index.data_filter("a", "nope").unwrap_err().code(), "unknown_dataset");
    assert_eq!(index.lookup_resources("a", "run", "page").unwrap_err().code(), "unknown_type");
    assert_eq!(w.engine.workspace("nope").unwrap_err().code(), "workspace_not_found");
}

#[test]
fn deleting_a_resource_with_children_is_refused() {
    let mut w = World::new(Limits::default());
    w.ok(Op::PutResource { resource: ResourceRef::new("app", "crm"), parent: None });
    w.ok(Op::PutResource {
        resource: ResourceRef::new("workflow", "sync"),
        parent: Some(ResourceRef::new("app", "crm")),
    });
    let err = w.refused(Op::DeleteResource { resource: ResourceRef::new("app", "crm") });
    assert_eq!(err, EngineError::ResourceHasChildren { resource: "app:crm".into(), children: 1 });
    w.ok(Op::DeleteResource { resource: ResourceRef::new("workflow", "sync") });
    w.ok(Op::DeleteResource { resource: ResourceRef::new("app", "crm") });
}

#[test]
fn workspaces_are_created_once_and_revisions_only_grow() {
    let mut engine = Engine::new(Limits::default());
    let create = Change::new(WS, Op::CreateWorkspace { schema: SchemaDoc::default_schema() });
    assert_eq!(engine.apply(&create), Ok(Revision(1)));
    assert_eq!(engine.apply(&create).unwrap_err().code(), "workspace_exists");
    let bad = Change::new("not ok", Op::CreateWorkspace { schema: SchemaDoc::default_schema() });
    assert_eq!(engine.apply(&bad).unwrap_err().code(), "invalid_id");
    let user =
        Change::new(WS, Op::PutUser { user: "a".into(), workspace_role: "member".into(), kind: UserKind::Regular });
    assert_eq!(engine.apply_at(Revision(1), &user).unwrap_err().code(), "stale_revision");
    engine.apply_at(Revision(10), &user).unwrap();
    assert_eq!(engine.revision(), Revision(10));
    assert_eq!(engine.workspace(WS).unwrap().applied_revision(), Revision(10));
    let other = Change::new(
        "other",
        Op::PutUser { user: "a".into(), workspace_role: "member".into(), kind: UserKind::Regular },
    );
    assert_eq!(engine.apply(&other).unwrap_err().code(), "workspace_not_found");
    engine.apply(&Change::new(WS, Op::DeleteWorkspace)).unwrap();
    assert!(engine.workspace(WS).is_err());
}

#[test]
fn a_schema_change_that_would_orphan_data_is_refused_and_names_it() {
    let mut w = World::new(Limits::default());
    w.user("ann", "creator");
    w.ok(Op::PutResource { resource: ResourceRef::new("app", "crm"), parent: None });
    w.ok(Op::PutResource {
        resource: ResourceRef::new("workflow", "sync"),
        parent: Some(ResourceRef::new("app", "crm")),
    });
    w.ok(Op::PutGrant {
        resource: ResourceRef::new("workflow", "sync"),
        subject: Subject::User("ann".into()),
        role: "restricted".into(),
    });
    w.ok(Op::PutGrant {
        resource: ResourceRef::new("app", "crm"),
        subject: Subject::User("ann".into()),
        role: "runner".into(),
    });

    // Drop the workflow type and the deny role on apps: both orphan something.
    let mut schema = SchemaDoc::default_schema();
    schema.resource_types.remove("workflow");
    schema.workspace_roles.retain(|r| r != "creator");
    let err = w.engine.apply(&Change::new(WS, Op::ReplaceSchema { schema })).unwrap_err();
    assert_eq!(err.code(), "schema_orphans");
    let EngineError::SchemaOrphans(orphans) = &err else { panic!("{err:?}") };
    let text = orphans.join("\n");
    assert!(text.contains("user `ann`"), "{text}");
    assert!(text.contains("resource `workflow:sync`"), "{text}");
    assert!(w.check("ann", "run", "app", "crm"), "the refused schema change must change nothing");

    // A compatible change is applied and keeps every answer.
    let mut schema = SchemaDoc::default_schema();
    schema.resource_types.get_mut("app").unwrap().actions.insert("inspect".into(), "runner".into());
    w.ok(Op::ReplaceSchema { schema });
    assert!(w.check("ann", "inspect", "app", "crm"));
    assert!(!w.check("ann", "run", "workflow", "sync"), "the deny on the workflow survives the schema change");
}

#[test]
fn a_revoked_grant_stays_revoked() {
    let mut w = World::new(Limits::default());
    w.user("ann", "member");
    w.group("team");
    w.ok(member("team", "ann", MemberRole::Member));
    w.ok(Op::PutResource { resource: ResourceRef::new("app", "crm"), parent: None });
    let grant = Op::PutGrant {
        resource: ResourceRef::new("app", "crm"),
        subject: Subject::Group("team".into()),
        role: "runner".into(),
    };
    w.ok(grant);
    assert!(w.check("ann", "run", "app", "crm"));
    w.ok(Op::RemoveGrant { resource: ResourceRef::new("app", "crm"), subject: Subject::Group("team".into()) });
    // Unrelated changes afterwards do not bring it back.
    w.group("other");
    w.ok(nest("other", "team"));
    w.ok(Op::PutGroup {
        group: "team".into(),
        visibility: Visibility::Private,
        apply_privileges: true,
        notify: Notify::None,
    });
    assert!(!w.check("ann", "run", "app", "crm"));
    let index = w.engine.workspace(WS).unwrap();
    assert!(index.lookup_subjects(&ResourceRef::new("app", "crm"), "run").unwrap().is_empty());
    assert!(index.lookup_resources("ann", "run", "app").unwrap().is_empty());
}
