//! The embedded default: the same tables in one SQLite file, written as `<file>.partial`
//! and renamed into place only when complete, so a file at the final path is never half
//! loaded.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, Executor};

use super::DbError;
use super::copy::fields;
use super::keys::KEYS;
use super::postgres::RunMeta;
use super::projection::{RowSink, Table};

/// Rows per INSERT statement (at most 12 columns: well under SQLite's 32,766 parameters).
const BATCH: usize = 200;

pub static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

pub fn partial_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

/// Rows go straight into the partial file, one transaction per chunk.
pub struct SqliteLoader {
    rt: tokio::runtime::Runtime,
    conn: Option<SqliteConnection>,
    path: PathBuf,
    partial: PathBuf,
    inserts: Vec<String>,
    counts: Vec<u64>,
}

impl SqliteLoader {
    /// Creates `<path>.partial` (replacing a stale one) with the schema migrated in.
    pub fn create(path: &Path) -> Result<SqliteLoader, DbError> {
        let partial = partial_path(path);
        if partial.exists() {
            std::fs::remove_file(&partial)
                .map_err(|e| DbError::failed(format!("removing {}", partial.display()), e))?;
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| DbError::failed(format!("creating {}", dir.display()), e))?;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| DbError::failed("starting the database runtime", e))?;
        let url = format!("sqlite://{}", partial.display());
        let opts = SqliteConnectOptions::from_str(&url)
            .map_err(|e| DbError::failed(format!("opening {}", partial.display()), e))?
            .create_if_missing(true)
            // The partial file is thrown away if anything fails, so it needs no journal.
            .journal_mode(SqliteJournalMode::Off)
            .synchronous(SqliteSynchronous::Off);
        let conn = rt.block_on(async {
            let mut c = SqliteConnection::connect_with(&opts)
                .await
                .map_err(|e| DbError::failed(format!("opening {}", partial.display()), e))?;
            MIGRATOR
                .run(&mut c)
                .await
                .map_err(|e| DbError::failed("running migrations/sqlite", e))?;
            Ok::<_, DbError>(c)
        })?;
        let inserts = Table::ALL
            .iter()
            .map(|t| {
                let cols = t.columns();
                format!("INSERT INTO {} ({}) VALUES", t.name(), cols.join(", "))
            })
            .collect();
        Ok(SqliteLoader {
            rt,
            conn: Some(conn),
            path: path.to_path_buf(),
            partial,
            inserts,
            counts: vec![0; Table::ALL.len()],
        })
    }

    /// Inserts a chunk of COPY rows, `BATCH` rows per statement: sqlx hands each
    /// statement to SQLite's worker thread, so one statement per row would spend its time
    /// in the hand-over.
    fn insert_chunk(&mut self, table: Table, chunk: &[u8]) -> Result<(), DbError> {
        let cols = table.columns().len();
        let rows: Vec<Vec<Option<String>>> = chunk
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(fields)
            .collect();
        if let Some(bad) = rows.iter().find(|r| r.len() != cols) {
            return Err(DbError::failed(
                format!("row for {}", table.name()),
                format!("{} fields where {cols} were expected", bad.len()),
            ));
        }
        let n = rows.len() as u64;
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| DbError::Refused("the SQLite file is closed".into()))?;
        let head = &self.inserts[table as usize];
        let tuple = format!("({})", vec!["?"; cols].join(", "));
        self.rt.block_on(async {
            let mut tx = conn
                .begin()
                .await
                .map_err(|e| DbError::failed("SQLite transaction", e))?;
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                let batch: Vec<Vec<Option<String>>> = rows.by_ref().take(BATCH).collect();
                let sql = format!("{head} {}", vec![tuple.as_str(); batch.len()].join(", "));
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for f in batch.into_iter().flatten() {
                    q = q.bind(f);
                }
                q.execute(&mut *tx)
                    .await
                    .map_err(|e| DbError::failed(format!("inserting into {}", table.name()), e))?;
            }
            tx.commit()
                .await
                .map_err(|e| DbError::failed("SQLite commit", e))?;
            Ok::<_, DbError>(())
        })?;
        self.counts[table as usize] += n;
        Ok(())
    }

    /// Keys, ANALYZE and run_meta, then the rename into place.
    pub fn complete(
        mut self,
        meta: &RunMeta,
        timings: &mut Vec<(String, f64)>,
    ) -> Result<Vec<(Table, u64)>, DbError> {
        let t = Instant::now();
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| DbError::Refused("the SQLite file is closed".into()))?;
        self.rt.block_on(async {
            for (_, s) in KEYS {
                conn.execute(*s)
                    .await
                    .map_err(|e| DbError::failed(format!("key: {s}"), e))?;
            }
            Ok::<_, DbError>(())
        })?;
        timings.push(("indexes".into(), t.elapsed().as_secs_f64()));
        let t = Instant::now();
        self.rt.block_on(async {
            conn.execute("ANALYZE").await.map_err(|e| DbError::failed("ANALYZE", e))?;
            sqlx::query(
                "INSERT INTO run_meta (id, version, config, seed, users, days, events, events_sha256, complete) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&meta.version)
            .bind(meta.config.to_string())
            .bind(meta.seed as i64)
            .bind(meta.users as i64)
            .bind(meta.days as i64)
            .bind(meta.events as i64)
            .bind(&meta.checksum)
            .bind(meta.complete)
            .execute(&mut conn)
            .await
            .map_err(|e| DbError::failed("writing run_meta", e))?;
            conn.close().await.map_err(|e| DbError::failed("closing the SQLite file", e))?;
            Ok::<_, DbError>(())
        })?;
        std::fs::rename(&self.partial, &self.path).map_err(|e| {
            DbError::failed(format!("moving the file to {}", self.path.display()), e)
        })?;
        timings.push((
            "analyze, rename into place".into(),
            t.elapsed().as_secs_f64(),
        ));
        Ok(Table::ALL
            .iter()
            .map(|t| (*t, self.counts[*t as usize]))
            .collect())
    }

    /// Removes the partial file after a failure or interruption.
    pub fn abandon(mut self) {
        if let Some(c) = self.conn.take() {
            let _ = self.rt.block_on(c.close());
        }
        let _ = std::fs::remove_file(&self.partial);
    }
}

impl RowSink for SqliteLoader {
    fn binary(&self) -> bool {
        false
    }

    fn rows(&mut self, table: Table, chunk: Vec<u8>, _rows: u64) -> std::io::Result<()> {
        self.insert_chunk(table, &chunk)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
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
        .read_only(false);
    let conn = rt
        .block_on(SqliteConnection::connect_with(&opts))
        .map_err(|e| DbError::failed(format!("opening {}", path.display()), e))?;
    Ok((rt, conn))
}
