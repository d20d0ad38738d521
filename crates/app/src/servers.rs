//! Server management (SPEC section 9): restart, reinstall and power on/off of a `server` service.
//!
//! An action is accepted in one write transaction (gate, state check, a `server_operations` row, a
//! durable job, the transitional `details.powerState`, the audit event and, with an idempotency key,
//! the stored response) and answered at once with the service in its transitional state
//! (`restarting`, `reinstalling`, `starting`, `stopping`). The jobs worker then calls the compute
//! provider (outside any transaction, idempotent per operation id, retried with backoff on retryable
//! errors) and settles the operation: the power state the provider reports, or, on a permanent
//! failure, the state before the action. While an action is in progress a second one is refused with
//! 409 `invalid_state` (a partial unique index backs this on every node).

use agent_store_core::catalog::GPU_ONLY_IMAGES;
use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::time::{MINUTE_MS, format_rfc3339, now_ms};
use agent_store_providers::{ProviderError, ServerActionRequest, ServerState};
use agent_store_store::dns_records::lock_service;
use agent_store_store::jobs::{self, Job};
use agent_store_store::server_operations::{self, ServerOperation};
use agent_store_store::services::{self, Service};
use agent_store_store::{AnyConnection, commit};
use serde_json::{Value, json};

use crate::audit::{self, Change};
use crate::idempotency::{Keyed, StoredResponse, scope};
use crate::manage::{Action, ServiceState};
use crate::{App, AppError, AppResult, Principal};

/// The job kind that carries out one server operation.
pub const SERVER_OPERATION_JOB: &str = "server_operation";

/// Power states a server passes through while an action runs.
pub const TRANSITIONAL_POWER_STATES: [&str; 4] =
    ["restarting", "reinstalling", "starting", "stopping"];

/// A server action as a client asked for it (values not yet validated).
#[derive(Debug, Clone)]
pub enum ServerCommand {
    Restart,
    /// The image to install.
    Reinstall(String),
    /// `on` or `off`.
    Power(String),
}

/// A validated action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Restart,
    Reinstall,
    PowerOn,
    PowerOff,
}

impl Kind {
    fn action(self) -> Action {
        let capability = match self {
            Self::Restart => "server:restart",
            Self::Reinstall => "server:reinstall",
            Self::PowerOn | Self::PowerOff => "server:power",
        };
        Action::new("server", capability, ServiceState::Active)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Restart => "restart",
            Self::Reinstall => "reinstall",
            Self::PowerOn => "power_on",
            Self::PowerOff => "power_off",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [
            Self::Restart,
            Self::Reinstall,
            Self::PowerOn,
            Self::PowerOff,
        ]
        .into_iter()
        .find(|k| k.name() == name)
    }

    fn transitional(self) -> &'static str {
        match self {
            Self::Restart => "restarting",
            Self::Reinstall => "reinstalling",
            Self::PowerOn => "starting",
            Self::PowerOff => "stopping",
        }
    }

    /// The state a successful action leaves the server in, when it is already there: a no-op.
    fn already(self, current: &str) -> bool {
        matches!(
            (self, current),
            (Self::PowerOn, "running") | (Self::PowerOff, "stopped")
        )
    }
}

fn details_of(service: &Service) -> Value {
    match serde_json::from_str::<Value>(&service.details) {
        Ok(v) if v.is_object() => v,
        _ => json!({}),
    }
}

fn power_state(details: &Value) -> String {
    details
        .get("powerState")
        .and_then(Value::as_str)
        .unwrap_or("running")
        .to_owned()
}

impl App {
    /// Check the action's values against the item (the image must be one it offers; GPU images only
    /// on GPU items) and the server's power state.
    fn check_command(
        &self,
        service: &Service,
        command: &ServerCommand,
        current: &str,
    ) -> AppResult<(Kind, Option<String>)> {
        if TRANSITIONAL_POWER_STATES.contains(&current) {
            return Err(AppError::Conflict(format!(
                "the server is {current}; wait until the current action finishes (poll the service until details.powerState is running or stopped)"
            )));
        }
        match command {
            ServerCommand::Restart if current == "stopped" => Err(AppError::Conflict(
                "the server is stopped; power it on instead (server_power with state \"on\")"
                    .to_owned(),
            )),
            ServerCommand::Restart => Ok((Kind::Restart, None)),
            ServerCommand::Reinstall(image) => {
                let item = self.catalog().item(&service.catalog_item_id);
                let images = item.map(|i| i.server_images()).unwrap_or_default();
                let has_gpu = item
                    .and_then(|i| i.server_resources())
                    .is_some_and(|r| r.gpu.is_some());
                let image = image.trim();
                if image.is_empty() {
                    return Err(AppError::invalid_field(
                        "image",
                        &format!("is required: one of {}", images.join(", ")),
                    ));
                }
                if GPU_ONLY_IMAGES.contains(&image) && !has_gpu {
                    return Err(AppError::invalid_field(
                        "image",
                        &format!(
                            "{image} needs a GPU server; this server has none (images: {})",
                            images.join(", ")
                        ),
                    ));
                }
                if !images.iter().any(|i| i == image) {
                    return Err(AppError::invalid_field(
                        "image",
                        &format!(
                            "must be one of {} (the images of {})",
                            images.join(", "),
                            service.catalog_item_id
                        ),
                    ));
                }
                Ok((Kind::Reinstall, Some(image.to_owned())))
            }
            ServerCommand::Power(state) => match state.as_str() {
                "on" => Ok((Kind::PowerOn, None)),
                "off" => Ok((Kind::PowerOff, None)),
                _ => Err(AppError::invalid_field(
                    "state",
                    "must be \"on\" or \"off\"",
                )),
            },
        }
    }

    /// Accept a server action (see the module docs). The response is `{"service": {...}}`: 202 with
    /// the transitional power state when an operation was queued, 200 for a power change to the state
    /// the server is already in (nothing to do).
    pub async fn server_action(
        &self,
        principal: &Principal,
        service_id: &str,
        command: ServerCommand,
        keyed: Option<&Keyed>,
    ) -> AppResult<StoredResponse> {
        if let ServerCommand::Power(state) = &command
            && !matches!(state.as_str(), "on" | "off")
        {
            return Err(AppError::invalid_field(
                "state",
                "must be \"on\" or \"off\"",
            ));
        }
        let scope = scope(principal);
        if let Some(keyed) = keyed
            && let Some(replay) = self.idempotent_lookup(None, &scope, keyed).await?
        {
            return Ok(replay);
        }
        let gate = match &command {
            ServerCommand::Restart => Kind::Restart,
            ServerCommand::Reinstall(_) => Kind::Reinstall,
            ServerCommand::Power(_) => Kind::PowerOn,
        }
        .action();
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        lock_service(&mut tx, service_id, now).await?;
        if let Some(keyed) = keyed
            && let Some(replay) = self.idempotent_lookup(Some(&mut tx), &scope, keyed).await?
        {
            return Ok(replay);
        }
        let service = self
            .managed_service(&mut tx, principal, service_id, gate)
            .await?;
        let mut details = details_of(&service);
        let current = power_state(&details);
        let (kind, image) = self.check_command(&service, &command, &current)?;
        let status = if kind.already(&current) {
            self.record_service_action(
                &mut tx,
                principal,
                &service,
                gate,
                json!({"action": kind.name(), "powerState": current, "changed": false}),
            )
            .await?;
            200
        } else {
            let op = ServerOperation {
                id: new_id(IdKind::Job),
                service_id: service.id.clone(),
                account_id: service.account_id.clone(),
                action: kind.name().to_owned(),
                image: image.clone(),
                previous_power_state: current.clone(),
                status: "pending".to_owned(),
                error: None,
                created_at: now,
                updated_at: now,
            };
            if !server_operations::insert(&mut tx, &op).await? {
                return Err(AppError::Conflict(
                    "another action on this server is in progress; wait until it finishes"
                        .to_owned(),
                ));
            }
            jobs::enqueue(
                &mut tx,
                &new_id(IdKind::Job),
                SERVER_OPERATION_JOB,
                &op.id,
                now,
                now,
            )
            .await?;
            details["powerState"] = json!(kind.transitional());
            details["lastOperation"] = json!({
                "id": op.id, "action": op.action, "image": op.image, "status": "pending",
                "error": null, "requestedAt": format_rfc3339(now),
            });
            services::set_details(&mut tx, &service.id, &details.to_string(), now).await?;
            self.record_service_action(
                &mut tx,
                principal,
                &service,
                gate,
                json!({"action": kind.name(), "operationId": op.id, "image": image, "from": current, "changed": true}),
            )
            .await?;
            202
        };
        let updated = services::get_by_id(&mut *tx, &service.id)
            .await?
            .ok_or(AppError::NotFound("service"))?;
        let view = self.service_view(&mut tx, updated).await?;
        let body = json!({ "service": view }).to_string();
        if let Some(keyed) = keyed {
            self.idempotent_store(&mut tx, &scope, keyed, status, &body)
                .await?;
        }
        commit(tx).await?;
        if status == 202 {
            self.wake_worker();
        }
        Ok(StoredResponse {
            status,
            body,
            replayed: false,
        })
    }

    /// Carry out one server operation (the jobs worker). The provider call runs outside any
    /// transaction and is idempotent per operation id.
    pub(crate) async fn run_server_operation(&self, job: Job) -> AppResult<()> {
        let pool = self.store().pool();
        let op = server_operations::get(pool, &job.subject_id).await?;
        let service = match &op {
            Some(op) => services::get_by_id(pool, &op.service_id).await?,
            None => None,
        };
        let (Some(op), Some(service)) = (op, service) else {
            return self.finish_job(&job, None).await;
        };
        let Some(kind) = Kind::parse(&op.action).filter(|_| op.status == "pending") else {
            return self.finish_job(&job, None).await;
        };
        let request = ServerActionRequest {
            operation_id: op.id.clone(),
            service_id: service.id.clone(),
            provider_ref: service.provider_ref.clone().unwrap_or_default(),
            configuration: serde_json::from_str(&service.configuration).unwrap_or(Value::Null),
            attempt: u32::try_from(job.attempts).unwrap_or(u32::MAX),
        };
        let compute = &self.providers().compute;
        let result = match kind {
            Kind::Restart => compute.restart_server(&request).await,
            Kind::Reinstall => {
                compute
                    .reinstall_server(&request, op.image.as_deref().unwrap_or_default())
                    .await
            }
            Kind::PowerOn => compute.set_server_power(&request, true).await,
            Kind::PowerOff => compute.set_server_power(&request, false).await,
        };
        match result {
            Err(err)
                if err.retryable && job.attempts < i64::from(self.config().jobs.max_attempts) =>
            {
                let base = i64::try_from(self.config().jobs.retry_base_ms).unwrap_or(1000);
                let exponent = u32::try_from(job.attempts.clamp(1, 16) - 1).unwrap_or(0);
                let delay = base.saturating_mul(1_i64 << exponent).min(5 * MINUTE_MS);
                tracing::info!(operation_id = %op.id, attempt = job.attempts, delay_ms = delay, error = %err, "server operation will be retried");
                let now = now_ms();
                jobs::retry_later(pool, &job.id, &err.to_string(), now + delay, now).await?;
                Ok(())
            }
            result => self.settle_server_operation(&job, &op, kind, result).await,
        }
    }

    /// Record the outcome of an operation exactly once: the reported state on success, the state
    /// before the action on failure.
    async fn settle_server_operation(
        &self,
        job: &Job,
        op: &ServerOperation,
        kind: Kind,
        result: Result<ServerState, ProviderError>,
    ) -> AppResult<()> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        lock_service(&mut tx, &op.service_id, now).await?;
        let (status, error) = match &result {
            Ok(_) => ("succeeded", None),
            Err(err) => ("failed", Some(err.to_string())),
        };
        let settled =
            server_operations::finish(&mut tx, &op.id, status, error.as_deref(), now).await?;
        if settled.is_some()
            && let Some(service) = services::get_by_id(&mut *tx, &op.service_id).await?
        {
            self.apply_outcome(&mut tx, &service, op, kind, &result, now)
                .await?;
        }
        match &error {
            None => jobs::complete(&mut tx, &job.id, now).await?,
            Some(reason) => jobs::fail(&mut tx, &job.id, reason, now).await?,
        }
        commit(tx).await?;
        Ok(())
    }

    async fn apply_outcome(
        &self,
        conn: &mut AnyConnection,
        service: &Service,
        op: &ServerOperation,
        kind: Kind,
        result: &Result<ServerState, ProviderError>,
        now: i64,
    ) -> AppResult<()> {
        let mut details = details_of(service);
        let before = power_state(&details);
        let after = match result {
            Ok(state) => {
                if let Some(image) = &state.image {
                    details["image"] = json!(image);
                }
                state.power_state.as_str().to_owned()
            }
            Err(_) => op.previous_power_state.clone(),
        };
        details["powerState"] = json!(after);
        let error = result.as_ref().err().map(ToString::to_string);
        details["lastOperation"] = json!({
            "id": op.id, "action": op.action, "image": op.image,
            "status": if error.is_none() { "succeeded" } else { "failed" },
            "error": error, "requestedAt": format_rfc3339(op.created_at),
            "finishedAt": format_rfc3339(now),
        });
        services::set_details(&mut *conn, &service.id, &details.to_string(), now).await?;
        let action = if error.is_none() {
            "service.server_operation_succeeded"
        } else {
            "service.server_operation_failed"
        };
        let change = Change {
            action,
            object_type: "service",
            object_id: &service.id,
            before: Some(before.as_str()),
            after: Some(after.as_str()),
            details: json!({"operationId": op.id, "action": kind.name(), "image": op.image, "error": error}),
        };
        audit::record(&mut *conn, &service.account_id, None, &change).await?;
        Ok(())
    }

    async fn finish_job(&self, job: &Job, error: Option<&str>) -> AppResult<()> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        match error {
            None => jobs::complete(&mut tx, &job.id, now).await?,
            Some(reason) => jobs::fail(&mut tx, &job.id, reason, now).await?,
        }
        commit(tx).await?;
        Ok(())
    }
}
