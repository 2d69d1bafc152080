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
        Write::PutWebhook { webhook, .. } => format!("webhook `{}` already exists", webhook.id),
        Write::PutScimUser { workspace, scim } => {
            format!("userName `{}` is already used by another user of workspace `{workspace}`", scim.user_name)
        }
        other => format!("conflicting write: {other:?}"),
    }
}

/// The body of an event's deliveries (Standard Webhooks' payload: `type`, `timestamp`,
/// `data`), with the revision it happened at in `data`.
pub fn event_body(event: &crate::Event, revision: rolecall_model::Revision, at: i64) -> Result<String, StoreError> {
    let mut data = event.data.clone();
    if let serde_json::Value::Object(fields) = &mut data {
        fields.insert("workspace".into(), event.workspace.clone().into());
        fields.insert("revision".into(), revision.0.to_string().into());
    }
    text(&serde_json::json!({"type": event.kind, "timestamp": rfc3339(at), "data": data}))
}

/// Milliseconds since the Unix epoch as an RFC 3339 UTC time (`2026-11-23T14:05:09.007Z`).
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_written_in_rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(super::rfc3339(1_795_442_709_007), "2026-11-23T14:05:09.007Z");
    }
}
