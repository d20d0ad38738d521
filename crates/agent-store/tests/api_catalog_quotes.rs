//! Catalog browsing and quotes over HTTP, including the reference configurations of SPEC section 14.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::{TestServer, assert_error, error_fields, reference_quotes};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn ids(reply: &common::Reply) -> Vec<String> {
    reply.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn categories_search_and_checkout_requirements_follow_the_reference_flows() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "bot").await;
    let categories = s.get("/v1/agent/catalog/categories", &key).await;
    let names: Vec<&str> = categories.body["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["domains", "compute", "storage", "telephony", "api_tokens"]
    );
    assert_eq!(categories.body["categories"][0]["itemCount"], 4);

    let vps = s
        .get(
            "/v1/agent/catalog/items?category=compute&q=vps&limit=3",
            &key,
        )
        .await;
    assert_eq!(
        ids(&vps),
        vec!["cat_vps_micro", "cat_vps_small", "cat_vps_gpu_standard"]
    );
    let first = &vps.body["items"][0];
    for field in [
        "id",
        "sku",
        "name",
        "category",
        "checkoutKind",
        "serviceType",
        "description",
        "priceFromMinor",
        "currency",
        "pricingUnit",
    ] {
        assert!(first.get(field).is_some(), "item lacks {field}");
    }
    assert_eq!(
        ids(&s
            .get(
                "/v1/agent/catalog/items?category=domains&q=com&limit=3",
                &key
            )
            .await)[0],
        "cat_domain_com"
    );
    assert_eq!(
        ids(&s
            .get(
                "/v1/agent/catalog/items?category=storage&q=object&limit=3",
                &key
            )
            .await),
        vec!["cat_storage_object_001", "cat_storage_block_001"]
    );
    assert_eq!(
        ids(&s
            .get(
                "/v1/agent/catalog/items?category=telephony&q=phone%20number&limit=3",
                &key
            )
            .await),
        vec!["cat_phone_global_001"]
    );
    assert_eq!(
        ids(&s
            .get(
                "/v1/agent/catalog/items?category=api_tokens&q=router%20credits&limit=1",
                &key
            )
            .await),
        vec!["cat_router_credit_001"]
    );

    // Paging through everything visits every item once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = s
            .get(
                &format!("/v1/agent/catalog/items?limit=4&cursor={cursor}"),
                &key,
            )
            .await;
        seen.extend(ids(&page));
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 11);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 11);
    assert_error(
        &s.get("/v1/agent/catalog/items?category=food", &key).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );

    let checkout = s
        .get("/v1/agent/catalog/items/cat_vps_micro/checkout", &key)
        .await;
    assert_eq!(checkout.status, StatusCode::OK);
    assert_eq!(
        checkout.body["requiredFields"],
        json!(["hostname", "region", "image", "billingTermMonths"])
    );
    assert_eq!(checkout.body["optionalFields"], json!(["backupsEnabled"]));
    assert_eq!(
        checkout.body["supportedImages"],
        json!(["ubuntu-24.04", "debian-12"])
    );
    assert_eq!(
        checkout.body["managementCapabilities"],
        json!(["server:restart", "server:reinstall", "server:power"])
    );
    assert_eq!(checkout.body["configurationSchema"]["type"], "object");
    assert_error(
        &s.get("/v1/agent/catalog/items/cat_nope/checkout", &key)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    s.stop().await;
}

#[tokio::test]
async fn reference_quotes_have_the_spec_totals() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (agent_id, key) = s.agent(&owner, "bot").await;
    for (item, configuration, total) in reference_quotes() {
        let reply = s
            .post(
                "/v1/agent/quotes",
                &key,
                json!({"catalogItemId": item, "quantity": 1, "configuration": configuration}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{item}: {}", reply.text);
        let quote = &reply.body["quote"];
        assert_eq!(quote["totalPriceMinor"], total, "{item}");
        assert_eq!(quote["currency"], "usd");
        assert_eq!(quote["status"], "open");
        assert_eq!(quote["agentId"], agent_id.as_str());
        assert!(quote["id"].as_str().unwrap().starts_with("quote_"));
        let lines = quote["quoteDetails"]["lines"].as_array().unwrap();
        assert_eq!(
            lines
                .iter()
                .map(|l| l["amountMinor"].as_i64().unwrap())
                .sum::<i64>(),
            total
        );
        assert!(
            !quote["managementCapabilities"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let fetched = s
            .get(
                &format!("/v1/agent/quotes/{}", quote["id"].as_str().unwrap()),
                &key,
            )
            .await;
        assert_eq!(&fetched.body["quote"], quote);
    }
    let vps = s
        .post("/v1/agent/quotes", &key, json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": reference_quotes()[1].1}))
        .await;
    assert_eq!(
        vps.body["quote"]["displayName"],
        "VPS Micro (eu-west, 1 month, backups)"
    );
    assert_eq!(
        vps.body["quote"]["quoteDetails"]["lines"],
        json!([{"description": "VPS Micro x 1 month", "amountMinor": 2000}, {"description": "Backups", "amountMinor": 400}])
    );
    assert_eq!(vps.body["quote"]["configuration"]["backupsEnabled"], true);
    s.stop().await;
}

#[tokio::test]
async fn invalid_configurations_name_every_bad_field_at_once() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "bot").await;
    let reply = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": {
                "hostname": "-bad-", "region": "mars", "image": "nvidia-ai-ubuntu", "billingTermMonths": 2, "colour": "red"}}),
        )
        .await;
    assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
    let mut fields = error_fields(&reply);
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "configuration.billingTermMonths",
            "configuration.colour",
            "configuration.hostname",
            "configuration.image",
            "configuration.region"
        ]
    );
    let quantity = s.post("/v1/agent/quotes", &key, json!({"catalogItemId": "cat_domain_com", "quantity": 2, "configuration": reference_quotes()[0].1})).await;
    assert_eq!(error_fields(&quantity), vec!["quantity"]);
    let missing = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_router_credit_001"}),
        )
        .await;
    assert_eq!(
        error_fields(&missing),
        vec!["configuration.creditAmountUsd"]
    );
    let precise = s.post("/v1/agent/quotes", &key, json!({"catalogItemId": "cat_router_credit_001", "configuration": {"creditAmountUsd": 25.001}})).await;
    assert_eq!(
        error_fields(&precise),
        vec!["configuration.creditAmountUsd"]
    );
    let unknown_item = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_pony"}),
        )
        .await;
    assert_eq!(error_fields(&unknown_item), vec!["catalogItemId"]);
    let unknown_field = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_vps_micro", "price": 1}),
        )
        .await;
    assert_eq!(error_fields(&unknown_field), vec!["price"]);
    let wrong_type = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_vps_micro", "quantity": "1"}),
        )
        .await;
    assert_eq!(error_fields(&wrong_type), vec!["quantity"]);
    s.stop().await;
}

#[tokio::test]
async fn reserved_domains_are_unavailable() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "bot").await;
    let mut configuration: Value = reference_quotes()[0].1.clone();
    configuration["domainName"] = json!("google.com");
    let reply = s.post("/v1/agent/quotes", &key, json!({"catalogItemId": "cat_domain_com", "quantity": 1, "configuration": configuration})).await;
    let err = assert_error(&reply, StatusCode::CONFLICT, "domain_unavailable");
    assert_eq!(err["details"]["domainName"], "google.com");
    s.stop().await;
}

#[tokio::test]
async fn one_agent_cannot_read_another_agents_quote() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (_, alice) = s.agent(&owner, "alice").await;
    let (_, bob) = s.agent(&owner, "bob").await;
    let stranger = s.owner().await;
    let (_, eve) = s.agent(&stranger, "eve").await;
    let (item, configuration, _) = reference_quotes().remove(1);
    let quote = s
        .post(
            "/v1/agent/quotes",
            &alice,
            json!({"catalogItemId": item, "configuration": configuration}),
        )
        .await;
    let id = quote.body["quote"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/agent/quotes/{id}");
    assert_eq!(s.get(&path, &alice).await.status, StatusCode::OK);
    assert_error(
        &s.get(&path, &bob).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.get(&path, &eve).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // The owning account sees every agent's quotes; another account does not.
    assert_eq!(
        s.get(&format!("/v1/account/quotes/{id}"), &owner.token)
            .await
            .status,
        StatusCode::OK
    );
    assert_error(
        &s.get(&format!("/v1/account/quotes/{id}"), &stranger.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    s.stop().await;
}

#[tokio::test]
async fn quotes_expire_after_their_time_to_live() {
    let s = TestServer::start_with(|c| c.quotes.ttl_seconds = 1).await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "bot").await;
    let (item, configuration, _) = reference_quotes().remove(2);
    let quote = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": item, "configuration": configuration}),
        )
        .await;
    assert_eq!(quote.body["quote"]["status"], "open");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let later = s
        .get(
            &format!(
                "/v1/agent/quotes/{}",
                quote.body["quote"]["id"].as_str().unwrap()
            ),
            &key,
        )
        .await;
    assert_eq!(later.body["quote"]["status"], "expired");
    s.stop().await;
}

#[tokio::test]
async fn the_account_can_quote_as_itself() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (item, configuration, total) = reference_quotes().remove(4);
    let quote = s
        .post(
            "/v1/account/quotes",
            &owner.token,
            json!({"catalogItemId": item, "quantity": 1, "configuration": configuration}),
        )
        .await;
    assert_eq!(quote.status, StatusCode::CREATED, "{}", quote.text);
    assert_eq!(quote.body["quote"]["totalPriceMinor"], total);
    assert!(quote.body["quote"]["agentId"].is_null());
    s.stop().await;
}

#[tokio::test]
async fn a_domain_bought_through_the_store_is_unavailable_to_everyone_after() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    common::fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "bot").await;
    let (item, configuration, _) = reference_quotes().remove(0);
    let bought = s
        .post(
            "/v1/agent/purchases",
            &key,
            json!({"catalogItemId": item, "configuration": configuration, "idempotencyKey": "d1"}),
        )
        .await;
    assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.text);
    let stranger = s.owner().await;
    let (_, other) = s.agent(&stranger, "other").await;
    let again = s
        .post(
            "/v1/agent/quotes",
            &other,
            json!({"catalogItemId": item, "configuration": configuration}),
        )
        .await;
    let err = assert_error(&again, StatusCode::CONFLICT, "domain_unavailable");
    assert_eq!(err["details"]["domainName"], "launchpad.com");
    common::assert_books_balance(s.app()).await;
    s.stop().await;
}
