//! Idempotency records: the first response to a keyed request, stored in the same transaction as its
//! effects. A retry with the same key and request replays it; a different request with the key is refused.

use sqlx::{Any, AnyConnection, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct Record {
    pub scope: String,
    pub idem_key: String,
    pub request_hash: String,
    pub response_status: i64,
    pub response_body: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn get<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    scope: &str,
    key: &str,
) -> StoreResult<Option<Record>> {
    Ok(sqlx::query_as(
        "SELECT * FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND expires_at > $3",
    )
    .bind(scope)
    .bind(key)
    .bind(agent_store_core::time::now_ms())
    .fetch_optional(ex)
    .await?)
}

/// Store a record; `false` if the key already exists (a concurrent request committed first).
pub async fn insert(conn: &mut AnyConnection, r: &Record) -> StoreResult<bool> {
    // An expired record of the same key may linger until the sweeper runs; it no longer counts.
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND expires_at <= $3",
    )
    .bind(&r.scope)
    .bind(&r.idem_key)
    .bind(r.created_at)
    .execute(&mut *conn)
    .await?;
    let done = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, response_status, response_body, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, idem_key) DO NOTHING",
    )
    .bind(&r.scope)
    .bind(&r.idem_key)
    .bind(&r.request_hash)
    .bind(r.response_status)
    .bind(&r.response_body)
    .bind(r.created_at)
    .bind(r.expires_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Delete records past their retention.
pub async fn purge_expired<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    now: i64,
) -> StoreResult<u64> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE expires_at <= $1")
            .bind(now)
            .execute(ex)
            .await?
            .rows_affected(),
    )
}
