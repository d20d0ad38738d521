//! Read-only aggregates for the dashboard: spend per UTC day, router usage across an account.

use sqlx::{Any, Executor, Row};

use crate::StoreResult;

const DAY_MS: i64 = 86_400_000;

/// Spend (held or captured, as policies count it) per UTC day since `since` (epoch ms), as
/// `(day index since the epoch, amount in cents)`, oldest first. Days without spend are absent.
pub async fn spend_per_day<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    since: i64,
) -> StoreResult<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT CAST(created_at / $3 AS BIGINT) AS day, CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT)
         FROM spends WHERE account_id = $1 AND created_at >= $2 AND status IN ('held', 'captured')
         GROUP BY 1 ORDER BY 1",
    )
    .bind(account_id)
    .bind(since)
    .bind(DAY_MS)
    .fetch_all(ex)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// One line of router usage: the group (model name or router key id) and its totals.
#[derive(Debug, Clone)]
pub struct RouterUsageRow {
    pub group: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micro: i64,
}

/// Router usage of every service of the account, by model (`by_key = false`) or by router key.
pub async fn router_usage<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    by_key: bool,
) -> StoreResult<Vec<RouterUsageRow>> {
    let sql = if by_key {
        "SELECT key_id, COUNT(*), CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT),
                CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(cost_micro), 0) AS BIGINT)
         FROM router_requests WHERE account_id = $1 GROUP BY key_id ORDER BY 5 DESC, 1"
    } else {
        "SELECT model, COUNT(*), CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT),
                CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(cost_micro), 0) AS BIGINT)
         FROM router_requests WHERE account_id = $1 GROUP BY model ORDER BY 5 DESC, 1"
    };
    let rows = sqlx::query(sql).bind(account_id).fetch_all(ex).await?;
    rows.into_iter()
        .map(|r| {
            Ok(RouterUsageRow {
                group: r.try_get(0)?,
                requests: r.try_get(1)?,
                prompt_tokens: r.try_get(2)?,
                completion_tokens: r.try_get(3)?,
                cost_micro: r.try_get(4)?,
            })
        })
        .collect()
}
