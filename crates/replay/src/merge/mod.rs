//! `report merge`: the summaries of the N shards of one run (`replay --shard I/N`) added
//! into one summary of the same type, and the thresholds judged over the whole.
//!
//! Counts add exactly; the latency histograms (HdrHistogram, serialized in every
//! summary) are added and their percentiles read again, so merged percentiles are those
//! of one histogram of every sample. A few figures are per-shard maxima or samples that
//! cannot be added exactly: the merged summary lists them, and how they were combined,
//! in `merged.inexact`. Summaries of different worlds, mappings, paces or shard counts
//! are refused, and a missing or duplicated shard is named.

mod add;
mod judge;
mod seconds;
mod sockets;

use simulate_core::diagnostic::Problem;

use crate::error::ReplayError;
use crate::summary::{Merged, SUMMARY_SCHEMA, Summary};

pub use judge::Asked;

/// One shard's summary and the file it came from (for messages).
pub struct Input {
    pub file: String,
    pub summary: Summary,
}

/// The merged summary and how many of its thresholds failed.
pub struct Merge {
    pub summary: Summary,
    pub failed_thresholds: usize,
}

/// Without every shard's schedule clock on a shared `--start-at`, the rates are bounds.
const RATES_INEXACT: &str = "totals.schedule_seconds and the rates: the longest shard's span (the shards recorded no schedule clock on a shared --start-at)";

/// Figures that are bounds or samples rather than exact sums, and how they are combined.
const INEXACT: &[&str] = &[
    "series[].p95_ms, over_time.latency[].points[]: the highest shard's per-second percentiles (per-second histograms are not kept)",
    "series[].sessions_open, sessions_open.peak and median: the shards' per-second maxima added (an upper bound of the whole's)",
    "over_time.seconds[]: in_flight_peak and sockets_open added (upper bounds); lag_p99_ms and lag_max_ms the highest shard's",
    RATES_INEXACT,
    "socketio.connections.peak_open: the shards' peaks added (an upper bound)",
    "socketio.listen[]: receipts are tied only to origin emits of the same shard, so matched, origins_unheard and fanout_ms count those alone",
];

/// Adds the shards' summaries: every shard from 1 to N once, of one world and mapping.
pub fn merge(inputs: Vec<Input>, asked: &Asked) -> Result<Merge, ReplayError> {
    let inputs = check(inputs)?;
    partial(&inputs, asked.allow_partial)?;
    let refuse = |m: String| {
        ReplayError::BadInput(Problem::new(
            m,
            "merge the summaries simulate wrote for this run's shards",
        ))
    };
    let all: Vec<&Summary> = inputs.iter().map(|i| &i.summary).collect();
    let mut summary = add::summaries(&all).map_err(refuse)?;
    summary.merged = Some(Merged {
        shards: all.len() as u32,
        files: inputs.iter().map(|i| i.file.clone()).collect(),
        inexact: INEXACT
            .iter()
            .filter(|s| summary.schedule_clock.is_none() || **s != RATES_INEXACT)
            .map(|s| s.to_string())
            .collect(),
    });
    if asked.allow_partial && inputs.iter().any(|i| stopped(&i.summary).is_some()) {
        summary.interrupted = true;
    }
    let failed = judge::thresholds(&mut summary, &all, asked)?;
    Ok(Merge {
        summary,
        failed_thresholds: failed,
    })
}

/// The inputs in shard order, refused unless they are the N shards of one run, each
/// once.
fn check(mut inputs: Vec<Input>) -> Result<Vec<Input>, ReplayError> {
    let bad = |m: String, fix: &str| Err(ReplayError::BadInput(Problem::new(m, fix)));
    let Some(first) = inputs.first() else {
        return bad(
            "no summary to merge".into(),
            "pass the shards' --summary-export files",
        );
    };
    let (file0, s0) = (first.file.clone(), first.summary.clone());
    let (file0, s0) = (&file0, &s0);
    for i in &inputs {
        if i.summary.schema != SUMMARY_SCHEMA {
            return bad(
                format!(
                    "{} is a `{}` document, not a replay summary",
                    i.file, i.summary.schema
                ),
                "pass files `replay --summary-export` wrote",
            );
        }
        let Some(shard) = i.summary.shard else {
            return bad(
                format!(
                    "{} is not a shard's summary: it was written without --shard",
                    i.file
                ),
                "merge the summaries of `replay --shard I/N` runs; one process's summary is already whole",
            );
        };
        if let Some(s) = s0.shard.filter(|s| s.count != shard.count) {
            return bad(
                format!(
                    "{} is shard {shard} but {file0} is shard {s}: shards of different runs",
                    i.file
                ),
                "merge the shards of one run, all cut into the same count",
            );
        }
        if let Some(what) = clock_or_target(&inputs[0], i) {
            return bad(
                format!("shards of different runs: {what}"),
                "merge the shards of one run: every shard started with the same --start-at against the same target",
            );
        }
        if let Some(what) = differs(s0, &i.summary) {
            return bad(
                format!("{} and {file0} replayed different {what}", i.file),
                "merge the shards of one run: the same world, mapping and pace on every shard",
            );
        }
    }
    inputs.sort_by_key(|i| i.summary.shard.map_or(0, |s| s.index));
    let count = s0.shard.map_or(0, |s| s.count);
    for w in inputs.windows(2) {
        if w[0].summary.shard == w[1].summary.shard {
            return bad(
                format!(
                    "shard {} is given twice: {} and {}",
                    w[0].summary.shard.expect("checked"),
                    w[0].file,
                    w[1].file
                ),
                "pass each shard's summary once",
            );
        }
    }
    let given: Vec<u32> = inputs
        .iter()
        .filter_map(|i| i.summary.shard.map(|s| s.index))
        .collect();
    let missing: Vec<String> = (1..=count)
        .filter(|n| !given.contains(n))
        .map(|n| format!("{n}/{count}"))
        .collect();
    if !missing.is_empty() {
        return bad(
            format!(
                "shard {} missing: the merge needs all {count} (given: {})",
                missing.join(", "),
                given
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "pass every shard's summary; rerun the shard that did not finish with the same flags",
        );
    }
    Ok(inputs)
}

/// Why a shard did not replay its whole share: Ctrl-C, or `--abort-on-fail`'s reason.
pub fn stopped(s: &Summary) -> Option<String> {
    match (&s.aborted, s.interrupted) {
        (Some(why), _) => Some(format!("aborted ({why})")),
        (None, true) => Some("interrupted (Ctrl-C)".into()),
        (None, false) => None,
    }
}

/// Refuses shards that stopped early, naming each and why, unless `--allow-partial`.
fn partial(inputs: &[Input], allowed: bool) -> Result<(), ReplayError> {
    let stopped: Vec<String> = inputs
        .iter()
        .filter_map(|i| {
            let why = stopped(&i.summary)?;
            let shard = i
                .summary
                .shard
                .map_or(String::new(), |s| format!("shard {s} "));
            Some(format!("{shard}({}) was {why}", i.file))
        })
        .collect();
    if stopped.is_empty() || allowed {
        return Ok(());
    }
    Err(ReplayError::BadInput(Problem::new(
        format!(
            "{}: the merge would not be the whole run",
            stopped.join("; ")
        ),
        "rerun that shard with the same flags, or pass --allow-partial to merge what was sent (marked interrupted)",
    )))
}

/// Shards on different clocks or targets: the field, and each one's value.
fn clock_or_target(a: &Input, b: &Input) -> Option<String> {
    let (ca, cb) = (&a.summary.config, &b.summary.config);
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    if ca.start_at != cb.start_at {
        return Some(format!(
            "config.start_at (--start-at) differs: {} in {}, {} in {}",
            shown(&ca.start_at),
            a.file,
            shown(&cb.start_at),
            b.file
        ));
    }
    let targets = |c: &crate::summary::ReplayConfig| {
        [
            Some(c.target.clone()),
            c.grpc_target.clone(),
            c.socketio_target.clone(),
            c.websocket_target.clone(),
        ]
    };
    let (ta, tb) = (targets(ca), targets(cb));
    let names = [
        "--target",
        "--grpc-target",
        "--socketio-target",
        "--websocket-target",
    ];
    let i = (0..4).find(|&i| ta[i] != tb[i])?;
    Some(format!(
        "{} differs: {} in {}, {} in {}",
        names[i],
        shown(&ta[i]),
        a.file,
        shown(&tb[i]),
        b.file
    ))
}

/// What two shards' summaries disagree on that makes them parts of different runs.
fn differs(a: &Summary, b: &Summary) -> Option<&'static str> {
    let (a, b) = (&a.config, &b.config);
    if a.world_fingerprint != b.world_fingerprint || a.world != b.world || a.window != b.window {
        return Some("worlds (scenario, users, span, seed, personas or window)");
    }
    if a.mapping_fingerprint != b.mapping_fingerprint || a.mapping != b.mapping {
        return Some("mappings");
    }
    if a.pace != b.pace || a.compress != b.compress {
        return Some("paces (--rate, --stages, --profile or --compress)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::Shard;

    /// A summary written before shards existed (no fingerprints, names or lag
    /// histograms), as shard `index` of 2.
    fn old(index: u32) -> Input {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/replay-summary.json"
        );
        let mut summary: Summary = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        summary.shard = Some(Shard::new(index, 2).unwrap());
        Input {
            file: format!("s{index}.json"),
            summary,
        }
    }

    #[test]
    fn old_summaries_merge_their_counts_and_histograms() {
        let one = old(1).summary;
        let unjudged = Asked {
            no_default: true,
            ..Asked::default()
        };
        let m = merge(vec![old(2), old(1)], &unjudged).unwrap().summary;
        assert_eq!(m.totals.sent, 2 * one.totals.sent);
        assert_eq!(m.overall.count, 2 * one.overall.count);
        // The same samples twice: the same percentiles.
        assert_eq!(m.overall.latency_ms, one.overall.latency_ms);
        assert_eq!(m.merged.as_ref().unwrap().files, ["s1.json", "s2.json"]);
        assert!(m.thresholds.is_empty());
        // Judging needs the names the shards record since `report merge` exists.
        let e = merge(vec![old(1), old(2)], &Asked::default())
            .err()
            .unwrap();
        assert!(e.to_string().contains("record no threshold names"), "{e}");
    }

    #[test]
    fn refuses_what_is_not_one_runs_shards() {
        let e = |inputs| merge(inputs, &Asked::default()).err().unwrap().to_string();
        assert!(e(vec![old(1)]).contains("shard 2/2 missing"));
        assert!(e(vec![old(1), old(1), old(2)]).contains("shard 1/2 is given twice"));
        let mut other = old(2);
        other.summary.config.mapping = "other.toml".into();
        assert!(e(vec![old(1), other]).contains("different mappings"));
        let mut alone = old(2);
        alone.summary.shard = None;
        assert!(e(vec![old(1), alone]).contains("not a shard's summary"));
    }

    fn unjudged() -> Asked {
        Asked {
            no_default: true,
            ..Asked::default()
        }
    }

    /// Two shards on one `--start-at` clock: one due 0–9 s, one 1–19 s (its last left
    /// 0.5 s late).
    fn clocked() -> Vec<Input> {
        use crate::summary::ScheduleClock;
        let clocks = [(0.0, 9.0, 9.0), (1.0, 19.0, 19.5)];
        [old(1), old(2)]
            .into_iter()
            .zip(clocks)
            .map(|(mut i, (first_due_s, last_due_s, last_sent_s))| {
                i.summary.config.start_at = Some("2026-12-06T09:00:00Z".into());
                i.summary.totals.scheduled_requests = i.summary.totals.sent;
                i.summary.schedule_clock = Some(ScheduleClock {
                    first_due_s,
                    last_due_s,
                    last_sent_s,
                });
                i
            })
            .collect()
    }

    #[test]
    fn rates_are_over_the_union_of_the_shards_spans() {
        let m = merge(clocked(), &unjudged()).unwrap().summary;
        let n = 2 * old(1).summary.totals.sent;
        // As one process: earliest first due to one mean gap after the latest last due.
        let scheduled = 19.0 + 19.0 / (n - 1) as f64;
        let t = &m.totals;
        assert!((t.schedule_seconds - scheduled).abs() < 1e-3, "{t:?}");
        let rate = |n: u64, over: f64| (n as f64 / over * 10.0).round() / 10.0;
        assert_eq!(t.scheduled_per_s, rate(n, scheduled));
        assert_eq!(t.achieved_per_s, rate(t.completed, scheduled + 0.5));
        assert!(t.achieved_per_s <= t.scheduled_per_s, "{t:?}");
        let inexact = &m.merged.as_ref().unwrap().inexact;
        assert!(!inexact.iter().any(|l| l == RATES_INEXACT), "{inexact:?}");

        // Without the shared clock the rates are the longest shard's, and said to be.
        let mut unclocked = clocked();
        unclocked
            .iter_mut()
            .for_each(|i| i.summary.schedule_clock = None);
        let m = merge(unclocked, &unjudged()).unwrap().summary;
        let inexact = &m.merged.as_ref().unwrap().inexact;
        assert!(inexact.iter().any(|l| l == RATES_INEXACT), "{inexact:?}");
    }

    #[test]
    fn a_shard_that_stopped_early_is_refused_unless_partial_is_allowed() {
        let mut inputs = clocked();
        inputs[1].summary.interrupted = true;
        let e = merge(inputs, &unjudged()).err().unwrap().to_string();
        assert!(e.contains("shard 2/2 (s2.json) was interrupted"), "{e}");
        assert!(e.contains("--allow-partial"), "{e}");
        let mut inputs = clocked();
        inputs[0].summary.aborted = Some("errors<5% failed".into());
        let e = merge(inputs, &unjudged()).err().unwrap().to_string();
        assert!(e.contains("shard 1/2 (s1.json) was aborted"), "{e}");

        let mut inputs = clocked();
        inputs[1].summary.interrupted = true;
        let partial = Asked {
            allow_partial: true,
            ..unjudged()
        };
        assert!(merge(inputs, &partial).unwrap().summary.interrupted);
    }

    #[test]
    fn shards_of_other_clocks_or_targets_are_refused_with_each_value() {
        let e = |inputs| merge(inputs, &unjudged()).err().unwrap().to_string();
        let mut inputs = clocked();
        inputs[1].summary.config.start_at = None;
        let m = e(inputs);
        assert!(
            m.contains("config.start_at (--start-at) differs: 2026-12-06T09:00:00Z in s1.json, none in s2.json"),
            "{m}"
        );
        let mut inputs = clocked();
        inputs[1].summary.config.target = "http://other:1".into();
        let m = e(inputs);
        assert!(m.contains("--target differs:"), "{m}");
        assert!(m.contains("http://other:1 in s2.json"), "{m}");
    }
}
