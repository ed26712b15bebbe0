//! What the summary says of the Socket.IO connections: connection-level counts, and per
//! listened broadcast its receipts and fan-out latency from the emit that caused it.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::Value;

use super::Shared;
use crate::stats::percentiles;
use crate::summary::{Connections, ListenReport, Receipts, SocketIoReport};

/// Connection-level counts, read for the summary.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) connects: AtomicU64,
    pub(super) connect_errors: AtomicU64,
    /// Connections opened by an emit that found none (not at a session start).
    pub(super) implicit_connects: AtomicU64,
    pub(super) disconnects: AtomicU64,
    /// Transport lost without our asking.
    pub(super) drops: AtomicU64,
    pub(super) reconnects: AtomicU64,
    pub(super) reconnect_failures: AtomicU64,
    /// The server disconnected the socket from the namespace (41).
    pub(super) server_disconnects: AtomicU64,
    pub(super) pings: AtomicU64,
    pub(super) open: AtomicUsize,
    pub(super) peak_open: AtomicUsize,
}

/// Per listened event: receipts and their broadcast (fan-out) latency.
#[derive(Debug)]
pub(super) struct Heard {
    /// Origin key → when its emit was written and how many receipts it had.
    pub(super) origins: HashMap<String, (Instant, u32)>,
    pub(super) received: u64,
    pub(super) matched: u64,
    pub(super) latency: Histogram<u64>,
}

#[derive(Debug, Default)]
pub(super) struct Broadcasts {
    pub(super) heard: Vec<Heard>,
    /// Events received that no listen names, by name (the first 64 names).
    pub(super) other: BTreeMap<String, u64>,
}

/// Connection, broadcast and delivery figures for the summary.
pub(super) fn report(sh: &Shared) -> SocketIoReport {
    let c = &sh.counters;
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let f = sh.broadcasts.lock().expect("broadcasts lock");
    let listen = sh
        .settings
        .listen
        .iter()
        .zip(&f.heard)
        .map(|(l, h)| {
            let per: Vec<u32> = h.origins.values().map(|(_, n)| *n).collect();
            let origins = per.len() as u64;
            let mean = if origins > 0 {
                (h.matched as f64 / origins as f64 * 100.0).round() / 100.0
            } else {
                0.0
            };
            // Without an origin nothing is tied: those figures do not exist.
            let tied = l.origin.is_some();
            ListenReport {
                event: l.event.clone(),
                origin: l
                    .origin
                    .map(|k| simulate_core::timeline::EVENT_KINDS[k as usize].to_string()),
                received: h.received,
                matched: tied.then_some(h.matched),
                origins: tied.then_some(origins),
                origins_unheard: tied.then(|| per.iter().filter(|n| **n == 0).count() as u64),
                receipts_per_origin: tied.then(|| Receipts {
                    mean,
                    max: per.iter().max().copied().unwrap_or(0),
                }),
                fanout_ms: percentiles(&h.latency).filter(|_| tied),
                fanout_histogram: tied.then(|| crate::stats::encode(&h.latency)),
            }
        })
        .collect();
    SocketIoReport {
        connections: Connections {
            opened: n(&c.connects),
            failed: n(&c.connect_errors),
            implicit: n(&c.implicit_connects),
            closed: n(&c.disconnects),
            dropped: n(&c.drops),
            reconnected: n(&c.reconnects),
            reconnect_failures: n(&c.reconnect_failures),
            server_disconnects: n(&c.server_disconnects),
            peak_open: c.peak_open.load(Ordering::Relaxed) as u64,
            pings_answered: n(&c.pings),
        },
        listen,
        other_events: f.other.clone(),
    }
}

/// A server event arrived: count it, and time it against its origin if it has one.
pub(super) fn heard(sh: &Shared, data: &str, now: Instant) {
    let Ok(Value::Array(args)) = serde_json::from_str::<Value>(data) else {
        return;
    };
    let Some(name) = args.first().and_then(Value::as_str) else {
        return;
    };
    let mut f = sh.broadcasts.lock().expect("broadcasts lock");
    let Some(i) = sh.settings.listen.iter().position(|l| l.event == name) else {
        if f.other.len() < 64 || f.other.contains_key(name) {
            *f.other.entry(name.to_string()).or_default() += 1;
        }
        return;
    };
    let key = sh.settings.listen[i]
        .key
        .as_deref()
        .and_then(|k| args.get(1).and_then(|a| pick(a, k)));
    let h = &mut f.heard[i];
    h.received += 1;
    if let Some((sent, n)) = key.and_then(|k| h.origins.get_mut(&k)) {
        *n += 1;
        let us = (now.saturating_duration_since(*sent).as_micros() as u64).max(1);
        h.matched += 1;
        let _ = h.latency.record(us);
    }
}

/// The value at `path` in `v`, as text (strings bare, others as JSON).
pub(super) fn pick(v: &Value, path: &[String]) -> Option<String> {
    at(v, path).map(|x| match x {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

fn at<'a>(mut v: &'a Value, path: &[String]) -> Option<&'a Value> {
    for k in path {
        v = v.get(k.as_str())?;
    }
    Some(v)
}
