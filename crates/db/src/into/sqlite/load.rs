//! The rows inserted into the team's SQLite tables, parents first, in one transaction
//! that also writes the manifest (attached): a failure, Ctrl-C or a kill leaves the file
//! as it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::super::Existing;
use super::super::catalog::{quote, quote_all};
use super::super::check::Planned;
use super::super::follow::Follow;
use super::super::manifest::{DigestKind, Record, TableEntry};
use super::super::mapping::{SeedMap, TableMap};
use super::super::spool::Spool;
use super::super::write::{refusal, rows, values};
use super::manifest::{self, MANIFEST, SETUP};
use crate::DbError;

fn failed(what: &str) -> impl Fn(rusqlite::Error) -> DbError + '_ {
    move |e| DbError::failed(what.to_string(), e)
}

pub(super) fn load(
    conn: &mut Connection,
    map: &SeedMap,
    planned: &[Planned<'_>],
    spool: &Spool,
    existing: Existing,
    record: &Record,
    stop: &Arc<AtomicBool>,
) -> Result<Vec<TableEntry>, DbError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed("starting the transaction"))?;
    tx.execute_batch(SETUP)
        .map_err(failed("creating the manifest"))?;
    if existing == Existing::Truncate {
        let names: Vec<&str> = planned.iter().map(|p| p.map.name.as_str()).collect();
        manifest::forget(&tx, &names)?;
        for p in planned.iter().rev() {
            tx.execute(&format!("DELETE FROM {}", p.info.qualified("main")), [])
                .map_err(failed("emptying a mapped table (--truncate)"))?;
        }
    }
    let id: i64 = tx
        .query_row(
            &format!("SELECT coalesce(max(id), 0) + 1 FROM {MANIFEST}.seeds"),
            [],
            |r| r.get(0),
        )
        .map_err(failed("numbering the seed"))?;
    let mut follow = Follow::new(planned);
    let mut entries = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        let mut e = TableEntry {
            table: p.map.name.clone(),
            entity: p.map.entity.name().to_string(),
            key: vec!["rowid".into()],
            keys_table: format!("k{id}_{i}"),
            rows: 0,
            columns: p.map.columns.iter().map(|c| c.name.clone()).collect(),
            digest: String::new(),
            digest_kind: Some(DigestKind::Sha256Prefix64),
        };
        tx.execute_batch(&format!(
            "CREATE TABLE {MANIFEST}.{} (r INTEGER PRIMARY KEY)",
            quote(&e.keys_table)
        ))
        .map_err(failed("recording the seeded keys"))?;
        insert(&tx, map, p, spool, &mut follow, &e.keys_table, stop)?;
        (e.rows, e.digest) = manifest::digest(&tx, &e)?;
        entries.push(e);
    }
    let tables =
        serde_json::to_string(&entries).map_err(|e| DbError::failed("writing the manifest", e))?;
    tx.execute(
        &format!("INSERT INTO {MANIFEST}.seeds (id, schema, mapping, world, checksum, tables, created_at) VALUES (?1, 'main', ?2, ?3, ?4, ?5, datetime('now'))"),
        rusqlite::params![id, map.file, record.world.to_string(), record.checksum, tables],
    )
    .map_err(failed("writing the manifest"))?;
    tx.commit().map_err(failed("committing the load"))?;
    Ok(entries)
}

/// One table's rows, each inserted and its rowid recorded.
fn insert(
    tx: &Transaction<'_>,
    map: &SeedMap,
    p: &Planned<'_>,
    spool: &Spool,
    follow: &mut Follow,
    keys_table: &str,
    stop: &Arc<AtomicBool>,
) -> Result<u64, DbError> {
    let t = p.map;
    let names: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    let mut ins = tx
        .prepare(&format!(
            "INSERT INTO {} ({}) VALUES ({})",
            p.info.qualified("main"),
            quote_all(&names),
            marks.join(", ")
        ))
        .map_err(failed("preparing the insert"))?;
    let mut key = tx
        .prepare(&format!(
            "INSERT INTO {MANIFEST}.{} (r) VALUES (?1)",
            quote(keys_table)
        ))
        .map_err(failed("recording the seeded keys"))?;
    let io = |e: std::io::Error| DbError::failed("reading the spooled rows", e);
    let mut n = 0u64;
    for row in rows(spool, map, t).map_err(io)? {
        let row = row.map_err(io)?;
        if !follow.keep(t, &row) {
            continue;
        }
        follow.record(t, &row);
        let vals = values(map, t, &row)?;
        ins.execute(rusqlite::params_from_iter(vals.iter()))
            .map_err(|e| refused(map, t, row.named(), e))?;
        key.execute([tx.last_insert_rowid()])
            .map_err(failed("recording the seeded keys"))?;
        n += 1;
        if n.is_multiple_of(4096) && stop.load(Ordering::SeqCst) {
            return Err(DbError::Interrupted);
        }
    }
    Ok(n)
}

/// SQLite refused a row: a constraint names its kind and, for most, `table.column`.
fn refused(map: &SeedMap, t: &TableMap, row: String, e: rusqlite::Error) -> DbError {
    let message = e.to_string();
    let what = if message.contains("UNIQUE") {
        "a unique key"
    } else if message.contains("FOREIGN KEY") {
        "a foreign key"
    } else if message.contains("NOT NULL") {
        "a NOT NULL column"
    } else if message.contains("CHECK") {
        "a check constraint"
    } else {
        return DbError::failed(format!("inserting into `{}`", t.name), e);
    };
    let column = t
        .columns
        .iter()
        .position(|c| message.contains(&format!("{}.{}", t.name, c.name)));
    refusal(map, t, row, what, message, column)
}
