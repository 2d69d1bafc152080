//! Why a command was refused, in the terms the API maps to status codes.

use rolecall_engine::EngineError;
use rolecall_model::FieldError;
use rolecall_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Field(#[from] FieldError),
    #[error("{0}")]
    Forbidden(String),
    /// A sign-in that failed, whatever the reason (no such user, no password, a wrong
    /// one, a suspended user): the answer never says which.
    #[error("the email or the password is wrong")]
    BadCredentials,
    #[error("API key `{0}` not found")]
    ApiKeyNotFound(String),
    #[error("webhook `{0}` not found")]
    WebhookNotFound(String),
    #[error("delivery {0} not found")]
    DeliveryNotFound(u64),
    /// Input the service cannot take (a malformed import, say).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the subject already holds role `{held}`; pass replace to change it")]
    RoleConflict { held: String },
    #[error("{0}")]
    TooLarge(String),
    #[error("revision {wanted} is not visible yet; retry")]
    NotYet { wanted: u64 },
    /// This process follows a log others write to and could not confirm it is current
    /// (the database is away): it answers no question rather than a stale one.
    #[error("this server has not reached its database for {millis} ms; answers could be stale, retry")]
    Stale { millis: u64 },
    #[error(transparent)]
    Store(StoreError),
    #[error("internal state is inconsistent: {0}")]
    Corrupt(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ServiceError::Conflict(m),
            other => ServiceError::Store(other),
        }
    }
}

impl ServiceError {
    /// A stable snake_case code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Engine(e) => e.code(),
            ServiceError::Field(_) => "invalid_field",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::BadCredentials => "bad_credentials",
            ServiceError::Invalid(_) => "invalid_input",
            ServiceError::ApiKeyNotFound(_) => "api_key_not_found",
            ServiceError::WebhookNotFound(_) => "webhook_not_found",
            ServiceError::DeliveryNotFound(_) => "delivery_not_found",
            ServiceError::Conflict(_) => "conflict",
            ServiceError::RoleConflict { .. } => "role_conflict",
            ServiceError::TooLarge(_) => "too_large",
            ServiceError::NotYet { .. } => "not_yet_consistent",
            ServiceError::Stale { .. } => "replica_stale",
            ServiceError::Store(StoreError::HeadMoved { .. }) => "retry",
            ServiceError::Store(_) => "storage_failed",
            ServiceError::Corrupt(_) => "internal",
        }
    }
}
