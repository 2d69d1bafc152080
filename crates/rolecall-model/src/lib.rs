//! Rolecall's domain model: ids, the workspace schema and the changes that build a workspace.
//!
//! Everything here is plain data plus validation. There is no I/O and no async: the engine,
//! the stores and the service all speak these types.

mod change;
mod directory;
mod id;
mod limits;
mod schema;

pub use change::{
    Change, Effect, GroupPermission, GroupPermissions, MemberRole, Notify, Op, ResourceRef, Subject, UserKind,
    Visibility,
};
pub use directory::{
    FieldError, Group, MAX_DESCRIPTION_LEN, MAX_EMAIL_LEN, MAX_ICON_LEN, MAX_NAME_LEN, MAX_TAG_LEN, MAX_TAGS, Resource,
    User, Workspace, email_key, name_key, validate_email, validate_name,
};
pub use id::{IdError, MAX_ID_LEN, validate_id};
pub use limits::{LimitKind, Limits};
pub use schema::{
    CapabilityDef, DatasetDef, DatasetDoc, GROUP_TYPE, ResourceType, ResourceTypeDoc, RoleLevel, Schema, SchemaDoc,
    SchemaError, TypeIx, WORKSPACE_TYPE, WithoutScope, WsRoleIx,
};

/// The position of a change in the ordered change log. Revisions only grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(pub u64);

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
