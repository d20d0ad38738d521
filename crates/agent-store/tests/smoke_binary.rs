//! Smoke test of the compiled `agent-store` binary: admin commands, `serve` on a free port, a real
//! request with the minted key, `serve --demo` and its demo.json, and a graceful stop on SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::time::Duration;

use common::process::{run, spawn_server, stop};
use serde_json::Value;

#[tokio::test]
async fn the_binary_serves_keys_minted_by_its_own_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    assert_eq!(run(data, &["migrate"])["migrated"], true);
    let account = run(
        data,
        &[
            "account",
            "create",
            "--email",
            "ops@example.com",
            "--password",
            "s3cret-passw0rd",
        ],
    );
    assert!(
        account["account"]["id"]
            .as_str()
            .unwrap()
            .starts_with("acct_")
    );
    let agent = run(
        data,
        &[
            "agent",
            "create",
            "--account",
            "ops@example.com",
            "--name",
            "deployer",
        ],
    );
    let agent_id = agent["agent"]["id"].as_str().unwrap().to_owned();
    let key = run(
        data,
        &[
            "key",
            "create",
            "--account",
            "ops@example.com",
            "--agent",
            &agent_id,
            "--label",
            "smoke",
        ],
    );
    let key = key["apiKey"]["key"].as_str().unwrap().to_owned();
    let token = run(data, &["token", "create", "--account", "ops@example.com"]);
    let token = token["accountToken"]["token"].as_str().unwrap().to_owned();

    let (child, base) = spawn_server(data, &[]);
    let client = reqwest::Client::new();
    let categories: Value = client
        .get(format!("{base}/v1/agent/catalog/categories"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(categories["categories"].as_array().unwrap().len(), 5);
    let quote = client
        .post(format!("{base}/v1/agent/quotes"))
        .bearer_auth(&key)
        .json(
            &serde_json::json!({"catalogItemId": "cat_storage_object_001", "quantity": 1,
            "configuration": {"region": "us-east", "storageClass": "object", "capacityGb": 250}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(quote.status(), 201);
    assert_eq!(
        quote.json::<Value>().await.unwrap()["quote"]["totalPriceMinor"],
        500
    );
    let me = client
        .get(format!("{base}/v1/account"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    stop(child);
}

#[tokio::test]
async fn serve_demo_seeds_once_and_reuses_its_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (child, base) = spawn_server(data, &["--demo"]);
    // demo.json is written right after the listener is up.
    let path = data.join("demo.json");
    for _ in 0..100 {
        if path.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(100));
    let demo: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    for field in [
        "apiBaseUrl",
        "mcpUrl",
        "openaiBaseUrl",
        "dashboardUrl",
        "agentId",
        "agentApiKey",
        "accountToken",
        "email",
        "password",
    ] {
        assert!(
            demo[field].as_str().is_some_and(|v| !v.is_empty()),
            "demo.json lacks {field}"
        );
    }
    assert_eq!(demo["apiBaseUrl"], format!("{base}/v1/agent"));
    let key = demo["agentApiKey"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let reply = client
        .get(format!("{base}/v1/agent/catalog/categories"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    stop(child);

    let (child, base) = spawn_server(data, &["--demo"]);
    std::thread::sleep(Duration::from_millis(300));
    let again: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        again["agentApiKey"], demo["agentApiKey"],
        "later starts reuse the seeded credentials"
    );
    let reply = client
        .get(format!("{base}/v1/agent/catalog/categories"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    stop(child);
}

#[test]
fn a_bad_catalog_file_or_unknown_config_key_stops_the_binary_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.json");
    std::fs::write(&catalog, r#"{"formatVersion": 1, "items": []}"#).unwrap();
    let output = std::process::Command::new(common::process::BIN)
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .env("AGENT_STORE_CATALOG_FILE", &catalog)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("catalog"), "{stderr}");

    let config = dir.path().join("config.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nserver_secret = \"do-not-print-this-secret-value-123\"\nlisen = 1\n").unwrap();
    let output = std::process::Command::new(common::process::BIN)
        .args(["migrate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("lisen"),
        "the unknown key is named: {stderr}"
    );
    assert!(
        !stderr.contains("do-not-print-this-secret-value-123"),
        "secrets are never printed: {stderr}"
    );
}
