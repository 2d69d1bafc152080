//! A real `rolecall serve` process for tests, and a minimal HTTP/1.1 client that needs no
//! runtime (so it works while the server is being killed).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KEY: &str = "crash-test-root-key";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn start(dir: &Path, port: u16) -> Child {
    start_on(&format!("sqlite://{}", dir.join("rolecall.db").display()), port, &[])
}

/// A server on `database` (any URL `--database` takes), with extra environment.
pub fn start_on(database: &str, port: u16, env: &[(&str, &str)]) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_rolecall"))
        .arg("serve")
        .env("ROLECALL_LISTEN", format!("127.0.0.1:{port}"))
        .env("ROLECALL_DATABASE_URL", database)
        .env("ROLECALL_ROOT_KEY", KEY)
        .envs(env.iter().copied())
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
pub fn request(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    request_with_head(port, method, path, body).map(|(status, _, body)| (status, body))
}

/// Like [`request`], with the response's header lines (lower-cased) too.
pub fn request_with_head(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String, String)> {
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
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Some((status, head.to_lowercase(), body.to_string()))
}
