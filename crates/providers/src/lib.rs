//! Provider interfaces (registrar, compute, telephony, storage, payments) and the sandbox implementations
//! that ship as defaults. Sandbox providers are real implementations of the interfaces: deterministic,
//! offline, and configurable like a payment processor's test mode ([`SandboxConfig`]).
//!
//! Every provisioning call carries the service id as its idempotency key ([`ProvisionRequest`]): the jobs
//! worker may call again after a timeout or a restart, and a provider must answer with the resource it
//! already created rather than create a second one.

mod compute;
mod config;
pub mod llm;
mod payments;
pub mod registrar;
mod sandbox;
mod storage;
mod telephony;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use agent_store_core::catalog::ServerResources;

pub use compute::{Compute, PowerState, SandboxCompute, ServerActionRequest, ServerState};
pub use config::SandboxConfig;
pub use payments::{Charge, ChargeStatus, Payments, SandboxPayments};
pub use registrar::{DnsRecordSpec, DomainAvailability, DomainRef, Registrar, SandboxRegistrar};
pub use storage::{BucketKeys, SandboxStorage, Storage};
pub use telephony::{InboundEvent, InboundTraffic, SandboxTelephony, Telephony};

/// A provider call failed; the message is safe to show (it never carries provider credentials).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct ProviderError {
    pub provider: &'static str,
    pub message: String,
    /// Whether retrying the same call later may succeed.
    pub retryable: bool,
}

impl ProviderError {
    /// A failure that retrying cannot fix (a refused configuration, a declined payment).
    pub fn permanent(provider: &'static str, message: impl Into<String>) -> Self {
        Self {
            provider,
            message: message.into(),
            retryable: false,
        }
    }

    /// A failure that may go away if the same call is made again later (an outage, a timeout).
    pub fn retryable(provider: &'static str, message: impl Into<String>) -> Self {
        Self {
            provider,
            message: message.into(),
            retryable: true,
        }
    }
}

/// What the app asks a provider to create. `service_id` is the idempotency key: calling twice with the
/// same service id must never create a second resource; it returns the first result.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionRequest {
    pub service_id: String,
    pub catalog_item_id: String,
    /// The quote's normalized configuration (defaults filled in, names lowercased).
    pub configuration: serde_json::Value,
    /// The machine to create, for server items ([`agent_store_core::catalog::CatalogItem::server_resources`]).
    pub resources: Option<ServerResources>,
    /// 1 for the first call for this service, then one more on each retry. Providers use it only for
    /// diagnostics and the sandbox's simulated outages; idempotency rests on `service_id` alone.
    pub attempt: u32,
}

/// The resource a provider created.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provisioned {
    /// The provider's own id of the resource, for later calls about it.
    pub provider_ref: String,
    /// The service's type-specific `details` (SPEC section 9), camelCase JSON.
    pub details: serde_json::Value,
}

/// The set of providers the app talks to.
#[derive(Clone)]
pub struct Providers {
    pub registrar: Arc<dyn Registrar>,
    pub compute: Arc<dyn Compute>,
    pub telephony: Arc<dyn Telephony>,
    pub storage: Arc<dyn Storage>,
    pub payments: Arc<dyn Payments>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").finish_non_exhaustive()
    }
}

impl Providers {
    /// The offline sandbox providers.
    pub fn sandbox(config: &SandboxConfig) -> Self {
        SandboxProviders::new(config).providers()
    }

    /// Create the upstream resource of a service of `service_type` (`domain`, `server`, `phone_number`,
    /// `storage_service`, `llm_router`). Router credit lives in this store's own ledger, so an
    /// `llm_router` service needs no upstream resource and succeeds at once with provider ref `local`.
    pub async fn provision(
        &self,
        service_type: &str,
        req: &ProvisionRequest,
    ) -> Result<Provisioned, ProviderError> {
        match service_type {
            "domain" => self.registrar.register(req).await,
            "server" => self.compute.create_server(req).await,
            "phone_number" => self.telephony.rent_number(req).await,
            "storage_service" => self.storage.create_storage(req).await,
            "llm_router" => Ok(Provisioned {
                provider_ref: "local".to_owned(),
                details: serde_json::json!({}),
            }),
            other => Err(ProviderError::permanent(
                "agent-store",
                format!("no provider handles services of type {other:?}"),
            )),
        }
    }
}

/// The sandbox providers with their concrete types, so tests can inspect them (call counts) while the
/// app uses them through [`Providers`].
#[derive(Debug, Clone)]
pub struct SandboxProviders {
    pub registrar: Arc<SandboxRegistrar>,
    pub compute: Arc<SandboxCompute>,
    pub telephony: Arc<SandboxTelephony>,
    pub storage: Arc<SandboxStorage>,
    pub payments: Arc<SandboxPayments>,
}

impl SandboxProviders {
    pub fn new(config: &SandboxConfig) -> Self {
        Self {
            registrar: Arc::new(SandboxRegistrar::with_config(config)),
            compute: Arc::new(SandboxCompute::new(config)),
            telephony: Arc::new(SandboxTelephony::new(config)),
            storage: Arc::new(SandboxStorage::new(config)),
            payments: Arc::new(SandboxPayments::new(config)),
        }
    }

    /// The same providers as trait objects, sharing their state with `self`.
    pub fn providers(&self) -> Providers {
        Providers {
            registrar: self.registrar.clone(),
            compute: self.compute.clone(),
            telephony: self.telephony.clone(),
            storage: self.storage.clone(),
            payments: self.payments.clone(),
        }
    }

    /// Provisioning calls made for `service_id`, whatever its type (each service has one type, so at most
    /// one of the terms is non-zero).
    pub fn provision_calls(&self, service_id: &str) -> u32 {
        self.registrar.provision_calls(service_id)
            + self.compute.provision_calls(service_id)
            + self.telephony.provision_calls(service_id)
            + self.storage.provision_calls(service_id)
    }
}
