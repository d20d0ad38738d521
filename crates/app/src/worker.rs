//! The background worker: runs due jobs from the durable queue (provisioning), expires purchases whose
//! approval window has passed, and purges old idempotency records. Several workers (one per server
//! process) can share a database: jobs are claimed with a lease, so each runs once, and a job whose
//! worker died is taken over when its lease runs out.

use std::time::Duration;

use agent_store_core::time::{MINUTE_MS, now_ms};
use agent_store_providers::ProvisionRequest;
use agent_store_store::jobs::{self, Job};
use agent_store_store::{accounts, commit, idempotency, purchases, services, spends};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::audit::{self, Change};
use crate::fulfilment::PROVISION_JOB;
use crate::{App, AppResult};

impl App {
    /// Wake the worker: work was just queued.
    pub fn wake_worker(&self) {
        self.worker_notify().notify_one();
    }

    /// Run the worker until `stop` becomes true. The current job is finished first.
    pub async fn run_worker(self, mut stop: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config().jobs.poll_interval_ms.max(10));
        let mut last_purge = 0;
        loop {
            if *stop.borrow() {
                break;
            }
            if let Err(err) = self.run_due_work(&mut last_purge).await {
                tracing::warn!(error = %err, "worker pass failed; retrying");
            }
            tokio::select! {
                _ = self.worker_notify().notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// One pass: every due job, expiries, and (once a minute) the idempotency purge.
    pub async fn run_due_work(&self, last_purge: &mut i64) -> AppResult<()> {
        let lease = i64::try_from(self.config().jobs.lease_seconds)
            .unwrap_or(30)
            .saturating_mul(1000);
        // Bounded so that one pass never starves the other duties.
        for _ in 0..100 {
            let Some(job) = jobs::claim(self.store().pool(), now_ms(), lease).await? else {
                break;
            };
            self.run_job(job).await?;
        }
        for pending in purchases::expired_pending(self.store().pool(), now_ms(), 100).await? {
            self.expire_purchase(&pending).await?;
        }
        self.sweep_router_reservations().await?;
        self.charge_due_phone_rentals().await?;
        let now = now_ms();
        if now - *last_purge > MINUTE_MS {
            idempotency::purge_expired(self.store().pool(), now).await?;
            *last_purge = now;
        }
        Ok(())
    }

    async fn run_job(&self, job: Job) -> AppResult<()> {
        match job.kind.as_str() {
            PROVISION_JOB => self.provision(job).await,
            crate::servers::SERVER_OPERATION_JOB => self.run_server_operation(job).await,
            other => {
                let mut tx = self.store().begin_write().await?;
                jobs::fail(
                    &mut tx,
                    &job.id,
                    &format!("unknown job kind {other}"),
                    now_ms(),
                )
                .await?;
                commit(tx).await?;
                Ok(())
            }
        }
    }

    /// Provision one service. The provider call runs outside any transaction and is idempotent per
    /// service id, so a retry after a crash never creates a second resource.
    async fn provision(&self, job: Job) -> AppResult<()> {
        let Some(service) = services::get_by_id(self.store().pool(), &job.subject_id).await? else {
            return self.complete_job(&job.id).await;
        };
        let purchase = purchases::get_by_id(self.store().pool(), &service.purchase_id).await?;
        if service.status != "provisioning"
            || purchase.as_ref().is_none_or(|p| p.status != "provisioning")
        {
            return self.complete_job(&job.id).await;
        }
        let request = ProvisionRequest {
            service_id: service.id.clone(),
            catalog_item_id: service.catalog_item_id.clone(),
            configuration: serde_json::from_str(&service.configuration).unwrap_or(Value::Null),
            resources: self
                .catalog()
                .item(&service.catalog_item_id)
                .and_then(|i| i.server_resources()),
            attempt: u32::try_from(job.attempts).unwrap_or(u32::MAX),
        };
        match self
            .providers()
            .provision(&service.service_type, &request)
            .await
        {
            Ok(done) => {
                let now = now_ms();
                let mut tx = self.store().begin_write().await?;
                let details = done.details.to_string();
                if services::activate(&mut tx, &service.id, &details, &done.provider_ref, now)
                    .await?
                    .is_some()
                {
                    let siblings = services::for_purchase(&mut *tx, &service.purchase_id).await?;
                    if siblings.iter().all(|s| s.status == "active") {
                        purchases::transition(
                            &mut tx,
                            &service.purchase_id,
                            "provisioning",
                            "completed",
                            None,
                            now,
                        )
                        .await?;
                    }
                    let change = Change {
                        action: "service.activated",
                        object_type: "service",
                        object_id: &service.id,
                        before: Some("provisioning"),
                        after: Some("active"),
                        details: json!({"providerRef": done.provider_ref}),
                    };
                    audit::record(&mut *tx, &service.account_id, None, &change).await?;
                }
                jobs::complete(&mut tx, &job.id, now).await?;
                commit(tx).await?;
                Ok(())
            }
            Err(err)
                if err.retryable && job.attempts < i64::from(self.config().jobs.max_attempts) =>
            {
                let base = i64::try_from(self.config().jobs.retry_base_ms).unwrap_or(1000);
                let exponent = u32::try_from(job.attempts.clamp(1, 16) - 1).unwrap_or(0);
                let delay = base.saturating_mul(1_i64 << exponent).min(5 * MINUTE_MS);
                tracing::info!(service_id = %service.id, attempt = job.attempts, delay_ms = delay, error = %err, "provisioning will be retried");
                let now = now_ms();
                jobs::retry_later(
                    self.store().pool(),
                    &job.id,
                    &err.to_string(),
                    now + delay,
                    now,
                )
                .await?;
                Ok(())
            }
            Err(err) => {
                self.fail_provisioning(&job, &service.purchase_id, &err.to_string())
                    .await
            }
        }
    }

    async fn complete_job(&self, job_id: &str) -> AppResult<()> {
        let mut tx = self.store().begin_write().await?;
        jobs::complete(&mut tx, job_id, now_ms()).await?;
        commit(tx).await?;
        Ok(())
    }

    /// A permanent provisioning failure: the purchase fails and every cent is refunded.
    async fn fail_provisioning(&self, job: &Job, purchase_id: &str, reason: &str) -> AppResult<()> {
        let Some(purchase) = purchases::get_by_id(self.store().pool(), purchase_id).await? else {
            return Ok(());
        };
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        accounts::lock_for_spend(&mut tx, &purchase.account_id).await?;
        let reason = format!("provisioning failed: {reason}");
        if let Some(failed) = purchases::transition(
            &mut tx,
            purchase_id,
            "provisioning",
            "failed",
            Some(&reason),
            now,
        )
        .await?
        {
            for sibling in services::for_purchase(&mut *tx, purchase_id).await? {
                let to = if sibling.status == "active" {
                    "terminated"
                } else {
                    "failed"
                };
                services::transition(&mut tx, &sibling.id, &sibling.status, to, now).await?;
            }
            self.refund_purchase(&mut tx, &failed, now).await?;
            spends::set_status_for_purchase(&mut tx, purchase_id, "captured", "refunded", now)
                .await?;
            let change = Change {
                action: "purchase.failed",
                object_type: "purchase",
                object_id: purchase_id,
                before: Some("provisioning"),
                after: Some("failed"),
                details: json!({"reason": reason, "refundedMinor": failed.total_price_minor}),
            };
            audit::record(&mut *tx, &purchase.account_id, None, &change).await?;
        }
        jobs::fail(&mut tx, &job.id, &reason, now).await?;
        commit(tx).await?;
        Ok(())
    }
}
