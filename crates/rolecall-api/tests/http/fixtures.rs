//! The seed-page fixtures under `examples/`, replayed through the HTTP API: every change
//! becomes the request a client would send, every refusal must come back as a 4xx with
//! the fixture's error code, and every expectation is asked over HTTP.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rolecall_model::{Limits, Op, SchemaDoc, Subject};
use serde_json::{Value, json};

use crate::app::{Answer, App};
use crate::dsl::{self, Line};

const WS: &str = "ws";

fn examples() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("scenario.txt").exists())
        .collect();
    dirs.sort();
    dirs
}

fn schema(dir: &Path) -> SchemaDoc {
    match std::fs::read_to_string(dir.join("schema.toml")) {
        Ok(text) => SchemaDoc::from_toml(&text).unwrap(),
        Err(_) => SchemaDoc::from_json(&std::fs::read_to_string(dir.join("schema.json")).unwrap()).unwrap(),
    }
}

fn limits(text: &str) -> Limits {
    let mut limits = Limits::default();
    for word in text.lines().filter(|l| l.starts_with("limits ")).flat_map(|l| l.split_whitespace().skip(1)) {
        let (k, v) = word.split_once('=').unwrap();
        match k {
            "groups" => limits.max_groups = v.parse().unwrap(),
            "owners" => limits.max_owners = v.parse().unwrap(),
            "members" => limits.max_members = v.parse().unwrap(),
            other => panic!("unknown limit `{other}`"),
        }
    }
    limits
}

/// What exists already, so a change becomes a create (POST) or an edit (PATCH).
#[derive(Default)]
struct Known {
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
    sets: BTreeSet<(String, String)>,
    policies: BTreeSet<String>,
    resources: BTreeSet<String>,
}

fn subject_path(s: &Subject) -> (String, String) {
    match s {
        Subject::User(u) => ("users".into(), u.clone()),
        Subject::Group(g) => ("groups".into(), g.clone()),
    }
}

/// The request a client sends for `op`: method, path under the workspace, body.
fn request(op: &Op, known: &Known) -> (&'static str, String, Value) {
    match op {
        Op::PutUser { user, workspace_role, kind } if known.users.contains(user) => {
            ("PATCH", format!("/users/{user}"), json!({"workspace_role": workspace_role, "kind": kind}))
        }
        Op::PutUser { user, workspace_role, kind } => (
            "POST",
            "/users".into(),
            json!({"id": user, "email": format!("{user}@example.test"), "name": format!("User {user}"),
                   "workspace_role": workspace_role, "kind": kind}),
        ),
        Op::DeleteUser { user } => ("DELETE", format!("/users/{user}"), Value::Null),
        Op::SetUserActive { user, active } => ("PATCH", format!("/users/{user}"), json!({"active": active})),
        Op::PutGroup { group, visibility, apply_privileges, notify } if known.groups.contains(group) => (
            "PATCH",
            format!("/groups/{group}"),
            json!({"visibility": visibility, "apply_privileges": apply_privileges, "notify": notify}),
        ),
        Op::PutGroup { group, visibility, apply_privileges, notify } => (
            "POST",
            "/groups".into(),
            json!({"id": group, "name": format!("Group {group}"), "visibility": visibility,
                   "apply_privileges": apply_privileges, "notify": notify}),
        ),
        Op::DeleteGroup { group } => ("DELETE", format!("/groups/{group}"), Value::Null),
        Op::PutMember { group, user, role } => {
            ("PUT", format!("/groups/{group}/members/users/{user}"), json!({"role": role}))
        }
        Op::RemoveMember { group, user } => ("DELETE", format!("/groups/{group}/members/users/{user}"), Value::Null),
        Op::PutChildGroup { group, child } => ("PUT", format!("/groups/{group}/members/groups/{child}"), Value::Null),
        Op::RemoveChildGroup { group, child } => {
            ("DELETE", format!("/groups/{group}/members/groups/{child}"), Value::Null)
        }
        Op::PutPermissionSet { group, set, permissions }
            if known.sets.contains(&(group.clone(), set.clone()))
                || ["owners", "members", "everyone"].contains(&set.as_str()) =>
        {
            ("PATCH", format!("/groups/{group}/permission-sets/{set}"), json!({"permissions": permissions.list()}))
        }
        Op::PutPermissionSet { group, set, permissions } => (
            "POST",
            format!("/groups/{group}/permission-sets"),
            json!({"id": set, "name": format!("Set {set}"), "permissions": permissions.list()}),
        ),
        Op::DeletePermissionSet { group, set } => {
            ("DELETE", format!("/groups/{group}/permission-sets/{set}"), Value::Null)
        }
        Op::PutAssignee { group, set, subject } => {
            let (kind, id) = subject_path(subject);
            ("PUT", format!("/groups/{group}/permission-sets/{set}/assignees/{kind}/{id}"), Value::Null)
        }
        Op::RemoveAssignee { group, set, subject } => {
            let (kind, id) = subject_path(subject);
            ("DELETE", format!("/groups/{group}/permission-sets/{set}/assignees/{kind}/{id}"), Value::Null)
        }
        Op::PutPolicy { policy, rules } if known.policies.contains(policy) => {
            ("PATCH", format!("/policies/{policy}"), json!({"rules": rules}))
        }
        Op::PutPolicy { policy, rules } => {
            ("POST", "/policies".into(), json!({"id": policy, "name": format!("Policy {policy}"), "rules": rules}))
        }
        Op::DeletePolicy { policy } => ("DELETE", format!("/policies/{policy}"), Value::Null),
        Op::AttachPolicy { group, policy } => ("PUT", format!("/groups/{group}/policies/{policy}"), Value::Null),
        Op::DetachPolicy { group, policy } => ("DELETE", format!("/groups/{group}/policies/{policy}"), Value::Null),
        Op::PutDataScope { group, dataset, scope } => {
            ("PUT", format!("/groups/{group}/data-scopes/{dataset}"), json!(scope))
        }
        Op::RemoveDataScope { group, dataset } => {
            ("DELETE", format!("/groups/{group}/data-scopes/{dataset}"), Value::Null)
        }
        Op::PutResource { resource, parent } if known.resources.contains(&resource.to_string()) => {
            ("PATCH", format!("/resources/{}/{}", resource.kind, resource.id), json!({"parent": parent}))
        }
        Op::PutResource { resource, parent } => (
            "POST",
            "/resources".into(),
            json!({"type": resource.kind, "id": resource.id, "name": format!("Resource {}", resource.id),
                   "parent": parent}),
        ),
        Op::DeleteResource { resource } => {
            ("DELETE", format!("/resources/{}/{}", resource.kind, resource.id), Value::Null)
        }
        Op::PutGrant { resource, subject, role } => (
            "PUT",
            format!("/resources/{}/{}/grants", resource.kind, resource.id),
            json!({"subject": subject, "role": role, "replace": true}),
        ),
        Op::RemoveGrant { resource, subject } => {
            let query = match subject {
                Subject::User(u) => format!("user={u}"),
                Subject::Group(g) => format!("group={g}"),
            };
            ("DELETE", format!("/resources/{}/{}/grants?{query}", resource.kind, resource.id), Value::Null)
        }
        Op::ReplaceSchema { schema } => ("PUT", "/schema".into(), json!(schema)),
        Op::CreateWorkspace { .. } | Op::DeleteWorkspace => panic!("fixtures do not create or delete workspaces"),
    }
}

fn remember(op: &Op, known: &mut Known) {
    match op {
        Op::PutUser { user, .. } => drop(known.users.insert(user.clone())),
        Op::DeleteUser { user } => drop(known.users.remove(user)),
        Op::PutGroup { group, .. } => drop(known.groups.insert(group.clone())),
        Op::DeleteGroup { group } => {
            known.groups.remove(group);
            known.sets.retain(|(g, _)| g != group);
        }
        Op::PutPermissionSet { group, set, .. } => drop(known.sets.insert((group.clone(), set.clone()))),
        Op::DeletePermissionSet { group, set } => drop(known.sets.remove(&(group.clone(), set.clone()))),
        Op::PutPolicy { policy, .. } => drop(known.policies.insert(policy.clone())),
        Op::DeletePolicy { policy } => drop(known.policies.remove(policy)),
        Op::PutResource { resource, .. } => drop(known.resources.insert(resource.to_string())),
        Op::DeleteResource { resource } => drop(known.resources.remove(&resource.to_string())),
        _ => {}
    }
}

/// One explanation step as the engine's fixtures write it.
fn step(s: &Value) -> String {
    let subject = |v: &Value| match (v.get("user"), v.get("group")) {
        (Some(u), _) => format!("user:{}", u.as_str().unwrap_or("")),
        (_, Some(g)) => format!("group:{}", g.as_str().unwrap_or("")),
        _ => v.to_string(),
    };
    let res = |v: &Value| format!("{}:{}", v["type"].as_str().unwrap_or(""), v["id"].as_str().unwrap_or(""));
    let t = |k: &str| s[k].as_str().unwrap_or("").to_string();
    match s["kind"].as_str().unwrap_or("") {
        "member" => format!("{} in group:{}", subject(&s["member"]), t("group")),
        "grant" => format!("{} is {} on {}", subject(&s["subject"]), t("role"), res(&s["resource"])),
        "inherit" => format!(
            "{} on {} gives {} on {}{}",
            t("parent_role"),
            res(&s["from"]),
            t("role"),
            res(&s["resource"]),
            if s["locked"] == true { " (locked)" } else { "" }
        ),
        "workspace_role" => {
            format!("workspace role {} gives {} on {}", t("workspace_role"), t("role"), res(&s["resource"]))
        }
        "admin" => format!("workspace role {} is an admin role", t("workspace_role")),
        "capability_default" => format!(
            "{} is given to {} and above, and the user is {}",
            t("capability"),
            t("min_role"),
            t("workspace_role")
        ),
        "policy" => format!(
            "policy {} on group:{} {} {}",
            t("policy"),
            t("group"),
            if s["effect"] == "allow" { "allows" } else { "denies" },
            t("capability")
        ),
        "membership_role" => format!("{} of group:{}", t("role"), t("group")),
        "permission_set" => {
            let list: Vec<&str> = s["permissions"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
            format!("set {} of group:{} gives [{}]", t("set"), t("group"), list.join(","))
        }
        "builtin_group" => format!("group:{} is built in", t("group")),
        "public_group" => format!("group:{} is public", t("group")),
        other => panic!("unknown step kind `{other}`"),
    }
}

fn steps(list: &Value) -> String {
    list.as_array().unwrap().iter().map(step).collect::<Vec<_>>().join(" -> ")
}

async fn ask(app: &App, path: &str, body: Value) -> Answer {
    app.root("POST", &format!("/v1/workspaces/{WS}{path}"), body).await
}

async fn replay(dir: &Path) -> Vec<String> {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let text = std::fs::read_to_string(dir.join("scenario.txt")).unwrap();
    let app = App::with_limits(limits(&text)).await;
    let schema = schema(dir);
    let default_role =
        if schema.workspace_roles.iter().any(|r| r == "member") { "member" } else { &schema.workspace_roles[0] }
            .to_string();
    app.workspace(WS, json!(schema)).await;
    let text: String = text.lines().filter(|l| !l.starts_with("limits ")).collect::<Vec<_>>().join("\n");
    let lines = dsl::parse(&text, &default_role).unwrap();
    let mut known = Known::default();
    let mut failures = Vec::new();
    for (n, line) in lines {
        let at = format!("{name}/scenario.txt:{n}");
        match line {
            Line::Do(op) => {
                let (method, path, body) = request(&op, &known);
                let a = app.root(method, &format!("/v1/workspaces/{WS}{path}"), body).await;
                if !a.status.is_success() {
                    failures.push(format!("{at}: {method} {path}: {} {}", a.status, a.body));
                }
                remember(&op, &mut known);
            }
            Line::Refused(op, code) => {
                let (method, path, body) = request(&op, &known);
                let before = app.root("GET", &format!("/v1/workspaces/{WS}/changes?limit=1000"), Value::Null).await;
                let a = app.root(method, &format!("/v1/workspaces/{WS}{path}"), body).await;
                if !a.status.is_client_error() || a.code() != code {
                    failures.push(format!("{at}: {method} {path}: {} {}, expected `{code}`", a.status, a.body));
                }
                let after = app.root("GET", &format!("/v1/workspaces/{WS}/changes?limit=1000"), Value::Null).await;
                if before.body["items"] != after.body["items"] {
                    failures.push(format!("{at}: a refused request wrote a change"));
                }
            }
            Line::Check { user, action, resource, allowed, role } => {
                let a = ask(&app, "/check", json!({"subject": {"user": user}, "action": action, "resource": resource}))
                    .await;
                let role_ok = role.as_ref().is_none_or(|r| a.body["role"] == json!(r));
                if a.body["allowed"] != allowed || !role_ok {
                    failures.push(format!("{at}: got {}", a.body));
                }
            }
            Line::Explain { user, action, resource, kind, text } => {
                let a =
                    ask(&app, "/explain", json!({"subject": {"user": user}, "action": action, "resource": resource}))
                        .await;
                let paths = a.body["paths"].as_array().cloned().unwrap_or_default();
                let found = match kind.as_str() {
                    "path" | "blocked" => paths.iter().filter(|p| p["blocked"] == (kind == "blocked")).any(|p| {
                        format!("{} => {}", steps(&p["steps"]), p["gives"].as_str().unwrap_or("")).contains(&text)
                    }),
                    _ => a.body["denied_by"].as_array().unwrap().iter().any(|d| steps(d).contains(&text)),
                };
                if !found {
                    failures.push(format!("{at}: no {kind} containing `{text}` in {}", a.body));
                }
            }
            Line::LookupResources { user, action, kind, mut ids } => {
                let a = ask(
                    &app,
                    "/lookup/resources",
                    json!({"subject": {"user": user}, "action": action, "resource_type": kind, "limit": 1000}),
                )
                .await;
                let mut got: Vec<String> =
                    a.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().into()).collect();
                got.sort();
                ids.sort();
                if got != ids {
                    failures.push(format!("{at}: got {got:?}"));
                }
            }
            Line::LookupSubjects { resource, action, mut users } => {
                let a =
                    ask(&app, "/lookup/subjects", json!({"resource": resource, "action": action, "limit": 1000})).await;
                let mut got: Vec<(String, Option<String>)> = a.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| (i["user"].as_str().unwrap().into(), i["role"].as_str().map(String::from)))
                    .collect();
                got.sort();
                users.sort();
                let matches = got.len() == users.len()
                    && got.iter().zip(&users).all(|(g, u)| g.0 == u.0 && (u.1.is_none() || g.1 == u.1));
                if !matches {
                    failures.push(format!("{at}: got {got:?}"));
                }
            }
            Line::Filter { user, dataset, expected } => {
                let a = ask(&app, "/data-filter", json!({"user": user, "dataset": dataset})).await;
                let got = if a.body["unrestricted"] == true {
                    "unrestricted".to_string()
                } else {
                    match a.body["filter"].as_object() {
                        Some(map) if map.values().all(|v| v.as_array().is_some_and(Vec::is_empty)) => {
                            "nothing".to_string()
                        }
                        Some(map) => map
                            .iter()
                            .map(|(k, v)| {
                                let values: Vec<&str> =
                                    v.as_array().unwrap().iter().filter_map(Value::as_str).collect();
                                format!("{k}={}", values.join(","))
                            })
                            .collect::<Vec<_>>()
                            .join(" "),
                        None => "any-of".to_string(),
                    }
                };
                if got != expected {
                    failures.push(format!("{at}: got `{got}` from {}", a.body));
                }
            }
            Line::FilterSql { user, dataset, sql, params } => {
                let a = ask(&app, "/data-filter", json!({"user": user, "dataset": dataset})).await;
                if a.body["sql"]["where"] != sql.as_str() || a.body["sql"]["params"] != json!(params) {
                    failures.push(format!("{at}: got {}", a.body["sql"]));
                }
            }
            // Row filtering is the client's job with the filter above; the engine tests cover it.
            Line::Row { .. } => {}
        }
    }
    app.stop().await;
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_seed_fixture_tells_its_story_over_http() {
    let dirs = examples();
    assert!(dirs.len() >= 5, "expected a fixture per seed page");
    let mut failures = Vec::new();
    for dir in &dirs {
        failures.extend(replay(dir).await);
    }
    assert!(failures.is_empty(), "{} failed expectation(s):\n{}", failures.len(), failures.join("\n"));
}
