//! Metering: reserve the worst case before the upstream call, settle the actual cost after it, exactly
//! once, and release reservations a crash left behind.
//!
//! Money moves only through ledger transactions of type `usage` (no purchase id):
//! - reserve: `service:<svc>` -> `reserved:<svc>` for the worst-case cost. The ledger's conditional
//!   update refuses it when the balance is short, so no interleaving of requests can overdraw.
//! - settle: `reserved:<svc>` -> `revenue` (actual cost) and -> `service:<svc>` (the rest), in the same
//!   database transaction as the conditional `reserved -> settled` update of the request's log row;
//!   a second settlement (the request racing the sweeper) finds the row settled and moves nothing.

use std::time::Duration;

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::time::now_ms;
use agent_store_store::ledger::{self, NewTransaction, PostError};
use agent_store_store::router::{self as store, NewRequest, Settlement};
use agent_store_store::{AnyConnection, commit};

use super::RouterPrincipal;
use crate::{App, AppError, AppResult};

/// Why a reservation was refused.
#[derive(Debug)]
pub enum ReserveError {
    /// The service's credits do not cover the worst case.
    Insufficient {
        available: i64,
        required: i64,
    },
    Other(AppError),
}

impl From<AppError> for ReserveError {
    fn from(e: AppError) -> Self {
        Self::Other(e)
    }
}

impl From<agent_store_store::StoreError> for ReserveError {
    fn from(e: agent_store_store::StoreError) -> Self {
        Self::Other(e.into())
    }
}

async fn post_usage(
    conn: &mut AnyConnection,
    p_account: &str,
    service_id: &str,
    agent_id: Option<String>,
    description: String,
    postings: Vec<(String, i64)>,
    now: i64,
) -> Result<(), PostError> {
    let txn = NewTransaction {
        id: new_id(IdKind::Transaction),
        account_id: p_account.to_owned(),
        kind: "usage",
        purchase_id: None,
        service_id: Some(service_id.to_owned()),
        agent_id,
        description,
        postings,
        created_at: now,
    };
    ledger::post(conn, &txn).await.map(|_| ())
}

impl App {
    /// Log a request and reserve `amount` micro-USD of the service's credits for it, atomically.
    /// Returns the request id.
    pub(crate) async fn reserve(
        &self,
        p: &RouterPrincipal,
        model: &str,
        amount: i64,
        streamed: bool,
    ) -> Result<String, ReserveError> {
        let now = now_ms();
        let id = new_id(IdKind::Transaction).replacen("txn_", "req_", 1);
        let mut tx = self.store().begin_write().await?;
        let reserved = store::reserved_account(&p.service_id);
        ledger::ensure_account(
            &mut tx,
            &reserved,
            Some(&p.account_id),
            "service_balance",
            now,
        )
        .await?;
        store::insert_request(
            &mut tx,
            &NewRequest {
                id: id.clone(),
                account_id: p.account_id.clone(),
                service_id: p.service_id.clone(),
                key_id: p.key_id.clone(),
                model: model.to_owned(),
                reserved_micro: amount,
                streamed,
                created_at: now,
            },
        )
        .await?;
        if amount > 0 {
            let postings = vec![
                (ledger::service_account(&p.service_id), -amount),
                (reserved, amount),
            ];
            let description = format!("Router reservation for {id} ({model})");
            match post_usage(
                &mut tx,
                &p.account_id,
                &p.service_id,
                p.agent_id.clone(),
                description,
                postings,
                now,
            )
            .await
            {
                Ok(()) => {}
                Err(PostError::InsufficientFunds(_)) => {
                    // Dropping the transaction rolls back the log row and any partial update.
                    drop(tx);
                    let available = ledger::balance(
                        self.store().pool(),
                        &ledger::service_account(&p.service_id),
                    )
                    .await?;
                    self.log_refused(p, model, streamed, "insufficient_credits")
                        .await;
                    return Err(ReserveError::Insufficient {
                        available,
                        required: amount,
                    });
                }
                Err(PostError::Store(e)) => return Err(e.into()),
                Err(PostError::Unbalanced) => {
                    return Err(AppError::Internal("unbalanced reservation".into()).into());
                }
            }
        }
        commit(tx).await?;
        Ok(id)
    }

    /// Log a request refused before any reservation (best effort: the refusal stands regardless).
    pub(crate) async fn log_refused(
        &self,
        p: &RouterPrincipal,
        model: &str,
        streamed: bool,
        outcome: &str,
    ) {
        let result: AppResult<()> = async {
            let now = now_ms();
            let id = new_id(IdKind::Transaction).replacen("txn_", "req_", 1);
            let mut tx = self.store().begin_write().await?;
            store::insert_request(
                &mut tx,
                &NewRequest {
                    id: id.clone(),
                    account_id: p.account_id.clone(),
                    service_id: p.service_id.clone(),
                    key_id: p.key_id.clone(),
                    model: model.to_owned(),
                    reserved_micro: 0,
                    streamed,
                    created_at: now,
                },
            )
            .await?;
            let settlement = Settlement {
                upstream: None,
                prompt_tokens: 0,
                completion_tokens: 0,
                cost_micro: 0,
                outcome: outcome.to_owned(),
                latency_ms: 0,
                settled_at: now,
            };
            store::mark_settled(&mut tx, &id, &settlement).await?;
            commit(tx).await?;
            Ok(())
        }
        .await;
        if let Err(err) = result {
            tracing::warn!(error = %err, "could not log a refused router request");
        }
    }

    /// Settle a request: charge `settlement.cost_micro` (beyond the reservation only as far as the
    /// balance goes) and release the rest. Retried a few times on database errors; a request that still cannot be settled is
    /// released later by the sweeper. Returns whether this call settled it.
    pub(crate) async fn settle(&self, request_id: &str, settlement: Settlement) -> bool {
        for attempt in 0..5u32 {
            match self.try_settle(request_id, &settlement).await {
                Ok(settled) => return settled,
                Err(err) => {
                    tracing::warn!(request_id, attempt, error = %err, "router settlement failed; retrying");
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        false
    }

    async fn try_settle(&self, request_id: &str, reported: &Settlement) -> AppResult<bool> {
        // The charge may be lowered below; a retry starts again from what was reported.
        let mut s = reported.clone();
        let mut tx = self.store().begin_write().await?;
        let Some((reserved_micro, open_service_id)) =
            store::reserved_of_open(&mut tx, request_id).await?
        else {
            return Ok(false);
        };
        // An upstream can report more tokens than the worst case reserved (a tokenizer that counts
        // more tokens than the request has bytes, or an upstream ignoring max_tokens). The tokens were
        // served, so the excess is charged from the service's balance, but never more than is there:
        // credits that do not exist are never spent, and a shortfall is logged for the operator.
        let mut extra = 0;
        if s.cost_micro > reserved_micro {
            let available =
                ledger::balance(&mut *tx, &ledger::service_account(&open_service_id)).await?;
            extra = (s.cost_micro - reserved_micro).min(available.max(0));
            if s.cost_micro - reserved_micro > extra {
                tracing::warn!(
                    request_id,
                    cost = s.cost_micro,
                    reserved = reserved_micro,
                    charged = reserved_micro + extra,
                    "router usage exceeded its reservation and the remaining balance; the shortfall is not charged"
                );
            }
            s.cost_micro = reserved_micro + extra;
        }
        let Some((account_id, service_id, reserved)) =
            store::mark_settled(&mut tx, request_id, &s).await?
        else {
            return Ok(false);
        };
        if reserved > 0 || extra > 0 {
            let mut postings = Vec::with_capacity(4);
            if reserved > 0 {
                postings.push((store::reserved_account(&service_id), -reserved));
            }
            if extra > 0 {
                // Conditional debit: if another request took the balance meanwhile (PostgreSQL), the
                // post fails and settle() retries with a fresh balance.
                postings.push((ledger::service_account(&service_id), -extra));
            }
            if s.cost_micro > 0 {
                postings.push((ledger::REVENUE.to_owned(), s.cost_micro));
            }
            let released = reserved + extra - s.cost_micro;
            if released > 0 {
                postings.push((ledger::service_account(&service_id), released));
            }
            let agent_id = agent_store_store::services::get_by_id(&mut *tx, &service_id)
                .await?
                .and_then(|svc| svc.agent_id);
            let description = format!(
                "Router usage {request_id}: {} prompt + {} completion tokens ({})",
                s.prompt_tokens, s.completion_tokens, s.outcome
            );
            post_usage(
                &mut tx,
                &account_id,
                &service_id,
                agent_id,
                description,
                postings,
                s.settled_at,
            )
            .await
            .map_err(crate::purchases::post_error)?;
        }
        commit(tx).await?;
        Ok(true)
    }

    /// Release reservations older than `router.sweep_after_seconds`: they were left by a process that
    /// died mid-request. The customer is charged nothing for them (what the upstream produced is
    /// unknown), and the whole reservation returns to the service's balance.
    pub(crate) async fn sweep_router_reservations(&self) -> AppResult<()> {
        let age = i64::try_from(self.config().router.sweep_after_seconds)
            .unwrap_or(i64::MAX / 2000)
            .saturating_mul(1000);
        let now = now_ms();
        for id in store::stale_reserved(self.store().pool(), now - age, 100).await? {
            let settlement = Settlement {
                upstream: None,
                prompt_tokens: 0,
                completion_tokens: 0,
                cost_micro: 0,
                outcome: "swept".to_owned(),
                latency_ms: 0,
                settled_at: now,
            };
            if self.try_settle(&id, &settlement).await? {
                tracing::warn!(request_id = %id, "released a router reservation left by a crash");
            }
        }
        Ok(())
    }
}
