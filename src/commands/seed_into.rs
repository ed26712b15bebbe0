//! `simulate seed --into seed.toml`, `simulate clean --into`, `simulate verify --into`:
//! the timeline in the team's own tables (docs/SEEDING.md, "Your own tables"). The work
//! is `simulate_db::into`'s; this module runs the engine, prints and picks exit codes.

use std::path::Path;
use std::time::Instant;

use super::refused;
use crate::cli::{CleanArgs, DbArgs, SeedArgs, VerifyArgs};
use crate::console::progress::{ClearOnDrop, Progress, console_bar, show_step};
use crate::exit;
use crate::world::load_world;
use simulate_core::diagnostic::{Problem, Source};
use simulate_core::engine::{Engine, World};
use simulate_core::persona::{self, Persona};
use simulate_core::sinks::jsonl::{Format, JsonlSink};
use simulate_core::sinks::tee::Tee;
use simulate_core::units::SpanRecord;
use simulate_core::world::entities::EntityIds;
use simulate_core::world::kinds::KindTable;
use simulate_core::world::pools::Team;
use simulate_db::WorldConfig;
use simulate_db::into::manifest::Record;
use simulate_db::into::spool::Spool;
use simulate_db::into::{Backend, Db, Existing, IntoError, LoadOpts, Phases, SeedMap};
use simulate_db::projection::Projection;

/// Where `--into` writes: the PostgreSQL URL, or an explicit `--sqlite` file; it never
/// falls back to the default SQLite file.
enum IntoDb {
    Postgres(String),
    Sqlite(std::path::PathBuf),
}

impl IntoDb {
    fn of(db: &DbArgs) -> anyhow::Result<IntoDb> {
        if let Some(path) = &db.sqlite {
            return Ok(IntoDb::Sqlite(path.clone()));
        }
        if let Some(url) = db.url() {
            return Ok(IntoDb::Postgres(url));
        }
        Err(Problem::new(
            "--into needs the database that holds your tables: it never writes the default SQLite file",
            "pass --database-url postgres://user:pw@host/db (or export DATABASE_URL), or --sqlite app.db",
        )
        .into())
    }

    fn open(&self) -> anyhow::Result<Box<dyn Backend>> {
        let db = match self {
            IntoDb::Postgres(url) => Db::Postgres(url),
            IntoDb::Sqlite(path) => Db::Sqlite(path),
        };
        simulate_db::into::open(db).map_err(refused)
    }

    /// Where the manifest is kept, for the closing line.
    fn manifest(&self) -> String {
        match self {
            IntoDb::Postgres(_) => "schema simulate_into".into(),
            IntoDb::Sqlite(path) => simulate_db::into::sqlite::manifest_path(path)
                .display()
                .to_string(),
        }
    }
}

/// The mapping, its kinds checked against the world's (built-in and world.toml's).
fn read_map(path: &Path, personas: &[Persona]) -> anyhow::Result<SeedMap> {
    let src = Source::read(path)?;
    Ok(SeedMap::load(&src, &KindTable::of(personas))?)
}

fn into_err(e: IntoError) -> anyhow::Error {
    match e {
        IntoError::BadInput(p) => anyhow::Error::new(p),
        IntoError::Db(e) => refused(e),
    }
}

pub fn seed(args: &SeedArgs, into: &Path) -> anyhow::Result<i32> {
    let db = IntoDb::of(&args.db)?;
    let started = Instant::now();
    let (personas, scenario) = load_world(&args.world)?;
    let threads = super::threads(args.threads)?;
    let mut map = read_map(into, &personas)?;
    map.world.team = std::sync::Arc::new(Team {
        seed: scenario.seed,
        users: scenario.users,
        pools: scenario.pools.clone(),
    });
    map.check_world(&map.world.names(), &map.world.pools())?;
    let mut phases = Phases::default();
    let mut target = db.open()?;
    let t = Instant::now();
    let planned = target.prepare(&map).map_err(into_err)?;
    let filled = target.filled(&map, &planned).map_err(refused)?;
    let existing = existing_rows(args, target.as_ref(), &planned, &filled)?;
    if args.rebuild_indexes && !args.plan {
        name_rebuilt(args, target.as_mut(), &map, &planned)?;
    }
    phases.since("catalog and checks", t);

    let mut sources: Vec<_> = planned
        .iter()
        .flat_map(|p| [&[p.map.entity.source()][..], p.map.entity.reads()].concat())
        .collect();
    if map.aggregates() {
        sources.push(simulate_db::projection::Table::BehaviorLogs);
    }
    let spool = Spool::create(&sources).map_err(|e| anyhow::anyhow!("creating the spool: {e}"))?;
    let bar = console_bar(args.quiet || args.json);
    let clear = ClearOnDrop(bar.clone());
    let stop = super::interrupt_flag();
    show_step(&bar, "generate");
    let t = Instant::now();
    let Some((spool, totals, checksum)) = generate(
        &personas, &scenario, threads, spool, &map.world, &bar, &stop,
    )?
    else {
        drop(clear);
        eprintln!("interrupted: nothing was written");
        return Ok(exit::INTERRUPTED);
    };
    phases.since("engine run, rows spooled", t);
    if args.plan {
        drop(clear);
        let doc = target
            .plan(&map, &planned, &spool, &filled)
            .map_err(refused)?;
        super::seed_into_print::plan(&doc, args.json)?;
        return Ok(if doc.problems.is_empty() {
            exit::OK
        } else {
            exit::BAD_INPUT
        });
    }
    show_step(&bar, "write (one transaction)");
    let record = Record {
        world: serde_json::to_value(world_config(args, &scenario))?,
        checksum,
    };
    let opts = LoadOpts {
        existing,
        record: &record,
        stop: &stop,
        rebuild_indexes: args.rebuild_indexes,
    };
    let written = target.load(&map, &planned, &spool, &opts, &mut phases);
    drop(clear);
    let entries = match written {
        Ok(e) => e,
        Err(simulate_db::DbError::Interrupted) => {
            eprintln!("interrupted: the transaction was rolled back; your tables are as they were");
            return Ok(exit::INTERRUPTED);
        }
        // A refusal says "nothing was written" itself, and stays bad input (exit 2).
        Err(e @ simulate_db::DbError::Refused(_)) => return Err(refused(e)),
        Err(e) => {
            return Err(
                refused(e).context("the load was rolled back; your tables are as they were")
            );
        }
    };
    if !args.quiet {
        for (phase, secs) in &phases.0 {
            eprintln!("  {phase:<52} {secs:8.2} s");
        }
    }
    let wall = started.elapsed().as_secs_f64();
    let rows: u64 = entries.iter().map(|e| e.rows).sum();
    // SQLite has no schemas: the mapping's `schema` names PostgreSQL's only.
    let place = match &db {
        IntoDb::Postgres(_) => format!("schema `{}` of {}", map.schema, target.masked()),
        IntoDb::Sqlite(_) => target.masked().to_string(),
    };
    outln!(
        "done in {wall:.2} s: {rows} rows into {place}, {} events from {} users, sha256 {}",
        totals.events,
        totals.signed_up,
        record.checksum
    );
    for e in &entries {
        outln!("  {:<28} {:>10} rows  from {}", e.table, e.rows, e.entity);
    }
    outln!(
        "recorded in {}: `simulate verify --into {}` checks them, `simulate clean --into {}` removes exactly them",
        db.manifest(),
        into.display(),
        into.display()
    );
    Ok(exit::OK)
}

/// The engine's run into the spool: the spool, the run's totals and the timeline's
/// checksum; None when Ctrl-C stopped it (nothing was written).
fn generate(
    personas: &[Persona],
    scenario: &simulate_core::scenario::Scenario,
    threads: usize,
    spool: Spool,
    ids: &simulate_db::into::entity::SeedWorld,
    bar: &indicatif::ProgressBar,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<Option<(Spool, simulate_core::engine::RunTotals, String)>> {
    let world = World::new(personas.to_vec(), scenario.clone(), true)?;
    let mut engine = Engine::new(world, threads);
    let mut projection = Projection::new(spool, personas, scenario);
    let mut checksum = JsonlSink::create(None, Format::None)?;
    let mut progress =
        Progress::on(bar.clone(), scenario.end_ms(), 0.0).with_rows(projection.sent());
    // The team's ids of gifts, purchases, … (`[ids] gift`), numbered as the run makes them.
    let mut entities = EntityIds::new(&ids.team, true);
    let result = {
        let mut sinks = Tee(vec![&mut progress, &mut projection, &mut checksum]);
        if let Some(e) = entities.as_mut() {
            sinks.0.push(e);
        }
        engine.run(&mut sinks, stop)
    };
    if let Some(e) = entities {
        let _ = ids.entities.set(e);
    }
    let mut spool = projection.into_inner();
    let totals = match result {
        Ok(t) if !t.interrupted => t,
        Ok(_) => return Ok(None),
        Err(e) => {
            return Err(anyhow::Error::new(e).context("generating the rows; nothing was written"));
        }
    };
    spool.finish()?;
    Ok(Some((spool, totals, checksum.checksum())))
}

/// `--rebuild-indexes` names the indexes it drops and builds again before the load.
fn name_rebuilt(
    args: &SeedArgs,
    target: &mut dyn Backend,
    map: &SeedMap,
    planned: &[simulate_db::into::Planned<'_>],
) -> anyhow::Result<()> {
    let names = target.plain_indexes(map, planned).map_err(refused)?;
    if args.quiet {
        return Ok(());
    }
    if names.is_empty() {
        eprintln!("--rebuild-indexes: the mapped tables have no plain index; every index stays");
    } else {
        eprintln!(
            "--rebuild-indexes: dropping {} before the rows and building {} again after them, in the load's transaction (constraints and unique indexes stay): {}",
            if names.len() == 1 {
                "this plain index"
            } else {
                "these plain indexes"
            },
            if names.len() == 1 { "it" } else { "them" },
            names.join(", ")
        );
    }
    Ok(())
}

/// What to do with mapped tables that already hold rows: refused (nothing changed)
/// unless --append or --truncate; --truncate names the tables it empties first.
fn existing_rows(
    args: &SeedArgs,
    target: &dyn Backend,
    planned: &[simulate_db::into::Planned<'_>],
    filled: &[String],
) -> anyhow::Result<Existing> {
    let existing = match (args.append, args.truncate) {
        (true, _) => Existing::Append,
        (_, true) => Existing::Truncate,
        _ => Existing::Refuse,
    };
    if !args.plan && existing == Existing::Refuse && !filled.is_empty() {
        return Err(Problem::new(
            format!(
                "{} already hold{} rows in {}; nothing was changed",
                filled.join(", "),
                if filled.len() == 1 { "s" } else { "" },
                target.masked()
            ),
            "add --append to add to them (the mapping's ids must avoid theirs), or --truncate to empty the mapped tables first",
        )
        .into());
    }
    if !args.plan && existing == Existing::Truncate && !args.quiet {
        let names: Vec<&str> = planned.iter().map(|p| p.map.name.as_str()).collect();
        eprintln!(
            "--truncate: emptying {} (only these) in the load's transaction",
            names.join(", ")
        );
    }
    Ok(existing)
}

/// The world as the manifest records it (run_meta's config type).
fn world_config(args: &SeedArgs, scenario: &simulate_core::scenario::Scenario) -> WorldConfig {
    let shown = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    WorldConfig {
        scenario: scenario.name.clone(),
        scenario_file: shown(&args.world.scenario),
        personas_dir: shown(&args.world.personas),
        users: scenario.users,
        length: SpanRecord::of(scenario.span),
        seed: scenario.seed,
        start: scenario.start_text.clone(),
    }
}

pub fn clean(args: &CleanArgs) -> anyhow::Result<i32> {
    let db = IntoDb::of(&args.db)?;
    let personas = persona::load_unmixed(args.personas.as_deref())?;
    let map = read_map(&args.into, &personas)?;
    let mut target = db.open()?;
    let done = target.clean(&map, args.with_app_rows).map_err(refused)?;
    if done.seeds == 0 {
        outln!(
            "nothing to clean: no seed of these tables is recorded in {} of {}",
            db.manifest(),
            target.masked()
        );
        return Ok(exit::OK);
    }
    for (t, n) in &done.app_rows {
        outln!(
            "  {t:<28} {n:>10} rows your app wrote that referenced seeded rows (--with-app-rows)"
        );
    }
    for (t, n) in &done.tables {
        outln!("  {t:<28} {n:>10} seeded rows deleted");
    }
    outln!(
        "cleaned {} seed{} from schema `{}`; every other row is as it was",
        done.seeds,
        if done.seeds == 1 { "" } else { "s" },
        map.schema
    );
    Ok(exit::OK)
}

pub fn verify(args: &VerifyArgs, into: &Path) -> anyhow::Result<i32> {
    let db = IntoDb::of(&args.db)?;
    let personas = persona::load_unmixed(args.world.personas.as_deref())?;
    let map = read_map(into, &personas)?;
    let mut target = db.open()?;
    let report = target.verify(&map).map_err(refused)?;
    outln!("verify --into {} ({})", into.display(), target.masked());
    outln!(
        "  rows and digests: the seed's own rows (by the keys the manifest recorded), as the load wrote them; after a replay has changed them, only the invariants can hold"
    );
    for c in &report.checks {
        if c.ok {
            outln!("  {:<50} ok", c.name);
        } else {
            outln!(
                "  {:<50} FAILED: expected {}, found {}",
                c.name,
                c.expected,
                c.found
            );
        }
    }
    if map.invariants.is_empty() {
        outln!("  (the mapping declares no [[invariants]])");
    }
    if let Some(path) = &args.summary_export {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(if report.ok {
        exit::OK
    } else {
        exit::VERIFY_MISMATCH
    })
}
