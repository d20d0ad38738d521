//! Who may use the MCP server and what they see: the agent key is required on `/mcp` (401 with
//! `WWW-Authenticate` otherwise), other credentials are refused, an agent sees only its own purchases
//! and services through every tool, the Host check follows the configuration, and clients of the
//! 2026-07-28 protocol (`server/discover`) are served as well as `initialize` clients.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod mcp_support;

use common::{TestServer, fund};
use mcp_support::{Transport, connect, connect_discover, error, ok, tools};
use reqwest::StatusCode;
use serde_json::{Value, json};

const BOTH: [Transport; 2] = [Transport::Http, Transport::Stdio];

/// POST one JSON-RPC message to `/mcp` as a bare HTTP client would.
async fn post_mcp(s: &TestServer, bearer: Option<&str>, host: Option<&str>) -> common::Reply {
    let mut request = s
        .client
        .post(format!("{}/mcp", s.base))
        .header("Accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
        );
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(host) = host {
        request = request.header("Host", host);
    }
    s.send(request).await
}

#[tokio::test]
async fn mcp_without_an_agent_key_is_401_with_www_authenticate() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "a").await;
    let revoked = {
        let (agent_id, key) = s.agent(&owner, "b").await;
        let listed = s
            .get(&format!("/v1/account/agents/{agent_id}/keys"), &owner.token)
            .await;
        let key_id = listed.body["items"][0]["id"].as_str().unwrap().to_owned();
        let gone = s
            .delete(
                &format!("/v1/account/agents/{agent_id}/keys/{key_id}"),
                &owner.token,
            )
            .await;
        assert!(gone.status.is_success(), "{}", gone.text);
        key
    };
    let not_a_key = format!("{}x", &key[..key.len() - 1]);
    for bearer in [
        None,
        Some(owner.token.as_str()),
        Some(not_a_key.as_str()),
        Some(revoked.as_str()),
        Some("ark_live_key_01.secret"),
    ] {
        let reply = post_mcp(&s, bearer, None).await;
        common::assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthenticated");
        assert!(
            reply.headers.get("www-authenticate").is_some(),
            "{bearer:?}: {:?}",
            reply.headers
        );
    }
    let reply = post_mcp(&s, Some(&key), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["result"]["serverInfo"]["name"], "agent-store");
    s.stop().await;
}

#[tokio::test]
async fn the_stdio_forwarder_with_a_bad_key_answers_each_call_with_the_unauthenticated_error() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let client = connect(&s, &owner.token, Transport::Stdio).await;
    // tools/list needs no key: it is the same static table.
    assert_eq!(tools(&client).await.len(), 23);
    let err = error(&client, "wallet_get", json!({})).await;
    assert_eq!(err["code"], "unauthenticated");
    client.cancel().await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn an_agent_sees_only_its_own_purchases_and_services_through_every_tool() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, buyer) = s.agent(&owner, "buyer").await;
    let (_, sibling) = s.agent(&owner, "sibling").await;
    let stranger = {
        let other = s.owner().await;
        fund(&s, &other, 10_000).await;
        s.agent(&other, "stranger").await.1
    };

    let client = connect(&s, &buyer, Transport::Http).await;
    let config = json!({"region": "us-east", "storageClass": "object", "capacityGb": 250});
    let quote = ok(
        &client,
        "quote_create",
        json!({"catalogItemId": "cat_storage_object_001", "configuration": config}),
    )
    .await;
    let spare_quote = ok(
        &client,
        "quote_create",
        json!({"catalogItemId": "cat_storage_object_001", "configuration": config}),
    )
    .await;
    let bought = ok(
        &client,
        "purchase_create",
        json!({"quoteId": quote["quote"]["id"], "idempotencyKey": "mine-1"}),
    )
    .await;
    let purchase_id = bought["purchase"]["id"].as_str().unwrap().to_owned();
    let done = mcp_support::wait_for_purchase(&client, &purchase_id).await;
    let service_id = done["serviceId"].as_str().unwrap().to_owned();
    client.cancel().await.unwrap();

    for key in [&sibling, &stranger] {
        for transport in BOTH {
            let other = connect(&s, key, transport).await;
            let empty = |v: &Value| v["items"].as_array().is_some_and(Vec::is_empty);
            assert!(empty(&ok(&other, "purchase_list", json!({})).await));
            assert!(empty(&ok(&other, "service_list", json!({})).await));
            for (tool, arguments) in [
                ("purchase_get_status", json!({"purchaseId": purchase_id})),
                ("purchase_cancel", json!({"purchaseId": purchase_id})),
                ("service_get", json!({"serviceId": service_id})),
                (
                    "purchase_create",
                    json!({"quoteId": spare_quote["quote"]["id"], "idempotencyKey": "theirs-1"}),
                ),
            ] {
                let err = error(&other, tool, arguments).await;
                assert_eq!(err["code"], "not_found", "{tool} {transport:?}: {err}");
            }
            other.cancel().await.unwrap();
        }
    }
    // The owner of the purchase still sees it all.
    let client = connect(&s, &buyer, Transport::Stdio).await;
    let mine = ok(&client, "service_list", json!({})).await;
    assert_eq!(mine["items"][0]["id"], service_id.as_str());
    client.cancel().await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn the_host_check_follows_the_configured_list_and_the_public_base_url() {
    let s = TestServer::start_with(|c| {
        c.mcp.allowed_hosts = vec!["store.example.com".to_owned()];
    })
    .await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "a").await;
    let listen = s.base.trim_start_matches("http://").to_owned();
    for (host, allowed) in [
        ("store.example.com", true),
        ("store.example.com:8443", true),
        (listen.as_str(), true),
        ("evil.example.com", false),
        ("localhost", false),
    ] {
        let reply = post_mcp(&s, Some(&key), Some(host)).await;
        let expected = if allowed {
            StatusCode::OK
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(reply.status, expected, "{host}: {}", reply.text);
    }
    s.stop().await;
}

#[tokio::test]
async fn a_client_of_the_2026_protocol_using_server_discover_gets_the_same_tools_and_results() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 5000).await;
    let (_, key) = s.agent(&owner, "a").await;
    let modern = connect_discover(&s, &key).await;
    let classic = connect(&s, &key, Transport::Http).await;
    assert_eq!(
        serde_json::to_value(tools(&modern).await).unwrap(),
        serde_json::to_value(tools(&classic).await).unwrap()
    );
    let wallet = ok(&modern, "wallet_get", json!({})).await;
    assert_eq!(wallet["wallet"]["availableMinor"], 5000);
    let denied = error(
        &modern,
        "purchase_create",
        json!({"catalogItemId": "cat_vps_gpu_standard", "idempotencyKey": "too-dear",
               "configuration": {"hostname": "gpu-01", "region": "us-east",
                                 "image": "nvidia-ai-ubuntu", "billingTermMonths": 1}}),
    )
    .await;
    assert_eq!(denied["code"], "insufficient_funds", "{denied}");
    assert_eq!(denied["details"]["availableMinor"], 5000);
    modern.cancel().await.unwrap();
    classic.cancel().await.unwrap();
    s.stop().await;
}
