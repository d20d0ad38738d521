//! Router credit leases and the batched usage log (see `migrations/*/0007_router_leases.sql`).
//!
//! A lease is a chunk of an `llm_router` service's credits that one server process (its `holder`) moved
//! into `reserved:<svc>`; `amount_micro` is what is still there. Every change is a conditional update
//! on an open lease, so a lease closed by the sweeper (its holder was presumed dead) is never charged
//! or topped up again: the caller then charges the service's balance directly instead.

use sqlx::{Any, AnyConnection, Executor, Row};

use crate::StoreResult;

/// A lease being opened.
#[derive(Debug, Clone)]
pub struct NewLease {
    pub id: String,
    pub account_id: String,
    pub service_id: String,
    pub holder: String,
    pub amount_micro: i64,
    pub created_at: i64,
}

pub async fn open(conn: &mut AnyConnection, l: &NewLease) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO router_leases (id, account_id, service_id, holder, amount_micro, status, created_at, heartbeat_at)
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $6)",
    )
    .bind(&l.id)
    .bind(&l.account_id)
    .bind(&l.service_id)
    .bind(&l.holder)
    .bind(l.amount_micro)
    .bind(l.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Add `amount` to an open lease; false if the lease is closed.
pub async fn top_up(
    conn: &mut AnyConnection,
    id: &str,
    amount: i64,
    now: i64,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "UPDATE router_leases SET amount_micro = amount_micro + $2, heartbeat_at = $3 WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(amount)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// Take `amount` out of an open lease that still holds it; false otherwise (closed, or short).
pub async fn consume(
    conn: &mut AnyConnection,
    id: &str,
    amount: i64,
    now: i64,
) -> StoreResult<bool> {
    Ok(sqlx::query(
        "UPDATE router_leases SET amount_micro = amount_micro - $2, heartbeat_at = $3
         WHERE id = $1 AND status = 'open' AND amount_micro >= $2",
    )
    .bind(id)
    .bind(amount)
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected()
        == 1)
}

/// A lease just closed: what it still held, to return to its service.
#[derive(Debug, Clone)]
pub struct ClosedLease {
    pub account_id: String,
    pub service_id: String,
    pub amount_micro: i64,
}

/// Close an open lease; `None` if it was already closed (closing happens once).
pub async fn close(
    conn: &mut AnyConnection,
    id: &str,
    now: i64,
) -> StoreResult<Option<ClosedLease>> {
    // The first update closes the lease (and on PostgreSQL locks its row) and reports what it holds;
    // the second empties it. Both run in the caller's write transaction.
    let row = sqlx::query(
        "UPDATE router_leases SET status = 'closed', closed_at = $2 WHERE id = $1 AND status = 'open'
         RETURNING account_id, service_id, amount_micro",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    sqlx::query("UPDATE router_leases SET amount_micro = 0 WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(ClosedLease {
        account_id: row.try_get(0)?,
        service_id: row.try_get(1)?,
        amount_micro: row.try_get(2)?,
    }))
}

/// Mark every open lease of `holder` alive.
pub async fn heartbeat<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    holder: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE router_leases SET heartbeat_at = $2 WHERE holder = $1 AND status = 'open'")
        .bind(holder)
        .bind(now)
        .execute(ex)
        .await?;
    Ok(())
}

/// Open leases whose holder last showed life before `before` (presumed dead), oldest first.
pub async fn stale<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    before: i64,
    limit: i64,
) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT id FROM router_leases WHERE status = 'open' AND heartbeat_at < $1 ORDER BY heartbeat_at LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.into_iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// A finished request's usage-log row, written already settled.
#[derive(Debug, Clone)]
pub struct SettledRequest {
    pub id: String,
    pub account_id: String,
    pub service_id: String,
    pub key_id: String,
    pub model: String,
    pub upstream: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub reserved_micro: i64,
    pub cost_micro: i64,
    pub outcome: String,
    pub latency_ms: i64,
    pub streamed: bool,
    pub created_at: i64,
    pub settled_at: i64,
}

/// Columns bound per row by [`insert_settled`].
const COLUMNS: usize = 15;
/// Rows per statement (SQLite allows 32,766 bound parameters).
const ROWS_PER_STATEMENT: usize = 200;

/// Insert finished requests, many rows per statement.
pub async fn insert_settled(conn: &mut AnyConnection, rows: &[SettledRequest]) -> StoreResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO router_requests (id, account_id, service_id, key_id, model, upstream, prompt_tokens,
                 completion_tokens, reserved_micro, cost_micro, outcome, latency_ms, streamed, created_at,
                 settled_at, status) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push('(');
            for c in 0..COLUMNS {
                sql.push_str(&format!("${},", i * COLUMNS + c + 1));
            }
            sql.push_str("'settled')");
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            q = q
                .bind(&r.id)
                .bind(&r.account_id)
                .bind(&r.service_id)
                .bind(&r.key_id)
                .bind(&r.model)
                .bind(&r.upstream)
                .bind(r.prompt_tokens)
                .bind(r.completion_tokens)
                .bind(r.reserved_micro)
                .bind(r.cost_micro)
                .bind(&r.outcome)
                .bind(r.latency_ms)
                .bind(i64::from(r.streamed))
                .bind(r.created_at)
                .bind(r.settled_at);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
