//! The systems Rolecall is measured against, each loaded from the same [`crate::dataset`].

pub mod casbin;
pub mod cedar;
pub mod spicedb;
