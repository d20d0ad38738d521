//! Purchases and their approval state. Status changes are conditional updates (`WHERE status = ...`), so
//! every decision happens exactly once even when two requests race.

use sqlx::{Any, AnyConnection, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct Purchase {
    pub id: String,
    pub account_id: String,
    pub agent_id: Option<String>,
    pub key_id: Option<String>,
    pub quote_id: String,
    pub catalog_item_id: String,
    pub category: String,
    pub service_type: String,
    pub quantity: i64,
    pub total_price_minor: i64,
    pub currency: String,
    pub display_name: String,
    pub configuration: String,
    pub quote_details: String,
    pub domain_name: Option<String>,
    pub top_up_service_id: Option<String>,
    pub status: String,
    pub approval_required: i64,
    pub approval_status: String,
    /// JSON array of policy reasons.
    pub approval_reasons: String,
    pub approval_expires_at: Option<i64>,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    pub failure_reason: Option<String>,
    pub idempotency_key: Option<String>,
    pub note: Option<String>,
    /// JSON array of service ids.
    pub service_ids: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert(conn: &mut AnyConnection, p: &Purchase) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO purchases (id, account_id, agent_id, key_id, quote_id, catalog_item_id, category, service_type, quantity,
             total_price_minor, currency, display_name, configuration, quote_details, domain_name, top_up_service_id, status,
             approval_required, approval_status, approval_reasons, approval_expires_at, decided_at, decided_by,
             decision_reason, failure_reason, idempotency_key, note, service_ids, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
                 $24, $25, $26, $27, $28, $29, $30)",
    )
    .bind(&p.id)
    .bind(&p.account_id)
    .bind(&p.agent_id)
    .bind(&p.key_id)
    .bind(&p.quote_id)
    .bind(&p.catalog_item_id)
    .bind(&p.category)
    .bind(&p.service_type)
    .bind(p.quantity)
    .bind(p.total_price_minor)
    .bind(&p.currency)
    .bind(&p.display_name)
    .bind(&p.configuration)
    .bind(&p.quote_details)
    .bind(&p.domain_name)
    .bind(&p.top_up_service_id)
    .bind(&p.status)
    .bind(p.approval_required)
    .bind(&p.approval_status)
    .bind(&p.approval_reasons)
    .bind(p.approval_expires_at)
    .bind(p.decided_at)
    .bind(&p.decided_by)
    .bind(&p.decision_reason)
    .bind(&p.failure_reason)
    .bind(&p.idempotency_key)
    .bind(&p.note)
    .bind(&p.service_ids)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A purchase of this account; with `agent_id`, only that agent's.
pub async fn get<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    agent_id: Option<&str>,
    id: &str,
) -> StoreResult<Option<Purchase>> {
    Ok(sqlx::query_as("SELECT * FROM purchases WHERE account_id = $1 AND ($2 IS NULL OR agent_id = $2) AND id = $3")
        .bind(account_id)
        .bind(agent_id)
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

/// A purchase by id alone (the jobs worker, which acts for the system).
pub async fn get_by_id<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
) -> StoreResult<Option<Purchase>> {
    Ok(sqlx::query_as("SELECT * FROM purchases WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

/// Filters of a purchase listing.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub agent_id: Option<&'a str>,
    pub status: Option<&'a str>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
}

pub async fn list<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    filter: &ListFilter<'_>,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Purchase>> {
    Ok(sqlx::query_as(
        "SELECT * FROM purchases WHERE account_id = $1 AND ($2 IS NULL OR agent_id = $2) AND ($3 IS NULL OR status = $3)
           AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at < $5) AND ($6 IS NULL OR id < $6)
         ORDER BY id DESC LIMIT $7",
    )
    .bind(account_id)
    .bind(filter.agent_id)
    .bind(filter.status)
    .bind(filter.created_from)
    .bind(filter.created_to)
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// A decision on a pending purchase: the new status and approval fields. Applied only if the purchase
/// is still `pending_approval`; returns the updated row, or `None` if someone decided first.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub status: &'a str,
    pub approval_status: &'a str,
    pub decided_by: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub service_ids: Option<&'a str>,
    pub now: i64,
}

pub async fn decide(
    conn: &mut AnyConnection,
    id: &str,
    d: &Decision<'_>,
) -> StoreResult<Option<Purchase>> {
    Ok(sqlx::query_as(
        "UPDATE purchases SET status = $2, approval_status = $3, decided_at = $4, decided_by = $5, decision_reason = $6,
                service_ids = COALESCE($7, service_ids), updated_at = $4
         WHERE id = $1 AND status = 'pending_approval' RETURNING *",
    )
    .bind(id)
    .bind(d.status)
    .bind(d.approval_status)
    .bind(d.now)
    .bind(d.decided_by)
    .bind(d.reason)
    .bind(d.service_ids)
    .fetch_optional(conn)
    .await?)
}

/// Move a purchase from `from` to `to` (provisioning -> completed / failed).
pub async fn transition(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    failure_reason: Option<&str>,
    now: i64,
) -> StoreResult<Option<Purchase>> {
    Ok(sqlx::query_as(
        "UPDATE purchases SET status = $3, failure_reason = COALESCE($4, failure_reason), updated_at = $5
         WHERE id = $1 AND status = $2 RETURNING *",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(failure_reason)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Pending purchases whose approval window has passed.
pub async fn expired_pending<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    now: i64,
    limit: i64,
) -> StoreResult<Vec<Purchase>> {
    Ok(sqlx::query_as(
        "SELECT * FROM purchases WHERE status = 'pending_approval' AND approval_expires_at <= $1 ORDER BY approval_expires_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// Record the services of a purchase and its status once they exist.
pub async fn set_services(
    conn: &mut AnyConnection,
    id: &str,
    service_ids: &str,
    status: &str,
    now: i64,
) -> StoreResult<Option<Purchase>> {
    Ok(sqlx::query_as("UPDATE purchases SET service_ids = $2, status = $3, updated_at = $4 WHERE id = $1 RETURNING *")
        .bind(id)
        .bind(service_ids)
        .bind(status)
        .bind(now)
        .fetch_optional(conn)
        .await?)
}

/// Whether a domain is in a live purchase (pending approval, provisioning or completed).
pub async fn domain_taken<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    domain: &str,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "SELECT 1 FROM purchases WHERE domain_name = $1 AND status IN ('pending_approval', 'provisioning', 'completed') LIMIT 1",
    )
    .bind(domain)
    .fetch_optional(ex)
    .await?
    .is_some())
}
