//! Request ids: every response carries `x-request-id`, echoing a valid incoming one or a new
//! `req_<ulid>`. The id is available to error rendering and logs through a task-local.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";

/// The id of the request being handled, or `"none"` outside one.
pub fn current_request_id() -> String {
    agent_store_app::request_context::current_request_id().unwrap_or_else(|| "none".to_owned())
}

/// An incoming id is echoed when it is 1 to 128 characters of `[A-Za-z0-9._:-]`.
fn is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn middleware(
    axum::extract::State(metrics): axum::extract::State<crate::metrics::HttpMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_valid(v))
        .map_or_else(
            || format!("req_{}", ulid::Ulid::new().to_string().to_ascii_lowercase()),
            str::to_owned,
        );
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = std::time::Instant::now();
    let mut response =
        agent_store_app::request_context::with_request_id(id.clone(), next.run(request)).await;
    let status = response.status().as_u16();
    metrics.observe(method.as_str(), &path, status, started.elapsed());
    tracing::info!(request_id = %id, %method, %path, status, elapsed_ms = started.elapsed().as_millis() as u64, "request");
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}
