//! An OpenAI-compatible upstream over HTTP: `POST {base_url}/chat/completions` with its API key, read
//! as JSON or as server-sent events (reqwest `bytes_stream()` + `eventsource-stream`).

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use serde_json::Value;

use super::{UpstreamError, UpstreamReply};

/// Largest error body read from an upstream (its message is all the router needs).
const MAX_ERROR_BODY: usize = 64 * 1024;

#[derive(Clone)]
pub struct HttpUpstream {
    pub name: String,
    base_url: String,
    api_key: Option<String>,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpUpstream")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl HttpUpstream {
    /// `base_url` is the API root (e.g. `https://api.openai.com/v1`); `api_key` is sent as a bearer
    /// token when present.
    pub fn new(
        name: String,
        base_url: &str,
        api_key: Option<String>,
        client: reqwest::Client,
    ) -> Self {
        Self {
            name,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            client,
        }
    }

    pub async fn chat(&self, body: Value, stream: bool) -> Result<UpstreamReply, UpstreamError> {
        let mut request = self
            .client
            .post(format!("{}/chat/completions", self.base_url))
            .json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        if stream {
            request = request.header(reqwest::header::ACCEPT, "text/event-stream");
        }
        // reqwest errors may contain the URL but never headers, so the key cannot leak through them.
        let response = request
            .send()
            .await
            .map_err(|e| UpstreamError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(error_from(status.as_u16(), response).await);
        }
        if !stream {
            let bytes = response
                .bytes()
                .await
                .map_err(|e| UpstreamError::Transport(e.without_url().to_string()))?;
            let value: Value = serde_json::from_slice(&bytes).map_err(|_| {
                UpstreamError::Transport("the upstream answer is not JSON".to_owned())
            })?;
            return Ok(UpstreamReply::Complete(value));
        }
        let events = response
            .bytes_stream()
            .eventsource()
            .take_while(|event| {
                let done = matches!(event, Ok(e) if e.data.trim() == "[DONE]");
                std::future::ready(!done)
            })
            .filter_map(|event| {
                std::future::ready(match event {
                    // Comments and keep-alives carry no data.
                    Ok(e) if e.data.trim().is_empty() => None,
                    Ok(e) => Some(Ok(e.data)),
                    Err(e) => Some(Err(UpstreamError::Transport(format!(
                        "the upstream stream broke: {e}"
                    )))),
                })
            });
        Ok(UpstreamReply::Stream(Box::pin(events)))
    }
}

/// Turn an error answer into [`UpstreamError::Status`], keeping the OpenAI error fields it carries.
async fn error_from(status: u16, response: reqwest::Response) -> UpstreamError {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ERROR_BODY {
            break;
        }
    }
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let text = |field: &str| {
        error
            .and_then(|e| e.get(field))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    UpstreamError::Status {
        status,
        message: text("message").unwrap_or_else(|| format!("the upstream answered HTTP {status}")),
        kind: text("type"),
        code: text("code"),
    }
}
