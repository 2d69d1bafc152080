//! The workspace schema (API.md): workspace roles, capabilities, resource types with their
//! ordered roles, actions and inheritance, and datasets for data scopes.
//!
//! A [`SchemaDoc`] is what a client writes (JSON or TOML). [`Schema::compile`] validates it
//! and turns names into small indexes so that the engine never compares strings on the
//! check path.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// The pseudo resource type for workspace capability checks (`{"type": "workspace", "id": ws}`).
pub const WORKSPACE_TYPE: &str = "workspace";
/// The pseudo resource type for group-management checks (`{"type": "group", "id": g}`).
pub const GROUP_TYPE: &str = "group";

/// Index of a resource type in [`Schema::types`].
pub type TypeIx = u16;
/// Index of a role in its type's ordered `roles` (higher is more).
pub type RoleLevel = u8;
/// Index of a workspace role in the ordered `workspace_roles` (higher is more).
pub type WsRoleIx = u8;

const MAX_NAMES: usize = 200;

/// A schema as clients write it. Unknown fields are refused so a typo is never ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaDoc {
    #[serde(default = "default_workspace_roles")]
    pub workspace_roles: Vec<String>,
    #[serde(default = "default_admin_roles")]
    pub admin_roles: Vec<String>,
    #[serde(default)]
    pub capabilities: BTreeMap<String, String>,
    #[serde(default)]
    pub resource_types: BTreeMap<String, ResourceTypeDoc>,
    #[serde(default)]
    pub datasets: BTreeMap<String, DatasetDoc>,
}

/// One resource type as clients write it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceTypeDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_role: Option<String>,
    #[serde(default)]
    pub actions: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub from_parent: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locked_from_parent: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub implied_by_workspace_role: BTreeMap<String, String>,
}

/// One dataset for data scopes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetDoc {
    pub attributes: Vec<String>,
    #[serde(default)]
    pub without_scope: WithoutScope,
}

/// What a user who has no scope for a dataset sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WithoutScope {
    #[default]
    Nothing,
    Everything,
}

fn default_workspace_roles() -> Vec<String> {
    ["consumer", "member", "creator", "admin", "owner"].map(String::from).to_vec()
}

fn default_admin_roles() -> Vec<String> {
    ["admin", "owner"].map(String::from).to_vec()
}

/// Why a schema was refused. Messages name the offending part exactly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("invalid schema document: {0}")]
    Parse(String),
    #[error("`workspace_roles` must list at least one role")]
    NoWorkspaceRoles,
    #[error("{context}: invalid name `{name}` (1 to 64 characters of A-Z a-z 0-9 _ -, starting with a letter)")]
    InvalidName { context: String, name: String },
    #[error("{context}: `{name}` is listed twice")]
    Duplicate { context: String, name: String },
    #[error("{context}: too many entries (at most {MAX_NAMES})")]
    TooMany { context: String },
    #[error("{context}: unknown workspace role `{role}`")]
    UnknownWorkspaceRole { context: String, role: String },
    #[error("resource type `{name}` is reserved")]
    ReservedType { name: String },
    #[error("resource type `{ty}` must list at least one role")]
    NoRoles { ty: String },
    #[error("{context}: unknown role `{role}` of resource type `{ty}`")]
    UnknownRole { context: String, ty: String, role: String },
    #[error("resource type `{ty}`: deny role `{role}` is also a normal role")]
    DenyRoleIsRole { ty: String, role: String },
    #[error(
        "resource type `{ty}`, action `{action}`: names the deny role `{role}`; an action names the lowest normal role that may do it"
    )]
    ActionNamesDenyRole { ty: String, action: String, role: String },
    #[error("resource type `{ty}`: unknown parent type `{parent}`")]
    UnknownParent { ty: String, parent: String },
    #[error("resource types form a parent cycle: {cycle}")]
    ParentCycle { cycle: String },
    #[error("resource type `{ty}`: `{field}` needs a `parent`")]
    InheritanceWithoutParent { ty: String, field: &'static str },
    #[error("resource type `{ty}`: locked role `{role}` is not given by `from_parent`")]
    LockedNotFromParent { ty: String, role: String },
    #[error("dataset `{dataset}` must list at least one attribute")]
    NoAttributes { dataset: String },
}

/// A validated, indexed schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schema {
    doc: SchemaDoc,
    pub workspace_roles: Vec<String>,
    /// Indexed by workspace role: admins and owners keep everything.
    pub is_admin: Vec<bool>,
    pub capabilities: Vec<CapabilityDef>,
    pub types: Vec<ResourceType>,
    type_index: BTreeMap<String, TypeIx>,
    pub datasets: Vec<DatasetDef>,
}

/// A workspace-level action and the lowest workspace role that has it by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapabilityDef {
    pub name: String,
    pub min_role: WsRoleIx,
}

/// A dataset and its attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetDef {
    pub name: String,
    pub attributes: Vec<String>,
    pub without_scope: WithoutScope,
}

/// A compiled resource type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    pub name: String,
    pub parent: Option<TypeIx>,
    /// Normal roles, low to high; a [`RoleLevel`] indexes this list.
    pub roles: Vec<String>,
    pub deny_role: Option<String>,
    /// Action name and the lowest role that may do it.
    pub actions: Vec<(String, RoleLevel)>,
    /// `from_parent` entries: (role on the parent, role here, locked).
    pub from_parent: Vec<(RoleLevel, RoleLevel, bool)>,
    /// `implied_by_workspace_role` entries: (workspace role, role here).
    pub implied: Vec<(WsRoleIx, RoleLevel)>,
    /// Indexed by the effective role on the parent: the best role it gives here.
    pub inherited: Vec<Option<RoleLevel>>,
    /// Indexed by the effective role on the parent: the best locked role it gives here.
    pub inherited_locked: Vec<Option<RoleLevel>>,
    /// Indexed by workspace role: the role it implies here.
    pub ws_implied: Vec<Option<RoleLevel>>,
}

impl ResourceType {
    /// The level of a normal role, by name.
    pub fn role_level(&self, role: &str) -> Option<RoleLevel> {
        self.roles.iter().position(|r| r == role).map(|i| i as RoleLevel)
    }

    /// The lowest role that may do `action`.
    pub fn action_level(&self, action: &str) -> Option<RoleLevel> {
        self.actions.iter().find(|(a, _)| a == action).map(|(_, l)| *l)
    }

    /// Whether `role` is this type's deny role.
    pub fn is_deny_role(&self, role: &str) -> bool {
        self.deny_role.as_deref() == Some(role)
    }

    /// The name of a role level.
    pub fn role_name(&self, level: RoleLevel) -> &str {
        self.roles.get(usize::from(level)).map(String::as_str).unwrap_or("")
    }

    /// The lowest role on the parent that gives at least `level` here (locked roles only
    /// when `locked`), or `None` when no parent role does.
    pub fn min_parent_level(&self, level: RoleLevel, locked: bool) -> Option<RoleLevel> {
        let table = if locked { &self.inherited_locked } else { &self.inherited };
        table.iter().position(|r| r.is_some_and(|r| r >= level)).map(|i| i as RoleLevel)
    }

    /// The highest role this type's roles reach.
    pub fn top_level(&self) -> RoleLevel {
        (self.roles.len() - 1) as RoleLevel
    }
}

impl SchemaDoc {
    /// The schema a workspace gets when it is created without one (API.md's example).
    pub fn default_schema() -> SchemaDoc {
        // INVARIANT: the embedded default is valid; a unit test parses and compiles it.
        serde_json::from_str(include_str!("default_schema.json")).unwrap_or_else(|_| SchemaDoc {
            workspace_roles: default_workspace_roles(),
            admin_roles: default_admin_roles(),
            capabilities: BTreeMap::new(),
            resource_types: BTreeMap::new(),
            datasets: BTreeMap::new(),
        })
    }

    /// Parses a JSON schema document.
    pub fn from_json(text: &str) -> Result<SchemaDoc, SchemaError> {
        serde_json::from_str(text).map_err(|e| SchemaError::Parse(e.to_string()))
    }

    /// Parses a TOML schema document.
    pub fn from_toml(text: &str) -> Result<SchemaDoc, SchemaError> {
        toml::from_str(text).map_err(|e| SchemaError::Parse(e.message().to_string()))
    }
}

fn check_name(context: impl Fn() -> String, name: &str) -> Result<(), SchemaError> {
    let mut bytes = name.bytes();
    let ok = name.len() <= 64
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok { Ok(()) } else { Err(SchemaError::InvalidName { context: context(), name: name.to_string() }) }
}

fn check_list(context: &str, names: &[String]) -> Result<(), SchemaError> {
    if names.len() > MAX_NAMES {
        return Err(SchemaError::TooMany { context: context.to_string() });
    }
    let mut seen = BTreeSet::new();
    for name in names {
        check_name(|| context.to_string(), name)?;
        if !seen.insert(name.as_str()) {
            return Err(SchemaError::Duplicate { context: context.to_string(), name: name.clone() });
        }
    }
    Ok(())
}

fn position(list: &[String], name: &str) -> Option<u8> {
    list.iter().position(|n| n == name).map(|i| i as u8)
}

impl Schema {
    /// Validates `doc` and indexes it.
    pub fn compile(doc: SchemaDoc) -> Result<Schema, SchemaError> {
        if doc.workspace_roles.is_empty() {
            return Err(SchemaError::NoWorkspaceRoles);
        }
        check_list("`workspace_roles`", &doc.workspace_roles)?;
        let ws_roles = &doc.workspace_roles;
        let ws_role = |context: &dyn Fn() -> String, role: &str| {
            position(ws_roles, role)
                .ok_or_else(|| SchemaError::UnknownWorkspaceRole { context: context(), role: role.to_string() })
        };

        let mut is_admin = vec![false; ws_roles.len()];
        for role in &doc.admin_roles {
            let ix = ws_role(&|| "`admin_roles`".to_string(), role)?;
            is_admin[usize::from(ix)] = true;
        }

        if doc.capabilities.len() > MAX_NAMES {
            return Err(SchemaError::TooMany { context: "`capabilities`".into() });
        }
        let mut capabilities = Vec::new();
        for (name, role) in &doc.capabilities {
            check_name(|| "`capabilities`".to_string(), name)?;
            let min_role = ws_role(&|| format!("capability `{name}`"), role)?;
            capabilities.push(CapabilityDef { name: name.clone(), min_role });
        }
        // Who may create groups is always a capability (seed 004); it defaults to `member`
        // when the workspace roles have one, and to the lowest admin role otherwise.
        if !doc.capabilities.contains_key("create_group") {
            let min_role = position(ws_roles, "member")
                .or_else(|| is_admin.iter().position(|a| *a).map(|i| i as u8))
                .unwrap_or((ws_roles.len() - 1) as u8);
            capabilities.push(CapabilityDef { name: "create_group".into(), min_role });
        }

        if doc.resource_types.len() > MAX_NAMES {
            return Err(SchemaError::TooMany { context: "`resource_types`".into() });
        }
        let names: Vec<&String> = doc.resource_types.keys().collect();
        let type_index: BTreeMap<String, TypeIx> =
            names.iter().enumerate().map(|(i, n)| ((*n).clone(), i as TypeIx)).collect();
        for name in &names {
            check_name(|| "`resource_types`".to_string(), name)?;
            if *name == WORKSPACE_TYPE || *name == GROUP_TYPE {
                return Err(SchemaError::ReservedType { name: (*name).clone() });
            }
        }

        let mut types = Vec::with_capacity(names.len());
        for (name, def) in &doc.resource_types {
            types.push(compile_type(name, def, &doc, &type_index, &ws_role)?);
        }
        check_parent_cycles(&types)?;

        let mut datasets = Vec::new();
        for (name, def) in &doc.datasets {
            check_name(|| "`datasets`".to_string(), name)?;
            if def.attributes.is_empty() {
                return Err(SchemaError::NoAttributes { dataset: name.clone() });
            }
            check_list(&format!("dataset `{name}`, `attributes`"), &def.attributes)?;
            datasets.push(DatasetDef {
                name: name.clone(),
                attributes: def.attributes.clone(),
                without_scope: def.without_scope,
            });
        }

        Ok(Schema {
            workspace_roles: doc.workspace_roles.clone(),
            is_admin,
            capabilities,
            types,
            type_index,
            datasets,
            doc,
        })
    }

    /// The document this schema was compiled from.
    pub fn doc(&self) -> &SchemaDoc {
        &self.doc
    }

    /// A resource type's index, by name.
    pub fn type_ix(&self, name: &str) -> Option<TypeIx> {
        self.type_index.get(name).copied()
    }

    /// A resource type, by index.
    pub fn ty(&self, ix: TypeIx) -> &ResourceType {
        &self.types[usize::from(ix)]
    }

    /// A workspace role's index, by name.
    pub fn ws_role(&self, name: &str) -> Option<WsRoleIx> {
        position(&self.workspace_roles, name)
    }

    /// Whether a workspace role is an admin role.
    pub fn ws_role_is_admin(&self, role: WsRoleIx) -> bool {
        self.is_admin.get(usize::from(role)).copied().unwrap_or(false)
    }

    /// A capability's index, by name.
    pub fn capability(&self, name: &str) -> Option<usize> {
        self.capabilities.iter().position(|c| c.name == name)
    }

    /// A dataset's index, by name.
    pub fn dataset(&self, name: &str) -> Option<usize> {
        self.datasets.iter().position(|d| d.name == name)
    }
}

/// Resolves a workspace role name, with a context for the error message.
type WsRoleLookup<'a> = &'a dyn Fn(&dyn Fn() -> String, &str) -> Result<WsRoleIx, SchemaError>;

fn compile_type(
    name: &str,
    def: &ResourceTypeDoc,
    doc: &SchemaDoc,
    type_index: &BTreeMap<String, TypeIx>,
    ws_role: WsRoleLookup<'_>,
) -> Result<ResourceType, SchemaError> {
    if def.roles.is_empty() {
        return Err(SchemaError::NoRoles { ty: name.to_string() });
    }
    check_list(&format!("resource type `{name}`, `roles`"), &def.roles)?;
    if let Some(deny) = &def.deny_role {
        check_name(|| format!("resource type `{name}`, `deny_role`"), deny)?;
        if def.roles.contains(deny) {
            return Err(SchemaError::DenyRoleIsRole { ty: name.to_string(), role: deny.clone() });
        }
    }
    let role = |context: &dyn Fn() -> String, role: &str| {
        position(&def.roles, role).ok_or_else(|| SchemaError::UnknownRole {
            context: context(),
            ty: name.to_string(),
            role: role.to_string(),
        })
    };

    if def.actions.len() > MAX_NAMES {
        return Err(SchemaError::TooMany { context: format!("resource type `{name}`, `actions`") });
    }
    let mut actions = Vec::new();
    for (action, r) in &def.actions {
        check_name(|| format!("resource type `{name}`, `actions`"), action)?;
        if def.deny_role.as_deref() == Some(r.as_str()) {
            return Err(SchemaError::ActionNamesDenyRole {
                ty: name.to_string(),
                action: action.clone(),
                role: r.clone(),
            });
        }
        actions.push((action.clone(), role(&|| format!("resource type `{name}`, action `{action}`"), r)?));
    }

    let parent = match &def.parent {
        None => None,
        Some(p) => Some(
            *type_index.get(p).ok_or_else(|| SchemaError::UnknownParent { ty: name.to_string(), parent: p.clone() })?,
        ),
    };

    let mut from_parent = Vec::new();
    if !def.from_parent.is_empty() {
        let Some(parent_name) = &def.parent else {
            return Err(SchemaError::InheritanceWithoutParent { ty: name.to_string(), field: "from_parent" });
        };
        let parent_doc = &doc.resource_types[parent_name];
        for (parent_role, here) in &def.from_parent {
            let parent_level = position(&parent_doc.roles, parent_role).ok_or_else(|| SchemaError::UnknownRole {
                context: format!("resource type `{name}`, `from_parent` key"),
                ty: parent_name.clone(),
                role: parent_role.clone(),
            })?;
            let level = role(&|| format!("resource type `{name}`, `from_parent` value"), here)?;
            from_parent.push((parent_level, level, def.locked_from_parent.contains(here)));
        }
    }
    if !def.locked_from_parent.is_empty() && def.parent.is_none() {
        return Err(SchemaError::InheritanceWithoutParent { ty: name.to_string(), field: "locked_from_parent" });
    }
    for locked in &def.locked_from_parent {
        role(&|| format!("resource type `{name}`, `locked_from_parent`"), locked)?;
        if !def.from_parent.values().any(|v| v == locked) {
            return Err(SchemaError::LockedNotFromParent { ty: name.to_string(), role: locked.clone() });
        }
    }

    let mut implied = Vec::new();
    for (wsr, here) in &def.implied_by_workspace_role {
        let w = ws_role(&|| format!("resource type `{name}`, `implied_by_workspace_role`"), wsr)?;
        let level = role(&|| format!("resource type `{name}`, `implied_by_workspace_role` value"), here)?;
        implied.push((w, level));
    }

    let parent_roles = def.parent.as_ref().and_then(|p| doc.resource_types.get(p)).map_or(0, |p| p.roles.len());
    let best = |pl: usize, locked_only: bool| {
        from_parent
            .iter()
            .filter(|(key, _, locked)| usize::from(*key) <= pl && (*locked || !locked_only))
            .map(|(_, level, _)| *level)
            .max()
    };
    let inherited = (0..parent_roles).map(|pl| best(pl, false)).collect();
    let inherited_locked = (0..parent_roles).map(|pl| best(pl, true)).collect();
    let ws_implied = (0..doc.workspace_roles.len())
        .map(|w| implied.iter().filter(|(key, _)| usize::from(*key) <= w).map(|(_, l)| *l).max())
        .collect();

    Ok(ResourceType {
        name: name.to_string(),
        parent,
        roles: def.roles.clone(),
        deny_role: def.deny_role.clone(),
        actions,
        from_parent,
        implied,
        inherited,
        inherited_locked,
        ws_implied,
    })
}

fn check_parent_cycles(types: &[ResourceType]) -> Result<(), SchemaError> {
    for start in 0..types.len() {
        let mut chain = vec![start];
        let mut at = start;
        while let Some(p) = types[at].parent {
            let p = usize::from(p);
            if p == start {
                chain.push(p);
                let cycle: Vec<&str> = chain.iter().map(|&i| types[i].name.as_str()).collect();
                return Err(SchemaError::ParentCycle { cycle: cycle.join(" -> ") });
            }
            if chain.contains(&p) {
                break; // A cycle that does not pass through `start`: reported from its own start.
            }
            chain.push(p);
            at = p;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_json(text: &str) -> Result<Schema, SchemaError> {
        Schema::compile(SchemaDoc::from_json(text)?)
    }

    fn with_types(types: &str) -> Result<Schema, SchemaError> {
        compile_json(&format!(r#"{{"resource_types": {types}}}"#))
    }

    #[test]
    fn the_default_schema_compiles() {
        let schema = Schema::compile(SchemaDoc::default_schema()).unwrap();
        let workflow = schema.ty(schema.type_ix("workflow").unwrap());
        assert_eq!(workflow.action_level("run"), Some(0));
        assert_eq!(workflow.action_level("update"), Some(1));
        assert!(workflow.is_deny_role("restricted"));
        // App admin on the parent gives locked admin here.
        assert_eq!(workflow.inherited_locked, vec![None, Some(1)]);
        assert!(schema.capability("create_group").is_some());
        assert!(schema.ws_role_is_admin(schema.ws_role("owner").unwrap()));
        assert!(!schema.ws_role_is_admin(schema.ws_role("creator").unwrap()));
    }

    #[test]
    fn toml_and_json_give_the_same_schema() {
        let toml = r#"
            workspace_roles = ["member", "admin"]
            admin_roles = ["admin"]
            [resource_types.doc]
            roles = ["viewer", "editor"]
            actions = { read = "viewer", write = "editor" }
            implied_by_workspace_role = { admin = "editor" }
        "#;
        let json = r#"{"workspace_roles": ["member", "admin"], "admin_roles": ["admin"],
            "resource_types": {"doc": {"roles": ["viewer", "editor"],
            "actions": {"read": "viewer", "write": "editor"},
            "implied_by_workspace_role": {"admin": "editor"}}}}"#;
        let a = Schema::compile(SchemaDoc::from_toml(toml).unwrap()).unwrap();
        let b = compile_json(json).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn an_action_naming_an_unknown_role_is_refused() {
        let err = with_types(r#"{"app": {"roles": ["runner"], "actions": {"run": "runer"}}}"#).unwrap_err();
        assert_eq!(err.to_string(), "resource type `app`, action `run`: unknown role `runer` of resource type `app`");
    }

    #[test]
    fn an_action_naming_the_deny_role_is_refused() {
        let err =
            with_types(r#"{"wf": {"roles": ["runner"], "deny_role": "restricted", "actions": {"run": "restricted"}}}"#)
                .unwrap_err();
        assert!(matches!(err, SchemaError::ActionNamesDenyRole { .. }), "{err}");
    }

    #[test]
    fn a_deny_role_that_is_also_a_normal_role_is_refused() {
        let err = with_types(r#"{"wf": {"roles": ["runner", "restricted"], "deny_role": "restricted"}}"#).unwrap_err();
        assert_eq!(err, SchemaError::DenyRoleIsRole { ty: "wf".into(), role: "restricted".into() });
    }

    #[test]
    fn a_parent_cycle_between_types_is_refused() {
        let err = with_types(
            r#"{"a": {"roles": ["r"], "parent": "b"}, "b": {"roles": ["r"], "parent": "c"}, "c": {"roles": ["r"], "parent": "a"}}"#,
        )
        .unwrap_err();
        assert_eq!(err, SchemaError::ParentCycle { cycle: "a -> b -> c -> a".into() });
        let err = with_types(r#"{"a": {"roles": ["r"], "parent": "a"}}"#).unwrap_err();
        assert_eq!(err, SchemaError::ParentCycle { cycle: "a -> a".into() });
    }

    #[test]
    fn a_from_parent_key_that_is_not_a_role_of_the_parent_is_refused() {
        let err = with_types(
            r#"{"app": {"roles": ["runner", "admin"]},
                "wf": {"parent": "app", "roles": ["runner"], "from_parent": {"owner": "runner"}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "resource type `wf`, `from_parent` key: unknown role `owner` of resource type `app`"
        );
    }

    #[test]
    fn inheritance_without_a_parent_is_refused() {
        let err = with_types(r#"{"wf": {"roles": ["runner"], "from_parent": {"runner": "runner"}}}"#).unwrap_err();
        assert!(matches!(err, SchemaError::InheritanceWithoutParent { field: "from_parent", .. }));
    }

    #[test]
    fn a_locked_role_must_come_from_the_parent() {
        let err = with_types(
            r#"{"app": {"roles": ["runner", "admin"]},
                "wf": {"parent": "app", "roles": ["runner", "admin"], "from_parent": {"runner": "runner"}, "locked_from_parent": ["admin"]}}"#,
        )
        .unwrap_err();
        assert_eq!(err, SchemaError::LockedNotFromParent { ty: "wf".into(), role: "admin".into() });
    }

    #[test]
    fn unknown_parents_workspace_roles_and_reserved_names_are_refused() {
        assert!(matches!(
            with_types(r#"{"wf": {"roles": ["r"], "parent": "nope"}}"#),
            Err(SchemaError::UnknownParent { .. })
        ));
        assert!(matches!(
            with_types(r#"{"app": {"roles": ["r"], "implied_by_workspace_role": {"boss": "r"}}}"#),
            Err(SchemaError::UnknownWorkspaceRole { .. })
        ));
        assert!(matches!(with_types(r#"{"group": {"roles": ["r"]}}"#), Err(SchemaError::ReservedType { .. })));
        assert!(matches!(compile_json(r#"{"admin_roles": ["root"]}"#), Err(SchemaError::UnknownWorkspaceRole { .. })));
        assert!(matches!(
            compile_json(r#"{"capabilities": {"create_app": "root"}}"#),
            Err(SchemaError::UnknownWorkspaceRole { .. })
        ));
    }

    #[test]
    fn empty_duplicate_and_malformed_names_are_refused() {
        assert_eq!(compile_json(r#"{"workspace_roles": []}"#), Err(SchemaError::NoWorkspaceRoles));
        assert!(matches!(with_types(r#"{"app": {"roles": []}}"#), Err(SchemaError::NoRoles { .. })));
        assert!(matches!(with_types(r#"{"app": {"roles": ["r", "r"]}}"#), Err(SchemaError::Duplicate { .. })));
        assert!(matches!(with_types(r#"{"app": {"roles": ["has space"]}}"#), Err(SchemaError::InvalidName { .. })));
        assert!(matches!(
            compile_json(r#"{"datasets": {"sales": {"attributes": []}}}"#),
            Err(SchemaError::NoAttributes { .. })
        ));
    }

    #[test]
    fn unknown_fields_are_refused_not_ignored() {
        let err = SchemaDoc::from_json(r#"{"resource_types": {"app": {"roles": ["r"], "acitons": {}}}}"#).unwrap_err();
        assert!(err.to_string().contains("acitons"), "{err}");
        let err = SchemaDoc::from_toml("[resource_types.app]\nroles = [\"r\"]\nparnet = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("parnet"), "{err}");
    }

    #[test]
    fn workspace_role_implications_apply_to_higher_roles() {
        let schema = Schema::compile(SchemaDoc::default_schema()).unwrap();
        let app = schema.ty(schema.type_ix("app").unwrap());
        let admin = usize::from(schema.ws_role("admin").unwrap());
        let owner = usize::from(schema.ws_role("owner").unwrap());
        assert_eq!(app.ws_implied[admin], Some(1));
        assert_eq!(app.ws_implied[owner], Some(1));
        assert_eq!(app.ws_implied[admin - 1], None);
    }
}
