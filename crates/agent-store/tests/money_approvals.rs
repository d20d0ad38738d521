//! Purchases that wait for a human: approve (hold captured, services provisioned), reject with a reason,
//! cancel by the agent, expiry after the approval window, deciding twice, who may decide, the ledger
//! after each outcome, and the audit trail of every decision.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod money_support;

use common::{Owner, TestServer, assert_books_balance, assert_error, fund, wait_for_purchase};
use money_support::{
    AGENT, assert_wallet, audit, buy_ok, credits, list_all, put_policy, reason_codes, vps,
    wait_status, wallet,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An owner with 10 000 funded, an approval threshold of 2000, and one agent.
async fn setup(s: &TestServer) -> (Owner, String, String) {
    let owner = s.owner().await;
    fund(s, &owner, 10_000).await;
    put_policy(
        s,
        &owner,
        "/policy",
        json!({"approvalRequiredAboveMinor": 2000}),
    )
    .await;
    let (agent_id, key) = s.agent(&owner, "buyer").await;
    (owner, agent_id, key)
}

/// A 2400 VPS purchase that needs approval.
async fn pending(s: &TestServer, key: &str, hostname: &str) -> Value {
    let reply = s
        .post(
            "/v1/agent/purchases",
            key,
            json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": vps(hostname, true),
                   "idempotencyKey": format!("pending-{hostname}"), "note": "needed for the launch"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let p = reply.body["purchase"].clone();
    assert_eq!(p["status"], "pending_approval", "{p}");
    assert_eq!(p["serviceId"], Value::Null);
    assert_eq!(p["serviceIds"], json!([]));
    assert_eq!(p["approval"]["required"], true);
    assert_eq!(p["approval"]["status"], "pending");
    assert_eq!(
        reason_codes(&p["approval"]["reasons"]),
        vec!["approval_threshold"]
    );
    assert!(p["approval"]["expiresAt"].as_str().is_some(), "{p}");
    assert_eq!(p["approval"]["decidedAt"], Value::Null);
    p
}

async fn approve(s: &TestServer, owner: &Owner, id: &str) -> common::Reply {
    s.post(
        &format!("/v1/account/purchases/{id}/approve"),
        &owner.token,
        json!({}),
    )
    .await
}

async fn reject(s: &TestServer, owner: &Owner, id: &str, reason: &str) -> common::Reply {
    s.post(
        &format!("/v1/account/purchases/{id}/reject"),
        &owner.token,
        json!({"reason": reason}),
    )
    .await
}

async fn cancel(s: &TestServer, key: &str, id: &str) -> common::Reply {
    s.post(&format!("/v1/agent/purchases/{id}/cancel"), key, json!({}))
        .await
}

/// Net change of (available, held) from the account's transaction lines of one purchase, and their types.
async fn purchase_lines(s: &TestServer, owner: &Owner, id: &str) -> (i64, i64, Vec<String>) {
    let all = list_all(s, &owner.token, "/v1/account/wallet/transactions").await;
    let mine: Vec<&Value> = all.iter().rev().filter(|t| t["purchaseId"] == id).collect();
    (
        mine.iter()
            .map(|t| t["amountMinor"].as_i64().unwrap())
            .sum(),
        mine.iter()
            .map(|t| t["heldChangeMinor"].as_i64().unwrap())
            .sum(),
        mine.iter()
            .map(|t| t["type"].as_str().unwrap().to_owned())
            .collect(),
    )
}

/// The one audit event of `action` about `object_id`.
async fn one_event(s: &TestServer, owner: &Owner, action: &str, object_id: &str) -> Value {
    let events: Vec<Value> = audit(s, owner, action)
        .await
        .into_iter()
        .filter(|e| e["objectId"] == object_id)
        .collect();
    assert_eq!(events.len(), 1, "{action} for {object_id}: {events:?}");
    events[0].clone()
}

#[tokio::test]
async fn approving_a_pending_purchase_captures_the_hold_and_provisions_its_services() {
    let s = TestServer::start().await;
    let (owner, agent_id, key) = setup(&s).await;
    let p = pending(&s, &key, "approve-01").await;
    let id = p["id"].as_str().unwrap();
    // Held, not captured.
    assert_wallet(&s, &owner, 10_000, 2400, 7600).await;
    assert_eq!(wallet(&s, &key, AGENT).await, (10_000, 2400, 7600));
    assert!(list_all(&s, &key, "/v1/agent/services").await.is_empty());
    let queue = list_all(&s, &owner.token, "/v1/account/approvals").await;
    assert_eq!(money_support::ids_of(&queue), vec![id.to_owned()]);
    assert_eq!(queue[0]["note"], "needed for the launch");
    assert_eq!(queue[0]["agentId"], agent_id.as_str());
    assert_eq!(
        list_all(&s, &key, "/v1/agent/purchases?status=pending_approval")
            .await
            .len(),
        1
    );

    let approved = approve(&s, &owner, id).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let a = &approved.body["purchase"];
    assert!(
        a["status"] == "provisioning" || a["status"] == "completed",
        "{a}"
    );
    assert_eq!(a["approval"]["status"], "approved");
    assert!(a["approval"]["decidedAt"].as_str().is_some(), "{a}");
    assert!(a["approval"]["decidedBy"].as_str().is_some(), "{a}");
    let service_id = a["serviceId"]
        .as_str()
        .expect("services exist once approved")
        .to_owned();
    let done = wait_for_purchase(&s, &key, AGENT, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["serviceIds"], json!([service_id]));
    let svc = s
        .get(&format!("/v1/agent/services/{service_id}"), &key)
        .await;
    assert_eq!(svc.body["service"]["status"], "active");
    assert_eq!(svc.body["service"]["details"]["hostname"], "approve-01");
    assert_wallet(&s, &owner, 7600, 0, 7600).await;
    let (net, held, types) = purchase_lines(&s, &owner, id).await;
    assert_eq!((net, held), (-2400, 0), "{types:?}");
    assert!(
        types.contains(&"hold".to_owned()) && types.contains(&"capture".to_owned()),
        "{types:?}"
    );
    assert!(
        list_all(&s, &owner.token, "/v1/account/approvals")
            .await
            .is_empty()
    );

    let event = one_event(&s, &owner, "purchase.approved", id).await;
    assert_eq!(event["actorType"], "account");
    assert_eq!(event["actorId"], owner.account_id.as_str());
    assert_eq!(event["objectType"], "purchase");
    assert_eq!(event["beforeStatus"], "pending_approval");
    one_event(&s, &owner, "purchase.created", id).await;

    // Deciding again, or canceling, is 409 invalid_state; nothing moves.
    assert_error(
        &approve(&s, &owner, id).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(
        &reject(&s, &owner, id, "late").await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(
        &cancel(&s, &key, id).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_wallet(&s, &owner, 7600, 0, 7600).await;
    assert_eq!(audit(&s, &owner, "purchase.approved").await.len(), 1);
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn approving_with_the_same_idempotency_key_replays_the_decision() {
    let s = TestServer::start().await;
    let (owner, _, key) = setup(&s).await;
    let p = pending(&s, &key, "approve-replay").await;
    let id = p["id"].as_str().unwrap();
    let path = format!("/v1/account/purchases/{id}/approve");
    let first = s
        .post(&path, &owner.token, json!({"idempotencyKey": "approve-1"}))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = s
        .post(&path, &owner.token, json!({"idempotencyKey": "approve-1"}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.text, first.text);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    wait_for_purchase(&s, &key, AGENT, id).await;
    assert_wallet(&s, &owner, 7600, 0, 7600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn rejecting_releases_the_hold_and_keeps_the_reason() {
    let s = TestServer::start().await;
    let (owner, _, key) = setup(&s).await;
    let p = pending(&s, &key, "reject-01").await;
    let id = p["id"].as_str().unwrap();
    assert_wallet(&s, &owner, 10_000, 2400, 7600).await;
    let rejected = reject(&s, &owner, id, "use the existing staging box").await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
    let r = &rejected.body["purchase"];
    assert_eq!(r["status"], "rejected");
    assert_eq!(r["approval"]["status"], "rejected");
    assert_eq!(r["approval"]["reason"], "use the existing staging box");
    assert!(r["approval"]["decidedAt"].as_str().is_some());
    assert_eq!(r["serviceIds"], json!([]));
    // The agent sees the decision and its reason.
    let seen = s.get(&format!("/v1/agent/purchases/{id}"), &key).await;
    assert_eq!(seen.body["purchase"]["status"], "rejected");
    assert_eq!(
        seen.body["purchase"]["approval"]["reason"],
        "use the existing staging box"
    );
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    let (net, held, types) = purchase_lines(&s, &owner, id).await;
    assert_eq!((net, held), (0, 0), "{types:?}");
    assert!(types.contains(&"hold_release".to_owned()), "{types:?}");
    assert!(list_all(&s, &key, "/v1/agent/services").await.is_empty());
    assert!(
        list_all(&s, &owner.token, "/v1/account/approvals")
            .await
            .is_empty()
    );
    let event = one_event(&s, &owner, "purchase.rejected", id).await;
    assert_eq!(event["actorType"], "account");
    assert_eq!(event["afterStatus"], "rejected");

    assert_error(
        &reject(&s, &owner, id, "again").await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(
        &approve(&s, &owner, id).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(
        &cancel(&s, &key, id).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_agent_can_cancel_its_pending_purchase_and_the_hold_is_released() {
    let s = TestServer::start().await;
    let (owner, _, key) = setup(&s).await;
    let p = pending(&s, &key, "cancel-01").await;
    let id = p["id"].as_str().unwrap();
    // A sibling agent cannot cancel it.
    let (_, sibling) = s.agent(&owner, "sibling").await;
    assert_error(
        &cancel(&s, &sibling, id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let canceled = cancel(&s, &key, id).await;
    assert_eq!(canceled.status, StatusCode::OK, "{}", canceled.text);
    assert_eq!(canceled.body["purchase"]["status"], "canceled");
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    let (net, held, _) = purchase_lines(&s, &owner, id).await;
    assert_eq!((net, held), (0, 0));
    let event = one_event(&s, &owner, "purchase.canceled", id).await;
    assert_eq!(event["actorType"], "agent");
    assert_eq!(event["afterStatus"], "canceled");

    assert_error(
        &cancel(&s, &key, id).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(
        &approve(&s, &owner, id).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(
        &reject(&s, &owner, id, "x").await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    // A purchase that never needed approval cannot be canceled either.
    let direct = buy_ok(&s, &key, AGENT, "cat_router_credit_001", credits(5)).await;
    wait_for_purchase(&s, &key, AGENT, direct["id"].as_str().unwrap()).await;
    assert_error(
        &cancel(&s, &key, direct["id"].as_str().unwrap()).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(
        &approve(&s, &owner, direct["id"].as_str().unwrap()).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_wallet(&s, &owner, 9500, 0, 9500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_pending_purchase_expires_after_the_approval_window_and_releases_its_hold() {
    let s = TestServer::start_with(|c| {
        c.approvals.window_seconds = 1;
        c.jobs.poll_interval_ms = 100;
    })
    .await;
    let (owner, _, key) = setup(&s).await;
    let p = pending(&s, &key, "expire-01").await;
    let id = p["id"].as_str().unwrap();
    assert_wallet(&s, &owner, 10_000, 2400, 7600).await;
    let expired = wait_status(&s, &key, AGENT, id, "expired").await;
    assert_eq!(expired["approval"]["status"], "expired", "{expired}");
    assert_eq!(expired["serviceIds"], json!([]));
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    let (net, held, _) = purchase_lines(&s, &owner, id).await;
    assert_eq!((net, held), (0, 0));
    let event = one_event(&s, &owner, "purchase.expired", id).await;
    assert_eq!(event["actorType"], "system");
    assert_error(
        &approve(&s, &owner, id).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(
        &reject(&s, &owner, id, "x").await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert_error(
        &cancel(&s, &key, id).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    assert!(
        list_all(&s, &owner.token, "/v1/account/approvals")
            .await
            .is_empty()
    );
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn another_account_cannot_see_or_decide_a_pending_purchase() {
    let s = TestServer::start().await;
    let (owner, _, key) = setup(&s).await;
    let p = pending(&s, &key, "foreign-01").await;
    let id = p["id"].as_str().unwrap();
    let stranger = s.owner().await;
    fund(&s, &stranger, 1_000).await;
    assert_error(
        &approve(&s, &stranger, id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &reject(&s, &stranger, id, "mine now").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert!(
        list_all(&s, &stranger.token, "/v1/account/approvals")
            .await
            .is_empty()
    );
    assert_error(
        &s.get(&format!("/v1/account/purchases/{id}"), &stranger.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &approve(&s, &owner, "pur_01jdnotthere0000000000000").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let still = s
        .get(&format!("/v1/account/purchases/{id}"), &owner.token)
        .await;
    assert_eq!(still.body["purchase"]["status"], "pending_approval");
    assert_wallet(&s, &owner, 10_000, 2400, 7600).await;
    assert_wallet(&s, &stranger, 1_000, 0, 1_000).await;
    assert!(audit(&s, &owner, "purchase.approved").await.is_empty());
    assert!(audit(&s, &owner, "purchase.rejected").await.is_empty());
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn an_agent_key_cannot_approve_or_reject() {
    let s = TestServer::start().await;
    let (owner, _, key) = setup(&s).await;
    let p = pending(&s, &key, "self-approve-01").await;
    let id = p["id"].as_str().unwrap();
    for action in ["approve", "reject"] {
        let r = s
            .post(
                &format!("/v1/account/purchases/{id}/{action}"),
                &key,
                json!({}),
            )
            .await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
        let r = s
            .post(
                &format!("/v1/agent/purchases/{id}/{action}"),
                &key,
                json!({}),
            )
            .await;
        assert!(
            r.status == StatusCode::NOT_FOUND || r.status == StatusCode::METHOD_NOT_ALLOWED,
            "{action} on the agent API: {}",
            r.text
        );
    }
    assert_error(
        &s.get("/v1/account/approvals", &key).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let still = s.get(&format!("/v1/agent/purchases/{id}"), &key).await;
    assert_eq!(still.body["purchase"]["status"], "pending_approval");
    assert_wallet(&s, &owner, 10_000, 2400, 7600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn held_amounts_reduce_the_funds_available_to_other_purchases() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 5_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"approvalRequiredAboveMinor": 2000}),
    )
    .await;
    let (_, key) = s.agent(&owner, "buyer").await;
    let first = pending(&s, &key, "hold-01").await;
    assert_wallet(&s, &owner, 5_000, 2400, 2600).await;
    // A second 2400 fits in 2600 available; a third does not.
    let second = pending(&s, &key, "hold-02").await;
    assert_wallet(&s, &owner, 5_000, 4800, 200).await;
    let third = s
        .post(
            "/v1/agent/purchases",
            &key,
            json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": vps("hold-03", true),
                   "idempotencyKey": "hold-03"}),
        )
        .await;
    assert_error(&third, StatusCode::PAYMENT_REQUIRED, "insufficient_funds");
    assert_wallet(&s, &owner, 5_000, 4800, 200).await;
    // Approve one, reject the other: 2600 left, nothing held.
    assert_eq!(
        approve(&s, &owner, first["id"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        reject(&s, &owner, second["id"].as_str().unwrap(), "one is enough")
            .await
            .status,
        StatusCode::OK
    );
    wait_for_purchase(&s, &key, AGENT, first["id"].as_str().unwrap()).await;
    assert_wallet(&s, &owner, 2600, 0, 2600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn approval_stands_even_if_the_policy_tightened_while_pending() {
    let s = TestServer::start().await;
    let (owner, _, key) = setup(&s).await;
    let p = pending(&s, &key, "tightened-01").await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"approvalRequiredAboveMinor": 2000, "maxPurchaseMinor": 1000}),
    )
    .await;
    let approved = approve(&s, &owner, p["id"].as_str().unwrap()).await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    let done = wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    assert_wallet(&s, &owner, 7600, 0, 7600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn an_approved_purchase_that_fails_provisioning_is_refunded_in_full() {
    let s = TestServer::start_with(|c| c.jobs.retry_base_ms = 50).await;
    let (owner, _, key) = setup(&s).await;
    let p = pending(&s, &key, "sandbox-fail-approved").await;
    let id = p["id"].as_str().unwrap();
    assert_eq!(approve(&s, &owner, id).await.status, StatusCode::OK);
    let done = wait_for_purchase(&s, &key, AGENT, id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["failureReason"].as_str().is_some());
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    let (net, held, types) = purchase_lines(&s, &owner, id).await;
    assert_eq!((net, held), (0, 0), "{types:?}");
    assert!(types.contains(&"refund".to_owned()), "{types:?}");
    one_event(&s, &owner, "purchase.approved", id).await;
    one_event(&s, &owner, "purchase.failed", id).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_account_lists_purchases_by_status_and_agent() {
    let s = TestServer::start().await;
    let (owner, agent_id, key) = setup(&s).await;
    let (other_id, other_key) = s.agent(&owner, "other").await;
    let a = pending(&s, &key, "list-01").await;
    let b = pending(&s, &other_key, "list-02").await;
    let c = buy_ok(&s, &key, AGENT, "cat_router_credit_001", credits(5)).await;
    wait_for_purchase(&s, &key, AGENT, c["id"].as_str().unwrap()).await;
    assert_eq!(
        reject(&s, &owner, b["id"].as_str().unwrap(), "no")
            .await
            .status,
        StatusCode::OK
    );
    let ids = |v: Vec<Value>| money_support::ids_of(&v);
    assert_eq!(
        ids(list_all(
            &s,
            &owner.token,
            "/v1/account/purchases?status=pending_approval"
        )
        .await),
        vec![a["id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(
        ids(list_all(&s, &owner.token, "/v1/account/purchases?status=rejected").await),
        vec![b["id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(
        ids(list_all(
            &s,
            &owner.token,
            &format!("/v1/account/purchases?agentId={agent_id}")
        )
        .await),
        vec![
            c["id"].as_str().unwrap().to_owned(),
            a["id"].as_str().unwrap().to_owned()
        ]
    );
    assert_eq!(
        list_all(
            &s,
            &owner.token,
            &format!("/v1/account/purchases?agentId={other_id}")
        )
        .await
        .len(),
        1
    );
    assert_eq!(
        list_all(
            &s,
            &owner.token,
            "/v1/account/purchases?createdFrom=2000-01-01T00:00:00Z&createdTo=2001-01-01T00:00:00Z"
        )
        .await
        .len(),
        0
    );
    assert_error(
        &s.get("/v1/account/purchases?createdFrom=yesterday", &owner.token)
            .await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_wallet(&s, &owner, 9500, 2400, 7100).await;
    assert_eq!(wallet(&s, &key, AGENT).await, (9500, 2400, 7100));
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn concurrent_decisions_on_one_purchase_take_effect_once() {
    let s = TestServer::start().await;
    let (owner, _, key) = setup(&s).await;
    for round in 0..3 {
        let p = pending(&s, &key, &format!("contest-{round}")).await;
        let id = p["id"].as_str().unwrap();
        let requests = vec![
            (
                format!("/v1/account/purchases/{id}/approve"),
                owner.token.clone(),
                json!({}),
            ),
            (
                format!("/v1/account/purchases/{id}/reject"),
                owner.token.clone(),
                json!({"reason": "no"}),
            ),
            (
                format!("/v1/agent/purchases/{id}/cancel"),
                key.clone(),
                json!({}),
            ),
            (
                format!("/v1/account/purchases/{id}/approve"),
                owner.token.clone(),
                json!({}),
            ),
        ];
        let replies = money_support::concurrent_posts(&s, requests).await;
        let winners: Vec<&common::Reply> = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .collect();
        assert_eq!(winners.len(), 1, "{replies:?}");
        for r in replies.iter().filter(|r| r.status != StatusCode::OK) {
            assert_error(r, StatusCode::CONFLICT, "invalid_state");
        }
        let status = winners[0].body["purchase"]["status"]
            .as_str()
            .unwrap()
            .to_owned();
        if status != "rejected" && status != "canceled" {
            let done = wait_for_purchase(&s, &key, AGENT, id).await;
            assert_eq!(done["status"], "completed");
        }
        let decided = [
            "purchase.approved",
            "purchase.rejected",
            "purchase.canceled",
        ];
        let mut events = 0;
        for action in decided {
            events += audit(&s, &owner, action)
                .await
                .iter()
                .filter(|e| e["objectId"] == id)
                .count();
        }
        assert_eq!(events, 1, "one decision recorded");
    }
    let (balance, held, available) = wallet(&s, &owner.token, "/v1/account").await;
    assert_eq!(held, 0);
    assert_eq!(balance, available);
    let completed = list_all(&s, &owner.token, "/v1/account/purchases?status=completed")
        .await
        .len();
    assert_eq!(balance, 10_000 - 2400 * i64::try_from(completed).unwrap());
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_pending_domain_keeps_its_name_until_rejected() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"approvalRequiredCategories": ["domains"]}),
    )
    .await;
    let (_, key) = s.agent(&owner, "buyer").await;
    let (_, other) = s.agent(&owner, "other").await;
    let configuration = json!({"domainName": "waiting.com", "periodYears": 1,
                               "registrantEmail": "ops@waiting.com", "registrantCountry": "US"});
    let p = buy_ok(&s, &key, AGENT, "cat_domain_com", configuration.clone()).await;
    assert_eq!(p["status"], "pending_approval");
    assert_wallet(&s, &owner, 10_000, 1499, 8501).await;
    let second =
        money_support::buy_item(&s, &other, AGENT, "cat_domain_com", configuration.clone()).await;
    assert_error(&second, StatusCode::CONFLICT, "domain_unavailable");
    assert_eq!(
        reject(&s, &owner, p["id"].as_str().unwrap(), "wrong name")
            .await
            .status,
        StatusCode::OK
    );
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    let third = s
        .post(
            "/v1/agent/quotes",
            &other,
            json!({"catalogItemId": "cat_domain_com", "quantity": 1, "configuration": configuration}),
        )
        .await;
    assert_eq!(third.status, StatusCode::CREATED, "{}", third.text);
    assert_books_balance(s.app()).await;
    s.stop().await;
}

async fn credit_balance(s: &TestServer, key: &str, service_id: &str) -> i64 {
    s.get(&format!("/v1/agent/services/{service_id}"), key)
        .await
        .body["service"]["details"]["creditBalanceMicroUsd"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_router_top_up_that_needs_approval_credits_the_service_only_when_approved() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 20_000).await;
    let (_, key) = s.agent(&owner, "buyer").await;
    let first = buy_ok(&s, &key, AGENT, "cat_router_credit_001", credits(25)).await;
    wait_for_purchase(&s, &key, AGENT, first["id"].as_str().unwrap()).await;
    let service_id = first["serviceId"].as_str().unwrap().to_owned();
    put_policy(
        &s,
        &owner,
        "/policy",
        json!({"approvalRequiredAboveMinor": 2000}),
    )
    .await;
    let top = |usd: i64| json!({"creditAmountUsd": usd, "topUpServiceId": service_id});
    // Rejected top-up: nothing credited, hold released.
    let rejected = buy_ok(&s, &key, AGENT, "cat_router_credit_001", top(30)).await;
    assert_eq!(rejected["status"], "pending_approval");
    assert_wallet(&s, &owner, 17_500, 3_000, 14_500).await;
    assert_eq!(
        reject(&s, &owner, rejected["id"].as_str().unwrap(), "no")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(credit_balance(&s, &key, &service_id).await, 25_000_000);
    assert_wallet(&s, &owner, 17_500, 0, 17_500).await;
    // Approved top-up: credited to the same service.
    let approved = buy_ok(&s, &key, AGENT, "cat_router_credit_001", top(40)).await;
    assert_eq!(approved["status"], "pending_approval");
    let a = approve(&s, &owner, approved["id"].as_str().unwrap()).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let done = wait_for_purchase(&s, &key, AGENT, approved["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["serviceId"], service_id.as_str());
    assert_eq!(credit_balance(&s, &key, &service_id).await, 65_000_000);
    assert_eq!(
        list_all(&s, &key, "/v1/agent/services?serviceType=llm_router")
            .await
            .len(),
        1
    );
    assert_wallet(&s, &owner, 13_500, 0, 13_500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_purchase_past_its_approval_window_cannot_be_approved_before_the_sweep() {
    // The worker sweeps rarely here, so the purchase is still stored as pending after its window.
    let s = TestServer::start_with(|c| {
        c.approvals.window_seconds = 1;
        c.jobs.poll_interval_ms = 60_000;
    })
    .await;
    let (owner, _, key) = setup(&s).await;
    let p = pending(&s, &key, "late-approval").await;
    let id = p["id"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let late = approve(&s, &owner, id).await;
    assert_error(&late, StatusCode::CONFLICT, "invalid_state");
    let seen = s.get(&format!("/v1/agent/purchases/{id}"), &key).await;
    assert_ne!(seen.body["purchase"]["status"], "provisioning");
    assert_ne!(seen.body["purchase"]["status"], "completed");
    assert!(list_all(&s, &key, "/v1/agent/services").await.is_empty());
    assert_books_balance(s.app()).await;
    s.stop().await;
}
