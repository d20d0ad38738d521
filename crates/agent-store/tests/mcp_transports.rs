//! The MCP server over both transports, driven by the rmcp client: hosted Streamable HTTP at `/mcp`
//! and the `agent-store mcp` stdio binary forwarding to the Agent API. Each scenario runs on both.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod mcp_support;

use common::{TestServer, fund};
use mcp_support::{Transport, call, connect, error, ok, tools, try_call, wait_for_purchase};
use reqwest::StatusCode;
use serde_json::{Value, json};

const BOTH: [Transport; 2] = [Transport::Http, Transport::Stdio];

fn vps(hostname: &str) -> Value {
    json!({"hostname": hostname, "region": "eu-west", "image": "ubuntu-24.04",
           "billingTermMonths": 1, "backupsEnabled": true})
}

/// A funded account with one agent; returns (owner, agent key).
async fn funded_agent(s: &TestServer, minor: i64) -> (common::Owner, String) {
    let owner = s.owner().await;
    fund(s, &owner, minor).await;
    let (_, key) = s.agent(&owner, "mcp-agent").await;
    (owner, key)
}

/// The server reference flow of SPEC section 14, step by step through the tools.
async fn purchase_flow_reaches_a_completed_service(transport: Transport) {
    let s = TestServer::start().await;
    let (_, key) = funded_agent(&s, 10_000).await;
    let client = connect(&s, &key, transport).await;

    let categories = ok(&client, "catalog_categories", json!({})).await;
    assert!(
        categories["categories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "compute"),
        "{categories}"
    );
    let found = ok(
        &client,
        "catalog_search",
        json!({"category": "compute", "q": "vps", "limit": 3}),
    )
    .await;
    let ids: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["cat_vps_micro", "cat_vps_small", "cat_vps_gpu_standard"]
    );
    let checkout = ok(
        &client,
        "catalog_checkout_requirements",
        json!({"catalogItemId": ids[0]}),
    )
    .await;
    assert_eq!(checkout["checkoutKind"], "custom");
    let quote = ok(
        &client,
        "quote_create",
        json!({"catalogItemId": ids[0], "quantity": 1, "configuration": vps("deploy-node-01")}),
    )
    .await;
    assert_eq!(quote["quote"]["totalPriceMinor"], 2400);
    assert_eq!(quote["quote"]["policyPreview"]["decision"], "allow");
    let purchase = ok(
        &client,
        "purchase_create",
        json!({"quoteId": quote["quote"]["id"], "idempotencyKey": "deploy-node-01"}),
    )
    .await;
    let purchase_id = purchase["purchase"]["id"].as_str().unwrap().to_owned();
    let done = wait_for_purchase(&client, &purchase_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let service_id = done["serviceId"].as_str().unwrap().to_owned();

    let services = ok(
        &client,
        "service_list",
        json!({"serviceType": "server", "status": "active"}),
    )
    .await;
    assert_eq!(services["items"][0]["id"], service_id.as_str());
    let service = ok(&client, "service_get", json!({"serviceId": service_id})).await;
    assert_eq!(service["service"]["status"], "active");
    assert_eq!(service["service"]["details"]["hostname"], "deploy-node-01");
    let listed = ok(&client, "purchase_list", json!({"status": "completed"})).await;
    assert_eq!(listed["items"][0]["id"], purchase_id.as_str());
    let wallet = ok(&client, "wallet_get", json!({})).await;
    assert_eq!(wallet["wallet"]["availableMinor"], 10_000 - 2400);
    let policy = ok(&client, "policy_get_effective", json!({})).await;
    assert_eq!(policy["usage"]["spentTodayMinor"], 2400, "{policy}");

    client.cancel().await.unwrap();
    common::assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_purchase_flow_reaches_a_completed_service_over_http() {
    purchase_flow_reaches_a_completed_service(Transport::Http).await;
}

#[tokio::test]
async fn the_purchase_flow_reaches_a_completed_service_over_stdio() {
    purchase_flow_reaches_a_completed_service(Transport::Stdio).await;
}

#[tokio::test]
async fn a_policy_denial_is_an_error_result_carrying_the_rest_error_object() {
    let s = TestServer::start().await;
    let (owner, key) = funded_agent(&s, 10_000).await;
    let policy = s
        .send(
            s.client
                .put(format!("{}/v1/account/policy", s.base))
                .bearer_auth(&owner.token)
                .json(&json!({"maxPurchaseMinor": 100})),
        )
        .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.text);
    let body = json!({"catalogItemId": "cat_vps_micro", "configuration": vps("denied-01"),
                      "idempotencyKey": "denied-1"});
    let rest = s.post("/v1/agent/purchases", &key, body.clone()).await;
    let rest_error = common::assert_error(&rest, StatusCode::FORBIDDEN, "policy_denied");
    for transport in BOTH {
        let client = connect(&s, &key, transport).await;
        let mcp_error = error(&client, "purchase_create", body.clone()).await;
        assert_eq!(mcp_error["code"], "policy_denied", "{transport:?}");
        let reasons = mcp_error["details"]["reasons"].as_array().unwrap();
        assert!(
            reasons
                .iter()
                .any(|r| r.to_string().contains("max_purchase_exceeded")),
            "{mcp_error}"
        );
        // The same object as REST, but for the id of the request that carried it.
        let strip = |mut e: Value| {
            e["requestId"] = Value::Null;
            e
        };
        assert_eq!(strip(mcp_error.clone()), strip(rest_error.clone()));
        assert!(
            mcp_error["requestId"]
                .as_str()
                .is_some_and(|id| id.starts_with("req_"))
        );
        client.cancel().await.unwrap();
    }
    let wallet = s.get("/v1/agent/wallet", &key).await;
    assert_eq!(wallet.body["wallet"]["availableMinor"], 10_000);
    s.stop().await;
}

#[tokio::test]
async fn a_replayed_idempotency_key_returns_the_same_purchase_and_debits_once() {
    let s = TestServer::start().await;
    let (_, key) = funded_agent(&s, 10_000).await;
    let body = json!({"catalogItemId": "cat_vps_micro", "configuration": vps("replay-01"),
                      "idempotencyKey": "replay-1"});
    let mut results = Vec::new();
    for transport in BOTH {
        let client = connect(&s, &key, transport).await;
        for _ in 0..2 {
            let result = call(&client, "purchase_create", body.clone()).await;
            assert_eq!(result.is_error, Some(false), "{result:?}");
            results.push(result);
        }
        client.cancel().await.unwrap();
    }
    let first = results[0].structured_content.clone().unwrap();
    for replay in &results[1..] {
        assert_eq!(replay.structured_content.as_ref(), Some(&first));
        let meta = replay.meta.as_ref().expect("a replay says so in _meta");
        assert_eq!(
            meta.get("agent-store/idempotentReplayed"),
            Some(&json!(true))
        );
    }
    assert!(results[0].meta.is_none(), "the first call is not a replay");
    // REST replays it too: one key, one purchase, whichever door the retry comes through.
    let rest = s.post("/v1/agent/purchases", &key, body).await;
    assert_eq!(rest.body, first);
    let wallet = s.get("/v1/agent/wallet", &key).await;
    assert_eq!(wallet.body["wallet"]["balanceMinor"], 10_000 - 2400);
    let purchases = s.get("/v1/agent/purchases", &key).await;
    assert_eq!(purchases.body["items"].as_array().unwrap().len(), 1);
    // A different request under the same key is refused, not bought.
    let client = connect(&s, &key, Transport::Http).await;
    let mismatch = error(
        &client,
        "purchase_create",
        json!({"catalogItemId": "cat_vps_micro", "configuration": vps("other-01"),
               "idempotencyKey": "replay-1"}),
    )
    .await;
    assert_eq!(mismatch["code"], "idempotency_key_mismatch");
    client.cancel().await.unwrap();
    common::assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn tools_list_is_identical_over_http_and_stdio() {
    let s = TestServer::start().await;
    let (_, key) = funded_agent(&s, 1000).await;
    let http = connect(&s, &key, Transport::Http).await;
    let stdio = connect(&s, &key, Transport::Stdio).await;
    let over_http = serde_json::to_value(tools(&http).await).unwrap();
    let over_stdio = serde_json::to_value(tools(&stdio).await).unwrap();
    assert_eq!(over_http, over_stdio);
    assert_eq!(over_http.as_array().unwrap().len(), 23);
    for transport in [&http, &stdio] {
        let info = transport.peer_info().unwrap().server_info.clone().unwrap();
        assert_eq!(info.name, "agent-store");
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    }
    http.cancel().await.unwrap();
    stdio.cancel().await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn unknown_tools_and_arguments_outside_the_schema_are_protocol_errors() {
    let s = TestServer::start().await;
    let (_, key) = funded_agent(&s, 1000).await;
    for transport in BOTH {
        let client = connect(&s, &key, transport).await;
        for (tool, arguments) in [
            ("no_such_tool", json!({})),
            ("catalog_search", json!({"category": "boats"})),
            ("purchase_create", json!({"quoteId": "quote_x"})),
            ("wallet_get", json!({"extra": true})),
        ] {
            let err = try_call(&client, tool, arguments).await.unwrap_err();
            let rmcp::ServiceError::McpError(data) = err else {
                panic!("{tool}: expected a JSON-RPC error, got {err:?}");
            };
            assert_eq!(data.code, rmcp::model::ErrorCode::INVALID_PARAMS, "{tool}");
        }
        // Valid arguments with a bad value the API judges: a business error, with each field.
        let invalid = error(
            &client,
            "quote_create",
            json!({"catalogItemId": "cat_vps_micro", "configuration": {"hostname": "-bad-"}}),
        )
        .await;
        assert_eq!(invalid["code"], "validation_failed");
        assert!(
            invalid["details"]["fields"].as_array().unwrap().len() >= 3,
            "{invalid}"
        );
        let missing = error(
            &client,
            "purchase_get_status",
            json!({"purchaseId": "pur_nope"}),
        )
        .await;
        assert_eq!(missing["code"], "not_found");
        client.cancel().await.unwrap();
    }
    s.stop().await;
}
