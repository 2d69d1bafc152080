//! Rolecall's HTTP API (API.md): the axum router, the JSON wire types and authentication.
//! Only this crate knows HTTP and JSON wire shapes; it calls the service for everything.

mod authzen;
mod error;
mod json;
mod listing;
mod manage;
mod observe;
pub mod openapi;
mod scim;
mod webhooks;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};

use axum::{Json, Router};
pub use manage::REVISION_HEADER;
use rolecall_engine::{Explanation, Step};
use rolecall_model::{
    Group, MemberRole, Notify, Resource, ResourceRef, Revision, SchemaDoc, Subject, User, UserKind, Visibility,
    Workspace,
};
use rolecall_service::{Actor, Consistency, GrantOutcome, Service};
use rolecall_store::{ApiKey, Store};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use error::ApiError;
use json::{ApiJson, OptionalJson};

/// The largest request body accepted (413 beyond).
pub const MAX_BODY: usize = 1024 * 1024;
/// The largest import chunk body accepted.
pub const MAX_IMPORT_BODY: usize = 16 * 1024 * 1024;
/// The most checks one batch may carry (API.md).
pub const MAX_BATCH: usize = 1000;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState<S: Store> {
    pub service: Service<S>,
    root_key_hash: [u8; 32],
}

impl<S: Store> AppState<S> {
    pub fn new(service: Service<S>, root_key: &str) -> AppState<S> {
        AppState { service, root_key_hash: digest(root_key) }
    }
}

fn digest(key: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(key.as_bytes()));
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh random secret or id, as hex (the service's, with the API's answer when the
/// machine has no randomness to give).
pub fn random_token(bytes: usize) -> Result<String, ApiError> {
    rolecall_service::console::random_token(bytes)
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "internal", "no randomness available"))
}

type Shared<S> = State<Arc<AppState<S>>>;

/// The router of API.md.
pub fn router<S: Store>(state: Arc<AppState<S>>) -> Router {
    router_with(state, Router::new())
}

/// The router of API.md with `extra` routes (the web console) beside it, under the same
/// request ids, logs, metrics and panic handling.
pub fn router_with<S: Store>(state: Arc<AppState<S>>, extra: Router<Arc<AppState<S>>>) -> Router {
    observe::install();
    let ws = "/v1/workspaces/{ws}";
    Router::new()
        .merge(extra)
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/workspaces", post(create_workspace::<S>))
        .route(ws, get(manage::get_workspace::<S>).delete(manage::delete_workspace::<S>))
        .route(&format!("{ws}/schema"), get(manage::get_schema::<S>).put(manage::put_schema::<S>))
        .route(&format!("{ws}/api-keys"), post(create_api_key::<S>).get(manage::list_api_keys::<S>))
        .route(&format!("{ws}/api-keys/{{id}}"), axum::routing::delete(manage::delete_api_key::<S>))
        .route(&format!("{ws}/export"), get(manage::export::<S>))
        .route(&format!("{ws}/export/spicedb"), get(manage::export_spicedb::<S>))
        .route(&format!("{ws}/export/openfga"), get(manage::export_openfga::<S>))
        .route(
            &format!("{ws}/import"),
            post(manage::import::<S>).layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT_BODY)),
        )
        .route(&format!("{ws}/users"), post(create_user::<S>).get(listing::list_users::<S>))
        .route(
            &format!("{ws}/users/{{id}}"),
            get(listing::get_user::<S>).patch(manage::patch_user::<S>).delete(listing::delete_user::<S>),
        )
        .route(&format!("{ws}/users/{{id}}/activity"), post(manage::record_activity::<S>))
        .route(&format!("{ws}/users/{{id}}/password"), put(manage::put_password::<S>))
        .route(&format!("{ws}/groups"), post(create_group::<S>).get(listing::list_groups::<S>))
        .route(&format!("{ws}/groups/bulk"), post(manage::bulk::<S>))
        .route(&format!("{ws}/groups/notify"), post(webhooks::notify_groups::<S>))
        .route(&format!("{ws}/groups/{{g}}/notify"), post(webhooks::notify_group::<S>))
        .route(&format!("{ws}/users/{{id}}/notifications"), get(webhooks::list_notifications::<S>))
        .route(&format!("{ws}/webhooks"), post(webhooks::create_webhook::<S>).get(webhooks::list_webhooks::<S>))
        .route(&format!("{ws}/webhooks/{{id}}"), get(webhooks::get_webhook::<S>).delete(webhooks::delete_webhook::<S>))
        .route(&format!("{ws}/webhooks/{{id}}/deliveries"), get(webhooks::list_deliveries::<S>))
        .route(&format!("{ws}/webhooks/{{id}}/deliveries/{{delivery}}/redeliver"), post(webhooks::redeliver::<S>))
        .route(
            &format!("{ws}/groups/{{id}}"),
            get(listing::get_group::<S>).patch(manage::patch_group::<S>).delete(listing::delete_group::<S>),
        )
        .route(&format!("{ws}/groups/{{g}}/members"), get(manage::list_members::<S>))
        .route(
            &format!("{ws}/groups/{{g}}/members/users/{{u}}"),
            put(put_member::<S>).delete(listing::delete_member::<S>),
        )
        .route(
            &format!("{ws}/groups/{{g}}/members/groups/{{child}}"),
            put(manage::put_child::<S>).delete(manage::delete_child::<S>),
        )
        .route(
            &format!("{ws}/groups/{{g}}/permission-sets"),
            get(manage::list_permission_sets::<S>).post(manage::create_permission_set::<S>),
        )
        .route(
            &format!("{ws}/groups/{{g}}/permission-sets/{{set}}"),
            axum::routing::patch(manage::patch_permission_set::<S>).delete(manage::delete_permission_set::<S>),
        )
        .route(
            &format!("{ws}/groups/{{g}}/permission-sets/{{set}}/assignees/{{kind}}/{{id}}"),
            put(manage::put_assignee::<S>).delete(manage::delete_assignee::<S>),
        )
        .route(&format!("{ws}/groups/{{g}}/policies"), get(manage::group_policies::<S>))
        .route(
            &format!("{ws}/groups/{{g}}/policies/{{policy}}"),
            put(manage::attach_policy::<S>).delete(manage::detach_policy::<S>),
        )
        .route(&format!("{ws}/groups/{{g}}/data-scopes"), get(manage::list_data_scopes::<S>))
        .route(
            &format!("{ws}/groups/{{g}}/data-scopes/{{dataset}}"),
            put(manage::put_data_scope::<S>).delete(manage::delete_data_scope::<S>),
        )
        .route(&format!("{ws}/policies"), post(manage::create_policy::<S>).get(manage::list_policies::<S>))
        .route(
            &format!("{ws}/policies/{{id}}"),
            get(manage::get_policy::<S>).patch(manage::patch_policy::<S>).delete(manage::delete_policy::<S>),
        )
        .route(&format!("{ws}/resources"), post(create_resource::<S>).get(manage::list_resources::<S>))
        .route(
            &format!("{ws}/resources/{{kind}}/{{id}}"),
            get(manage::get_resource::<S>).patch(manage::patch_resource::<S>).delete(manage::delete_resource::<S>),
        )
        .route(
            &format!("{ws}/resources/{{kind}}/{{id}}/grants"),
            put(put_grant::<S>).get(listing::list_grants::<S>).delete(listing::revoke_grant::<S>),
        )
        .route(&format!("{ws}/changes"), get(listing::changes::<S>))
        .route(&format!("{ws}/audit"), get(listing::audit::<S>))
        .route(&format!("{ws}/check"), post(check::<S>))
        .route(&format!("{ws}/check/batch"), post(check_batch::<S>))
        .route(&format!("{ws}/lookup/resources"), post(lookup_resources::<S>))
        .route(&format!("{ws}/lookup/subjects"), post(lookup_subjects::<S>))
        .route(&format!("{ws}/explain"), post(explain::<S>))
        .route(&format!("{ws}/data-filter"), post(data_filter::<S>))
        .route("/.well-known/authzen-configuration", get(authzen::root_metadata))
        .route(&format!("{ws}/.well-known/authzen-configuration"), get(authzen::workspace_metadata))
        .route("/access/v1/evaluation", post(authzen::root_evaluation::<S>))
        .route("/access/v1/evaluations", post(authzen::root_evaluations::<S>))
        .route("/access/v1/search/subject", post(authzen::root_search_subject::<S>))
        .route("/access/v1/search/resource", post(authzen::root_search_resource::<S>))
        .route("/access/v1/search/action", post(authzen::root_search_action::<S>))
        .route(&format!("{ws}/access/v1/evaluation"), post(authzen::evaluation_in::<S>))
        .route(&format!("{ws}/access/v1/evaluations"), post(authzen::evaluations_in::<S>))
        .route(&format!("{ws}/access/v1/search/subject"), post(authzen::search_subject_in::<S>))
        .route(&format!("{ws}/access/v1/search/resource"), post(authzen::search_resource_in::<S>))
        .route(&format!("{ws}/access/v1/search/action"), post(authzen::search_action_in::<S>))
        .merge(scim::routes::<S>())
        // Enforced by the extractors, so an oversized body is a JSON 413 like every error.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .route_layer(axum::middleware::from_fn(observe::track))
        .route("/metrics", get(observe::metrics_text))
        // Serves `/openapi.json` and the page at `/docs`.
        .merge(utoipa_swagger_ui::SwaggerUi::new("/docs").url("/openapi.json", openapi::document()))
        .layer(
            tower::ServiceBuilder::new()
                .layer(tower_http::request_id::SetRequestIdLayer::new(
                    observe::REQUEST_ID,
                    tower_http::request_id::MakeRequestUuid,
                ))
                .layer(tower_http::request_id::PropagateRequestIdLayer::new(observe::REQUEST_ID))
                .layer(tower_http::catch_panic::CatchPanicLayer::custom(observe::panic_response)),
        )
        .with_state(state)
}

/// The authenticated caller: the root key or a workspace key, and the user named by
/// `Rolecall-Actor`, if any. Extracted before the body, so a bad key is a 401 whatever the body.
#[derive(Debug)]
pub struct Caller {
    base: Actor,
    acting_as: Option<String>,
}

impl<S: Store> axum::extract::FromRequestParts<Arc<AppState<S>>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState<S>>,
    ) -> Result<Caller, ApiError> {
        let headers = &parts.headers;
        let key = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        let hash = digest(key.trim());
        let base = if bool::from(hash.ct_eq(&state.root_key_hash)) {
            Actor::Root
        } else {
            match state.service.store().api_key(&hex(&hash)).await.map_err(rolecall_service::ServiceError::from)? {
                Some((ws, key)) => Actor::Key { workspace: ws, key: key.id },
                None => return Err(ApiError::unauthorized()),
            }
        };
        let acting_as = match headers.get("rolecall-actor") {
            None => None,
            Some(user) => {
                let user = user
                    .to_str()
                    .map_err(|_| ApiError::bad_request("invalid_actor", "`Rolecall-Actor` must be a user id"))?;
                rolecall_model::validate_id("user", user)
                    .map_err(|e| ApiError::bad_request("invalid_actor", e.to_string()))?;
                Some(user.to_string())
            }
        };
        Ok(Caller { base, acting_as })
    }
}

impl Caller {
    /// The key's own power, whoever it acts as.
    fn base(&self) -> &Actor {
        &self.base
    }

    /// The actor for a request about `workspace` (`None` outside any workspace).
    fn actor(&self, workspace: Option<&str>) -> Result<Actor, ApiError> {
        let Some(user) = &self.acting_as else { return Ok(self.base.clone()) };
        let Some(ws) = workspace else {
            return Err(ApiError::bad_request("invalid_actor", "`Rolecall-Actor` applies inside a workspace"));
        };
        self.base.require_workspace(ws)?;
        Ok(Actor::User { workspace: ws.to_string(), user: user.clone() })
    }
}

/// Refuses unless the caller is root, a key of `workspace`, or one of its admins.
fn require_admin_caller<S: Store>(state: &AppState<S>, caller: &Caller, workspace: &str) -> Result<(), ApiError> {
    let actor = caller.actor(Some(workspace))?;
    actor.require_workspace(workspace)?;
    if let Actor::User { user, .. } = &actor
        && !state.service.snapshot().workspace(workspace)?.is_admin_user(user)?
    {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("`{user}` is not a workspace admin")));
    }
    Ok(())
}

fn token(revision: Revision) -> String {
    revision.0.to_string()
}

fn valid_id(kind: &'static str, id: Option<String>) -> Result<String, ApiError> {
    let id = match id {
        Some(id) => id,
        None => random_token(8)?,
    };
    rolecall_model::validate_id(kind, &id).map_err(|e| ApiError::bad_request("invalid_id", e.to_string()))?;
    Ok(id)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewWorkspace {
    id: Option<String>,
    name: String,
    schema: Option<SchemaDoc>,
}

#[utoipa::path(post, path = "/v1/workspaces", tag = "workspaces", summary = "Create a workspace (root key only)", request_body = NewWorkspace, responses((status = 201, description = "Done", body = crate::openapi::WorkspaceOut)))]
async fn create_workspace<S: Store>(
    State(state): Shared<S>,
    caller: Caller,
    ApiJson(body): ApiJson<NewWorkspace>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(None)?;
    let workspace = Workspace { id: valid_id("workspace", body.id)?, name: body.name };
    let revision = state.service.create_workspace(&actor, workspace.clone(), body.schema).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": workspace.id, "name": workspace.name, "revision": token(revision)}))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewApiKey {
    name: String,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/api-keys", tag = "workspaces", summary = "Create a workspace API key (the key is shown only here)", request_body = NewApiKey, responses((status = 201, description = "Done", body = crate::openapi::ApiKeyOut)))]
async fn create_api_key<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(body): ApiJson<NewApiKey>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let secret = format!("rk_{}", random_token(24)?);
    let created_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let key = ApiKey { id: random_token(8)?, name: body.name, hash: hex(&digest(&secret)), created_at };
    state.service.create_api_key(&actor, &ws, key.clone()).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": key.id, "name": key.name, "key": secret}))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUser {
    id: Option<String>,
    email: String,
    name: String,
    workspace_role: Option<String>,
    kind: Option<UserKind>,
    #[serde(default)]
    groups: Vec<String>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/users", tag = "users", summary = "Create a user, optionally with groups", request_body = NewUser, responses((status = 201, description = "Done", body = crate::openapi::UserOut)))]
async fn create_user<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let user = User {
        id: valid_id("user", body.id)?,
        email: body.email,
        name: body.name,
        workspace_role: match body.workspace_role {
            Some(role) => role,
            None => state.service.default_workspace_role(&ws)?,
        },
        kind: body.kind.unwrap_or_default(),
        last_active_at: None,
    };
    let revision = state.service.create_user(&actor, &ws, user.clone(), &body.groups).await?;
    let mut out = listing::user_json(&state, &ws, &user);
    out["revision"] = json!(token(revision));
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    id: Option<String>,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
    icon: Option<String>,
    visibility: Option<Visibility>,
    apply_privileges: Option<bool>,
    notify: Option<Notify>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/groups", tag = "groups", summary = "Create a group (needs `create_group`; the acting user becomes owner)", request_body = NewGroup, responses((status = 201, description = "Done", body = crate::openapi::GroupOut)))]
async fn create_group<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(body): ApiJson<NewGroup>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let group = Group {
        id: valid_id("group", body.id)?,
        name: body.name,
        description: body.description,
        tags: body.tags,
        icon: body.icon,
        visibility: body.visibility.unwrap_or_default(),
        apply_privileges: body.apply_privileges.unwrap_or(true),
        notify: body.notify.unwrap_or_default(),
    };
    let revision = state.service.create_group(&actor, &ws, group.clone()).await?;
    let count = state.service.snapshot().workspace(&ws)?.member_count(&group.id).unwrap_or(0);
    let mut out = serde_json::to_value(&group).map_err(|e| ApiError::bad_request("invalid", e.to_string()))?;
    out["builtin"] = json!(false);
    out["member_count"] = json!(count);
    out["revision"] = json!(token(revision));
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct MemberBody {
    role: Option<MemberRole>,
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/groups/{g}/members/users/{u}", tag = "members", summary = "Add a user or change their membership role", request_body = MemberBody, responses((status = 200, description = "Done", body = crate::openapi::Written)))]
async fn put_member<S: Store>(
    State(state): Shared<S>,
    Path((ws, g, u)): Path<(String, String, String)>,
    caller: Caller,
    // No body means the `member` role.
    OptionalJson(body): OptionalJson<MemberBody>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let role = body.role.unwrap_or_default();
    let revision = state.service.put_member(&actor, &ws, &g, &u, role).await?;
    Ok(Json(json!({"user": u, "role": role, "revision": token(revision)})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewResource {
    #[serde(rename = "type")]
    kind: String,
    id: String,
    name: String,
    parent: Option<ResourceRef>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/resources", tag = "resources", summary = "Register a resource", request_body = NewResource, responses((status = 201, description = "Done", body = crate::openapi::ResourceOut)))]
async fn create_resource<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(body): ApiJson<NewResource>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let resource = Resource { resource: ResourceRef::new(body.kind, body.id), name: body.name, parent: body.parent };
    let revision = state.service.put_resource(&actor, &ws, resource.clone()).await?;
    let mut out = serde_json::to_value(&resource).map_err(|e| ApiError::bad_request("invalid", e.to_string()))?;
    out["revision"] = json!(token(revision));
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    subject: Subject,
    role: String,
    #[serde(default)]
    replace: bool,
}

#[utoipa::path(put, path = "/v1/workspaces/{ws}/resources/{type}/{id}/grants", tag = "grants", summary = "Give a subject a role: created (201), unchanged or replaced (200); another role held is 409 `role_conflict`", request_body = GrantBody, responses((status = 201, description = "Done", body = crate::openapi::GrantOut)))]
async fn put_grant<S: Store>(
    State(state): Shared<S>,
    Path((ws, kind, id)): Path<(String, String, String)>,
    caller: Caller,
    ApiJson(body): ApiJson<GrantBody>,
) -> Result<impl IntoResponse, ApiError> {
    let actor = caller.actor(Some(&ws))?;
    let resource = ResourceRef::new(kind, id);
    let result = state.service.put_grant(&actor, &ws, &resource, &body.subject, &body.role, body.replace).await;
    let (outcome, revision) = result?;
    let (status, outcome) = match outcome {
        GrantOutcome::Created => (StatusCode::CREATED, json!("created")),
        GrantOutcome::Unchanged => (StatusCode::OK, json!("unchanged")),
        GrantOutcome::Replaced { .. } => (StatusCode::OK, json!("replaced")),
    };
    Ok((
        status,
        Json(json!({"outcome": outcome, "subject": body.subject, "role": body.role, "revision": token(revision)})),
    ))
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
struct ConsistencyBody {
    at_least: Option<String>,
    #[serde(default)]
    fully_consistent: bool,
}

fn consistency(c: Option<ConsistencyBody>) -> Result<Consistency, ApiError> {
    let Some(c) = c else { return Ok(Consistency::Any) };
    if c.fully_consistent {
        return Ok(Consistency::Full);
    }
    match c.at_least {
        None => Ok(Consistency::Any),
        Some(t) => t
            .parse()
            .map(|n| Consistency::AtLeast(Revision(n)))
            .map_err(|_| ApiError::bad_request("invalid_consistency", format!("`{t}` is not a revision token"))),
    }
}

/// The engine for a question in `ws`: the caller must belong there, and the answer must be
/// at least as fresh as the request asks.
async fn engine_for<'a, S: Store>(
    state: &'a AppState<S>,
    caller: &Caller,
    ws: &str,
    wanted: Option<ConsistencyBody>,
) -> Result<std::sync::RwLockReadGuard<'a, rolecall_engine::Engine>, ApiError> {
    caller.actor(Some(ws))?.require_workspace(ws)?;
    let c = consistency(wanted)?;
    Ok(state.service.engine(c).await?)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    subject: UserSubject,
    action: String,
    resource: ResourceRef,
    consistency: Option<ConsistencyBody>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UserSubject {
    user: String,
}

fn answer(engine: &rolecall_engine::Engine, ws: &str, c: &CheckBody) -> Result<Value, ApiError> {
    let d = engine.workspace(ws)?.check(&c.subject.user, &c.action, &c.resource)?;
    Ok(json!({"allowed": d.allowed, "role": d.role, "revision": token(engine.revision())}))
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/check", tag = "questions", summary = "May this user do this action on this resource?", request_body = CheckBody, responses((status = 200, description = "Done", body = crate::openapi::CheckAnswer)))]
async fn check<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(mut body): ApiJson<CheckBody>,
) -> Result<Json<Value>, ApiError> {
    let engine = engine_for(&state, &caller, &ws, body.consistency.take()).await?;
    Ok(Json(answer(&engine, &ws, &body)?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    checks: Vec<CheckBody>,
    consistency: Option<ConsistencyBody>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/check/batch", tag = "questions", summary = "Up to 1000 checks, answered in order", request_body = BatchBody, responses((status = 200, description = "Done", body = crate::openapi::BatchAnswer)))]
async fn check_batch<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(mut body): ApiJson<BatchBody>,
) -> Result<Json<Value>, ApiError> {
    if body.checks.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("at most {MAX_BATCH} checks per batch"),
        ));
    }
    let engine = engine_for(&state, &caller, &ws, body.consistency.take()).await?;
    let results = body.checks.iter().map(|c| answer(&engine, &ws, c)).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({"results": results, "revision": token(engine.revision())})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LookupResourcesBody {
    subject: UserSubject,
    action: String,
    resource_type: String,
    consistency: Option<ConsistencyBody>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Pages over an ordered id list: the cursor is the position to resume from.
fn page_of<T: serde::Serialize>(
    items: impl Iterator<Item = T>,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<Value, ApiError> {
    let limit = limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("invalid_limit", "`limit` is 1 to 1000"));
    }
    let start: usize = match cursor {
        None => 0,
        Some(c) => c
            .strip_prefix("p")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ApiError::bad_request("invalid_cursor", "the cursor is not one this service gave"))?,
    };
    let mut items: Vec<T> = items.skip(start).take(limit as usize + 1).collect();
    let next = (items.len() > limit as usize).then(|| format!("p{}", start + limit as usize));
    items.truncate(limit as usize);
    Ok(json!({"items": items, "next_cursor": next}))
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/lookup/resources", tag = "questions", summary = "Resources of a type a user may act on", request_body = LookupResourcesBody, responses((status = 200, description = "Done", body = crate::openapi::Page)))]
async fn lookup_resources<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(mut body): ApiJson<LookupResourcesBody>,
) -> Result<Json<Value>, ApiError> {
    let engine = engine_for(&state, &caller, &ws, body.consistency.take()).await?;
    let found = engine.workspace(&ws)?.lookup_resources(&body.subject.user, &body.action, &body.resource_type)?;
    let items = found.ids().map(|id| json!({"type": body.resource_type, "id": id}));
    let mut out = page_of(items, body.limit, body.cursor.as_deref())?;
    out["revision"] = json!(token(engine.revision()));
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LookupSubjectsBody {
    resource: ResourceRef,
    action: String,
    consistency: Option<ConsistencyBody>,
    limit: Option<u32>,
    cursor: Option<String>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/lookup/subjects", tag = "questions", summary = "Users who may act on a resource, with their roles", request_body = LookupSubjectsBody, responses((status = 200, description = "Done", body = crate::openapi::Page)))]
async fn lookup_subjects<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(mut body): ApiJson<LookupSubjectsBody>,
) -> Result<Json<Value>, ApiError> {
    let engine = engine_for(&state, &caller, &ws, body.consistency.take()).await?;
    let found = engine.workspace(&ws)?.lookup_subjects(&body.resource, &body.action)?;
    let items = found.iter().map(|(user, role)| json!({"user": user, "role": role}));
    let mut out = page_of(items, body.limit, body.cursor.as_deref())?;
    out["revision"] = json!(token(engine.revision()));
    Ok(Json(out))
}

/// One step of an explanation as JSON: `{"kind": ..., ...}`.
fn step(s: &Step) -> Value {
    match s {
        Step::Member { member, group } => json!({"kind": "member", "member": member, "group": group}),
        Step::Grant { subject, resource, role } => {
            json!({"kind": "grant", "subject": subject, "resource": resource, "role": role})
        }
        Step::Inherit { from, parent_role, resource, role, locked } => json!({"kind": "inherit", "from": from,
            "parent_role": parent_role, "resource": resource, "role": role, "locked": locked}),
        Step::WorkspaceRole { workspace_role, resource, role } => {
            json!({"kind": "workspace_role", "workspace_role": workspace_role, "resource": resource, "role": role})
        }
        Step::Admin { workspace_role } => json!({"kind": "admin", "workspace_role": workspace_role}),
        Step::CapabilityDefault { capability, workspace_role, min_role } => json!({"kind": "capability_default",
            "capability": capability, "workspace_role": workspace_role, "min_role": min_role}),
        Step::Policy { policy, group, capability, effect } => {
            json!({"kind": "policy", "policy": policy, "group": group, "capability": capability, "effect": effect})
        }
        Step::MembershipRole { group, role } => json!({"kind": "membership_role", "group": group, "role": role}),
        Step::PermissionSet { group, set, permissions } => {
            json!({"kind": "permission_set", "group": group, "set": set, "permissions": permissions})
        }
        Step::BuiltinGroup { group } => json!({"kind": "builtin_group", "group": group}),
        Step::PublicGroup { group } => json!({"kind": "public_group", "group": group}),
        Step::Suspended { user } => json!({"kind": "suspended", "user": user}),
    }
}

fn explanation(e: &Explanation) -> Value {
    let paths: Vec<Value> = e
        .paths
        .iter()
        .map(|p| json!({"gives": p.gives, "blocked": p.blocked, "steps": p.steps.iter().map(step).collect::<Vec<_>>()}))
        .collect();
    let denied: Vec<Vec<Value>> = e.denied_by.iter().map(|d| d.iter().map(step).collect()).collect();
    json!({"allowed": e.allowed, "role": e.role, "required": e.required, "paths": paths, "denied_by": denied})
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/explain", tag = "questions", summary = "Why: every path that gives a role, and what denies", request_body = CheckBody, responses((status = 200, description = "Done", body = crate::openapi::ExplainAnswer)))]
async fn explain<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(mut body): ApiJson<CheckBody>,
) -> Result<Json<Value>, ApiError> {
    let engine = engine_for(&state, &caller, &ws, body.consistency.take()).await?;
    let e = engine.workspace(&ws)?.explain(&body.subject.user, &body.action, &body.resource)?;
    let mut out = explanation(&e);
    out["revision"] = json!(token(engine.revision()));
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DataFilterBody {
    user: String,
    dataset: String,
    consistency: Option<ConsistencyBody>,
}

#[utoipa::path(post, path = "/v1/workspaces/{ws}/data-filter", tag = "questions", summary = "Which rows of a dataset a user may see, as a map and as SQL", request_body = DataFilterBody, responses((status = 200, description = "Done", body = crate::openapi::DataFilterAnswer)))]
async fn data_filter<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Caller,
    ApiJson(mut body): ApiJson<DataFilterBody>,
) -> Result<Json<Value>, ApiError> {
    let engine = engine_for(&state, &caller, &ws, body.consistency.take()).await?;
    let f = engine.workspace(&ws)?.data_filter(&body.user, &body.dataset)?;
    let sql = f.to_sql(1);
    Ok(Json(json!({
        "unrestricted": f.unrestricted(),
        "filter": f.as_map(),
        "any_of": f.scopes(),
        "sql": {"where": sql.where_clause, "params": sql.params},
        "revision": token(engine.revision()),
    })))
}
