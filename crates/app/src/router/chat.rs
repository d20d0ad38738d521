//! One chat completion: validate, resolve the model's routes, reserve the worst case, then (in a task
//! of its own, so a client that hangs up cannot cancel the settlement) call the upstreams in order,
//! falling back only before any output was sent, and settle.

use std::time::{Duration, Instant};

use agent_store_core::time::now_ms;
use agent_store_providers::llm::{UpstreamError, UpstreamReply};
use agent_store_store::router::Settlement;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::leases::Reservation;
use super::metering::ReserveError;
use super::models::{ListedModel, Route};
use super::{RouterError, RouterPrincipal};
use crate::App;

/// The answer to hand to the client.
#[derive(Debug)]
pub enum ChatReply {
    /// A non-streaming answer.
    Json(Value),
    /// Server-sent events, each already framed (`data: ...\n\n`), ending with `data: [DONE]`.
    Stream(mpsc::Receiver<bytes::Bytes>),
}

/// A validated request and everything needed to meter it.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub body: Value,
    /// The model's id (an alias resolved), as the request log records it.
    pub model: String,
    pub routes: Vec<Route>,
    pub streaming: bool,
    pub client_wants_usage: bool,
    /// An upper bound of the prompt's tokens: the request's size in bytes (no token is shorter than
    /// one byte, and the JSON framing adds more than a chat template does).
    pub prompt_estimate: i64,
    requested_max: Option<i64>,
    max_field: &'static str,
    pub started: Instant,
}

impl Prepared {
    /// The output cap sent to (and reserved for) `route`.
    pub fn max_out(&self, route: &Route) -> i64 {
        self.requested_max
            .map_or(route.max_output_tokens, |m| m.min(route.max_output_tokens))
    }

    pub fn prompt_bound(&self, route: &Route) -> i64 {
        self.prompt_estimate.min(route.context_tokens)
    }

    /// The body sent to `route`: its model name, the capped output, and usage on streams.
    fn upstream_body(&self, route: &Route) -> Value {
        let mut body = self.body.clone();
        body["model"] = json!(route.upstream_model);
        body[self.max_field] = json!(self.max_out(route));
        if self.streaming {
            if !body.get("stream_options").is_some_and(Value::is_object) {
                body["stream_options"] = json!({});
            }
            body["stream_options"]["include_usage"] = json!(true);
        }
        body
    }

    pub fn settlement(&self, route: Option<&Route>, usage: Metered, outcome: &str) -> Settlement {
        let cost = route.map_or(0, |r| r.cost(usage.prompt, usage.completion));
        Settlement {
            upstream: route.map(|r| r.upstream_name.clone()),
            prompt_tokens: usage.prompt,
            completion_tokens: usage.completion,
            cost_micro: cost,
            outcome: outcome.to_owned(),
            latency_ms: i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX),
            settled_at: now_ms(),
        }
    }
}

/// Tokens to charge.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Metered {
    pub prompt: i64,
    pub completion: i64,
}

fn invalid(message: &str, param: &str) -> RouterError {
    RouterError::InvalidRequest {
        message: message.to_owned(),
        param: Some(param.to_owned()),
    }
}

fn prepare(app: &App, body: Value) -> Result<Prepared, RouterError> {
    if !body.is_object() {
        return Err(RouterError::InvalidRequest {
            message: "the request body must be a JSON object".into(),
            param: None,
        });
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("`model` is required", "model"))?
        .to_owned();
    if body
        .get("messages")
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
    {
        return Err(invalid("`messages` must be a non-empty array", "messages"));
    }
    let streaming = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("`stream` must be a boolean", "stream")),
    };
    let mut requested_max = None;
    let mut max_field = "max_tokens";
    for field in ["max_tokens", "max_completion_tokens"] {
        match body.get(field) {
            None | Some(Value::Null) => {}
            Some(v) => match v.as_i64() {
                Some(n) if n >= 1 => {
                    requested_max = Some(requested_max.map_or(n, |m: i64| m.min(n)));
                    max_field = if field == "max_completion_tokens" {
                        field
                    } else {
                        max_field
                    };
                }
                _ => {
                    return Err(invalid(
                        &format!("`{field}` must be a positive integer"),
                        field,
                    ));
                }
            },
        }
    }
    let client_wants_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let routes = app.router_runtime().models.routes(&model);
    if routes.is_empty() {
        return Err(RouterError::ModelNotFound(model));
    }
    // Usage is logged under the model's id, so an alias and its id add up to one line.
    let model = app
        .router_runtime()
        .models
        .canonical_id(&model)
        .unwrap_or(&model)
        .to_owned();
    let size = serde_json::to_vec(&body).map(|v| v.len()).unwrap_or(0);
    Ok(Prepared {
        prompt_estimate: i64::try_from(size).unwrap_or(i64::MAX),
        body,
        model,
        routes,
        streaming,
        client_wants_usage,
        requested_max,
        max_field,
        started: Instant::now(),
    })
}

/// Usage reported in a body or chunk, if any.
pub(crate) fn usage_of(v: &Value) -> Option<Metered> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    Some(Metered {
        prompt: u.get("prompt_tokens").and_then(Value::as_i64).unwrap_or(0),
        completion: u
            .get("completion_tokens")
            .and_then(Value::as_i64)
            .unwrap_or(0),
    })
}

/// Bytes of generated text in a message or delta: an upper bound of its tokens, used only when the
/// upstream reports no usage.
pub(crate) fn produced_bytes(message: &Value) -> i64 {
    let mut n = 0usize;
    for key in ["content", "reasoning_content", "refusal"] {
        n += message.get(key).and_then(Value::as_str).map_or(0, str::len);
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        n += call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .map_or(0, str::len);
        n += call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map_or(0, str::len);
    }
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// When the upstream reported no usage: the prompt bound and the produced bytes, capped by what was
/// reserved for the output. Overcharging by the bytes-per-token ratio beats serving tokens for free.
pub(crate) fn estimate(prepared: &Prepared, route: &Route, produced: i64) -> Metered {
    Metered {
        prompt: prepared.prompt_bound(route),
        completion: produced.min(prepared.max_out(route)),
    }
}

pub(crate) fn upstream_error(e: UpstreamError) -> RouterError {
    match e {
        UpstreamError::Status {
            status,
            message,
            kind,
            code,
        } => RouterError::Upstream {
            status,
            message,
            kind,
            code,
        },
        UpstreamError::Transport(message) => RouterError::Upstream {
            status: 502,
            message,
            kind: None,
            code: None,
        },
    }
}

impl App {
    /// The models clients may ask for.
    pub fn router_models(&self) -> &[ListedModel] {
        self.router_runtime().models.listed()
    }

    /// Serve one chat completion for `p`.
    pub async fn chat_completion(
        &self,
        p: RouterPrincipal,
        body: Value,
    ) -> Result<ChatReply, RouterError> {
        let prepared = prepare(self, body)?;
        let reserve = prepared
            .routes
            .iter()
            .map(|r| r.cost(prepared.prompt_bound(r), prepared.max_out(r)))
            .max()
            .unwrap_or(0);
        let reservation = match self
            .reserve(&p, &prepared.model, reserve, prepared.streaming)
            .await
        {
            Ok(r) => r,
            Err(ReserveError::Insufficient {
                available,
                required,
            }) => {
                return Err(RouterError::InsufficientCredits {
                    available,
                    required,
                });
            }
            Err(ReserveError::Other(e)) => return Err(e.into()),
        };
        let (reply_tx, reply_rx) = oneshot::channel();
        let app = self.clone();
        tokio::spawn(async move { app.run_chat(prepared, reservation, reply_tx).await });
        reply_rx
            .await
            .unwrap_or_else(|_| Err(RouterError::Internal("the router task ended".into())))
    }

    async fn run_chat(
        &self,
        prepared: Prepared,
        reservation: Reservation,
        reply: oneshot::Sender<Result<ChatReply, RouterError>>,
    ) {
        let wait = Duration::from_secs(self.config().router.upstream_timeout_seconds.max(1));
        let mut last = RouterError::Timeout;
        for route in &prepared.routes {
            let body = prepared.upstream_body(route);
            let answer =
                tokio::time::timeout(wait, route.upstream.chat(body, prepared.streaming)).await;
            let error = match answer {
                Err(_) => RouterError::Timeout,
                Ok(Ok(UpstreamReply::Complete(v))) => {
                    let usage = usage_of(&v).unwrap_or_else(|| {
                        let produced = v
                            .get("choices")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                            .map(|c| produced_bytes(c.get("message").unwrap_or(&Value::Null)))
                            .sum();
                        estimate(&prepared, route, produced)
                    });
                    reservation.settle(&prepared.settlement(Some(route), usage, "ok"));
                    let _ = reply.send(Ok(ChatReply::Json(v)));
                    return;
                }
                Ok(Ok(UpstreamReply::Stream(mut events))) => {
                    match tokio::time::timeout(wait, events.next()).await {
                        Ok(Some(Ok(first))) => {
                            self.pump(&prepared, route, first, events, reply, reservation)
                                .await;
                            return;
                        }
                        Ok(Some(Err(e))) => {
                            if e.worth_a_fallback() {
                                last = upstream_error(e);
                                continue;
                            }
                            upstream_error(e)
                        }
                        Ok(None) => RouterError::Upstream {
                            status: 502,
                            message: "the upstream ended the stream without an answer".into(),
                            kind: None,
                            code: None,
                        },
                        Err(_) => RouterError::Timeout,
                    }
                }
                Ok(Err(e)) if !e.worth_a_fallback() => {
                    reservation.settle(&prepared.settlement(
                        Some(route),
                        Metered::default(),
                        "upstream_refused",
                    ));
                    let _ = reply.send(Err(upstream_error(e)));
                    return;
                }
                Ok(Err(e)) => upstream_error(e),
            };
            tracing::warn!(upstream = %route.upstream_name, error = %error, "router upstream failed; trying the next");
            last = error;
        }
        reservation.settle(&prepared.settlement(None, Metered::default(), "upstream_failed"));
        let _ = reply.send(Err(last));
    }
}
