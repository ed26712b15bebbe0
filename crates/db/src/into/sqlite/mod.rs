//! `seed --into` into an SQLite file: the team's tables read from pragmas ([`catalog`]),
//! every row inserted in one transaction with the foreign keys enforced, and the
//! manifest kept in an SQLite file of ours beside the database (`<file>.simulate-into`),
//! attached, so it commits with the rows. `clean` and `verify --into` read it
//! ([`manifest`]). Seeded rows are named by rowid.

pub mod catalog;
mod load;
mod manifest;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use simulate_core::diagnostic::Problem;

use super::check::{self, Planned};
use super::manifest::{Cleaned, IntoReport, TableEntry};
use super::mapping::SeedMap;
use super::plan::{self as plan_doc, PlanDoc};
use super::spool::Spool;
use super::{Backend, IntoError, LoadOpts, Phases};
use crate::DbError;

/// The team's SQLite file, open read-write (never created: it must be theirs already).
pub struct SqliteTarget {
    conn: Connection,
    path: PathBuf,
    shown: String,
}

/// The manifest's file, beside the database.
pub fn manifest_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".simulate-into");
    db.with_file_name(name)
}

impl SqliteTarget {
    pub fn open(path: &Path) -> Result<SqliteTarget, DbError> {
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(DbError::Refused(Problem::new(
                format!("{shown} is not a file: --into writes into your existing SQLite database"),
                "create your tables first (your migrations), then pass that file with --sqlite",
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| DbError::failed(format!("opening {shown}"), e))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
            .and_then(|_| {
                conn.query_row("SELECT count(*) FROM main.sqlite_schema", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .map_err(|e| DbError::failed(format!("reading {shown} as an SQLite database"), e))?;
        Ok(SqliteTarget {
            conn,
            path: path.to_path_buf(),
            shown,
        })
    }
}

/// Whether the table (its SQL name) holds a row.
fn any_row(c: &Connection, sql_name: &str, name: &str) -> Result<bool, DbError> {
    c.query_row(
        &format!("SELECT EXISTS (SELECT 1 FROM {sql_name})"),
        [],
        |r| r.get(0),
    )
    .map_err(|e| DbError::failed(format!("looking into {name}"), e))
}

impl Backend for SqliteTarget {
    fn masked(&self) -> &str {
        &self.shown
    }

    fn prepare<'m>(&mut self, map: &'m SeedMap) -> Result<Vec<Planned<'m>>, IntoError> {
        let (cat, without_rowid) = catalog::read(&self.conn)?;
        if let Some(t) = map.tables.iter().find(|t| without_rowid.contains(&t.name)) {
            let mut p = Problem::in_file(
                &map.file,
                Some(t.line),
                format!(
                    "`{}` is a WITHOUT ROWID table: the manifest names seeded rows by rowid",
                    t.name
                ),
                "leave it out of the mapping (this version seeds rowid tables only)",
            );
            p.field = format!("tables.{}", t.name);
            return Err(IntoError::BadInput(simulate_core::diagnostic::Problems(
                vec![p],
            )));
        }
        let mut empty = Vec::new();
        for (name, sql) in check::outside_parents(map, &cat) {
            if !any_row(&self.conn, &sql, &name)? {
                empty.push(name);
            }
        }
        check::check(map, &cat, &empty).map_err(IntoError::BadInput)
    }

    fn filled(&mut self, _map: &SeedMap, planned: &[Planned<'_>]) -> Result<Vec<String>, DbError> {
        let mut filled = Vec::new();
        for p in planned {
            if any_row(&self.conn, &p.info.qualified("main"), &p.map.name)? {
                filled.push(p.map.name.clone());
            }
        }
        Ok(filled)
    }

    /// SQLite's indexes are kept: `--rebuild-indexes` is PostgreSQL's.
    fn plain_indexes(&mut self, _: &SeedMap, _: &[Planned<'_>]) -> Result<Vec<String>, DbError> {
        Err(DbError::Refused(Problem::new(
            "--rebuild-indexes is for PostgreSQL: an SQLite load keeps its indexes",
            "leave --rebuild-indexes out with --sqlite",
        )))
    }

    fn load(
        &mut self,
        map: &SeedMap,
        planned: &[Planned<'_>],
        spool: &Spool,
        opts: &LoadOpts<'_>,
        phases: &mut Phases,
    ) -> Result<Vec<TableEntry>, DbError> {
        let t = std::time::Instant::now();
        manifest::attach(&self.conn, &self.path)?;
        let done = load::load(
            &mut self.conn,
            map,
            planned,
            spool,
            opts.existing,
            opts.record,
            opts.stop,
        );
        manifest::detach(&self.conn);
        phases.since("insert every table, manifest and commit", t);
        done
    }

    /// The plan without a server's input functions: SQLite takes any value in any column
    /// of a table that is not STRICT, so each sample is held against its column's type
    /// affinity instead (text that is no number in a number column is a problem, as
    /// PostgreSQL's input function would make it), beside the templates' own failures.
    fn plan(
        &mut self,
        map: &SeedMap,
        planned: &[Planned<'_>],
        spool: &Spool,
        filled: &[String],
    ) -> Result<PlanDoc, DbError> {
        let (mut doc, samples) = plan_doc::doc(map, planned, spool, filled)?;
        for s in samples {
            if let Some(why) = catalog::refuses(&s.ty, &s.value) {
                doc.problems.push(format!("{}: {why}", s.at));
            }
        }
        Ok(doc)
    }

    fn clean(&mut self, map: &SeedMap, with_app_rows: bool) -> Result<Cleaned, DbError> {
        if !manifest_path(&self.path).is_file() {
            return Ok(Cleaned::default());
        }
        manifest::attach(&self.conn, &self.path)?;
        let done = manifest::clean(&mut self.conn, map, with_app_rows);
        manifest::detach(&self.conn);
        done
    }

    fn verify(&mut self, map: &SeedMap) -> Result<IntoReport, DbError> {
        if !manifest_path(&self.path).is_file() {
            return Err(manifest::nothing_recorded(&self.shown));
        }
        manifest::attach(&self.conn, &self.path)?;
        let done = manifest::verify(&self.conn, map);
        manifest::detach(&self.conn);
        done
    }
}
