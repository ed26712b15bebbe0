//! The PostgreSQL load, in one transaction on the load's one connection: the manifest's
//! schema, `--truncate`, `--rebuild-indexes`' drops, each table's COPY (parents first)
//! with its keys and digest recorded and its sequences moved past the seeded ids, the
//! dropped indexes built again, the manifest's row, the commit. A failure, Ctrl-C or a
//! lost connection rolls it all back (sequences aside: PostgreSQL never rolls them back).
//! Each phase's time is recorded in [`Phases`].

use std::time::Instant;

use sqlx::PgConnection;
use tokio::runtime::Runtime;

use super::check::Planned;
use super::follow::Follow;
use super::indexes;
use super::manifest::{
    DigestKind, TableEntry, exec, failed, forget, past_explicit_ids, record_keys_and_digest,
};
use super::phases::Phases;
use super::spool::Spool;
use super::write::{Copied, copy_table};
use super::{Existing, LoadOpts, SeedMap};
use crate::DbError;

/// The whole load: the entries the manifest records, or nothing written.
pub fn load(
    rt: &Runtime,
    c: &mut PgConnection,
    map: &SeedMap,
    planned: &[Planned<'_>],
    spool: &Spool,
    opts: &LoadOpts<'_>,
    phases: &mut Phases,
) -> Result<Vec<TableEntry>, DbError> {
    let t = Instant::now();
    let id = rt.block_on(begin(c, map, planned, opts.existing))?;
    phases.since("begin (manifest schema, truncate)", t);
    let mut dropped = Vec::new();
    if opts.rebuild_indexes {
        let t = Instant::now();
        dropped = rt.block_on(indexes::drop_plain(c, map, planned))?;
        phases.since(format!("drop {} plain indexes", dropped.len()), t);
    }
    let mut entries = Vec::new();
    let mut follow = Follow::new(planned);
    for (i, p) in planned.iter().enumerate() {
        let copied = copy_table(rt, c, map, p.map, &p.info, spool, &mut follow, opts.stop)?;
        copy_phases(phases, &p.map.name, &copied);
        let t = Instant::now();
        let (e, kind) = rt.block_on(record_table(c, map, p, format!("k{id}_{i}")))?;
        phases.since(format!("{}: keys and digest ({kind:?})", p.map.name), t);
        let t = Instant::now();
        rt.block_on(past_explicit_ids(c, map, p))?;
        phases.since(format!("{}: sequences", p.map.name), t);
        entries.push(e);
    }
    if opts.rebuild_indexes {
        if opts.stop.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(DbError::Interrupted);
        }
        let t = Instant::now();
        rt.block_on(indexes::rebuild(c, &dropped))?;
        phases.since(format!("rebuild {} plain indexes", dropped.len()), t);
    }
    let t = Instant::now();
    rt.block_on(commit(c, map, id, opts.record, &entries))?;
    phases.since("manifest and commit", t);
    Ok(entries)
}

/// One table's COPY in phases: the wall time, then what each side did within it.
fn copy_phases(phases: &mut Phases, table: &str, c: &Copied) {
    let format = if c.binary { "binary" } else { "text" };
    phases.add(
        format!("{table}: COPY of {} rows, {format} (wall)", c.rows),
        c.wall,
    );
    phases.add(format!("{table}:   rendering rows (our thread)"), c.render);
    phases.add(
        format!("{table}:   rendering waited for the server"),
        c.blocked,
    );
    phases.add(format!("{table}:   server waited for rows"), c.starved);
    phases.add(format!("{table}:   server's end of the COPY"), c.finish);
}

/// BEGIN, the manifest's schema, `--truncate`; the seed's number.
async fn begin(
    c: &mut PgConnection,
    map: &SeedMap,
    planned: &[Planned<'_>],
    existing: Existing,
) -> Result<i64, DbError> {
    exec(c, "BEGIN".into(), "starting the transaction").await?;
    exec(
        c,
        super::manifest::SETUP.into(),
        "creating the manifest schema simulate_into",
    )
    .await?;
    if existing == Existing::Truncate {
        forget(c, map, planned).await?;
        let names: Vec<String> = planned
            .iter()
            .map(|p| p.info.qualified(&map.schema))
            .collect();
        exec(
            c,
            format!("TRUNCATE {}", names.join(", ")),
            "truncating the mapped tables",
        )
        .await?;
    }
    sqlx::query_scalar("SELECT nextval('simulate_into.seed_ids')")
        .fetch_one(&mut *c)
        .await
        .map_err(failed("numbering the seed"))
}

/// The keys of the rows this transaction wrote into the table (those whose xmin is its
/// id), in a keys table of the manifest, and their count and digest, in one scan.
async fn record_table(
    c: &mut PgConnection,
    map: &SeedMap,
    p: &Planned<'_>,
    keys_table: String,
) -> Result<(TableEntry, DigestKind), DbError> {
    let mut e = TableEntry {
        table: p.map.name.clone(),
        entity: p.map.entity.name().to_string(),
        key: p.info.key.clone(),
        keys_table,
        rows: 0,
        columns: p.map.columns.iter().map(|c| c.name.clone()).collect(),
        digest: String::new(),
        digest_kind: None,
    };
    let table = p.info.qualified(&map.schema);
    let written = format!("{table} t WHERE t.xmin = pg_current_xact_id()::xid");
    let kind = record_keys_and_digest(c, &mut e, &table, &written).await?;
    Ok((e, kind))
}

/// The manifest's row for this seed, then COMMIT.
async fn commit(
    c: &mut PgConnection,
    map: &SeedMap,
    id: i64,
    record: &super::manifest::Record,
    entries: &[TableEntry],
) -> Result<(), DbError> {
    sqlx::query("INSERT INTO simulate_into.seeds (id, schema, mapping, world, checksum, tables) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(&map.schema)
        .bind(&map.file)
        .bind(sqlx::types::Json(&record.world))
        .bind(&record.checksum)
        .bind(sqlx::types::Json(entries))
        .execute(&mut *c)
        .await
        .map_err(failed("writing the manifest"))?;
    exec(c, "COMMIT".into(), "committing the load").await
}
