//! The replay report (`simulate replay --report FILE`), drawn from the typed `Summary`
//! the run also writes with `--summary-export`: the scheduled against the achieved rate,
//! latency percentiles per protocol and tag, failures by class, requests in flight and
//! sessions open, the generator's lag, every threshold with its verdict.

use std::collections::BTreeSet;

use simulate_replay::summary::{Summary, WorldSource};

use super::chart::{Mark, Series, TimeChart, XAxis, y_short};
use super::downsample::Agg;
use super::page::{Figure, Format, Page, Section, table};
use super::svg::{esc, num};

/// The whole page.
pub fn render(s: &Summary) -> String {
    let page = Page {
        title: format!("simulate replay — {}", s.config.target),
        about: about(s),
        figures: figures(s),
        sections: vec![rates(s), latency(s), load(s), thresholds(s)],
        footer: format!(
            "Drawn by simulate {} from the replay summary (docs/REPLAY.md defines every figure). Seconds count wall time from the first request due.",
            s.version
        ),
    };
    page.render()
}

fn about(s: &Summary) -> Vec<String> {
    let c = &s.config;
    let world = match &c.world {
        WorldSource::Engine {
            scenario,
            users,
            length,
            seed,
            ..
        } => format!(
            "world: scenario {scenario}, {} users, span {}, seed {seed}",
            num(*users as f64, 0),
            length
                .span
                .clone()
                .unwrap_or_else(|| format!("{}d", length.days))
        ),
        WorldSource::Log { log, .. } => format!("world: the log {log}"),
    };
    let mut lines = vec![
        format!(
            "mapping {} · {world} · {}× faster than simulated time · at most {} in flight",
            c.mapping,
            num(c.factor, 2),
            num(c.max_in_flight as f64, 0)
        ),
        format!(
            "{} s of wall time{}",
            num(s.wall_seconds, 1),
            if s.interrupted {
                " · INTERRUPTED: partial figures"
            } else {
                ""
            }
        ),
    ];
    lines.extend(merged_lines(s));
    lines
}

/// A merged summary says so, and which figures are bounds rather than exact sums.
fn merged_lines(s: &Summary) -> Vec<String> {
    let Some(m) = &s.merged else {
        return Vec::new();
    };
    let mut lines = vec![format!(
        "merged from {} shards ({}); inexact figures (merged.inexact):",
        m.shards,
        m.files.join(", ")
    )];
    lines.extend(m.inexact.iter().map(|l| format!("– {l}")));
    lines
}

fn figures(s: &Summary) -> Vec<Figure> {
    let t = &s.totals;
    let lat = s.overall.latency_ms.as_ref();
    vec![
        Figure::count("totals.scheduled", "events due", t.scheduled),
        Figure::count("totals.sent", "requests sent", t.sent),
        Figure::count("totals.completed", "requests completed", t.completed),
        Figure::count("totals.errors", "errors", t.errors),
        Figure::count("totals.late", "late (waited for a slot)", t.late),
        Figure::new(
            "totals.scheduled_per_s",
            "scheduled / s",
            Some(t.scheduled_per_s),
            Format::Dec,
            "",
        ),
        Figure::new(
            "totals.achieved_per_s",
            "achieved / s",
            Some(t.achieved_per_s),
            Format::Dec,
            "",
        ),
        Figure::new(
            "overall.latency_ms.p50",
            "latency p50",
            lat.map(|p| p.p50),
            Format::Ms,
            "",
        ),
        Figure::new(
            "overall.latency_ms.p95",
            "latency p95",
            lat.map(|p| p.p95),
            Format::Ms,
            "",
        ),
        Figure::new(
            "overall.latency_ms.p99",
            "latency p99",
            lat.map(|p| p.p99),
            Format::Ms,
            "",
        ),
        Figure::new(
            "scheduler_lag_ms.p99",
            "generator lag p99",
            s.scheduler_lag_ms.as_ref().map(|p| p.p99),
            Format::Ms,
            "",
        ),
    ]
}

/// Wall seconds on the horizontal axis.
fn seconds_axis(s: &Summary) -> XAxis {
    let n = s.series.len().max(s.over_time.seconds.len()).max(1) as f64;
    let long = n >= 120.0;
    XAxis {
        label: if long {
            "wall time since the first request was due (m:ss)".into()
        } else {
            "wall time since the first request was due (s)".into()
        },
        lo: 0.0,
        hi: n,
        every: None,
        fmt: Box::new(move |t| {
            let t = t.round() as i64;
            if long {
                format!("{}:{:02}", t / 60, t % 60)
            } else {
                format!("{t}")
            }
        }),
    }
}

fn rates(s: &Summary) -> Section {
    let mut sec = Section::new(
        "Rate and failures",
        "What the timeline scheduled against what the generator sent and the target answered, and what failed, per wall second.",
    );
    let per = |f: fn(&simulate_replay::summary::Second) -> u32| {
        s.series
            .iter()
            .map(|x| (x.t_s as f64, Some(f(x) as f64)))
            .collect::<Vec<_>>()
    };
    sec.charts.push(
        TimeChart {
            id: "rate".into(),
            title: "Scheduled against achieved rate".into(),
            caption: "Requests due each second by the timeline (dashed: the intended arrival curve), sent, and completed. A sent line below the scheduled one means the generator or the in-flight cap held requests back.".into(),
            x: seconds_axis(s),
            y_label: "requests / s".into(),
            y_fmt: y_short,
            series: vec![
                Series::new("rate-scheduled", "scheduled", per(|x| x.scheduled))
                    .mark(Mark::Dashed),
                Series::new("rate-sent", "sent", per(|x| x.sent)),
                Series::new("rate-completed", "completed", per(|x| x.completed)),
            ],
        }
        .render(),
    );
    sec.charts.push(failures(s));
    sec
}

fn latency(s: &Summary) -> Section {
    let mut sec = Section::new(
        "Latency over time",
        "Percentiles of the latency of the requests completed each second, measured from each request's intended instant (no coordinated omission), one chart per protocol and request tag.",
    );
    for track in &s.over_time.latency {
        let id = format!("latency-{}-{}", track.protocol, track.tag);
        let pick = |f: fn(&simulate_replay::summary::LatencyPoint) -> f64| {
            track
                .points
                .iter()
                .map(|p| (p.t_s as f64, Some(f(p))))
                .collect::<Vec<_>>()
        };
        let tag = if track.tag.is_empty() {
            String::new()
        } else {
            format!(", tag {}", track.tag)
        };
        sec.charts.push(
            TimeChart {
                id: id.clone(),
                title: format!("Latency: {}{tag}", track.protocol),
                caption: format!(
                    "p50, p95 and p99 of each second's completions ({} seconds with answers).",
                    track.points.len()
                ),
                x: seconds_axis(s),
                y_label: "latency (ms)".into(),
                y_fmt: y_short,
                series: vec![
                    Series::new(&format!("{id}-p50"), "p50", pick(|p| p.p50_ms)).agg(Agg::Max),
                    Series::new(&format!("{id}-p95"), "p95", pick(|p| p.p95_ms)).agg(Agg::Max),
                    Series::new(&format!("{id}-p99"), "p99", pick(|p| p.p99_ms)).agg(Agg::Max),
                ],
            }
            .render(),
        );
    }
    if s.over_time.latency.is_empty() {
        sec.intro.push_str(" No request completed.");
    }
    sec
}

/// Failures per second, all and by class.
fn failures(s: &Summary) -> String {
    let classes: BTreeSet<&String> = s
        .over_time
        .seconds
        .iter()
        .flat_map(|d| d.errors.keys())
        .collect();
    let mut series = vec![Series::new(
        "errors-total",
        "all failures",
        s.series
            .iter()
            .map(|x| (x.t_s as f64, Some(x.errors as f64)))
            .collect(),
    )];
    for class in classes {
        series.push(Series::new(
            &format!("errors-{class}"),
            class,
            s.over_time
                .seconds
                .iter()
                .map(|d| {
                    (
                        d.t_s as f64,
                        Some(d.errors.get(class).copied().unwrap_or(0) as f64),
                    )
                })
                .collect(),
        ));
    }
    let none = if s.totals.errors == 0 {
        " No request failed."
    } else {
        ""
    };
    TimeChart {
        id: "errors".into(),
        title: "Failures by class".into(),
        caption: format!(
            "Requests that failed each second: without a response, by class (refused, timeout, app, abandoned, …), or answered outside the expected statuses (status NNN).{none}"
        ),
        x: seconds_axis(s),
        y_label: "failures / s".into(),
        y_fmt: y_short,
        series,
    }
    .render()
}

fn load(s: &Summary) -> Section {
    let mut sec = Section::new(
        "Concurrency and the generator",
        "How much was open at once, and how late the generator sent what was due.",
    );
    let secs = &s.over_time.seconds;
    let col = |f: fn(&simulate_replay::summary::SecondDetail) -> Option<f64>| {
        secs.iter()
            .map(|d| (d.t_s as f64, f(d)))
            .collect::<Vec<_>>()
    };
    sec.charts.push(
        TimeChart {
            id: "in-flight".into(),
            title: "Requests in flight".into(),
            caption: format!(
                "Most requests out at once each second (the cap is {}).",
                num(s.config.max_in_flight as f64, 0)
            ),
            x: seconds_axis(s),
            y_label: "requests".into(),
            y_fmt: y_short,
            series: vec![
                Series::new(
                    "in-flight",
                    "in flight (peak)",
                    col(|d| Some(d.in_flight_peak as f64)),
                )
                .agg(Agg::Max),
            ],
        }
        .render(),
    );
    let mut open = vec![
        Series::new(
            "sessions-open",
            "user sessions open",
            s.series
                .iter()
                .map(|x| (x.t_s as f64, x.sessions_open.map(|n| n as f64)))
                .collect(),
        )
        .agg(Agg::Max),
    ];
    if secs.iter().any(|d| d.sockets_open.is_some()) {
        open.push(
            Series::new(
                "sockets-open",
                "Socket.IO connections open",
                col(|d| d.sockets_open.map(|n| n as f64)),
            )
            .agg(Agg::Max),
        );
    }
    sec.charts.push(
        TimeChart {
            id: "sessions".into(),
            title: "Sessions open".into(),
            caption: "The most simulated users' sessions open at once each second, by the timeline sent (sessions begun before the window included), and Socket.IO connections when the mapping has [socketio].".into(),
            x: seconds_axis(s),
            y_label: "sessions".into(),
            y_fmt: y_short,
            series: open,
        }
        .render(),
    );
    sec.charts.push(
        TimeChart {
            id: "lag".into(),
            title: "Generator lag".into(),
            caption: "How long after its intended instant each second's requests left: p99 and maximum. Lag above a few ms means the generator, not the target, was the limit.".into(),
            x: seconds_axis(s),
            y_label: "lag (ms)".into(),
            y_fmt: y_short,
            series: vec![
                Series::new("lag-p99", "p99", col(|d| d.lag_p99_ms)).agg(Agg::Max),
                Series::new("lag-max", "max", col(|d| d.lag_max_ms)).agg(Agg::Max),
            ],
        }
        .render(),
    );
    sec
}

fn thresholds(s: &Summary) -> Section {
    let mut sec = Section::new(
        "Thresholds",
        "Each threshold given (--threshold, --threshold-preset) with what was observed and whether it held.",
    );
    if s.thresholds.is_empty() {
        sec.intro.push_str(" None was given.");
    }
    let rows: Vec<(String, Vec<(String, bool)>)> = s
        .thresholds
        .iter()
        .map(|v| {
            let (class, verdict) = match (v.applicable, v.ok) {
                (false, _) => ("na", "NOT APPLIED"),
                (true, true) => ("pass", "PASS"),
                (true, false) => ("fail", "FAIL"),
            };
            (
                class.to_string(),
                vec![
                    (format!("<code>{}</code>", esc(&v.threshold)), false),
                    (esc(&v.shown), true),
                    (format!("<span class=\"verdict\">{verdict}</span>"), false),
                    (esc(&v.applied_to), false),
                    (esc(v.note.as_deref().unwrap_or("")), false),
                ],
            )
        })
        .collect();
    sec.tables.push(table(
        "thresholds",
        &["threshold", "observed", "verdict", "applied to", "note"],
        &rows,
    ));
    sec.tables.push(groups(s));
    sec
}

/// Every group's totals, as the console table shows them.
fn groups(s: &Summary) -> String {
    let ms = |v: Option<f64>| v.map_or("–".into(), |v| num(v, 1));
    let rows: Vec<(String, Vec<(String, bool)>)> = s
        .groups
        .iter()
        .map(|g| {
            let l = g.figures.latency_ms.as_ref();
            (
                String::new(),
                vec![
                    (esc(&g.tags.protocol), false),
                    (esc(&g.tags.event), false),
                    (esc(&g.tags.kind), false),
                    (esc(&g.tags.phase), false),
                    (num(g.figures.count as f64, 0), true),
                    (num(g.figures.errors as f64, 0), true),
                    (ms(l.map(|p| p.p50)), true),
                    (ms(l.map(|p| p.p95)), true),
                    (ms(l.map(|p| p.p99)), true),
                ],
            )
        })
        .collect();
    format!(
        "<h2>Requests by group</h2>\n{}",
        table(
            "groups",
            &[
                "protocol", "event", "tag", "phase", "requests", "errors", "p50 ms", "p95 ms",
                "p99 ms",
            ],
            &rows,
        )
    )
}
