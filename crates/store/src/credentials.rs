//! Credentials: agent API keys and account tokens. Only the keyed hash of a secret is stored.

use sqlx::{Any, Executor, FromRow};

use crate::StoreResult;

pub const KIND_AGENT_KEY: &str = "agent_key";
pub const KIND_ACCOUNT_TOKEN: &str = "account_token";

/// How often `last_used_at` is written at most; a finer value would turn every read into a write.
pub const LAST_USED_GRANULARITY_MS: i64 = 60_000;

#[derive(Debug, Clone, FromRow)]
pub struct Credential {
    pub id: String,
    pub kind: String,
    pub account_id: String,
    pub agent_id: Option<String>,
    pub label: String,
    pub secret_hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A credential with what authentication needs to know about its owner, read in one query.
#[derive(Debug, Clone, FromRow)]
pub struct CredentialForAuth {
    #[sqlx(flatten)]
    pub credential: Credential,
    /// The agent's status for agent keys (`active` / `suspended`); `None` for account tokens.
    pub agent_status: Option<String>,
}

pub async fn insert<'c, E: Executor<'c, Database = Any>>(ex: E, c: &Credential) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO credentials (id, kind, account_id, agent_id, label, secret_hash, created_at, last_used_at,
                                  expires_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&c.id)
    .bind(&c.kind)
    .bind(&c.account_id)
    .bind(&c.agent_id)
    .bind(&c.label)
    .bind(&c.secret_hash)
    .bind(c.created_at)
    .bind(c.last_used_at)
    .bind(c.expires_at)
    .bind(c.revoked_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Read a credential by its key id for authentication (no scope: the secret is the proof).
pub async fn get_for_auth<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
) -> StoreResult<Option<CredentialForAuth>> {
    Ok(sqlx::query_as(
        "SELECT c.*, a.status AS agent_status FROM credentials c LEFT JOIN agents a ON a.id = c.agent_id
         WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(ex)
    .await?)
}

/// Record use, at most once per [`LAST_USED_GRANULARITY_MS`].
pub async fn touch<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query("UPDATE credentials SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(id)
        .bind(now)
        .bind(now - LAST_USED_GRANULARITY_MS)
        .execute(ex)
        .await?;
    Ok(())
}

/// Credentials of one kind in an account, optionally of one agent; newest first.
pub async fn list<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    kind: &str,
    agent_id: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Credential>> {
    Ok(sqlx::query_as(
        "SELECT * FROM credentials WHERE account_id = $1 AND kind = $2 AND ($3 IS NULL OR agent_id = $3)
         AND ($4 IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
    )
    .bind(account_id)
    .bind(kind)
    .bind(agent_id)
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// One credential of this account (and agent, for agent keys).
pub async fn get<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    kind: &str,
    agent_id: Option<&str>,
    id: &str,
) -> StoreResult<Option<Credential>> {
    Ok(sqlx::query_as(
        "SELECT * FROM credentials WHERE account_id = $1 AND kind = $2 AND ($3 IS NULL OR agent_id = $3) AND id = $4",
    )
    .bind(account_id)
    .bind(kind)
    .bind(agent_id)
    .bind(id)
    .fetch_optional(ex)
    .await?)
}

/// Revoke (idempotent: an already revoked credential keeps its first revocation time).
pub async fn revoke<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    kind: &str,
    agent_id: Option<&str>,
    id: &str,
    now: i64,
) -> StoreResult<Option<Credential>> {
    Ok(sqlx::query_as(
        "UPDATE credentials SET revoked_at = COALESCE(revoked_at, $5)
         WHERE account_id = $1 AND kind = $2 AND ($3 IS NULL OR agent_id = $3) AND id = $4 RETURNING *",
    )
    .bind(account_id)
    .bind(kind)
    .bind(agent_id)
    .bind(id)
    .bind(now)
    .fetch_optional(ex)
    .await?)
}
