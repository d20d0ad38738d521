//! Phone numbers: inbound SMS and calls (as delivered by the telephony webhook) with what each cost,
//! and the monthly rentals taken from a number's balance.

use sqlx::{Any, AnyConnection, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct PhoneEvent {
    pub id: String,
    pub account_id: String,
    pub service_id: String,
    /// `sms` or `call`.
    pub kind: String,
    pub provider_event_id: String,
    pub from_number: String,
    pub to_number: String,
    pub body: Option<String>,
    pub direction: String,
    /// `received` (sms), `missed` or `completed` (calls).
    pub status: String,
    pub duration_seconds: i64,
    pub price_micro: i64,
    pub cost_micro: i64,
    pub transaction_id: Option<String>,
    pub created_at: i64,
}

/// Record an event; `false` if this provider event was already recorded for the service (a
/// redelivered webhook), in which case nothing is written.
pub async fn insert_event(conn: &mut AnyConnection, e: &PhoneEvent) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO phone_events (id, account_id, service_id, kind, provider_event_id, from_number, to_number, body,
             direction, status, duration_seconds, price_micro, cost_micro, transaction_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (service_id, provider_event_id) DO NOTHING",
    )
    .bind(&e.id)
    .bind(&e.account_id)
    .bind(&e.service_id)
    .bind(&e.kind)
    .bind(&e.provider_event_id)
    .bind(&e.from_number)
    .bind(&e.to_number)
    .bind(&e.body)
    .bind(&e.direction)
    .bind(&e.status)
    .bind(e.duration_seconds)
    .bind(e.price_micro)
    .bind(e.cost_micro)
    .bind(&e.transaction_id)
    .bind(e.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The event recorded for a provider event id, if any.
pub async fn event_by_provider_id<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    service_id: &str,
    provider_event_id: &str,
) -> StoreResult<Option<PhoneEvent>> {
    Ok(sqlx::query_as(
        "SELECT * FROM phone_events WHERE service_id = $1 AND provider_event_id = $2",
    )
    .bind(service_id)
    .bind(provider_event_id)
    .fetch_optional(ex)
    .await?)
}

/// Which events to list.
#[derive(Debug, Clone, Copy)]
pub struct EventFilter<'a> {
    pub kind: &'a str,
    /// Only this call status (e.g. `missed`).
    pub status: Option<&'a str>,
    /// Only events at or after this time (epoch ms).
    pub since: Option<i64>,
}

/// Events of one service, newest first, before the cursor id.
pub async fn list_events<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    service_id: &str,
    filter: EventFilter<'_>,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<PhoneEvent>> {
    Ok(sqlx::query_as(
        "SELECT * FROM phone_events WHERE service_id = $1 AND kind = $2 AND ($3 IS NULL OR status = $3)
           AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR id < $5)
         ORDER BY id DESC LIMIT $6",
    )
    .bind(service_id)
    .bind(filter.kind)
    .bind(filter.status)
    .bind(filter.since)
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// One event of a service by id.
pub async fn get_event<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    service_id: &str,
    kind: &str,
    id: &str,
) -> StoreResult<Option<PhoneEvent>> {
    Ok(
        sqlx::query_as(
            "SELECT * FROM phone_events WHERE service_id = $1 AND kind = $2 AND id = $3",
        )
        .bind(service_id)
        .bind(kind)
        .bind(id)
        .fetch_optional(ex)
        .await?,
    )
}

/// A monthly rental taken from a number's balance.
#[derive(Debug, Clone)]
pub struct Rental<'a> {
    pub id: &'a str,
    pub account_id: &'a str,
    pub service_id: &'a str,
    /// The renewal date paid for.
    pub period_start: i64,
    pub amount_micro: i64,
    pub transaction_id: &'a str,
    pub created_at: i64,
}

/// Record a rental taken for the period starting at `period_start`; `false` if that period was
/// already paid (nothing written).
pub async fn insert_rental(conn: &mut AnyConnection, r: &Rental<'_>) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO phone_rentals (id, account_id, service_id, period_start, amount_micro, transaction_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (service_id, period_start) DO NOTHING",
    )
    .bind(r.id)
    .bind(r.account_id)
    .bind(r.service_id)
    .bind(r.period_start)
    .bind(r.amount_micro)
    .bind(r.transaction_id)
    .bind(r.created_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Active phone numbers whose rental is due (`renews_at <= now`), oldest due first.
pub async fn rentals_due<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    now: i64,
    limit: i64,
) -> StoreResult<Vec<crate::services::Service>> {
    Ok(sqlx::query_as(
        "SELECT * FROM services WHERE service_type = 'phone_number' AND status = 'active'
           AND renews_at IS NOT NULL AND renews_at <= $1 ORDER BY renews_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// Move a service's renewal date from `from` to `to`; `false` if it was no longer `from`.
pub async fn advance_renewal(
    conn: &mut AnyConnection,
    service_id: &str,
    from: i64,
    to: i64,
    now: i64,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE services SET renews_at = $3, updated_at = $4 WHERE id = $1 AND renews_at = $2",
    )
    .bind(service_id)
    .bind(from)
    .bind(to)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The active or suspended phone number service whose number is `number` (E.164, checked by the
/// caller: it holds no LIKE wildcards). Details are compact JSON written by serde_json.
pub async fn service_by_number(
    conn: &mut AnyConnection,
    number: &str,
) -> StoreResult<Option<crate::services::Service>> {
    let pattern = format!("%\"phoneNumber\":\"{number}\"%");
    let rows: Vec<crate::services::Service> = sqlx::query_as(
        "SELECT * FROM services WHERE service_type = 'phone_number' AND status IN ('active', 'suspended')
           AND details LIKE $1 ORDER BY id",
    )
    .bind(pattern)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().find(|s| {
        serde_json::from_str::<serde_json::Value>(&s.details)
            .is_ok_and(|d| d.get("phoneNumber").and_then(|v| v.as_str()) == Some(number))
    }))
}
