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
pub mod seed;
pub mod serve;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::exit;
use simulate_core::diagnostic::Problem;

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

/// A seeded PostgreSQL schema to read (verify, serve), or a clear refusal when it is not
/// there.
pub(crate) fn open_seeded(url: &str, schema: &str) -> anyhow::Result<simulate_db::postgres::Pg> {
    let pg = simulate_db::postgres::Pg::open(url, schema).map_err(refused)?;
    if pg.inspect().map_err(refused)?.tables.is_none() {
        return Err(Problem::new(format!("{} has no schema `{}`", pg.masked, pg.schema), "seed it first with `simulate seed --database-url …`, or pass the --schema it was seeded into")
        .into());
    }
    Ok(pg)
}

/// Runs `f` on a seeded database: the PostgreSQL schema when `url` is given, else the
/// SQLite file. Returns what `f` gave and where it read (password masked).
pub(crate) fn on_seeded<T>(
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
        return Err(Problem::new(
            format!("{} is a folder, not a seeded SQLite file", sqlite.display()),
            "name the file with --sqlite FILE (the default is output/seed.sqlite)",
        )
        .into());
    }
    if !sqlite.exists() {
        return Err(Problem::new(format!("{} does not exist", sqlite.display()), "run `simulate seed` first, or name the seeded database (--sqlite FILE or --database-url URL)")
        .into());
    }
    let (rt, mut conn) = simulate_db::sqlite::open(sqlite).map_err(refused)?;
    let v = f(&mut Db::Sqlite(&mut conn), &rt)?;
    Ok((v, sqlite.display().to_string()))
}

/// A stop flag set by the first Ctrl-C; a second one exits at once.
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

pub fn main(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Seed(args) => seed::seed(args),
        Command::Verify(args) => verify::verify(args),
        Command::Replay(args) => replay::replay(*args),
        Command::Serve(args) => serve::serve(args),
        Command::Personas { command } => personas::personas(command),
    }
}
