//! User management > Users (seed 001): the workspace's users with search by name or email
//! and paging, for workspace admins. Searching updates the list in place (htmx), and the
//! same URL is a whole page for a browser without scripts.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use rolecall_api::AppState;
use rolecall_store::{PageRequest, Store};
use serde::Deserialize;

use crate::layout::{page, refusal};
use crate::session::Signed;

type Shared<S> = State<Arc<AppState<S>>>;

/// Users per page.
const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    after: Option<String>,
}

pub async fn list<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    signed: Signed,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    if signed.session.workspace != ws {
        // Another workspace is not there, as everywhere in Rolecall.
        return (StatusCode::NOT_FOUND, refusal("Not found", Some(&signed), "There is no such page.")).into_response();
    }
    let admin = state.service.snapshot().workspace(&ws).and_then(|i| i.is_admin_user(&signed.session.user));
    if admin != Ok(true) {
        let message = "Only workspace admins manage users. Ask one of them to give you the admin role.";
        return (StatusCode::FORBIDDEN, refusal("Users", Some(&signed), message)).into_response();
    }
    let q = query.q.trim();
    let request = PageRequest { after: query.after.clone(), limit: PAGE };
    let found = state.service.store().users(&ws, (!q.is_empty()).then_some(q), request).await;
    let Ok(found) = found else {
        return (StatusCode::SERVICE_UNAVAILABLE, refusal("Users", Some(&signed), "Try again in a moment."))
            .into_response();
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
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Workspace role" } th scope="col" { "Status" } } }
                    tbody {
                        @for (user, active) in found.items.iter().zip(&active) {
                            tr {
                                td { (user.name) }
                                td { (user.email) }
                                td { (user.workspace_role) }
                                td { @if *active { "Active" } @else { span class="suspended" { "Suspended" } } }
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
    page("Users", Some(&signed), body(&ws, q, table)).into_response()
}

fn body(ws: &str, q: &str, table: Markup) -> Markup {
    html! {
        h1 { "Users" }
        form method="get" action={ "/console/" (ws) "/users" } role="search" {
            label for="q" { "Search by name or email" }
            input id="q" name="q" type="search" value=(q) autocomplete="off"
                hx-get={ "/console/" (ws) "/users" } hx-trigger="input changed delay:250ms, search"
                hx-target="#users" hx-swap="outerHTML";
            button type="submit" { "Search" }
        }
        (table)
    }
}

/// Percent-encodes a query value.
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
