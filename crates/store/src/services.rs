//! Services: what a purchase produced (a domain, a server, a number, storage, router credits).

use sqlx::{Any, AnyConnection, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct Service {
    pub id: String,
    pub account_id: String,
    pub agent_id: Option<String>,
    pub purchase_id: String,
    pub catalog_item_id: String,
    pub service_type: String,
    pub status: String,
    pub display_name: String,
    pub configuration: String,
    pub capabilities: String,
    /// JSON object, type specific.
    pub details: String,
    pub provider_ref: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub renews_at: Option<i64>,
    pub expires_at: Option<i64>,
}

pub async fn insert(conn: &mut AnyConnection, s: &Service) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO services (id, account_id, agent_id, purchase_id, catalog_item_id, service_type, status, display_name,
             configuration, capabilities, details, provider_ref, created_at, updated_at, renews_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(&s.id)
    .bind(&s.account_id)
    .bind(&s.agent_id)
    .bind(&s.purchase_id)
    .bind(&s.catalog_item_id)
    .bind(&s.service_type)
    .bind(&s.status)
    .bind(&s.display_name)
    .bind(&s.configuration)
    .bind(&s.capabilities)
    .bind(&s.details)
    .bind(&s.provider_ref)
    .bind(s.created_at)
    .bind(s.updated_at)
    .bind(s.renews_at)
    .bind(s.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A service of this account; with `agent_id`, only that agent's.
pub async fn get<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    agent_id: Option<&str>,
    id: &str,
) -> StoreResult<Option<Service>> {
    Ok(sqlx::query_as("SELECT * FROM services WHERE account_id = $1 AND ($2 IS NULL OR agent_id = $2) AND id = $3")
        .bind(account_id)
        .bind(agent_id)
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

pub async fn get_by_id<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
) -> StoreResult<Option<Service>> {
    Ok(sqlx::query_as("SELECT * FROM services WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

pub async fn for_purchase<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    purchase_id: &str,
) -> StoreResult<Vec<Service>> {
    Ok(
        sqlx::query_as("SELECT * FROM services WHERE purchase_id = $1 ORDER BY id")
            .bind(purchase_id)
            .fetch_all(ex)
            .await?,
    )
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub agent_id: Option<&'a str>,
    pub service_type: Option<&'a str>,
    pub status: Option<&'a str>,
}

pub async fn list<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    filter: &ListFilter<'_>,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Service>> {
    Ok(sqlx::query_as(
        "SELECT * FROM services WHERE account_id = $1 AND ($2 IS NULL OR agent_id = $2) AND ($3 IS NULL OR service_type = $3)
           AND ($4 IS NULL OR status = $4) AND ($5 IS NULL OR id < $5)
         ORDER BY id DESC LIMIT $6",
    )
    .bind(account_id)
    .bind(filter.agent_id)
    .bind(filter.service_type)
    .bind(filter.status)
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// Record the provider's result: `provisioning` -> `active` with details. `None` if not provisioning.
pub async fn activate(
    conn: &mut AnyConnection,
    id: &str,
    details: &str,
    provider_ref: &str,
    now: i64,
) -> StoreResult<Option<Service>> {
    Ok(sqlx::query_as(
        "UPDATE services SET status = 'active', details = $2, provider_ref = $3, updated_at = $4
         WHERE id = $1 AND status = 'provisioning' RETURNING *",
    )
    .bind(id)
    .bind(details)
    .bind(provider_ref)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Change status from `from` to `to`; `None` if the service was not in `from`.
pub async fn transition(
    conn: &mut AnyConnection,
    id: &str,
    from: &str,
    to: &str,
    now: i64,
) -> StoreResult<Option<Service>> {
    Ok(sqlx::query_as("UPDATE services SET status = $3, updated_at = $4 WHERE id = $1 AND status = $2 RETURNING *")
        .bind(id)
        .bind(from)
        .bind(to)
        .bind(now)
        .fetch_optional(conn)
        .await?)
}

/// Replace the details document (management actions, balance changes).
pub async fn set_details(
    conn: &mut AnyConnection,
    id: &str,
    details: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE services SET details = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(details)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
