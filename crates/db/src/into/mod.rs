//! `simulate seed --into seed.toml`: the timeline in the team's own tables (issue 20).
//!
//! The mapping ([`mapping`]) says which entity fills each table and a template per
//! column; the catalog ([`catalog`]) says what the tables are; [`check`] holds one
//! against the other before anything is written. The engine's rows are spooled
//! ([`spool`]), then written table by table, parents first, in one transaction on one
//! connection ([`write`]), and recorded in a manifest kept in a schema of ours
//! ([`manifest`]), which `clean` and `verify --into` read. An SQLite file is the other
//! [`Backend`] ([`sqlite`]): the same mapping, plan and rows, its own catalog, writes
//! and manifest (a file beside the database).

pub mod aggregate;
pub mod catalog;
pub mod check;
pub mod encode;
pub mod entity;
pub mod follow;
pub mod indexes;
pub mod load;
pub mod manifest;
pub mod mapping;
pub mod phases;
pub mod plan;
pub mod spool;
pub mod sqlite;
pub mod write;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use simulate_core::diagnostic::Problems;
use sqlx::PgConnection;

use crate::DbError;
use crate::postgres::Pg;
pub use check::Planned;
pub use mapping::SeedMap;
pub use phases::Phases;

/// The schema of ours that holds the manifest: what each seed wrote where.
pub const MANIFEST: &str = "simulate_into";

/// A problem with the input (the mapping against the database), or the database's failure.
#[derive(Debug, thiserror::Error)]
pub enum IntoError {
    #[error("{0}")]
    BadInput(Problems),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// How a load treats tables that already hold rows.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Existing {
    Refuse,
    Append,
    Truncate,
}

/// How a load goes.
pub struct LoadOpts<'a> {
    pub existing: Existing,
    /// The world the rows came from, for the manifest.
    pub record: &'a manifest::Record,
    /// Set by Ctrl-C: the load stops and rolls back.
    pub stop: &'a Arc<AtomicBool>,
    /// Drop the mapped tables' plain indexes before the rows and build them again after,
    /// in the same transaction (`--rebuild-indexes`): one sorted build per index instead
    /// of an insertion per row. Never a constraint's index, never a unique one.
    pub rebuild_indexes: bool,
}

/// What `seed --into`, `clean --into` and `verify --into` ask of the team's database:
/// PostgreSQL ([`Target`]) or an SQLite file ([`sqlite::SqliteTarget`]). The mapping,
/// the entities, the spool, the plan's rows and the check against the catalog are
/// shared; each backend reads its catalog, writes, and keeps its manifest.
pub trait Backend {
    /// The database as messages name it (a URL with its password masked, a path).
    fn masked(&self) -> &str;
    /// The mapping checked against the catalog: the tables in load order, or every problem.
    fn prepare<'m>(&mut self, map: &'m SeedMap) -> Result<Vec<Planned<'m>>, IntoError>;
    /// The mapped tables that already hold rows, in load order.
    fn filled(&mut self, map: &SeedMap, planned: &[Planned<'_>]) -> Result<Vec<String>, DbError>;
    /// The plain indexes of the mapped tables (no constraint's, none unique) that
    /// `--rebuild-indexes` drops and builds again, named before the load.
    fn plain_indexes(
        &mut self,
        map: &SeedMap,
        planned: &[Planned<'_>],
    ) -> Result<Vec<String>, DbError>;
    /// Writes every mapped table in one transaction and records it in the manifest;
    /// each phase's time in `phases`.
    fn load(
        &mut self,
        map: &SeedMap,
        planned: &[Planned<'_>],
        spool: &spool::Spool,
        opts: &LoadOpts<'_>,
        phases: &mut Phases,
    ) -> Result<Vec<manifest::TableEntry>, DbError>;
    fn plan(
        &mut self,
        map: &SeedMap,
        planned: &[Planned<'_>],
        spool: &spool::Spool,
        filled: &[String],
    ) -> Result<plan::PlanDoc, DbError>;
    fn clean(&mut self, map: &SeedMap, with_app_rows: bool) -> Result<manifest::Cleaned, DbError>;
    fn verify(&mut self, map: &SeedMap) -> Result<manifest::IntoReport, DbError>;
}

/// Where the team's tables are.
pub enum Db<'a> {
    Postgres(&'a str),
    Sqlite(&'a std::path::Path),
}

/// The backend for `db`.
pub fn open(db: Db<'_>) -> Result<Box<dyn Backend>, DbError> {
    Ok(match db {
        Db::Postgres(url) => Box::new(Target::open(url)?),
        Db::Sqlite(path) => Box::new(sqlite::SqliteTarget::open(path)?),
    })
}

/// The team's PostgreSQL database, on one connection.
pub struct Target {
    pg: Pg,
    conn: PgConnection,
}

impl Target {
    pub fn open(url: &str) -> Result<Target, DbError> {
        let pg = Pg::open(url, MANIFEST)?;
        let conn = pg.live()?;
        Ok(Target { pg, conn })
    }
}

impl Backend for Target {
    fn masked(&self) -> &str {
        &self.pg.masked
    }

    fn prepare<'m>(&mut self, map: &'m SeedMap) -> Result<Vec<Planned<'m>>, IntoError> {
        let Target { pg, conn } = self;
        pg.runtime().block_on(async {
            use_schema(conn, map).await?;
            let cat = catalog::Catalog::read(conn, &map.schema).await?;
            let mut empty = Vec::new();
            for (name, sql) in check::outside_parents(map, &cat) {
                if !any_row(conn, &sql, &name).await? {
                    empty.push(name);
                }
            }
            check::check(map, &cat, &empty).map_err(IntoError::BadInput)
        })
    }

    fn filled(&mut self, map: &SeedMap, planned: &[Planned<'_>]) -> Result<Vec<String>, DbError> {
        let Target { pg, conn } = self;
        pg.runtime().block_on(async {
            let mut filled = Vec::new();
            for p in planned {
                if any_row(conn, &p.info.qualified(&map.schema), &p.map.name).await? {
                    filled.push(p.map.name.clone());
                }
            }
            Ok(filled)
        })
    }

    fn plain_indexes(
        &mut self,
        map: &SeedMap,
        planned: &[Planned<'_>],
    ) -> Result<Vec<String>, DbError> {
        let Target { pg, conn } = self;
        let found = pg.runtime().block_on(indexes::plain(conn, map, planned))?;
        Ok(found.into_iter().map(|i| i.name).collect())
    }

    fn load(
        &mut self,
        map: &SeedMap,
        planned: &[Planned<'_>],
        spool: &spool::Spool,
        opts: &LoadOpts<'_>,
        phases: &mut Phases,
    ) -> Result<Vec<manifest::TableEntry>, DbError> {
        let Target { pg, conn } = self;
        load::load(pg.runtime(), conn, map, planned, spool, opts, phases)
    }

    fn plan(
        &mut self,
        map: &SeedMap,
        planned: &[Planned<'_>],
        spool: &spool::Spool,
        filled: &[String],
    ) -> Result<plan::PlanDoc, DbError> {
        let Target { pg, conn } = self;
        pg.runtime()
            .block_on(plan::plan(conn, map, planned, spool, filled))
    }

    fn clean(&mut self, map: &SeedMap, with_app_rows: bool) -> Result<manifest::Cleaned, DbError> {
        let Target { pg, conn } = self;
        pg.runtime().block_on(async {
            use_schema(conn, map).await?;
            manifest::clean(conn, map, with_app_rows).await
        })
    }

    fn verify(&mut self, map: &SeedMap) -> Result<manifest::IntoReport, DbError> {
        let Target { pg, conn } = self;
        pg.runtime().block_on(async {
            use_schema(conn, map).await?;
            manifest::verify(conn, map).await
        })
    }
}

/// Whether the table (its SQL name) holds a row.
async fn any_row(conn: &mut PgConnection, sql_name: &str, name: &str) -> Result<bool, DbError> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {sql_name})");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| DbError::failed(format!("looking into {name}"), e))
}

/// The app's own search path: its triggers and the mapping's invariants name its tables
/// unqualified.
async fn use_schema(conn: &mut PgConnection, map: &SeedMap) -> Result<(), DbError> {
    let path = format!("SET search_path TO {}", catalog::quote(&map.schema));
    sqlx::raw_sql(sqlx::AssertSqlSafe(path))
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| DbError::failed("setting search_path", e))
}
