//! The casbin peer: RBAC with domains (the workspace is the domain), through casbin-rs.
//!
//! Users are linked to their groups and groups to their parents with `g` (per domain),
//! workflows to their app with `g2`, actions to the roles that allow them with `g3`. One
//! policy row per grant. The schema's rule that an app admin (or a workspace admin) keeps
//! admin on the app's workflows whatever a deny says is expressed with casbin's priority
//! effect: those rows come first, then the deny rows, then every other grant; the first
//! row that matches decides. Casbin evaluates its matcher against the policy rows in turn,
//! so a check costs time in proportion to the number of grants.

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use rolecall_model::Subject;

use crate::WORKSPACE;
use crate::dataset::{Dataset, Role};
use crate::queries::Check;

pub const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, role, eft

[role_definition]
g = _, _, _
g2 = _, _, _
g3 = _, _

[policy_effect]
e = priority(p.eft) || deny

[matchers]
m = r.dom == p.dom && g(r.sub, p.sub, r.dom) && (p.obj == "*" || g2(r.obj, p.obj, r.dom)) && g3(r.act, p.role)
"#;

/// Errors are the peer's own; the benchmark stops on them.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

type Result<T> = std::result::Result<T, Error>;

pub struct CasbinPeer {
    enforcer: Enforcer,
    pub policies: usize,
    pub links: usize,
}

impl std::fmt::Debug for CasbinPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CasbinPeer({} policies, {} links)", self.policies, self.links)
    }
}

fn subject(s: &Subject) -> String {
    match s {
        Subject::User(u) => format!("user:{u}"),
        Subject::Group(g) => format!("group:{g}"),
    }
}

fn row(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl CasbinPeer {
    pub async fn load(d: &Dataset) -> Result<CasbinPeer> {
        let model = DefaultModel::from_str(MODEL).await?;
        let mut enforcer = Enforcer::new(model, MemoryAdapter::default()).await?;
        let dom = WORKSPACE;

        // Which roles allow which actions; admin includes runner.
        let actions = [
            ("run", "runner"),
            ("view", "runner"),
            ("update", "admin"),
            ("view_history", "admin"),
            ("runner", "admin"),
            ("run", "restricted"),
            ("view", "restricted"),
            ("update", "restricted"),
            ("view_history", "restricted"),
        ];
        let g3: Vec<Vec<String>> = actions.iter().map(|(a, r)| row(&[a, r])).collect();
        let mut g: Vec<Vec<String>> = Vec::new();
        for (user, groups) in &d.memberships {
            for group in groups {
                g.push(row(&[&format!("user:{user}"), &format!("group:{group}"), dom]));
            }
        }
        for (group, parents) in &d.groups {
            for parent in parents {
                g.push(row(&[&format!("group:{group}"), &format!("group:{parent}"), dom]));
            }
        }
        for (user, admin) in &d.users {
            if *admin {
                g.push(row(&[&format!("user:{user}"), "role:workspace-admin", dom]));
            }
        }
        let g2: Vec<Vec<String>> =
            d.workflows.iter().map(|(w, a)| row(&[&format!("workflow:{w}"), &format!("app:{a}"), dom])).collect();

        // Rows in priority order: kept admin first, then denies, then the other grants.
        let mut first = vec![row(&["role:workspace-admin", dom, "*", "admin", "allow"])];
        let mut denies = Vec::new();
        let mut rest = Vec::new();
        for ((resource, s), role) in &d.grants {
            let object = format!("{}:{}", resource.kind, resource.id);
            let policy = |eft: &str| row(&[&subject(s), dom, &object, role.name(), eft]);
            match (resource.kind.as_str(), role) {
                ("app", Role::Admin) => first.push(policy("allow")),
                (_, Role::Restricted) => denies.push(policy("deny")),
                _ => rest.push(policy("allow")),
            }
        }
        let policies = first.len() + denies.len() + rest.len();
        let links = g.len() + g2.len() + g3.len();
        enforcer.add_named_grouping_policies("g3", g3).await?;
        enforcer.add_named_grouping_policies("g2", g2).await?;
        enforcer.add_named_grouping_policies("g", g).await?;
        for rows in [first, denies, rest] {
            enforcer.add_policies(rows).await?;
        }
        Ok(CasbinPeer { enforcer, policies, links })
    }

    pub fn check(&self, c: &Check) -> Result<bool> {
        let sub = format!("user:{}", c.user);
        let obj = format!("{}:{}", c.resource.kind, c.resource.id);
        Ok(self.enforcer.enforce((sub.as_str(), WORKSPACE, obj.as_str(), c.action))?)
    }
}
