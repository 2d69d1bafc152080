//! The operator's commands against a real `rolecall serve`: create a workspace from a TOML
//! schema, apply schema files, check and explain with exit codes, and export a workspace
//! then import it under another id, after which every answer is the same.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{KEY, free_port, request, start};
use serde_json::{Value, json};

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn cli(port: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .args(args)
        .env("ROLECALL_SERVER", format!("http://127.0.0.1:{port}"))
        .env("ROLECALL_KEY", KEY)
        .output()
        .unwrap()
}

/// The CLI with `input` on its standard input.
fn cli_with_input(port: u16, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .args(args)
        .env("ROLECALL_SERVER", format!("http://127.0.0.1:{port}"))
        .env("ROLECALL_KEY", KEY)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn call(port: u16, method: &str, path: &str, body: Value) -> Value {
    let body = if body.is_null() { String::new() } else { body.to_string() };
    let (status, text) = request(port, method, path, &body).unwrap();
    assert!((200..300).contains(&status), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Every check of every user on every app and action, in one batch per user.
fn answers(port: u16, ws: &str) -> Vec<Value> {
    let users = call(port, "GET", &format!("/v1/workspaces/{ws}/users?limit=1000"), Value::Null);
    let mut out = Vec::new();
    for u in users["items"].as_array().unwrap() {
        let checks: Vec<Value> = ["crm", "hr", "wiki"]
            .iter()
            .flat_map(|app| {
                ["view", "edit", "administer"]
                    .map(|a| json!({"subject": {"user": u["id"]}, "action": a, "resource": {"type": "app", "id": app}}))
            })
            .collect();
        let r = call(port, "POST", &format!("/v1/workspaces/{ws}/check/batch"), json!({"checks": checks}));
        for (c, a) in checks.iter().zip(r["results"].as_array().unwrap()) {
            out.push(json!({"check": c, "allowed": a["allowed"], "role": a["role"]}));
        }
        let f = call(
            port,
            "POST",
            &format!("/v1/workspaces/{ws}/data-filter"),
            json!({"user": u["id"], "dataset": "reports"}),
        );
        out.push(json!({"filter": u["id"], "sql": f["sql"]}));
    }
    out
}

/// An export with its lists sorted and its workspace id dropped, to compare two.
fn normalized(mut doc: Value) -> Value {
    doc.as_object_mut().unwrap().remove("workspace");
    for list in ["users", "groups", "resources", "facts"] {
        let items = doc[list].as_array_mut().unwrap();
        items.sort_by_key(|v| v.to_string());
    }
    doc
}

#[test]
fn operator_commands_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(dir.path(), port);

    // A workspace from the seed 001 schema, in TOML.
    let schema = examples().join("001-app-store-groups/schema.toml");
    let out = cli(port, &["workspace", "create", "acme", "--name", "Acme", "--schema", schema.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let ws = cli(port, &["workspace", "get", "acme"]);
    assert!(text(&ws).contains("\"name\": \"Acme\""), "{}", text(&ws));
    let again = cli(port, &["workspace", "create", "acme"]);
    assert!(!again.status.success() && text(&again).contains("workspace_exists"), "{}", text(&again));

    // Data through the API: users, groups, nesting, sets, policy, scopes, apps, grants.
    let w = "/v1/workspaces/acme";
    for (u, role) in [("pierre", "user"), ("marie", "user"), ("hans", "user"), ("anne", "admin")] {
        call(
            port,
            "POST",
            &format!("{w}/users"),
            json!({"id": u, "email": format!("{u}@example.test"), "name": u, "workspace_role": role}),
        );
    }
    // The bootstrap admin's console password, from standard input; too short is refused.
    let set = cli_with_input(port, &["password", "acme", "anne"], "a long enough passphrase\n");
    assert!(set.status.success() && text(&set).contains("password of `anne`"), "{}", text(&set));
    let short = cli_with_input(port, &["password", "acme", "anne"], "short\n");
    assert!(!short.status.success() && text(&short).contains("12 to 256"), "{}", text(&short));
    let empty = cli_with_input(port, &["password", "acme", "anne"], "");
    assert!(!empty.status.success() && text(&empty).contains("standard input"), "{}", text(&empty));
    // A console admin in one command: created, then (again) promoted and given a new password.
    let admin =
        cli_with_input(port, &["admin", "acme", "Root@Example.test", "--name", "Root"], "a long enough passphrase\n");
    assert!(admin.status.success() && text(&admin).contains("(user `root`) is admin of `acme`"), "{}", text(&admin));
    let made = call(port, "GET", &format!("{w}/users/root"), Value::Null);
    assert_eq!((made["workspace_role"].as_str(), made["name"].as_str()), (Some("admin"), Some("Root")));
    let promoted = cli_with_input(port, &["admin", "acme", "PIERRE@example.test"], "another long passphrase\n");
    assert!(promoted.status.success() && text(&promoted).contains("(user `pierre`)"), "{}", text(&promoted));
    assert_eq!(call(port, "GET", &format!("{w}/users/pierre"), Value::Null)["workspace_role"], "admin");
    let short = cli_with_input(port, &["admin", "acme", "hans@example.test"], "short\n");
    assert!(!short.status.success() && text(&short).contains("12 to 256"), "{}", text(&short));
    call(port, "PATCH", &format!("{w}/users/pierre"), json!({"workspace_role": "user"}));
    for g in ["france", "germany", "europe"] {
        call(port, "POST", &format!("{w}/groups"), json!({"id": g, "name": format!("Team {g}"), "tags": ["region"]}));
    }
    call(port, "PUT", &format!("{w}/groups/france/members/users/pierre"), json!({"role": "owner"}));
    call(port, "PUT", &format!("{w}/groups/france/members/users/marie"), json!({"role": "editor"}));
    call(port, "PUT", &format!("{w}/groups/germany/members/users/hans"), Value::Null);
    call(port, "PUT", &format!("{w}/groups/europe/members/groups/france"), Value::Null);
    call(
        port,
        "POST",
        &format!("{w}/groups/france/permission-sets"),
        json!({"id": "leads", "name": "Team Leaders", "permissions": ["view", "edit"]}),
    );
    call(port, "PUT", &format!("{w}/groups/france/permission-sets/leads/assignees/users/hans"), Value::Null);
    call(
        port,
        "POST",
        &format!("{w}/policies"),
        json!({"id": "no-groups", "name": "No groups", "rules": {"create_group": "deny"}}),
    );
    call(port, "PUT", &format!("{w}/groups/germany/policies/no-groups"), Value::Null);
    call(port, "PUT", &format!("{w}/groups/france/data-scopes/reports"), json!({"country": ["FR"]}));
    for app in ["crm", "hr", "wiki"] {
        call(port, "POST", &format!("{w}/resources"), json!({"type": "app", "id": app, "name": app.to_uppercase()}));
    }
    call(
        port,
        "PUT",
        &format!("{w}/resources/app/crm/grants"),
        json!({"subject": {"group": "europe"}, "role": "viewer"}),
    );
    call(
        port,
        "PUT",
        &format!("{w}/resources/app/crm/grants"),
        json!({"subject": {"user": "marie"}, "role": "editor"}),
    );
    call(
        port,
        "PUT",
        &format!("{w}/resources/app/hr/grants"),
        json!({"subject": {"group": "germany"}, "role": "admin"}),
    );

    // check and explain: the answer, the path, and the exit status.
    let yes = cli(port, &["check", "acme", "pierre", "view", "app:crm"]);
    assert_eq!(yes.status.code(), Some(0), "{}", text(&yes));
    assert!(text(&yes).contains("allowed (role viewer)"), "{}", text(&yes));
    let no = cli(port, &["check", "acme", "pierre", "edit", "app:crm"]);
    assert_eq!(no.status.code(), Some(3), "{}", text(&no));
    let why = cli(port, &["explain", "acme", "pierre", "view", "app:crm"]);
    let why = text(&why);
    assert!(why.contains("user pierre is in group france -> group france is in group europe"), "{why}");
    assert!(why.contains("group europe is viewer on app:crm"), "{why}");
    let bad = cli(port, &["check", "acme", "pierre", "fly", "app:crm"]);
    assert!(!bad.status.success() && text(&bad).contains("unknown_action"), "{}", text(&bad));
    let bad = cli(port, &["check", "acme", "pierre", "view", "crm"]);
    assert!(!bad.status.success() && text(&bad).contains("TYPE:ID"), "{}", text(&bad));

    // Schema files: one that fits is applied; one that would orphan the apps is refused with names.
    let wider = dir.path().join("wider.json");
    let mut doc: Value =
        serde_json::to_value(rolecall_model::SchemaDoc::from_toml(&std::fs::read_to_string(&schema).unwrap()).unwrap())
            .unwrap();
    doc["resource_types"]["report"] = json!({"roles": ["reader"], "actions": {"read": "reader"}});
    std::fs::write(&wider, doc.to_string()).unwrap();
    let applied = cli(port, &["schema", "apply", "acme", wider.to_str().unwrap()]);
    assert!(applied.status.success(), "{}", text(&applied));
    let narrow = dir.path().join("narrow.toml");
    std::fs::write(&narrow, "workspace_roles = [\"user\", \"admin\"]\nadmin_roles = [\"admin\"]\n[capabilities]\ncreate_group = \"admin\"\n").unwrap();
    let refused = cli(port, &["schema", "apply", "acme", narrow.to_str().unwrap()]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("schema_orphans") && text(&refused).contains("crm"), "{}", text(&refused));
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "workspace_roles = 7").unwrap();
    let invalid = cli(port, &["schema", "apply", "acme", broken.to_str().unwrap()]);
    assert!(!invalid.status.success() && text(&invalid).contains("not a valid schema"), "{}", text(&invalid));

    // Export, import under another id (in small chunks), export again: the same workspace.
    let file = dir.path().join("acme.json");
    let out = cli(port, &["export", "acme", "--output", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let out = cli(port, &["import", file.to_str().unwrap(), "--workspace", "copy", "--chunk", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("imported workspace `copy`"), "{}", text(&out));
    let first: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let copy = dir.path().join("copy.json");
    assert!(cli(port, &["export", "copy", "-o", copy.to_str().unwrap()]).status.success());
    let second: Value = serde_json::from_str(&std::fs::read_to_string(&copy).unwrap()).unwrap();
    assert_eq!(first["users"].as_array().unwrap().len(), 5, "four users and the console admin");
    assert_eq!(first["labels"]["permission_set"]["france/leads"], "Team Leaders");
    assert_eq!(normalized(first), normalized(second));
    assert_eq!(answers(port, "acme"), answers(port, "copy"));
    // Importing onto an existing id changes nothing and says why.
    let twice = cli(port, &["import", file.to_str().unwrap(), "--workspace", "copy"]);
    assert!(!twice.status.success() && text(&twice).contains("workspace_exists"), "{}", text(&twice));

    // The same workspace for SpiceDB (a zed validation file) and for OpenFGA.
    let zed = cli(port, &["export", "acme", "--format", "spicedb"]);
    assert!(zed.status.success(), "{}", text(&zed));
    let zed = String::from_utf8_lossy(&zed.stdout).to_string();
    assert!(zed.contains("schema: |-\n  definition user {}") && zed.contains("relationships: |-\n"), "{zed}");
    assert!(zed.contains("definition app {") && zed.contains("#member@user:"), "{zed}");
    let fga = cli(port, &["export", "acme", "--format", "openfga"]);
    assert!(fga.status.success(), "{}", text(&fga));
    let fga: Value = serde_json::from_slice(&fga.stdout).unwrap();
    assert!(fga["model"].as_str().unwrap().starts_with("model\n  schema 1.1\n"), "{fga}");
    assert!(fga["tuples"].as_array().unwrap().iter().any(|t| t["relation"] == "member"), "{fga}");
    let odd = cli(port, &["export", "acme", "--format", "cedar"]);
    assert!(!odd.status.success());

    // Deleting asks for --yes.
    let no = cli(port, &["workspace", "delete", "copy"]);
    assert!(!no.status.success() && text(&no).contains("--yes"));
    assert!(cli(port, &["workspace", "delete", "copy", "--yes"]).status.success());
    assert!(!cli(port, &["workspace", "get", "copy"]).status.success());

    server.kill().unwrap();
    server.wait().unwrap();
}
