//! The one place errors become HTTP: a status and `{"error": {"code", "message"}}`.
//! Internal details go to the log, never to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rolecall_engine::EngineError;
use rolecall_service::ServiceError;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Structured facts about the refusal (`{}` when there are none).
    pub details: serde_json::Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), details: json!({}) }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> ApiError {
        self.details = details;
        self
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "a valid `Authorization: Bearer <key>` is required")
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        let status = match &e {
            ServiceError::Engine(engine) => engine_status(engine),
            ServiceError::Field(_) | ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ServiceError::BadCredentials => StatusCode::UNAUTHORIZED,
            ServiceError::ApiKeyNotFound(_) | ServiceError::WebhookNotFound(_) | ServiceError::DeliveryNotFound(_) => {
                StatusCode::NOT_FOUND
            }
            ServiceError::Conflict(_) | ServiceError::RoleConflict { .. } => StatusCode::CONFLICT,
            ServiceError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ServiceError::NotYet { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Store(rolecall_store::StoreError::HeadMoved { .. }) => StatusCode::CONFLICT,
            ServiceError::Stale { .. } | ServiceError::Store(_) | ServiceError::Corrupt(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        let message = match &e {
            ServiceError::Store(_) | ServiceError::Corrupt(_) => {
                tracing::error!(error = %e, "internal error");
                "the service cannot take this request now; retry later".to_string()
            }
            other => other.to_string(),
        };
        let details = match &e {
            ServiceError::Engine(engine) => engine_details(engine),
            ServiceError::RoleConflict { held } => json!({"held": held}),
            ServiceError::NotYet { wanted } => json!({"at_least": wanted.to_string()}),
            ServiceError::Stale { millis } => json!({"stale_ms": millis}),
            _ => json!({}),
        };
        ApiError { status, code: e.code(), message, details }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        ApiError { status: engine_status(&e), code: e.code(), message: e.to_string(), details: engine_details(&e) }
    }
}

/// The facts a client acts on, beyond the message.
fn engine_details(e: &EngineError) -> serde_json::Value {
    match e {
        EngineError::SchemaOrphans(orphans) => json!({"orphans": orphans}),
        EngineError::LimitExceeded { limit, max, group } => json!({"limit": limit, "max": max, "group": group}),
        EngineError::Cycle { group, child } => json!({"group": group, "child": child}),
        EngineError::ResourceHasChildren { resource, children } => json!({"resource": resource, "children": children}),
        _ => json!({}),
    }
}

fn engine_status(e: &EngineError) -> StatusCode {
    use EngineError::*;
    if e.is_not_found() {
        return StatusCode::NOT_FOUND;
    }
    match e {
        WorkspaceExists(_)
        | Cycle { .. }
        | LastOwner(_)
        | BuiltinGroup { .. }
        | BuiltinPermissionSet(..)
        | ResourceHasChildren { .. }
        | SchemaOrphans(_)
        | StaleRevision { .. } => StatusCode::CONFLICT,
        LimitExceeded { .. } => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message, "details": self.details}});
        (self.status, Json(body)).into_response()
    }
}
