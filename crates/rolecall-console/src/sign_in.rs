//! Signing in (workspace, email, password) and out. A failed sign-in says only that the
//! email or the password is wrong; a successful one sets the session cookie and opens the
//! workspace's users.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use rolecall_api::AppState;
use rolecall_service::ServiceError;
use rolecall_store::Store;

use crate::form::Fields;
use crate::layout::{page, refusal};
use crate::session::{COOKIE, Signed, cookie, set_cookie};

type Shared<S> = State<Arc<AppState<S>>>;

/// What the sign-in form sends.
struct SignIn {
    workspace: String,
    email: String,
    password: String,
}

impl SignIn {
    fn from_fields(fields: &Fields) -> SignIn {
        SignIn {
            workspace: fields.get("workspace").to_string(),
            email: fields.get("email").to_string(),
            password: fields.get("password").to_string(),
        }
    }
}

fn form(workspace: &str, email: &str, error: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        html! {
            h1 { "Sign in to Rolecall" }
            @if let Some(error) = error {
                p role="alert" class="error" id="sign-in-error" { (error) }
            }
            form method="post" action="/console/sign-in" class="card" {
                label for="workspace" { "Workspace" }
                input id="workspace" name="workspace" type="text" required autocomplete="organization" value=(workspace);
                label for="email" { "Email" }
                input id="email" name="email" type="email" required autocomplete="username" value=(email);
                label for="password" { "Password" }
                input id="password" name="password" type="password" required autocomplete="current-password";
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// `/`: the signed-in user's workspace, or the sign-in page.
pub async fn home<S: Store>(State(state): Shared<S>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, COOKIE)
        && let Ok(Some(session)) = state.service.session(&token).await
    {
        return Redirect::to(&format!("/console/{}/users", session.workspace)).into_response();
    }
    Redirect::to("/console/sign-in").into_response()
}

pub async fn show<S: Store>(State(_state): Shared<S>) -> Markup {
    form("", "", None)
}

pub async fn submit<S: Store>(State(state): Shared<S>, headers: HeaderMap, fields: Fields) -> Response {
    let body = SignIn::from_fields(&fields);
    match state.service.sign_in(body.workspace.trim(), body.email.trim(), &body.password).await {
        Ok((token, session)) => {
            let max_age = rolecall_service::console::SESSION_LENGTH.as_secs();
            let to = format!("/console/{}/users", session.workspace);
            (
                StatusCode::SEE_OTHER,
                [(header::SET_COOKIE, set_cookie(&headers, Some(&token), max_age)), (header::LOCATION, to)],
            )
                .into_response()
        }
        Err(ServiceError::BadCredentials) => {
            let message = "The email or the password is wrong (or this user may not sign in).";
            (StatusCode::UNAUTHORIZED, form(&body.workspace, &body.email, Some(message))).into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            refusal("Sign in", None, "The service cannot take this request now; try again in a moment."),
        )
            .into_response(),
    }
}

/// Ends the session; refused (403) without the session's CSRF token.
pub async fn sign_out<S: Store>(
    State(state): Shared<S>,
    signed: Signed,
    headers: HeaderMap,
    fields: Fields,
) -> Response {
    if let Some(stale) = signed.stale(&fields) {
        return stale;
    }
    let _ = state.service.sign_out(&signed.token).await;
    (
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, set_cookie(&headers, None, 0)), (header::LOCATION, "/console/sign-in".to_string())],
    )
        .into_response()
}
