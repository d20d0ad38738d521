//! Agents: the AI actors of an account. Every lookup is scoped by the owning account.

use sqlx::{Any, Executor, FromRow};

use crate::StoreResult;

#[derive(Debug, Clone, FromRow)]
pub struct Agent {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert<'c, E: Executor<'c, Database = Any>>(ex: E, agent: &Agent) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO agents (id, account_id, name, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&agent.id)
    .bind(&agent.account_id)
    .bind(&agent.name)
    .bind(&agent.status)
    .bind(agent.created_at)
    .bind(agent.updated_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn get<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    id: &str,
) -> StoreResult<Option<Agent>> {
    Ok(
        sqlx::query_as("SELECT * FROM agents WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .fetch_optional(ex)
            .await?,
    )
}

/// Newest first; `before` is the last id of the previous page. Fetches `limit` rows.
pub async fn list<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Agent>> {
    Ok(sqlx::query_as(
        "SELECT * FROM agents WHERE account_id = $1 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(account_id)
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// Change the name and/or status; returns the updated agent, or `None` if it is not this account's.
pub async fn update<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    id: &str,
    name: Option<&str>,
    status: Option<&str>,
    now: i64,
) -> StoreResult<Option<Agent>> {
    Ok(sqlx::query_as(
        "UPDATE agents SET name = COALESCE($3, name), status = COALESCE($4, status), updated_at = $5
         WHERE account_id = $1 AND id = $2 RETURNING *",
    )
    .bind(account_id)
    .bind(id)
    .bind(name)
    .bind(status)
    .bind(now)
    .fetch_optional(ex)
    .await?)
}
