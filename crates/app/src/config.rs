//! The typed configuration. Loaded by the binary from a TOML file, `AGENT_STORE_*` environment variables
//! and flags (in that order of precedence, lowest first); unknown keys are an error. Every default runs
//! as shipped: loopback listener, SQLite under `./data`, sandbox providers. `config.example.toml` at the
//! repository root documents every key.

use std::path::PathBuf;

use agent_store_core::policy::Policy;
use agent_store_providers::SandboxConfig;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server binds to.
    pub listen: String,
    /// Directory for the SQLite database, the generated server secret and `demo.json`.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty means `sqlite://<data_dir>/agent-store.db`.
    pub database_url: Option<String>,
    /// The URL clients reach this server at (used in links such as the router base URL).
    /// Empty means `http://<listen>`.
    pub public_base_url: Option<String>,
    /// Key for hashing credential secrets. Empty means: generated on first start and kept in
    /// `<data_dir>/server-secret` (mode 0600). Changing it invalidates every issued credential.
    pub server_secret: Option<SecretString>,
    /// A catalog file replacing the built-in catalog (same JSON format, validated on load).
    pub catalog_file: Option<PathBuf>,
    /// `text` or `json` log lines on standard error.
    pub log_format: LogFormat,
    pub database: DatabaseConfig,
    pub limits: LimitsConfig,
    pub quotes: QuotesConfig,
    pub sandbox: SandboxConfig,
    /// The platform policy layer: the operator's limits, above every account's own. Keys are the
    /// policy's JSON names (camelCase), e.g. `maxPurchaseMinor = 500000`.
    pub platform_policy: Policy,
    pub approvals: ApprovalsConfig,
    pub idempotency: IdempotencyConfig,
    pub jobs: JobsConfig,
    pub funding: FundingConfig,
    /// The OpenAI-compatible LLM router: upstreams, models, prices and metering bounds.
    pub router: crate::router::RouterConfig,
    pub mcp: McpConfig,
    /// Usage prices of phone numbers (inbound SMS, call minutes) and the top-up bound.
    pub phone: crate::phones::PhoneConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            public_base_url: None,
            server_secret: None,
            catalog_file: None,
            log_format: LogFormat::Text,
            database: DatabaseConfig::default(),
            limits: LimitsConfig::default(),
            quotes: QuotesConfig::default(),
            sandbox: SandboxConfig::default(),
            platform_policy: Policy::default(),
            approvals: ApprovalsConfig::default(),
            idempotency: IdempotencyConfig::default(),
            jobs: JobsConfig::default(),
            funding: FundingConfig::default(),
            router: crate::router::RouterConfig::default(),
            mcp: McpConfig::default(),
            phone: crate::phones::PhoneConfig::default(),
        }
    }
}

impl Config {
    /// The database URL in effect.
    pub fn effective_database_url(&self) -> String {
        match self.database_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => url.to_owned(),
            None => format!(
                "sqlite://{}",
                self.data_dir.join("agent-store.db").display()
            ),
        }
    }

    /// The public base URL in effect, without a trailing slash.
    pub fn effective_public_base_url(&self) -> String {
        match self.public_base_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Connections in the pool.
    pub max_connections: u32,
    /// SQLite durability: `full` (each commit survives power loss) or `normal` (survives a crash of
    /// the process; the last commits may be lost on power loss).
    pub sqlite_synchronous: SqliteSynchronous,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 16,
            sqlite_synchronous: SqliteSynchronous::Full,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SqliteSynchronous {
    Full,
    Normal,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Sustained requests per second allowed for each credential.
    pub rate_limit_per_second: u32,
    /// Burst size for each credential.
    pub rate_limit_burst: u32,
    /// A request taking longer than this is answered 503 and dropped.
    pub request_timeout_seconds: u64,
    /// A client must send a request's headers within this time, or the connection is closed; an
    /// idle keep-alive connection is closed after the same time (slow-client protection).
    pub header_read_timeout_seconds: u64,
    /// A client must send a request's whole body within this time of the request's start, or it is
    /// answered 408 `request_timeout` (slow-client protection).
    pub body_read_timeout_seconds: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            rate_limit_per_second: 20,
            rate_limit_burst: 40,
            request_timeout_seconds: 30,
            header_read_timeout_seconds: 30,
            body_read_timeout_seconds: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotesConfig {
    /// How long a quote stays open.
    pub ttl_seconds: u64,
}

impl Default for QuotesConfig {
    fn default() -> Self {
        Self { ttl_seconds: 900 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalsConfig {
    /// How long a purchase waits for a human decision before it expires and its hold is released.
    pub window_seconds: u64,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            window_seconds: 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencyConfig {
    /// How long an idempotency key and its stored response are kept (at least 7 days by contract).
    pub retention_seconds: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            retention_seconds: 7 * 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// A claimed job is taken over by another worker if not finished within this lease.
    pub lease_seconds: u64,
    /// Attempts before a retryable provider failure becomes a permanent one.
    pub max_attempts: u32,
    /// First retry delay; each further retry doubles it (capped at 5 minutes).
    pub retry_base_ms: u64,
    /// How often an idle worker looks for due work (it is also woken when work is queued).
    pub poll_interval_ms: u64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            lease_seconds: 30,
            max_attempts: 5,
            retry_base_ms: 1000,
            poll_interval_ms: 500,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FundingConfig {
    /// Largest single funding, in cents.
    pub max_amount_minor: i64,
}

impl Default for FundingConfig {
    fn default() -> Self {
        Self {
            max_amount_minor: 100_000_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// `Host` header values accepted at `/mcp` (DNS-rebinding protection): a name matches any port,
    /// `name:port` only that port. The host of `public_base_url` is always added. An empty list turns
    /// the check off (only behind a proxy that checks `Host` itself).
    pub allowed_hosts: Vec<String>,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            // Loopback only, as rmcp's default: a public deployment lists its own names.
            allowed_hosts: vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ],
        }
    }
}
