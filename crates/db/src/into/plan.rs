//! `seed --into … --plan`: what goes where, how many rows, and a few sample rows passed
//! through the server's own input functions (in a transaction rolled back), so a value a
//! column cannot take is found before the load. Writes nothing.

use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, PgConnection};

use super::check::Planned;
use super::entity::Row;
use super::follow::Follow;
use super::mapping::SeedMap;
use super::spool::Spool;
use super::write::{rows, value};
use crate::DbError;

/// Sample rows rendered and checked per table.
const SAMPLES: usize = 3;

/// The plan, as `--plan --json` prints it (schema/seed-plan.v1.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanDoc {
    pub schema: String,
    pub tables: Vec<PlanTable>,
    /// Values a column refused, each with its mapping line: the load would fail on them.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanTable {
    /// In load order: parents before children.
    pub table: String,
    pub from: String,
    pub kinds: Option<Vec<String>>,
    pub rows: u64,
    /// Rows the world holds for this table before `limit`.
    pub available: u64,
    pub limit: Option<u64>,
    /// A note: fewer rows than `limit` (and how to get more), rows already there.
    pub notes: Vec<String>,
    pub triggers: Vec<String>,
    pub columns: Vec<PlanColumn>,
    /// Sample rows, one value per column (null for NULL).
    pub samples: Vec<Vec<Option<String>>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub template: String,
}

/// A sample value the PostgreSQL plan passes through its column type's input function.
pub struct Sample {
    /// `file:line: field `…`: row …`, the start of the problem if the type refuses it.
    pub at: String,
    pub value: String,
    pub ty: String,
}

/// The plan as the spool and the catalog tell it (no database asked), and the sample
/// values a server could check.
pub fn doc(
    map: &SeedMap,
    planned: &[Planned<'_>],
    spool: &Spool,
    filled: &[String],
) -> Result<(PlanDoc, Vec<Sample>), DbError> {
    let io = |e: std::io::Error| DbError::failed("reading the spooled rows", e);
    let mut doc = PlanDoc {
        schema: map.schema.clone(),
        tables: Vec::new(),
        problems: Vec::new(),
    };
    let mut checks = Vec::new();
    let mut follow = Follow::new(planned);
    for p in planned {
        let t = p.map;
        let mut available = 0u64;
        let mut samples = Vec::new();
        let unlimited = super::mapping::TableMap {
            limit: None,
            ..clone_shape(t)
        };
        for row in rows(spool, map, &unlimited).map_err(io)? {
            let row = row.map_err(io)?;
            if !follow.keep(t, &row) {
                continue;
            }
            available += 1;
            if t.limit.is_none_or(|l| available <= l) {
                follow.record(t, &row);
            }
            if samples.len() < SAMPLES {
                samples.push(sample(map, p, &row, &mut doc.problems, &mut checks));
            }
        }
        doc.tables
            .push(table(p, available, samples, filled, &follow));
    }
    Ok((doc, checks))
}

/// One sample row's values; a value a template could not compute is a problem, the
/// others are queued for the server's input functions.
fn sample(
    map: &SeedMap,
    p: &Planned<'_>,
    row: &Row,
    problems: &mut Vec<String>,
    checks: &mut Vec<Sample>,
) -> Vec<Option<String>> {
    let t = p.map;
    let mut vals = Vec::new();
    for (i, col) in t.columns.iter().enumerate() {
        let at = format!(
            "{}:{}: field `tables.{}.columns.{}`: row {}",
            map.file,
            col.line,
            t.name,
            col.name,
            row.named()
        );
        match value(t, i, row) {
            Ok(v) => {
                if let Some(v) = &v {
                    let ty = p.info.column(&col.name).map_or("text", |c| c.ty.as_str());
                    checks.push(Sample {
                        at,
                        value: v.clone(),
                        ty: ty.to_string(),
                    });
                }
                vals.push(v);
            }
            Err(why) => {
                problems.push(format!("{at}: {why}"));
                vals.push(None);
            }
        }
    }
    vals
}

/// A table's entry: its rows, notes, triggers, columns and samples.
fn table(
    p: &Planned<'_>,
    available: u64,
    samples: Vec<Vec<Option<String>>>,
    filled: &[String],
    follow: &Follow,
) -> PlanTable {
    let t = p.map;
    let rows = t.limit.map_or(available, |l| l.min(available));
    let mut notes = Vec::new();
    if let Some(l) = t.limit
        && available < l
    {
        notes.push(format!(
            "limit = {l}, but the world holds {available}: seed more --users or --days for more"
        ));
    }
    let parents = follow.parents_of(t);
    if !parents.is_empty() {
        notes.push(format!(
            "only rows whose {} row is seeded (a capped parent)",
            parents.join(", ")
        ));
    }
    if filled.contains(&t.name) {
        notes.push("already holds rows: the load needs --append or --truncate".into());
    }
    PlanTable {
        table: t.name.clone(),
        from: t.entity.name().to_string(),
        kinds: t.kinds.clone(),
        rows,
        available,
        limit: t.limit,
        notes,
        triggers: p.info.triggers.clone(),
        columns: t
            .columns
            .iter()
            .map(|col| PlanColumn {
                name: col.name.clone(),
                ty: p
                    .info
                    .column(&col.name)
                    .map_or(String::new(), |c| c.ty.clone()),
                template: col.template.source().to_string(),
            })
            .collect(),
        samples,
    }
}

/// The plan, each sample value passed through its column type's input function in a
/// read-only transaction rolled back.
pub async fn plan(
    c: &mut PgConnection,
    map: &SeedMap,
    planned: &[Planned<'_>],
    spool: &Spool,
    filled: &[String],
) -> Result<PlanDoc, DbError> {
    let (mut doc, samples) = doc(map, planned, spool, filled)?;
    sqlx::raw_sql("BEGIN READ ONLY")
        .execute(&mut *c)
        .await
        .map_err(|e| DbError::failed("starting the plan's transaction", e))?;
    for s in samples {
        if let Some(why) = input(c, Some(&s.value), &s.ty).await {
            doc.problems
                .push(format!("{}: `{}` is not a {}: {why}", s.at, s.value, s.ty));
        }
    }
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *c).await;
    Ok(doc)
}

/// The same table mapping, for counting without its limit.
fn clone_shape(t: &super::mapping::TableMap) -> super::mapping::TableMap {
    super::mapping::TableMap {
        name: t.name.clone(),
        line: t.line,
        entity: t.entity,
        kinds: t.kinds.clone(),
        limit: t.limit,
        columns: Vec::new(),
        aggregates: t.aggregates.clone(),
        user_reads: t.user_reads.clone(),
    }
}

/// Why the server's input function for `ty` refuses `v`, if it does (a savepoint keeps
/// the transaction usable after a refusal).
async fn input(c: &mut PgConnection, v: Option<&str>, ty: &str) -> Option<String> {
    let v = v?;
    sqlx::raw_sql("SAVEPOINT s").execute(&mut *c).await.ok()?;
    let r = sqlx::query(AssertSqlSafe(format!(
        "SELECT CAST($1::text AS {ty})::text"
    )))
    .bind(v)
    .fetch_one(&mut *c)
    .await;
    let _ = sqlx::raw_sql("ROLLBACK TO SAVEPOINT s")
        .execute(&mut *c)
        .await;
    r.err().map(|e| match e.as_database_error() {
        Some(d) => d.message().to_string(),
        None => e.to_string(),
    })
}
