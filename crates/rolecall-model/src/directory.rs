//! The directory: what Rolecall records about workspaces, users, groups and resources
//! beyond what decides access (names, emails, descriptions, tags, icons, activity). The
//! engine does not hold these; the service stores them and validates them here.

use serde::{Deserialize, Serialize};

use crate::change::{Notify, Op, ResourceRef, UserKind, Visibility};

/// The longest display name, group name or resource name.
pub const MAX_NAME_LEN: usize = 200;
/// The longest group description.
pub const MAX_DESCRIPTION_LEN: usize = 2_000;
/// The most tags a group may carry, and the longest tag.
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_LEN: usize = 50;
/// The longest icon (a URL, a data URI of a small image, or an emoji).
pub const MAX_ICON_LEN: usize = 4_096;
/// The longest email address (RFC 5321).
pub const MAX_EMAIL_LEN: usize = 254;

/// Why a directory field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("`{field}` must not be empty")]
    Empty { field: &'static str },
    #[error("`{field}` is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("`{field}` contains a control character")]
    ControlCharacter { field: &'static str },
    #[error("`{0}` is not an email address")]
    InvalidEmail(String),
    #[error("a group carries at most {MAX_TAGS} tags")]
    TooManyTags,
    #[error("tag `{0}` is listed twice")]
    DuplicateTag(String),
}

/// A tenant. Nothing crosses workspaces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Workspace {
    pub id: String,
    pub name: String,
}

/// A user of a workspace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    /// Unique per workspace, compared without regard to case.
    pub email: String,
    pub name: String,
    pub workspace_role: String,
    pub kind: UserKind,
    /// Milliseconds since the Unix epoch of the user's last activity (seed 003's "Recent
    /// Activity" sort), if any.
    pub last_active_at: Option<i64>,
}

/// A group with every field the seed pages show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Group {
    pub id: String,
    /// Unique per workspace, compared without regard to case.
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub icon: Option<String>,
    pub visibility: Visibility,
    /// When off, the group's grants are ignored and members fall back to their own access.
    pub apply_privileges: bool,
    pub notify: Notify,
}

/// A registered resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resource {
    #[serde(flatten)]
    pub resource: ResourceRef,
    pub name: String,
    pub parent: Option<ResourceRef>,
}

fn text(field: &'static str, value: &str, max: usize, allow_empty: bool) -> Result<(), FieldError> {
    if !allow_empty && value.trim().is_empty() {
        return Err(FieldError::Empty { field });
    }
    if value.chars().count() > max {
        return Err(FieldError::TooLong { field, max });
    }
    if value.chars().any(|c| c.is_control() && !(allow_empty && (c == '\n' || c == '\t'))) {
        return Err(FieldError::ControlCharacter { field });
    }
    Ok(())
}

/// Checks a display name (users, groups, resources, workspaces).
pub fn validate_name(field: &'static str, name: &str) -> Result<(), FieldError> {
    text(field, name, MAX_NAME_LEN, false)
}

/// Checks an email address: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn validate_email(email: &str) -> Result<(), FieldError> {
    if email.len() > MAX_EMAIL_LEN {
        return Err(FieldError::TooLong { field: "email", max: MAX_EMAIL_LEN });
    }
    let invalid = || FieldError::InvalidEmail(email.to_string());
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let labels_ok = domain.split('.').count() >= 2 && domain.split('.').all(|l| !l.is_empty());
    let chars_ok = !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if local.is_empty() || domain.contains('@') || !labels_ok || !chars_ok {
        return Err(invalid());
    }
    Ok(())
}

/// The form of an email under which uniqueness is decided.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The form of a group name under which uniqueness is decided.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl User {
    /// The change that puts what the engine knows of this user (its id, role and kind).
    pub fn put_op(&self) -> Op {
        Op::PutUser { user: self.id.clone(), workspace_role: self.workspace_role.clone(), kind: self.kind }
    }

    /// Checks the fields a client wrote.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_email(&self.email)?;
        validate_name("name", &self.name)
    }
}

impl Group {
    /// A group with only a name: no description, tags or icon; public; its privileges
    /// applied; no notifications. Set the other fields on the result as needed.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Group {
        Group {
            id: id.into(),
            name: name.into(),
            description: String::new(),
            tags: Vec::new(),
            icon: None,
            visibility: Visibility::Public,
            apply_privileges: true,
            notify: Notify::None,
        }
    }

    /// The change that puts what the engine knows of this group (its id and settings).
    pub fn put_op(&self) -> Op {
        Op::PutGroup {
            group: self.id.clone(),
            visibility: self.visibility,
            apply_privileges: self.apply_privileges,
            notify: self.notify,
        }
    }

    /// Checks the fields a client wrote.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_name("name", &self.name)?;
        text("description", &self.description, MAX_DESCRIPTION_LEN, true)?;
        if self.tags.len() > MAX_TAGS {
            return Err(FieldError::TooManyTags);
        }
        let mut seen = std::collections::BTreeSet::new();
        for tag in &self.tags {
            text("tags", tag, MAX_TAG_LEN, false)?;
            if !seen.insert(name_key(tag)) {
                return Err(FieldError::DuplicateTag(tag.clone()));
            }
        }
        if let Some(icon) = &self.icon {
            text("icon", icon, MAX_ICON_LEN, false)?;
        }
        Ok(())
    }
}

impl Resource {
    /// Checks the fields a client wrote.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate_name("name", &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> Group {
        Group {
            id: "marketing".into(),
            name: "Marketing".into(),
            description: "The marketing team.\nEMEA and US.".into(),
            tags: vec!["team".into(), "emea".into()],
            icon: Some("📣".into()),
            visibility: Visibility::Public,
            apply_privileges: true,
            notify: Notify::OnChange,
        }
    }

    #[test]
    fn emails_are_checked_and_compared_without_case() {
        for ok in ["sarah@example.com", "a.b+c@sub.example.co"] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in ["", "sarah", "@example.com", "sarah@", "sarah@example", "sa rah@example.com", "a@b@c.com", "a@.com"]
        {
            assert!(validate_email(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(email_key(" Sarah@Example.COM "), "sarah@example.com");
    }

    #[test]
    fn a_group_with_every_field_is_valid() {
        assert_eq!(group().validate(), Ok(()));
    }

    #[test]
    fn group_fields_are_bounded() {
        let mut g = group();
        g.name = "  ".into();
        assert_eq!(g.validate(), Err(FieldError::Empty { field: "name" }));
        let mut g = group();
        g.name = "x".repeat(201);
        assert_eq!(g.validate(), Err(FieldError::TooLong { field: "name", max: MAX_NAME_LEN }));
        let mut g = group();
        g.tags = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(g.validate(), Err(FieldError::TooManyTags));
        let mut g = group();
        g.tags = vec!["Team".into(), "team".into()];
        assert_eq!(g.validate(), Err(FieldError::DuplicateTag("team".into())));
        let mut g = group();
        g.name = "bad\u{0}name".into();
        assert_eq!(g.validate(), Err(FieldError::ControlCharacter { field: "name" }));
    }

    #[test]
    fn users_need_an_email_and_a_name() {
        let user = User {
            id: "sarah".into(),
            email: "sarah@example.com".into(),
            name: "Sarah Connor".into(),
            workspace_role: "member".into(),
            kind: UserKind::Regular,
            last_active_at: None,
        };
        assert!(user.validate().is_ok());
        assert!(User { email: "nope".into(), ..user.clone() }.validate().is_err());
        assert!(User { name: String::new(), ..user }.validate().is_err());
    }
}
