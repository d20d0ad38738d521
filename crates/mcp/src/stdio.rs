//! `agent-store mcp`: the MCP server on standard input/output, forwarding every tool call to the Agent
//! API over HTTP. Standard output carries only MCP messages; logs go to standard error.

use rmcp::ServiceExt;
use secrecy::SecretString;

use crate::McpServer;
use crate::http_backend::HttpBackend;

/// Where the Agent API is, e.g. `http://127.0.0.1:8080/v1/agent`.
pub const ENV_BASE_URL: &str = "AGENT_STORE_API_BASE_URL";
/// The agent API key (`ask_live_...`).
pub const ENV_API_KEY: &str = "AGENT_STORE_AGENT_API_KEY";
/// The base URL when none is set: a local `agent-store serve` with default settings.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080/v1/agent";

/// Serve MCP on stdin/stdout until the client closes stdin.
pub async fn serve(base_url: &str, api_key: SecretString) -> anyhow::Result<()> {
    anyhow::ensure!(
        base_url.starts_with("http://") || base_url.starts_with("https://"),
        "{ENV_BASE_URL} must be an http:// or https:// URL, e.g. {DEFAULT_BASE_URL}"
    );
    let backend = HttpBackend::new(base_url, api_key)?;
    tracing::info!(api = %base_url, "MCP server on stdio");
    let running = McpServer::new(backend)
        .serve(rmcp::transport::stdio())
        .await?;
    running.waiting().await?;
    Ok(())
}
