//! Who is signed in: the session cookie (`HttpOnly`, `SameSite=Strict`, `Secure` behind
//! https), the extractor every page takes, and the CSRF token each form carries.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rolecall_api::AppState;
use rolecall_store::{Session, Store};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "rolecall_session";

/// The value of cookie `name` in a request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether the request reached us over https (directly or through a proxy that says so).
fn https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

/// The `Set-Cookie` that starts a session, or (`token: None`) ends it.
pub fn set_cookie(headers: &HeaderMap, token: Option<&str>, max_age_secs: u64) -> String {
    let secure = if https(headers) { "; Secure" } else { "" };
    match token {
        Some(t) => format!("{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// A signed-in user: every console page but sign-in takes one. Without a live session
/// (none, expired, signed out, or the user suspended or deleted) the browser is sent to
/// the sign-in page.
pub struct Signed {
    pub session: Session,
    pub token: String,
}

impl Signed {
    /// Whether a form's CSRF token is this session's (compared in constant time).
    pub fn csrf_ok(&self, given: &str) -> bool {
        bool::from(self.session.csrf.as_bytes().ct_eq(given.as_bytes()))
    }
}

impl<S: Store> FromRequestParts<Arc<AppState<S>>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState<S>>) -> Result<Signed, Response> {
        let to_sign_in = || Redirect::to("/console/sign-in").into_response();
        let Some(token) = cookie(&parts.headers, COOKIE).filter(|t| !t.is_empty()) else { return Err(to_sign_in()) };
        match state.service.session(&token).await {
            Ok(Some(session)) => Ok(Signed { session, token }),
            Ok(None) => Err(to_sign_in()),
            Err(_) => Err((StatusCode::SERVICE_UNAVAILABLE, "the service cannot take this request now; retry later")
                .into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "theme=dark; rolecall_session=abc123".parse().unwrap());
        assert_eq!(cookie(&headers, COOKIE).as_deref(), Some("abc123"));
        assert_eq!(cookie(&headers, "other"), None);
        let set = set_cookie(&headers, Some("t"), 60);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"));
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert!(set_cookie(&headers, None, 0).ends_with("; Secure"));
    }
}
