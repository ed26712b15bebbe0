//! Where a load's time went, phase by phase: `seed --into` prints them (unless `-q`) so a
//! slow load says whether the engine, our rendering, the server's COPY or the manifest's
//! bookkeeping took the time (docs/PERFORMANCE.md, "`seed --into` the team's tables").

use std::time::{Duration, Instant};

/// The phases of one load in the order they ran: a name and its seconds.
#[derive(Debug, Default, Clone)]
pub struct Phases(pub Vec<(String, f64)>);

impl Phases {
    /// Records a phase that took `d`.
    pub fn add(&mut self, name: impl Into<String>, d: Duration) {
        self.0.push((name.into(), d.as_secs_f64()));
    }

    /// Records a phase that began at `t` and ends now.
    pub fn since(&mut self, name: impl Into<String>, t: Instant) {
        self.add(name, t.elapsed());
    }
}
