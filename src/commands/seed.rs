//! `simulate seed`: the timeline projected into PostgreSQL (COPY) or an SQLite file.

use std::time::Instant;

use anyhow::Context;
use serde_json::json;

use super::refused;
use crate::cli::SeedArgs;
use crate::console::progress::{ClearOnDrop, Progress, console_bar, show_step};
use crate::exit::{self, BadInput};
use crate::world::load_world;
use simulate_core::engine::{Engine, World};
use simulate_core::redact::mask_url;
use simulate_core::sinks::fanout::Fanout;
use simulate_core::sinks::jsonl::{Format, JsonlSink};
use simulate_db::RunMeta;
use simulate_db::owner::Verdict;
use simulate_db::postgres::{Pg, PgLoader};
use simulate_db::projection::{Projection, RowSink, Table};
use simulate_db::sqlite::{SqliteLoader, replaceable, stale_partials};
use simulate_db::{DbError, Steps};

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

#[expect(clippy::too_many_lines, reason = "issue 17 cuts it into named steps")]
pub fn seed(args: SeedArgs) -> anyhow::Result<i32> {
    let (personas, scenario) = load_world(&args.world)?;
    let threads = super::threads(args.threads)?;
    let url = args.db.url();
    let started = Instant::now();

    // Look before touching anything: refuse, and change nothing, when data is in the way.
    let sqlite_path = args.db.sqlite_path();
    let pg = match &url {
        Some(url) => {
            if args.db.schema == "public" {
                return Err(BadInput(
                    "--schema public is refused, with or without --reset: it is the database's default schema, and simulate replaces the whole schema it seeds; nothing was changed\n    fix: leave out --schema (simulate creates and owns its own, default simulate), or name another".into(),
                )
                .into());
            }
            if args.db.schema.ends_with("__staging") {
                return Err(BadInput(format!(
                    "--schema {} is refused: names ending in __staging are simulate's staging schemas (a load in progress); nothing was changed\n    fix: name the schema to seed, e.g. --schema simulate",
                    args.db.schema
                ))
                .into());
            }
            let pg = Pg::open(url, &args.db.schema).map_err(refused)?;
            let found = pg.inspect().map_err(refused)?;
            // Only a schema proven ours is ever replaced, --reset or not: see sinks::sql::owner.
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
                return Err(BadInput(format!(
                    "schema `{}` in {} was not made by simulate as a seed ({why}); it {holds}; nothing was changed\n    fix: choose another --schema: simulate creates and owns its own (default simulate)",
                    pg.schema, pg.masked
                ))
                .into());
            }
            if let Some(n) = found.tables.filter(|n| *n > 0)
                && !args.reset
            {
                return Err(BadInput(format!(
                    "schema `{}` in {} already holds {n} tables; nothing was changed\n    fix: add --reset to drop and re-create what simulate owns there, or choose another --schema",
                    pg.schema, pg.masked
                ))
                .into());
            }
            if let Some(owner) = &found.owner_not_us
                && args.reset
            {
                return Err(BadInput(format!(
                    "schema `{}` in {} belongs to role `{owner}`, and `{}` may not drop it; nothing was changed\n    fix: connect as `{owner}` (or a superuser), or choose another --schema",
                    pg.schema, pg.masked, found.user
                ))
                .into());
            }
            if found.foreign_staging {
                return Err(BadInput(format!(
                    "schema `{}` exists in {} and was not made by simulate; nothing was changed\n    fix: choose another --schema",
                    pg.staging, pg.masked
                ))
                .into());
            }
            if found.stale_staging && !args.quiet {
                eprintln!(
                    "found an interrupted load (schema `{}`); it never replaced `{}`, so the data there is as before. Removing it.",
                    pg.staging, pg.schema
                );
            }
            Some(pg)
        }
        None => {
            if args.unlogged {
                return Err(BadInput(
                    "--unlogged is for PostgreSQL (the SQLite file keeps no WAL)\n    fix: pass --database-url URL, or leave out --unlogged".into(),
                )
                .into());
            }
            let path = &sqlite_path;
            if path.exists() && !args.reset {
                return Err(BadInput(format!(
                    "{} already exists; nothing was changed\n    fix: add --reset to replace it, choose another --sqlite path, or pass --database-url for PostgreSQL",
                    path.display()
                ))
                .into());
            }
            if path.exists()
                && let Err(why) = replaceable(path)
            {
                return Err(BadInput(format!(
                    "{} {why}: --reset replaces only a file simulate wrote; nothing was changed\n    fix: choose another --sqlite path, or move it away yourself",
                    path.display()
                ))
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
    let world = World::new(personas.clone(), scenario.clone(), true).map_err(BadInput)?;
    let mut engine = Engine::new(world, threads);
    let mut projection = Projection::new(loader, &personas, &scenario);
    let mut checksum = JsonlSink::create(None, Format::None)?;
    let mut progress = Progress::on(bar, scenario.end_ms(), 0.0).with_rows(projection.sent());
    let result = {
        // Progress first: its finish names the end-of-window fold the projection's runs.
        let mut sinks = Fanout(vec![&mut progress, &mut projection, &mut checksum]);
        engine.run(&mut sinks, &stop)
    };
    let loader = projection.into_inner();
    let totals = match result {
        Ok(t) if !t.interrupted => t,
        other => {
            drop(clear);
            // The database's own words, when a COPY stream broke, say more than the
            // engine's "stopped accepting rows".
            let cause = match (loader, &pg) {
                (Loader::Pg(l), Some(pg)) => pg.abandon_load(l),
                (Loader::Sqlite(l), _) => {
                    l.abandon();
                    None
                }
                (Loader::Pg(_), None) => None,
            };
            return match other {
                Err(e) => {
                    let e = match cause {
                        Some(db) => anyhow::Error::new(db),
                        None => anyhow::Error::new(e),
                    };
                    Err(e.context("the load failed; the previous data is untouched"))
                }
                Ok(_) => Ok(interrupted()),
            };
        }
    };

    let meta = RunMeta {
        version: env!("CARGO_PKG_VERSION").to_string(),
        config: json!({
            "scenario": scenario.name,
            "scenario_file": args.world.scenario.as_ref().map(|p| p.display().to_string()),
            "personas_dir": args.world.personas.as_ref().map(|p| p.display().to_string()),
            "users": scenario.users,
            "days": scenario.span.days_ceil(),
            "span": scenario.span.to_string(),
            "span_ms": scenario.span.ms(),
            "seed": scenario.seed,
            "start": scenario.start_text,
        }),
        seed: scenario.seed,
        users: scenario.users,
        days: scenario.span.days_ceil(),
        events: totals.events,
        checksum: checksum.checksum(),
        complete: true,
    };
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
    let wall = started.elapsed().as_secs_f64();
    let rows: u64 = counts.iter().map(|c| c.1).sum();

    if !args.quiet {
        for (step, secs) in &steps.done {
            eprintln!("  {step:<38} {secs:8.2} s");
        }
    }
    outln!(
        "done in {wall:.2} s: {rows} rows ({:.0} rows/s), {} events from {} users over {}, sha256 {}",
        rows as f64 / wall.max(1e-9),
        totals.events,
        totals.signed_up,
        scenario.span,
        meta.checksum
    );
    // One line per table; a table loaded over several COPY streams says how many.
    let mut per_table: Vec<(&str, u64, usize)> = Vec::new();
    for (table, n) in &counts {
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
    match (&pg, &url) {
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
    Ok(0)
}

/// Ctrl-C during a load: nothing of it was swapped in.
fn interrupted() -> i32 {
    eprintln!("interrupted: the partial load was discarded; the previous data is untouched");
    exit::INTERRUPTED
}
