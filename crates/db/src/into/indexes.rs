//! `seed --into --rebuild-indexes`: the mapped tables' plain indexes dropped before the
//! rows and built again after them, inside the load's transaction. Building an index
//! once from sorted rows costs far less than inserting every row into it (pgbench -i
//! builds its keys after the data for the same reason). Only plain indexes: never a
//! primary key, a unique index or any index a constraint owns (those keep checking the
//! rows as they arrive), and never an index that is not valid. Their definitions come
//! from the server (`pg_get_indexdef`), so they are built again exactly as they were; a
//! failure or Ctrl-C rolls the drop back with the rest.

use sqlx::{PgConnection, Row};

use super::SeedMap;
use super::catalog::quote;
use super::check::Planned;
use super::manifest::{exec, failed};
use crate::DbError;

/// A plain index of a mapped table.
#[derive(Debug, Clone)]
pub struct PlainIndex {
    /// Its name as messages show it: `"BehaviorLog_action_idx" on "BehaviorLog"`.
    pub name: String,
    qualified: String,
    /// The statement that builds it (`CREATE INDEX … ON … USING btree (…)`).
    definition: String,
}

const PLAIN: &str = "
SELECT i.relname, t.relname, pg_get_indexdef(x.indexrelid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = $1 AND t.relname = ANY($2)
  AND NOT x.indisprimary AND NOT x.indisunique AND NOT x.indisexclusion
  AND x.indisvalid AND x.indislive
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
ORDER BY t.relname, i.relname";

/// The plain indexes of the mapped tables, by table then name.
pub async fn plain(
    c: &mut PgConnection,
    map: &SeedMap,
    planned: &[Planned<'_>],
) -> Result<Vec<PlainIndex>, DbError> {
    let tables: Vec<String> = planned.iter().map(|p| p.info.name.clone()).collect();
    let rows = sqlx::query(PLAIN)
        .bind(&map.schema)
        .bind(&tables)
        .fetch_all(&mut *c)
        .await
        .map_err(failed("reading the mapped tables' indexes"))?;
    Ok(rows
        .iter()
        .map(|r| {
            let (index, table): (String, String) = (r.get(0), r.get(1));
            PlainIndex {
                name: format!("{} on {}", quote(&index), quote(&table)),
                qualified: format!("{}.{}", quote(&map.schema), quote(&index)),
                definition: r.get(2),
            }
        })
        .collect())
}

/// Drops the plain indexes (inside the caller's transaction); what to build again.
pub async fn drop_plain(
    c: &mut PgConnection,
    map: &SeedMap,
    planned: &[Planned<'_>],
) -> Result<Vec<PlainIndex>, DbError> {
    let found = plain(c, map, planned).await?;
    for i in &found {
        exec(
            c,
            format!("DROP INDEX {}", i.qualified),
            "dropping a plain index (--rebuild-indexes)",
        )
        .await?;
    }
    Ok(found)
}

/// Builds the dropped indexes again, each from its own definition.
pub async fn rebuild(c: &mut PgConnection, dropped: &[PlainIndex]) -> Result<(), DbError> {
    for i in dropped {
        exec(
            c,
            i.definition.clone(),
            "building a plain index again (--rebuild-indexes)",
        )
        .await?;
    }
    Ok(())
}
