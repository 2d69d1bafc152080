//! What a user actor was found allowed to do. A command checks it first (to refuse early,
//! on the newest state this process has), and the write path checks it again under the
//! write lock, on the exact state the command is written on: a right taken away by a
//! concurrent write (on any replica) is never used.

use rolecall_engine::Engine;
use rolecall_model::ResourceRef;

use crate::ServiceError;

/// One right a user needed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Need {
    Admin { workspace: String, user: String },
    Action { workspace: String, user: String, action: String, resource: ResourceRef },
}

/// The rights a command's user actor needed (none for root and keys).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Allowed(Vec<Need>);

impl Allowed {
    pub(crate) fn admin(workspace: &str, user: &str) -> Allowed {
        Allowed(vec![Need::Admin { workspace: workspace.into(), user: user.into() }])
    }

    pub(crate) fn action(workspace: &str, user: &str, action: &str, resource: &ResourceRef) -> Allowed {
        Allowed(vec![Need::Action {
            workspace: workspace.into(),
            user: user.into(),
            action: action.into(),
            resource: resource.clone(),
        }])
    }

    pub(crate) fn extend(&mut self, other: Allowed) {
        self.0.extend(other.0);
    }

    /// Refuses unless every right still holds on `engine`.
    pub(crate) fn check(&self, engine: &Engine) -> Result<(), ServiceError> {
        for need in &self.0 {
            match need {
                Need::Admin { workspace, user } => {
                    if !engine.workspace(workspace)?.is_admin_user(user)? {
                        return Err(ServiceError::Forbidden(format!("`{user}` is not a workspace admin")));
                    }
                }
                Need::Action { workspace, user, action, resource } => {
                    if !engine.workspace(workspace)?.check(user, action, resource)?.allowed {
                        return Err(ServiceError::Forbidden(format!("`{user}` may not `{action}` on `{resource}`")));
                    }
                }
            }
        }
        Ok(())
    }
}
