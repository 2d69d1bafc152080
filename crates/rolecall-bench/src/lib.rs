//! Deterministic seed-scale workspaces (issue "Performance"): the same seed always gives
//! the same users, groups, resources and grants, so every benchmark and every peer runs on
//! the same data.

pub mod dataset;
pub mod load;
pub mod peers;
pub mod queries;
pub mod report;
pub mod stats;
pub mod store;

use rolecall_engine::{EVERYONE, Engine};
use rolecall_model::{Change, Limits, MemberRole, Notify, Op, ResourceRef, SchemaDoc, Subject, UserKind, Visibility};

/// The size of a generated workspace.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    pub users: u32,
    pub groups: u32,
    pub groups_per_user: u32,
    pub apps: u32,
    pub workflows_per_app: u32,
    pub grants: u32,
    /// Share of workflow grants that are the deny role, in percent.
    pub restricted_percent: u32,
}

impl Scale {
    /// 100,000 users, 1,000 groups, 10,000 apps x 10 workflows, 500,000 grants, 5% restricted.
    pub const LARGE: Scale = Scale {
        users: 100_000,
        groups: 1_000,
        groups_per_user: 3,
        apps: 10_000,
        workflows_per_app: 10,
        grants: 500_000,
        restricted_percent: 5,
    };

    /// The large workspace a hundred times smaller: what the slowest peers are run on.
    pub const SMALL: Scale = Scale {
        users: 1_000,
        groups: 10,
        groups_per_user: 3,
        apps: 100,
        workflows_per_app: 10,
        grants: 5_000,
        restricted_percent: 5,
    };
}

/// An engine holding the changes (all of them must apply).
pub fn engine(changes: &[Change]) -> Result<Engine, rolecall_engine::EngineError> {
    let mut engine = Engine::new(Limits::default());
    for c in changes {
        engine.apply(c)?;
    }
    Ok(engine)
}

/// 1,000,000 users and one group holding all of them, which has grants on a thousand apps.
pub fn huge_changes(users: u32) -> Vec<Change> {
    let mut out = vec![Change::new(WORKSPACE, Op::CreateWorkspace { schema: schema() })];
    let mut push = |op| out.push(Change::new(WORKSPACE, op));
    push(Op::PutGroup {
        group: "all".into(),
        visibility: Visibility::Public,
        apply_privileges: true,
        notify: Notify::None,
    });
    for i in 0..users {
        push(Op::PutUser { user: user_id(i), workspace_role: "member".into(), kind: UserKind::Regular });
        push(Op::PutMember { group: "all".into(), user: user_id(i), role: MemberRole::Member });
    }
    for a in 0..1_000 {
        push(Op::PutResource { resource: app(a), parent: None });
        push(Op::PutResource { resource: workflow(a), parent: Some(app(a)) });
        push(Op::PutGrant { resource: app(a), subject: Subject::Group("all".into()), role: "runner".into() });
    }
    out
}

/// The Actioner-like default schema (apps, workflows with a deny role, app admin implied
/// by the workspace admin roles, and the `sales` dataset scoped by `country`).
pub fn schema() -> SchemaDoc {
    SchemaDoc::default_schema()
}

/// Apps every user may run, through a grant to the built-in `everyone` group: what a
/// lookup of subjects reaching all 100,000 users is asked about.
pub const APPS_FOR_EVERYONE: u32 = 10;

/// The countries data scopes are drawn from.
pub const COUNTRIES: [&str; 20] = [
    "AR", "AU", "BR", "CA", "CH", "DE", "ES", "FR", "GB", "IE", "IN", "IT", "JP", "KR", "MX", "NL", "PL", "SE", "SG",
    "US",
];

pub const WORKSPACE: &str = "bench";

pub fn user_id(i: u32) -> String {
    format!("u{i}")
}

pub fn group_id(i: u32) -> String {
    format!("g{i}")
}

pub fn app(i: u32) -> ResourceRef {
    ResourceRef::new("app", format!("a{i}"))
}

pub fn workflow(i: u32) -> ResourceRef {
    ResourceRef::new("workflow", format!("w{i}"))
}

/// Every change that builds the workspace, in order. Groups nest up to depth 3: a tenth are
/// roots, three tenths sit under a root, the rest under a second-level group.
pub fn changes(scale: Scale, seed: u64) -> Vec<Change> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = vec![Change::new(WORKSPACE, Op::CreateWorkspace { schema: schema() })];
    let mut push = |op| out.push(Change::new(WORKSPACE, op));
    for i in 0..scale.users {
        // One user in a thousand is a workspace admin.
        let role = if i % 1000 == 0 { "admin" } else { "member" };
        push(Op::PutUser { user: user_id(i), workspace_role: role.into(), kind: UserKind::Regular });
    }
    let roots = (scale.groups / 10).max(1);
    let second = roots + scale.groups * 3 / 10;
    for g in 0..scale.groups {
        push(Op::PutGroup {
            group: group_id(g),
            visibility: Visibility::Public,
            apply_privileges: true,
            notify: Notify::None,
        });
        let parent = if g < roots {
            None
        } else if g < second {
            Some(rng.u32(0..roots))
        } else {
            Some(rng.u32(roots..second))
        };
        if let Some(p) = parent {
            push(Op::PutChildGroup { group: group_id(p), child: group_id(g) });
        }
        // A fifth of the groups see part of the sales data.
        if g % 5 == 0 {
            let countries = (0..2).map(|_| COUNTRIES[rng.usize(0..COUNTRIES.len())].to_string()).collect();
            let scope = [("country".to_string(), countries)].into_iter().collect();
            push(Op::PutDataScope { group: group_id(g), dataset: "sales".into(), scope });
        }
    }
    for u in 0..scale.users {
        for _ in 0..scale.groups_per_user {
            let g = rng.u32(0..scale.groups);
            push(Op::PutMember { group: group_id(g), user: user_id(u), role: MemberRole::Member });
        }
    }
    for a in 0..scale.apps {
        push(Op::PutResource { resource: app(a), parent: None });
        for w in 0..scale.workflows_per_app {
            push(Op::PutResource { resource: workflow(a * scale.workflows_per_app + w), parent: Some(app(a)) });
        }
    }
    for a in 0..APPS_FOR_EVERYONE.min(scale.apps) {
        push(Op::PutGrant { resource: app(a), subject: Subject::Group(EVERYONE.into()), role: "runner".into() });
    }
    let workflows = scale.apps * scale.workflows_per_app;
    for _ in 0..scale.grants.saturating_sub(APPS_FOR_EVERYONE) {
        let on_app = rng.u32(0..11) == 0;
        let resource = if on_app { app(rng.u32(0..scale.apps)) } else { workflow(rng.u32(0..workflows)) };
        let subject = if rng.u32(0..10) < 3 {
            Subject::Group(group_id(rng.u32(0..scale.groups)))
        } else {
            Subject::User(user_id(rng.u32(0..scale.users)))
        };
        let role = if !on_app && rng.u32(0..100) < scale.restricted_percent {
            "restricted"
        } else if rng.u32(0..5) == 0 {
            "admin"
        } else {
            "runner"
        };
        push(Op::PutGrant { resource, subject, role: role.into() });
    }
    out
}
