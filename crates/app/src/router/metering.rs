//! Metering with credit leases: the database is off the request's hot path, the customer's money is
//! still never overspent.
//!
//! - Lease: when this process's lease of a service has less free credit than a request's worst case,
//!   one transaction moves a chunk (`router.lease_chunk_micro`, at least what is missing, at most the
//!   balance) from `service:<svc>` to `reserved:<svc>` and records it in `router_leases`. The ledger's
//!   conditional update refuses it when the balance is short, so no interleaving can overdraw.
//! - Reserve and settle: in memory ([`super::leases::LeaseBook`]): the worst case comes out of the
//!   lease's free credit, the actual cost is kept and the rest returns to it.
//! - Flush (every `router.flush_interval_ms`, in a task of its own): one transaction writes the
//!   finished requests' usage rows, takes their cost out of each lease (`reserved:<svc>` -> `revenue`)
//!   and charges any cost beyond a lease from the balance, never below zero.
//! - Release: a lease unused for `router.lease_idle_seconds` (or on shutdown) is closed and what is
//!   left returns to `service:<svc>`. A lease whose holder died (no heartbeat for
//!   `router.lease_stale_seconds`) is closed the same way by any process's worker.
//!
//! A crash loses at most the unflushed usage of the last `flush_interval_ms` (not charged: the
//! customer's money is never taken for usage that was not recorded) and strands the lease's credit
//! until the sweeper returns it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::time::now_ms;
use agent_store_store::ledger::{self, NewTransaction, PostError};
use agent_store_store::router::{self as store, Settlement};
use agent_store_store::router_leases::{self as leases_store, NewLease};
use agent_store_store::{AnyConnection, commit};

use super::RouterPrincipal;
use super::leases::{Finished, LeaseBook, Reservation, ReservationInfo, Take};
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

#[allow(clippy::too_many_arguments)]
async fn post_usage(
    conn: &mut AnyConnection,
    p_account: &str,
    service_id: &str,
    agent_id: Option<String>,
    description: String,
    postings: Vec<(String, i64)>,
    now: i64,
) -> Result<(), PostError> {
    let postings: Vec<(String, i64)> = postings.into_iter().filter(|(_, v)| *v != 0).collect();
    if postings.is_empty() {
        return Ok(());
    }
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

fn request_id() -> String {
    new_id(IdKind::Transaction).replacen("txn_", "req_", 1)
}

/// How a lease top-up ended.
enum TopUp {
    Done,
    Insufficient { available: i64 },
}

impl App {
    fn lease_book(&self) -> &Arc<LeaseBook> {
        &self.router_runtime().leases
    }

    /// Reserve `amount` micro-USD of the service's credits for a request.
    pub(crate) async fn reserve(
        &self,
        p: &RouterPrincipal,
        model: &str,
        amount: i64,
        streamed: bool,
    ) -> Result<Reservation, ReserveError> {
        self.ensure_router_flusher();
        let book = self.lease_book().clone();
        let lease_id = loop {
            let lock = match book.try_take(&p.service_id, amount) {
                Take::Taken(lease_id) => break lease_id,
                Take::Short(lock) => lock,
            };
            let _one_top_up = lock.lock().await;
            // Another request may have topped the lease up while this one waited.
            if let Take::Taken(lease_id) = book.try_take(&p.service_id, amount) {
                break lease_id;
            }
            match self.top_up_lease(p, amount).await? {
                TopUp::Done => {}
                TopUp::Insufficient { available } => {
                    self.log_refused(p, model, streamed, "insufficient_credits");
                    return Err(ReserveError::Insufficient {
                        available,
                        required: amount,
                    });
                }
            }
        };
        Ok(Reservation::new(
            book,
            ReservationInfo {
                principal: p.clone(),
                request_id: request_id(),
                model: model.to_owned(),
                streamed,
                created_at: now_ms(),
                lease_id,
                amount,
            },
        ))
    }

    /// Move enough of the balance into this process's lease to cover `amount`.
    async fn top_up_lease(&self, p: &RouterPrincipal, amount: i64) -> Result<TopUp, ReserveError> {
        let chunk = self.config().router.lease_chunk_micro.max(0);
        // On PostgreSQL another process can take the balance between the read and the debit; the
        // conditional debit then refuses, and the next attempt reads the new balance.
        for _ in 0..5 {
            let (held, free) = self.lease_book().current(&p.service_id);
            let missing = amount - free;
            let now = now_ms();
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
            let balance =
                ledger::balance(&mut *tx, &ledger::service_account(&p.service_id)).await?;
            if balance < missing {
                return Ok(TopUp::Insufficient {
                    available: balance.max(0) + free,
                });
            }
            let take = balance.min(missing.max(chunk));
            let lease_id = match held {
                Some(id) if leases_store::top_up(&mut tx, &id, take, now).await? => id,
                _ => {
                    let id = new_id(IdKind::Transaction).replacen("txn_", "lse_", 1);
                    leases_store::open(
                        &mut tx,
                        &NewLease {
                            id: id.clone(),
                            account_id: p.account_id.clone(),
                            service_id: p.service_id.clone(),
                            holder: self.lease_book().holder.clone(),
                            amount_micro: take,
                            created_at: now,
                        },
                    )
                    .await?;
                    id
                }
            };
            let posted = post_usage(
                &mut tx,
                &p.account_id,
                &p.service_id,
                p.agent_id.clone(),
                format!("Router credit lease {lease_id}: {take} micro-USD set aside for requests"),
                vec![
                    (ledger::service_account(&p.service_id), -take),
                    (reserved, take),
                ],
                now,
            )
            .await;
            match posted {
                Ok(()) => {
                    commit(tx).await?;
                    self.lease_book().credit(&p.service_id, &lease_id, take);
                    return Ok(TopUp::Done);
                }
                Err(PostError::InsufficientFunds(_)) => continue,
                Err(e) => return Err(crate::purchases::post_error(e).into()),
            }
        }
        Err(AppError::Internal("the router lease could not be topped up".into()).into())
    }

    /// Log a request refused before any reservation (written with the next flush).
    pub(crate) fn log_refused(
        &self,
        p: &RouterPrincipal,
        model: &str,
        streamed: bool,
        outcome: &str,
    ) {
        self.ensure_router_flusher();
        let now = now_ms();
        let info = ReservationInfo {
            principal: p.clone(),
            request_id: request_id(),
            model: model.to_owned(),
            streamed,
            created_at: now,
            lease_id: None,
            amount: 0,
        };
        let settlement = Settlement {
            upstream: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_micro: 0,
            outcome: outcome.to_owned(),
            latency_ms: 0,
            settled_at: now,
        };
        Reservation::new(self.lease_book().clone(), info).settle(&settlement);
    }

    /// Start the flusher of this app once (a task holding only a weak reference, so it ends with
    /// the app).
    fn ensure_router_flusher(&self) {
        let book = self.lease_book();
        if book.flusher_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = self.downgrade();
        let every = Duration::from_millis(self.config().router.flush_interval_ms.clamp(1, 1000));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(app) = App::upgrade(&weak) else {
                    break;
                };
                if app.lease_book().stopped.load(Ordering::Acquire) {
                    break;
                }
                if let Err(err) = app.router_tick().await {
                    tracing::warn!(error = %err, "router usage flush failed; retrying");
                }
            }
        });
    }

    /// One flusher pass: write finished requests, then close idle leases.
    async fn router_tick(&self) -> AppResult<()> {
        self.flush_router_usage().await?;
        let idle = Duration::from_secs(self.config().router.lease_idle_seconds);
        self.close_leases(idle).await
    }

    /// Write every finished request of this process now: usage rows and charges, in one transaction.
    /// Reads of usage and balances call this first, so a process always sees its own requests.
    pub async fn flush_router_usage(&self) -> AppResult<()> {
        let book = self.lease_book();
        let _one_flush = book.flush_lock.lock().await;
        let now = now_ms();
        let heartbeat_every = i64::try_from(self.config().router.lease_stale_seconds)
            .unwrap_or(60)
            .saturating_mul(250)
            .max(100);
        let heartbeat = book.has_leases() && book.heartbeat_due(now, heartbeat_every);
        let batch = book.drain();
        if batch.is_empty() && !heartbeat {
            return Ok(());
        }
        match self.write_batch(&batch, heartbeat, now).await {
            Ok(closed) => {
                book.forget(&closed);
                if heartbeat {
                    book.last_heartbeat.store(now, Ordering::Relaxed);
                }
                Ok(())
            }
            Err(err) => {
                book.requeue(batch);
                Err(err)
            }
        }
    }

    /// Returns the leases found closed (by a sweeper) while charging them.
    async fn write_batch(
        &self,
        batch: &[Finished],
        heartbeat: bool,
        now: i64,
    ) -> AppResult<Vec<String>> {
        let mut tx = self.store().begin_write().await?;
        // What each lease owes, then which leases still hold it.
        let mut per_lease: BTreeMap<&str, i64> = BTreeMap::new();
        for f in batch {
            if let Some(lease) = &f.lease_id
                && f.from_lease > 0
            {
                *per_lease.entry(lease).or_default() += f.from_lease;
            }
        }
        let mut closed = Vec::new();
        for (lease, amount) in &per_lease {
            if !leases_store::consume(&mut tx, lease, *amount, now).await? {
                closed.push((*lease).to_owned());
            }
        }
        // Per request: (from the lease, beyond it), with a closed lease's part moved to the balance.
        let mut rows = Vec::with_capacity(batch.len());
        let mut per_service: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        let mut overflow_rows: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        let mut split = Vec::with_capacity(batch.len());
        for (i, f) in batch.iter().enumerate() {
            let lease_ok = f.lease_id.as_ref().is_some_and(|l| !closed.contains(l));
            let (from_lease, overflow) = if lease_ok {
                (f.from_lease, f.overflow)
            } else {
                (0, f.from_lease + f.overflow)
            };
            let entry = per_service.entry(&f.row.service_id).or_default();
            entry.0 += from_lease;
            entry.1 += overflow;
            if overflow > 0 {
                overflow_rows.entry(&f.row.service_id).or_default().push(i);
            }
            split.push((from_lease, overflow));
        }
        // Usage beyond the leases is charged from the balance, never more than is there: credits
        // that do not exist are never spent; the shortfall is taken off the rows (latest first) so
        // the log records what was charged, and it is logged for the operator.
        for (service, (_, overflow)) in per_service.iter_mut() {
            if *overflow == 0 {
                continue;
            }
            let available = ledger::balance(&mut *tx, &ledger::service_account(service))
                .await?
                .max(0);
            let mut shortfall = (*overflow - available).max(0);
            if shortfall > 0 {
                tracing::warn!(
                    service_id = %service,
                    wanted = *overflow,
                    charged = *overflow - shortfall,
                    "router usage exceeded its reservation and the remaining balance; the shortfall is not charged"
                );
                *overflow -= shortfall;
                for &i in overflow_rows.get(service).into_iter().flatten().rev() {
                    let cut = shortfall.min(split[i].1);
                    split[i].1 -= cut;
                    shortfall -= cut;
                }
            }
        }
        for (f, (from_lease, overflow)) in batch.iter().zip(&split) {
            let mut row = f.row.clone();
            row.cost_micro = from_lease + overflow;
            rows.push(row);
        }
        leases_store::insert_settled(&mut tx, &rows).await?;
        for (service, (from_lease, overflow)) in &per_service {
            let Some(first) = batch.iter().find(|f| f.row.service_id == *service) else {
                continue;
            };
            let requests = batch
                .iter()
                .filter(|f| f.row.service_id == *service)
                .count();
            post_usage(
                &mut tx,
                &first.row.account_id,
                service,
                first.agent_id.clone(),
                format!("Router usage: {requests} request(s)"),
                vec![
                    (store::reserved_account(service), -from_lease),
                    (ledger::service_account(service), -overflow),
                    (ledger::REVENUE.to_owned(), from_lease + overflow),
                ],
                now,
            )
            .await
            .map_err(crate::purchases::post_error)?;
        }
        if heartbeat {
            leases_store::heartbeat(&mut *tx, &self.lease_book().holder, now).await?;
        }
        commit(tx).await?;
        Ok(closed)
    }

    /// Close this process's leases unused for `idle` (every lease without requests in flight when
    /// `idle` is zero), returning what they hold to their services.
    async fn close_leases(&self, idle: Duration) -> AppResult<()> {
        let book = self.lease_book();
        let _one_flush = book.flush_lock.lock().await;
        let ids = book.take_idle(idle);
        let mut first_error = None;
        for id in ids {
            if let Err(err) = self.close_lease(&id, "released").await {
                tracing::warn!(lease_id = %id, error = %err, "could not close a router lease; retrying");
                book.close_later(id);
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Close one lease and return what it holds to its service. Closing twice does nothing.
    async fn close_lease(&self, lease_id: &str, why: &str) -> AppResult<bool> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let Some(closed) = leases_store::close(&mut tx, lease_id, now).await? else {
            return Ok(false);
        };
        post_usage(
            &mut tx,
            &closed.account_id,
            &closed.service_id,
            None,
            format!("Router credit lease {lease_id} {why}: unused credit returned"),
            vec![
                (
                    store::reserved_account(&closed.service_id),
                    -closed.amount_micro,
                ),
                (
                    ledger::service_account(&closed.service_id),
                    closed.amount_micro,
                ),
            ],
            now,
        )
        .await
        .map_err(crate::purchases::post_error)?;
        commit(tx).await?;
        Ok(true)
    }

    /// Write every finished request and close every lease without requests in flight: what a
    /// graceful shutdown does, and what tests call before reading the ledger directly.
    pub async fn release_router_leases(&self) -> AppResult<()> {
        self.flush_router_usage().await?;
        self.close_leases(Duration::ZERO).await
    }

    /// Release everything and stop the flusher (graceful shutdown).
    pub async fn stop_router(&self) -> AppResult<()> {
        let result = self.release_router_leases().await;
        self.lease_book().stopped.store(true, Ordering::Release);
        result
    }

    /// Credit of a service that this process's lease holds free (shown as part of the balance).
    pub(crate) fn router_lease_free(&self, service_id: &str) -> i64 {
        self.lease_book().free(service_id)
    }

    /// Return the credit of leases whose holder stopped heart-beating (it crashed), and release
    /// reservations of requests logged before leases existed (databases written by older versions).
    pub(crate) async fn sweep_router_reservations(&self) -> AppResult<()> {
        let now = now_ms();
        let stale_ms = i64::try_from(self.config().router.lease_stale_seconds)
            .unwrap_or(60)
            .saturating_mul(1000);
        for id in leases_store::stale(self.store().pool(), now - stale_ms, 100).await? {
            if self.close_lease(&id, "swept").await? {
                tracing::warn!(lease_id = %id, "returned the credit of a router lease left by a stopped process");
            }
        }
        let age = i64::try_from(self.config().router.sweep_after_seconds)
            .unwrap_or(i64::MAX / 2000)
            .saturating_mul(1000);
        for id in store::stale_reserved(self.store().pool(), now - age, 100).await? {
            self.sweep_legacy_reservation(&id, now).await?;
        }
        Ok(())
    }

    async fn sweep_legacy_reservation(&self, request_id: &str, now: i64) -> AppResult<()> {
        let settlement = Settlement {
            upstream: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cost_micro: 0,
            outcome: "swept".to_owned(),
            latency_ms: 0,
            settled_at: now,
        };
        let mut tx = self.store().begin_write().await?;
        let Some((account_id, service_id, reserved)) =
            store::mark_settled(&mut tx, request_id, &settlement).await?
        else {
            return Ok(());
        };
        post_usage(
            &mut tx,
            &account_id,
            &service_id,
            None,
            format!("Router reservation {request_id} released (swept)"),
            vec![
                (store::reserved_account(&service_id), -reserved),
                (ledger::service_account(&service_id), reserved),
            ],
            now,
        )
        .await
        .map_err(crate::purchases::post_error)?;
        commit(tx).await?;
        tracing::warn!(request_id, "released a router reservation left by a crash");
        Ok(())
    }
}
