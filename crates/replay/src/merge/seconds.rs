//! Adding the shards' per-second figures, aligned by second from the shared start
//! (`--start-at`), else by second index: series, series by kind, over time, sessions.

use std::collections::BTreeMap;

use crate::summary::{
    KindSeries, LatencyPoint, LatencyTrack, OverTime, Second, SecondDetail, SessionsOpen, Summary,
};

/// Sets the merged summary's per-second figures from the shards'.
pub(super) fn add(s: &mut Summary, all: &[&Summary]) {
    s.series = series(all.iter().map(|x| &x.series));
    let mut kinds: BTreeMap<(String, String), Vec<&Vec<Second>>> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    for k in all.iter().flat_map(|x| &x.series_by_kind) {
        let key = (k.protocol.clone(), k.kind.clone());
        if !kinds.contains_key(&key) {
            order.push(key.clone());
        }
        kinds.entry(key).or_default().push(&k.series);
    }
    s.series_by_kind = order
        .into_iter()
        .map(|key| KindSeries {
            series: series(kinds[&key].iter().copied()),
            protocol: key.0,
            kind: key.1,
        })
        .collect();
    s.over_time = over_time(all);
    s.sessions_open = sessions(all, &s.series);
}

/// Seconds of the same index added: counts exactly, the p95 as the highest shard's, the
/// sessions open as the shards' maxima added; the pace (sim_ms, factor, target) is the
/// same on every shard.
fn series<'a>(shards: impl Iterator<Item = &'a Vec<Second>>) -> Vec<Second> {
    let mut by: BTreeMap<u64, Second> = BTreeMap::new();
    for sec in shards.flatten() {
        let Some(x) = by.get_mut(&sec.t_s) else {
            by.insert(sec.t_s, sec.clone());
            continue;
        };
        x.scheduled += sec.scheduled;
        x.skipped += sec.skipped;
        x.sent += sec.sent;
        x.completed += sec.completed;
        x.errors += sec.errors;
        x.p95_ms = max(x.p95_ms, sec.p95_ms);
        x.sessions_open = sum(x.sessions_open, sec.sessions_open);
        x.sim_ms = x.sim_ms.or(sec.sim_ms);
        x.factor = x.factor.or(sec.factor);
        x.target_per_s = x.target_per_s.or(sec.target_per_s);
    }
    by.into_values().collect()
}

fn max(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn sum<T: std::ops::Add<Output = T>>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}

/// Per-second detail: failures added, peaks added (bounds), lag and latency the highest.
fn over_time(all: &[&Summary]) -> OverTime {
    let mut seconds: BTreeMap<u64, SecondDetail> = BTreeMap::new();
    for d in all.iter().flat_map(|s| &s.over_time.seconds) {
        let Some(x) = seconds.get_mut(&d.t_s) else {
            seconds.insert(d.t_s, d.clone());
            continue;
        };
        x.in_flight_peak += d.in_flight_peak;
        x.sockets_open = sum(x.sockets_open, d.sockets_open);
        x.lag_p99_ms = max(x.lag_p99_ms, d.lag_p99_ms);
        x.lag_max_ms = max(x.lag_max_ms, d.lag_max_ms);
        super::add::add_counts(&mut x.errors, &d.errors);
    }
    let mut tracks: Vec<(String, String, BTreeMap<u64, LatencyPoint>)> = Vec::new();
    for t in all.iter().flat_map(|s| &s.over_time.latency) {
        let i = match tracks
            .iter()
            .position(|(p, g, _)| (p, g) == (&t.protocol, &t.tag))
        {
            Some(i) => i,
            None => {
                tracks.push((t.protocol.clone(), t.tag.clone(), BTreeMap::new()));
                tracks.len() - 1
            }
        };
        for p in &t.points {
            let Some(x) = tracks[i].2.get_mut(&p.t_s) else {
                tracks[i].2.insert(p.t_s, p.clone());
                continue;
            };
            x.count += p.count;
            x.p50_ms = x.p50_ms.max(p.p50_ms);
            x.p95_ms = x.p95_ms.max(p.p95_ms);
            x.p99_ms = x.p99_ms.max(p.p99_ms);
        }
    }
    OverTime {
        seconds: seconds.into_values().collect(),
        latency: tracks
            .into_iter()
            .map(|(protocol, tag, points)| LatencyTrack {
                protocol,
                tag,
                points: points.into_values().collect(),
            })
            .collect(),
    }
}

/// Sessions open: each shard counts its own users' sessions, so the starts and ends add
/// exactly; the peak and median come from the merged series (maxima added: a bound).
fn sessions(all: &[&Summary], series: &[Second]) -> Option<SessionsOpen> {
    let shards: Vec<&SessionsOpen> = all
        .iter()
        .filter_map(|s| s.sessions_open.as_ref())
        .collect();
    let first = shards.first()?;
    let mut per_second: Vec<u64> = series.iter().filter_map(|s| s.sessions_open).collect();
    let peak_at = series
        .iter()
        .filter_map(|s| s.sessions_open.map(|n| (n, s.sim_ms)))
        .max_by_key(|(n, _)| *n);
    per_second.sort_unstable();
    let sum = |f: fn(&SessionsOpen) -> u64| shards.iter().map(|s| f(s)).sum::<u64>();
    Some(SessionsOpen {
        at_start: sum(|s| s.at_start),
        peak: peak_at.map_or_else(|| sum(|s| s.peak), |(n, _)| n),
        peak_at_ms: peak_at.and_then(|(_, ms)| ms).unwrap_or(first.peak_at_ms),
        median: per_second
            .get(per_second.len() / 2)
            .copied()
            .unwrap_or(first.median),
        at_end: sum(|s| s.at_end),
    })
}
