//! The scenario language of the fixtures under `examples/`: one line per change or
//! expectation, so a seed page's story reads top to bottom.
//!
//! ```text
//! user sarah member                     # id, workspace role, optional `one_time`
//! group marketing private no-privileges # flags: private, no-privileges, notify
//! member marketing sarah editor         # role: owner | editor | member | viewer
//! nest parent child                     # child group into parent
//! resource workflow:deploy in app:ops   # optional parent
//! grant assistant:plan group:marketing editor
//! revoke assistant:plan sarah
//! permission-set team leaders view,edit # or `none`
//! assign team leaders user:fiona
//! policy no-apps create_app=deny
//! attach marketing no-apps
//! scope france sales country=FR
//! check sarah edit assistant:plan -> allow role=editor
//! explain sarah edit assistant:plan -> path: group:marketing is editor on assistant:plan
//! lookup-resources sarah edit assistant -> plan notes
//! lookup-subjects assistant:plan edit -> sarah:editor bob:editor
//! filter bob sales -> country=FR
//! filter-sql bob sales -> ("country" IN ($1)) | FR
//! row bob sales country=FR -> allow
//! error member marketing ghost -> user_not_found
//! ```

use std::collections::BTreeMap;

use rolecall_model::{
    Effect, GroupPermission, GroupPermissions, MemberRole, Notify, Op, ResourceRef, Subject, UserKind, Visibility,
};

/// One line of a scenario.
#[derive(Clone, Debug)]
pub enum Line {
    Do(Op),
    /// A change that must be refused with this error code.
    Refused(Op, String),
    Check {
        user: String,
        action: String,
        resource: ResourceRef,
        allowed: bool,
        role: Option<Option<String>>,
    },
    Explain {
        user: String,
        action: String,
        resource: ResourceRef,
        kind: String,
        text: String,
    },
    LookupResources {
        user: String,
        action: String,
        kind: String,
        ids: Vec<String>,
    },
    LookupSubjects {
        resource: ResourceRef,
        action: String,
        users: Vec<(String, Option<String>)>,
    },
    Filter {
        user: String,
        dataset: String,
        expected: String,
    },
    FilterSql {
        user: String,
        dataset: String,
        sql: String,
        params: Vec<String>,
    },
    Row {
        user: String,
        dataset: String,
        row: BTreeMap<String, String>,
        allowed: bool,
    },
}

pub fn resource(text: &str) -> Result<ResourceRef, String> {
    let (kind, id) = text.split_once(':').ok_or_else(|| format!("expected type:id, got `{text}`"))?;
    Ok(ResourceRef::new(kind, id))
}

pub fn subject(text: &str) -> Subject {
    match text.split_once(':') {
        Some(("group", id)) => Subject::Group(id.to_string()),
        Some(("user", id)) => Subject::User(id.to_string()),
        _ => Subject::User(text.to_string()),
    }
}

fn permissions(text: &str) -> Result<GroupPermissions, String> {
    if text == "none" {
        return Ok(GroupPermissions::NONE);
    }
    text.split(',')
        .map(|p| match p {
            "view" => Ok(GroupPermission::View),
            "edit" => Ok(GroupPermission::Edit),
            "delete" => Ok(GroupPermission::Delete),
            other => Err(format!("unknown permission `{other}`")),
        })
        .collect()
}

fn member_role(text: Option<&&str>) -> Result<MemberRole, String> {
    Ok(match text.copied() {
        None | Some("member") | Some("viewer") => MemberRole::Member,
        Some("editor") => MemberRole::Editor,
        Some("owner") => MemberRole::Owner,
        Some(other) => return Err(format!("unknown member role `{other}`")),
    })
}

fn pairs(words: &[&str]) -> Result<BTreeMap<String, Vec<String>>, String> {
    words
        .iter()
        .map(|w| {
            let (k, v) = w.split_once('=').ok_or_else(|| format!("expected key=values, got `{w}`"))?;
            let values = if v.is_empty() { Vec::new() } else { v.split(',').map(String::from).collect() };
            Ok((k.to_string(), values))
        })
        .collect()
}

/// Parses a change line (the words of one line).
pub fn op(words: &[&str], default_role: &str) -> Result<Op, String> {
    let arg =
        |i: usize| words.get(i).map(|s| s.to_string()).ok_or_else(|| format!("`{}` needs more arguments", words[0]));
    Ok(match words[0] {
        "user" => Op::PutUser {
            user: arg(1)?,
            workspace_role: words
                .get(2)
                .filter(|w| **w != "one_time")
                .map_or(default_role.to_string(), |s| s.to_string()),
            kind: if words.contains(&"one_time") { UserKind::OneTime } else { UserKind::Regular },
        },
        "delete-user" => Op::DeleteUser { user: arg(1)? },
        "group" => Op::PutGroup {
            group: arg(1)?,
            visibility: if words.contains(&"private") { Visibility::Private } else { Visibility::Public },
            apply_privileges: !words.contains(&"no-privileges"),
            notify: if words.contains(&"notify") { Notify::OnChange } else { Notify::None },
        },
        "delete-group" => Op::DeleteGroup { group: arg(1)? },
        "member" => Op::PutMember { group: arg(1)?, user: arg(2)?, role: member_role(words.get(3))? },
        "remove-member" => Op::RemoveMember { group: arg(1)?, user: arg(2)? },
        "nest" => Op::PutChildGroup { group: arg(1)?, child: arg(2)? },
        "unnest" => Op::RemoveChildGroup { group: arg(1)?, child: arg(2)? },
        "permission-set" => Op::PutPermissionSet { group: arg(1)?, set: arg(2)?, permissions: permissions(&arg(3)?)? },
        "delete-permission-set" => Op::DeletePermissionSet { group: arg(1)?, set: arg(2)? },
        "assign" => Op::PutAssignee { group: arg(1)?, set: arg(2)?, subject: subject(&arg(3)?) },
        "unassign" => Op::RemoveAssignee { group: arg(1)?, set: arg(2)?, subject: subject(&arg(3)?) },
        "policy" => Op::PutPolicy {
            policy: arg(1)?,
            rules: words[2..]
                .iter()
                .map(|w| match w.split_once('=') {
                    Some((c, "allow")) => Ok((c.to_string(), Effect::Allow)),
                    Some((c, "deny")) => Ok((c.to_string(), Effect::Deny)),
                    _ => Err(format!("expected capability=allow|deny, got `{w}`")),
                })
                .collect::<Result<_, String>>()?,
        },
        "delete-policy" => Op::DeletePolicy { policy: arg(1)? },
        "attach" => Op::AttachPolicy { group: arg(1)?, policy: arg(2)? },
        "detach" => Op::DetachPolicy { group: arg(1)?, policy: arg(2)? },
        "scope" => Op::PutDataScope { group: arg(1)?, dataset: arg(2)?, scope: pairs(&words[3..])? },
        "unscope" => Op::RemoveDataScope { group: arg(1)?, dataset: arg(2)? },
        "resource" => Op::PutResource {
            resource: resource(&arg(1)?)?,
            parent: match words.get(2) {
                Some(&"in") => Some(resource(&arg(3)?)?),
                _ => None,
            },
        },
        "delete-resource" => Op::DeleteResource { resource: resource(&arg(1)?)? },
        "grant" => Op::PutGrant { resource: resource(&arg(1)?)?, subject: subject(&arg(2)?), role: arg(3)? },
        "revoke" => Op::RemoveGrant { resource: resource(&arg(1)?)?, subject: subject(&arg(2)?) },
        other => return Err(format!("unknown command `{other}`")),
    })
}

/// Parses a whole scenario. `default_role` is the workspace role of `user x` lines without one.
pub fn parse(text: &str, default_role: &str) -> Result<Vec<(usize, Line)>, String> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("line {}: {e}: `{line}`", n + 1);
        let (left, right) = match line.split_once(" -> ") {
            Some((l, r)) => (l.trim(), Some(r.trim())),
            None => (line, None),
        };
        let words: Vec<&str> = left.split_whitespace().collect();
        let expect = || right.ok_or_else(|| at("expected ` -> answer`".into()));
        let parsed = match words[0] {
            "check" => {
                let answer: Vec<&str> = expect()?.split_whitespace().collect();
                let role = answer
                    .iter()
                    .find_map(|w| w.strip_prefix("role="))
                    .map(|r| if r == "none" { None } else { Some(r.to_string()) });
                Line::Check {
                    user: words[1].into(),
                    action: words[2].into(),
                    resource: resource(words[3]).map_err(at)?,
                    allowed: match answer.first() {
                        Some(&"allow") => true,
                        Some(&"deny") => false,
                        _ => return Err(at("expected allow or deny".into())),
                    },
                    role,
                }
            }
            "explain" => {
                let answer = expect()?;
                let (kind, text) =
                    answer.split_once(": ").ok_or_else(|| at("expected path:|blocked:|denied: text".into()))?;
                Line::Explain {
                    user: words[1].into(),
                    action: words[2].into(),
                    resource: resource(words[3]).map_err(at)?,
                    kind: kind.into(),
                    text: text.into(),
                }
            }
            "lookup-resources" => Line::LookupResources {
                user: words[1].into(),
                action: words[2].into(),
                kind: words[3].into(),
                ids: expect()?.split_whitespace().filter(|w| *w != "none").map(String::from).collect(),
            },
            "lookup-subjects" => Line::LookupSubjects {
                resource: resource(words[1]).map_err(at)?,
                action: words[2].into(),
                users: expect()?
                    .split_whitespace()
                    .filter(|w| *w != "none")
                    .map(|w| match w.split_once(':') {
                        Some((u, "-")) => (u.to_string(), None),
                        Some((u, r)) => (u.to_string(), Some(r.to_string())),
                        None => (w.to_string(), None),
                    })
                    .collect(),
            },
            "filter" => Line::Filter { user: words[1].into(), dataset: words[2].into(), expected: expect()?.into() },
            "filter-sql" => {
                let (sql, params) = expect()?.rsplit_once('|').ok_or_else(|| at("expected `sql | params`".into()))?;
                Line::FilterSql {
                    user: words[1].into(),
                    dataset: words[2].into(),
                    sql: sql.trim().into(),
                    params: params.split(',').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect(),
                }
            }
            "row" => Line::Row {
                user: words[1].into(),
                dataset: words[2].into(),
                row: pairs(&words[3..]).map_err(at)?.into_iter().map(|(k, v)| (k, v.join(","))).collect(),
                allowed: expect()? == "allow",
            },
            "error" => Line::Refused(op(&words[1..], default_role).map_err(at)?, expect()?.to_string()),
            _ => Line::Do(op(&words, default_role).map_err(at)?),
        };
        out.push((n + 1, parsed));
    }
    Ok(out)
}
