//! Accounts: the person or team that owns agents, keys and the wallet.

use sqlx::{Any, Executor, FromRow};

use crate::StoreResult;

/// A stored account. `password_hash` is an argon2id PHC string.
#[derive(Debug, Clone, FromRow)]
pub struct Account {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account: &Account,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO accounts (id, email, name, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&account.id)
    .bind(&account.email)
    .bind(&account.name)
    .bind(&account.password_hash)
    .bind(account.created_at)
    .bind(account.updated_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn get<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    id: &str,
) -> StoreResult<Option<Account>> {
    Ok(sqlx::query_as("SELECT * FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(ex)
        .await?)
}

pub async fn get_by_email<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    email: &str,
) -> StoreResult<Option<Account>> {
    Ok(sqlx::query_as("SELECT * FROM accounts WHERE email = $1")
        .bind(email)
        .fetch_optional(ex)
        .await?)
}

/// Take the account's spend lock for the rest of the transaction. Every spend of an account runs
/// its policy evaluation and reservation under this lock, so concurrent spends are serialized and can
/// never jointly pass a limit (on SQLite `BEGIN IMMEDIATE` already serializes writers; on PostgreSQL
/// this row lock does, across every server process sharing the database).
pub async fn lock_for_spend(conn: &mut sqlx::AnyConnection, id: &str) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE accounts SET updated_at = updated_at WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Create the account's wallet ledger accounts (available and held).
pub async fn create_wallet(conn: &mut sqlx::AnyConnection, id: &str, now: i64) -> StoreResult<()> {
    crate::ledger::ensure_account(
        &mut *conn,
        &crate::ledger::wallet_account(id),
        Some(id),
        "wallet",
        now,
    )
    .await?;
    crate::ledger::ensure_account(
        conn,
        &crate::ledger::held_account(id),
        Some(id),
        "held",
        now,
    )
    .await
}
