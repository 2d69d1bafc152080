//! OpenID AuthZEN Authorization API 1.0, mapped onto the engine: the access evaluation and
//! evaluations endpoints (with `execute_all`, `deny_on_first_deny` and
//! `permit_on_first_permit`), the subject, resource and action searches, and the PDP
//! metadata at `/.well-known/authzen-configuration`.
//!
//! A subject is `{"type": "user", "id": <user id>}`; a resource is any resource Rolecall
//! knows (`{"type": "group" | "workspace" | <schema type>, "id"}`); an action is
//! `{"name": <action>}`. `properties` and `context` are accepted and not used: decisions
//! come from the workspace's rules alone. A question about something unknown (user,
//! resource, action) is a deny with `context.reason`, never an allow; a malformed request
//! is a 400.
//!
//! Each workspace is a PDP at `/v1/workspaces/{ws}` (its metadata at
//! `/v1/workspaces/{ws}/.well-known/authzen-configuration`, its endpoints under
//! `/v1/workspaces/{ws}/access/v1/`). The same endpoints at the root (`/access/v1/...`)
//! answer for the workspace of the caller's workspace key, or of the `Rolecall-Workspace`
//! header with the root key.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use rolecall_engine::{Engine, EngineError};
use rolecall_model::ResourceRef;
use rolecall_service::{Actor, Consistency};
use rolecall_store::Store;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::json::ApiJson;
use crate::{ApiError, Caller, MAX_BATCH, Shared};

/// `{"type", "id", "properties"?}`; `id` may be left out in a subject search.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct Entity {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    #[schema(value_type = Object)]
    #[allow(dead_code)]
    properties: Option<Value>,
}

#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct Action {
    name: String,
    #[schema(value_type = Object)]
    #[allow(dead_code)]
    properties: Option<Value>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Evaluation {
    subject: Entity,
    action: Action,
    resource: Entity,
    #[schema(value_type = Object)]
    #[allow(dead_code)]
    context: Option<Value>,
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct EvaluationItem {
    subject: Option<Entity>,
    action: Option<Action>,
    resource: Option<Entity>,
    #[schema(value_type = Object)]
    #[allow(dead_code)]
    context: Option<Value>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Semantic {
    #[default]
    ExecuteAll,
    DenyOnFirstDeny,
    PermitOnFirstPermit,
}

#[derive(Default, Deserialize, utoipa::ToSchema)]
pub struct Options {
    #[serde(default)]
    evaluations_semantic: Semantic,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Evaluations {
    subject: Option<Entity>,
    action: Option<Action>,
    resource: Option<Entity>,
    #[schema(value_type = Object)]
    #[allow(dead_code)]
    context: Option<Value>,
    #[serde(default)]
    evaluations: Vec<EvaluationItem>,
    #[serde(default)]
    options: Options,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PageRequest {
    token: Option<String>,
    limit: Option<u32>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Search {
    subject: Entity,
    action: Option<Action>,
    resource: Entity,
    #[schema(value_type = Object)]
    #[allow(dead_code)]
    context: Option<Value>,
    page: Option<PageRequest>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_request", message)
}

/// A deny with the reason, for a question about something the workspace does not know.
fn unknown(e: &EngineError) -> Value {
    json!({"decision": false, "context": {"reason": e.code(), "message": e.to_string()}})
}

fn decide(engine: &Engine, ws: &str, subject: &Entity, action: &Action, resource: &Entity) -> Result<Value, ApiError> {
    if subject.kind != "user" {
        return Err(invalid(format!("subject type `{}`: only `user` subjects are evaluated", subject.kind)));
    }
    let (Some(user), Some(id)) = (subject.id.as_deref(), resource.id.as_deref()) else {
        return Err(invalid("an evaluation needs `subject.id` and `resource.id`"));
    };
    let index = engine.workspace(ws)?;
    match index.check(user, &action.name, &ResourceRef::new(&resource.kind, id)) {
        Ok(d) => Ok(match d.role {
            Some(role) => json!({"decision": d.allowed, "context": {"role": role}}),
            None => json!({"decision": d.allowed}),
        }),
        Err(e @ EngineError::WorkspaceNotFound(_)) => Err(e.into()),
        Err(e) => Ok(unknown(&e)),
    }
}

/// The workspace of an AuthZEN request at the root: the key's, or the header's (root key).
fn root_workspace(caller: &Caller, headers: &HeaderMap) -> Result<String, ApiError> {
    let named = headers.get("rolecall-workspace").and_then(|v| v.to_str().ok());
    match (caller.base(), named) {
        (Actor::Key { workspace, .. }, _) => Ok(workspace.clone()),
        (_, Some(ws)) => Ok(ws.to_string()),
        _ => Err(ApiError::bad_request(
            "invalid_request",
            "with the root key, name the workspace in the `Rolecall-Workspace` header (or use /v1/workspaces/{ws}/access/v1/...)",
        )),
    }
}

async fn engine<'a, S: Store>(
    state: &'a crate::AppState<S>,
    caller: &Caller,
    ws: &str,
) -> Result<std::sync::RwLockReadGuard<'a, Engine>, ApiError> {
    caller.actor(Some(ws))?.require_workspace(ws)?;
    let engine = state.service.engine(Consistency::Any).await?;
    engine.workspace(ws)?;
    Ok(engine)
}

async fn evaluation<S: Store>(
    state: &crate::AppState<S>,
    caller: &Caller,
    ws: &str,
    body: Evaluation,
) -> Result<Json<Value>, ApiError> {
    let engine = engine(state, caller, ws).await?;
    Ok(Json(decide(&engine, ws, &body.subject, &body.action, &body.resource)?))
}

async fn evaluations<S: Store>(
    state: &crate::AppState<S>,
    caller: &Caller,
    ws: &str,
    body: Evaluations,
) -> Result<Json<Value>, ApiError> {
    if body.evaluations.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("at most {MAX_BATCH} evaluations per request"),
        ));
    }
    let engine = engine(state, caller, ws).await?;
    let missing = |what: &str, i: usize| invalid(format!("evaluation {i} has no `{what}` and there is no default"));
    if body.evaluations.is_empty() {
        // Without `evaluations`, the request is a single evaluation (and so is the answer).
        let (Some(subject), Some(action), Some(resource)) = (&body.subject, &body.action, &body.resource) else {
            return Err(invalid("give `evaluations`, or `subject`, `action` and `resource`"));
        };
        return Ok(Json(decide(&engine, ws, subject, action, resource)?));
    }
    let mut out = Vec::with_capacity(body.evaluations.len());
    for (i, item) in body.evaluations.iter().enumerate() {
        let subject = item.subject.as_ref().or(body.subject.as_ref()).ok_or_else(|| missing("subject", i))?;
        let action = item.action.as_ref().or(body.action.as_ref()).ok_or_else(|| missing("action", i))?;
        let resource = item.resource.as_ref().or(body.resource.as_ref()).ok_or_else(|| missing("resource", i))?;
        let answer = decide(&engine, ws, subject, action, resource)?;
        let decision = answer["decision"].as_bool().unwrap_or(false);
        out.push(answer);
        let stop = match body.options.evaluations_semantic {
            Semantic::ExecuteAll => false,
            Semantic::DenyOnFirstDeny => !decision,
            Semantic::PermitOnFirstPermit => decision,
        };
        if stop {
            break;
        }
    }
    Ok(Json(json!({"evaluations": out})))
}

/// A page of `items` by the opaque token (an offset), with `next_token` empty at the end.
fn page(items: Vec<Value>, page: Option<&PageRequest>) -> Result<Value, ApiError> {
    let limit = page.and_then(|p| p.limit).unwrap_or(1000);
    if limit == 0 || limit > 1000 {
        return Err(invalid("`page.limit` is 1 to 1000"));
    }
    let start: usize = match page.and_then(|p| p.token.as_deref()).filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => t
            .strip_prefix("p")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| invalid("`page.token` is not one this PDP gave"))?,
    };
    let end = start.saturating_add(limit as usize).min(items.len());
    let next = if end < items.len() { format!("p{end}") } else { String::new() };
    let results: Vec<Value> = items.into_iter().skip(start).take(limit as usize).collect();
    Ok(json!({"results": results, "page": {"next_token": next}}))
}

async fn search_subject<S: Store>(
    state: &crate::AppState<S>,
    caller: &Caller,
    ws: &str,
    body: Search,
) -> Result<Json<Value>, ApiError> {
    if body.subject.kind != "user" {
        return Err(invalid("subject search finds `user` subjects"));
    }
    let action = body.action.as_ref().ok_or_else(|| invalid("subject search needs `action`"))?;
    let id = body.resource.id.as_deref().ok_or_else(|| invalid("subject search needs `resource.id`"))?;
    let engine = engine(state, caller, ws).await?;
    let found = engine.workspace(ws)?.lookup_subjects(&ResourceRef::new(&body.resource.kind, id), &action.name);
    let items = match found {
        Ok(set) => set.iter().map(|(user, _)| json!({"type": "user", "id": user})).collect(),
        Err(EngineError::WorkspaceNotFound(w)) => return Err(EngineError::WorkspaceNotFound(w).into()),
        Err(_) => Vec::new(),
    };
    Ok(Json(page(items, body.page.as_ref())?))
}

async fn search_resource<S: Store>(
    state: &crate::AppState<S>,
    caller: &Caller,
    ws: &str,
    body: Search,
) -> Result<Json<Value>, ApiError> {
    let action = body.action.as_ref().ok_or_else(|| invalid("resource search needs `action`"))?;
    let user = match (body.subject.kind.as_str(), body.subject.id.as_deref()) {
        ("user", Some(user)) => user,
        _ => return Err(invalid("resource search needs a `user` subject with an `id`")),
    };
    let engine = engine(state, caller, ws).await?;
    let kind = body.resource.kind.as_str();
    let items = match engine.workspace(ws)?.lookup_resources(user, &action.name, kind) {
        Ok(set) => set.ids().map(|id| json!({"type": kind, "id": id})).collect(),
        Err(_) => Vec::new(),
    };
    Ok(Json(page(items, body.page.as_ref())?))
}

async fn search_action<S: Store>(
    state: &crate::AppState<S>,
    caller: &Caller,
    ws: &str,
    body: Search,
) -> Result<Json<Value>, ApiError> {
    let (user, id) = match (body.subject.kind.as_str(), body.subject.id.as_deref(), body.resource.id.as_deref()) {
        ("user", Some(user), Some(id)) => (user, id),
        _ => return Err(invalid("action search needs a `user` subject and a resource, both with an `id`")),
    };
    let engine = engine(state, caller, ws).await?;
    let index = engine.workspace(ws)?;
    let resource = ResourceRef::new(&body.resource.kind, id);
    let mut items = Vec::new();
    for action in index.actions_of(&body.resource.kind).unwrap_or_default() {
        if index.check(user, action, &resource).is_ok_and(|d| d.allowed) {
            items.push(json!({"name": action}));
        }
    }
    Ok(Json(page(items, body.page.as_ref())?))
}

/// The PDP's metadata: `base` is its identifier, the endpoints are under it.
fn metadata(base: &str) -> Value {
    let mut out = Map::new();
    out.insert("policy_decision_point".into(), json!(base));
    for (key, path) in [
        ("access_evaluation_endpoint", "evaluation"),
        ("access_evaluations_endpoint", "evaluations"),
        ("search_subject_endpoint", "search/subject"),
        ("search_resource_endpoint", "search/resource"),
        ("search_action_endpoint", "search/action"),
    ] {
        out.insert(key.into(), json!(format!("{base}/access/v1/{path}")));
    }
    Value::Object(out)
}

/// This server's URL as the client reached it: `ROLECALL_PUBLIC_URL` when set (behind a
/// proxy), otherwise `http://` and the request's `Host`.
fn server_url(headers: &HeaderMap) -> String {
    if let Ok(url) = std::env::var("ROLECALL_PUBLIC_URL")
        && !url.trim().is_empty()
    {
        return url.trim().trim_end_matches('/').to_string();
    }
    let host = headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

#[utoipa::path(get, path = "/.well-known/authzen-configuration", tag = "authzen", summary = "AuthZEN PDP metadata for the root endpoints (the workspace comes from the key)", responses((status = 200, description = "Done", body = Object)))]
pub async fn root_metadata(headers: HeaderMap) -> Json<Value> {
    Json(metadata(&server_url(&headers)))
}

#[utoipa::path(get, path = "/v1/workspaces/{ws}/.well-known/authzen-configuration", tag = "authzen", summary = "AuthZEN PDP metadata of one workspace", responses((status = 200, description = "Done", body = Object)))]
pub async fn workspace_metadata(Path(ws): Path<String>, headers: HeaderMap) -> Json<Value> {
    Json(metadata(&format!("{}/v1/workspaces/{ws}", server_url(&headers))))
}

macro_rules! endpoints {
    ($($root:ident, $scoped:ident, $body:ty, $inner:ident, $path:literal, $scoped_path:literal, $summary:literal;)*) => {$(
        #[utoipa::path(post, path = $path, tag = "authzen", summary = $summary, request_body = $body, responses((status = 200, description = "Done", body = Object)))]
        pub async fn $root<S: Store>(
            State(state): Shared<S>,
            caller: Caller,
            headers: HeaderMap,
            ApiJson(body): ApiJson<$body>,
        ) -> Result<Json<Value>, ApiError> {
            let ws = root_workspace(&caller, &headers)?;
            $inner(&state, &caller, &ws, body).await
        }

        #[utoipa::path(post, path = $scoped_path, tag = "authzen", summary = $summary, request_body = $body, responses((status = 200, description = "Done", body = Object)))]
        pub async fn $scoped<S: Store>(
            State(state): Shared<S>,
            Path(ws): Path<String>,
            caller: Caller,
            ApiJson(body): ApiJson<$body>,
        ) -> Result<Json<Value>, ApiError> {
            $inner(&state, &caller, &ws, body).await
        }
    )*};
}

endpoints! {
    root_evaluation, evaluation_in, Evaluation, evaluation, "/access/v1/evaluation", "/v1/workspaces/{ws}/access/v1/evaluation", "AuthZEN access evaluation: may this subject do this action on this resource?";
    root_evaluations, evaluations_in, Evaluations, evaluations, "/access/v1/evaluations", "/v1/workspaces/{ws}/access/v1/evaluations", "AuthZEN access evaluations (execute_all, deny_on_first_deny, permit_on_first_permit)";
    root_search_subject, search_subject_in, Search, search_subject, "/access/v1/search/subject", "/v1/workspaces/{ws}/access/v1/search/subject", "AuthZEN subject search: the users who may do the action on the resource";
    root_search_resource, search_resource_in, Search, search_resource, "/access/v1/search/resource", "/v1/workspaces/{ws}/access/v1/search/resource", "AuthZEN resource search: the resources of a type the user may do the action on";
    root_search_action, search_action_in, Search, search_action, "/access/v1/search/action", "/v1/workspaces/{ws}/access/v1/search/action", "AuthZEN action search: the actions the user may do on the resource";
}
