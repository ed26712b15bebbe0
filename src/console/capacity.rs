//! What `simulate capacity` shows: a line per level as it ends, and the table with the
//! verdict at the end.

use simulate_replay::capacity::{CapacityReport, Cause, Level};

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.1}"))
}

fn causes(c: &[Cause]) -> String {
    let names: Vec<&str> = c
        .iter()
        .map(|c| match c {
            Cause::Latency => "latency",
            Cause::Errors => "errors",
            Cause::Generator => "generator",
            Cause::Down => "down",
        })
        .collect();
    names.join(", ")
}

/// One level, as it ends.
pub(crate) fn level_line(l: &Level) -> String {
    format!(
        "{:>10}/s  {}  achieved {:.1}/s · p95 {} ms · errors {:.2} % · lag p99 {} ms · late {}{}",
        l.rate,
        if l.held { "held  " } else { "FAILED" },
        l.achieved_per_s,
        ms(l.p95_ms),
        l.error_pct,
        ms(l.lag_p99_ms),
        l.late,
        if l.held {
            String::new()
        } else {
            format!(" ({})", causes(&l.causes))
        }
    )
}

/// The levels in rising order, then the verdict.
pub(crate) fn table(r: &CapacityReport) -> String {
    let mut out = format!(
        "capacity of {} ({}; each level {} s measured after {} s of warm-up; thresholds: {})\n",
        r.target,
        r.mapping,
        r.step_seconds,
        r.warmup_seconds,
        r.thresholds.join(", ")
    );
    out.push_str(&format!(
        "{:>12} {:>7} {:>12} {:>9} {:>9} {:>9} {:>11} {:>7}  failed\n",
        "level /s", "held", "achieved /s", "requests", "p95 ms", "errors %", "lag p99 ms", "late"
    ));
    let mut levels: Vec<&Level> = r.levels.iter().collect();
    levels.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    for l in levels {
        out.push_str(&format!(
            "{:>12} {:>7} {:>12.1} {:>9} {:>9} {:>9.2} {:>11} {:>7}  {}\n",
            l.rate,
            if l.held { "yes" } else { "no" },
            l.achieved_per_s,
            l.requests,
            ms(l.p95_ms),
            l.error_pct,
            ms(l.lag_p99_ms),
            l.late,
            if l.failed.is_empty() {
                causes(&l.causes)
            } else {
                l.failed.join(", ")
            }
        ));
    }
    out.push_str(&format!("verdict: {}\n", r.verdict));
    out
}
