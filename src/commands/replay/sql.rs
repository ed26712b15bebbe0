//! The database a mapping's `[[setup]]`/`[[teardown]]` `sql` runs against: `--database-url`
//! or DATABASE_URL, checked before any traffic and handed to the replay as a runner over
//! simulate-db (the replay crate never reaches a database itself).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use simulate_db::hooks::SqlHooks;
use simulate_replay::SqlRunner;
use simulate_replay::mapping::Mapping;

use super::bad;
use crate::cli::ReplayArgs;

/// simulate-db's runner as the replay calls it.
struct Db(SqlHooks);

impl SqlRunner for Db {
    fn run<'a>(
        &'a self,
        sql: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<u64, String>> + Send + 'a>> {
        Box::pin(async move { self.0.run(sql).await.map_err(|e| e.to_string()) })
    }
}

/// The runner for the mapping's SQL steps: none when it has none (and `--database-url`,
/// which would do nothing, is refused); refused when it has some and no URL is given.
pub(super) fn runner(
    args: &ReplayArgs,
    mapping: &Mapping,
) -> anyhow::Result<Option<Arc<dyn SqlRunner>>> {
    if !mapping.runs_sql() {
        if args.database_url.is_some() {
            return Err(bad(
                format!(
                    "--database-url: no [[setup]] or [[teardown]] step of {} runs SQL",
                    mapping.name
                ),
                "drop it, or add a step like [[teardown]] sql = \"DELETE FROM …\" (docs/REPLAY.md)",
            ));
        }
        return Ok(None);
    }
    let url = args
        .database_url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            bad(
                format!(
                    "{} runs SQL in its [[setup]] or [[teardown]], and no database is given",
                    mapping.name
                ),
                "pass --database-url postgres://user:password@host:5432/database (or set DATABASE_URL)",
            )
        })?;
    Ok(Some(Arc::new(Db(SqlHooks::new(&url)?))))
}
