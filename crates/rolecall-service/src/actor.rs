//! Who is acting: the root key, a workspace API key, or a user of a workspace (the
//! `Rolecall-Actor` header), whose own permissions then apply.

use crate::ServiceError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The root key: may do anything.
    Root,
    /// A workspace API key: anything inside its workspace, nothing outside.
    Key { workspace: String, key: String },
    /// A user acting with their own permissions.
    User { workspace: String, user: String },
}

impl Actor {
    /// The actor as the audit log records it.
    pub fn name(&self) -> String {
        match self {
            Actor::Root => "root".into(),
            Actor::Key { key, .. } => format!("key:{key}"),
            Actor::User { user, .. } => user.clone(),
        }
    }

    pub(crate) fn require_root(&self) -> Result<(), ServiceError> {
        match self {
            Actor::Root => Ok(()),
            _ => Err(ServiceError::Forbidden("only the root key may do this".into())),
        }
    }

    /// Keys and users are sealed to their workspace. Another workspace is "not found", so
    /// that not even its existence leaks.
    pub fn require_workspace(&self, workspace: &str) -> Result<(), ServiceError> {
        match self {
            Actor::Root => Ok(()),
            Actor::Key { workspace: w, .. } | Actor::User { workspace: w, .. } if w == workspace => Ok(()),
            _ => Err(ServiceError::Engine(rolecall_engine::EngineError::WorkspaceNotFound(workspace.to_string()))),
        }
    }
}
