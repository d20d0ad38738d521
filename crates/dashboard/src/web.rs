//! What every page shares: the signed-in session (an extractor), the page chrome (navigation, CSRF
//! token, pending-approvals badge, notice), rendering, CSRF checks on forms, and error pages.

use std::collections::BTreeMap;

use agent_store_app::pagination::PageRequest;
use agent_store_app::sessions::{SESSION_COOKIE, constant_time_eq};
use agent_store_app::{App, AppError, Principal};
use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// A signed-in account owner.
#[derive(Debug, Clone)]
pub struct Authed {
    pub principal: Principal,
    pub csrf: String,
}

impl FromRequestParts<App> for Authed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(to_login(parts, false));
        };
        match app.authenticate_session(&token).await {
            Ok(session) => Ok(Self {
                principal: session.principal,
                csrf: session.csrf_token,
            }),
            Err(AppError::Unauthenticated) => Err(to_login(parts, true)),
            Err(err) => Err(error_page(&err)),
        }
    }
}

/// Send the browser to the sign-in page (htmx requests get `HX-Redirect`, so the whole page goes).
fn to_login(parts: &Parts, expired: bool) -> Response {
    let target = if expired {
        "/dashboard/login?expired=1"
    } else {
        "/dashboard/login"
    };
    if parts.headers.contains_key("hx-request") {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response
            .headers_mut()
            .insert("hx-redirect", HeaderValue::from_static("/dashboard/login"));
        return response;
    }
    let mut response = Redirect::to(target).into_response();
    if expired {
        response.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "agent_store_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
            ),
        );
    }
    response
}

/// The value of cookie `name`.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
}

/// Refuse a form whose CSRF token (field `csrf`, or the `X-CSRF-Token` header htmx sends) is not the
/// session's.
#[expect(
    clippy::result_large_err,
    reason = "the refusal page is the cold path; handlers return it as is with `?`-like early returns"
)]
pub fn check_csrf(
    authed: &Authed,
    headers: &HeaderMap,
    field: Option<&str>,
) -> Result<(), Response> {
    let header = headers
        .get(agent_store_app::sessions::CSRF_HEADER)
        .and_then(|v| v.to_str().ok());
    let sent = field
        .filter(|f| !f.is_empty())
        .or(header)
        .unwrap_or_default();
    if constant_time_eq(sent, &authed.csrf) {
        Ok(())
    } else {
        Err(csrf_refused())
    }
}

/// The page shown when a form arrives without a valid CSRF token.
pub fn csrf_refused() -> Response {
    message_page(
        StatusCode::FORBIDDEN,
        "This form could not be accepted",
        "It was not sent from a page of this dashboard, or the page was open so long that your \
         session changed. Nothing was changed. Go back, reload the page and try again.",
    )
}

/// One navigation entry.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
    pub badge: Option<String>,
}

/// What the layout needs on every signed-in page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub title: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub notice: Option<String>,
    pub pending: usize,
}

const NAV: [(&str, &str, &str); 10] = [
    ("overview", "/dashboard", "Overview"),
    ("wallet", "/dashboard/wallet", "Wallet"),
    ("agents", "/dashboard/agents", "Agents"),
    ("policies", "/dashboard/policies", "Policies"),
    ("approvals", "/dashboard/approvals", "Approvals"),
    ("purchases", "/dashboard/purchases", "Purchases"),
    ("services", "/dashboard/services", "Services"),
    ("checkout", "/dashboard/checkout", "Buy"),
    ("usage", "/dashboard/usage", "Router usage"),
    ("audit", "/dashboard/audit", "Audit log"),
];

impl Chrome {
    /// Build the chrome for the page `active`, counting pending approvals for the badge.
    pub async fn new(app: &App, authed: &Authed, active: &str, title: &str) -> Self {
        let pending = app
            .list_approvals(&authed.principal, &PageRequest::first(100))
            .await
            .map(|p| p.items.len())
            .unwrap_or(0);
        let nav = NAV
            .iter()
            .map(|&(key, href, label)| NavItem {
                href,
                label,
                current: key == active,
                badge: (key == "approvals" && pending > 0).then(|| pending.to_string()),
            })
            .collect();
        Self {
            title: title.to_owned(),
            csrf: authed.csrf.clone(),
            nav,
            notice: None,
            pending,
        }
    }

    /// Show a fixed notice chosen by code (never text from the URL).
    pub fn with_notice(mut self, code: Option<&str>) -> Self {
        self.notice = code.and_then(notice_text).map(str::to_owned);
        self
    }
}

fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "funded" => "Funds added to the wallet.",
        "agent_created" => "Agent created. Create a key for it below.",
        "renamed" => "Agent renamed.",
        "suspended" => "Agent suspended: its keys stop working immediately.",
        "resumed" => "Agent resumed: its keys work again.",
        "revoked" => "Key revoked. It stops working on the next request.",
        "policy_saved" => "Policy saved. The effective policy below is what applies now.",
        "approved" => "Purchase approved. It is being provisioned.",
        "rejected" => "Purchase rejected. The held money is back in the wallet.",
        "bought" => "Purchase made.",
        "signed_out" => "You are signed out.",
        _ => return None,
    })
}

/// Field errors of a form, by field name.
pub type FieldMap = BTreeMap<String, String>;

/// Turn an app validation error into field messages (other errors go under `_form`).
pub fn field_errors(err: &AppError) -> FieldMap {
    let mut map = FieldMap::new();
    match err {
        AppError::Validation { fields, .. } => {
            for f in fields {
                map.entry(f.field.clone())
                    .or_insert_with(|| f.message.clone());
            }
        }
        other => {
            map.insert("_form".to_owned(), user_message(other));
        }
    }
    map
}

/// What to tell a person about an error (never internal text).
pub fn user_message(err: &AppError) -> String {
    match err {
        AppError::Internal(_) => {
            "Something went wrong on our side; nothing was changed. Try again in a moment."
                .to_owned()
        }
        AppError::InsufficientFunds {
            available_minor,
            required_minor,
        } => format!(
            "Not enough money in the wallet: {} available, {} needed. Add funds on the Wallet page.",
            crate::fmt::usd(*available_minor),
            crate::fmt::usd(*required_minor)
        ),
        other => other.to_string(),
    }
}

/// Render a template into an HTML response with `status`.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(
                    "<!doctype html><title>Error</title><p>This page could not be shown.</p>"
                        .to_owned(),
                ),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    heading: &'a str,
    body: &'a str,
}

/// A standalone page with a heading and a sentence (errors, refusals, not found).
pub fn message_page(status: StatusCode, heading: &str, body: &str) -> Response {
    render(status, &MessagePage { heading, body })
}

/// The page for an app error on a page load.
pub fn error_page(err: &AppError) -> Response {
    match err {
        AppError::NotFound(what) => message_page(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("This {what} does not exist in your account."),
        ),
        AppError::Internal(text) => {
            tracing::error!(error = %text, "dashboard request failed");
            message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                &user_message(err),
            )
        }
        other => message_page(
            StatusCode::BAD_REQUEST,
            "That did not work",
            &user_message(other),
        ),
    }
}

/// 303 to `path` with a notice code.
pub fn see_other(path: &str, notice: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}notice={notice}")).into_response()
}
