//! Router test support: a mock OpenAI-compatible upstream (a real axum server on 127.0.0.1:0) whose
//! behaviour is chosen by the upstream model name, a router configuration pointing at it, and a
//! helper that buys router credits over HTTP and mints a router key.

#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_store_app::Config;
use agent_store_app::router::config::{ModelConfig, UpstreamConfig};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use reqwest::StatusCode as Status;
use serde_json::{Value, json};

use crate::common::{Owner, TestServer, fund, wait_for_purchase};

/// What the mock saw.
#[derive(Debug, Default)]
pub struct MockState {
    pub calls: Mutex<Vec<Value>>,
    pub finished_streams: AtomicUsize,
}

#[derive(Debug, Clone)]
pub struct Mock {
    pub base_url: String,
    pub state: Arc<MockState>,
}

impl Mock {
    /// Calls made for an upstream model name.
    pub fn calls_for(&self, model: &str) -> Vec<Value> {
        self.state
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b["model"] == model)
            .cloned()
            .collect()
    }
}

/// Usage every `mock-ok` answer reports.
pub const PROMPT: i64 = 10;
pub const COMPLETION: i64 = 20;
/// Prompt tokens `mock-over` reports: far more than any test request has bytes, so its usage exceeds
/// the worst case the router reserved.
pub const OVER_PROMPT: i64 = 5000;
/// `mock-slow` streams this many content chunks, one every 20 ms, then reports this usage.
pub const SLOW_CHUNKS: i64 = 40;

fn chunk(model: &str, delta: Value, finish: Value) -> String {
    json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1, "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    .to_string()
}

fn sse(events: Vec<String>) -> String {
    events
        .into_iter()
        .map(|e| format!("data: {e}\n\n"))
        .collect::<String>()
}

async fn completions(State(state): State<Arc<MockState>>, Json(body): Json<Value>) -> Response {
    state.calls.lock().unwrap().push(body.clone());
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    let streaming = body["stream"].as_bool().unwrap_or(false);
    let usage = json!({"prompt_tokens": PROMPT, "completion_tokens": COMPLETION, "total_tokens": PROMPT + COMPLETION});
    match model.as_str() {
        "mock-400" => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": "messages[0] is invalid", "type": "invalid_request_error",
                                  "param": "messages", "code": "bad_messages"}})),
        )
            .into_response(),
        "mock-500" => (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded").into_response(),
        "mock-over" => Json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "a long prompt"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": OVER_PROMPT, "completion_tokens": COMPLETION,
                      "total_tokens": OVER_PROMPT + COMPLETION}}))
        .into_response(),
        "mock-hang" => {
            // One chunk, then nothing for a minute: a request still in flight when its server dies.
            let model2 = model.clone();
            let stream = async_stream(move |tx| async move {
                let _ = tx.send(Ok(Bytes::from(sse(vec![chunk(&model2, json!({"role": "assistant", "content": "partial"}), Value::Null)])))).await;
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
            ([("content-type", "text/event-stream")], Body::from_stream(stream)).into_response()
        }
        "mock-ok" if !streaming => Json(json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello from mock"},
                         "finish_reason": "stop"}],
            "usage": usage, "system_fingerprint": "fp_mock"}))
        .into_response(),
        "mock-ok" => {
            let mut events = vec![chunk(&model, json!({"role": "assistant", "content": ""}), Value::Null)];
            for word in ["hello", " from", " mock"] {
                events.push(chunk(&model, json!({"content": word}), Value::Null));
            }
            events.push(chunk(&model, json!({}), json!("stop")));
            if body.pointer("/stream_options/include_usage") == Some(&json!(true)) {
                events.push(json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1,
                                   "model": model, "choices": [], "usage": usage}).to_string());
            }
            events.push("[DONE]".to_owned());
            ([("content-type", "text/event-stream")], sse(events)).into_response()
        }
        "mock-slow" | "mock-break" => {
            let breaks = model == "mock-break";
            let state = state.clone();
            let model2 = model.clone();
            let stream = async_stream(move |tx| async move {
                let _ = tx.send(Ok(Bytes::from(sse(vec![chunk(&model2, json!({"role": "assistant", "content": ""}), Value::Null)])))).await;
                let n = if breaks { 2 } else { SLOW_CHUNKS };
                for i in 0..n {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    let _ = tx.send(Ok(Bytes::from(sse(vec![chunk(&model2, json!({"content": format!("w{i} ")}), Value::Null)])))).await;
                }
                if breaks {
                    let _ = tx.send(Err(std::io::Error::other("cut"))).await;
                    return;
                }
                let usage = json!({"prompt_tokens": PROMPT, "completion_tokens": SLOW_CHUNKS,
                                   "total_tokens": PROMPT + SLOW_CHUNKS});
                let tail = sse(vec![
                    chunk(&model2, json!({}), json!("stop")),
                    json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1,
                           "model": model2, "choices": [], "usage": usage}).to_string(),
                    "[DONE]".to_owned(),
                ]);
                let _ = tx.send(Ok(Bytes::from(tail))).await;
                state.finished_streams.fetch_add(1, Ordering::SeqCst);
            });
            ([("content-type", "text/event-stream")], Body::from_stream(stream)).into_response()
        }
        _ => (StatusCode::NOT_FOUND, Json(json!({"error": {"message": "no such model", "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}))).into_response(),
    }
}

/// A body stream fed by a task through a channel.
fn async_stream<F, Fut>(
    f: F,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(f(tx));
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) })
}

/// Start the mock upstream.
pub async fn start_mock() -> Mock {
    let state = Arc::new(MockState::default());
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
        Ok::<(), Infallible>(())
    });
    Mock {
        base_url: format!("http://{addr}/v1"),
        state,
    }
}

fn model(id: &str, upstream: &str, fallbacks: &[&str], aliases: &[&str]) -> ModelConfig {
    ModelConfig {
        id: id.to_owned(),
        upstream_model: Some(upstream.to_owned()),
        input_price_micro_per_million: 1_000_000,
        output_price_micro_per_million: 2_000_000,
        context_tokens: 100_000,
        max_output_tokens: 1000,
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        fallbacks: fallbacks.iter().map(|f| (*f).to_owned()).collect(),
    }
}

/// Point the router at the mock: `primary` serves m-ok (alias claude-sonnet-4), m-slow, m-400,
/// m-500 and m-break (both falling back to m-backup); `secondary` serves m-backup.
pub fn configure(config: &mut Config, mock: &Mock) {
    config.router.upstreams = vec![
        UpstreamConfig {
            name: "primary".into(),
            base_url: mock.base_url.clone(),
            api_key_env: None,
            models: vec![
                model("m-ok", "mock-ok", &[], &["claude-sonnet-4"]),
                model("m-slow", "mock-slow", &[], &[]),
                model("m-400", "mock-400", &["m-backup"], &[]),
                model("m-500", "mock-500", &["m-backup"], &[]),
                model("m-break", "mock-break", &["m-backup"], &[]),
                model("m-fail", "mock-500", &[], &[]),
                ModelConfig {
                    output_price_micro_per_million: 1_000_000_000_000,
                    ..model("m-pricey", "mock-ok", &[], &[])
                },
                // Reserves about 0.1 USD per request (1000 tokens at 100 USD per million) and
                // charges 10 + 20 * 100 = 2010 micro-USD.
                ModelConfig {
                    output_price_micro_per_million: 100_000_000,
                    ..model("m-mid", "mock-ok", &[], &[])
                },
                ModelConfig {
                    output_price_micro_per_million: 100_000_000,
                    ..model("m-mid-slow", "mock-slow", &[], &[])
                },
                model("m-over", "mock-over", &[], &[]),
                // 1000 micro-USD per prompt token: a `mock-over` answer costs 5 USD and 40 micro-USD.
                ModelConfig {
                    input_price_micro_per_million: 1_000_000_000,
                    ..model("m-over-pricey", "mock-over", &[], &[])
                },
                model("m-hang", "mock-hang", &[], &[]),
            ],
        },
        UpstreamConfig {
            name: "secondary".into(),
            base_url: mock.base_url.clone(),
            api_key_env: None,
            models: vec![model("m-backup", "mock-ok", &[], &[])],
        },
    ];
}

/// A router service with credits and a key.
#[derive(Debug, Clone)]
pub struct RouterSetup {
    pub owner: Owner,
    pub agent_key: String,
    pub service_id: String,
    pub router_key: String,
    pub router_key_id: String,
}

/// Fund the wallet, buy `usd` of router credits as an agent, wait for the service, mint a key.
pub async fn router_service(s: &TestServer, usd: i64) -> RouterSetup {
    let owner = s.owner().await;
    fund(s, &owner, usd * 100 + 10_000).await;
    let (_, agent_key) = s.agent(&owner, "router-agent").await;
    let quote = s
        .post(
            "/v1/agent/quotes",
            &agent_key,
            json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
                   "configuration": {"creditAmountUsd": usd}}),
        )
        .await;
    assert_eq!(quote.status, Status::CREATED, "{}", quote.text);
    let purchase = s
        .post(
            "/v1/agent/purchases",
            &agent_key,
            json!({"quoteId": quote.body["quote"]["id"], "idempotencyKey": "buy-router"}),
        )
        .await;
    assert_eq!(purchase.status, Status::CREATED, "{}", purchase.text);
    let purchase_id = purchase.body["purchase"]["id"].as_str().unwrap().to_owned();
    let done = wait_for_purchase(s, &agent_key, "/v1/agent", &purchase_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let service_id = done["serviceId"].as_str().unwrap().to_owned();
    let key = s
        .post(
            &format!("/v1/agent/services/{service_id}/router/api-keys"),
            &agent_key,
            json!({"label": "production"}),
        )
        .await;
    assert_eq!(key.status, Status::CREATED, "{}", key.text);
    RouterSetup {
        owner,
        agent_key,
        service_id,
        router_key: key.body["routerApiKey"]["key"].as_str().unwrap().to_owned(),
        router_key_id: key.body["routerApiKey"]["id"].as_str().unwrap().to_owned(),
    }
}

/// The service's ledger balances: (service:<svc>, reserved:<svc>), after the server has written its
/// finished requests and returned its idle credit leases (what a graceful shutdown does).
pub async fn balances(s: &TestServer, service_id: &str) -> (i64, i64) {
    s.app().release_router_leases().await.unwrap();
    let pool = s.app().store().pool();
    let service = agent_store_store::ledger::balance(pool, &format!("service:{service_id}"))
        .await
        .unwrap();
    let reserved = agent_store_store::ledger::balance(pool, &format!("reserved:{service_id}"))
        .await
        .unwrap();
    (service, reserved)
}

/// Wait (bounded: 10 s) until no request of the service is in flight: every finished request is
/// written and the service's credit lease has been returned (a lease is returned only when no
/// request holds part of it).
pub async fn wait_settled(s: &TestServer, service_id: &str) {
    for _ in 0..200 {
        let (_, reserved) = balances(s, service_id).await;
        if reserved == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("router requests of {service_id} still in flight after 10 s");
}

/// Sum of costs charged (from the ledger: everything the service's usage put into revenue).
pub async fn charged_total(s: &TestServer, service_id: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(e.amount_micro), 0) AS BIGINT) FROM ledger_entries e
         JOIN ledger_transactions t ON t.id = e.transaction_id
         WHERE t.type = 'usage' AND t.service_id = $1 AND e.ledger_account_id = 'revenue'",
    )
    .bind(service_id)
    .fetch_one(s.app().store().pool())
    .await
    .unwrap()
}

/// The SSE data payloads of a stream body (without `[DONE]`), and whether `[DONE]` ended it.
pub fn sse_events(text: &str) -> (Vec<Value>, bool) {
    let mut events = Vec::new();
    let mut done = false;
    for line in text.lines() {
        if let Some(data) = line.strip_prefix("data: ") {
            if data == "[DONE]" {
                done = true;
            } else {
                events.push(serde_json::from_str(data).unwrap());
            }
        }
    }
    (events, done)
}

/// POST a chat completion with a router key.
pub async fn chat(s: &TestServer, key: &str, body: Value) -> crate::common::Reply {
    s.post("/openai/v1/chat/completions", key, body).await
}
