//! Rolecall's web console (issue 5), served by the same binary at `/`: pages rendered on
//! the server (maud) with htmx for partial updates. Every page acts as the signed-in user
//! (`Actor::User`) through the same service layer as the API, so authorization, limits,
//! the audit log and webhooks are the same whichever way a change comes in.
//!
//! - `session.rs`: the session cookie, the signed-in extractor, CSRF.
//! - `layout.rs`: the page shell (landmarks, navigation, sign-out), security headers.
//! - `names.rs`: names for ids, and the user or group someone typed.
//! - `permissions.rs`: Resources, a resource's Permissions page (its rules), the resource picker.
//! - `sign_in.rs`: signing in and out.
//! - `users.rs`: User management > Users.
//! - `bulk.rs`: several groups selected: add, remove, change role, notify, delete.
//! - `explorer.rs`: the access explorer (explain, and what leaving a group changes).
//! - `form.rs`: form fields, the common refusals, a service refusal in the user's words.
//! - `groups.rs`: User management > Groups, and + Add group.
//! - `group.rs`: one group's page and its tabs; deleting a group after a preview.

mod bulk;
mod explorer;
mod form;
mod group;
mod groups;
mod layout;
mod names;
mod permissions;
mod session;
mod sign_in;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use rolecall_api::AppState;
use rolecall_store::Store;

pub use session::COOKIE;

/// htmx, served from the binary (no CDN: the console works offline). 0BSD licence.
const HTMX: &str = include_str!("../assets/htmx-2.0.11.min.js");
const CSS: &str = include_str!("../assets/console.css");
/// The console's own few lines of script: confirmations in modal dialogs.
const JS: &str = include_str!("../assets/console.js");

/// The console's routes, to be served beside the API (`rolecall_api::router_with`).
pub fn routes<S: Store>() -> Router<Arc<AppState<S>>> {
    Router::new()
        .route("/", get(sign_in::home::<S>))
        .route("/console/sign-in", get(sign_in::show::<S>).post(sign_in::submit::<S>))
        .route("/console/sign-out", post(sign_in::sign_out::<S>))
        .route("/console/{ws}/users", get(users::list::<S>).post(users::create::<S>))
        .route("/console/{ws}/users/{id}", get(users::edit::<S>).post(users::save::<S>))
        .route("/console/{ws}/users/{id}/delete", get(users::confirm_delete::<S>).post(users::delete::<S>))
        .route("/console/{ws}/groups", get(groups::list::<S>).post(groups::create::<S>))
        .route("/console/{ws}/groups/bulk", post(bulk::apply::<S>))
        .route("/console/{ws}/groups/{id}", get(group::show::<S>))
        .route("/console/{ws}/groups/{id}/candidates", get(group::candidates_fragment::<S>))
        .route("/console/{ws}/groups/{id}/members", post(group::add_members::<S>))
        .route("/console/{ws}/groups/{id}/members/{user}/remove", post(group::remove_member::<S>))
        .route("/console/{ws}/groups/{id}/members/{user}/role", post(group::member_role_change::<S>))
        .route("/console/{ws}/groups/{id}/children/{child}/remove", post(group::remove_child::<S>))
        .route("/console/{ws}/groups/{id}/permission-sets", post(group::create_set::<S>))
        .route("/console/{ws}/groups/{id}/permission-sets/{set}", post(group::save_set::<S>))
        .route(
            "/console/{ws}/groups/{id}/permission-sets/{set}/delete",
            get(group::confirm_delete_set::<S>).post(group::delete_set::<S>),
        )
        .route("/console/{ws}/groups/{id}/permission-sets/{set}/assignees", post(group::add_assignee::<S>))
        .route("/console/{ws}/groups/{id}/permission-sets/{set}/assignees/remove", post(group::remove_assignee::<S>))
        .route("/console/{ws}/groups/{id}/privileges", post(group::add_privilege::<S>))
        .route("/console/{ws}/groups/{id}/privileges/remove", post(group::remove_privilege::<S>))
        .route("/console/{ws}/groups/{id}/apply-privileges", get(group::confirm_apply::<S>).post(group::set_apply::<S>))
        .route("/console/{ws}/groups/{id}/data-scopes", post(group::put_scope::<S>))
        .route("/console/{ws}/groups/{id}/data-scopes/remove", post(group::remove_scope::<S>))
        .route("/console/{ws}/groups/{id}/policies", post(group::attach_policy::<S>))
        .route("/console/{ws}/groups/{id}/policies/detach", post(group::detach_policy::<S>))
        .route("/console/{ws}/groups/{id}/notifications", post(group::set_notify::<S>))
        .route("/console/{ws}/groups/{id}/notify", post(group::notify_now::<S>))
        .route("/console/{ws}/groups/{id}/details", post(group::save_details::<S>))
        .route("/console/{ws}/groups/{id}/delete", get(group::confirm_delete::<S>).post(group::delete::<S>))
        .route("/console/{ws}/resources", get(permissions::resources::<S>))
        .route("/console/{ws}/resource-options", get(permissions::options::<S>))
        .route("/console/{ws}/access", get(explorer::explore::<S>))
        .route(
            "/console/{ws}/resources/{kind}/{id}/permissions",
            get(permissions::show::<S>).post(permissions::add::<S>),
        )
        .route(
            "/console/{ws}/resources/{kind}/{id}/permissions/remove",
            get(permissions::confirm_remove::<S>).post(permissions::remove::<S>),
        )
        .route("/console/assets/console.js", get(|| async { asset("text/javascript; charset=utf-8", JS) }))
        .route("/console/assets/htmx.min.js", get(|| async { asset("text/javascript; charset=utf-8", HTMX) }))
        .route("/console/assets/console.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .layer(axum::middleware::from_fn(layout::security_headers))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
}
