//! Sign-in and sign-out. The sign-in form is protected against login CSRF by a double-submit token
//! (a short-lived cookie and a hidden field that must match); failed attempts are throttled per email
//! address; success sets the session cookie (HttpOnly, SameSite=Lax, Secure over https).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_store_app::sessions::{SESSION_COOKIE, SESSION_MAX_MS, constant_time_eq};
use agent_store_app::{App, AppError};
use askama::Template;
use axum::extract::{Extension, Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::web::{self, cookie_value, csrf_refused, render};

/// Cookie of the sign-in form's CSRF token (double submit).
const LOGIN_CSRF_COOKIE: &str = "agent_store_login_csrf";
/// Failed attempts allowed per email within [`WINDOW`] before sign-in is refused for it.
pub const MAX_FAILURES: usize = 5;
/// The throttling window.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Bound on remembered emails, so a flood of made-up addresses cannot grow memory without limit.
const MAX_TRACKED: usize = 10_000;

/// Failed sign-in attempts per email (per node, in memory). See docs/architecture.md.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    failures: Arc<Mutex<HashMap<String, Vec<Instant>>>>,
}

impl Throttle {
    /// Count a sign-in attempt for `email` before its password is checked, or `Err(seconds)` to
    /// wait when it has too many recent failures. The attempt is counted up front, in the same lock
    /// as the check, because checking a password takes a while (argon2id): counting only after a
    /// failed check let any number of concurrent guesses through the check before the first failure
    /// was recorded. A successful sign-in clears the count ([`Self::succeed`]); an attempt that failed
    /// for another reason than the password gives its slot back ([`Self::forgive`]).
    fn attempt(&self, email: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = map.get_mut(email) {
            list.retain(|t| now.duration_since(*t) < WINDOW);
            if list.len() >= MAX_FAILURES {
                let oldest = list.first().copied().unwrap_or(now);
                let wait = WINDOW.saturating_sub(now.duration_since(oldest));
                return Err(wait.as_secs().max(1));
            }
        }
        if map.len() >= MAX_TRACKED {
            map.retain(|_, list| list.last().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        if map.len() < MAX_TRACKED || map.contains_key(email) {
            map.entry(email.to_owned()).or_default().push(now);
        }
        Ok(())
    }

    /// Give back the slot of an attempt that failed for another reason than the password.
    fn forgive(&self, email: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = map.get_mut(email) {
            list.pop();
        }
    }

    fn succeed(&self, email: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(email);
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
    notice: Option<String>,
}

/// Whether cookies must carry `Secure`: the public URL is https, or a proxy says it terminated TLS.
pub fn secure(app: &App, headers: &HeaderMap) -> bool {
    app.config()
        .effective_public_base_url()
        .starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

fn cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
    same_site: &str,
    secure: bool,
) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn login_page(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    email: String,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let token = agent_store_core::keys::random_secret();
    let page = LoginPage {
        csrf: token.clone(),
        email,
        error,
        notice,
    };
    let mut response = render(status, &page);
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(
            LOGIN_CSRF_COOKIE,
            &token,
            "/dashboard",
            3600,
            "Strict",
            secure(app, headers),
        ),
    );
    response
}

/// `GET /dashboard/login`.
pub async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let notice = if q.expired.is_some() {
        Some("Your session has ended. Sign in again to continue.".to_owned())
    } else if q.notice.as_deref() == Some("signed_out") {
        Some("You are signed out.".to_owned())
    } else {
        None
    };
    login_page(&app, &headers, StatusCode::OK, String::new(), None, notice)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: Option<String>,
    password: Option<String>,
    csrf: Option<String>,
}

/// `POST /dashboard/login`.
pub async fn submit(
    State(app): State<App>,
    Extension(throttle): Extension<Throttle>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie_value(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let sent = form.csrf.unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(&sent, &expected) {
        return csrf_refused();
    }
    let email = form.email.unwrap_or_default().trim().to_ascii_lowercase();
    let password = form.password.unwrap_or_default();
    if email.is_empty() || password.is_empty() {
        return login_page(
            &app,
            &headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            email,
            Some("Enter your email and password.".to_owned()),
            None,
        );
    }
    if let Err(seconds) = throttle.attempt(&email) {
        let minutes = seconds.div_ceil(60);
        let mut response = login_page(
            &app,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            email,
            Some(format!(
                "Too many failed sign-in attempts for this email. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            )),
            None,
        );
        if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    match app.sign_in(&email, &password).await {
        Ok(session) => {
            throttle.succeed(&email);
            let secure = secure(&app, &headers);
            let mut response = Redirect::to("/dashboard").into_response();
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                cookie(
                    SESSION_COOKIE,
                    &session.token,
                    "/",
                    SESSION_MAX_MS / 1000,
                    "Lax",
                    secure,
                ),
            );
            h.append(
                header::SET_COOKIE,
                cookie(LOGIN_CSRF_COOKIE, "", "/dashboard", 0, "Strict", secure),
            );
            response
        }
        Err(AppError::Unauthenticated) => login_page(
            &app,
            &headers,
            StatusCode::UNAUTHORIZED,
            email,
            Some("That email and password do not match an account.".to_owned()),
            None,
        ),
        Err(err) => {
            throttle.forgive(&email);
            web::error_page(&err)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

/// `POST /dashboard/logout`: end the session and clear the cookie.
pub async fn logout(
    State(app): State<App>,
    authed: web::Authed,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Err(refused) = web::check_csrf(&authed, &headers, form.csrf.as_deref()) {
        return refused;
    }
    if let Some(token) = cookie_value(&headers, SESSION_COOKIE)
        && let Err(err) = app.sign_out(&token).await
    {
        return web::error_page(&err);
    }
    let mut response = Redirect::to("/dashboard/login?notice=signed_out").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie(SESSION_COOKIE, "", "/", 0, "Lax", secure(&app, &headers)),
    );
    response
}
