//! Explanations: the chains of memberships, grants, inheritance and workspace roles that
//! give (or take away) access. They are recorded by the same traversal that decides a check.

use rolecall_model::{Effect, GroupPermissions, MemberRole, ResourceRef, Subject};

/// One link in a chain that gives access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `member` (a user, or a group nested in `group`) belongs to `group`.
    Member { member: Subject, group: String },
    /// `subject` holds `role` on `resource` (possibly the deny role).
    Grant { subject: Subject, resource: ResourceRef, role: String },
    /// `parent_role` on `from` gives `role` on `resource`; a locked role survives a deny.
    Inherit { from: ResourceRef, parent_role: String, resource: ResourceRef, role: String, locked: bool },
    /// The user's workspace role implies `role` on `resource`.
    WorkspaceRole { workspace_role: String, resource: ResourceRef, role: String },
    /// The user's workspace role is an admin role: admins and owners keep everything.
    Admin { workspace_role: String },
    /// The capability's default: workspace role `min_role` and above have it.
    CapabilityDefault { capability: String, workspace_role: String, min_role: String },
    /// A permission policy attached to `group` decides the capability.
    Policy { policy: String, group: String, capability: String, effect: Effect },
    /// The user's membership role in the group.
    MembershipRole { group: String, role: MemberRole },
    /// A permission set of the group that applies to the user.
    PermissionSet { group: String, set: String, permissions: GroupPermissions },
    /// The group is built in: it is never deleted and its members are kept automatically.
    BuiltinGroup { group: String },
    /// The group is public: everyone in the workspace may see it.
    PublicGroup { group: String },
    /// The user is suspended: nothing is allowed to them, whatever they hold.
    Suspended { user: String },
}

/// One chain of steps and what it gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path {
    /// The role (or, for groups and capabilities, the permission) this chain gives.
    pub gives: String,
    pub steps: Vec<Step>,
    /// A deny takes what this chain gives away.
    pub blocked: bool,
}

/// The answer to "why may (or may not) this user do this?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub allowed: bool,
    /// The effective role, as a check answers it.
    pub role: Option<String>,
    /// The lowest role (or the permission) the action needs.
    pub required: String,
    /// Every chain that gives something, highest first.
    pub paths: Vec<Path>,
    /// Every chain that denies: deny grants, deny policies.
    pub denied_by: Vec<Vec<Step>>,
}
