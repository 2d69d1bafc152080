//! `kill -9` while a client writes, then restart, several times: every acknowledged write
//! is there, no acknowledged revoke is undone, the change log has no gap and no duplicate.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rolecall_store::Store;

const KEY: &str = "crash-test-root-key";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(dir: &Path, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .arg("serve")
        .env("ROLECALL_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROLECALL_DATABASE_URL", format!("sqlite://{}", dir.join("rolecall.db").display()))
        .env("ROLECALL_ROOT_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while request(port, "GET", "/healthz", "").is_none() {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// One HTTP/1.1 request; `None` when the server is not there or the connection broke.
fn request(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

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
                _ => return (acked, i + 1),
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
    let mut rng = fastrand::Rng::with_seed(2026);
    let port = free_port();
    let mut server = start(dir.path(), port);
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
        next = attempted;
        server = start(dir.path(), port);
        for &i in &acknowledged.users {
            assert!(user_exists(port, &format!("u{i}")), "round {round}: acknowledged user u{i} is gone");
        }
        for &i in &acknowledged.granted {
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

    // The change log counts 1, 2, 3, ... with no gap and no duplicate.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = rolecall_store_sqlite::SqliteStore::open(&dir.path().join("rolecall.db")).await.unwrap();
        let log = store.changes_after(rolecall_model::Revision(0), u32::MAX).await.unwrap();
        for (i, c) in log.iter().enumerate() {
            assert_eq!(c.revision.0, i as u64 + 1, "gap or duplicate in the change log");
        }
        assert!(log.len() > acked, "every acknowledged write has its change");
    });
}
