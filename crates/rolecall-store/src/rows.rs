//! What the SQL stores share: how values become columns and back, what a unique-key
//! violation means in the user's words, and how a listing is cut into pages. Each store
//! keeps only its SQL and its row decoding.

use rolecall_model::Subject;

use crate::{Page, StoreError, Write};

pub fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// A value as a JSON text column.
pub fn text<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(corrupt)
}

/// A serde enum written as its bare name (`"public"` -> `public`).
pub fn name_of<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    match serde_json::to_value(value).map_err(corrupt)? {
        serde_json::Value::String(s) => Ok(s),
        other => Err(corrupt(format!("expected a name, got {other}"))),
    }
}

/// The enum a bare name column holds.
pub fn from_name<T: serde::de::DeserializeOwned>(name: String) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(name)).map_err(corrupt)
}

/// What a unique-key violation of `write` means, in the user's words.
pub fn conflict(write: &Write) -> String {
    match write {
        Write::PutUser { workspace, user } => {
            format!("email `{}` is already used by another user of workspace `{workspace}`", user.email)
        }
        Write::PutGroup { workspace, group } => {
            format!("group name `{}` is already used in workspace `{workspace}`", group.name)
        }
        Write::PutApiKey { key, .. } => format!("API key `{}` already exists", key.id),
        other => format!("conflicting write: {other:?}"),
    }
}

/// A subject as its `(subject_kind, subject_id)` columns.
pub fn subject_parts(subject: &Subject) -> (&'static str, &str) {
    match subject {
        Subject::User(id) => ("user", id),
        Subject::Group(id) => ("group", id),
    }
}

/// Cuts the one extra row a listing read (`limit + 1`) off into the `next` key.
pub fn page<T>(mut items: Vec<T>, limit: u32, key: impl Fn(&T) -> String) -> Page<T> {
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(key)
    } else {
        None
    };
    Page { items, next }
}
