//! One group's page (seeds 000, 001, 002, 004), with a tab for each part of it: Members
//! (Select users, remove with ×, membership roles), Permission sets (Owners, Members,
//! Everyone and custom sets with their assignees), Privileges (app-by-app access and the
//! apply-privileges switch), Data scopes, Policies, Notifications, and Details (edit).
//! Deleting the group, or switching its privileges off, first shows whose access changes
//! and how (the engine's preview), as does the access explorer.
//!
//! What a signed-in user sees follows their rights on the group: a member sees it, an
//! owner manages it, a private group is not there for outsiders. Every write goes through
//! the service as that user, so a refusal here is the API's refusal, said on the page.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rolecall_api::AppState;
use rolecall_engine::{AccessClass, WorkspaceIndex};
use rolecall_model::{Effect, GroupPermissions, MemberRole, Notify, Op, ResourceRef, Subject, Visibility, name_key};
use rolecall_store::{PageRequest, Store, label};
use serde::Deserialize;

use crate::form::{Fields, not_found, say, see_other, unavailable, urlencode};
use crate::layout::page;
use crate::session::Signed;

type Shared<S> = State<Arc<AppState<S>>>;

/// Members per page.
const PAGE: usize = 50;
/// Users offered by one search in Select users.
const CANDIDATES: u32 = 20;
/// People named in one line of a preview before "and N others".
const NAMED: usize = 5;
/// Kinds of change listed in a preview before "and N more".
const CLASSES: usize = 20;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Members,
    Permissions,
    Privileges,
    DataScopes,
    Policies,
    Notifications,
    Details,
}

impl Tab {
    const ALL: [Tab; 7] = [
        Tab::Members,
        Tab::Permissions,
        Tab::Privileges,
        Tab::DataScopes,
        Tab::Policies,
        Tab::Notifications,
        Tab::Details,
    ];

    fn slug(self) -> &'static str {
        match self {
            Tab::Members => "members",
            Tab::Permissions => "permission-sets",
            Tab::Privileges => "privileges",
            Tab::DataScopes => "data-scopes",
            Tab::Policies => "policies",
            Tab::Notifications => "notifications",
            Tab::Details => "details",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Members => "Members",
            Tab::Permissions => "Permission sets",
            Tab::Privileges => "Privileges",
            Tab::DataScopes => "Data scopes",
            Tab::Policies => "Policies",
            Tab::Notifications => "Notifications",
            Tab::Details => "Details",
        }
    }

    fn from_slug(slug: &str) -> Tab {
        Tab::ALL.into_iter().find(|t| t.slug() == slug).unwrap_or(Tab::Members)
    }
}

/// What the signed-in user may do to the group.
#[derive(Clone, Copy, Default)]
struct Rights {
    edit: bool,
    manage_members: bool,
    delete: bool,
    /// A workspace admin: data scopes and policies are theirs.
    admin: bool,
    /// A built-in group: its members follow the workspace, its settings are fixed.
    builtin: bool,
}

fn rights(index: &WorkspaceIndex, user: &str, group: &str) -> Rights {
    let target = ResourceRef::new("group", group);
    let can = |action: &str| index.check(user, action, &target).is_ok_and(|d| d.allowed);
    Rights {
        edit: can("edit"),
        manage_members: can("manage_members"),
        delete: can("delete"),
        admin: index.is_admin_user(user) == Ok(true),
        builtin: index.builtin(group).is_some(),
    }
}

fn group_url(ws: &str, id: &str, tab: Tab) -> String {
    format!("/console/{ws}/groups/{}?tab={}", urlencode(id), tab.slug())
}

/// What the page shows after a write that was done (a fixed text per code, never text
/// from the URL).
fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "members-added" => "Members added.",
        "member-removed" => "Member removed.",
        "role-changed" => "Role changed.",
        "group-removed" => "Group removed from the members.",
        "set-saved" => "Permission set saved.",
        "set-deleted" => "Permission set deleted.",
        "assignee-added" => "Assignee added.",
        "assignee-removed" => "Assignee removed.",
        "privilege-saved" => "Privilege saved.",
        "privilege-removed" => "Privilege removed.",
        "privileges-on" => "Privileges are applied again.",
        "privileges-off" => "Privileges are no longer applied.",
        "scope-saved" => "Data scope saved.",
        "scope-removed" => "Data scope removed.",
        "policy-attached" => "Policy attached.",
        "policy-detached" => "Policy detached.",
        "notify-saved" => "Notification setting saved.",
        "notified" => "Members were sent a summary of their access.",
        "details-saved" => "Details saved.",
        _ => return None,
    })
}

#[derive(Deserialize, Default)]
pub struct View {
    #[serde(default)]
    tab: String,
    /// Select users: the search.
    #[serde(default)]
    q: String,
    /// Members: the position of the page.
    #[serde(default)]
    from: u64,
    #[serde(default)]
    done: String,
}

/// A group the signed-in user may see, with what they may do to it.
struct Opened<'a> {
    ws: &'a str,
    group: rolecall_model::Group,
    rights: Rights,
}

/// The group, if the signed-in user may see it (a private group is not there for others).
async fn open<'a, S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &'a str,
    id: &str,
) -> Result<Opened<'a>, Response> {
    if let Some(outside) = signed.outside(ws) {
        return Err(outside);
    }
    let rights = {
        let engine = state.service.snapshot();
        let Ok(index) = engine.workspace(ws) else { return Err(not_found(signed, "There is no such page.")) };
        let viewer = index.check(&signed.session.user, "view", &ResourceRef::new("group", id));
        if !viewer.is_ok_and(|d| d.allowed) {
            return Err(not_found(signed, "There is no such group."));
        }
        rights(index, &signed.session.user, id)
    };
    match state.service.store().group(ws, id).await {
        Ok(Some(group)) => Ok(Opened { ws, group, rights }),
        Ok(None) => Err(not_found(signed, "There is no such group.")),
        Err(_) => Err(unavailable(signed, "Group")),
    }
}

/// The group's page on `tab`, with a refusal to say (and its status) when a write failed.
async fn render<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    opened: &Opened<'_>,
    tab: Tab,
    view: &View,
    refused: Option<(StatusCode, String)>,
) -> Response {
    let (ws, group, rights) = (opened.ws, &opened.group, opened.rights);
    let content = match tab {
        Tab::Members => members(state, signed, ws, group, rights, view).await,
        Tab::Permissions => permission_sets(state, signed, ws, group, rights).await,
        Tab::Privileges => privileges(state, signed, ws, group, rights).await,
        Tab::DataScopes => data_scopes(state, signed, ws, group, rights),
        Tab::Policies => policies(state, signed, ws, group, rights).await,
        Tab::Notifications => notifications(signed, ws, group, rights),
        Tab::Details => details(signed, ws, group, rights),
    };
    let Ok(content) = content else { return unavailable(signed, &group.name) };
    let members = state.service.snapshot().workspace(ws).ok().and_then(|i| i.member_count(&group.id)).unwrap_or(0);
    let body = html! {
        p class="crumbs" { a href={ "/console/" (ws) "/groups" } { "Groups" } " / " }
        div class="group-head" {
            h1 {
                @if let Some(icon) = &group.icon { span class="icon" aria-hidden="true" { (icon) } " " }
                (group.name)
            }
            @if rights.delete && !rights.builtin {
                a class="button danger" href={ "/console/" (ws) "/groups/" (urlencode(&group.id)) "/delete" } { "Delete group" }
            }
        }
        p class="muted" {
            (members) @if members == 1 { " member" } @else { " members" }
            " · " (visibility(group.visibility))
            @if !group.apply_privileges { " · privileges not applied" }
            @for tag in &group.tags { " " span class="tag" { (tag) } }
        }
        @if !group.description.is_empty() { p { (group.description) } }
        nav aria-label="Group sections" class="tabs" {
            @for t in Tab::ALL {
                a href=(group_url(ws, &group.id, t)) aria-current=[(t == tab).then_some("page")] { (t.label()) }
            }
        }
        @if let Some((_, message)) = &refused { p role="alert" class="error" { (message) } }
        @if let Some(done) = done_message(&view.done) { p role="status" class="done" { (done) } }
        section aria-label=(tab.label()) { (content) }
    };
    let status = refused.map_or(StatusCode::OK, |(s, _)| s);
    (status, page(&group.name, Some(signed), body)).into_response()
}

fn visibility(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Private => "private",
    }
}

pub async fn show<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    Query(view): Query<View>,
) -> Response {
    let opened = match open(&state, &signed, &ws, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    render(&state, &signed, &opened, Tab::from_slug(&view.tab), &view, None).await
}

/// A user's name and email for display, by id.
async fn people<S: Store>(
    state: &AppState<S>,
    ws: &str,
    ids: &[&str],
) -> Result<BTreeMap<String, (String, String)>, ()> {
    let mut out = BTreeMap::new();
    for id in ids {
        if let Some(u) = state.service.store().user(ws, id).await.map_err(|_| ())? {
            out.insert(u.id, (u.name, u.email));
        }
    }
    Ok(out)
}

async fn group_names<S: Store>(state: &AppState<S>, ws: &str, ids: &[&str]) -> Result<BTreeMap<String, String>, ()> {
    let mut out = BTreeMap::new();
    for id in ids {
        if let Some(g) = state.service.store().group(ws, id).await.map_err(|_| ())? {
            out.insert(g.id, g.name);
        }
    }
    Ok(out)
}

fn avatar(name: &str, group: bool) -> Markup {
    let initials: String = name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect();
    html! { span class={ "avatar " (if group { "group" } else { "user" }) } aria-hidden="true" { (initials.to_uppercase()) } }
}

fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.session.csrf); }
}

fn role_select(id: &str, label: &str, chosen: MemberRole) -> Markup {
    html! {
        label for=(id) class="visually-hidden" { (label) }
        select id=(id) name="role" {
            @for role in [MemberRole::Member, MemberRole::Editor, MemberRole::Owner] {
                option value=(role.as_str()) selected[role == chosen] { (role.as_str()) }
            }
        }
    }
}

// ------------------------------------------------------------------------- Members

async fn members<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
    view: &View,
) -> Result<Markup, ()> {
    let (page, children, direct) = {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws).map_err(|_| ())?;
        let page = index.members_page(&group.id, None, view.from, PAGE).ok_or(())?;
        let users: Vec<(String, MemberRole)> = page.users.iter().map(|(u, r)| (u.to_string(), *r)).collect();
        let children: Vec<String> =
            index.child_groups(&group.id).unwrap_or_default().into_iter().map(String::from).collect();
        ((users, page.more), children, index.direct_member_count(&group.id).unwrap_or(0))
    };
    let ((users, more), base) = (page, format!("/console/{ws}/groups/{}", urlencode(&group.id)));
    let ids: Vec<&str> = users.iter().map(|(u, _)| u.as_str()).collect();
    let names = people(state, ws, &ids).await?;
    let child_ids: Vec<&str> = children.iter().map(String::as_str).collect();
    let child_names = group_names(state, ws, &child_ids).await?;
    let manage = rights.manage_members && !rights.builtin;
    let candidates = if manage && !view.q.trim().is_empty() {
        Some(candidates(state, ws, &group.id, view.q.trim()).await?)
    } else {
        None
    };
    Ok(html! {
        @if rights.builtin {
            p class="muted" { "This group's members follow the workspace: they are not edited by hand." }
        }
        @if manage {
            details open[candidates.is_some()] class="select-users" {
                summary { "Select users" }
                form method="get" action=(base) role="search" {
                    input type="hidden" name="tab" value="members";
                    label for="candidate-q" { "Find users by name or email" }
                    input id="candidate-q" name="q" type="search" value=(view.q) autocomplete="off"
                        hx-get={ (base) "/candidates" } hx-trigger="input changed delay:250ms, search"
                        hx-target="#candidates" hx-swap="outerHTML";
                    button type="submit" { "Find" }
                }
                form method="post" action={ (base) "/members" } {
                    (csrf(signed))
                    (candidates.unwrap_or_else(|| html! { div id="candidates" aria-live="polite" {} }))
                    (role_select("add-role", "Role of the users added", MemberRole::Member))
                    " "
                    button type="submit" { "Add selected users" }
                }
            }
        }
        h2 { (direct) @if direct == 1 { " direct member" } @else { " direct members" } }
        @if users.is_empty() && view.from == 0 {
            p class="empty" { "No members yet." }
        } @else {
            table id="members" {
                caption class="visually-hidden" { "Members of " (group.name) }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" }
                    @if manage { th scope="col" { span class="visually-hidden" { "Remove" } } }
                } }
                tbody {
                    @for (user, role) in &users {
                        @let (name, email) = names.get(user).cloned().unwrap_or_else(|| (user.clone(), String::new()));
                        tr {
                            td { (avatar(&name, false)) " " (name) }
                            td { (email) }
                            td {
                                @if manage {
                                    form method="post" action={ (base) "/members/" (urlencode(user)) "/role" } class="inline" {
                                        (csrf(signed))
                                        (role_select(&format!("role-{user}"), &format!("Role of {name}"), *role))
                                        " "
                                        button type="submit" class="quiet" { "Save" span class="visually-hidden" { " role of " (name) } }
                                    }
                                } @else { (role.as_str()) }
                            }
                            @if manage {
                                td {
                                    form method="post" action={ (base) "/members/" (urlencode(user)) "/remove" } class="inline" {
                                        (csrf(signed))
                                        button type="submit" class="remove" aria-label={ "Remove " (name) " from " (group.name) } { "×" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p {
                @if view.from > 0 {
                    a href={ (base) "?tab=members&from=" (view.from.saturating_sub(PAGE as u64)) } { "Previous page" } " "
                }
                @if more { a href={ (base) "?tab=members&from=" (view.from + PAGE as u64) } { "Next page" } }
            }
        }
        @if !children.is_empty() {
            h2 { "Groups nested in this group" }
            ul class="plain" {
                @for child in &children {
                    @let name = child_names.get(child).cloned().unwrap_or_else(|| child.clone());
                    li {
                        (avatar(&name, true)) " "
                        a href=(group_url(ws, child, Tab::Members)) { (name) }
                        @if manage {
                            form method="post" action={ (base) "/children/" (urlencode(child)) "/remove" } class="inline" {
                                (csrf(signed))
                                " " button type="submit" class="remove" aria-label={ "Remove group " (name) " from " (group.name) } { "×" }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// Select users: workspace users whose name or email contains `q`, ticked to be added;
/// those already in the group are shown as such and cannot be ticked.
async fn candidates<S: Store>(state: &AppState<S>, ws: &str, group: &str, q: &str) -> Result<Markup, ()> {
    let found = state
        .service
        .store()
        .users(ws, Some(q), PageRequest { after: None, limit: CANDIDATES })
        .await
        .map_err(|_| ())?;
    let already: Vec<bool> = {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws).map_err(|_| ())?;
        found.items.iter().map(|u| index.direct_role(group, &u.id).is_some()).collect()
    };
    Ok(html! {
        div id="candidates" aria-live="polite" {
            @if found.items.is_empty() {
                p class="empty" { "No user's name or email contains “" (q) "”." }
            } @else {
                fieldset {
                    legend { "Users matching “" (q) "”" }
                    @for (user, already) in found.items.iter().zip(already) {
                        label class="check" {
                            input type="checkbox" name="users" value=(user.id) disabled[already];
                            " " (user.name) " " span class="muted" { (user.email) }
                            @if already { " " span class="muted" { "(already a member)" } }
                        }
                    }
                    @if found.next.is_some() { p class="muted" { "More users match: type more of the name or email." } }
                }
            }
        }
    })
}

pub async fn candidates_fragment<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    Query(view): Query<View>,
) -> Response {
    let opened = match open(&state, &signed, &ws, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if !opened.rights.manage_members {
        return not_found(&signed, "There is no such page.");
    }
    let q = view.q.trim();
    if q.is_empty() {
        return html! { div id="candidates" aria-live="polite" {} }.into_response();
    }
    match candidates(&state, &ws, &opened.group.id, q).await {
        Ok(markup) => markup.into_response(),
        Err(()) => unavailable(&signed, "Select users"),
    }
}

/// Where a write on the group page goes back to, and what it says.
struct Outcome {
    tab: Tab,
    /// The code of the message shown when it was done (`done_message`).
    done: &'static str,
    /// What a refusal for want of rights says.
    forbidden: &'static str,
}

/// Runs one write for the group page, then goes back to the tab saying it was done, or
/// shows the refusal on that tab.
async fn write<S: Store, F>(
    state: &AppState<S>,
    signed: &Signed,
    (ws, id): (&str, &str),
    fields: &Fields,
    outcome: Outcome,
    run: F,
) -> Response
where
    F: AsyncFnOnce(&rolecall_model::Group) -> Result<(), rolecall_service::ServiceError>,
{
    let opened = match open(state, signed, ws, id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if let Some(stale) = signed.stale(fields) {
        return stale;
    }
    match run(&opened.group).await {
        Ok(()) => see_other(format!("{}&done={}", group_url(ws, id, outcome.tab), outcome.done)),
        Err(e) => {
            let refused = say(e, outcome.forbidden);
            // The page as it is now (a failed write changed nothing).
            let now = open(state, signed, ws, id).await.unwrap_or(opened);
            render(state, signed, &now, outcome.tab, &View::default(), Some(refused)).await
        }
    }
}

fn member_role(text: &str) -> MemberRole {
    match text {
        "owner" => MemberRole::Owner,
        "editor" => MemberRole::Editor,
        _ => MemberRole::Member,
    }
}

const MEMBERS_FORBIDDEN: &str =
    "You may not change this group's members: its owners and editors can, and making someone an owner takes an owner.";

pub async fn add_members<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let users = fields.all("users");
    let role = member_role(fields.get("role"));
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Members, done: "members-added", forbidden: MEMBERS_FORBIDDEN },
        async |g| {
            if users.is_empty() {
                return Err(rolecall_service::ServiceError::Invalid("tick at least one user to add".into()));
            }
            let action = rolecall_service::BulkAction::AddMembers { users: users.clone(), role };
            state.service.bulk_groups(&signed.actor(), &ws, std::slice::from_ref(&g.id), action).await.map(|_| ())
        },
    )
    .await
}

pub async fn remove_member<S: Store>(
    State(state): Shared<S>,
    Path((ws, id, user)): Path<(String, String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Members, done: "member-removed", forbidden: MEMBERS_FORBIDDEN },
        async |g| state.service.remove_member(&signed.actor(), &ws, &g.id, &user).await.map(|_| ()),
    )
    .await
}

pub async fn member_role_change<S: Store>(
    State(state): Shared<S>,
    Path((ws, id, user)): Path<(String, String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let role = member_role(fields.get("role"));
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Members, done: "role-changed", forbidden: MEMBERS_FORBIDDEN },
        async |g| state.service.put_member(&signed.actor(), &ws, &g.id, &user, role).await.map(|_| ()),
    )
    .await
}

pub async fn remove_child<S: Store>(
    State(state): Shared<S>,
    Path((ws, id, child)): Path<(String, String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Members, done: "group-removed", forbidden: MEMBERS_FORBIDDEN },
        async |g| state.service.nest_group(&signed.actor(), &ws, &g.id, &child, false).await.map(|_| ()),
    )
    .await
}

// ------------------------------------------------------------------- Permission sets

fn permissions_text(p: GroupPermissions) -> String {
    let mut out: Vec<&str> = Vec::new();
    if p.view {
        out.push("View");
    }
    if p.edit {
        out.push("Edit");
    }
    if p.delete {
        out.push("Delete");
    }
    if out.is_empty() { "No access".to_string() } else { out.join(", ") }
}

fn permission_boxes(prefix: &str, p: GroupPermissions, fixed: bool) -> Markup {
    html! {
        @for (name, on) in [("view", p.view), ("edit", p.edit), ("delete", p.delete)] {
            label class="check inline-check" for={ (prefix) "-" (name) } {
                input type="checkbox" id={ (prefix) "-" (name) } name="permissions" value=(name) checked[on] disabled[fixed];
                " " (capital(name))
            }
        }
    }
}

fn capital(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

async fn permission_sets<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
) -> Result<Markup, ()> {
    struct Set {
        id: String,
        builtin: Option<rolecall_engine::BuiltinSet>,
        permissions: GroupPermissions,
        users: Vec<String>,
        groups: Vec<String>,
    }
    let sets: Vec<Set> = {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws).map_err(|_| ())?;
        index
            .permission_sets(&group.id)
            .ok_or(())?
            .into_iter()
            .map(|s| Set {
                id: s.id.to_string(),
                builtin: s.builtin,
                permissions: s.permissions,
                users: s.users.iter().map(|u| u.to_string()).collect(),
                groups: s.groups.iter().map(|g| g.to_string()).collect(),
            })
            .collect()
    };
    let labels: BTreeMap<String, String> = state
        .service
        .store()
        .labels(ws, label::PERMISSION_SET, Some(&group.id))
        .await
        .map_err(|_| ())?
        .into_iter()
        .collect();
    let user_ids: Vec<&str> = sets.iter().flat_map(|s| s.users.iter().map(String::as_str)).collect();
    let group_ids: Vec<&str> = sets.iter().flat_map(|s| s.groups.iter().map(String::as_str)).collect();
    let (users, groups) = (people(state, ws, &user_ids).await?, group_names(state, ws, &group_ids).await?);
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    let edit = rights.edit && !rights.builtin;
    Ok(html! {
        p class="muted" {
            "Owners view, edit and delete the group, and that cannot be changed. Members are everyone in the group but its owners; "
            "Everyone is every regular user of the workspace. Custom sets give their assignees what they say."
        }
        @for set in &sets {
            @let name = match set.builtin {
                Some(rolecall_engine::BuiltinSet::Owners) => "Owners".to_string(),
                Some(rolecall_engine::BuiltinSet::Members) => "Members".to_string(),
                Some(rolecall_engine::BuiltinSet::Everyone) => "Everyone".to_string(),
                None => labels.get(&format!("{}/{}", group.id, set.id)).cloned().unwrap_or_else(|| set.id.clone()),
            };
            @let fixed = set.builtin == Some(rolecall_engine::BuiltinSet::Owners) || !edit;
            article class="set" aria-label={ "Permission set " (name) } {
                h2 { (name) }
                @if fixed {
                    p { (permissions_text(set.permissions)) }
                } @else {
                    form method="post" action={ (base) "/permission-sets/" (urlencode(&set.id)) } class="inline" {
                        (csrf(signed))
                        fieldset {
                            legend { "Permissions of " (name) }
                            (permission_boxes(&format!("set-{}", set.id), set.permissions, false))
                        }
                        button type="submit" { "Save " (name) }
                    }
                }
                @if set.builtin.is_none() {
                    h3 { "Assignees" }
                    @if set.users.is_empty() && set.groups.is_empty() { p class="empty" { "No assignees yet." } }
                    ul class="assignees plain" {
                        @for g in &set.groups {
                            @let gname = groups.get(g).cloned().unwrap_or_else(|| g.clone());
                            li {
                                (avatar(&gname, true)) " " (gname) " " span class="muted" { "(group)" }
                                @if edit {
                                    form method="post" action={ (base) "/permission-sets/" (urlencode(&set.id)) "/assignees/remove" } class="inline" {
                                        (csrf(signed))
                                        input type="hidden" name="group" value=(g);
                                        " " button type="submit" class="remove" aria-label={ "Remove group " (gname) " from " (name) } { "×" }
                                    }
                                }
                            }
                        }
                        @for u in &set.users {
                            @let (uname, email) = users.get(u).cloned().unwrap_or_else(|| (u.clone(), String::new()));
                            li {
                                (avatar(&uname, false)) " " (uname) " " span class="muted" { (email) }
                                @if edit {
                                    form method="post" action={ (base) "/permission-sets/" (urlencode(&set.id)) "/assignees/remove" } class="inline" {
                                        (csrf(signed))
                                        input type="hidden" name="user" value=(u);
                                        " " button type="submit" class="remove" aria-label={ "Remove " (uname) " from " (name) } { "×" }
                                    }
                                }
                            }
                        }
                    }
                    @if edit {
                        form method="post" action={ (base) "/permission-sets/" (urlencode(&set.id)) "/assignees" } class="inline" {
                            (csrf(signed))
                            label for={ "assignee-" (set.id) } { "Add assignee to " (name) " (an email or a group name)" }
                            " "
                            input id={ "assignee-" (set.id) } name="who" type="text" required;
                            " " button type="submit" { "Add assignee" }
                        }
                        form method="post" action={ (base) "/permission-sets/" (urlencode(&set.id)) "/delete" } class="inline" {
                            (csrf(signed))
                            button type="submit" class="danger quiet" { "Delete " (name) }
                        }
                    }
                }
            }
        }
        @if edit {
            details {
                summary { "+ Add permission set" }
                form method="post" action={ (base) "/permission-sets" } class="card" {
                    (csrf(signed))
                    label for="set-name" { "Name of the set" }
                    input id="set-name" name="name" type="text" required maxlength="200";
                    fieldset {
                        legend { "Permissions" }
                        (permission_boxes("new-set", GroupPermissions::VIEW, false))
                    }
                    button type="submit" { "Create permission set" }
                }
            }
        }
    })
}

fn permissions_from(fields: &Fields) -> GroupPermissions {
    let ticked = fields.all("permissions");
    let has = |p: &str| ticked.iter().any(|t| t == p);
    GroupPermissions { view: has("view"), edit: has("edit"), delete: has("delete") }
}

const SETS_FORBIDDEN: &str = "Only the group's owners (and workspace admins) change its permission sets.";

pub async fn create_set<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let name = fields.get("name").trim().to_string();
    let permissions = permissions_from(&fields);
    let Ok(set) = crate::groups::id_for(&name) else { return unavailable(&signed, "Permission sets") };
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Permissions, done: "set-saved", forbidden: SETS_FORBIDDEN },
        async |g| {
            state
                .service
                .put_permission_set(&signed.actor(), &ws, &g.id, &set, Some(&name), permissions)
                .await
                .map(|_| ())
        },
    )
    .await
}

pub async fn save_set<S: Store>(
    State(state): Shared<S>,
    Path((ws, id, set)): Path<(String, String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let permissions = permissions_from(&fields);
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Permissions, done: "set-saved", forbidden: SETS_FORBIDDEN },
        async |g| {
            state.service.put_permission_set(&signed.actor(), &ws, &g.id, &set, None, permissions).await.map(|_| ())
        },
    )
    .await
}

pub async fn delete_set<S: Store>(
    State(state): Shared<S>,
    Path((ws, id, set)): Path<(String, String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Permissions, done: "set-deleted", forbidden: SETS_FORBIDDEN },
        async |g| state.service.delete_permission_set(&signed.actor(), &ws, &g.id, &set).await.map(|_| ()),
    )
    .await
}

/// A user by email or a group by name (without regard to case), as a subject.
async fn subject_named<S: Store>(
    state: &AppState<S>,
    ws: &str,
    who: &str,
) -> Result<Subject, rolecall_service::ServiceError> {
    let who = who.trim();
    if who.is_empty() {
        return Err(rolecall_service::ServiceError::Invalid("type an email or a group name".into()));
    }
    if who.contains('@') {
        let found = state.service.store().users(ws, Some(who), PageRequest { after: None, limit: 50 }).await?;
        if let Some(user) = found.items.into_iter().find(|u| u.email.eq_ignore_ascii_case(who)) {
            return Ok(Subject::User(user.id));
        }
        return Err(rolecall_service::ServiceError::Invalid(format!("no user has the email `{who}`")));
    }
    let found = state.service.store().groups(ws, Some(who), None, PageRequest { after: None, limit: 1_100 }).await?;
    match found.items.into_iter().find(|g| name_key(&g.name) == name_key(who)) {
        Some(group) => Ok(Subject::Group(group.id)),
        None => Err(rolecall_service::ServiceError::Invalid(format!("no group is named `{who}`"))),
    }
}

pub async fn add_assignee<S: Store>(
    State(state): Shared<S>,
    Path((ws, id, set)): Path<(String, String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let who = fields.get("who").to_string();
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Permissions, done: "assignee-added", forbidden: SETS_FORBIDDEN },
        async |g| {
            let subject = subject_named(&state, &ws, &who).await?;
            state.service.assign_permission_set(&signed.actor(), &ws, &g.id, &set, &subject, true).await.map(|_| ())
        },
    )
    .await
}

pub async fn remove_assignee<S: Store>(
    State(state): Shared<S>,
    Path((ws, id, set)): Path<(String, String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let subject = match (fields.get("user"), fields.get("group")) {
        (u, "") => Subject::User(u.to_string()),
        (_, g) => Subject::Group(g.to_string()),
    };
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Permissions, done: "assignee-removed", forbidden: SETS_FORBIDDEN },
        async |g| {
            state.service.assign_permission_set(&signed.actor(), &ws, &g.id, &set, &subject, false).await.map(|_| ())
        },
    )
    .await
}

// ------------------------------------------------------------------------ Privileges

/// Registered resources offered in the privilege form (a workspace with more is searched
/// through the API; the form says so).
const OFFERED: u32 = 500;

async fn privileges<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
) -> Result<Markup, ()> {
    let (grants, kinds) = {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws).map_err(|_| ())?;
        let grants = index.group_grants(&group.id).ok_or(())?;
        let kinds: Vec<(String, Vec<String>)> = index
            .schema()
            .types
            .iter()
            .map(|t| (t.name.clone(), t.roles.iter().cloned().chain(t.deny_role.clone()).collect()))
            .collect();
        (grants, kinds)
    };
    let mut names = BTreeMap::new();
    for (resource, _) in &grants {
        if let Ok(Some(r)) = state.service.store().resource(ws, resource).await {
            names.insert(resource.clone(), r.name);
        }
    }
    let offered = state
        .service
        .store()
        .resources(ws, None, None, PageRequest { after: None, limit: OFFERED })
        .await
        .map_err(|_| ())?;
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    let edit = rights.edit && !rights.builtin;
    Ok(html! {
        p class="muted" {
            "What members get, app by app. When someone is in several groups, the most permissive access wins; "
            "workspace admins always keep their admin privilege."
        }
        div class="switch" {
            p {
                strong { "Apply privileges at the group level: " }
                @if group.apply_privileges { "on" } @else { "off" }
            }
            @if edit {
                a href={ (base) "/apply-privileges" } class="button" {
                    @if group.apply_privileges { "Turn privileges off…" } @else { "Turn privileges on…" }
                }
            }
        }
        @if grants.is_empty() {
            p class="empty" { "This group gives no access yet." }
        } @else {
            table id="privileges" {
                caption class="visually-hidden" { "Privileges of " (group.name) }
                thead { tr { th scope="col" { "Resource" } th scope="col" { "Type" } th scope="col" { "Role" }
                    @if edit { th scope="col" { span class="visually-hidden" { "Remove" } } } } }
                tbody {
                    @for (resource, role) in &grants {
                        @let name = names.get(resource).cloned().unwrap_or_else(|| resource.id.clone());
                        tr {
                            td { (name) } td { (resource.kind) } td { (role) }
                            @if edit {
                                td {
                                    form method="post" action={ (base) "/privileges/remove" } class="inline" {
                                        (csrf(signed))
                                        input type="hidden" name="resource" value={ (resource.kind) "/" (resource.id) };
                                        button type="submit" class="remove" aria-label={ "Remove the privilege on " (name) } { "×" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if edit {
            details open[grants.is_empty()] {
                summary { "+ Add privilege" }
                form method="post" action={ (base) "/privileges" } class="card" {
                    (csrf(signed))
                    label for="privilege-resource" { "Resource" }
                    select id="privilege-resource" name="resource" required {
                        @for (kind, _) in &kinds {
                            optgroup label=(kind) {
                                @for r in offered.items.iter().filter(|r| &r.resource.kind == kind) {
                                    option value={ (r.resource.kind) "/" (r.resource.id) } { (r.name) }
                                }
                            }
                        }
                    }
                    @if offered.next.is_some() { p class="muted" { "The first " (OFFERED) " resources are offered here." } }
                    label for="privilege-role" { "Role" }
                    select id="privilege-role" name="role" required {
                        @for (kind, roles) in &kinds {
                            optgroup label={ (kind) " roles" } {
                                @for role in roles { option value=(role) { (role) } }
                            }
                        }
                    }
                    label class="check" {
                        input type="checkbox" name="replace" value="yes";
                        " If the group already holds another role there, change it"
                    }
                    button type="submit" { "Save privilege" }
                }
            }
        }
    })
}

fn resource_field(text: &str) -> Result<ResourceRef, rolecall_service::ServiceError> {
    text.split_once('/')
        .filter(|(k, i)| !k.is_empty() && !i.is_empty())
        .map(|(k, i)| ResourceRef::new(k, i))
        .ok_or_else(|| rolecall_service::ServiceError::Invalid("pick a resource".into()))
}

const PRIVILEGES_FORBIDDEN: &str =
    "You may not change this group's privileges: it takes an owner of the group who holds that access themself.";

pub async fn add_privilege<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let (resource, role, replace) =
        (fields.get("resource").to_string(), fields.get("role").to_string(), fields.get("replace") == "yes");
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Privileges, done: "privilege-saved", forbidden: PRIVILEGES_FORBIDDEN },
        async |g| {
            let resource = resource_field(&resource)?;
            require_group_edit(&state, &signed, &ws, &g.id)?;
            let subject = Subject::Group(g.id.clone());
            state.service.put_grant(&signed.actor(), &ws, &resource, &subject, &role, replace).await.map(|_| ())
        },
    )
    .await
}

pub async fn remove_privilege<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let resource = fields.get("resource").to_string();
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Privileges, done: "privilege-removed", forbidden: PRIVILEGES_FORBIDDEN },
        async |g| {
            let resource = resource_field(&resource)?;
            require_group_edit(&state, &signed, &ws, &g.id)?;
            state.service.revoke_grant(&signed.actor(), &ws, &resource, &Subject::Group(g.id.clone())).await.map(|_| ())
        },
    )
    .await
}

/// A group's privileges are its settings: changing them from its page takes `edit` on it
/// (the grant itself is then checked as any grant is).
fn require_group_edit<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &str,
) -> Result<(), rolecall_service::ServiceError> {
    let engine = state.service.snapshot();
    let index = engine.workspace(ws)?;
    if rights(index, &signed.session.user, group).edit {
        Ok(())
    } else {
        Err(rolecall_service::ServiceError::Forbidden(format!(
            "`{}` may not edit group `{group}`",
            signed.session.user
        )))
    }
}

/// Whose access a change would alter, and how, in people's names (the engine's preview).
pub(crate) async fn preview_list<S: Store>(state: &AppState<S>, ws: &str, classes: &[AccessClass]) -> Markup {
    let shown = &classes[..classes.len().min(CLASSES)];
    let ids: Vec<&str> = shown.iter().flat_map(|c| c.users.iter().take(NAMED).map(String::as_str)).collect();
    let names = people(state, ws, &ids).await.unwrap_or_default();
    let mut resources = BTreeMap::new();
    for class in shown {
        for change in &class.roles {
            if !resources.contains_key(&change.resource)
                && let Ok(Some(r)) = state.service.store().resource(ws, &change.resource).await
            {
                resources.insert(change.resource.clone(), r.name);
            }
        }
    }
    let people_total: usize = classes.iter().map(|c| c.users.len()).sum();
    html! {
        @if classes.is_empty() {
            p class="impact none" { "Nobody's access changes." }
        } @else {
            p class="impact" { (people_total) @if people_total == 1 { " person's access changes:" } @else { " people's access changes:" } }
            ul class="changes" {
                @for class in shown {
                    li {
                        @for (i, user) in class.users.iter().take(NAMED).enumerate() {
                            @if i > 0 { ", " }
                            strong { (names.get(user).map_or(user.as_str(), |(n, _)| n.as_str())) }
                        }
                        @if class.users.len() > NAMED { " and " (class.users.len() - NAMED) " others" }
                        ": "
                        @for (i, change) in class.roles.iter().enumerate() {
                            @if i > 0 { "; " }
                            (resources.get(&change.resource).map_or(change.resource.id.as_str(), String::as_str))
                            " (" (change.resource.kind) ") "
                            (change.before.as_deref().unwrap_or("no access")) " → " (change.after.as_deref().unwrap_or("no access"))
                        }
                    }
                }
            }
            @if classes.len() > CLASSES { p class="muted" { "And " (classes.len() - CLASSES) " more kinds of change." } }
        }
    }
}

/// The confirmation before the apply-privileges switch is turned: what members will have.
pub async fn confirm_apply<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
) -> Response {
    let opened = match open(&state, &signed, &ws, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if !opened.rights.edit || opened.rights.builtin {
        let refused = (StatusCode::FORBIDDEN, PRIVILEGES_FORBIDDEN.to_string());
        return render(&state, &signed, &opened, Tab::Privileges, &View::default(), Some(refused)).await;
    }
    let group = &opened.group;
    let turn_on = !group.apply_privileges;
    let op = Op::PutGroup {
        group: group.id.clone(),
        visibility: group.visibility,
        apply_privileges: turn_on,
        notify: group.notify,
    };
    let Ok(classes) = state.service.snapshot().preview(&ws, &[op]) else { return unavailable(&signed, &group.name) };
    let list = preview_list(&state, &ws, &classes).await;
    let title = if turn_on { "Turn privileges on" } else { "Turn privileges off" };
    page(
        title,
        Some(&signed),
        html! {
            h1 { (title) " for " (group.name) "?" }
            @if turn_on {
                p { "Members get the group's access again, app by app; where they hold more on their own, they keep it." }
            } @else {
                p { "Members who had individual access before joining the group are switched back to it. "
                    "Members who never had individual access lose the group's access, and their access is then set user by user." }
            }
            (list)
            form method="post" action={ "/console/" (ws) "/groups/" (urlencode(&group.id)) "/apply-privileges" } class="confirm" {
                (csrf(&signed))
                input type="hidden" name="apply" value=(if turn_on { "on" } else { "off" });
                button type="submit" class=[(!turn_on).then_some("danger")] { (title) }
                " "
                a href=(group_url(&ws, &group.id, Tab::Privileges)) { "Cancel" }
            }
        },
    )
    .into_response()
}

pub async fn set_apply<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let on = fields.get("apply") == "on";
    let done = if on { "privileges-on" } else { "privileges-off" };
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Privileges, done, forbidden: PRIVILEGES_FORBIDDEN },
        async |g| {
            let mut group = g.clone();
            group.apply_privileges = on;
            state.service.update_group(&signed.actor(), &ws, group).await.map(|_| ())
        },
    )
    .await
}

// ----------------------------------------------------------------------- Data scopes

fn data_scopes<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
) -> Result<Markup, ()> {
    let engine = state.service.snapshot();
    let index = engine.workspace(ws).map_err(|_| ())?;
    let scopes = index.data_scopes(&group.id).ok_or(())?;
    let datasets = &index.schema().datasets;
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    let admin = rights.admin && !rights.builtin;
    Ok(html! {
        p class="muted" { "What members see of each dataset: for example, users of group France only see France's data. "
            "Someone in several groups sees what any of them allows; admins see everything." }
        @if datasets.is_empty() {
            p class="empty" { "The workspace's schema declares no datasets." }
        }
        @for dataset in datasets {
            article class="set" aria-label={ "Dataset " (dataset.name) } {
                h2 { (dataset.name) }
                @match scopes.get(dataset.name.as_str()) {
                    None => p class="empty" { "No scope: members see what the dataset gives users without one." },
                    Some(scope) => {
                        dl {
                            @for (attribute, values) in scope.iter() {
                                dt { (attribute) }
                                dd { @for (i, v) in values.iter().enumerate() { @if i > 0 { ", " } (v) } }
                            }
                        }
                        @if admin {
                            form method="post" action={ (base) "/data-scopes/remove" } class="inline" {
                                (csrf(signed))
                                input type="hidden" name="dataset" value=(dataset.name);
                                button type="submit" class="danger quiet" { "Remove the scope on " (dataset.name) }
                            }
                        }
                    }
                }
                @if admin {
                    form method="post" action={ (base) "/data-scopes" } class="inline scope" {
                        (csrf(signed))
                        input type="hidden" name="dataset" value=(dataset.name);
                        label for={ "attr-" (dataset.name) } { "Attribute" }
                        " "
                        select id={ "attr-" (dataset.name) } name="attribute" {
                            @for a in &dataset.attributes { option value=(a) { (a) } }
                        }
                        " "
                        label for={ "values-" (dataset.name) } { "Allowed values (separated by commas)" }
                        " "
                        input id={ "values-" (dataset.name) } name="values" type="text" required;
                        " " button type="submit" { "Save scope on " (dataset.name) }
                    }
                }
            }
        }
        @if !rights.admin { p class="muted" { "Workspace admins set data scopes." } }
    })
}

const ADMINS_ONLY: &str = "Only workspace admins set data scopes and policies.";

pub async fn put_scope<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let (dataset, attribute) = (fields.get("dataset").to_string(), fields.get("attribute").to_string());
    let values: Vec<String> =
        fields.get("values").split(',').map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect();
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::DataScopes, done: "scope-saved", forbidden: ADMINS_ONLY },
        async |g| {
            if values.is_empty() {
                return Err(rolecall_service::ServiceError::Invalid("give at least one allowed value".into()));
            }
            // The other attributes of the dataset's scope stay as they are.
            let mut scope: BTreeMap<String, Vec<String>> = {
                let engine = state.service.snapshot();
                let index = engine.workspace(&ws)?;
                let scopes = index.data_scopes(&g.id).unwrap_or_default();
                scopes
                    .get(dataset.as_str())
                    .map(|s| s.iter().map(|(a, v)| (a.clone(), v.iter().cloned().collect())).collect())
                    .unwrap_or_default()
            };
            scope.insert(attribute.clone(), values.clone());
            state.service.put_data_scope(&signed.actor(), &ws, &g.id, &dataset, Some(scope)).await.map(|_| ())
        },
    )
    .await
}

pub async fn remove_scope<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let dataset = fields.get("dataset").to_string();
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::DataScopes, done: "scope-removed", forbidden: ADMINS_ONLY },
        async |g| state.service.put_data_scope(&signed.actor(), &ws, &g.id, &dataset, None).await.map(|_| ()),
    )
    .await
}

// -------------------------------------------------------------------------- Policies

async fn policies<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    group: &rolecall_model::Group,
    rights: Rights,
) -> Result<Markup, ()> {
    type Rules = BTreeMap<String, Effect>;
    let (attached, all): (Vec<String>, Vec<(String, Rules)>) = {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws).map_err(|_| ())?;
        (
            index.group_policies(&group.id).ok_or(())?.into_iter().map(String::from).collect(),
            index.policies().into_iter().map(|p| (p.id.to_string(), p.rules)).collect(),
        )
    };
    let names: BTreeMap<String, String> =
        state.service.store().labels(ws, label::POLICY, None).await.map_err(|_| ())?.into_iter().collect();
    let name_of = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    let admin = rights.admin && !rights.builtin;
    let others: Vec<&(String, Rules)> = all.iter().filter(|(id, _)| !attached.contains(id)).collect();
    Ok(html! {
        p class="muted" { "Permission policies allow or deny workspace actions (create an app, create a group, …) to members. "
            "A deny wins over an allow, except for admins and owners." }
        @if attached.is_empty() {
            p class="empty" { "No policy is attached to this group." }
        } @else {
            table id="policies" {
                caption class="visually-hidden" { "Policies of " (group.name) }
                thead { tr { th scope="col" { "Policy" } th scope="col" { "Rules" } @if admin { th scope="col" { span class="visually-hidden" { "Detach" } } } } }
                tbody {
                    @for id in &attached {
                        @let rules = all.iter().find(|(p, _)| p == id).map(|(_, r)| r.clone()).unwrap_or_default();
                        tr {
                            td { (name_of(id)) }
                            td { @for (i, (capability, effect)) in rules.iter().enumerate() {
                                @if i > 0 { ", " }
                                (capability) ": " (match effect { Effect::Allow => "allow", Effect::Deny => "deny" })
                            } }
                            @if admin {
                                td {
                                    form method="post" action={ (base) "/policies/detach" } class="inline" {
                                        (csrf(signed))
                                        input type="hidden" name="policy" value=(id);
                                        button type="submit" class="remove" aria-label={ "Detach " (name_of(id)) } { "×" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if admin {
            @if others.is_empty() {
                p class="muted" { "Every policy of the workspace is attached." }
            } @else {
                form method="post" action={ (base) "/policies" } class="inline" {
                    (csrf(signed))
                    label for="policy" { "+ Add permission policy" }
                    " "
                    select id="policy" name="policy" { @for (id, _) in &others { option value=(id) { (name_of(id)) } } }
                    " " button type="submit" { "Attach" }
                }
            }
        } @else {
            p class="muted" { "Workspace admins attach policies." }
        }
    })
}

pub async fn attach_policy<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let policy = fields.get("policy").to_string();
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Policies, done: "policy-attached", forbidden: ADMINS_ONLY },
        async |g| state.service.attach_policy(&signed.actor(), &ws, &g.id, &policy, true).await.map(|_| ()),
    )
    .await
}

pub async fn detach_policy<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let policy = fields.get("policy").to_string();
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Policies, done: "policy-detached", forbidden: ADMINS_ONLY },
        async |g| state.service.attach_policy(&signed.actor(), &ws, &g.id, &policy, false).await.map(|_| ()),
    )
    .await
}

// --------------------------------------------------------------------- Notifications

fn notifications(signed: &Signed, ws: &str, group: &rolecall_model::Group, rights: Rights) -> Result<Markup, ()> {
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    let edit = rights.edit && !rights.builtin;
    Ok(html! {
        p class="muted" { "How members are told of their access: each change through this group, or a summary when you ask for one. "
            "Messages go to the workspace's webhooks." }
        @if edit {
            form method="post" action={ (base) "/notifications" } class="card" {
                (csrf(signed))
                fieldset {
                    legend { "Tell members when their access changes through this group" }
                    label class="check" { input type="radio" name="notify" value="on_change" checked[group.notify == Notify::OnChange]; " On every change" }
                    label class="check" { input type="radio" name="notify" value="none" checked[group.notify == Notify::None]; " Never" }
                }
                button type="submit" { "Save notification setting" }
            }
            form method="post" action={ (base) "/notify" } class="inline" {
                (csrf(signed))
                button type="submit" { "Notify users of their access" }
            }
        } @else {
            p { "Members are told of changes: " strong { @if group.notify == Notify::OnChange { "on every change" } @else { "never" } } }
        }
    })
}

const EDIT_FORBIDDEN: &str = "Only the group's owners (and workspace admins) change its settings.";

pub async fn set_notify<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let notify = if fields.get("notify") == "on_change" { Notify::OnChange } else { Notify::None };
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Notifications, done: "notify-saved", forbidden: EDIT_FORBIDDEN },
        async |g| {
            let mut group = g.clone();
            group.notify = notify;
            state.service.update_group(&signed.actor(), &ws, group).await.map(|_| ())
        },
    )
    .await
}

pub async fn notify_now<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Notifications, done: "notified", forbidden: EDIT_FORBIDDEN },
        async |g| state.service.notify_members(&signed.actor(), &ws, std::slice::from_ref(&g.id)).await.map(|_| ()),
    )
    .await
}

// --------------------------------------------------------------------------- Details

fn details(signed: &Signed, ws: &str, group: &rolecall_model::Group, rights: Rights) -> Result<Markup, ()> {
    let base = format!("/console/{ws}/groups/{}", urlencode(&group.id));
    if !rights.edit || rights.builtin {
        return Ok(html! {
            dl {
                dt { "Name" } dd { (group.name) }
                dt { "Description" } dd { (group.description) }
                dt { "Visibility" } dd { (visibility(group.visibility)) }
            }
            p class="muted" { @if rights.builtin { "A built-in group's settings are fixed." } @else { "Only the group's owners change its details." } }
        });
    }
    Ok(html! {
        form method="post" action={ (base) "/details" } class="card" {
            (csrf(signed))
            label for="name" { "Name" }
            input id="name" name="name" type="text" required maxlength="200" value=(group.name);
            label for="description" { "Description" }
            textarea id="description" name="description" maxlength="2000" { (group.description) }
            label for="tags" { "Tags (separated by commas)" }
            input id="tags" name="tags" type="text" value=(group.tags.join(", "));
            label for="icon" { "Icon (an emoji or an image URL)" }
            input id="icon" name="icon" type="text" value=(group.icon.clone().unwrap_or_default());
            fieldset {
                legend { "Visibility" }
                label class="check" { input type="radio" name="visibility" value="public" checked[group.visibility == Visibility::Public]; " Public: everyone in the workspace sees it" }
                label class="check" { input type="radio" name="visibility" value="private" checked[group.visibility == Visibility::Private]; " Private: only its members and those given access see it" }
            }
            button type="submit" { "Save details" }
        }
    })
}

pub async fn save_details<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    write(
        &state,
        &signed,
        (&ws, &id),
        &fields,
        Outcome { tab: Tab::Details, done: "details-saved", forbidden: EDIT_FORBIDDEN },
        async |g| {
            let mut group = g.clone();
            group.name = fields.get("name").trim().to_string();
            group.description = fields.get("description").trim().to_string();
            group.tags = crate::groups::tags(fields.get("tags"));
            group.icon = Some(fields.get("icon").trim().to_string()).filter(|i| !i.is_empty());
            group.visibility =
                if fields.get("visibility") == "private" { Visibility::Private } else { Visibility::Public };
            state.service.update_group(&signed.actor(), &ws, group).await.map(|_| ())
        },
    )
    .await
}

// ---------------------------------------------------------------------------- Delete

const DELETE_FORBIDDEN: &str = "Only the group's owners (and workspace admins) delete it.";

/// The confirmation before a group is deleted: whose access changes, and how.
pub async fn confirm_delete<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
) -> Response {
    let opened = match open(&state, &signed, &ws, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if !opened.rights.delete || opened.rights.builtin {
        let message = if opened.rights.builtin { "A built-in group cannot be deleted." } else { DELETE_FORBIDDEN };
        let refused = (StatusCode::FORBIDDEN, message.to_string());
        return render(&state, &signed, &opened, Tab::Members, &View::default(), Some(refused)).await;
    }
    let group = &opened.group;
    let (classes, members) = {
        let engine = state.service.snapshot();
        let members = engine.workspace(&ws).ok().and_then(|i| i.member_count(&id)).unwrap_or(0);
        (engine.preview(&ws, &[Op::DeleteGroup { group: id.clone() }]), members)
    };
    let Ok(classes) = classes else { return unavailable(&signed, &group.name) };
    let list = preview_list(&state, &ws, &classes).await;
    page(
        "Delete group",
        Some(&signed),
        html! {
            h1 { "Delete " (group.name) "?" }
            p { "Its " (members) @if members == 1 { " member leaves" } @else { " members leave" }
                " it, and its permission sets, privileges, data scopes and policies go with it. This cannot be undone." }
            (list)
            form method="post" action={ "/console/" (ws) "/groups/" (urlencode(&id)) "/delete" } class="confirm" {
                (csrf(&signed))
                button type="submit" class="danger" { "Delete " (group.name) }
                " "
                a href=(group_url(&ws, &id, Tab::Members)) { "Cancel" }
            }
        },
    )
    .into_response()
}

pub async fn delete<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    RawForm(raw): RawForm,
) -> Response {
    let fields = Fields::parse(&raw);
    let opened = match open(&state, &signed, &ws, &id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if let Some(stale) = signed.stale(&fields) {
        return stale;
    }
    match state.service.delete_group(&signed.actor(), &ws, &id).await {
        Ok(_) => see_other(format!("/console/{ws}/groups?done=deleted")),
        Err(e) => {
            let refused = say(e, DELETE_FORBIDDEN);
            render(&state, &signed, &opened, Tab::Members, &View::default(), Some(refused)).await
        }
    }
}
