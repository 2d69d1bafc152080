//! Runs every fixture under `examples/`: a schema in the seed product's own vocabulary and
//! its stories as a scenario. Each expectation is checked against the engine, and at each
//! expectation that follows a change the whole workspace is checked for consistency with
//! itself and with the reference model.

use std::path::{Path, PathBuf};

use rolecall_engine::Engine;
use rolecall_model::{Change, Limits, Op, SchemaDoc};

use crate::consistency::{assert_consistent, render, render_path, render_steps};
use crate::dsl::{self, Line};
use crate::reference::Reference;

const WS: &str = "ws";

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

pub fn load_schema(dir: &Path) -> SchemaDoc {
    if let Ok(text) = std::fs::read_to_string(dir.join("schema.toml")) {
        return SchemaDoc::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let text = std::fs::read_to_string(dir.join("schema.json")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    SchemaDoc::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

fn limits(text: &str) -> Limits {
    let mut limits = Limits::default();
    if let Some(line) = text.lines().find(|l| l.starts_with("limits ")) {
        for word in line.split_whitespace().skip(1) {
            let (k, v) = word.split_once('=').expect("limits key=value");
            match k {
                "groups" => limits.max_groups = v.parse().expect("number"),
                "owners" => limits.max_owners = v.parse().expect("number"),
                "members" => limits.max_members = v.parse().expect("number"),
                _ => panic!("unknown limit `{k}`"),
            }
        }
    }
    limits
}

/// Runs one fixture directory; returns every failed expectation.
pub fn run_fixture(dir: &Path) -> Vec<String> {
    let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let schema = load_schema(dir);
    let text = std::fs::read_to_string(dir.join("scenario.txt")).expect("scenario.txt");
    let limits = limits(&text);
    let text: String = text.lines().filter(|l| !l.starts_with("limits ")).collect::<Vec<_>>().join("\n");
    let default_role = if schema.workspace_roles.iter().any(|r| r == "member") {
        "member".to_string()
    } else {
        schema.workspace_roles[0].clone()
    };
    let lines = dsl::parse(&text, &default_role).unwrap_or_else(|e| panic!("{name}: {e}"));

    let mut engine = Engine::new(limits);
    engine.apply(&Change::new(WS, Op::CreateWorkspace { schema: schema.clone() })).expect("create workspace");
    let mut reference = Reference::new(WS, schema, limits);
    let mut failures = Vec::new();
    let mut changed = true;

    for (n, line) in lines {
        let at = format!("{name}/scenario.txt:{n}");
        let index = engine.workspace(WS).expect("workspace");
        if changed && !matches!(line, Line::Do(_) | Line::Refused(..)) {
            assert_consistent(index, &reference, &at);
            changed = false;
        }
        match line {
            Line::Do(op) => {
                let change = Change::new(WS, op);
                if let Err(e) = engine.apply(&change) {
                    failures.push(format!("{at}: refused: {e}"));
                }
                if let Err(e) = reference.apply(&change) {
                    failures.push(format!("{at}: reference refused: {e}"));
                }
                changed = true;
            }
            Line::Refused(op, code) => {
                let change = Change::new(WS, op);
                let before = index.facts();
                match engine.apply(&change) {
                    Ok(_) => failures.push(format!("{at}: accepted, expected `{code}`")),
                    Err(e) if e.code() != code => {
                        failures.push(format!("{at}: refused with `{}` ({e}), expected `{code}`", e.code()))
                    }
                    Err(_) => {}
                }
                if engine.workspace(WS).expect("workspace").facts() != before {
                    failures.push(format!("{at}: a refused change changed the workspace"));
                }
                match reference.apply(&change) {
                    Ok(()) => failures.push(format!("{at}: reference accepted, expected `{code}`")),
                    Err(e) if e != code => {
                        failures.push(format!("{at}: reference refused with `{e}`, expected `{code}`"))
                    }
                    Err(_) => {}
                }
            }
            Line::Check { user, action, resource, allowed, role } => match index.check(&user, &action, &resource) {
                Ok(d) => {
                    let role_ok = role.as_ref().is_none_or(|r| r.as_deref() == d.role);
                    if d.allowed != allowed || !role_ok {
                        let why = index.explain(&user, &action, &resource).map(|e| render(&e)).unwrap_or_default();
                        failures.push(format!("{at}: got allowed={} role={:?}\n{why}", d.allowed, d.role));
                    }
                }
                Err(e) => failures.push(format!("{at}: {e}")),
            },
            Line::Explain { user, action, resource, kind, text } => match index.explain(&user, &action, &resource) {
                Ok(e) => {
                    let found = match kind.as_str() {
                        "path" => e.paths.iter().filter(|p| !p.blocked).any(|p| render_path(p).contains(&text)),
                        "blocked" => e.paths.iter().filter(|p| p.blocked).any(|p| render_path(p).contains(&text)),
                        "denied" => e.denied_by.iter().any(|d| render_steps(d).contains(&text)),
                        other => {
                            failures.push(format!("{at}: unknown explain kind `{other}`"));
                            true
                        }
                    };
                    if !found {
                        failures.push(format!("{at}: no {kind} containing `{text}` in\n{}", render(&e)));
                    }
                }
                Err(e) => failures.push(format!("{at}: {e}")),
            },
            Line::LookupResources { user, action, kind, mut ids } => {
                match index.lookup_resources(&user, &action, &kind) {
                    Ok(found) => {
                        let mut got: Vec<String> = found.ids().map(String::from).collect();
                        got.sort();
                        ids.sort();
                        if got != ids {
                            failures.push(format!("{at}: got {got:?}"));
                        }
                    }
                    Err(e) => failures.push(format!("{at}: {e}")),
                }
            }
            Line::LookupSubjects { resource, action, mut users } => match index.lookup_subjects(&resource, &action) {
                Ok(found) => {
                    let mut got: Vec<(String, Option<String>)> =
                        found.iter().map(|(u, r)| (u.to_string(), r.map(String::from))).collect();
                    got.sort();
                    users.sort();
                    // A user listed without a role in the fixture matches any role.
                    let matches = got.len() == users.len()
                        && got.iter().zip(&users).all(|(g, u)| g.0 == u.0 && (u.1.is_none() || g.1 == u.1));
                    if !matches {
                        failures.push(format!("{at}: got {got:?}"));
                    }
                }
                Err(e) => failures.push(format!("{at}: {e}")),
            },
            Line::Filter { user, dataset, expected } => match index.data_filter(&user, &dataset) {
                Ok(f) => {
                    let got = if f.unrestricted() {
                        "unrestricted".to_string()
                    } else {
                        match f.as_map() {
                            Some(map) if map.values().all(|v| v.is_empty()) => "nothing".to_string(),
                            Some(map) => {
                                map.iter().map(|(k, v)| format!("{k}={}", v.join(","))).collect::<Vec<_>>().join(" ")
                            }
                            None => "any-of".to_string(),
                        }
                    };
                    if got != expected {
                        failures.push(format!("{at}: got `{got}`"));
                    }
                }
                Err(e) => failures.push(format!("{at}: {e}")),
            },
            Line::FilterSql { user, dataset, sql, params } => match index.data_filter(&user, &dataset) {
                Ok(f) => {
                    let got = f.to_sql(1);
                    if got.where_clause != sql || got.params != params {
                        failures.push(format!("{at}: got `{}` with {:?}", got.where_clause, got.params));
                    }
                }
                Err(e) => failures.push(format!("{at}: {e}")),
            },
            Line::Row { user, dataset, row, allowed } => match index.data_filter(&user, &dataset) {
                Ok(f) => {
                    if f.allows(|a| row.get(a).map(String::as_str)) != allowed {
                        failures.push(format!("{at}: row filter says {}", !allowed));
                    }
                }
                Err(e) => failures.push(format!("{at}: {e}")),
            },
        }
    }
    assert_consistent(engine.workspace(WS).expect("workspace"), &reference, &format!("{name}: at the end"));
    failures
}

#[test]
fn every_seed_fixture_tells_its_story() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("scenario.txt").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 5, "expected a fixture per seed page, found {}", dirs.len());
    let failures: Vec<String> = dirs.iter().flat_map(|d| run_fixture(d)).collect();
    assert!(failures.is_empty(), "{} failed expectation(s):\n{}", failures.len(), failures.join("\n"));
}
