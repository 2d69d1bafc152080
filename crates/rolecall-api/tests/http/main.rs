//! The API over real HTTP: a server on 127.0.0.1 port 0 with a fresh data directory per
//! test, and a plain HTTP client. On the embedded SQLite store; `http_postgres` runs the
//! very same tests on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Which store the servers of this test binary use.
const POSTGRES: bool = false;

mod app;
mod authz;
mod authzen;
mod bad_input;
mod concurrency;
#[path = "../../../rolecall-engine/tests/it/dsl.rs"]
#[allow(dead_code)]
mod dsl;
mod endpoints;
mod fixtures;
mod observe;
mod openapi;
mod restart;
mod scim;
mod scim_scale;
mod webhooks;
