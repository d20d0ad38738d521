//! Paid changes to an existing service outside a purchase (phone top-ups, volume expansions). Each
//! has a `spends` row with the same id (so policies count it) and the ledger transaction that paid it.

use sqlx::{AnyConnection, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct ServicePayment {
    pub id: String,
    pub account_id: String,
    pub agent_id: Option<String>,
    pub service_id: String,
    /// `phone_topup` or `volume_expand`.
    pub kind: String,
    pub amount_minor: i64,
    /// `captured` or `refunded`.
    pub status: String,
    pub transaction_id: String,
    pub refund_transaction_id: Option<String>,
    /// JSON: what was bought (e.g. the capacities before and after an expansion).
    pub detail: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert(conn: &mut AnyConnection, p: &ServicePayment) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO service_payments (id, account_id, agent_id, service_id, kind, amount_minor, status, transaction_id,
             refund_transaction_id, detail, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&p.id)
    .bind(&p.account_id)
    .bind(&p.agent_id)
    .bind(&p.service_id)
    .bind(&p.kind)
    .bind(p.amount_minor)
    .bind(&p.status)
    .bind(&p.transaction_id)
    .bind(&p.refund_transaction_id)
    .bind(&p.detail)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Mark a captured payment refunded (and its spend); `false` if it was not captured.
pub async fn mark_refunded(
    conn: &mut AnyConnection,
    id: &str,
    refund_transaction_id: &str,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE service_payments SET status = 'refunded', refund_transaction_id = $2, updated_at = $3
         WHERE id = $1 AND status = 'captured'",
    )
    .bind(id)
    .bind(refund_transaction_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("UPDATE spends SET status = 'refunded', updated_at = $2 WHERE id = $1 AND status = 'captured'")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(true)
}
