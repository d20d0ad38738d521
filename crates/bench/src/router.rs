//! Router overhead: chat completions sent at a fixed request rate (open loop: request `i` is due at
//! `start + i / rate` whether or not earlier ones finished, and its latency is counted from when it
//! was due, so a stall is never hidden by the generator slowing down) to one target - the mock
//! upstream directly, Agent Store's `/openai/v1`, or the LiteLLM proxy - all in front of the same
//! mock. Non-streaming latency is the whole answer; streaming latency is time to the first body byte.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::Mutex;

use crate::stats::{Samples, Summary};

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Target {
    /// Full URL of `chat/completions`.
    pub url: String,
    pub bearer: Option<String>,
    pub model: String,
}

fn body(model: &str, stream: bool) -> serde_json::Value {
    let mut body = json!({"model": model, "max_tokens": 16,
                          "messages": [{"role": "user", "content": "Say hello."}]});
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// One request; returns the latency from `due` (whole answer, or first streamed byte).
async fn one(
    client: &reqwest::Client,
    target: &Target,
    stream: bool,
    due: Instant,
) -> Option<Duration> {
    let mut request = client.post(&target.url).json(&body(&target.model, stream));
    if let Some(bearer) = &target.bearer {
        request = request.bearer_auth(bearer);
    }
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    if stream {
        let mut chunks = response.bytes_stream();
        let first = chunks.next().await?.ok()?;
        let latency = due.elapsed();
        if first.is_empty() {
            return None;
        }
        // Read the rest so the connection goes back to the pool and the server finishes its work.
        while let Some(chunk) = chunks.next().await {
            chunk.ok()?;
        }
        Some(latency)
    } else {
        response.bytes().await.ok()?;
        Some(due.elapsed())
    }
}

/// `rate` requests per second for `duration`, open loop.
pub async fn open_loop(
    client: &reqwest::Client,
    target: &Target,
    stream: bool,
    rate: u32,
    duration: Duration,
) -> anyhow::Result<Summary> {
    let n = (u128::from(rate) * duration.as_millis() / 1000) as usize;
    let period = Duration::from_secs(1) / rate.max(1);
    let samples = Arc::new(Mutex::new(Samples::default()));
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let due = start + period * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due.into()).await;
        let (client, target, samples) = (client.clone(), target.clone(), samples.clone());
        tasks.push(tokio::spawn(async move {
            let result = one(&client, &target, stream, due).await;
            let mut s = samples.lock().await;
            match result {
                Some(latency) => s.push(latency),
                None => s.errors += 1,
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let wall = start.elapsed();
    let summary = samples.lock().await.summary(wall);
    Ok(summary)
}

/// A few sequential requests to open connections and warm caches before measuring.
pub async fn warm_up(client: &reqwest::Client, target: &Target, n: usize) -> anyhow::Result<()> {
    for i in 0..n {
        let stream = i % 2 == 1;
        if one(client, target, stream, Instant::now()).await.is_none() {
            anyhow::bail!("warm-up request to {} failed", target.url);
        }
    }
    Ok(())
}
