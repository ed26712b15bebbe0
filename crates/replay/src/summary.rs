//! The replay summary as types: what `replay --summary-export` writes, what the end
//! table shows, and what a later merge of several summaries reads back
//! (schema/replay-summary.v1.json describes the same document). Latencies are in
//! milliseconds; histograms are HdrHistogram V2 + DEFLATE, base64, in microseconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The `schema` value of this version of the document.
pub const SUMMARY_SCHEMA: &str = "simulate.replay-summary.v1";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub schema: String,
    /// simulate's version.
    pub version: String,
    pub config: ReplayConfig,
    pub interrupted: bool,
    pub wall_seconds: f64,
    pub totals: Totals,
    /// Every request, all groups added.
    pub overall: GroupFigures,
    /// Actual − intended send of every request; `None` when nothing was sent.
    pub scheduler_lag_ms: Option<Percentiles>,
    pub skipped: Skipped,
    pub groups: Vec<Group>,
    pub series: Vec<Second>,
    pub thresholds: Vec<Verdict>,
    /// Present when the mapping has `[socketio]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socketio: Option<SocketIoReport>,
}

/// What was asked for, secrets masked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayConfig {
    pub warnings: Vec<String>,
    pub target: String,
    pub grpc_target: Option<String>,
    pub socketio_target: Option<String>,
    pub mapping: String,
    pub world: WorldSource,
    pub window: WindowConfig,
    pub compress: String,
    pub factor: f64,
    pub max_in_flight: usize,
    pub connections: Option<usize>,
    pub http2: bool,
    pub thresholds: Vec<String>,
}

/// Where the events came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum WorldSource {
    /// Simulated by the engine during the replay.
    Engine {
        scenario: String,
        users: u32,
        /// `days`, and since spans `span` and `span_ms`.
        #[serde(flatten)]
        length: simulate_core::units::SpanRecord,
        seed: u64,
        start: String,
        personas: Vec<String>,
    },
    /// Read from a log `simulate run` wrote; the scenario from the run.json beside it.
    Log {
        log: String,
        scenario: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowConfig {
    pub from_ms: i64,
    /// `None`: to the end of the log.
    pub to_ms: Option<i64>,
    /// `--window` as given.
    pub text: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Events due in the window, sent or skipped.
    pub scheduled: u64,
    pub sent: u64,
    pub completed: u64,
    pub ok: u64,
    /// Transport errors and responses outside the expected statuses.
    pub errors: u64,
    /// Requests that left after their instant because every slot or connection was busy.
    pub late: u64,
    pub connection_waits: u64,
    /// Requests that waited for the same user's previous one.
    pub chained: u64,
    /// Requests still out when the drain bound ran out.
    pub abandoned: u64,
    pub unmapped: u64,
    pub server_side: u64,
    /// Requests not sent because their user has no token (`missing_token = "skip"`,
    /// or users who joined during a replay under `refuse`).
    #[serde(default)]
    pub no_token: u64,
    pub scheduled_per_s: f64,
    pub achieved_per_s: f64,
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
}

/// The figures of one group of requests (or of all).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupFigures {
    pub count: u64,
    pub ok: u64,
    pub errors: u64,
    pub late: u64,
    /// Answers by status, named as their protocol does: `"200"` (HTTP), `"OK"`,
    /// `"UNAVAILABLE"` (gRPC), `"connected"`, `"acked"`, `"written"`, `"closed"` (Socket.IO).
    pub statuses: BTreeMap<String, u64>,
    /// Failures without a response, by class (`refused`, `timeout`, `app`, …).
    pub error_classes: BTreeMap<String, u64>,
    /// From each request's intended instant.
    pub latency_ms: Option<Percentiles>,
    /// From the instant each request left.
    pub service_ms: Option<Percentiles>,
    pub histograms: Histograms,
}

/// Both latency histograms, serialized so summaries of several runs can be added.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    pub unit: String,
    pub encoding: String,
    pub latency: String,
    pub service: String,
}

/// One group: its tags and its figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    #[serde(flatten)]
    pub figures: GroupFigures,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tags {
    pub protocol: String,
    pub event: String,
    /// The request tag (the mapping's `kind`).
    pub kind: String,
    pub phase: String,
}

/// Events counted and not sent, by event kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub unmapped: BTreeMap<String, u64>,
    pub server_side: BTreeMap<String, u64>,
    /// Requests whose user has no token, by event kind (see `Totals::no_token`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub no_token: BTreeMap<String, u64>,
}

/// One wall second of the run, from the first request due.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Second {
    pub t_s: u64,
    pub scheduled: u32,
    pub sent: u32,
    pub completed: u32,
    pub errors: u32,
    pub p95_ms: Option<f64>,
}

/// One threshold and whether it held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub threshold: String,
    pub observed: Option<f64>,
    /// The observed value as the table shows it.
    pub shown: String,
    pub ok: bool,
    pub note: Option<String>,
}

/// Socket.IO connections and listened broadcasts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocketIoReport {
    pub connections: Connections,
    pub listen: Vec<ListenReport>,
    /// Events received that no listen names, by name (the first 64 names).
    pub other_events: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Connections {
    pub opened: u64,
    pub failed: u64,
    /// Opened by an emit that found none (not at a session start).
    pub implicit: u64,
    pub closed: u64,
    pub dropped: u64,
    pub reconnected: u64,
    pub reconnect_failures: u64,
    pub server_disconnects: u64,
    pub peak_open: u64,
    pub pings_answered: u64,
}

/// One listened broadcast: receipts, and, for a listen with an origin, the broadcasts
/// tied to the emits that caused them and their fan-out latency. Without an origin no
/// broadcast is tied to an emit: those figures are absent, not zero.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListenReport {
    pub event: String,
    pub origin: Option<String>,
    pub received: u64,
    /// Receipts tied to an origin emit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<u64>,
    /// Origin emits sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origins: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origins_unheard: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipts_per_origin: Option<Receipts>,
    /// `None` also when an origin's broadcasts were never heard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout_ms: Option<Percentiles>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipts {
    pub mean: f64,
    pub max: u32,
}
