//! The console while a run works: a progress bar over simulated time, optional pacing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use simulate_core::timeline::{Event, Sink};
use simulate_core::units::{DAY, MINUTE, SimDuration};

pub(crate) struct Progress {
    pub(crate) bar: ProgressBar,
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
    pub(crate) fn with_rows(mut self, rows: Arc<AtomicU64>) -> Progress {
        self.rows = Some(rows);
        self
    }

    pub(crate) fn new(end_ms: i64, quiet: bool, pace: f64) -> Progress {
        Progress::on(console_bar(quiet), end_ms, pace)
    }

    /// The bar over simulated time, drawn on `bar` (which may have shown steps before).
    pub(crate) fn on(bar: ProgressBar, end_ms: i64, pace: f64) -> Progress {
        bar.disable_steady_tick();
        bar.set_length((end_ms / MINUTE) as u64);
        bar.set_position(0);
        bar.set_message("");
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

    pub(crate) fn elapsed(&self) -> Duration {
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
            // Days for worlds of a day or more; simulated time for shorter ones.
            let days = (self.end_ms + DAY - 1) / DAY;
            let at = if self.end_ms < DAY {
                format!("{} of {}", SimDuration(now), SimDuration(self.end_ms))
            } else {
                format!("day {}/{days}", (now / DAY).min(days - 1) + 1)
            };
            self.bar.set_message(format!(
                "{at} · {:.2} M events · {:.2} M ev/s{rows}",
                self.events as f64 / 1e6,
                self.events as f64 / secs / 1e6
            ));
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        if self.rows.is_some() {
            // Seeding goes on after the last event: the sinks fold the end-of-window state
            // into rows, then the database builds its keys.
            show_step(
                &self.bar,
                "end-of-window state: goal progress, users, open sessions",
            );
        } else {
            self.bar.finish_and_clear();
        }
        Ok(())
    }
}

/// The console's bar on stderr, or a hidden one with `-q`.
pub(crate) fn console_bar(quiet: bool) -> ProgressBar {
    ProgressBar::with_draw_target(
        None,
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    )
}

/// Shows `name` as the step under way: a spinner and the elapsed time, since the steps
/// around the timeline (migrations, key builds, the swap) have no count to show.
pub(crate) fn show_step(bar: &ProgressBar, name: &str) {
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(name.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
}

/// Clears the bar however the command ends, so an error or the final report never prints
/// below a stale spinner.
pub(crate) struct ClearOnDrop(pub ProgressBar);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
