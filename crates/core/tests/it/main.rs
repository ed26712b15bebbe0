//! The engine's integration tests: one binary, one module per concern, run in-process
//! (`cargo test -p simulate-core` builds no async runtime, database or network crate).

mod catalog;
mod common;
mod determinism;
mod metrics;
mod schema;
mod sizes;
mod span;
mod statistics;
mod templates;
mod timeline;
