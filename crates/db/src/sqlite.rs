//! The embedded default: the same tables in one SQLite file, written under a name of its
//! own (`<file>.simulate-<pid>-<n>.partial`, created exclusively and marked as ours before
//! anything else) and renamed into place only when complete, so a file at the final path is
//! never half loaded and no file of the user's is ever taken for a partial one.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection};

use super::RunMeta;
use super::copy::field;
use super::keys::KEYS;
use super::owner::{self, Mark, Role, Verdict};
use super::projection::{ColumnType, RowSink, Table};
use super::{DbError, Steps};

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// The file being written cannot be opened or set up: say which, and what to check.
fn cannot_write(partial: &Path, e: impl std::fmt::Display) -> DbError {
    DbError::refused(
        format!("cannot write {}: {e}", partial.display()),
        "check that its folder is writable and the disk has room, or choose another file with --sqlite FILE",
    )
}

/// `<file>.simulate-` and `.partial`: what every partial file of `path` is called between.
fn partial_affixes(path: &Path) -> (String, &'static str) {
    let name = path.file_name().map_or_else(
        || "seed.sqlite".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    (format!("{name}.simulate-"), ".partial")
}

/// A fresh partial file name for a load of `path`, beside it: unique per process and
/// call, so two loads never share one and a file the user named `<file>.partial` is never
/// ours.
fn new_partial_path(path: &Path) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let (prefix, suffix) = partial_affixes(path);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    path.with_file_name(format!(
        "{prefix}{}-{nanos:09}{n}{suffix}",
        std::process::id()
    ))
}

/// Partial files of `path` left by interrupted loads: named as ours, marked as ours (or
/// empty: killed before its first write), and not held by a load still running.
pub fn stale_partials(path: &Path) -> Vec<PathBuf> {
    let (prefix, suffix) = partial_affixes(path);
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut stale: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&prefix) && name.ends_with(suffix)
        })
        .map(|e| e.path())
        .filter(|p| p.is_file() && !in_use(p) && partial_of_ours(p))
        .collect();
    stale.sort();
    stale
}

/// A running load holds an exclusive lock on its partial file.
fn in_use(p: &Path) -> bool {
    match std::fs::File::open(p) {
        Ok(f) => matches!(
            fs4::FileExt::try_lock(&f),
            Err(fs4::TryLockError::WouldBlock)
        ),
        Err(_) => true,
    }
}

fn partial_of_ours(p: &Path) -> bool {
    if std::fs::metadata(p).is_ok_and(|m| m.len() == 0) {
        return true;
    }
    matches!(
        inspect_file(p),
        Ok(Verdict::Ours {
            role: Role::Staging,
            ..
        })
    )
}

/// Rows go into the partial file on a thread of their own, one transaction per chunk,
/// while the projection goes on producing the next chunks: inserting on the projection's
/// thread left the two waiting for each other (50k users: 23 s, most of it one core).
pub struct SqliteLoader {
    path: PathBuf,
    partial: PathBuf,
    /// The partial file, locked while this load lives: a concurrent seed of the same file
    /// sees it is in use and leaves it alone.
    _lock: std::fs::File,
    chunks: Option<std::sync::mpsc::SyncSender<(Table, Vec<u8>)>>,
    inserter: Option<std::thread::JoinHandle<Result<Inserter, DbError>>>,
}

/// The connection and what it has inserted; owned by the inserting thread until the end.
struct Inserter {
    conn: rusqlite::Connection,
    inserts: Vec<String>,
    counts: Vec<u64>,
}

impl SqliteLoader {
    /// Creates a new partial file for `path` (removing stale ones of ours), marks it as
    /// ours, and migrates the schema in.
    pub fn create(path: &Path) -> Result<SqliteLoader, DbError> {
        for stale in stale_partials(path) {
            std::fs::remove_file(&stale)
                .map_err(|e| DbError::failed(format!("removing {}", stale.display()), e))?;
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::failed(format!("creating {}", dir.display()), e))?;
        }
        let partial = new_partial_path(path);
        // Exclusively: never open (and later remove) a file that was already there.
        let lock = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(|e| cannot_write(&partial, e))?;
        // Advisory only; a file system without locks just loses the concurrency guard.
        let _ = fs4::FileExt::try_lock(&lock);
        // sqlx applies migrations/sqlite (and keeps their bookkeeping table); the rows go
        // in through rusqlite on the same file, see `insert_chunk`.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DbError::failed("starting the database runtime", e))?;
        let url = format!("sqlite://{}", partial.display());
        let opts = SqliteConnectOptions::from_str(&url).map_err(|e| cannot_write(&partial, e))?;
        let marked = rt.block_on(async {
            let mut c = SqliteConnection::connect_with(&opts)
                .await
                .map_err(|e| cannot_write(&partial, e))?;
            // The mark goes in first, in one transaction: from here on an interrupted
            // load's file is recognisably ours.
            sqlx::raw_sql(AssertSqlSafe(format!(
                "BEGIN; CREATE TABLE simulate_mark (mark TEXT NOT NULL); INSERT INTO simulate_mark VALUES ('{}'); COMMIT",
                Mark::new(Role::Staging).text()
            )))
            .execute(&mut c)
            .await
            .map_err(|e| cannot_write(&partial, e))?;
            MIGRATOR
                .run(&mut c)
                .await
                .map_err(|e| DbError::failed("running migrations/sqlite", e))?;
            c.close()
                .await
                .map_err(|e| DbError::failed(format!("closing {}", partial.display()), e))
        });
        if let Err(e) = marked {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        let conn = rusqlite::Connection::open(&partial).map_err(|e| cannot_write(&partial, e))?;
        // The partial file is thrown away if anything fails, so it needs no journal. The
        // index builds at the end sort with helper threads, one per core (50k users:
        // 2.6 -> 2.2 s on 2 cores).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA threads = {cores}"
        ))
        .map_err(|e| cannot_write(&partial, e))?;
        let inserts = Table::ALL
            .iter()
            .map(|t| {
                let cols = t.columns();
                format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    t.name(),
                    cols.join(", "),
                    vec!["?"; cols.len()].join(", ")
                )
            })
            .collect();
        let mut inserter = Inserter {
            conn,
            inserts,
            counts: vec![0; Table::ALL.len()],
        };
        let (chunks, rx) = std::sync::mpsc::sync_channel::<(Table, Vec<u8>)>(4);
        let inserter = std::thread::Builder::new()
            .name("sqlite".into())
            .spawn(move || {
                for (table, chunk) in rx {
                    inserter.insert_chunk(table, &chunk)?;
                }
                Ok(inserter)
            })
            .map_err(|e| DbError::failed("starting the SQLite thread", e))?;
        Ok(SqliteLoader {
            path: path.to_path_buf(),
            partial,
            _lock: lock,
            chunks: Some(chunks),
            inserter: Some(inserter),
        })
    }

    /// Closes the queue and takes the connection back from the inserting thread (or the
    /// error that stopped it).
    fn finish_inserts(&mut self) -> Result<Inserter, DbError> {
        self.chunks = None;
        match self.inserter.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(DbError::failed("the SQLite thread", "it stopped abruptly")),
            None => Err(DbError::failed("the SQLite file", "it is closed")),
        }
    }

    /// Keys, ANALYZE and run_meta, then the rename into place. On failure or Ctrl-C the
    /// partial file goes: a full disk needs its space back.
    pub fn complete(
        mut self,
        meta: &RunMeta,
        steps: &mut Steps,
    ) -> Result<Vec<(Table, u64)>, DbError> {
        let done = self.complete_file(meta, steps);
        if done.is_err() {
            let _ = std::fs::remove_file(&self.partial);
        }
        done
    }

    fn complete_file(
        &mut self,
        meta: &RunMeta,
        steps: &mut Steps,
    ) -> Result<Vec<(Table, u64)>, DbError> {
        steps.start("inserts (finish)")?;
        let Inserter { conn, counts, .. } = self.finish_inserts()?;
        steps.start("indexes")?;
        for key in KEYS {
            let s = key.sqlite();
            conn.execute_batch(&s)
                .map_err(|e| DbError::failed(format!("key: {s}"), e))?;
        }
        steps.start("analyze, rename into place")?;
        conn.execute_batch("ANALYZE")
            .map_err(|e| DbError::failed("ANALYZE", e))?;
        conn.execute(
            "INSERT INTO run_meta (id, version, config, seed, users, days, events, events_sha256, complete) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
            rusqlite::params![
                meta.version,
                serde_json::to_string(&meta.config).unwrap_or_default(),
                meta.seed as i64,
                meta.users as i64,
                meta.days as i64,
                meta.events as i64,
                meta.checksum,
                meta.complete,
            ],
        )
        .map_err(|e| DbError::failed("writing run_meta", e))?;
        conn.execute(
            "UPDATE simulate_mark SET mark = ?",
            [Mark::new(Role::Seeded).text()],
        )
        .map_err(|e| DbError::failed("marking the file complete", e))?;
        conn.close()
            .map_err(|(_, e)| DbError::failed("closing the SQLite file", e))?;
        // Looked at again here, not only before the load: a file put there meanwhile is
        // someone else's, and the load is abandoned rather than replace it.
        if self.path.exists()
            && let Err(why) = replaceable(&self.path)
        {
            return Err(DbError::refused(
                format!(
                    "{} appeared during the load and {why}; it was left as it is",
                    self.path.display()
                ),
                "choose another --sqlite path",
            ));
        }
        std::fs::rename(&self.partial, &self.path).map_err(|e| {
            DbError::failed(format!("moving the file to {}", self.path.display()), e)
        })?;
        steps.end();
        Ok(Table::ALL
            .iter()
            .map(|t| (*t, counts[*t as usize]))
            .collect())
    }

    /// Removes the partial file after a failure or interruption.
    pub fn abandon(mut self) {
        if let Ok(Inserter { conn, .. }) = self.finish_inserts() {
            let _ = conn.close();
        }
        let _ = std::fs::remove_file(&self.partial);
    }
}

impl Inserter {
    /// Inserts a chunk of COPY rows in one transaction, through one prepared statement
    /// bound row by row on this thread. (sqlx hands every statement to a worker thread
    /// of its own: with 200-row statements that hand-over, building the arguments and
    /// freeing them was half of the load's CPU.)
    fn insert_chunk(&mut self, table: Table, chunk: &[u8]) -> Result<(), DbError> {
        let cols = table.columns().len();
        let types = table.column_types();
        let failed = |e| DbError::failed(format!("inserting into {}", table.name()), e);
        let tx = self
            .conn
            .transaction()
            .map_err(|e| DbError::failed("SQLite transaction", e))?;
        let mut n = 0;
        {
            let mut stmt = tx.prepare(&self.inserts[table as usize]).map_err(failed)?;
            for line in chunk.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let mut found = 0;
                for (i, f) in line.split(|b| *b == b'\t').enumerate() {
                    found += 1;
                    let Some(k) = types.get(i) else { continue };
                    // Integers go in as integers: bound as text, SQLite would convert
                    // each one to match the column's affinity.
                    let bound = match (field(f), k) {
                        (None, _) => stmt.raw_bind_parameter(i + 1, rusqlite::types::Null),
                        (Some(v), ColumnType::Int) => match v.parse::<i64>() {
                            Ok(n) => stmt.raw_bind_parameter(i + 1, n),
                            Err(_) => stmt.raw_bind_parameter(i + 1, v.as_ref()),
                        },
                        (Some(v), _) => stmt.raw_bind_parameter(i + 1, v.as_ref()),
                    };
                    bound.map_err(failed)?;
                }
                if found != cols {
                    return Err(DbError::failed(
                        format!("row for {}", table.name()),
                        format!("{found} fields where {cols} were expected"),
                    ));
                }
                stmt.raw_execute().map_err(failed)?;
                n += 1;
            }
        }
        tx.commit()
            .map_err(|e| DbError::failed("SQLite commit", e))?;
        self.counts[table as usize] += n;
        Ok(())
    }
}

impl RowSink for SqliteLoader {
    fn binary(&self) -> bool {
        false
    }

    fn lanes(&self, _table: Table) -> usize {
        1
    }

    fn rows(
        &mut self,
        table: Table,
        _lane: usize,
        chunk: Vec<u8>,
        _rows: u64,
    ) -> std::io::Result<()> {
        let sent = match &self.chunks {
            Some(tx) => tx.send((table, chunk)).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The thread stopped: its error says why.
        let why = match self.finish_inserts() {
            Err(e) => e.to_string(),
            Ok(_) => "the SQLite file is closed".to_string(),
        };
        Err(std::io::Error::other(why))
    }
}

/// Whether `--reset` may replace the file at `path`: a complete seed simulate wrote (of any
/// layout), or, if not, what it is instead.
pub fn replaceable(path: &Path) -> Result<(), String> {
    match inspect_file(path)? {
        v if v.seeded() => Ok(()),
        Verdict::NotOurs(why) => Err(format!("was not written by simulate ({why})")),
        Verdict::Ours { .. } => Err("is an interrupted load of simulate's, not a seed".into()),
    }
}

/// Whose the SQLite file at `path` is (see [`owner`]), or what it is if not a database.
pub fn inspect_file(path: &Path) -> Result<Verdict, String> {
    if path.is_dir() {
        return Err("is a folder".into());
    }
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags)
        .map_err(|_| "cannot be opened as an SQLite database".to_string())?;
    let has = |table: &str| -> Result<bool, String> {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)",
            [table],
            |r| r.get(0),
        )
        .map_err(|_| "is not an SQLite database".to_string())
    };
    let mark: Option<String> = if has("simulate_mark")? {
        conn.query_row("SELECT mark FROM simulate_mark LIMIT 1", [], |r| r.get(0))
            .ok()
    } else {
        None
    };
    let shape: String = conn
        .query_row(
            "SELECT coalesce(group_concat(name || ' ' || type, ', '), '') FROM (SELECT name, type FROM pragma_table_info('run_meta') ORDER BY cid)",
            [],
            |r| r.get(0),
        )
        .unwrap_or_default();
    // Seeds of earlier versions carry no mark, but record our migration's exact checksum.
    let ours = MIGRATOR
        .iter()
        .find(|m| m.version == 1)
        .map(|m| m.checksum.to_vec());
    let legacy = has("_sqlx_migrations")?
        && conn
            .query_row(
                "SELECT checksum FROM _sqlx_migrations WHERE version = 1",
                [],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .ok()
            .is_some_and(|c| Some(c) == ours);
    Ok(owner::judge(
        mark.as_deref(),
        &shape,
        owner::SQLITE_RUN_META,
        legacy && mark.is_none(),
    ))
}

/// Opens an existing seed file for `verify`.
pub fn open(path: &Path) -> Result<(tokio::runtime::Runtime, SqliteConnection), DbError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DbError::failed("starting the database runtime", e))?;
    let url = format!("sqlite://{}", path.display());
    let opts = SqliteConnectOptions::from_str(&url)
        .map_err(|e| DbError::failed(format!("opening {}", path.display()), e))?
        .read_only(false)
        // verify reads every table whole: mapped pages spare a copy per page read.
        .pragma("mmap_size", "4294967296");
    let conn = rt
        .block_on(SqliteConnection::connect_with(&opts))
        .map_err(|e| DbError::failed(format!("opening {}", path.display()), e))?;
    Ok((rt, conn))
}
