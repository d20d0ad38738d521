//! Dashboard sign-in, sessions, CSRF and login throttling, and the Account API over the session
//! cookie, against the real server on port 0.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod dashboard_support;

use common::TestServer;
use dashboard_support::{
    FORM, PASSWORD, browser, cookie_pair, form, set_cookie, sign_in, try_sign_in,
};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, RETRY_AFTER};
use serde_json::json;

#[tokio::test]
async fn signing_in_sets_an_httponly_samesite_session_cookie_and_opens_the_overview() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let client = browser();
    let response = try_sign_in(&s, &client, &owner.email.to_uppercase(), PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/dashboard");
    let cookie = set_cookie(&response, "agent_store_session").unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/;"), "{cookie}");
    assert!(cookie.contains("Max-Age=43200"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );
    let overview = client
        .get(format!("{}/dashboard", s.base))
        .header(COOKIE, cookie_pair(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), StatusCode::OK);
    let csp = overview.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = overview.text().await.unwrap();
    assert!(html.contains("<h1>Overview</h1>"));
    assert!(html.contains("Available to spend"));
    s.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_secure_when_the_dashboard_is_served_over_https() {
    let s = TestServer::start_with(|c| {
        c.public_base_url = Some("https://store.example.com".to_owned())
    })
    .await;
    let owner = s.owner().await;
    let response = try_sign_in(&s, &browser(), &owner.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie(&response, "agent_store_session").unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    s.stop().await;
}

#[tokio::test]
async fn a_wrong_password_or_unknown_email_is_refused_without_a_session() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let client = browser();
    for (email, password) in [
        (owner.email.as_str(), "wrong password"),
        ("nobody@example.com", PASSWORD),
    ] {
        let response = try_sign_in(&s, &client, email, password).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(set_cookie(&response, "agent_store_session").is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains("do not match an account"), "{html}");
        assert!(!html.contains(password), "the password is never echoed");
    }
    let overview = client
        .get(format!("{}/dashboard", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), StatusCode::SEE_OTHER);
    assert_eq!(overview.headers()[LOCATION], "/dashboard/login");
    s.stop().await;
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let client = browser();
    let (session, csrf) = sign_in(&s, &client, &owner).await;
    let out = client
        .post(format!("{}/dashboard/logout", s.base))
        .header(COOKIE, &session)
        .header(CONTENT_TYPE, FORM)
        .body(form(&[("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let cleared = set_cookie(&out, "agent_store_session").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie no longer works anywhere, even if the browser kept it.
    let page = client
        .get(format!("{}/dashboard/wallet", s.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let api = client
        .get(format!("{}/v1/account", s.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[tokio::test]
async fn an_expired_or_idle_session_is_refused_and_sends_the_browser_to_sign_in() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let client = browser();
    for column in ["expires_at", "last_seen_at"] {
        let (session, _) = sign_in(&s, &client, &owner).await;
        // Move the session past its absolute expiry (12 h) or its idle timeout (2 h).
        let past = agent_store_core::time::now_ms() - 13 * 3_600_000;
        let sql = format!("UPDATE dashboard_sessions SET {column} = $1 WHERE account_id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(past)
            .bind(&owner.account_id)
            .execute(s.app().store().pool())
            .await
            .unwrap();
        let page = client
            .get(format!("{}/dashboard", s.base))
            .header(COOKIE, &session)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::SEE_OTHER, "{column}");
        assert_eq!(page.headers()[LOCATION], "/dashboard/login?expired=1");
        let api = client
            .get(format!("{}/v1/account/wallet", s.base))
            .header(COOKIE, &session)
            .send()
            .await
            .unwrap();
        assert_eq!(api.status(), StatusCode::UNAUTHORIZED, "{column}");
    }
    s.stop().await;
}

#[tokio::test]
async fn a_form_posted_without_the_csrf_token_is_refused_and_changes_nothing() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let client = browser();
    let (session, csrf) = sign_in(&s, &client, &owner).await;
    for token in [None, Some("forged-token")] {
        let mut fields = vec![("name", "sneaky")];
        if let Some(t) = token {
            fields.push(("csrf", t));
        }
        let response = client
            .post(format!("{}/dashboard/agents", s.base))
            .header(COOKIE, &session)
            .header(CONTENT_TYPE, FORM)
            .body(form(&fields))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Nothing was changed")
        );
    }
    let agents = s.get("/v1/account/agents", &owner.token).await;
    assert_eq!(agents.body["items"], json!([]));
    // With the token the same form works.
    let ok = client
        .post(format!("{}/dashboard/agents", s.base))
        .header(COOKIE, &session)
        .header(CONTENT_TYPE, FORM)
        .body(form(&[("name", "deployer"), ("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let agents = s.get("/v1/account/agents", &owner.token).await;
    assert_eq!(agents.body["items"][0]["name"], "deployer");
    // The sign-in form needs its own token too (login CSRF).
    let login = client
        .post(format!("{}/dashboard/login", s.base))
        .header(CONTENT_TYPE, FORM)
        .body(form(&[
            ("email", owner.email.as_str()),
            ("password", PASSWORD),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::FORBIDDEN);
    assert!(set_cookie(&login, "agent_store_session").is_none());
    s.stop().await;
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_throttled_per_email() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let other = s.owner().await;
    let client = browser();
    for _ in 0..agent_store_dashboard::MAX_FAILURES {
        let response = try_sign_in(&s, &client, &owner.email, "guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused for a while, with Retry-After.
    let response = try_sign_in(&s, &client, &owner.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= agent_store_dashboard::WINDOW.as_secs());
    assert!(set_cookie(&response, "agent_store_session").is_none());
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Too many failed sign-in attempts")
    );
    // Another account is not affected.
    let response = try_sign_in(&s, &client, &other.email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    s.stop().await;
}

#[tokio::test]
async fn the_account_api_accepts_the_session_cookie_and_needs_the_csrf_header_for_changes() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let client = browser();
    let (session, csrf) = sign_in(&s, &client, &owner).await;
    let account = client
        .get(format!("{}/v1/account", s.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), StatusCode::OK);
    let body: serde_json::Value = account.json().await.unwrap();
    assert_eq!(body["account"]["id"], owner.account_id.as_str());
    let create = |csrf: Option<&str>| {
        let mut request = client
            .post(format!("{}/v1/account/agents", s.base))
            .header(COOKIE, &session)
            .json(&json!({"name": "cookie-agent"}));
        if let Some(token) = csrf {
            request = request.header("X-CSRF-Token", token);
        }
        request.send()
    };
    let refused = create(None).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(
        create(Some("wrong")).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let created = create(Some(&csrf)).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    // The audit log names the session as the credential.
    let events = s.get("/v1/account/audit-events", &owner.token).await;
    let created_event = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "agent.created")
        .unwrap()
        .clone();
    assert!(
        created_event["credentialId"]
            .as_str()
            .unwrap()
            .starts_with("ses_")
    );
    // The cookie is for the Account API only: the Agent API still wants an agent key.
    let agent_api = client
        .get(format!("{}/v1/agent/wallet", s.base))
        .header(COOKIE, &session)
        .send()
        .await
        .unwrap();
    assert_eq!(agent_api.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}
