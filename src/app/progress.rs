//! The console while a run works: a progress bar over simulated time, optional pacing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::timeline::{Event, Sink};
use crate::units::{DAY, MINUTE};

pub struct Progress {
    pub bar: ProgressBar,
    started: Instant,
    events: u64,
    /// Simulated ms per wall second; 0 = as fast as possible.
    pace: f64,
    end_ms: i64,
    /// Rows handed to a database so far, when seeding.
    rows: Option<Arc<AtomicU64>>,
}

impl Progress {
    /// Shows database rows and rows/s next to the events.
    pub fn with_rows(mut self, rows: Arc<AtomicU64>) -> Progress {
        self.rows = Some(rows);
        self
    }

    pub fn new(end_ms: i64, quiet: bool, pace: f64) -> Progress {
        let bar = ProgressBar::with_draw_target(
            Some((end_ms / MINUTE) as u64),
            if quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {msg} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        Progress {
            bar,
            started: Instant::now(),
            events: 0,
            pace,
            end_ms,
            rows: None,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Sink for Progress {
    fn event(&mut self, _e: &Event, _line: &[u8]) -> std::io::Result<bool> {
        self.events += 1;
        Ok(true)
    }

    fn tick(&mut self, now: i64) -> std::io::Result<()> {
        if self.pace > 0.0 {
            let due = Duration::from_secs_f64(now as f64 / self.pace);
            if let Some(wait) = due.checked_sub(self.started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        if now % (10 * MINUTE) == 0 || now == self.end_ms {
            let secs = self.started.elapsed().as_secs_f64().max(1e-9);
            self.bar.set_position((now / MINUTE) as u64);
            let rows = match &self.rows {
                Some(r) => {
                    let n = r.load(Ordering::Relaxed) as f64;
                    format!(" · {:.2} M rows · {:.0} k rows/s", n / 1e6, n / secs / 1e3)
                }
                None => String::new(),
            };
            self.bar.set_message(format!(
                "day {}/{} · {:.2} M events · {:.2} M ev/s{rows}",
                (now / DAY).min(self.end_ms / DAY - 1) + 1,
                self.end_ms / DAY,
                self.events as f64 / 1e6,
                self.events as f64 / secs / 1e6
            ));
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.bar.finish_and_clear();
        Ok(())
    }
}
