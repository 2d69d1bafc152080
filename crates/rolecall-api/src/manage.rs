//! Management endpoints beyond creation: workspaces and their schema, edits (PATCH) of
//! users, groups and resources, members and nested groups, permission sets, policies,
//! data scopes and bulk group actions (API.md "Workspaces and schema" and "Directory").

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use rolecall_engine::BuiltinSet;
use rolecall_model::{
    Effect, GroupPermission, MemberRole, Notify, Resource, ResourceRef, Revision, SchemaDoc, Subject, UserKind,
    Visibility,
};
use rolecall_service::{Actor, BulkAction, ServiceError};
use rolecall_store::{PageRequest, Store, label};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::json::{ApiJson, ApiQuery, OptionalJson};
use crate::listing::{decode_cursor, encode_cursor, limit, to_json};
use crate::{ApiError, AppState, Caller, token, valid_id};

type Shared<S> = State<Arc<AppState<S>>>;

/// The header every write carries its revision in (bodies carry it too, except 204s).
pub const REVISION_HEADER: HeaderName = HeaderName::from_static("rolecall-revision");

/// 204 for a delete, with the revision it made.
pub fn deleted(revision: Revision) -> impl IntoResponse {
    (StatusCode::NO_CONTENT, [(REVISION_HEADER, token(revision))])
}

/// `{"revision": ...}` for a write with nothing else to say.
fn written(revision: Revision) -> Json<Value> {
    Json(json!({"revision": token(revision)}))
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`) in a PATCH.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn not_found(code: &'static str, what: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, code, format!("{what} not found"))
}

/// Refuses a user actor who may not `view` the group; a private group they cannot see is
/// a 404, as if it did not exist.
fn require_group_view<S: Store>(state: &AppState<S>, actor: &Actor, ws: &str, group: &str) -> Result<(), ApiError> {
    actor.require_workspace(ws)?;
    let engine = state.service.snapshot();
    let index = engine.workspace(ws)?;
    let allowed = match actor {
        Actor::User { user, .. } => {
            index.check(user, "view", &ResourceRef::new("group", group)).map(|d| d.allowed).unwrap_or(false)
        }
        _ => index.member_count(group).is_some(),
    };
    if allowed { Ok(()) } else { Err(not_found("group_not_found", format!("group `{group}`"))) }
}

// ---------------------------------------------------------------- workspaces and schema

#[utoipa::path(get, path = "/v1/workspaces/{ws}", tag = "workspaces", summary = "A workspace and its counts", responses((status = 200, description = "Done", body = crate::openapi::WorkspaceInfo)))]
pub async fn get_workspace<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.actor(Some(&ws))?.require_workspace(&ws)?;
    let row = state.service.store().workspace(&ws).await.map_err(ServiceError::from)?;
    let row = row.ok_or_else(|| not_found("workspace_not_found", format!("workspace `{ws}`")))?;
    let engine = state.service.snapshot();
    let index = engine.workspace(&ws)?;
    Ok(Json(json!({
        "id": row.id,
        "name": row.name,
        "users": index.user_ids().count(),
        "groups": index.group_ids().count(),
        "resources": index.resource_refs().count(),
        "revision": token(engine.revision()),
    })))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}", tag = "workspaces", summary = "Delete a workspace and everything in it (root key only)", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn delete_workspace<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(deleted(state.service.delete_workspace(&actor, &ws).await?))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/schema", tag = "workspaces", summary = "The schema", responses((status = 200, description = "Done", body = rolecall_model::SchemaDoc)))]
pub async fn get_schema<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.actor(Some(&ws))?.require_workspace(&ws)?;
    let schema = state.service.store().schema(&ws).await.map_err(ServiceError::from)?;
    schema.map(Json).ok_or_else(|| not_found("workspace_not_found", format!("workspace `{ws}`")))
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/schema", tag = "workspaces", summary = "Replace the schema (409 `schema_orphans` names what would not fit)", request_body = rolecall_model::SchemaDoc, responses((status = 200, description = "Done", body = crate::openapi::Written)))]
pub async fn put_schema<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(schema): ApiJson<SchemaDoc>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(written(state.service.replace_schema(&actor, &ws, schema).await?))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/api-keys", tag = "workspaces",
    summary = "The workspace's API keys (ids and names; secrets are never shown again)",
    responses((status = 200, description = "Keys", body = crate::openapi::Page)))]
pub async fn list_api_keys<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    crate::require_admin_caller(&state, &caller, &ws)?;
    let keys = state.service.store().api_keys(&ws).await.map_err(ServiceError::from)?;
    let items: Vec<Value> =
        keys.iter().map(|k| json!({"id": k.id, "name": k.name, "created_at": k.created_at})).collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/api-keys/{id}", tag = "workspaces",
    summary = "Revoke an API key: its next request is a 401",
    responses((status = 204, description = "Revoked")))]
pub async fn delete_api_key<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    state.service.delete_api_key(&actor, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- edits

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    email: Option<String>,
    name: Option<String>,
    workspace_role: Option<String>,
    kind: Option<UserKind>,
    /// `false` suspends the user: nothing is allowed to them, and what they hold is kept.
    active: Option<bool>,
}

#[utoipa::path(patch, path = "/v1/workspaces/{ws}/users/{id}", tag = "users", summary = "Change a user", request_body = crate::manage::UserPatch, responses((status = 200, description = "Done", body = crate::openapi::UserOut)))]
pub async fn patch_user<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    actor.require_workspace(&ws)?;
    let user = state.service.store().user(&ws, &id).await.map_err(ServiceError::from)?;
    let mut user = user.ok_or_else(|| not_found("user_not_found", format!("user `{id}`")))?;
    if let Some(email) = patch.email {
        user.email = email;
    }
    if let Some(name) = patch.name {
        user.name = name;
    }
    if let Some(role) = patch.workspace_role {
        user.workspace_role = role;
    }
    if let Some(kind) = patch.kind {
        user.kind = kind;
    }
    let revision = state.service.update_user(&actor, &ws, user.clone(), patch.active).await?;
    let mut out = crate::listing::user_json(&state, &ws, &user);
    out["revision"] = json!(token(revision));
    Ok(Json(out))
}

/// A console password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

impl std::fmt::Debug for NewPassword {
    // The password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword { .. }")
    }
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/users/{id}/password", tag = "users", summary = "Set a user's web console password (the user themself, or an admin); every session of the user ends", request_body = crate::manage::NewPassword, responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn put_password<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
    ApiJson(body): ApiJson<NewPassword>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(deleted(state.service.set_password(&actor, &ws, &id, &body.password).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPatch {
    name: Option<String>,
    description: Option<String>,
    tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    icon: Option<Option<String>>,
    visibility: Option<Visibility>,
    apply_privileges: Option<bool>,
    notify: Option<Notify>,
}

#[utoipa::path(patch, path = "/v1/workspaces/{ws}/groups/{id}", tag = "groups", summary = "Change a group (needs `edit`)", request_body = crate::manage::GroupPatch, responses((status = 200, description = "Done", body = crate::openapi::GroupOut)))]
pub async fn patch_group<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
    ApiJson(patch): ApiJson<GroupPatch>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    require_group_view(&state, &actor, &ws, &id)?;
    let group = state.service.store().group(&ws, &id).await.map_err(ServiceError::from)?;
    let mut group = group.ok_or_else(|| not_found("group_not_found", format!("group `{id}`")))?;
    if let Some(v) = patch.name {
        group.name = v;
    }
    if let Some(v) = patch.description {
        group.description = v;
    }
    if let Some(v) = patch.tags {
        group.tags = v;
    }
    if let Some(v) = patch.icon {
        group.icon = v;
    }
    if let Some(v) = patch.visibility {
        group.visibility = v;
    }
    if let Some(v) = patch.apply_privileges {
        group.apply_privileges = v;
    }
    if let Some(v) = patch.notify {
        group.notify = v;
    }
    let revision = state.service.update_group(&actor, &ws, group.clone()).await?;
    let mut out = crate::listing::group_json(&state, &ws, &group);
    out["revision"] = json!(token(revision));
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ActivityBody {
    /// Milliseconds since the Unix epoch; now when absent.
    at: Option<i64>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/users/{id}/activity", tag = "users",
    summary = "Record that a user was active (the Recent Activity sort of a resource's rules)",
    request_body = ActivityBody,
    responses((status = 200, description = "Recorded", body = Object)))]
pub async fn record_activity<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
    // No body means "now".
    OptionalJson(body): OptionalJson<ActivityBody>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let at = state.service.record_activity(&actor, &ws, &id, body.at).await?;
    Ok(Json(json!({"user": id, "last_active_at": at})))
}

// ---------------------------------------------------------------- resources

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResourceListQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
    q: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Whether a user actor may see that a resource exists: admins see all; others see what
/// they hold some role on.
fn sees_resource(index: &rolecall_engine::WorkspaceIndex, actor: &Actor, resource: &ResourceRef) -> bool {
    match actor {
        Actor::User { user, .. } => {
            index.is_admin_user(user).unwrap_or(false) || index.effective_role(user, resource).ok().flatten().is_some()
        }
        _ => true,
    }
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/resources", tag = "resources", summary = "List resources (`type`, `q`)", params(crate::manage::ResourceListQuery), responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_resources<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ResourceListQuery>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    actor.require_workspace(&ws)?;
    if let Some(kind) = &query.kind {
        state
            .service
            .snapshot()
            .workspace(&ws)?
            .schema()
            .type_ix(kind)
            .ok_or_else(|| ApiError::from(rolecall_engine::EngineError::UnknownType(kind.clone())))?;
    } else {
        state.service.snapshot().workspace(&ws)?;
    }
    let req = PageRequest { after: decode_cursor(query.cursor.as_deref())?, limit: limit(query.limit)? };
    let page = state
        .service
        .store()
        .resources(&ws, query.kind.as_deref(), query.q.as_deref(), req)
        .await
        .map_err(ServiceError::from)?;
    let engine = state.service.snapshot();
    let index = engine.workspace(&ws)?;
    let items: Vec<Value> =
        page.items.iter().filter(|r| sees_resource(index, &actor, &r.resource)).map(to_json).collect();
    Ok(Json(json!({"items": items, "next_cursor": page.next.as_deref().map(encode_cursor)})))
}

async fn find_resource<S: Store>(
    state: &AppState<S>,
    actor: &Actor,
    ws: &str,
    resource: &ResourceRef,
) -> Result<Resource, ApiError> {
    actor.require_workspace(ws)?;
    let missing = || ApiError::from(rolecall_engine::EngineError::ResourceNotFound(resource.to_string()));
    {
        let engine = state.service.snapshot();
        let index = engine.workspace(ws)?;
        index.require_resource(resource)?;
        if !sees_resource(index, actor, resource) {
            return Err(missing());
        }
    }
    state.service.store().resource(ws, resource).await.map_err(ServiceError::from)?.ok_or_else(missing)
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/resources/{type}/{id}", tag = "resources", summary = "A resource", responses((status = 200, description = "Done", body = rolecall_model::Resource)))]
pub async fn get_resource<S: Store>(
    State(state): Shared<S>,
    Path((ws, kind, id)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(Json(to_json(&find_resource(&state, &actor, &ws, &ResourceRef::new(kind, id)).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcePatch {
    name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    parent: Option<Option<ResourceRef>>,
}

#[utoipa::path(patch, path = "/v1/workspaces/{ws}/resources/{type}/{id}", tag = "resources", summary = "Rename or move a resource", request_body = crate::manage::ResourcePatch, responses((status = 200, description = "Done", body = crate::openapi::ResourceOut)))]
pub async fn patch_resource<S: Store>(
    State(state): Shared<S>,
    Path((ws, kind, id)): Path<(String, String, String)>,
    caller: Caller,
    ApiJson(patch): ApiJson<ResourcePatch>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let mut resource = find_resource(&state, &actor, &ws, &ResourceRef::new(kind, id)).await?;
    if let Some(name) = patch.name {
        resource.name = name;
    }
    if let Some(parent) = patch.parent {
        resource.parent = parent;
    }
    let revision = state.service.put_resource(&actor, &ws, resource.clone()).await?;
    let mut out = to_json(&resource);
    out["revision"] = json!(token(revision));
    Ok(Json(out))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/resources/{type}/{id}", tag = "resources", summary = "Delete a resource and its rules (refused while it has children)", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn delete_resource<S: Store>(
    State(state): Shared<S>,
    Path((ws, kind, id)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(deleted(state.service.delete_resource(&actor, &ws, &ResourceRef::new(kind, id)).await?))
}

// ---------------------------------------------------------------- members

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    role: Option<MemberRole>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Users first (in the order they joined the workspace), then nested groups when no role
/// filter is given. The cursor is the position in that list.
#[utoipa::path(get, path = "/v1/workspaces/{ws}/groups/{g}/members", tag = "members", summary = "Direct members: users (with roles), then nested groups", params(crate::manage::MembersQuery), responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_members<S: Store>(
    State(state): Shared<S>,
    Path((ws, g)): Path<(String, String)>,
    caller: Caller,
    ApiQuery(query): ApiQuery<MembersQuery>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    require_group_view(&state, &actor, &ws, &g)?;
    let limit = limit(query.limit)? as usize;
    let bad_cursor = || ApiError::bad_request("invalid_cursor", "the cursor is not one this service gave");
    let offset: u64 = match decode_cursor(query.cursor.as_deref())? {
        None => 0,
        Some(c) => c.parse().map_err(|_| bad_cursor())?,
    };
    let engine = state.service.snapshot();
    let index = engine.workspace(&ws)?;
    let page = index
        .members_page(&g, query.role, offset, limit)
        .ok_or_else(|| not_found("group_not_found", format!("group `{g}`")))?;
    let mut items: Vec<Value> = page.users.iter().map(|(u, role)| json!({"user": u, "role": role})).collect();
    let mut more = page.more;
    if query.role.is_none() && !more {
        // Past the users: the nested groups, at positions after the last user.
        let users = index.direct_member_count(&g).unwrap_or(0);
        let children = index.child_groups(&g).unwrap_or_default();
        let skip = offset.saturating_sub(users) as usize;
        let room = limit - items.len();
        items.extend(children.iter().skip(skip).take(room).map(|c| json!({"group": c})));
        more = children.len() > skip + room;
    }
    let next = more.then(|| encode_cursor(&(offset + limit as u64).to_string()));
    Ok(Json(json!({"items": items, "next_cursor": next, "member_count": index.member_count(&g)})))
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/groups/{g}/members/groups/{child}", tag = "members", summary = "Nest a group (its members become members)", responses((status = 200, description = "Done", body = crate::openapi::Written)))]
pub async fn put_child<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, child)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let revision = state.service.nest_group(&actor, &ws, &g, &child, true).await?;
    Ok(Json(json!({"group": child, "revision": token(revision)})))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/groups/{g}/members/groups/{child}", tag = "members", summary = "Un-nest a group", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn delete_child<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, child)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(deleted(state.service.nest_group(&actor, &ws, &g, &child, false).await?))
}

// ---------------------------------------------------------------- permission sets

fn builtin_set_name(b: BuiltinSet) -> &'static str {
    match b {
        BuiltinSet::Owners => "Owners",
        BuiltinSet::Members => "Members",
        BuiltinSet::Everyone => "Everyone",
    }
}

async fn permission_sets_json<S: Store>(state: &AppState<S>, ws: &str, g: &str) -> Result<Vec<Value>, ApiError> {
    let names: BTreeMap<String, String> = state
        .service
        .store()
        .labels(ws, label::PERMISSION_SET, Some(g))
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .collect();
    let engine = state.service.snapshot();
    let sets =
        engine.workspace(ws)?.permission_sets(g).ok_or_else(|| not_found("group_not_found", format!("group `{g}`")))?;
    Ok(sets
        .iter()
        .map(|s| {
            let name = match s.builtin {
                Some(b) => builtin_set_name(b).to_string(),
                None => names.get(&format!("{g}/{}", s.id)).cloned().unwrap_or_else(|| s.id.to_string()),
            };
            let assignees: Vec<Value> = s
                .users
                .iter()
                .map(|u| json!({"user": u}))
                .chain(s.groups.iter().map(|h| json!({"group": h})))
                .collect();
            json!({
                "id": s.id,
                "name": name,
                "builtin": s.builtin.is_some(),
                "permissions": s.permissions.list(),
                "assignees": assignees,
            })
        })
        .collect())
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/groups/{g}/permission-sets", tag = "permission sets", summary = "Permission sets of a group (Owners, Members, Everyone, custom)", responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_permission_sets<S: Store>(
    State(state): Shared<S>,
    Path((ws, g)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    require_group_view(&state, &actor, &ws, &g)?;
    let items = permission_sets_json(&state, &ws, &g).await?;
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

async fn one_set<S: Store>(state: &AppState<S>, ws: &str, g: &str, set: &str) -> Result<Value, ApiError> {
    permission_sets_json(state, ws, g).await?.into_iter().find(|s| s["id"] == set).ok_or_else(|| {
        ApiError::from(rolecall_engine::EngineError::PermissionSetNotFound { group: g.into(), set: set.into() })
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPermissionSet {
    id: Option<String>,
    name: String,
    permissions: Vec<GroupPermission>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/groups/{g}/permission-sets", tag = "permission sets", summary = "Create a custom permission set", request_body = crate::manage::NewPermissionSet, responses((status = 201, description = "Done", body = crate::openapi::PermissionSetOut)))]
pub async fn create_permission_set<S: Store>(
    State(state): Shared<S>,
    Path((ws, g)): Path<(String, String)>,
    caller: Caller,
    ApiJson(body): ApiJson<NewPermissionSet>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    require_group_view(&state, &actor, &ws, &g)?;
    let id = valid_id("permission set", body.id)?;
    let exists =
        state.service.snapshot().workspace(&ws)?.permission_sets(&g).is_some_and(|s| s.iter().any(|s| s.id == id));
    if exists {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("permission set `{id}` already exists in group `{g}`"),
        ));
    }
    let permissions = body.permissions.into_iter().collect();
    let revision = state.service.put_permission_set(&actor, &ws, &g, &id, Some(&body.name), permissions).await?;
    let mut out = one_set(&state, &ws, &g, &id).await?;
    out["revision"] = json!(token(revision));
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionSetPatch {
    name: Option<String>,
    permissions: Option<Vec<GroupPermission>>,
}

#[utoipa::path(patch, path = "/v1/workspaces/{ws}/groups/{g}/permission-sets/{set}", tag = "permission sets", summary = "Rename a set or change its permissions", request_body = crate::manage::PermissionSetPatch, responses((status = 200, description = "Done", body = crate::openapi::PermissionSetOut)))]
pub async fn patch_permission_set<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, set)): Path<(String, String, String)>,
    caller: Caller,
    ApiJson(patch): ApiJson<PermissionSetPatch>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    require_group_view(&state, &actor, &ws, &g)?;
    let current = {
        let engine = state.service.snapshot();
        let sets = engine.workspace(&ws)?.permission_sets(&g).unwrap_or_default();
        let found = sets.iter().find(|s| s.id == set).ok_or_else(|| {
            ApiError::from(rolecall_engine::EngineError::PermissionSetNotFound { group: g.clone(), set: set.clone() })
        })?;
        (found.permissions, found.builtin)
    };
    if patch.name.is_some() && current.1.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "builtin_permission_set",
            format!("permission set `{set}` is built in: its name is fixed"),
        ));
    }
    let permissions = patch.permissions.map_or(current.0, |p| p.into_iter().collect());
    let revision = state.service.put_permission_set(&actor, &ws, &g, &set, patch.name.as_deref(), permissions).await?;
    let mut out = one_set(&state, &ws, &g, &set).await?;
    out["revision"] = json!(token(revision));
    Ok(Json(out))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/groups/{g}/permission-sets/{set}", tag = "permission sets", summary = "Delete a custom permission set", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn delete_permission_set<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, set)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    require_group_view(&state, &actor, &ws, &g)?;
    Ok(deleted(state.service.delete_permission_set(&actor, &ws, &g, &set).await?))
}

fn assignee(kind: &str, id: String) -> Result<Subject, ApiError> {
    match kind {
        "users" => Ok(Subject::User(id)),
        "groups" => Ok(Subject::Group(id)),
        other => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("`{other}` is not an assignee kind: use users or groups"),
        )),
    }
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/groups/{g}/permission-sets/{set}/assignees/{kind}/{id}", tag = "permission sets", summary = "Assign a set to a user (`kind` = users) or a group (`kind` = groups)", responses((status = 200, description = "Done", body = crate::openapi::Written)))]
pub async fn put_assignee<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, set, kind, id)): Path<(String, String, String, String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    require_group_view(&state, &actor, &ws, &g)?;
    let subject = assignee(&kind, id)?;
    let revision = state.service.assign_permission_set(&actor, &ws, &g, &set, &subject, true).await?;
    Ok(Json(json!({"set": set, "assignee": subject, "revision": token(revision)})))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/groups/{g}/permission-sets/{set}/assignees/{kind}/{id}", tag = "permission sets", summary = "Unassign a set", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn delete_assignee<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, set, kind, id)): Path<(String, String, String, String, String)>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    require_group_view(&state, &actor, &ws, &g)?;
    let subject = assignee(&kind, id)?;
    Ok(deleted(state.service.assign_permission_set(&actor, &ws, &g, &set, &subject, false).await?))
}

// ---------------------------------------------------------------- bulk

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    group_ids: Vec<String>,
    action: String,
    users: Option<Vec<String>>,
    role: Option<MemberRole>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/groups/bulk", tag = "groups", summary = "Act on several groups at once, all or nothing", request_body = crate::manage::BulkBody, responses((status = 200, description = "Done", body = crate::openapi::Written)))]
pub async fn bulk<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let users = || {
        body.users.clone().filter(|u| !u.is_empty()).ok_or_else(|| {
            ApiError::bad_request("invalid_field", format!("`{}` needs a non-empty `users` list", body.action))
        })
    };
    let action = match body.action.as_str() {
        "add_members" => BulkAction::AddMembers { users: users()?, role: body.role.unwrap_or_default() },
        "remove_members" => BulkAction::RemoveMembers { users: users()? },
        "set_member_role" => BulkAction::SetMemberRole {
            users: users()?,
            role: body
                .role
                .ok_or_else(|| ApiError::bad_request("invalid_field", "`set_member_role` needs a `role`"))?,
        },
        "delete" => BulkAction::Delete,
        other => {
            return Err(ApiError::bad_request(
                "invalid_field",
                format!("`action` is add_members, remove_members, set_member_role or delete, not `{other}`"),
            ));
        }
    };
    let revision = state.service.bulk_groups(&actor, &ws, &body.group_ids, action).await?;
    Ok(Json(json!({"groups": body.group_ids.len(), "revision": token(revision)})))
}

// ---------------------------------------------------------------- policies

async fn policy_json<S: Store>(state: &AppState<S>, ws: &str, id: Option<&str>) -> Result<Vec<Value>, ApiError> {
    let names: BTreeMap<String, String> =
        state.service.store().labels(ws, label::POLICY, id).await.map_err(ServiceError::from)?.into_iter().collect();
    let engine = state.service.snapshot();
    let index = engine.workspace(ws)?;
    let policies = match id {
        Some(id) => index.policy(id).into_iter().collect(),
        None => index.policies(),
    };
    Ok(policies
        .iter()
        .map(|p| {
            json!({"id": p.id, "name": names.get(p.id).map_or(p.id, |n| n.as_str()), "rules": p.rules,
                   "groups": p.groups})
        })
        .collect())
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/policies", tag = "policies", summary = "Permission policies", responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_policies<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.actor(Some(&ws))?.require_workspace(&ws)?;
    Ok(Json(json!({"items": policy_json(&state, &ws, None).await?, "next_cursor": null})))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/policies/{id}", tag = "policies", summary = "A policy and the groups it is attached to", responses((status = 200, description = "Done", body = crate::openapi::PolicyOut)))]
pub async fn get_policy<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.actor(Some(&ws))?.require_workspace(&ws)?;
    let found = policy_json(&state, &ws, Some(&id)).await?.pop();
    found.map(Json).ok_or_else(|| ApiError::from(rolecall_engine::EngineError::PolicyNotFound(id)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    id: Option<String>,
    name: String,
    rules: BTreeMap<String, Effect>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/policies", tag = "policies", summary = "Create a permission policy (admins)", request_body = crate::manage::NewPolicy, responses((status = 201, description = "Done", body = crate::openapi::PolicyOut)))]
pub async fn create_policy<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(body): ApiJson<NewPolicy>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let id = valid_id("policy", body.id)?;
    if state.service.snapshot().workspace(&ws)?.policy(&id).is_some() {
        return Err(ApiError::new(StatusCode::CONFLICT, "conflict", format!("policy `{id}` already exists")));
    }
    let revision = state.service.put_policy(&actor, &ws, &id, &body.name, body.rules).await?;
    let mut out = policy_json(&state, &ws, Some(&id)).await?.pop().unwrap_or(Value::Null);
    out["revision"] = json!(token(revision));
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyPatch {
    name: Option<String>,
    rules: Option<BTreeMap<String, Effect>>,
}

#[utoipa::path(patch, path = "/v1/workspaces/{ws}/policies/{id}", tag = "policies", summary = "Change a policy", request_body = crate::manage::PolicyPatch, responses((status = 200, description = "Done", body = crate::openapi::PolicyOut)))]
pub async fn patch_policy<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
    ApiJson(patch): ApiJson<PolicyPatch>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    actor.require_workspace(&ws)?;
    let current = policy_json(&state, &ws, Some(&id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::from(rolecall_engine::EngineError::PolicyNotFound(id.clone())))?;
    let name = patch.name.unwrap_or_else(|| current["name"].as_str().unwrap_or(&id).to_string());
    let rules = match patch.rules {
        Some(r) => r,
        None => serde_json::from_value(current["rules"].clone())
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "internal", e.to_string()))?,
    };
    let revision = state.service.put_policy(&actor, &ws, &id, &name, rules).await?;
    let mut out = policy_json(&state, &ws, Some(&id)).await?.pop().unwrap_or(Value::Null);
    out["revision"] = json!(token(revision));
    Ok(Json(out))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/policies/{id}", tag = "policies", summary = "Delete a policy", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn delete_policy<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(deleted(state.service.delete_policy(&actor, &ws, &id).await?))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/groups/{g}/policies", tag = "policies", summary = "Policies attached to a group", responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn group_policies<S: Store>(
    State(state): Shared<S>,
    Path((ws, g)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    require_group_view(&state, &actor, &ws, &g)?;
    let ids: Vec<String> = {
        let engine = state.service.snapshot();
        let index = engine.workspace(&ws)?;
        index.group_policies(&g).unwrap_or_default().into_iter().map(String::from).collect()
    };
    let all = policy_json(&state, &ws, None).await?;
    let items: Vec<Value> = all.into_iter().filter(|p| ids.iter().any(|id| p["id"] == id.as_str())).collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/groups/{g}/policies/{policy}", tag = "policies", summary = "Attach a policy to a group", responses((status = 200, description = "Done", body = crate::openapi::Written)))]
pub async fn attach_policy<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, policy)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let revision = state.service.attach_policy(&actor, &ws, &g, &policy, true).await?;
    Ok(Json(json!({"group": g, "policy": policy, "revision": token(revision)})))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/groups/{g}/policies/{policy}", tag = "policies", summary = "Detach a policy", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn detach_policy<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, policy)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(deleted(state.service.attach_policy(&actor, &ws, &g, &policy, false).await?))
}

// ---------------------------------------------------------------- data scopes

#[utoipa::path(get, path = "/v1/workspaces/{ws}/groups/{g}/data-scopes", tag = "data scopes", summary = "Data scopes of a group", responses((status = 200, description = "Done", body = crate::openapi::Page)))]
pub async fn list_data_scopes<S: Store>(
    State(state): Shared<S>,
    Path((ws, g)): Path<(String, String)>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    require_group_view(&state, &actor, &ws, &g)?;
    let engine = state.service.snapshot();
    let scopes = engine.workspace(&ws)?.data_scopes(&g).unwrap_or_default();
    let items: Vec<Value> = scopes.iter().map(|(d, scope)| json!({"dataset": d, "scope": scope})).collect();
    Ok(Json(json!({"items": items, "next_cursor": null})))
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/groups/{g}/data-scopes/{dataset}", tag = "data scopes", summary = "Set a group's scope on a dataset: attribute -> allowed values", request_body = crate::openapi::Scope, responses((status = 200, description = "Done", body = crate::openapi::Written)))]
pub async fn put_data_scope<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, dataset)): Path<(String, String, String)>,
    caller: Caller,
    ApiJson(scope): ApiJson<BTreeMap<String, Vec<String>>>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let revision = state.service.put_data_scope(&actor, &ws, &g, &dataset, Some(scope.clone())).await?;
    Ok(Json(json!({"dataset": dataset, "scope": scope, "revision": token(revision)})))
}

#[utoipa::path(delete, path = "/v1/workspaces/{ws}/groups/{g}/data-scopes/{dataset}", tag = "data scopes", summary = "Remove a data scope", responses((status = 204, description = "Done; the revision is in the `Rolecall-Revision` header")))]
pub async fn delete_data_scope<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, dataset)): Path<(String, String, String)>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(deleted(state.service.put_data_scope(&actor, &ws, &g, &dataset, None).await?))
}

// ---------------------------------------------------------------- export and import

#[utoipa::path(get, path = "/v1/workspaces/{ws}/export", tag = "workspaces",
    summary = "The whole workspace as one JSON document (rows and facts), read with no write in between",
    responses((status = 200, description = "The document (`format`: rolecall-export/1)", body = Object)))]
pub async fn export<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
) -> Result<Json<rolecall_service::Export>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(Json(state.service.export(&actor, &ws).await?))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/export/spicedb", tag = "workspaces",
    summary = "Access to the workspace's resources as a SpiceDB schema and relationships (a zed validation file, YAML)",
    responses((status = 200, description = "The file", content_type = "application/yaml", body = String)))]
pub async fn export_spicedb<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let export = state.service.export_spicedb(&actor, &ws).await?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/yaml")], export.to_yaml()))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/export/openfga", tag = "workspaces",
    summary = "Access to the workspace's resources as an OpenFGA model (DSL) and tuples",
    responses((status = 200, description = "`{\"model\": <DSL>, \"tuples\": [{\"user\", \"relation\", \"object\"}]}`", body = Object)))]
pub async fn export_openfga<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
) -> Result<Json<rolecall_service::interop::OpenFgaExport>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    Ok(Json(state.service.export_openfga(&actor, &ws).await?))
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/import", tag = "workspaces",
    summary = "Write one chunk of an export (users, groups, resources, labels, facts) in one transaction",
    request_body = Object,
    responses((status = 200, description = "Imported", body = crate::openapi::Written)))]
pub async fn import<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(chunk): ApiJson<rolecall_service::ImportChunk>,
) -> Result<Json<Value>, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let items = chunk.len();
    let revision = state.service.import(&actor, &ws, chunk).await?;
    Ok(Json(json!({"imported": items, "revision": token(revision)})))
}
