//! simulate's world, pure: personas and the scenario are validated into a world, the
//! deterministic engine turns it into one timeline, and sinks consume the timeline.
//!
//! Data flows one way: diagnostic ← persona ← scenario ← engine → timeline → sinks. No
//! async runtime, database or network crate is a dependency (scripts/test.sh checks it),
//! so every other crate can build on this one.

pub mod atomic;
pub mod bounded;
pub mod catalog;
pub mod compare;
pub mod diagnostic;
pub mod engine;
pub mod exposition;
pub mod ids;
pub mod persona;
pub mod redact;
pub mod replicates;
pub mod run_record;
pub mod scenario;
pub mod sinks;
pub mod sizing;
pub mod template;
pub mod timeline;
pub mod units;
pub mod words;
pub mod world;
