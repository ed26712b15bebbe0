//! `replay --concurrency N`: the world's size from the sessions it must hold open at once.
//!
//! The search itself is `simulate_core::sizing`; this module builds each candidate world
//! from the replay's own flags (the same window, scenario, personas and seed), so the size
//! printed is the one the replay then sends.

use simulate_core::engine::{Engine, World};
use simulate_core::sizing::{self, Sizing};
use simulate_core::units::timeline_clock;
use simulate_replay::summary::ConcurrencySizing;

use super::replay::{parse_window, replay_world};
use crate::cli::ReplayArgs;

/// The users whose window has `target` sessions open at its busiest instant.
pub(crate) fn size(args: &ReplayArgs, target: u64) -> anyhow::Result<Sizing> {
    if target == 0 || target > u64::from(sizing::MAX_USERS) {
        return Err(simulate_core::diagnostic::Problem::new(
            format!("--concurrency {target} is out of range"),
            format!("use 1 to {}", sizing::MAX_USERS),
        )
        .into());
    }
    let threads = super::threads(args.threads)?;
    let start = replay_world(args)?.1.users;
    let quiet = args.quiet;
    let found = sizing::users_for(target, start, |users| -> anyhow::Result<(u64, i64)> {
        let mut a = args.clone();
        a.world.users = Some(users);
        let (personas, scenario) = replay_world(&a)?;
        let end = scenario.end_ms();
        let window = match &a.window {
            Some(w) => parse_window(w, end)?,
            None => simulate_replay::source::Window {
                from_ms: 0,
                to_ms: end,
            },
        };
        let mut engine = Engine::new(World::new(personas, scenario, false)?, threads);
        let (peak, at) = sizing::peak_open(&mut engine, window.from_ms, window.to_ms.min(end))?;
        if !quiet {
            eprintln!("  sizing: {users} users → {peak} sessions open at the peak");
        }
        Ok((peak, at))
    })?;
    Ok(found)
}

/// The sizing as the summary records it, and the line the console prints.
pub(crate) fn record(s: &Sizing) -> (ConcurrencySizing, String) {
    let c = s.chosen;
    let line = format!(
        "--concurrency {}: {} users, {} sessions open at the window's peak (t = {}; {} sizes tried)",
        s.target,
        c.users,
        c.peak,
        timeline_clock(c.peak_at_ms),
        s.tried.len()
    );
    let rec = ConcurrencySizing {
        target: s.target,
        users: c.users,
        peak: c.peak,
        peak_at_ms: c.peak_at_ms,
        tried: s
            .tried
            .iter()
            .map(|t| [u64::from(t.users), t.peak])
            .collect(),
    };
    (rec, line)
}
