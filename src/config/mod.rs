//! Configuration: raw serde types → validated types, every error located in its file.

pub mod scenario;
pub mod source;
pub mod words;

pub use scenario::{Overrides, Phase, PhaseKind, Scenario};
pub use source::{FieldPath, Problem, Problems, Source};
