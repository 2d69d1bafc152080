//! The access explorer: pick a user and a resource, see their effective role and every
//! path that gives it (or blocks it), in names; then ask what would change if they left
//! one of their groups (the engine's preview, one group at a time, nothing changed).
//!
//! Workspace admins explore anyone's access on any resource. Anyone else explores their
//! own, on the resources they hold a role on.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rolecall_api::AppState;
use rolecall_engine::{Explanation, Step};
use rolecall_model::{Op, ResourceRef, Subject};
use rolecall_store::Store;

use crate::form::{Fields, say, unavailable, urlencode};
use crate::layout::{Said, page};
use crate::names::{group_names, people, user_by_email};
use crate::session::Signed;

/// Names for the ids a page shows.
#[derive(Default)]
struct Names {
    users: BTreeMap<String, (String, String)>,
    groups: BTreeMap<String, String>,
    resources: BTreeMap<ResourceRef, String>,
}

impl Names {
    fn user(&self, id: &str) -> String {
        self.users.get(id).map_or_else(|| id.to_string(), |(n, _)| n.clone())
    }
    fn group(&self, id: &str) -> String {
        self.groups.get(id).cloned().unwrap_or_else(|| id.to_string())
    }
    fn subject(&self, s: &Subject) -> String {
        match s {
            Subject::User(u) => self.user(u),
            Subject::Group(g) => format!("group {}", self.group(g)),
        }
    }
    fn resource(&self, r: &ResourceRef) -> String {
        let name = self.resources.get(r).cloned().unwrap_or_else(|| r.id.clone());
        format!("{name} ({})", r.kind)
    }
}

/// One step of a path, in words.
fn step(names: &Names, s: &Step) -> String {
    match s {
        Step::Member { member, group } => format!("{} is a member of {}", names.subject(member), names.group(group)),
        Step::Grant { subject, resource, role } => {
            format!("{} holds {role} on {}", names.subject(subject), names.resource(resource))
        }
        Step::Inherit { from, parent_role, resource, role, locked } => format!(
            "{parent_role} on {} gives {role} on {}{}",
            names.resource(from),
            names.resource(resource),
            if *locked { " (locked: a deny does not take it away)" } else { "" }
        ),
        Step::WorkspaceRole { workspace_role, resource, role } => {
            format!("the workspace role {workspace_role} gives {role} on {}", names.resource(resource))
        }
        Step::Admin { workspace_role } => format!("the workspace role {workspace_role} keeps every access"),
        Step::CapabilityDefault { capability, workspace_role, min_role } => {
            format!("{capability} is given to {min_role} and above; the workspace role is {workspace_role}")
        }
        Step::Policy { policy, group, capability, effect } => {
            format!("policy {policy} of {} says {effect:?} to {capability}", names.group(group)).to_lowercase()
        }
        Step::MembershipRole { group, role } => format!("{} in {}", role.as_str(), names.group(group)),
        Step::PermissionSet { group, set, .. } => format!("permission set {set} of {}", names.group(group)),
        Step::BuiltinGroup { group } => format!("{} is built in", names.group(group)),
        Step::PublicGroup { group } => format!("{} is public", names.group(group)),
        Step::Suspended { user } => format!("{} is suspended", names.user(user)),
    }
}

fn explanation(names: &Names, e: &Explanation, action: &str) -> Markup {
    html! {
        section aria-label="Effective access" class="set" {
            h2 {
                "Effective role: " strong { (e.role.as_deref().unwrap_or("no access")) }
            }
            p {
                "May " (action) ": " strong { @if e.allowed { "yes" } @else { "no" } }
                " (it needs " (e.required) ")."
            }
            @if e.paths.is_empty() && e.denied_by.is_empty() {
                p class="empty" { "Nothing gives access here: no rule, group, parent or workspace role." }
            }
            @if !e.paths.is_empty() {
                h3 { "What gives it" }
                ol class="paths" {
                    @for path in &e.paths {
                        li class=[path.blocked.then_some("blocked")] {
                            strong { (path.gives) } @if path.blocked { " — blocked" } ": "
                            @for (i, s) in path.steps.iter().enumerate() {
                                @if i > 0 { " → " }
                                (step(names, s))
                            }
                        }
                    }
                }
            }
            @if !e.denied_by.is_empty() {
                h3 { "What blocks it" }
                ol class="paths" {
                    @for chain in &e.denied_by {
                        li { @for (i, s) in chain.iter().enumerate() { @if i > 0 { " → " } (step(names, s)) } }
                    }
                }
            }
        }
    }
}

pub async fn explore<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    Path(ws): Path<String>,
    signed: Signed,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(outside) = signed.outside(&ws) {
        return outside;
    }
    let fields = Fields::parse(query.unwrap_or_default().as_bytes());
    let me = signed.session.user.clone();
    let admin = state.service.snapshot().workspace(&ws).is_ok_and(|i| i.is_admin_user(&me) == Ok(true));
    let email = fields.get("user").trim().to_string();
    // Whose access: anyone's for an admin, one's own for others.
    let user = if email.is_empty() {
        Ok(me.clone())
    } else {
        match user_by_email(&state, &ws, &email).await {
            Ok(u) if admin || u == me => Ok(u),
            Ok(_) => {
                Err((StatusCode::FORBIDDEN, "You may explore only your own access; admins explore anyone's.".into()))
            }
            Err(e) => Err(say(e, "")),
        }
    };
    // The resource: one the signed-in user may explore (an admin: any; others: those they
    // hold a role on). The picker offers those whose name matches the search (`rq`).
    let chosen = fields.get("resource").split_once('/').map(|(k, i)| ResourceRef::new(k, i));
    let chosen = chosen.filter(|r| {
        let engine = state.service.snapshot();
        engine.workspace(&ws).is_ok_and(|index| {
            index.has_resource(r) && (admin || index.effective_role(&me, r).is_ok_and(|x| x.is_some()))
        })
    });
    let Ok((mut offered, more)) = crate::permissions::findable(&state, &ws, &me, fields.get("rq")).await else {
        return unavailable(&signed, "Access explorer");
    };
    if let Some(r) = &chosen
        && !offered.iter().any(|o| &o.resource == r)
        && let Ok(Some(found)) = state.service.store().resource(&ws, r).await
    {
        offered.insert(0, found);
    }
    let mut refused: Option<(StatusCode, String)> = None;
    if !fields.get("resource").is_empty() && chosen.is_none() {
        refused = Some((StatusCode::NOT_FOUND, "There is no such resource among those you may explore.".into()));
    }
    let user = match user {
        Ok(u) => Some(u),
        Err(r) => {
            refused = Some(r);
            None
        }
    };

    // The answer, the user's groups and, when asked, what leaving one would change.
    let mut answer = None;
    let mut groups: Vec<String> = Vec::new();
    let mut leaving = None;
    let mut actions: Vec<String> = Vec::new();
    if let (Some(user), Some(r)) = (&user, &chosen) {
        let engine = state.service.snapshot();
        let Ok(index) = engine.workspace(&ws) else { return unavailable(&signed, "Access explorer") };
        actions = index.actions_of(&r.kind).unwrap_or_default().into_iter().map(String::from).collect();
        let action = Some(fields.get("action").to_string())
            .filter(|a| actions.contains(a))
            .or_else(|| actions.first().cloned())
            .unwrap_or_default();
        answer = index.explain(user, &action, r).ok().map(|e| (action, e));
        groups = index
            .user_groups(user)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, direct)| *direct)
            .map(|(g, _)| g.to_string())
            .collect();
    }
    if let Some(user) = &user
        && let leave = fields.get("leave")
        && groups.iter().any(|g| g == leave)
    {
        let ops = vec![Op::RemoveMember { group: leave.to_string(), user: user.clone() }];
        let changes =
            state.service.preview(&signed.actor(), &ws, ops).await.map(|classes| {
                classes.into_iter().find(|c| c.users.contains(user)).map(|c| c.roles).unwrap_or_default()
            });
        leaving = Some((leave.to_string(), changes));
    }

    // Names for everything shown.
    let mut names = Names::default();
    let mut user_ids: Vec<String> = user.iter().cloned().collect();
    let mut group_ids: Vec<String> = groups.clone();
    let mut resource_refs: Vec<ResourceRef> = Vec::new();
    if let Some((_, e)) = &answer {
        for s in e.paths.iter().flat_map(|p| p.steps.iter()).chain(e.denied_by.iter().flatten()) {
            match s {
                Step::Member { member: Subject::User(u), group } => {
                    user_ids.push(u.clone());
                    group_ids.push(group.clone());
                }
                Step::Member { member: Subject::Group(g), group } => group_ids.extend([g.clone(), group.clone()]),
                Step::Grant { subject, resource, .. } => {
                    match subject {
                        Subject::User(u) => user_ids.push(u.clone()),
                        Subject::Group(g) => group_ids.push(g.clone()),
                    }
                    resource_refs.push(resource.clone());
                }
                Step::Inherit { from, resource, .. } => resource_refs.extend([from.clone(), resource.clone()]),
                Step::WorkspaceRole { resource, .. } => resource_refs.push(resource.clone()),
                Step::Policy { group, .. }
                | Step::MembershipRole { group, .. }
                | Step::PermissionSet { group, .. }
                | Step::BuiltinGroup { group }
                | Step::PublicGroup { group } => group_ids.push(group.clone()),
                Step::Suspended { user } => user_ids.push(user.clone()),
                Step::Admin { .. } | Step::CapabilityDefault { .. } => {}
            }
        }
    }
    if let Some((_, Ok(changes))) = &leaving {
        resource_refs.extend(changes.iter().map(|c| c.resource.clone()));
    }
    let uids: Vec<&str> = user_ids.iter().map(String::as_str).collect();
    let gids: Vec<&str> = group_ids.iter().map(String::as_str).collect();
    let (Ok(users), Ok(gnames)) = (people(&state, &ws, &uids).await, group_names(&state, &ws, &gids).await) else {
        return unavailable(&signed, "Access explorer");
    };
    names.users = users;
    names.groups = gnames;
    for r in offered.iter() {
        names.resources.insert(r.resource.clone(), r.name.clone());
    }
    for r in resource_refs {
        if !names.resources.contains_key(&r)
            && let Ok(Some(found)) = state.service.store().resource(&ws, &r).await
        {
            names.resources.insert(r, found.name);
        }
    }

    let shown_email = user.as_ref().and_then(|u| names.users.get(u)).map(|(_, e)| e.clone()).unwrap_or(email);
    let resource_value = chosen.as_ref().map(|r| format!("{}/{}", r.kind, r.id)).unwrap_or_default();
    let chosen_action = answer.as_ref().map(|(a, _)| a.clone()).unwrap_or_default();
    let body = html! {
        h1 { "Access explorer" }
        p class="muted" { "Who holds what on a resource, and why: the rules, groups, parents and workspace role that give it, "
            "and what would change if they left a group." }
        @if let Some((_, message)) = &refused { (Said::Refused(message)) }
        form method="get" action={ "/console/" (ws) "/access" } class="card explorer" {
            label for="explore-user" { "User's email" }
            input id="explore-user" name="user" type="email" value=(shown_email) readonly[!admin];
            (crate::permissions::picker(&ws, "explore-resource", "Resource", &offered, more, &resource_value))
            @if !actions.is_empty() {
                label for="explore-action" { "Action" }
                select id="explore-action" name="action" {
                    @for a in &actions { option value=(a) selected[*a == chosen_action] { (a) } }
                }
            }
            button type="submit" { "Explain" }
        }
        @if let (Some((action, e)), Some(user)) = (&answer, &user) {
            p { strong { (names.user(user)) } " on " strong { (chosen.as_ref().map(|r| names.resource(r)).unwrap_or_default()) } }
            (explanation(&names, e, action))
            section aria-label="If they left a group" class="set" {
                h2 { "If " (names.user(user)) " left a group" }
                @if groups.is_empty() {
                    p class="empty" { "They are in no group of their own (built-in groups follow the workspace)." }
                } @else {
                    ul class="plain" {
                        @for g in &groups {
                            li {
                                a href={ "/console/" (ws) "/access?user=" (urlencode(&shown_email)) "&resource=" (urlencode(&resource_value)) "&action=" (urlencode(action)) "&leave=" (urlencode(g)) }
                                    aria-current=[leaving.as_ref().is_some_and(|(l, _)| l == g).then_some("true")] {
                                    "What if they left " (names.group(g)) "?"
                                }
                            }
                        }
                    }
                }
                @if let Some((g, changes)) = &leaving {
                    @match changes {
                        Err(e) => p role="alert" class="error" {
                            (names.user(user)) " cannot leave " (names.group(g)) " as things are: " (e) "."
                        },
                        Ok(changes) if changes.is_empty() => p role="status" class="impact none" {
                            "Leaving " (names.group(g)) " changes nothing for " (names.user(user)) ": what it gives they also hold otherwise."
                        },
                        Ok(changes) => div role="status" {
                            p class="impact" { "Leaving " (names.group(g)) ", " (names.user(user)) " would have:" }
                            ul class="changes" {
                                @for c in changes {
                                    li { (names.resource(&c.resource)) ": " (c.before.as_deref().unwrap_or("no access")) " → " (c.after.as_deref().unwrap_or("no access")) }
                                }
                            }
                            p class="muted" { "Nothing was changed: this is a preview." }
                        },
                    }
                }
            }
        }
    };
    let status = refused.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    (status, page("Access explorer", Some(&signed), body)).into_response()
}
