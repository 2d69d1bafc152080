//! Deployment limits (seed 002): groups per workspace, owners per group, members per group.

use serde::{Deserialize, Serialize};

/// Configurable per deployment; the defaults are the documented product limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Groups a workspace may hold, not counting the two built-in groups.
    pub max_groups: u32,
    /// Members with the `owner` role a group may have.
    pub max_owners: u32,
    /// Users a group may contain, counting members of nested groups. Built-in groups are exempt.
    pub max_members: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_groups: 1_000, max_owners: 10, max_members: 1_000_000 }
    }
}

/// Which limit a refused change would have crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    GroupsPerWorkspace,
    OwnersPerGroup,
    MembersPerGroup,
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LimitKind::GroupsPerWorkspace => "groups per workspace",
            LimitKind::OwnersPerGroup => "owners per group",
            LimitKind::MembersPerGroup => "members per group",
        })
    }
}
