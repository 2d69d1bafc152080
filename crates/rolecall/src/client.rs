//! The operator's commands against a running server: workspaces, schema files (JSON or
//! TOML), export and import of a whole workspace (with a progress bar), check and explain.
//! They speak the HTTP API like any client, so they need no access to the database.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rolecall_model::SchemaDoc;
use rolecall_service::{Export, ImportChunk};
use serde_json::{Value, json};

/// Where the server is and how to authenticate.
#[derive(Args, Debug, Clone)]
pub struct Connection {
    /// The server's base URL.
    #[arg(long, env = "ROLECALL_SERVER", default_value = "http://127.0.0.1:8080", global = true)]
    server: String,
    /// The key to send (default: `ROLECALL_ROOT_KEY`, else `./rolecall-data/root-key`).
    #[arg(long, env = "ROLECALL_KEY", global = true, hide_env_values = true)]
    key: Option<String>,
    /// Act as this user of the workspace (`Rolecall-Actor`).
    #[arg(long, global = true)]
    actor: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// Create a workspace, with a schema file or the default schema.
    Create {
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// A schema file, JSON or TOML.
        #[arg(long)]
        schema: Option<PathBuf>,
    },
    /// Show a workspace and its counts.
    Get { id: String },
    /// Delete a workspace and everything in it.
    Delete {
        id: String,
        /// Required: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SchemaCommand {
    /// Replace a workspace's schema with a file (JSON or TOML); refused, naming them, when
    /// existing data would not fit.
    Apply { workspace: String, file: PathBuf },
    /// Print a workspace's schema as JSON.
    Get { workspace: String },
}

/// One of the client commands.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Schemas.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Write a whole workspace to a JSON file (or standard output).
    Export {
        workspace: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// `rolecall` (a document `import` takes back), `spicedb` (a zed validation file)
        /// or `openfga` (the model and tuples, JSON).
        #[arg(long, default_value = "rolecall", value_parser = ["rolecall", "spicedb", "openfga"])]
        format: String,
    },
    /// Create a workspace from an export file, in chunks, with a progress bar.
    Import {
        file: PathBuf,
        /// The new workspace's id (default: the id in the file).
        #[arg(long)]
        workspace: Option<String>,
        /// Items per request (each one transaction).
        #[arg(long, default_value_t = 5000)]
        chunk: usize,
    },
    /// May USER do ACTION on TYPE:ID? Exit status 0 when allowed, 3 when denied.
    Check { workspace: String, user: String, action: String, resource: String },
    /// Why USER may or may not do ACTION on TYPE:ID.
    Explain { workspace: String, user: String, action: String, resource: String },
    /// Set USER's web console password, read from the first line of standard input (so it
    /// stays out of the shell's history and the process list). Every session of the user ends.
    Password { workspace: String, user: String },
    /// Make EMAIL a workspace admin who can sign in to the web console: creates the user
    /// (or promotes the one with that email) and sets their console password, read from
    /// the first line of standard input. Running it again is harmless.
    Admin {
        workspace: String,
        email: String,
        /// Display name of a new user (default: the email).
        #[arg(long)]
        name: Option<String>,
        /// Id of a new user (default: the part of the email before `@`).
        #[arg(long)]
        id: Option<String>,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
    actor: Option<String>,
}

impl Client {
    fn new(c: &Connection) -> anyhow::Result<Client> {
        let key = match &c.key {
            Some(k) => k.clone(),
            None => match std::env::var("ROLECALL_ROOT_KEY") {
                Ok(k) if !k.trim().is_empty() => k,
                _ => std::fs::read_to_string("rolecall-data/root-key")
                    .context("no key: pass --key, set ROLECALL_KEY, or run where ./rolecall-data/root-key is")?,
            },
        };
        let http = reqwest::Client::builder().build()?;
        Ok(Client {
            http,
            base: c.server.trim_end_matches('/').to_string(),
            key: key.trim().to_string(),
            actor: c.actor.clone(),
        })
    }

    /// Sends a request; a refusal becomes an error with the server's code and message.
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method.parse()?, &url).bearer_auth(&self.key);
        if let Some(actor) = &self.actor {
            req = req.header("rolecall-actor", actor);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.with_context(|| format!("cannot reach {}", self.base))?;
        let status = res.status();
        let text = res.text().await?;
        let value: Value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(json!(text)) };
        if !status.is_success() {
            let code = value["error"]["code"].as_str().unwrap_or("error");
            let message = value["error"]["message"].as_str().unwrap_or(&text);
            let details = &value["error"]["details"];
            let details = if details.as_object().is_some_and(|d| !d.is_empty()) {
                format!("\n{details:#}")
            } else {
                String::new()
            };
            bail!("{status}: {code}: {message}{details}");
        }
        Ok(value)
    }
}

/// Reads a schema file: TOML when the name ends in `.toml`, JSON otherwise.
pub fn read_schema(path: &Path) -> anyhow::Result<SchemaDoc> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let doc = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")) {
        SchemaDoc::from_toml(&text)
    } else {
        SchemaDoc::from_json(&text)
    };
    doc.with_context(|| format!("{} is not a valid schema", path.display()))
}

fn resource(text: &str) -> anyhow::Result<Value> {
    match text.split_once(':') {
        Some((kind, id)) if !kind.is_empty() && !id.is_empty() => Ok(json!({"type": kind, "id": id})),
        _ => bail!("a resource is TYPE:ID, e.g. app:crm (got `{text}`)"),
    }
}

fn print(value: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Runs a client command; returns the process exit status.
pub async fn run(connection: &Connection, command: ClientCommand) -> anyhow::Result<i32> {
    let client = Client::new(connection)?;
    match command {
        ClientCommand::Workspace(WorkspaceCommand::Create { id, name, schema }) => {
            let mut body = json!({"id": id, "name": name.unwrap_or_else(|| id.clone())});
            if let Some(file) = schema {
                body["schema"] = serde_json::to_value(read_schema(&file)?)?;
            }
            print(&client.call("POST", "/v1/workspaces", Some(&body)).await?)?;
        }
        ClientCommand::Workspace(WorkspaceCommand::Get { id }) => {
            print(&client.call("GET", &format!("/v1/workspaces/{id}"), None).await?)?;
        }
        ClientCommand::Workspace(WorkspaceCommand::Delete { id, yes }) => {
            if !yes {
                bail!("deleting workspace `{id}` removes everything in it; pass --yes to confirm");
            }
            client.call("DELETE", &format!("/v1/workspaces/{id}"), None).await?;
            eprintln!("deleted workspace `{id}`");
        }
        ClientCommand::Schema(SchemaCommand::Apply { workspace, file }) => {
            let schema = serde_json::to_value(read_schema(&file)?)?;
            let done = client.call("PUT", &format!("/v1/workspaces/{workspace}/schema"), Some(&schema)).await?;
            eprintln!("schema of `{workspace}` replaced at revision {}", done["revision"].as_str().unwrap_or("?"));
        }
        ClientCommand::Password { workspace, user } => {
            let password = password_from_stdin(&format!("rolecall password {workspace} {user} < file"))?;
            let body = json!({"password": password});
            client.call("PUT", &format!("/v1/workspaces/{workspace}/users/{user}/password"), Some(&body)).await?;
            eprintln!("password of `{user}` in `{workspace}` set; their sessions ended");
        }
        ClientCommand::Admin { workspace, email, name, id } => {
            let password = password_from_stdin(&format!("rolecall admin {workspace} {email} < file"))?;
            let w = format!("/v1/workspaces/{workspace}");
            let schema = client.call("GET", &format!("{w}/schema"), None).await?;
            let Some(role) = schema["admin_roles"].get(0).and_then(Value::as_str) else {
                bail!("the schema of `{workspace}` has no admin role");
            };
            let q: String = form_urlencoded::byte_serialize(email.as_bytes()).collect();
            let found = client.call("GET", &format!("{w}/users?q={q}&limit=100"), None).await?;
            let existing = found["items"].as_array().and_then(|items| {
                items.iter().find(|u| u["email"].as_str().is_some_and(|e| e.eq_ignore_ascii_case(&email)))
            });
            let user = match existing {
                Some(u) => {
                    let id = u["id"].as_str().unwrap_or_default().to_string();
                    client.call("PATCH", &format!("{w}/users/{id}"), Some(&json!({"workspace_role": role}))).await?;
                    id
                }
                None => {
                    let id = id.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_lowercase());
                    let name = name.unwrap_or_else(|| email.clone());
                    let body = json!({"id": id, "email": email, "name": name, "workspace_role": role});
                    client.call("POST", &format!("{w}/users"), Some(&body)).await?;
                    id
                }
            };
            let body = json!({"password": password});
            client.call("PUT", &format!("{w}/users/{user}/password"), Some(&body)).await?;
            eprintln!("`{email}` (user `{user}`) is {role} of `{workspace}`; sign in at {}/", client.base);
        }
        ClientCommand::Schema(SchemaCommand::Get { workspace }) => {
            print(&client.call("GET", &format!("/v1/workspaces/{workspace}/schema"), None).await?)?;
        }
        ClientCommand::Export { workspace, output, format } => {
            let text = match format.as_str() {
                "spicedb" => {
                    match client.call("GET", &format!("/v1/workspaces/{workspace}/export/spicedb"), None).await? {
                        Value::String(yaml) => yaml,
                        other => bail!("the server answered something other than a file: {other}"),
                    }
                }
                "openfga" => serde_json::to_string_pretty(
                    &client.call("GET", &format!("/v1/workspaces/{workspace}/export/openfga"), None).await?,
                )?,
                _ => serde_json::to_string_pretty(
                    &client.call("GET", &format!("/v1/workspaces/{workspace}/export"), None).await?,
                )?,
            };
            match output {
                Some(path) => {
                    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("exported `{workspace}` to {}", path.display());
                }
                None => println!("{text}"),
            }
        }
        ClientCommand::Import { file, workspace, chunk } => import(&client, &file, workspace, chunk).await?,
        ClientCommand::Check { workspace, user, action, resource: r } => {
            let body = json!({"subject": {"user": user}, "action": action, "resource": resource(&r)?,
                              "consistency": {"fully_consistent": true}});
            let a = client.call("POST", &format!("/v1/workspaces/{workspace}/check"), Some(&body)).await?;
            let allowed = a["allowed"] == true;
            let role = a["role"].as_str().map_or("no role".to_string(), |r| format!("role {r}"));
            println!(
                "{} ({role}) at revision {}",
                if allowed { "allowed" } else { "denied" },
                a["revision"].as_str().unwrap_or("?")
            );
            return Ok(if allowed { 0 } else { 3 });
        }
        ClientCommand::Explain { workspace, user, action, resource: r } => {
            let body = json!({"subject": {"user": user}, "action": action, "resource": resource(&r)?,
                              "consistency": {"fully_consistent": true}});
            let e = client.call("POST", &format!("/v1/workspaces/{workspace}/explain"), Some(&body)).await?;
            println!("{}", render_explanation(&e, &user, &action, &r));
            return Ok(if e["allowed"] == true { 0 } else { 3 });
        }
    }
    Ok(0)
}

/// An explanation as lines a person reads.
pub fn render_explanation(e: &Value, user: &str, action: &str, resource: &str) -> String {
    let verdict = if e["allowed"] == true { "may" } else { "may not" };
    let role = e["role"].as_str().unwrap_or("none");
    let mut out = format!(
        "{user} {verdict} {action} {resource}: effective role {role}, `{action}` needs {}\n",
        e["required"].as_str().unwrap_or("?")
    );
    let paths = e["paths"].as_array().cloned().unwrap_or_default();
    if paths.is_empty() {
        out += "  no path gives a role\n";
    }
    for p in &paths {
        let steps: Vec<String> = p["steps"].as_array().into_iter().flatten().map(step).collect();
        let blocked = if p["blocked"] == true { " [taken away by a deny rule]" } else { "" };
        out += &format!("  {} => {}{blocked}\n", steps.join(" -> "), p["gives"].as_str().unwrap_or("?"));
    }
    for d in e["denied_by"].as_array().into_iter().flatten() {
        let steps: Vec<String> = d.as_array().into_iter().flatten().map(step).collect();
        out += &format!("  denied by: {}\n", steps.join(" -> "));
    }
    out.trim_end().to_string()
}

fn step(s: &Value) -> String {
    let t = |k: &str| s[k].as_str().unwrap_or("").to_string();
    let subject = |v: &Value| match (v["user"].as_str(), v["group"].as_str()) {
        (Some(u), _) => format!("user {u}"),
        (_, Some(g)) => format!("group {g}"),
        _ => v.to_string(),
    };
    let res = |v: &Value| format!("{}:{}", v["type"].as_str().unwrap_or(""), v["id"].as_str().unwrap_or(""));
    match s["kind"].as_str().unwrap_or("") {
        "member" => format!("{} is in group {}", subject(&s["member"]), t("group")),
        "grant" => format!("{} is {} on {}", subject(&s["subject"]), t("role"), res(&s["resource"])),
        "inherit" => {
            format!("{} on {} gives {} on {}", t("parent_role"), res(&s["from"]), t("role"), res(&s["resource"]))
        }
        "workspace_role" => {
            format!("workspace role {} gives {} on {}", t("workspace_role"), t("role"), res(&s["resource"]))
        }
        "admin" => format!("workspace role {} is an admin role", t("workspace_role")),
        "policy" => format!("policy {} on group {} {}s {}", t("policy"), t("group"), t("effect"), t("capability")),
        _ => s.to_string(),
    }
}

async fn import(client: &Client, file: &Path, workspace: Option<String>, chunk: usize) -> anyhow::Result<()> {
    if chunk == 0 || chunk > rolecall_service::MAX_IMPORT_CHUNK {
        bail!("--chunk is 1 to {}", rolecall_service::MAX_IMPORT_CHUNK);
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let doc: Export =
        serde_json::from_str(&text).with_context(|| format!("{} is not a Rolecall export", file.display()))?;
    if doc.format != rolecall_service::EXPORT_FORMAT {
        bail!("{}: format `{}` is not {}", file.display(), doc.format, rolecall_service::EXPORT_FORMAT);
    }
    let id = workspace.unwrap_or_else(|| doc.workspace.id.clone());
    let body = json!({"id": id, "name": doc.workspace.name, "schema": doc.schema});
    client.call("POST", "/v1/workspaces", Some(&body)).await?;

    let content = doc.content;
    let bar = ProgressBar::new(content.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    // Rows first (parents before children, as exported), then the facts that refer to them.
    let mut parts: Vec<(&str, ImportChunk)> = Vec::new();
    for users in content.users.chunks(chunk) {
        parts.push(("users", ImportChunk { users: users.to_vec(), ..Default::default() }));
    }
    for groups in content.groups.chunks(chunk) {
        parts.push(("groups", ImportChunk { groups: groups.to_vec(), ..Default::default() }));
    }
    for resources in content.resources.chunks(chunk) {
        parts.push(("resources", ImportChunk { resources: resources.to_vec(), ..Default::default() }));
    }
    if !content.labels.is_empty() {
        parts.push(("labels", ImportChunk { labels: content.labels.clone(), ..Default::default() }));
    }
    for facts in content.facts.chunks(chunk) {
        parts.push(("facts", ImportChunk { facts: facts.to_vec(), ..Default::default() }));
    }
    let path = format!("/v1/workspaces/{id}/import");
    let mut revision = String::new();
    for (what, part) in parts {
        bar.set_message(what);
        let n = part.len() as u64;
        let done = client.call("POST", &path, Some(&serde_json::to_value(&part)?)).await.inspect_err(|_| {
            bar.abandon();
        })?;
        revision = done["revision"].as_str().unwrap_or_default().to_string();
        bar.inc(n);
    }
    bar.finish_with_message("done");
    eprintln!("imported workspace `{id}` ({} items) at revision {revision}", content.len());
    Ok(())
}

/// A password from the first line of standard input (never from the command line, which
/// the shell's history and the process list keep).
fn password_from_stdin(example: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!("give the password on standard input, e.g. `{example}`");
    }
    Ok(password)
}
