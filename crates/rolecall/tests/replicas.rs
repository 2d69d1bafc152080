//! Several `rolecall serve` processes on one PostgreSQL database (issue 4): a write on one
//! replica is seen by a check on another that asks for its revision, also after the
//! second replica's database connections are killed; while PostgreSQL is down questions
//! fail closed and writes fail cleanly; after it is back (an immediate restart), no
//! acknowledged write is lost and both replicas serve again without being restarted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::{free_port, request, request_with_head, start_on};
use rolecall_store_postgres::testing::{self, TestDatabase};

const W: &str = "/v1/workspaces/acme";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A replica: a server process named `name` in PostgreSQL's `application_name`.
struct Replica {
    port: u16,
    child: Child,
}

impl Replica {
    fn start(db: &TestDatabase, name: &str) -> Replica {
        let port = free_port();
        let url = format!("{}?application_name={name}", db.url);
        let child = start_on(&url, port, &[("ROLECALL_MAX_STALENESS_MS", "1000"), ("RUST_LOG", "warn")]);
        Replica { port, child }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The revision a write answered (its body's `revision`, or the header of a 204).
fn revision_of(head: &str, body: &str) -> u64 {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body)
        && let Some(r) = v["revision"].as_str()
    {
        return r.parse().unwrap();
    }
    let line = head.lines().find_map(|l| l.strip_prefix("rolecall-revision:")).unwrap_or_else(|| panic!("{head}"));
    line.trim().parse().unwrap()
}

/// A write that must succeed; returns its revision.
fn write(port: u16, method: &str, path: &str, body: &str) -> u64 {
    let (status, head, answer) = request_with_head(port, method, path, body).unwrap();
    assert!((200..300).contains(&status), "{method} {path}: {status} {answer}");
    revision_of(&head, &answer)
}

fn setup(port: u16) {
    let schema = r#"{"workspace_roles": ["member", "admin"], "admin_roles": ["admin"],
        "resource_types": {"app": {"roles": ["runner"], "actions": {"run": "runner"}}}}"#;
    write(port, "POST", "/v1/workspaces", &format!(r#"{{"id": "acme", "name": "Acme", "schema": {schema}}}"#));
    write(port, "POST", &format!("{W}/resources"), r#"{"type": "app", "id": "crm", "name": "CRM"}"#);
}

fn add_user(port: u16, id: &str) -> u64 {
    write(
        port,
        "POST",
        &format!("{W}/users"),
        &format!(r#"{{"id": "{id}", "email": "{id}@example.com", "name": "{id}"}}"#),
    )
}

fn grant(port: u16, id: &str) -> u64 {
    write(
        port,
        "PUT",
        &format!("{W}/resources/app/crm/grants"),
        &format!(r#"{{"subject": {{"user": "{id}"}}, "role": "runner"}}"#),
    )
}

fn revoke(port: u16, id: &str) -> u64 {
    write(port, "DELETE", &format!("{W}/resources/app/crm/grants?user={id}"), "")
}

/// A check that may run `id` on `crm`, at least at `revision`: `Ok(allowed)`, or the
/// status and code of a refusal.
fn check(port: u16, id: &str, revision: u64) -> Result<bool, (u16, String)> {
    let body = format!(
        r#"{{"subject": {{"user": "{id}"}}, "action": "run", "resource": {{"type": "app", "id": "crm"}},
            "consistency": {{"at_least": "{revision}"}}}}"#
    );
    match request(port, "POST", &format!("{W}/check"), &body) {
        Some((200, b)) => Ok(b.contains(r#""allowed":true"#)),
        Some((status, b)) => Err((status, b)),
        None => Err((0, "no answer".into())),
    }
}

/// The answer of [`check`] once it is not a retryable refusal (429 or 503), within `limit`.
fn settled_check(port: u16, id: &str, revision: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        match check(port, id, revision) {
            Ok(allowed) => return allowed,
            Err((429 | 503, _)) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(other) => panic!("check of {id} at {revision}: {other:?}"),
        }
    }
}

#[test]
fn a_write_on_one_replica_is_seen_on_the_other_even_after_its_connections_are_killed() {
    let rt = runtime();
    let db = rt.block_on(testing::database()).unwrap_or_else(|e| panic!("PostgreSQL is needed: {e}"));
    let a = Replica::start(&db, "replica-a");
    let b = Replica::start(&db, "replica-b");
    setup(a.port);

    // Grants and revokes on A, each checked on B at the revision A answered: B never
    // answers from before it (a revoked grant is never allowed there).
    for i in 0..20 {
        let id = format!("u{i}");
        add_user(a.port, &id);
        let granted = grant(a.port, &id);
        assert_eq!(check(b.port, &id, granted), Ok(true), "grant {i} on B");
        let revoked = revoke(a.port, &id);
        assert_eq!(check(b.port, &id, revoked), Ok(false), "revoke {i} on B");
    }
    // `fully_consistent` on B sees every write acknowledged anywhere, without a token.
    for i in 0..5 {
        let id = format!("u{i}");
        grant(a.port, &id);
        let body = format!(
            r#"{{"subject": {{"user": "{id}"}}, "action": "run", "resource": {{"type": "app", "id": "crm"}},
                "consistency": {{"fully_consistent": true}}}}"#
        );
        let (status, answer) = request(b.port, "POST", &format!("{W}/check"), &body).unwrap();
        assert_eq!((status, answer.contains(r#""allowed":true"#)), (200, true), "{answer}");
        revoke(a.port, &id);
        let (status, answer) = request(b.port, "POST", &format!("{W}/check"), &body).unwrap();
        assert_eq!((status, answer.contains(r#""allowed":false"#)), (200, true), "{answer}");
    }
    // And the other way round.
    add_user(b.port, "ann");
    let granted = grant(b.port, "ann");
    assert_eq!(check(a.port, "ann", granted), Ok(true));

    // B's database connections (pool and LISTEN) are cut; writes on A still reach it.
    let killed = rt.block_on(async {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
        let rows: Vec<(bool,)> = sqlx::query_as(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'replica-b'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        rows.len()
    });
    assert!(killed >= 1, "replica B had no connection to kill");
    let revoked = revoke(a.port, "ann");
    assert!(!settled_check(b.port, "ann", revoked, Duration::from_secs(10)), "a stale allow on B");
    for i in 0..5 {
        let id = format!("v{i}");
        add_user(a.port, &id);
        let granted = grant(a.port, &id);
        assert!(settled_check(b.port, &id, granted, Duration::from_secs(10)), "grant v{i} on B after the kill");
    }
    // Without asking for a revision, B catches up by itself (LISTEN/NOTIFY, else polling).
    let mut lags = Vec::new();
    for i in 0..10 {
        let id = if i % 2 == 0 { "ann" } else { "v0" };
        let last = if i % 4 < 2 { grant(a.port, id) } else { revoke(a.port, id) };
        let expected = i % 4 < 2;
        let written = Instant::now();
        while check(b.port, id, 0) != Ok(expected) {
            assert!(written.elapsed() < Duration::from_secs(5), "B did not follow revision {last} by itself");
            std::thread::sleep(Duration::from_millis(1));
        }
        lags.push(written.elapsed());
    }
    eprintln!("lags in order: {lags:?}");
    lags.sort();
    eprintln!("B saw A's writes by itself after {:?} (median), {:?} (max)", lags[lags.len() / 2], lags[lags.len() - 1]);
}

#[test]
fn replicas_fail_closed_while_postgres_is_away_and_recover_without_a_restart() {
    let rt = runtime();
    let db = rt.block_on(testing::database_on_own_cluster()).unwrap_or_else(|e| panic!("PostgreSQL is needed: {e}"));
    let cluster = db.cluster.clone().unwrap();
    let a = Replica::start(&db, "replica-a");
    let b = Replica::start(&db, "replica-b");
    setup(a.port);

    // A writer on A until PostgreSQL goes away, then on while it is back.
    let writer_port = a.port;
    let writer = std::thread::spawn(move || {
        let mut acked = Vec::new();
        let started = Instant::now();
        let mut i = 0;
        while started.elapsed() < Duration::from_secs(8) {
            let id = format!("w{i}");
            i += 1;
            let body = format!(r#"{{"id": "{id}", "email": "{id}@example.com", "name": "{id}"}}"#);
            let Some((201, _)) = request(writer_port, "POST", &format!("{W}/users"), &body) else { continue };
            let grant = format!(r#"{{"subject": {{"user": "{id}"}}, "role": "runner"}}"#);
            if let Some((201, head, body)) =
                request_with_head(writer_port, "PUT", &format!("{W}/resources/app/crm/grants"), &grant)
            {
                acked.push((id, revision_of(&head, &body)));
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(1500));
    cluster.stop_immediate().unwrap();

    // While the database is away: writes fail with a clear 503, and once B could not
    // confirm it is current for its allowed staleness, its answers stop (fail closed).
    let down = Instant::now();
    let refused = loop {
        match check(b.port, "w0", 0) {
            Err((503, body)) => break body,
            Ok(_) if down.elapsed() < Duration::from_secs(6) => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("B while the database is away: {other:?}"),
        }
    };
    assert!(refused.contains("replica_stale"), "{refused}");
    eprintln!("B failed closed {} ms after PostgreSQL stopped", down.elapsed().as_millis());
    let (status, _) =
        request(a.port, "POST", &format!("{W}/users"), r#"{"id": "x", "email": "x@e.com", "name": "x"}"#).unwrap();
    assert_eq!(status, 503);

    cluster.start().unwrap();
    let up = Instant::now();
    while check(b.port, "w0", 0).is_err() {
        assert!(up.elapsed() < Duration::from_secs(20), "B did not come back");
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("B answered again {} ms after PostgreSQL started", up.elapsed().as_millis());
    let acked = writer.join().unwrap();
    eprintln!("{} writes acknowledged around the outage", acked.len());
    assert!(acked.len() > 5, "too few writes were acknowledged: {}", acked.len());

    // Back: both replicas answer again, without a restart, and have every acknowledged write.
    let newest = acked.iter().map(|(_, r)| *r).max().unwrap();
    for (id, _) in &acked {
        assert!(settled_check(b.port, id, newest, Duration::from_secs(20)), "{id} lost on B");
        assert!(settled_check(a.port, id, newest, Duration::from_secs(20)), "{id} lost on A");
    }
    // And they write again.
    add_user(b.port, "after");
    let granted = grant(b.port, "after");
    assert!(settled_check(a.port, "after", granted, Duration::from_secs(10)));
}
