//! The audit log: who did what to which object, when, and with which credential id (never a secret).

use sqlx::{Any, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct AuditEvent {
    pub id: String,
    pub account_id: String,
    /// `agent`, `account` or `system`.
    pub actor_type: String,
    pub actor_id: String,
    pub credential_id: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub before_status: Option<String>,
    pub after_status: Option<String>,
    /// JSON object.
    pub details: String,
    pub request_id: Option<String>,
    pub created_at: i64,
}

pub async fn insert<'c, E: Executor<'c, Database = Any>>(ex: E, e: &AuditEvent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, account_id, actor_type, actor_id, credential_id, action, object_type, object_id,
             before_status, after_status, details, request_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&e.id)
    .bind(&e.account_id)
    .bind(&e.actor_type)
    .bind(&e.actor_id)
    .bind(&e.credential_id)
    .bind(&e.action)
    .bind(&e.object_type)
    .bind(&e.object_id)
    .bind(&e.before_status)
    .bind(&e.after_status)
    .bind(&e.details)
    .bind(&e.request_id)
    .bind(e.created_at)
    .execute(ex)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub object_id: Option<&'a str>,
    pub action: Option<&'a str>,
}

pub async fn list<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    filter: &ListFilter<'_>,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<AuditEvent>> {
    Ok(sqlx::query_as(
        "SELECT * FROM audit_events WHERE account_id = $1 AND ($2 IS NULL OR object_id = $2) AND ($3 IS NULL OR action = $3)
           AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
    )
    .bind(account_id)
    .bind(filter.object_id)
    .bind(filter.action)
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}
