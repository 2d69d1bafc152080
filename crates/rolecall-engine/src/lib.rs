//! Rolecall's authorization engine: an in-memory index of every workspace that answers
//! check, lookup resources, lookup subjects, explain, group-management and capability checks
//! and data filters without I/O.
//!
//! The engine takes [`Change`]s in revision order and keeps the revision it has applied, so
//! a caller can wait until it has seen a given write. A refused change changes nothing.

mod access;
mod apply;
mod data_filter;
mod error;
mod explain;
mod facts;
mod ids;
mod index;
mod manage;
mod membership;
mod notify;
mod query;
mod slots;

use std::collections::BTreeMap;

use rolecall_model::{Change, Limits, Op, Revision, Schema, validate_id};

pub use access::Decision;
pub use apply::MAX_SCOPE_VALUES;
pub use data_filter::{DataAccess, DataFilter, SqlFilter};
pub use error::EngineError;
pub use explain::{Explanation, Path, Step};
pub use facts::{MemberPage, PermissionSetInfo, PolicyInfo, UserPage};
pub use index::{Builtin, BuiltinSet, EVERYONE, Scope, WORKSPACE_ADMINS, WorkspaceIndex};
pub use manage::GroupAction;
pub use notify::{AccessClass, AccessReason, AccessSummary, GroupAccessChange, RoleChange};
pub use query::{ResourceSet, SubjectSet};

/// Every workspace's index and the revision applied so far.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    workspaces: BTreeMap<String, WorkspaceIndex>,
    revision: Revision,
    limits: Limits,
}

impl Engine {
    pub fn new(limits: Limits) -> Engine {
        Engine { workspaces: BTreeMap::new(), revision: Revision(0), limits }
    }

    /// The revision of the last change applied.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// One workspace's index.
    pub fn workspace(&self, id: &str) -> Result<&WorkspaceIndex, EngineError> {
        self.workspaces.get(id).ok_or_else(|| EngineError::WorkspaceNotFound(id.to_string()))
    }

    /// The ids of every workspace.
    pub fn workspace_ids(&self) -> impl Iterator<Item = &str> {
        self.workspaces.keys().map(String::as_str)
    }

    /// Whether `change` would be applied. Nothing is changed.
    pub fn validate(&self, change: &Change) -> Result<(), EngineError> {
        match &change.op {
            Op::CreateWorkspace { schema } => {
                validate_id("workspace", &change.workspace)?;
                if self.workspaces.contains_key(&change.workspace) {
                    return Err(EngineError::WorkspaceExists(change.workspace.clone()));
                }
                Schema::compile(schema.clone())?;
                Ok(())
            }
            Op::DeleteWorkspace => self.workspace(&change.workspace).map(|_| ()),
            Op::ReplaceSchema { schema } => self.rebuilt(&change.workspace, schema).map(|_| ()),
            op => self.workspace(&change.workspace)?.prepare(op).map(|_| ()),
        }
    }

    /// Whether `changes`, applied in order, would all be applied. Nothing is changed. When
    /// they all edit one existing workspace only that workspace is copied to try them, and
    /// the copy shares its records until it writes to them (`slots`): a batch on a workspace
    /// of 100,000 users costs well under a millisecond, not the whole index.
    pub fn validate_all(&self, changes: &[Change]) -> Result<(), EngineError> {
        let plain =
            |c: &Change| !matches!(c.op, Op::CreateWorkspace { .. } | Op::DeleteWorkspace | Op::ReplaceSchema { .. });
        match changes {
            [] => Ok(()),
            [one] => self.validate(one),
            [first, ..] if changes.iter().all(|c| plain(c) && c.workspace == first.workspace) => {
                let mut scratch = self.workspace(&first.workspace)?.clone();
                for change in changes {
                    let plan = scratch.prepare(&change.op)?;
                    scratch.commit(plan);
                }
                Ok(())
            }
            _ => {
                let mut scratch = self.clone();
                for change in changes {
                    scratch.apply(change)?;
                }
                Ok(())
            }
        }
    }

    /// Applies `change` as the next revision and returns that revision.
    pub fn apply(&mut self, change: &Change) -> Result<Revision, EngineError> {
        let next = Revision(self.revision.0 + 1);
        self.apply_at(next, change)?;
        Ok(next)
    }

    /// Applies `change` as `revision`, which must come after every revision applied so far.
    pub fn apply_at(&mut self, revision: Revision, change: &Change) -> Result<(), EngineError> {
        if revision <= self.revision {
            return Err(EngineError::StaleRevision { given: revision.0, applied: self.revision.0 });
        }
        let ws = change.workspace.as_str();
        match &change.op {
            Op::CreateWorkspace { schema } => {
                self.validate(change)?;
                let schema = Schema::compile(schema.clone())?;
                let mut index = WorkspaceIndex::new(ws, schema, self.limits);
                index.applied = revision;
                self.workspaces.insert(ws.to_string(), index);
            }
            Op::DeleteWorkspace => {
                self.workspace(ws)?;
                self.workspaces.remove(ws);
            }
            Op::ReplaceSchema { schema } => {
                let mut index = self.rebuilt(ws, schema)?;
                index.applied = revision;
                self.workspaces.insert(ws.to_string(), index);
            }
            op => {
                let index =
                    self.workspaces.get_mut(ws).ok_or_else(|| EngineError::WorkspaceNotFound(ws.to_string()))?;
                let plan = index.prepare(op)?;
                index.commit(plan);
                index.applied = revision;
            }
        }
        self.revision = revision;
        Ok(())
    }

    /// The workspace rebuilt on a new schema, or every piece of data that does not fit it.
    fn rebuilt(&self, ws: &str, schema: &rolecall_model::SchemaDoc) -> Result<WorkspaceIndex, EngineError> {
        let old = self.workspace(ws)?;
        let schema = Schema::compile(schema.clone())?;
        let mut index = WorkspaceIndex::new(ws, schema, self.limits);
        index.applied = old.applied;
        let mut orphans = Vec::new();
        for op in old.facts() {
            let result = index.prepare(&op).map(|plan| index.commit(plan));
            if let Err(e) = result
                && orphans.len() < 20
            {
                orphans.push(describe_orphan(&op, &e));
            }
        }
        if orphans.is_empty() { Ok(index) } else { Err(EngineError::SchemaOrphans(orphans)) }
    }
}

fn describe_orphan(op: &Op, error: &EngineError) -> String {
    match op {
        Op::PutUser { user, .. } => format!("user `{user}`: {error}"),
        Op::PutResource { resource, .. } => format!("resource `{resource}`: {error}"),
        Op::PutGrant { resource, subject, role } => format!("grant `{role}` to {subject} on `{resource}`: {error}"),
        Op::PutPolicy { policy, .. } => format!("policy `{policy}`: {error}"),
        Op::PutDataScope { group, dataset, .. } => format!("data scope `{dataset}` of group `{group}`: {error}"),
        _ => error.to_string(),
    }
}
