//! A workspace as a SpiceDB schema and relationships (a `zed` validation file) and as an
//! OpenFGA model and tuples, so users can leave, or cross-check Rolecall's answers with
//! another engine.
//!
//! What is exported is access to the schema's resources, exactly: per type, a relation per
//! role and for the deny role (direct grants to users and to `group#member`), the parent
//! and the workspace as arrows, and per role a permission `at_least_<role>`:
//!
//! ```text
//! granted_<r> = <r> + granted_<next role up> + parent->at_least_<p>   (from_parent p -> r)
//! kept_<r>    = kept_<next role up> + parent->at_least_<p>            (locked p -> r)
//!                                   + workspace->at_least_<w>         (implied_by_workspace_role w -> r)
//! at_least_<r> = (granted_<r> - <deny role>) + kept_<r>
//! <action>     = at_least_<the action's role>
//! ```
//!
//! which is Rolecall's rule: the highest role of every source, a deny removing all but
//! locked parent roles and workspace-role implications. Groups nest through
//! `group#member`; Everyone and Workspace Admins are written out as the members they have
//! now; a group whose privileges are switched off has its grants left out (they decide
//! nothing while it is off). Group management rights, policies and data scopes are not
//! exported: they have no counterpart in a plain relationship model.
//!
//! Names become identifiers both systems take (lower case, `-` as `_`, at least three
//! characters, unique in their definition); ids with characters SpiceDB does not allow
//! are escaped as `=XX` (hex), which keeps them readable and reversible.

use std::collections::BTreeMap;

use rolecall_engine::{EVERYONE, WORKSPACE_ADMINS, WorkspaceIndex};
use rolecall_model::{Op, ResourceRef, Subject, UserKind};
use serde::Serialize;

/// A workspace for SpiceDB: its schema and its relationships (`type:id#relation@subject`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpiceDbExport {
    pub schema: String,
    pub relationships: Vec<String>,
}

impl SpiceDbExport {
    /// A `zed validate`-style validation file (YAML): `schema` and `relationships`.
    pub fn to_yaml(&self) -> String {
        let block = |text: &str| text.lines().map(|l| format!("  {l}\n")).collect::<String>();
        format!(
            "# Exported by Rolecall: load with `zed import` or check with `zed validate`.\nschema: |-\n{}relationships: |-\n{}",
            block(&self.schema),
            block(&self.relationships.join("\n"))
        )
    }
}

/// A workspace for OpenFGA: its model in the DSL and its tuples.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpenFgaExport {
    pub model: String,
    pub tuples: Vec<Tuple>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tuple {
    pub user: String,
    pub relation: String,
    pub object: String,
}

/// An identifier both systems take: `[a-z][a-z0-9_]*[a-z0-9]`, 3 to 64 characters.
fn ident(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert(0, 'x');
    }
    while out.len() < 3 || out.ends_with('_') {
        out.push('x');
    }
    out.truncate(48);
    out
}

/// Assigns identifiers without collisions (reserved names included).
#[derive(Default)]
struct Names {
    taken: std::collections::BTreeSet<String>,
}

impl Names {
    fn reserved(words: &[&str]) -> Names {
        Names { taken: words.iter().map(|w| w.to_string()).collect() }
    }

    fn take(&mut self, name: &str) -> String {
        let base = ident(name);
        let mut candidate = base.clone();
        let mut n = 2;
        while !self.taken.insert(candidate.clone()) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        candidate
    }
}

/// An object id as SpiceDB takes it: `[a-zA-Z0-9/_|\-+]`, anything else (and `=`) as `=XX`.
pub fn spicedb_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"/_|-+".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// The names every exported definition uses.
struct Plan {
    ws_roles: Vec<String>,
    /// Per schema type: its definition name, and per role, deny and action their relation names.
    types: Vec<TypeNames>,
}

struct TypeNames {
    name: String,
    roles: Vec<String>,
    deny: Option<String>,
    actions: Vec<(String, String)>,
}

const USER: &str = "user";
const GROUP: &str = "group";
const WORKSPACE: &str = "workspace";

fn plan(index: &WorkspaceIndex) -> Plan {
    let schema = index.schema();
    let mut ws = Names::reserved(&[]);
    let ws_roles = schema.workspace_roles.iter().map(|r| ws.take(r)).collect();
    let mut type_names = Names::reserved(&[USER, GROUP, WORKSPACE]);
    let types = schema
        .types
        .iter()
        .map(|t| {
            let mut names = Names::reserved(&["parent", WORKSPACE]);
            let roles: Vec<String> = t.roles.iter().map(|r| names.take(r)).collect();
            let deny = t.deny_role.as_deref().map(|d| names.take(d));
            // Helper permissions are named after the roles' identifiers, so reserve them too.
            for r in &roles {
                for prefix in ["granted_", "kept_", "at_least_", "allowed_"] {
                    names.taken.insert(format!("{prefix}{r}"));
                }
            }
            let actions = t.actions.iter().map(|(a, _)| (a.clone(), names.take(a))).collect();
            TypeNames { name: type_names.take(&t.name), roles, deny, actions }
        })
        .collect();
    Plan { ws_roles, types }
}

/// A permission expression's terms, or `nil` when there are none.
fn union(terms: &[String], or: &str, empty: &str) -> String {
    if terms.is_empty() { empty.to_string() } else { terms.join(or) }
}

/// The subjects a grant may go to, and the facts of a workspace, shared by both exports.
struct Facts {
    /// (user, workspace role index, regular)
    users: Vec<(String, usize, bool)>,
    /// (group, member user)
    members: Vec<(String, String)>,
    /// (group, child group)
    nesting: Vec<(String, String)>,
    /// (resource, parent)
    resources: Vec<(ResourceRef, Option<ResourceRef>)>,
    /// (resource, subject, role) of users and of groups whose privileges apply.
    grants: Vec<(ResourceRef, Subject, String)>,
}

fn facts(index: &WorkspaceIndex) -> Facts {
    let schema = index.schema();
    let mut f = Facts {
        users: Vec::new(),
        members: Vec::new(),
        nesting: Vec::new(),
        resources: Vec::new(),
        grants: Vec::new(),
    };
    let mut applies = BTreeMap::new();
    let mut suspended = std::collections::BTreeSet::new();
    for op in index.facts() {
        match op {
            Op::SetUserActive { user, active: false } => {
                suspended.insert(user);
            }
            Op::PutUser { user, workspace_role, kind } => {
                let w = schema.workspace_roles.iter().position(|r| *r == workspace_role).unwrap_or(0);
                f.users.push((user, w, kind == UserKind::Regular));
            }
            Op::PutGroup { group, apply_privileges, .. } => {
                applies.insert(group, apply_privileges);
            }
            Op::PutMember { group, user, .. } => f.members.push((group, user)),
            Op::PutChildGroup { group, child } => f.nesting.push((group, child)),
            Op::PutResource { resource, parent } => f.resources.push((resource, parent)),
            Op::PutGrant { resource, subject, role } => {
                let counts = match &subject {
                    Subject::User(_) => true,
                    Subject::Group(g) => applies.get(g).copied().unwrap_or(true),
                };
                if counts {
                    f.grants.push((resource, subject, role));
                }
            }
            _ => {}
        }
    }
    // A suspended user is allowed nothing: nothing of theirs is exported, so the other
    // system allows them nothing either.
    f.users.retain(|(u, _, _)| !suspended.contains(u));
    f.members.retain(|(_, u)| !suspended.contains(u));
    f.grants.retain(|(_, s, _)| !matches!(s, Subject::User(u) if suspended.contains(u)));
    // The built-in groups' members are kept by Rolecall; they are written out as they are now.
    for (user, w, regular) in &f.users {
        if *regular {
            f.members.push((EVERYONE.to_string(), user.clone()));
        }
        if schema.is_admin.get(*w).copied().unwrap_or(false) {
            f.members.push((WORKSPACE_ADMINS.to_string(), user.clone()));
        }
    }
    f
}

fn role_index(index: &WorkspaceIndex, plan: &Plan, kind: &str, role: &str) -> Option<(usize, String)> {
    let t = usize::from(index.schema().type_ix(kind)?);
    let ty = index.schema().ty(t as rolecall_model::TypeIx);
    let names = &plan.types[t];
    if ty.is_deny_role(role) {
        return names.deny.clone().map(|d| (t, d));
    }
    ty.role_level(role).and_then(|l| names.roles.get(usize::from(l)).cloned()).map(|r| (t, r))
}

/// What gives one role of a type, highest role first: the next role up, the parent's
/// roles that give it (all of them, and the locked ones) and the workspace roles that imply
/// it. Arrows are written by `arrow(relation, permission)` in each system's syntax.
struct Level {
    role: String,
    up: Option<String>,
    inherited: Vec<String>,
    locked: Vec<String>,
    implied: Vec<String>,
}

fn levels(
    plan: &Plan,
    ty: &rolecall_model::ResourceType,
    names: &TypeNames,
    arrow: impl Fn(&str, &str) -> String,
) -> Vec<Level> {
    let parent_roles = ty.parent.map(|p| &plan.types[usize::from(p)].roles);
    let from_parent = |l: usize, locked_only: bool| -> Vec<String> {
        ty.from_parent
            .iter()
            .filter(|(_, here, locked)| usize::from(*here) == l && (*locked || !locked_only))
            .filter_map(|(on_parent, _, _)| parent_roles.and_then(|p| p.get(usize::from(*on_parent))))
            .map(|p| arrow("parent", &format!("at_least_{p}")))
            .collect()
    };
    (0..names.roles.len())
        .rev()
        .map(|l| Level {
            role: names.roles[l].clone(),
            up: names.roles.get(l + 1).cloned(),
            inherited: from_parent(l, false),
            locked: from_parent(l, true),
            implied: ty
                .implied
                .iter()
                .filter(|(_, here)| usize::from(*here) == l)
                .map(|(w, _)| arrow(WORKSPACE, &format!("at_least_{}", plan.ws_roles[usize::from(*w)])))
                .collect(),
        })
        .collect()
}

/// One edge of the graph: `object#relation@subject`, ids as `id` writes them.
struct Edge {
    object: String,
    relation: String,
    subject: String,
}

fn edges(index: &WorkspaceIndex, plan: &Plan, id: impl Fn(&str) -> String) -> Vec<Edge> {
    let f = facts(index);
    let ws = format!("workspace:{}", id(index.id()));
    let object = |r: &ResourceRef| {
        let t = index.schema().type_ix(&r.kind).map(usize::from).unwrap_or(0);
        format!("{}:{}", plan.types[t].name, id(&r.id))
    };
    let subject = |s: &Subject| match s {
        Subject::User(u) => format!("user:{}", id(u)),
        Subject::Group(g) => format!("group:{}#member", id(g)),
    };
    let edge = |object: String, relation: &str, subject: String| Edge { object, relation: relation.into(), subject };
    let mut out = Vec::new();
    for (user, w, _) in &f.users {
        out.push(edge(ws.clone(), &plan.ws_roles[*w], format!("user:{}", id(user))));
    }
    for (group, user) in &f.members {
        out.push(edge(format!("group:{}", id(group)), "member", format!("user:{}", id(user))));
    }
    for (group, child) in &f.nesting {
        out.push(edge(format!("group:{}", id(group)), "member", format!("group:{}#member", id(child))));
    }
    for (resource, parent) in &f.resources {
        out.push(edge(object(resource), WORKSPACE, ws.clone()));
        if let Some(p) = parent {
            out.push(edge(object(resource), "parent", object(p)));
        }
    }
    for (resource, s, role) in &f.grants {
        if let Some((_, relation)) = role_index(index, plan, &resource.kind, role) {
            out.push(edge(object(resource), &relation, subject(s)));
        }
    }
    out
}

/// The workspace as a SpiceDB schema and relationships.
pub fn spicedb(index: &WorkspaceIndex) -> SpiceDbExport {
    let schema = index.schema();
    let plan = plan(index);
    let mut out = String::new();
    out.push_str("definition user {}\n\n");
    out.push_str("definition group {\n    relation member: user | group#member\n}\n\n");
    out.push_str("definition workspace {\n");
    for r in &plan.ws_roles {
        out.push_str(&format!("    relation {r}: user\n"));
    }
    for (i, r) in plan.ws_roles.iter().enumerate() {
        let mut terms = vec![r.clone()];
        if let Some(up) = plan.ws_roles.get(i + 1) {
            terms.push(format!("at_least_{up}"));
        }
        out.push_str(&format!("    permission at_least_{r} = {}\n", terms.join(" + ")));
    }
    out.push_str("}\n");
    for (t, ty) in schema.types.iter().enumerate() {
        let names = &plan.types[t];
        out.push_str(&format!("\ndefinition {} {{\n", names.name));
        out.push_str(&format!("    relation {WORKSPACE}: {WORKSPACE}\n"));
        if let Some(p) = ty.parent {
            out.push_str(&format!("    relation parent: {}\n", plan.types[usize::from(p)].name));
        }
        for r in names.roles.iter().chain(&names.deny) {
            out.push_str(&format!("    relation {r}: user | group#member\n"));
        }
        for level in levels(&plan, ty, names, |relation, permission| format!("{relation}->{permission}")) {
            let r = &level.role;
            let mut granted = vec![r.clone()];
            granted.extend(level.up.as_ref().map(|u| format!("granted_{u}")));
            granted.extend(level.inherited);
            let mut kept: Vec<String> = level.up.as_ref().map(|u| format!("kept_{u}")).into_iter().collect();
            kept.extend(level.locked);
            kept.extend(level.implied);
            out.push_str(&format!("    permission granted_{r} = {}\n", granted.join(" + ")));
            out.push_str(&format!("    permission kept_{r} = {}\n", union(&kept, " + ", "nil")));
            let allowed = match &names.deny {
                Some(d) => format!("(granted_{r} - {d})"),
                None => format!("granted_{r}"),
            };
            out.push_str(&format!("    permission at_least_{r} = {allowed} + kept_{r}\n"));
        }
        for ((_, action), (_, level)) in names.actions.iter().zip(&ty.actions) {
            let r = &names.roles[usize::from(*level)];
            out.push_str(&format!("    permission {action} = at_least_{r}\n"));
        }
        out.push_str("}\n");
    }

    let rels = edges(index, &plan, spicedb_id)
        .into_iter()
        .map(|e| format!("{}#{}@{}", e.object, e.relation, e.subject))
        .collect();
    SpiceDbExport { schema: out, relationships: rels }
}

/// The permission a Rolecall action is called in an export of `index` (for cross-checks):
/// the definition's name and the permission's.
pub fn exported_names(index: &WorkspaceIndex, kind: &str, action: &str) -> Option<(String, String)> {
    let plan = plan(index);
    let t = usize::from(index.schema().type_ix(kind)?);
    let names = &plan.types[t];
    names.actions.iter().find(|(a, _)| a == action).map(|(_, p)| (names.name.clone(), p.clone()))
}

/// The workspace as an OpenFGA model (DSL, schema 1.1) and tuples.
pub fn openfga(index: &WorkspaceIndex) -> OpenFgaExport {
    let schema = index.schema();
    let plan = plan(index);
    let mut m = String::from(
        "model\n  schema 1.1\n\ntype user\n\ntype group\n  relations\n    define member: [user, group#member]\n\n",
    );
    m.push_str("type workspace\n  relations\n");
    for r in &plan.ws_roles {
        m.push_str(&format!("    define {r}: [user]\n"));
    }
    for (i, r) in plan.ws_roles.iter().enumerate() {
        match plan.ws_roles.get(i + 1) {
            Some(up) => m.push_str(&format!("    define at_least_{r}: {r} or at_least_{up}\n")),
            None => m.push_str(&format!("    define at_least_{r}: {r}\n")),
        }
    }
    for (t, ty) in schema.types.iter().enumerate() {
        let names = &plan.types[t];
        m.push_str(&format!("\ntype {}\n  relations\n", names.name));
        m.push_str(&format!("    define {WORKSPACE}: [{WORKSPACE}]\n"));
        if let Some(p) = ty.parent {
            m.push_str(&format!("    define parent: [{}]\n", plan.types[usize::from(p)].name));
        }
        for r in names.roles.iter().chain(&names.deny) {
            m.push_str(&format!("    define {r}: [user, group#member]\n"));
        }
        // OpenFGA has no `nil`: a `kept_` relation is defined only when something keeps it.
        let mut kept_above: Option<String> = None;
        for level in levels(&plan, ty, names, |relation, permission| format!("{permission} from {relation}")) {
            let r = &level.role;
            let mut granted = vec![r.clone()];
            granted.extend(level.up.as_ref().map(|u| format!("granted_{u}")));
            granted.extend(level.inherited);
            let mut kept: Vec<String> = kept_above.take().into_iter().collect();
            kept.extend(level.locked);
            kept.extend(level.implied);
            m.push_str(&format!("    define granted_{r}: {}\n", granted.join(" or ")));
            if !kept.is_empty() {
                m.push_str(&format!("    define kept_{r}: {}\n", kept.join(" or ")));
                kept = vec![format!("kept_{r}")];
                kept_above = Some(format!("kept_{r}"));
            }
            let at_least = match (&names.deny, kept.is_empty()) {
                (Some(d), true) => format!("granted_{r} but not {d}"),
                (Some(d), false) => {
                    m.push_str(&format!("    define allowed_{r}: granted_{r} but not {d}\n"));
                    format!("allowed_{r} or {}", kept.join(" or "))
                }
                (None, true) => format!("granted_{r}"),
                (None, false) => format!("granted_{r} or {}", kept.join(" or ")),
            };
            m.push_str(&format!("    define at_least_{r}: {at_least}\n"));
        }
        for ((_, action), (_, level)) in names.actions.iter().zip(&ty.actions) {
            m.push_str(&format!("    define {action}: at_least_{}\n", names.roles[usize::from(*level)]));
        }
    }

    let tuples = edges(index, &plan, str::to_string)
        .into_iter()
        .map(|e| Tuple { user: e.subject, relation: e.relation, object: e.object })
        .collect();
    OpenFgaExport { model: m, tuples }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_become_what_both_systems_take() {
        assert_eq!(ident("runner"), "runner");
        assert_eq!(ident("View-History"), "view_history");
        assert_eq!(ident("a"), "axx");
        assert_eq!(ident("x_"), "x_x");
        assert_eq!(ident("9lives"), "x9lives");
        let mut names = Names::reserved(&["parent"]);
        assert_eq!(names.take("parent"), "parent_2");
        assert_eq!(names.take("Admin"), "admin");
        assert_eq!(names.take("admin"), "admin_2");
        assert_eq!(spicedb_id("alice@acme.com"), "alice=40acme=2Ecom");
        assert_eq!(spicedb_id("a=b:c"), "a=3Db=3Ac");
        assert_eq!(spicedb_id("plain_id-1"), "plain_id-1");
    }
}
