//! The Cedar peer: AWS's policy language through its own Rust crate, in its best case.
//!
//! Grants live as attributes of the resource entities (`runners`, `admins`, `restricted`:
//! sets of users and groups), group nesting as entity parents, and a handful of policies
//! say what the Actioner-like schema says. Each check is given only the entities it needs
//! (the user, their groups with their parents, the workflow and its app), which is what
//! Cedar's documentation recommends for large stores: the slice is built per request.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicySet, Request,
    RestrictedExpression,
};
use rolecall_model::Subject;

use crate::dataset::{Dataset, Role};
use crate::queries::Check;
use crate::stats::Samples;

/// The Actioner-like schema, as Cedar policies. An app admin (or a workspace admin) keeps
/// admin on every workflow of the app even when restricted there ("locked from parent").
pub const POLICIES: &str = r#"
permit (principal, action, resource is App) when { principal.ws_admin };
permit (principal, action == Action::"run", resource is App)
  when { principal in resource.runners || principal in resource.admins };
permit (principal, action == Action::"update", resource is App)
  when { principal in resource.admins };

permit (principal, action, resource is Workflow)
  when { principal.ws_admin || principal in resource.app.admins };
permit (principal, action in [Action::"run", Action::"view"], resource is Workflow)
  when {
    principal in resource.runners || principal in resource.admins ||
    principal in resource.app.runners
  }
  unless { principal in resource.restricted };
permit (principal, action in [Action::"update", Action::"view_history"], resource is Workflow)
  when { principal in resource.admins }
  unless { principal in resource.restricted };
"#;

/// Errors are the peer's own; the benchmark stops on them.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Every entity built once; a check clones the ones it needs.
#[derive(Debug)]
pub struct CedarPeer {
    policies: PolicySet,
    authorizer: Authorizer,
    users: HashMap<String, Entity>,
    /// Group id -> (entity, parent group ids).
    groups: HashMap<String, (Entity, Vec<String>)>,
    /// User id -> their direct groups.
    memberships: HashMap<String, Vec<String>>,
    resources: HashMap<(String, String), Entity>,
    /// Workflow id -> its app id.
    parents: HashMap<String, String>,
}

fn uid(kind: &str, id: &str) -> Result<EntityUid, Error> {
    Ok(EntityUid::from_type_name_and_id(EntityTypeName::from_str(kind)?, EntityId::new(id)))
}

fn cedar_type(kind: &str) -> &'static str {
    match kind {
        "app" => "App",
        "workflow" => "Workflow",
        _ => "Unknown",
    }
}

fn subject_uid(s: &Subject) -> Result<EntityUid, Error> {
    match s {
        Subject::User(u) => uid("User", u),
        Subject::Group(g) => uid("Group", g),
    }
}

impl CedarPeer {
    /// Builds every entity of the dataset.
    pub fn load(d: &Dataset) -> Result<CedarPeer, Error> {
        let policies = PolicySet::from_str(POLICIES)?;
        let mut users = HashMap::new();
        for (user, admin) in &d.users {
            let parents: HashSet<EntityUid> =
                d.memberships.get(user).into_iter().flatten().map(|g| uid("Group", g)).collect::<Result<_, _>>()?;
            let attrs = HashMap::from([("ws_admin".to_string(), RestrictedExpression::new_bool(*admin))]);
            users.insert(user.clone(), Entity::new(uid("User", user)?, attrs, parents)?);
        }
        let mut groups = HashMap::new();
        for (group, parents) in &d.groups {
            let uids: HashSet<EntityUid> = parents.iter().map(|p| uid("Group", p)).collect::<Result<_, _>>()?;
            let entity = Entity::new_no_attrs(uid("Group", group)?, uids);
            groups.insert(group.clone(), (entity, parents.iter().cloned().collect()));
        }
        // Grants per resource and role.
        let mut by_resource: HashMap<(String, String), HashMap<Role, Vec<RestrictedExpression>>> = HashMap::new();
        for ((resource, subject), role) in &d.grants {
            let key = (resource.kind.clone(), resource.id.clone());
            let expr = RestrictedExpression::new_entity_uid(subject_uid(subject)?);
            by_resource.entry(key).or_default().entry(*role).or_default().push(expr);
        }
        let mut take = |kind: &str, id: &str, role: Role| {
            let set = by_resource
                .get_mut(&(kind.to_string(), id.to_string()))
                .and_then(|roles| roles.remove(&role))
                .unwrap_or_default();
            RestrictedExpression::new_set(set)
        };
        let mut resources = HashMap::new();
        for app in d.apps.keys() {
            let attrs = HashMap::from([
                ("runners".to_string(), take("app", app, Role::Runner)),
                ("admins".to_string(), take("app", app, Role::Admin)),
            ]);
            resources.insert(("app".to_string(), app.clone()), Entity::new(uid("App", app)?, attrs, HashSet::new())?);
        }
        for (workflow, app) in &d.workflows {
            let attrs = HashMap::from([
                ("app".to_string(), RestrictedExpression::new_entity_uid(uid("App", app)?)),
                ("runners".to_string(), take("workflow", workflow, Role::Runner)),
                ("admins".to_string(), take("workflow", workflow, Role::Admin)),
                ("restricted".to_string(), take("workflow", workflow, Role::Restricted)),
            ]);
            let entity = Entity::new(uid("Workflow", workflow)?, attrs, HashSet::new())?;
            resources.insert(("workflow".to_string(), workflow.clone()), entity);
        }
        let memberships = d.memberships.iter().map(|(u, gs)| (u.clone(), gs.iter().cloned().collect())).collect();
        Ok(CedarPeer {
            policies,
            authorizer: Authorizer::new(),
            users,
            groups,
            memberships,
            resources,
            parents: d.workflows.iter().map(|(w, a)| (w.clone(), a.clone())).collect(),
        })
    }

    /// The entities one check needs: the user, every group they are in (with parents),
    /// the resource and, for a workflow, its app.
    pub fn slice(&self, c: &Check) -> Result<Entities, Error> {
        let mut out = Vec::with_capacity(8);
        out.push(self.users.get(&c.user).ok_or("unknown user")?.clone());
        let mut seen: HashSet<&str> = HashSet::new();
        let mut todo: Vec<&str> = self.memberships.get(&c.user).into_iter().flatten().map(String::as_str).collect();
        while let Some(g) = todo.pop() {
            if !seen.insert(g) {
                continue;
            }
            if let Some((entity, parents)) = self.groups.get(g) {
                out.push(entity.clone());
                todo.extend(parents.iter().map(String::as_str));
            }
        }
        let key = (c.resource.kind.clone(), c.resource.id.clone());
        out.push(self.resources.get(&key).ok_or("unknown resource")?.clone());
        if let Some(app) = self.parents.get(&c.resource.id).filter(|_| c.resource.kind == "workflow") {
            out.push(self.resources.get(&("app".to_string(), app.clone())).ok_or("unknown app")?.clone());
        }
        Ok(Entities::from_entities(out, None)?)
    }

    pub fn request(&self, c: &Check) -> Result<Request, Error> {
        Ok(Request::new(
            uid("User", &c.user)?,
            uid("Action", c.action)?,
            uid(cedar_type(&c.resource.kind), &c.resource.id)?,
            Context::empty(),
            None,
        )?)
    }

    pub fn decide(&self, request: &Request, entities: &Entities) -> bool {
        self.authorizer.is_authorized(request, &self.policies, entities).decision() == Decision::Allow
    }

    /// One check, timing the slice (entities and request) and the decision apart.
    pub fn check_timed(&self, c: &Check, slice: &mut Samples, decide: &mut Samples) -> Result<bool, Error> {
        let (entities, request) = slice.time(|| Ok::<_, Error>((self.slice(c)?, self.request(c)?)))?;
        Ok(decide.time(|| self.decide(&request, &entities)))
    }

    pub fn check(&self, c: &Check) -> Result<bool, Error> {
        Ok(self.decide(&self.request(c)?, &self.slice(c)?))
    }
}
