//! The hosted transport: stateless Streamable HTTP at `/mcp`. No sessions (every POST stands alone and
//! carries the agent key), JSON responses rather than SSE for plain request/response calls, and the
//! rmcp Host check (DNS-rebinding protection) with the configured host list.
//!
//! Authentication is not done here: the API mounts this service behind its own auth middleware, which
//! turns the bearer key into a `Principal` in the request extensions (or answers 401). rmcp hands the
//! HTTP request parts to the handler, and [`InProcessBackend`] passes that principal on to the Agent
//! API's handlers, called in-process.

use std::sync::Arc;

use agent_store_app::Principal;
use agent_store_app::request_context::{current_request_id, with_request_id};
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::header::CONTENT_TYPE;
use rmcp::model::Extensions;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::McpServer;
use crate::request::{ApiReply, ApiRequest, Backend};

/// Largest MCP request body, the same as the REST body limit (SPEC section 2).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest Agent API response read back (lists are at most 100 items).
const MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;

/// The id the API's request-id middleware gave the MCP HTTP request. rmcp runs handlers on their own
/// task, where the request-id task-local is not set, so the id travels in the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Middleware (inside the request-id one) that copies the current request id into the extensions.
pub async fn capture_request_id(mut request: Request, next: Next) -> Response {
    if let Some(id) = current_request_id() {
        request.extensions_mut().insert(RequestId(id));
    }
    next.run(request).await
}

/// Calls the Agent API's own handlers in-process, as the authenticated agent.
#[derive(Debug, Clone)]
pub struct InProcessBackend {
    /// The Agent API routes with their state, without the auth layer (the caller is authenticated
    /// already), paths relative to `/v1/agent`.
    agent_api: Router,
}

impl InProcessBackend {
    pub fn new(agent_api: Router) -> Self {
        Self { agent_api }
    }
}

impl Backend for InProcessBackend {
    async fn send(&self, request: ApiRequest, extensions: &Extensions) -> Result<ApiReply, String> {
        let parts = extensions.get::<http::request::Parts>();
        let Some(principal) = parts.and_then(|p| p.extensions.get::<Principal>().cloned()) else {
            // Only reachable if the service were mounted without the auth middleware: refuse.
            return Ok(ApiReply {
                status: 401,
                body: json!({"error": {"code": "unauthenticated",
                    "message": "a valid credential is required: send Authorization: Bearer <key>",
                    "details": {}, "requestId": null}}),
                replayed: false,
            });
        };
        let request_id = parts
            .and_then(|p| p.extensions.get::<RequestId>())
            .map_or_else(|| "none".to_owned(), |id| id.0.clone());
        let body = match &request.body {
            Some(value) => Body::from(value.to_string()),
            None => Body::empty(),
        };
        let mut http_request = http::Request::builder()
            .method(request.method.clone())
            .uri(request.path_and_query())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(|err| format!("cannot build the request: {err}"))?;
        http_request.extensions_mut().insert(principal);
        let response = with_request_id(request_id, self.agent_api.clone().oneshot(http_request))
            .await
            .map_err(|err| format!("the Agent API failed: {err}"))?;
        let status = response.status().as_u16();
        let replayed = response
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let bytes = axum::body::to_bytes(response.into_body(), MAX_REPLY_BYTES)
            .await
            .map_err(|err| format!("cannot read the Agent API's answer: {err}"))?;
        Ok(ApiReply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            replayed,
        })
    }
}

/// The tower service to mount at `/mcp` (behind the auth and request-id middlewares).
pub fn service(
    agent_api: Router,
    allowed_hosts: Vec<String>,
) -> StreamableHttpService<McpServer<InProcessBackend>, NeverSessionManager> {
    let server = McpServer::new(InProcessBackend::new(agent_api));
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts(allowed_hosts)
        .with_max_request_body_bytes(MAX_BODY_BYTES);
    StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// The Host values accepted at `/mcp`: the configured list plus the host of the public base URL (so
/// a server configured with its public URL accepts it without repeating it). An empty configured
/// list stays empty, which rmcp reads as "accept any Host" (for deployments behind a proxy that
/// checks Host itself).
pub fn allowed_hosts(configured: &[String], public_base_url: &str) -> Vec<String> {
    let mut hosts = configured.to_vec();
    if hosts.is_empty() {
        return hosts;
    }
    let authority = public_base_url
        .split_once("://")
        .map_or(public_base_url, |(_, rest)| rest)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if !authority.is_empty() && !hosts.iter().any(|h| h == authority) {
        hosts.push(authority.to_owned());
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_base_url_host_is_allowed_too_unless_the_check_is_off() {
        let loopback = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        assert_eq!(
            allowed_hosts(&loopback, "https://store.example.com/base"),
            ["localhost", "127.0.0.1", "store.example.com"]
        );
        assert_eq!(
            allowed_hosts(&loopback, "http://127.0.0.1:8080"),
            ["localhost", "127.0.0.1", "127.0.0.1:8080"]
        );
        assert!(allowed_hosts(&[], "https://store.example.com").is_empty());
    }
}
