//! The one timeline every consumer reads: events, their JSON form, and the sink trait.

pub mod event;
pub mod json;

pub use event::*;
pub use json::LineWriter;

/// A consumer of the timeline. The engine pushes events in timeline order; a sink
/// returns `Ok(false)` to stop the run early (ripgrep's `Sink` shape).
pub trait Sink {
    /// One event and its JSON line (newline included).
    fn event(&mut self, event: &Event, line: &[u8]) -> std::io::Result<bool>;

    /// Called at each epoch boundary with the simulated time reached.
    fn tick(&mut self, _now_ms: i64) -> std::io::Result<()> {
        Ok(())
    }

    /// Called once after the last event.
    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
