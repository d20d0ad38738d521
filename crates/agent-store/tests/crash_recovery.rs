//! Crash recovery of the compiled binary: a provisioning job interrupted by SIGKILL completes after a
//! restart, with exactly one service and the provider's idempotent result, and the books balance.
//! Runs on SQLite, and on PostgreSQL when AGENT_STORE_TEST_POSTGRES_URL is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

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
