//! The embedded store holding a generated workspace, written through the service's own
//! import (the path `rolecall import` takes), so that the server loads it as it would any.

use std::path::Path;
use std::time::{Duration, Instant};

use rolecall_model::{Change, Group, Limits, Op, Resource, User, Workspace};
use rolecall_service::{Actor, ImportChunk, MAX_IMPORT_CHUNK, Service, ServiceError};
use rolecall_store_sqlite::SqliteStore;

/// What writing the store took.
#[derive(Clone, Copy, Debug)]
pub struct Filled {
    pub items: usize,
    pub chunks: usize,
    pub took: Duration,
}

/// Writes every change into a new SQLite store at `path`, in import chunks.
pub async fn fill_sqlite(path: &Path, changes: &[Change]) -> Result<Filled, ServiceError> {
    let store = SqliteStore::open(path).await?;
    let service = Service::open(store, Limits::default()).await?;
    let started = Instant::now();
    let mut chunk = ImportChunk::default();
    let (mut items, mut chunks) = (0, 0);
    for change in changes {
        let workspace = change.workspace.as_str();
        match &change.op {
            Op::CreateWorkspace { schema } => {
                let row = Workspace { id: workspace.to_string(), name: workspace.to_string() };
                service.create_workspace(&Actor::Root, row, Some(schema.clone())).await?;
                continue;
            }
            Op::PutUser { user, workspace_role, kind } => chunk.users.push(User {
                id: user.clone(),
                email: format!("{user}@bench.example"),
                name: format!("User {user}"),
                workspace_role: workspace_role.clone(),
                kind: *kind,
                last_active_at: None,
            }),
            Op::PutGroup { group, visibility, apply_privileges, notify } => chunk.groups.push(Group {
                id: group.clone(),
                name: format!("Group {group}"),
                description: String::new(),
                tags: Vec::new(),
                icon: None,
                visibility: *visibility,
                apply_privileges: *apply_privileges,
                notify: *notify,
            }),
            Op::PutResource { resource, parent } => chunk.resources.push(Resource {
                resource: resource.clone(),
                name: resource.id.clone(),
                parent: parent.clone(),
            }),
            other => chunk.facts.push(other.clone()),
        }
        if chunk.len() >= MAX_IMPORT_CHUNK {
            items += chunk.len();
            chunks += 1;
            let workspace = workspace.to_string();
            service.import(&Actor::Root, &workspace, std::mem::take(&mut chunk)).await?;
        }
    }
    if !chunk.is_empty() {
        items += chunk.len();
        chunks += 1;
        let workspace = changes.last().map(|c| c.workspace.clone()).unwrap_or_default();
        service.import(&Actor::Root, &workspace, chunk).await?;
    }
    Ok(Filled { items, chunks, took: started.elapsed() })
}
