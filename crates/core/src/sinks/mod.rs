//! Consumers of the timeline: the JSONL writer (with its checksum) and analysts' metrics.

pub mod fanout;
pub mod jsonl;
pub mod metrics;
