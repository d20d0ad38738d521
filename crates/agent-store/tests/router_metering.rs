//! The OpenAI-compatible router against a mock upstream (a real HTTP server on port 0): exact charges
//! for JSON and streamed answers, the usage chunk, client disconnects, upstream errors, fallbacks,
//! key revocation and exhausted credits. Every money test ends with the books checked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod router_support;

use std::time::Duration;

use common::{TestServer, assert_books_balance};
use futures_util::StreamExt;
use reqwest::StatusCode;
use router_support::*;
use serde_json::{Value, json};

const CREDITS: i64 = 25_000_000;

async fn start() -> (TestServer, Mock) {
    let mock = start_mock().await;
    let m = mock.clone();
    let s = TestServer::start_with(move |c| configure(c, &m)).await;
    (s, mock)
}

fn hello(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "say hello"}]})
}

/// The cost of a `mock-ok` answer at the test prices (1 and 2 USD per million tokens).
const OK_COST: i64 = PROMPT + 2 * COMPLETION;

#[tokio::test]
async fn a_non_streaming_completion_is_charged_exactly_its_usage_and_logged() {
    let (s, mock) = start().await;
    let r = router_service(&s, 25).await;
    let mut body = hello("claude-sonnet-4");
    body["user"] = json!("end-user-7");
    body["x_vendor_option"] = json!({"keep": true});
    let reply = chat(&s, &r.router_key, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body["choices"][0]["message"]["content"],
        "hello from mock"
    );
    assert_eq!(reply.body["usage"]["completion_tokens"], COMPLETION);
    // Unknown fields pass through; the model name is the upstream's; max_tokens is capped.
    let sent = &mock.calls_for("mock-ok")[0];
    assert_eq!(sent["user"], "end-user-7");
    assert_eq!(sent["x_vendor_option"]["keep"], true);
    assert_eq!(sent["max_tokens"], 1000);
    assert_eq!(balances(&s, &r.service_id).await, (CREDITS - OK_COST, 0));
    let service = s
        .get(
            &format!("/v1/agent/services/{}", r.service_id),
            &r.agent_key,
        )
        .await;
    let details = &service.body["service"]["details"];
    assert_eq!(details["creditBalanceMicroUsd"], CREDITS - OK_COST);
    assert_eq!(details["creditsPurchasedMicroUsd"], CREDITS);
    assert_eq!(details["creditsUsedMicroUsd"], OK_COST);
    let usage = s
        .get(
            &format!("/v1/agent/services/{}/router/usage", r.service_id),
            &r.agent_key,
        )
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    let u = &usage.body["usage"];
    assert_eq!(u["totals"]["requests"], 1);
    assert_eq!(u["totals"]["promptTokens"], PROMPT);
    assert_eq!(u["totals"]["completionTokens"], COMPLETION);
    assert_eq!(u["totals"]["costMicroUsd"], OK_COST);
    // Logged under the model's id, not the alias the client used.
    assert_eq!(u["byModel"][0]["model"], "m-ok");
    assert_eq!(u["byKey"][0]["keyId"], r.router_key_id.as_str());
    let later = s
        .get(
            &format!(
                "/v1/agent/services/{}/router/usage?since=2999-01-01T00:00:00Z",
                r.service_id
            ),
            &r.agent_key,
        )
        .await;
    assert_eq!(later.body["usage"]["totals"]["requests"], 0);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn a_stream_is_charged_exactly_and_its_usage_chunk_is_shown_only_when_asked() {
    let (s, mock) = start().await;
    let r = router_service(&s, 25).await;
    let mut body = hello("m-ok");
    body["stream"] = json!(true);
    let plain = chat(&s, &r.router_key, body.clone()).await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.text);
    assert!(
        plain.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (events, done) = sse_events(&plain.text);
    assert!(done, "{}", plain.text);
    assert!(
        events.iter().all(|e| e.get("usage").is_none()),
        "{}",
        plain.text
    );
    let text: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "hello from mock");
    // The router asked the upstream for usage anyway.
    assert_eq!(
        mock.calls_for("mock-ok")[0]["stream_options"]["include_usage"],
        true
    );
    wait_settled(&s, &r.service_id).await;
    assert_eq!(balances(&s, &r.service_id).await, (CREDITS - OK_COST, 0));

    body["stream_options"] = json!({"include_usage": true});
    let with_usage = chat(&s, &r.router_key, body).await;
    let (events, done) = sse_events(&with_usage.text);
    assert!(done);
    let last = events.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], PROMPT);
    assert_eq!(last["usage"]["completion_tokens"], COMPLETION);
    wait_settled(&s, &r.service_id).await;
    assert_eq!(
        balances(&s, &r.service_id).await,
        (CREDITS - 2 * OK_COST, 0)
    );
    assert_eq!(charged_total(&s, &r.service_id).await, 2 * OK_COST);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn a_client_that_disconnects_mid_stream_is_still_charged_for_what_was_produced() {
    let (s, mock) = start().await;
    let r = router_service(&s, 25).await;
    let mut body = hello("m-slow");
    body["stream"] = json!(true);
    let response = s
        .client
        .post(format!("{}/openai/v1/chat/completions", s.base))
        .bearer_auth(&r.router_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
    drop(stream);
    wait_settled(&s, &r.service_id).await;
    // The upstream was read to its end and its reported usage charged.
    assert_eq!(
        mock.state
            .finished_streams
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    let cost = PROMPT + 2 * SLOW_CHUNKS;
    assert_eq!(balances(&s, &r.service_id).await, (CREDITS - cost, 0));
    let outcome: String =
        sqlx::query_scalar("SELECT outcome FROM router_requests WHERE service_id = $1")
            .bind(&r.service_id)
            .fetch_one(s.app().store().pool())
            .await
            .unwrap();
    assert_eq!(outcome, "client_disconnected");
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn upstream_errors_and_bad_requests_use_the_openai_error_envelope() {
    let (s, mock) = start().await;
    let r = router_service(&s, 25).await;
    let refused = chat(&s, &r.router_key, hello("m-400")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(refused.body["error"]["type"], "invalid_request_error");
    assert_eq!(refused.body["error"]["code"], "bad_messages");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messages[0]")
    );
    // A refusal of the request itself is not worth a fallback.
    assert!(mock.calls_for("mock-ok").is_empty());
    let failed = chat(&s, &r.router_key, hello("m-fail")).await;
    assert_eq!(failed.status, StatusCode::BAD_GATEWAY, "{}", failed.text);
    assert_eq!(failed.body["error"]["type"], "upstream_error");
    assert!(failed.body["error"].get("param").is_some());
    let streamed_fail = chat(
        &s,
        &r.router_key,
        json!({"model": "m-fail", "stream": true, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(streamed_fail.status, StatusCode::BAD_GATEWAY);
    let unknown = chat(&s, &r.router_key, hello("no-such-model")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["error"]["code"], "model_not_found");
    let malformed = s
        .send(
            s.client
                .post(format!("{}/openai/v1/chat/completions", s.base))
                .bearer_auth(&r.router_key)
                .header("content-type", "application/json")
                .body("{\"model\": "),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.body["error"]["type"], "invalid_request_error");
    let no_messages = chat(&s, &r.router_key, json!({"model": "m-ok"})).await;
    assert_eq!(no_messages.status, StatusCode::BAD_REQUEST);
    assert_eq!(no_messages.body["error"]["param"], "messages");
    // Failed calls cost nothing and release their reservations.
    wait_settled(&s, &r.service_id).await;
    assert_eq!(balances(&s, &r.service_id).await, (CREDITS, 0));
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn a_failing_upstream_falls_back_to_the_next_before_any_output() {
    let (s, mock) = start().await;
    let r = router_service(&s, 25).await;
    let reply = chat(&s, &r.router_key, hello("m-500")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.body["choices"][0]["message"]["content"],
        "hello from mock"
    );
    let mut body = hello("m-500");
    body["stream"] = json!(true);
    let streamed = chat(&s, &r.router_key, body).await;
    assert_eq!(streamed.status, StatusCode::OK);
    assert!(sse_events(&streamed.text).1);
    assert_eq!(mock.calls_for("mock-500").len(), 2);
    assert_eq!(mock.calls_for("mock-ok").len(), 2);
    wait_settled(&s, &r.service_id).await;
    let upstreams: Vec<String> =
        sqlx::query_scalar("SELECT upstream FROM router_requests WHERE service_id = $1")
            .bind(&r.service_id)
            .fetch_all(s.app().store().pool())
            .await
            .unwrap();
    assert_eq!(upstreams, vec!["secondary", "secondary"]);
    assert_eq!(
        balances(&s, &r.service_id).await,
        (CREDITS - 2 * OK_COST, 0)
    );
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn no_fallback_happens_once_output_was_sent_and_the_output_is_still_charged() {
    let (s, mock) = start().await;
    let r = router_service(&s, 25).await;
    let mut body = hello("m-break");
    body["stream"] = json!(true);
    let reply = chat(&s, &r.router_key, body).await;
    assert_eq!(reply.status, StatusCode::OK);
    let (events, done) = sse_events(&reply.text);
    assert!(!done, "a broken stream must not end with [DONE]");
    assert!(
        events
            .iter()
            .any(|e| e["choices"][0]["delta"]["content"] == "w0 ")
    );
    assert_eq!(events.last().unwrap()["error"]["type"], "upstream_error");
    assert!(
        mock.calls_for("mock-ok").is_empty(),
        "no fallback after output"
    );
    wait_settled(&s, &r.service_id).await;
    // No usage was reported: the prompt bound and the produced bytes are charged.
    let (balance, reserved) = balances(&s, &r.service_id).await;
    assert_eq!(reserved, 0);
    assert!(balance < CREDITS);
    assert_eq!(charged_total(&s, &r.service_id).await, CREDITS - balance);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn router_keys_work_only_on_the_router_and_a_revoked_key_is_refused() {
    let (s, _mock) = start().await;
    let r = router_service(&s, 25).await;
    let models = s.get("/openai/v1/models", &r.router_key).await;
    assert_eq!(models.status, StatusCode::OK, "{}", models.text);
    assert_eq!(models.body["object"], "list");
    let ids: Vec<&str> = models.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"sandbox/echo") && ids.contains(&"claude-sonnet-4"),
        "{ids:?}"
    );
    // The agent key is refused on the router; the router key on the Agent API and on MCP.
    let agent_on_router = s.get("/openai/v1/models", &r.agent_key).await;
    assert_eq!(agent_on_router.status, StatusCode::UNAUTHORIZED);
    assert_eq!(agent_on_router.body["error"]["code"], "invalid_api_key");
    let router_on_agent = s.get("/v1/agent/wallet", &r.router_key).await;
    assert_eq!(router_on_agent.status, StatusCode::UNAUTHORIZED);
    let router_on_mcp = s
        .post(
            "/mcp",
            &r.router_key,
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        )
        .await;
    assert_eq!(
        router_on_mcp.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        router_on_mcp.text
    );
    // Another agent cannot see the service; the account can list and revoke.
    let (_, other_key) = s.agent(&r.owner, "other").await;
    let hidden = s
        .get(
            &format!("/v1/agent/services/{}/router/api-keys", r.service_id),
            &other_key,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    let listed = s
        .get(
            &format!("/v1/account/services/{}/router/api-keys", r.service_id),
            &r.owner.token,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["items"][0]["id"], r.router_key_id.as_str());
    assert!(listed.body["items"][0].get("key").is_none());
    let revoked = s
        .delete(
            &format!(
                "/v1/account/services/{}/router/api-keys/{}",
                r.service_id, r.router_key_id
            ),
            &r.owner.token,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert!(revoked.body["routerApiKey"]["revokedAt"].is_string());
    let refused = chat(&s, &r.router_key, hello("sandbox/echo")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.body["error"]["type"], "invalid_request_error");
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn an_exhausted_balance_is_refused_with_402_insufficient_credits() {
    let (s, _mock) = start().await;
    let r = router_service(&s, 5).await;
    let refused = chat(&s, &r.router_key, hello("m-pricey")).await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.text
    );
    assert_eq!(refused.body["error"]["code"], "insufficient_credits");
    assert_eq!(balances(&s, &r.service_id).await, (5_000_000, 0));
    // A request that fits is still served; the refused one is in the log at no cost.
    let ok = chat(&s, &r.router_key, hello("sandbox/echo")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(
        ok.body["choices"][0]["message"]["content"],
        "Echo: say hello"
    );
    // The usage log is written in batches; reads through the API flush first, this one by hand.
    s.app().flush_router_usage().await.unwrap();
    let outcomes: Vec<String> = sqlx::query_scalar(
        "SELECT outcome FROM router_requests WHERE service_id = $1 ORDER BY created_at, id",
    )
    .bind(&r.service_id)
    .fetch_all(s.app().store().pool())
    .await
    .unwrap();
    assert_eq!(outcomes, vec!["insufficient_credits", "ok"]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn usage_beyond_the_reservation_is_charged_from_the_balance_but_never_below_zero() {
    let (s, _mock) = start().await;
    // Plenty of credits: the whole reported usage is charged, though it exceeds the reservation.
    let rich = router_service(&s, 25).await;
    let ok = chat(&s, &rich.router_key, hello("m-over")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    wait_settled(&s, &rich.service_id).await;
    let reserved: i64 = sqlx::query_scalar(
        "SELECT reserved_micro FROM router_requests WHERE service_id = $1 AND outcome = 'ok'",
    )
    .bind(&rich.service_id)
    .fetch_one(s.app().store().pool())
    .await
    .unwrap();
    let cost = OVER_PROMPT + 2 * COMPLETION;
    assert!(
        reserved < cost,
        "the mock must exceed the reservation ({reserved} >= {cost})"
    );
    assert_eq!(charged_total(&s, &rich.service_id).await, cost);
    assert_eq!(balances(&s, &rich.service_id).await, (CREDITS - cost, 0));

    // 5 USD of credits against a 5.00004 USD answer: everything there is charged, nothing more.
    let poor = router_service(&s, 5).await;
    let ok = chat(&s, &poor.router_key, hello("m-over-pricey")).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    wait_settled(&s, &poor.service_id).await;
    assert_eq!(charged_total(&s, &poor.service_id).await, 5_000_000);
    assert_eq!(balances(&s, &poor.service_id).await, (0, 0));
    let logged: i64 = sqlx::query_scalar(
        "SELECT cost_micro FROM router_requests WHERE service_id = $1 AND outcome = 'ok'",
    )
    .bind(&poor.service_id)
    .fetch_one(s.app().store().pool())
    .await
    .unwrap();
    assert_eq!(logged, 5_000_000, "the log shows what was charged");
    // The empty service refuses the next request instead of going negative.
    let refused = chat(&s, &poor.router_key, hello("sandbox/echo")).await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.text
    );
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn a_router_key_over_its_rate_limit_gets_an_openai_429_with_retry_after() {
    let mock = start_mock().await;
    let m = mock.clone();
    // The production defaults (the harness raises them for other tests): a bucket of 40 requests
    // refilled at 20 per second, so 120 requests sent at once cannot all pass unless they took 4 s.
    let s = TestServer::start_with(move |c| {
        configure(c, &m);
        c.limits = agent_store_app::config::LimitsConfig::default();
    })
    .await;
    let r = router_service(&s, 5).await;
    let replies =
        futures_util::future::join_all((0..120).map(|_| s.get("/openai/v1/models", &r.router_key)))
            .await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let limited: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(ok + limited.len(), 120, "only 200 or 429");
    assert!(ok >= 40, "the burst is served: {ok}");
    let first = limited
        .first()
        .expect("requests over the burst are refused");
    assert_eq!(first.body["error"]["type"], "rate_limit_error");
    assert_eq!(first.body["error"]["code"], "rate_limited");
    let retry: u64 = first.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    // The limit is per key: a second key on the same service is not affected.
    let other = s
        .post(
            &format!("/v1/agent/services/{}/router/api-keys", r.service_id),
            &r.agent_key,
            json!({"label": "second"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text);
    let key2 = other.body["routerApiKey"]["key"].as_str().unwrap();
    assert_eq!(
        s.get("/openai/v1/models", key2).await.status,
        StatusCode::OK
    );
}
