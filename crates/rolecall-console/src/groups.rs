//! User management > Groups (seed 000): the groups the signed-in user may see, with member
//! counts, tags and visibility, searched by name; and **+ Add group** (name, description,
//! tags, icon), which makes its creator the group's owner. Refusals (the workspace's group
//! limit, a name in use, a user who may not create groups) are said on the page.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rolecall_api::AppState;
use rolecall_model::{Group, ResourceRef};
use rolecall_service::ServiceError;
use rolecall_store::{PageRequest, Store};
use serde::Deserialize;

use crate::form::{Fields, say, unavailable, urlencode};
use crate::layout::{Said, live_search, page};
use crate::session::Signed;

type Shared<S> = State<Arc<AppState<S>>>;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    /// What was just done (a code; the page says it in fixed words).
    #[serde(default)]
    done: String,
}

/// A group as one row of the list.
pub(crate) struct Row {
    group: Group,
    members: u64,
}

/// Every group of the workspace `user` may view whose name or description contains `q`
/// (a workspace holds at most 1,000 groups, so this is one page).
pub(crate) async fn visible<S: Store>(
    state: &AppState<S>,
    ws: &str,
    user: &str,
    q: &str,
) -> Result<Vec<Row>, ServiceError> {
    let q = (!q.is_empty()).then_some(q);
    let found = state.service.store().groups(ws, q, None, PageRequest { after: None, limit: 1_100 }).await?;
    let engine = state.service.snapshot();
    let index = engine.workspace(ws)?;
    Ok(found
        .items
        .into_iter()
        .filter(|g| index.check(user, "view", &ResourceRef::new("group", &g.id)).is_ok_and(|d| d.allowed))
        .map(|g| Row { members: index.member_count(&g.id).unwrap_or(0), group: g })
        .collect())
}

fn table(ws: &str, rows: &[Row], q: &str) -> Markup {
    html! {
        section id="groups" aria-live="polite" {
            @if rows.is_empty() {
                p class="empty" { @if q.is_empty() { "No groups you may see." } @else { "No group's name or description contains “" (q) "”." } }
            } @else {
                table {
                    caption class="visually-hidden" { "Groups" }
                    thead { tr { th scope="col" { span class="visually-hidden" { "Selected" } } th scope="col" { "Group" } th scope="col" { "Members" } th scope="col" { "Tags" } th scope="col" { "Visibility" } } }
                    tbody {
                        @for row in rows {
                            tr {
                                td { input type="checkbox" name="groups" value=(row.group.id) form="bulk" aria-label={ "Select " (row.group.name) }; }
                                td {
                                    (crate::layout::icon(row.group.icon.as_deref()))
                                    a href={ "/console/" (ws) "/groups/" (urlencode(&row.group.id)) } { strong { (row.group.name) } }
                                    @if !row.group.description.is_empty() { br; span class="muted" { (row.group.description) } }
                                }
                                td { (row.members) }
                                td { @for tag in &row.group.tags { span class="tag" { (tag) } " " } }
                                td { (format!("{:?}", row.group.visibility).to_lowercase()) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn body(ws: &str, csrf: &str, q: &str, rows: &[Row], said: Said<'_>, draft: &NewGroup) -> Markup {
    let refused = matches!(said, Said::Refused(_));
    html! {
        h1 { "Groups" }
        (said)
        (live_search(&format!("/console/{ws}/groups"), "Search groups", q, "groups"))
        @if !rows.is_empty() { (crate::bulk::toolbar(ws, csrf)) }
        (table(ws, rows, q))
        details open[refused && !draft.name.is_empty()] {
            summary { "+ Add group" }
            form method="post" action={ "/console/" (ws) "/groups" } class="card" {
                input type="hidden" name="csrf" value=(csrf);
                label for="name" { "Name" }
                input id="name" name="name" type="text" required maxlength="200" value=(draft.name);
                label for="description" { "Description" }
                textarea id="description" name="description" maxlength="2000" { (draft.description) }
                label for="tags" { "Tags (separated by commas)" }
                input id="tags" name="tags" type="text" value=(draft.tags);
                label for="icon" { "Icon (an emoji or an image URL)" }
                input id="icon" name="icon" type="text" value=(draft.icon);
                button type="submit" { "Add group" }
            }
        }
    }
}

pub async fn list<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    signed: Signed,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    if let Some(outside) = signed.outside(&ws) {
        return outside;
    }
    let q = query.q.trim();
    let Ok(rows) = visible(&state, &ws, &signed.session.user, q).await else {
        return unavailable(&signed, "Groups");
    };
    if headers.contains_key("hx-request") {
        return table(&ws, &rows, q).into_response();
    }
    let said = crate::bulk::done_message(&query.done).map_or(Said::Nothing, Said::Done);
    page("Groups", Some(&signed), body(&ws, &signed.session.csrf, q, &rows, said, &NewGroup::default())).into_response()
}

#[derive(Default)]
pub(crate) struct NewGroup {
    name: String,
    description: String,
    tags: String,
    icon: String,
}

impl NewGroup {
    fn from_fields(fields: &Fields) -> NewGroup {
        NewGroup {
            name: fields.get("name").to_string(),
            description: fields.get("description").to_string(),
            tags: fields.get("tags").to_string(),
            icon: fields.get("icon").to_string(),
        }
    }
}

/// A group (or user) id from a name: lowercase letters, digits and dashes, plus a random
/// suffix so two alike (one deleted) never share an id.
pub(crate) fn id_for(name: &str) -> Result<String, rolecall_api::ApiError> {
    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    let slug: String = slug.chars().take(40).collect();
    let suffix = rolecall_api::random_token(3)?;
    Ok(if slug.is_empty() { format!("group-{suffix}") } else { format!("{slug}-{suffix}") })
}

pub async fn create<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    signed: Signed,
    fields: Fields,
) -> Response {
    let draft = NewGroup::from_fields(&fields);
    if let Some(refused) = signed.outside(&ws).or_else(|| signed.stale(&fields)) {
        return refused;
    }
    let Ok(id) = id_for(&draft.name) else {
        return unavailable(&signed, "Groups");
    };
    let group = Group {
        description: draft.description.trim().to_string(),
        tags: tags(&draft.tags),
        icon: Some(draft.icon.trim().to_string()).filter(|i| !i.is_empty()),
        ..Group::new(id, draft.name.trim())
    };
    let id = group.id.clone();
    match state.service.create_group(&signed.actor(), &ws, group).await {
        // On to the new group's page: its users, privileges and notifications (seed 001's
        // next steps).
        Ok(_) => crate::form::see_other(format!("/console/{ws}/groups/{}?tab=members&done=created", urlencode(&id))),
        Err(e) => {
            let (status, message) = say(e, "You may not create groups in this workspace.");
            let rows = visible(&state, &ws, &signed.session.user, "").await.unwrap_or_default();
            let body = body(&ws, &signed.session.csrf, "", &rows, Said::Refused(&message), &draft);
            (status, page("Groups", Some(&signed), body)).into_response()
        }
    }
}

/// Tags typed as one text, separated by commas.
pub(crate) fn tags(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect()
}
