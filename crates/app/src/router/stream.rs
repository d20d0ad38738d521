//! Relaying a streamed answer: forward each upstream event to the client, keep the usage it reports
//! (per-field maximum over all chunks), hide the usage chunk from clients that did not ask for it, and
//! when the client hangs up keep reading the upstream (bounded in time and bytes) so that what it
//! produced is charged. Settles exactly once at the end.

use std::time::{Duration, Instant};

use agent_store_providers::llm::EventStream;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::RouterError;
use super::chat::{ChatReply, Metered, Prepared, estimate, produced_bytes, usage_of};
use super::leases::Reservation;
use super::models::Route;
use crate::App;

/// Events buffered between the upstream and a slow client.
const CHANNEL_DEPTH: usize = 32;

fn frame(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

/// What the relay has seen so far.
#[derive(Debug, Default)]
struct Tally {
    usage: Option<Metered>,
    produced: i64,
}

impl Tally {
    /// Account for one event; returns the payload to forward (`None`: drop it).
    fn observe(&mut self, data: String, client_wants_usage: bool) -> Option<String> {
        let Ok(mut v) = serde_json::from_str::<Value>(&data) else {
            return Some(data);
        };
        if let Some(u) = usage_of(&v) {
            let seen = self.usage.get_or_insert_with(Metered::default);
            seen.prompt = seen.prompt.max(u.prompt);
            seen.completion = seen.completion.max(u.completion);
        }
        for choice in v
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.produced = self
                .produced
                .saturating_add(produced_bytes(choice.get("delta").unwrap_or(&Value::Null)));
        }
        if client_wants_usage || v.get("usage").is_none() {
            return Some(data);
        }
        let no_choices = v
            .get("choices")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if no_choices {
            return None;
        }
        if let Some(obj) = v.as_object_mut() {
            obj.remove("usage");
        }
        Some(v.to_string())
    }
}

impl App {
    pub(crate) async fn pump(
        &self,
        prepared: &Prepared,
        route: &Route,
        first: String,
        mut events: EventStream,
        reply: oneshot::Sender<Result<ChatReply, RouterError>>,
        reservation: Reservation,
    ) {
        let cfg = &self.config().router;
        let idle = Duration::from_secs(cfg.stream_idle_timeout_seconds.max(1));
        let end_by = Instant::now() + Duration::from_secs(cfg.max_stream_seconds.max(1));
        let drain_time = Duration::from_secs(cfg.drain_max_seconds);
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let mut client = reply.send(Ok(ChatReply::Stream(rx))).is_ok().then_some(tx);
        let mut drain_until = client.is_none().then(|| Instant::now() + drain_time);
        let mut drained: u64 = 0;
        let mut tally = Tally::default();
        let mut pending = Some(first);
        let outcome = loop {
            let data = match pending.take() {
                Some(data) => data,
                None => {
                    let limit = drain_until.unwrap_or(end_by).min(end_by);
                    let wait = idle.min(limit.saturating_duration_since(Instant::now()));
                    match tokio::time::timeout(wait, events.next()).await {
                        Ok(Some(Ok(data))) => data,
                        Ok(None) => break "ok",
                        Ok(Some(Err(e))) => {
                            tracing::warn!(upstream = %route.upstream_name, error = %e, "router stream broke");
                            if let Some(tx) = &client {
                                let error = json!({"error": {"message": "the upstream stream broke off",
                                    "type": "upstream_error", "param": null, "code": "upstream_error"}});
                                let _ = tx.send(frame(&error.to_string())).await;
                            }
                            break "upstream_broke";
                        }
                        Err(_) if drain_until.is_some() => break "client_disconnected_drain_limit",
                        Err(_) => break "upstream_timeout",
                    }
                }
            };
            if drain_until.is_some() {
                drained = drained.saturating_add(data.len() as u64);
            }
            let forward = tally
                .observe(data, prepared.client_wants_usage)
                .map(|out| self.router_runtime().redact(out));
            if let (Some(tx), Some(out)) = (&client, forward) {
                // A client that stops reading for a whole idle period counts as gone.
                let sent = tokio::time::timeout(idle, tx.send(frame(&out))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    client = None;
                    drain_until = Some(Instant::now() + drain_time);
                }
            }
            if drained > cfg.drain_max_bytes {
                break "client_disconnected_drain_limit";
            }
        };
        if let Some(tx) = &client
            && outcome == "ok"
        {
            let _ = tx.send(frame("[DONE]")).await;
        }
        drop(client);
        let outcome = match (outcome, drain_until.is_some()) {
            ("ok", true) => "client_disconnected",
            (other, _) => other,
        };
        let usage = tally
            .usage
            .unwrap_or_else(|| estimate(prepared, route, tally.produced));
        reservation.settle(&prepared.settlement(Some(route), usage, outcome));
    }
}
