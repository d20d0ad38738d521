//! Aggregates for the `/metrics` endpoint: purchases by status, ledger balances by kind, queued jobs.

use sqlx::{Any, Executor, Row};

use crate::StoreResult;

/// (status, count) of every purchase.
pub async fn purchases_by_status<'c, E: Executor<'c, Database = Any>>(
    ex: E,
) -> StoreResult<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT status, CAST(COUNT(*) AS BIGINT) FROM purchases GROUP BY status ORDER BY status",
    )
    .fetch_all(ex)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// (ledger account kind, summed balance in micro-dollars).
pub async fn ledger_totals<'c, E: Executor<'c, Database = Any>>(
    ex: E,
) -> StoreResult<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT kind, CAST(COALESCE(SUM(balance_micro), 0) AS BIGINT) FROM ledger_accounts GROUP BY kind ORDER BY kind")
        .fetch_all(ex)
        .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// (job status, count).
pub async fn jobs_by_status<'c, E: Executor<'c, Database = Any>>(
    ex: E,
) -> StoreResult<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT status, CAST(COUNT(*) AS BIGINT) FROM jobs GROUP BY status ORDER BY status",
    )
    .fetch_all(ex)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}
