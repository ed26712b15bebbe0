//! Integration tests: one binary, one module per concern.

mod cli;
mod common;
mod determinism;
mod personas;
mod schema;
mod statistics;
mod timeline;
