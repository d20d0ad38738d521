//! Phone numbers (SPEC sections 9, 12, 14): the reference flow over REST and MCP (purchase with an
//! initial balance, top-up, inbound SMS and missed call injected through the sandbox carrier, read
//! back, call log), top-ups as idempotent policy-checked spends, usage debited exactly from the
//! number's balance, suspension at zero and resumption after a top-up, the signed webhook, monthly
//! rentals, and every refusal of the management gate. The books are checked after every scenario.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod mcp_support;
mod money_support;

use common::{Owner, TestServer, assert_books_balance, assert_error, error_fields, fund};
use mcp_support::{Transport, connect, ok};
use money_support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SMS_MICRO: i64 = 7_500;
const MINUTE_MICRO: i64 = 13_000;

fn phone_config(initial_usd: Value) -> Value {
    json!({"countryCode": "US", "numberType": "local", "capabilities": ["sms", "voice"], "locality": "new-york",
           "initialBalanceUsd": initial_usd})
}

/// Buy a US local number with `initial_usd` of balance as `bearer`; returns the active service.
async fn buy_number(s: &TestServer, bearer: &str, base: &str, initial_usd: Value) -> Value {
    let purchase = buy_ok(
        s,
        bearer,
        base,
        "cat_phone_global_001",
        phone_config(initial_usd),
    )
    .await;
    let done = wait_status(
        s,
        bearer,
        base,
        purchase["id"].as_str().unwrap(),
        "completed",
    )
    .await;
    let service = s
        .get(
            &format!("{base}/services/{}", done["serviceId"].as_str().unwrap()),
            bearer,
        )
        .await;
    assert_eq!(service.status, StatusCode::OK, "{}", service.text);
    service.body["service"].clone()
}

async fn inject(s: &TestServer, owner: &Owner, body: Value) -> common::Reply {
    s.post("/v1/account/sandbox/phone/inbound", &owner.token, body)
        .await
}

async fn inject_ok(s: &TestServer, owner: &Owner, body: Value) -> Value {
    let reply = inject(s, owner, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["inbound"].clone()
}

async fn balance_micro(s: &TestServer, service_id: &str) -> i64 {
    agent_store_store::ledger::balance(
        s.app().store().pool(),
        &agent_store_store::ledger::service_account(service_id),
    )
    .await
    .unwrap()
}

async fn status_of(s: &TestServer, bearer: &str, base: &str, service_id: &str) -> String {
    let reply = s
        .get(&format!("{base}/services/{service_id}"), bearer)
        .await;
    reply.body["service"]["status"].as_str().unwrap().to_owned()
}

async fn topup(
    s: &TestServer,
    bearer: &str,
    base: &str,
    service_id: &str,
    body: Value,
) -> common::Reply {
    s.post(
        &format!("{base}/services/{service_id}/phone/topup"),
        bearer,
        body,
    )
    .await
}

#[tokio::test]
async fn the_phone_reference_flow_works_over_rest() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "caller").await;
    let found = s
        .get(
            "/v1/agent/catalog/items?category=telephony&q=phone%20number&limit=3",
            &key,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    assert_eq!(found.body["items"][0]["id"], "cat_phone_global_001");
    let quote = quote(
        &s,
        &key,
        AGENT,
        "cat_phone_global_001",
        phone_config(json!(10)),
    )
    .await;
    assert_eq!(quote["totalPriceMinor"], 1250);
    let purchase = s
        .post(
            "/v1/agent/purchases",
            &key,
            json!({"quoteId": quote["id"], "idempotencyKey": "phone-flow-1"}),
        )
        .await;
    assert_eq!(purchase.status, StatusCode::CREATED, "{}", purchase.text);
    let done = wait_status(
        &s,
        &key,
        AGENT,
        purchase.body["purchase"]["id"].as_str().unwrap(),
        "completed",
    )
    .await;
    let service_id = done["serviceId"].as_str().unwrap().to_owned();
    let service = s
        .get(&format!("/v1/agent/services/{service_id}"), &key)
        .await;
    let details = &service.body["service"]["details"];
    assert_eq!(details["balanceMinor"], 1000);
    let number = details["phoneNumber"].as_str().unwrap().to_owned();
    assert!(number.starts_with("+1"), "{number}");

    let topped = topup(
        &s,
        &key,
        AGENT,
        &service_id,
        json!({"amountUsd": 10, "idempotencyKey": "phone-topup-1"}),
    )
    .await;
    assert_eq!(topped.status, StatusCode::CREATED, "{}", topped.text);
    assert_eq!(topped.body["topUp"]["amountMinor"], 1000);
    assert_eq!(topped.body["topUp"]["balanceMicroUsd"], 20_000_000);
    assert_eq!(topped.body["service"]["details"]["balanceMinor"], 2000);
    assert_wallet(&s, &owner, 10_000 - 1250 - 1000, 0, 10_000 - 1250 - 1000).await;

    let sms = inject_ok(&s, &owner, json!({"serviceId": service_id, "kind": "sms", "from": "+14155550123", "body": "Your code is 123456"})).await;
    assert_eq!(
        (sms["accepted"].as_bool(), sms["costMicroUsd"].as_i64()),
        (Some(true), Some(SMS_MICRO))
    );
    let missed = inject_ok(
        &s,
        &owner,
        json!({"serviceId": service_id, "kind": "call", "from": "+14155550199", "answered": false}),
    )
    .await;
    assert_eq!(
        (missed["status"].as_str(), missed["costMicroUsd"].as_i64()),
        (Some("missed"), Some(0))
    );
    let answered = inject_ok(&s, &owner, json!({"serviceId": service_id, "kind": "call", "from": "+14155550188", "answered": true, "durationSeconds": 61})).await;
    assert_eq!(
        answered["costMicroUsd"],
        2 * MINUTE_MICRO,
        "61 s are two started minutes"
    );
    assert_eq!(
        balance_micro(&s, &service_id).await,
        20_000_000 - SMS_MICRO - 2 * MINUTE_MICRO
    );

    let messages = s
        .get(
            &format!("/v1/agent/services/{service_id}/phone/messages"),
            &key,
        )
        .await;
    assert_eq!(messages.status, StatusCode::OK, "{}", messages.text);
    let items = messages.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["body"], "Your code is 123456");
    assert_eq!(items[0]["from"], "+14155550123");
    assert_eq!(items[0]["to"], number.as_str());
    let message_id = items[0]["id"].as_str().unwrap();
    assert!(message_id.starts_with("msg_"));
    let one = s
        .get(
            &format!("/v1/agent/services/{service_id}/phone/messages/{message_id}"),
            &key,
        )
        .await;
    assert_eq!(one.body["message"]["id"], message_id, "{}", one.text);
    let missed_calls = s
        .get(
            &format!("/v1/agent/services/{service_id}/phone/missed-calls"),
            &key,
        )
        .await;
    let missed_items = missed_calls.body["items"].as_array().unwrap();
    assert_eq!(missed_items.len(), 1, "{}", missed_calls.text);
    assert_eq!(missed_items[0]["status"], "missed");
    assert_eq!(missed_items[0]["from"], "+14155550199");
    let log = s
        .get(
            &format!("/v1/agent/services/{service_id}/phone/calls"),
            &key,
        )
        .await;
    let calls = log.body["items"].as_array().unwrap();
    assert_eq!(calls.len(), 2, "{}", log.text);
    assert_eq!(calls[0]["status"], "completed");
    assert_eq!(calls[0]["durationSeconds"], 61);
    assert_eq!(calls[0]["direction"], "inbound");
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
    // The account sees the same through its own routes.
    let account_log = s
        .get(
            &format!("/v1/account/services/{service_id}/phone/calls"),
            &owner.token,
        )
        .await;
    assert_eq!(account_log.body["items"], log.body["items"]);
    // `since` filters and pages chain.
    let future = s
        .get(
            &format!("/v1/agent/services/{service_id}/phone/calls?since=2999-01-01T00:00:00Z"),
            &key,
        )
        .await;
    assert_eq!(future.body["items"], json!([]));
    let first = s
        .get(
            &format!("/v1/agent/services/{service_id}/phone/calls?limit=1"),
            &key,
        )
        .await;
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let second = s
        .get(
            &format!("/v1/agent/services/{service_id}/phone/calls?limit=1&cursor={cursor}"),
            &key,
        )
        .await;
    assert_eq!(second.body["items"][0]["id"], calls[1]["id"]);
    assert_eq!(second.body["nextCursor"], Value::Null);
    let audit_events = audit(&s, &owner, "service.phone:balance:topup").await;
    assert_eq!(audit_events.len(), 1);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn the_phone_reference_flow_works_over_mcp() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "caller").await;
    let client = connect(&s, &key, Transport::Http).await;
    let found = ok(
        &client,
        "catalog_search",
        json!({"category": "telephony", "q": "phone number", "limit": 3}),
    )
    .await;
    assert_eq!(found["items"][0]["id"], "cat_phone_global_001");
    let quote = ok(&client, "quote_create", json!({"catalogItemId": "cat_phone_global_001", "quantity": 1, "configuration": phone_config(json!(10))})).await;
    assert_eq!(quote["quote"]["totalPriceMinor"], 1250);
    let purchase = ok(
        &client,
        "purchase_create",
        json!({"quoteId": quote["quote"]["id"], "idempotencyKey": "mcp-phone-1"}),
    )
    .await;
    let done =
        mcp_support::wait_for_purchase(&client, purchase["purchase"]["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    let service_id = done["serviceId"].as_str().unwrap().to_owned();
    let topped = ok(
        &client,
        "phone_balance_topup",
        json!({"serviceId": service_id, "amountUsd": 10, "idempotencyKey": "mcp-topup-1"}),
    )
    .await;
    assert_eq!(topped["service"]["details"]["balanceMinor"], 2000);
    // The same key over MCP again replays: paid once.
    let again = ok(
        &client,
        "phone_balance_topup",
        json!({"serviceId": service_id, "amountUsd": 10, "idempotencyKey": "mcp-topup-1"}),
    )
    .await;
    assert_eq!(again, topped);
    inject_ok(&s, &owner, json!({"serviceId": service_id, "kind": "sms", "from": "+14155550123", "body": "hello agent"})).await;
    inject_ok(
        &s,
        &owner,
        json!({"serviceId": service_id, "kind": "call", "from": "+14155550124"}),
    )
    .await;
    let messages = ok(
        &client,
        "phone_message_list",
        json!({"serviceId": service_id}),
    )
    .await;
    assert_eq!(messages["items"][0]["body"], "hello agent");
    let message_id = messages["items"][0]["id"].as_str().unwrap();
    let message = ok(
        &client,
        "phone_message_get",
        json!({"serviceId": service_id, "messageId": message_id}),
    )
    .await;
    assert_eq!(message["message"]["from"], "+14155550123");
    let missed = ok(
        &client,
        "phone_missed_call_list",
        json!({"serviceId": service_id}),
    )
    .await;
    assert_eq!(missed["items"][0]["from"], "+14155550124");
    let log = ok(
        &client,
        "phone_call_log_get",
        json!({"serviceId": service_id, "limit": 10}),
    )
    .await;
    assert_eq!(log["items"].as_array().unwrap().len(), 1);
    let error = mcp_support::error(
        &client,
        "phone_message_get",
        json!({"serviceId": service_id, "messageId": "msg_nope"}),
    )
    .await;
    assert_eq!(error["code"], "not_found");
    assert_wallet(&s, &owner, 10_000 - 1250 - 1000, 0, 10_000 - 1250 - 1000).await;
    assert_eq!(balance_micro(&s, &service_id).await, 20_000_000 - SMS_MICRO);
    let tools = mcp_support::tools(&client).await;
    let hints = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        let a = tool.annotations.clone().unwrap();
        (a.read_only_hint, a.destructive_hint, a.idempotent_hint)
    };
    assert_eq!(
        hints("phone_message_list"),
        (Some(true), Some(false), Some(true))
    );
    assert_eq!(
        hints("phone_balance_topup"),
        (Some(false), Some(false), Some(true))
    );
    client.cancel().await.unwrap();
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn a_replayed_topup_is_charged_once_and_a_changed_body_is_refused() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "caller").await;
    let service = buy_number(&s, &key, AGENT, json!(0)).await;
    let id = service["id"].as_str().unwrap();
    let body = json!({"amountUsd": 5.25, "idempotencyKey": "t-1"});
    let first = topup(&s, &key, AGENT, id, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let second = topup(&s, &key, AGENT, id, body).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.text, first.text, "replayed byte for byte");
    assert_eq!(second.headers["idempotent-replayed"], "true");
    // The key in the header instead of the body is the same request.
    let header = s
        .send(
            s.client
                .post(format!("{}/v1/agent/services/{id}/phone/topup", s.base))
                .bearer_auth(&key)
                .header("Idempotency-Key", "t-1")
                .json(&json!({"amountUsd": 5.25})),
        )
        .await;
    assert_eq!(header.text, first.text);
    let changed = topup(
        &s,
        &key,
        AGENT,
        id,
        json!({"amountUsd": 6, "idempotencyKey": "t-1"}),
    )
    .await;
    assert_error(
        &changed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_mismatch",
    );
    assert_eq!(balance_micro(&s, id).await, 5_250_000);
    assert_wallet(&s, &owner, 10_000 - 250 - 525, 0, 10_000 - 250 - 525).await;
    let transactions = s.get("/v1/agent/wallet/transactions", &key).await;
    let topups: Vec<&Value> = transactions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == "service_topup")
        .collect();
    assert_eq!(topups.len(), 1, "{}", transactions.text);
    assert_eq!(topups[0]["amountMinor"], -525);
    assert_eq!(topups[0]["serviceId"], id);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn twenty_concurrent_identical_topups_debit_once() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "caller").await;
    let service = buy_number(&s, &key, AGENT, json!(0)).await;
    let id = service["id"].as_str().unwrap();
    let path = format!("/v1/agent/services/{id}/phone/topup");
    let requests = (0..20)
        .map(|_| {
            (
                path.clone(),
                key.clone(),
                json!({"amountUsd": 3, "idempotencyKey": "same-topup"}),
            )
        })
        .collect();
    let replies = concurrent_posts(&s, requests).await;
    assert_eq!(count_status(&replies, StatusCode::CREATED), 20);
    assert!(replies.iter().all(|r| r.text == replies[0].text));
    assert_eq!(balance_micro(&s, id).await, 3_000_000);
    assert_wallet(&s, &owner, 10_000 - 250 - 300, 0, 10_000 - 250 - 300).await;
    // Twenty different keys: twenty top-ups, no money lost or created.
    let requests = (0..20)
        .map(|i| {
            (
                path.clone(),
                key.clone(),
                json!({"amountUsd": 1, "idempotencyKey": format!("k-{i}")}),
            )
        })
        .collect();
    let replies = concurrent_posts(&s, requests).await;
    assert_eq!(count_status(&replies, StatusCode::CREATED), 20);
    assert_eq!(balance_micro(&s, id).await, 23_000_000);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn topups_are_policy_checked_spends() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 100_000).await;
    let (agent_id, key) = s.agent(&owner, "caller").await;
    let service = buy_number(&s, &key, AGENT, json!(0)).await;
    let id = service["id"].as_str().unwrap();
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"maxPurchaseMinor": 1000}),
    )
    .await;
    let denied = topup(
        &s,
        &key,
        AGENT,
        id,
        json!({"amountUsd": 10.01, "idempotencyKey": "big"}),
    )
    .await;
    let error = assert_error(&denied, StatusCode::FORBIDDEN, "policy_denied");
    assert_eq!(
        reason_codes(&error["details"]["reasons"]),
        ["max_purchase_exceeded"]
    );
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"approvalRequiredAboveMinor": 500}),
    )
    .await;
    let approval = topup(
        &s,
        &key,
        AGENT,
        id,
        json!({"amountUsd": 6, "idempotencyKey": "needs-approval"}),
    )
    .await;
    let error = assert_error(&approval, StatusCode::FORBIDDEN, "policy_denied");
    assert_eq!(
        reason_codes(&error["details"]["reasons"]),
        ["approval_threshold"]
    );
    assert!(error["message"].as_str().unwrap().contains("approval"));
    // Refusals are not stored: after the owner lifts the limit the same key succeeds, once.
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"dailySpendLimitMinor": 1000}),
    )
    .await;
    let allowed = topup(
        &s,
        &key,
        AGENT,
        id,
        json!({"amountUsd": 6, "idempotencyKey": "needs-approval"}),
    )
    .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.text);
    // Top-ups count against limits: 250 (rental) + 600 spent today, 200 more would pass 1000.
    let over = topup(
        &s,
        &key,
        AGENT,
        id,
        json!({"amountUsd": 2, "idempotencyKey": "over"}),
    )
    .await;
    let error = assert_error(&over, StatusCode::FORBIDDEN, "policy_denied");
    assert_eq!(
        reason_codes(&error["details"]["reasons"]),
        ["daily_limit_exceeded"]
    );
    let effective = s.get("/v1/agent/policies/effective", &key).await;
    assert_eq!(
        effective.body["usage"]["spentTodayMinor"], 850,
        "{}",
        effective.text
    );
    assert_eq!(
        audit(&s, &owner, "service.phone:balance:topup.denied")
            .await
            .len(),
        3
    );
    // Not enough money in the wallet.
    let poor = s.owner().await;
    fund(&s, &poor, 300).await;
    let (_, poor_key) = s.agent(&poor, "poor").await;
    let cheap = buy_number(&s, &poor_key, AGENT, json!(0)).await;
    let broke = topup(
        &s,
        &poor_key,
        AGENT,
        cheap["id"].as_str().unwrap(),
        json!({"amountUsd": 1, "idempotencyKey": "x"}),
    )
    .await;
    let error = assert_error(&broke, StatusCode::PAYMENT_REQUIRED, "insufficient_funds");
    assert_eq!(error["details"]["availableMinor"], 50);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn phone_actions_refuse_what_the_gate_refuses() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 100_000).await;
    let (agent_id, key) = s.agent(&owner, "caller").await;
    let (_, other_key) = s.agent(&owner, "other").await;
    let service = buy_number(&s, &key, AGENT, json!(1)).await;
    let id = service["id"].as_str().unwrap().to_owned();
    let storage = buy_ok(
        &s,
        &key,
        AGENT,
        "cat_storage_object_001",
        object_storage(250),
    )
    .await;
    let storage = wait_status(
        &s,
        &key,
        AGENT,
        storage["id"].as_str().unwrap(),
        "completed",
    )
    .await;
    let storage_id = storage["serviceId"].as_str().unwrap().to_owned();
    let reads = [
        "phone/messages",
        "phone/messages/msg_x",
        "phone/missed-calls",
        "phone/calls",
    ];
    let good_topup = json!({"amountUsd": 1, "idempotencyKey": "gate"});

    // Wrong service type: validation naming serviceId.
    let wrong = topup(&s, &key, AGENT, &storage_id, good_topup.clone()).await;
    assert_error(&wrong, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(error_fields(&wrong), ["serviceId"]);
    for read in reads {
        let reply = s
            .get(&format!("/v1/agent/services/{storage_id}/{read}"), &key)
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
    }
    // Another agent's number does not exist for this agent.
    assert_error(
        &topup(&s, &other_key, AGENT, &id, good_topup.clone()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    for read in reads {
        let reply = s
            .get(&format!("/v1/agent/services/{id}/{read}"), &other_key)
            .await;
        assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    }
    let unknown = topup(&s, &key, AGENT, "svc_nope", good_topup.clone()).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    // Capabilities outside allowedActions.
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"allowedActions": ["phone:call-log:read"]}),
    )
    .await;
    let refused = topup(&s, &key, AGENT, &id, good_topup.clone()).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "capability_not_allowed");
    for read in [
        "phone/messages",
        "phone/messages/msg_x",
        "phone/missed-calls",
    ] {
        let reply = s
            .get(&format!("/v1/agent/services/{id}/{read}"), &key)
            .await;
        assert_error(&reply, StatusCode::FORBIDDEN, "capability_not_allowed");
    }
    let allowed = s
        .get(&format!("/v1/agent/services/{id}/phone/calls"), &key)
        .await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text);
    put_policy(&s, &owner, &format!("/agents/{agent_id}/policy"), json!({})).await;
    // Invalid values, each field named.
    for (body, field) in [
        (json!({"idempotencyKey": "v"}), "amountUsd"),
        (json!({"amountUsd": 0, "idempotencyKey": "v"}), "amountUsd"),
        (json!({"amountUsd": -5, "idempotencyKey": "v"}), "amountUsd"),
        (
            json!({"amountUsd": 1.001, "idempotencyKey": "v"}),
            "amountUsd",
        ),
        (
            json!({"amountUsd": "10", "idempotencyKey": "v"}),
            "amountUsd",
        ),
        (
            json!({"amountUsd": 500.01, "idempotencyKey": "v"}),
            "amountUsd",
        ),
        (json!({"amountUsd": 1}), "idempotencyKey"),
        (
            json!({"amountUsd": 1, "idempotencyKey": ""}),
            "idempotencyKey",
        ),
        (
            json!({"amountUsd": 1, "idempotencyKey": "v", "currency": "eur"}),
            "currency",
        ),
    ] {
        let reply = topup(&s, &key, AGENT, &id, body.clone()).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), [field], "{body}");
    }
    for (query, field) in [
        ("limit=0", "limit"),
        ("cursor=zzz", "cursor"),
        ("since=yesterday", "since"),
    ] {
        let reply = s
            .get(
                &format!("/v1/agent/services/{id}/phone/messages?{query}"),
                &key,
            )
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), [field], "{query}");
    }
    for (body, field) in [
        (
            json!({"serviceId": id, "kind": "fax", "from": "+14155550123"}),
            "kind",
        ),
        (
            json!({"serviceId": id, "kind": "sms", "from": "4155550123", "body": "x"}),
            "from",
        ),
        (
            json!({"serviceId": id, "kind": "sms", "from": "+14155550123"}),
            "body",
        ),
        (
            json!({"serviceId": id, "kind": "call", "from": "+14155550123", "answered": true}),
            "durationSeconds",
        ),
        (
            json!({"serviceId": id, "kind": "call", "from": "+14155550123", "durationSeconds": -1}),
            "durationSeconds",
        ),
        (
            json!({"serviceId": id, "kind": "call", "from": "+14155550123", "body": "x"}),
            "body",
        ),
        (
            json!({"serviceId": id, "kind": "sms", "from": "+14155550123", "body": "x", "extra": 1}),
            "extra",
        ),
    ] {
        let reply = inject(&s, &owner, body.clone()).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), [field], "{body}");
    }
    let not_phone = inject(
        &s,
        &owner,
        json!({"serviceId": storage_id, "kind": "sms", "from": "+14155550123", "body": "x"}),
    )
    .await;
    assert_eq!(error_fields(&not_phone), ["serviceId"]);
    // Agents cannot inject traffic (the sandbox carrier is an account operation).
    let agent_inject = s
        .post(
            "/v1/agent/sandbox/phone/inbound",
            &key,
            json!({"serviceId": id, "kind": "sms", "from": "+14155550123", "body": "x"}),
        )
        .await;
    assert_eq!(agent_inject.status, StatusCode::NOT_FOUND);
    // An inactive number: reads work while it exists; a terminated one takes no top-up.
    sqlx::query("UPDATE services SET status = 'terminated' WHERE id = $1")
        .bind(&id)
        .execute(s.app().store().pool())
        .await
        .unwrap();
    let inactive = topup(&s, &key, AGENT, &id, good_topup.clone()).await;
    assert_error(&inactive, StatusCode::CONFLICT, "invalid_state");
    let inject_inactive = inject(
        &s,
        &owner,
        json!({"serviceId": id, "kind": "sms", "from": "+14155550123", "body": "x"}),
    )
    .await;
    assert_error(&inject_inactive, StatusCode::CONFLICT, "invalid_state");
    sqlx::query("UPDATE services SET status = 'provisioning' WHERE id = $1")
        .bind(&id)
        .execute(s.app().store().pool())
        .await
        .unwrap();
    let provisioning = s
        .get(&format!("/v1/agent/services/{id}/phone/messages"), &key)
        .await;
    assert_error(&provisioning, StatusCode::CONFLICT, "invalid_state");
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn usage_empties_the_balance_exactly_then_suspends_until_a_topup() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "caller").await;
    // 0.01 USD = 10,000 micro-USD: one SMS (7,500) fits, the second takes the last 2,500.
    let service = buy_number(&s, &key, AGENT, json!(0.01)).await;
    let id = service["id"].as_str().unwrap().to_owned();
    let sms = json!({"serviceId": id, "kind": "sms", "from": "+14155550123", "body": "one"});
    let first = inject_ok(&s, &owner, sms.clone()).await;
    assert_eq!(first["costMicroUsd"], SMS_MICRO);
    assert_eq!(balance_micro(&s, &id).await, 2_500);
    assert_eq!(status_of(&s, &key, AGENT, &id).await, "active");
    let second = inject_ok(&s, &owner, sms.clone()).await;
    assert_eq!(second["costMicroUsd"], 2_500, "never more than the balance");
    assert_eq!(second["serviceStatus"], "suspended");
    assert_eq!(balance_micro(&s, &id).await, 0);
    assert_eq!(status_of(&s, &key, AGENT, &id).await, "suspended");
    assert_eq!(audit(&s, &owner, "service.suspended").await.len(), 1);
    // Suspended: the carrier refuses traffic; nothing is stored or charged.
    let refused = inject(&s, &owner, sms.clone()).await;
    assert_error(&refused, StatusCode::CONFLICT, "invalid_state");
    // Reads still work while suspended.
    let messages = s
        .get(&format!("/v1/agent/services/{id}/phone/messages"), &key)
        .await;
    assert_eq!(messages.body["items"].as_array().unwrap().len(), 2);
    let log = s
        .get(
            &format!(
                "/v1/agent/services/{id}/phone/messages/{}",
                second["id"].as_str().unwrap()
            ),
            &key,
        )
        .await;
    assert_eq!(log.body["message"]["costMicroUsd"], 2_500);
    // A top-up is accepted while suspended and resumes the number.
    let topped = topup(
        &s,
        &key,
        AGENT,
        &id,
        json!({"amountUsd": 0.5, "idempotencyKey": "resume"}),
    )
    .await;
    assert_eq!(topped.status, StatusCode::CREATED, "{}", topped.text);
    assert_eq!(topped.body["service"]["status"], "active");
    assert_eq!(balance_micro(&s, &id).await, 500_000);
    let after = inject_ok(&s, &owner, json!({"serviceId": id, "kind": "call", "from": "+14155550123", "answered": true, "durationSeconds": 120})).await;
    assert_eq!(after["costMicroUsd"], 2 * MINUTE_MICRO);
    assert_eq!(balance_micro(&s, &id).await, 500_000 - 2 * MINUTE_MICRO);
    assert_eq!(audit(&s, &owner, "service.resumed").await.len(), 1);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn the_webhook_needs_a_valid_signature_and_redeliveries_charge_once() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "caller").await;
    let service = buy_number(&s, &key, AGENT, json!(1)).await;
    let id = service["id"].as_str().unwrap().to_owned();
    let number = service["details"]["phoneNumber"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"eventId": "carrier-evt-1", "kind": "sms", "from": "+14155550123", "to": number, "body": "via webhook"}).to_string();
    let signature = s.app().telephony_webhook_signature(&body);
    let url = format!("{}/webhooks/telephony/sandbox", s.base);
    let post = |sig: Option<String>, text: String| {
        let mut request = s
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(text);
        if let Some(sig) = sig {
            request = request.header("x-agent-store-signature", sig);
        }
        request
    };
    assert_error(
        &s.send(post(None, body.clone())).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let forged = s.app().telephony_webhook_signature("something else");
    assert_error(
        &s.send(post(Some(forged), body.clone())).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let tampered = body.replace("via webhook", "via webhooK");
    assert_error(
        &s.send(post(Some(signature.clone()), tampered)).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let first = s.send(post(Some(signature.clone()), body.clone())).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["inbound"]["duplicate"], false);
    let again = s.send(post(Some(signature.clone()), body.clone())).await;
    assert_eq!(again.body["inbound"]["duplicate"], true);
    assert_eq!(again.body["inbound"]["id"], first.body["inbound"]["id"]);
    assert_eq!(balance_micro(&s, &id).await, 1_000_000 - SMS_MICRO);
    // A number nobody rents through this store.
    let stranger = json!({"eventId": "carrier-evt-2", "kind": "sms", "from": "+14155550123", "to": "+19995550100", "body": "x"}).to_string();
    let sig = s.app().telephony_webhook_signature(&stranger);
    assert_error(
        &s.send(post(Some(sig), stranger)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let malformed = "{\"kind\": \"fax\"}".to_owned();
    let sig = s.app().telephony_webhook_signature(&malformed);
    assert_error(
        &s.send(post(Some(sig), malformed)).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    // The route is documented.
    let openapi = s.get("/openapi.json", "").await;
    assert!(openapi.body["paths"]["/webhooks/telephony/sandbox"]["post"].is_object());
    assert!(openapi.body["paths"]["/v1/account/sandbox/phone/inbound"]["post"].is_object());
    assert!(
        openapi.body["paths"]["/v1/agent/services/{serviceId}/phone/topup"]["post"].is_object()
    );
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn monthly_rentals_are_taken_from_the_balance_and_an_unpaid_one_suspends() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "caller").await;
    let service = buy_number(&s, &key, AGENT, json!(3)).await;
    let id = service["id"].as_str().unwrap().to_owned();
    let pool = s.app().store().pool();
    let past = agent_store_core::time::now_ms() - 1000;
    let due = |at: i64| {
        sqlx::query("UPDATE services SET renews_at = $2 WHERE id = $1")
            .bind(id.clone())
            .bind(at)
    };
    due(past).execute(pool).await.unwrap();
    let mut last_purge = 0;
    s.app().run_due_work(&mut last_purge).await.unwrap();
    // The US local rental is 2.50 USD = 2,500,000 micro-USD.
    assert_eq!(balance_micro(&s, &id).await, 3_000_000 - 2_500_000);
    let renewed = s.get(&format!("/v1/agent/services/{id}"), &key).await;
    assert_eq!(renewed.body["service"]["status"], "active");
    assert_eq!(
        renewed.body["service"]["renewsAt"],
        agent_store_core::time::format_rfc3339(agent_store_core::time::add_months(past, 1))
    );
    // Running the worker again takes nothing more.
    s.app().run_due_work(&mut last_purge).await.unwrap();
    assert_eq!(balance_micro(&s, &id).await, 500_000);
    // The next rental does not fit: the number is suspended with the rental still due.
    due(past - 60_000).execute(pool).await.unwrap();
    s.app().run_due_work(&mut last_purge).await.unwrap();
    assert_eq!(balance_micro(&s, &id).await, 500_000);
    assert_eq!(status_of(&s, &key, AGENT, &id).await, "suspended");
    // A top-up pays the due rental first, then resumes the number.
    let small = topup(
        &s,
        &key,
        AGENT,
        &id,
        json!({"amountUsd": 1, "idempotencyKey": "small"}),
    )
    .await;
    assert_eq!(small.body["topUp"]["rentalDue"], true, "{}", small.text);
    assert_eq!(small.body["service"]["status"], "suspended");
    let enough = topup(
        &s,
        &key,
        AGENT,
        &id,
        json!({"amountUsd": 2, "idempotencyKey": "enough"}),
    )
    .await;
    assert_eq!(enough.body["topUp"]["rentalDue"], false, "{}", enough.text);
    assert_eq!(enough.body["service"]["status"], "active");
    assert_eq!(
        balance_micro(&s, &id).await,
        500_000 + 3_000_000 - 2_500_000
    );
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn the_invariants_catch_a_wrong_usage_or_topup_posting() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "caller").await;
    let service = buy_number(&s, &key, AGENT, json!(1)).await;
    let id = service["id"].as_str().unwrap().to_owned();
    let reply = topup(
        &s,
        &key,
        AGENT,
        &id,
        json!({"amountUsd": 1, "idempotencyKey": "t"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    inject_ok(
        &s,
        &owner,
        json!({"serviceId": id, "kind": "sms", "from": "+14155550123", "body": "x"}),
    )
    .await;
    assert_books_balance(s.app()).await;
    let pool = s.app().store().pool();
    let check = || async { agent_store_store::invariants::check(pool).await.unwrap() };
    // A usage record that claims more than was debited.
    sqlx::query(
        "UPDATE phone_events SET cost_micro = cost_micro + 1, price_micro = price_micro + 1",
    )
    .execute(pool)
    .await
    .unwrap();
    let problems = check().await;
    assert!(
        problems.iter().any(|p| p.contains("was posted as")),
        "{problems:?}"
    );
    sqlx::query(
        "UPDATE phone_events SET cost_micro = cost_micro - 1, price_micro = price_micro - 1",
    )
    .execute(pool)
    .await
    .unwrap();
    assert!(check().await.is_empty());
    // A top-up recorded for a different amount than its spend and its posting.
    sqlx::query("UPDATE service_payments SET amount_minor = amount_minor + 1")
        .execute(pool)
        .await
        .unwrap();
    let problems = check().await;
    assert!(
        problems.iter().any(|p| p.contains("service payment")),
        "{problems:?}"
    );
    sqlx::query("UPDATE service_payments SET amount_minor = amount_minor - 1")
        .execute(pool)
        .await
        .unwrap();
    // A spend outside purchases with no payment behind it.
    sqlx::query("DELETE FROM service_payments")
        .execute(pool)
        .await
        .unwrap();
    let problems = check().await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("does not match a service payment")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("pays for no service payment")),
        "{problems:?}"
    );
}

#[tokio::test]
async fn the_cli_injects_inbound_traffic_through_the_sandbox_carrier() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "caller").await;
    let service = buy_number(&s, &key, AGENT, json!(1)).await;
    let id = service["id"].as_str().unwrap().to_owned();
    let url = s.app().config().effective_database_url();
    let dir = s.dir.path().to_path_buf();
    let (email, service_id) = (owner.email.clone(), id.clone());
    let output = tokio::task::spawn_blocking(move || {
        common::process::run(
            &dir,
            &[
                "phone",
                "inject",
                "--account",
                &email,
                "--service-id",
                &service_id,
                "--kind",
                "sms",
                "--from",
                "+14155550123",
                "--body",
                "from the cli",
                "--database-url",
                &url,
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(output["inbound"]["accepted"], true, "{output}");
    assert_eq!(output["inbound"]["costMicroUsd"], SMS_MICRO);
    let messages = s
        .get(&format!("/v1/agent/services/{id}/phone/messages"), &key)
        .await;
    assert_eq!(
        messages.body["items"][0]["body"], "from the cli",
        "{}",
        messages.text
    );
    assert_eq!(balance_micro(&s, &id).await, 1_000_000 - SMS_MICRO);
    assert_books_balance(s.app()).await;
}
