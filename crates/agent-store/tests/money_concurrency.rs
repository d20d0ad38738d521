//! Money under concurrency: duplicate retries, bursts against limits and a small wallet, and several
//! server processes sharing one PostgreSQL database. Exact figures are asserted, then the books.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::collections::BTreeMap;

use common::{Owner, TestServer, assert_books_balance, fund};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 500 GB of object storage: 1000 cents.
fn storage_purchase(key: &str) -> Value {
    json!({"catalogItemId": "cat_storage_object_001", "quantity": 1,
           "configuration": {"region": "us-east", "storageClass": "object", "capacityGb": 500}, "idempotencyKey": key})
}

async fn count_purchases(s: &TestServer, owner: &Owner) -> usize {
    let mut count = 0;
    let mut cursor = String::new();
    loop {
        let page = s
            .get(
                &format!("/v1/account/purchases?limit=100&cursor={cursor}"),
                &owner.token,
            )
            .await;
        count += page.body["items"].as_array().unwrap().len();
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return count,
        }
    }
}

async fn wallet(s: &TestServer, owner: &Owner) -> Value {
    s.get("/v1/account/wallet", &owner.token).await.body["wallet"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_identical_concurrent_purchases_make_one_purchase_and_one_debit() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 10_000).await;
    let (_, key) = s.agent(&owner, "bot").await;
    let (item, configuration, total) = common::reference_quotes().remove(1);
    let quote = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": item, "configuration": configuration}),
        )
        .await;
    let quote_id = quote.body["quote"]["id"].as_str().unwrap().to_owned();
    let url = format!("{}/v1/agent/purchases", s.base);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (client, url, key, quote_id) =
            (s.client.clone(), url.clone(), key.clone(), quote_id.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"quoteId": quote_id, "idempotencyKey": "once"}))
                .send()
                .await
                .unwrap();
            let replayed = r.headers().contains_key("idempotent-replayed");
            (r.status(), replayed, r.text().await.unwrap())
        }));
    }
    let mut bodies = BTreeMap::new();
    let mut fresh = 0;
    for task in tasks {
        let (status, replayed, body) = task.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        fresh += usize::from(!replayed);
        *bodies.entry(body).or_insert(0) += 1;
    }
    assert_eq!(
        fresh, 1,
        "exactly one request did the work; the others replayed it"
    );
    assert_eq!(bodies.len(), 1, "every response is byte-identical");
    assert_eq!(count_purchases(&s, &owner).await, 1);
    assert_eq!(wallet(&s, &owner).await["availableMinor"], 10_000 - total);
    assert_books_balance(s.app()).await;
    s.stop().await;
}

/// Fire `n` concurrent storage purchases for `key`, returning the count of each status code.
async fn burst(s: &TestServer, key: &str, n: usize, tag: &str) -> BTreeMap<u16, usize> {
    let url = format!("{}/v1/agent/purchases", s.base);
    let mut tasks = Vec::new();
    for i in 0..n {
        let (client, url, key) = (s.client.clone(), url.clone(), key.to_owned());
        let body = storage_purchase(&format!("{tag}-{i}"));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut counts = BTreeMap::new();
    for task in tasks {
        *counts.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_purchases_never_pass_the_daily_limit_or_overdraw_the_wallet() {
    let s = TestServer::start().await;
    // Account A: plenty of money, a daily limit of 60 purchases' worth.
    let limited = s.owner().await;
    fund(&s, &limited, 100_000).await;
    let put = s
        .send(
            s.client
                .put(format!("{}/v1/account/policy", s.base))
                .bearer_auth(&limited.token)
                .json(&json!({"dailySpendLimitMinor": 60_000})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let (_, limited_key) = s.agent(&limited, "limited").await;
    // Account B: no limit, money for 25 purchases.
    let poor = s.owner().await;
    fund(&s, &poor, 25_000).await;
    let (_, poor_key) = s.agent(&poor, "poor").await;

    let (a, b) = tokio::join!(
        burst(&s, &limited_key, 200, "a"),
        burst(&s, &poor_key, 200, "b")
    );
    assert_eq!(
        a,
        BTreeMap::from([(201, 60), (403, 140)]),
        "the daily limit admits exactly 60"
    );
    assert_eq!(
        b,
        BTreeMap::from([(201, 25), (402, 175)]),
        "the wallet pays for exactly 25"
    );
    assert_eq!(wallet(&s, &limited).await["availableMinor"], 40_000);
    assert_eq!(wallet(&s, &poor).await["availableMinor"], 0);
    assert_eq!(count_purchases(&s, &limited).await, 60);
    assert_eq!(count_purchases(&s, &poor).await, 25);
    let usage = s.get("/v1/agent/policies/effective", &limited_key).await;
    assert_eq!(usage.body["usage"]["spentTodayMinor"], 60_000);
    assert_eq!(usage.body["usage"]["remainingTodayMinor"], 0);
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_sharing_postgres_keep_limits_balances_and_keys_exact() {
    let Some(server_url) = agent_store_store::test_support::postgres_url() else {
        eprintln!("skipped: needs AGENT_STORE_TEST_POSTGRES_URL (CI runs it)");
        return;
    };
    let database = agent_store_store::test_support::fresh_postgres_database(&server_url)
        .await
        .unwrap();
    let shared = |c: &mut agent_store_app::Config| {
        c.database_url = Some(database.clone());
        c.server_secret = Some(
            "a-shared-server-secret-for-both-processes"
                .to_owned()
                .into(),
        );
    };
    let one = TestServer::start_with(shared).await;
    let two = TestServer::start_with(shared).await;
    let owner = one.owner().await;
    fund(&one, &owner, 100_000).await;
    let put = two
        .send(
            two.client
                .put(format!("{}/v1/account/policy", two.base))
                .bearer_auth(&owner.token)
                .json(&json!({"dailySpendLimitMinor": 30_000})),
        )
        .await;
    assert_eq!(
        put.status,
        StatusCode::OK,
        "a token minted through one server works on the other: {}",
        put.text
    );
    let (agent_id, key) = one.agent(&owner, "bot").await;

    // 100 purchases on each server at once, against one limit of 30.
    let (a, b) = tokio::join!(burst(&one, &key, 100, "one"), burst(&two, &key, 100, "two"));
    assert_eq!(
        a.get(&201).copied().unwrap_or(0) + b.get(&201).copied().unwrap_or(0),
        30
    );
    assert_eq!(
        a.get(&403).copied().unwrap_or(0) + b.get(&403).copied().unwrap_or(0),
        170
    );
    assert_eq!(wallet(&two, &owner).await["availableMinor"], 70_000);

    // The same idempotency key sent to both servers at once buys once.
    let put = one
        .send(
            one.client
                .put(format!("{}/v1/account/policy", one.base))
                .bearer_auth(&owner.token)
                .json(&json!({})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let server = if i % 2 == 0 { &one } else { &two };
        let (client, url, key) = (
            server.client.clone(),
            format!("{}/v1/agent/purchases", server.base),
            key.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(&storage_purchase("shared-key"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }));
    }
    let mut bodies = std::collections::BTreeSet::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 201, "{body}");
        bodies.insert(body);
    }
    assert_eq!(bodies.len(), 1);
    assert_eq!(wallet(&one, &owner).await["availableMinor"], 69_000);

    // A key revoked through one server is refused by the other on the next request.
    let key_id = key
        .strip_prefix("ask_live_")
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    assert_eq!(
        two.get("/v1/agent/wallet", &key).await.status,
        StatusCode::OK
    );
    let revoked = one
        .delete(
            &format!("/v1/account/agents/{agent_id}/keys/{key_id}"),
            &owner.token,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        two.get("/v1/agent/wallet", &key).await.status,
        StatusCode::UNAUTHORIZED
    );

    assert_books_balance(one.app()).await;
    one.stop().await;
    two.stop().await;
}
