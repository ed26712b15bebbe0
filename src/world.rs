//! The world flags (`--users`, `--span`/`--days`, `--seed`, `--personas`, `--scenario`,
//! `--start`) every command shares: loaded into personas and a scenario, and compared with
//! the world a database was seeded from.

use std::path::PathBuf;

use simulate_core::persona::{self, Persona};
use simulate_core::scenario::{Overrides, Scenario};
use simulate_core::units::{Span, parse_start};

use simulate_db::WorldConfig;

use crate::cli::WorldArgs;

/// Personas and scenario from the shared world flags.
pub(crate) fn load_world(w: &WorldArgs) -> anyhow::Result<(Vec<Persona>, Scenario)> {
    // Their shares are checked with the scenario, whose [mix] may replace them.
    let personas = persona::load_unmixed(w.personas.as_deref())?;
    let over = Overrides {
        users: w.users,
        days: w.days,
        span: w.span.clone(),
        seed: w.seed,
        start: w.start.clone(),
    };
    let scenario = Scenario::load(w.scenario.as_deref(), &over, &personas)?;
    // Said, not refused: the world runs, but not as the scenario meant it.
    for w in &scenario.warnings {
        eprintln!("warning: {w}");
    }
    Ok((personas, scenario))
}

/// The world recorded in a seed's run_meta, and each given flag that differs from it.
pub(crate) fn world_clashes(config: &WorldConfig, given: &WorldArgs) -> (WorldArgs, Vec<String>) {
    let meta_span = config.length.span();
    let meta = WorldArgs {
        users: Some(config.users),
        days: None,
        span: meta_span.map(|s| s.to_string()),
        seed: Some(config.seed),
        personas: config.personas_dir.as_ref().map(PathBuf::from),
        scenario: config.scenario_file.as_ref().map(PathBuf::from),
        start: Some(config.start.clone()),
    };
    let mut clash = Vec::new();
    let mut cmp = |flag: &str, given: Option<String>, meta: Option<String>| {
        if let Some(g) = given
            && Some(&g) != meta.as_ref()
        {
            clash.push(format!(
                "{flag} {g} (the seed used {})",
                meta.unwrap_or_else(|| "the default".into())
            ));
        }
    };
    cmp(
        "--users",
        given.users.map(|v| v.to_string()),
        meta.users.map(|v| v.to_string()),
    );
    cmp(
        "--seed",
        given.seed.map(|v| v.to_string()),
        meta.seed.map(|v| v.to_string()),
    );
    // Starts compare as instants: `2026-01-05T00:00Z` is `2026-01-05`.
    let instant = |t: &Option<String>| {
        t.as_deref()
            .map(|t| parse_start(t).map_or_else(|_| t.to_string(), |s| s.text))
    };
    cmp("--start", instant(&given.start), instant(&meta.start));
    cmp(
        "--personas",
        given.personas.as_ref().map(|p| p.display().to_string()),
        meta.personas.as_ref().map(|p| p.display().to_string()),
    );
    cmp(
        "--scenario",
        given.scenario.as_ref().map(|p| p.display().to_string()),
        meta.scenario.as_ref().map(|p| p.display().to_string()),
    );
    // Lengths compare as spans: `--days 3` and `--span 72h` are the same world.
    for (flag, text, span) in [
        (
            "--span",
            given.span.clone(),
            given.span.as_deref().map(Span::parse),
        ),
        (
            "--days",
            given.days.map(|d| d.to_string()),
            given.days.map(Span::from_days),
        ),
    ] {
        if let (Some(text), Some(span)) = (text, span)
            && span.ok() != meta_span
        {
            let seeded = meta_span.map_or_else(|| "the default".into(), |s| s.to_string());
            clash.push(format!("{flag} {text} (the seed used {seeded})"));
        }
    }
    (meta, clash)
}
