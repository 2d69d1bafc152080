//! The `rolecall` binary: `rolecall serve` runs the API on the embedded SQLite store or on
//! PostgreSQL (API.md's Running section; the only crate that picks a storage backend), and
//! the operator's commands talk to a running server over HTTP (`client.rs`).

mod client;

/// jemalloc keeps the in-memory index compact: checks are measurably faster with it than
/// with the system allocator (BENCHMARKS.md).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use rolecall_model::Limits;
use rolecall_service::{DeliveryPolicy, Follow, Service};
use rolecall_store::Store;
use rolecall_store_postgres::PostgresStore;
use rolecall_store_sqlite::SqliteStore;

#[derive(Parser)]
#[command(name = "rolecall", version, about = "Rolecall: groups and permissions as a service")]
struct Cli {
    #[command(flatten)]
    connection: client::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ROLECALL_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// `sqlite://PATH` (default: an embedded file `./rolecall-data/rolecall.db`) or
        /// `postgres://USER@HOST:PORT/DB` (several replicas may share one database).
        #[arg(long, env = "ROLECALL_DATABASE_URL")]
        database: Option<String>,
        /// On PostgreSQL: questions fail closed (503 `replica_stale`) when this server could
        /// not confirm for this many milliseconds that it has every change of the log.
        #[arg(long, env = "ROLECALL_MAX_STALENESS_MS", default_value_t = 2_000)]
        max_staleness_ms: u64,
        /// Webhooks: attempts per delivery (the first included) before it is dead.
        #[arg(long, env = "ROLECALL_WEBHOOK_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=50))]
        webhook_attempts: u32,
        /// Webhooks: the wait after a first failed attempt, in milliseconds; it doubles after
        /// each further failure (at most an hour).
        #[arg(long, env = "ROLECALL_WEBHOOK_RETRY_MS", default_value_t = 10_000)]
        webhook_retry_ms: u64,
        /// Webhooks: how long a receiver may take to answer, in milliseconds.
        #[arg(long, env = "ROLECALL_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
        webhook_timeout_ms: u64,
        /// Webhooks: deliver to public addresses only (refuse loopback, private and
        /// link-local receivers, checked after DNS on every attempt). For deployments whose
        /// workspace admins must not reach the server's own network.
        #[arg(long, env = "ROLECALL_WEBHOOK_PUBLIC_ONLY")]
        webhook_public_only: bool,
        /// Log format: `json` (one object per line) or `text`. Levels by `RUST_LOG`.
        #[arg(long, env = "ROLECALL_LOG_FORMAT", default_value = "json", value_parser = ["json", "text"])]
        log_format: String,
    },
    #[command(flatten)]
    Client(client::ClientCommand),
}

/// The root key: `ROLECALL_ROOT_KEY`, or one generated at first start, stored beside the
/// database and printed once.
fn root_key(data_dir: &Path) -> anyhow::Result<String> {
    if let Ok(key) = std::env::var("ROLECALL_ROOT_KEY")
        && !key.trim().is_empty()
    {
        return Ok(key.trim().to_string());
    }
    let file = data_dir.join("root-key");
    if let Ok(key) = std::fs::read_to_string(&file) {
        return Ok(key.trim().to_string());
    }
    let key = format!("rk_root_{}", rolecall_api::random_token(24).map_err(|e| anyhow::anyhow!(e.message))?);
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    std::fs::write(&file, &key).with_context(|| format!("writing {}", file.display()))?;
    println!(
        "rolecall: generated a root key (stored in {}); it is shown only this once:\n\n    {key}\n",
        file.display()
    );
    Ok(key)
}

fn init_logs(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        logs.json().flatten_event(true).init();
    } else {
        logs.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Client(command) => {
            let status = client::run(&cli.connection, command).await?;
            std::process::exit(status);
        }
        Command::Serve {
            listen,
            database,
            log_format,
            max_staleness_ms,
            webhook_attempts,
            webhook_retry_ms,
            webhook_timeout_ms,
            webhook_public_only,
        } => {
            init_logs(&log_format);
            let delivery = DeliveryPolicy {
                max_attempts: webhook_attempts,
                first_retry: std::time::Duration::from_millis(webhook_retry_ms),
                timeout: std::time::Duration::from_millis(webhook_timeout_ms),
                private_targets: !webhook_public_only,
                ..DeliveryPolicy::default()
            };
            let follow =
                Follow { max_staleness: std::time::Duration::from_millis(max_staleness_ms), ..Follow::default() };
            match database.as_deref() {
                Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                    let store = PostgresStore::open(url).await.context("opening the PostgreSQL database")?;
                    // Every replica needs the same root key: set ROLECALL_ROOT_KEY for them all.
                    serve(store, &root_key(Path::new("rolecall-data"))?, &listen, follow, delivery).await
                }
                None | Some(_) => {
                    let path = match database.as_deref() {
                        None => PathBuf::from("rolecall-data/rolecall.db"),
                        Some(url) if url.starts_with("sqlite://") => PathBuf::from(url.trim_start_matches("sqlite://")),
                        Some(other) => bail!("unsupported database URL `{other}`: use sqlite://PATH or postgres://..."),
                    };
                    let data_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                    let store =
                        SqliteStore::open(&path).await.with_context(|| format!("opening {}", path.display()))?;
                    serve(store, &root_key(&data_dir)?, &listen, follow, delivery).await
                }
            }
        }
    }
}

/// Loads the engine from `store`'s log and serves the API until Ctrl-C.
async fn serve<S: Store>(
    store: S,
    root_key: &str,
    listen: &str,
    follow: Follow,
    delivery: DeliveryPolicy,
) -> anyhow::Result<()> {
    let service = Service::open_following(store, Limits::default(), follow).await.context("loading the change log")?;
    // Delivers the webhook outbox until the server stops (what is pending survives a restart).
    let _dispatcher = service.start_dispatcher(delivery)?;
    let state = Arc::new(rolecall_api::AppState::new(service, root_key));
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    println!("rolecall: serving on http://{}", listener.local_addr()?);
    axum::serve(listener, rolecall_api::router_with(state, rolecall_console::routes()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
