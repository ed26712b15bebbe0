//! The state a seed left (balances, claims, gifts), read back from the database, so the
//! reference target can start from it and a replay of the days after the seed continues
//! the same world.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};

use crate::DbError;
use crate::conn::{Db, on_db};

/// What the seed left, by the timeline's ids (`u42`, `g5186-1`, goal ids).
#[derive(Debug, Default)]
pub struct SeededState {
    /// Points balance per user.
    pub balances: BTreeMap<String, i64>,
    /// (user, goal) pairs whose goal was claimed.
    pub goal_claims: BTreeSet<(String, String)>,
    /// Shares still unclaimed per gift.
    pub gifts: BTreeMap<String, u32>,
    /// (gift, user) pairs of winning claims.
    pub gift_claims: BTreeSet<(String, String)>,
}

/// Pairs of text read by one query; the same SQL runs on PostgreSQL and SQLite.
async fn pairs(db: &mut Db<'_>, sql: &str) -> Result<Vec<(String, String)>, DbError> {
    let fail = |e: sqlx::Error| DbError::failed(format!("reading the seeded state ({sql})"), e);
    let mut out = Vec::new();
    on_db!(db, |c| {
        let mut rows = sqlx::query(AssertSqlSafe(sql.to_string())).fetch(&mut **c);
        while let Some(r) = rows.try_next().await.map_err(fail)? {
            out.push((r.try_get(0).map_err(fail)?, r.try_get(1).map_err(fail)?));
        }
    });
    Ok(out)
}

/// What the seed left: balances, claimed goals, gifts and their claims.
pub async fn load(db: &mut Db<'_>) -> Result<SeededState, DbError> {
    let mut l = SeededState::default();
    for (u, b) in pairs(
        db,
        "SELECT user_key, CAST(points_balance AS TEXT) FROM users",
    )
    .await?
    {
        l.balances.insert(u, b.parse().unwrap_or(0));
    }
    let claimed = "SELECT 'u' || CAST(user_id AS TEXT), goal_id FROM user_goal_progress WHERE status = 'claimed'";
    for (u, g) in pairs(db, claimed).await? {
        l.goal_claims.insert((u, g));
    }
    let mut left: std::collections::HashMap<String, i64> =
        pairs(db, "SELECT id, CAST(shares AS TEXT) FROM gifts")
            .await?
            .into_iter()
            .map(|(g, s)| (g, s.parse().unwrap_or(0)))
            .collect();
    for (g, u) in pairs(
        db,
        "SELECT gift_id, 'u' || CAST(user_id AS TEXT) FROM gift_claims",
    )
    .await?
    {
        if let Some(n) = left.get_mut(&g) {
            *n -= 1;
        }
        l.gift_claims.insert((g, u));
    }
    l.gifts = left
        .into_iter()
        .map(|(g, n)| (g, n.max(0) as u32))
        .collect();
    Ok(l)
}
