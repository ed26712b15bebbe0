//! `simulate seed --into seed.toml`: the timeline in the team's own tables (issue 20).
//!
//! The mapping ([`mapping`]) says which entity fills each table and a template per
//! column; the catalog ([`catalog`]) says what the tables are; [`check`] holds one
//! against the other before anything is written. The engine's rows are spooled
//! ([`spool`]), then written table by table, parents first, in one transaction on one
//! connection ([`write`]), and recorded in a manifest kept in a schema of ours
//! ([`manifest`]), which `clean` and `verify --into` read.

pub mod catalog;
pub mod check;
pub mod entity;
pub mod manifest;
pub mod mapping;
pub mod plan;
pub mod spool;
pub mod write;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use simulate_core::diagnostic::Problems;
use sqlx::PgConnection;

use crate::DbError;
use crate::postgres::Pg;
pub use check::Planned;
pub use mapping::SeedMap;

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

/// The team's database, on one connection.
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

    /// The URL with its password masked.
    pub fn masked(&self) -> &str {
        &self.pg.masked
    }

    /// The mapping checked against the catalog: the tables in load order, or every problem.
    pub fn prepare<'m>(&mut self, map: &'m SeedMap) -> Result<Vec<Planned<'m>>, IntoError> {
        let Target { pg, conn } = self;
        pg.runtime().block_on(async {
            use_schema(conn, map).await?;
            let cat = catalog::Catalog::read(conn, &map.schema).await?;
            check::check(conn, map, &cat)
                .await?
                .map_err(IntoError::BadInput)
        })
    }

    /// The mapped tables that already hold rows, in load order.
    pub fn filled(
        &mut self,
        map: &SeedMap,
        planned: &[Planned<'_>],
    ) -> Result<Vec<String>, DbError> {
        let Target { pg, conn } = self;
        pg.runtime().block_on(async {
            let mut filled = Vec::new();
            for p in planned {
                let sql = format!(
                    "SELECT EXISTS (SELECT 1 FROM {})",
                    p.info.qualified(&map.schema)
                );
                let any: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| DbError::failed(format!("looking into {}", p.map.name), e))?;
                if any {
                    filled.push(p.map.name.clone());
                }
            }
            Ok(filled)
        })
    }

    /// Writes every mapped table in one transaction and records it in the manifest.
    pub fn load(
        &mut self,
        map: &SeedMap,
        planned: &[Planned<'_>],
        spool: &spool::Spool,
        existing: Existing,
        record: &manifest::Record,
        stop: &Arc<AtomicBool>,
    ) -> Result<Vec<manifest::TableEntry>, DbError> {
        let Target { pg, conn } = self;
        pg.runtime().block_on(manifest::load(
            conn, map, planned, spool, existing, record, stop,
        ))
    }

    pub fn plan(
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

    pub fn clean(
        &mut self,
        map: &SeedMap,
        with_app_rows: bool,
    ) -> Result<manifest::Cleaned, DbError> {
        let Target { pg, conn } = self;
        pg.runtime().block_on(async {
            use_schema(conn, map).await?;
            manifest::clean(conn, map, with_app_rows).await
        })
    }

    pub fn verify(&mut self, map: &SeedMap) -> Result<manifest::IntoReport, DbError> {
        let Target { pg, conn } = self;
        pg.runtime().block_on(async {
            use_schema(conn, map).await?;
            manifest::verify(conn, map).await
        })
    }
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
