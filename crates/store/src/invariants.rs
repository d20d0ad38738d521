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
    problems.extend(check_service_money(ex).await?);
    problems.extend(check_router_money(ex).await?);
    Ok(problems)
}

/// Router credits (issue 8 leases): per `llm_router` service, `reserved:<svc>` holds exactly its open
/// leases plus the reservations of requests still `reserved`, and what its usage put into revenue is
/// exactly the cost its usage log records.
async fn check_router_money<'c, E: Executor<'c, Database = Any> + Copy>(
    ex: E,
) -> StoreResult<Vec<String>> {
    let mut problems = Vec::new();
    let rows = sqlx::query(
        "SELECT s.id,
            (SELECT CAST(COALESCE(SUM(balance_micro), 0) AS BIGINT) FROM ledger_accounts WHERE id = 'reserved:' || s.id),
            (SELECT CAST(COALESCE(SUM(amount_micro), 0) AS BIGINT) FROM router_leases WHERE service_id = s.id AND status = 'open'),
            (SELECT CAST(COALESCE(SUM(reserved_micro), 0) AS BIGINT) FROM router_requests WHERE service_id = s.id AND status = 'reserved'),
            (SELECT CAST(COALESCE(SUM(e.amount_micro), 0) AS BIGINT) FROM ledger_entries e
                JOIN ledger_transactions t ON t.id = e.transaction_id
                WHERE t.service_id = s.id AND t.type = 'usage' AND e.ledger_account_id = 'revenue'),
            (SELECT CAST(COALESCE(SUM(cost_micro), 0) AS BIGINT) FROM router_requests WHERE service_id = s.id AND status = 'settled')
         FROM services s WHERE s.service_type = 'llm_router'",
    )
    .fetch_all(ex)
    .await?;
    for row in rows {
        let id: String = row.try_get(0)?;
        let (reserved, leased, in_flight): (i64, i64, i64) =
            (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let (revenue, logged): (i64, i64) = (row.try_get(4)?, row.try_get(5)?);
        if reserved != leased + in_flight {
            problems.push(format!(
                "router service {id}: reserved:{id} holds {reserved} but open leases hold {leased} and reserved requests {in_flight}"
            ));
        }
        if revenue != logged {
            problems.push(format!(
                "router service {id}: usage charged {revenue} to revenue but its usage log records {logged}"
            ));
        }
    }
    Ok(problems)
}

/// The entries of one ledger transaction as (ledger account, amount), sorted.
async fn entries_of<'c, E: Executor<'c, Database = Any> + Copy>(
    ex: E,
    transaction_id: &str,
) -> StoreResult<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT ledger_account_id, amount_micro FROM ledger_entries WHERE transaction_id = $1 ORDER BY ledger_account_id",
    )
    .bind(transaction_id)
    .fetch_all(ex)
    .await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Money of phone numbers and storage (issue 5): top-ups and expansions paid exactly once with the
/// right postings and counted as spend; every usage debit of a number matches a recorded SMS, call or
/// rental to the micro-dollar, and a charge below the list price only ever emptied the balance.
async fn check_service_money<'c, E: Executor<'c, Database = Any> + Copy>(
    ex: E,
) -> StoreResult<Vec<String>> {
    let mut problems = Vec::new();
    // Spends outside purchases are exactly the service payments, with the same amount and status.
    let orphans = sqlx::query(
        "SELECT s.id, s.status, s.amount_minor, p.id, p.status, p.amount_minor FROM spends s
         LEFT JOIN service_payments p ON p.id = s.id WHERE s.purchase_id IS NULL",
    )
    .fetch_all(ex)
    .await?;
    for row in orphans {
        let id: String = row.try_get(0)?;
        let spend: (String, i64) = (row.try_get(1)?, row.try_get(2)?);
        let payment: (Option<String>, i64) = (
            row.try_get(4)?,
            row.try_get::<Option<i64>, _>(5)?.unwrap_or(-1),
        );
        if row.try_get::<Option<String>, _>(3)?.is_none()
            || Some(spend.0.clone()) != payment.0
            || spend.1 != payment.1
        {
            problems.push(format!(
                "spend {id} {spend:?} does not match a service payment {payment:?}"
            ));
        }
    }
    let payments = sqlx::query(
        "SELECT p.id, p.account_id, p.service_id, p.kind, p.amount_minor, p.status, p.transaction_id, p.refund_transaction_id,
                s.id FROM service_payments p LEFT JOIN spends s ON s.id = p.id",
    )
    .fetch_all(ex)
    .await?;
    let mut paid_transactions = std::collections::BTreeSet::new();
    for row in payments {
        let id: String = row.try_get(0)?;
        let account: String = row.try_get(1)?;
        let service: String = row.try_get(2)?;
        let kind: String = row.try_get(3)?;
        let amount = row.try_get::<i64, _>(4)?.saturating_mul(10_000);
        let status: String = row.try_get(5)?;
        let txn: String = row.try_get(6)?;
        let refund: Option<String> = row.try_get(7)?;
        if row.try_get::<Option<String>, _>(8)?.is_none() {
            problems.push(format!("service payment {id} has no spend record"));
        }
        let target = if kind == "phone_topup" {
            crate::ledger::service_account(&service)
        } else {
            crate::ledger::REVENUE.to_owned()
        };
        let mut expected = vec![
            (crate::ledger::wallet_account(&account), -amount),
            (target, amount),
        ];
        expected.sort();
        let actual = entries_of(ex, &txn).await?;
        if actual != expected {
            problems.push(format!(
                "service payment {id} was posted as {actual:?}, expected {expected:?}"
            ));
        }
        paid_transactions.insert(txn);
        match (status.as_str(), refund) {
            ("captured", None) => {}
            ("refunded", Some(refund)) => {
                let reversed: Vec<(String, i64)> =
                    expected.iter().map(|(a, v)| (a.clone(), -v)).collect();
                let actual = entries_of(ex, &refund).await?;
                if actual != reversed {
                    problems.push(format!("refund of service payment {id} was posted as {actual:?}, expected {reversed:?}"));
                }
                paid_transactions.insert(refund);
            }
            (status, refund) => problems.push(format!(
                "service payment {id} is {status} with refund transaction {refund:?}"
            )),
        }
    }
    // Every top-up transaction (and every transaction of an expansion) belongs to one payment.
    let topups = sqlx::query(
        "SELECT id FROM ledger_transactions WHERE purchase_id IS NULL AND type IN ('service_topup', 'capture', 'refund')",
    )
    .fetch_all(ex)
    .await?;
    for row in topups {
        let id: String = row.try_get(0)?;
        if !paid_transactions.contains(&id) {
            problems.push(format!(
                "ledger transaction {id} pays for no service payment"
            ));
        }
    }
    // Usage of phone numbers: each charge posted exactly as recorded.
    let events = sqlx::query(
        "SELECT id, service_id, price_micro, cost_micro, transaction_id FROM phone_events
         UNION ALL SELECT id, service_id, amount_micro, amount_micro, transaction_id FROM phone_rentals",
    )
    .fetch_all(ex)
    .await?;
    let mut usage_by_service: BTreeMap<String, i64> = BTreeMap::new();
    for row in events {
        let id: String = row.try_get(0)?;
        let service: String = row.try_get(1)?;
        let price: i64 = row.try_get(2)?;
        let cost: i64 = row.try_get(3)?;
        let txn: Option<String> = row.try_get(4)?;
        *usage_by_service.entry(service.clone()).or_default() += cost;
        let account = crate::ledger::service_account(&service);
        match txn {
            None if cost == 0 => {}
            None => problems.push(format!(
                "phone usage {id} costs {cost} but has no transaction"
            )),
            Some(txn) => {
                let mut expected = vec![
                    (account.clone(), -cost),
                    (crate::ledger::REVENUE.to_owned(), cost),
                ];
                expected.sort();
                let actual = entries_of(ex, &txn).await?;
                if actual != expected {
                    problems.push(format!(
                        "phone usage {id} was posted as {actual:?}, expected {expected:?}"
                    ));
                }
                if cost < price {
                    let after: Option<i64> = sqlx::query(
                        "SELECT balance_after_micro FROM ledger_entries WHERE transaction_id = $1 AND ledger_account_id = $2",
                    )
                    .bind(&txn)
                    .bind(&account)
                    .fetch_optional(ex)
                    .await?
                    .map(|r| r.try_get(0))
                    .transpose()?;
                    if after != Some(0) {
                        problems.push(format!("phone usage {id} was charged {cost} of {price} without emptying the balance"));
                    }
                }
            }
        }
    }
    let debits = sqlx::query(
        "SELECT t.service_id, CAST(COALESCE(SUM(e.amount_micro), 0) AS BIGINT) FROM ledger_transactions t
         JOIN ledger_entries e ON e.transaction_id = t.id JOIN services s ON s.id = t.service_id
         WHERE t.type = 'usage' AND s.service_type = 'phone_number' AND e.ledger_account_id = 'service:' || t.service_id
         GROUP BY t.service_id",
    )
    .fetch_all(ex)
    .await?;
    let mut debited: BTreeMap<String, i64> = BTreeMap::new();
    for row in debits {
        debited.insert(row.try_get(0)?, -row.try_get::<i64, _>(1)?);
    }
    for service in usage_by_service
        .keys()
        .chain(debited.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let recorded = usage_by_service.get(service).copied().unwrap_or(0);
        let posted = debited.get(service).copied().unwrap_or(0);
        if recorded != posted {
            problems.push(format!("phone number {service} recorded {recorded} micro-USD of usage but was debited {posted}"));
        }
    }
    Ok(problems)
}
