//! The one assertion every fixture and every random sequence ends in: check, explain,
//! lookup resources and lookup subjects agree with each other and with the reference model
//! on every user, action and resource of the workspace.

use std::collections::BTreeSet;

use rolecall_engine::{DataAccess, Explanation, GroupAction, Path, Step, WorkspaceIndex};
use rolecall_model::{Effect, ResourceRef, Subject};

use crate::reference::Reference;

fn subject(s: &Subject) -> String {
    s.to_string()
}

/// A path as one line of text, for fixtures to match and for failure messages.
pub fn render_steps(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|step| match step {
            Step::Member { member, group } => format!("{} in group:{group}", subject(member)),
            Step::Grant { subject: s, resource, role } => format!("{} is {role} on {resource}", subject(s)),
            Step::Inherit { from, parent_role, resource, role, locked } => {
                format!("{parent_role} on {from} gives {role} on {resource}{}", if *locked { " (locked)" } else { "" })
            }
            Step::WorkspaceRole { workspace_role, resource, role } => {
                format!("workspace role {workspace_role} gives {role} on {resource}")
            }
            Step::Admin { workspace_role } => format!("workspace role {workspace_role} is an admin role"),
            Step::CapabilityDefault { capability, workspace_role, min_role } => {
                format!("{capability} is given to {min_role} and above, and the user is {workspace_role}")
            }
            Step::Policy { policy, group, capability, effect } => {
                let verb = if *effect == Effect::Allow { "allows" } else { "denies" };
                format!("policy {policy} on group:{group} {verb} {capability}")
            }
            Step::MembershipRole { group, role } => format!("{} of group:{group}", role.as_str()),
            Step::PermissionSet { group, set, permissions } => {
                let list: Vec<&str> = permissions
                    .list()
                    .into_iter()
                    .map(|p| match p {
                        rolecall_model::GroupPermission::View => "view",
                        rolecall_model::GroupPermission::Edit => "edit",
                        rolecall_model::GroupPermission::Delete => "delete",
                    })
                    .collect();
                format!("set {set} of group:{group} gives [{}]", list.join(","))
            }
            Step::BuiltinGroup { group } => format!("group:{group} is built in"),
            Step::PublicGroup { group } => format!("group:{group} is public"),
            Step::Suspended { user } => format!("user:{user} is suspended"),
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

pub fn render_path(p: &Path) -> String {
    format!("{} => {}{}", render_steps(&p.steps), p.gives, if p.blocked { " [blocked]" } else { "" })
}

pub fn render(e: &Explanation) -> String {
    let mut out = format!("allowed={} role={:?} required={}\n", e.allowed, e.role, e.required);
    for p in &e.paths {
        out += &format!("  path: {}\n", render_path(p));
    }
    for d in &e.denied_by {
        out += &format!("  denied: {}\n", render_steps(d));
    }
    out
}

/// Every (resource, action) the workspace can be asked about.
fn targets(index: &WorkspaceIndex) -> Vec<(ResourceRef, String)> {
    let schema = index.schema();
    let mut out = Vec::new();
    for r in index.resource_refs() {
        let ty = schema.ty(schema.type_ix(&r.kind).expect("type"));
        for (action, _) in &ty.actions {
            out.push((r.clone(), action.clone()));
        }
    }
    for g in index.group_ids() {
        for a in GroupAction::ALL {
            out.push((ResourceRef::new("group", g), a.name().to_string()));
        }
    }
    for c in &schema.capabilities {
        out.push((ResourceRef::new("workspace", index.id()), c.name.clone()));
    }
    out
}

/// Panics with every disagreement found.
#[track_caller]
pub fn assert_consistent(index: &WorkspaceIndex, reference: &Reference, context: &str) {
    let mut problems = Vec::new();
    let users: Vec<String> = index.user_ids().map(String::from).collect();
    if users.iter().cloned().collect::<BTreeSet<_>>() != reference.user_ids().into_iter().collect() {
        problems.push(format!("users differ: engine {users:?}, reference {:?}", reference.user_ids()));
    }
    let groups: BTreeSet<String> = index.group_ids().map(String::from).collect();
    if groups != reference.group_ids().into_iter().collect() {
        problems.push(format!("groups differ: engine {groups:?}, reference {:?}", reference.group_ids()));
    }
    let resources: BTreeSet<ResourceRef> = index.resource_refs().collect();
    if resources != reference.resource_refs().into_iter().collect() {
        problems.push(format!("resources differ: engine {resources:?}, reference {:?}", reference.resource_refs()));
    }

    for (resource, action) in targets(index) {
        let subjects = index.lookup_subjects(&resource, &action).expect("lookup subjects");
        let mut allowed_users = 0;
        for user in &users {
            let at = format!("{user} {action} {resource}");
            let check = index.check(user, &action, &resource).expect("check");
            let explain = index.explain(user, &action, &resource).expect("explain");
            let expected = reference.check(user, &action, &resource).expect("reference check");
            let role = check.role.map(String::from);
            if (check.allowed, role.clone()) != expected {
                problems.push(format!(
                    "{at}: engine says ({}, {role:?}), reference says {expected:?}\n{}",
                    check.allowed,
                    render(&explain)
                ));
            }
            if explain.allowed != check.allowed || explain.role != role {
                problems.push(format!(
                    "{at}: explain says ({}, {:?}), check says ({}, {role:?})",
                    explain.allowed, explain.role, check.allowed
                ));
            }
            if check.allowed {
                allowed_users += 1;
                let open = explain.paths.iter().filter(|p| !p.blocked);
                let giving = if resource.kind == "group" || resource.kind == "workspace" {
                    open.count()
                } else {
                    open.filter(|p| Some(&p.gives) == role.as_ref()).count()
                };
                if giving == 0 {
                    problems.push(format!("{at}: allowed, but explain shows no open path\n{}", render(&explain)));
                }
            }
            match subjects.get(user) {
                Some(r) if check.allowed && r == check.role => {}
                None if !check.allowed => {}
                got => problems.push(format!(
                    "{at}: lookup subjects gives {got:?}, check gives ({}, {:?})",
                    check.allowed, check.role
                )),
            }
            let found = index.lookup_resources(user, &action, &resource.kind).expect("lookup resources");
            if found.contains(&resource.id) != check.allowed {
                problems.push(format!("{at}: lookup resources disagrees with check ({})", check.allowed));
            }
        }
        if subjects.len() != allowed_users {
            problems.push(format!(
                "{action} {resource}: lookup subjects found {} users, checks allow {allowed_users}",
                subjects.len()
            ));
        }
    }

    // Lookup resources finds nothing that a check would refuse.
    let schema = index.schema();
    for user in &users {
        for ty in &schema.types {
            for (action, _) in &ty.actions {
                let found = index.lookup_resources(user, action, &ty.name).expect("lookup resources");
                for id in found.ids() {
                    let r = ResourceRef::new(ty.name.clone(), id);
                    if !index.check(user, action, &r).expect("check").allowed {
                        problems.push(format!("{user} {action} {r}: found by lookup resources, refused by check"));
                    }
                }
            }
        }
        for dataset in &schema.datasets {
            let filter = index.data_filter(user, &dataset.name).expect("data filter");
            let expected = reference.data_filter(user, &dataset.name);
            let got = match &filter.access {
                DataAccess::Unrestricted => (true, Vec::new()),
                DataAccess::Nothing => (false, Vec::new()),
                DataAccess::AnyOf(scopes) => (false, scopes.clone()),
            };
            if got != expected {
                problems.push(format!("{user} filter {}: engine {got:?}, reference {expected:?}", dataset.name));
            }
        }
    }
    assert!(problems.is_empty(), "{context}: {} disagreement(s):\n{}", problems.len(), problems.join("\n"));
}
