//! The OpenAPI document (`/openapi.json`) and its browsable page (`/docs`, Swagger UI with
//! its files inside the binary, so it works offline). Operations are declared on the
//! handlers themselves; a test asks every documented operation of a running server and
//! checks that it is routed.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

/// `{"error": {"code", "message", "details"}}`, with every 4xx.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code, e.g. `group_not_found`, `limit_exceeded`, `role_conflict`.
    pub code: String,
    pub message: String,
    /// Facts about the refusal: `orphans` of a schema change, `limit`/`max` of a limit, `held` role.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A write with nothing else to say.
#[derive(Debug, Serialize, ToSchema)]
pub struct Written {
    /// Pass as `consistency.at_least` to read your own write.
    pub revision: String,
}

/// A page of a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceOut {
    pub id: String,
    pub name: String,
    pub revision: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceInfo {
    pub id: String,
    pub name: String,
    pub users: u64,
    pub groups: u64,
    pub resources: u64,
    pub revision: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyOut {
    pub id: String,
    pub name: String,
    /// The secret: shown only in this answer, stored only as a hash.
    pub key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    #[serde(flatten)]
    pub user: rolecall_model::User,
    pub revision: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOut {
    #[serde(flatten)]
    pub group: rolecall_model::Group,
    pub builtin: bool,
    /// Users in the group, counting nested groups.
    pub member_count: u64,
    pub revision: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceOut {
    #[serde(flatten)]
    pub resource: rolecall_model::Resource,
    pub revision: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionSetOut {
    pub id: String,
    pub name: String,
    pub builtin: bool,
    pub permissions: Vec<rolecall_model::GroupPermission>,
    pub assignees: Vec<rolecall_model::Subject>,
    pub revision: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyOut {
    pub id: String,
    pub name: String,
    pub rules: BTreeMap<String, rolecall_model::Effect>,
    pub groups: Vec<String>,
    pub revision: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GrantOut {
    /// `created`, `unchanged` or `replaced`.
    pub outcome: String,
    pub subject: rolecall_model::Subject,
    pub role: String,
    pub revision: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckAnswer {
    pub allowed: bool,
    /// The effective role, or `null`.
    pub role: Option<String>,
    pub revision: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    pub results: Vec<CheckAnswer>,
    pub revision: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainAnswer {
    pub allowed: bool,
    pub role: Option<String>,
    /// The role the action needs.
    pub required: String,
    /// Each path: `{"gives", "blocked", "steps": [{"kind": "member"|"grant"|"inherit"|...}]}`.
    #[schema(value_type = Vec<Object>)]
    pub paths: Vec<serde_json::Value>,
    /// The chains of deny grants that take roles away.
    #[schema(value_type = Vec<Vec<Object>>)]
    pub denied_by: Vec<serde_json::Value>,
    pub revision: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DataFilterAnswer {
    pub unrestricted: bool,
    /// One map attribute -> values when that says it exactly, else `null` (see `any_of`).
    pub filter: Option<BTreeMap<String, Vec<String>>>,
    /// The scopes the user has: rows matching any one are visible.
    pub any_of: Vec<BTreeMap<String, Vec<String>>>,
    #[schema(value_type = Object)]
    pub sql: serde_json::Value,
    pub revision: String,
}

/// A data scope: attribute -> allowed values.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scope(pub BTreeMap<String, Vec<String>>);

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Rolecall",
        description = "Groups and permissions as a service. Every request needs `Authorization: Bearer <key>` \
                       (the root key or a workspace key); `Rolecall-Actor: <user id>` acts as that user.",
        license(name = "Apache-2.0")
    ),
    paths(
        crate::create_workspace, crate::manage::get_workspace, crate::manage::delete_workspace,
        crate::manage::get_schema, crate::manage::put_schema, crate::create_api_key, crate::manage::list_api_keys, crate::manage::delete_api_key, crate::manage::export, crate::manage::export_spicedb, crate::manage::export_openfga,
        crate::manage::import,
        crate::create_user, crate::listing::list_users, crate::listing::get_user, crate::manage::patch_user,
        crate::listing::delete_user, crate::manage::record_activity, crate::manage::put_password,
        crate::create_group, crate::listing::list_groups, crate::listing::get_group, crate::manage::patch_group,
        crate::listing::delete_group, crate::manage::bulk,
        crate::manage::list_members, crate::put_member, crate::listing::delete_member, crate::manage::put_child,
        crate::manage::delete_child,
        crate::manage::list_permission_sets, crate::manage::create_permission_set,
        crate::manage::patch_permission_set, crate::manage::delete_permission_set, crate::manage::put_assignee,
        crate::manage::delete_assignee,
        crate::manage::list_policies, crate::manage::create_policy, crate::manage::get_policy,
        crate::manage::patch_policy, crate::manage::delete_policy, crate::manage::group_policies,
        crate::manage::attach_policy, crate::manage::detach_policy,
        crate::manage::list_data_scopes, crate::manage::put_data_scope, crate::manage::delete_data_scope,
        crate::create_resource, crate::manage::list_resources, crate::manage::get_resource,
        crate::manage::patch_resource, crate::manage::delete_resource,
        crate::put_grant, crate::listing::list_grants, crate::listing::revoke_grant,
        crate::check, crate::check_batch, crate::lookup_resources, crate::lookup_subjects, crate::explain,
        crate::data_filter,
        crate::listing::changes, crate::listing::audit,
        crate::webhooks::create_webhook, crate::webhooks::list_webhooks, crate::webhooks::get_webhook,
        crate::webhooks::delete_webhook, crate::webhooks::list_deliveries, crate::webhooks::redeliver,
        crate::webhooks::list_notifications, crate::webhooks::notify_groups, crate::webhooks::notify_group,
        crate::authzen::root_metadata, crate::authzen::workspace_metadata,
        crate::authzen::root_evaluation, crate::authzen::evaluation_in, crate::authzen::root_evaluations,
        crate::authzen::evaluations_in, crate::authzen::root_search_subject, crate::authzen::search_subject_in,
        crate::authzen::root_search_resource, crate::authzen::search_resource_in,
        crate::authzen::root_search_action, crate::authzen::search_action_in,
        crate::observe::metrics_text,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions)
)]
pub struct ApiDoc;

/// What every operation shares: bearer auth, the optional actor header, path parameters
/// named in the path, and the JSON error answer.
#[derive(Debug)]
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let error = ResponseBuilder::new()
            .description("Refused: 400 invalid input, 401, 403, 404, 409 conflict, 413 too large, 429 retry")
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
            .build();
        for (path, item) in doc.paths.paths.iter_mut() {
            let names: Vec<String> = path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(String::from)
                .collect();
            for op in
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                let params = op.parameters.get_or_insert_with(Vec::new);
                for name in names.iter().rev() {
                    let declared = params
                        .iter()
                        .any(|p| matches!(p, RefOr::T(p) if &p.name == name && p.parameter_in == ParameterIn::Path));
                    if !declared {
                        params.insert(0, RefOr::T(path_param(name)));
                    }
                }
                if path != "/metrics" {
                    params.push(RefOr::T(
                        ParameterBuilder::new()
                            .name("Rolecall-Actor")
                            .parameter_in(ParameterIn::Header)
                            .required(Required::False)
                            .description(Some("Act as this user of the workspace, with their permissions"))
                            .schema(Some(utoipa::schema!(String)))
                            .build(),
                    ));
                    op.responses.responses.insert("4XX".into(), RefOr::T(error.clone()));
                    op.security =
                        Some(vec![utoipa::openapi::security::SecurityRequirement::new("bearer", Vec::<String>::new())]);
                }
            }
        }
    }
}

fn path_param(name: &str) -> Parameter {
    let description = match name {
        "ws" => "Workspace id",
        "type" => "Resource type",
        "g" => "Group id",
        "u" => "User id",
        _ => "Id",
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(utoipa::schema!(String)))
        .build()
}

/// The document as served.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
