//! What every console write shares: reading a form (fields may repeat, as ticked boxes
//! do), the answers for a page that is not there, a form that has expired and a service
//! that cannot answer now, and the refusal of a service command in the user's words.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rolecall_service::{Actor, ServiceError};

use crate::layout::refusal;
use crate::session::Signed;

/// A URL-encoded form body, its fields in order (a name may repeat). As an extractor it
/// takes any body and reads it as a form: one that is not (another content type, bytes
/// that are not a form) simply has none of the fields a page asks for, so the page answers
/// as for a missing field (an expired form, a wrong sign-in) instead of a bare-text error.
#[derive(Default)]
pub struct Fields(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for Fields {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Fields, Response> {
        let body = Bytes::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        Ok(Fields::parse(&body))
    }
}

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// The first value of `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
    }
}

impl Signed {
    /// The signed-in user as the service's actor.
    pub fn actor(&self) -> Actor {
        Actor::User { workspace: self.session.workspace.clone(), user: self.session.user.clone() }
    }

    /// The page that says there is nothing here, unless this session is for `ws` (another
    /// workspace is not there, as everywhere in Rolecall).
    pub fn outside(&self, ws: &str) -> Option<Response> {
        (self.session.workspace != ws).then(|| not_found(self, "There is no such page."))
    }

    /// The refusal of a form whose CSRF token is not this session's.
    pub fn stale(&self, fields: &Fields) -> Option<Response> {
        (!self.csrf_ok(fields.get("csrf"))).then(|| {
            let message = "This form has expired: reload the page and try again.";
            (StatusCode::FORBIDDEN, refusal("Expired form", Some(self), message)).into_response()
        })
    }
}

pub fn not_found(signed: &Signed, message: &str) -> Response {
    (StatusCode::NOT_FOUND, refusal("Not found", Some(signed), message)).into_response()
}

pub fn unavailable(signed: &Signed, title: &str) -> Response {
    let message = "The service cannot take this now; try again in a moment.";
    (StatusCode::SERVICE_UNAVAILABLE, refusal(title, Some(signed), message)).into_response()
}

/// Where the browser goes after a write that was done.
pub fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// A refusal in the user's words, with its status (the API's, from the one mapping).
pub fn say(e: ServiceError, forbidden: &str) -> (StatusCode, String) {
    let api = rolecall_api::ApiError::from(e);
    let message = match api.status {
        StatusCode::FORBIDDEN => forbidden.to_string(),
        s if s.is_server_error() => "The service cannot take this now; try again in a moment.".to_string(),
        _ => format!("{}.", capitalised(&api.message)),
    };
    (api.status, message)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().collect::<String>() + chars.as_str()).unwrap_or_default()
}

/// Percent-encodes a query or path value.
pub fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_are_all_kept_in_order() {
        let f = Fields::parse(b"csrf=t&users=a&users=b%20c&role=owner");
        assert_eq!(f.get("csrf"), "t");
        assert_eq!(f.all("users"), vec!["a".to_string(), "b c".to_string()]);
        assert_eq!(f.get("missing"), "");
        assert_eq!(urlencode("a b/é"), "a%20b%2F%C3%A9");
    }
}
