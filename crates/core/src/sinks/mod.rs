//! Consumers of the timeline: the JSONL writer (with its checksum) and analysts' metrics.

pub mod jsonl;
pub mod live;
pub mod metrics;
pub mod tee;
