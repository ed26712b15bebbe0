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
    /// Why `--abort-on-fail` stopped the run early: a threshold that failed for good, or
    /// a target that is down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
    pub wall_seconds: f64,
    pub totals: Totals,
    /// Every request, all groups added.
    pub overall: GroupFigures,
    /// Actual − intended send of every request; `None` when nothing was sent.
    pub scheduler_lag_ms: Option<Percentiles>,
    pub skipped: Skipped,
    /// By tags, stages added: the rows of every run.
    pub groups: Vec<Group>,
    /// By stage, tag and event, phases added: runs paced by stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageGroup>,
    /// Each request tag's requests added over events and phases (the mapping's order).
    #[serde(default)]
    pub by_kind: Vec<KindTotal>,
    /// Each event kind's requests added over phases.
    #[serde(default)]
    pub by_event: Vec<EventTotal>,
    pub series: Vec<Second>,
    /// The per-second series of each protocol and request tag, so events per second and
    /// API requests per second read apart (seed 001); `series` adds them all.
    #[serde(default)]
    pub series_by_kind: Vec<KindSeries>,
    /// Per-second detail beside `series` (the HTML report draws it); empty in summaries
    /// older than it.
    #[serde(default)]
    pub over_time: OverTime,
    pub thresholds: Vec<Verdict>,
    /// Present when the mapping has `[socketio]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socketio: Option<SocketIoReport>,
    /// The mapping's `[[setup]]` requests, sent before the replay (not in the totals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<HookReport>,
    /// The mapping's `[[teardown]]` requests, sent after it (not in the totals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teardown: Option<HookReport>,
    /// Present when the mapping has a request with a `probe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<ProbeReport>,
    /// Present when the mapping has `[websocket]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket: Option<WebSocketReport>,
    /// Sessions open at once; absent when the timeline sent has no session events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_open: Option<SessionsOpen>,
    /// How well the generator kept its schedule (the `on_time` threshold's figure at its
    /// default bound); absent when nothing was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_time: Option<OnTime>,
    /// Flows: the values requests waited for in vain, by description (`skipped.dependency`
    /// by event kind), most frequent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<DependencyCount>,
    /// Flows: answers counted by a step's `outcome` field, per event kind and tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<OutcomeCounts>,
    /// `--shard I/N`: this run sent the requests of shard I's users only; absent for one
    /// process (and for a merged summary, which says so in `merged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
    /// With `--start-at`: how late, in ms, this process started its clock (0: on time);
    /// what was already due then left at once and counts as late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_start_ms: Option<f64>,
    /// The schedule's instants in seconds after the window's start (`--start-at`'s
    /// instant when given), so a merge can take the union of the shards' spans on
    /// their shared clock; absent with fewer than two requests and in older summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_clock: Option<ScheduleClock>,
    /// The run-wide histograms `scheduler_lag_ms` and `on_time` come from, so a merge
    /// can add them; absent in summaries older than it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_histograms: Option<LagHistograms>,
    /// `report merge`: the shards added, and the figures that are bounds rather than
    /// exact sums.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Merged>,
}

/// When, after the window's start, the first and last requests were due and the last
/// one left (seconds): what `totals.schedule_seconds` and the rates are computed from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleClock {
    pub first_due_s: f64,
    pub last_due_s: f64,
    pub last_sent_s: f64,
}

/// The generator's lag as histograms (HdrHistogram V2 + DEFLATE, base64, µs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LagHistograms {
    /// Actual − intended send of every request (`scheduler_lag_ms`).
    pub lag: String,
    /// The same, of the requests not held back for an in-flight slot (`on_time`).
    pub own: String,
}

/// What `report merge` added into this summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Merged {
    /// The shard count; every shard from 1 to it was added once.
    pub shards: u32,
    /// The summaries read, in shard order.
    pub files: Vec<String>,
    /// Figures that cannot be added exactly, and how they were combined.
    pub inexact: Vec<String>,
}

/// The names thresholds may use in this run (request tags, phases, listened broadcasts,
/// request classes with their event kinds, stages), recorded so `report merge` can judge
/// thresholds without the mapping.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThresholdNames {
    pub tags: Vec<String>,
    pub phases: Vec<String>,
    pub listens: Vec<String>,
    /// Each request class the mapping sends, with its event kinds.
    pub classes: BTreeMap<String, Vec<String>>,
    pub stages: Vec<String>,
    pub probes: bool,
    pub outcomes: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Requests not sent because a value they needed will not come.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DependencyCount {
    /// What was missing and why: `entity.gift.id of g12-1: gift.created step 1: status 500`.
    pub dependency: String,
    pub skipped: u64,
}

/// The answers of one event kind's step counted by its `outcome` field's value; an
/// answer without it counts under its outcome in words, in parentheses (`(status 500)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub event: String,
    /// The step's request tag.
    pub kind: String,
    /// The field path counted.
    pub field: String,
    pub total: u64,
    pub counts: BTreeMap<String, u64>,
}

/// The share of requests the generator sent within `within_ms` of their intended
/// instant, of the `requests` it did not hold back for an in-flight slot; the
/// `held_for_slot` ones are left out (the target's doing: they are `late`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OnTime {
    pub within_ms: f64,
    pub share: f64,
    pub requests: u64,
    pub held_for_slot: u64,
}

/// What was asked for, secrets masked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayConfig {
    pub warnings: Vec<String>,
    pub target: String,
    pub grpc_target: Option<String>,
    pub socketio_target: Option<String>,
    /// The plain WebSocket server, when the mapping has `[websocket]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket_target: Option<String>,
    pub mapping: String,
    pub world: WorldSource,
    pub window: WindowConfig,
    pub compress: String,
    /// The `--compress` factor; with a target rate (`pace`), the mean factor of the run.
    pub factor: f64,
    /// The target that paced the run, as given: `--rate 1000/s`, `--stages …`,
    /// `--profile stress`; absent with `--compress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
    pub max_in_flight: usize,
    pub connections: Option<usize>,
    pub http2: bool,
    pub thresholds: Vec<String>,
    /// `thresholds` is the default (`errors<5%`): none was given, and
    /// `--no-default-threshold` was not either.
    #[serde(default)]
    pub default_threshold: bool,
    /// `--concurrency N`: how the world was sized; absent without the flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<ConcurrencySizing>,
    /// `--start-at` as given (RFC 3339): the wall instant every shard started its clock at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// SHA-256 of the world replayed (its source as recorded here and the window): shards
    /// of one run agree on it, and `report merge` refuses summaries that do not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world_fingerprint: Option<String>,
    /// SHA-256 of the mapping file's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_fingerprint: Option<String>,
    /// What thresholds could name in this run, for `report merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<ThresholdNames>,
}

/// `--concurrency N`: the users chosen so that N sessions are open at the window's peak.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConcurrencySizing {
    /// N as asked.
    pub target: u64,
    pub users: u32,
    /// Sessions open at the busiest instant of the window with `users`.
    pub peak: u64,
    /// That instant, in timeline ms.
    pub peak_at_ms: i64,
    /// Every size simulated, in order: `[users, peak]`.
    pub tried: Vec<[u64; 2]>,
}

/// Sessions open at once in the timeline sent (`session.started` − `session.ended`),
/// counted as the pacer hands events out: the concurrency the target saw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionsOpen {
    /// Open when the window began (sessions started before it).
    pub at_start: u64,
    pub peak: u64,
    /// When the peak was first reached, in timeline ms.
    pub peak_at_ms: i64,
    /// Median over the run's seconds of each second's highest count.
    pub median: u64,
    /// Open when the last event was sent.
    pub at_end: u64,
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
    /// Flows: requests not sent because a value they read will not come (their
    /// creating request failed); `dependencies` says which.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped_dependency: u64,
    /// Requests due: `scheduled` less the events skipped (unmapped, server-side, no token).
    #[serde(default)]
    pub scheduled_requests: u64,
    /// The schedule's span in seconds, the first request's intended instant to one mean
    /// gap after the last one's; 0 with fewer than two requests (no rates then).
    #[serde(default)]
    pub schedule_seconds: f64,
    /// Requests due per second of the schedule's span.
    pub scheduled_per_s: f64,
    /// Requests completed per second of the schedule's span, stretched by how late the
    /// last request left.
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
    /// Requests that waited for the same user's previous request to be answered.
    #[serde(default)]
    pub chained: u64,
    /// How long each request waited for the same user's previous one (0 for most): the
    /// part of `latency_ms` the target spent on another request, not on this one.
    #[serde(default)]
    pub chained_ms: Option<Percentiles>,
    pub histograms: Histograms,
}

/// Both latency histograms, serialized so summaries of several runs can be added.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    pub unit: String,
    pub encoding: String,
    pub latency: String,
    pub service: String,
    /// The chained waits (`chained_ms`); empty in summaries written before it existed.
    #[serde(default)]
    pub chained: String,
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

/// One stage's requests of one tag and event (`--stages`, `--profile`): phases added.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageGroup {
    #[serde(flatten)]
    pub figures: GroupFigures,
    /// The stage's name, or its number from 1.
    pub stage: String,
    pub protocol: String,
    pub event: String,
    pub kind: String,
}

/// One request tag's requests, every event and phase added.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindTotal {
    #[serde(flatten)]
    pub figures: GroupFigures,
    pub tags: KindTags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindTags {
    /// The request tag (the mapping's `kind`).
    pub kind: String,
}

/// One event kind's requests, every phase added.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventTotal {
    #[serde(flatten)]
    pub figures: GroupFigures,
    pub tags: EventTags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventTags {
    pub protocol: String,
    pub event: String,
    pub kind: String,
}

/// The per-second series of one protocol's requests of one tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KindSeries {
    pub protocol: String,
    /// The request tag (the mapping's `kind`).
    pub kind: String,
    pub series: Vec<Second>,
}

/// Events counted and not sent, by event kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub unmapped: BTreeMap<String, u64>,
    pub server_side: BTreeMap<String, u64>,
    /// Requests whose user has no token, by event kind (see `Totals::no_token`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub no_token: BTreeMap<String, u64>,
    /// Flows: requests not sent because a value they read will not come, by event kind
    /// (the summary's `dependencies` names them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dependency: BTreeMap<String, u64>,
}

/// One wall second of the run, from the first request due.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Second {
    pub t_s: u64,
    /// Requests due in this second (events skipped are not requests).
    pub scheduled: u32,
    /// Events due and skipped (server-side or unmapped).
    #[serde(default)]
    pub skipped: u32,
    pub sent: u32,
    pub completed: u32,
    pub errors: u32,
    pub p95_ms: Option<f64>,
    /// With `--rate` or `--stages`: the timeline's time (ms from its start) this second
    /// began at, its factor (simulated ms per wall ms), and the target rate at its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_per_s: Option<f64>,
    /// The most sessions open at once during this second (a second without session
    /// events carries the figure of the one before); absent when the timeline has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions_open: Option<u64>,
}

/// Per-second detail of the run, by wall clock from the first request due, as `series`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OverTime {
    /// One row per second of `series`.
    pub seconds: Vec<SecondDetail>,
    /// Latency percentiles per second, one track per protocol and request tag.
    pub latency: Vec<LatencyTrack>,
}

/// One second's load on the generator and the target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecondDetail {
    pub t_s: u64,
    /// Most requests out at once when one left in this second.
    pub in_flight_peak: u32,
    /// Socket.IO connections open, sampled as the pacer hands requests over; present
    /// when the mapping has `[socketio]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sockets_open: Option<u32>,
    /// Generator lag (actual − intended send) of the requests that left this second.
    pub lag_p99_ms: Option<f64>,
    pub lag_max_ms: Option<f64>,
    /// Failures that completed this second by class (`refused`, `timeout`, `app`,
    /// `abandoned`, …); responses outside the expected statuses as `status 503`.
    pub errors: BTreeMap<String, u32>,
}

/// The latency of one protocol and request tag over time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyTrack {
    pub protocol: String,
    /// The request tag (the mapping's `kind`).
    pub tag: String,
    /// Seconds in which a request of this track completed.
    pub points: Vec<LatencyPoint>,
}

/// Latency (from each request's intended instant) of the requests completed in a second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyPoint {
    pub t_s: u64,
    pub count: u32,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

/// One threshold and whether it held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub threshold: String,
    pub observed: Option<f64>,
    /// The observed value as the table shows it.
    pub shown: String,
    /// It held, or it did not apply (below).
    pub ok: bool,
    pub note: Option<String>,
    /// What it was judged over: "3509 requests: points.earned, session.started, …".
    #[serde(default)]
    pub applied_to: String,
    /// False for a preset's or the default's limit on requests this run did not send (a
    /// class with none): not judged, and not failed.
    #[serde(default = "yes")]
    pub applicable: bool,
}

fn yes() -> bool {
    true
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
    /// `fanout_ms`'s histogram (HdrHistogram V2 + DEFLATE, base64, µs), for a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout_histogram: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Receipts {
    pub mean: f64,
    pub max: u32,
}

/// Plain WebSocket connections and the messages on them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebSocketReport {
    /// As for Socket.IO; `server_disconnects` counts close frames from the server, and
    /// `pings_answered` the server's pings.
    pub connections: Connections,
    pub messages: WebSocketMessages,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebSocketMessages {
    /// Text frames written (hellos included).
    pub written: u64,
    /// Frames that carried the correlation value of a message waiting for its reply.
    pub replies: u64,
    /// Text frames that answered no waiting message (server pushes, replies too late).
    pub unmatched: u64,
    /// Our pings, and the pongs that came back.
    pub pings_sent: u64,
    pub pongs: u64,
}

/// Race and idempotency probes: groups of copies sent at once, and the groups whose
/// answers broke the expected result. The copies are not in `totals` or the groups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// Groups sent (one per probed event).
    pub sets: u64,
    pub violations: u64,
    /// Copies sent besides the timeline's own requests.
    pub copies_sent: u64,
    pub by_event: Vec<ProbeEvent>,
    /// The first 50 violations.
    pub listed: Vec<ProbeViolation>,
}

/// One probed event kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeEvent {
    pub event: String,
    /// Requests at once, the timeline's own included.
    pub copies: u32,
    /// The expected result in words: `1 success of 2, the rest 409`.
    pub expected: String,
    pub sets: u64,
    pub violations: u64,
    pub copies_sent: u64,
    /// Every answer of the groups (the timeline's own included), by status or by failure
    /// class (`timeout`, `app`, …).
    pub answers: BTreeMap<String, u64>,
}

/// One group whose answers broke the expected result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeViolation {
    /// The timeline request's `x-sim-event`; its copies carry `…/p1`, `…/p2`.
    pub event_id: String,
    pub event: String,
    /// What came back, the timeline's own answer first.
    pub got: Vec<String>,
}

/// Set-up or teardown requests: sent apart from the load, counted apart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HookReport {
    pub requests: u64,
    pub ok: u64,
    /// Transport errors, statuses outside `expect`, failed checks.
    pub errors: u64,
    /// Answers by status.
    pub statuses: BTreeMap<String, u64>,
    /// Failures without an answer (or with a failed check), by class.
    pub error_classes: BTreeMap<String, u64>,
    /// From the first request sent to the last answer.
    pub wall_ms: f64,
    /// `for_each` requests: the captured values each variable had, one request each
    /// (`entity.gift.id`: 50).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub for_each: BTreeMap<String, u64>,
    /// SQL steps: the rows their statements touched.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rows: u64,
    /// The first failures in words (a SQL step's, in the database's words).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}
