//! Loading PostgreSQL: binary COPY FROM STDIN into a staging schema, one connection per table so
//! the server parses tables in parallel, keys after the data, ANALYZE, then one
//! transaction swaps the staging schema in. A load that dies half-way leaves the previous
//! schema untouched and a staging schema that the next run recognises and removes.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection, Executor, Row};
use tokio::sync::mpsc;

use super::RunMeta;
use super::copy::{BINARY_HEADER, BINARY_TRAILER};
use super::keys::{KEYS, part, pg_foreign_keys};
use super::owner::{self, Mark, Role, Verdict};
use super::projection::{RowSink, Table};
use simulate_core::redact::mask_url;

use super::{DbError, Steps, ident, server_words};

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// COPY streams per table, each filling one hash partition of it alone (`lanes`). The two
/// largest tables get several: one backend parsing the behaviour log's JSONB was the
/// critical path while the second core sat idle (50k users: 9.7 s with one stream each,
/// 8.0 s with two, 6.8 s with 3 and 2, no better with 4 and 3). A partition per stream,
/// rather than streams sharing one table, lets every stream `COPY … FREEZE`.
pub(crate) const fn streams(t: Table) -> usize {
    match t {
        Table::BehaviorLogs => 3,
        Table::UserGoalProgress => 2,
        _ => 1,
    }
}

/// Partitions (COPY streams) of the table named `name`.
fn lanes_of(name: &str) -> usize {
    Table::ALL
        .into_iter()
        .find(|t| t.name() == name)
        .map_or(1, streams)
}

/// Connections a load holds at once: one per COPY stream.
pub(crate) const COPY_CONNECTIONS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < Table::ALL.len() {
        n += streams(Table::ALL[i]);
        i += 1;
    }
    n
};

pub struct Pg {
    opts: PgConnectOptions,
    pub masked: String,
    pub schema: String,
    pub staging: String,
    rt: tokio::runtime::Runtime,
}

/// What the target database already holds.
#[derive(Debug, Default)]
pub struct Found {
    /// Relations in the target schema (None: the schema does not exist).
    pub tables: Option<i64>,
    /// Whose the target schema is (see [`owner`]); None when it does not exist.
    pub verdict: Option<Verdict>,
    /// The first few of its relations, by name, to show whose they are.
    pub names: String,
    /// The role owning the target schema, when the connecting user cannot act as it (so
    /// cannot drop it): checked before loading, not found out at the swap.
    pub owner_not_us: Option<String>,
    /// The connecting user.
    pub user: String,
    /// A staging schema left by an interrupted load.
    pub stale_staging: bool,
    /// A staging schema of that name that is not ours.
    pub foreign_staging: bool,
}

/// The columns of `n`'s run_meta as `name type, …` (empty without one), for [`owner::judge`].
const RUN_META_SHAPE: &str = "coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) \
     FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid \
     WHERE r.relnamespace = n.oid AND r.relname = 'run_meta' AND r.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped), '')";

/// Whose a schema is, from its comment and its run_meta's columns.
fn judge_schema(comment: Option<&str>, run_meta: &str) -> Verdict {
    let legacy = comment.is_some_and(|c| c.trim() == owner::LEGACY_SEEDED);
    owner::judge(comment, run_meta, owner::PG_RUN_META, legacy)
}

/// Whose the schema `name` is, read on `c` (inside the caller's transaction, if any);
/// None when there is no such schema.
async fn verdict_of(c: &mut PgConnection, name: &str) -> Result<Option<Verdict>, sqlx::Error> {
    let sql = format!(
        "SELECT obj_description(n.oid, 'pg_namespace'), {RUN_META_SHAPE} FROM pg_namespace n WHERE n.nspname = $1"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(name)
        .fetch_optional(c)
        .await?;
    Ok(row.map(|r| {
        judge_schema(
            r.get::<Option<String>, _>(0).as_deref(),
            &r.get::<String, _>(1),
        )
    }))
}

/// Drops the schema `name` if it is ours in `role`, in one transaction with the check;
/// `Refused` when a schema of that name is someone else's.
async fn drop_if_ours(
    c: &mut PgConnection,
    name: &str,
    role: Role,
    masked: &str,
) -> Result<(), DbError> {
    let quoted = ident(name)?;
    let failed = |e| DbError::failed(format!("dropping schema {name}"), e);
    let mut tx = c.begin().await.map_err(failed)?;
    match verdict_of(&mut tx, name).await.map_err(failed)? {
        None => return Ok(()),
        Some(Verdict::Ours { role: r, .. }) if r == role => {}
        Some(_) => {
            return Err(DbError::refused(
                format!(
                    "schema `{name}` in {masked} was not made by simulate; nothing was changed"
                ),
                "choose another --schema",
            ));
        }
    }
    tx.execute(AssertSqlSafe(format!("DROP SCHEMA {quoted} CASCADE")))
        .await
        .map_err(failed)?;
    tx.commit().await.map_err(failed)
}

impl Pg {
    pub fn open(url: &str, schema: &str) -> Result<Pg, DbError> {
        let (opts, masked) = connect_options(url)?;
        ident(schema)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| DbError::failed("starting the database runtime", e))?;
        let pg = Pg {
            opts,
            masked,
            schema: schema.to_string(),
            staging: format!("{schema}__staging"),
            rt,
        };
        // Fail fast and clearly when the server is not there.
        pg.rt
            .block_on(async { pg.connect(None).await.map(|_| ()) })?;
        Ok(pg)
    }

    async fn connect(&self, search_path: Option<&str>) -> Result<PgConnection, DbError> {
        let mut conn = connect_to(&self.opts, &self.masked).await?;
        if let Some(schema) = search_path {
            conn.execute(AssertSqlSafe(format!(
                "SET search_path TO {}",
                ident(schema)?
            )))
            .await
            .map_err(|e| DbError::failed("setting search_path", e))?;
        }
        conn.execute("SET client_min_messages TO warning")
            .await
            .map_err(|e| DbError::failed("session setup", e))?;
        Ok(conn)
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.rt
    }

    pub fn inspect(&self) -> Result<Found, DbError> {
        self.rt.block_on(async {
            let mut c = self.connect(None).await?;
            let q = format!(
                "SELECT n.nspname, obj_description(n.oid, 'pg_namespace'), \
                 (SELECT count(*) FROM pg_class r WHERE r.relnamespace = n.oid AND r.relkind IN ('r','p','v','m','f')), \
                 {RUN_META_SHAPE}, \
                 coalesce((SELECT string_agg(relname, ', ') FROM (SELECT relname FROM pg_class r \
                    WHERE r.relnamespace = n.oid AND r.relkind IN ('r','p','v','m','f') ORDER BY relname LIMIT 5) s), ''), \
                 pg_has_role(n.nspowner, 'USAGE'), pg_get_userbyid(n.nspowner)::text, current_user::text \
                 FROM pg_namespace n WHERE n.nspname = $1 OR n.nspname = $2"
            );
            let rows = sqlx::query(AssertSqlSafe(q))
                .bind(&self.schema)
                .bind(&self.staging)
                .fetch_all(&mut c)
                .await
                .map_err(|e| DbError::failed("reading the database's schemas", e))?;
            let mut found = Found::default();
            for r in rows {
                let name: String = r.get(0);
                let comment: Option<String> = r.get(1);
                let verdict = judge_schema(comment.as_deref(), &r.get::<String, _>(3));
                if name == self.schema {
                    found.tables = Some(r.get(2));
                    found.verdict = Some(verdict);
                    found.names = r.get(4);
                    if !r.get::<bool, _>(5) {
                        found.owner_not_us = Some(r.get(6));
                    }
                    found.user = r.get(7);
                } else if matches!(verdict, Verdict::Ours { role: Role::Staging, .. }) {
                    found.stale_staging = true;
                } else {
                    found.foreign_staging = true;
                }
            }
            Ok(found)
        })
    }

    /// Whose the target schema is, on a connection of its own (verify, serve).
    pub fn verdict(&self) -> Result<Option<Verdict>, DbError> {
        self.rt.block_on(async {
            let mut c = self.connect(None).await?;
            verdict_of(&mut c, &self.schema)
                .await
                .map_err(|e| DbError::failed("reading the database's schemas", e))
        })
    }

    /// Creates the staging schema (removing a stale one of ours) and migrates it. With
    /// `unlogged`, simulate's tables become UNLOGGED while still empty (pgbench's
    /// `--unlogged-tables`): no WAL for the rows, at the price of PostgreSQL emptying them
    /// after a server crash and not replicating them.
    pub fn prepare(&self, unlogged: bool) -> Result<(), DbError> {
        let staging = ident(&self.staging)?;
        self.rt.block_on(async {
            let mut c = self.connect(None).await?;
            // Only a staging schema of ours goes; the new one is marked as it is made.
            drop_if_ours(&mut c, &self.staging, Role::Staging, &self.masked).await?;
            let sql = format!(
                "CREATE SCHEMA {staging}; COMMENT ON SCHEMA {staging} IS '{}'",
                Mark::new(Role::Staging).text()
            );
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut c).await.map_err(|e| DbError::failed("creating the staging schema", e))?;
            let mut c = self.connect(Some(&self.staging)).await?;
            MIGRATOR.run(&mut c).await.map_err(|e| DbError::failed("running migrations/postgres", e))?;
            // The migrations declare which tables are PARTITION BY HASH (user_id); how many
            // partitions follows the stream plan, so it is decided here.
            let mut sql = String::new();
            for t in Table::ALL.into_iter().filter(|t| streams(*t) > 1) {
                let n = streams(t);
                for i in 0..n {
                    sql += &format!(
                        "CREATE TABLE {} PARTITION OF {} FOR VALUES WITH (MODULUS {n}, REMAINDER {i});",
                        part(t.name(), t.name(), i),
                        t.name()
                    );
                }
            }
            if unlogged {
                // Tables that hold rows; the migrations' bookkeeping stays logged, as it
                // says what the schema is.
                let leaves = Table::ALL.into_iter().flat_map(|t| {
                    (0..streams(t)).map(move |i| if streams(t) > 1 { part(t.name(), t.name(), i) } else { t.name().to_string() })
                });
                for t in leaves.chain(["run_meta".to_string()]) {
                    sql += &format!("ALTER TABLE {t} SET UNLOGGED;");
                }
            }
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut c).await.map_err(|e| DbError::failed("creating the partitions", e))?;
            Ok(())
        })
    }

    /// Starts the COPY streams, one per lane of each table; rows flow in through the
    /// returned sink.
    pub fn loader(&self) -> PgLoader {
        let mut senders = Vec::with_capacity(Table::ALL.len());
        let mut tasks = Vec::new();
        for table in Table::ALL {
            let n = streams(table);
            let mut lanes = Vec::with_capacity(n);
            for lane in 0..n {
                // Each stream has its own queue, since a row's partition is fixed. The
                // queue is deep enough that a backend pausing for a WAL flush does not
                // hold up the projection (which feeds all of them) at once.
                let (tx, rx) = mpsc::channel::<Vec<u8>>(8);
                lanes.push(tx);
                let target = if n > 1 {
                    part(table.name(), table.name(), lane)
                } else {
                    table.name().to_string()
                };
                tasks.push(self.copy_task(table, target, rx));
            }
            senders.push(lanes);
        }
        PgLoader { senders, tasks }
    }

    /// One COPY stream filling `target` (a table, or one partition of it) alone, in one
    /// transaction that first truncates it: that makes `COPY … FREEZE` legal, so the rows
    /// arrive frozen and all-visible. Without it the index builds set every row's hint
    /// bits and dirty each heap page again (a 250k seed wrote 14.8 GB to disk for 4.9 GB
    /// of tables), and the first VACUUM would dirty them once more during the user's test.
    fn copy_task(&self, table: Table, target: String, mut rx: mpsc::Receiver<Vec<u8>>) -> CopyTask {
        let opts = self.opts.clone();
        let staging = self.staging.clone();
        let masked = self.masked.clone();
        self.rt.spawn(async move {
            let failed = |e| DbError::failed(format!("COPY {}", table.name()), e);
            let mut c = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&opts))
                .await
                .map_err(|_| {
                    DbError::refused(
                        format!("no answer from {masked}"),
                        "check that PostgreSQL runs and the host and port are right",
                    )
                })?
                .map_err(|e| DbError::failed(format!("connecting for {}", table.name()), e))?;
            let setup = format!(
                "SET search_path TO {}; BEGIN; TRUNCATE {target}",
                ident(&staging)?
            );
            sqlx::raw_sql(AssertSqlSafe(setup))
                .execute(&mut c)
                .await
                .map_err(failed)?;
            let sql = format!(
                "COPY {target} ({}) FROM STDIN (FORMAT binary, FREEZE)",
                table.columns().join(", ")
            );
            let mut copy = c.copy_in_raw(&sql).await.map_err(failed)?;
            // Each stream is a whole binary COPY file: header, rows, trailer.
            copy.send(BINARY_HEADER).await.map_err(failed)?;
            while let Some(chunk) = rx.recv().await {
                copy.send(chunk).await.map_err(failed)?;
            }
            copy.send(BINARY_TRAILER).await.map_err(failed)?;
            let n = copy.finish().await.map_err(failed)?;
            c.execute("COMMIT").await.map_err(failed)?;
            Ok((table, n))
        })
    }

    /// Waits for the COPYs, then keys, ANALYZE, run_meta and the swap. Returns rows per
    /// table and timings of each step.
    /// Finishes the load: every COPY stream, the keys and indexes, run_meta, then the
    /// staging schema swapped in for the live one, each a step of its own.
    pub fn complete(
        &self,
        loader: PgLoader,
        meta: &RunMeta,
        steps: &mut Steps,
    ) -> Result<Vec<(Table, u64)>, DbError> {
        let PgLoader { senders, tasks, .. } = loader;
        drop(senders);
        steps.start("copy (finish)")?;
        let counts = self.finish_copies(tasks)?;
        steps.start("primary keys, indexes, ANALYZE")?;
        self.build_keys()?;
        steps.start("primary and foreign keys, run_meta")?;
        self.constrain_and_record(meta)?;
        steps.start("swap in")?;
        self.swap_in()?;
        steps.end();
        Ok(counts)
    }

    /// Waits for every COPY stream: the rows each loaded.
    fn finish_copies(&self, tasks: Vec<CopyTask>) -> Result<Vec<(Table, u64)>, DbError> {
        self.rt.block_on(async {
            let mut counts = Vec::new();
            for task in tasks {
                counts.push(
                    task.await
                        .map_err(|e| DbError::failed("a COPY task", e))??,
                );
            }
            Ok::<_, DbError>(counts)
        })
    }

    /// Primary keys and indexes, then ANALYZE, on three connections at once.
    fn build_keys(&self) -> Result<(), DbError> {
        self.rt.block_on(async {
            // The two large tables' keys each on a connection of their own, the rest on a
            // third: index builds are sorts, and the largest two set the step's length.
            // Each connection then ANALYZEs the tables it indexed: run alone at the end,
            // ANALYZE kept one core busy and the other idle (50k users: 1.1 of 10 s).
            const LARGE: [&str; 2] = ["behavior_logs", "user_goal_progress"];
            let groups: Vec<(Vec<String>, Vec<&str>)> = ["behavior_logs", "user_goal_progress", ""]
                .iter()
                .map(|g| {
                    let mine = |t: &str| {
                        if g.is_empty() {
                            !LARGE.contains(&t)
                        } else {
                            t == *g
                        }
                    };
                    let keys = KEYS
                        .iter()
                        .filter(|k| mine(k.table))
                        .flat_map(|k| k.pg_builds(lanes_of(k.table)))
                        .collect();
                    let tables = Table::ALL
                        .iter()
                        .map(|t| t.name())
                        .filter(|t| mine(t))
                        .collect();
                    (keys, tables)
                })
                .collect();
            let mut conns = Vec::new();
            for _ in &groups {
                let mut c = self.connect(Some(&self.staging)).await?;
                // Index builds sort: give them memory, and PostgreSQL's parallel btree build.
                c.execute("SET maintenance_work_mem = '256MB'")
                    .await
                    .map_err(|e| DbError::failed("session setup", e))?;
                conns.push(c);
            }
            futures_util::future::try_join_all(conns.iter_mut().zip(&groups).map(
                |(c, (stmts, tables))| async move {
                    for s in stmts {
                        c.execute(AssertSqlSafe(s.as_str()))
                            .await
                            .map_err(|e| DbError::failed(format!("key: {s}"), e))?;
                    }
                    // Only our tables: a bare ANALYZE would touch every table in the database.
                    c.execute(AssertSqlSafe(format!("ANALYZE {}", tables.join(", "))))
                        .await
                        .map_err(|e| DbError::failed("ANALYZE", e))?;
                    Ok::<_, DbError>(())
                },
            ))
            .await?;
            Ok::<_, DbError>(())
        })
    }

    /// The remaining keys, the foreign keys, and the run_meta row.
    fn constrain_and_record(&self, meta: &RunMeta) -> Result<(), DbError> {
        self.rt.block_on(async {
            let mut c = self.connect(Some(&self.staging)).await?;
            let constraints = KEYS
                .iter()
                .flat_map(|k| k.pg_constraints(lanes_of(k.table)))
                .chain(pg_foreign_keys(lanes_of));
            for s in constraints {
                c.execute(AssertSqlSafe(s.as_str()))
                    .await
                    .map_err(|e| DbError::failed(format!("key: {s}"), e))?;
            }
            sqlx::query(
                "INSERT INTO run_meta (version, config, seed, users, days, events, events_sha256, complete) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&meta.version)
            .bind(sqlx::types::Json(&meta.config))
            .bind(meta.seed as i64)
            .bind(meta.users as i32)
            .bind(meta.days as i32)
            .bind(meta.events as i64)
            .bind(&meta.checksum)
            .bind(meta.complete)
            .execute(&mut c)
            .await
            .map_err(|e| DbError::failed("writing run_meta", e))?;
            Ok::<_, DbError>(())
        })
    }

    /// The staging schema becomes the live one, in one transaction.
    fn swap_in(&self) -> Result<(), DbError> {
        let (schema, staging) = (ident(&self.schema)?, ident(&self.staging)?);
        self.rt.block_on(async {
            let mut c = self.connect(None).await?;
            let mut tx = c.begin().await.map_err(|e| DbError::failed("swap", e))?;
            // Checked again here, not only before the load: a schema someone made meanwhile
            // under that name is theirs, and the load is abandoned rather than drop it.
            let live = verdict_of(&mut tx, &self.schema)
                .await
                .map_err(|e| DbError::failed("swap: looking at the live schema", e))?;
            if live.as_ref().is_some_and(|v| !v.seeded()) {
                return Err(DbError::refused(
                    format!(
                        "schema `{}` appeared in {} during the load and was not made by simulate; it was left as it is",
                        self.schema, self.masked
                    ),
                    "choose another --schema",
                ));
            }
            if live.is_some() {
                tx.execute(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .await
                    .map_err(|e| DbError::failed("swap: dropping the previous schema", e))?;
            }
            tx.execute(AssertSqlSafe(format!(
                "ALTER SCHEMA {staging} RENAME TO {schema}"
            )))
            .await
            .map_err(|e| DbError::failed("swap: renaming the staging schema", e))?;
            tx.execute(AssertSqlSafe(format!(
                "COMMENT ON SCHEMA {schema} IS '{}'",
                Mark::new(Role::Seeded).text()
            )))
            .await
            .map_err(|e| DbError::failed("swap", e))?;
            tx.commit()
                .await
                .map_err(|e| DbError::failed("swap: commit", e))?;
            Ok::<_, DbError>(())
        })
    }

    /// Stops a load: closes the COPY streams, drops the staging schema, and returns what
    /// the database said if a stream failed (the reason a load broke off).
    pub fn abandon_load(&self, loader: PgLoader) -> Option<DbError> {
        let PgLoader { senders, tasks, .. } = loader;
        drop(senders);
        let first = self.rt.block_on(async {
            let mut first = None;
            for task in tasks {
                let r = tokio::time::timeout(CONNECT_TIMEOUT, task).await;
                if let Ok(Ok(Err(e))) = r {
                    first.get_or_insert(e);
                }
            }
            first
        });
        self.abandon();
        first
    }

    /// Drops the staging schema after a failed or interrupted load (if it is still ours).
    pub fn abandon(&self) {
        let _ = self.rt.block_on(async {
            let mut c = self.connect(None).await?;
            drop_if_ours(&mut c, &self.staging, Role::Staging, &self.masked).await
        });
    }

    /// A connection with the live schema on its search path, for `verify`.
    pub fn live(&self) -> Result<PgConnection, DbError> {
        self.rt.block_on(self.connect(Some(&self.schema)))
    }
}

/// Rows headed for the COPY tasks.
pub struct PgLoader {
    /// Per table, per lane (partition), the queue of its COPY stream.
    senders: Vec<Vec<mpsc::Sender<Vec<u8>>>>,
    tasks: Vec<CopyTask>,
}

/// One COPY stream's task: the table it filled and the rows.
type CopyTask = tokio::task::JoinHandle<Result<(Table, u64), DbError>>;

impl RowSink for PgLoader {
    fn binary(&self) -> bool {
        true
    }

    fn lanes(&self, table: Table) -> usize {
        streams(table)
    }

    fn rows(
        &mut self,
        table: Table,
        lane: usize,
        chunk: Vec<u8>,
        _rows: u64,
    ) -> std::io::Result<()> {
        self.senders[table as usize][lane]
            .blocking_send(chunk)
            .map_err(|_| {
                std::io::Error::other(format!(
                    "PostgreSQL stopped accepting rows for {}",
                    table.name()
                ))
            })
    }
}

/// Removes anything that looks like the URL from a driver message.
/// A PostgreSQL URL's connect options and the URL as it may be shown (no password).
pub(crate) fn connect_options(url: &str) -> Result<(PgConnectOptions, String), DbError> {
    let masked = mask_url(url);
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(DbError::refused(
            format!("{masked} is not a PostgreSQL URL"),
            "write postgres://user:password@host:5432/database, or leave out --database-url (and DATABASE_URL) to write the SQLite file",
        ));
    }
    let opts = PgConnectOptions::from_str(url).map_err(|e| {
        DbError::refused(
            format!(
                "{masked} is not a usable PostgreSQL URL ({})",
                clean(&e.to_string(), url)
            ),
            "write postgres://user:password@host:5432/database",
        )
    })?;
    Ok((opts, masked))
}

/// Connects within [`CONNECT_TIMEOUT`], or says why not with the fix.
pub(crate) async fn connect_to(
    opts: &PgConnectOptions,
    masked: &str,
) -> Result<PgConnection, DbError> {
    tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(opts))
        .await
        .map_err(|_| {
            DbError::refused(
                format!(
                    "no answer from {masked} within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ),
                "check that PostgreSQL runs and the host and port are right",
            )
        })?
        .map_err(|e| cannot_connect(opts, masked, &e))
}

/// Why a connection failed, in the server's words, with the fix for the usual causes.
fn cannot_connect(opts: &PgConnectOptions, masked: &str, e: &sqlx::Error) -> DbError {
    let code = e
        .as_database_error()
        .and_then(|d| d.code())
        .unwrap_or_default();
    let fix = match code.as_ref() {
        "3D000" => format!(
            "create it (createdb {}) or name an existing database in the URL",
            opts.get_database().unwrap_or("NAME")
        ),
        "28P01" | "28000" => "check the user name and password in the URL".into(),
        _ if matches!(e, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused) => {
            "start PostgreSQL, or correct the host and port in the URL".into()
        }
        _ => "check the server, the credentials and that the database exists".into(),
    };
    let words = match e.as_database_error() {
        Some(d) => d.message().to_string(),
        None => e.to_string(),
    };
    DbError::refused(
        format!("cannot connect to {masked}: {}", server_words(&words)),
        fix,
    )
}

fn clean(message: &str, url: &str) -> String {
    if url.is_empty() {
        message.to_string()
    } else {
        message.replace(url, &mask_url(url))
    }
}
