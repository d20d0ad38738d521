//! LLM upstreams for the OpenAI-compatible router: any OpenAI-compatible HTTP API ([`HttpUpstream`])
//! and the built-in, in-process sandbox serving `sandbox/echo` ([`sandbox`]). Both answer a chat
//! completion request (already rewritten by the router: upstream model name, `max_tokens`, and
//! `stream_options.include_usage` on streams) with either one JSON body or a stream of SSE `data`
//! payloads (without the final `[DONE]`, which ends the stream).

mod http;
pub mod sandbox;

use std::pin::Pin;

use futures_util::Stream;
use serde_json::Value;

pub use http::HttpUpstream;

/// The data payloads of a streamed answer, in order; the stream ends after `[DONE]` or when the
/// upstream closes.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<String, UpstreamError>> + Send>>;

/// What an upstream answered.
pub enum UpstreamReply {
    /// A non-streaming answer: the upstream's JSON body.
    Complete(Value),
    /// A streaming answer.
    Stream(EventStream),
}

impl std::fmt::Debug for UpstreamReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Complete(v) => f.debug_tuple("Complete").field(v).finish(),
            Self::Stream(_) => f.write_str("Stream(..)"),
        }
    }
}

/// Why an upstream call failed. Messages never carry the upstream's API key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream answered with an error status; `message` is its error message when it sent one.
    #[error("upstream answered {status}: {message}")]
    Status {
        status: u16,
        message: String,
        /// The upstream's OpenAI error `type` and `code`, when present.
        kind: Option<String>,
        code: Option<String>,
    },
    /// The upstream could not be reached or its answer could not be read.
    #[error("upstream unreachable or unreadable: {0}")]
    Transport(String),
}

impl UpstreamError {
    /// Whether another upstream may succeed where this one failed (outages, overload, timeouts);
    /// a refused request (400, 404, ...) would be refused by any upstream.
    pub fn worth_a_fallback(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            Self::Transport(_) => true,
        }
    }
}

/// One upstream the router can call.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// The in-process sandbox (no network).
    Sandbox,
    Http(HttpUpstream),
}

impl Upstream {
    /// Send a chat completion request (`stream` says which answer shape to expect).
    pub async fn chat(&self, body: Value, stream: bool) -> Result<UpstreamReply, UpstreamError> {
        match self {
            Self::Sandbox => Ok(sandbox::chat(&body, stream)),
            Self::Http(http) => http.chat(body, stream).await,
        }
    }
}
