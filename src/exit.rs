//! Exit codes, all in one place, and the error → code mapping `main` applies.
//!
//! 0 done, 1 failed, 2 bad input (the message says what to fix), 3 verify found a
//! mismatch, 4 capacity found the generator, not the target, to be the limit, 99 a gate
//! failed: a replay threshold (k6's code; for capacity: the first level already failed)
//! or a `compare --fail-if` rule, 130 interrupted (Ctrl-C).

use simulate_core::diagnostic::{Problem, Problems};
use simulate_db::DbError;
use simulate_replay::ReplayError;

pub(crate) const OK: i32 = 0;
pub(crate) const FAILED: i32 = 1;
pub(crate) const BAD_INPUT: i32 = 2;
pub(crate) const VERIFY_MISMATCH: i32 = 3;
/// `capacity`: the generator fell behind before the target failed; the level held is a
/// lower bound of the target's.
pub(crate) const GENERATOR_LIMIT: i32 = 4;
/// A replay threshold or a `compare --fail-if` rule failed: CI gates share one code.
pub(crate) const THRESHOLD_FAILED: i32 = 99;
pub(crate) const INTERRUPTED: i32 = 130;

/// The exit code of a command that failed with `e`, and the message to print for it.
/// Bad input ([`Problem`], [`Problems`], a database's or a replay's refusal) is printed
/// as rendered, with its fix: exit 2. Other failures, and bad input a command wrapped in
/// context of its own (a load that failed), with their chain of causes: exit 1.
pub fn of_error(e: &anyhow::Error) -> (i32, String) {
    if e.chain().next().is_some_and(is_bad_input) {
        (BAD_INPUT, format!("{e}"))
    } else {
        (FAILED, format!("{e:#}"))
    }
}

fn is_bad_input(e: &(dyn std::error::Error + 'static)) -> bool {
    e.is::<Problem>()
        || e.is::<Problems>()
        || matches!(e.downcast_ref::<DbError>(), Some(DbError::Refused(_)))
        || matches!(
            e.downcast_ref::<ReplayError>(),
            Some(ReplayError::BadInput(_))
        )
}
