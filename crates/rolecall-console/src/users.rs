//! User management > Users (seed 001): the workspace's users with search by name or email
//! and paging, for workspace admins. Searching updates the list in place (htmx), and the
//! same URL is a whole page for a browser without scripts.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rolecall_api::AppState;
use rolecall_model::{User, UserKind};
use rolecall_store::{PageRequest, Store};
use serde::Deserialize;

use crate::form::{Fields, see_other, unavailable, urlencode};
use crate::layout::{Said, live_search, page, refusal};
use crate::session::Signed;

type Shared<S> = State<Arc<AppState<S>>>;

/// Users per page.
const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    /// What was just done (a code; the page says it in fixed words).
    #[serde(default)]
    done: String,
    after: Option<String>,
}

pub async fn list<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    signed: Signed,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    // Another workspace is not there, as everywhere in Rolecall; non-admins are told why not.
    if let Some(refused) = refused_unless_admin(&state, &ws, &signed) {
        return refused;
    }
    let q = query.q.trim();
    let request = PageRequest { after: query.after.clone(), limit: PAGE };
    let found = state.service.store().users(&ws, (!q.is_empty()).then_some(q), request).await;
    let Ok(found) = found else {
        return unavailable(&signed, "Users");
    };
    let active: Vec<bool> = {
        let engine = state.service.snapshot();
        let index = engine.workspace(&ws).ok();
        found.items.iter().map(|u| index.and_then(|i| i.is_active(&u.id)).unwrap_or(true)).collect()
    };
    let table = html! {
        section id="users" aria-live="polite" {
            @if found.items.is_empty() {
                p class="empty" { @if q.is_empty() { "No users yet." } @else { "No user's name or email contains “" (q) "”." } }
            } @else {
                table {
                    caption class="visually-hidden" { "Users" }
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Workspace role" } th scope="col" { "Status" } th scope="col" { span class="visually-hidden" { "Actions" } } } }
                    tbody {
                        @for (user, active) in found.items.iter().zip(&active) {
                            tr {
                                td { (user.name) }
                                td { (user.email) }
                                td { (user.workspace_role) }
                                td { @if *active { "Active" } @else { span class="suspended" { "Suspended" } } }
                                td {
                                    a href={ "/console/" (ws) "/users/" (urlencode(&user.id)) } aria-label={ "Edit " (user.name) } { "Edit" }
                                    " · "
                                    a href={ "/console/" (ws) "/users/" (urlencode(&user.id)) "/delete" } aria-label={ "Delete " (user.name) } { "Delete" }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &found.next {
                a class="next" href={ "/console/" (ws) "/users?q=" (urlencode(q)) "&after=" (urlencode(next)) } { "Next page" }
            }
        }
    };
    // htmx asks for the list alone when the search changes.
    if headers.contains_key("hx-request") {
        return table.into_response();
    }
    let form = add_form(&state, &ws, &signed.session.csrf, &NewUser::default()).await;
    let said = match query.done.as_str() {
        "saved" => Said::Done("User saved."),
        "deleted" => Said::Done("User deleted."),
        "added" => Said::Done("User added."),
        _ => Said::Nothing,
    };
    page("Users", Some(&signed), body(&ws, q, table, said, form)).into_response()
}

fn body(ws: &str, q: &str, table: Markup, said: Said<'_>, add: Markup) -> Markup {
    html! {
        h1 { "Users" }
        (said)
        (live_search(&format!("/console/{ws}/users"), "Search by name or email", q, "users"))
        (table)
        (add)
    }
}

/// What the + Add user form sends.
#[derive(Default)]
pub struct NewUser {
    name: String,
    email: String,
    workspace_role: String,
    /// The groups ticked, sent as `groups=a&groups=b` (several fields of one name).
    groups: Vec<String>,
}

impl NewUser {
    fn from_fields(fields: &Fields) -> NewUser {
        NewUser {
            name: fields.get("name").to_string(),
            email: fields.get("email").to_string(),
            workspace_role: fields.get("workspace_role").to_string(),
            groups: fields.all("groups"),
        }
    }
}

/// + Add user (seed 001): name, email, workspace role and the groups they start in (by name).
async fn add_form<S: Store>(state: &AppState<S>, ws: &str, csrf: &str, draft: &NewUser) -> Markup {
    let listed = state.service.store().groups(ws, None, None, PageRequest { after: None, limit: 1_100 }).await;
    let (roles, groups): (Vec<String>, Vec<(String, String)>) = {
        let engine = state.service.snapshot();
        match (engine.workspace(ws), listed) {
            (Ok(index), Ok(listed)) => (
                index.schema().workspace_roles.clone(),
                listed.items.into_iter().filter(|g| index.builtin(&g.id).is_none()).map(|g| (g.id, g.name)).collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        }
    };
    let chosen = if draft.workspace_role.is_empty() { "member" } else { draft.workspace_role.as_str() };
    html! {
        details open[!draft.name.is_empty()] {
            summary { "+ Add user" }
            form method="post" action={ "/console/" (ws) "/users" } class="card" {
                input type="hidden" name="csrf" value=(csrf);
                label for="new-name" { "Name" }
                input id="new-name" name="name" type="text" required maxlength="200" value=(draft.name);
                label for="new-email" { "Email" }
                input id="new-email" name="email" type="email" required value=(draft.email);
                label for="new-role" { "Workspace role" }
                select id="new-role" name="workspace_role" {
                    @for role in &roles { option value=(role) selected[role == chosen] { (role) } }
                }
                @if !groups.is_empty() {
                    fieldset {
                        legend { "Groups" }
                        @for (id, name) in &groups {
                            label class="check" {
                                input type="checkbox" name="groups" value=(id) checked[draft.groups.contains(id)];
                                " " (name)
                            }
                        }
                    }
                }
                button type="submit" { "Add user" }
            }
        }
    }
}

/// The page that says why not, unless the signed-in user may manage the users of `ws`
/// (their session is for it and they are one of its admins).
fn refused_unless_admin<S: Store>(state: &AppState<S>, ws: &str, signed: &Signed) -> Option<Response> {
    if let Some(outside) = signed.outside(ws) {
        return Some(outside);
    }
    let admin = state.service.snapshot().workspace(ws).and_then(|i| i.is_admin_user(&signed.session.user));
    if admin != Ok(true) {
        let message = "Only workspace admins manage users. Ask one of them to give you the admin role.";
        return Some((StatusCode::FORBIDDEN, refusal("Users", Some(signed), message)).into_response());
    }
    None
}

pub async fn create<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    signed: Signed,
    fields: Fields,
) -> Response {
    let draft = NewUser::from_fields(&fields);
    if let Some(refused) = refused_unless_admin(&state, &ws, &signed) {
        return refused;
    }
    if let Some(stale) = signed.stale(&fields) {
        return stale;
    }
    let Ok(id) = crate::groups::id_for(draft.email.split('@').next().unwrap_or_default()) else {
        return unavailable(&signed, "Users");
    };
    let user = User {
        id,
        email: draft.email.trim().to_string(),
        name: draft.name.trim().to_string(),
        workspace_role: draft.workspace_role.clone(),
        kind: UserKind::Regular,
        last_active_at: None,
    };
    match state.service.create_user(&signed.actor(), &ws, user, &draft.groups).await {
        Ok(_) => see_other(format!("/console/{ws}/users?done=added")),
        Err(e) => {
            let (status, message) = crate::form::say(e, "Only workspace admins manage users.");
            let form = add_form(&state, &ws, &signed.session.csrf, &draft).await;
            let table = html! { section id="users" {} };
            (status, page("Users", Some(&signed), body(&ws, "", table, Said::Refused(&message), form))).into_response()
        }
    }
}

/// The confirmation before a user is deleted: what they lose.
pub async fn confirm_delete<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
) -> Response {
    if let Some(refused) = refused_unless_admin(&state, &ws, &signed) {
        return refused;
    }
    let Ok(Some(user)) = state.service.store().user(&ws, &id).await else {
        return (StatusCode::NOT_FOUND, refusal("Delete user", Some(&signed), "There is no such user."))
            .into_response();
    };
    let groups = state.service.snapshot().workspace(&ws).ok().and_then(|i| i.user_groups(&id)).map_or(0, |g| g.len());
    page(
        "Delete user",
        Some(&signed),
        html! {
            h1 { "Delete " (user.name) "?" }
            p {
                (user.name) " (" (user.email) ") loses every membership ("
                (groups) @if groups == 1 { " group" } @else { " groups" }
                ") and every rule that names them. This cannot be undone."
            }
            form method="post" action={ "/console/" (ws) "/users/" (id) "/delete" } class="confirm" {
                input type="hidden" name="csrf" value=(signed.session.csrf);
                button type="submit" class="danger" { "Delete " (user.name) }
                " "
                a href={ "/console/" (ws) "/users" } { "Cancel" }
            }
        },
    )
    .into_response()
}

pub async fn delete<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    fields: Fields,
) -> Response {
    if let Some(refused) = refused_unless_admin(&state, &ws, &signed) {
        return refused;
    }
    if let Some(stale) = signed.stale(&fields) {
        return stale;
    }
    match state.service.delete_user(&signed.actor(), &ws, &id).await {
        Ok(_) => see_other(format!("/console/{ws}/users?done=deleted")),
        Err(e) => {
            let (status, message) = crate::form::say(e, "Only workspace admins manage users.");
            (status, refusal("Delete user", Some(&signed), &message)).into_response()
        }
    }
}

/// Edit a user: name, email, workspace role, whether they are active, and a console
/// password; with the groups they are in.
pub async fn edit<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
) -> Response {
    if let Some(refused) = refused_unless_admin(&state, &ws, &signed) {
        return refused;
    }
    edit_page(&state, &ws, &id, &signed, None).await
}

async fn edit_page<S: Store>(
    state: &AppState<S>,
    ws: &str,
    id: &str,
    signed: &Signed,
    refused: Option<(StatusCode, String, &Fields)>,
) -> Response {
    let Ok(Some(user)) = state.service.store().user(ws, id).await else {
        return crate::form::not_found(signed, "There is no such user.");
    };
    let (roles, active, groups) = {
        let engine = state.service.snapshot();
        let Ok(index) = engine.workspace(ws) else { return crate::form::unavailable(signed, "Edit user") };
        let groups: Vec<(String, bool)> =
            index.user_groups(id).unwrap_or_default().into_iter().map(|(g, direct)| (g.to_string(), direct)).collect();
        (index.schema().workspace_roles.clone(), index.is_active(id).unwrap_or(true), groups)
    };
    let ids: Vec<&str> = groups.iter().map(|(g, _)| g.as_str()).collect();
    let Ok(names) = crate::names::group_names(state, ws, &ids).await else {
        return crate::form::unavailable(signed, "Edit user");
    };
    // After a refusal the form shows what was typed.
    let typed = |field: &str, stored: &str| match &refused {
        Some((_, _, fields)) => fields.get(field).to_string(),
        None => stored.to_string(),
    };
    let chosen = typed("workspace_role", &user.workspace_role);
    let active = refused.as_ref().map_or(active, |(_, _, f)| f.get("active") == "yes");
    let base = format!("/console/{ws}/users/{}", urlencode(id));
    let body = html! {
        p class="crumbs" { a href={ "/console/" (ws) "/users" } { "Users" } " / " }
        h1 { "Edit " (user.name) }
        @if let Some((_, message, _)) = &refused { p role="alert" class="error" { (message) } }
        form method="post" action=(base) class="card" {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            label for="name" { "Name" }
            input id="name" name="name" type="text" required maxlength="200" value=(typed("name", &user.name));
            label for="email" { "Email" }
            input id="email" name="email" type="email" required value=(typed("email", &user.email));
            label for="role" { "Workspace role" }
            select id="role" name="workspace_role" {
                @for role in &roles { option value=(role) selected[*role == chosen] { (role) } }
            }
            label class="check" {
                input type="checkbox" name="active" value="yes" checked[active];
                " Active (unticked: suspended, with no access at all until ticked again)"
            }
            label for="password" { "New console password (leave empty to keep theirs)" }
            input id="password" name="password" type="password" autocomplete="new-password" minlength="12" maxlength="256";
            button type="submit" { "Save user" }
        }
        h2 { "Groups" }
        @if groups.is_empty() {
            p class="empty" { "Not in any group." }
        } @else {
            ul class="plain" {
                @for (g, direct) in &groups {
                    li {
                        a href={ "/console/" (ws) "/groups/" (urlencode(g)) } { (names.get(g).map_or(g.as_str(), String::as_str)) }
                        @if !direct { " " span class="muted" { "(through a nested group)" } }
                    }
                }
            }
        }
        p { a href={ "/console/" (ws) "/access?user=" (urlencode(&user.email)) } { "Explore " (user.name) "'s access" } }
    };
    let status = refused.as_ref().map_or(StatusCode::OK, |(s, _, _)| *s);
    (status, page("Edit user", Some(signed), body)).into_response()
}

pub async fn save<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    signed: Signed,
    fields: Fields,
) -> Response {
    if let Some(refused) = refused_unless_admin(&state, &ws, &signed) {
        return refused;
    }
    if let Some(stale) = signed.stale(&fields) {
        return stale;
    }
    let Ok(Some(before)) = state.service.store().user(&ws, &id).await else {
        return crate::form::not_found(&signed, "There is no such user.");
    };
    let user = User {
        name: fields.get("name").trim().to_string(),
        email: fields.get("email").trim().to_string(),
        workspace_role: fields.get("workspace_role").to_string(),
        ..before
    };
    let active = fields.get("active") == "yes";
    let password = fields.get("password");
    let actor = signed.actor();
    // A password that would be refused (too short) is refused before anything is written.
    let result = async {
        if !password.is_empty() {
            rolecall_service::console::check_password(password)?;
        }
        state.service.update_user(&actor, &ws, user, Some(active)).await?;
        if !password.is_empty() {
            state.service.set_password(&actor, &ws, &id, password).await?;
        }
        Ok::<(), rolecall_service::ServiceError>(())
    };
    match result.await {
        Ok(_) => see_other(format!("/console/{ws}/users?done=saved")),
        Err(e) => {
            let (status, message) = crate::form::say(e, "Only workspace admins manage users.");
            edit_page(&state, &ws, &id, &signed, Some((status, message, &fields))).await
        }
    }
}
