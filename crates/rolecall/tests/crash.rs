//! `kill -9` while a client writes, then restart, several times: every acknowledged write
//! is there, no acknowledged revoke is undone, the change log has no gap and no duplicate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{free_port, request, start_on};

use rolecall_store::Store;

/// Whether `id` may run app `crm` (its grant is in force).
fn may_run(port: u16, id: &str) -> bool {
    let body =
        format!(r#"{{"subject": {{"user": "{id}"}}, "action": "run", "resource": {{"type": "app", "id": "crm"}}}}"#);
    match request(port, "POST", "/v1/workspaces/acme/check", &body) {
        Some((200, b)) => b.contains(r#""allowed":true"#),
        other => panic!("unexpected answer for {id}: {other:?}"),
    }
}

/// What the writer got acknowledged.
#[derive(Default)]
struct Acked {
    users: Vec<u32>,
    granted: Vec<u32>,
    revoked: Vec<u32>,
    /// Revokes sent when the server was killed: committed or not, the client cannot know.
    in_doubt: Vec<u32>,
}

/// Creates users, grants each one `runner` on `crm` and revokes every third grant, until
/// the server stops answering.
fn write_until_killed(port: u16, from: u32) -> (Acked, u32) {
    let mut acked = Acked::default();
    for i in from..from + 10_000 {
        let body = format!(r#"{{"id": "u{i}", "email": "u{i}@example.com", "name": "User {i}"}}"#);
        match request(port, "POST", "/v1/workspaces/acme/users", &body) {
            Some((201, _)) => acked.users.push(i),
            _ => return (acked, i + 1),
        }
        let grant = format!(r#"{{"subject": {{"user": "u{i}"}}, "role": "runner"}}"#);
        match request(port, "PUT", "/v1/workspaces/acme/resources/app/crm/grants", &grant) {
            Some((201, _)) => acked.granted.push(i),
            _ => return (acked, i + 1),
        }
        if i % 3 == 0 {
            match request(port, "DELETE", &format!("/v1/workspaces/acme/resources/app/crm/grants?user=u{i}"), "") {
                Some((204, _)) => acked.revoked.push(i),
                _ => {
                    acked.in_doubt.push(i);
                    return (acked, i + 1);
                }
            }
        }
    }
    (acked, from + 10_000)
}

fn user_exists(port: u16, id: &str) -> bool {
    let body = format!(
        r#"{{"subject": {{"user": "{id}"}}, "action": "create_group", "resource": {{"type": "workspace", "id": "acme"}}}}"#
    );
    match request(port, "POST", "/v1/workspaces/acme/check", &body) {
        Some((200, _)) => true,
        Some((404, b)) if b.contains("user_not_found") => false,
        other => panic!("unexpected answer for {id}: {other:?}"),
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rolecall.db").display());
    let acked = kill_9_five_times(&url);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let log = runtime.block_on(async {
        let store = rolecall_store_sqlite::SqliteStore::open(&dir.path().join("rolecall.db")).await.unwrap();
        store.changes_after(rolecall_model::Revision(0), u32::MAX).await.unwrap()
    });
    gapless(&log, acked);
}

#[test]
fn acknowledged_writes_survive_kill_9_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime
        .block_on(rolecall_store_postgres::testing::database())
        .unwrap_or_else(|e| panic!("PostgreSQL is needed: {e}"));
    let acked = kill_9_five_times(&db.url);
    let log = runtime.block_on(async {
        let store = rolecall_store_postgres::PostgresStore::open(&db.url).await.unwrap();
        store.changes_after(rolecall_model::Revision(0), u32::MAX).await.unwrap()
    });
    gapless(&log, acked);
}

/// The change log counts 1, 2, 3, ... with no gap and no duplicate, and holds at least
/// every acknowledged write.
fn gapless(log: &[rolecall_store::LoggedChange], acked: usize) {
    for (i, c) in log.iter().enumerate() {
        assert_eq!(c.revision.0, i as u64 + 1, "gap or duplicate in the change log");
    }
    assert!(log.len() > acked, "every acknowledged write has its change");
}

/// Five rounds of writes, each ended by `kill -9` and followed by a restart that must show
/// every acknowledged write (and no acknowledged revoke undone). Returns how many writes
/// were acknowledged.
fn kill_9_five_times(database: &str) -> usize {
    let start = |port| start_on(database, port, &[]);
    let mut rng = fastrand::Rng::with_seed(2026);
    let port = free_port();
    let mut server = start(port);
    assert_eq!(request(port, "POST", "/v1/workspaces", r#"{"id": "acme", "name": "Acme"}"#).unwrap().0, 201);

    let crm = r#"{"type": "app", "id": "crm", "name": "CRM"}"#;
    assert_eq!(request(port, "POST", "/v1/workspaces/acme/resources", crm).unwrap().0, 201);

    let mut acknowledged = Acked::default();
    let mut next = 0u32;
    for round in 0..5 {
        // Write until killed: a writer thread runs while the main thread kills at a random moment.
        let start_at = next;
        let writer = std::thread::spawn(move || write_until_killed(port, start_at));
        std::thread::sleep(Duration::from_millis(rng.u64(50..400)));
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        let (acked, attempted) = writer.join().unwrap();
        assert!(!acked.users.is_empty() || round > 0, "round {round}: the writer got nothing acknowledged");
        acknowledged.users.extend(acked.users);
        acknowledged.granted.extend(acked.granted);
        acknowledged.revoked.extend(acked.revoked);
        acknowledged.in_doubt.extend(acked.in_doubt);
        next = attempted;
        server = start(port);
        for &i in &acknowledged.users {
            assert!(user_exists(port, &format!("u{i}")), "round {round}: acknowledged user u{i} is gone");
        }
        for &i in acknowledged.granted.iter().filter(|i| !acknowledged.in_doubt.contains(i)) {
            let revoked = acknowledged.revoked.contains(&i);
            assert_eq!(may_run(port, &format!("u{i}")), !revoked, "round {round}: u{i} (revoked: {revoked})");
        }
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let acked = acknowledged.users.len() + acknowledged.granted.len() + acknowledged.revoked.len();
    eprintln!(
        "{acked} writes acknowledged across 5 kills ({} revokes), users up to {next}",
        acknowledged.revoked.len()
    );
    assert!(acknowledged.users.len() >= 30, "too few writes to prove anything: {acked}");
    assert!(!acknowledged.revoked.is_empty(), "no revoke was acknowledged");

    acked
}
