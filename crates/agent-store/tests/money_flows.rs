//! The money path end to end over HTTP: the reference flows of SPEC section 14 from catalog to service,
//! purchase idempotency, funds, quote states, quantities, router top-ups, provisioning failures and
//! retries, wallet funding, the account as a buyer, and the transaction listings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod money_support;

use common::{
    Owner, TestServer, assert_books_balance, assert_error, error_fields, fund, wait_for_purchase,
};
use money_support::{
    ACCOUNT, AGENT, assert_wallet, buy_item, buy_ok, buy_quote, credits, list_all, new_key,
    object_storage, purchase_raw, quote, quote_n, vps, wallet,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn item_ids(reply: &common::Reply) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

/// One reference flow, step by step as SPEC 14 writes it, each step using the ids of the one before.
/// Returns (the completed purchase, the service).
#[allow(
    clippy::too_many_arguments,
    reason = "one argument per column of the SPEC table"
)]
async fn reference_flow(
    s: &TestServer,
    key: &str,
    category: &str,
    q: &str,
    limit: usize,
    expected_search: &[&str],
    configuration: Value,
    total: i64,
    idempotency_key: &str,
) -> (Value, Value) {
    // catalog_categories
    let categories = s.get("/v1/agent/catalog/categories", key).await;
    assert_eq!(categories.status, StatusCode::OK);
    assert!(
        categories.body["categories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == category)
    );
    // catalog_search {category, q, limit}
    let search = s
        .get(
            &format!(
                "/v1/agent/catalog/items?category={category}&q={}&limit={limit}",
                q.replace(' ', "%20")
            ),
            key,
        )
        .await;
    assert_eq!(search.status, StatusCode::OK, "{}", search.text);
    let found = item_ids(&search);
    assert_eq!(&found[..expected_search.len()], expected_search);
    let item = found[0].clone();
    // catalog_checkout_requirements {catalogItemId}
    let checkout = s
        .get(&format!("/v1/agent/catalog/items/{item}/checkout"), key)
        .await;
    assert_eq!(checkout.status, StatusCode::OK, "{}", checkout.text);
    // quote_create {catalogItemId, quantity, configuration}
    let quote = quote(s, key, AGENT, &item, configuration).await;
    assert_eq!(quote["totalPriceMinor"], total);
    assert_eq!(quote["status"], "open");
    let quote_id = quote["id"].as_str().unwrap();
    // purchase_create {quoteId, idempotencyKey}
    let created = purchase_raw(
        s,
        key,
        AGENT,
        json!({"quoteId": quote_id, "idempotencyKey": idempotency_key}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let p = &created.body["purchase"];
    assert!(
        p["status"] == "provisioning" || p["status"] == "completed",
        "{p}"
    );
    assert_eq!(p["quoteId"], quote_id);
    assert_eq!(p["catalogItemId"], item.as_str());
    assert_eq!(p["quantity"], 1);
    assert_eq!(p["totalPriceMinor"], total);
    assert_eq!(p["currency"], "usd");
    assert_eq!(p["idempotencyKey"], idempotency_key);
    assert_eq!(p["approval"]["required"], false);
    assert_eq!(p["approval"]["status"], "not_required");
    assert_eq!(p["failureReason"], Value::Null);
    let service_id = p["serviceId"].as_str().expect("service id known at once");
    assert_eq!(p["serviceIds"], json!([service_id]));
    // the quote is now used
    let q_after = s.get(&format!("/v1/agent/quotes/{quote_id}"), key).await;
    assert_eq!(q_after.body["quote"]["status"], "used");
    // purchase_get_status {purchaseId} until completed
    let done = wait_for_purchase(s, key, AGENT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["serviceId"], service_id);
    assert_eq!(done["totalPriceMinor"], total);
    // service_list / service_get
    let listed = list_all(s, key, "/v1/agent/services").await;
    assert!(listed.iter().any(|svc| svc["id"] == service_id));
    let got = s
        .get(&format!("/v1/agent/services/{service_id}"), key)
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    let service = got.body["service"].clone();
    assert_eq!(service["status"], "active");
    assert_eq!(service["purchaseId"], done["id"]);
    assert_eq!(service["catalogItemId"], item.as_str());
    (done, service)
}

async fn funded_agent(s: &TestServer, cents: i64) -> (Owner, String, String) {
    let owner = s.owner().await;
    let (agent_id, key) = s.agent(&owner, "buyer").await;
    fund(s, &owner, cents).await;
    (owner, agent_id, key)
}

#[tokio::test]
async fn the_domain_reference_flow_registers_launchpad_com_for_1499() {
    let s = TestServer::start().await;
    let (owner, agent_id, key) = funded_agent(&s, 10_000).await;
    let (purchase, service) = reference_flow(
        &s,
        &key,
        "domains",
        "com",
        3,
        &["cat_domain_com"],
        json!({"domainName": "launchpad.com", "periodYears": 1, "autoRenew": true,
               "privacyProtection": true, "registrantEmail": "ops@launchpad.com", "registrantCountry": "US"}),
        1499,
        "deploy-domain-1",
    )
    .await;
    assert_eq!(purchase["agentId"], agent_id.as_str());
    assert_eq!(service["serviceType"], "domain");
    assert_eq!(service["agentId"], agent_id.as_str());
    let d = &service["details"];
    assert_eq!(d["domainName"], "launchpad.com");
    assert_eq!(d["autoRenew"], true);
    assert_eq!(d["privacyProtection"], true);
    assert!(
        d["nameservers"].as_array().is_some_and(|n| n.len() >= 2),
        "{d}"
    );
    assert!(d["expiresAt"].as_str().is_some(), "{d}");
    assert_wallet(&s, &owner, 10_000 - 1499, 0, 10_000 - 1499).await;
    assert_eq!(wallet(&s, &key, AGENT).await, (8501, 0, 8501));
    // The name is now taken through this store.
    let again = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_domain_com", "quantity": 1,
                   "configuration": {"domainName": "launchpad.com", "periodYears": 1,
                                     "registrantEmail": "ops@launchpad.com", "registrantCountry": "US"}}),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "domain_unavailable");
    let again = buy_item(
        &s,
        &key,
        AGENT,
        "cat_domain_com",
        json!({"domainName": "launchpad.com", "periodYears": 1,
               "registrantEmail": "ops@launchpad.com", "registrantCountry": "US"}),
    )
    .await;
    assert_error(&again, StatusCode::CONFLICT, "domain_unavailable");
    assert_wallet(&s, &owner, 8501, 0, 8501).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_server_reference_flow_creates_deploy_node_01_for_2400() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let (_, service) = reference_flow(
        &s,
        &key,
        "compute",
        "vps",
        3,
        &["cat_vps_micro", "cat_vps_small", "cat_vps_gpu_standard"],
        vps("deploy-node-01", true),
        2400,
        "deploy-server-1",
    )
    .await;
    assert_eq!(service["serviceType"], "server");
    let d = &service["details"];
    assert_eq!(d["hostname"], "deploy-node-01");
    assert_eq!(d["region"], "eu-west");
    assert_eq!(d["image"], "ubuntu-24.04");
    assert_eq!(d["backupsEnabled"], true);
    assert_eq!(d["powerState"], "running");
    assert!(
        d["ipv4"]
            .as_str()
            .is_some_and(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok()),
        "{d}"
    );
    assert!(
        d["ipv6"]
            .as_str()
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        "{d}"
    );
    for field in ["vcpus", "memoryMb", "diskGb"] {
        assert!(d[field].as_i64().is_some_and(|v| v > 0), "{field}: {d}");
    }
    assert_eq!(
        service["managementCapabilities"],
        json!(["server:restart", "server:reinstall", "server:power"])
    );
    let by_type = list_all(
        &s,
        &key,
        "/v1/agent/services?serviceType=server&status=active",
    )
    .await;
    assert_eq!(by_type.len(), 1);
    assert!(
        list_all(&s, &key, "/v1/agent/services?serviceType=domain")
            .await
            .is_empty()
    );
    assert_wallet(&s, &owner, 7600, 0, 7600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_object_storage_reference_flow_creates_a_bucket_for_500() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let (_, service) = reference_flow(
        &s,
        &key,
        "storage",
        "object",
        3,
        &["cat_storage_object_001", "cat_storage_block_001"],
        object_storage(250),
        500,
        "deploy-storage-1",
    )
    .await;
    assert_eq!(service["serviceType"], "storage_service");
    let d = &service["details"];
    assert!(
        d["bucketName"].as_str().is_some_and(|b| !b.is_empty()),
        "{d}"
    );
    assert!(d["endpoint"].as_str().is_some_and(|e| !e.is_empty()), "{d}");
    assert_wallet(&s, &owner, 9500, 0, 9500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_phone_reference_flow_puts_the_10_usd_initial_balance_on_the_number() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let (_, service) = reference_flow(
        &s,
        &key,
        "telephony",
        "phone number",
        3,
        &["cat_phone_global_001"],
        json!({"countryCode": "US", "numberType": "local", "capabilities": ["sms", "voice"],
               "locality": "new-york", "initialBalanceUsd": 10}),
        1250,
        "deploy-phone-1",
    )
    .await;
    assert_eq!(service["serviceType"], "phone_number");
    let d = &service["details"];
    let number = d["phoneNumber"].as_str().unwrap();
    assert!(
        number.starts_with("+1")
            && number.len() == 12
            && number[1..].chars().all(|c| c.is_ascii_digit()),
        "E.164 US number: {number}"
    );
    assert_eq!(d["countryCode"], "US");
    assert_eq!(d["numberType"], "local");
    assert_eq!(d["capabilities"], json!(["sms", "voice"]));
    assert_eq!(d["balanceMinor"], 1000);
    // The whole 12.50 left the wallet: 2.50 for the number, 10.00 onto its prepaid balance.
    assert_wallet(&s, &owner, 8750, 0, 8750).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_router_reference_flow_buys_25_usd_of_credit_in_micro_dollars() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let (_, service) = reference_flow(
        &s,
        &key,
        "api_tokens",
        "router credits",
        1,
        &["cat_router_credit_001"],
        credits(25),
        2500,
        "deploy-router-1",
    )
    .await;
    assert_eq!(service["serviceType"], "llm_router");
    let d = &service["details"];
    assert_eq!(d["creditBalanceMicroUsd"], 25_000_000);
    assert_eq!(d["creditsPurchasedMicroUsd"], 25_000_000);
    assert_eq!(d["creditsUsedMicroUsd"], 0);
    assert!(
        d["baseUrl"].as_str().is_some_and(|u| u.starts_with("http")),
        "{d}"
    );
    assert_wallet(&s, &owner, 7500, 0, 7500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn all_five_reference_flows_on_one_wallet_leave_funding_minus_their_totals() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let mut expected = 10_000;
    for (i, (item, configuration, total)) in common::reference_quotes().into_iter().enumerate() {
        let q = quote(&s, &key, AGENT, item, configuration).await;
        assert_eq!(q["totalPriceMinor"], total, "{item}");
        let p = purchase_raw(
            &s,
            &key,
            AGENT,
            json!({"quoteId": q["id"], "idempotencyKey": format!("flow-{i}")}),
        )
        .await;
        assert_eq!(p.status, StatusCode::CREATED, "{}", p.text);
        let done =
            wait_for_purchase(&s, &key, AGENT, p.body["purchase"]["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "completed", "{done}");
        expected -= total;
        assert_wallet(&s, &owner, expected, 0, expected).await;
    }
    assert_eq!(expected, 10_000 - 8149);
    assert_eq!(list_all(&s, &key, "/v1/agent/services").await.len(), 5);
    assert_eq!(
        list_all(&s, &key, "/v1/agent/purchases?status=completed")
            .await
            .len(),
        5
    );
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn an_implicit_quote_purchase_completes_like_a_quoted_one() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 5_000).await;
    let reply = purchase_raw(
        &s,
        &key,
        AGENT,
        json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": vps("implicit-01", true),
               "idempotencyKey": "implicit-1", "note": "for the staging cluster"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let p = &reply.body["purchase"];
    assert_eq!(p["totalPriceMinor"], 2400);
    assert_eq!(p["note"], "for the staging cluster");
    assert!(
        p["quoteId"]
            .as_str()
            .is_some_and(|q| q.starts_with("quote_"))
    );
    assert_eq!(p["configuration"]["hostname"], "implicit-01");
    let done = wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    assert_wallet(&s, &owner, 2600, 0, 2600).await;
    // An invalid implicit configuration is a validation error listing the field; nothing moves.
    let bad = purchase_raw(
        &s,
        &key,
        AGENT,
        json!({"catalogItemId": "cat_vps_micro", "quantity": 1,
               "configuration": {"hostname": "x", "region": "mars", "image": "ubuntu-24.04", "billingTermMonths": 1},
               "idempotencyKey": "implicit-bad"}),
    )
    .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(
        error_fields(&bad).iter().any(|f| f.contains("region")),
        "{}",
        bad.text
    );
    assert_wallet(&s, &owner, 2600, 0, 2600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn replaying_a_purchase_returns_the_identical_body_with_the_replayed_header_and_debits_once()
{
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let q = quote(&s, &key, AGENT, "cat_vps_micro", vps("replay-01", true)).await;
    let body = json!({"quoteId": q["id"], "idempotencyKey": "replay-1"});
    let first = purchase_raw(&s, &key, AGENT, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let id = first.body["purchase"]["id"].as_str().unwrap().to_owned();
    wait_for_purchase(&s, &key, AGENT, &id).await;
    for _ in 0..2 {
        let again = purchase_raw(&s, &key, AGENT, body.clone()).await;
        assert_eq!(again.status, StatusCode::CREATED);
        assert_eq!(again.text, first.text, "byte-identical replay");
        assert_eq!(
            again
                .headers
                .get("idempotent-replayed")
                .map(|v| v.to_str().unwrap()),
            Some("true")
        );
    }
    // The key in the header instead of the body is the same request.
    let via_header = s
        .send(
            s.client
                .post(format!("{}/v1/agent/purchases", s.base))
                .bearer_auth(&key)
                .header("Idempotency-Key", "replay-1")
                .json(&json!({"quoteId": q["id"]})),
        )
        .await;
    assert_eq!(
        via_header.status,
        StatusCode::CREATED,
        "{}",
        via_header.text
    );
    assert_eq!(via_header.text, first.text);
    assert_eq!(list_all(&s, &key, "/v1/agent/purchases").await.len(), 1);
    assert_eq!(list_all(&s, &key, "/v1/agent/services").await.len(), 1);
    assert_wallet(&s, &owner, 7600, 0, 7600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn replaying_an_implicit_domain_purchase_replays_instead_of_finding_the_name_taken() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let body = json!({"catalogItemId": "cat_domain_com", "quantity": 1,
                      "configuration": {"domainName": "replayed-name.com", "periodYears": 1,
                                        "registrantEmail": "ops@replayed-name.com", "registrantCountry": "US"},
                      "idempotencyKey": "implicit-domain-1"});
    let first = purchase_raw(&s, &key, AGENT, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    wait_for_purchase(
        &s,
        &key,
        AGENT,
        first.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    let again = purchase_raw(&s, &key, AGENT, body).await;
    assert_eq!(
        again.status,
        StatusCode::CREATED,
        "a retry must replay: {}",
        again.text
    );
    assert_eq!(again.text, first.text);
    assert_wallet(&s, &owner, 10_000 - 1499, 0, 10_000 - 1499).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn reusing_a_purchase_key_for_a_different_request_is_422_and_moves_nothing() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let first = purchase_raw(
        &s,
        &key,
        AGENT,
        json!({"catalogItemId": "cat_router_credit_001", "quantity": 1, "configuration": credits(5),
               "idempotencyKey": "same-key"}),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let other = purchase_raw(
        &s,
        &key,
        AGENT,
        json!({"catalogItemId": "cat_router_credit_001", "quantity": 1, "configuration": credits(6),
               "idempotencyKey": "same-key"}),
    )
    .await;
    assert_error(
        &other,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_mismatch",
    );
    // Header and body keys that disagree are refused.
    let disagree = s
        .send(
            s.client
                .post(format!("{}/v1/agent/purchases", s.base))
                .bearer_auth(&key)
                .header("Idempotency-Key", "header-key")
                .json(
                    &json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
                              "configuration": credits(5), "idempotencyKey": "body-key"}),
                ),
        )
        .await;
    assert_error(&disagree, StatusCode::BAD_REQUEST, "validation_failed");
    // Keys are scoped to the principal: another agent may use the same key freely.
    let (_, key2) = s.agent(&owner, "other").await;
    let theirs = purchase_raw(
        &s,
        &key2,
        AGENT,
        json!({"catalogItemId": "cat_router_credit_001", "quantity": 1, "configuration": credits(6),
               "idempotencyKey": "same-key"}),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
    wait_for_purchase(
        &s,
        &key,
        AGENT,
        first.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    wait_for_purchase(
        &s,
        &key2,
        AGENT,
        theirs.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    assert_wallet(&s, &owner, 10_000 - 500 - 600, 0, 8900).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_purchase_without_an_idempotency_key_is_400_and_creates_nothing() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let q = quote(&s, &key, AGENT, "cat_vps_micro", vps("nokey-01", false)).await;
    let reply = purchase_raw(&s, &key, AGENT, json!({"quoteId": q["id"]})).await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(
        error_fields(&reply).contains(&"idempotencyKey".to_owned()),
        "{}",
        reply.text
    );
    let empty = purchase_raw(
        &s,
        &key,
        AGENT,
        json!({"quoteId": q["id"], "idempotencyKey": ""}),
    )
    .await;
    assert_error(&empty, StatusCode::BAD_REQUEST, "validation_failed");
    let long = purchase_raw(
        &s,
        &key,
        AGENT,
        json!({"quoteId": q["id"], "idempotencyKey": "k".repeat(256)}),
    )
    .await;
    assert_error(&long, StatusCode::BAD_REQUEST, "validation_failed");
    let unknown = purchase_raw(
        &s,
        &key,
        AGENT,
        json!({"quoteId": q["id"], "idempotencyKey": "x1", "coupon": "FREE"}),
    )
    .await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "validation_failed");
    assert!(list_all(&s, &key, "/v1/agent/purchases").await.is_empty());
    // The quote is still open and buyable.
    let ok = buy_quote(&s, &key, AGENT, q["id"].as_str().unwrap()).await;
    assert_eq!(ok["totalPriceMinor"], 2000);
    wait_for_purchase(&s, &key, AGENT, ok["id"].as_str().unwrap()).await;
    assert_wallet(&s, &owner, 8000, 0, 8000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn insufficient_funds_is_402_with_nothing_created_and_the_same_key_succeeds_after_funding() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 2_000).await;
    let q = quote(&s, &key, AGENT, "cat_vps_micro", vps("poor-01", true)).await;
    let body = json!({"quoteId": q["id"], "idempotencyKey": "retry-after-funding"});
    let refused = purchase_raw(&s, &key, AGENT, body.clone()).await;
    let error = assert_error(&refused, StatusCode::PAYMENT_REQUIRED, "insufficient_funds");
    assert!(error["details"].is_object(), "{}", refused.text);
    assert!(list_all(&s, &key, "/v1/agent/purchases").await.is_empty());
    assert!(list_all(&s, &key, "/v1/agent/services").await.is_empty());
    let q_now = s
        .get(
            &format!("/v1/agent/quotes/{}", q["id"].as_str().unwrap()),
            &key,
        )
        .await;
    assert_eq!(q_now.body["quote"]["status"], "open");
    assert_wallet(&s, &owner, 2000, 0, 2000).await;
    // The rejection was not stored: after funding, the very same request succeeds.
    fund(&s, &owner, 400).await;
    let ok = purchase_raw(&s, &key, AGENT, body.clone()).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    assert!(ok.headers.get("idempotent-replayed").is_none());
    let done =
        wait_for_purchase(&s, &key, AGENT, ok.body["purchase"]["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    assert_wallet(&s, &owner, 0, 0, 0).await;
    // And now it is stored: a retry replays.
    let replay = purchase_raw(&s, &key, AGENT, body).await;
    assert_eq!(replay.text, ok.text);
    assert_wallet(&s, &owner, 0, 0, 0).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_used_quote_is_409_quote_used_with_a_new_key() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let q = quote(
        &s,
        &key,
        AGENT,
        "cat_storage_object_001",
        object_storage(250),
    )
    .await;
    let p = buy_quote(&s, &key, AGENT, q["id"].as_str().unwrap()).await;
    wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    let again = purchase_raw(
        &s,
        &key,
        AGENT,
        json!({"quoteId": q["id"], "idempotencyKey": "second-try"}),
    )
    .await;
    assert_error(&again, StatusCode::CONFLICT, "quote_used");
    assert_wallet(&s, &owner, 9500, 0, 9500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn an_expired_quote_is_409_quote_expired_and_charges_nothing() {
    let s = TestServer::start_with(|c| c.quotes.ttl_seconds = 1).await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let q = quote(&s, &key, AGENT, "cat_vps_micro", vps("late-01", false)).await;
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let reply = purchase_raw(
        &s,
        &key,
        AGENT,
        json!({"quoteId": q["id"], "idempotencyKey": "too-late"}),
    )
    .await;
    assert_error(&reply, StatusCode::CONFLICT, "quote_expired");
    let q_now = s
        .get(
            &format!("/v1/agent/quotes/{}", q["id"].as_str().unwrap()),
            &key,
        )
        .await;
    assert_eq!(q_now.body["quote"]["status"], "expired");
    assert!(list_all(&s, &key, "/v1/agent/purchases").await.is_empty());
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn another_agents_quote_is_404_even_in_the_same_account() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let (_, key2) = s.agent(&owner, "sibling").await;
    let q = quote(&s, &key, AGENT, "cat_vps_micro", vps("mine-01", false)).await;
    let theirs = purchase_raw(
        &s,
        &key2,
        AGENT,
        json!({"quoteId": q["id"], "idempotencyKey": "steal"}),
    )
    .await;
    assert_error(&theirs, StatusCode::NOT_FOUND, "not_found");
    // Nor can the account buy the agent's quote as itself, nor another account's agent.
    let as_account = purchase_raw(
        &s,
        &owner.token,
        ACCOUNT,
        json!({"quoteId": q["id"], "idempotencyKey": "steal"}),
    )
    .await;
    assert_error(&as_account, StatusCode::NOT_FOUND, "not_found");
    let stranger = s.owner().await;
    fund(&s, &stranger, 10_000).await;
    let (_, stranger_key) = s.agent(&stranger, "stranger").await;
    let foreign = purchase_raw(
        &s,
        &stranger_key,
        AGENT,
        json!({"quoteId": q["id"], "idempotencyKey": "steal"}),
    )
    .await;
    assert_error(&foreign, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &s.get("/v1/agent/purchases/pur_01jdnotthere0000000000000", &key)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // The owner's agent still buys it.
    let p = buy_quote(&s, &key, AGENT, q["id"].as_str().unwrap()).await;
    wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    // Neither the sibling nor the stranger can see the purchase or its service.
    let pid = p["id"].as_str().unwrap();
    let sid = p["serviceId"].as_str().unwrap();
    for bearer in [&key2, &stranger_key] {
        assert_error(
            &s.get(&format!("/v1/agent/purchases/{pid}"), bearer).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_error(
            &s.get(&format!("/v1/agent/services/{sid}"), bearer).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    assert_error(
        &s.get(&format!("/v1/account/purchases/{pid}"), &stranger.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_wallet(&s, &owner, 8000, 0, 8000).await;
    assert_wallet(&s, &stranger, 10_000, 0, 10_000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn buying_three_vps_at_once_creates_three_services_for_three_times_the_price() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let q = quote_n(&s, &key, AGENT, "cat_vps_micro", 3, vps("fleet-01", true)).await;
    assert_eq!(q["totalPriceMinor"], 7200);
    let p = buy_quote(&s, &key, AGENT, q["id"].as_str().unwrap()).await;
    assert_eq!(p["quantity"], 3);
    let ids: Vec<String> = p["serviceIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(p["serviceId"], ids[0].as_str());
    let done = wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    let mut addresses = Vec::new();
    let mut hostnames = Vec::new();
    for id in &ids {
        let svc = s.get(&format!("/v1/agent/services/{id}"), &key).await;
        assert_eq!(svc.body["service"]["status"], "active");
        hostnames.push(
            svc.body["service"]["details"]["hostname"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        assert_eq!(
            svc.body["service"]["displayName"],
            svc.body["service"]["details"]["hostname"]
        );
        assert_eq!(svc.body["service"]["purchaseId"], p["id"]);
        addresses.push(
            svc.body["service"]["details"]["ipv4"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 3, "three distinct servers (addresses)");
    hostnames.sort();
    assert_eq!(
        hostnames,
        vec!["fleet-01", "fleet-01-2", "fleet-01-3"],
        "each server gets its own hostname"
    );
    assert_eq!(
        list_all(&s, &key, "/v1/agent/services?serviceType=server")
            .await
            .len(),
        3
    );
    assert_wallet(&s, &owner, 2800, 0, 2800).await;
    // Quantity limits: 11 servers and 2 domains are validation errors.
    let too_many = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_vps_micro", "quantity": 11, "configuration": vps("fleet-02", false)}),
        )
        .await;
    assert_error(&too_many, StatusCode::BAD_REQUEST, "validation_failed");
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_router_top_up_adds_to_the_existing_service_balance() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let first = buy_ok(&s, &key, AGENT, "cat_router_credit_001", credits(25)).await;
    wait_for_purchase(&s, &key, AGENT, first["id"].as_str().unwrap()).await;
    let service_id = first["serviceId"].as_str().unwrap().to_owned();
    let top = buy_ok(
        &s,
        &key,
        AGENT,
        "cat_router_credit_001",
        json!({"creditAmountUsd": 10.5, "topUpServiceId": service_id}),
    )
    .await;
    assert_eq!(top["totalPriceMinor"], 1050);
    let done = wait_for_purchase(&s, &key, AGENT, top["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["serviceId"], service_id.as_str(), "{done}");
    let svc = s
        .get(&format!("/v1/agent/services/{service_id}"), &key)
        .await;
    let d = &svc.body["service"]["details"];
    assert_eq!(d["creditBalanceMicroUsd"], 35_500_000);
    assert_eq!(d["creditsPurchasedMicroUsd"], 35_500_000);
    // No second router service was created.
    assert_eq!(
        list_all(&s, &key, "/v1/agent/services?serviceType=llm_router")
            .await
            .len(),
        1
    );
    assert_wallet(&s, &owner, 10_000 - 2500 - 1050, 0, 6450).await;
    // Topping up something that is not an active router of this agent is refused, for nothing.
    let server = buy_ok(&s, &key, AGENT, "cat_vps_micro", vps("not-a-router", false)).await;
    wait_for_purchase(&s, &key, AGENT, server["id"].as_str().unwrap()).await;
    let wrong = buy_item(
        &s,
        &key,
        AGENT,
        "cat_router_credit_001",
        json!({"creditAmountUsd": 5, "topUpServiceId": server["serviceId"]}),
    )
    .await;
    assert_error(&wrong, StatusCode::BAD_REQUEST, "validation_failed");
    let (_, key2) = s.agent(&owner, "sibling").await;
    let foreign = buy_item(
        &s,
        &key2,
        AGENT,
        "cat_router_credit_001",
        json!({"creditAmountUsd": 5, "topUpServiceId": service_id}),
    )
    .await;
    assert!(
        foreign.status == StatusCode::BAD_REQUEST || foreign.status == StatusCode::NOT_FOUND,
        "{}",
        foreign.text
    );
    assert_wallet(&s, &owner, 4450, 0, 4450).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_permanent_provisioning_failure_fails_the_purchase_and_refunds_in_full() {
    let s = TestServer::start_with(|c| c.jobs.retry_base_ms = 50).await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let p = buy_ok(
        &s,
        &key,
        AGENT,
        "cat_vps_micro",
        vps("sandbox-fail-01", true),
    )
    .await;
    let done = wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["failureReason"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{done}"
    );
    let svc = s
        .get(
            &format!("/v1/agent/services/{}", p["serviceId"].as_str().unwrap()),
            &key,
        )
        .await;
    assert_eq!(svc.body["service"]["status"], "failed", "{}", svc.text);
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    let txns = list_all(&s, &owner.token, "/v1/account/wallet/transactions").await;
    let refunds: Vec<&Value> = txns.iter().filter(|t| t["type"] == "refund").collect();
    assert_eq!(refunds.len(), 1, "{txns:?}");
    assert_eq!(refunds[0]["amountMinor"], 2400);
    assert_eq!(refunds[0]["purchaseId"], p["id"]);
    assert_eq!(refunds[0]["balanceAfterMinor"], 10_000);
    let failed = money_support::audit(&s, &owner, "purchase.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["objectId"], p["id"]);
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_provider_refusing_a_service_type_fails_those_purchases_only() {
    let s = TestServer::start_with(|c| {
        c.sandbox.fail_service_types = vec!["server".into()];
        c.jobs.retry_base_ms = 50;
    })
    .await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let server = buy_ok(&s, &key, AGENT, "cat_vps_micro", vps("refused-01", false)).await;
    let storage = buy_ok(
        &s,
        &key,
        AGENT,
        "cat_storage_object_001",
        object_storage(250),
    )
    .await;
    let server = wait_for_purchase(&s, &key, AGENT, server["id"].as_str().unwrap()).await;
    let storage = wait_for_purchase(&s, &key, AGENT, storage["id"].as_str().unwrap()).await;
    assert_eq!(server["status"], "failed", "{server}");
    assert_eq!(storage["status"], "completed", "{storage}");
    assert_wallet(&s, &owner, 9500, 0, 9500).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_flaky_provider_is_retried_until_the_purchase_completes_charging_once() {
    let s = TestServer::start_with(|c| c.jobs.retry_base_ms = 50).await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let p = buy_ok(
        &s,
        &key,
        AGENT,
        "cat_vps_micro",
        vps("sandbox-flaky-01", false),
    )
    .await;
    let done = wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["failureReason"], Value::Null);
    let svc = s
        .get(
            &format!("/v1/agent/services/{}", p["serviceId"].as_str().unwrap()),
            &key,
        )
        .await;
    assert_eq!(svc.body["service"]["status"], "active");
    assert_wallet(&s, &owner, 8000, 0, 8000).await;
    let txns = list_all(&s, &owner.token, "/v1/account/wallet/transactions").await;
    assert!(txns.iter().all(|t| t["type"] != "refund"), "{txns:?}");
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn wallet_funding_is_idempotent_and_a_reused_key_with_another_amount_is_422() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    assert_wallet(&s, &owner, 0, 0, 0).await;
    let body = json!({"amountMinor": 5_000, "idempotencyKey": "fund-1"});
    let first = s
        .post("/v1/account/wallet/fundings", &owner.token, body.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(
        first.body["funding"]["amountMinor"], 5_000,
        "{}",
        first.text
    );
    assert_eq!(first.body["wallet"]["balanceMinor"], 5_000);
    assert_eq!(first.body["wallet"]["availableMinor"], 5_000);
    let again = s
        .post("/v1/account/wallet/fundings", &owner.token, body)
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.text, first.text);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    assert_wallet(&s, &owner, 5_000, 0, 5_000).await;
    let mismatch = s
        .post(
            "/v1/account/wallet/fundings",
            &owner.token,
            json!({"amountMinor": 6_000, "idempotencyKey": "fund-1"}),
        )
        .await;
    assert_error(
        &mismatch,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_mismatch",
    );
    let no_key = s
        .post(
            "/v1/account/wallet/fundings",
            &owner.token,
            json!({"amountMinor": 100}),
        )
        .await;
    assert_error(&no_key, StatusCode::BAD_REQUEST, "validation_failed");
    for bad in [json!(0), json!(-100), json!("100"), json!(1.5)] {
        let r = s
            .post(
                "/v1/account/wallet/fundings",
                &owner.token,
                json!({"amountMinor": bad, "idempotencyKey": new_key("bad")}),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "validation_failed");
    }
    // Agents cannot fund.
    let (_, key) = s.agent(&owner, "bot").await;
    let by_agent = s
        .post(
            "/v1/agent/wallet/fundings",
            &key,
            json!({"amountMinor": 100, "idempotencyKey": "agent-fund"}),
        )
        .await;
    assert!(
        by_agent.status == StatusCode::NOT_FOUND
            || by_agent.status == StatusCode::METHOD_NOT_ALLOWED,
        "{}",
        by_agent.text
    );
    // The same key in another account is independent.
    let other = s.owner().await;
    let theirs = s
        .post(
            "/v1/account/wallet/fundings",
            &other.token,
            json!({"amountMinor": 700, "idempotencyKey": "fund-1"}),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.text);
    assert_wallet(&s, &owner, 5_000, 0, 5_000).await;
    assert_wallet(&s, &other, 700, 0, 700).await;
    let funded = money_support::audit(&s, &owner, "wallet.funded").await;
    assert_eq!(funded.len(), 1);
    let txns = list_all(&s, &owner.token, "/v1/account/wallet/transactions").await;
    assert_eq!(txns.len(), 1);
    assert_eq!(txns[0]["type"], "funding");
    assert_eq!(txns[0]["amountMinor"], 5_000);
    assert_eq!(txns[0]["balanceAfterMinor"], 5_000);
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn the_account_can_quote_and_buy_as_itself() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (agent_id, key) = s.agent(&owner, "bot").await;
    let q = quote(
        &s,
        &owner.token,
        ACCOUNT,
        "cat_vps_micro",
        vps("dashboard-01", true),
    )
    .await;
    assert_eq!(q["totalPriceMinor"], 2400);
    let p = buy_quote(&s, &owner.token, ACCOUNT, q["id"].as_str().unwrap()).await;
    assert_eq!(p["agentId"], Value::Null);
    let done = wait_for_purchase(&s, &owner.token, ACCOUNT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let svc = s
        .get(
            &format!("/v1/account/services/{}", p["serviceId"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    assert_eq!(svc.status, StatusCode::OK, "{}", svc.text);
    assert_eq!(svc.body["service"]["status"], "active");
    // Implicit purchase as the account, then an agent purchase: the account lists all of them.
    let implicit = buy_ok(
        &s,
        &owner.token,
        ACCOUNT,
        "cat_router_credit_001",
        credits(5),
    )
    .await;
    wait_for_purchase(&s, &owner.token, ACCOUNT, implicit["id"].as_str().unwrap()).await;
    let mine = buy_ok(
        &s,
        &key,
        AGENT,
        "cat_storage_object_001",
        object_storage(250),
    )
    .await;
    wait_for_purchase(&s, &key, AGENT, mine["id"].as_str().unwrap()).await;
    assert_eq!(
        list_all(&s, &owner.token, "/v1/account/purchases")
            .await
            .len(),
        3
    );
    let of_agent = list_all(
        &s,
        &owner.token,
        &format!("/v1/account/purchases?agentId={agent_id}"),
    )
    .await;
    assert_eq!(
        money_support::ids_of(&of_agent),
        vec![mine["id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(
        list_all(&s, &owner.token, "/v1/account/services")
            .await
            .len(),
        3
    );
    // The agent sees only its own.
    assert_eq!(list_all(&s, &key, "/v1/agent/purchases").await.len(), 1);
    assert_eq!(list_all(&s, &key, "/v1/agent/services").await.len(), 1);
    assert_wallet(&s, &owner, 10_000 - 2400 - 500 - 500, 0, 6600).await;
    assert_eq!(wallet(&s, &key, AGENT).await, (6600, 0, 6600));
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn agents_see_their_own_transactions_the_account_sees_all_and_the_amounts_chain() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (a1, k1) = s.agent(&owner, "one").await;
    let (a2, k2) = s.agent(&owner, "two").await;
    fund(&s, &owner, 10_000).await;
    let p1 = buy_ok(&s, &k1, AGENT, "cat_vps_micro", vps("txn-01", true)).await;
    let p2 = buy_ok(&s, &k2, AGENT, "cat_router_credit_001", credits(7)).await;
    fund(&s, &owner, 1_000).await;
    let p3 = buy_ok(
        &s,
        &k1,
        AGENT,
        "cat_vps_micro",
        vps("sandbox-fail-02", false),
    )
    .await;
    for (k, p) in [(&k1, &p1), (&k2, &p2), (&k1, &p3)] {
        wait_for_purchase(&s, k, AGENT, p["id"].as_str().unwrap()).await;
    }
    // 10000 - 2400 - 700 + 1000 - 2000 + 2000 (refund) = 7900
    assert_wallet(&s, &owner, 7900, 0, 7900).await;

    let all = list_all(&s, &owner.token, "/v1/account/wallet/transactions").await;
    // Newest first: walking oldest to newest, each line's after = previous after + its change.
    let mut available = 0;
    let mut held = 0;
    for t in all.iter().rev() {
        assert!(t["id"].as_str().unwrap().starts_with("txn_"));
        available += t["amountMinor"].as_i64().unwrap();
        held += t["heldChangeMinor"].as_i64().unwrap();
        assert_eq!(t["balanceAfterMinor"], available, "{t}");
        assert_eq!(t["heldAfterMinor"], held, "{t}");
    }
    assert_eq!((available, held), (7900, 0));
    let fundings: Vec<i64> = all
        .iter()
        .filter(|t| t["type"] == "funding")
        .map(|t| t["amountMinor"].as_i64().unwrap())
        .collect();
    assert_eq!(fundings, vec![1_000, 10_000]);
    // Per purchase, the wallet changes net to minus its price (or zero when refunded).
    let net = |pid: &Value| -> i64 {
        all.iter()
            .filter(|t| &t["purchaseId"] == pid)
            .map(|t| t["amountMinor"].as_i64().unwrap())
            .sum()
    };
    assert_eq!(net(&p1["id"]), -2400);
    assert_eq!(net(&p2["id"]), -700);
    assert_eq!(net(&p3["id"]), 0);

    let own1 = list_all(&s, &k1, "/v1/agent/wallet/transactions").await;
    let own2 = list_all(&s, &k2, "/v1/agent/wallet/transactions").await;
    assert!(!own1.is_empty() && !own2.is_empty());
    assert!(own1.iter().all(|t| t["agentId"] == a1.as_str()), "{own1:?}");
    assert!(own2.iter().all(|t| t["agentId"] == a2.as_str()), "{own2:?}");
    let sum = |v: &[Value]| -> i64 { v.iter().map(|t| t["amountMinor"].as_i64().unwrap()).sum() };
    assert_eq!(sum(&own1), -2400);
    assert_eq!(sum(&own2), -700);
    // Every agent line is in the account listing, unchanged.
    for t in own1.iter().chain(own2.iter()) {
        assert!(all.contains(t), "{t}");
    }
    // Paging with a small limit visits every line once, newest first.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("/v1/account/wallet/transactions?limit=2&cursor={c}"),
            None => "/v1/account/wallet/transactions?limit=2".to_owned(),
        };
        let page = s.get(&url, &owner.token).await;
        assert!(page.body["items"].as_array().unwrap().len() <= 2);
        paged.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paged, all);
    assert_books_balance(s.app()).await;
    s.stop().await;
}

fn implicit(item: &str, configuration: Value, key: &str) -> Value {
    json!({"catalogItemId": item, "quantity": 1, "configuration": configuration, "idempotencyKey": key})
}

#[tokio::test]
async fn concurrent_purchases_racing_for_the_last_funds_never_overdraw() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 5_000).await;
    let requests = (0..6)
        .map(|i| {
            (
                "/v1/agent/purchases".to_owned(),
                key.clone(),
                implicit(
                    "cat_vps_micro",
                    vps(&format!("race-{i}"), false),
                    &format!("race-{i}"),
                ),
            )
        })
        .collect();
    let replies = money_support::concurrent_posts(&s, requests).await;
    assert_eq!(
        money_support::count_status(&replies, StatusCode::CREATED),
        2,
        "{replies:?}"
    );
    assert_eq!(
        money_support::count_status(&replies, StatusCode::PAYMENT_REQUIRED),
        4,
        "{replies:?}"
    );
    for r in replies.iter().filter(|r| r.status == StatusCode::CREATED) {
        wait_for_purchase(&s, &key, AGENT, r.body["purchase"]["id"].as_str().unwrap()).await;
    }
    assert_eq!(list_all(&s, &key, "/v1/agent/purchases").await.len(), 2);
    assert_wallet(&s, &owner, 1_000, 0, 1_000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn concurrent_retries_with_one_key_create_one_purchase_and_debit_once() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let body = implicit("cat_vps_micro", vps("retry-storm", true), "retry-storm");
    let requests = (0..6)
        .map(|_| ("/v1/agent/purchases".to_owned(), key.clone(), body.clone()))
        .collect();
    let replies = money_support::concurrent_posts(&s, requests).await;
    let created: Vec<&common::Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert!(!created.is_empty(), "{replies:?}");
    for r in &replies {
        if r.status != StatusCode::CREATED {
            assert_error(r, StatusCode::CONFLICT, "idempotency_key_in_use");
        }
    }
    // Every 201 is the same purchase, byte for byte.
    assert!(
        created.iter().all(|r| r.text == created[0].text),
        "{created:?}"
    );
    let id = created[0].body["purchase"]["id"].as_str().unwrap();
    wait_for_purchase(&s, &key, AGENT, id).await;
    // A later retry replays it.
    let later = purchase_raw(&s, &key, AGENT, body).await;
    assert_eq!(later.text, created[0].text);
    assert_eq!(list_all(&s, &key, "/v1/agent/purchases").await.len(), 1);
    assert_wallet(&s, &owner, 7600, 0, 7600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn one_quote_bought_concurrently_under_different_keys_is_sold_once() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let q = quote(&s, &key, AGENT, "cat_vps_micro", vps("sold-once", true)).await;
    let requests = (0..4)
        .map(|i| {
            (
                "/v1/agent/purchases".to_owned(),
                key.clone(),
                json!({"quoteId": q["id"], "idempotencyKey": format!("sold-once-{i}")}),
            )
        })
        .collect();
    let replies = money_support::concurrent_posts(&s, requests).await;
    assert_eq!(
        money_support::count_status(&replies, StatusCode::CREATED),
        1,
        "{replies:?}"
    );
    for r in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_error(r, StatusCode::CONFLICT, "quote_used");
    }
    let created = replies
        .iter()
        .find(|r| r.status == StatusCode::CREATED)
        .unwrap();
    wait_for_purchase(
        &s,
        &key,
        AGENT,
        created.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    assert_wallet(&s, &owner, 7600, 0, 7600).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn concurrent_purchases_of_one_domain_register_it_once() {
    let s = TestServer::start().await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let (_, key2) = s.agent(&owner, "second").await;
    let configuration = json!({"domainName": "contested.com", "periodYears": 1,
                               "registrantEmail": "ops@contested.com", "registrantCountry": "US"});
    let requests = (0..4)
        .map(|i| {
            (
                "/v1/agent/purchases".to_owned(),
                if i % 2 == 0 {
                    key.clone()
                } else {
                    key2.clone()
                },
                implicit(
                    "cat_domain_com",
                    configuration.clone(),
                    &format!("contested-{i}"),
                ),
            )
        })
        .collect();
    let replies = money_support::concurrent_posts(&s, requests).await;
    assert_eq!(
        money_support::count_status(&replies, StatusCode::CREATED),
        1,
        "{replies:?}"
    );
    for r in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
        assert_error(r, StatusCode::CONFLICT, "domain_unavailable");
    }
    let created = replies
        .iter()
        .find(|r| r.status == StatusCode::CREATED)
        .unwrap();
    wait_for_purchase(
        &s,
        &owner.token,
        ACCOUNT,
        created.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        list_all(&s, &owner.token, "/v1/account/services?serviceType=domain")
            .await
            .len(),
        1
    );
    assert_wallet(&s, &owner, 10_000 - 1499, 0, 8501).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_failed_domain_purchase_frees_the_name_again() {
    let s = TestServer::start_with(|c| c.jobs.retry_base_ms = 50).await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let configuration = json!({"domainName": "sandbox-fail-name.com", "periodYears": 1,
                               "registrantEmail": "ops@example.org", "registrantCountry": "US"});
    let p = buy_ok(&s, &key, AGENT, "cat_domain_com", configuration.clone()).await;
    let done = wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed");
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    let again = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_domain_com", "quantity": 1, "configuration": configuration}),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::CREATED,
        "the name is free again: {}",
        again.text
    );
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn concurrent_fundings_with_one_key_credit_once() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let requests = (0..6)
        .map(|_| {
            (
                "/v1/account/wallet/fundings".to_owned(),
                owner.token.clone(),
                json!({"amountMinor": 2_500, "idempotencyKey": "fund-storm"}),
            )
        })
        .collect();
    let replies = money_support::concurrent_posts(&s, requests).await;
    for r in &replies {
        if r.status != StatusCode::CREATED {
            assert_error(r, StatusCode::CONFLICT, "idempotency_key_in_use");
        }
    }
    assert!(money_support::count_status(&replies, StatusCode::CREATED) >= 1);
    assert_wallet(&s, &owner, 2_500, 0, 2_500).await;
    assert_eq!(
        list_all(&s, &owner.token, "/v1/account/wallet/transactions")
            .await
            .len(),
        1
    );
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn services_activation_and_funding_are_in_the_audit_log() {
    let s = TestServer::start().await;
    let (owner, agent_id, key) = funded_agent(&s, 10_000).await;
    let p = buy_ok(&s, &key, AGENT, "cat_vps_micro", vps("audited-01", false)).await;
    wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    let created = money_support::audit(&s, &owner, "purchase.created").await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["objectId"], p["id"]);
    assert_eq!(created[0]["actorType"], "agent");
    assert_eq!(created[0]["actorId"], agent_id.as_str());
    assert_eq!(
        created[0]["credentialId"],
        money_support::key_id(&key).as_str()
    );
    assert!(
        created[0]["requestId"]
            .as_str()
            .is_some_and(|r| r.starts_with("req_"))
    );
    let activated = money_support::audit(&s, &owner, "service.activated").await;
    assert_eq!(activated.len(), 1, "{activated:?}");
    assert_eq!(activated[0]["objectId"], p["serviceId"]);
    assert_eq!(
        money_support::audit(&s, &owner, "wallet.funded")
            .await
            .len(),
        1
    );
    assert_wallet(&s, &owner, 8000, 0, 8000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn an_idempotency_key_reused_on_another_route_is_a_mismatch() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let funding = s
        .post(
            "/v1/account/wallet/fundings",
            &owner.token,
            json!({"amountMinor": 5_000, "idempotencyKey": "shared-key"}),
        )
        .await;
    assert_eq!(funding.status, StatusCode::CREATED);
    let purchase = purchase_raw(
        &s,
        &owner.token,
        ACCOUNT,
        implicit("cat_router_credit_001", credits(5), "shared-key"),
    )
    .await;
    assert_error(
        &purchase,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_mismatch",
    );
    assert_wallet(&s, &owner, 5_000, 0, 5_000).await;
    assert!(
        list_all(&s, &owner.token, "/v1/account/purchases")
            .await
            .is_empty()
    );
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_failed_phone_purchase_refunds_the_number_and_its_initial_balance() {
    let s = TestServer::start_with(|c| c.jobs.retry_base_ms = 50).await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let p = buy_ok(
        &s,
        &key,
        AGENT,
        "cat_phone_global_001",
        json!({"countryCode": "US", "numberType": "local", "capabilities": ["sms", "voice"],
               "locality": "sandbox-fail-town", "initialBalanceUsd": 10}),
    )
    .await;
    assert_eq!(p["totalPriceMinor"], 1250);
    let done = wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_wallet(&s, &owner, 10_000, 0, 10_000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn a_flaky_provider_with_three_servers_completes_all_three_charging_once() {
    let s = TestServer::start_with(|c| c.jobs.retry_base_ms = 50).await;
    let (owner, _, key) = funded_agent(&s, 10_000).await;
    let q = quote_n(
        &s,
        &key,
        AGENT,
        "cat_vps_micro",
        3,
        vps("sandbox-flaky-fleet", false),
    )
    .await;
    let p = buy_quote(&s, &key, AGENT, q["id"].as_str().unwrap()).await;
    let done = wait_for_purchase(&s, &key, AGENT, p["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["serviceIds"].as_array().unwrap().len(), 3);
    assert_eq!(
        list_all(&s, &key, "/v1/agent/services?status=active")
            .await
            .len(),
        3
    );
    assert_wallet(&s, &owner, 4_000, 0, 4_000).await;
    assert_books_balance(s.app()).await;
    s.stop().await;
}
