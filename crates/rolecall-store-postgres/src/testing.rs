//! Throwaway PostgreSQL databases for tests (any crate's): `DATABASE_URL` when it is set,
//! otherwise one cluster per test process, made with the machine's `initdb`/`pg_ctl` on a
//! free loopback port in a temporary directory (as root, through `runuser -u postgres`),
//! and removed by a watchdog when the test process ends. Each call gives a fresh database.
//!
//! Nothing here is skipped quietly: when PostgreSQL cannot be had, the error says why.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

/// A fresh, empty database.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// `postgres://...` for the new database.
    pub url: String,
    /// The cluster this database lives in (`None` with an outside `DATABASE_URL`).
    pub cluster: Option<TestCluster>,
}

/// A cluster started by this process.
#[derive(Debug, Clone)]
pub struct TestCluster {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    /// The server's options (`-o`), the same at every start.
    options: String,
    log: PathBuf,
    as_postgres: bool,
}

impl TestCluster {
    /// `pg_ctl restart -m immediate`: every connection is cut, nothing committed is lost.
    /// (A stop and a start: `pg_ctl restart` would hand its own output pipe to the server.)
    pub fn restart_immediate(&self) -> Result<(), String> {
        self.stop_immediate()?;
        self.start()
    }

    /// Stops the server at once (`-m immediate`).
    pub fn stop_immediate(&self) -> Result<(), String> {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"])
    }

    /// Starts a stopped server again.
    pub fn start(&self) -> Result<(), String> {
        let log = self.log.to_string_lossy().to_string();
        self.pg_ctl(&["start", "-w", "-o", &self.options, "-l", &log])
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let data = self.data.to_string_lossy().to_string();
        let mut all = vec!["-D", &data];
        all.extend_from_slice(args);
        run(&self.bin.join("pg_ctl"), &all, self.as_postgres)
    }
}

static CLUSTER: OnceLock<Mutex<Option<Result<TestCluster, String>>>> = OnceLock::new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh database on `DATABASE_URL`'s server or on this process's throwaway cluster.
pub async fn database() -> Result<TestDatabase, String> {
    let (admin, cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => {
            drop_leftovers(&url).await?;
            (url, None)
        }
        _ => {
            let cluster = cluster()?;
            (format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port), Some(cluster))
        }
    };
    create_database(&admin, cluster).await
}

/// A fresh database on a cluster of its own, for tests that stop or restart the server
/// (always a throwaway cluster, even when `DATABASE_URL` is set: an outside server is not
/// ours to restart). The cluster is removed when the test process ends.
pub async fn database_on_own_cluster() -> Result<TestDatabase, String> {
    let cluster = start_cluster()?;
    let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port);
    create_database(&admin, Some(cluster)).await
}

async fn create_database(admin: &str, cluster: Option<TestCluster>) -> Result<TestDatabase, String> {
    let name = format!("rolecall_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let mut conn = sqlx::postgres::PgConnection::connect_lazy_free(admin).await?;
    sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .map_err(|e| format!("creating database {name} on {admin}: {e}"))?;
    let url = match admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => return Err(format!("`{admin}` has no database name to replace")),
    };
    Ok(TestDatabase { url, cluster })
}

static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// On an outside server, once per process: drops the test databases of test processes
/// that are gone (a test that failed or was killed leaves its database behind).
async fn drop_leftovers(admin: &str) -> Result<(), String> {
    SWEPT
        .get_or_try_init(|| async {
            let mut conn = sqlx::postgres::PgConnection::connect_lazy_free(admin).await?;
            let names: Vec<(String,)> =
                sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'rolecall\\_test\\_%'")
                    .fetch_all(&mut conn)
                    .await
                    .map_err(|e| format!("listing test databases: {e}"))?;
            for (name,) in names {
                let pid = name.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
                let gone = pid.is_some_and(|p| p != std::process::id() && !Path::new(&format!("/proc/{p}")).exists());
                if gone && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    // Another test process may be dropping it too; that is fine.
                    let _ = sqlx::Executor::execute(&mut conn, sqlx::AssertSqlSafe(sql)).await;
                }
            }
            drop_mine_at_exit(admin);
            Ok(())
        })
        .await
        .map(|_| ())
}

/// A watchdog that drops this process's test databases with `psql` once the process is
/// gone (without `psql`, the next test run's sweep drops them).
fn drop_mine_at_exit(admin: &str) {
    let psql = bindir().map(|d| d.join("psql")).ok().filter(|p| p.exists()).unwrap_or_else(|| PathBuf::from("psql"));
    let pid = std::process::id();
    let script = format!(
        "while [ -d /proc/{pid} ]; do sleep 1; done; \
         \"$PSQL\" \"$URL\" -Atc \"SELECT datname FROM pg_database WHERE datname LIKE 'rolecall\\\\_test\\\\_{pid}\\\\_%'\" | \
         while read -r db; do \"$PSQL\" \"$URL\" -qc \"DROP DATABASE IF EXISTS $db WITH (FORCE)\"; done"
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .env("PSQL", psql)
        .env("URL", admin)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Connecting without a pool (test helper).
trait ConnectFree {
    async fn connect_lazy_free(url: &str) -> Result<sqlx::postgres::PgConnection, String>;
}

impl ConnectFree for sqlx::postgres::PgConnection {
    async fn connect_lazy_free(url: &str) -> Result<sqlx::postgres::PgConnection, String> {
        use sqlx::Connection;
        sqlx::postgres::PgConnection::connect(url).await.map_err(|e| format!("connecting to {url}: {e}"))
    }
}

fn cluster() -> Result<TestCluster, String> {
    let lock = CLUSTER.get_or_init(|| Mutex::new(None));
    let mut guard = lock.lock().map_err(|_| "the test cluster lock is poisoned".to_string())?;
    if guard.is_none() {
        *guard = Some(start_cluster());
    }
    guard.clone().unwrap_or_else(|| Err("no cluster".into()))
}

/// The directory with `initdb` and `pg_ctl`: `PG_BINDIR`, the newest Debian
/// `/usr/lib/postgresql/*/bin`, or the one `initdb` on `PATH` lives in.
fn bindir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .collect();
        dirs.sort_by_key(|p| {
            p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
        });
        if let Some(dir) = dirs.pop() {
            return Ok(dir);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|d| d.join("initdb").exists())
        .ok_or_else(|| "PostgreSQL's initdb was not found: install postgresql, or set DATABASE_URL or PG_BINDIR".into())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL program, as the `postgres` user when we are root.
fn run(program: &Path, args: &[&str], as_postgres: bool) -> Result<(), String> {
    let mut cmd = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let out = cmd
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", program.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {args:?} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn start_cluster() -> Result<TestCluster, String> {
    let bin = bindir()?;
    let as_postgres = is_root();
    let root = std::env::temp_dir().join(format!("rolecall-pg-{}-{}", std::process::id(), free_port()?));
    std::fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    if as_postgres {
        let status = Command::new("chown").args(["postgres:postgres"]).arg(&root).status();
        if !status.is_ok_and(|s| s.success()) {
            return Err(format!("cannot hand {} to the postgres user", root.display()));
        }
    }
    let data = root.join("data");
    let data_arg = data.to_string_lossy().to_string();
    run(
        &bin.join("initdb"),
        &["-D", &data_arg, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
        as_postgres,
    )?;
    let port = free_port()?;
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c full_page_writes=off -c max_connections=200",
        root.display()
    );
    let log = root.join("server.log");
    let cluster = TestCluster { port, bin: bin.clone(), data: data.clone(), options, log, as_postgres };
    cluster.start()?;
    // The watchdog: when this test process is gone, stop the server and remove the files.
    let watchdog = format!(
        "while [ -d /proc/{pid} ]; do sleep 1; done; {pg_ctl} -D {data} stop -m immediate >/dev/null 2>&1; rm -rf {root}",
        pid = std::process::id(),
        pg_ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        root = root.display(),
    );
    let mut cmd = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", &watchdog]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &watchdog]);
        c
    };
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    cmd.spawn().map_err(|e| format!("starting the cluster's watchdog: {e}"))?;
    Ok(cluster)
}
