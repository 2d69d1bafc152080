//! Webhooks, their deliveries, and users' notifications over HTTP.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use rolecall_store::{Delivery, DeliveryState, Store, Webhook};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::json::{ApiJson, ApiQuery};
use crate::listing::limit;
use crate::{ApiError, Caller, Shared, token, valid_id};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    id: Option<String>,
    /// Where deliveries are POSTed (http or https).
    url: String,
    /// `whsec_` and the base64 of 24 to 64 random bytes; generated (and shown only in this
    /// answer) when left out.
    secret: Option<String>,
    /// Event types (`group.member.put`, `access.changed`), prefixes (`group.*`) or `*`.
    events: Vec<String>,
}

fn webhook_json(w: &Webhook) -> Value {
    json!({"id": w.id, "url": w.url, "events": w.events, "created_at": w.created_at})
}

fn delivery_json(d: &Delivery) -> Value {
    let payload: Value = serde_json::from_str(&d.body).unwrap_or(Value::Null);
    json!({
        "id": d.id.to_string(), "message_id": d.message_id(), "webhook": d.webhook, "event": d.event,
        "state": d.state, "attempts": d.attempts,
        "next_attempt_at": (d.state == DeliveryState::Pending).then_some(d.next_attempt_at),
        "last_status": d.last_status, "last_error": d.last_error,
        "created_at": d.created_at, "updated_at": d.updated_at, "payload": payload,
    })
}

fn cursor(after: Option<&str>) -> Result<u64, ApiError> {
    match after {
        None => Ok(0),
        Some(t) => {
            t.parse().map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this service gave"))
        }
    }
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/webhooks", tag = "record", summary = "Subscribe a URL to the workspace's events (admins); deliveries are signed per Standard Webhooks", request_body = NewWebhook, responses((status = 201, description = "Done", body = Object)))]
pub async fn create_webhook<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(body): ApiJson<NewWebhook>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let generated = body.secret.is_none();
    let secret = match body.secret {
        Some(secret) => secret,
        None => {
            use base64::Engine as _;
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes)
                .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "internal", "no randomness available"))?;
            format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    };
    let created_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let webhook = Webhook { id: valid_id("webhook", body.id)?, url: body.url, secret, events: body.events, created_at };
    let revision = state.service.create_webhook(&actor, &ws, webhook.clone()).await?;
    let mut out = webhook_json(&webhook);
    if generated {
        out["secret"] = json!(webhook.secret);
    }
    out["revision"] = json!(token(revision));
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhooks", tag = "record", summary = "The workspace's webhooks (admins; secrets are never shown again)", responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_webhooks<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let hooks = state.service.webhooks(&caller.actor(Some(&ws))?, &ws).await?;
    Ok(Json(json!({"items": hooks.iter().map(webhook_json).collect::<Vec<_>>(), "next_cursor": null})))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhooks/{id}", tag = "record", summary = "One webhook", responses((status = 200, description = "Done", body = Object)))]
pub async fn get_webhook<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(webhook_json(&state.service.webhook(&caller.actor(Some(&ws))?, &ws, &id).await?)))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/webhooks/{id}", tag = "record", summary = "End a subscription and drop its deliveries", responses((status = 204, description = "Done")))]
pub async fn delete_webhook<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let revision = state.service.delete_webhook(&caller.actor(Some(&ws))?, &ws, &id).await?;
    Ok((StatusCode::NO_CONTENT, [("rolecall-revision", token(revision))]))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `dead`.
    state: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/webhooks/{id}/deliveries", tag = "record", summary = "A webhook's deliveries, oldest first, with their state, attempts and last response", params(DeliveryQuery), responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_deliveries<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
    ApiQuery(query): ApiQuery<DeliveryQuery>,
) -> Result<Json<Value>, ApiError> {
    let wanted =
        match query.state.as_deref() {
            None => None,
            Some(s) => Some(rolecall_store::rows::from_name::<DeliveryState>(s.to_string()).map_err(|_| {
                ApiError::bad_request("invalid_query", "`state` is one of `pending`, `delivered`, `dead`")
            })?),
        };
    let limit = limit(query.limit)?;
    let after = cursor(query.cursor.as_deref())?;
    let found = state.service.deliveries(&caller.actor(Some(&ws))?, &ws, &id, wanted, after, limit).await?;
    let next = (found.len() == limit as usize).then(|| found.last().map(|d| d.id.to_string())).flatten();
    Ok(Json(json!({"items": found.iter().map(delivery_json).collect::<Vec<_>>(), "next_cursor": next})))
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/webhooks/{id}/deliveries/{delivery}/redeliver", tag = "record", summary = "Send a delivery again (a dead one, say), with a fresh set of attempts", responses((status = 202, description = "Queued", body = Object)))]
pub async fn redeliver<S: Store>(
    State(state): Shared<S>,
    Path((ws, id, delivery)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let number: u64 = delivery.parse().map_err(|_| {
        ApiError::new(StatusCode::NOT_FOUND, "delivery_not_found", format!("delivery `{delivery}` not found"))
    })?;
    let again = state.service.redeliver(&caller.actor(Some(&ws))?, &ws, &id, number).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery_json(&again))))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    cursor: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/users/{id}/notifications", tag = "record", summary = "What a user was told about their access, oldest first (the user themself, or admins)", params(NotificationQuery), responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_notifications<S: Store>(
    State(state): Shared<S>,
    Path((ws, user)): Path<(String, String)>,
    caller: Caller,
    ApiQuery(query): ApiQuery<NotificationQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = limit(query.limit)?;
    let after = cursor(query.cursor.as_deref())?;
    let found = state.service.notifications(&caller.actor(Some(&ws))?, &ws, &user, after, limit).await?;
    let next = (found.len() == limit as usize).then(|| found.last().map(|n| n.id.to_string())).flatten();
    let items: Vec<Value> = found
        .iter()
        .map(|n| {
            let mut item = json!({"id": n.id.to_string(), "user": n.user, "group": n.group, "reason": n.reason,
                "revision": token(n.revision), "created_at": n.at});
            if let (Value::Object(item), Value::Object(body)) = (&mut item, &n.body) {
                for (k, v) in body {
                    item.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            item
        })
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": next})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyGroups {
    group_ids: Vec<String>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/groups/notify", tag = "groups", summary = "Notify users of their access: each member of the groups gets a summary (needs edit on every group)", request_body = NotifyGroups, responses((status = 200, description = "Done", body = Object)))]
pub async fn notify_groups<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(body): ApiJson<NotifyGroups>,
) -> Result<Json<Value>, ApiError> {
    let (sent, revision) = state.service.notify_members(&caller.actor(Some(&ws))?, &ws, &body.group_ids).await?;
    Ok(Json(json!({"sent": sent, "revision": token(revision)})))
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/groups/{g}/notify", tag = "groups", summary = "Notify the group's members of their access", responses((status = 200, description = "Done", body = Object)))]
pub async fn notify_group<S: Store>(
    State(state): Shared<S>,
    Path((ws, g)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let (sent, revision) = state.service.notify_members(&caller.actor(Some(&ws))?, &ws, &[g]).await?;
    Ok(Json(json!({"sent": sent, "revision": token(revision)})))
}
