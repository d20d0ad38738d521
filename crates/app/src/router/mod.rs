//! The LLM router: router keys, the model table, chat completions through OpenAI-compatible upstreams,
//! and exact credit metering (reserve the worst case out of a credit lease held in memory, settle the
//! actual cost once, write usage in batches, return what leases and crashes leave behind).
//! The OpenAI wire format is handled by the api crate; this module returns [`RouterError`]s that map
//! one-to-one onto OpenAI's error envelope.

mod chat;
pub mod config;
pub mod keys;
mod leases;
mod metering;
pub mod models;
mod stream;
pub mod usage;

pub use chat::ChatReply;
pub use config::RouterConfig;

/// Who is calling `/openai/v1/*`: a router key of one `llm_router` service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterPrincipal {
    pub account_id: String,
    /// The service's agent (None for a service bought by the account itself).
    pub agent_id: Option<String>,
    pub service_id: String,
    pub key_id: String,
}

/// A refused or failed chat completion, in OpenAI's terms.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RouterError {
    /// 400 `invalid_request_error`.
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
    },
    /// 404 `model_not_found`.
    #[error("the model `{0}` does not exist; see GET /openai/v1/models")]
    ModelNotFound(String),
    /// 402 `insufficient_credits`.
    #[error(
        "insufficient credits: this request may cost up to {required} micro-USD but the service has {available}; buy more router credits (cat_router_credit_001 with topUpServiceId)"
    )]
    InsufficientCredits { available: i64, required: i64 },
    /// The upstream refused or failed; `status` is the upstream's HTTP status.
    #[error("{message}")]
    Upstream {
        status: u16,
        message: String,
        kind: Option<String>,
        code: Option<String>,
    },
    /// No upstream answered in time.
    #[error("the upstream did not answer in time")]
    Timeout,
    /// Unexpected; logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::AppError> for RouterError {
    fn from(e: crate::AppError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// What the router needs at run time, built once from the configuration.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub models: models::ModelTable,
    /// This process's credit leases and its queue of finished requests.
    pub(crate) leases: std::sync::Arc<leases::LeaseBook>,
    /// The upstreams' API keys, removed from anything relayed to clients (an upstream may quote the
    /// key it was sent in an error event).
    pub(crate) secrets: Vec<String>,
}

impl crate::App {
    /// `text` with every configured upstream API key replaced by `[redacted]` (upstreams quote the
    /// key they were sent in their error messages and events).
    pub fn redact_upstream_keys(&self, text: String) -> String {
        self.router_runtime().redact(text)
    }
}

impl Runtime {
    /// `text` with every upstream API key replaced by `[redacted]`.
    pub(crate) fn redact(&self, text: String) -> String {
        let mut text = text;
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "[redacted]");
            }
        }
        text
    }
}

impl Runtime {
    pub fn new(config: &RouterConfig) -> Self {
        // No total timeout on the client: streams may run long; the router bounds each wait itself.
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            models: models::ModelTable::build(config, &client),
            secrets: config
                .upstreams
                .iter()
                .filter_map(|u| u.api_key_env.as_deref())
                .filter_map(|name| std::env::var(name).ok())
                .filter(|key| !key.trim().is_empty())
                .collect(),
            leases: std::sync::Arc::new(leases::LeaseBook::new(
                agent_store_core::ids::new_id(agent_store_core::ids::IdKind::Transaction)
                    .replacen("txn_", "proc_", 1),
            )),
        }
    }
}
