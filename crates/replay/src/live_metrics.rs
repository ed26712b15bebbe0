//! `replay --metrics-addr`: the replay's figures as Prometheus metrics while it runs.
//! Requests, errors and latency are recorded where [`crate::stats::Stats`] records them,
//! into atomics laid out densely by (protocol, request tag, status or class), so a
//! request costs a few relaxed adds and a scrape takes no lock the hot path takes
//! (the per-second rates excepted: read once per scrape from the stats). The binary
//! serves [`LiveMetrics::render`]; docs/METRICS.md lists every family.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use simulate_core::exposition::{AtomicHistogram, Exposition, LATENCY_BUCKETS, Type};

use crate::drivers::Driver;
use crate::mapping::Protocol;
use crate::outcome::{ErrorClass, Outcome, SocketIoDone, Status, WsDone};
use crate::pacer::Live;
use crate::stats::Stats;

const PROTOCOLS: [Protocol; 4] = [
    Protocol::Http,
    Protocol::Grpc,
    Protocol::SocketIo,
    Protocol::WebSocket,
];

/// Status slots: HTTP classes 1xx–5xx and other, gRPC codes 0–16 and other, Socket.IO's
/// and WebSocket's four steps, and `failed` (no answer).
const HTTP_SLOTS: usize = 6;
const GRPC_SLOTS: usize = 18;
const SOCKET_SLOTS: usize = 4;
const FAILED_SLOT: usize = HTTP_SLOTS + GRPC_SLOTS + 2 * SOCKET_SLOTS;
const STATUS_SLOTS: usize = FAILED_SLOT + 1;

const ERROR_CLASSES: [ErrorClass; 9] = [
    ErrorClass::Refused,
    ErrorClass::Reset,
    ErrorClass::Timeout,
    ErrorClass::Tls,
    ErrorClass::Connect,
    ErrorClass::Application,
    ErrorClass::BodyTooLarge,
    ErrorClass::Other,
    ErrorClass::Abandoned,
];
/// Error slots: the transport classes, then `status` (an answer the mapping does not
/// expect).
const ERROR_SLOTS: usize = ERROR_CLASSES.len() + 1;

/// The replay's live figures; one per process, shared by every replay it runs
/// (`capacity`'s levels add to the same counters).
#[derive(Debug)]
pub struct LiveMetrics {
    tags: Vec<String>,
    requests: Vec<AtomicU64>,
    errors: Vec<AtomicU64>,
    latency: Vec<AtomicHistogram>,
    service: Vec<AtomicHistogram>,
    lag: AtomicHistogram,
    scheduled: AtomicU64,
    sent: AtomicU64,
    late: AtomicU64,
    /// 1 + the index of the stage being played; 0 without stages.
    stage: AtomicU8,
    /// The pacer's target this second (f64 bits), 0 without one.
    target_rate: AtomicU64,
    /// The running replay's shared state, for gauges: set when it starts.
    attached: Mutex<Option<Attached>>,
}

/// What the gauges read from the running replay.
struct Attached {
    live: Arc<Live>,
    stats: Arc<Mutex<Stats>>,
    driver: Arc<Driver>,
    stage_names: Vec<String>,
}

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Attached")
    }
}

impl LiveMetrics {
    /// For a mapping whose request tags are `tags` (`Mapping::tags`).
    pub fn new(tags: &[String]) -> Arc<LiveMetrics> {
        let groups = PROTOCOLS.len() * tags.len().max(1);
        let hists = || (0..groups).map(|_| AtomicHistogram::new(&LATENCY_BUCKETS));
        Arc::new(LiveMetrics {
            tags: tags.to_vec(),
            requests: (0..groups * STATUS_SLOTS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            errors: (0..groups * ERROR_SLOTS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: hists().collect(),
            service: hists().collect(),
            lag: AtomicHistogram::new(&LATENCY_BUCKETS),
            scheduled: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            late: AtomicU64::new(0),
            stage: AtomicU8::new(0),
            target_rate: AtomicU64::new(0),
            attached: Mutex::new(None),
        })
    }

    /// The group of (protocol, tag): an index into the histograms.
    fn group(&self, protocol: Protocol, tag: u16) -> usize {
        let tags = self.tags.len().max(1);
        protocol as usize * tags + (tag as usize).min(tags - 1)
    }

    pub(crate) fn attach(
        &self,
        live: &Arc<Live>,
        stats: &Arc<Mutex<Stats>>,
        driver: &Arc<Driver>,
        stage_names: Vec<String>,
    ) {
        *self.attached.lock().expect("metrics lock") = Some(Attached {
            live: Arc::clone(live),
            stats: Arc::clone(stats),
            driver: Arc::clone(driver),
            stage_names,
        });
    }

    /// A request became due.
    pub(crate) fn scheduled(&self) {
        self.scheduled.fetch_add(1, Ordering::Relaxed);
    }

    /// A request left `lag_us` after its instant; `late` when it waited for a slot.
    pub(crate) fn sent(&self, lag_us: u64, late: bool) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.late.fetch_add(late as u64, Ordering::Relaxed);
        self.lag.record(lag_us);
    }

    /// A request ended (answered, failed, or abandoned at the end).
    pub(crate) fn done(
        &self,
        (protocol, tag): (Protocol, u16),
        latency_us: u64,
        service_us: u64,
        outcome: Outcome,
    ) {
        let g = self.group(protocol, tag);
        self.latency[g].record(latency_us);
        self.service[g].record(service_us);
        let (status, error) = match outcome {
            Outcome::Ok(s) => (status_slot(s), None),
            Outcome::Status(s) => (status_slot(s), Some(ERROR_CLASSES.len())),
            Outcome::Failed(c) => (FAILED_SLOT, Some(c as usize)),
        };
        self.requests[g * STATUS_SLOTS + status].fetch_add(1, Ordering::Relaxed);
        if let Some(e) = error {
            self.errors[g * ERROR_SLOTS + e].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The pacer plays stage `stage` (1 + its index; 0 without stages) aiming at
    /// `target` requests/s.
    pub(crate) fn step(&self, stage: u8, target: f64) {
        self.stage.store(stage, Ordering::Relaxed);
        self.target_rate.store(target.to_bits(), Ordering::Relaxed);
    }

    /// The exposition of every family (docs/METRICS.md).
    pub fn render(&self) -> String {
        let mut e = Exposition::default();
        self.counters(&mut e);
        self.histograms(&mut e);
        self.gauges(&mut e);
        e.finish()
    }

    /// Labels of group `g`: its protocol and request tag.
    fn labels(&self, g: usize) -> (&'static str, &str) {
        let tags = self.tags.len().max(1);
        let tag = self.tags.get(g % tags).map_or("", String::as_str);
        (PROTOCOLS[g / tags].name(), tag)
    }

    fn counters(&self, e: &mut Exposition) {
        let name = "simulate_replay_requests_total";
        e.family(
            name,
            Type::Counter,
            "Requests ended (answered, failed or abandoned), by protocol, request tag and status.",
        );
        for (i, n) in self.requests.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                let (protocol, kind) = self.labels(i / STATUS_SLOTS);
                let status = slot_name(i % STATUS_SLOTS);
                let labels = [("protocol", protocol), ("kind", kind), ("status", &status)];
                e.sample(name, &labels, n as f64);
            }
        }
        let name = "simulate_replay_errors_total";
        e.family(
            name,
            Type::Counter,
            "Requests that failed, by protocol, request tag and class (refused, timeout, status…).",
        );
        for (i, n) in self.errors.iter().enumerate() {
            let n = n.load(Ordering::Relaxed);
            if n > 0 {
                let (protocol, kind) = self.labels(i / ERROR_SLOTS);
                let class = ERROR_CLASSES
                    .get(i % ERROR_SLOTS)
                    .map_or("status", |c| c.name());
                let labels = [("protocol", protocol), ("kind", kind), ("class", class)];
                e.sample(name, &labels, n as f64);
            }
        }
        let plain = [
            (
                "simulate_replay_scheduled_total",
                "Requests that became due.",
                &self.scheduled,
            ),
            ("simulate_replay_sent_total", "Requests sent.", &self.sent),
            (
                "simulate_replay_late_total",
                "Requests that waited for an in-flight slot before leaving.",
                &self.late,
            ),
        ];
        for (name, help, n) in plain {
            e.family(name, Type::Counter, help)
                .sample(name, &[], n.load(Ordering::Relaxed) as f64);
        }
    }

    fn histograms(&self, e: &mut Exposition) {
        let families = [
            (
                "simulate_replay_latency_seconds",
                "Latency from each request's intended instant to its answer (no coordinated omission).",
                &self.latency,
            ),
            (
                "simulate_replay_service_seconds",
                "Service time: from the instant each request left to its answer.",
                &self.service,
            ),
        ];
        for (name, help, hists) in families {
            e.family(name, Type::Histogram, help);
            for (g, h) in hists.iter().enumerate() {
                let snapshot = h.snapshot();
                if snapshot.count > 0 {
                    let (protocol, kind) = self.labels(g);
                    e.histogram(name, &[("protocol", protocol), ("kind", kind)], &snapshot);
                }
            }
        }
        let name = "simulate_replay_lag_seconds";
        e.family(
            name,
            Type::Histogram,
            "Generator lag: how late each request left after its intended instant.",
        )
        .histogram(name, &[], &self.lag.snapshot());
    }

    fn gauges(&self, e: &mut Exposition) {
        let attached = self.attached.lock().expect("metrics lock");
        let Some(a) = attached.as_ref() else {
            return;
        };
        let now = Instant::now();
        let (scheduled, achieved) = {
            let s = a.stats.lock().expect("stats lock");
            let (scheduled, sent, ..) = s.live(now);
            (scheduled, sent)
        };
        let gauge = |e: &mut Exposition, name: &str, help: &str, v: f64| {
            e.family(name, Type::Gauge, help).sample(name, &[], v);
        };
        let target = f64::from_bits(self.target_rate.load(Ordering::Relaxed));
        let rows: [(&str, &str, f64); 6] = [
            (
                "simulate_replay_in_flight",
                "Requests sent and not yet answered.",
                a.live.in_flight.load(Ordering::Relaxed) as f64,
            ),
            (
                "simulate_replay_sessions_open",
                "Sessions open at once in the timeline sent so far.",
                a.live.sessions_open.load(Ordering::Relaxed).max(0) as f64,
            ),
            (
                "simulate_replay_scheduled_requests_per_second",
                "Requests due in the last full second.",
                scheduled as f64,
            ),
            (
                "simulate_replay_achieved_requests_per_second",
                "Requests sent in the last full second.",
                achieved as f64,
            ),
            (
                "simulate_replay_target_requests_per_second",
                "The whole run's rate the pacer aims at now (--rate, --stages; every shard reports the same: aggregate with max); 0 when it paces by --compress.",
                target,
            ),
            (
                "simulate_replay_simulated_seconds",
                "Timeline time of the last event handed out, from the timeline's start.",
                Duration::from_millis(a.live.sim_ms.load(Ordering::Relaxed).max(0) as u64)
                    .as_secs_f64(),
            ),
        ];
        for (name, help, v) in rows {
            gauge(e, name, help, v);
        }
        if let Some(open) = a.driver.sockets_open() {
            let help = "Socket.IO and WebSocket connections open now.";
            gauge(e, "simulate_replay_sockets_open", help, open as f64);
        }
        let stage = self.stage.load(Ordering::Relaxed) as usize;
        if let Some(name) = stage.checked_sub(1).and_then(|i| a.stage_names.get(i)) {
            let family = "simulate_replay_stage";
            e.family(
                family,
                Type::Gauge,
                "The stage being played (1 for it; its name and number as labels).",
            )
            .sample(
                family,
                &[("stage", name), ("index", &stage.to_string())],
                1.0,
            );
        }
    }
}

/// A status's slot in the request counters.
fn status_slot(s: Status) -> usize {
    match s {
        Status::Http(code) => match code {
            100..=599 => (code / 100 - 1) as usize,
            _ => HTTP_SLOTS - 1,
        },
        Status::Grpc(c) => HTTP_SLOTS + (c as usize).min(GRPC_SLOTS - 1),
        Status::SocketIo(d) => HTTP_SLOTS + GRPC_SLOTS + d as usize,
        Status::WebSocket(d) => HTTP_SLOTS + GRPC_SLOTS + SOCKET_SLOTS + d as usize,
    }
}

/// A status slot's label: `2xx`, a gRPC code's name, a socket step, `failed`.
fn slot_name(slot: usize) -> String {
    const SOCKETIO: [SocketIoDone; SOCKET_SLOTS] = [
        SocketIoDone::Connected,
        SocketIoDone::Closed,
        SocketIoDone::Acked,
        SocketIoDone::Written,
    ];
    const WEBSOCKET: [WsDone; SOCKET_SLOTS] = [
        WsDone::Connected,
        WsDone::Closed,
        WsDone::Replied,
        WsDone::Written,
    ];
    let grpc = HTTP_SLOTS;
    let socketio = grpc + GRPC_SLOTS;
    let websocket = socketio + SOCKET_SLOTS;
    match slot {
        s if s < HTTP_SLOTS - 1 => format!("{}xx", s + 1),
        s if s < grpc => "other".into(),
        s if s < socketio - 1 => Status::Grpc((s - grpc) as u16).name(),
        s if s < socketio => "grpc other".into(),
        s if s < websocket => Status::SocketIo(SOCKETIO[s - socketio]).name(),
        s if s < FAILED_SLOT => Status::WebSocket(WEBSOCKET[s - websocket]).name(),
        _ => "failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_slot_round_trips_to_its_name() {
        let cases = [
            (Status::Http(204), "2xx"),
            (Status::Http(503), "5xx"),
            (Status::Http(700), "other"),
            (Status::Grpc(0), "OK"),
            (Status::Grpc(14), "UNAVAILABLE"),
            (Status::Grpc(99), "grpc other"),
            (Status::SocketIo(SocketIoDone::Acked), "acked"),
            (Status::WebSocket(WsDone::Written), "written"),
        ];
        for (s, name) in cases {
            assert_eq!(slot_name(status_slot(s)), name, "{s:?}");
        }
        assert_eq!(slot_name(FAILED_SLOT), "failed");
    }

    #[test]
    fn a_request_counts_under_its_tag_status_and_error_class() {
        let m = LiveMetrics::new(&["event".into(), "read".into()]);
        m.done(
            (Protocol::Http, 1),
            2_000,
            1_500,
            Outcome::Ok(Status::Http(200)),
        );
        m.done(
            (Protocol::Http, 1),
            9_000,
            8_000,
            Outcome::Status(Status::Http(500)),
        );
        m.done(
            (Protocol::Grpc, 0),
            1,
            1,
            Outcome::Failed(ErrorClass::Timeout),
        );
        let text = m.render();
        for line in [
            "simulate_replay_requests_total{protocol=\"http\",kind=\"read\",status=\"2xx\"} 1",
            "simulate_replay_requests_total{protocol=\"http\",kind=\"read\",status=\"5xx\"} 1",
            "simulate_replay_requests_total{protocol=\"grpc\",kind=\"event\",status=\"failed\"} 1",
            "simulate_replay_errors_total{protocol=\"http\",kind=\"read\",class=\"status\"} 1",
            "simulate_replay_errors_total{protocol=\"grpc\",kind=\"event\",class=\"timeout\"} 1",
            "simulate_replay_latency_seconds_count{protocol=\"http\",kind=\"read\"} 2",
            "simulate_replay_latency_seconds_bucket{protocol=\"http\",kind=\"read\",le=\"0.0025\"} 1",
        ] {
            assert!(
                text.contains(&format!("{line}\n")),
                "{line} missing from\n{text}"
            );
        }
    }
}
