//! The engine's integration tests: seed fixtures, the reference model and the differential
//! property test, and a test for every refusal.

// Test code states its expectations with unwrap, expect and panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod consistency;
mod differential;
mod dsl;
mod fixtures;
mod notify;
mod reference;
mod refusals;
mod suspend;
