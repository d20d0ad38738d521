//! Settings of the sandbox providers: the test-mode knobs (delays, failure injection, declined amounts)
//! that let a developer or a test exercise every path of the purchase flow offline.

/// Settings of the sandbox providers (the `[sandbox]` section of the configuration file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct SandboxConfig {
    /// Domain names the sandbox registrar reports as taken (besides names registered through the store).
    pub reserved_domains: Vec<String>,
    /// Milliseconds every sandbox provisioning call waits before answering, to watch purchases sit in
    /// `provisioning`. 0 answers at once.
    pub provisioning_delay_ms: u64,
    /// A purchase whose configuration contains this text in any string value (a hostname, a domain name,
    /// a locality, ...) fails provisioning permanently, and is refunded. Empty disables it.
    pub fail_marker: String,
    /// A purchase whose configuration contains this text in any string value fails its first
    /// `flaky_failures` provisioning attempts with a retryable error, then succeeds. Empty disables it.
    pub flaky_marker: String,
    /// How many attempts of a `flaky_marker` purchase fail before one succeeds.
    pub flaky_failures: u32,
    /// Service types (`domain`, `server`, `phone_number`, `storage_service`) whose every provisioning
    /// fails permanently, as if that provider were refusing all orders.
    pub fail_service_types: Vec<String>,
    /// Wallet fundings of exactly these amounts (minor units) are declined by the sandbox payment
    /// processor, like a test card number that always fails.
    pub decline_funding_amounts_minor: Vec<i64>,
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
            provisioning_delay_ms: 0,
            fail_marker: "sandbox-fail".to_owned(),
            flaky_marker: "sandbox-flaky".to_owned(),
            flaky_failures: 2,
            fail_service_types: Vec::new(),
            decline_funding_amounts_minor: Vec::new(),
        }
    }
}
