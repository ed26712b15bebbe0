//! The SQLite manifest: a file of ours beside the team's database (`<file>.simulate-into`),
//! attached as `simulate_into` while a load, clean or verify runs, so its rows commit
//! with theirs. One `seeds` row per load and one table of rowids per seeded table.

use std::path::Path;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use sha2::{Digest, Sha256};
use simulate_core::diagnostic::Problem;

use super::super::catalog::quote;
use super::super::manifest::{Cleaned, DigestKind, IntoCheck, IntoReport, TableEntry};
use super::super::mapping::{Invariant, SeedMap};
use super::catalog;
use crate::DbError;

pub(super) const MANIFEST: &str = "simulate_into";

pub(super) const SETUP: &str = "
CREATE TABLE IF NOT EXISTS simulate_into.seeds (
    id integer PRIMARY KEY,
    schema text NOT NULL,
    mapping text NOT NULL,
    world text NOT NULL,
    checksum text NOT NULL,
    tables text NOT NULL,
    created_at text NOT NULL
);";

fn failed(what: &str) -> impl Fn(rusqlite::Error) -> DbError + '_ {
    move |e| DbError::failed(what.to_string(), e)
}

pub(super) fn attach(c: &Connection, db: &Path) -> Result<(), DbError> {
    let path = super::manifest_path(db);
    // The team's file is opened without CREATE (it must exist), and an attached file
    // inherits that: the manifest's file is created on its own first.
    if !path.exists() {
        Connection::open(&path)
            .map_err(|e| DbError::failed(format!("creating the manifest {}", path.display()), e))?;
    }
    c.execute(
        &format!("ATTACH DATABASE ?1 AS {MANIFEST}"),
        [path.display().to_string()],
    )
    .map(|_| ())
    .map_err(|e| DbError::failed(format!("opening the manifest {}", path.display()), e))
}

pub(super) fn detach(c: &Connection) {
    let _ = c.execute_batch(&format!("DETACH DATABASE {MANIFEST}"));
}

pub(super) fn nothing_recorded(db: &str) -> DbError {
    DbError::Refused(Problem::new(
        format!("no seed of these tables is recorded beside {db}"),
        "seed them first: simulate seed --sqlite … --into <this mapping>",
    ))
}

/// The seeded rows of `e`.
fn seeded(e: &TableEntry) -> String {
    format!(
        "main.{} t WHERE t.rowid IN (SELECT r FROM {MANIFEST}.{})",
        quote(&e.table),
        quote(&e.keys_table)
    )
}

/// Row count and an order-free digest of the mapped columns of the seeded rows: the
/// wrapping sum of a 64-bit SHA-256 prefix of each row's values (the one kind SQLite
/// manifests hold; absent in those written before the kind was recorded).
pub(super) fn digest(c: &Connection, e: &TableEntry) -> Result<(u64, String), DbError> {
    let kind = e.digest_kind.unwrap_or(DigestKind::Sha256Prefix64);
    if kind != DigestKind::Sha256Prefix64 {
        return Err(DbError::Refused(Problem::new(
            format!(
                "the manifest records table `{}`'s digest as {kind:?}, which SQLite seeds never write",
                e.table
            ),
            "the manifest beside the database was edited or copied from PostgreSQL's: seed again",
        )));
    }
    let cols: Vec<String> = e
        .columns
        .iter()
        .map(|k| format!("t.{}", quote(k)))
        .collect();
    let mut stmt = c
        .prepare(&format!("SELECT {} FROM {}", cols.join(", "), seeded(e)))
        .map_err(failed("digesting a seeded table"))?;
    let mut rows = stmt.query([]).map_err(failed("digesting a seeded table"))?;
    let (mut n, mut sum) = (0u64, 0u64);
    while let Some(r) = rows.next().map_err(failed("digesting a seeded table"))? {
        let mut h = Sha256::new();
        for i in 0..cols.len() {
            use rusqlite::types::ValueRef::*;
            match r.get_ref(i).map_err(failed("digesting a seeded table"))? {
                Null => h.update(b"\\N"),
                Integer(v) => h.update(v.to_string().as_bytes()),
                Real(v) => h.update(v.to_string().as_bytes()),
                Text(v) | Blob(v) => h.update(v),
            }
            h.update(b"\t");
        }
        let d = h.finalize();
        sum = sum.wrapping_add(u64::from_be_bytes(d[..8].try_into().expect("8 bytes")));
        n += 1;
    }
    Ok((n, format!("{sum:016x}")))
}

/// The seeds recorded, newest first.
fn seeds(c: &Connection) -> Result<Vec<(i64, Vec<TableEntry>)>, DbError> {
    c.execute_batch(SETUP)
        .map_err(failed("reading the manifest"))?;
    let mut stmt = c
        .prepare(&format!(
            "SELECT id, tables FROM {MANIFEST}.seeds ORDER BY id DESC"
        ))
        .map_err(failed("reading the manifest"))?;
    let rows: Vec<(i64, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|r| r.collect::<Result<_, _>>())
        .map_err(failed("reading the manifest"))?;
    rows.into_iter()
        .map(|(id, t)| {
            serde_json::from_str(&t)
                .map(|e| (id, e))
                .map_err(|e| DbError::failed("reading the manifest", e))
        })
        .collect()
}

fn drop_seed(c: &Connection, id: i64, entries: &[TableEntry]) -> Result<(), DbError> {
    for e in entries {
        c.execute_batch(&format!(
            "DROP TABLE IF EXISTS {MANIFEST}.{}",
            quote(&e.keys_table)
        ))
        .map_err(failed("removing a key table"))?;
    }
    c.execute(&format!("DELETE FROM {MANIFEST}.seeds WHERE id = ?1"), [id])
        .map(|_| ())
        .map_err(failed("removing a manifest row"))
}

/// Earlier seeds of these tables, whose rows a truncate removes.
pub(super) fn forget(c: &Connection, tables: &[&str]) -> Result<(), DbError> {
    for (id, entries) in seeds(c)? {
        if entries.iter().any(|e| tables.contains(&e.table.as_str())) {
            drop_seed(c, id, &entries)?;
        }
    }
    Ok(())
}

/// Rows not written by a seed that reference rows it wrote: (table, count, SQL after FROM).
fn app_references(
    c: &Connection,
    entries: &[TableEntry],
) -> Result<Vec<(String, u64, String)>, DbError> {
    let (cat, _) = catalog::read(c)?;
    let mut found = Vec::new();
    for child in cat.tables.values() {
        for fk in &child.foreign {
            let Some(parent) = entries.iter().find(|e| e.table == fk.table) else {
                continue;
            };
            let cols: Vec<String> = fk
                .columns
                .iter()
                .map(|k| format!("c.{}", quote(k)))
                .collect();
            let refs: Vec<String> = fk
                .references
                .iter()
                .map(|k| format!("t.{}", quote(k)))
                .collect();
            let mut sql = format!(
                "main.{} AS c WHERE ({}) IN (SELECT {} FROM {})",
                quote(&child.name),
                cols.join(", "),
                refs.join(", "),
                seeded(parent)
            );
            if let Some(own) = entries.iter().find(|e| e.table == child.name) {
                sql.push_str(&format!(
                    " AND c.rowid NOT IN (SELECT r FROM {MANIFEST}.{})",
                    quote(&own.keys_table)
                ));
            }
            let n: i64 = c
                .query_row(&format!("SELECT count(*) FROM {sql}"), [], |r| r.get(0))
                .map_err(failed("looking for rows that reference seeded rows"))?;
            if n > 0 {
                found.push((child.name.clone(), n as u64, sql));
            }
        }
    }
    Ok(found)
}

/// Deletes exactly the rows the recorded seeds wrote, newest seed first and children
/// first, in one transaction; refuses when rows of the app reference them, unless told.
pub(super) fn clean(
    c: &mut Connection,
    map: &SeedMap,
    with_app_rows: bool,
) -> Result<Cleaned, DbError> {
    let tx: Transaction<'_> = c
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed("starting the transaction"))?;
    let mine: Vec<(i64, Vec<TableEntry>)> = seeds(&tx)?
        .into_iter()
        .filter(|(_, es)| es.iter().any(|e| map.table(&e.table).is_some()))
        .collect();
    let mut out = Cleaned::default();
    for (id, entries) in &mine {
        let refs = app_references(&tx, entries)?;
        if !refs.is_empty() && !with_app_rows {
            let list: Vec<String> = refs
                .iter()
                .map(|(t, n, _)| format!("{t}: {n} rows"))
                .collect();
            return Err(DbError::Refused(Problem::new(
                format!(
                    "rows your app wrote since the seed reference seeded rows ({}); nothing was deleted",
                    list.join(", ")
                ),
                "delete them yourself first, or pass --with-app-rows to delete them with the seeded rows",
            )));
        }
        for (t, n, sql) in refs {
            tx.execute(&format!("DELETE FROM {sql}"), [])
                .map_err(failed("deleting rows that reference seeded rows"))?;
            out.app_rows.push((t, n));
        }
        for e in entries.iter().rev() {
            let n = tx
                .execute(
                    &format!(
                        "DELETE FROM main.{} WHERE rowid IN (SELECT r FROM {MANIFEST}.{})",
                        quote(&e.table),
                        quote(&e.keys_table)
                    ),
                    [],
                )
                .map_err(failed("deleting seeded rows"))?;
            out.tables.push((e.table.clone(), n as u64));
        }
        drop_seed(&tx, *id, entries)?;
        out.seeds += 1;
    }
    tx.commit().map_err(failed("committing the clean"))?;
    Ok(out)
}

/// Recounts and re-digests the newest seed's rows, then runs the mapping's invariants
/// (their `sqlite` spelling where given).
pub(super) fn verify(c: &Connection, map: &SeedMap) -> Result<IntoReport, DbError> {
    let Some((id, entries)) = seeds(c)?
        .into_iter()
        .find(|(_, es)| es.iter().any(|e| map.table(&e.table).is_some()))
    else {
        return Err(nothing_recorded("the database"));
    };
    let checksum: String = c
        .query_row(
            &format!("SELECT checksum FROM {MANIFEST}.seeds WHERE id = ?1"),
            [id],
            |r| r.get(0),
        )
        .map_err(failed("reading the manifest"))?;
    let mut checks = Vec::new();
    for e in &entries {
        checks.extend(super::super::manifest::table_checks(e, digest(c, e)?));
    }
    for inv in &map.invariants {
        checks.push(invariant(c, inv));
    }
    Ok(IntoReport {
        ok: checks.iter().all(|c| c.ok),
        schema: "main".into(),
        checksum,
        checks,
    })
}

/// An invariant: its query returns no row, or its first value is `value`.
fn invariant(c: &Connection, inv: &Invariant) -> IntoCheck {
    let sql = inv.sqlite.as_deref().unwrap_or(&inv.sql);
    let firsts = || -> rusqlite::Result<Vec<String>> {
        let mut stmt = c.prepare(sql)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            use rusqlite::types::ValueRef::*;
            out.push(match r.get_ref(0)? {
                Null => String::new(),
                Integer(v) => v.to_string(),
                Real(v) => v.to_string(),
                Text(v) | Blob(v) => String::from_utf8_lossy(v).into_owned(),
            });
            if out.len() == 5 {
                break;
            }
        }
        Ok(out)
    };
    let (ok, expected, found) = match (firsts(), &inv.value) {
        (Err(e), _) => (false, "a query that runs".to_string(), e.to_string()),
        (Ok(rows), None) => (
            rows.is_empty(),
            "no row".to_string(),
            if rows.is_empty() {
                "no row".to_string()
            } else {
                format!("rows such as {}", rows.join(" "))
            },
        ),
        (Ok(rows), Some(v)) => {
            let got = rows.into_iter().next().unwrap_or_default();
            (&got == v, v.clone(), got)
        }
    };
    IntoCheck {
        name: inv.name.clone(),
        ok,
        expected,
        found,
    }
}
