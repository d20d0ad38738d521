//! The LLM router reference flow of SPEC section 14, over MCP and over HTTP: search router credits,
//! checkout requirements, quote 25 USD, purchase, service, router key, list models, chat completion
//! (with `claude-sonnet-4`, an alias served by the mock upstream, and with the sandbox model).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod mcp_support;
mod router_support;

use common::{TestServer, assert_books_balance, fund, wait_for_purchase};
use mcp_support::{Transport, connect, ok};
use reqwest::StatusCode;
use router_support::*;
use serde_json::json;

#[tokio::test]
async fn the_llm_router_reference_flow_works_over_http() {
    let mock = start_mock().await;
    let m = mock.clone();
    let s = TestServer::start_with(move |c| configure(c, &m)).await;
    let owner = s.owner().await;
    fund(&s, &owner, 5000).await;
    let (_, key) = s.agent(&owner, "builder").await;
    let found = s
        .get(
            "/v1/agent/catalog/items?category=api_tokens&q=router%20credits&limit=1",
            &key,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    let item = found.body["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(item, "cat_router_credit_001");
    let requirements = s
        .get(&format!("/v1/agent/catalog/items/{item}/checkout"), &key)
        .await;
    assert_eq!(requirements.status, StatusCode::OK, "{}", requirements.text);
    let quote = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": item, "quantity": 1, "configuration": {"creditAmountUsd": 25}}),
        )
        .await;
    assert_eq!(
        quote.body["quote"]["totalPriceMinor"], 2500,
        "{}",
        quote.text
    );
    let purchase = s
        .post(
            "/v1/agent/purchases",
            &key,
            json!({"quoteId": quote.body["quote"]["id"], "idempotencyKey": "router-flow-1"}),
        )
        .await;
    assert_eq!(purchase.status, StatusCode::CREATED, "{}", purchase.text);
    let done = wait_for_purchase(
        &s,
        &key,
        "/v1/agent",
        purchase.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    let service_id = done["serviceId"].as_str().unwrap().to_owned();
    let service = s
        .get(&format!("/v1/agent/services/{service_id}"), &key)
        .await;
    let base_url = service.body["service"]["details"]["baseUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(base_url, format!("{}/openai/v1", s.base));
    assert_eq!(
        service.body["service"]["details"]["creditBalanceMicroUsd"],
        25_000_000
    );
    let created = s
        .post(
            &format!("/v1/agent/services/{service_id}/router/api-keys"),
            &key,
            json!({"label": "production"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let router_key = created.body["routerApiKey"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(router_key.starts_with("ark_live_rk_"));
    assert_eq!(created.body["routerApiKey"]["baseUrl"], base_url.as_str());
    let models = s.get("/openai/v1/models", &router_key).await;
    assert_eq!(models.body["object"], "list");
    let reply = chat(
        &s,
        &router_key,
        json!({"model": "claude-sonnet-4", "messages": [{"role": "user", "content": "hello"}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["object"], "chat.completion");
    wait_settled(&s, &service_id).await;
    let (balance, _) = balances(&s, &service_id).await;
    assert_eq!(balance, 25_000_000 - (PROMPT + 2 * COMPLETION));
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn the_llm_router_reference_flow_works_over_mcp() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 5000).await;
    let (_, key) = s.agent(&owner, "builder").await;
    let client = connect(&s, &key, Transport::Http).await;
    let found = ok(
        &client,
        "catalog_search",
        json!({"category": "api_tokens", "q": "router credits", "limit": 1}),
    )
    .await;
    assert_eq!(found["items"][0]["id"], "cat_router_credit_001");
    ok(
        &client,
        "catalog_checkout_requirements",
        json!({"catalogItemId": "cat_router_credit_001"}),
    )
    .await;
    let quote = ok(
        &client,
        "quote_create",
        json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
               "configuration": {"creditAmountUsd": 25}}),
    )
    .await;
    assert_eq!(quote["quote"]["totalPriceMinor"], 2500);
    let purchase = ok(
        &client,
        "purchase_create",
        json!({"quoteId": quote["quote"]["id"], "idempotencyKey": "router-mcp-1"}),
    )
    .await;
    let done =
        mcp_support::wait_for_purchase(&client, purchase["purchase"]["id"].as_str().unwrap()).await;
    let service_id = done["serviceId"].as_str().unwrap().to_owned();
    let service = ok(&client, "service_get", json!({"serviceId": service_id})).await;
    assert_eq!(service["service"]["serviceType"], "llm_router");
    let created = ok(
        &client,
        "router_api_key_create",
        json!({"serviceId": service_id, "label": "production"}),
    )
    .await;
    let router_key = created["routerApiKey"]["key"].as_str().unwrap().to_owned();
    let listed = ok(
        &client,
        "router_api_key_list",
        json!({"serviceId": service_id}),
    )
    .await;
    assert!(listed["items"][0].get("key").is_none());
    let reply = chat(
        &s,
        &router_key,
        json!({"model": "sandbox/echo", "messages": [{"role": "user", "content": "hi there"}]}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body["choices"][0]["message"]["content"],
        "Echo: hi there"
    );
    wait_settled(&s, &service_id).await;
    let usage = ok(
        &client,
        "router_usage_get",
        json!({"serviceId": service_id}),
    )
    .await;
    assert_eq!(usage["usage"]["totals"]["requests"], 1);
    assert_eq!(usage["usage"]["byModel"][0]["model"], "sandbox/echo");
    let revoked = ok(
        &client,
        "router_api_key_revoke",
        json!({"serviceId": service_id, "keyId": created["routerApiKey"]["id"]}),
    )
    .await;
    assert!(revoked["routerApiKey"]["revokedAt"].is_string());
    let refused = s.get("/openai/v1/models", &router_key).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    client.cancel().await.unwrap();
    assert_books_balance(s.app()).await;
}
