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

/// Refuse a base URL that is not http(s) at start, with an example, rather than failing every call.
fn check_base_url(base_url: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        base_url.starts_with("http://") || base_url.starts_with("https://"),
        "{ENV_BASE_URL} must be an http:// or https:// URL, e.g. {DEFAULT_BASE_URL}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    #[test]
    fn http_and_https_base_urls_are_accepted_and_others_refused() {
        assert!(check_base_url(DEFAULT_BASE_URL).is_ok());
        assert!(check_base_url("https://store.example.com/v1/agent").is_ok());
        let err = check_base_url("store.example.com").unwrap_err();
        assert!(err.to_string().contains(ENV_BASE_URL), "{err}");
    }

    #[tokio::test]
    async fn the_forwarder_opens_https_connections_with_a_tls_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let first_bytes = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut record = [0_u8; 3];
            socket.read_exact(&mut record).await.unwrap();
            record
        });
        let backend = HttpBackend::new(
            &format!("https://{addr}/v1/agent"),
            SecretString::from("ask_live_x.y".to_owned()),
        )
        .unwrap();
        let call = tokio::spawn(async move {
            let request = crate::request::ApiRequest::get(&["wallet"]);
            crate::request::Backend::send(&backend, request, &rmcp::model::Extensions::default())
                .await
        });
        let record = first_bytes.await.unwrap();
        // A TLS handshake record (content type 22) of TLS 1.x: the client speaks TLS, not plain HTTP.
        assert_eq!(record[0], 22, "{record:?}");
        assert_eq!(record[1], 3, "{record:?}");
        assert!(
            call.await.unwrap().is_err(),
            "the server hung up mid-handshake"
        );
    }
}
