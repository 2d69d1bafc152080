//! SCIM 2.0 (RFC 7643/7644) under `/scim/v2/{workspace}`: identity providers provision
//! users and groups into a workspace with its API key. Users and groups written this way
//! are ordinary Rolecall users and groups (the built-in groups are left out of SCIM).
//!
//! - `schema`: what the service publishes (configuration, resource types, schemas).
//! - `filter`: filters and PATCH paths, resolved against the published schemas.
//! - `patch`: PATCH operations on a document.
//! - `resources`: users and groups as documents, and back.
//!
//! Listing users is answered from the engine's order and counts (a page costs its own
//! size, `groups.value eq` pages a group of a million members by rank); rows come from
//! the store for the page only.

mod filter;
mod patch;
mod resources;
mod schema;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rolecall_service::scim::{Existing, ScimGroup};
use rolecall_service::{Actor, ServiceError};
use rolecall_store::{PageRequest, ScimUserKey, Store};
use serde_json::{Value, json};

use crate::{ApiError, AppState, Caller};
use filter::Filter;
use resources::{Base, Edits};
use schema::{Kind, MAX_COUNT};

type Shared<S> = State<Arc<AppState<S>>>;

/// A refusal in SCIM's words (RFC 7644 §3.12): a status, maybe a `scimType`, a detail.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl Refusal {
    /// A 400 with a `scimType`.
    pub fn new(scim_type: &'static str, detail: impl Into<String>) -> Refusal {
        Refusal { status: StatusCode::BAD_REQUEST, scim_type: Some(scim_type), detail: detail.into() }
    }

    pub fn syntax(detail: impl Into<String>) -> Refusal {
        Refusal::new("invalidSyntax", detail)
    }

    pub fn path(detail: impl Into<String>) -> Refusal {
        Refusal::new("invalidPath", detail)
    }

    fn filter(detail: impl Into<String>) -> Refusal {
        Refusal::new("invalidFilter", detail)
    }

    fn status(status: StatusCode, detail: impl Into<String>) -> Refusal {
        Refusal { status, scim_type: None, detail: detail.into() }
    }

    fn not_found(kind: Kind, id: &str) -> Refusal {
        Refusal::status(StatusCode::NOT_FOUND, format!("{} `{id}` not found", kind.name()))
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        let scim_type = match e.status {
            StatusCode::CONFLICT if e.message.contains("already") => Some("uniqueness"),
            StatusCode::BAD_REQUEST => Some("invalidValue"),
            _ => None,
        };
        Refusal { status: e.status, scim_type, detail: e.message }
    }
}

impl From<ServiceError> for Refusal {
    fn from(e: ServiceError) -> Refusal {
        ApiError::from(e).into()
    }
}

impl From<rolecall_engine::EngineError> for Refusal {
    fn from(e: rolecall_engine::EngineError) -> Refusal {
        ApiError::from(e).into()
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut body = json!({"schemas": [schema::ERROR], "status": self.status.as_str(), "detail": self.detail});
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        scim_json(self.status, &body)
    }
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/scim+json")], body.to_string()).into_response()
}

/// The SCIM routes, to be merged into the API's router.
pub fn routes<S: Store>() -> Router<Arc<AppState<S>>> {
    let at = "/scim/v2/{ws}";
    Router::new()
        .route(&format!("{at}/ServiceProviderConfig"), get(service_provider_config::<S>))
        .route(&format!("{at}/ResourceTypes"), get(resource_types::<S>))
        .route(&format!("{at}/ResourceTypes/{{name}}"), get(resource_type::<S>))
        .route(&format!("{at}/Schemas"), get(schemas::<S>))
        .route(&format!("{at}/Schemas/{{id}}"), get(schema_by_id::<S>))
        .route(&format!("{at}/Users"), get(list_users::<S>).post(create_user::<S>))
        .route(&format!("{at}/Users/.search"), post(search_users::<S>))
        .route(
            &format!("{at}/Users/{{id}}"),
            get(get_user::<S>).put(replace_user::<S>).patch(patch_user::<S>).delete(delete_user::<S>),
        )
        .route(&format!("{at}/Groups"), get(list_groups::<S>).post(create_group::<S>))
        .route(&format!("{at}/Groups/.search"), post(search_groups::<S>))
        .route(
            &format!("{at}/Groups/{{id}}"),
            get(get_group::<S>).put(replace_group::<S>).patch(patch_group::<S>).delete(delete_group::<S>),
        )
        .route(&format!("{at}/.search"), post(search_all::<S>))
        .route(&format!("{at}/Bulk"), post(not_implemented::<S>))
        .route(&format!("{at}/Me"), get(not_implemented::<S>))
        .route(&format!("{at}/{{*rest}}"), axum::routing::any(unknown_endpoint::<S>))
}

/// The admin actor a request acts as: the root key, a key of the workspace, or (with
/// `Rolecall-Actor`) one of its admins. SCIM errors from the start.
async fn admin<S: Store>(state: &AppState<S>, caller: Result<Caller, ApiError>, ws: &str) -> Result<Actor, Refusal> {
    let caller = caller?;
    crate::require_admin_caller(state, &caller, ws)?;
    state.service.snapshot().workspace(ws)?;
    Ok(caller.actor(Some(ws))?)
}

/// `http(s)://host/scim/v2/{ws}`, from the request's `Host` (and `X-Forwarded-Proto`).
fn base(headers: &HeaderMap, ws: &str) -> Base {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let proto = headers.get("x-forwarded-proto").and_then(|h| h.to_str().ok()).unwrap_or("http");
    Base(format!("{proto}://{host}/scim/v2/{ws}"))
}

fn absolute(mut doc: Value, base: &Base) -> Value {
    if let Some(location) = doc["meta"]["location"].as_str() {
        doc["meta"]["location"] = json!(format!("{}{location}", base.0));
    }
    doc
}

async fn service_provider_config<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    Ok(scim_json(StatusCode::OK, &absolute(schema::service_provider_config(), &base(&headers, &ws))))
}

fn list_of(resources: Vec<Value>, total: u64, start: u64) -> Value {
    json!({
        "schemas": [schema::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

async fn resource_types<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let base = base(&headers, &ws);
    let types: Vec<Value> = schema::resource_types().into_iter().map(|t| absolute(t, &base)).collect();
    Ok(scim_json(StatusCode::OK, &list_of(types, 2, 1)))
}

async fn resource_type<S: Store>(
    State(state): Shared<S>,
    Path((ws, name)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let found = schema::resource_types().into_iter().find(|t| t["id"] == name.as_str());
    let found = found.ok_or_else(|| Refusal::status(StatusCode::NOT_FOUND, format!("no resource type `{name}`")))?;
    Ok(scim_json(StatusCode::OK, &absolute(found, &base(&headers, &ws))))
}

async fn schemas<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let base = base(&headers, &ws);
    let all: Vec<Value> = schema::schemas().iter().map(|s| absolute(s.clone(), &base)).collect();
    Ok(scim_json(StatusCode::OK, &list_of(all, 2, 1)))
}

async fn schema_by_id<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let found = schema::schemas().iter().find(|s| s["id"] == id.as_str()).cloned();
    let found = found.ok_or_else(|| Refusal::status(StatusCode::NOT_FOUND, format!("no schema `{id}`")))?;
    Ok(scim_json(StatusCode::OK, &absolute(found, &base(&headers, &ws))))
}

async fn not_implemented<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    caller: Result<Caller, ApiError>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    Err(Refusal::status(StatusCode::NOT_IMPLEMENTED, "Rolecall's SCIM service does not offer this endpoint"))
}

async fn unknown_endpoint<S: Store>(
    State(state): Shared<S>,
    Path((ws, rest)): Path<(String, String)>,
    caller: Result<Caller, ApiError>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    Err(Refusal::status(StatusCode::NOT_FOUND, format!("no SCIM endpoint `/{rest}`")))
}

// ---------------------------------------------------------------- queries

/// What a list or search asks for.
#[derive(Debug, Default)]
struct Selection {
    filter: Option<Filter>,
    /// 1-based.
    start: u64,
    count: usize,
    attributes: Vec<filter::AttrPath>,
    excluded: Vec<filter::AttrPath>,
}

fn attribute_list(names: impl IntoIterator<Item = String>, kind: Kind) -> Vec<filter::AttrPath> {
    // Names that are no attribute of the resource select nothing (and exclude nothing).
    names.into_iter().filter_map(|n| filter::parse_path(n.trim(), kind).ok()).map(|p| p.attr).collect()
}

impl Selection {
    fn new(
        kind: Kind,
        filter: Option<&str>,
        start: Option<i64>,
        count: Option<i64>,
        attributes: Vec<String>,
        excluded: Vec<String>,
    ) -> Result<Selection, Refusal> {
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(f) => Some(filter::parse(f, kind).map_err(|e| Refusal::filter(e.0))?),
        };
        Ok(Selection {
            filter,
            start: start.unwrap_or(1).max(1) as u64,
            count: count.unwrap_or(100).clamp(0, MAX_COUNT as i64) as usize,
            attributes: attribute_list(attributes, kind),
            excluded: attribute_list(excluded, kind),
        })
    }

    fn from_params(kind: Kind, params: &BTreeMap<String, String>) -> Result<Selection, Refusal> {
        let number = |name: &str| -> Result<Option<i64>, Refusal> {
            match params.get(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| Refusal::new("invalidValue", format!("`{name}` is an integer, not `{v}`"))),
            }
        };
        let list = |name: &str| -> Vec<String> {
            params.get(name).map(|v| v.split(',').map(str::to_string).collect()).unwrap_or_default()
        };
        Selection::new(
            kind,
            params.get("filter").map(String::as_str),
            number("startIndex")?,
            number("count")?,
            list("attributes"),
            list("excludedAttributes"),
        )
    }

    fn from_search(kind: Kind, body: &Value) -> Result<Selection, Refusal> {
        let schemas = body["schemas"].as_array().ok_or_else(|| Refusal::syntax("a SearchRequest needs `schemas`"))?;
        if !schemas.iter().any(|s| s == schema::SEARCH_REQUEST) {
            return Err(Refusal::syntax(format!("a SearchRequest's `schemas` is [\"{}\"]", schema::SEARCH_REQUEST)));
        }
        let list = |name: &str| -> Result<Vec<String>, Refusal> {
            match &body[name] {
                Value::Null => Ok(Vec::new()),
                Value::Array(items) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| Refusal::syntax(format!("`{name}` lists strings")))
                    })
                    .collect(),
                Value::String(s) => Ok(s.split(',').map(str::to_string).collect()),
                _ => Err(Refusal::syntax(format!("`{name}` lists strings"))),
            }
        };
        let number = |name: &str| -> Result<Option<i64>, Refusal> {
            match &body[name] {
                Value::Null => Ok(None),
                v => {
                    v.as_i64().map(Some).ok_or_else(|| Refusal::new("invalidValue", format!("`{name}` is an integer")))
                }
            }
        };
        let filter = match &body["filter"] {
            Value::Null => None,
            Value::String(f) => Some(f.as_str()),
            _ => return Err(Refusal::syntax("`filter` is a string")),
        };
        Selection::new(
            kind,
            filter,
            number("startIndex")?,
            number("count")?,
            list("attributes")?,
            list("excludedAttributes")?,
        )
    }

    /// Whether responses carry attribute `name`.
    fn wants(&self, name: &str) -> bool {
        if !self.attributes.is_empty() {
            return self.attributes.iter().any(|a| a.attr == name);
        }
        !self.excluded.iter().any(|a| a.attr == name && a.sub.is_none())
    }

    /// Cuts a document down to what was asked (`id` and `schemas` always stay).
    fn project(&self, doc: Value) -> Value {
        let Value::Object(mut fields) = doc else { return doc };
        if !self.attributes.is_empty() {
            let keep: Vec<&filter::AttrPath> = self.attributes.iter().collect();
            fields.retain(|k, _| k == "id" || k == "schemas" || keep.iter().any(|a| a.attr == *k));
            for a in &keep {
                if let Some(sub) = &a.sub
                    && !keep.iter().any(|b| b.attr == a.attr && b.sub.is_none())
                {
                    let subs: Vec<&str> =
                        keep.iter().filter(|b| b.attr == a.attr).filter_map(|b| b.sub.as_deref()).collect();
                    let _ = sub;
                    retain_subs(fields.get_mut(&a.attr), &subs);
                }
            }
        }
        for a in &self.excluded {
            if a.attr == "id" {
                continue;
            }
            match &a.sub {
                None => {
                    fields.remove(&a.attr);
                }
                Some(sub) => remove_sub(fields.get_mut(&a.attr), sub),
            }
        }
        Value::Object(fields)
    }
}

fn retain_subs(value: Option<&mut Value>, subs: &[&str]) {
    match value {
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                retain_subs(Some(item), subs);
            }
        }
        Some(Value::Object(fields)) => fields.retain(|k, _| subs.contains(&k.as_str())),
        _ => {}
    }
}

fn remove_sub(value: Option<&mut Value>, sub: &str) {
    match value {
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                remove_sub(Some(item), sub);
            }
        }
        Some(Value::Object(fields)) => {
            fields.remove(sub);
        }
        _ => {}
    }
}

fn params(query: Result<Query<BTreeMap<String, String>>, QueryRejection>) -> Result<BTreeMap<String, String>, Refusal> {
    query.map(|q| q.0).map_err(|e| Refusal::new("invalidValue", e.body_text()))
}

fn body_json(body: Result<Bytes, BytesRejection>) -> Result<Value, Refusal> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::status(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over {} bytes", crate::MAX_BODY))
        } else {
            Refusal::syntax(e.body_text())
        }
    })?;
    serde_json::from_slice(&body).map_err(|e| Refusal::syntax(format!("the body is not JSON: {e}")))
}

/// `POST /.search` (RFC 7644 §3.4.3): users, then groups, as one list. A filter on an
/// attribute only one of them has selects from that one only.
async fn search_all<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let body = body_json(body)?;
    let base = base(&headers, &ws);
    let users = Selection::from_search(Kind::User, &body);
    let groups = Selection::from_search(Kind::Group, &body);
    let (start, count) = match (&users, &groups) {
        (Ok(q), _) | (_, Ok(q)) => (q.start, q.count),
        (Err(_), Err(_)) => return Err(users.err().unwrap_or_else(|| Refusal::filter("invalid filter"))),
    };
    let (mut page, mut total) = (Vec::new(), 0u64);
    if let Ok(q) = &users {
        let (found, n) = query_users(&state, &ws, q, &base).await?;
        page = found;
        total = n;
    }
    if let Ok(q) = groups {
        // Groups follow the users: the page's rest, from where the users ended.
        let q = Selection { start: (start - 1).saturating_sub(total) + 1, count: count - page.len(), ..q };
        let (found, n) = query_groups(&state, &ws, &q, &base).await?;
        page.extend(found);
        total += n;
    }
    Ok(scim_json(StatusCode::OK, &list_of(page, total, start)))
}

// ---------------------------------------------------------------- users

/// Which users a filter can only match, found without reading every user.
enum Candidates {
    /// Every user (or every user of a group at any depth), read page by page.
    Scan(Option<String>),
    Ids(Vec<String>),
    UserName(String),
    ExternalId(String),
}

fn user_candidates(filter: &Filter) -> Candidates {
    if let Some(id) = filter.equals("id", None) {
        return Candidates::Ids(vec![id.to_string()]);
    }
    if let Some(name) = filter.equals("userName", None) {
        return Candidates::UserName(name.to_string());
    }
    if let Some(external) = filter.equals("externalId", None) {
        return Candidates::ExternalId(external.to_string());
    }
    if let Some(group) = filter.equals("groups", Some("value")) {
        return Candidates::Scan(Some(group.to_string()));
    }
    match filter {
        Filter::And(a, b) => match (user_candidates(a), user_candidates(b)) {
            (Candidates::Scan(None), other) | (other, Candidates::Scan(None)) => other,
            (Candidates::Scan(group), _) => Candidates::Scan(group),
            (found, _) => found,
        },
        _ => Candidates::Scan(None),
    }
}

/// Documents of the users `ids` that exist, in the order of `ids`; `names` are the
/// workspace's group names (read once per request).
async fn user_docs<S: Store>(
    state: &AppState<S>,
    ws: &str,
    ids: &[String],
    names: &BTreeMap<String, String>,
    base: &Base,
) -> Result<Vec<Value>, Refusal> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = state.service.store().scim_users(ws, ids).await.map_err(ServiceError::from)?;
    let mut by_id: BTreeMap<String, rolecall_store::ScimUserRow> =
        rows.into_iter().map(|r| (r.user.id.clone(), r)).collect();
    let engine = state.service.snapshot();
    let index = engine.workspace(ws)?;
    Ok(ids
        .iter()
        .filter_map(|id| by_id.remove(id))
        .map(|row| {
            let active = index.is_active(&row.user.id).unwrap_or(true);
            resources::user_doc(&row, &resources::groups_of(index, &row.user.id, names), active, base)
        })
        .collect())
}

/// Every group's name, by id.
async fn group_names<S: Store>(state: &AppState<S>, ws: &str) -> Result<BTreeMap<String, String>, Refusal> {
    Ok(all_groups(state, ws).await?.into_iter().map(|g| (g.id, g.name)).collect())
}

async fn all_groups<S: Store>(state: &AppState<S>, ws: &str) -> Result<Vec<rolecall_model::Group>, Refusal> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .service
            .store()
            .groups(ws, None, None, PageRequest { after, limit: 1000 })
            .await
            .map_err(ServiceError::from)?;
        out.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(out),
        }
    }
}

/// How many users a scan reads from the store at a time.
const SCAN_CHUNK: usize = 500;

/// One page of the users a selection asks for (already cut to its attributes), and how
/// many match in all.
async fn query_users<S: Store>(
    state: &AppState<S>,
    ws: &str,
    query: &Selection,
    base: &Base,
) -> Result<(Vec<Value>, u64), Refusal> {
    let offset = query.start - 1;
    let names = group_names(state, ws).await?;
    let matching = |doc: &Value| match &query.filter {
        None => Ok(true),
        Some(f) => filter::matches(f, doc).map_err(|e| Refusal::filter(e.0)),
    };
    let candidates = match &query.filter {
        None => Candidates::Scan(None),
        Some(f) => user_candidates(f),
    };
    let store = state.service.store();
    let (ids, group) = match candidates {
        Candidates::Ids(ids) => (Some(ids), None),
        Candidates::UserName(name) => {
            (Some(store.scim_user_ids(ws, ScimUserKey::UserName(&name)).await.map_err(ServiceError::from)?), None)
        }
        Candidates::ExternalId(id) => {
            (Some(store.scim_user_ids(ws, ScimUserKey::ExternalId(&id)).await.map_err(ServiceError::from)?), None)
        }
        Candidates::Scan(group) => (None, group),
    };
    let (page, total) = if let Some(ids) = ids {
        // A handful of users: read them all and filter.
        let mut found = Vec::new();
        for doc in user_docs(state, ws, &ids, &names, base).await? {
            if matching(&doc)? {
                found.push(doc);
            }
        }
        let total = found.len() as u64;
        (found.into_iter().skip(offset as usize).take(query.count).collect::<Vec<_>>(), total)
    } else {
        // Built-in groups are not SCIM's: nobody is in them as SCIM sees it.
        let hidden = group.as_deref().is_some_and(|g| {
            let engine = state.service.snapshot();
            engine.workspace(ws).ok().is_none_or(|i| i.builtin(g).is_some() || i.member_count(g).is_none())
        });
        let exact = match (&query.filter, &group) {
            (None, _) => true,
            (Some(f), Some(g)) => f.equals("groups", Some("value")) == Some(g.as_str()),
            _ => false,
        };
        if hidden {
            (Vec::new(), 0)
        } else if exact {
            // The whole filter is the order itself: one page by rank, the total from a count.
            let (ids, total) = {
                let engine = state.service.snapshot();
                let index = engine.workspace(ws)?;
                let page = index
                    .users_page(group.as_deref(), offset, query.count)
                    .unwrap_or(rolecall_engine::UserPage { users: Vec::new(), total: 0 });
                (page.users.iter().map(|u| u.to_string()).collect::<Vec<_>>(), page.total)
            };
            (user_docs(state, ws, &ids, &names, base).await?, total)
        } else {
            // Read every candidate in chunks, keep the matches on the page, count them all.
            let (mut page, mut total, mut at) = (Vec::new(), 0u64, 0u64);
            loop {
                let ids: Vec<String> = {
                    let engine = state.service.snapshot();
                    let index = engine.workspace(ws)?;
                    index
                        .users_page(group.as_deref(), at, SCAN_CHUNK)
                        .map(|p| p.users.iter().map(|u| u.to_string()).collect())
                        .unwrap_or_default()
                };
                if ids.is_empty() {
                    break;
                }
                at += ids.len() as u64;
                for doc in user_docs(state, ws, &ids, &names, base).await? {
                    if matching(&doc)? {
                        if total >= offset && page.len() < query.count {
                            page.push(doc);
                        }
                        total += 1;
                    }
                }
            }
            (page, total)
        }
    };
    Ok((page.into_iter().map(|d| query.project(d)).collect(), total))
}

async fn list_users<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let query = Selection::from_params(Kind::User, &params(query)?)?;
    let (page, total) = query_users(&state, &ws, &query, &base(&headers, &ws)).await?;
    Ok(scim_json(StatusCode::OK, &list_of(page, total, query.start)))
}

async fn search_users<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let query = Selection::from_search(Kind::User, &body_json(body)?)?;
    let (page, total) = query_users(&state, &ws, &query, &base(&headers, &ws)).await?;
    Ok(scim_json(StatusCode::OK, &list_of(page, total, query.start)))
}

async fn one_user<S: Store>(state: &AppState<S>, ws: &str, id: &str, base: &Base) -> Result<Value, Refusal> {
    let names = group_names(state, ws).await?;
    user_docs(state, ws, &[id.to_string()], &names, base).await?.pop().ok_or_else(|| Refusal::not_found(Kind::User, id))
}

async fn get_user<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let query = Selection::from_params(Kind::User, &params(query)?)?;
    let doc = one_user(&state, &ws, &id, &base(&headers, &ws)).await?;
    Ok(scim_json(StatusCode::OK, &query.project(doc)))
}

/// Writes a user document: creates user `id` or replaces it.
async fn write_user<S: Store>(
    state: &AppState<S>,
    actor: &Actor,
    ws: &str,
    id: &str,
    doc: Value,
    existing: Existing,
) -> Result<(), Refusal> {
    let before = state.service.store().user(ws, id).await.map_err(ServiceError::from)?;
    if existing == Existing::Replace && before.is_none() {
        return Err(Refusal::not_found(Kind::User, id));
    }
    let role = state.service.default_workspace_role(ws)?;
    let written = resources::user_from_doc(doc, id, before.as_ref(), role)?;
    // Only a client that says so makes a user active again: a replacement that leaves
    // `active` out keeps a suspension.
    let active = match (written.active, existing) {
        (Some(active), _) => active,
        (None, Existing::New) => true,
        (None, Existing::Replace) => state.service.snapshot().workspace(ws)?.is_active(id).unwrap_or(false),
    };
    state.service.scim_put_user(actor, ws, written.user, written.scim, active, existing).await?;
    Ok(())
}

async fn create_user<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let actor = admin(&state, caller, &ws).await?;
    let doc = body_json(body)?;
    let id = crate::random_token(8)?;
    write_user(&state, &actor, &ws, &id, doc, Existing::New).await?;
    created(one_user(&state, &ws, &id, &base(&headers, &ws)).await?)
}

fn created(doc: Value) -> Result<Response, Refusal> {
    let location = doc["meta"]["location"].as_str().unwrap_or_default().to_string();
    let mut response = scim_json(StatusCode::CREATED, &doc);
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn replace_user<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let actor = admin(&state, caller, &ws).await?;
    let doc = body_json(body)?;
    write_user(&state, &actor, &ws, &id, doc, Existing::Replace).await?;
    Ok(scim_json(StatusCode::OK, &one_user(&state, &ws, &id, &base(&headers, &ws)).await?))
}

async fn patch_user<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let actor = admin(&state, caller, &ws).await?;
    let body = body_json(body)?;
    let base = base(&headers, &ws);
    let ops = patch::operations(&body, Kind::User)?;
    let mut doc = one_user(&state, &ws, &id, &base).await?;
    for op in ops {
        for op in patch::with_paths(op, Kind::User)? {
            if op.op == patch::OpKind::Remove && op.path.as_ref().is_some_and(|p| p.attr.attr == "active") {
                return Err(Refusal::new("mutability", "`active` cannot be removed: replace it with true or false"));
            }
            patch::apply(&mut doc, &op)?;
        }
    }
    write_user(&state, &actor, &ws, &id, doc, Existing::Replace).await?;
    Ok(scim_json(StatusCode::OK, &one_user(&state, &ws, &id, &base).await?))
}

async fn delete_user<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Result<Caller, ApiError>,
) -> Result<Response, Refusal> {
    let actor = admin(&state, caller, &ws).await?;
    if state.service.snapshot().workspace(&ws)?.user_info(&id).is_none() {
        return Err(Refusal::not_found(Kind::User, &id));
    }
    state.service.delete_user(&actor, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------- groups

/// The groups SCIM sees (not the built-in ones), with their external ids.
async fn scim_groups<S: Store>(
    state: &AppState<S>,
    ws: &str,
) -> Result<Vec<(rolecall_model::Group, Option<String>)>, Refusal> {
    let groups = all_groups(state, ws).await?;
    let external: BTreeMap<String, String> =
        state.service.store().scim_groups(ws).await.map_err(ServiceError::from)?.into_iter().collect();
    let engine = state.service.snapshot();
    let index = engine.workspace(ws)?;
    Ok(groups
        .into_iter()
        .filter(|g| index.builtin(&g.id).is_none() && index.member_count(&g.id).is_some())
        .map(|g| {
            let ext = external.get(&g.id).cloned();
            (g, ext)
        })
        .collect())
}

/// Decides the parts of a group filter that read `members` from the engine, so a group
/// of a million members is never listed to be filtered.
fn decide_members(filter: Filter, index: &rolecall_engine::WorkspaceIndex, group: &str) -> Result<Filter, Refusal> {
    let has = |id: &str| {
        index.direct_role(group, id).is_some() || index.child_groups(group).unwrap_or_default().contains(&id)
    };
    filter
        .decide("members", &|f| match f {
            Filter::Compare { .. } => f.equals("members", Some("value")).map(has),
            Filter::Present(p) if p.sub.is_none() || p.sub.as_deref() == Some("value") => Some(
                index.direct_member_count(group).unwrap_or(0) > 0
                    || !index.child_groups(group).unwrap_or_default().is_empty(),
            ),
            Filter::Has { filter, .. } => filter.equals("value", None).map(has),
            _ => None,
        })
        .map_err(|e| Refusal::filter(e.0))
}

/// One page of the groups a selection asks for, and how many match in all.
async fn query_groups<S: Store>(
    state: &AppState<S>,
    ws: &str,
    query: &Selection,
    base: &Base,
) -> Result<(Vec<Value>, u64), Refusal> {
    let groups = scim_groups(state, ws).await?;
    let engine = state.service.snapshot();
    let index = engine.workspace(ws)?;
    let mut found = Vec::new();
    for (group, external) in &groups {
        if let Some(f) = &query.filter {
            let decided = decide_members(f.clone(), index, &group.id)?;
            let doc = resources::group_doc(index, group, external.as_deref(), false, base)?;
            if !filter::matches(&decided, &doc).map_err(|e| Refusal::filter(e.0))? {
                continue;
            }
        }
        found.push((group, external));
    }
    let total = found.len() as u64;
    let members = query.wants("members");
    let page = found
        .into_iter()
        .skip((query.start - 1) as usize)
        .take(query.count)
        .map(|(g, ext)| resources::group_doc(index, g, ext.as_deref(), members, base).map(|d| query.project(d)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((page, total))
}

async fn list_groups<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let query = Selection::from_params(Kind::Group, &params(query)?)?;
    let (page, total) = query_groups(&state, &ws, &query, &base(&headers, &ws)).await?;
    Ok(scim_json(StatusCode::OK, &list_of(page, total, query.start)))
}

async fn search_groups<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let query = Selection::from_search(Kind::Group, &body_json(body)?)?;
    let (page, total) = query_groups(&state, &ws, &query, &base(&headers, &ws)).await?;
    Ok(scim_json(StatusCode::OK, &list_of(page, total, query.start)))
}

/// Group `id` as SCIM sees it (`None`: no such group, or a built-in one).
async fn scim_group<S: Store>(
    state: &AppState<S>,
    ws: &str,
    id: &str,
) -> Result<(rolecall_model::Group, Option<String>), Refusal> {
    let builtin = state.service.snapshot().workspace(ws)?.builtin(id).is_some();
    let group = state.service.store().group(ws, id).await.map_err(ServiceError::from)?;
    let group = group.filter(|_| !builtin).ok_or_else(|| Refusal::not_found(Kind::Group, id))?;
    let external = state
        .service
        .store()
        .scim_groups(ws)
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .find(|(g, _)| g == id)
        .map(|(_, e)| e);
    Ok((group, external))
}

async fn group_response<S: Store>(
    state: &AppState<S>,
    ws: &str,
    id: &str,
    query: &Selection,
    base: &Base,
    status: StatusCode,
) -> Result<Response, Refusal> {
    let (group, external) = scim_group(state, ws, id).await?;
    let engine = state.service.snapshot();
    let doc = resources::group_doc(engine.workspace(ws)?, &group, external.as_deref(), query.wants("members"), base)?;
    let mut response = scim_json(status, &query.project(doc.clone()));
    if status == StatusCode::CREATED
        && let Some(Ok(location)) = doc["meta"]["location"].as_str().map(str::parse)
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn get_group<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    query: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> Result<Response, Refusal> {
    admin(&state, caller, &ws).await?;
    let query = Selection::from_params(Kind::Group, &params(query)?)?;
    group_response(&state, &ws, &id, &query, &base(&headers, &ws), StatusCode::OK).await
}

/// Writes a whole group document: creates group `id` or replaces it (members included:
/// a document without `members` leaves the group without direct members).
async fn write_group<S: Store>(
    state: &AppState<S>,
    actor: &Actor,
    ws: &str,
    id: &str,
    doc: &Value,
    existing: Existing,
) -> Result<(), Refusal> {
    let before = match existing {
        Existing::New => None,
        Existing::Replace => Some(scim_group(state, ws, id).await?.0),
    };
    let written = {
        let engine = state.service.snapshot();
        resources::group_from_doc(engine.workspace(ws)?, doc, id, before.as_ref())?
    };
    let mut edits = Edits::default();
    edits.replace(written.members.unwrap_or_default());
    let write = ScimGroup { group: written.group, external_id: written.external_id, members: edits.into_edit() };
    state.service.scim_put_group(actor, ws, write, existing).await?;
    Ok(())
}

async fn create_group<S: Store>(
    State(state): Shared<S>,
    Path(ws): Path<String>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let actor = admin(&state, caller, &ws).await?;
    let doc = body_json(body)?;
    let id = crate::random_token(8)?;
    write_group(&state, &actor, &ws, &id, &doc, Existing::New).await?;
    group_response(&state, &ws, &id, &Selection::default_full(), &base(&headers, &ws), StatusCode::CREATED).await
}

impl Selection {
    /// A response with every attribute.
    fn default_full() -> Selection {
        Selection { start: 1, count: MAX_COUNT, ..Selection::default() }
    }
}

async fn replace_group<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let actor = admin(&state, caller, &ws).await?;
    let doc = body_json(body)?;
    write_group(&state, &actor, &ws, &id, &doc, Existing::Replace).await?;
    group_response(&state, &ws, &id, &Selection::default_full(), &base(&headers, &ws), StatusCode::OK).await
}

/// The ids a `members[value eq "a" or value eq "b"]` filter names.
fn named_values(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Or(a, b) => {
            let mut out = named_values(a)?;
            out.extend(named_values(b)?);
            Some(out)
        }
        f => f.equals("value", None).map(|v| vec![v.to_string()]),
    }
}

async fn patch_group<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    headers: HeaderMap,
    caller: Result<Caller, ApiError>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Refusal> {
    let actor = admin(&state, caller, &ws).await?;
    let body = body_json(body)?;
    let base = base(&headers, &ws);
    let ops = patch::operations(&body, Kind::Group)?;
    let (before, external) = scim_group(&state, &ws, &id).await?;
    let (group, external_id, edits) = {
        let engine = state.service.snapshot();
        let index = engine.workspace(&ws)?;
        // Everything but the members is patched on the document; member operations
        // become edits, so a million-member group is never listed to be patched.
        let mut doc = resources::group_doc(index, &before, external.as_deref(), false, &base)?;
        let mut edits = Edits::default();
        for op in ops {
            for op in patch::with_paths(op, Kind::Group)? {
                let Some(path) = op.path.as_ref().filter(|p| p.attr.attr == "members") else {
                    patch::apply(&mut doc, &op)?;
                    continue;
                };
                if path.sub.is_some() || path.attr.sub.is_some() {
                    return Err(Refusal::path("members are added and removed whole, by `value`"));
                }
                match (op.op, &path.filter, &op.value) {
                    (patch::OpKind::Add, None, Some(list)) => {
                        for m in resources::known_members(index, list)? {
                            edits.add(m);
                        }
                    }
                    (patch::OpKind::Replace, None, Some(list)) => edits.replace(resources::known_members(index, list)?),
                    (patch::OpKind::Remove, None, None) => edits.replace(Vec::new()),
                    (patch::OpKind::Remove, None, Some(list)) => {
                        for m in resources::members(index, list)?.into_iter().flatten() {
                            edits.remove(m);
                        }
                    }
                    (patch::OpKind::Remove, Some(filter), _) => {
                        let ids = named_values(filter).ok_or_else(|| {
                            Refusal::filter("members are removed by `members[value eq \"<id>\"]` (joined with `or`)")
                        })?;
                        let list = Value::Array(ids.into_iter().map(|v| json!({"value": v})).collect());
                        for m in resources::members(index, &list)?.into_iter().flatten() {
                            edits.remove(m);
                        }
                    }
                    _ => return Err(Refusal::path("members are added with `add` and a list of {\"value\": id}")),
                }
            }
        }
        let written = resources::group_from_doc(index, &doc, &id, Some(&before))?;
        (written.group, written.external_id, edits)
    };
    let write = ScimGroup { group, external_id, members: edits.into_edit() };
    state.service.scim_put_group(&actor, &ws, write, Existing::Replace).await?;
    let size = {
        let engine = state.service.snapshot();
        let index = engine.workspace(&ws)?;
        index.direct_member_count(&id).unwrap_or(0) + index.child_groups(&id).unwrap_or_default().len() as u64
    };
    if size > schema::MAX_INLINE_MEMBERS {
        // Too many members to answer with the whole group: the other choice RFC 7644 gives.
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    group_response(&state, &ws, &id, &Selection::default_full(), &base, StatusCode::OK).await
}

async fn delete_group<S: Store>(
    State(state): Shared<S>,
    Path((ws, id)): Path<(String, String)>,
    caller: Result<Caller, ApiError>,
) -> Result<Response, Refusal> {
    let actor = admin(&state, caller, &ws).await?;
    scim_group(&state, &ws, &id).await?;
    state.service.delete_group(&actor, &ws, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
