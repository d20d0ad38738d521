//! MCP against REST: the same operation - a catalog search, a purchase of a quote - over `POST /mcp`
//! (`tools/call`, stateless Streamable HTTP with JSON responses) and over the Agent API, one request at
//! a time, alternating between the two so drift on a shared machine hits both alike.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::server::Server;
use crate::stats::{Samples, Summary};

/// Results for one operation.
#[derive(Debug, Clone, Copy)]
pub struct Pair {
    pub rest: Summary,
    pub mcp: Summary,
}

async fn timed(request: reqwest::RequestBuilder) -> anyhow::Result<(Duration, u16, Value)> {
    let began = Instant::now();
    let response = request.send().await?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    let elapsed = began.elapsed();
    Ok((elapsed, status, serde_json::from_slice(&bytes)?))
}

fn mcp_call(server: &Server, id: usize, tool: &str, arguments: Value) -> reqwest::RequestBuilder {
    server
        .client
        .post(format!("{}/mcp", server.base))
        .bearer_auth(&server.demo.agent_api_key)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": tool, "arguments": arguments}}))
}

fn check_mcp(status: u16, body: &Value) -> anyhow::Result<()> {
    if status != 200 || body["result"]["isError"] == json!(true) || body.get("error").is_some() {
        bail!("MCP call failed: {status} {body}");
    }
    Ok(())
}

/// `catalog_search {category: storage, q: object, limit: 3}` vs `GET /v1/agent/catalog/items?...`.
pub async fn catalog_search(server: &Server, n: usize) -> anyhow::Result<Pair> {
    let (mut rest, mut mcp) = (Samples::default(), Samples::default());
    let start = Instant::now();
    for i in 0..n {
        let (t, status, body) = timed(
            server
                .client
                .get(format!(
                    "{}/v1/agent/catalog/items?category=storage&q=object&limit=3",
                    server.base
                ))
                .bearer_auth(&server.demo.agent_api_key),
        )
        .await?;
        if status != 200 {
            bail!("REST search failed: {status} {body}");
        }
        rest.push(t);
        let args = json!({"category": "storage", "q": "object", "limit": 3});
        let (t, status, body) = timed(mcp_call(server, i, "catalog_search", args)).await?;
        check_mcp(status, &body)?;
        mcp.push(t);
    }
    let wall = start.elapsed() / 2;
    Ok(Pair {
        rest: rest.summary(wall),
        mcp: mcp.summary(wall),
    })
}

/// `purchase_create {quoteId, idempotencyKey}` vs `POST /v1/agent/purchases`, each of a fresh quote.
pub async fn purchase_create(server: &Server, quote_ids: &[String]) -> anyhow::Result<Pair> {
    let (mut rest, mut mcp) = (Samples::default(), Samples::default());
    let start = Instant::now();
    for (i, pair) in quote_ids.chunks(2).enumerate() {
        let [a, b] = pair else { break };
        let (t, status, body) = timed(
            server
                .client
                .post(format!("{}/v1/agent/purchases", server.base))
                .bearer_auth(&server.demo.agent_api_key)
                .json(&json!({"quoteId": a, "idempotencyKey": format!("rest-{a}")})),
        )
        .await?;
        if status != 201 {
            bail!("REST purchase failed: {status} {body}");
        }
        rest.push(t);
        let args = json!({"quoteId": b, "idempotencyKey": format!("mcp-{b}")});
        let (t, status, body) = timed(mcp_call(server, i, "purchase_create", args)).await?;
        check_mcp(status, &body)?;
        body["result"]["structuredContent"]["purchase"]["id"]
            .as_str()
            .context("MCP purchase without an id")?;
        mcp.push(t);
    }
    let wall = start.elapsed() / 2;
    Ok(Pair {
        rest: rest.summary(wall),
        mcp: mcp.summary(wall),
    })
}
