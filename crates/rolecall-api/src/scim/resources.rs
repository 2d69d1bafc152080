//! Rolecall users and groups as SCIM documents, and back.
//!
//! A user's SCIM document is what the client wrote (kept in the store), with Rolecall's
//! own fields laid over it: when Rolecall's name or email was changed through the API,
//! `displayName` and the primary email say so. A user SCIM never wrote reads as
//! `userName` = email, `displayName` = name. A group's document is the group's name, its
//! `externalId` and its direct members (users, then nested groups).

use std::collections::{BTreeMap, BTreeSet};

use rolecall_engine::WorkspaceIndex;
use rolecall_model::{Group, User, UserKind};
use rolecall_service::scim::MemberEdit;
use rolecall_store::{ScimUser, ScimUserRow};
use serde_json::{Map, Value, json};

use super::Refusal;
use super::schema::{self, Kind, MAX_INLINE_MEMBERS};

/// Attributes the service writes and a client's copy of is ignored.
const SERVER_SET: &[&str] = &["schemas", "id", "meta", "groups"];

/// The name and email a user's SCIM attributes give Rolecall: `displayName`, else the
/// formatted or given and family name, else the userName; the primary email, else the
/// first, else a userName that is an email address.
fn derived(attributes: &Map<String, Value>, user_name: &str) -> (String, Option<String>) {
    let text = |v: &Value| v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let name = &attributes.get("name").cloned().unwrap_or(Value::Null);
    let joined = [&name["givenName"], &name["familyName"]].iter().filter_map(|v| text(v)).collect::<Vec<_>>().join(" ");
    let display = attributes
        .get("displayName")
        .and_then(text)
        .or_else(|| text(&name["formatted"]))
        .or_else(|| (!joined.is_empty()).then_some(joined))
        .unwrap_or_else(|| user_name.to_string());
    let emails = attributes.get("emails").and_then(Value::as_array).cloned().unwrap_or_default();
    let email = emails
        .iter()
        .find(|e| e["primary"] == Value::Bool(true))
        .or(emails.first())
        .and_then(|e| text(&e["value"]))
        .or_else(|| rolecall_model::validate_email(user_name).is_ok().then(|| user_name.to_string()));
    (display, email)
}

/// Where resources of a workspace's SCIM service live, e.g. `http://host/scim/v2/acme`.
#[derive(Clone, Debug)]
pub struct Base(pub String);

impl Base {
    pub fn location(&self, kind: Kind, id: &str) -> String {
        format!("{}/{}/{id}", self.0, kind.endpoint())
    }
}

/// A user's document. `groups` are the groups they are in (`(id, name, direct)`);
/// `active` is false for a suspended user.
pub fn user_doc(row: &ScimUserRow, groups: &[(String, String, bool)], active: bool, base: &Base) -> Value {
    let user = &row.user;
    let mut doc = match &row.scim {
        Some(scim) => scim.attributes.as_object().cloned().unwrap_or_default(),
        None => Map::new(),
    };
    let user_name = row.scim.as_ref().map_or(user.email.as_str(), |s| s.user_name.as_str());
    let (name, email) = derived(&doc, user_name);
    if row.scim.is_none() || name != user.name {
        doc.insert("displayName".into(), json!(user.name));
    }
    let listed = doc.get("emails").and_then(Value::as_array).is_some_and(|e| !e.is_empty());
    if !listed || email.is_none_or(|e| rolecall_model::email_key(&e) != rolecall_model::email_key(&user.email)) {
        // Rolecall's email changed outside SCIM: it is the primary address now.
        let mut emails = doc.get("emails").and_then(Value::as_array).cloned().unwrap_or_default();
        match emails.iter().position(|e| e["primary"] == Value::Bool(true)).or((!emails.is_empty()).then_some(0)) {
            Some(i) => emails[i]["value"] = json!(user.email),
            None => emails.push(json!({"value": user.email, "primary": true})),
        }
        doc.insert("emails".into(), Value::Array(emails));
    }
    let mut out = Map::new();
    out.insert("schemas".into(), json!([schema::USER]));
    out.insert("id".into(), json!(user.id));
    if let Some(external) = row.scim.as_ref().and_then(|s| s.external_id.as_ref()) {
        out.insert("externalId".into(), json!(external));
    }
    out.insert("userName".into(), json!(user_name));
    out.extend(doc);
    out.insert("active".into(), json!(active));
    if !groups.is_empty() {
        let groups: Vec<Value> = groups
            .iter()
            .map(|(id, name, direct)| {
                json!({
                    "value": id,
                    "$ref": base.location(Kind::Group, id),
                    "display": name,
                    "type": if *direct { "direct" } else { "indirect" },
                })
            })
            .collect();
        out.insert("groups".into(), Value::Array(groups));
    }
    out.insert("meta".into(), json!({"resourceType": "User", "location": base.location(Kind::User, &user.id)}));
    Value::Object(out)
}

/// A user as a client wrote them.
pub struct UserWrite {
    pub user: User,
    pub scim: ScimUser,
    /// `active`, when the document says.
    pub active: Option<bool>,
}

/// What a document a client wrote makes of user `id`: Rolecall's user (keeping the
/// workspace role and kind of `before`, or `role` for a new user) and the SCIM row.
pub fn user_from_doc(doc: Value, id: &str, before: Option<&User>, role: String) -> Result<UserWrite, Refusal> {
    let Value::Object(mut fields) = doc else { return Err(Refusal::syntax("a User is a JSON object")) };
    for key in SERVER_SET {
        fields.remove(*key);
    }
    // Never stored, never returned.
    fields.retain(|k, _| !k.eq_ignore_ascii_case("password"));
    let active = match take(&mut fields, "active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        // Some identity providers send booleans as strings.
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => return Err(Refusal::new("invalidValue", "`active` is a boolean")),
    };
    let user_name = match take(&mut fields, "userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(_) => return Err(Refusal::new("invalidValue", "`userName` is a non-empty string")),
        None => return Err(Refusal::new("invalidValue", "a User needs a `userName`")),
    };
    let external_id = match take(&mut fields, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Refusal::new("invalidValue", "`externalId` is a string")),
    };
    check_types(&mut fields, Kind::User)?;
    let (name, email) = derived(&fields, &user_name);
    let email = email.ok_or_else(|| {
        Refusal::new(
            "invalidValue",
            "Rolecall needs an email for every user: give one in `emails`, or a `userName` that is an email address",
        )
    })?;
    let user = User {
        id: id.to_string(),
        email,
        name,
        workspace_role: before.map_or(role, |b| b.workspace_role.clone()),
        kind: before.map_or(UserKind::Regular, |b| b.kind),
        last_active_at: before.and_then(|b| b.last_active_at),
    };
    user.validate().map_err(|e| Refusal::new("invalidValue", e.to_string()))?;
    let scim = ScimUser { user: id.to_string(), user_name, external_id, attributes: Value::Object(fields) };
    Ok(UserWrite { user, scim, active })
}

/// Takes an attribute out of a document, by any case of its name.
fn take(fields: &mut Map<String, Value>, name: &str) -> Option<Value> {
    let key = fields.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone();
    fields.remove(&key)
}

/// Checks that each published attribute a document carries has its published type, and
/// gives it its published name (clients may write `username` or `Emails`).
fn check_types(fields: &mut Map<String, Value>, kind: Kind) -> Result<(), Refusal> {
    let keys: Vec<String> = fields.keys().cloned().collect();
    for key in keys {
        let Some(def) = schema::find(kind.attributes(), &key) else { continue };
        let name = def["name"].as_str().unwrap_or_default().to_string();
        let Some(value) = fields.remove(&key) else { continue };
        if value.is_null() {
            continue;
        }
        check_value(&name, def, &value)?;
        fields.insert(name, value);
    }
    Ok(())
}

fn check_value(name: &str, def: &Value, value: &Value) -> Result<(), Refusal> {
    let wrong = |what: &str| Refusal::new("invalidValue", format!("`{name}` is {what}"));
    if def["multiValued"] == Value::Bool(true) {
        let items = value.as_array().ok_or_else(|| wrong("a list"))?;
        let single = json!({"type": def["type"], "subAttributes": def["subAttributes"]});
        for item in items {
            check_value(name, &single, item)?;
        }
        return Ok(());
    }
    match def["type"].as_str() {
        Some("string" | "reference" | "dateTime" | "binary") if !value.is_string() => Err(wrong("a string")),
        Some("boolean") if !value.is_boolean() => Err(wrong("a boolean")),
        Some("complex") => {
            let fields = value.as_object().ok_or_else(|| wrong("an object"))?;
            for sub in schema::sub_attributes(def) {
                let sub_name = sub["name"].as_str().unwrap_or_default();
                match fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(sub_name)) {
                    Some((_, v)) if !v.is_null() => check_value(&format!("{name}.{sub_name}"), sub, v)?,
                    _ if sub["required"] == Value::Bool(true) => {
                        return Err(Refusal::new("invalidValue", format!("each of `{name}` needs a `{sub_name}`")));
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The groups a user is in, as the `groups` attribute lists them.
pub fn groups_of(index: &WorkspaceIndex, user: &str, names: &BTreeMap<String, String>) -> Vec<(String, String, bool)> {
    index
        .user_groups(user)
        .unwrap_or_default()
        .into_iter()
        .map(|(g, direct)| (g.to_string(), names.get(g).cloned().unwrap_or_default(), direct))
        .collect()
}

/// A group's document; its members only when `members` (refused beyond
/// [`MAX_INLINE_MEMBERS`]: a list is never cut short).
pub fn group_doc(
    index: &WorkspaceIndex,
    group: &Group,
    external_id: Option<&str>,
    members: bool,
    base: &Base,
) -> Result<Value, Refusal> {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([schema::GROUP]));
    out.insert("id".into(), json!(group.id));
    if let Some(external) = external_id {
        out.insert("externalId".into(), json!(external));
    }
    out.insert("displayName".into(), json!(group.name));
    if members {
        let users = index.direct_member_count(&group.id).unwrap_or(0);
        let children = index.child_groups(&group.id).unwrap_or_default();
        if users + children.len() as u64 > MAX_INLINE_MEMBERS {
            return Err(Refusal::new(
                "tooMany",
                format!(
                    "group `{}` has {} direct members, more than the {MAX_INLINE_MEMBERS} a group document lists: \
                     read it with excludedAttributes=members and page its members with \
                     GET /Users?filter=groups.value eq \"{}\"",
                    group.id,
                    users + children.len() as u64,
                    group.id
                ),
            ));
        }
        let mut list: Vec<Value> = index
            .direct_members(&group.id)
            .unwrap_or_default()
            .into_iter()
            .map(|(u, _)| json!({"value": u, "$ref": base.location(Kind::User, u), "type": "User"}))
            .collect();
        list.extend(
            children.into_iter().map(|g| json!({"value": g, "$ref": base.location(Kind::Group, g), "type": "Group"})),
        );
        if !list.is_empty() {
            out.insert("members".into(), Value::Array(list));
        }
    }
    out.insert("meta".into(), json!({"resourceType": "Group", "location": base.location(Kind::Group, &group.id)}));
    Ok(Value::Object(out))
}

/// A member as a client names it: a user or a group of the workspace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Member {
    User(String),
    Group(String),
}

/// Which member each `{"value", "type"?, "$ref"?}` of `list` is. Without a type, a user
/// of that id is meant if there is one, else a group. `None` in place of an id that is
/// neither (a removal of it changes nothing; an addition is refused by the caller).
pub fn members(index: &WorkspaceIndex, list: &Value) -> Result<Vec<Result<Member, String>>, Refusal> {
    let items: Vec<&Value> = match list {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![list],
        _ => return Err(Refusal::new("invalidValue", "`members` is a list of {\"value\": id}")),
    };
    items
        .into_iter()
        .map(|item| {
            let id = item
                .get("value")
                .and_then(Value::as_str)
                .ok_or_else(|| Refusal::new("invalidValue", "each member needs a `value`: the user's or group's id"))?;
            let kind = item.get("type").and_then(Value::as_str).map(str::to_ascii_lowercase).or_else(|| {
                item.get("$ref").and_then(Value::as_str).filter(|r| r.contains("/Groups/")).map(|_| "group".into())
            });
            let is_user = index.user_info(id).is_some();
            let is_group = index.member_count(id).is_some() && index.builtin(id).is_none();
            Ok(match kind.as_deref() {
                Some("user") if is_user => Ok(Member::User(id.into())),
                Some("group") if is_group => Ok(Member::Group(id.into())),
                Some("user" | "group") => Err(id.to_string()),
                Some(other) => {
                    return Err(Refusal::new("invalidValue", format!("member type `{other}` is User or Group")));
                }
                None if is_user => Ok(Member::User(id.into())),
                None if is_group => Ok(Member::Group(id.into())),
                None => Err(id.to_string()),
            })
        })
        .collect()
}

/// Member edits gathered over the operations of one request, in order.
#[derive(Debug, Default)]
pub struct Edits {
    replace: Option<BTreeSet<Member>>,
    add: BTreeSet<Member>,
    remove: BTreeSet<Member>,
}

impl Edits {
    pub fn replace(&mut self, members: impl IntoIterator<Item = Member>) {
        self.replace = Some(members.into_iter().collect());
        self.add.clear();
        self.remove.clear();
    }

    pub fn add(&mut self, member: Member) {
        match &mut self.replace {
            Some(set) => {
                set.insert(member);
            }
            None => {
                self.remove.remove(&member);
                self.add.insert(member);
            }
        }
    }

    pub fn remove(&mut self, member: Member) {
        match &mut self.replace {
            Some(set) => {
                set.remove(&member);
            }
            None => {
                self.add.remove(&member);
                self.remove.insert(member);
            }
        }
    }

    pub fn into_edit(self) -> MemberEdit {
        let split = |set: BTreeSet<Member>| {
            let (mut users, mut groups) = (Vec::new(), Vec::new());
            for m in set {
                match m {
                    Member::User(u) => users.push(u),
                    Member::Group(g) => groups.push(g),
                }
            }
            (users, groups)
        };
        match self.replace {
            Some(set) => {
                let (users, groups) = split(set);
                MemberEdit::Replace { users, groups }
            }
            None if self.add.is_empty() && self.remove.is_empty() => MemberEdit::Keep,
            None => {
                let (add_users, add_groups) = split(self.add);
                let (remove_users, remove_groups) = split(self.remove);
                MemberEdit::Change { add_users, remove_users, add_groups, remove_groups }
            }
        }
    }
}

/// A group as a client wrote it: the group, its `externalId`, and its members if given.
pub struct GroupDoc {
    pub group: Group,
    pub external_id: Option<String>,
    pub members: Option<Vec<Member>>,
}

/// What a group document a client wrote makes of group `id` (keeping the settings of
/// `before` that SCIM does not carry).
pub fn group_from_doc(
    index: &WorkspaceIndex,
    doc: &Value,
    id: &str,
    before: Option<&Group>,
) -> Result<GroupDoc, Refusal> {
    let fields = doc.as_object().ok_or_else(|| Refusal::syntax("a Group is a JSON object"))?;
    let get = |name: &str| fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    let name = match get("displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Null) | None => return Err(Refusal::new("invalidValue", "a Group needs a `displayName`")),
        Some(_) => return Err(Refusal::new("invalidValue", "`displayName` is a non-empty string")),
    };
    let external_id = match get("externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Refusal::new("invalidValue", "`externalId` is a string")),
    };
    let members = match get("members") {
        None | Some(Value::Null) => None,
        Some(list) => Some(known_members(index, list)?),
    };
    let group = match before {
        Some(b) => Group { name, ..b.clone() },
        None => Group::new(id, name),
    };
    group.validate().map_err(|e| Refusal::new("invalidValue", e.to_string()))?;
    Ok(GroupDoc { group, external_id, members })
}

/// Members to add: each must be a user or group of the workspace.
pub fn known_members(index: &WorkspaceIndex, list: &Value) -> Result<Vec<Member>, Refusal> {
    members(index, list)?
        .into_iter()
        .map(|m| {
            m.map_err(|id| {
                Refusal::new("invalidValue", format!("`{id}` is neither a user nor a group of this workspace"))
            })
        })
        .collect()
}
