//! Authentication and per-credential rate limiting. A middleware resolves the bearer credential into a
//! [`Principal`] (inserted into request extensions) or answers 401 with `WWW-Authenticate`; then the
//! credential's token bucket is charged, answering 429 with `Retry-After` when empty.

use std::num::NonZeroU32;
use std::sync::Arc;

use agent_store_app::identity::Audience;
use agent_store_app::{App, Principal};
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};

use crate::error::ApiError;

type KeyedLimiter =
    RateLimiter<String, governor::state::keyed::DefaultKeyedStateStore<String>, DefaultClock>;

/// Token buckets keyed by credential id (per node; limits that guard money live in the database).
#[derive(Debug, Clone)]
pub struct RateLimits {
    limiter: Arc<KeyedLimiter>,
}

impl RateLimits {
    pub fn new(per_second: u32, burst: u32) -> Self {
        let per_second = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(per_second);
        Self {
            limiter: Arc::new(RateLimiter::keyed(
                Quota::per_second(per_second).allow_burst(burst),
            )),
        }
    }

    /// Charge one request to `key`; `Err(seconds)` to wait when the bucket is empty.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
            })
    }

    /// Forget idle buckets (called periodically so memory stays bounded).
    pub fn shrink(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// State the auth middleware needs.
#[derive(Debug, Clone)]
pub struct AuthState {
    pub app: App,
    pub limits: RateLimits,
    pub audience: Audience,
}

/// The bearer token of a request, if it has a well-formed `Authorization: Bearer ...` header.
pub fn bearer_token(request: &Request) -> Option<&str> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

pub async fn require_credential(
    State(state): State<AuthState>,
    mut request: Request,
    next: Next,
) -> Response {
    let principal = match bearer_token(&request) {
        Some(token) => state.app.authenticate(token, state.audience).await,
        None if state.audience == Audience::Account => {
            let (token, unsafe_method, sent) = session_inputs(&request);
            session_principal(state.app.clone(), token, unsafe_method, sent).await
        }
        None => Err(agent_store_app::AppError::Unauthenticated),
    };
    let principal: Principal = match principal {
        Ok(p) => p,
        Err(err) => return ApiError::from(err).into_response(),
    };
    if let Err(seconds) = state.limits.check(principal.rate_limit_key()) {
        return ApiError::rate_limited(seconds).into_response();
    }
    request.extensions_mut().insert(principal);
    // A request that outlives the limit is abandoned: its database transaction (if any) rolls back
    // when dropped, and a retry with the same idempotency key is safe.
    let limit =
        std::time::Duration::from_secs(state.app.config().limits.request_timeout_seconds.max(1));
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::timeout().into_response(),
    }
}

/// The Account API also accepts the dashboard session cookie (SPEC section 12). Because a browser
/// sends cookies by itself, an unsafe method must also carry the session's CSRF token in
/// `X-CSRF-Token`; without it the request is refused as if unauthenticated.
async fn session_principal(
    app: App,
    token: Option<String>,
    unsafe_method: bool,
    sent_csrf: String,
) -> Result<Principal, agent_store_app::AppError> {
    let token = token.ok_or(agent_store_app::AppError::Unauthenticated)?;
    let session = app.authenticate_session(&token).await?;
    if unsafe_method
        && !agent_store_app::sessions::constant_time_eq(&sent_csrf, &session.csrf_token)
    {
        return Err(agent_store_app::AppError::Forbidden(
            "a request authenticated by the dashboard session needs its CSRF token in X-CSRF-Token"
                .to_owned(),
        ));
    }
    Ok(session.principal)
}

/// The session cookie, whether the method is unsafe, and the `X-CSRF-Token` header (read before any
/// await: a request body is not `Sync`, so no reference to the request may cross one).
fn session_inputs(request: &Request) -> (Option<String>, bool, String) {
    use agent_store_app::sessions::{CSRF_HEADER, SESSION_COOKIE};
    let sent = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        cookie_value(request.headers(), SESSION_COOKIE),
        !request.method().is_safe(),
        sent,
    )
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie_value(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}
