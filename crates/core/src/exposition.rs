//! Prometheus' text exposition format (version 0.0.4), written by hand: the live metrics of
//! `run` and `replay` (`--metrics-addr`) are a few dozen families, and a formatter of ours
//! keeps a metrics crate and its registry out of the tree. Also the lock-free histogram
//! the hot paths record into. Pure: the binary serves the text.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// The content type a `/metrics` answer carries.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Latency buckets' upper bounds in seconds: Prometheus' default buckets with two below
/// 5 ms, where answers on a local network fall.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A metric family's type.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        }
    }
}

/// The exposition being written: families, each a `# HELP` and `# TYPE` line and its
/// samples.
#[derive(Default, Debug)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts family `name` (a counter's name ends in `_total`, and its samples use it).
    pub fn family(&mut self, name: &str, kind: Type, help: &str) -> &mut Self {
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {}", kind.name());
        self
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.text.push_str(name);
        write_labels(&mut self.text, labels, None);
        let _ = writeln!(self.text, " {}", number(value));
        self
    }

    /// A histogram's samples (`_bucket` cumulated, `_sum`, `_count`) under `labels`.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Snapshot) -> &mut Self {
        let mut cumulated = 0;
        for (i, n) in h.buckets.iter().enumerate() {
            cumulated += n;
            let le = h
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".into(), |b| number(*b));
            let _ = write!(self.text, "{name}_bucket");
            write_labels(&mut self.text, labels, Some(&le));
            let _ = writeln!(self.text, " {cumulated}");
        }
        let _ = write!(self.text, "{name}_sum");
        write_labels(&mut self.text, labels, None);
        let _ = writeln!(self.text, " {}", number(h.sum_seconds));
        let _ = write!(self.text, "{name}_count");
        write_labels(&mut self.text, labels, None);
        let _ = writeln!(self.text, " {}", h.count);
        self
    }

    pub fn finish(self) -> String {
        self.text
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    if labels.is_empty() && le.is_none() {
        return;
    }
    out.push('{');
    let le = le.map(|v| ("le", v));
    for (i, (k, v)) in labels.iter().copied().chain(le).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{k}=\"{}\"", escape_value(v));
    }
    out.push('}');
}

/// A sample value: integers without a fraction, the rest as Rust prints them.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A histogram recorded without a lock: a count per bucket (the last is +Inf) and the sum
/// in microseconds, each an atomic added to with `Relaxed` (a scrape may see a sum a
/// request ahead of its bucket; the next scrape agrees).
#[derive(Debug)]
pub struct AtomicHistogram {
    bounds_us: Vec<u64>,
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    sum_us: AtomicU64,
}

impl AtomicHistogram {
    /// Buckets at `bounds` (seconds, increasing) and one for everything above.
    pub fn new(bounds: &'static [f64]) -> AtomicHistogram {
        AtomicHistogram {
            bounds_us: bounds.iter().map(|b| (b * 1e6).round() as u64).collect(),
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }

    /// Records `us` microseconds.
    pub fn record(&self, us: u64) {
        let i = self.bounds_us.partition_point(|b| *b < us);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The values recorded so far.
    pub fn snapshot(&self) -> Snapshot {
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        Snapshot {
            count: buckets.iter().sum(),
            buckets,
            bounds: self.bounds,
            sum_seconds: self.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

/// A histogram's values at one instant.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Counts per bucket, not cumulated; the last is above every bound.
    pub buckets: Vec<u64>,
    pub bounds: &'static [f64],
    pub sum_seconds: f64,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_cumulates_its_buckets_and_ends_with_inf() {
        static BOUNDS: [f64; 2] = [0.001, 0.01];
        let h = AtomicHistogram::new(&BOUNDS);
        for us in [500, 1000, 1001, 20_000] {
            h.record(us);
        }
        let mut e = Exposition::default();
        e.family("x_seconds", Type::Histogram, "a test").histogram(
            "x_seconds",
            &[("kind", "a\"b")],
            &h.snapshot(),
        );
        let text = e.finish();
        assert!(text.contains("x_seconds_bucket{kind=\"a\\\"b\",le=\"0.001\"} 2\n"));
        assert!(text.contains("x_seconds_bucket{kind=\"a\\\"b\",le=\"0.01\"} 3\n"));
        assert!(text.contains("x_seconds_bucket{kind=\"a\\\"b\",le=\"+Inf\"} 4\n"));
        assert!(text.contains("x_seconds_count{kind=\"a\\\"b\"} 4\n"));
        assert!(text.contains("x_seconds_sum{kind=\"a\\\"b\"} 0.022501\n"));
        assert!(text.starts_with("# HELP x_seconds a test\n# TYPE x_seconds histogram\n"));
    }

    #[test]
    fn samples_print_integers_plainly() {
        let mut e = Exposition::default();
        e.family("n_total", Type::Counter, "n")
            .sample("n_total", &[], 3.0)
            .sample("n_total", &[("a", "b")], 0.5);
        assert_eq!(
            e.finish(),
            "# HELP n_total n\n# TYPE n_total counter\nn_total 3\nn_total{a=\"b\"} 0.5\n"
        );
    }
}
