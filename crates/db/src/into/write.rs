//! The team's rows rendered from the spool and sent with COPY, one table at a time on
//! the load's one connection (so one transaction holds them all).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use simulate_core::diagnostic::Problem;
use simulate_core::template::Val;
use sqlx::PgConnection;
use sqlx::postgres::PgDatabaseError;

use super::aggregate::Totals;
use super::catalog::{TableInfo, quote_all};
use super::entity::{Entity, Row};
use super::follow::Follow;
use super::mapping::{SeedMap, TableMap};
use super::spool::Spool;
use crate::DbError;
use crate::copy::fields;

const CHUNK: usize = 1 << 20;

/// The rows of one mapped table, in timeline order: each source row that passes the
/// table's `kinds`, up to its `limit`, with its number from 1, its aggregates and the
/// `user.*` values its templates read.
pub fn rows<'s>(
    spool: &'s Spool,
    map: &'s SeedMap,
    t: &'s TableMap,
) -> std::io::Result<impl Iterator<Item = std::io::Result<Row>> + 's> {
    let totals = Totals::compute(spool, &t.aggregates)?;
    let lines = spool.lines(t.entity.source())?;
    let mut n = 0u64;
    let limit = t.limit.unwrap_or(u64::MAX);
    Ok(lines
        .filter_map(move |line| {
            let line = match line {
                Ok(l) => l,
                Err(e) => return Some(Err(e)),
            };
            let f = fields(&line);
            if t.entity == Entity::Events
                && let Some(kinds) = &t.kinds
            {
                let kind = f.get(5).and_then(|k| k.as_deref()).unwrap_or("");
                if !kinds.iter().any(|k| k == kind) {
                    return None;
                }
            }
            n += 1;
            let mut row = Row::of(t.entity, &f, n);
            totals.apply(&mut row);
            if !t.user_reads.is_empty()
                && let Some(uid) = row.uid
            {
                row.user = Some(map.world.scope(uid, &t.user_reads));
            }
            row.team = Some(Arc::clone(&map.world.team));
            row.entity = map.world.entity_of(t.entity, &row);
            Some(Ok(row))
        })
        .scan(0u64, move |seen, r| {
            *seen += 1;
            (*seen <= limit).then_some(r)
        }))
}

/// One column's value for a row: Ok(None) for NULL, Err for a value the template could
/// not compute.
pub fn value(t: &TableMap, col: usize, row: &Row) -> Result<Option<String>, String> {
    let ctx = row.ctx();
    match t.columns[col].template.value(&ctx)? {
        Val::Null => Ok(None),
        v => Ok(Some(v.to_text())),
    }
}

/// A template could not compute a column's value for a row: the mapping line to fix.
fn template_failed(map: &SeedMap, t: &TableMap, i: usize, row: &Row, why: String) -> DbError {
    let c = &t.columns[i];
    let mut p = Problem::in_file(
        &map.file,
        Some(c.line),
        format!("row {} of `{}`: {why}", row.named(), t.name),
        "correct the column's template (docs/TEMPLATES.md); nothing was written",
    );
    p.field = format!("tables.{}.columns.{}", t.name, c.name);
    DbError::Refused(p)
}

/// A row's values, one per mapped column (None for NULL).
pub fn values(map: &SeedMap, t: &TableMap, row: &Row) -> Result<Vec<Option<String>>, DbError> {
    (0..t.columns.len())
        .map(|i| value(t, i, row).map_err(|why| template_failed(map, t, i, row, why)))
        .collect()
}

/// Appends a row as a COPY text line.
fn line(t: &TableMap, row: &Row, out: &mut Vec<u8>, map: &SeedMap) -> Result<(), DbError> {
    for i in 0..t.columns.len() {
        if i > 0 {
            out.push(b'\t');
        }
        match value(t, i, row) {
            Ok(None) => out.extend_from_slice(b"\\N"),
            Ok(Some(s)) => escape(out, s.as_bytes()),
            Err(why) => return Err(template_failed(map, t, i, row, why)),
        }
    }
    out.push(b'\n');
    Ok(())
}

fn escape(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// COPYs one table's rows; the count written. A row the database refuses (a unique or
/// foreign key, a value its type does not take) is named by its timeline ids and the
/// mapping line of the column the server blames.
pub async fn copy_table(
    c: &mut PgConnection,
    map: &SeedMap,
    t: &TableMap,
    info: &TableInfo,
    spool: &Spool,
    follow: &mut Follow,
    stop: &Arc<AtomicBool>,
) -> Result<u64, DbError> {
    let cols: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let sql = format!(
        "COPY {} ({}) FROM STDIN",
        info.qualified(&map.schema),
        quote_all(&cols)
    );
    let io = |e: std::io::Error| DbError::failed("reading the spooled rows", e);
    let mut copy = c
        .copy_in_raw(&sql)
        .await
        .map_err(|e| DbError::failed(format!("COPY {}", t.name), e))?;
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let mut sent = Ok(());
    for row in rows(spool, map, t).map_err(io)? {
        let row = row.map_err(io)?;
        if !follow.keep(t, &row) {
            continue;
        }
        follow.record(t, &row);
        if let Err(e) = line(t, &row, &mut buf, map) {
            let _ = copy.abort("a template failed").await;
            return Err(e);
        }
        if buf.len() >= CHUNK {
            if stop.load(Ordering::SeqCst) {
                let _ = copy.abort("interrupted").await;
                return Err(DbError::Interrupted);
            }
            if let Err(e) = copy.send(std::mem::take(&mut buf)).await {
                sent = Err(e);
                break;
            }
        }
    }
    if sent.is_ok() && !buf.is_empty() {
        sent = copy.send(buf).await.map(|_| ());
    }
    let done = match sent {
        Ok(()) => copy.finish().await,
        Err(e) => Err(e),
    };
    done.map_err(|e| rejected(map, t, spool, follow, e))
}

/// The server refused a row: which one (by the COPY's line number, found again in the
/// spool), its timeline ids, and the mapping line of the column in its message.
fn rejected(
    map: &SeedMap,
    t: &TableMap,
    spool: &Spool,
    follow: &Follow,
    e: sqlx::Error,
) -> DbError {
    let Some(pg) = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
    else {
        return DbError::failed(format!("COPY {}", t.name), e);
    };
    let n: Option<u64> = pg.r#where().and_then(|w| {
        let rest = w.split(", line ").nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    });
    let row = n.filter(|n| *n > 0).and_then(|n| {
        rows(spool, map, t)
            .ok()?
            .filter(|r| r.as_ref().is_ok_and(|r| follow.keep(t, r)))
            .nth(n as usize - 1)?
            .ok()
    });
    if row.is_none() && !pg.code().starts_with("23") {
        return DbError::failed(format!("COPY into `{}`", t.name), e);
    }
    let detail = pg.detail().unwrap_or("");
    let blamed: Vec<&str> = detail
        .strip_prefix("Key (")
        .and_then(|d| d.split(")=").next())
        .map(|k| k.split(", ").map(|s| s.trim_matches('"')).collect())
        .unwrap_or_default();
    let column = t.columns.iter().position(|c| {
        blamed.contains(&c.name.as_str()) || pg.message().contains(&format!("\"{}\"", c.name))
    });
    let what = match pg.code() {
        "23505" => "a unique key",
        "23503" => "a foreign key",
        "23502" => "a NOT NULL column",
        "23514" => "a check constraint",
        _ => "the table",
    };
    refusal(
        map,
        t,
        row.map_or_else(|| format!("#{}", n.unwrap_or(0)), |r| r.named()),
        what,
        format!(
            "{}{}",
            pg.message(),
            if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            }
        ),
        column,
    )
}

/// A row the database refused (`what`: "a unique key", …), at the mapping line of the
/// column it blamed (else the table's), with the fix for that kind of refusal.
pub(super) fn refusal(
    map: &SeedMap,
    t: &TableMap,
    row: String,
    what: &str,
    message: String,
    column: Option<usize>,
) -> DbError {
    let (line, field) = match column.map(|i| &t.columns[i]) {
        Some(c) => (c.line, format!("tables.{}.columns.{}", t.name, c.name)),
        None => (t.line, format!("tables.{}", t.name)),
    };
    let mut p = Problem::in_file(
        &map.file,
        Some(line),
        format!(
            "table `{}` refused row {row} ({what}): {message}; nothing was written",
            t.name
        ),
        match what {
            "a unique key" => {
                "make the column's template give distinct values (e.g. add {seq} or {props.n}), or clean the rows in the way (simulate clean --into, or --truncate)"
            }
            "a foreign key" => {
                "map the referenced table too, or render the referencing column from the same ids as the parent's key"
            }
            _ => "correct the column's template so its value fits the column",
        },
    );
    p.field = field;
    DbError::Refused(p)
}
