//! The run report's charts over simulated time, drawn from metrics.json's `series` (one
//! point per bucket of `--resolution`): active users and sessions open, events by kind,
//! conversions and revenue, points earned and redeemed.

use simulate_core::sinks::metrics::document::{MetricsDoc, SeriesBucket};

use super::chart::{Mark, Series, TimeChart, XAxis, y_short};
use super::downsample::Agg;
use super::svg::num;

const HOUR: f64 = 3_600_000.0;

/// Simulated time on the horizontal axis: hours for spans up to three days, days beyond.
fn time_axis(doc: &MetricsDoc) -> (XAxis, f64) {
    let span = doc.window.span_ms.max(1) as f64;
    let (unit, label, every) = if span <= 72.0 * HOUR {
        (HOUR, "simulated time since the start (h)", 1.0)
    } else {
        (24.0 * HOUR, "simulated time since the start (days)", 1.0)
    };
    let axis = XAxis {
        label: label.into(),
        lo: 0.0,
        hi: span / unit,
        every: Some(every),
        fmt: Box::new(|t| num(t, 1)),
    };
    (axis, unit)
}

/// One value per bucket, at the bucket's start.
fn per_bucket(
    doc: &MetricsDoc,
    unit: f64,
    f: impl Fn(&SeriesBucket) -> f64,
) -> Vec<(f64, Option<f64>)> {
    doc.series
        .buckets
        .iter()
        .map(|b| (b.t_ms as f64 / unit, Some(f(b))))
        .collect()
}

fn caption(doc: &MetricsDoc, what: &str) -> String {
    format!(
        "{what} Per bucket of {} ({} buckets; metrics.json `series`).",
        doc.series.resolution,
        doc.series.buckets.len()
    )
}

/// Active users, and sessions open (the peak of each bucket).
pub(crate) fn activity(doc: &MetricsDoc) -> String {
    let (x, unit) = time_axis(doc);
    TimeChart {
        id: "activity-series".into(),
        title: "Active users and sessions open over time".into(),
        caption: caption(
            doc,
            "Users with an event in each bucket, and the most sessions open at once in it.",
        ),
        x,
        y_label: "users / sessions".into(),
        y_fmt: y_short,
        series: vec![
            Series::new(
                "series-active-users",
                "active users",
                per_bucket(doc, unit, |b| b.active_users as f64),
            ),
            Series::new(
                "series-sessions-open",
                "sessions open (peak)",
                per_bucket(doc, unit, |b| b.sessions_open_peak as f64),
            )
            .agg(Agg::Max),
        ],
    }
    .render()
}

/// All events per bucket and the four most frequent kinds.
pub(crate) fn events(doc: &MetricsDoc) -> String {
    let (x, unit) = time_axis(doc);
    let mut kinds: Vec<(&String, &u64)> = doc.events.by_kind.iter().filter(|k| *k.1 > 0).collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut series = vec![Series::new(
        "series-events",
        "all events",
        per_bucket(doc, unit, |b| b.events as f64),
    )];
    for (kind, _) in kinds.into_iter().take(4) {
        series.push(Series::new(
            &format!("series-events-{kind}"),
            kind,
            per_bucket(doc, unit, |b| {
                b.events_by_kind.get(kind.as_str()).copied().unwrap_or(0) as f64
            }),
        ));
    }
    TimeChart {
        id: "events-series".into(),
        title: "Events over time".into(),
        caption: caption(doc, "All events, and the four most frequent kinds."),
        x,
        y_label: "events per bucket".into(),
        y_fmt: y_short,
        series,
    }
    .render()
}

/// Revenue per bucket (columns) with the users converting in it.
pub(crate) fn revenue(doc: &MetricsDoc) -> String {
    let (x, unit) = time_axis(doc);
    let width = doc.series.resolution_ms as f64 / unit;
    TimeChart {
        id: "revenue".into(),
        title: "Revenue and conversions over time".into(),
        caption: caption(
            doc,
            "Purchases in currency units (metrics.json: minor units), and users making their first purchase.",
        ),
        x,
        y_label: "currency units / users".into(),
        y_fmt: y_short,
        series: vec![
            Series::new(
                "revenue",
                "revenue (currency units)",
                per_bucket(doc, unit, |b| b.revenue as f64 / 100.0),
            )
            .mark(Mark::Columns { width }),
            Series::new(
                "series-conversions",
                "first purchases (users)",
                per_bucket(doc, unit, |b| b.conversions as f64),
            ),
        ],
    }
    .render()
}

/// Points earned and redeemed per bucket.
pub(crate) fn points(doc: &MetricsDoc) -> String {
    let (x, unit) = time_axis(doc);
    TimeChart {
        id: "points".into(),
        title: "Points earned and redeemed over time".into(),
        caption: caption(
            doc,
            "Loyalty points credited (activity and goals) and spent.",
        ),
        x,
        y_label: "points per bucket".into(),
        y_fmt: y_short,
        series: vec![
            Series::new(
                "points-earned",
                "earned",
                per_bucket(doc, unit, |b| b.points_earned as f64),
            ),
            Series::new(
                "points-redeemed",
                "redeemed",
                per_bucket(doc, unit, |b| b.points_redeemed as f64),
            ),
        ],
    }
    .render()
}
