//! A replay's SQL set-up and teardown (`[[setup]] sql = "…"` in a replay mapping): each
//! one's statements run as written against the given PostgreSQL database, in one
//! transaction, so a failed one leaves nothing half done. Here because databases live in
//! this crate: the replay hands the SQL to the binary, which runs it with this, and never
//! reaches a database itself.

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection};

use crate::DbError;
use crate::postgres::{connect_options, connect_to};

/// The database a mapping's SQL runs against.
pub struct SqlHooks {
    opts: PgConnectOptions,
    /// The URL as it may be shown: no password.
    pub masked: String,
}

impl SqlHooks {
    /// Checks the URL; connects only when a statement runs.
    pub fn new(url: &str) -> Result<SqlHooks, DbError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(DbError::refused(
                format!(
                    "{} is not a PostgreSQL URL: a mapping's `sql` runs against PostgreSQL",
                    simulate_core::redact::mask_url(url)
                ),
                "pass --database-url postgres://user:password@host:5432/database (or set DATABASE_URL)",
            ));
        }
        let (opts, masked) = connect_options(url)?;
        Ok(SqlHooks { opts, masked })
    }

    /// Runs `sql` (one statement or several, `;`-separated) in one transaction on a
    /// connection of its own: the rows it touched, or why it failed in the server's
    /// words (never the password).
    pub async fn run(&self, sql: &str) -> Result<u64, DbError> {
        let mut conn = connect_to(&self.opts, &self.masked).await?;
        let failed = |e: sqlx::Error| DbError::failed("the SQL", e);
        let mut tx = conn.begin().await.map_err(failed)?;
        let done = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        let _ = conn.close().await;
        Ok(done.rows_affected())
    }
}
