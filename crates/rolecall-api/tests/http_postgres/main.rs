//! The HTTP tests of `tests/http` (the same files), with every server on PostgreSQL: a
//! fresh database per test on `DATABASE_URL`'s server or on a throwaway cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Which store the servers of this test binary use.
const POSTGRES: bool = true;

#[path = "../http/app.rs"]
mod app;
#[path = "../http/authz.rs"]
mod authz;
#[path = "../http/authzen.rs"]
mod authzen;
#[path = "../http/bad_input.rs"]
mod bad_input;
#[path = "../http/concurrency.rs"]
mod concurrency;
#[path = "../../../rolecall-engine/tests/it/dsl.rs"]
#[allow(dead_code)]
mod dsl;
#[path = "../http/endpoints.rs"]
mod endpoints;
#[path = "../http/fixtures.rs"]
mod fixtures;
#[path = "../http/observe.rs"]
mod observe;
#[path = "../http/openapi.rs"]
mod openapi;
#[path = "../http/restart.rs"]
mod restart;
#[path = "../http/scim.rs"]
mod scim;
#[path = "../http/webhooks.rs"]
mod webhooks;
