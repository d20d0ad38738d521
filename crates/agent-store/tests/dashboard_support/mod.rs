//! Helpers for the dashboard test files: a browser-like client without a cookie jar (cookies are
//! passed explicitly, so tests see exactly what is sent), urlencoded forms, and signing in.

#![allow(dead_code)]

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};

use super::common::{Owner, TestServer};

pub const PASSWORD: &str = "correct horse battery";
pub const FORM: &str = "application/x-www-form-urlencoded";

/// An urlencoded form body, as a browser sends it.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                other => format!("%{other:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A browser without a cookie jar: we pass cookies ourselves to see exactly what is sent.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Set-Cookie` header for `name`, if any.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The value of the first hidden `csrf` field in a page.
pub fn csrf_field(html: &str) -> String {
    let start = html
        .find("name=\"csrf\" value=\"")
        .expect("page has a csrf field")
        + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

/// The login form's CSRF cookie and field.
pub async fn login_form(s: &TestServer, client: &reqwest::Client) -> (String, String) {
    let page = client
        .get(format!("{}/dashboard/login", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = cookie_pair(&set_cookie(&page, "agent_store_login_csrf").unwrap());
    let html = page.text().await.unwrap();
    assert!(html.contains("<label for=\"email\">Email</label>"));
    (cookie, csrf_field(&html))
}

pub async fn try_sign_in(
    s: &TestServer,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let (cookie, csrf) = login_form(s, client).await;
    client
        .post(format!("{}/dashboard/login", s.base))
        .header(COOKIE, cookie)
        .header(CONTENT_TYPE, FORM)
        .body(form(&[
            ("email", email),
            ("password", password),
            ("csrf", csrf.as_str()),
        ]))
        .send()
        .await
        .unwrap()
}

/// Sign in; returns the session cookie pair and the session's CSRF token (read from a page).
pub async fn sign_in(s: &TestServer, client: &reqwest::Client, owner: &Owner) -> (String, String) {
    let response = try_sign_in(s, client, &owner.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let session = cookie_pair(&set_cookie(&response, "agent_store_session").unwrap());
    let page = client
        .get(format!("{}/dashboard", s.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_field(&page.text().await.unwrap());
    (session, csrf)
}
