//! The `[router]` configuration section: OpenAI-compatible upstreams with their models and prices,
//! the sandbox model, and the bounds that keep metering exact (timeouts, drain limits, sweeper age).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// Serve the built-in offline model `sandbox/echo`.
    pub sandbox_enabled: bool,
    /// Longest wait for an upstream's answer (a whole non-streaming answer, or a stream's first event).
    pub upstream_timeout_seconds: u64,
    /// A stream that sends nothing for this long is cut off (and charged for what it produced).
    pub stream_idle_timeout_seconds: u64,
    /// Longest total duration of a stream.
    pub max_stream_seconds: u64,
    /// After a client disconnects, the upstream is still read (to learn the usage to charge) for at
    /// most this long ...
    pub drain_max_seconds: u64,
    /// ... and at most this many bytes.
    pub drain_max_bytes: u64,
    /// A reservation still open after this long was left by a crash; the worker releases it. Must
    /// exceed `upstream_timeout_seconds + max_stream_seconds`.
    pub sweep_after_seconds: u64,
    /// Credit a server process sets aside for a service at a time (micro-USD; at least a request's
    /// worst case, at most the balance). Requests are then metered in memory. 0 leases exactly each
    /// request's worst case: one database transaction per request, nothing held between requests.
    pub lease_chunk_micro: i64,
    /// A lease unused this long returns its credit to the service's balance.
    pub lease_idle_seconds: u64,
    /// A lease whose process has not shown life for this long (it crashed) is returned by the
    /// sweeper of any process. Processes mark their leases alive four times per period.
    pub lease_stale_seconds: u64,
    /// How often finished requests are written (usage rows and charges, one transaction).
    pub flush_interval_ms: u64,
    /// OpenAI-compatible upstreams, in order of preference for a model several of them serve.
    pub upstreams: Vec<UpstreamConfig>,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            sandbox_enabled: true,
            upstream_timeout_seconds: 120,
            stream_idle_timeout_seconds: 120,
            max_stream_seconds: 900,
            drain_max_seconds: 60,
            drain_max_bytes: 8 * 1024 * 1024,
            sweep_after_seconds: 1800,
            lease_chunk_micro: 1_000_000,
            lease_idle_seconds: 10,
            lease_stale_seconds: 60,
            flush_interval_ms: 20,
            upstreams: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// A short name, shown in usage logs (`upstream`).
    pub name: String,
    /// The API root, e.g. `https://api.openai.com/v1` (`/chat/completions` is appended).
    pub base_url: String,
    /// The environment variable holding this upstream's API key (never the key itself).
    #[serde(default)]
    pub api_key_env: Option<String>,
    pub models: Vec<ModelConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The model id clients ask for, e.g. `gpt-4o-mini`.
    pub id: String,
    /// The name sent upstream (default: `id`).
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// Price of a million prompt tokens, in micro-USD (e.g. 3_000_000 = $3 per million).
    pub input_price_micro_per_million: i64,
    /// Price of a million completion tokens, in micro-USD.
    pub output_price_micro_per_million: i64,
    /// Context window in tokens (bounds the prompt estimate).
    pub context_tokens: i64,
    /// Largest answer in tokens; requests without `max_tokens` are capped (and reserved) at this.
    pub max_output_tokens: i64,
    /// Other names clients may use, e.g. `claude-sonnet-4`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Model ids tried in order when every upstream of this model fails before any output was sent
    /// (unreachable, 408, 429, 5xx).
    #[serde(default)]
    pub fallbacks: Vec<String>,
}

impl RouterConfig {
    /// Problems that must stop the server from starting.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.lease_chunk_micro < 0 {
            out.push("router.lease_chunk_micro must be >= 0".to_owned());
        }
        if self.lease_stale_seconds == 0 {
            out.push("router.lease_stale_seconds must be at least 1".to_owned());
        }
        if !(1..=1000).contains(&self.flush_interval_ms) {
            out.push("router.flush_interval_ms must be between 1 and 1000".to_owned());
        }
        for u in &self.upstreams {
            if !(u.base_url.starts_with("http://") || u.base_url.starts_with("https://")) {
                out.push(format!(
                    "router.upstreams {}: base_url must start with http:// or https://",
                    u.name
                ));
            }
            for m in &u.models {
                if m.input_price_micro_per_million < 0
                    || m.output_price_micro_per_million < 0
                    || m.context_tokens <= 0
                    || m.max_output_tokens <= 0
                {
                    out.push(format!(
                        "router.upstreams {} model {}: prices must be >= 0 and token limits > 0",
                        u.name, m.id
                    ));
                }
            }
        }
        out
    }
}
