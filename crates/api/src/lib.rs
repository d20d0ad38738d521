//! HTTP transport of Agent Store. [`router`] builds the whole axum application (Agent API, Account API,
//! the MCP server at `/mcp`, operational routes, `/openapi.json`); [`serve`] runs it on a listener
//! until shutdown. The binary and the integration tests both go through [`serve`], so tests exercise
//! exactly what ships.

pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod openai;
pub mod openapi;
pub mod request_id;
pub mod routes;
pub mod slow_client;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use agent_store_app::App;
use agent_store_app::identity::Audience;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Router, middleware};
use tower_http::sensitive_headers::SetSensitiveHeadersLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::auth::{AuthState, RateLimits};
use crate::error::ApiError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agent Store API",
        description = "Agent API (/v1/agent, agent API key) and Account API (/v1/account, account token)."
    ),
    components(schemas(error::ErrorResponse))
)]
struct ApiDoc;

/// Build the application router.
pub fn router(app: App) -> Router {
    let limits = RateLimits::new(
        app.config().limits.rate_limit_per_second,
        app.config().limits.rate_limit_burst,
    );
    spawn_limiter_cleanup(limits.clone());
    let app_body_timeout = app.config().limits.body_read_timeout_seconds.max(1);
    let http_metrics = metrics::HttpMetrics::default();
    let scrape = http_metrics.clone();
    let auth = |audience| AuthState {
        app: app.clone(),
        limits: limits.clone(),
        audience,
    };
    let agent = agent_api().layer(middleware::from_fn_with_state(
        auth(Audience::Agent),
        auth::require_credential,
    ));
    let account = routes::account::router()
        .merge(routes::money_account::router())
        .merge(routes::router::account_router())
        .merge(routes::domains::account_router())
        .merge(routes::servers::account_router())
        .merge(routes::phones::account_router())
        .merge(routes::storage::account_router())
        .layer(middleware::from_fn_with_state(
            auth(Audience::Account),
            auth::require_credential,
        ));
    let account_root = OpenApiRouter::new()
        .routes(utoipa_axum::routes!(routes::account::get_account))
        .layer(middleware::from_fn_with_state(
            auth(Audience::Account),
            auth::require_credential,
        ));

    let (api, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/v1/agent", agent)
        .nest("/v1/account", account)
        .merge(account_root)
        .merge(routes::phones::webhook_router())
        .split_for_parts();
    if let Some(components) = openapi.components.as_mut() {
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ask_live_... / acct_live_...")
                    .build(),
            ),
        );
    }
    openapi::add_common_responses(&mut openapi);
    let openapi_json: Arc<str> = openapi.to_json().unwrap_or_default().into();

    let mcp = mcp_router(&app, auth(Audience::Agent));

    Router::new()
        .merge(api)
        .nest("/openai/v1", openai::router(app.clone(), limits.clone()))
        .merge(mcp)
        // The account owner's web dashboard (/dashboard), over the same app functions.
        .merge(agent_store_dashboard::router())
        .route("/healthz", get(routes::system::healthz))
        .route("/readyz", get(routes::system::readyz))
        .route(
            "/metrics",
            get(
                move |axum::extract::State(app): axum::extract::State<App>| {
                    let metrics = scrape.clone();
                    async move {
                        (
                            [(CONTENT_TYPE, "text/plain; version=0.0.4")],
                            metrics.render(&app).await,
                        )
                    }
                },
            ),
        )
        .route(
            "/openapi.json",
            get(move || {
                let body = openapi_json.clone();
                async move { ([(CONTENT_TYPE, "application/json")], body.to_string()) }
            }),
        )
        .fallback(|| async { ApiError::route_not_found().into_response() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed().into_response() })
        .with_state(app)
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            Duration::from_secs(app_body_timeout),
            slow_client::body_deadline,
        ))
        .layer(middleware::from_fn_with_state(
            http_metrics,
            request_id::middleware,
        ))
        .layer(SetSensitiveHeadersLayer::new([
            AUTHORIZATION,
            COOKIE,
            SET_COOKIE,
        ]))
}

/// The Agent API routes (`/v1/agent/...`, relative paths), served over REST behind the auth layer and
/// called in-process by the MCP tools; a route added here is reachable by both.
fn agent_api() -> OpenApiRouter<App> {
    routes::agent::router()
        .merge(routes::money_agent::router())
        .merge(routes::router::agent_router())
        .merge(routes::domains::agent_router())
        .merge(routes::servers::agent_router())
        .merge(routes::phones::agent_router())
        .merge(routes::storage::agent_router())
}

/// `/mcp`: the MCP server (stateless Streamable HTTP). The same auth middleware as the Agent API
/// resolves the agent key (401 with `WWW-Authenticate` otherwise, and router keys or account tokens
/// are refused); the tools then call the Agent API handlers in-process as that agent.
fn mcp_router(app: &App, auth_state: AuthState) -> Router<App> {
    let (agent_api, _) = agent_api().split_for_parts();
    let agent_api = agent_api
        .fallback(|| async { ApiError::route_not_found().into_response() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed().into_response() })
        .with_state(app.clone());
    let hosts = agent_store_mcp::hosted::allowed_hosts(
        &app.config().mcp.allowed_hosts,
        &app.config().effective_public_base_url(),
    );
    Router::new()
        .nest_service("/mcp", agent_store_mcp::hosted::service(agent_api, hosts))
        .layer(middleware::from_fn_with_state(
            auth_state,
            auth::require_credential,
        ))
        .layer(middleware::from_fn(
            agent_store_mcp::hosted::capture_request_id,
        ))
        .layer(middleware::from_fn(mcp_parse_errors))
}

/// rmcp answers a body that is not a JSON-RPC message (malformed or too deeply nested JSON, a wrong
/// shape) with 415 and a plain-text line. The Streamable HTTP transport expects a JSON-RPC error
/// there: HTTP 400 with the standard parse error (-32700) and no id, which clients can read.
async fn mcp_parse_errors(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    if response.status() != axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    if !String::from_utf8_lossy(&bytes).contains("deserialize") {
        return axum::response::Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    (
        axum::http::StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {
            "code": -32700,
            "message": "parse error: the body is not a valid JSON-RPC message",
        }})),
    )
        .into_response()
}

/// Forget idle rate-limit buckets once a minute so memory stays bounded by active credentials.
fn spawn_limiter_cleanup(limits: RateLimits) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limits.shrink();
            }
        });
    }
}

/// Serve `app` on `listener` until `shutdown` resolves; in-flight requests are allowed to finish.
///
/// A hand-written accept loop rather than `axum::serve`, because that one gives hyper no timer, which
/// silently disables hyper's header read timeout: a client trickling its request headers one byte at
/// a time (slowloris) held a connection and its task forever. Here each connection must deliver its
/// headers within `limits.header_read_timeout_seconds` (idle keep-alive connections are closed after
/// the same time), and [`slow_client::body_deadline`] bounds the time to receive a body.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let header_timeout =
        Duration::from_secs(app.config().limits.header_read_timeout_seconds.max(1));
    let service = router(app);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(err) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // No Nagle delay: streamed answers (SSE) are many small writes, and each would otherwise wait
        // for the client's (delayed) ACK of the previous one.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(%err, "cannot set TCP_NODELAY");
        }
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::trace!(%err, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
