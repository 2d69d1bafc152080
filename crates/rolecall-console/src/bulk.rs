//! Several groups selected (seed 001): add users to all of them, remove users from them,
//! change those users' role in them, notify their members of their access, or delete
//! them, each as one change that is made whole or not at all. Deleting first shows whose
//! access changes, across all the groups at once.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rolecall_api::AppState;
use rolecall_model::{MemberRole, Op};
use rolecall_service::{BulkAction, ServiceError};
use rolecall_store::Store;

use crate::form::{Fields, say, see_other, unavailable};
use crate::groups::{NewGroup, body, visible};
use crate::layout::{Said, page};
use crate::names::{group_names, user_by_email};
use crate::session::Signed;

/// The toolbar above the groups list; the rows' checkboxes belong to its form.
pub fn toolbar(ws: &str, csrf: &str) -> Markup {
    html! {
        form id="bulk" method="post" action={ "/console/" (ws) "/groups/bulk" } class="toolbar" {
            input type="hidden" name="csrf" value=(csrf);
            fieldset {
                legend { "With the selected groups" }
                label for="bulk-action" { "Action" }
                " "
                select id="bulk-action" name="action" {
                    option value="add_members" { "Add users" }
                    option value="remove_members" { "Remove users" }
                    option value="set_member_role" { "Change the users' role" }
                    option value="notify" { "Notify users of their access" }
                    option value="delete" { "Delete the groups" }
                }
                " "
                label for="bulk-users" { "Users (emails, separated by commas)" }
                " "
                input id="bulk-users" name="users" type="text" size="32";
                " "
                label for="bulk-role" { "Role" }
                " "
                select id="bulk-role" name="role" {
                    @for role in [MemberRole::Member, MemberRole::Editor, MemberRole::Owner] {
                        option value=(role.as_str()) { (role.as_str()) }
                    }
                }
                " "
                button type="submit" { "Apply to selected groups" }
            }
        }
    }
}

/// What the groups page says after a bulk action (fixed words per code).
pub fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "added" => "The users were added to the selected groups.",
        "removed" => "The users were removed from the selected groups.",
        "role" => "The users' role was changed in the selected groups.",
        "notified" => "The members of the selected groups were sent a summary of their access.",
        "deleted" => "Deleted.",
        _ => return None,
    })
}

fn role(text: &str) -> MemberRole {
    match text {
        "owner" => MemberRole::Owner,
        "editor" => MemberRole::Editor,
        _ => MemberRole::Member,
    }
}

pub async fn apply<S: Store>(
    State(state): State<Arc<AppState<S>>>,
    Path(ws): Path<String>,
    signed: Signed,
    fields: Fields,
) -> Response {
    if let Some(outside) = signed.outside(&ws) {
        return outside;
    }
    if let Some(stale) = signed.stale(&fields) {
        return stale;
    }
    let groups = fields.all("groups");
    let action = fields.get("action");
    if action == "delete" && fields.get("confirmed") != "yes" && !groups.is_empty() {
        return confirm_delete(&state, &signed, &ws, &groups).await;
    }
    let done = match run(&state, &signed, &ws, &groups, &fields).await {
        Ok(done) => done,
        Err(e) => {
            let (status, message) =
                say(e, "You may not do this to every one of the selected groups; nothing was changed.");
            let Ok(rows) = visible(&state, &ws, &signed.session.user, "").await else {
                return unavailable(&signed, "Groups");
            };
            let body = body(&ws, &signed.session.csrf, "", &rows, Said::Refused(&message), &NewGroup::default());
            return (status, page("Groups", Some(&signed), body)).into_response();
        }
    };
    see_other(format!("/console/{ws}/groups?done={done}"))
}

async fn run<S: Store>(
    state: &AppState<S>,
    signed: &Signed,
    ws: &str,
    groups: &[String],
    fields: &Fields,
) -> Result<&'static str, ServiceError> {
    if groups.is_empty() {
        return Err(ServiceError::Invalid("select at least one group".into()));
    }
    let actor = signed.actor();
    let users = async || -> Result<Vec<String>, ServiceError> {
        let emails: Vec<&str> = fields.get("users").split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
        if emails.is_empty() {
            return Err(ServiceError::Invalid("type the emails of the users, separated by commas".into()));
        }
        let mut ids = Vec::with_capacity(emails.len());
        for email in emails {
            ids.push(user_by_email(state, ws, email).await?);
        }
        Ok(ids)
    };
    let (action, done) = match fields.get("action") {
        "add_members" => (BulkAction::AddMembers { users: users().await?, role: role(fields.get("role")) }, "added"),
        "remove_members" => (BulkAction::RemoveMembers { users: users().await? }, "removed"),
        "set_member_role" => {
            (BulkAction::SetMemberRole { users: users().await?, role: role(fields.get("role")) }, "role")
        }
        "notify" => {
            state.service.notify_members(&actor, ws, groups).await?;
            return Ok("notified");
        }
        "delete" => (BulkAction::Delete, "deleted"),
        other => return Err(ServiceError::Invalid(format!("`{other}` is not an action on groups"))),
    };
    state.service.bulk_groups(&actor, ws, groups, action).await?;
    Ok(done)
}

/// Before the selected groups are deleted: which, and whose access changes.
async fn confirm_delete<S: Store>(state: &AppState<S>, signed: &Signed, ws: &str, groups: &[String]) -> Response {
    // Only groups the user may see are named (a private group is not there for others).
    let hidden = {
        let engine = state.service.snapshot();
        let Ok(index) = engine.workspace(ws) else { return unavailable(signed, "Delete groups") };
        let sees = |g: &String| {
            index
                .check(&signed.session.user, "view", &rolecall_model::ResourceRef::new("group", g))
                .is_ok_and(|d| d.allowed)
        };
        groups.iter().any(|g| !sees(g))
    };
    if hidden {
        return crate::form::not_found(signed, "There is no such group.");
    }
    let ops: Vec<Op> = groups.iter().map(|g| Op::DeleteGroup { group: g.clone() }).collect();
    let classes = match state.service.preview(&signed.actor(), ws, ops).await {
        Ok(classes) => classes,
        Err(e) => {
            let (status, message) = say(e, "");
            return (status, crate::layout::refusal("Delete groups", Some(signed), &message)).into_response();
        }
    };
    let ids: Vec<&str> = groups.iter().map(String::as_str).collect();
    let Ok(names) = group_names(state, ws, &ids).await else { return unavailable(signed, "Delete groups") };
    let list = crate::group::preview_list(state, ws, &classes).await;
    let body = html! {
        h1 { "Delete " (groups.len()) @if groups.len() == 1 { " group?" } @else { " groups?" } }
        ul { @for g in groups { li { strong { (names.get(g).map_or(g.as_str(), String::as_str)) } } } }
        p { "Their members leave them, and their permission sets, privileges, data scopes and policies go with them. This cannot be undone." }
        (list)
        form method="post" action={ "/console/" (ws) "/groups/bulk" } class="confirm" {
            input type="hidden" name="csrf" value=(signed.session.csrf);
            input type="hidden" name="action" value="delete";
            input type="hidden" name="confirmed" value="yes";
            @for g in groups { input type="hidden" name="groups" value=(g); }
            button type="submit" class="danger" { "Delete the selected groups" }
            " "
            a href={ "/console/" (ws) "/groups" } { "Cancel" }
        }
    };
    page("Delete groups", Some(signed), body).into_response()
}
