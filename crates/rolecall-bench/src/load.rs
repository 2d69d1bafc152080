//! A bounded HTTP load generator for the API on loopback: a fixed number of keep-alive
//! connections, each sending its next request when the previous answer is read, for a
//! fixed time. It stops by itself; every latency is recorded.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

use crate::stats::Samples;

/// One load run: `connections` clients posting `bodies` (in turn) to `path` for `duration`.
#[derive(Clone, Debug)]
pub struct Load {
    pub addr: SocketAddr,
    pub path: String,
    pub key: String,
    pub bodies: Vec<Bytes>,
    pub connections: usize,
    pub duration: Duration,
}

/// What a run saw.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub requests: u64,
    pub elapsed: Duration,
    pub latency: Samples,
    /// Responses by status code; `0` counts requests that got no response.
    pub statuses: BTreeMap<u16, u64>,
    /// One response body, to show what was answered.
    pub sample: String,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Requests answered with anything but 200.
    pub fn failures(&self) -> u64 {
        self.statuses.iter().filter(|(s, _)| **s != 200).map(|(_, n)| n).sum()
    }
}

/// Runs the load on the current tokio runtime.
pub async fn run(load: &Load) -> Outcome {
    let started = Instant::now();
    let deadline = started + load.duration;
    let mut tasks = Vec::with_capacity(load.connections);
    for c in 0..load.connections {
        let load = load.clone();
        tasks.push(tokio::spawn(async move { connection(&load, c, deadline).await }));
    }
    let mut out = Outcome::default();
    for task in tasks {
        if let Ok(part) = task.await {
            out.requests += part.requests;
            out.latency.merge(&part.latency);
            for (status, n) in part.statuses {
                *out.statuses.entry(status).or_default() += n;
            }
            if out.sample.is_empty() {
                out.sample = part.sample;
            }
        }
    }
    out.elapsed = started.elapsed();
    out
}

async fn connection(load: &Load, c: usize, deadline: Instant) -> Outcome {
    let mut out = Outcome::default();
    let Ok(stream) = tokio::net::TcpStream::connect(load.addr).await else {
        *out.statuses.entry(0).or_default() += 1;
        return out;
    };
    let _ = stream.set_nodelay(true);
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
        *out.statuses.entry(0).or_default() += 1;
        return out;
    };
    tokio::spawn(conn);
    let authorization = format!("Bearer {}", load.key);
    let mut next = c * 7919;
    while Instant::now() < deadline {
        let body = load.bodies[next % load.bodies.len()].clone();
        next += 1;
        let Ok(request) = Request::post(load.path.as_str())
            .header("host", "127.0.0.1")
            .header("authorization", authorization.as_str())
            .header("content-type", "application/json")
            .body(Full::new(body))
        else {
            break;
        };
        if sender.ready().await.is_err() {
            *out.statuses.entry(0).or_default() += 1;
            break;
        }
        let sent = Instant::now();
        let Ok(response) = sender.send_request(request).await else {
            *out.statuses.entry(0).or_default() += 1;
            break;
        };
        let status = response.status().as_u16();
        let Ok(body) = response.into_body().collect().await else {
            *out.statuses.entry(0).or_default() += 1;
            break;
        };
        out.latency.push(sent.elapsed());
        out.requests += 1;
        *out.statuses.entry(status).or_default() += 1;
        if out.sample.is_empty() {
            out.sample = String::from_utf8_lossy(&body.to_bytes()).chars().take(300).collect();
        }
    }
    out
}
