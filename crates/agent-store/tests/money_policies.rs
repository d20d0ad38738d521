//! Layered spending policies over HTTP: limits, lists and approval triggers of each layer, what counts as
//! spend (holds yes, released holds and refunds no, every agent for account limits), velocity, the
//! effective-policy view with usage, and validation and ownership of the policy routes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod money_support;

use common::{
    Owner, Reply, TestServer, assert_books_balance, assert_error, error_fields, fund,
    wait_for_purchase,
};
use money_support::{
    ACCOUNT, AGENT, assert_wallet, audit, buy_item, buy_ok, credits, key_id, list_all, new_key,
    object_storage, put, put_policy, reason, reason_codes, vps, wait_status,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn funded(s: &TestServer, cents: i64) -> (Owner, String, String) {
    let owner = s.owner().await;
    fund(s, &owner, cents).await;
    let (agent_id, key) = s.agent(&owner, "buyer").await;
    (owner, agent_id, key)
}

/// Assert a 403 policy_denied and return its reasons.
fn denied(reply: &Reply) -> Value {
    let error = assert_error(reply, StatusCode::FORBIDDEN, "policy_denied");
    let reasons = error["details"]["reasons"].clone();
    assert!(
        reasons.as_array().is_some_and(|r| !r.is_empty()),
        "{}",
        reply.text
    );
    reasons
}

/// Buy and wait for completion; returns the purchase.
async fn buy_done(s: &TestServer, key: &str, item: &str, configuration: Value) -> Value {
    let p = buy_ok(s, key, AGENT, item, configuration).await;
    let done = wait_for_purchase(s, key, AGENT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    done
}

#[tokio::test]
async fn an_account_daily_limit_denies_with_its_reason_and_creates_nothing_but_an_audit_event() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(&s, &owner, "/policy", json!({"dailySpendLimitMinor": 3000})).await;
    buy_done(&s, &key, "cat_vps_micro", vps("daily-01", true)).await;
    assert_wallet(&s, &owner, 7600, 0, 7600).await;

    let refused = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("daily-02", true)).await;
    let reasons = denied(&refused);
    assert_eq!(reason_codes(&reasons), vec!["daily_limit_exceeded"]);
    let r = reason(&reasons, "daily_limit_exceeded");
    assert_eq!(r["layer"], "account");
    assert_eq!(r["limitMinor"], 3000);
    assert_eq!(r["amountMinor"], 2400);
    assert_eq!(r["spentMinor"], 2400);
    assert!(r["message"].as_str().is_some_and(|m| !m.is_empty()));
    // Nothing was created or moved...
    assert_wallet(&s, &owner, 7600, 0, 7600).await;
    assert_eq!(list_all(&s, &key, "/v1/agent/purchases").await.len(), 1);
    assert_eq!(
        list_all(&s, &owner.token, "/v1/account/purchases")
            .await
            .len(),
        1
    );
    assert_eq!(list_all(&s, &key, "/v1/agent/services").await.len(), 1);
    // ...but the refusal is on record.
    let events = audit(&s, &owner, "purchase.denied").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actorType"], "agent");
    assert_eq!(
        reason_codes(&events[0]["details"]["reasons"]),
        vec!["daily_limit_exceeded"]
    );
    // The quote's preview already said so.
    let q = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": vps("daily-03", true)}),
        )
        .await;
    assert_eq!(
        q.body["quote"]["policyPreview"]["decision"], "deny",
        "{}",
        q.text
    );
    // Exactly at the limit is allowed: 2400 + 600 = 3000.
    buy_done(&s, &key, "cat_router_credit_001", credits(6)).await;
    assert_wallet(&s, &owner, 7000, 0, 7000).await;
    // Anything more is not.
    let over = buy_item(&s, &key, AGENT, "cat_router_credit_001", credits(5)).await;
    let r = reason(&denied(&over), "daily_limit_exceeded").clone();
    assert_eq!(r["spentMinor"], 3000);
    assert_wallet(&s, &owner, 7000, 0, 7000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_denied_purchase_can_be_retried_with_the_same_key_once_the_policy_allows_it() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(&s, &owner, "/policy", json!({"maxPurchaseMinor": 1000})).await;
    let body = json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": vps("retry-01", false),
                      "idempotencyKey": "denied-then-allowed"});
    let refused = money_support::purchase_raw(&s, &key, AGENT, body.clone()).await;
    assert_eq!(
        reason_codes(&denied(&refused)),
        vec!["max_purchase_exceeded"]
    );
    put_policy(&s, &owner, "/policy", json!({"maxPurchaseMinor": 2000})).await;
    let ok = money_support::purchase_raw(&s, &key, AGENT, body).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    wait_for_purchase(&s, &key, AGENT, ok.body["purchase"]["id"].as_str().unwrap()).await;
    assert_wallet(&s, &owner, 8000, 0, 8000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn max_purchase_allows_exactly_the_limit_and_denies_above_it() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(&s, &owner, "/policy", json!({"maxPurchaseMinor": 2000})).await;
    let refused = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("max-01", true)).await;
    let reasons = denied(&refused);
    let r = reason(&reasons, "max_purchase_exceeded");
    assert_eq!(r["layer"], "account");
    assert_eq!(r["limitMinor"], 2000);
    assert_eq!(r["amountMinor"], 2400);
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    buy_done(&s, &key, "cat_vps_micro", vps("max-02", false)).await;
    assert_wallet(&s, &owner, 8000, 0, 8000).await;
    // Quantity counts: 2 servers at 2000 = 4000 > 2000.
    let two = money_support::purchase_raw(
        &s,
        &key,
        AGENT,
        json!({"catalogItemId": "cat_vps_micro", "quantity": 2, "configuration": vps("max-03", false),
               "idempotencyKey": new_key("two")}),
    )
    .await;
    assert_eq!(reason_codes(&denied(&two)), vec!["max_purchase_exceeded"]);
    assert_wallet(&s, &owner, 8000, 0, 8000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_monthly_limit_denies_with_monthly_limit_exceeded() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"monthlySpendLimitMinor": 2500}),
    )
    .await;
    buy_done(&s, &key, "cat_vps_micro", vps("month-01", false)).await;
    let refused = buy_item(
        &s,
        &key,
        AGENT,
        "cat_storage_object_001",
        object_storage(500),
    )
    .await;
    let reasons = denied(&refused);
    let r = reason(&reasons, "monthly_limit_exceeded");
    assert_eq!(r["limitMinor"], 2500);
    assert_eq!(r["spentMinor"], 2000);
    assert_eq!(r["amountMinor"], 1000);
    buy_done(&s, &key, "cat_storage_object_001", object_storage(250)).await;
    assert_wallet(&s, &owner, 7500, 0, 7500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn blocked_and_allowed_categories_deny_with_category_not_allowed() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"blockedCategories": ["telephony"]}),
    )
    .await;
    let phone = buy_item(
        &s,
        &key,
        AGENT,
        "cat_phone_global_001",
        json!({"countryCode": "US", "numberType": "local", "capabilities": ["sms"]}),
    )
    .await;
    let reasons = denied(&phone);
    assert_eq!(reason_codes(&reasons), vec!["category_not_allowed"]);
    assert_eq!(reason(&reasons, "category_not_allowed")["layer"], "account");
    buy_done(&s, &key, "cat_storage_object_001", object_storage(250)).await;
    // An allow-list denies everything outside it.
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"allowedCategories": ["compute"]}),
    )
    .await;
    let storage = buy_item(
        &s,
        &key,
        AGENT,
        "cat_storage_object_001",
        object_storage(250),
    )
    .await;
    assert_eq!(
        reason_codes(&denied(&storage)),
        vec!["category_not_allowed"]
    );
    buy_done(&s, &key, "cat_vps_micro", vps("allowed-01", false)).await;
    assert_wallet(&s, &owner, 10_000 - 500 - 2000, 0, 7500).await;
    assert_eq!(list_all(&s, &key, "/v1/agent/purchases").await.len(), 2);
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn allowed_and_blocked_catalog_items_deny_with_catalog_item_not_allowed() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"allowedCatalogItemIds": ["cat_vps_micro", "cat_router_credit_001"]}),
    )
    .await;
    let small = buy_item(
        &s,
        &key,
        AGENT,
        "cat_storage_object_001",
        object_storage(250),
    )
    .await;
    let reasons = denied(&small);
    assert_eq!(reason_codes(&reasons), vec!["catalog_item_not_allowed"]);
    buy_done(&s, &key, "cat_router_credit_001", credits(5)).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"blockedCatalogItemIds": ["cat_router_credit_001"]}),
    )
    .await;
    let blocked = buy_item(&s, &key, AGENT, "cat_router_credit_001", credits(5)).await;
    assert_eq!(
        reason_codes(&denied(&blocked)),
        vec!["catalog_item_not_allowed"]
    );
    assert_wallet(&s, &owner, 9500, 0, 9500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn every_violated_rule_is_reported_at_once() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"maxPurchaseMinor": 100, "blockedCategories": ["compute"], "dailySpendLimitMinor": 50}),
    )
    .await;
    let reply = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("many-01", false)).await;
    let mut codes = reason_codes(&denied(&reply));
    codes.sort();
    assert_eq!(
        codes,
        vec![
            "category_not_allowed",
            "daily_limit_exceeded",
            "max_purchase_exceeded"
        ]
    );
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn above_the_approval_threshold_a_purchase_waits_with_reason_approval_threshold() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"approvalRequiredAboveMinor": 2000}),
    )
    .await;
    // Exactly at the threshold: no approval.
    let at = buy_done(&s, &key, "cat_vps_micro", vps("threshold-01", false)).await;
    assert_eq!(at["approval"]["required"], false);
    // Above it: pending, with the reason and figures; the quote preview says so first.
    let q = money_support::quote(&s, &key, AGENT, "cat_vps_micro", vps("threshold-02", true)).await;
    assert_eq!(q["policyPreview"]["decision"], "approval_required");
    let p = money_support::buy_quote(&s, &key, AGENT, q["id"].as_str().unwrap()).await;
    assert_eq!(p["status"], "pending_approval");
    let reasons = &p["approval"]["reasons"];
    assert_eq!(reason_codes(reasons), vec!["approval_threshold"]);
    let r = reason(reasons, "approval_threshold");
    assert_eq!(r["layer"], "account");
    assert_eq!(r["limitMinor"], 2000);
    assert_eq!(r["amountMinor"], 2400);
    assert_wallet(&s, &owner, 8000, 2400, 5600).await;
    // A deny beats an approval trigger.
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"approvalRequiredAboveMinor": 2000, "maxPurchaseMinor": 2200}),
    )
    .await;
    let refused = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("threshold-03", true)).await;
    assert_eq!(
        reason_codes(&denied(&refused)),
        vec!["max_purchase_exceeded"]
    );
    assert_wallet(&s, &owner, 8000, 2400, 5600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn approval_required_categories_hold_only_those_categories() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"approvalRequiredCategories": ["compute"]}),
    )
    .await;
    let p = buy_ok(&s, &key, AGENT, "cat_vps_micro", vps("category-01", false)).await;
    assert_eq!(p["status"], "pending_approval");
    assert_eq!(
        reason_codes(&p["approval"]["reasons"]),
        vec!["approval_category"]
    );
    assert_eq!(
        reason(&p["approval"]["reasons"], "approval_category")["layer"],
        "account"
    );
    buy_done(&s, &key, "cat_storage_object_001", object_storage(250)).await;
    assert_wallet(&s, &owner, 9500, 2000, 7500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn an_agent_layer_narrows_the_account_layer_and_cannot_widen_it() {
    let s = TestServer::start().await;
    let (owner, agent_id, key) = funded(&s, 10_000).await;
    let (_, other_key) = s.agent(&owner, "other").await;
    put_policy(&s, &owner, "/policy", json!({"maxPurchaseMinor": 5000})).await;
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"maxPurchaseMinor": 1000}),
    )
    .await;
    let refused = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("narrow-01", false)).await;
    let reasons = denied(&refused);
    let r = reason(&reasons, "max_purchase_exceeded");
    assert_eq!(r["layer"], "agent");
    assert_eq!(r["limitMinor"], 1000);
    // The other agent answers only to the account layer.
    buy_done(&s, &other_key, "cat_vps_micro", vps("narrow-02", false)).await;
    // An agent layer above the account's limit does not widen it.
    put_policy(&s, &owner, "/policy", json!({"maxPurchaseMinor": 1000})).await;
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"maxPurchaseMinor": 9000}),
    )
    .await;
    let refused = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("narrow-03", false)).await;
    assert_eq!(
        reason(&denied(&refused), "max_purchase_exceeded")["layer"],
        "account"
    );
    // The account buying as itself answers only to the platform and account layers.
    put_policy(&s, &owner, "/policy", json!({"maxPurchaseMinor": 5000})).await;
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"maxPurchaseMinor": 1, "blockedCategories": ["compute"]}),
    )
    .await;
    let mine = buy_ok(
        &s,
        &owner.token,
        ACCOUNT,
        "cat_vps_micro",
        vps("narrow-04", false),
    )
    .await;
    wait_for_purchase(&s, &owner.token, ACCOUNT, mine["id"].as_str().unwrap()).await;
    assert_wallet(&s, &owner, 6000, 0, 6000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_key_layer_restricts_only_that_key() {
    let s = TestServer::start().await;
    let (owner, agent_id, key) = funded(&s, 10_000).await;
    let second = s
        .post(
            &format!("/v1/account/agents/{agent_id}/keys"),
            &owner.token,
            json!({"label": "second"}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let second_key = second.body["apiKey"]["key"].as_str().unwrap().to_owned();
    let kid = key_id(&key);
    assert_eq!(
        second.body["apiKey"]["id"].as_str().unwrap(),
        key_id(&second_key)
    );
    let policy_path = format!("/agents/{agent_id}/keys/{kid}/policy");
    put_policy(
        &s,
        &owner,
        &policy_path,
        json!({"maxPurchaseMinor": 500, "allowedCategories": ["storage", "api_tokens"]}),
    )
    .await;
    let got = s
        .get(&format!("{ACCOUNT}{policy_path}"), &owner.token)
        .await;
    assert_eq!(got.body["policy"]["maxPurchaseMinor"], 500, "{}", got.text);
    let refused = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("keyed-01", false)).await;
    let reasons = denied(&refused);
    assert!(
        reasons
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["layer"] == "key"),
        "{reasons}"
    );
    let mut codes = reason_codes(&reasons);
    codes.sort();
    assert_eq!(codes, vec!["category_not_allowed", "max_purchase_exceeded"]);
    buy_done(&s, &key, "cat_storage_object_001", object_storage(250)).await;
    // The other key of the same agent is unrestricted.
    buy_done(&s, &second_key, "cat_vps_micro", vps("keyed-02", false)).await;
    let effective = s.get("/v1/agent/policies/effective", &key).await;
    assert_eq!(effective.body["policy"]["maxPurchaseMinor"], 500);
    assert_eq!(effective.body["sources"]["maxPurchaseMinor"], "key");
    let other_effective = s.get("/v1/agent/policies/effective", &second_key).await;
    assert_eq!(
        other_effective.body["policy"]["maxPurchaseMinor"],
        Value::Null
    );
    assert_wallet(&s, &owner, 10_000 - 500 - 2000, 0, 7500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn max_purchases_per_hour_denies_with_velocity_exceeded() {
    let s = TestServer::start().await;
    let (owner, agent_id, key) = funded(&s, 10_000).await;
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"maxPurchasesPerHour": 2}),
    )
    .await;
    buy_done(&s, &key, "cat_router_credit_001", credits(5)).await;
    buy_done(&s, &key, "cat_router_credit_001", credits(6)).await;
    let third = buy_item(&s, &key, AGENT, "cat_router_credit_001", credits(7)).await;
    let reasons = denied(&third);
    let r = reason(&reasons, "velocity_exceeded");
    assert_eq!(r["layer"], "agent");
    assert_eq!(r["maxPurchasesPerHour"], 2);
    assert_eq!(r["purchasesLastHour"], 2);
    // A denial does not count as a purchase, and another agent is not limited by this layer.
    let fourth = buy_item(&s, &key, AGENT, "cat_router_credit_001", credits(8)).await;
    assert_eq!(
        reason(&denied(&fourth), "velocity_exceeded")["purchasesLastHour"],
        2
    );
    let (_, other) = s.agent(&owner, "other").await;
    buy_done(&s, &other, "cat_router_credit_001", credits(9)).await;
    let usage = s.get("/v1/agent/policies/effective", &key).await;
    assert_eq!(
        usage.body["usage"]["purchasesLastHour"], 2,
        "{}",
        usage.text
    );
    assert_wallet(&s, &owner, 10_000 - 500 - 600 - 900, 0, 8000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn held_amounts_count_toward_the_daily_limit_and_released_holds_stop_counting() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"dailySpendLimitMinor": 3000, "approvalRequiredAboveMinor": 2000}),
    )
    .await;
    let pending = buy_ok(&s, &key, AGENT, "cat_vps_micro", vps("held-01", true)).await;
    assert_eq!(pending["status"], "pending_approval");
    assert_wallet(&s, &owner, 10_000, 2400, 7600).await;
    let refused = buy_item(&s, &key, AGENT, "cat_router_credit_001", credits(10)).await;
    let reasons = denied(&refused);
    let r = reason(&reasons, "daily_limit_exceeded");
    assert_eq!(r["spentMinor"], 2400);
    assert_eq!(r["amountMinor"], 1000);
    let usage = s.get("/v1/agent/policies/effective", &key).await;
    assert_eq!(
        usage.body["usage"]["spentTodayMinor"], 2400,
        "{}",
        usage.text
    );
    assert_eq!(usage.body["usage"]["remainingTodayMinor"], 600);
    // Rejecting releases the hold, and the spend stops counting.
    let rejected = s
        .post(
            &format!(
                "/v1/account/purchases/{}/reject",
                pending["id"].as_str().unwrap()
            ),
            &owner.token,
            json!({"reason": "not today"}),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    let usage = s.get("/v1/agent/policies/effective", &key).await;
    assert_eq!(usage.body["usage"]["spentTodayMinor"], 0, "{}", usage.text);
    buy_done(&s, &key, "cat_router_credit_001", credits(10)).await;
    assert_wallet(&s, &owner, 9000, 0, 9000).await;
    // 1000 spent + 2400 would pass 3000: a deny beats the approval trigger.
    let over = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("held-02", true)).await;
    let reasons = denied(&over);
    assert_eq!(reason_codes(&reasons), vec!["daily_limit_exceeded"]);
    assert_eq!(reason(&reasons, "daily_limit_exceeded")["spentMinor"], 1000);
    assert_wallet(&s, &owner, 9000, 0, 9000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn canceled_and_expired_holds_and_refunds_stop_counting() {
    let s = TestServer::start_with(|c| {
        c.approvals.window_seconds = 1;
        c.jobs.poll_interval_ms = 100;
        c.jobs.retry_base_ms = 50;
    })
    .await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"dailySpendLimitMinor": 2500, "approvalRequiredAboveMinor": 2000}),
    )
    .await;
    // Expired hold.
    let p = buy_ok(
        &s,
        &key,
        AGENT,
        "cat_vps_micro",
        vps("expire-hold-01", true),
    )
    .await;
    assert_eq!(p["status"], "pending_approval");
    let refused = buy_item(&s, &key, AGENT, "cat_router_credit_001", credits(5)).await;
    assert_eq!(
        reason_codes(&denied(&refused)),
        vec!["daily_limit_exceeded"]
    );
    wait_status(&s, &key, AGENT, p["id"].as_str().unwrap(), "expired").await;
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    // Refunded (failed provisioning) spend.
    let failed = buy_ok(
        &s,
        &key,
        AGENT,
        "cat_vps_micro",
        vps("sandbox-fail-limit", false),
    )
    .await;
    let failed = wait_for_purchase(&s, &key, AGENT, failed["id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "failed");
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    // Canceled hold.
    let p2 = buy_ok(
        &s,
        &key,
        AGENT,
        "cat_vps_micro",
        vps("cancel-hold-01", true),
    )
    .await;
    let canceled = s
        .post(
            &format!("/v1/agent/purchases/{}/cancel", p2["id"].as_str().unwrap()),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.text);
    // Nothing counts any more: the full 2500 is available to spend today.
    let usage = s.get("/v1/agent/policies/effective", &key).await;
    assert_eq!(usage.body["usage"]["spentTodayMinor"], 0, "{}", usage.text);
    buy_done(&s, &key, "cat_router_credit_001", credits(20)).await;
    buy_done(&s, &key, "cat_router_credit_001", credits(5)).await;
    assert_wallet(&s, &owner, 7500, 0, 7500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn account_limits_count_the_spend_of_every_agent() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    let (_, other) = s.agent(&owner, "other").await;
    put_policy(&s, &owner, "/policy", json!({"dailySpendLimitMinor": 3500})).await;
    buy_done(&s, &key, "cat_vps_micro", vps("shared-01", true)).await;
    let refused = buy_item(&s, &other, AGENT, "cat_router_credit_001", credits(12)).await;
    let reasons = denied(&refused);
    let r = reason(&reasons, "daily_limit_exceeded");
    assert_eq!(r["layer"], "account");
    assert_eq!(r["spentMinor"], 2400);
    // The account's own purchases count too.
    buy_ok(
        &s,
        &owner.token,
        ACCOUNT,
        "cat_router_credit_001",
        credits(5),
    )
    .await;
    let refused = buy_item(&s, &other, AGENT, "cat_router_credit_001", credits(7)).await;
    assert_eq!(
        reason(&denied(&refused), "daily_limit_exceeded")["spentMinor"],
        2900
    );
    buy_done(&s, &other, "cat_router_credit_001", credits(6)).await;
    assert_wallet(&s, &owner, 10_000 - 2400 - 500 - 600, 0, 6500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_platform_layer_from_config_applies_above_every_account() {
    let s = TestServer::start_with(|c| c.platform_policy.max_purchase_minor = Some(2000)).await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(&s, &owner, "/policy", json!({"maxPurchaseMinor": 9000})).await;
    let refused = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("platform-01", true)).await;
    let r = reason(&denied(&refused), "max_purchase_exceeded").clone();
    assert_eq!(r["layer"], "platform");
    assert_eq!(r["limitMinor"], 2000);
    let as_account = buy_item(
        &s,
        &owner.token,
        ACCOUNT,
        "cat_vps_micro",
        vps("platform-02", true),
    )
    .await;
    assert_eq!(
        reason(&denied(&as_account), "max_purchase_exceeded")["layer"],
        "platform"
    );
    let effective = s.get("/v1/agent/policies/effective", &key).await;
    assert_eq!(effective.body["policy"]["maxPurchaseMinor"], 2000);
    assert_eq!(effective.body["sources"]["maxPurchaseMinor"], "platform");
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn category_rules_limit_one_category() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"categoryRules": {"compute": {"maxPurchaseMinor": 2000, "dailySpendLimitMinor": 4000}}}),
    )
    .await;
    let refused = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("rule-01", true)).await;
    let r = reason(&denied(&refused), "max_purchase_exceeded").clone();
    assert_eq!(r["limitMinor"], 2000);
    assert_eq!(r["category"], "compute");
    buy_done(&s, &key, "cat_vps_micro", vps("rule-02", false)).await;
    buy_done(&s, &key, "cat_vps_micro", vps("rule-03", false)).await;
    let refused = buy_item(&s, &key, AGENT, "cat_vps_micro", vps("rule-04", false)).await;
    assert_eq!(
        reason(&denied(&refused), "daily_limit_exceeded")["spentMinor"],
        4000
    );
    // Other categories are unaffected.
    buy_done(&s, &key, "cat_router_credit_001", credits(30)).await;
    assert_wallet(&s, &owner, 10_000 - 4000 - 3000, 0, 3000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_effective_policy_merges_the_layers_and_reports_usage() {
    let s = TestServer::start().await;
    let (owner, agent_id, key) = funded(&s, 20_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"maxPurchaseMinor": 5000, "dailySpendLimitMinor": 10_000, "monthlySpendLimitMinor": 50_000,
               "blockedCategories": ["telephony"], "approvalRequiredAboveMinor": 4000}),
    )
    .await;
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"maxPurchaseMinor": 3000, "blockedCategories": ["domains"], "maxPurchasesPerHour": 10}),
    )
    .await;
    buy_done(&s, &key, "cat_vps_micro", vps("effective-01", true)).await;
    let reply = s.get("/v1/agent/policies/effective", &key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let b = &reply.body;
    assert_eq!(b["policy"]["maxPurchaseMinor"], 3000);
    assert_eq!(b["sources"]["maxPurchaseMinor"], "agent");
    assert_eq!(b["policy"]["dailySpendLimitMinor"], 10_000);
    assert_eq!(b["sources"]["dailySpendLimitMinor"], "account");
    assert_eq!(b["policy"]["monthlySpendLimitMinor"], 50_000);
    assert_eq!(b["policy"]["approvalRequiredAboveMinor"], 4000);
    assert_eq!(b["policy"]["maxPurchasesPerHour"], 10);
    assert_eq!(b["sources"]["maxPurchasesPerHour"], "agent");
    let mut blocked: Vec<String> = b["policy"]["blockedCategories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    blocked.sort();
    assert_eq!(blocked, vec!["domains", "telephony"]);
    let layers: Vec<&str> = b["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["layer"].as_str().unwrap())
        .collect();
    assert_eq!(layers, vec!["platform", "account", "agent"]);
    assert_eq!(b["layers"][1]["policy"]["maxPurchaseMinor"], 5000);
    assert_eq!(b["layers"][2]["policy"]["maxPurchaseMinor"], 3000);
    let u = &b["usage"];
    assert_eq!(u["spentTodayMinor"], 2400);
    assert_eq!(u["spentThisMonthMinor"], 2400);
    assert_eq!(u["remainingTodayMinor"], 7600);
    assert_eq!(u["remainingThisMonthMinor"], 47_600);
    assert_eq!(u["purchasesLastHour"], 1);
    // The account-wide daily limit also counts another agent's spend.
    let (_, other) = s.agent(&owner, "other").await;
    buy_done(&s, &other, "cat_router_credit_001", credits(10)).await;
    let u = s.get("/v1/agent/policies/effective", &key).await.body["usage"].clone();
    assert_eq!(u["remainingTodayMinor"], 6600, "{u}");
    assert_wallet(&s, &owner, 20_000 - 2400 - 1000, 0, 16_600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn policy_routes_round_trip_and_record_an_audit_event() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (agent_id, _) = s.agent(&owner, "bot").await;
    let empty = s.get("/v1/account/policy", &owner.token).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(empty.body["policy"]["maxPurchaseMinor"], Value::Null);
    let full = json!({"maxPurchaseMinor": 50000, "dailySpendLimitMinor": 100000, "monthlySpendLimitMinor": 500000,
        "approvalRequiredAboveMinor": 20000, "allowedCategories": null, "blockedCategories": ["telephony"],
        "allowedCatalogItemIds": null, "blockedCatalogItemIds": [], "approvalRequiredCategories": ["compute"],
        "allowedActions": null, "maxPurchasesPerHour": 20,
        "categoryRules": {"compute": {"maxPurchaseMinor": 30000, "dailySpendLimitMinor": 60000}}});
    let stored = put_policy(&s, &owner, "/policy", full.clone()).await;
    for field in [
        "maxPurchaseMinor",
        "dailySpendLimitMinor",
        "blockedCategories",
        "maxPurchasesPerHour",
    ] {
        assert_eq!(stored[field], full[field], "{field}");
    }
    assert_eq!(
        stored["categoryRules"]["compute"]["maxPurchaseMinor"],
        30000
    );
    let again = s.get("/v1/account/policy", &owner.token).await;
    assert_eq!(again.body["policy"], stored);
    let agent_policy = put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"maxPurchaseMinor": 100}),
    )
    .await;
    assert_eq!(agent_policy["maxPurchaseMinor"], 100);
    let got = s
        .get(
            &format!("/v1/account/agents/{agent_id}/policy"),
            &owner.token,
        )
        .await;
    assert_eq!(got.body["policy"]["maxPurchaseMinor"], 100);
    assert_eq!(audit(&s, &owner, "policy.updated").await.len(), 2);
    s.stop().await;
}

#[tokio::test]
async fn an_invalid_policy_is_400_naming_each_field_and_changes_nothing() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (agent_id, _) = s.agent(&owner, "bot").await;
    put_policy(&s, &owner, "/policy", json!({"maxPurchaseMinor": 700})).await;
    let path = format!("{ACCOUNT}/policy");
    let bad = put(
        &s,
        &owner.token,
        &path,
        json!({"maxPurchaseMinor": -1, "dailySpendLimitMinor": -5, "blockedCategories": ["weapons"],
               "allowedCatalogItemIds": ["nope"], "maxPurchasesPerHour": -1,
               "categoryRules": {"nowhere": {"maxPurchaseMinor": 1}}}),
    )
    .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "validation_failed");
    let fields = error_fields(&bad);
    for field in [
        "maxPurchaseMinor",
        "dailySpendLimitMinor",
        "maxPurchasesPerHour",
        "categoryRules.nowhere",
    ] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} missing in {fields:?}"
        );
    }
    assert!(
        fields.iter().any(|f| f.starts_with("blockedCategories")),
        "{fields:?}"
    );
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("allowedCatalogItemIds")),
        "{fields:?}"
    );
    // An id shaped like a catalog id but naming no item is refused too.
    let typo = put(
        &s,
        &owner.token,
        &path,
        json!({"allowedCatalogItemIds": ["cat_vps_micro", "cat_vps_mirco"]}),
    )
    .await;
    assert_error(&typo, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(error_fields(&typo), vec!["allowedCatalogItemIds[1]"]);
    let unknown = put(
        &s,
        &owner.token,
        &path,
        json!({"maxPurchaseMinor": 5, "spendCap": 10}),
    )
    .await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(
        unknown.text.contains("spendCap"),
        "the unknown field is named: {}",
        unknown.text
    );
    let wrong_type = put(&s, &owner.token, &path, json!({"maxPurchaseMinor": "lots"})).await;
    assert_error(&wrong_type, StatusCode::BAD_REQUEST, "validation_failed");
    let agent_bad = put(
        &s,
        &owner.token,
        &format!("{ACCOUNT}/agents/{agent_id}/policy"),
        json!({"approvalRequiredAboveMinor": -3}),
    )
    .await;
    assert_error(&agent_bad, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(error_fields(&agent_bad), vec!["approvalRequiredAboveMinor"]);
    let now = s.get("/v1/account/policy", &owner.token).await;
    assert_eq!(now.body["policy"]["maxPurchaseMinor"], 700);
    assert_eq!(audit(&s, &owner, "policy.updated").await.len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn another_accounts_agent_or_key_policy_is_404_and_agents_cannot_edit_policies() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (agent_id, key) = s.agent(&owner, "bot").await;
    let stranger = s.owner().await;
    let agent_path = format!("{ACCOUNT}/agents/{agent_id}/policy");
    let key_path = format!("{ACCOUNT}/agents/{agent_id}/keys/{}/policy", key_id(&key));
    for path in [&agent_path, &key_path] {
        assert_error(
            &s.get(path, &stranger.token).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_error(
            &put(
                &s,
                &stranger.token,
                path,
                json!({"maxPurchaseMinor": 1_000_000}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_error(
            &put(&s, &key, path, json!({"maxPurchaseMinor": 1_000_000})).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        );
    }
    assert_error(
        &put(&s, &key, &format!("{ACCOUNT}/policy"), json!({})).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    // A key of another agent in the same account, or an unknown agent, is 404 too.
    let (other_agent, other_key) = s.agent(&owner, "other").await;
    let crossed = format!(
        "{ACCOUNT}/agents/{other_agent}/keys/{}/policy",
        key_id(&key)
    );
    assert_error(
        &put(&s, &owner.token, &crossed, json!({"maxPurchaseMinor": 1})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get(
            &format!("{ACCOUNT}/agents/agt_01jdnotthere0000000000000/policy"),
            &owner.token,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Nothing changed for the owner's agents.
    let own = s.get(&agent_path, &owner.token).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.body["policy"]["maxPurchaseMinor"], Value::Null);
    let effective = s.get("/v1/agent/policies/effective", &other_key).await;
    assert_eq!(effective.body["policy"]["maxPurchaseMinor"], Value::Null);
    assert!(audit(&s, &owner, "policy.updated").await.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn concurrent_purchases_cannot_together_pass_a_daily_limit() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 100_000).await;
    let (_, other) = s.agent(&owner, "other").await;
    put_policy(&s, &owner, "/policy", json!({"dailySpendLimitMinor": 5000})).await;
    let requests = (0..8)
        .map(|i| {
            (
                "/v1/agent/purchases".to_owned(),
                if i % 2 == 0 {
                    key.clone()
                } else {
                    other.clone()
                },
                json!({"catalogItemId": "cat_vps_micro", "quantity": 1,
                       "configuration": vps(&format!("limit-race-{i}"), false),
                       "idempotencyKey": format!("limit-race-{i}")}),
            )
        })
        .collect();
    let replies = money_support::concurrent_posts(&s, requests).await;
    assert_eq!(
        money_support::count_status(&replies, StatusCode::CREATED),
        2,
        "{replies:?}"
    );
    for r in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(reason_codes(&denied(r)), vec!["daily_limit_exceeded"]);
    }
    assert_eq!(
        list_all(&s, &owner.token, "/v1/account/purchases")
            .await
            .len(),
        2
    );
    assert_eq!(audit(&s, &owner, "purchase.denied").await.len(), 6);
    assert_wallet(&s, &owner, 96_000, 0, 96_000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn concurrent_purchases_cannot_together_pass_the_hourly_velocity() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 100_000).await;
    put_policy(&s, &owner, "/policy", json!({"maxPurchasesPerHour": 3})).await;
    let requests = (0..8)
        .map(|i| {
            (
                "/v1/agent/purchases".to_owned(),
                key.clone(),
                json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
                       "configuration": credits(5), "idempotencyKey": format!("velocity-race-{i}")}),
            )
        })
        .collect();
    let replies = money_support::concurrent_posts(&s, requests).await;
    assert_eq!(
        money_support::count_status(&replies, StatusCode::CREATED),
        3,
        "{replies:?}"
    );
    for r in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_eq!(reason_codes(&denied(r)), vec!["velocity_exceeded"]);
    }
    assert_wallet(&s, &owner, 98_500, 0, 98_500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_effective_policy_without_limits_reports_no_remaining_cap() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded(&s, 10_000).await;
    buy_done(&s, &key, "cat_router_credit_001", credits(5)).await;
    let reply = s.get("/v1/agent/policies/effective", &key).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let u = &reply.body["usage"];
    assert_eq!(u["spentTodayMinor"], 500);
    assert_eq!(u["spentThisMonthMinor"], 500);
    assert_eq!(u["remainingTodayMinor"], Value::Null, "{u}");
    assert_eq!(u["remainingThisMonthMinor"], Value::Null, "{u}");
    assert_eq!(u["purchasesLastHour"], 1);
    assert_eq!(reply.body["policy"]["dailySpendLimitMinor"], Value::Null);
    assert_wallet(&s, &owner, 9_500, 0, 9_500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}
