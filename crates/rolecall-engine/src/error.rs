//! Why the engine refused a change or a question.

use rolecall_model::{IdError, LimitKind, SchemaError};

/// A typed refusal. Nothing was changed when a change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    InvalidId(#[from] IdError),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error("workspace `{0}` not found")]
    WorkspaceNotFound(String),
    #[error("workspace `{0}` already exists")]
    WorkspaceExists(String),
    #[error("user `{0}` not found")]
    UserNotFound(String),
    #[error("group `{0}` not found")]
    GroupNotFound(String),
    #[error("resource `{0}` not found")]
    ResourceNotFound(String),
    #[error("policy `{0}` not found")]
    PolicyNotFound(String),
    #[error("permission set `{set}` not found in group `{group}`")]
    PermissionSetNotFound { group: String, set: String },
    #[error("unknown resource type `{0}`")]
    UnknownType(String),
    #[error("unknown workspace role `{0}`")]
    UnknownWorkspaceRole(String),
    #[error("unknown role `{role}` for resource type `{kind}`")]
    UnknownRole { kind: String, role: String },
    #[error("unknown action `{action}` for resource type `{kind}`")]
    UnknownAction { kind: String, action: String },
    #[error("unknown capability `{0}`")]
    UnknownCapability(String),
    #[error("unknown dataset `{0}`")]
    UnknownDataset(String),
    #[error("dataset `{dataset}` has no attribute `{attribute}`")]
    UnknownAttribute { dataset: String, attribute: String },
    #[error("resource `{resource}` cannot have parent `{parent}`: {reason}")]
    InvalidParent { resource: String, parent: String, reason: String },
    #[error("resource `{resource}` still has {children} child resource(s); delete or move them first")]
    ResourceHasChildren { resource: String, children: u64 },
    #[error("nesting group `{child}` inside `{group}` would make a cycle")]
    Cycle { group: String, child: String },
    #[error("limit reached: at most {max} {limit}{}", group.as_ref().map(|g| format!(" (group `{g}`)")).unwrap_or_default())]
    LimitExceeded { limit: LimitKind, max: u64, group: Option<String> },
    #[error("group `{0}` must keep at least one owner")]
    LastOwner(String),
    #[error("group `{group}` is built in: {what}")]
    BuiltinGroup { group: String, what: &'static str },
    #[error("permission set `{0}` is built in: {1}")]
    BuiltinPermissionSet(String, &'static str),
    #[error("user `{user}` is not a member of group `{group}`")]
    MemberNotFound { group: String, user: String },
    #[error("group `{child}` is not nested in group `{group}`")]
    ChildNotFound { group: String, child: String },
    #[error("{subject} has no grant on `{resource}`")]
    GrantNotFound { resource: String, subject: String },
    #[error("{subject} is not an assignee of permission set `{set}`")]
    AssigneeNotFound { set: String, subject: String },
    #[error("policy `{policy}` is not attached to group `{group}`")]
    PolicyNotAttached { group: String, policy: String },
    #[error("attribute `{attribute}` lists more than {max} values")]
    TooManyValues { attribute: String, max: usize },
    #[error("no data scope for dataset `{dataset}` on group `{group}`")]
    ScopeNotFound { group: String, dataset: String },
    #[error("the new schema does not fit existing data: {}", .0.join("; "))]
    SchemaOrphans(Vec<String>),
    #[error("revision {given} is not after the applied revision {applied}")]
    StaleRevision { given: u64, applied: u64 },
}

impl EngineError {
    /// A stable snake_case code for clients.
    pub fn code(&self) -> &'static str {
        use EngineError::*;
        match self {
            InvalidId(_) => "invalid_id",
            Schema(_) => "invalid_schema",
            WorkspaceNotFound(_) => "workspace_not_found",
            WorkspaceExists(_) => "workspace_exists",
            UserNotFound(_) => "user_not_found",
            GroupNotFound(_) => "group_not_found",
            ResourceNotFound(_) => "resource_not_found",
            PolicyNotFound(_) => "policy_not_found",
            PermissionSetNotFound { .. } => "permission_set_not_found",
            UnknownType(_) => "unknown_type",
            UnknownWorkspaceRole(_) => "unknown_workspace_role",
            UnknownRole { .. } => "unknown_role",
            UnknownAction { .. } => "unknown_action",
            UnknownCapability(_) => "unknown_capability",
            UnknownDataset(_) => "unknown_dataset",
            UnknownAttribute { .. } => "unknown_attribute",
            InvalidParent { .. } => "invalid_parent",
            ResourceHasChildren { .. } => "resource_has_children",
            Cycle { .. } => "cycle",
            LimitExceeded { .. } => "limit_exceeded",
            LastOwner(_) => "last_owner",
            BuiltinGroup { .. } => "builtin_group",
            BuiltinPermissionSet(..) => "builtin_permission_set",
            MemberNotFound { .. } => "member_not_found",
            ChildNotFound { .. } => "child_group_not_found",
            GrantNotFound { .. } => "grant_not_found",
            AssigneeNotFound { .. } => "assignee_not_found",
            PolicyNotAttached { .. } => "policy_not_attached",
            ScopeNotFound { .. } => "data_scope_not_found",
            TooManyValues { .. } => "too_many_values",
            SchemaOrphans(_) => "schema_orphans",
            StaleRevision { .. } => "stale_revision",
        }
    }

    /// Whether the error says something named does not exist (a 404 at the edge).
    pub fn is_not_found(&self) -> bool {
        self.code().ends_with("not_found")
    }
}
