//! `simulate verify`: the database against the timeline it was seeded from.
//!
//! Every table gets a content digest that ignores row order and JSON key order (a sum of
//! per-row SHA-256 prefixes over canonical values), computed once from the regenerated
//! timeline and once from the database; then named checks of the invariants the users'
//! services rely on.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::TryStreamExt;
use sha2::{Digest as _, Sha256};
use sqlx::{AssertSqlSafe, Row};

use super::DbError;
use super::conn::{Db, on_db};
use super::copy::fields;
use super::projection::{ColumnType, RowSink, Table};
use simulate_core::units::{DAY, HOUR, MINUTE, SECOND, days_from_civil};

/// verify's report as a type: what `verify --summary-export` writes (schema/
/// verify-report.v1.json describes the same document).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VerifyReport {
    /// Where it read: a SQLite file, or a schema of a PostgreSQL URL (password masked).
    pub verified: String,
    pub ok: bool,
    /// The timeline regenerated from run_meta has the SHA-256 the seed recorded.
    pub timeline_same_as_seeded: bool,
    pub tables: Vec<TableReport>,
    pub checks: Vec<CheckReport>,
}

/// One table: rows and order-free digest expected (from the timeline) and found.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TableReport {
    pub table: String,
    pub ok: bool,
    pub rows_expected: u64,
    pub rows_found: u64,
    pub digest_expected: String,
    pub digest_found: String,
}

/// One named invariant check and how many rows break it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckReport {
    pub check: String,
    pub ok: bool,
    pub failures: i64,
    pub what: String,
}

/// Row count and order-free digest of one table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableDigest {
    pub rows: u64,
    pub(crate) sum: u128,
}

impl TableDigest {
    /// Adds one row; `scratch` is a buffer the caller keeps for its rows, so that the
    /// tens of millions of rows of a large seed cost no allocation each.
    fn add<S: AsRef<str>>(
        &mut self,
        row: &[Option<S>],
        types: &[ColumnType],
        scratch: &mut Vec<u8>,
    ) {
        scratch.clear();
        for (i, (v, k)) in row.iter().zip(types).enumerate() {
            if i > 0 {
                scratch.push(b'\t');
            }
            match v {
                None => scratch.extend_from_slice(b"\\N"),
                Some(v) => canonical(v.as_ref(), *k, scratch),
            }
        }
        self.add_canonical(scratch);
    }

    /// Adds one row already in canonical form (values as `canonical` spells them,
    /// tab-separated, `\N` for NULL).
    fn add_canonical(&mut self, row: &[u8]) {
        let d = Sha256::digest(row);
        let mut b = [0u8; 16];
        b.copy_from_slice(&d[..16]);
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(b));
        self.rows += 1;
    }

    /// Adds every line of a chunk of COPY text rows.
    fn add_lines(&mut self, chunk: &[u8], types: &[ColumnType], scratch: &mut Vec<u8>) {
        for line in chunk.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            self.add(&fields(line), types, scratch);
        }
    }

    pub fn hex(&self) -> String {
        format!("{:032x}", self.sum)
    }
}

/// One spelling per value, appended to `out`: integers and timestamps as integers (ms),
/// JSON re-serialized with sorted keys.
fn canonical(v: &str, k: ColumnType, out: &mut Vec<u8>) {
    let mut int = |n: i64| out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    match k {
        ColumnType::Int => match v.trim().parse::<i64>() {
            Ok(n) => int(n),
            Err(_) => out.extend_from_slice(v.as_bytes()),
        },
        ColumnType::Text => out.extend_from_slice(v.as_bytes()),
        ColumnType::Ts => match ts_ms(v) {
            Some(n) => int(n),
            None => out.extend_from_slice(v.as_bytes()),
        },
        ColumnType::Json => {
            let mark = out.len();
            let parsed = serde_json::from_str::<serde_json::Value>(v)
                .ok()
                .and_then(|j| serde_json::to_writer(&mut *out, &j).ok());
            if parsed.is_none() {
                out.truncate(mark);
                out.extend_from_slice(v.as_bytes());
            }
        }
    }
}

/// Epoch milliseconds from digits or from `YYYY-MM-DDTHH:MM:SS[.mmm](Z|+00[:00])`.
fn ts_ms(v: &str) -> Option<i64> {
    if let Ok(n) = v.parse::<i64>() {
        return Some(n);
    }
    let b = v.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| v.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let ms = if b.get(19) == Some(&b'.') {
        let frac: String = v[20..].chars().take_while(|c| c.is_ascii_digit()).collect();
        format!("{frac:0<3}")[..3].parse::<i64>().ok()?
    } else {
        0
    };
    Some(days_from_civil(y, mo as u32, d as u32) * DAY + h * HOUR + mi * MINUTE + s * SECOND + ms)
}

/// Digests of the rows a projection would write: the expected side of `verify`.
#[derive(Default)]
pub struct DigestSink {
    pub tables: BTreeMap<Table, TableDigest>,
    scratch: Vec<u8>,
}

impl RowSink for DigestSink {
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
        let d = self.tables.entry(table).or_default();
        d.add_lines(&chunk, table.column_types(), &mut self.scratch);
        Ok(())
    }
}

/// Adds every row of `table` in the SQLite file to `d`, each value in the canonical
/// spelling the expected side's rows get.
fn sqlite_digest(
    file: &str,
    table: Table,
    d: &mut TableDigest,
    scratch: &mut Vec<u8>,
    rows: &AtomicU64,
) -> rusqlite::Result<()> {
    use rusqlite::types::ValueRef;
    let conn = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // verify reads every table whole: mapped pages spare a copy per page read.
    conn.pragma_update(None, "mmap_size", 1i64 << 32)?;
    let types = table.column_types();
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM {}",
        table.columns().join(", "),
        table.name()
    ))?;
    let mut q = stmt.query([])?;
    while let Some(row) = q.next()? {
        // Each value straight into its canonical spelling: an integer is the same
        // digits whatever the column's kind, so it skips the text round trip.
        scratch.clear();
        for (i, k) in types.iter().enumerate() {
            if i > 0 {
                scratch.push(b'\t');
            }
            match row.get_ref(i)? {
                ValueRef::Null => scratch.extend_from_slice(b"\\N"),
                ValueRef::Integer(n) => {
                    scratch.extend_from_slice(itoa::Buffer::new().format(n).as_bytes())
                }
                ValueRef::Real(x) => canonical(&x.to_string(), *k, scratch),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    canonical(&String::from_utf8_lossy(t), *k, scratch)
                }
            }
        }
        d.add_canonical(scratch);
        if d.rows.is_multiple_of(65_536) {
            rows.store(d.rows, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// A PostgreSQL query of `table` for COPY TO: timestamps as epoch milliseconds (the
/// canonical form), the rest in COPY's own text form.
fn pg_select(table: Table) -> String {
    let cols: Vec<String> = table
        .columns()
        .iter()
        .zip(table.column_types())
        .map(|(c, k)| match k {
            ColumnType::Ts => format!("(extract(epoch from {c}) * 1000)::bigint"),
            _ => c.to_string(),
        })
        .collect();
    format!("SELECT {} FROM {}", cols.join(", "), table.name())
}

impl Db<'_> {
    /// The digest of one table as stored; `rows` counts the rows read so far (for a
    /// progress display).
    pub async fn digest(&mut self, table: Table, rows: &AtomicU64) -> Result<TableDigest, DbError> {
        let mut d = TableDigest::default();
        let mut scratch = Vec::with_capacity(512);
        let types = table.column_types();
        // `missing` has already checked the tables and columns, so a failure here is the
        // server or the connection.
        let fail = |e: sqlx::Error| {
            // The server's own words, without the driver's wrapping.
            let why = e
                .as_database_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string());
            DbError::refused(
                format!("reading table {}: {why}", table.name()),
                "check that the database server is up and reachable, then run verify again",
            )
        };
        match self {
            // COPY TO streams the rows as text lines, which the expected side's parser
            // reads too: a row-by-row query decoded every value into a String of its own.
            Db::Pg(c) => {
                let sql = format!("COPY ({}) TO STDOUT", pg_select(table));
                let mut copy = c.copy_out_raw(&sql).await.map_err(fail)?;
                let mut carry: Vec<u8> = Vec::new();
                while let Some(bytes) = copy.try_next().await.map_err(fail)? {
                    // PostgreSQL sends a row per message; a partial line waits for the rest.
                    carry.extend_from_slice(&bytes);
                    if let Some(end) = memchr::memrchr(b'\n', &carry) {
                        d.add_lines(&carry[..end], types, &mut scratch);
                        carry.drain(..=end);
                        rows.store(d.rows, Ordering::Relaxed);
                    }
                }
                d.add_lines(&carry, types, &mut scratch);
            }
            // SQLite: read through rusqlite on this thread. sqlx handed each row over from
            // a worker thread of its own with a wake-up, and formatting rows as text in
            // SQL to batch them cost more than the digest.
            Db::Sqlite(c) => {
                let file: String =
                    sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_one(&mut **c)
                        .await
                        .map_err(fail)?;
                sqlite_digest(&file, table, &mut d, &mut scratch, rows).map_err(|e| {
                    DbError::refused(format!("reading table {} of {file}: {e}", table.name()), "check that the file is readable and not being written, then run verify again")
                })?;
            }
        }
        rows.store(d.rows, Ordering::Relaxed);
        Ok(d)
    }

    async fn count(&mut self, sql: &str) -> Result<i64, DbError> {
        let fail = |e: sqlx::Error| DbError::failed(format!("check query {sql}"), e);
        on_db!(self, |c| sqlx::query(AssertSqlSafe(sql.to_string()))
            .fetch_one(&mut **c)
            .await
            .map_err(fail)?
            .try_get::<i64, _>(0)
            .map_err(fail))
    }

    /// The tables and columns `simulate seed` writes that the database lacks, as
    /// `table` or `table.column`.
    pub async fn missing(&mut self) -> Result<Vec<String>, DbError> {
        let sql = match self {
            Db::Pg(_) => {
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema()"
            }
            Db::Sqlite(_) => {
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table'"
            }
        };
        let fail = |e: sqlx::Error| DbError::failed("reading the database's tables", e);
        let found: Vec<(String, String)> = on_db!(self, |c| sqlx::query_as(sql)
            .fetch_all(&mut **c)
            .await
            .map_err(fail)?);
        let mut missing = Vec::new();
        for t in Table::ALL {
            let cols: Vec<&str> = found
                .iter()
                .filter(|(table, _)| table == t.name())
                .map(|(_, c)| c.as_str())
                .collect();
            if cols.is_empty() {
                missing.push(t.name().to_string());
                continue;
            }
            for c in t.columns() {
                if !cols.contains(c) {
                    missing.push(format!("{}.{c}", t.name()));
                }
            }
        }
        Ok(missing)
    }

    /// Named checks: (name, violations, what it means). `schema` is the world's timeline
    /// schema (`KindTable::json_schema`): the props each kind may carry.
    pub async fn checks(
        &mut self,
        schema: &serde_json::Value,
    ) -> Result<Vec<(String, i64, String)>, DbError> {
        let mut out = Vec::new();
        let fixed: [(&str, &str, &str); 6] = [
            (
                "points balance = sum of the ledger",
                "SELECT count(*) FROM users u LEFT JOIN (SELECT user_id, sum(delta) AS s FROM points_ledger GROUP BY user_id) l \
                 ON l.user_id = u.id WHERE u.points_balance <> coalesce(l.s, 0)",
                "users whose balance differs from their ledger",
            ),
            (
                "no claim without completion",
                "SELECT count(*) FROM user_goal_progress WHERE (status = 'claimed' AND (completed_at IS NULL OR claimed_at IS NULL \
                 OR claimed_at < completed_at)) OR (status <> 'claimed' AND claimed_at IS NOT NULL) \
                 OR (status = 'in_progress' AND completed_at IS NOT NULL)",
                "goal rows claimed before (or without) completion",
            ),
            (
                "at most one claim per (user, goal)",
                "SELECT (SELECT count(*) FROM (SELECT user_id, goal_id FROM user_goal_progress GROUP BY user_id, goal_id HAVING count(*) > 1) a) \
                 + (SELECT count(*) FROM (SELECT user_id, props ->> 'goal_id' AS g FROM behavior_logs WHERE event = 'goal.claimed' \
                 GROUP BY user_id, props ->> 'goal_id' HAVING count(*) > 1) b)",
                "(user, goal) pairs claimed more than once",
            ),
            (
                "at most one claim per (gift, user)",
                "SELECT count(*) FROM (SELECT gift_id, user_id FROM gift_claims GROUP BY gift_id, user_id HAVING count(*) > 1) d",
                "(gift, user) pairs with more than one winning claim",
            ),
            (
                "no gift over-claimed",
                "SELECT count(*) FROM gifts g JOIN (SELECT gift_id, count(*) AS n FROM gift_claims GROUP BY gift_id) c \
                 ON c.gift_id = g.id WHERE c.n > g.shares",
                "gifts with more winning claims than shares",
            ),
            (
                "every claim names an existing gift",
                "SELECT count(*) FROM gift_claims c LEFT JOIN gifts g ON g.id = c.gift_id WHERE g.id IS NULL",
                "claims of unknown gifts",
            ),
        ];
        for (name, sql, what) in fixed {
            out.push((name.to_string(), self.count(sql).await?, what.to_string()));
        }
        // One pass over the behaviour log: per row, the rule of its event kind (an
        // unknown kind is a violation). A query per kind read the largest table 19 times.
        let pg = matches!(self, Db::Pg(_));
        let list = |v: &[String]| {
            v.iter()
                .map(|k| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rules: Vec<String> = props_keys(schema)
            .iter()
            .map(|(kind, (required, allowed))| {
                let mut ok: Vec<String> = required
                    .iter()
                    .map(|k| {
                        if pg {
                            format!("props ? '{k}'")
                        } else {
                            format!("json_type(props, '$.{k}') IS NOT NULL")
                        }
                    })
                    .collect();
                ok.push(if pg {
                    format!("(props - ARRAY[{}]::text[]) = '{{}}'::jsonb", list(allowed))
                } else {
                    format!(
                        "NOT EXISTS (SELECT 1 FROM json_each(props) WHERE key NOT IN ({}))",
                        list(allowed)
                    )
                });
                format!("WHEN '{kind}' THEN {}", ok.join(" AND "))
            })
            .collect();
        let object = if pg {
            "jsonb_typeof(props) = 'object'"
        } else {
            "json_type(props) = 'object'"
        };
        let bad_props = self
            .count(&format!(
                "SELECT count(*) FROM behavior_logs WHERE NOT (CASE WHEN {object} THEN CASE event {} ELSE false END ELSE false END)",
                rules.join(" ")
            ))
            .await?;
        out.push((
            "every props valid for its event kind".into(),
            bad_props,
            "behaviour rows whose props miss keys, carry unknown keys or have an unknown kind"
                .into(),
        ));
        Ok(out)
    }
}

/// Per event kind: (required keys, allowed keys), from a timeline JSON Schema.
pub(crate) fn props_keys(
    schema: &serde_json::Value,
) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
    let mut out = BTreeMap::new();
    for branch in schema["allOf"].as_array().into_iter().flatten() {
        let kind = branch["if"]["properties"]["event"]["const"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let props = &branch["then"]["properties"]["props"];
        let strings = |v: &serde_json::Value| {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(String::from))
                .collect::<Vec<_>>()
        };
        let required = strings(&props["required"]);
        let allowed = props["properties"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        out.insert(kind, (required, allowed));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_values_ignore_spelling() {
        assert_eq!(
            ts_ms("2026-01-05T00:00:01.5Z"),
            ts_ms("2026-01-05T00:00:01.500+00:00")
        );
        assert_eq!(ts_ms("1767571201500"), ts_ms("2026-01-05T00:00:01.500Z"));
        let canon = |v: &str, k: ColumnType| {
            let mut out = b"x".to_vec();
            canonical(v, k, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            canon(r#"{"b": 1, "a": [2]}"#, ColumnType::Json),
            r#"x{"a":[2],"b":1}"#
        );
        assert_eq!(
            canon(r#"{"a":[2],"b":1}"#, ColumnType::Json),
            r#"x{"a":[2],"b":1}"#
        );
        assert_eq!(canon("{not json", ColumnType::Json), "x{not json");
        assert_eq!(canon(" 042", ColumnType::Int), "x42");
        assert_eq!(
            canon("2026-01-05T00:00:01.5Z", ColumnType::Ts),
            "x1767571201500"
        );
        let mut a = TableDigest::default();
        let mut b = TableDigest::default();
        let scratch = &mut Vec::new();
        let r1 = vec![Some("1".to_string()), None];
        let r2 = vec![Some("2".to_string()), Some("x".to_string())];
        a.add(&r1, &[ColumnType::Int, ColumnType::Text], scratch);
        a.add(&r2, &[ColumnType::Int, ColumnType::Text], scratch);
        b.add(&r2, &[ColumnType::Int, ColumnType::Text], scratch);
        b.add(&r1, &[ColumnType::Int, ColumnType::Text], scratch);
        assert_eq!(a, b, "order does not matter");
        let mut c = TableDigest::default();
        c.add_lines(
            b"2\tx\n1\t\\N\n",
            &[ColumnType::Int, ColumnType::Text],
            scratch,
        );
        assert_eq!(c, a, "COPY text lines digest like the values they hold");
        let published: serde_json::Value =
            serde_json::from_str(include_str!("../../../schema/event.v1.json")).unwrap();
        assert_eq!(
            props_keys(&published).len(),
            simulate_core::timeline::EVENT_KINDS.len()
        );
    }
}
