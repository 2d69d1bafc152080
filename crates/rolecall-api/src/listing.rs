//! Reads and deletes of the directory, the rules of a resource, the change feed and the
//! audit log.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rolecall_model::{ResourceRef, Revision, Subject};
use rolecall_service::ServiceError;
use rolecall_store::{GrantQuery, GrantSort, PageRequest, Store};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::json::ApiQuery;
use crate::{ApiError, AppState, Caller, token};

type Shared<S> = State<Arc<AppState<S>>>;

pub(crate) fn limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(50) {
        0 | 1001.. => Err(ApiError::bad_request("invalid_limit", "`limit` is 1 to 1000")),
        n => Ok(n),
    }
}

/// Cursors are opaque to clients: `c` + hex of the key to resume after.
pub(crate) fn encode_cursor(key: &str) -> String {
    format!("c{}", key.bytes().map(|b| format!("{b:02x}")).collect::<String>())
}

pub(crate) fn decode_cursor(cursor: Option<&str>) -> Result<Option<String>, ApiError> {
    let bad = || ApiError::bad_request("invalid_cursor", "the cursor is not one this service gave");
    let Some(c) = cursor else { return Ok(None) };
    let hex = c.strip_prefix('c').ok_or_else(bad)?;
    if hex.len() % 2 != 0 || hex.len() > 512 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad())?;
    String::from_utf8(bytes).map(Some).map_err(|_| bad())
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A user as the API shows them: the directory row and whether they are active (the
/// engine's; a suspended user is allowed nothing).
pub(crate) fn user_json<S: Store>(state: &AppState<S>, ws: &str, user: &rolecall_model::User) -> Value {
    let mut v = to_json(user);
    let engine = state.service.snapshot();
    v["active"] = json!(engine.workspace(ws).ok().and_then(|i| i.is_active(&user.id)).unwrap_or(true));
    v
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    q: Option<String>,
    tag: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/users", tag = "users", summary = "List and search users (`q` matches name or email)", params(crate::listing::ListQuery), responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_users<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.actor(Some(&ws))?.require_workspace(&ws)?;
    state.service.snapshot().workspace(&ws)?;
    let req = PageRequest { after: decode_cursor(query.cursor.as_deref())?, limit: limit(query.limit)? };
    let page = state.service.store().users(&ws, query.q.as_deref(), req).await.map_err(ServiceError::from)?;
    Ok(Json(
        json!({"items": page.items.iter().map(|u| user_json(&state, &ws, u)).collect::<Vec<_>>(), "next_cursor": page.next.as_deref().map(encode_cursor)}),
    ))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/users/{id}", tag = "users", summary = "A user", responses((status = 200, description = "Done", body = rolecall_model::User)))]
pub async fn get_user<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.actor(Some(&ws))?.require_workspace(&ws)?;
    let user = state.service.store().user(&ws, &id).await.map_err(ServiceError::from)?;
    user.map(|u| Json(user_json(&state, &ws, &u)))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "user_not_found", format!("user `{id}` not found")))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/users/{id}", tag = "users", summary = "Delete a user with their memberships and grants", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn delete_user<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(crate::manage::deleted(state.service.delete_user(&actor, &ws, &id).await?))
}

pub(crate) fn group_json<S: Store>(state: &AppState<S>, ws: &str, g: &rolecall_model::Group) -> Value {
    let mut v = to_json(g);
    let engine = state.service.snapshot();
    let index = engine.workspace(ws).ok();
    v["builtin"] = json!(index.and_then(|i| i.builtin(&g.id)).is_some());
    v["member_count"] = json!(index.and_then(|i| i.member_count(&g.id)).unwrap_or(0));
    v
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/groups", tag = "groups", summary = "List groups (`q`, `tag`); private groups are hidden from users who cannot see them", params(crate::listing::ListQuery), responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_groups<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    actor.require_workspace(&ws)?;
    state.service.snapshot().workspace(&ws)?;
    let req = PageRequest { after: decode_cursor(query.cursor.as_deref())?, limit: limit(query.limit)? };
    let page = state
        .service
        .store()
        .groups(&ws, query.q.as_deref(), query.tag.as_deref(), req)
        .await
        .map_err(ServiceError::from)?;
    // A user sees only the groups they may view: private groups stay invisible to outsiders.
    let visible = |id: &str| match &actor {
        rolecall_service::Actor::User { user, .. } => state
            .service
            .snapshot()
            .workspace(&ws)
            .and_then(|i| i.check(user, "view", &ResourceRef::new("group", id)).map(|d| d.allowed))
            .unwrap_or(false),
        _ => true,
    };
    let items: Vec<Value> = page.items.iter().filter(|g| visible(&g.id)).map(|g| group_json(&state, &ws, g)).collect();
    Ok(Json(json!({"items": items, "next_cursor": page.next.as_deref().map(encode_cursor)})))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/groups/{id}", tag = "groups", summary = "A group with its member count", responses((status = 200, description = "Done", body = crate::openapi::GroupOut)))]
pub async fn get_group<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    actor.require_workspace(&ws)?;
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "group_not_found", format!("group `{id}` not found"));
    if let rolecall_service::Actor::User { user, .. } = &actor {
        let engine = state.service.snapshot();
        let allowed = engine.workspace(&ws)?.check(user, "view", &ResourceRef::new("group", &id)).map(|d| d.allowed);
        // A private group the user may not see does not exist for them.
        if !allowed.unwrap_or(false) {
            return Err(not_found());
        }
    }
    let group = state.service.store().group(&ws, &id).await.map_err(ServiceError::from)?;
    group.map(|g| Json(group_json(&state, &ws, &g))).ok_or_else(not_found)
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/groups/{id}", tag = "groups", summary = "Delete a group (needs `delete`)", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn delete_group<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(crate::manage::deleted(state.service.delete_group(&actor, &ws, &id).await?))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/groups/{g}/members/users/{u}", tag = "members", summary = "Remove a user from a group", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn delete_member<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, u)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(crate::manage::deleted(state.service.remove_member(&actor, &ws, &g, &u).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantListQuery {
    subject_kind: Option<String>,
    q: Option<String>,
    roles: Option<String>,
    sort: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/resources/{type}/{id}/grants", tag = "grants", summary = "The rules of a resource (tabs, search, role filter, sort)", params(crate::listing::GrantListQuery), responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_grants<S: Store>(
    State(state): Shared<S>,
    Path((ws, kind, id)): Path<(String, String, String)>,
    caller: Caller,
    ApiQuery(query): ApiQuery<GrantListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.actor(Some(&ws))?.require_workspace(&ws)?;
    let resource = ResourceRef::new(kind, id);
    state.service.snapshot().workspace(&ws)?.require_resource(&resource)?;
    let users = match query.subject_kind.as_deref() {
        None => None,
        Some("user") => Some(true),
        Some("group") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("`subject_kind` is user or group, not `{other}`"),
            ));
        }
    };
    let sort = match query.sort.as_deref() {
        None | Some("name") => GrantSort::Name,
        Some("recent_activity") => GrantSort::RecentActivity,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("`sort` is name or recent_activity, not `{other}`"),
            ));
        }
    };
    let offset = match decode_cursor(query.cursor.as_deref())? {
        None => 0,
        Some(n) => {
            n.parse().map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this service gave"))?
        }
    };
    let roles =
        query.roles.map(|r| r.split(',').filter(|x| !x.is_empty()).map(String::from).collect()).unwrap_or_default();
    let q = GrantQuery { users, search: query.q, roles, sort, offset, limit: limit(query.limit)? };
    let page = state.service.store().grants(&ws, &resource, q).await.map_err(ServiceError::from)?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| json!({"subject": r.subject, "subject_name": r.subject_name, "subject_email": r.subject_email, "role": r.role, "updated_at": r.updated_at}))
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": page.next.as_deref().map(encode_cursor)})))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevokeQuery {
    user: Option<String>,
    group: Option<String>,
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/resources/{type}/{id}/grants", tag = "grants", summary = "Remove a rule (`?user=` or `?group=`)", params(crate::listing::RevokeQuery), responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn revoke_grant<S: Store>(
    State(state): Shared<S>,
    Path((ws, kind, id)): Path<(String, String, String)>,
    caller: Caller,
    ApiQuery(query): ApiQuery<RevokeQuery>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let subject = match (query.user, query.group) {
        (Some(u), None) => Subject::User(u),
        (None, Some(g)) => Subject::Group(g),
        _ => return Err(ApiError::bad_request("invalid_query", "give exactly one of `user` or `group`")),
    };
    Ok(crate::manage::deleted(state.service.revoke_grant(&actor, &ws, &ResourceRef::new(kind, id), &subject).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    after: Option<String>,
    wait: Option<u64>,
    limit: Option<u32>,
}

/// The most a long poll waits.
pub const MAX_WAIT_SECONDS: u64 = 30;

#[utoipa::path(get, path = "/v1/workspaces/{ws}/changes", tag = "record", summary = "Ordered changes after a revision (long poll with `wait`)", params(crate::listing::ChangesQuery), responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn changes<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ChangesQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.actor(Some(&ws))?.require_workspace(&ws)?;
    state.service.snapshot().workspace(&ws)?;
    let after = match query.after.as_deref() {
        None => Revision(0),
        Some(t) => Revision(
            t.parse().map_err(|_| ApiError::bad_request("invalid_cursor", format!("`{t}` is not a revision token")))?,
        ),
    };
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECONDS {
        return Err(ApiError::bad_request("invalid_query", format!("`wait` is at most {MAX_WAIT_SECONDS} seconds")));
    }
    let limit = limit(query.limit)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    loop {
        let found = state.service.store().workspace_changes(&ws, after, limit).await.map_err(ServiceError::from)?;
        if !found.is_empty() || tokio::time::Instant::now() >= deadline {
            let last = found.last().map_or(after, |c| c.revision);
            let items: Vec<Value> = found
                .iter()
                .map(|c| json!({"revision": token(c.revision), "at": c.at, "change": to_json(&c.change)}))
                .collect();
            return Ok(Json(json!({"items": items, "next_cursor": token(last)})));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    after: Option<String>,
    actor: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/audit", tag = "record", summary = "Who changed what, when, before and after (admins)", params(crate::listing::AuditQuery), responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn audit<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    crate::require_admin_caller(&state, &caller, &ws)?;
    let after = match query.after.as_deref() {
        None => 0,
        Some(t) => {
            t.parse().map_err(|_| ApiError::bad_request("invalid_cursor", "the cursor is not one this service gave"))?
        }
    };
    let limit = limit(query.limit)?;
    let entries =
        state.service.store().audit(&ws, after, query.actor.as_deref(), limit).await.map_err(ServiceError::from)?;
    let next = (entries.len() == limit as usize).then(|| entries.last().map(|e| e.id.to_string())).flatten();
    let items: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({"id": e.id.to_string(), "revision": token(e.revision), "actor": e.actor, "at": e.at,
            "action": e.record.action, "target": e.record.target, "before": e.record.before, "after": e.record.after})
        })
        .collect();
    Ok(Json(json!({"items": items, "next_cursor": next})))
}
