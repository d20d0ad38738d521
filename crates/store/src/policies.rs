//! Stored policy layers (account, agent, key) as JSON documents; the platform layer is configuration.

use sqlx::{Any, Executor, Row};

use crate::StoreResult;

/// The stored policy JSON of one layer, if set.
pub async fn get<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    layer: &str,
    subject_id: &str,
) -> StoreResult<Option<String>> {
    let row = sqlx::query(
        "SELECT policy FROM policies WHERE account_id = $1 AND layer = $2 AND subject_id = $3",
    )
    .bind(account_id)
    .bind(layer)
    .bind(subject_id)
    .fetch_optional(ex)
    .await?;
    Ok(match row {
        Some(row) => Some(row.try_get(0)?),
        None => None,
    })
}

/// Replace one layer.
pub async fn put<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    layer: &str,
    subject_id: &str,
    policy: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO policies (account_id, layer, subject_id, policy, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (account_id, layer, subject_id) DO UPDATE SET policy = $4, updated_at = $5",
    )
    .bind(account_id)
    .bind(layer)
    .bind(subject_id)
    .bind(policy)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}
