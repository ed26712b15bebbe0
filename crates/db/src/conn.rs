//! A connection to a seeded database, PostgreSQL or SQLite, for the readers (verify, the
//! seeded state, run_meta): the same SQL runs on both.

use sqlx::Row;

use crate::{DbError, WorldConfig};

/// A seeded database to read.
pub enum Db<'a> {
    Pg(&'a mut sqlx::PgConnection),
    Sqlite(&'a mut sqlx::SqliteConnection),
}

/// Runs the same code against whichever connection `Db` holds. A macro rather than a
/// generic function: sqlx's rows are typed per backend, and the bounds to abstract over
/// them would be longer than the body.
macro_rules! on_db {
    ($db:expr, |$c:ident| $body:expr) => {
        match $db {
            Db::Pg($c) => $body,
            Db::Sqlite($c) => $body,
        }
    };
}

pub(crate) use on_db;

impl Db<'_> {
    /// The run_meta row a seed wrote: its config, the timeline's SHA-256 and its events.
    pub async fn run_meta(&mut self) -> Result<(WorldConfig, String, i64), DbError> {
        // PostgreSQL keeps config as jsonb, SQLite as text.
        let sql = if matches!(self, Db::Pg(_)) {
            "SELECT config::text, events_sha256, events FROM run_meta"
        } else {
            "SELECT config, events_sha256, events FROM run_meta"
        };
        let place = if matches!(self, Db::Pg(_)) {
            "a database written by `simulate seed` (and the --schema it was seeded into)"
        } else {
            "a file written by `simulate seed` (--sqlite FILE)"
        };
        let fail = |e: sqlx::Error| {
            let words = match e.as_database_error() {
                Some(d) => d.message().to_string(),
                None => e.to_string(),
            };
            DbError::refused(
                format!("no readable run_meta ({})", crate::server_words(&words)),
                format!("point verify at {place}"),
            )
        };
        let (config, sha, events): (String, String, i64) = on_db!(self, |c| {
            let r = sqlx::query(sql).fetch_one(&mut **c).await.map_err(fail)?;
            (
                r.try_get(0).map_err(fail)?,
                r.try_get(1).map_err(fail)?,
                r.try_get(2).map_err(fail)?,
            )
        });
        let config =
            serde_json::from_str(&config).map_err(|e| DbError::failed("run_meta.config", e))?;
        Ok((config, sha, events))
    }
}
