//! Dashboard sign-in sessions (table `dashboard_sessions`). The app layer mints the token and keeps
//! only its hash here; lookups are by that hash.

use sqlx::{Any, Executor, FromRow};

use crate::StoreResult;

/// A stored session. `token_hash` is the hex SHA-256 of the cookie token.
#[derive(Debug, Clone, FromRow)]
pub struct Session {
    pub id: String,
    pub token_hash: String,
    pub account_id: String,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

pub async fn insert<'c, E: Executor<'c, Database = Any>>(ex: E, s: &Session) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO dashboard_sessions (id, token_hash, account_id, csrf_token, created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&s.id)
    .bind(&s.token_hash)
    .bind(&s.account_id)
    .bind(&s.csrf_token)
    .bind(s.created_at)
    .bind(s.last_seen_at)
    .bind(s.expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn get_by_token_hash<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    token_hash: &str,
) -> StoreResult<Option<Session>> {
    Ok(
        sqlx::query_as("SELECT * FROM dashboard_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(ex)
            .await?,
    )
}

/// Record activity (the idle timeout counts from here).
pub async fn touch<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE dashboard_sessions SET last_seen_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(ex)
        .await?;
    Ok(())
}

/// Delete one session (sign-out, or found expired). True when a row was deleted.
pub async fn delete_by_token_hash<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    token_hash: &str,
) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM dashboard_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Forget sessions past their absolute expiry or idle since before `idle_before`.
pub async fn purge<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    now: i64,
    idle_before: i64,
) -> StoreResult<u64> {
    let done =
        sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1 OR last_seen_at < $2")
            .bind(now)
            .bind(idle_before)
            .execute(ex)
            .await?;
    Ok(done.rows_affected())
}
