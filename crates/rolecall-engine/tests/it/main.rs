//! The engine's integration tests: seed fixtures, the reference model and the differential
//! property test, and a test for every refusal.

mod consistency;
mod dsl;
mod fixtures;
mod reference;
mod differential;
mod refusals;
