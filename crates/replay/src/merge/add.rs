//! Adding the shards' figures: totals, request groups (histograms added), skipped events,
//! flows' counts.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::stats::{decode, encode, hist, percentiles};
use crate::summary::{
    DependencyCount, EventTotal, Group, GroupFigures, Histograms, KindTotal, OnTime, OutcomeCounts,
    ScheduleClock, Skipped, StageGroup, Summary, Totals,
};
use crate::thresholds::ON_TIME_WITHIN_MS;

/// The shards' summaries (checked to be one run's, in shard order) added into one.
pub(super) fn summaries(all: &[&Summary]) -> Result<Summary, String> {
    let first = all[0];
    let (lag, own) = lag(all)?;
    let mut s = Summary {
        config: first.config.clone(),
        interrupted: all.iter().any(|s| s.interrupted),
        aborted: all.iter().find_map(|s| s.aborted.clone()),
        wall_seconds: all.iter().map(|s| s.wall_seconds).fold(0.0, f64::max),
        totals: totals(all),
        overall: figures(all.iter().map(|s| &s.overall))?,
        scheduler_lag_ms: lag.as_ref().and_then(percentiles),
        skipped: skipped(all),
        groups: rows(
            all,
            |s| &s.groups,
            |g| {
                (
                    g.tags.protocol.clone(),
                    g.tags.event.clone(),
                    g.tags.kind.clone(),
                    g.tags.phase.clone(),
                )
            },
            |g| &g.figures,
            |g, f| Group {
                figures: f,
                ..g.clone()
            },
        )?,
        stages: rows(
            all,
            |s| &s.stages,
            |g| {
                (
                    g.stage.clone(),
                    g.protocol.clone(),
                    g.event.clone(),
                    g.kind.clone(),
                )
            },
            |g| &g.figures,
            |g, f| StageGroup {
                figures: f,
                ..g.clone()
            },
        )?,
        by_kind: rows(
            all,
            |s| &s.by_kind,
            |g| g.tags.kind.clone(),
            |g| &g.figures,
            |g, f| KindTotal {
                figures: f,
                ..g.clone()
            },
        )?,
        by_event: rows(
            all,
            |s| &s.by_event,
            |g| {
                (
                    g.tags.protocol.clone(),
                    g.tags.event.clone(),
                    g.tags.kind.clone(),
                )
            },
            |g| &g.figures,
            |g, f| EventTotal {
                figures: f,
                ..g.clone()
            },
        )?,
        on_time: on_time(all, own.as_ref()),
        lag_histograms: lag.zip(own).map(|(l, o)| crate::summary::LagHistograms {
            lag: encode(&l),
            own: encode(&o),
        }),
        dependencies: dependencies(all),
        outcomes: outcomes(all),
        shard: None,
        late_start_ms: all.iter().filter_map(|s| s.late_start_ms).reduce(f64::max),
        merged: None,
        ..first.clone()
    };
    super::seconds::add(&mut s, all);
    super::sockets::add(&mut s, all)?;
    rates(&mut s, all);
    Ok(s)
}

/// The merged rates. With a shared `--start-at` the whole run's span is the union of the
/// shards' (earliest first due to latest last due, on the shared clock), computed as one
/// process computes its own; otherwise the longest shard's span, a bound.
fn rates(s: &mut Summary, all: &[&Summary]) {
    let per_s = |n: u64, over: f64| {
        if over > 0.0 {
            (n as f64 / over * 10.0).round() / 10.0
        } else {
            0.0
        }
    };
    let t = &mut s.totals;
    let shared = all.iter().all(|x| x.config.start_at.is_some());
    match union(all).filter(|_| shared) {
        Some(clock) if t.scheduled_requests >= 2 => {
            // As `Stats::span`: one mean gap after the last due, stretched by how late
            // the last request left.
            let between = (clock.last_due_s - clock.first_due_s).max(0.0);
            let scheduled = between + between / (t.scheduled_requests - 1) as f64;
            let achieved = scheduled + (clock.last_sent_s - clock.last_due_s);
            t.schedule_seconds = (scheduled * 1000.0).round() / 1000.0;
            t.scheduled_per_s = per_s(t.scheduled_requests, scheduled);
            t.achieved_per_s = per_s(t.completed, achieved);
            s.schedule_clock = Some(clock);
        }
        _ => {
            t.scheduled_per_s = per_s(t.scheduled_requests, t.schedule_seconds);
            t.achieved_per_s = per_s(t.completed, achieved_span(all));
            s.schedule_clock = None;
        }
    }
}

/// The shards' schedule clocks joined: the earliest first due, the latest last due and
/// last send; `None` when a shard's summary lacks its clock.
fn union(all: &[&Summary]) -> Option<ScheduleClock> {
    let clocks: Vec<ScheduleClock> = all
        .iter()
        .map(|s| s.schedule_clock)
        .collect::<Option<_>>()?;
    let last = clocks.iter().map(|c| c.last_due_s).fold(0.0, f64::max);
    Some(ScheduleClock {
        first_due_s: clocks
            .iter()
            .map(|c| c.first_due_s)
            .fold(f64::MAX, f64::min),
        last_due_s: last,
        last_sent_s: clocks.iter().map(|c| c.last_sent_s).fold(last, f64::max),
    })
}

/// The longest span any shard's achieved rate was over, in seconds (shards without a
/// shared clock).
pub(super) fn achieved_span(all: &[&Summary]) -> f64 {
    all.iter()
        .map(|s| {
            let t = &s.totals;
            if t.achieved_per_s > 0.0 {
                t.completed as f64 / t.achieved_per_s
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// Every count added; the schedule's span is the longest shard's.
fn totals(all: &[&Summary]) -> Totals {
    let sum = |f: fn(&Totals) -> u64| all.iter().map(|s| f(&s.totals)).sum::<u64>();
    Totals {
        scheduled: sum(|t| t.scheduled),
        sent: sum(|t| t.sent),
        completed: sum(|t| t.completed),
        ok: sum(|t| t.ok),
        errors: sum(|t| t.errors),
        late: sum(|t| t.late),
        connection_waits: sum(|t| t.connection_waits),
        chained: sum(|t| t.chained),
        abandoned: sum(|t| t.abandoned),
        unmapped: sum(|t| t.unmapped),
        server_side: sum(|t| t.server_side),
        no_token: sum(|t| t.no_token),
        skipped_dependency: sum(|t| t.skipped_dependency),
        scheduled_requests: sum(|t| t.scheduled_requests),
        schedule_seconds: all
            .iter()
            .map(|s| s.totals.schedule_seconds)
            .fold(0.0, f64::max),
        scheduled_per_s: 0.0,
        achieved_per_s: 0.0,
    }
}

/// One group's figures being added: counts, and the three histograms.
pub(super) struct Figures {
    f: GroupFigures,
    latency: Histogram<u64>,
    service: Histogram<u64>,
    chain: Histogram<u64>,
}

impl Figures {
    fn new() -> Figures {
        Figures {
            f: GroupFigures {
                count: 0,
                ok: 0,
                errors: 0,
                late: 0,
                statuses: BTreeMap::new(),
                error_classes: BTreeMap::new(),
                latency_ms: None,
                service_ms: None,
                chained: 0,
                chained_ms: None,
                histograms: Histograms {
                    unit: "us".into(),
                    encoding: "HdrHistogram V2 + DEFLATE, base64".into(),
                    latency: String::new(),
                    service: String::new(),
                    chained: String::new(),
                },
            },
            latency: hist(),
            service: hist(),
            chain: hist(),
        }
    }

    fn add(&mut self, o: &GroupFigures) -> Result<(), String> {
        let f = &mut self.f;
        (f.count, f.ok, f.errors, f.late, f.chained) = (
            f.count + o.count,
            f.ok + o.ok,
            f.errors + o.errors,
            f.late + o.late,
            f.chained + o.chained,
        );
        add_counts(&mut f.statuses, &o.statuses);
        add_counts(&mut f.error_classes, &o.error_classes);
        let h = &o.histograms;
        for (into, text, what) in [
            (&mut self.latency, &h.latency, "latency"),
            (&mut self.service, &h.service, "service"),
            (&mut self.chain, &h.chained, "chained"),
        ] {
            let read = decode(text).map_err(|e| format!("a {what} histogram is damaged: {e}"))?;
            into.add(&read)
                .map_err(|e| format!("cannot add a {what} histogram: {e:?}"))?;
        }
        Ok(())
    }

    fn done(mut self) -> GroupFigures {
        self.f.latency_ms = percentiles(&self.latency);
        self.f.service_ms = percentiles(&self.service);
        self.f.chained_ms = percentiles(&self.chain);
        self.f.histograms.latency = encode(&self.latency);
        self.f.histograms.service = encode(&self.service);
        self.f.histograms.chained = encode(&self.chain);
        self.f
    }
}

/// Groups' figures added.
fn figures<'a>(all: impl Iterator<Item = &'a GroupFigures>) -> Result<GroupFigures, String> {
    let mut f = Figures::new();
    for g in all {
        f.add(g)?;
    }
    Ok(f.done())
}

/// Rows of the same key added, in the order the shards first give them.
fn rows<R, K: Ord + Clone>(
    all: &[&Summary],
    of: impl Fn(&Summary) -> &Vec<R>,
    key: impl Fn(&R) -> K,
    figures_of: impl Fn(&R) -> &GroupFigures,
    make: impl Fn(&R, GroupFigures) -> R,
) -> Result<Vec<R>, String> {
    let mut at: BTreeMap<K, usize> = BTreeMap::new();
    let mut out: Vec<(&R, Figures)> = Vec::new();
    for s in all {
        for r in of(s) {
            let i = *at.entry(key(r)).or_insert_with(|| {
                out.push((r, Figures::new()));
                out.len() - 1
            });
            out[i].1.add(figures_of(r))?;
        }
    }
    Ok(out.into_iter().map(|(r, f)| make(r, f.done())).collect())
}

pub(super) fn add_counts<V: Copy + std::ops::Add<Output = V>>(
    into: &mut BTreeMap<String, V>,
    from: &BTreeMap<String, V>,
) {
    for (k, v) in from {
        into.entry(k.clone())
            .and_modify(|n| *n = *n + *v)
            .or_insert(*v);
    }
}

fn skipped(all: &[&Summary]) -> Skipped {
    let mut out = Skipped {
        unmapped: BTreeMap::new(),
        server_side: BTreeMap::new(),
        no_token: BTreeMap::new(),
        dependency: BTreeMap::new(),
    };
    for s in all {
        add_counts(&mut out.unmapped, &s.skipped.unmapped);
        add_counts(&mut out.server_side, &s.skipped.server_side);
        add_counts(&mut out.no_token, &s.skipped.no_token);
        add_counts(&mut out.dependency, &s.skipped.dependency);
    }
    out
}

/// Every request's lag and the pacer's own lag (`on_time`'s), when the shards kept them.
type Lags = (Option<Histogram<u64>>, Option<Histogram<u64>>);

/// The lag histograms added; `None` when a shard's summary predates them.
fn lag(all: &[&Summary]) -> Result<Lags, String> {
    let (mut lag, mut own) = (hist(), hist());
    for s in all {
        let Some(h) = &s.lag_histograms else {
            return Ok((None, None));
        };
        let damaged = |e| format!("a lag histogram is damaged: {e}");
        let _ = lag.add(&decode(&h.lag).map_err(damaged)?);
        let _ = own.add(&decode(&h.own).map_err(damaged)?);
    }
    Ok((Some(lag), Some(own)))
}

/// `on_time` from the added histogram; without it, the shards' shares weighed by their
/// requests.
fn on_time(all: &[&Summary], own: Option<&Histogram<u64>>) -> Option<OnTime> {
    let held: u64 = all
        .iter()
        .filter_map(|s| s.on_time.as_ref())
        .map(|o| o.held_for_slot)
        .sum();
    let share = match own {
        Some(h) if !h.is_empty() => {
            let within_us = (ON_TIME_WITHIN_MS * 1000.0) as u64;
            (
                h.count_between(0, within_us) as f64 / h.len() as f64,
                h.len(),
            )
        }
        Some(_) => return None,
        None => {
            let n: u64 = all
                .iter()
                .filter_map(|s| s.on_time.as_ref())
                .map(|o| o.requests)
                .sum();
            let on: f64 = all
                .iter()
                .filter_map(|s| s.on_time.as_ref())
                .map(|o| o.share * o.requests as f64)
                .sum();
            if n == 0 {
                return None;
            }
            (on / n as f64, n)
        }
    };
    Some(OnTime {
        within_ms: ON_TIME_WITHIN_MS,
        share: (share.0 * 1e5).round() / 1e5,
        requests: share.1,
        held_for_slot: held,
    })
}

/// Dependencies by description, most frequent first.
fn dependencies(all: &[&Summary]) -> Vec<DependencyCount> {
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for d in all.iter().flat_map(|s| &s.dependencies) {
        *by.entry(d.dependency.clone()).or_default() += d.skipped;
    }
    let mut out: Vec<DependencyCount> = by
        .into_iter()
        .map(|(dependency, skipped)| DependencyCount {
            dependency,
            skipped,
        })
        .collect();
    out.sort_by_key(|d| std::cmp::Reverse(d.skipped));
    out
}

/// Outcome counts by event kind, tag and field.
fn outcomes(all: &[&Summary]) -> Vec<OutcomeCounts> {
    let mut out: Vec<OutcomeCounts> = Vec::new();
    for o in all.iter().flat_map(|s| &s.outcomes) {
        match out
            .iter_mut()
            .find(|x| (&x.event, &x.kind, &x.field) == (&o.event, &o.kind, &o.field))
        {
            Some(x) => {
                x.total += o.total;
                add_counts(&mut x.counts, &o.counts);
            }
            None => out.push(o.clone()),
        }
    }
    out
}
