//! 200 concurrent chat completions (half streamed, some slow) against credits that cover only some of
//! their worst cases at once: the balance never goes below zero and, once all are settled,
//! `purchased = balance + sum(charged)` exactly. Runs on PostgreSQL when
//! AGENT_STORE_TEST_POSTGRES_URL is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod router_support;

use common::{TestServer, assert_books_balance};
use reqwest::StatusCode;
use router_support::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_hundred_concurrent_requests_never_overdraw_and_the_books_balance_exactly() {
    let mock = start_mock().await;
    let m = mock.clone();
    let s = TestServer::start_with(move |c| {
        configure(c, &m);
        c.database.max_connections = 32;
    })
    .await;
    let r = router_service(&s, 5).await;
    let purchased = 5_000_000;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = s.client.clone();
        let url = format!("{}/openai/v1/chat/completions", s.base);
        let key = r.router_key.clone();
        let model = if i % 4 == 2 { "m-mid-slow" } else { "m-mid" };
        let body = json!({"model": model, "stream": i % 2 == 0,
                          "messages": [{"role": "user", "content": format!("request {i}")}]});
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            (status, text)
        }));
    }
    // Watch the balance while the burst runs: it never goes below zero.
    let watcher = {
        let pool = s.app().store().pool().clone();
        let service = format!("service:{}", r.service_id);
        tokio::spawn(async move {
            let mut lowest = i64::MAX;
            for _ in 0..100 {
                let b = agent_store_store::ledger::balance(&pool, &service)
                    .await
                    .unwrap();
                lowest = lowest.min(b);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            lowest
        })
    };
    let mut ok = 0;
    let mut refused = 0;
    for task in tasks {
        let (status, text) = task.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::PAYMENT_REQUIRED => {
                assert!(text.contains("insufficient_credits"), "{text}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {text}"),
        }
    }
    assert_eq!(ok + refused, 200);
    assert!(ok > 0, "some requests fit");
    assert!(
        refused > 0,
        "the credits cover only some worst cases at once"
    );
    assert!(watcher.await.unwrap() >= 0);
    wait_settled(&s, &r.service_id).await;
    let (balance, reserved) = balances(&s, &r.service_id).await;
    assert_eq!(reserved, 0);
    assert!(balance >= 0);
    let charged = charged_total(&s, &r.service_id).await;
    assert_eq!(purchased, balance + charged);
    let logged: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(cost_micro), 0) AS BIGINT) FROM router_requests WHERE service_id = $1",
    )
    .bind(&r.service_id)
    .fetch_one(s.app().store().pool())
    .await
    .unwrap();
    assert_eq!(logged, charged);
    let requests: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM router_requests WHERE service_id = $1")
            .bind(&r.service_id)
            .fetch_one(s.app().store().pool())
            .await
            .unwrap();
    assert_eq!(requests, 200);
    // Every successful answer was charged exactly 10 + 20 * 100 (m-mid) or 10 + 40 * 100 (slow).
    assert!(charged >= i64::from(ok) * 2010);
    assert_books_balance(s.app()).await;
}
