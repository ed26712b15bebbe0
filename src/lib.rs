//! simulate: synthetic users that behave like real ones.
//!
//! Data flows one way: config → persona → engine → timeline → sinks.

pub mod app;
pub mod atomic;
pub mod bounded;
pub mod cli;
pub mod config;
pub mod engine;
pub mod persona;
pub mod redact;
pub mod replay;
pub mod sinks;
pub mod target;
pub mod timeline;
pub mod units;
