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

pub mod personas;
pub mod replay;
pub mod run;
pub mod schema;
pub mod seed;
pub mod serve;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::exit::{self, BadInput};
use simulate_core::redact::mask_url;

/// `--threads`, or the CPU count; the same range for every command.
pub fn threads(arg: Option<usize>) -> Result<usize, BadInput> {
    let n = arg.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    if (1..=256).contains(&n) {
        Ok(n)
    } else {
        Err(BadInput(format!(
            "--threads {n} is out of range\n    fix: use 1 to 256"
        )))
    }
}

/// A database problem the user can fix is bad input (exit 2); anything else fails (exit 1).
pub fn refused(e: simulate_db::DbError) -> anyhow::Error {
    match e {
        simulate_db::DbError::Refused(m) => BadInput(m).into(),
        other => anyhow::Error::new(other),
    }
}

/// A seeded PostgreSQL schema to read (verify, serve), or a clear refusal when it is not
/// there or not a complete seed of simulate's (a staging schema, a schema of the user's).
pub fn open_seeded(url: &str, schema: &str) -> anyhow::Result<simulate_db::postgres::Pg> {
    let pg = simulate_db::postgres::Pg::open(url, schema).map_err(refused)?;
    match pg.verdict().map_err(refused)? {
        None => Err(BadInput(format!(
            "{} has no schema `{}`\n    fix: seed it first with `simulate seed --database-url …`, or pass the --schema it was seeded into",
            pg.masked, pg.schema
        ))
        .into()),
        Some(v) => match v.readable() {
            Ok(()) => Ok(pg),
            Err(why) => Err(BadInput(format!(
                "schema `{}` of {} {why}\n    fix: pass the --schema a complete `simulate seed` wrote (default simulate){}",
                pg.schema,
                pg.masked,
                reseed_hint(&v)
            ))
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
pub fn on_seeded<T>(
    url: Option<&str>,
    schema: &str,
    sqlite: &std::path::Path,
    f: impl FnOnce(&mut simulate_db::conn::Db<'_>, &tokio::runtime::Runtime) -> anyhow::Result<T>,
) -> anyhow::Result<(T, String)> {
    use simulate_db::conn::Db;
    if let Some(url) = url {
        let pg = open_seeded(url, schema)?;
        let mut conn = pg.live().map_err(refused)?;
        // The connection belongs to the runtime that opened it.
        let v = f(&mut Db::Pg(&mut conn), pg.runtime())?;
        return Ok((v, format!("schema `{}` of {}", pg.schema, pg.masked)));
    }
    if sqlite.is_dir() {
        return Err(BadInput(format!(
            "{} is a folder, not a seeded SQLite file\n    fix: name the file with --sqlite FILE (the default is output/seed.sqlite)",
            mask_url(&sqlite.display().to_string())
        ))
        .into());
    }
    if !sqlite.exists() {
        return Err(BadInput(format!(
            "{} does not exist\n    fix: run `simulate seed` first, or name the seeded database (--sqlite FILE or --database-url URL)",
            mask_url(&sqlite.display().to_string())
        ))
        .into());
    }
    let verdict = simulate_db::sqlite::inspect_file(sqlite);
    if let Err(why) = verdict
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|v| v.readable())
    {
        return Err(BadInput(format!(
            "{} {why}\n    fix: name a file `simulate seed` wrote (--sqlite FILE){}",
            mask_url(&sqlite.display().to_string()),
            verdict.as_ref().map_or("", reseed_hint)
        ))
        .into());
    }
    let (rt, mut conn) = simulate_db::sqlite::open(sqlite).map_err(refused)?;
    let v = f(&mut Db::Sqlite(&mut conn), &rt)?;
    Ok((v, mask_url(&sqlite.display().to_string())))
}

/// Writes a JSON document (`--summary-export`) whole or not at all; a failure says what
/// is left at `path` and the fix.
pub fn export(path: &std::path::Path, what: &str, v: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(v)? + "\n";
    write_whole(path, what, text.as_bytes())
}

/// Writes a file whole or not at all; a failure says what is left at `path` and the fix.
pub fn write_whole(path: &std::path::Path, what: &str, bytes: &[u8]) -> anyhow::Result<()> {
    simulate_core::atomic::write(path, bytes).map_err(|e| {
        anyhow::anyhow!(
            "cannot write {what} {}: {e}; {}\n    fix: {}",
            path.display(),
            simulate_core::atomic::left_behind(path),
            simulate_core::atomic::fix_for(&e)
        )
    })
}

/// A stop flag set by the first Ctrl-C; a second one exits at once.
pub fn interrupt_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
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

/// Ctrl-C during a replay: the first stops sending (requests out may finish within
/// `--drain`), the second skips what is left of the drain so the summary is written now,
/// a third quits at once. Returns (stop, hurry).
pub fn replay_interrupts() -> (
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
        Command::Verify(args) => verify::verify(args),
        Command::Replay(args) => replay::replay(*args),
        Command::Serve(args) => serve::serve(args),
        Command::Schema(args) => schema::schema(args),
        Command::Personas { command } => personas::personas(command),
    }
}
