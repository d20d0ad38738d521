//! Router credit leases (issue 8): requests are metered in memory against a chunk of credit the server
//! set aside in one transaction; idle leases return their credit by themselves; a lease closed under
//! a live server (a sweeper presumed it dead) never lets it spend money that is not there; and the
//! balances an agent reads count what the lease holds free.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod router_support;

use std::time::Duration;

use agent_store_app::Config;
use common::{TestServer, assert_books_balance};
use reqwest::StatusCode;
use router_support::*;
use serde_json::{Value, json};

const CREDITS: i64 = 25_000_000;
/// The cost of a `mock-ok` answer at the test prices (1 and 2 USD per million tokens).
const OK_COST: i64 = PROMPT + 2 * COMPLETION;

async fn start(adjust: impl FnOnce(&mut Config) + Send + 'static) -> (TestServer, Mock) {
    let mock = start_mock().await;
    let m = mock.clone();
    let s = TestServer::start_with(move |c| {
        configure(c, &m);
        adjust(c);
    })
    .await;
    (s, mock)
}

fn hello(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "say hello"}]})
}

async fn scalar(s: &TestServer, sql: &'static str, service_id: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(service_id)
        .fetch_one(s.app().store().pool())
        .await
        .unwrap()
}

async fn lease_top_ups(s: &TestServer, service_id: &str) -> i64 {
    scalar(
        s,
        "SELECT COUNT(*) FROM ledger_transactions WHERE service_id = $1 AND description LIKE 'Router credit lease % set aside%'",
        service_id,
    )
    .await
}

#[tokio::test]
async fn fifty_concurrent_requests_are_served_from_one_lease_and_charged_exactly() {
    let (s, _mock) = start(|_| {}).await;
    let r = router_service(&s, 25).await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let base = s.base.clone();
        let key = r.router_key.clone();
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{base}/openai/v1/chat/completions"))
                .bearer_auth(key)
                .json(&hello("m-ok"))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    // One transaction set 1 USD aside; the 50 reservations and settlements touched memory only.
    assert_eq!(lease_top_ups(&s, &r.service_id).await, 1);
    assert_eq!(
        balances(&s, &r.service_id).await,
        (CREDITS - 50 * OK_COST, 0)
    );
    assert_eq!(
        scalar(
            &s,
            "SELECT COUNT(*) FROM router_requests WHERE service_id = $1 AND outcome = 'ok'",
            &r.service_id
        )
        .await,
        50
    );
    assert_eq!(charged_total(&s, &r.service_id).await, 50 * OK_COST);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn balances_read_through_the_api_count_the_free_part_of_the_lease() {
    let (s, _mock) = start(|_| {}).await;
    let r = router_service(&s, 25).await;
    let reply = chat(&s, &r.router_key, hello("m-ok")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // The lease is still open (1 USD aside), yet the agent sees its real balance and nothing reserved.
    let service = s
        .get(
            &format!("/v1/agent/services/{}", r.service_id),
            &r.agent_key,
        )
        .await;
    let d = &service.body["service"]["details"];
    assert_eq!(d["creditBalanceMicroUsd"], CREDITS - OK_COST, "{d}");
    assert_eq!(d["creditsReservedMicroUsd"], 0, "{d}");
    assert_eq!(d["creditsUsedMicroUsd"], OK_COST, "{d}");
    let usage = s
        .get(
            &format!("/v1/agent/services/{}/router/usage", r.service_id),
            &r.agent_key,
        )
        .await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
    assert_eq!(
        usage.body["usage"]["totals"]["costMicroUsd"], OK_COST,
        "{}",
        usage.text
    );
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn an_idle_lease_returns_its_credit_to_the_balance_by_itself() {
    let (s, _mock) = start(|c| c.router.lease_idle_seconds = 1).await;
    let r = router_service(&s, 25).await;
    let reply = chat(&s, &r.router_key, hello("m-ok")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let pool = s.app().store().pool();
    let reserved_account = format!("reserved:{}", r.service_id);
    assert!(
        agent_store_store::ledger::balance(pool, &reserved_account)
            .await
            .unwrap()
            > 0,
        "the lease holds credit right after the request"
    );
    let mut reserved = -1;
    for _ in 0..100 {
        reserved = agent_store_store::ledger::balance(pool, &reserved_account)
            .await
            .unwrap();
        if reserved == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reserved, 0, "the idle lease was returned without help");
    let service = agent_store_store::ledger::balance(pool, &format!("service:{}", r.service_id))
        .await
        .unwrap();
    assert_eq!(service, CREDITS - OK_COST);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn a_lease_closed_by_a_sweeper_under_a_live_server_is_charged_from_the_balance_instead() {
    let (s, _mock) = start(|_| {}).await;
    let r = router_service(&s, 25).await;
    let reply = chat(&s, &r.router_key, hello("m-ok")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    s.app().flush_router_usage().await.unwrap();
    // Another process's sweeper presumes this server dead and returns its lease to the balance.
    sqlx::query("UPDATE router_leases SET heartbeat_at = 0 WHERE service_id = $1")
        .bind(&r.service_id)
        .execute(s.app().store().pool())
        .await
        .unwrap();
    s.app().run_due_work(&mut 0).await.unwrap();
    assert_eq!(
        scalar(
            &s,
            "SELECT COUNT(*) FROM router_leases WHERE service_id = $1 AND status = 'open'",
            &r.service_id
        )
        .await,
        0
    );
    // The server still believes in its lease: the next request is served from memory, and its cost
    // is charged from the balance at the flush, which also makes the server drop the lease.
    let reply = chat(&s, &r.router_key, hello("m-ok")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    s.app().flush_router_usage().await.unwrap();
    // Later requests run on a new lease.
    for _ in 0..3 {
        let reply = chat(&s, &r.router_key, hello("m-ok")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    assert_eq!(
        balances(&s, &r.service_id).await,
        (CREDITS - 5 * OK_COST, 0)
    );
    assert_eq!(lease_top_ups(&s, &r.service_id).await, 2);
    assert_eq!(charged_total(&s, &r.service_id).await, 5 * OK_COST);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn with_a_zero_chunk_each_request_sets_aside_only_what_it_lacks_and_refusals_stay_exact() {
    let (s, _mock) = start(|c| c.router.lease_chunk_micro = 0).await;
    let r = router_service(&s, 5).await;
    for _ in 0..3 {
        let reply = chat(&s, &r.router_key, hello("m-ok")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    // Nothing beyond a worst case is ever held: a request that does not fit the whole balance is
    // refused, naming exactly what the service has.
    let refused = chat(&s, &r.router_key, hello("m-pricey")).await;
    assert_eq!(
        refused.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        refused.text
    );
    let message = refused.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("the service has {}", 5_000_000 - 3 * OK_COST)),
        "{message}"
    );
    assert_eq!(
        balances(&s, &r.service_id).await,
        (5_000_000 - 3 * OK_COST, 0)
    );
    assert_books_balance(s.app()).await;
}
