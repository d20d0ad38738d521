//! The stdio transport's backend: each tool's request goes over HTTP to the Agent API, with the agent
//! key as a bearer token. Whatever the API answers (status, JSON body, the replay header) becomes the
//! tool result exactly as in-process, so both transports give the same results.

use std::time::Duration;

use http::header::CONTENT_TYPE;
use rmcp::model::Extensions;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::request::{ApiReply, ApiRequest, Backend};

/// How long one call to the Agent API may take before the tool reports it unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Sends tool requests to the Agent API at `base_url` (e.g. `http://127.0.0.1:8080/v1/agent`).
#[derive(Clone)]
pub struct HttpBackend {
    client: reqwest::Client,
    base_url: String,
    api_key: SecretString,
}

impl std::fmt::Debug for HttpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("HttpBackend")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl HttpBackend {
    pub fn new(base_url: &str, api_key: SecretString) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("agent-store-mcp/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
        })
    }
}

impl Backend for HttpBackend {
    async fn send(
        &self,
        request: ApiRequest,
        _extensions: &Extensions,
    ) -> Result<ApiReply, String> {
        let url = format!("{}{}", self.base_url, request.path_and_query());
        let mut builder = self
            .client
            .request(request.method.clone(), &url)
            .bearer_auth(self.api_key.expose_secret());
        if let Some(body) = &request.body {
            builder = builder
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = builder
            .send()
            .await
            .map_err(|err| format!("cannot reach the Agent API at {}: {err}", self.base_url))?;
        let status = response.status().as_u16();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let bytes = response
            .bytes()
            .await
            .map_err(|err| format!("cannot read the Agent API's answer: {err}"))?;
        Ok(ApiReply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            replayed,
        })
    }
}
