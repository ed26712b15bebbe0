//! Everything the binary shows while it works: progress bars and steps, the replay's
//! live line and end table.

pub mod capacity;
pub mod compare;
pub mod metrics;
pub mod progress;
pub mod replay;
pub mod replicates;
