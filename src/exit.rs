//! Exit codes, all in one place, and the error → code mapping `main` applies.
//!
//! 0 done, 1 failed, 2 bad input (the message says what to fix), 3 verify found a
//! mismatch, 99 a replay threshold failed (k6's code), 130 interrupted (Ctrl-C).

pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const BAD_INPUT: i32 = 2;
pub const VERIFY_MISMATCH: i32 = 3;
pub const THRESHOLD_FAILED: i32 = 99;
pub const INTERRUPTED: i32 = 130;

/// A failure the user can fix: printed as is, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The exit code of a command that failed with `e`, and the message to print for it.
/// Bad input is printed as written (it holds its own fix); other failures with their
/// chain of causes.
pub fn of_error(e: &anyhow::Error) -> (i32, String) {
    if e.downcast_ref::<BadInput>().is_some()
        || e.downcast_ref::<simulate_core::diagnostic::Problems>()
            .is_some()
    {
        (BAD_INPUT, format!("{e}"))
    } else {
        (FAILED, format!("{e:#}"))
    }
}
