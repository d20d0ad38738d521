//! Whole-database consistency checks for money: the ledger's own invariants ([`crate::ledger::verify`])
//! plus their link to purchases: every hold resolved exactly once, each purchase's net effect on the
//! customer's money matching its status, held balances equal to pending purchases, and spend records
//! in step. Used by the test suites after every scenario (and usable by operators).

use std::collections::BTreeMap;

use sqlx::{Any, Executor, Row};

use crate::StoreResult;

/// Every violation found; empty when the books are sound.
pub async fn check<'c, E: Executor<'c, Database = Any> + Copy>(ex: E) -> StoreResult<Vec<String>> {
    let mut problems = crate::ledger::verify(ex).await?;
    let purchases = sqlx::query(
        "SELECT id, account_id, status, approval_status, total_price_minor FROM purchases",
    )
    .fetch_all(ex)
    .await?;
    // Per purchase: counts of each transaction type and the net effect on wallet + held.
    let rows = sqlx::query(
        "SELECT t.purchase_id, t.type, COUNT(DISTINCT t.id),
                CAST(COALESCE(SUM(CASE WHEN a.kind IN ('wallet', 'held') THEN e.amount_micro ELSE 0 END), 0) AS BIGINT)
         FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id
         JOIN ledger_accounts a ON a.id = e.ledger_account_id
         WHERE t.purchase_id IS NOT NULL GROUP BY t.purchase_id, t.type",
    )
    .fetch_all(ex)
    .await?;
    let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut net: BTreeMap<String, i64> = BTreeMap::new();
    for row in rows {
        let purchase: String = row.try_get(0)?;
        let kind: String = row.try_get(1)?;
        counts.insert((purchase.clone(), kind), row.try_get(2)?);
        *net.entry(purchase).or_default() += row.try_get::<i64, _>(3)?;
    }
    let spends = sqlx::query(
        "SELECT purchase_id, status, amount_minor FROM spends WHERE purchase_id IS NOT NULL",
    )
    .fetch_all(ex)
    .await?;
    let mut spend_status: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in spends {
        spend_status
            .entry(row.try_get(0)?)
            .or_default()
            .push(row.try_get(1)?);
    }
    let mut pending_by_account: BTreeMap<String, i64> = BTreeMap::new();
    for row in purchases {
        let id: String = row.try_get(0)?;
        let account: String = row.try_get(1)?;
        let status: String = row.try_get(2)?;
        let approval: String = row.try_get(3)?;
        let total: i64 = row.try_get(4)?;
        let count = |kind: &str| {
            counts
                .get(&(id.clone(), kind.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        let (holds, releases, captures, refunds) = (
            count("hold"),
            count("hold_release"),
            count("capture"),
            count("refund"),
        );
        let expected: (i64, i64, i64, i64) = match (status.as_str(), approval.as_str()) {
            ("pending_approval", _) => (1, 0, 0, 0),
            ("rejected" | "expired" | "canceled", _) => (1, 1, 0, 0),
            ("failed", "approved") => (1, 0, 1, 1),
            ("failed", _) => (0, 0, 1, 1),
            (_, "approved") => (1, 0, 1, 0),
            _ => (0, 0, 1, 0),
        };
        if (holds, releases, captures, refunds) != expected {
            problems.push(format!(
                "purchase {id} ({status}) has holds/releases/captures/refunds {:?}, expected {expected:?}",
                (holds, releases, captures, refunds)
            ));
        }
        let net_micro = net.get(&id).copied().unwrap_or(0);
        let expected_net = match status.as_str() {
            "provisioning" | "completed" => -total * 10_000,
            _ => 0,
        };
        if net_micro != expected_net {
            problems.push(format!("purchase {id} ({status}) moved {net_micro} micro-USD of customer money, expected {expected_net}"));
        }
        if status == "pending_approval" {
            *pending_by_account.entry(account.clone()).or_default() += total * 10_000;
        }
        let expected_spend = match status.as_str() {
            "pending_approval" => "held",
            "provisioning" | "completed" => "captured",
            "failed" => "refunded",
            _ => "released",
        };
        match spend_status.get(&id).map(Vec::as_slice) {
            Some([only]) if only == expected_spend => {}
            other => problems.push(format!("purchase {id} ({status}) has spend records {other:?}, expected one {expected_spend}")),
        }
    }
    let held =
        sqlx::query("SELECT account_id, balance_micro FROM ledger_accounts WHERE kind = 'held'")
            .fetch_all(ex)
            .await?;
    for row in held {
        let account: String = row.try_get(0)?;
        let balance: i64 = row.try_get(1)?;
        let expected = pending_by_account.get(&account).copied().unwrap_or(0);
        if balance != expected {
            problems.push(format!("account {account} holds {balance} micro-USD but its pending purchases total {expected}"));
        }
    }
    Ok(problems)
}
