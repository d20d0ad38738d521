//! The mock upstream: a small OpenAI-compatible server (`POST /v1/chat/completions`, JSON or SSE)
//! with a fixed small latency before its first byte, reporting usage like OpenAI does. It runs on its
//! own thread and runtime so the load generator's tasks do not delay its answers.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// Usage every answer reports.
const PROMPT_TOKENS: i64 = 12;
const COMPLETION_TOKENS: i64 = 4;

fn chunk(model: &str, delta: Value, finish: Value) -> String {
    let event = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {event}\n\n")
}

async fn completions(State(latency): State<Duration>, Json(body): Json<Value>) -> Response {
    let model = body["model"].as_str().unwrap_or("bench-model").to_owned();
    let usage = json!({"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                       "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS});
    if body["stream"].as_bool() != Some(true) {
        tokio::time::sleep(latency).await;
        return Json(json!({
            "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello from the mock"},
                         "finish_reason": "stop"}],
            "usage": usage}))
        .into_response();
    }
    let first = chunk(
        &model,
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    );
    let mut rest: Vec<String> = ["hello", " from", " the", " mock"]
        .iter()
        .map(|w| chunk(&model, json!({"content": w}), Value::Null))
        .collect();
    rest.push(chunk(&model, json!({}), json!("stop")));
    if body.pointer("/stream_options/include_usage") == Some(&json!(true)) {
        let tail = json!({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1,
                          "model": model, "choices": [], "usage": usage});
        rest.push(format!("data: {tail}\n\n"));
    }
    rest.push("data: [DONE]\n\n".to_owned());
    let stream = futures_util::stream::once(async move {
        tokio::time::sleep(latency).await;
        Ok::<_, Infallible>(Bytes::from(first))
    })
    .chain(futures_util::stream::iter(
        rest.into_iter().map(|s| Ok(Bytes::from(s))),
    ));
    (
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Start the mock on a free loopback port; returns its base URL (`http://127.0.0.1:PORT/v1`).
pub fn start(latency: Duration) -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("mock-upstream".to_owned())
        .spawn(move || {
            runtime.block_on(async move {
                let app = Router::new()
                    .route("/v1/chat/completions", post(completions))
                    .with_state(latency);
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    let listener = listener.tap_io(|tcp| {
                        let _ = tcp.set_nodelay(true);
                    });
                    let _ = axum::serve(listener, app).await;
                }
            });
        })?;
    Ok(format!("http://{addr}/v1"))
}
