//! report.html of a `simulate run`: drawn from the run's metrics.json (`MetricsDoc`) and
//! run.json (`RunRecord`), the documents written beside it. Nothing measured on the wall
//! clock appears, so the same seed gives the same page.

use simulate_core::run_record::RunRecord;
use simulate_core::sinks::metrics::document::{
    DayFigures, MetricsDoc, RetentionPoint, RetentionRates,
};

use super::buckets;
use super::chart::{Bar, Bars, Heatmap, Mark, Series, TimeChart, XAxis, y_pct, y_short};
use super::downsample::Agg;
use super::page::{Figure, Format, Page, Section};
use super::svg::{num, pct};

/// The whole page.
pub fn render(doc: &MetricsDoc, record: &RunRecord) -> String {
    let c = &record.config;
    let page = Page {
        title: format!("simulate run — {}", doc.scenario),
        about: vec![
            format!(
                "{} users · span {} from {} · seed {} · personas {}",
                num(c.users as f64, 0),
                doc.window.span,
                doc.window.start,
                c.seed,
                c.personas.join(", ")
            ),
            format!(
                "{} events · sha256 {}{}",
                num(record.counts.events as f64, 0),
                record.events_sha256,
                if doc.window.complete {
                    ""
                } else {
                    " · INTERRUPTED: partial figures"
                }
            ),
        ],
        figures: figures(doc),
        sections: vec![activity(doc), retention(doc), conversion(doc), money(doc)],
        footer: format!(
            "Drawn by simulate {} from metrics.json and run.json (docs/METRICS.md defines every figure). Money in currency units (metrics.json holds minor units). Times in UTC.",
            record.version
        ),
    };
    page.render()
}

fn figures(doc: &MetricsDoc) -> Vec<Figure> {
    let r = &doc.retention.overall;
    vec![
        Figure::count("users.signed_up", "users signed up", doc.users.signed_up),
        Figure::count("events.total", "events", doc.events.total),
        Figure::new(
            "engagement.avg_dau",
            "average DAU (complete days)",
            doc.engagement.avg_dau,
            Format::Dec,
            "(no complete day)",
        ),
        Figure::new(
            "engagement.stickiness_dau_over_mau",
            "stickiness DAU / MAU",
            doc.engagement.stickiness_dau_over_mau,
            Format::Pct,
            "",
        ),
        Figure::new(
            "retention.overall.d1",
            "D1 retention",
            r.d1,
            Format::Pct,
            "(no cohort reaches day 1)",
        ),
        Figure::new(
            "retention.overall.d7",
            "D7 retention",
            r.d7,
            Format::Pct,
            "(no cohort reaches day 7)",
        ),
        Figure::new(
            "retention.overall.d30",
            "D30 retention",
            r.d30,
            Format::Pct,
            "(no cohort reaches day 30)",
        ),
        Figure::new(
            "revenue.conversion",
            "conversion to payer",
            doc.revenue.conversion,
            Format::Pct,
            "",
        ),
        Figure {
            value: serde_json::Value::from(doc.revenue.total_minor_units),
            ..Figure::new(
                "revenue.total_minor_units",
                "revenue (currency units)",
                Some(doc.revenue.total_minor_units as f64),
                Format::Money,
                "",
            )
        },
        Figure::new(
            "revenue.arpu",
            "ARPU (currency units)",
            Some(doc.revenue.arpu),
            Format::Money,
            "",
        ),
        Figure::count("points.earned", "points earned", doc.points.earned),
        Figure::count("points.redeemed", "points redeemed", doc.points.redeemed),
    ]
}

/// The days on the horizontal axis: day d spans d..d+1, ticks read the day's date.
fn day_axis(days: &[DayFigures]) -> XAxis {
    let dates: Vec<String> = days
        .iter()
        .map(|d| d.date.get(5..).unwrap_or(&d.date).to_string())
        .collect();
    XAxis {
        label: "day (UTC date, MM-DD)".into(),
        lo: 0.0,
        hi: days.len().max(1) as f64,
        every: Some(1.0),
        fmt: Box::new(move |t| {
            let i = t.floor().max(0.0) as usize;
            match dates.get(i) {
                Some(d) if (t - t.floor()).abs() < 1e-9 => d.clone(),
                // The end of the last day.
                _ => String::new(),
            }
        }),
    }
}

/// One value per day, placed mid-day.
fn per_day(days: &[DayFigures], f: impl Fn(&DayFigures) -> Option<f64>) -> Vec<(f64, Option<f64>)> {
    days.iter()
        .enumerate()
        .map(|(i, d)| (i as f64 + 0.5, f(d)))
        .collect()
}

fn activity(doc: &MetricsDoc) -> Section {
    let days = &doc.engagement.days;
    let mut s = Section::new(
        "Activity",
        "Who was active when: daily, weekly and monthly active users, and the hours of the day the events fell in against the scenario's configured curve.",
    );
    s.charts.push(
        TimeChart {
            id: "dau".into(),
            title: "Daily active users".into(),
            caption: "Users with at least one event that UTC day (DAU), and in the 7 and 30 days ending that day (WAU, MAU). A partial first or last day counts only the hours the run covered.".into(),
            x: day_axis(days),
            y_label: "users".into(),
            y_fmt: y_short,
            series: vec![
                Series::new("dau", "DAU", per_day(days, |d| Some(d.dau as f64))),
                Series::new("wau", "WAU", per_day(days, |d| Some(d.wau as f64))),
                Series::new("mau", "MAU", per_day(days, |d| Some(d.mau as f64)))
                    .mark(Mark::Dashed),
            ],
        }
        .render(),
    );
    s.charts.push(hourly(doc));
    if !doc.series.buckets.is_empty() {
        s.charts.push(buckets::activity(doc));
        s.charts.push(buckets::events(doc));
    }
    s
}

/// Share of the day's events per UTC hour, against the configured weights as shares.
fn hourly(doc: &MetricsDoc) -> String {
    let mut hours = [0u64; 24];
    for counts in doc.events.by_hour_utc.values() {
        for (h, n) in counts.iter().enumerate().take(24) {
            hours[h] += n;
        }
    }
    let total: u64 = hours.iter().sum();
    let actual = hours
        .iter()
        .enumerate()
        .map(|(h, n)| (h as f64, (total > 0).then(|| *n as f64 / total as f64)))
        .collect();
    let mut series = vec![
        Series::new("hourly-actual", "events (share of the day)", actual)
            .mark(Mark::Columns { width: 1.0 }),
    ];
    let w: f64 = doc.events.hourly_weights.iter().sum();
    if w > 0.0 {
        let configured = doc
            .events
            .hourly_weights
            .iter()
            .enumerate()
            .map(|(h, v)| (h as f64 + 0.5, Some(v / w)))
            .collect();
        series.push(
            Series::new("hourly-configured", "configured curve (share)", configured)
                .mark(Mark::Dashed),
        );
    }
    TimeChart {
        id: "hourly".into(),
        title: "Hourly activity against the configured curve".into(),
        caption: "Each hour's share of all events (columns) and the scenario's [activity] hourly weights as shares of their sum (dashed). Phases, nudges and sessions that run past the hour make the two differ.".into(),
        x: XAxis {
            label: "hour of day (UTC)".into(),
            lo: 0.0,
            hi: 24.0,
            every: Some(3.0),
            fmt: Box::new(|t| format!("{:02}:00", t as i64)),
        },
        y_label: "share of events".into(),
        y_fmt: y_pct,
        series,
    }
    .render()
}

fn retention(doc: &MetricsDoc) -> Section {
    let mut s = Section::new(
        "Retention",
        "Day-N retention: the share of a cohort's users active N days after the day they signed up (day 0).",
    );
    let cohorts = &doc.retention.by_cohort;
    let width = cohorts
        .iter()
        .map(|c| c.active_share_by_day.len())
        .max()
        .unwrap_or(0);
    let dates = &doc.engagement.days;
    s.charts.push(
        Heatmap {
            id: "retention-cohorts".into(),
            title: "Retention by sign-up cohort".into(),
            caption: "One row per sign-up day (its users in brackets); each cell the share of that cohort active N days later. Blank cells lie beyond the run.".into(),
            row_label: "cohort".into(),
            col_label: "days since sign-up".into(),
            rows: cohorts
                .iter()
                .map(|c| {
                    let date = dates
                        .get(c.signup_day as usize)
                        .map_or(String::new(), |d| d.date.clone());
                    format!("{date} ({})", num(c.users as f64, 0))
                })
                .collect(),
            cols: (0..width).map(|d| format!("D{d}")).collect(),
            cells: cohorts
                .iter()
                .map(|c| {
                    (0..width)
                        .map(|d| c.active_share_by_day.get(d).copied())
                        .collect()
                })
                .collect(),
        }
        .render(),
    );
    s.charts.push(persona_retention(doc));
    if !doc.retention.curve.is_empty() {
        s.charts.push(retention_curve(doc));
    }
    s
}

/// D1..D30 overall and per persona, from the retention curves.
fn retention_curve(doc: &MetricsDoc) -> String {
    let curve = |points: &[RetentionPoint]| {
        points
            .iter()
            .map(|p| (p.day as f64, Some(p.share)))
            .collect::<Vec<_>>()
    };
    let last = doc.retention.curve.iter().map(|p| p.day).max().unwrap_or(1);
    let mut series = vec![Series::new(
        "retention-curve",
        "all users",
        curve(&doc.retention.curve),
    )];
    for (name, p) in &doc.personas {
        if !p.retention_curve.is_empty() {
            series.push(
                Series::new(
                    &format!("retention-curve-{name}"),
                    name,
                    curve(&p.retention_curve),
                )
                .mark(Mark::Dashed),
            );
        }
    }
    TimeChart {
        id: "retention-curve".into(),
        title: "Retention curve".into(),
        caption: "Share of users active N days after their sign-up day, over every cohort whose day N the run completes: all users (solid) and per persona (dashed).".into(),
        x: XAxis {
            label: "days since sign-up (N)".into(),
            lo: 0.0,
            hi: last.max(1) as f64,
            every: Some(1.0),
            fmt: Box::new(|t| format!("D{}", t as i64)),
        },
        y_label: "users retained".into(),
        y_fmt: y_pct,
        series,
    }
    .render()
}

/// Picks one day-N rate.
type Rate = fn(&RetentionRates) -> Option<f64>;

fn persona_retention(doc: &MetricsDoc) -> String {
    let days: std::collections::BTreeSet<u64> = doc
        .personas
        .values()
        .flat_map(|p| p.retention_curve.iter().map(|c| c.day))
        .collect();
    if !days.is_empty() {
        return persona_curve_heatmap(doc, &days.into_iter().collect::<Vec<_>>());
    }
    let cols: [(&str, Rate); 4] = [
        ("D1", |r| r.d1),
        ("D7", |r| r.d7),
        ("D14", |r| r.d14),
        ("D30", |r| r.d30),
    ];
    Heatmap {
        id: "retention-personas".into(),
        title: "Retention by persona".into(),
        caption: "Day-N retention of each persona's users over the complete days of the run; blank where no cohort reaches day N.".into(),
        row_label: "persona".into(),
        col_label: "day N".into(),
        rows: doc
            .personas
            .iter()
            .map(|(name, p)| format!("{name} ({})", num(p.users as f64, 0)))
            .collect(),
        cols: cols.iter().map(|c| c.0.to_string()).collect(),
        cells: doc
            .personas
            .values()
            .map(|p| cols.iter().map(|c| (c.1)(&p.retention)).collect())
            .collect(),
    }
    .render()
}

/// Persona × day N from each persona's D1..D30 curve.
fn persona_curve_heatmap(doc: &MetricsDoc, days: &[u64]) -> String {
    Heatmap {
        id: "retention-personas".into(),
        title: "Retention by persona".into(),
        caption: "Day-N retention of each persona's users (D1 to D30, the days some cohort completes); blank where the persona's cohorts do not reach day N.".into(),
        row_label: "persona".into(),
        col_label: "day N".into(),
        rows: doc
            .personas
            .iter()
            .map(|(name, p)| format!("{name} ({})", num(p.users as f64, 0)))
            .collect(),
        cols: days.iter().map(|d| format!("D{d}")).collect(),
        cells: doc
            .personas
            .values()
            .map(|p| {
                days.iter()
                    .map(|d| p.retention_curve.iter().find(|c| c.day == *d).map(|c| c.share))
                    .collect()
            })
            .collect(),
    }
    .render()
}

fn conversion(doc: &MetricsDoc) -> Section {
    let mut s = Section::new(
        "Conversion and personas",
        "How far users got, and who they were.",
    );
    let f = &doc.funnel;
    let of = |n: u64| {
        let share = if f.signed_up > 0 {
            format!(" · {}", pct(n as f64 / f.signed_up as f64))
        } else {
            String::new()
        };
        format!("{}{share}", num(n as f64, 0))
    };
    let step = |label: &str, n: u64| Bar {
        label: label.into(),
        value: n as f64,
        text: of(n),
    };
    s.charts.push(
        Bars {
            id: "funnel".into(),
            title: "Funnel".into(),
            caption:
                "Users who reached each step at least once, with the share of those who signed up."
                    .into(),
            x_label: "users".into(),
            bars: vec![
                step("signed up", f.signed_up),
                step("first action", f.first_action),
                step("first reward", f.first_reward),
                step("first investment", f.first_investment),
                step("purchase", f.purchase),
            ],
        }
        .render(),
    );
    s.charts.push(
        Bars {
            id: "persona-mix".into(),
            title: "Persona mix".into(),
            caption: "Users per persona, with the persona's share of users and its revenue in currency units.".into(),
            x_label: "users".into(),
            bars: doc
                .personas
                .iter()
                .map(|(name, p)| Bar {
                    label: name.clone(),
                    value: p.users as f64,
                    text: format!(
                        "{} · {} · revenue {}",
                        num(p.users as f64, 0),
                        p.share.map_or("n/a".into(), pct),
                        num(p.revenue as f64 / 100.0, 2)
                    ),
                })
                .collect(),
        }
        .render(),
    );
    s.charts.push(payers(doc));
    s
}

/// Each persona's share of paying users, or that it never pays.
fn payers(doc: &MetricsDoc) -> String {
    Bars {
        id: "persona-payers".into(),
        title: "Payers by persona".into(),
        caption: "Share of each persona's users who bought at least once, with ARPU in currency units; a persona whose states have no purchase says it never pays.".into(),
        x_label: "share of the persona's users who paid".into(),
        bars: doc
            .personas
            .iter()
            .map(|(name, p)| Bar {
                label: name.clone(),
                value: p.payer_share.unwrap_or(0.0),
                text: if p.never_pays {
                    "never pays (no purchase step)".into()
                } else {
                    format!(
                        "{} payers · {} · ARPU {}",
                        num(p.payers as f64, 0),
                        p.payer_share.map_or("n/a".into(), pct),
                        num(p.arpu / 100.0, 2)
                    )
                },
            })
            .collect(),
    }
    .render()
}

fn money(doc: &MetricsDoc) -> Section {
    let days = &doc.engagement.days;
    let mut s = Section::new(
        "Revenue and points",
        "Purchases in currency units, and the loyalty points earned and redeemed, over time.",
    );
    if !doc.series.buckets.is_empty() {
        s.charts.push(buckets::revenue(doc));
        s.charts.push(buckets::points(doc));
        return s;
    }
    // A document older than the series: per UTC day.
    s.charts.push(
        TimeChart {
            id: "revenue".into(),
            title: "Revenue per day".into(),
            caption:
                "Sum of purchase amounts each day, in currency units (metrics.json: minor units)."
                    .into(),
            x: day_axis(days),
            y_label: "revenue (currency units)".into(),
            y_fmt: y_short,
            series: vec![
                Series::new(
                    "revenue",
                    "revenue",
                    days.iter()
                        .enumerate()
                        .map(|(i, d)| (i as f64, Some(d.revenue as f64 / 100.0)))
                        .collect(),
                )
                .mark(Mark::Columns { width: 1.0 })
                .agg(Agg::Mean),
            ],
        }
        .render(),
    );
    s.charts.push(
        TimeChart {
            id: "points".into(),
            title: "Points earned and redeemed per day".into(),
            caption: "Loyalty points credited (activity and goals) and spent each day.".into(),
            x: day_axis(days),
            y_label: "points".into(),
            y_fmt: y_short,
            series: vec![
                Series::new(
                    "points-earned",
                    "earned",
                    per_day(days, |d| Some(d.points_earned as f64)),
                ),
                Series::new(
                    "points-redeemed",
                    "redeemed",
                    per_day(days, |d| Some(d.points_redeemed as f64)),
                ),
            ],
        }
        .render(),
    );
    s
}
