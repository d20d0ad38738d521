//! Dashboard pages over HTTP: what the owner sees after real spending, and bad form input answered
//! with inline field errors (never a 500).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod dashboard_support;

use common::{TestServer, fund};
use dashboard_support::{FORM, browser, form, sign_in};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use serde_json::json;

struct Page {
    status: StatusCode,
    html: String,
}

async fn get(s: &TestServer, client: &reqwest::Client, session: &str, path: &str) -> Page {
    let r = client
        .get(format!("{}{path}", s.base))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    Page {
        status: r.status(),
        html: r.text().await.unwrap(),
    }
}

async fn post(
    s: &TestServer,
    client: &reqwest::Client,
    session: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Page {
    let r = client
        .post(format!("{}{path}", s.base))
        .header(COOKIE, session)
        .header(CONTENT_TYPE, FORM)
        .body(form(fields))
        .send()
        .await
        .unwrap();
    Page {
        status: r.status(),
        html: r.text().await.unwrap(),
    }
}

#[tokio::test]
async fn the_overview_shows_money_spend_against_limits_approvals_and_a_spend_chart() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "builder").await;
    let policy = json!({"dailySpendLimitMinor": 5000, "approvalRequiredAboveMinor": 2000});
    let put = s
        .send(
            s.client
                .put(format!("{}/v1/account/policy", s.base))
                .bearer_auth(&owner.token)
                .json(&policy),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let configuration = json!({"hostname": "node-1", "region": "eu-west", "image": "ubuntu-24.04",
                               "billingTermMonths": 1, "backupsEnabled": true});
    let bought = s
        .post(
            "/v1/agent/purchases",
            &key,
            json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": configuration,
                   "idempotencyKey": "p1", "note": "for the build farm"}),
        )
        .await;
    assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.text);
    assert_eq!(bought.body["purchase"]["status"], "pending_approval");
    let client = browser();
    let (session, _) = sign_in(&s, &client, &owner).await;
    let page = get(&s, &client, &session, "/dashboard").await;
    assert_eq!(page.status, StatusCode::OK);
    // 100.00 funded, 24.00 held for the pending purchase.
    assert!(page.html.contains("$76.00"), "available");
    assert!(page.html.contains("$24.00"), "held");
    assert!(page.html.contains("$100.00"), "balance");
    assert!(
        page.html.contains("of $50.00 limit"),
        "the daily limit is shown"
    );
    assert!(
        page.html.contains("aria-label=\"1 pending\""),
        "the approvals badge counts 1"
    );
    assert!(page.html.contains("builder"));
    assert_eq!(
        page.html.matches("class=\"bar\"").count(),
        30,
        "one bar per day"
    );
    let approvals = get(&s, &client, &session, "/dashboard/approvals").await;
    assert!(
        approvals.html.contains("for the build farm"),
        "the agent's note"
    );
    assert!(
        approvals.html.contains("approval threshold"),
        "the policy's reason"
    );
    s.stop().await;
}

#[tokio::test]
async fn bad_form_input_is_answered_inline_next_to_the_field() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let client = browser();
    let (session, csrf) = sign_in(&s, &client, &owner).await;
    let csrf = csrf.as_str();

    let wallet = post(
        &s,
        &client,
        &session,
        "/dashboard/wallet/fund",
        &[("csrf", csrf), ("amount", "12.345")],
    )
    .await;
    assert_eq!(wallet.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wallet.html.contains("id=\"amount-error\""),
        "{}",
        wallet.html
    );
    assert!(wallet.html.contains("at most 2 decimal places"));
    assert!(wallet.html.contains("aria-invalid=\"true\""));
    assert!(
        wallet.html.contains("value=\"12.345\""),
        "what was typed is kept"
    );

    let policy = post(
        &s,
        &client,
        &session,
        "/dashboard/policies",
        &[
            ("csrf", csrf),
            ("approval_above", "twenty"),
            ("per_hour", "-3"),
        ],
    )
    .await;
    assert_eq!(policy.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(policy.html.contains("id=\"approval_above-error\""));
    assert!(policy.html.contains("id=\"per_hour-error\""));
    let stored = s.get("/v1/account/policy", &owner.token).await;
    assert_eq!(
        stored.body["policy"]["approvalRequiredAboveMinor"],
        json!(null),
        "nothing saved"
    );

    let agent = post(
        &s,
        &client,
        &session,
        "/dashboard/agents",
        &[("csrf", csrf), ("name", "   ")],
    )
    .await;
    assert_eq!(agent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(agent.html.contains("id=\"agent-name-error\""));

    let filtered = get(
        &s,
        &client,
        &session,
        "/dashboard/purchases?status=bogus&from=yesterday",
    )
    .await;
    assert_eq!(filtered.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(filtered.html.contains("id=\"status-error\""));
    assert!(filtered.html.contains("id=\"from-error\""));

    let quote = post(
        &s,
        &client,
        &session,
        "/dashboard/checkout/quote",
        &[
            ("csrf", csrf),
            ("item", "cat_vps_micro"),
            ("quantity", "1"),
            ("configuration", "{\"hostname\": \"-bad-\"}"),
        ],
    )
    .await;
    assert_eq!(quote.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(quote.html.contains("id=\"configuration-error\""));
    assert!(
        quote.html.contains("region"),
        "every missing field is named"
    );

    let missing = get(&s, &client, &session, "/dashboard/agents/agt_doesnotexist").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.html.contains("does not exist in your account"));
    s.stop().await;
}

#[tokio::test]
async fn another_accounts_objects_are_not_found_from_the_dashboard() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let stranger = s.owner().await;
    let (agent_id, _) = s.agent(&stranger, "theirs").await;
    let client = browser();
    let (session, csrf) = sign_in(&s, &client, &owner).await;
    let page = get(
        &s,
        &client,
        &session,
        &format!("/dashboard/agents/{agent_id}"),
    )
    .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let suspend = post(
        &s,
        &client,
        &session,
        &format!("/dashboard/agents/{agent_id}/status"),
        &[("csrf", csrf.as_str()), ("status", "suspended")],
    )
    .await;
    assert_eq!(suspend.status, StatusCode::NOT_FOUND);
    let theirs = s
        .get(&format!("/v1/account/agents/{agent_id}"), &stranger.token)
        .await;
    assert_eq!(theirs.body["agent"]["status"], "active");
    s.stop().await;
}
