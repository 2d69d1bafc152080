//! `kill -9` while a client writes, then restart, several times: every acknowledged write
//! is there, the change log has no gap and no duplicate, and checks answer as before.

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

    let mut acknowledged = Vec::new();
    let mut next = 0u32;
    for round in 0..5 {
        // Write until killed: a writer thread runs while the main thread kills at a random moment.
        let writer_port = port;
        let start_at = next;
        let writer = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for i in start_at..start_at + 10_000 {
                let body = format!(r#"{{"id": "u{i}", "email": "u{i}@example.com", "name": "User {i}"}}"#);
                match request(writer_port, "POST", "/v1/workspaces/acme/users", &body) {
                    Some((201, _)) => acked.push(i),
                    _ => return (acked, i + 1),
                }
            }
            (acked, start_at + 10_000)
        });
        std::thread::sleep(Duration::from_millis(rng.u64(50..400)));
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        let (acked, attempted) = writer.join().unwrap();
        assert!(!acked.is_empty() || round > 0, "round {round}: the writer got nothing acknowledged");
        acknowledged.extend(acked);
        next = attempted;
        server = start(dir.path(), port);
        for &i in &acknowledged {
            assert!(user_exists(port, &format!("u{i}")), "round {round}: acknowledged user u{i} is gone");
        }
    }
    server.kill().unwrap();
    server.wait().unwrap();
    eprintln!("{} writes acknowledged across 5 kills, {next} attempted", acknowledged.len());
    assert!(acknowledged.len() >= 50, "too few writes to prove anything: {}", acknowledged.len());

    // The change log counts 1, 2, 3, ... with no gap and no duplicate.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = rolecall_store_sqlite::SqliteStore::open(&dir.path().join("rolecall.db")).await.unwrap();
        let log = store.changes_after(rolecall_model::Revision(0), u32::MAX).await.unwrap();
        for (i, c) in log.iter().enumerate() {
            assert_eq!(c.revision.0, i as u64 + 1, "gap or duplicate in the change log");
        }
        assert!(log.len() > acknowledged.len(), "every acknowledged user has its change");
    });
}
