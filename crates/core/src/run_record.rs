//! run.json as a type: what a run was (the world's configuration, counts, the event
//! stream's SHA-256, its files), written by `simulate run` and read back to replay a log
//! with its scenario's phases. schema/run.v1.json describes the same document.

use serde::{Deserialize, Serialize};

use crate::units::SpanRecord;

/// The `schema` value of this version of the document.
pub const RUN_SCHEMA: &str = "simulate.run.v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: String,
    /// simulate's version.
    pub version: String,
    /// The event line schema's version (`v` of each line).
    pub event_schema_version: u32,
    pub config: RunConfig,
    pub counts: RunCounts,
    /// SHA-256 of the plain JSONL stream (also for `--format jsonl.zst` and `none`).
    pub events_sha256: String,
    pub interrupted: bool,
    pub simulated_until_ms: i64,
    pub wall_seconds: f64,
    pub events_per_second: f64,
    pub files: RunFiles,
}

/// The world and how it was written: the same values give the same timeline (threads
/// and format aside).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub scenario: String,
    /// `--scenario FILE`, or none for the shipped scenario.
    pub scenario_file: Option<String>,
    /// `--personas DIR`, or none for the shipped personas.
    pub personas_dir: Option<String>,
    pub personas: Vec<String>,
    pub users: u32,
    /// `days`, and since spans `span` and `span_ms`.
    #[serde(flatten)]
    pub length: SpanRecord,
    pub seed: u64,
    /// t = 0: YYYY-MM-DD for a midnight, else YYYY-MM-DDTHH:MMZ.
    pub start: String,
    pub threads: usize,
    pub format: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunCounts {
    pub events: u64,
    pub bytes_uncompressed: u64,
    pub users_created: u64,
    pub users_signed_up: u64,
    pub invitees: u64,
    pub gifts: u64,
    pub gift_claim_attempts: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunFiles {
    /// The event log, unless `--format none` or `--stdout`.
    pub events: Option<String>,
    pub metrics: String,
}
