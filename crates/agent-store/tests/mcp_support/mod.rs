//! MCP test clients: the rmcp client connected to the real server over Streamable HTTP (`/mcp`), or
//! to the compiled binary's `agent-store mcp` over stdio (forwarding to the same server's Agent API).

#![allow(dead_code)]

use std::process::Stdio;

use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion, Tool};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::Value;

use crate::common::TestServer;

/// The two ways an MCP client reaches Agent Store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Http,
    Stdio,
}

pub type Client = RunningService<RoleClient, ()>;

/// Connect to `s` as the agent holding `key`, with the classic `initialize` handshake.
pub async fn connect(s: &TestServer, key: &str, transport: Transport) -> Client {
    match transport {
        Transport::Http => ().serve(http_transport(s, key)).await.unwrap(),
        Transport::Stdio => {
            let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_agent-store"));
            command
                .arg("mcp")
                .env("AGENT_STORE_API_BASE_URL", format!("{}/v1/agent", s.base))
                .env("AGENT_STORE_AGENT_API_KEY", key)
                .env("RUST_LOG", "warn");
            let (child, _) = TokioChildProcess::builder(command)
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            ().serve(child).await.unwrap()
        }
    }
}

/// Connect over HTTP with the 2026-07-28 lifecycle (`server/discover`, no `initialize`).
pub async fn connect_discover(s: &TestServer, key: &str) -> Client {
    ().serve_with_lifecycle(
        http_transport(s, key),
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    )
    .await
    .unwrap()
}

fn http_transport(s: &TestServer, key: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", s.base)).auth_header(key),
    )
}

/// Call `tool` with `arguments` (a JSON object); panics on a protocol error.
pub async fn call(client: &Client, tool: &str, arguments: Value) -> CallToolResult {
    try_call(client, tool, arguments).await.unwrap()
}

/// Call `tool`, returning protocol errors.
pub async fn try_call(
    client: &Client,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, rmcp::ServiceError> {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object");
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
}

/// The structured content of a successful result; panics (showing the error) otherwise.
pub async fn ok(client: &Client, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments).await;
    assert_eq!(result.is_error, Some(false), "{tool}: {result:?}");
    let structured = result.structured_content.clone().unwrap();
    // The same JSON is in the text content, for clients that read only text.
    let text = result.content[0].as_text().unwrap().text.clone();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), structured);
    structured
}

/// The error object of an `isError` result; panics if the call succeeded.
pub async fn error(client: &Client, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool} should fail: {result:?}"
    );
    let structured = result.structured_content.unwrap();
    let error = structured["error"].clone();
    assert!(error["code"].is_string(), "{structured}");
    assert!(error["message"].is_string(), "{structured}");
    error
}

/// `tools/list`, as JSON for comparison.
pub async fn tools(client: &Client) -> Vec<Tool> {
    client.list_all_tools().await.unwrap()
}

/// Poll `purchase_get_status` until the purchase leaves `provisioning` (bounded: 10 s).
pub async fn wait_for_purchase(client: &Client, purchase_id: &str) -> Value {
    for _ in 0..200 {
        let reply = ok(
            client,
            "purchase_get_status",
            serde_json::json!({"purchaseId": purchase_id}),
        )
        .await;
        if reply["purchase"]["status"] != "provisioning" {
            return reply["purchase"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("purchase {purchase_id} still provisioning after 10 s");
}
