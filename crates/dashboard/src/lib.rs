//! The account owner's web dashboard at `/dashboard`: server-rendered pages (askama templates, a
//! vendored htmx for partial updates, no JS build chain) over the same app functions as the Account
//! API. Sign-in creates a database-backed session (HttpOnly cookie); every form carries the session's
//! CSRF token; see `docs/architecture.md` for the decisions.

mod chart;
mod fmt;
mod pages;
mod session;
mod web;

use agent_store_app::App;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

pub use session::{MAX_FAILURES, WINDOW};

/// The dashboard's routes, to be merged into the application router (state: the [`App`]).
pub fn router() -> Router<App> {
    use pages::{agents, checkout, money, overview, policies, reports};
    let inner = Router::new()
        .route("/", get(overview::show))
        .route("/login", get(session::show).post(session::submit))
        .route("/logout", post(session::logout))
        .route("/static/{file}", get(static_file))
        .route("/wallet", get(money::wallet))
        .route("/wallet/fund", post(money::fund))
        .route("/agents", get(agents::list).post(agents::create))
        .route("/agents/{agent_id}", get(agents::show))
        .route("/agents/{agent_id}/rename", post(agents::rename))
        .route("/agents/{agent_id}/status", post(agents::set_status))
        .route("/agents/{agent_id}/keys", post(agents::create_key))
        .route(
            "/agents/{agent_id}/keys/{key_id}/revoke",
            post(agents::revoke_key),
        )
        .route(
            "/policies",
            get(policies::account).post(policies::save_account),
        )
        .route(
            "/agents/{agent_id}/policy",
            get(policies::agent).post(policies::save_agent),
        )
        .route("/approvals", get(money::approvals))
        .route("/purchases", get(money::purchases))
        .route("/purchases/{purchase_id}", get(money::purchase))
        .route("/purchases/{purchase_id}/approve", post(money::approve))
        .route("/purchases/{purchase_id}/reject", post(money::reject))
        .route("/services", get(reports::services))
        .route("/services/{service_id}", get(reports::service))
        .route("/usage", get(reports::usage))
        .route("/audit", get(reports::audit))
        .route("/checkout", get(checkout::show))
        .route("/checkout/quote", post(checkout::quote))
        .route("/checkout/buy", post(checkout::buy))
        .fallback(not_found)
        .layer(Extension(session::Throttle::default()))
        .layer(middleware::from_fn(security_headers));
    Router::new().nest("/dashboard", inner)
}

async fn not_found() -> Response {
    web::message_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no such page in the dashboard. Use the navigation to find your way.",
    )
}

/// Headers for every dashboard response: a strict Content-Security-Policy (only our own scripts and
/// styles, no inline code), no framing, no caching of pages that show account data.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

const HTMX: &str = include_str!("../static/htmx.min.js");
const APP_JS: &str = include_str!("../static/dashboard.js");
const APP_CSS: &str = include_str!("../static/dashboard.css");

/// The embedded static assets (htmx 2.0.11, pinned and vendored; our script and stylesheet).
async fn static_file(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "htmx-2.0.11.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "dashboard.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "dashboard.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return not_found().await,
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
