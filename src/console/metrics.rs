//! The run summary's per-persona lines: who pays, how much, who stays.

use simulate_core::sinks::metrics::document::MetricsDoc;

/// A heading, then one line per persona: users, payers (or why there are none), ARPU, D1 and D7, habit.
pub fn persona_lines(doc: &MetricsDoc) -> Vec<String> {
    let pct = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{:.1} %", v * 100.0));
    let width = doc.personas.keys().map(|n| n.len()).max().unwrap_or(0);
    let lines = doc.personas.iter().map(|(name, p)| {
        let pays = if p.never_pays {
            "never pays (its persona has no purchase step)".to_string()
        } else if p.payers == 0 {
            "payers 0 (none in this run)".to_string()
        } else {
            format!(
                "payers {} ({}) · ARPU {:.2}",
                pct(p.payer_share),
                p.payers,
                p.arpu / 100.0
            )
        };
        let habit = p
            .habit
            .mean
            .map_or_else(|| "n/a".into(), |h| format!("{h:.2}"));
        format!(
            "  {name:<width$} {:>7} users · {pays} · D1 {} · D7 {} · habit {habit}",
            p.users,
            pct(p.retention.d1),
            pct(p.retention.d7),
        )
    });
    std::iter::once("by persona (ARPU in currency units, habit at the end):".to_string())
        .chain(lines)
        .collect()
}
