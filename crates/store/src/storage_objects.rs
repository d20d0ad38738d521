//! Storage services: object storage access keys (only the secret's keyed hash is stored) and the
//! compare-and-set update of a volume's details (attachment, capacity, snapshots), so two concurrent
//! changes of one volume can never both apply.

use sqlx::{Any, AnyConnection, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct StorageCredential {
    pub id: String,
    pub account_id: String,
    pub service_id: String,
    pub label: String,
    /// `read` or `read_write`.
    pub access: String,
    pub access_key_id: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

pub async fn insert_credential<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    c: &StorageCredential,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO storage_credentials (id, account_id, service_id, label, access, access_key_id, secret_hash,
             created_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&c.id)
    .bind(&c.account_id)
    .bind(&c.service_id)
    .bind(&c.label)
    .bind(&c.access)
    .bind(&c.access_key_id)
    .bind(&c.secret_hash)
    .bind(c.created_at)
    .bind(c.revoked_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// A credential by its access key id (for the storage endpoint's authentication).
pub async fn credential_by_access_key<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    access_key_id: &str,
) -> StoreResult<Option<StorageCredential>> {
    Ok(
        sqlx::query_as("SELECT * FROM storage_credentials WHERE access_key_id = $1")
            .bind(access_key_id)
            .fetch_optional(ex)
            .await?,
    )
}

/// Replace a service's details only if they are still `expected`; `false` if another change came
/// first (nothing written).
pub async fn swap_details(
    conn: &mut AnyConnection,
    service_id: &str,
    expected: &str,
    details: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE services SET details = $3, updated_at = $4 WHERE id = $1 AND details = $2",
    )
    .bind(service_id)
    .bind(expected)
    .bind(details)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forget a stored idempotent response whose effects were undone (a refunded expansion), so a
/// retry with the same key is a new attempt rather than a replay of a success that did not last.
pub async fn release_idempotency_key(
    conn: &mut AnyConnection,
    scope: &str,
    key: &str,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2")
        .bind(scope)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}
