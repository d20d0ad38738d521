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
    check_base_url(base_url)?;
    let backend = HttpBackend::new(base_url, api_key)?;
    tracing::info!(api = %base_url, "MCP server on stdio");
    let running = McpServer::new(backend)
        .serve(rmcp::transport::stdio())
        .await?;
    running.waiting().await?;
    Ok(())
}

/// The forwarder's HTTP client is built without TLS (the workspace's reqwest has no TLS backend yet),
/// so an https:// URL is refused at start with what to do instead, rather than failing every call.
fn check_base_url(base_url: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !base_url.starts_with("https://"),
        "{ENV_BASE_URL}: https:// is not supported by this build's stdio forwarder (no TLS); connect \
         the MCP client to the server's hosted /mcp endpoint over https instead, or use http://"
    );
    anyhow::ensure!(
        base_url.starts_with("http://"),
        "{ENV_BASE_URL} must be an http:// URL, e.g. {DEFAULT_BASE_URL}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_base_urls_are_accepted() {
        assert!(check_base_url(DEFAULT_BASE_URL).is_ok());
        let err = check_base_url("https://store.example.com/v1/agent").unwrap_err();
        assert!(err.to_string().contains("hosted /mcp"), "{err}");
        assert!(check_base_url("store.example.com").is_err());
    }
}
