//! What a seed into the team's tables wrote, kept in a schema of ours (`simulate_into`):
//! one `seeds` row per load (the world, the timeline's checksum, per table its key
//! columns, row count and content digest) and one key table per seeded table holding
//! the keys of exactly the rows the load wrote. `clean` deletes those rows, children
//! first; `verify --into` recounts and re-digests them and runs the mapping's invariants.

use serde::{Deserialize, Serialize};
use simulate_core::diagnostic::Problem;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::MANIFEST;
use super::catalog::{Catalog, quote};
use super::check::Planned;
use super::mapping::SeedMap;
use crate::DbError;

/// The world a load came from.
pub struct Record {
    pub world: serde_json::Value,
    pub checksum: String,
}

/// One seeded table in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableEntry {
    pub table: String,
    pub entity: String,
    pub key: Vec<String>,
    /// The table in `simulate_into` holding the written rows' keys.
    pub keys_table: String,
    pub rows: u64,
    pub columns: Vec<String>,
    /// Order-free digest of the mapped columns of the written rows, as the server holds them.
    pub digest: String,
    /// How [`digest`](Self::digest) was computed. Absent in manifests written before the
    /// kind was recorded: those are [`DigestKind::Md5Prefix60`] (PostgreSQL) or
    /// [`DigestKind::Sha256Prefix64`] (SQLite), so their seeds still verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_kind: Option<DigestKind>,
}

/// The row hash a manifest's digest sums. Each is order-free (a sum over rows) and reads
/// the rows as the database holds them; they differ in what they cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DigestKind {
    /// PostgreSQL, the first manifests: the sum of a 60-bit prefix of `md5(row::text)`.
    Md5Prefix60,
    /// PostgreSQL: the sum of `hashtextextended(row::text, 0)` (64 bits), half md5's
    /// cost; the function PostgreSQL's hash partitioning relies on staying the same
    /// across versions (on machines of one byte order). Written when a mapped column's
    /// type has no extended hash function (`json`, ranges, composites: see
    /// [`record_hashable`]).
    Hashtext64,
    /// PostgreSQL 14+: the sum of `hash_record_extended(ROW(…), 0)`, each column hashed
    /// by its type's extended hash function (the one hash indexes and hash partitioning
    /// use), the row never written out as text: 1.76 s against `Hashtext64`'s 2.92 s at
    /// 700k log rows. It hashes **by equality**, not by spelling: values the type calls
    /// equal hash alike (`1.0` = `1.00` as `numeric`, `jsonb` whatever its key order), so
    /// an edit to an equal value is not seen (as it is not by the app's `=` either).
    /// Written only when every mapped column's type has such a function.
    RecordHash64,
    /// SQLite: the wrapping sum of a 64-bit prefix of each row's SHA-256, computed by us.
    Sha256Prefix64,
}

impl DigestKind {
    /// The kind a PostgreSQL manifest entry used (absent: the first one, md5).
    pub(crate) fn postgres(e: &TableEntry) -> DigestKind {
        e.digest_kind.unwrap_or(DigestKind::Md5Prefix60)
    }

    /// The SQL of this kind's hash (a `bigint`) of the mapped `columns` of a row `t`;
    /// `None` for a kind PostgreSQL does not compute.
    fn postgres_hash(self, columns: &[String]) -> Option<String> {
        let row = row_of(columns);
        match self {
            DigestKind::Md5Prefix60 => Some(format!(
                "('x' || substr(md5({row}::text), 1, 15))::bit(60)::bigint"
            )),
            DigestKind::Hashtext64 => Some(format!("hashtextextended({row}::text, 0)")),
            DigestKind::RecordHash64 => Some(format!("hash_record_extended({row}, 0)")),
            DigestKind::Sha256Prefix64 => None,
        }
    }
}

pub(super) fn failed(what: &str) -> impl Fn(sqlx::Error) -> DbError + '_ {
    move |e| DbError::failed(what.to_string(), e)
}

pub(super) async fn exec(c: &mut PgConnection, sql: String, what: &str) -> Result<(), DbError> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut *c)
        .await
        .map(|_| ())
        .map_err(failed(what))
}

pub(super) const SETUP: &str = "
CREATE SCHEMA IF NOT EXISTS simulate_into;
COMMENT ON SCHEMA simulate_into IS 'simulate: what `simulate seed --into` wrote into your tables (read by clean and verify --into)';
CREATE TABLE IF NOT EXISTS simulate_into.seeds (
    id bigint PRIMARY KEY,
    schema text NOT NULL,
    mapping text NOT NULL,
    world jsonb NOT NULL,
    checksum text NOT NULL,
    tables jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE SEQUENCE IF NOT EXISTS simulate_into.seed_ids;";

/// Rows of `info` whose key is in the keys table.
fn seeded_rows(schema: &str, info_name: &str, key: &[String], keys_table: &str) -> String {
    format!(
        "{}.{} t WHERE ({}) IN (SELECT * FROM {MANIFEST}.{})",
        quote(schema),
        quote(info_name),
        key.iter()
            .map(|k| format!("t.{}", quote(k)))
            .collect::<Vec<_>>()
            .join(", "),
        quote(keys_table)
    )
}

/// Row count and an order-free digest of `columns` over the seeded rows, in SQL, by the
/// kind the manifest recorded (verify --into).
async fn digest(
    c: &mut PgConnection,
    schema: &str,
    e: &TableEntry,
) -> Result<(u64, String), DbError> {
    let kind = DigestKind::postgres(e);
    let Some(hash) = kind.postgres_hash(&e.columns) else {
        return Err(DbError::refused(
            format!(
                "the manifest records table `{}`'s digest as {kind:?}, which PostgreSQL seeds never write",
                e.table
            ),
            "the manifest row in simulate_into.seeds was edited or copied from SQLite's: seed again",
        ));
    };
    let sql = format!(
        "SELECT count(*)::bigint, coalesce(sum({hash}), 0)::text FROM {}",
        seeded_rows(schema, &e.table, &e.key, &e.keys_table)
    );
    let r = sqlx::query(AssertSqlSafe(sql))
        .fetch_one(&mut *c)
        .await
        .map_err(failed("digesting a seeded table"))?;
    Ok((r.get::<i64, _>(0) as u64, r.get(1)))
}

/// `ROW(t.c1, t.c2, …)`: a row's mapped columns.
fn row_of(columns: &[String]) -> String {
    format!(
        "ROW({})",
        columns
            .iter()
            .map(|k| format!("t.{}", quote(k)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The catalog's answer, before anything is hashed, to whether `hash_record_extended`
/// can hash these columns of `table` (a qualified name): `None` when it can (PostgreSQL
/// 14 or later, and each column's type, through its domains, has a default hash operator
/// class with an extended hash function, directly, by a binary-coercible cast (`varchar`
/// to `text`), as an enum, or as an array of such a type), else the columns it cannot
/// (all of them on an older server). Conservative: ranges, composites and arrays of
/// domains are refused though some could be hashed (a wrong yes would abort the seed's
/// transaction; a wrong no costs only the slower hash).
pub(super) async fn record_hashable(
    c: &mut PgConnection,
    table: &str,
    columns: &[String],
) -> Result<Option<Vec<String>>, DbError> {
    let r = sqlx::query(RECORD_HASHABLE)
        .bind(table)
        .bind(columns)
        .fetch_one(&mut *c)
        .await
        .map_err(failed("reading the columns' hash functions"))?;
    let (recent, lacking): (bool, Vec<String>) = (r.get(0), r.get(1));
    Ok(match (recent, lacking.is_empty()) {
        (true, true) => None,
        (false, _) => Some(columns.to_vec()),
        (true, false) => Some(lacking),
    })
}

/// `$1` a table, `$2` its columns: whether the server has `hash_record_extended`, and the
/// columns whose type (domains resolved) has no extended hash function it would find.
const RECORD_HASHABLE: &str = "
WITH RECURSIVE direct AS (
    SELECT oc.opcintype AS ty FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
    WHERE am.amname = 'hash' AND oc.opcdefault AND EXISTS (
        SELECT 1 FROM pg_amproc p WHERE p.amprocfamily = oc.opcfamily AND p.amprocnum = 2
            AND p.amproclefttype = oc.opcintype AND p.amprocrighttype = oc.opcintype)
), hashable AS (
    SELECT ty FROM direct
    UNION SELECT c.castsource FROM pg_cast c JOIN direct d ON d.ty = c.casttarget
        WHERE c.castmethod = 'b' AND c.castcontext = 'i'
), col AS (
    SELECT a.attname::text AS name, a.atttypid AS ty FROM pg_attribute a
    WHERE a.attrelid = $1::regclass AND a.attname = ANY($2) AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT col.name, t.typbasetype FROM col JOIN pg_type t ON t.oid = col.ty WHERE t.typtype = 'd'
), scalar AS (
    SELECT t.oid FROM pg_type t WHERE (t.typtype = 'b' AND t.oid IN (SELECT ty FROM hashable)
            AND NOT (t.typelem <> 0 AND t.typlen = -1))
        OR (t.typtype = 'e' AND 'anyenum'::regtype IN (SELECT ty FROM hashable))
)
SELECT current_setting('server_version_num')::int >= 140000,
    coalesce(array_agg(col.name ORDER BY col.name) FILTER (WHERE NOT (
        col.ty IN (SELECT oid FROM scalar)
        OR (t.typtype = 'b' AND t.typelem <> 0 AND t.typlen = -1
            AND 'anyarray'::regtype IN (SELECT ty FROM hashable)
            AND t.typelem IN (SELECT oid FROM scalar))
    )), '{}')
FROM col JOIN pg_type t ON t.oid = col.ty
WHERE t.typtype <> 'd'";

/// At load time, one scan of the rows this transaction wrote (`<table> t WHERE t.xmin =
/// …`, `table` its qualified name) fills the keys table with each row's key and its hash
/// ([`DigestKind::RecordHash64`] when the catalog says every mapped column's type has an
/// extended hash function, else [`DigestKind::Hashtext64`]); the count and digest are
/// then summed from that small table and the hash column dropped (a catalog change: the
/// keys table keeps only the keys clean and verify join on). Two scans of the seeded
/// table (keys, then digest) took 1.5× as long at 1.4M rows. Returns the kind.
pub(super) async fn record_keys_and_digest(
    c: &mut PgConnection,
    e: &mut TableEntry,
    table: &str,
    written: &str,
) -> Result<DigestKind, DbError> {
    let kind = match record_hashable(c, table, &e.columns).await? {
        None => DigestKind::RecordHash64,
        Some(_) => DigestKind::Hashtext64,
    };
    let keys = format!("{MANIFEST}.{}", quote(&e.keys_table));
    let hash = kind.postgres_hash(&e.columns).expect("a PostgreSQL kind");
    exec(
        c,
        format!(
            "CREATE TABLE {keys} AS SELECT {}, {hash} AS simulate_row_hash FROM {written}",
            e.key
                .iter()
                .map(|k| format!("t.{}", quote(k)))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        "recording the seeded keys",
    )
    .await?;
    let r = sqlx::query(AssertSqlSafe(format!(
        "SELECT count(*)::bigint, coalesce(sum(simulate_row_hash), 0)::text FROM {keys}"
    )))
    .fetch_one(&mut *c)
    .await
    .map_err(failed("digesting a seeded table"))?;
    (e.rows, e.digest) = (r.get::<i64, _>(0) as u64, r.get(1));
    e.digest_kind = Some(kind);
    // Dropped, then statistics, so clean and verify join the keys table by hash.
    exec(
        c,
        format!("ALTER TABLE {keys} DROP COLUMN simulate_row_hash; ANALYZE {keys}"),
        "recording the seeded keys",
    )
    .await?;
    Ok(kind)
}

/// Serial and identity columns the mapping filled: their sequences moved past the
/// largest value, so the app's next insert does not collide.
pub(super) async fn past_explicit_ids(
    c: &mut PgConnection,
    map: &SeedMap,
    p: &Planned<'_>,
) -> Result<(), DbError> {
    for col in &p.map.columns {
        let Some(seq) = p.info.column(&col.name).and_then(|c| c.sequence.clone()) else {
            continue;
        };
        let sql = format!(
            "SELECT setval($1::regclass, m) FROM (SELECT max({})::bigint AS m FROM {}) x WHERE m IS NOT NULL AND m >= coalesce(pg_sequence_last_value($1::regclass), 0)",
            quote(&col.name),
            p.info.qualified(&map.schema)
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(&seq)
            .execute(&mut *c)
            .await
            .map_err(failed("moving a sequence past the seeded ids"))?;
    }
    Ok(())
}

/// Earlier seeds of these tables, whose rows a truncate removes: their manifest entries
/// and key tables go too.
pub(super) async fn forget(
    c: &mut PgConnection,
    map: &SeedMap,
    planned: &[Planned<'_>],
) -> Result<(), DbError> {
    for (id, entries) in seeds(c, &map.schema).await? {
        if entries
            .iter()
            .any(|e| planned.iter().any(|p| p.map.name == e.table))
        {
            drop_seed(c, id, &entries).await?;
        }
    }
    Ok(())
}

async fn drop_seed(c: &mut PgConnection, id: i64, entries: &[TableEntry]) -> Result<(), DbError> {
    for e in entries {
        exec(
            c,
            format!("DROP TABLE IF EXISTS {MANIFEST}.{}", quote(&e.keys_table)),
            "removing a key table",
        )
        .await?;
    }
    sqlx::query("DELETE FROM simulate_into.seeds WHERE id = $1")
        .bind(id)
        .execute(&mut *c)
        .await
        .map_err(failed("removing a manifest row"))?;
    Ok(())
}

/// The seeds recorded for a schema, newest first (none when no manifest exists).
async fn seeds(c: &mut PgConnection, schema: &str) -> Result<Vec<(i64, Vec<TableEntry>)>, DbError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('simulate_into.seeds') IS NOT NULL")
        .fetch_one(&mut *c)
        .await
        .map_err(failed("reading the manifest"))?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT id, tables::text FROM simulate_into.seeds WHERE schema = $1 ORDER BY id DESC",
    )
    .bind(schema)
    .fetch_all(&mut *c)
    .await
    .map_err(failed("reading the manifest"))?;
    rows.iter()
        .map(|r| {
            let entries: Vec<TableEntry> = serde_json::from_str(&r.get::<String, _>(1))
                .map_err(|e| DbError::failed("reading the manifest", e))?;
            Ok((r.get(0), entries))
        })
        .collect()
}

/// What `clean` removed.
#[derive(Debug, Default)]
pub struct Cleaned {
    /// (table, rows deleted), in the order deleted.
    pub tables: Vec<(String, u64)>,
    /// (table, rows the app wrote that referenced seeded rows), deleted with --with-app-rows.
    pub app_rows: Vec<(String, u64)>,
    pub seeds: usize,
}

/// Rows not written by `seeds` that reference rows they wrote: (child table, its rows, SQL
/// selecting them).
async fn app_references(
    c: &mut PgConnection,
    cat: &Catalog,
    entries: &[TableEntry],
) -> Result<Vec<(String, u64, String)>, DbError> {
    let mut found = Vec::new();
    for child in cat.tables.values() {
        for fk in &child.foreign {
            let Some(parent) = entries.iter().find(|e| e.table == fk.table) else {
                continue;
            };
            let own = entries.iter().find(|e| e.table == child.name);
            let mut sql = format!(
                "FROM {} c WHERE ({}) IN (SELECT {} FROM {})",
                child.qualified(&cat.schema),
                fk.columns
                    .iter()
                    .map(|k| format!("c.{}", quote(k)))
                    .collect::<Vec<_>>()
                    .join(", "),
                fk.references
                    .iter()
                    .map(|k| format!("t.{}", quote(k)))
                    .collect::<Vec<_>>()
                    .join(", "),
                seeded_rows(&cat.schema, &parent.table, &parent.key, &parent.keys_table)
            );
            if let Some(own) = own {
                // NOT EXISTS, not `NOT IN (SELECT …)`: the planner turns it into a hash
                // anti-join, whereas a NOT IN whose key set outgrows work_mem is a plain
                // subplan rescanned for every row (quadratic: a 240k-row log's clean ran
                // for over ten minutes; the anti-join takes a third of a second).
                sql.push_str(&format!(
                    " AND NOT EXISTS (SELECT 1 FROM {MANIFEST}.{} k WHERE {})",
                    quote(&own.keys_table),
                    own.key
                        .iter()
                        .map(|k| format!("k.{0} = c.{0}", quote(k)))
                        .collect::<Vec<_>>()
                        .join(" AND ")
                ));
            }
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) {sql}")))
                .fetch_one(&mut *c)
                .await
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
pub async fn clean(
    c: &mut PgConnection,
    map: &SeedMap,
    with_app_rows: bool,
) -> Result<Cleaned, DbError> {
    let all = seeds(c, &map.schema).await?;
    let mine: Vec<(i64, Vec<TableEntry>)> = all
        .into_iter()
        .filter(|(_, es)| es.iter().any(|e| map.table(&e.table).is_some()))
        .collect();
    let mut out = Cleaned::default();
    if mine.is_empty() {
        return Ok(out);
    }
    let cat = Catalog::read(c, &map.schema).await?;
    exec(c, "BEGIN".into(), "starting the transaction").await?;
    for (id, entries) in &mine {
        let refs = app_references(c, &cat, entries).await?;
        if !refs.is_empty() && !with_app_rows {
            let _ = exec(c, "ROLLBACK".into(), "rolling back").await;
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
            exec(
                c,
                format!("DELETE {sql}"),
                "deleting rows that reference seeded rows",
            )
            .await?;
            out.app_rows.push((t, n));
        }
        for e in entries.iter().rev() {
            let sql = format!(
                "DELETE FROM {}",
                seeded_rows(&map.schema, &e.table, &e.key, &e.keys_table)
            );
            let done = sqlx::query(AssertSqlSafe(sql))
                .execute(&mut *c)
                .await
                .map_err(failed("deleting seeded rows"))?;
            out.tables.push((e.table.clone(), done.rows_affected()));
        }
        drop_seed(c, *id, entries).await?;
        out.seeds += 1;
    }
    exec(c, "COMMIT".into(), "committing the clean").await?;
    Ok(out)
}

/// One seeded table's two checks against what the manifest recorded: its row count, and
/// the digest of its mapped columns (`found`: what the table holds now). PostgreSQL and
/// SQLite alike.
pub(crate) fn table_checks(e: &TableEntry, (rows, digest): (u64, String)) -> [IntoCheck; 2] {
    [
        IntoCheck {
            name: format!("rows {}", e.table),
            ok: rows == e.rows,
            expected: e.rows.to_string(),
            found: rows.to_string(),
        },
        IntoCheck {
            name: format!("digest {} ({})", e.table, e.columns.join(", ")),
            ok: digest == e.digest,
            expected: e.digest.clone(),
            found: digest,
        },
    ]
}

/// One check `verify --into` ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntoCheck {
    /// `rows <table>`, `digest <table>` or the invariant's name.
    pub name: String,
    pub ok: bool,
    pub expected: String,
    pub found: String,
}

/// `verify --into`'s report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntoReport {
    pub ok: bool,
    pub schema: String,
    /// The timeline's SHA-256 the seed recorded.
    pub checksum: String,
    pub checks: Vec<IntoCheck>,
}

/// Recounts and re-digests the newest seed's rows, then runs the mapping's invariants.
pub async fn verify(c: &mut PgConnection, map: &SeedMap) -> Result<IntoReport, DbError> {
    let all = seeds(c, &map.schema).await?;
    let Some((id, entries)) = all
        .into_iter()
        .find(|(_, es)| es.iter().any(|e| map.table(&e.table).is_some()))
    else {
        return Err(DbError::refused(
            format!(
                "no seed of these tables is recorded in schema `{}`'s manifest",
                map.schema
            ),
            "seed them first: simulate seed --database-url … --into <this mapping>",
        ));
    };
    let checksum: String =
        sqlx::query_scalar("SELECT checksum FROM simulate_into.seeds WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *c)
            .await
            .map_err(failed("reading the manifest"))?;
    let mut checks = Vec::new();
    for e in &entries {
        checks.extend(table_checks(e, digest(c, &map.schema, e).await?));
    }
    for inv in &map.invariants {
        checks.push(invariant(c, inv).await);
    }
    Ok(IntoReport {
        ok: checks.iter().all(|c| c.ok),
        schema: map.schema.clone(),
        checksum,
        checks,
    })
}

/// An invariant: its query returns no row, or the one value it names.
async fn invariant(c: &mut PgConnection, inv: &super::mapping::Invariant) -> IntoCheck {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT (q.*)::text FROM ({}) q LIMIT 5",
        inv.sql
    )))
    .fetch_all(&mut *c)
    .await;
    let (ok, expected, found) = match (rows, &inv.value) {
        (Err(e), _) => (
            false,
            "a query that runs".to_string(),
            crate::server_words(&e.to_string()).to_string(),
        ),
        (Ok(rows), None) => (
            rows.is_empty(),
            "no row".to_string(),
            match rows.len() {
                0 => "no row".to_string(),
                _ => format!(
                    "rows such as {}",
                    rows.iter()
                        .map(|r| r.get::<String, _>(0))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            },
        ),
        (Ok(rows), Some(v)) => {
            let got = rows
                .first()
                .map(|r| r.get::<String, _>(0))
                .unwrap_or_default();
            let got = got
                .trim_start_matches('(')
                .trim_end_matches(')')
                .to_string();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_without_a_kind_reads_as_the_first_manifests_wrote_it() {
        let old = r#"{"table": "T", "entity": "events", "key": ["id"], "keys_table": "k1_0",
            "rows": 1, "columns": ["id"], "digest": "5"}"#;
        let e: TableEntry = serde_json::from_str(old).unwrap();
        assert_eq!(e.digest_kind, None);
        assert_eq!(DigestKind::postgres(&e), DigestKind::Md5Prefix60);
        assert!(
            serde_json::to_value(&e)
                .unwrap()
                .get("digest_kind")
                .is_none()
        );
        let new = TableEntry {
            digest_kind: Some(DigestKind::Hashtext64),
            ..e
        };
        assert_eq!(
            serde_json::to_value(&new).unwrap()["digest_kind"],
            "hashtext64"
        );
        assert!(DigestKind::Sha256Prefix64.postgres_hash(&[]).is_none());
        let rec = TableEntry {
            digest_kind: Some(DigestKind::RecordHash64),
            ..new
        };
        let v = serde_json::to_value(&rec).unwrap();
        assert_eq!(v["digest_kind"], "record-hash64");
        let back: TableEntry = serde_json::from_value(v).unwrap();
        assert_eq!(DigestKind::postgres(&back), DigestKind::RecordHash64);
        assert_eq!(
            DigestKind::RecordHash64
                .postgres_hash(&["id".into(), "a\"b".into()])
                .unwrap(),
            r#"hash_record_extended(ROW(t."id", t."a""b"), 0)"#
        );
    }
}
