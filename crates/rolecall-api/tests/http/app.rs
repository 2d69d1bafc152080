//! A real server for each test: the API on 127.0.0.1 port 0, a fresh data directory (and,
//! in the `http_postgres` test binary, a fresh PostgreSQL database), and a plain HTTP
//! client.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use rolecall_model::Limits;
use rolecall_service::Service;
use rolecall_store_postgres::PostgresStore;
use rolecall_store_sqlite::SqliteStore;
use serde_json::{Value, json};
use tempfile::TempDir;

pub const ROOT: &str = "root-secret-for-tests";

pub struct App {
    pub addr: SocketAddr,
    pub dir: TempDir,
    client: reqwest::Client,
    shutdown: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
    _dispatcher: rolecall_service::Dispatcher,
}

/// Webhook retries fast enough for a test: three attempts, 50 ms and 100 ms apart.
pub fn delivery_policy() -> rolecall_service::DeliveryPolicy {
    rolecall_service::DeliveryPolicy {
        max_attempts: 3,
        first_retry: std::time::Duration::from_millis(50),
        poll: std::time::Duration::from_millis(50),
        timeout: std::time::Duration::from_secs(2),
        ..rolecall_service::DeliveryPolicy::default()
    }
}

/// One answer: status, JSON body (`null` when empty) and the revision header.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub revision: Option<String>,
}

impl Answer {
    /// The error code of a refusal.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl App {
    pub async fn start() -> App {
        App::start_in(tempfile::tempdir().unwrap(), Limits::default()).await
    }

    pub async fn with_limits(limits: Limits) -> App {
        App::start_in(tempfile::tempdir().unwrap(), limits).await
    }

    /// Starts a server on the data in `dir` (a restart when it holds data). On PostgreSQL
    /// the directory holds the URL of the test's database.
    pub async fn start_in(dir: TempDir, limits: Limits) -> App {
        let (router, dispatcher) = if crate::POSTGRES {
            let file = dir.path().join("database-url");
            let url = match std::fs::read_to_string(&file) {
                Ok(url) => url,
                Err(_) => {
                    let db = rolecall_store_postgres::testing::database()
                        .await
                        .unwrap_or_else(|e| panic!("PostgreSQL is needed for these tests: {e}"));
                    std::fs::write(&file, &db.url).unwrap();
                    db.url
                }
            };
            let store = PostgresStore::open(&url).await.unwrap();
            let service = Service::open(store, limits).await.unwrap();
            let dispatcher = service.start_dispatcher(delivery_policy()).unwrap();
            (rolecall_api::router(Arc::new(rolecall_api::AppState::new(service, ROOT))), dispatcher)
        } else {
            let store = SqliteStore::open(&dir.path().join("rolecall.db")).await.unwrap();
            let service = Service::open(store, limits).await.unwrap();
            let dispatcher = service.start_dispatcher(delivery_policy()).unwrap();
            (rolecall_api::router(Arc::new(rolecall_api::AppState::new(service, ROOT))), dispatcher)
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    stopped.await.ok();
                })
                .await
                .unwrap();
        });
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        App { addr, dir, client, shutdown, server, _dispatcher: dispatcher }
    }

    /// Another server on the same data, as a second replica behind a load balancer would
    /// be: on PostgreSQL a second process-like server on the same database. The embedded
    /// store has one server process, so there is none.
    pub async fn replica(&self, limits: Limits) -> Option<App> {
        if !crate::POSTGRES {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(self.dir.path().join("database-url"), dir.path().join("database-url")).unwrap();
        Some(App::start_in(dir, limits).await)
    }

    /// Stops the server (its store is closed) and hands back the data directory.
    pub async fn stop(self) -> TempDir {
        self.shutdown.send(()).ok();
        self.server.await.unwrap();
        self.dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Any request: `key` as the bearer, `actor` as `Rolecall-Actor`, `body` as JSON.
    pub async fn send(&self, method: &str, path: &str, key: &str, actor: Option<&str>, body: Option<&Value>) -> Answer {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(actor) = actor {
            req = req.header("rolecall-actor", actor);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let revision = res.headers().get("rolecall-revision").and_then(|v| v.to_str().ok()).map(String::from);
        let bytes = res.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
        };
        assert!(!status.is_server_error(), "{path}: a 5xx: {status} {body}");
        Answer { status, body, revision }
    }

    /// A request with the root key.
    pub async fn root(&self, method: &str, path: &str, body: Value) -> Answer {
        let body = (!body.is_null()).then_some(body);
        self.send(method, path, ROOT, None, body.as_ref()).await
    }

    /// A request with the root key acting as `user`.
    pub async fn acting(&self, user: &str, method: &str, path: &str, body: Value) -> Answer {
        let body = (!body.is_null()).then_some(body);
        self.send(method, path, ROOT, Some(user), body.as_ref()).await
    }

    /// A root request that must succeed with `status`; returns its body.
    pub async fn ok(&self, method: &str, path: &str, body: Value, status: u16) -> Value {
        let a = self.root(method, path, body).await;
        assert_eq!(a.status.as_u16(), status, "{method} {path}: {}", a.body);
        a.body
    }

    /// Creates workspace `ws` with `schema` (the default schema when `null`).
    pub async fn workspace(&self, ws: &str, schema: Value) -> Value {
        let mut body = json!({"id": ws, "name": format!("Workspace {ws}")});
        if !schema.is_null() {
            body["schema"] = schema;
        }
        self.ok("POST", "/v1/workspaces", body, 201).await
    }

    /// Creates a user with an email derived from the id.
    pub async fn user(&self, ws: &str, id: &str, role: &str) {
        let body = json!({"id": id, "email": format!("{id}@example.test"), "name": id, "workspace_role": role});
        self.ok("POST", &format!("/v1/workspaces/{ws}/users"), body, 201).await;
    }
}

/// A small schema with one app/workflow pair, used by most tests.
pub fn apps_schema() -> Value {
    json!({
        "workspace_roles": ["consumer", "member", "creator", "admin", "owner"],
        "admin_roles": ["admin", "owner"],
        "capabilities": {"create_group": "member", "create_app": "admin"},
        "resource_types": {
            "app": {"roles": ["runner", "admin"], "actions": {"run": "runner", "update": "admin"},
                    "implied_by_workspace_role": {"admin": "admin"}},
            "workflow": {"parent": "app", "roles": ["runner", "admin"], "deny_role": "restricted",
                         "actions": {"view": "runner", "run": "runner", "update": "admin"},
                         "from_parent": {"runner": "runner", "admin": "admin"}, "locked_from_parent": ["admin"]}
        },
        "datasets": {"sales": {"attributes": ["country"], "without_scope": "nothing"}}
    })
}
