//! LLM router persistence: router keys (only the keyed hash of the secret is stored) and the usage log
//! of chat completion requests, whose `status` goes `reserved` -> `settled` exactly once.

use sqlx::{Any, AnyConnection, Executor, FromRow, Row};

use crate::StoreResult;

/// The ledger account holding a router service's reservations (requests in flight).
pub fn reserved_account(service_id: &str) -> String {
    format!("reserved:{service_id}")
}

#[derive(Debug, Clone, FromRow)]
pub struct RouterKey {
    pub id: String,
    pub account_id: String,
    pub agent_id: Option<String>,
    pub service_id: String,
    pub label: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A router key with what authentication needs about its service and agent, read in one query.
#[derive(Debug, Clone, FromRow)]
pub struct RouterKeyForAuth {
    #[sqlx(flatten)]
    pub key: RouterKey,
    pub service_status: String,
    pub service_type: String,
    pub agent_status: Option<String>,
}

pub async fn insert_key<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    k: &RouterKey,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO router_keys (id, account_id, agent_id, service_id, label, secret_hash, created_at,
                                  last_used_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&k.id)
    .bind(&k.account_id)
    .bind(&k.agent_id)
    .bind(&k.service_id)
    .bind(&k.label)
    .bind(&k.secret_hash)
    .bind(k.created_at)
    .bind(k.last_used_at)
    .bind(k.revoked_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn get_key_for_auth<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
) -> StoreResult<Option<RouterKeyForAuth>> {
    Ok(sqlx::query_as(
        "SELECT k.*, s.status AS service_status, s.service_type AS service_type, a.status AS agent_status
         FROM router_keys k JOIN services s ON s.id = k.service_id LEFT JOIN agents a ON a.id = k.agent_id
         WHERE k.id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await?)
}

/// Record use, at most once per `granularity_ms`.
pub async fn touch_key<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
    now: i64,
    granularity_ms: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE router_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(id)
        .bind(now)
        .bind(now - granularity_ms)
        .execute(ex)
        .await?;
    Ok(())
}

/// Keys of one service, newest first (the caller has already checked it may see the service).
pub async fn list_keys<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    service_id: &str,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<RouterKey>> {
    Ok(sqlx::query_as(
        "SELECT * FROM router_keys WHERE service_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(service_id)
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// Revoke a key of a service; `None` if there is no such key. Revoking twice keeps the first time.
pub async fn revoke_key(
    conn: &mut AnyConnection,
    service_id: &str,
    key_id: &str,
    now: i64,
) -> StoreResult<Option<(RouterKey, bool)>> {
    let changed = sqlx::query(
        "UPDATE router_keys SET revoked_at = $3 WHERE service_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(service_id)
    .bind(key_id)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    let key: Option<RouterKey> =
        sqlx::query_as("SELECT * FROM router_keys WHERE service_id = $1 AND id = $2")
            .bind(service_id)
            .bind(key_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(key.map(|k| (k, changed)))
}

/// A new usage-log row.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub id: String,
    pub account_id: String,
    pub service_id: String,
    pub key_id: String,
    pub model: String,
    pub reserved_micro: i64,
    pub streamed: bool,
    pub created_at: i64,
}

pub async fn insert_request(conn: &mut AnyConnection, r: &NewRequest) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO router_requests (id, account_id, service_id, key_id, model, reserved_micro, status, streamed, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'reserved', $7, $8)",
    )
    .bind(&r.id)
    .bind(&r.account_id)
    .bind(&r.service_id)
    .bind(&r.key_id)
    .bind(&r.model)
    .bind(r.reserved_micro)
    .bind(i64::from(r.streamed))
    .bind(r.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The outcome of a request, written when it is settled.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub upstream: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micro: i64,
    pub outcome: String,
    pub latency_ms: i64,
    pub settled_at: i64,
}

/// Mark a reserved request settled. Returns its reservation, or `None` if it was already settled
/// (by the request itself or by the sweeper): the conditional update makes settlement happen once.
pub async fn mark_settled(
    conn: &mut AnyConnection,
    id: &str,
    s: &Settlement,
) -> StoreResult<Option<(String, String, i64)>> {
    let row = sqlx::query(
        "UPDATE router_requests SET status = 'settled', upstream = $2, prompt_tokens = $3, completion_tokens = $4,
             cost_micro = $5, outcome = $6, latency_ms = $7, settled_at = $8
         WHERE id = $1 AND status = 'reserved'
         RETURNING account_id, service_id, reserved_micro",
    )
    .bind(id)
    .bind(&s.upstream)
    .bind(s.prompt_tokens)
    .bind(s.completion_tokens)
    .bind(s.cost_micro)
    .bind(&s.outcome)
    .bind(s.latency_ms)
    .bind(s.settled_at)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))),
        None => Ok(None),
    }
}

/// Reserved requests created before `before` (left by a crash), oldest first.
pub async fn stale_reserved<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    before: i64,
    limit: i64,
) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT id FROM router_requests WHERE status = 'reserved' AND created_at < $1 ORDER BY created_at LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?;
    rows.into_iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// One line of a usage summary: requests, tokens and cost grouped by `key` (a model or key id;
/// empty for the totals).
#[derive(Debug, Clone, Default)]
pub struct UsageLine {
    pub key: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micro: i64,
}

/// Usage of a service since `since`, grouped by `group` (`model`, `key_id`, or `''` for totals).
pub async fn usage<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    service_id: &str,
    since: i64,
    group: UsageGroup,
) -> StoreResult<Vec<UsageLine>> {
    // Totals have no GROUP BY (PostgreSQL refuses a constant there).
    let (column, grouping) = match group {
        UsageGroup::Total => ("CAST('' AS TEXT)", ""),
        UsageGroup::Model => ("model", "GROUP BY model ORDER BY model"),
        UsageGroup::Key => ("key_id", "GROUP BY key_id ORDER BY key_id"),
    };
    let sql = format!(
        "SELECT {column}, COUNT(*), CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT),
                CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(cost_micro), 0) AS BIGINT)
         FROM router_requests WHERE service_id = $1 AND created_at >= $2 {grouping}"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(service_id)
        .bind(since)
        .fetch_all(ex)
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(UsageLine {
                key: r.try_get(0)?,
                requests: r.try_get(1)?,
                prompt_tokens: r.try_get(2)?,
                completion_tokens: r.try_get(3)?,
                cost_micro: r.try_get(4)?,
            })
        })
        .collect()
}

/// How [`usage`] groups its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGroup {
    Total,
    Model,
    Key,
}

/// Credits ever bought for a service: every credit to `service:<svc>` except usage transactions
/// (which return unused reservations, not new money).
pub async fn credits_purchased(conn: &mut AnyConnection, service_id: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(e.amount_micro), 0) AS BIGINT) FROM ledger_entries e
         JOIN ledger_transactions t ON t.id = e.transaction_id
         WHERE e.ledger_account_id = $1 AND e.amount_micro > 0 AND t.type <> 'usage'",
    )
    .bind(crate::ledger::service_account(service_id))
    .fetch_one(conn)
    .await?;
    Ok(row.try_get(0)?)
}

/// The reservation and service of a request that is still `reserved` (`None` once settled or if
/// unknown).
pub async fn reserved_of_open(
    conn: &mut AnyConnection,
    id: &str,
) -> StoreResult<Option<(i64, String)>> {
    let row = sqlx::query(
        "SELECT reserved_micro, service_id FROM router_requests WHERE id = $1 AND status = 'reserved'",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
        None => Ok(None),
    }
}
