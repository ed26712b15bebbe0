//! `simulate capacity`: replays level after level (a warm-up stage, then a measured one)
//! until the thresholds break, then refines; prints the per-level table and exits with
//! the verdict (src/exit.rs).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use simulate_core::diagnostic::Problem;
use simulate_core::units::load::{Rate, Stages, parse_rate};
use simulate_core::units::parse_duration;
use simulate_replay::capacity::{CAPACITY_SCHEMA, CapacityReport, Cause, Level, Search, level};
use simulate_replay::live_metrics::LiveMetrics;
use simulate_replay::mapping::Mapping;
use simulate_replay::pace::{Counted, Curve, Target};

use super::load::{Mode, Pacing};
use super::replay::{Run, load_mapping, make_summary_folder};
use crate::cli::{CapacityArgs, ReplayArgs};
use crate::console::capacity::{level_line, table};
use crate::exit;

/// The measured stage's name in each level's figures (the warm-up is stage 1).
const MEASURE: &str = "measure";

/// The flags of the search, checked.
struct Plan {
    from: f64,
    /// What the levels' rate counts, as `--from` leads it (`class:api`); `None`: every
    /// mapped request.
    lead: Option<String>,
    step: f64,
    max: Option<f64>,
    step_ms: i64,
    warmup_ms: i64,
    precision: f64,
}

/// A level's rate, `RATE` or led by what it counts (`points.earned=100/s`,
/// `class:api=100/s`, as `replay --rate`): the rate and the lead.
fn rate_flag(flag: &str, text: &str) -> anyhow::Result<(f64, Option<String>)> {
    let spec = parse_rate(text).map_err(|m| {
        Problem::new(
            format!("{flag} `{text}`: {m}"),
            "write a rate like 100/s, points.earned=100/s or class:api=100/s",
        )
    })?;
    if spec.rate.per_s() <= 0.0 {
        return Err(Problem::new(
            format!("{flag} `{text}` is not a rate above zero"),
            "write it like 100/s",
        )
        .into());
    }
    Ok((spec.rate.per_s(), spec.kind))
}

fn duration_flag(flag: &str, text: &str) -> anyhow::Result<i64> {
    parse_duration(text)
        .ok()
        .map(|d| d.ms())
        .filter(|ms| *ms >= 1000)
        .ok_or_else(|| {
            Problem::new(
                format!("{flag} `{text}` is not a duration of a second or more"),
                "write it like 10s or 1m",
            )
            .into()
        })
}

impl Plan {
    fn from_args(a: &CapacityArgs) -> anyhow::Result<Plan> {
        let r = &a.replay;
        if r.compress.is_some()
            || r.rate.is_some()
            || r.stages.is_some()
            || r.profile.is_some()
            || r.max_duration.is_some()
        {
            return Err(Problem::new(
                "capacity sets the pace itself: --compress, --rate, --stages, --profile and --max-duration do not apply",
                "drop them; --from, --step, --max-rate and --step-duration say how the levels go",
            )
            .into());
        }
        let step = a
            .step
            .trim()
            .strip_suffix(['x', '×'])
            .and_then(|x| x.trim().parse::<f64>().ok())
            .filter(|x| x.is_finite() && *x > 1.0 && *x <= 100.0)
            .ok_or_else(|| {
                Problem::new(
                    format!("--step `{}` is not a factor above 1", a.step),
                    "write it like 2x (each level doubles) or 1.5x",
                )
            })?;
        let precision = a
            .precision
            .trim()
            .strip_suffix('%')
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|p| *p > 0.0 && *p <= 50.0)
            .ok_or_else(|| {
                Problem::new(
                    format!("--precision `{}` is not a percentage", a.precision),
                    "write it like 5% (0 to 50)",
                )
            })?;
        let step_ms = duration_flag("--step-duration", &a.step_duration)?;
        let warmup_ms = match &a.warmup {
            Some(w) => duration_flag("--warmup", w)?,
            None => (step_ms / 5).max(1000),
        };
        let (from, lead) = rate_flag("--from", &a.from)?;
        let max = match a.max_rate.as_deref().map(|m| rate_flag("--max-rate", m)) {
            None => None,
            Some(Ok((m, None))) => Some(m),
            Some(Ok((m, other))) if other == lead => Some(m),
            Some(Ok((_, Some(other)))) => {
                return Err(Problem::new(
                    format!("--max-rate counts `{other}` and --from counts {}", lead.as_deref().map_or("every mapped request".into(), |l| format!("`{l}`"))),
                    "lead --max-rate as --from is led, or give it as a bare rate (it then counts what --from counts)",
                )
                .into());
            }
            Some(Err(e)) => return Err(e),
        };
        if let Some(m) = max
            && m < from
        {
            return Err(Problem::new(
                format!("--max-rate {m}/s is below --from {from}/s"),
                "raise --max-rate or lower --from",
            )
            .into());
        }
        Ok(Plan {
            from,
            lead,
            step,
            max,
            step_ms,
            warmup_ms,
            precision: precision / 100.0,
        })
    }

    /// One level: a warm-up stage, then the measured one, both holding `rate` of what
    /// `counted` counts.
    fn pacing(&self, rate: f64, counted: &Counted) -> Pacing {
        let r = Rate::new(rate).expect("levels are checked rates");
        let text = format!(
            "warmup={}ms:{rate}/s, {MEASURE}={}ms:{rate}/s",
            self.warmup_ms, self.step_ms
        );
        let stages = Stages::parse(&text).expect("a valid plan");
        debug_assert_eq!(stages.stages()[0].from, r);
        Pacing {
            mode: Mode::Target(Target {
                curve: Curve::Stages(stages),
                counted: counted.clone(),
            }),
            text: match &self.lead {
                Some(l) => format!("--rate {l}={rate}/s"),
                None => format!("--rate {rate}/s"),
            },
            max_wall: None,
        }
    }
}

pub fn capacity(a: CapacityArgs) -> anyhow::Result<i32> {
    let r = &a.replay;
    if r.shard.is_some() || r.shard_count.is_some() || r.start_at.is_some() {
        return Err(simulate_core::diagnostic::Problem::new(
            "capacity searches the limit one process finds level by level: --shard, --shard-count and --start-at do not apply",
            "drop them (shards run with `replay --rate` or `--stages`, docs/REPLAY.md \"Shards\")",
        )
        .into());
    }
    let plan = Plan::from_args(&a)?;
    let mut args = a.replay.clone();
    if args.judging.thresholds.is_empty() && args.judging.threshold_preset.is_none() {
        args.judging.threshold_preset = Some("upper-limit".into());
    }
    // Each level stops as soon as a threshold fails for good, or the target is down.
    args.abort_on_fail = true;
    let summary_file = args.summary_export.take();
    make_summary_folder(summary_file.as_deref(), "--summary-export")?;
    let mapping = Arc::new(load_mapping(&args)?);
    let counted = super::load::counted(plan.lead.as_deref(), &mapping).map_err(|m| {
        Problem::new(
            format!("--from `{}`: {m}", a.from),
            "write a rate like 100/s, points.earned=100/s or class:api=100/s",
        )
    })?;
    let events = counted_events(&counted, &mapping);
    let (metrics, exporter) = super::replay::live_metrics(&args, &mapping)?;
    let mut search = Search::new(plan.from, plan.step, plan.max, plan.precision);
    let mut levels: Vec<Level> = Vec::new();
    let (mut shown, mut texts) = (String::new(), Vec::new());
    let interrupts = super::replay_interrupts();
    let mut interrupted = false;
    let window = Advance::new(&args);
    while let Some(rate) = search.next() {
        let pacing = plan.pacing(rate, &counted);
        let (report, target) = match run_level(&args, &pacing, (&mapping, &metrics), &interrupts) {
            // The window moved past the world's end: from its start again.
            Err(_) if window.advanced(&args) => {
                window.rewind(&mut args);
                run_level(&args, &pacing, (&mapping, &metrics), &interrupts)?
            }
            r => r?,
        };
        let planned = rate * (plan.warmup_ms + plan.step_ms) as f64 / 1000.0;
        let (report, target) = if !report.interrupted
            && report.aborted.is_none()
            && (counted_sent(&report.summary, events.as_deref()) as f64) < planned * 0.97
            && window.advanced(&args)
        {
            // The rest of the window ran out of events: the level again from its start.
            window.rewind(&mut args);
            run_level(&args, &pacing, (&mapping, &metrics), &interrupts)?
        } else {
            (report, target)
        };
        shown = target;
        texts = report.summary.config.thresholds.clone();
        let planned = (plan.warmup_ms as f64 / 1000.0, plan.step_ms as f64 / 1000.0);
        let l = level(rate, &report.summary, (MEASURE, events.as_deref()), planned);
        if !args.quiet {
            eprintln!("{}", level_line(&l));
        }
        search.record(rate, l.held);
        let down = l.causes.contains(&Cause::Down);
        levels.push(l);
        if report.interrupted {
            interrupted = true;
            break;
        }
        // --abort-on-fail stopped the level through the stop flag: clear it for the next.
        if report.aborted.is_some() {
            interrupts
                .0
                .store(false, std::sync::atomic::Ordering::SeqCst);
        }
        if down {
            break;
        }
        window.past(&mut args, &report.summary);
    }
    let what = super::load::what(&counted, mapping.kinds());
    let r = report(
        &plan,
        (shown, mapping.name.clone(), what),
        texts,
        levels,
        &search,
    );
    out!("{}", table(&r));
    if let Some(p) = &summary_file {
        super::export(p, "the capacity report", &r)?;
        outln!("capacity report: {}", p.display());
    }
    if let Some(e) = exporter {
        e.linger();
    }
    Ok(if interrupted {
        exit::INTERRUPTED
    } else if r.causes.contains(&Cause::Down) {
        exit::FAILED
    } else if r.highest_held.is_none() {
        exit::THRESHOLD_FAILED
    } else if r.causes.contains(&Cause::Generator) {
        exit::GENERATOR_LIMIT
    } else {
        exit::OK
    })
}

type Interrupts = (Arc<AtomicBool>, Arc<AtomicBool>);

/// One level, quietly.
fn run_level(
    args: &ReplayArgs,
    pacing: &Pacing,
    (mapping, metrics): (&Arc<Mapping>, &Option<Arc<LiveMetrics>>),
    interrupts: &Interrupts,
) -> anyhow::Result<(simulate_replay::Report, String)> {
    let run = Run {
        args,
        pacing,
        mapping: Arc::clone(mapping),
        only_stage: Some(2),
        live: false,
        concurrency: None,
        metrics: metrics.clone(),
    };
    let (report, shown, _) = run.go(interrupts.clone())?;
    Ok((report, shown))
}

/// Each level goes on in the timeline where the last one stopped, so the target sees
/// new events (a target that de-duplicates by `x-sim-event` would answer repeats
/// faster); back to the window's start when the rest runs out.
struct Advance {
    first: Option<String>,
    /// The window's right side as given (empty: to the end).
    to: String,
}

impl Advance {
    fn new(args: &ReplayArgs) -> Advance {
        let to = args
            .window
            .as_deref()
            .and_then(|w| w.split_once(".."))
            .map_or(String::new(), |(_, b)| b.to_string());
        Advance {
            first: args.window.clone(),
            to,
        }
    }

    fn advanced(&self, args: &ReplayArgs) -> bool {
        args.window != self.first
    }

    fn rewind(&self, args: &mut ReplayArgs) {
        args.window = self.first.clone();
    }

    /// The next level starts where `s` stopped: its last second's start plus a second at
    /// its factor.
    fn past(&self, args: &mut ReplayArgs, s: &simulate_replay::summary::Summary) {
        let last = s.series.iter().rev().find_map(|x| x.sim_ms.zip(x.factor));
        if let Some((sim_ms, factor)) = last {
            let next = sim_ms + (factor * 1000.0).ceil() as i64;
            args.window = Some(format!("{next}ms..{}", self.to));
        }
    }
}

/// The event kinds whose requests a level's rate counts: `None` for every mapped one.
fn counted_events(counted: &Counted, mapping: &Mapping) -> Option<Vec<String>> {
    let names = |kinds: Vec<u16>| {
        kinds
            .into_iter()
            .filter_map(|k| mapping.kinds().name(k).map(str::to_string))
            .collect()
    };
    match counted {
        Counted::Mapped => None,
        Counted::Kind(k) => Some(names(vec![*k])),
        Counted::Class(c) => Some(names(mapping.kinds_of(*c))),
    }
}

/// The requests a level sent of the counted event kinds (`None`: all it sent).
fn counted_sent(s: &simulate_replay::summary::Summary, events: Option<&[String]>) -> u64 {
    match events {
        None => s.totals.sent,
        Some(e) => s
            .by_event
            .iter()
            .filter(|t| e.contains(&t.tags.event))
            .map(|t| t.figures.count)
            .sum(),
    }
}

/// The search's result as the report: levels in the order tried, the verdict.
fn report(
    plan: &Plan,
    (target, mapping, counted): (String, String, String),
    thresholds: Vec<String>,
    levels: Vec<Level>,
    search: &Search,
) -> CapacityReport {
    let (held, failed) = (search.held(), search.failed());
    let causes = failed
        .and_then(|f| levels.iter().find(|l| l.rate == f))
        .map(|l| l.causes.clone())
        .unwrap_or_default();
    let names: Vec<&str> = causes
        .iter()
        .map(|c| match c {
            Cause::Latency => "latency",
            Cause::Errors => "errors",
            Cause::Generator => {
                "the generator (lag or a shortfall: the tool, not the target, was the limit)"
            }
            Cause::Down => "the target is down",
        })
        .collect();
    // A led level says what its rate counts.
    let of = match plan.lead {
        Some(_) => format!(" of {counted}"),
        None => String::new(),
    };
    let verdict = match (held, failed) {
        (_, Some(f)) if causes.contains(&Cause::Down) => {
            format!("the target is down (at {f}/s): nothing measured")
        }
        (Some(h), Some(f)) => format!("holds {h}/s{of}; fails at {f}/s: {}", names.join(", ")),
        (Some(h), None) => {
            format!("holds {h}/s{of}, the most tried (--max-rate or the level cap)")
        }
        (None, Some(f)) => format!("fails at the first level, {f}/s: {}", names.join(", ")),
        (None, None) => "no level was run".into(),
    };
    CapacityReport {
        schema: CAPACITY_SCHEMA.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        target,
        mapping,
        from_per_s: plan.from,
        step: plan.step,
        max_rate_per_s: plan.max,
        step_seconds: plan.step_ms as f64 / 1000.0,
        warmup_seconds: plan.warmup_ms as f64 / 1000.0,
        thresholds,
        counted,
        levels,
        highest_held: held,
        first_failed: failed,
        causes,
        verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_is_a_rate_led_by_what_it_counts_as_replay_rate_is() {
        assert_eq!(rate_flag("--from", "100/s").unwrap(), (100.0, None));
        assert_eq!(
            rate_flag("--from", "class:api=100/s").unwrap(),
            (100.0, Some("class:api".to_string()))
        );
        for (text, says) in [("0/s", "above zero"), ("fast", "class:api=100/s")] {
            let e = rate_flag("--from", text).unwrap_err();
            let p = e.downcast_ref::<Problem>().expect("a problem");
            assert!(format!("{p}").contains(says), "{text}: {p}");
        }
    }
}
