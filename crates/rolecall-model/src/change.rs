//! The changes that build a workspace. A change is a fact: it names everything it touches by
//! id, so the same list applied in order rebuilds the same state (the change log, an export,
//! the engine at start-up).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::SchemaDoc;

/// One change to one workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub workspace: String,
    #[serde(flatten)]
    pub op: Op,
}

impl Change {
    pub fn new(workspace: impl Into<String>, op: Op) -> Change {
        Change { workspace: workspace.into(), op }
    }
}

/// What a change does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Creates the workspace with its built-in groups `everyone` and `workspace-admins`.
    CreateWorkspace {
        schema: SchemaDoc,
    },
    DeleteWorkspace,
    /// Replaces the schema; refused when existing data would no longer fit it.
    ReplaceSchema {
        schema: SchemaDoc,
    },

    /// Creates a user or changes their workspace role or kind.
    PutUser {
        user: String,
        workspace_role: String,
        kind: UserKind,
    },
    /// Deletes a user with their memberships, grants and assignments.
    DeleteUser {
        user: String,
    },
    /// Suspends a user (`active: false`: nothing is allowed to them, whatever they hold)
    /// or lifts the suspension. What they hold is kept (SCIM's `active`).
    SetUserActive {
        user: String,
        active: bool,
    },

    /// Creates a group or changes the settings that decide access.
    PutGroup {
        group: String,
        visibility: Visibility,
        apply_privileges: bool,
        notify: Notify,
    },
    /// Deletes a group with its memberships, nesting, grants and assignments.
    DeleteGroup {
        group: String,
    },
    /// Adds a user to a group, or changes their membership role.
    PutMember {
        group: String,
        user: String,
        role: MemberRole,
    },
    RemoveMember {
        group: String,
        user: String,
    },
    /// Nests `child` inside `group`: members of `child` become members of `group`.
    PutChildGroup {
        group: String,
        child: String,
    },
    RemoveChildGroup {
        group: String,
        child: String,
    },

    /// Creates a custom permission set, or changes the permissions of any set but `owners`.
    PutPermissionSet {
        group: String,
        set: String,
        permissions: GroupPermissions,
    },
    DeletePermissionSet {
        group: String,
        set: String,
    },
    PutAssignee {
        group: String,
        set: String,
        subject: Subject,
    },
    RemoveAssignee {
        group: String,
        set: String,
        subject: Subject,
    },

    /// Creates or replaces a permission policy.
    PutPolicy {
        policy: String,
        rules: BTreeMap<String, Effect>,
    },
    DeletePolicy {
        policy: String,
    },
    AttachPolicy {
        group: String,
        policy: String,
    },
    DetachPolicy {
        group: String,
        policy: String,
    },

    /// Sets a group's scope on a dataset: attribute -> allowed values.
    PutDataScope {
        group: String,
        dataset: String,
        scope: BTreeMap<String, Vec<String>>,
    },
    RemoveDataScope {
        group: String,
        dataset: String,
    },

    /// Registers a resource or moves it to another parent.
    PutResource {
        resource: ResourceRef,
        parent: Option<ResourceRef>,
    },
    /// Deletes a resource and its grants; refused while it has children.
    DeleteResource {
        resource: ResourceRef,
    },
    /// Gives a subject one role (possibly the deny role) on a resource, replacing any other.
    PutGrant {
        resource: ResourceRef,
        subject: Subject,
        role: String,
    },
    RemoveGrant {
        resource: ResourceRef,
        subject: Subject,
    },
}

/// A user or a group, written `{"user": id}` or `{"group": id}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    User(String),
    Group(String),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::User(id) => write!(f, "user:{id}"),
            Subject::Group(id) => write!(f, "group:{id}"),
        }
    }
}

/// A resource, written `{"type": t, "id": id}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResourceRef {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

impl ResourceRef {
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> ResourceRef {
        ResourceRef { kind: kind.into(), id: id.into() }
    }
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

/// Regular users are part of Everyone; one-time users are not (seed 002).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    #[default]
    Regular,
    OneTime,
}

/// Who may see that a group exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    Public,
    Private,
}

/// Whether members are told when their access changes through the group (seed 001).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Notify {
    #[default]
    None,
    OnChange,
}

/// A user's role in a group (seeds 002, 004). `viewer` is accepted as another name for `member`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    #[default]
    #[serde(alias = "viewer")]
    Member,
    Editor,
    Owner,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Member => "member",
            MemberRole::Editor => "editor",
            MemberRole::Owner => "owner",
        }
    }
}

/// A policy rule's effect on one capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
}

/// One permission of a group permission set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupPermission {
    /// See the group, its members and its permissions.
    View,
    /// Change the group's settings and add or remove members.
    Edit,
    /// Delete the group.
    Delete,
}

/// The permissions a permission set gives, written `["view", "edit"]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupPermissions {
    pub view: bool,
    pub edit: bool,
    pub delete: bool,
}

impl GroupPermissions {
    pub const NONE: GroupPermissions = GroupPermissions { view: false, edit: false, delete: false };
    pub const VIEW: GroupPermissions = GroupPermissions { view: true, edit: false, delete: false };
    pub const ALL: GroupPermissions = GroupPermissions { view: true, edit: true, delete: true };

    pub fn has(self, p: GroupPermission) -> bool {
        match p {
            GroupPermission::View => self.view,
            GroupPermission::Edit => self.edit,
            GroupPermission::Delete => self.delete,
        }
    }

    pub fn union(self, other: GroupPermissions) -> GroupPermissions {
        GroupPermissions {
            view: self.view || other.view,
            edit: self.edit || other.edit,
            delete: self.delete || other.delete,
        }
    }

    pub fn is_empty(self) -> bool {
        !(self.view || self.edit || self.delete)
    }

    pub fn list(self) -> Vec<GroupPermission> {
        [GroupPermission::View, GroupPermission::Edit, GroupPermission::Delete]
            .into_iter()
            .filter(|p| self.has(*p))
            .collect()
    }
}

impl FromIterator<GroupPermission> for GroupPermissions {
    fn from_iter<I: IntoIterator<Item = GroupPermission>>(iter: I) -> Self {
        let mut set = GroupPermissions::NONE;
        for p in iter {
            match p {
                GroupPermission::View => set.view = true,
                GroupPermission::Edit => set.edit = true,
                GroupPermission::Delete => set.delete = true,
            }
        }
        set
    }
}

impl Serialize for GroupPermissions {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.list().serialize(s)
    }
}

impl<'de> Deserialize<'de> for GroupPermissions {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<GroupPermission>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_through_json_in_their_documented_shape() {
        let change = Change::new(
            "acme",
            Op::PutGrant {
                resource: ResourceRef::new("app", "crm"),
                subject: Subject::Group("sales".into()),
                role: "runner".into(),
            },
        );
        let json = serde_json::to_value(&change).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"workspace": "acme", "op": "put_grant",
                "resource": {"type": "app", "id": "crm"}, "subject": {"group": "sales"}, "role": "runner"})
        );
        assert_eq!(serde_json::from_value::<Change>(json).unwrap(), change);
    }

    #[test]
    fn permissions_read_as_a_list_and_viewer_means_member() {
        let p: GroupPermissions = serde_json::from_str(r#"["view", "delete"]"#).unwrap();
        assert_eq!(p, GroupPermissions { view: true, edit: false, delete: true });
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"["view","delete"]"#);
        let r: MemberRole = serde_json::from_str(r#""viewer""#).unwrap();
        assert_eq!(r, MemberRole::Member);
        assert!(serde_json::from_str::<GroupPermissions>(r#"["fly"]"#).is_err());
    }
}
