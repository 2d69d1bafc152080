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
//!
//! Here: opening a group, the page shell and its tabs, and `write` (every form's path:
//! check, run, go back saying it was done or show the refusal). The tabs: `members.rs`,
//! `sets.rs`, `privileges.rs` (with the preview of whose access changes), `settings.rs`
//! (data scopes, policies, notifications, details); `delete.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rolecall_api::AppState;
use rolecall_engine::{AccessClass, WorkspaceIndex};
use rolecall_model::{Effect, GroupPermissions, MemberRole, Notify, Op, ResourceRef, Subject, Visibility};
use rolecall_store::{PageRequest, Store, label};
use serde::Deserialize;

use crate::form::{Fields, not_found, say, see_other, unavailable, urlencode};
use crate::layout::{Said, page};
use crate::names::{group_names, people, subject_named};
use crate::session::Signed;

mod delete;
mod members;
mod privileges;
mod sets;
mod settings;

pub use delete::*;
pub use members::*;
pub use privileges::*;
pub use sets::*;
pub use settings::*;

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
        "created" => "Group created. Next: select its users, then its privileges and notifications.",
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

impl View {
    /// The members page's position (anything but a number is the first page).
    fn from(&self) -> u64 {
        self.from.parse().unwrap_or(0)
    }
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
    from: String,
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
                (crate::layout::icon(group.icon.as_deref()))
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
        @if let Some((_, message)) = &refused { (Said::Refused(message)) }
        @else if let Some(done) = done_message(&view.done) { (Said::Done(done)) }
        section aria-label=(tab.label()) { (content) }
        div id="modal" {}
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

/// Where a write on the group page goes back to, and what it says.
struct Outcome {
    tab: Tab,
    /// The code of the message shown when it was done (`done_message`).
    done: &'static str,
    /// What a refusal for want of rights says.
    forbidden: &'static str,
}

/// A form posted to a group's page: who posted it, the path's parameters and the fields.
pub struct Posted<S: Store> {
    state: Arc<AppState<S>>,
    signed: Signed,
    ws: String,
    id: String,
    /// The path's third parameter, if any: the member, nested group or permission set the
    /// form is about.
    item: String,
    fields: Fields,
}

impl<S: Store> FromRequest<Arc<AppState<S>>> for Posted<S> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &Arc<AppState<S>>) -> Result<Posted<S>, Response> {
        let (mut parts, body) = request.into_parts();
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let Path(mut params): Path<BTreeMap<String, String>> =
            Path::from_request_parts(&mut parts, state).await.map_err(IntoResponse::into_response)?;
        let fields = Fields::from_request(Request::from_parts(parts, body), state).await?;
        let ws = params.remove("ws").unwrap_or_default();
        let id = params.remove("id").unwrap_or_default();
        let item = params.into_values().next().unwrap_or_default();
        Ok(Posted { state: state.clone(), signed, ws, id, item, fields })
    }
}

/// Runs one write for the group page, then goes back to the tab saying it was done, or
/// shows the refusal on that tab.
async fn write<S: Store, F>(posted: &Posted<S>, outcome: Outcome, run: F) -> Response
where
    F: AsyncFnOnce(&rolecall_model::Group) -> Result<(), rolecall_service::ServiceError>,
{
    let Posted { state, signed, ws, id, fields, .. } = posted;
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
