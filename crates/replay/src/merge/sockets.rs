//! Adding what the shards' drivers counted apart from the requests: Socket.IO and
//! WebSocket connections and messages, probes, set-up and teardown.

use crate::stats::{decode, encode, hist, percentiles};
use crate::summary::{
    Connections, HookReport, ListenReport, ProbeReport, Receipts, SocketIoReport, Summary,
};

use super::add::add_counts;

/// Violations listed at most, as one run lists them.
const LISTED: usize = 50;
/// Set-up and teardown failures kept in words.
const FAILURES: usize = 10;

pub(super) fn add(s: &mut Summary, all: &[&Summary]) -> Result<(), String> {
    s.socketio = fold(all.iter().filter_map(|x| x.socketio.as_ref()), add_socketio)?;
    s.websocket = fold(all.iter().filter_map(|x| x.websocket.as_ref()), |a, b| {
        connections(&mut a.connections, &b.connections);
        let (m, o) = (&mut a.messages, &b.messages);
        m.written += o.written;
        m.replies += o.replies;
        m.unmatched += o.unmatched;
        m.pings_sent += o.pings_sent;
        m.pongs += o.pongs;
        Ok(())
    })?;
    s.probes = fold(all.iter().filter_map(|x| x.probes.as_ref()), add_probes)?;
    s.setup = fold(all.iter().filter_map(|x| x.setup.as_ref()), add_hooks)?;
    s.teardown = fold(all.iter().filter_map(|x| x.teardown.as_ref()), add_hooks)?;
    if let Some(io) = &mut s.socketio {
        fanout(io, all)?;
    }
    Ok(())
}

/// The first shard's report with every other one added into it.
fn fold<'a, T: Clone + 'a>(
    mut it: impl Iterator<Item = &'a T>,
    add: impl Fn(&mut T, &T) -> Result<(), String>,
) -> Result<Option<T>, String> {
    let Some(first) = it.next() else {
        return Ok(None);
    };
    let mut out = first.clone();
    for x in it {
        add(&mut out, x)?;
    }
    Ok(Some(out))
}

fn connections(a: &mut Connections, b: &Connections) {
    a.opened += b.opened;
    a.failed += b.failed;
    a.implicit += b.implicit;
    a.closed += b.closed;
    a.dropped += b.dropped;
    a.reconnected += b.reconnected;
    a.reconnect_failures += b.reconnect_failures;
    a.server_disconnects += b.server_disconnects;
    a.peak_open += b.peak_open;
    a.pings_answered += b.pings_answered;
}

fn add_socketio(a: &mut SocketIoReport, b: &SocketIoReport) -> Result<(), String> {
    connections(&mut a.connections, &b.connections);
    add_counts(&mut a.other_events, &b.other_events);
    for l in &b.listen {
        match a.listen.iter_mut().find(|x| x.event == l.event) {
            Some(x) => listen(x, l),
            None => a.listen.push(l.clone()),
        }
    }
    Ok(())
}

fn listen(a: &mut ListenReport, b: &ListenReport) {
    let add = |x: Option<u64>, y: Option<u64>| match (x, y) {
        (Some(x), Some(y)) => Some(x + y),
        (x, y) => x.or(y),
    };
    a.received += b.received;
    a.matched = add(a.matched, b.matched);
    a.origins = add(a.origins, b.origins);
    a.origins_unheard = add(a.origins_unheard, b.origins_unheard);
    a.receipts_per_origin = match (&a.receipts_per_origin, &b.receipts_per_origin) {
        (Some(x), Some(y)) => Some(Receipts {
            mean: match (a.matched, a.origins) {
                (Some(m), Some(o)) if o > 0 => (m as f64 / o as f64 * 100.0).round() / 100.0,
                _ => 0.0,
            },
            max: x.max.max(y.max),
        }),
        (x, y) => x.clone().or_else(|| y.clone()),
    };
}

/// Each listen's fan-out from its histograms added.
fn fanout(io: &mut SocketIoReport, all: &[&Summary]) -> Result<(), String> {
    for l in &mut io.listen {
        let mut h = hist();
        let mut any = false;
        for s in all.iter().filter_map(|s| s.socketio.as_ref()) {
            let Some(text) = s
                .listen
                .iter()
                .find(|x| x.event == l.event)
                .and_then(|x| x.fanout_histogram.as_ref())
            else {
                continue;
            };
            any = true;
            let read = decode(text).map_err(|e| format!("a fan-out histogram is damaged: {e}"))?;
            let _ = h.add(&read);
        }
        if any {
            l.fanout_ms = percentiles(&h);
            l.fanout_histogram = Some(encode(&h));
        }
    }
    Ok(())
}

fn add_probes(a: &mut ProbeReport, b: &ProbeReport) -> Result<(), String> {
    a.sets += b.sets;
    a.violations += b.violations;
    a.copies_sent += b.copies_sent;
    for e in &b.by_event {
        match a.by_event.iter_mut().find(|x| x.event == e.event) {
            Some(x) => {
                x.sets += e.sets;
                x.violations += e.violations;
                x.copies_sent += e.copies_sent;
                add_counts(&mut x.answers, &e.answers);
            }
            None => a.by_event.push(e.clone()),
        }
    }
    let room = LISTED.saturating_sub(a.listed.len());
    a.listed.extend(b.listed.iter().take(room).cloned());
    Ok(())
}

/// Every shard runs the mapping's set-up and teardown: their requests add up.
fn add_hooks(a: &mut HookReport, b: &HookReport) -> Result<(), String> {
    a.requests += b.requests;
    a.ok += b.ok;
    a.errors += b.errors;
    add_counts(&mut a.statuses, &b.statuses);
    add_counts(&mut a.error_classes, &b.error_classes);
    a.wall_ms = a.wall_ms.max(b.wall_ms);
    add_counts(&mut a.for_each, &b.for_each);
    a.rows += b.rows;
    let room = FAILURES.saturating_sub(a.failures.len());
    a.failures.extend(b.failures.iter().take(room).cloned());
    Ok(())
}
