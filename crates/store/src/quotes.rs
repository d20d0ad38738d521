//! Quotes: priced, validated offers that an actor can purchase once before they expire.

use sqlx::{Any, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct Quote {
    pub id: String,
    pub account_id: String,
    /// The agent that asked; `None` when the account itself is the actor (dashboard checkout).
    pub agent_id: Option<String>,
    pub catalog_item_id: String,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub total_price_minor: i64,
    pub currency: String,
    pub display_name: String,
    /// JSON: the normalized configuration.
    pub configuration: String,
    /// JSON: `{"lines": [...]}`.
    pub quote_details: String,
    /// JSON array of capability strings.
    pub capabilities: String,
    pub domain_name: Option<String>,
    /// `open` or `used`; `expired` is derived from `expires_at`.
    pub status: String,
    pub expires_at: i64,
    pub created_at: i64,
    pub used_at: Option<i64>,
}

pub async fn insert<'c, E: Executor<'c, Database = Any>>(ex: E, q: &Quote) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO quotes (id, account_id, agent_id, catalog_item_id, quantity, unit_price_minor, total_price_minor,
                             currency, display_name, configuration, quote_details, capabilities, domain_name, status,
                             expires_at, created_at, used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&q.id)
    .bind(&q.account_id)
    .bind(&q.agent_id)
    .bind(&q.catalog_item_id)
    .bind(q.quantity)
    .bind(q.unit_price_minor)
    .bind(q.total_price_minor)
    .bind(&q.currency)
    .bind(&q.display_name)
    .bind(&q.configuration)
    .bind(&q.quote_details)
    .bind(&q.capabilities)
    .bind(&q.domain_name)
    .bind(&q.status)
    .bind(q.expires_at)
    .bind(q.created_at)
    .bind(q.used_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// A quote of this account; with `agent_id`, only that agent's.
pub async fn get<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    agent_id: Option<&str>,
    id: &str,
) -> StoreResult<Option<Quote>> {
    Ok(sqlx::query_as(
        "SELECT * FROM quotes WHERE account_id = $1 AND ($2 IS NULL OR agent_id = $2) AND id = $3",
    )
    .bind(account_id)
    .bind(agent_id)
    .bind(id)
    .fetch_optional(ex)
    .await?)
}

/// Mark an open, unexpired quote used. `false` if it was used or expired meanwhile.
pub async fn mark_used(conn: &mut sqlx::AnyConnection, id: &str, now: i64) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE quotes SET status = 'used', used_at = $2 WHERE id = $1 AND status = 'open' AND expires_at > $2")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
