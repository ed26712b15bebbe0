//! What `run --replicates` prints: the plan, a line per replicate as it ends, and the
//! headline figures with their intervals.

use std::path::Path;

use simulate_core::compare::Unit;
use simulate_core::replicates::{Interval, ReplicatesDoc};

use super::compare::{interval_text, value_text};

/// Before the runs (stderr).
pub fn plan(seeds: &[u64], at_once: usize, threads_each: usize) {
    let (first, last) = (seeds[0], seeds[seeds.len() - 1]);
    eprintln!(
        "{} replicates (seeds {first}..={last}), {at_once} at a time, {threads_each} thread{} each",
        seeds.len(),
        if threads_each == 1 { "" } else { "s" }
    );
}

/// A replicate that ended (stderr: the results go to stdout at the end).
pub fn finished(r: &simulate_core::replicates::Replicate, wall: f64) {
    eprintln!(
        "  seed {}: {} events in {wall:.2} s, sha256 {}{}",
        r.seed,
        r.events,
        r.events_sha256,
        if r.interrupted {
            " — INTERRUPTED"
        } else {
            ""
        }
    );
}

/// The headline figures' means and intervals, and where the files are (for stdout).
pub fn done(doc: &ReplicatesDoc, out_dir: &Path, wall: f64) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let m = &doc.metrics;
    let get = |path: &[&str]| m.interval(path);
    let figure = |name: &str, path: &[&str], unit: Unit| -> String {
        format!(
            "{name} {}",
            get(path).map_or("n/a".into(), |i| interval_text(i, unit))
        )
    };
    let folded = doc.folded_seeds.len();
    let _ = writeln!(
        out,
        "{folded} replicate{} folded in {wall:.2} s; means with their {:.0} % intervals:",
        if folded == 1 { "" } else { "s" },
        doc.confidence * 100.0
    );
    let lines = [
        vec![
            figure("D1", &["retention", "overall", "d1"], Unit::Share),
            figure("D7", &["retention", "overall", "d7"], Unit::Share),
            figure("D30", &["retention", "overall", "d30"], Unit::Share),
        ],
        vec![
            figure("avg DAU", &["engagement", "avg_dau"], Unit::Number),
            figure("conversion", &["revenue", "conversion"], Unit::Share),
        ],
        vec![
            figure("revenue", &["revenue", "total_minor_units"], Unit::Money),
            figure("ARPU", &["revenue", "arpu"], Unit::Money),
            figure(
                "events/user-day",
                &["events", "per_active_user_day"],
                Unit::Number,
            ),
        ],
    ];
    for line in lines {
        let _ = writeln!(out, "  {}", line.join(" · "));
    }
    let events = get(&["events", "total"]).map_or(0.0, |i: &Interval| i.mean);
    let _ = writeln!(
        out,
        "  events per replicate {}",
        value_text(events, Unit::Number)
    );
    let _ = writeln!(
        out,
        "wrote summary.json and replicates/<seed>/ ({} of them) in {}",
        doc.replicates.len(),
        out_dir.display()
    );
    out
}
