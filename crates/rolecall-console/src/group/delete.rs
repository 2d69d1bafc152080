//! Deleting a group, after a confirmation that says whose access changes.

use super::*;

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
    let members = state.service.snapshot().workspace(&ws).ok().and_then(|i| i.member_count(&id)).unwrap_or(0);
    let ops = vec![Op::DeleteGroup { group: id.clone() }];
    let Ok(classes) = state.service.preview(&signed.actor(), &ws, ops).await else {
        return unavailable(&signed, &group.name);
    };
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

pub async fn delete<S: Store>(posted: Posted<S>) -> Response {
    let Posted { state, signed, ws, id, fields, .. } = &posted;
    let opened = match open(state, signed, ws, id).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    if let Some(stale) = signed.stale(fields) {
        return stale;
    }
    match state.service.delete_group(&signed.actor(), ws, id).await {
        Ok(_) => see_other(format!("/console/{ws}/groups?done=deleted")),
        Err(e) => {
            let refused = say(e, DELETE_FORBIDDEN);
            render(state, signed, &opened, Tab::Members, &View::default(), Some(refused)).await
        }
    }
}
