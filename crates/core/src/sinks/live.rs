//! `run --metrics-addr`: the run's progress as atomics a scrape reads while the engine
//! writes (events, simulated time, users signed up), and their Prometheus exposition.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use crate::exposition::{Exposition, Type};
use crate::timeline::{Event, Props, Sink};

/// What a scrape of a run reads; shared between the sink (the engine's thread) and the
/// binary's server.
#[derive(Debug)]
pub struct RunGauges {
    events: AtomicU64,
    users: AtomicU64,
    sim_ms: AtomicI64,
    end_ms: i64,
    started: Instant,
    /// Wall microseconds from `started` to the run's end; 0 while it runs. The rate is
    /// over the run, so it stays put while the page lingers after the end.
    ended_us: AtomicU64,
}

impl RunGauges {
    /// A run of `end_ms` simulated milliseconds.
    pub fn new(end_ms: i64) -> Arc<RunGauges> {
        Arc::new(RunGauges {
            events: AtomicU64::new(0),
            users: AtomicU64::new(0),
            sim_ms: AtomicI64::new(0),
            end_ms,
            started: Instant::now(),
            ended_us: AtomicU64::new(0),
        })
    }

    /// The sink that keeps these figures; chain it in the run's `Tee`.
    pub fn sink(self: &Arc<Self>) -> LiveRun {
        LiveRun {
            gauges: Arc::clone(self),
            events: 0,
            users: 0,
        }
    }

    /// The exposition: events, their rate since the start, progress, users.
    pub fn render(&self) -> String {
        let events = self.events.load(Ordering::Relaxed) as f64;
        let sim_ms = self.sim_ms.load(Ordering::Relaxed);
        let wall = match self.ended_us.load(Ordering::Relaxed) {
            0 => self.started.elapsed().as_secs_f64(),
            us => us as f64 / 1e6,
        }
        .max(1e-9);
        let mut e = Exposition::default();
        e.family(
            "simulate_run_events_total",
            Type::Counter,
            "Timeline events written.",
        )
        .sample("simulate_run_events_total", &[], events);
        e.family(
            "simulate_run_events_per_second",
            Type::Gauge,
            "Events per wall second since the run started (over the whole run once it ended).",
        )
        .sample(
            "simulate_run_events_per_second",
            &[],
            (events / wall).round(),
        );
        e.family(
            "simulate_run_simulated_seconds",
            Type::Gauge,
            "Simulated time reached, from the timeline's start.",
        )
        .sample(
            "simulate_run_simulated_seconds",
            &[],
            sim_ms as f64 / 1000.0,
        );
        e.family(
            "simulate_run_progress_ratio",
            Type::Gauge,
            "Share of the world's span simulated (0 to 1).",
        )
        .sample(
            "simulate_run_progress_ratio",
            &[],
            (sim_ms as f64 / self.end_ms.max(1) as f64).clamp(0.0, 1.0),
        );
        e.family("simulate_run_users", Type::Gauge, "Users signed up so far.")
            .sample(
                "simulate_run_users",
                &[],
                self.users.load(Ordering::Relaxed) as f64,
            );
        e.finish()
    }
}

/// The sink: counts locally and publishes at each epoch (an atomic store per epoch, not
/// per event, so the engine's hot loop pays nothing).
pub struct LiveRun {
    gauges: Arc<RunGauges>,
    events: u64,
    users: u64,
}

impl LiveRun {
    fn publish(&self) {
        self.gauges.events.store(self.events, Ordering::Relaxed);
        self.gauges.users.store(self.users, Ordering::Relaxed);
    }
}

impl Sink for LiveRun {
    fn event(&mut self, event: &Event, _line: &[u8]) -> std::io::Result<bool> {
        self.events += 1;
        self.users += matches!(event.props, Props::SignedUp { .. }) as u64;
        Ok(true)
    }

    fn tick(&mut self, now_ms: i64) -> std::io::Result<()> {
        self.publish();
        self.gauges.sim_ms.store(now_ms, Ordering::Relaxed);
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.publish();
        let us = (self.gauges.started.elapsed().as_micros() as u64).max(1);
        self.gauges.ended_us.store(us, Ordering::Relaxed);
        Ok(())
    }
}
