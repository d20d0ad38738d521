//! Spends as policies count them: held or captured amounts per account, agent and key, by time window
//! and category. Released holds and refunds stop counting.

use std::collections::BTreeMap;

use sqlx::{Any, AnyConnection, Executor, Row};

use crate::StoreResult;

#[derive(Debug, Clone)]
pub struct NewSpend {
    pub id: String,
    pub account_id: String,
    pub agent_id: Option<String>,
    pub key_id: Option<String>,
    pub purchase_id: Option<String>,
    pub service_id: Option<String>,
    pub category: String,
    pub catalog_item_id: String,
    pub amount_minor: i64,
    pub counts_as_purchase: bool,
    pub status: &'static str,
    pub created_at: i64,
}

pub async fn insert(conn: &mut AnyConnection, s: &NewSpend) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO spends (id, account_id, agent_id, key_id, purchase_id, service_id, category, catalog_item_id,
                             amount_minor, counts_as_purchase, status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
    )
    .bind(&s.id)
    .bind(&s.account_id)
    .bind(&s.agent_id)
    .bind(&s.key_id)
    .bind(&s.purchase_id)
    .bind(&s.service_id)
    .bind(&s.category)
    .bind(&s.catalog_item_id)
    .bind(s.amount_minor)
    .bind(i64::from(s.counts_as_purchase))
    .bind(s.status)
    .bind(s.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Move the spends of a purchase from one status to another (e.g. held -> captured).
pub async fn set_status_for_purchase(
    conn: &mut AnyConnection,
    purchase_id: &str,
    from: &str,
    to: &str,
    now: i64,
) -> StoreResult<u64> {
    let done = sqlx::query(
        "UPDATE spends SET status = $3, updated_at = $4 WHERE purchase_id = $1 AND status = $2",
    )
    .bind(purchase_id)
    .bind(from)
    .bind(to)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Which spends to count.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Account,
    Agent(&'a str),
    Key(&'a str),
}

/// Counted spend of one scope since the start of the day, month and the last hour.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    pub today_minor: i64,
    pub month_minor: i64,
    pub purchases_last_hour: i64,
    pub category_today_minor: BTreeMap<String, i64>,
    pub category_month_minor: BTreeMap<String, i64>,
}

/// Spend of `scope` in `account_id` that still counts (held or captured), from `month_start` on.
pub async fn usage<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    scope: Scope<'_>,
    day_start: i64,
    month_start: i64,
    hour_start: i64,
) -> StoreResult<Usage> {
    let (agent, key) = match scope {
        Scope::Account => (None, None),
        Scope::Agent(a) => (Some(a), None),
        Scope::Key(k) => (None, Some(k)),
    };
    let rows = sqlx::query(
        "SELECT category,
                CAST(COALESCE(SUM(CASE WHEN created_at >= $4 THEN amount_minor ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN created_at >= $5 THEN amount_minor ELSE 0 END), 0) AS BIGINT),
                CAST(COALESCE(SUM(CASE WHEN created_at >= $6 AND counts_as_purchase = 1 THEN 1 ELSE 0 END), 0) AS BIGINT)
         FROM spends
         WHERE account_id = $1 AND ($2 IS NULL OR agent_id = $2) AND ($3 IS NULL OR key_id = $3)
           AND created_at >= $7 AND status IN ('held', 'captured')
         GROUP BY category",
    )
    .bind(account_id)
    .bind(agent)
    .bind(key)
    .bind(day_start)
    .bind(month_start)
    .bind(hour_start)
    .bind(month_start.min(hour_start))
    .fetch_all(ex)
    .await?;
    let mut usage = Usage::default();
    for row in rows {
        let category: String = row.try_get(0)?;
        let today: i64 = row.try_get(1)?;
        let month: i64 = row.try_get(2)?;
        let purchases: i64 = row.try_get(3)?;
        usage.today_minor = usage.today_minor.saturating_add(today);
        usage.month_minor = usage.month_minor.saturating_add(month);
        usage.purchases_last_hour = usage.purchases_last_hour.saturating_add(purchases);
        usage.category_today_minor.insert(category.clone(), today);
        usage.category_month_minor.insert(category, month);
    }
    Ok(usage)
}
