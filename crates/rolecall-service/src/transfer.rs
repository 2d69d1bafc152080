//! A whole workspace as one JSON document (export), and the same document written back in
//! chunks (import), each chunk one transaction. The document is the directory rows plus
//! the workspace's facts: applied in order to an empty workspace they rebuild it.

use std::collections::BTreeMap;

use rolecall_model::{Change, Group, Op, Resource, SchemaDoc, User, Workspace};
use rolecall_store::{PageRequest, Store, Write, WriteLock, label};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Actor, Service, ServiceError};

/// The format tag of an export document.
pub const EXPORT_FORMAT: &str = "rolecall-export/1";

/// A workspace as a document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Export {
    pub format: String,
    pub workspace: Workspace,
    pub schema: SchemaDoc,
    #[serde(flatten)]
    pub content: ImportChunk,
}

/// Part of a workspace to write: rows first, then facts that refer to them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportChunk {
    #[serde(default)]
    pub users: Vec<User>,
    /// Custom groups (the built-in ones exist in every workspace).
    #[serde(default)]
    pub groups: Vec<Group>,
    /// Parents before children.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// Names of permission sets (`group/set`) and policies, by label kind.
    #[serde(default)]
    pub labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Memberships, nesting, permission sets, assignees, policies, scopes and grants.
    #[serde(default)]
    pub facts: Vec<Op>,
}

impl ImportChunk {
    pub fn len(&self) -> usize {
        self.users.len()
            + self.groups.len()
            + self.resources.len()
            + self.labels.values().map(BTreeMap::len).sum::<usize>()
            + self.facts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The most items one import chunk may carry.
pub const MAX_IMPORT_CHUNK: usize = 20_000;

const PAGE: u32 = 1000;

impl<S: Store> Service<S> {
    /// The whole workspace, read with no write in between (the log head is held, so no
    /// replica writes until the export is read). Admins (and keys) only.
    pub async fn export(&self, actor: &Actor, workspace: &str) -> Result<Export, ServiceError> {
        self.require_admin(actor, workspace).await?;
        let _no_writes_here = self.core.writer.lock().await;
        let held = self.store.lock_head().await?;
        let head = held.head();
        let export = async {
            self.core.catch_up_to(&self.store, head).await?;
            self.read_export(workspace).await
        }
        .await;
        held.release().await;
        export
    }

    /// Reads the export of a workspace; the caller holds the log head.
    async fn read_export(&self, workspace: &str) -> Result<Export, ServiceError> {
        let (facts, resource_order) = {
            let engine = self.read()?;
            let index = engine.workspace(workspace)?;
            let facts: Vec<Op> = index.facts();
            let order: Vec<_> = facts
                .iter()
                .filter_map(|op| match op {
                    Op::PutResource { resource, .. } => Some(resource.clone()),
                    _ => None,
                })
                .collect();
            let facts = facts
                .into_iter()
                .filter(|op| !matches!(op, Op::PutUser { .. } | Op::PutGroup { .. } | Op::PutResource { .. }))
                .collect();
            (facts, order)
        };
        let store = self.store();
        let row = store
            .workspace(workspace)
            .await?
            .ok_or_else(|| ServiceError::Engine(rolecall_engine::EngineError::WorkspaceNotFound(workspace.into())))?;
        let schema_json = store.schema(workspace).await?.unwrap_or_default();
        let schema: SchemaDoc =
            serde_json::from_value(schema_json).map_err(|e| ServiceError::Corrupt(format!("stored schema: {e}")))?;
        let mut users = Vec::new();
        let mut after = None;
        loop {
            let page = store.users(workspace, None, PageRequest { after, limit: PAGE }).await?;
            users.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut groups = Vec::new();
        let mut after = None;
        loop {
            let page = store.groups(workspace, None, None, PageRequest { after, limit: PAGE }).await?;
            groups.extend(page.items.into_iter().filter(|g| !is_builtin(&g.id)));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let mut resources = Vec::with_capacity(resource_order.len());
        for r in &resource_order {
            if let Some(row) = store.resource(workspace, r).await? {
                resources.push(row);
            }
        }
        let mut labels = BTreeMap::new();
        for kind in [label::PERMISSION_SET, label::POLICY] {
            let names: BTreeMap<String, String> = store.labels(workspace, kind, None).await?.into_iter().collect();
            if !names.is_empty() {
                labels.insert(kind.to_string(), names);
            }
        }
        Ok(Export {
            format: EXPORT_FORMAT.into(),
            workspace: row,
            schema,
            content: ImportChunk { users, groups, resources, labels, facts },
        })
    }

    /// Writes one chunk of an import in one transaction: all of it or none. Admins (and
    /// keys) only. Facts may only add (memberships, nesting, sets, assignees, policies,
    /// scopes, grants); users, groups and resources come as rows.
    pub async fn import(
        &self,
        actor: &Actor,
        workspace: &str,
        chunk: ImportChunk,
    ) -> Result<rolecall_model::Revision, ServiceError> {
        let allowed = self.require_admin(actor, workspace).await?;
        if chunk.len() > MAX_IMPORT_CHUNK {
            return Err(ServiceError::TooLarge(format!("an import chunk carries at most {MAX_IMPORT_CHUNK} items")));
        }
        let count = chunk.len();
        let mut writes = Vec::new();
        let mut changes = Vec::new();
        for user in chunk.users {
            user.validate()?;
            changes.push(Change::new(workspace, user.put_op()));
            writes.push(Write::PutUser { workspace: workspace.into(), user });
        }
        for group in chunk.groups {
            group.validate()?;
            if is_builtin(&group.id) {
                continue;
            }
            changes.push(Change::new(workspace, group.put_op()));
            writes.push(Write::PutGroup { workspace: workspace.into(), group });
        }
        for resource in chunk.resources {
            resource.validate()?;
            changes.push(Change::new(
                workspace,
                Op::PutResource { resource: resource.resource.clone(), parent: resource.parent.clone() },
            ));
            writes.push(Write::PutResource { workspace: workspace.into(), resource });
        }
        for (kind, names) in chunk.labels {
            if kind != label::PERMISSION_SET && kind != label::POLICY {
                return Err(ServiceError::Invalid(format!(
                    "`{kind}` is not a label kind: use permission_set or policy"
                )));
            }
            for (key, name) in names {
                rolecall_model::validate_name("name", &name)?;
                writes.push(Write::PutLabel { workspace: workspace.into(), kind: kind.clone(), key, name });
            }
        }
        for op in chunk.facts {
            match &op {
                Op::PutGrant { resource, subject, role } => writes.push(Write::PutGrant {
                    workspace: workspace.into(),
                    resource: resource.clone(),
                    subject: subject.clone(),
                    role: role.clone(),
                }),
                Op::PutMember { .. }
                | Op::PutChildGroup { .. }
                | Op::PutPermissionSet { .. }
                | Op::PutAssignee { .. }
                | Op::PutPolicy { .. }
                | Op::AttachPolicy { .. }
                | Op::PutDataScope { .. }
                // A suspension comes across; lifting one is not an addition.
                | Op::SetUserActive { active: false, .. } => {}
                other => {
                    return Err(ServiceError::Invalid(format!(
                        "an import only adds; `{}` cannot be imported",
                        op_name(other)
                    )));
                }
            }
            changes.push(Change::new(workspace, op));
        }
        let audit = Self::audit(
            workspace,
            "workspace.import",
            format!("workspace:{workspace}"),
            None,
            Some(json!({"items": count})),
        );
        let batch =
            rolecall_store::Batch { actor: actor.name(), writes, changes, audit: vec![audit], ..Default::default() };
        self.run(&allowed, batch).await
    }
}

fn is_builtin(group: &str) -> bool {
    group == rolecall_engine::EVERYONE || group == rolecall_engine::WORKSPACE_ADMINS
}

fn op_name(op: &Op) -> String {
    serde_json::to_value(op).ok().and_then(|v| v["op"].as_str().map(String::from)).unwrap_or_default()
}
