//! The team's rows rendered from the spool and sent with COPY, one table at a time on
//! the load's one connection (so one transaction holds them all), rendering on one
//! thread while the COPY sends on another.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use simulate_core::diagnostic::Problem;
use simulate_core::template::Val;
use sqlx::PgConnection;
use sqlx::postgres::PgDatabaseError;

use super::aggregate::Totals;
use super::catalog::{TableInfo, quote_all};
use super::encode::Encoding;
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
    let challenges = goal_challenges(spool, t.entity)?;
    let lines = spool.lines(t.entity.source())?;
    let mut n = 0u64;
    let limit = t.limit.unwrap_or(u64::MAX);
    // `user.*` per user, computed at the user's first row (ids are hashed: `uuid(…)`).
    let mut users: Vec<Option<Arc<serde_json::Map<String, serde_json::Value>>>> = Vec::new();
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
            if let Some(c) = row.prop_text("goal_id").and_then(|g| challenges.get(&g)) {
                row.set_prop("challenge_id", serde_json::Value::String(c.clone()));
            }
            if !t.user_reads.is_empty()
                && let Some(uid) = row.uid
            {
                let i = uid as usize;
                if users.len() <= i {
                    users.resize(i + 1, None);
                }
                let scope =
                    users[i].get_or_insert_with(|| Arc::new(map.world.scope(uid, &t.user_reads)));
                row.user = Some(Arc::clone(scope));
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

/// For a goal's progress: each goal's challenge id, as the catalog names both (the
/// spooled goals' `id` and `challenge_id`); empty for any other entity.
fn goal_challenges(
    spool: &Spool,
    entity: Entity,
) -> std::io::Result<std::collections::HashMap<String, String>> {
    let mut by_goal = std::collections::HashMap::new();
    if entity != Entity::GoalProgress {
        return Ok(by_goal);
    }
    for line in spool.lines(crate::projection::Table::Goals)? {
        let line = line?;
        let f = fields(&line);
        if let (Some(Some(goal)), Some(Some(challenge))) = (f.first(), f.get(1)) {
            by_goal.insert(goal.to_string(), challenge.to_string());
        }
    }
    Ok(by_goal)
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
pub(super) fn template_failed(
    map: &SeedMap,
    t: &TableMap,
    i: usize,
    row: &Row,
    why: String,
) -> DbError {
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

/// How one table's COPY spent its time: rendering and the server's work overlap (a
/// thread renders while the connection sends), so these say which side waited.
#[derive(Debug, Default)]
pub struct Copied {
    pub rows: u64,
    /// Rendering rows into COPY bytes (the rendering thread's own work).
    pub render: Duration,
    /// The rendering thread waiting for the COPY to take its chunks: the server behind.
    pub blocked: Duration,
    /// The COPY waiting for rendered rows: our rendering behind.
    pub starved: Duration,
    /// From the last row sent to the server's answer (checks it queued to the statement's end).
    pub finish: Duration,
    pub wall: Duration,
    /// Binary COPY (else text).
    pub binary: bool,
}

/// What the rendering thread hands the COPY.
enum Msg {
    Chunk(Vec<u8>),
    /// Every row was rendered: finish the COPY.
    Done,
}

/// Why the COPY stopped before its end.
enum Halt {
    Db(sqlx::Error),
    Interrupted,
    /// The rendering thread stopped without `Done`: its error says why.
    Abandoned,
}

/// Chunks in flight between the rendering thread and the COPY.
const DEPTH: usize = 4;

/// COPYs one table's rows. Rows are rendered on this thread while a second one sends the
/// rendered chunks on the connection, so our rendering overlaps the server's parsing and
/// index work. A row the database refuses (a unique or foreign key, a value its type
/// does not take) is named by its timeline ids and the mapping line of the column the
/// server blames.
#[allow(clippy::too_many_arguments)]
pub fn copy_table(
    rt: &tokio::runtime::Runtime,
    c: &mut PgConnection,
    map: &SeedMap,
    t: &TableMap,
    info: &TableInfo,
    spool: &Spool,
    follow: &mut Follow,
    stop: &Arc<AtomicBool>,
) -> Result<Copied, DbError> {
    let cols: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
    let enc = Encoding::of(t, info);
    let sql = format!(
        "COPY {} ({}) FROM STDIN{}",
        info.qualified(&map.schema),
        quote_all(&cols),
        enc.options()
    );
    let started = Instant::now();
    let (tx, rx) = tokio::sync::mpsc::channel::<Msg>(DEPTH);
    let (rendered, sent) = std::thread::scope(|s| {
        let sender = s.spawn(move || rt.block_on(send(c, &sql, rx, stop)));
        let rendered = render(map, t, &enc, spool, follow, tx);
        let sent = sender
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (rendered, sent)
    });
    let mut copied = rendered?;
    copied.binary = enc.is_binary();
    match sent {
        Ok((starved, finish)) => {
            copied.starved = starved;
            copied.finish = finish;
            copied.wall = started.elapsed();
            Ok(copied)
        }
        Err(Halt::Interrupted) => Err(DbError::Interrupted),
        Err(Halt::Db(e)) => Err(rejected(map, t, spool, follow, e)),
        Err(Halt::Abandoned) => Err(DbError::Failed {
            what: format!("COPY {}", t.name),
            message: "the rows stopped before their end".into(),
        }),
    }
}

/// The rendering thread's side: the table's rows as COPY text, in chunks of about 1 MiB.
fn render(
    map: &SeedMap,
    t: &TableMap,
    enc: &Encoding,
    spool: &Spool,
    follow: &mut Follow,
    tx: tokio::sync::mpsc::Sender<Msg>,
) -> Result<Copied, DbError> {
    let io = |e: std::io::Error| DbError::failed("reading the spooled rows", e);
    let mut done = Copied::default();
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    buf.extend_from_slice(enc.header());
    let mut text = String::new();
    let mut since = Instant::now();
    for row in rows(spool, map, t).map_err(io)? {
        let row = row.map_err(io)?;
        if !follow.keep(t, &row) {
            continue;
        }
        follow.record(t, &row);
        enc.row(t, &row, &mut buf, &mut text, map)?;
        done.rows += 1;
        if buf.len() >= CHUNK {
            done.render += since.elapsed();
            let chunk = std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 4096));
            let waited = Instant::now();
            if tx.blocking_send(Msg::Chunk(chunk)).is_err() {
                return Ok(done); // the COPY stopped: its error says why
            }
            done.blocked += waited.elapsed();
            since = Instant::now();
        }
    }
    buf.extend_from_slice(enc.trailer());
    done.render += since.elapsed();
    if !buf.is_empty() && tx.blocking_send(Msg::Chunk(buf)).is_err() {
        return Ok(done);
    }
    let _ = tx.blocking_send(Msg::Done);
    Ok(done)
}

/// The connection's side: sends each rendered chunk, then finishes the COPY; aborts it on
/// Ctrl-C or when the rendering stopped early. (time waiting for rows, time to finish)
async fn send(
    c: &mut PgConnection,
    sql: &str,
    mut rx: tokio::sync::mpsc::Receiver<Msg>,
    stop: &Arc<AtomicBool>,
) -> Result<(Duration, Duration), Halt> {
    let mut copy = c.copy_in_raw(sql).await.map_err(Halt::Db)?;
    let mut starved = Duration::ZERO;
    loop {
        let waited = Instant::now();
        let msg = rx.recv().await;
        starved += waited.elapsed();
        match msg {
            Some(Msg::Chunk(chunk)) => {
                if stop.load(Ordering::SeqCst) {
                    let _ = copy.abort("interrupted").await;
                    return Err(Halt::Interrupted);
                }
                copy.send(chunk).await.map_err(Halt::Db)?;
            }
            Some(Msg::Done) => {
                let t = Instant::now();
                copy.finish().await.map_err(Halt::Db)?;
                return Ok((starved, t.elapsed()));
            }
            None => {
                let _ = copy.abort("the rows stopped before their end").await;
                return Err(Halt::Abandoned);
            }
        }
    }
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
