//! What can stop a replay before or while it runs.

use simulate_core::diagnostic::Problem;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// What the user gave cannot be replayed (a target that does not resolve, a log line
    /// that is not an event): the problem and its fix.
    #[error("{0}")]
    BadInput(#[from] Problem),
    /// The replay could not run: a thread or the runtime would not start, the engine
    /// stopped.
    #[error("{0}")]
    Failed(String),
}
