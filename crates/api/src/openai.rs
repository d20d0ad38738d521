//! The OpenAI-compatible surface at `/openai/v1`: `GET /models` and `POST /chat/completions`
//! (JSON or server-sent events), authenticated by router keys only, rate limited per key, with every
//! error (including malformed JSON, unknown routes and auth) in OpenAI's envelope
//! `{"error": {"message", "type", "param", "code"}}` so the official SDKs understand it.

use std::convert::Infallible;

use agent_store_app::App;
use agent_store_app::router::{ChatReply, RouterError, RouterPrincipal};
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

use crate::auth::{RateLimits, bearer_token};
use crate::request_id::current_request_id;

/// An error in OpenAI's shape.
#[derive(Debug)]
pub struct OpenAiError {
    status: StatusCode,
    message: String,
    kind: String,
    param: Option<String>,
    code: Option<String>,
    retry_after: Option<u64>,
}

impl OpenAiError {
    fn new(status: StatusCode, kind: &str, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            kind: kind.to_owned(),
            param: None,
            code: Some(code.to_owned()),
            retry_after: None,
        }
    }

    fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_request",
            message,
        )
    }
}

impl From<RouterError> for OpenAiError {
    fn from(err: RouterError) -> Self {
        let message = err.to_string();
        match err {
            RouterError::InvalidRequest { param, .. } => Self {
                param,
                ..Self::invalid_request(message)
            },
            RouterError::ModelNotFound(_) => Self::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                message,
            ),
            RouterError::InsufficientCredits { .. } => Self::new(
                StatusCode::PAYMENT_REQUIRED,
                "insufficient_quota",
                "insufficient_credits",
                message,
            ),
            RouterError::Upstream {
                status, kind, code, ..
            } => {
                // Refusals of the request itself pass through with their status; the upstream's own
                // failures (including a rejected upstream key) are a bad gateway for our client.
                let passthrough = matches!(status, 400 | 404 | 409 | 413 | 422 | 429);
                let status_code = if passthrough {
                    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY)
                } else {
                    StatusCode::BAD_GATEWAY
                };
                // The upstream's own failures (including a refused upstream key) are the
                // operator's business: the client gets the status, not the upstream's text.
                let message = if passthrough {
                    format!("upstream error: {message}")
                } else {
                    tracing::warn!(request_id = %current_request_id(), status, "upstream failed");
                    format!("the upstream failed with status {status}")
                };
                Self {
                    status: status_code,
                    message,
                    kind: kind.unwrap_or_else(|| {
                        if passthrough {
                            "invalid_request_error".to_owned()
                        } else {
                            "upstream_error".to_owned()
                        }
                    }),
                    param: None,
                    code: Some(code.unwrap_or_else(|| format!("upstream_{status}"))),
                    retry_after: None,
                }
            }
            RouterError::Timeout => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_error",
                "upstream_timeout",
                message,
            ),
            RouterError::Internal(cause) => {
                tracing::error!(request_id = %current_request_id(), %cause, "router internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal",
                    format!(
                        "an internal error occurred; it has been logged with request id {}",
                        current_request_id()
                    ),
                )
            }
        }
    }
}

impl OpenAiError {
    /// Remove every configured upstream API key from the error. Upstreams echo the key they were
    /// sent in their own error messages (OpenAI's "Incorrect API key provided: ..."), and those
    /// messages reach our client: without this, a client could read the operator's upstream key.
    fn redacted(mut self, app: &App) -> Self {
        let clean = |text: &mut String| *text = app.redact_upstream_keys(std::mem::take(text));
        clean(&mut self.message);
        // Router errors quote the client's input (an unknown model name); a huge one is cut short
        // rather than sent back whole.
        if let Some((cut, _)) = self.message.char_indices().nth(MAX_MESSAGE_CHARS) {
            self.message.truncate(cut);
            self.message.push_str("...");
        }
        clean(&mut self.kind);
        if let Some(param) = self.param.as_mut() {
            clean(param);
        }
        if let Some(code) = self.code.as_mut() {
            clean(code);
        }
        self
    }
}

/// Longest error message returned by the router.
const MAX_MESSAGE_CHARS: usize = 300;

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"message": self.message, "type": self.kind, "param": self.param,
                                    "code": self.code}});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"agent-store-router\""),
            );
        }
        response
    }
}

#[derive(Debug, Clone)]
struct RouterAuth {
    app: App,
    limits: RateLimits,
}

/// Router keys only: an agent key or account token is refused here like a wrong key.
async fn require_router_key(
    State(state): State<RouterAuth>,
    mut request: Request,
    next: Next,
) -> Response {
    let principal = match bearer_token(&request) {
        Some(token) => state.app.authenticate_router_key(token).await.ok(),
        None => None,
    };
    let Some(principal) = principal else {
        return OpenAiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            "a valid router key is required: Authorization: Bearer ark_live_...",
        )
        .into_response();
    };
    if let Err(seconds) = state.limits.check(&principal.key_id) {
        let mut err = OpenAiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limited",
            "too many requests for this router key; retry later",
        );
        err.retry_after = Some(seconds.max(1));
        return err.into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// The `/openai/v1` routes (to nest at that prefix).
pub fn router(app: App, limits: RateLimits) -> Router<App> {
    Router::new()
        .route("/models", get(list_models))
        .route("/chat/completions", post(chat_completions))
        .fallback(|| async {
            OpenAiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "unknown_url",
                "unknown route; this router serves GET /models and POST /chat/completions",
            )
        })
        .method_not_allowed_fallback(|| async {
            OpenAiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                "method_not_allowed",
                "this route does not accept that method",
            )
        })
        .layer(middleware::from_fn_with_state(
            RouterAuth { app, limits },
            require_router_key,
        ))
}

async fn list_models(State(app): State<App>) -> Json<Value> {
    let mut data = Vec::new();
    for m in app.router_models() {
        let entry = |id: &str, alias_of: Option<&str>| {
            json!({"id": id, "object": "model", "created": 0, "owned_by": m.owned_by,
                   "alias_of": alias_of,
                   "pricing": {"currency": "usd",
                               "input_micro_usd_per_million_tokens": m.input_price,
                               "output_micro_usd_per_million_tokens": m.output_price},
                   "context_window": m.context_tokens, "max_output_tokens": m.max_output_tokens})
        };
        data.push(entry(&m.id, None));
        for alias in &m.aliases {
            data.push(entry(alias, Some(&m.id)));
        }
    }
    Json(json!({"object": "list", "data": data}))
}

async fn chat_completions(
    State(app): State<App>,
    Extension(principal): Extension<RouterPrincipal>,
    request: Request,
) -> Result<Response, OpenAiError> {
    let bytes = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                OpenAiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request_error",
                    "payload_too_large",
                    "the request body is larger than 1 MiB",
                )
            } else if crate::slow_client::is_deadline_error(&rejection.body_text()) {
                OpenAiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "invalid_request_error",
                    "request_timeout",
                    "the request body did not arrive in time",
                )
            } else {
                OpenAiError::invalid_request("the request body could not be read")
            }
        })?;
    let body: Value = serde_json::from_slice(&bytes).map_err(|e| {
        OpenAiError::invalid_request(format!(
            "the request body is not valid JSON: {}",
            e.to_string().split(" at line ").next().unwrap_or_default()
        ))
    })?;
    let reply = app
        .chat_completion(principal, body)
        .await
        .map_err(|err| OpenAiError::from(err).redacted(&app))?;
    match reply {
        ChatReply::Json(v) => Ok(Json(v).into_response()),
        ChatReply::Stream(rx) => {
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
            });
            let mut response = Response::new(Body::from_stream(stream));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
            Ok(response)
        }
    }
}
