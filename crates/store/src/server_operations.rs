//! Server operations (restart, reinstall, power on/off): one row per action, `pending` while its job
//! runs, then `succeeded` or `failed` exactly once (conditional updates). At most one is pending per
//! server (a partial unique index).

use sqlx::{Any, AnyConnection, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct ServerOperation {
    pub id: String,
    pub service_id: String,
    pub account_id: String,
    /// `restart`, `reinstall`, `power_on` or `power_off`.
    pub action: String,
    /// The image to install (reinstall only).
    pub image: Option<String>,
    /// The power state before the action, restored if it fails.
    pub previous_power_state: String,
    pub status: String,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Insert a pending operation; `false` if the server already has one pending.
pub async fn insert(conn: &mut AnyConnection, op: &ServerOperation) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO server_operations (id, service_id, account_id, action, image, previous_power_state, status, error, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', NULL, $7, $7) ON CONFLICT DO NOTHING",
    )
    .bind(&op.id)
    .bind(&op.service_id)
    .bind(&op.account_id)
    .bind(&op.action)
    .bind(&op.image)
    .bind(&op.previous_power_state)
    .bind(op.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn get<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
) -> StoreResult<Option<ServerOperation>> {
    Ok(
        sqlx::query_as("SELECT * FROM server_operations WHERE id = $1")
            .bind(id)
            .fetch_optional(ex)
            .await?,
    )
}

/// The server's pending operation, if any.
pub async fn pending_for<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    service_id: &str,
) -> StoreResult<Option<ServerOperation>> {
    Ok(sqlx::query_as(
        "SELECT * FROM server_operations WHERE service_id = $1 AND status = 'pending'",
    )
    .bind(service_id)
    .fetch_optional(ex)
    .await?)
}

/// Settle a pending operation (`succeeded` or `failed`); `None` if it was already settled.
pub async fn finish(
    conn: &mut AnyConnection,
    id: &str,
    status: &str,
    error: Option<&str>,
    now: i64,
) -> StoreResult<Option<ServerOperation>> {
    Ok(sqlx::query_as(
        "UPDATE server_operations SET status = $2, error = $3, updated_at = $4
         WHERE id = $1 AND status = 'pending' RETURNING *",
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}
