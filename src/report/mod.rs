//! Single-file HTML reports: `report.html` beside a run's metrics.json, and the replay's
//! `--report FILE`, drawn from the same typed documents that are written to disk
//! (`MetricsDoc`, the replay `Summary`).
//!
//! Why SVG drawn here rather than a vendored chart library (uPlot, Chart.js): the file
//! opens offline and fetches nothing (its Content-Security-Policy forbids it, so a
//! mistake shows as a console error in the browser test); the same document gives a
//! byte-identical page (no script runs, no clock, ordered maps only), so it can be
//! diffed and tested like any other output; and there is no minified JavaScript to keep
//! up to date or audit. Every chart carries `data-chart`, and every drawn series
//! `data-series` and `data-points`, so a test counts what the browser rendered.
//!
//! It lives in the binary crate because it draws documents of two crates (core's metrics,
//! replay's summary) and only the binary sees both; it does no I/O: the commands write
//! the string it returns.

pub(crate) mod buckets;
pub(crate) mod chart;
pub mod downsample;
pub(crate) mod page;
pub mod replay;
pub mod run;
pub(crate) mod svg;

/// The most points a chart's series draws; longer series are averaged (or, for peaks
/// and percentiles, maxed) over runs of consecutive points (see [`downsample`]).
pub const MAX_POINTS: usize = 1000;
