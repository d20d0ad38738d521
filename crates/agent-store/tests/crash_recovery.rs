//! Crash recovery of the compiled binary: a provisioning job interrupted by SIGKILL completes after a
//! restart, with exactly one service and the provider's idempotent result; a router reservation left
//! by a SIGKILL mid-stream is released by the sweeper after the restart; the books balance.
//! Runs on SQLite, and on PostgreSQL when AGENT_STORE_TEST_POSTGRES_URL is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod router_support;

use std::time::Duration;

use agent_store_store::{Store, StoreOptions};
use common::process::{kill_hard, spawn_server_with_env, stop};
use serde_json::{Value, json};
use sqlx::Row;

async fn get(client: &reqwest::Client, url: &str, key: &str) -> Value {
    client
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioning_job_killed_mid_call_completes_after_restart_without_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let url = agent_store_store::test_support::fresh_database_url(data)
        .await
        .unwrap();
    let database = ["--database-url", url.as_str()];
    // The provider takes 4 s, so the kill lands while the job is claimed and the call is in flight.
    let slow = [
        ("AGENT_STORE_SANDBOX__PROVISIONING_DELAY_MS", "4000"),
        ("AGENT_STORE_JOBS__LEASE_SECONDS", "1"),
        ("AGENT_STORE_JOBS__POLL_INTERVAL_MS", "100"),
    ];
    let (child, base) =
        spawn_server_with_env(data, &[&["--demo"][..], &database[..]].concat(), &slow);
    let demo: Value = loop {
        if let Ok(text) = std::fs::read_to_string(data.join("demo.json"))
            && let Ok(v) = serde_json::from_str(&text)
        {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let key = demo["agentApiKey"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let (item, configuration, total) = common::reference_quotes().remove(1);
    let created: Value = client
        .post(format!("{base}/v1/agent/purchases"))
        .bearer_auth(&key)
        .json(&json!({"catalogItemId": item, "configuration": configuration, "idempotencyKey": "crash-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let purchase_id = created["purchase"]["id"].as_str().unwrap().to_owned();
    let service_id = created["purchase"]["serviceId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["purchase"]["status"], "provisioning");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    kill_hard(child);

    // Restart with an instant provider; the expired lease lets the new worker take the job over.
    let fast = [
        ("AGENT_STORE_JOBS__LEASE_SECONDS", "1"),
        ("AGENT_STORE_JOBS__POLL_INTERVAL_MS", "100"),
    ];
    let (child, base) =
        spawn_server_with_env(data, &[&["--demo"][..], &database[..]].concat(), &fast);
    let mut purchase = Value::Null;
    for _ in 0..150 {
        purchase = get(
            &client,
            &format!("{base}/v1/agent/purchases/{purchase_id}"),
            &key,
        )
        .await["purchase"]
            .clone();
        if purchase["status"] != "provisioning" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(purchase["status"], "completed", "{purchase}");
    let service = get(
        &client,
        &format!("{base}/v1/agent/services/{service_id}"),
        &key,
    )
    .await["service"]
        .clone();
    assert_eq!(service["status"], "active");
    assert!(service["details"]["ipv4"].is_string(), "{service}");
    let replay = client
        .post(format!("{base}/v1/agent/purchases"))
        .bearer_auth(&key)
        .json(&json!({"catalogItemId": item, "configuration": configuration, "idempotencyKey": "crash-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay.headers()["idempotent-replayed"],
        "true",
        "the key survived the crash"
    );
    let wallet = get(&client, &format!("{base}/v1/agent/wallet"), &key).await;
    assert_eq!(wallet["wallet"]["availableMinor"], 10_000 - total);
    stop(child);

    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    let services = sqlx::query("SELECT id, provider_ref FROM services WHERE purchase_id = $1")
        .bind(&purchase_id)
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(services.len(), 1, "exactly one service");
    let provider_ref: String = services[0].try_get(1).unwrap();
    assert!(provider_ref.starts_with("sandbox_srv_"), "{provider_ref}");
    let job = sqlx::query("SELECT status, attempts FROM jobs WHERE subject_id = $1")
        .bind(&service_id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(job.try_get::<String, _>(0).unwrap(), "done");
    assert_eq!(
        job.try_get::<i64, _>(1).unwrap(),
        2,
        "claimed once before the crash and once after"
    );
    let problems = agent_store_store::invariants::check(store.pool())
        .await
        .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    store.close().await;
}

/// Wait (bounded) for the purchase to leave `provisioning`; returns it.
async fn settled_purchase(client: &reqwest::Client, base: &str, key: &str, id: &str) -> Value {
    for _ in 0..150 {
        let purchase =
            get(client, &format!("{base}/v1/agent/purchases/{id}"), key).await["purchase"].clone();
        if purchase["status"] != "provisioning" {
            return purchase;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("purchase {id} still provisioning after 15 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_credit_lease_left_by_a_killed_server_is_returned_by_the_sweeper_after_restart() {
    let mock = router_support::start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let url = agent_store_store::test_support::fresh_database_url(data)
        .await
        .unwrap();
    // A model whose upstream sends one chunk and then hangs, and a sweeper that treats leases whose
    // process has not shown life for 1 s as left by a crash.
    let config = data.join("router.toml");
    std::fs::write(
        &config,
        format!(
            r#"[router]
sweep_after_seconds = 1
lease_stale_seconds = 1
[[router.upstreams]]
name = "mock"
base_url = "{}"
[[router.upstreams.models]]
id = "m-hang"
upstream_model = "mock-hang"
input_price_micro_per_million = 1000000
output_price_micro_per_million = 2000000
context_tokens = 100000
max_output_tokens = 1000
"#,
            mock.base_url
        ),
    )
    .unwrap();
    let args = [
        "--demo",
        "--database-url",
        url.as_str(),
        "--config",
        config.to_str().unwrap(),
    ];
    let env = [("AGENT_STORE_JOBS__POLL_INTERVAL_MS", "100")];
    let (child, base) = spawn_server_with_env(data, &args, &env);
    let demo: Value = loop {
        if let Ok(text) = std::fs::read_to_string(data.join("demo.json"))
            && let Ok(v) = serde_json::from_str(&text)
        {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let key = demo["agentApiKey"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/v1/agent/purchases"))
        .bearer_auth(&key)
        .json(
            &json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
                      "configuration": {"creditAmountUsd": 5}, "idempotencyKey": "credits-1"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let purchase_id = created["purchase"]["id"].as_str().unwrap().to_owned();
    let purchase = settled_purchase(&client, &base, &key, &purchase_id).await;
    assert_eq!(purchase["status"], "completed", "{purchase}");
    let service_id = purchase["serviceId"].as_str().unwrap().to_owned();
    let minted: Value = client
        .post(format!(
            "{base}/v1/agent/services/{service_id}/router/api-keys"
        ))
        .bearer_auth(&key)
        .json(&json!({"label": "crash"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let router_key = minted["routerApiKey"]["key"].as_str().unwrap().to_owned();

    // A stream is in flight (its first chunk arrived) when the server is killed.
    let response = client
        .post(format!("{base}/openai/v1/chat/completions"))
        .bearer_auth(&router_key)
        .json(&json!({"model": "m-hang", "stream": true,
                      "messages": [{"role": "user", "content": "never finishes"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let mut body = response.bytes_stream();
    let first = futures_util::StreamExt::next(&mut body).await;
    assert!(matches!(first, Some(Ok(_))), "the first chunk arrives");
    let service = get(
        &client,
        &format!("{base}/v1/agent/services/{service_id}"),
        &key,
    )
    .await;
    let reserved = service["service"]["details"]["creditsReservedMicroUsd"]
        .as_i64()
        .unwrap();
    assert!(reserved > 0, "the request holds a reservation: {service}");
    kill_hard(child);
    drop(body);

    let (child, base) = spawn_server_with_env(data, &args, &env);
    let mut details = Value::Null;
    for _ in 0..150 {
        details = get(
            &client,
            &format!("{base}/v1/agent/services/{service_id}"),
            &key,
        )
        .await["service"]["details"]
            .clone();
        if details["creditsReservedMicroUsd"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(details["creditsReservedMicroUsd"], 0, "{details}");
    assert_eq!(
        details["creditBalanceMicroUsd"], 5_000_000,
        "nothing charged: {details}"
    );
    stop(child);

    let store = Store::connect(&url, &StoreOptions::default())
        .await
        .unwrap();
    // The killed process's lease was closed by the sweeper and its whole amount returned; the request
    // it was serving was never written (usage is recorded when a request finishes), so nothing was
    // charged for it.
    let leases: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, amount_micro FROM router_leases WHERE service_id = $1")
            .bind(&service_id)
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert!(!leases.is_empty(), "the request ran on a lease");
    assert!(
        leases
            .iter()
            .all(|(status, amount)| status == "closed" && *amount == 0),
        "{leases:?}"
    );
    let swept: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM ledger_transactions WHERE service_id = $1 AND description LIKE '%swept%'",
    )
    .bind(&service_id)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(swept, 1, "one sweep returned the lease");
    let problems = agent_store_store::invariants::check(store.pool())
        .await
        .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    store.close().await;
}
