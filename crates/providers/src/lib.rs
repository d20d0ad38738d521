//! Provider interfaces (registrar, and later compute, telephony, storage, payments, LLM upstreams) and the
//! sandbox implementations that ship as defaults. Sandbox providers are real implementations of the
//! interfaces: deterministic, offline, and configurable like a payment processor's test mode.

pub mod registrar;

use std::sync::Arc;

pub use registrar::{DomainAvailability, Registrar, SandboxRegistrar};

/// A provider call failed; the message is safe to show (it never carries provider credentials).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{provider}: {message}")]
pub struct ProviderError {
    pub provider: &'static str,
    pub message: String,
    /// Whether retrying the same call later may succeed.
    pub retryable: bool,
}

/// The set of providers the app talks to.
#[derive(Clone)]
pub struct Providers {
    pub registrar: Arc<dyn Registrar>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers").finish_non_exhaustive()
    }
}

impl Providers {
    /// The offline sandbox providers.
    pub fn sandbox(config: &SandboxConfig) -> Self {
        Self {
            registrar: Arc::new(SandboxRegistrar::new(
                config.reserved_domains.iter().cloned(),
            )),
        }
    }
}

/// Settings of the sandbox providers.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct SandboxConfig {
    /// Domain names the sandbox registrar reports as taken (besides names registered through the store).
    pub reserved_domains: Vec<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            reserved_domains: [
                "google.com",
                "example.com",
                "example.dev",
                "example.io",
                "example.ai",
                "openai.com",
                "github.com",
                "taken.com",
                "taken.dev",
                "taken.io",
                "taken.ai",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        }
    }
}
