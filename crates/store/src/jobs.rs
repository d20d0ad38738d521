//! The durable jobs queue. A job is claimed with a lease (so a crashed worker's job is taken over once
//! the lease runs out), retried with backoff, and unique per (kind, subject) so work is never queued twice.

use sqlx::{Any, AnyConnection, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub subject_id: String,
    pub status: String,
    pub attempts: i64,
    pub run_at: i64,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Queue a job unless one of the same kind already exists for the subject.
pub async fn enqueue(
    conn: &mut AnyConnection,
    id: &str,
    kind: &str,
    subject_id: &str,
    run_at: i64,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, subject_id, status, attempts, run_at, lease_until, last_error, created_at, updated_at)
         VALUES ($1, $2, $3, 'pending', 0, $4, NULL, NULL, $5, $5) ON CONFLICT (kind, subject_id) DO NOTHING",
    )
    .bind(id)
    .bind(kind)
    .bind(subject_id)
    .bind(run_at)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claim the next runnable job (pending and due, or running with an expired lease). The outer WHERE
/// repeats the condition so that on PostgreSQL a worker that loses the race for the row claims nothing.
pub async fn claim<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    now: i64,
    lease_ms: i64,
) -> StoreResult<Option<Job>> {
    Ok(sqlx::query_as(
        "UPDATE jobs SET status = 'running', lease_until = $2, attempts = attempts + 1, updated_at = $1
         WHERE id = (SELECT id FROM jobs WHERE (status = 'pending' AND run_at <= $1) OR (status = 'running' AND lease_until < $1)
                     ORDER BY run_at LIMIT 1)
           AND ((status = 'pending' AND run_at <= $1) OR (status = 'running' AND lease_until < $1))
         RETURNING *",
    )
    .bind(now)
    .bind(now + lease_ms)
    .fetch_optional(ex)
    .await?)
}

pub async fn complete(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE jobs SET status = 'done', lease_until = NULL, updated_at = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn fail(conn: &mut AnyConnection, id: &str, error: &str, now: i64) -> StoreResult<()> {
    sqlx::query("UPDATE jobs SET status = 'failed', lease_until = NULL, last_error = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(error)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Put a job back for a later attempt.
pub async fn retry_later<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
    error: &str,
    run_at: i64,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE jobs SET status = 'pending', lease_until = NULL, last_error = $2, run_at = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(error)
        .bind(run_at)
        .bind(now)
        .execute(ex)
        .await?;
    Ok(())
}

/// Jobs not finished (pending or running), for tests and metrics.
pub async fn unfinished<'c, E: Executor<'c, Database = Any>>(ex: E) -> StoreResult<Vec<Job>> {
    Ok(
        sqlx::query_as("SELECT * FROM jobs WHERE status IN ('pending', 'running') ORDER BY run_at")
            .fetch_all(ex)
            .await?,
    )
}
