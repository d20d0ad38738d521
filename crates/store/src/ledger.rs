//! The double-entry ledger. Money moves only through [`post`]: a balanced set of postings applied with
//! atomic conditional updates (a customer balance can never go below zero, even under concurrency),
//! recorded as an append-only transaction with its entries. Amounts are micro-dollars.

use sqlx::{Any, AnyConnection, Executor, FromRow, Row};

use crate::{StoreError, StoreResult};

pub const REVENUE: &str = "revenue";
pub const SANDBOX_FUNDING: &str = "funding:sandbox";

pub fn wallet_account(account_id: &str) -> String {
    format!("wallet:{account_id}")
}

pub fn held_account(account_id: &str) -> String {
    format!("held:{account_id}")
}

pub fn service_account(service_id: &str) -> String {
    format!("service:{service_id}")
}

/// A transaction to post. Postings must sum to zero.
#[derive(Debug, Clone)]
pub struct NewTransaction {
    pub id: String,
    pub account_id: String,
    pub kind: &'static str,
    pub purchase_id: Option<String>,
    pub service_id: Option<String>,
    pub agent_id: Option<String>,
    pub description: String,
    /// (ledger account id, signed micro-dollars).
    pub postings: Vec<(String, i64)>,
    pub created_at: i64,
}

/// Why a posting was refused.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// A customer balance would go below zero; nothing was written.
    #[error("insufficient funds in {0}")]
    InsufficientFunds(String),
    #[error("postings do not balance")]
    Unbalanced,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for PostError {
    fn from(err: sqlx::Error) -> Self {
        Self::Store(err.into())
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct LedgerTransaction {
    pub id: String,
    pub account_id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub purchase_id: Option<String>,
    pub service_id: Option<String>,
    pub agent_id: Option<String>,
    pub description: String,
    pub available_change_micro: i64,
    pub held_change_micro: i64,
    pub available_after_micro: i64,
    pub held_after_micro: i64,
    pub created_at: i64,
}

/// Create a ledger account if it does not exist.
pub async fn ensure_account(
    conn: &mut AnyConnection,
    id: &str,
    account_id: Option<&str>,
    kind: &str,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO ledger_accounts (id, account_id, kind, balance_micro, updated_at) VALUES ($1, $2, $3, 0, $4)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(account_id)
    .bind(kind)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Post a balanced transaction inside the caller's database transaction.
pub async fn post(
    conn: &mut AnyConnection,
    txn: &NewTransaction,
) -> Result<LedgerTransaction, PostError> {
    let sum: i128 = txn
        .postings
        .iter()
        .map(|(_, amount)| i128::from(*amount))
        .sum();
    if sum != 0 || txn.postings.iter().any(|(_, amount)| *amount == 0) {
        return Err(PostError::Unbalanced);
    }
    // A fixed order keeps concurrent transactions from locking rows in opposite orders (deadlocks).
    let mut postings = txn.postings.clone();
    postings.sort_by(|a, b| a.0.cmp(&b.0));
    let mut after = Vec::with_capacity(postings.len());
    for (ledger_account, amount) in &postings {
        let row = sqlx::query(
            "UPDATE ledger_accounts SET balance_micro = balance_micro + $1, updated_at = $3
             WHERE id = $2 AND (balance_micro + $1 >= 0 OR kind IN ('revenue', 'funding_source'))
             RETURNING balance_micro",
        )
        .bind(amount)
        .bind(ledger_account)
        .bind(txn.created_at)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            Some(row) => after.push(row.try_get::<i64, _>(0)?),
            None => {
                let exists = sqlx::query("SELECT 1 FROM ledger_accounts WHERE id = $1")
                    .bind(ledger_account)
                    .fetch_optional(&mut *conn)
                    .await?
                    .is_some();
                return Err(if exists {
                    PostError::InsufficientFunds(ledger_account.clone())
                } else {
                    PostError::Store(StoreError::Corrupt(format!(
                        "ledger account {ledger_account} does not exist"
                    )))
                });
            }
        }
    }
    let wallet = wallet_account(&txn.account_id);
    let held = held_account(&txn.account_id);
    let change = |id: &str| {
        postings
            .iter()
            .filter(|(a, _)| a == id)
            .map(|(_, v)| *v)
            .sum::<i64>()
    };
    let (available_after, held_after) = {
        let mut available = None;
        let mut held_balance = None;
        for ((id, _), balance) in postings.iter().zip(&after) {
            if *id == wallet {
                available = Some(*balance);
            } else if *id == held {
                held_balance = Some(*balance);
            }
        }
        let available = match available {
            Some(v) => v,
            None => balance(&mut *conn, &wallet).await?,
        };
        let held_balance = match held_balance {
            Some(v) => v,
            None => balance(&mut *conn, &held).await?,
        };
        (available, held_balance)
    };
    let record = LedgerTransaction {
        id: txn.id.clone(),
        account_id: txn.account_id.clone(),
        kind: txn.kind.to_owned(),
        purchase_id: txn.purchase_id.clone(),
        service_id: txn.service_id.clone(),
        agent_id: txn.agent_id.clone(),
        description: txn.description.clone(),
        available_change_micro: change(&wallet),
        held_change_micro: change(&held),
        available_after_micro: available_after,
        held_after_micro: held_after,
        created_at: txn.created_at,
    };
    sqlx::query(
        "INSERT INTO ledger_transactions (id, account_id, type, purchase_id, service_id, agent_id, description,
             available_change_micro, held_change_micro, available_after_micro, held_after_micro, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&record.id)
    .bind(&record.account_id)
    .bind(&record.kind)
    .bind(&record.purchase_id)
    .bind(&record.service_id)
    .bind(&record.agent_id)
    .bind(&record.description)
    .bind(record.available_change_micro)
    .bind(record.held_change_micro)
    .bind(record.available_after_micro)
    .bind(record.held_after_micro)
    .bind(record.created_at)
    .execute(&mut *conn)
    .await?;
    for ((ledger_account, amount), balance_after) in postings.iter().zip(&after) {
        sqlx::query(
            "INSERT INTO ledger_entries (transaction_id, ledger_account_id, amount_micro, balance_after_micro, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&record.id)
        .bind(ledger_account)
        .bind(amount)
        .bind(balance_after)
        .bind(record.created_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(record)
}

/// The balance of one ledger account (0 if it does not exist).
pub async fn balance<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    ledger_account: &str,
) -> StoreResult<i64> {
    let row = sqlx::query("SELECT balance_micro FROM ledger_accounts WHERE id = $1")
        .bind(ledger_account)
        .fetch_optional(ex)
        .await?;
    Ok(match row {
        Some(row) => row.try_get(0)?,
        None => 0,
    })
}

/// Available and held balances of an account's wallet, and when it last changed.
#[derive(Debug, Clone, Copy)]
pub struct WalletBalances {
    pub available_micro: i64,
    pub held_micro: i64,
    pub updated_at: i64,
}

pub async fn wallet<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
) -> StoreResult<WalletBalances> {
    let rows = sqlx::query(
        "SELECT kind, balance_micro, updated_at FROM ledger_accounts WHERE id IN ($1, $2)",
    )
    .bind(wallet_account(account_id))
    .bind(held_account(account_id))
    .fetch_all(ex)
    .await?;
    let mut out = WalletBalances {
        available_micro: 0,
        held_micro: 0,
        updated_at: 0,
    };
    for row in rows {
        let kind: String = row.try_get(0)?;
        let balance: i64 = row.try_get(1)?;
        out.updated_at = out.updated_at.max(row.try_get(2)?);
        if kind == "wallet" {
            out.available_micro = balance;
        } else {
            out.held_micro = balance;
        }
    }
    Ok(out)
}

/// Wallet-affecting transactions of an account (optionally one agent's), newest first.
pub async fn list_transactions<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    agent_id: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<LedgerTransaction>> {
    Ok(sqlx::query_as(
        "SELECT * FROM ledger_transactions WHERE account_id = $1 AND ($2 IS NULL OR agent_id = $2)
           AND (available_change_micro <> 0 OR held_change_micro <> 0) AND ($3 IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4",
    )
    .bind(account_id)
    .bind(agent_id)
    .bind(before)
    .bind(limit)
    .fetch_all(ex)
    .await?)
}

/// Check the ledger's invariants over the whole database; returns every violation found (empty when
/// sound): each transaction balances, each balance equals the sum of its entries, customer balances
/// are non-negative, and all balances together sum to zero (money is conserved).
pub async fn verify<'c, E: Executor<'c, Database = Any> + Copy>(ex: E) -> StoreResult<Vec<String>> {
    let mut problems = Vec::new();
    let unbalanced = sqlx::query(
        "SELECT transaction_id, SUM(amount_micro) FROM ledger_entries GROUP BY transaction_id HAVING SUM(amount_micro) <> 0",
    )
    .fetch_all(ex)
    .await?;
    for row in unbalanced {
        problems.push(format!(
            "transaction {} does not balance",
            row.try_get::<String, _>(0)?
        ));
    }
    let empty = sqlx::query(
        "SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id WHERE e.transaction_id IS NULL",
    )
    .fetch_all(ex)
    .await?;
    for row in empty {
        problems.push(format!(
            "transaction {} has no entries",
            row.try_get::<String, _>(0)?
        ));
    }
    let drift = sqlx::query(
        "SELECT a.id, a.balance_micro, CAST(COALESCE(SUM(e.amount_micro), 0) AS BIGINT) FROM ledger_accounts a
         LEFT JOIN ledger_entries e ON e.ledger_account_id = a.id GROUP BY a.id, a.balance_micro
         HAVING a.balance_micro <> COALESCE(SUM(e.amount_micro), 0)",
    )
    .fetch_all(ex)
    .await?;
    for row in drift {
        problems.push(format!(
            "ledger account {} has balance {} but its entries sum to {}",
            row.try_get::<String, _>(0)?,
            row.try_get::<i64, _>(1)?,
            row.try_get::<i64, _>(2)?
        ));
    }
    let negative = sqlx::query("SELECT id FROM ledger_accounts WHERE kind IN ('wallet', 'held', 'service_balance') AND balance_micro < 0")
        .fetch_all(ex)
        .await?;
    for row in negative {
        problems.push(format!(
            "customer balance {} is negative",
            row.try_get::<String, _>(0)?
        ));
    }
    let total: i64 =
        sqlx::query("SELECT CAST(COALESCE(SUM(balance_micro), 0) AS BIGINT) FROM ledger_accounts")
            .fetch_one(ex)
            .await?
            .try_get(0)?;
    if total != 0 {
        problems.push(format!(
            "balances sum to {total}, not zero: money was created or destroyed"
        ));
    }
    Ok(problems)
}

/// The entries of a purchase's transactions of one type, as (ledger account, amount).
pub async fn entries_of_purchase(
    conn: &mut AnyConnection,
    purchase_id: &str,
    kind: &str,
) -> StoreResult<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT e.ledger_account_id, e.amount_micro FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
         WHERE t.purchase_id = $1 AND t.type = $2 ORDER BY e.ledger_account_id",
    )
    .bind(purchase_id)
    .bind(kind)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Everything ever credited to a ledger account (the sum of its positive entries).
pub async fn credited_total(conn: &mut AnyConnection, ledger_account: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount_micro), 0) AS BIGINT) FROM ledger_entries WHERE ledger_account_id = $1 AND amount_micro > 0",
    )
    .bind(ledger_account)
    .fetch_one(conn)
    .await?;
    Ok(row.try_get(0)?)
}
