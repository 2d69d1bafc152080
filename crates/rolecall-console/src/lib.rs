//! Rolecall's web console (issue 5), served by the same binary at `/`: pages rendered on
//! the server (maud) with htmx for partial updates. Every page acts as the signed-in user
//! (`Actor::User`) through the same service layer as the API, so authorization, limits,
//! the audit log and webhooks are the same whichever way a change comes in.
//!
//! - `session.rs`: the session cookie, the signed-in extractor, CSRF.
//! - `layout.rs`: the page shell (landmarks, navigation, sign-out), security headers.
//! - `sign_in.rs`: signing in and out.
//! - `users.rs`: User management > Users.
//! - `groups.rs`: User management > Groups, and + Add group.

mod groups;
mod layout;
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

/// The console's routes, to be served beside the API (`rolecall_api::router_with`).
pub fn routes<S: Store>() -> Router<Arc<AppState<S>>> {
    Router::new()
        .route("/", get(sign_in::home::<S>))
        .route("/console/sign-in", get(sign_in::show::<S>).post(sign_in::submit::<S>))
        .route("/console/sign-out", post(sign_in::sign_out::<S>))
        .route("/console/{ws}/users", get(users::list::<S>).post(users::create::<S>))
        .route("/console/{ws}/users/{id}/delete", get(users::confirm_delete::<S>).post(users::delete::<S>))
        .route("/console/{ws}/groups", get(groups::list::<S>).post(groups::create::<S>))
        .route("/console/assets/htmx.min.js", get(|| async { asset("text/javascript; charset=utf-8", HTMX) }))
        .route("/console/assets/console.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .layer(axum::middleware::from_fn(layout::security_headers))
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body)
}
