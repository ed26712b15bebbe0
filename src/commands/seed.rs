//! `simulate seed`: the timeline projected into PostgreSQL (COPY) or an SQLite file.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use super::refused;
use crate::cli::SeedArgs;
use crate::console::progress::{ClearOnDrop, Progress, console_bar, show_step};
use crate::exit;
use crate::world::load_world;
use simulate_core::diagnostic::Problem;
use simulate_core::engine::{Engine, RunTotals, World};
use simulate_core::redact::mask_url;
use simulate_core::scenario::Scenario;
use simulate_core::sinks::jsonl::{Format, JsonlSink};
use simulate_core::sinks::tee::Tee;
use simulate_core::units::SpanRecord;
use simulate_db::owner::Verdict;
use simulate_db::postgres::{Pg, PgLoader};
use simulate_db::projection::{Projection, RowSink, Table};
use simulate_db::sqlite::{SqliteLoader, replaceable, stale_partials};
use simulate_db::{DbError, Steps};
use simulate_db::{RunMeta, WorldConfig};

/// Where the rows go.
enum Loader {
    Pg(PgLoader),
    Sqlite(SqliteLoader),
}

impl RowSink for Loader {
    fn rows(
        &mut self,
        table: Table,
        lane: usize,
        chunk: Vec<u8>,
        rows: u64,
    ) -> std::io::Result<()> {
        match self {
            Loader::Pg(l) => l.rows(table, lane, chunk, rows),
            Loader::Sqlite(l) => l.rows(table, lane, chunk, rows),
        }
    }

    fn lanes(&self, table: Table) -> usize {
        match self {
            Loader::Pg(l) => l.lanes(table),
            Loader::Sqlite(l) => l.lanes(table),
        }
    }

    fn binary(&self) -> bool {
        match self {
            Loader::Pg(l) => l.binary(),
            Loader::Sqlite(l) => l.binary(),
        }
    }
}

pub fn seed(args: SeedArgs) -> anyhow::Result<i32> {
    if let Some(into) = args.into.clone() {
        return super::seed_into::seed(&args, &into);
    }
    let (personas, scenario) = load_world(&args.world)?;
    let threads = super::threads(args.threads)?;
    let url = args.db.url();
    let started = Instant::now();
    let sqlite_path = args.db.sqlite_path();
    // Look before touching anything: refuse, and change nothing, when data is in the way.
    let pg = match &url {
        Some(url) => Some(inspect_postgres(&args, url)?),
        None => {
            inspect_sqlite(&args, &sqlite_path)?;
            None
        }
    };

    let bar = console_bar(args.quiet);
    let clear = ClearOnDrop(bar.clone());
    let stop = super::interrupt_flag();
    let mut steps = Steps::new(stop.clone(), {
        let bar = bar.clone();
        move |name: &str| show_step(&bar, name)
    });
    if steps.start("schema, migrations").is_err() {
        eprintln!("interrupted: nothing was changed");
        return Ok(exit::INTERRUPTED);
    }
    let loader = match &pg {
        Some(pg) => {
            pg.prepare(args.unlogged).map_err(refused)?;
            Loader::Pg(pg.loader())
        }
        None => Loader::Sqlite(SqliteLoader::create(&sqlite_path).map_err(refused)?),
    };

    // A Ctrl-C before this is the engine's to see: it stops at once, and the load is
    // abandoned below.
    let _ = steps.start("generate and copy");
    let world = World::new(personas.clone(), scenario.clone(), true)?;
    let mut engine = Engine::new(world, threads);
    let mut projection = Projection::new(loader, &personas, &scenario);
    let mut checksum = JsonlSink::create(None, Format::None)?;
    let mut progress = Progress::on(bar, scenario.end_ms(), 0.0).with_rows(projection.sent());
    let result = {
        // Progress first: its finish names the end-of-window fold the projection's runs.
        let mut sinks = Tee(vec![&mut progress, &mut projection, &mut checksum]);
        engine.run(&mut sinks, &stop)
    };
    let loader = projection.into_inner();
    let totals = match result {
        Ok(t) if !t.interrupted => t,
        other => {
            drop(clear);
            return abandon(loader, pg.as_ref(), other);
        }
    };
    let meta = run_meta(&args, &scenario, &totals, checksum.checksum());
    let done = match loader {
        Loader::Pg(l) => {
            let pg = pg.as_ref().context("PostgreSQL target")?;
            let done = pg.complete(l, &meta, &mut steps);
            if done.is_err() {
                pg.abandon();
            }
            done
        }
        Loader::Sqlite(l) => l.complete(&meta, &mut steps),
    };
    let counts = match done {
        Ok(counts) => counts,
        Err(DbError::Interrupted) => {
            drop(clear);
            return Ok(interrupted());
        }
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context("the load failed; the previous data is untouched")
            );
        }
    };
    drop(clear);
    if !args.quiet {
        for (step, secs) in &steps.done {
            eprintln!("  {step:<38} {secs:8.2} s");
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let rows: u64 = counts.iter().map(|c| c.1).sum();
    outln!(
        "done in {wall:.2} s: {rows} rows ({:.0} rows/s), {} events from {} users over {}, sha256 {}",
        rows as f64 / wall.max(1e-9),
        totals.events,
        totals.signed_up,
        scenario.span,
        meta.checksum
    );
    tell(&args, &counts, pg.as_ref(), url.as_deref(), &sqlite_path);
    Ok(exit::OK)
}

/// The PostgreSQL schema to load into, refused (and nothing changed) when what is there
/// is not ours to replace.
fn inspect_postgres(args: &SeedArgs, url: &str) -> anyhow::Result<Pg> {
    refuse_schema_name(&args.db.schema)?;
    let pg = Pg::open(url, &args.db.schema).map_err(refused)?;
    let found = pg.inspect().map_err(refused)?;
    // Only a schema proven ours is ever replaced, --reset or not: see simulate_db::owner.
    if let (Some(n), Some(verdict)) = (found.tables, &found.verdict)
        && !verdict.seeded()
    {
        let holds = match n {
            0 => "is empty".to_string(),
            1 => format!("holds 1 relation, {}", found.names),
            n => format!(
                "holds {n} relations: {}{}",
                found.names,
                if n > 5 { ", …" } else { "" }
            ),
        };
        let why = match verdict {
            Verdict::NotOurs(why) => (*why).to_string(),
            other => other.readable().err().unwrap_or_default(),
        };
        return Err(Problem::new(
            format!(
                "schema `{}` in {} was not made by simulate as a seed ({why}); it {holds}; nothing was changed",
                pg.schema, pg.masked
            ),
            "choose another --schema: simulate creates and owns its own (default simulate)",
        )
        .into());
    }
    if let Some(n) = found.tables.filter(|n| *n > 0)
        && !args.reset
    {
        return Err(Problem::new(
            format!(
                "schema `{}` in {} already holds {n} tables; nothing was changed",
                pg.schema, pg.masked
            ),
            "add --reset to drop and re-create what simulate owns there, or choose another --schema",
        )
        .into());
    }
    if let Some(owner) = &found.owner_not_us
        && args.reset
    {
        return Err(Problem::new(
            format!(
                "schema `{}` in {} belongs to role `{owner}`, and `{}` may not drop it; nothing was changed",
                pg.schema, pg.masked, found.user
            ),
            format!("connect as `{owner}` (or a superuser), or choose another --schema"),
        )
        .into());
    }
    if found.foreign_staging {
        return Err(Problem::new(
            format!(
                "schema `{}` exists in {} and was not made by simulate; nothing was changed",
                pg.staging, pg.masked
            ),
            "choose another --schema",
        )
        .into());
    }
    if found.stale_staging && !args.quiet {
        eprintln!(
            "found an interrupted load (schema `{}`); it never replaced `{}`, so the data there is as before. Removing it.",
            pg.staging, pg.schema
        );
    }
    Ok(pg)
}

/// Schema names never seeded: `public` (the database's default; simulate replaces the
/// whole schema it seeds) and `…__staging` (simulate's own staging schemas).
fn refuse_schema_name(schema: &str) -> Result<(), Problem> {
    if schema == "public" {
        return Err(Problem::new(
            "--schema public is refused, with or without --reset: it is the database's default schema, and simulate replaces the whole schema it seeds; nothing was changed",
            "leave out --schema (simulate creates and owns its own, default simulate), or name another",
        ));
    }
    if schema.ends_with("__staging") {
        return Err(Problem::new(
            format!(
                "--schema {schema} is refused: names ending in __staging are simulate's staging schemas (a load in progress); nothing was changed"
            ),
            "name the schema to seed, e.g. --schema simulate",
        ));
    }
    Ok(())
}

/// The SQLite file to write, refused (and nothing changed) when one is in the way.
fn inspect_sqlite(args: &SeedArgs, path: &Path) -> anyhow::Result<()> {
    if args.unlogged {
        return Err(Problem::new(
            "--unlogged is for PostgreSQL (the SQLite file keeps no WAL)",
            "pass --database-url URL, or leave out --unlogged",
        )
        .into());
    }
    if path.exists() && !args.reset {
        return Err(Problem::new(
            format!("{} already exists; nothing was changed", path.display()),
            "add --reset to replace it, choose another --sqlite path, or pass --database-url for PostgreSQL",
        )
        .into());
    }
    if path.exists()
        && let Err(why) = replaceable(path)
    {
        return Err(Problem::new(
            format!(
                "{} {why}: --reset replaces only a file simulate wrote; nothing was changed",
                path.display()
            ),
            "choose another --sqlite path, or move it away yourself",
        )
        .into());
    }
    if !args.quiet {
        for stale in stale_partials(path) {
            eprintln!(
                "found an interrupted load ({}); {} was never replaced by it. Removing it.",
                stale.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// An engine run that stopped: the partial load discarded, and why, in the database's
/// own words when a COPY stream broke (they say more than the engine's "stopped
/// accepting rows").
fn abandon(
    loader: Loader,
    pg: Option<&Pg>,
    ran: std::io::Result<RunTotals>,
) -> anyhow::Result<i32> {
    let cause = match (loader, pg) {
        (Loader::Pg(l), Some(pg)) => pg.abandon_load(l),
        (Loader::Sqlite(l), _) => {
            l.abandon();
            None
        }
        (Loader::Pg(_), None) => None,
    };
    match ran {
        Err(e) => {
            let e = match cause {
                Some(db) => anyhow::Error::new(db),
                None => anyhow::Error::new(e),
            };
            Err(e.context("the load failed; the previous data is untouched"))
        }
        Ok(_) => Ok(interrupted()),
    }
}

/// What run_meta records: the world, so `verify` can regenerate the timeline.
fn run_meta(args: &SeedArgs, scenario: &Scenario, totals: &RunTotals, checksum: String) -> RunMeta {
    let shown = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    RunMeta {
        version: env!("CARGO_PKG_VERSION").to_string(),
        config: WorldConfig {
            scenario: scenario.name.clone(),
            scenario_file: shown(&args.world.scenario),
            personas_dir: shown(&args.world.personas),
            users: scenario.users,
            length: SpanRecord::of(scenario.span),
            seed: scenario.seed,
            start: scenario.start_text.clone(),
        },
        seed: scenario.seed,
        users: scenario.users,
        days: scenario.span.days_ceil(),
        events: totals.events,
        checksum,
        complete: true,
    }
}

/// Rows per table, where they went, and how to look at them.
fn tell(
    args: &SeedArgs,
    counts: &[(Table, u64)],
    pg: Option<&Pg>,
    url: Option<&str>,
    sqlite_path: &Path,
) {
    // One line per table; a table loaded over several COPY streams says how many.
    let mut per_table: Vec<(&str, u64, usize)> = Vec::new();
    for (table, n) in counts {
        match per_table.iter_mut().find(|t| t.0 == table.name()) {
            Some(t) => {
                t.1 += n;
                t.2 += 1;
            }
            None => per_table.push((table.name(), *n, 1)),
        }
    }
    for (name, n, streams) in per_table {
        let note = if streams > 1 {
            format!("  ({streams} COPY streams)")
        } else {
            String::new()
        };
        outln!("  {name:<20} {n:>12}{note}");
    }
    match (pg, url) {
        (Some(pg), Some(url)) => outln!(
            "loaded into schema `{}` of {}{}\n  query: psql \"{}\" -c 'SET search_path TO {}; SELECT persona, count(*) FROM users GROUP BY 1'",
            pg.schema,
            pg.masked,
            if args.unlogged {
                " as UNLOGGED tables (a server crash empties them)"
            } else {
                ""
            },
            mask_url(url),
            pg.schema
        ),
        _ => outln!(
            "wrote {}\n  query: sqlite3 {} 'SELECT persona, count(*) FROM users GROUP BY 1'",
            sqlite_path.display(),
            sqlite_path.display()
        ),
    }
}

/// Ctrl-C during a load: nothing of it was swapped in.
fn interrupted() -> i32 {
    eprintln!("interrupted: the partial load was discarded; the previous data is untouched");
    exit::INTERRUPTED
}
