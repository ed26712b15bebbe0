//! What each command does: the binary's behaviour, on top of the library's parts.

/// `println!` for results on stdout, without its panic when the reader has gone
/// (`simulate … | head`): a closed pipe is not an error of ours, and the run's files are
/// still written.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` likewise.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

pub mod capacity;
pub mod compare;
mod concurrency;
mod exporter;
pub mod load;
pub mod personas;
pub mod replay;
pub mod replicates;
pub mod report;
pub mod run;
pub mod schema;
pub mod seed;
pub mod seed_into;
mod seed_into_print;
pub mod serve;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::exit;
use simulate_core::diagnostic::Problem;
use simulate_core::redact::mask_url;

/// `--threads`, or the CPU count; the same range for every command.
pub(crate) fn threads(arg: Option<usize>) -> Result<usize, Problem> {
    let n = arg.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if (1..=256).contains(&n) {
        Ok(n)
    } else {
        Err(Problem::new(
            format!("--threads {n} is out of range"),
            "use 1 to 256",
        ))
    }
}

/// A database error as the command's: a refusal is bad input (exit 2, see
/// [`crate::exit::of_error`]), anything else a failure (exit 1).
pub(crate) fn refused(e: simulate_db::DbError) -> anyhow::Error {
    anyhow::Error::new(e)
}

/// Which command reads a seed: the flag naming its schema differs (`replay` has
/// `--seeded-schema`, verify and serve `--schema`), and so does what to do about a
/// database `seed --into` wrote, which holds the team's tables, not simulate's schema.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reader {
    Verify,
    Serve,
    Replay,
}

impl Reader {
    fn schema_flag(self) -> &'static str {
        match self {
            Reader::Replay => "--seeded-schema",
            Reader::Verify | Reader::Serve => "--schema",
        }
    }

    /// The fix when the database was seeded with `seed --into`.
    fn into_fix(self) -> &'static str {
        match self {
            Reader::Replay => {
                "--seeded checks a seed in simulate's own schema only, not one `seed --into` wrote into your tables: replay the window after that seed without --seeded (after `seed --into … --days 6`: --window 6d..7d), and check the seeded rows with `simulate verify --into SEED.toml`"
            }
            Reader::Verify => {
                "check the rows `seed --into` wrote into your tables with `simulate verify --into SEED.toml`"
            }
            Reader::Serve => {
                "serve reads a seed in simulate's own schema only (`simulate seed --database-url …`), not one `seed --into` wrote into your tables"
            }
        }
    }
}

/// Whether `seed --into` has written into this PostgreSQL database (its manifest schema
/// `simulate_into` exists); only asked when the seed to read is not there.
fn seeded_into_pg(url: &str) -> bool {
    simulate_db::postgres::Pg::open(url, "simulate_into")
        .and_then(|p| p.verdict())
        .is_ok_and(|v| v.is_some())
}

/// A seeded PostgreSQL schema to read (verify, serve, replay --seeded), or a clear
/// refusal when it is not there or not a complete seed of simulate's (a staging schema,
/// a schema of the user's, the team's tables a `seed --into` filled).
pub(crate) fn open_seeded(
    url: &str,
    schema: &str,
    reader: Reader,
) -> anyhow::Result<simulate_db::postgres::Pg> {
    let pg = simulate_db::postgres::Pg::open(url, schema).map_err(refused)?;
    let flag = reader.schema_flag();
    let verdict = pg.verdict().map_err(refused)?;
    if verdict.as_ref().is_none_or(|v| v.readable().is_err()) && seeded_into_pg(url) {
        return Err(Problem::new(
            format!(
                "{} holds your tables seeded with `seed --into`, not a complete seed in simulate's own schema `{}`",
                pg.masked, pg.schema
            ),
            reader.into_fix(),
        )
        .into());
    }
    match verdict {
        None => Err(Problem::new(
            format!("{} has no schema `{}`", pg.masked, pg.schema),
            format!(
                "seed it first with `simulate seed --database-url …`, or pass the {flag} it was seeded into"
            ),
        )
        .into()),
        Some(v) => match v.readable() {
            Ok(()) => Ok(pg),
            Err(why) => Err(Problem::new(
                format!("schema `{}` of {} {why}", pg.schema, pg.masked),
                format!(
                    "pass the {flag} a complete `simulate seed` wrote (default simulate){}",
                    reseed_hint(&v)
                ),
            )
            .into()),
        },
    }
}

/// A seed of ours that cannot be read (staging, another layout) is fixed by seeding
/// again; a place of the user's is not.
fn reseed_hint(v: &simulate_db::owner::Verdict) -> &'static str {
    match v {
        simulate_db::owner::Verdict::NotOurs(_) => "",
        _ => ", or seed again with --reset",
    }
}

/// Runs `f` on a seeded database: the PostgreSQL schema when `url` is given, else the
/// SQLite file. Returns what `f` gave and where it read (password masked).
pub(crate) fn on_seeded<T>(
    url: Option<&str>,
    (schema, reader): (&str, Reader),
    sqlite: &std::path::Path,
    f: impl FnOnce(&mut simulate_db::conn::Db<'_>, &tokio::runtime::Runtime) -> anyhow::Result<T>,
) -> anyhow::Result<(T, String)> {
    use simulate_db::conn::Db;
    if let Some(url) = url {
        let pg = open_seeded(url, schema, reader)?;
        let mut conn = pg.live().map_err(refused)?;
        // The connection belongs to the runtime that opened it.
        let v = f(&mut Db::Pg(&mut conn), pg.runtime())?;
        return Ok((v, format!("schema `{}` of {}", pg.schema, pg.masked)));
    }
    let shown = mask_url(&sqlite.display().to_string());
    if sqlite.is_dir() {
        return Err(Problem::new(
            format!("{shown} is a folder, not a seeded SQLite file"),
            "name the file with --sqlite FILE (the default is output/seed.sqlite)",
        )
        .into());
    }
    if !sqlite.exists() {
        return Err(Problem::new(
            format!("{shown} does not exist"),
            "run `simulate seed` first, or name the seeded database (--sqlite FILE or --database-url URL)",
        )
        .into());
    }
    let verdict = simulate_db::sqlite::inspect_file(sqlite);
    let into_manifest = simulate_db::into::sqlite::manifest_path(sqlite);
    if matches!(verdict, Ok(simulate_db::owner::Verdict::NotOurs(_))) && into_manifest.exists() {
        return Err(Problem::new(
            format!(
                "{shown} holds your tables seeded with `seed --into` (recorded in {}), not a seed in simulate's own schema",
                mask_url(&into_manifest.display().to_string())
            ),
            reader.into_fix(),
        )
        .into());
    }
    if let Err(why) = verdict
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|v| v.readable())
    {
        return Err(Problem::new(
            format!("{shown} {why}"),
            format!(
                "name a file `simulate seed` wrote (--sqlite FILE){}",
                verdict.as_ref().map_or("", reseed_hint)
            ),
        )
        .into());
    }
    let (rt, mut conn) = simulate_db::sqlite::open(sqlite).map_err(refused)?;
    let v = f(&mut Db::Sqlite(&mut conn), &rt)?;
    Ok((v, shown))
}

/// Writes a JSON document (`--summary-export`) whole or not at all; a failure says what
/// is left at `path` and the fix.
pub(crate) fn export(
    path: &std::path::Path,
    what: &str,
    doc: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(doc)? + "\n";
    write_whole(path, what, &text)
}

/// `text` into `path` whole or not at all (an HTML report), with the message of
/// [`export`] when it cannot be written.
pub(crate) fn write_whole(path: &std::path::Path, what: &str, text: &str) -> anyhow::Result<()> {
    simulate_core::atomic::write(path, text.as_bytes()).map_err(|e| {
        not_written(
            format!("cannot write {what} {}", path.display()),
            format!("{e}; {}", simulate_core::atomic::left_behind(path)),
            simulate_core::atomic::fix_for(&e),
        )
    })
}

/// A file that could not be written (a full disk, a folder not writable): `what`, then
/// why and what is left, and the fix. A [`Problem`] for how it reads, under context so it
/// exits 1: a full disk is not bad input (see [`crate::exit::of_error`]).
pub(crate) fn not_written(what: String, why: String, fix: &str) -> anyhow::Error {
    anyhow::Error::new(Problem::new(why, fix)).context(what)
}

/// A stop flag set by the first Ctrl-C (or SIGTERM, SIGHUP: ctrlc's `termination`); a second one exits at once.
pub(crate) fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let stop = simulate_core::engine::stop_flag();
    let flag = std::sync::Arc::clone(&stop);
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(exit::INTERRUPTED);
        }
        // A step that cannot be cut short (an index build) may take a while to end.
        eprintln!("\nstopping… (Ctrl-C again to quit at once)");
    });
    stop
}

/// Ctrl-C (or SIGTERM, as Kubernetes stops a pod) during a replay: the first stops sending (requests out may finish within
/// `--drain`), the second skips what is left of the drain so the summary is written now,
/// a third quits at once. Returns (stop, hurry).
pub(crate) fn replay_interrupts() -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::{AtomicU8, Ordering};
    let stop = simulate_core::engine::stop_flag();
    let hurry = simulate_core::engine::stop_flag();
    let (s, h) = (std::sync::Arc::clone(&stop), std::sync::Arc::clone(&hurry));
    let presses = AtomicU8::new(0);
    let _ = ctrlc::set_handler(move || match presses.fetch_add(1, Ordering::SeqCst) {
        0 => {
            s.store(true, Ordering::SeqCst);
            eprintln!(
                "\nstopping: no more requests; those out may finish within --drain (Ctrl-C again to write the summary now)"
            );
        }
        1 => {
            h.store(true, Ordering::SeqCst);
            eprintln!("skipping the drain: writing the summary (Ctrl-C again to quit without it)");
        }
        _ => std::process::exit(exit::INTERRUPTED),
    });
    (stop, hurry)
}

pub fn main(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Seed(args) => seed::seed(args),
        Command::Verify(args) => match args.into.clone() {
            Some(into) => seed_into::verify(&args, &into),
            None => verify::verify(args),
        },
        Command::Clean(args) => seed_into::clean(&args),
        Command::Replay(args) => replay::replay(*args),
        Command::Capacity(args) => capacity::capacity(*args),
        Command::Serve(args) => serve::serve(args),
        Command::Schema(args) => schema::schema(args),
        Command::Compare(args) => compare::compare(args),
        Command::Personas { command } => personas::personas(command),
        Command::Report { command } => report::report(command),
    }
}
