//! DNS records of domain services, and the per-service write lock that serializes changes to one
//! domain's records (so CNAME exclusivity, checked by the app, holds under concurrency on PostgreSQL
//! too; SQLite's `BEGIN IMMEDIATE` already serializes writers).

use sqlx::{Any, AnyConnection, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct DnsRecord {
    pub id: String,
    pub service_id: String,
    pub account_id: String,
    pub record_type: String,
    /// `@` or a name relative to the domain.
    pub name: String,
    pub value: String,
    /// The value part of the upsert key: the value for multi-valued types, '' otherwise.
    pub match_value: String,
    pub ttl: i64,
    pub priority: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Take the service's row lock for the rest of the transaction (a no-op update of `updated_at`).
/// Returns whether the service exists.
pub async fn lock_service(
    conn: &mut AnyConnection,
    service_id: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE services SET updated_at = $2 WHERE id = $1")
        .bind(service_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Newest first, paged by id.
pub async fn list<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    service_id: &str,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<DnsRecord>> {
    Ok(sqlx::query_as(
        "SELECT * FROM dns_records WHERE service_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(service_id)
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// Every record of the service (bounded by the app's per-domain limit).
pub async fn all<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    service_id: &str,
) -> StoreResult<Vec<DnsRecord>> {
    Ok(
        sqlx::query_as("SELECT * FROM dns_records WHERE service_id = $1 ORDER BY id")
            .bind(service_id)
            .fetch_all(ex)
            .await?,
    )
}

pub async fn get<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    service_id: &str,
    id: &str,
) -> StoreResult<Option<DnsRecord>> {
    Ok(
        sqlx::query_as("SELECT * FROM dns_records WHERE service_id = $1 AND id = $2")
            .bind(service_id)
            .bind(id)
            .fetch_optional(ex)
            .await?,
    )
}

pub async fn insert(conn: &mut AnyConnection, r: &DnsRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO dns_records (id, service_id, account_id, record_type, name, value, match_value, ttl, priority, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&r.id)
    .bind(&r.service_id)
    .bind(&r.account_id)
    .bind(&r.record_type)
    .bind(&r.name)
    .bind(&r.value)
    .bind(&r.match_value)
    .bind(r.ttl)
    .bind(r.priority)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replace the value, TTL and priority of an existing record (an upsert that matched it).
pub async fn replace(conn: &mut AnyConnection, r: &DnsRecord) -> StoreResult<()> {
    sqlx::query(
        "UPDATE dns_records SET value = $3, match_value = $4, ttl = $5, priority = $6, updated_at = $7
         WHERE service_id = $1 AND id = $2",
    )
    .bind(&r.service_id)
    .bind(&r.id)
    .bind(&r.value)
    .bind(&r.match_value)
    .bind(r.ttl)
    .bind(r.priority)
    .bind(r.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Delete one record; `false` if it did not exist.
pub async fn delete(conn: &mut AnyConnection, service_id: &str, id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM dns_records WHERE service_id = $1 AND id = $2")
        .bind(service_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
