//! Authentication, keys, tokens, agents and the HTTP conventions (errors, request ids, limits).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use common::{TestServer, assert_error, error_fields};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn every_kind_of_bad_credential_is_401_without_detail() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (agent_id, key) = s.agent(&owner, "bot").await;
    let path = "/v1/agent/catalog/categories";
    assert_eq!(s.get(path, &key).await.status, StatusCode::OK);

    // No credential at all.
    let none = s.send(s.client.get(format!("{}{path}", s.base))).await;
    let err = assert_error(&none, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(none.headers.get("www-authenticate").is_some());
    let generic_message = err["message"].clone();

    // Malformed, wrong secret, another kind of credential.
    let (prefix, secret) = key.rsplit_once('.').unwrap();
    let wrong_secret = format!("{prefix}.{}", "A".repeat(secret.len()));
    let mut bad = vec![
        "garbage".to_owned(),
        format!("{key}x"),
        wrong_secret.clone(),
        owner.token.clone(),
    ];

    // Revoked.
    let (_, revoked) = s.agent(&owner, "revoked").await;
    let keys = s
        .get(&format!("/v1/account/agents/{agent_id}/keys"), &owner.token)
        .await;
    assert!(
        keys.body["items"][0].get("key").is_none(),
        "listings never show the key: {}",
        keys.text
    );
    let revoked_id = revoked
        .strip_prefix("ask_live_")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let revoked_agent = s.get("/v1/account/agents", &owner.token).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = s
        .delete(
            &format!("/v1/account/agents/{revoked_agent}/keys/{revoked_id}"),
            &owner.token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["apiKey"]["revokedAt"].is_string());
    bad.push(revoked);

    // Expired.
    let expiring = s
        .post(
            &format!("/v1/account/agents/{agent_id}/keys"),
            &owner.token,
            json!({"label": "short", "expiresAt": agent_store_core::time::format_rfc3339(agent_store_core::time::now_ms() + 1_500)}),
        )
        .await;
    assert_eq!(expiring.status, StatusCode::CREATED, "{}", expiring.text);
    let expiring_key = expiring.body["apiKey"]["key"].as_str().unwrap().to_owned();
    assert_eq!(s.get(path, &expiring_key).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1_700)).await;
    bad.push(expiring_key);

    for credential in &bad {
        let reply = s.get(path, credential).await;
        let err = assert_error(&reply, StatusCode::UNAUTHORIZED, "unauthenticated");
        assert_eq!(
            err["message"], generic_message,
            "every failure reads the same"
        );
        assert!(
            !reply.text.contains(credential.as_str()),
            "the credential is never echoed"
        );
    }

    // Suspended agent: its keys stop at once; resuming restores them.
    let suspended = s
        .post(
            &format!("/v1/account/agents/{agent_id}/suspend"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(suspended.body["agent"]["status"], "suspended");
    assert_error(
        &s.get(path, &key).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let resumed = s
        .post(
            &format!("/v1/account/agents/{agent_id}/resume"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(resumed.body["agent"]["status"], "active");
    assert_eq!(s.get(path, &key).await.status, StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn agent_keys_and_account_tokens_only_open_their_own_api() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "bot").await;
    assert_error(
        &s.get("/v1/account", &key).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_error(
        &s.get("/v1/agent/catalog/categories", &owner.token).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let me = s.get("/v1/account", &owner.token).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["account"]["email"], owner.email.as_str());
    assert!(me.body["account"].get("passwordHash").is_none());
    s.stop().await;
}

#[tokio::test]
async fn secrets_are_stored_only_as_keyed_hashes() {
    let s = TestServer::start_with(|c| c.database_url = None).await; // always SQLite: the test reads the file
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "bot").await;
    let key_secret = key.rsplit_once('.').unwrap().1.to_owned();
    let token_secret = owner.token.rsplit_once('.').unwrap().1.to_owned();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, secret_hash FROM credentials")
        .fetch_all(s.app().store().pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for (id, hash) in &rows {
        assert_eq!(hash.len(), 64, "an HMAC-SHA256 in hex");
        assert!(!hash.contains(&key_secret) && !hash.contains(&token_secret));
        assert!(key.contains(id.as_str()) || owner.token.contains(id.as_str()));
    }
    s.stop().await;
}

#[tokio::test]
async fn the_database_files_never_contain_a_plaintext_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_path_buf();
    let s = TestServer::start_with(|c| {
        c.database_url = None;
        c.data_dir = data_dir.clone();
    })
    .await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "bot").await;
    assert_eq!(
        s.get("/v1/agent/catalog/categories", &key).await.status,
        StatusCode::OK
    );
    s.stop().await;
    let secrets = [
        key.rsplit_once('.').unwrap().1.to_owned(),
        owner.token.rsplit_once('.').unwrap().1.to_owned(),
    ];
    let mut scanned = 0;
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "server-secret") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        scanned += 1;
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds a secret",
                path.display()
            );
        }
    }
    assert!(scanned >= 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data_dir.join("server-secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn each_key_is_rate_limited_on_its_own() {
    let s = TestServer::start_with(|c| {
        c.limits.rate_limit_per_second = 1;
        c.limits.rate_limit_burst = 5;
    })
    .await;
    let owner = s.owner().await;
    let (_, first) = s.agent(&owner, "a").await;
    let (_, second) = s.agent(&owner, "b").await;
    let path = "/v1/agent/catalog/categories";
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(s.get(path, &first).await);
    }
    let limited: Vec<_> = statuses
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        limited.len() >= 2,
        "burst of 5 then refusals: {:?}",
        statuses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let err = assert_error(limited[0], StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    assert!(err["message"].is_string());
    let retry_after: u64 = limited[0].headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(
        s.get(path, &second).await.status,
        StatusCode::OK,
        "another key has its own bucket"
    );
    s.stop().await;
}

#[tokio::test]
async fn agents_can_be_created_listed_renamed_and_are_private_to_their_account() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let other = s.owner().await;
    let (agent_id, _) = s.agent(&owner, "research-bot").await;
    let listed = s.get("/v1/account/agents?limit=10", &owner.token).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed.body["nextCursor"], serde_json::Value::Null);
    let renamed = s
        .patch(
            &format!("/v1/account/agents/{agent_id}"),
            &owner.token,
            json!({"name": "ops-bot"}),
        )
        .await;
    assert_eq!(renamed.body["agent"]["name"], "ops-bot");
    assert_eq!(
        s.get(&format!("/v1/account/agents/{agent_id}"), &owner.token)
            .await
            .body["agent"]["name"],
        "ops-bot"
    );
    // Another account sees nothing.
    assert_error(
        &s.get(&format!("/v1/account/agents/{agent_id}"), &other.token)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.post(
            &format!("/v1/account/agents/{agent_id}/keys"),
            &other.token,
            json!({"label": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &s.post(
            &format!("/v1/account/agents/{agent_id}/suspend"),
            &other.token,
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        s.get("/v1/account/agents", &other.token).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Validation names the field.
    let bad = s
        .post("/v1/account/agents", &owner.token, json!({"name": ""}))
        .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(error_fields(&bad), vec!["name"]);
    s.stop().await;
}

#[tokio::test]
async fn lists_page_with_a_cursor() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    for i in 0..5 {
        s.agent(&owner, &format!("bot-{i}")).await;
    }
    let first = s.get("/v1/account/agents?limit=2", &owner.token).await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let second = s
        .get(
            &format!("/v1/account/agents?limit=2&cursor={cursor}"),
            &owner.token,
        )
        .await;
    let third = s
        .get(
            &format!(
                "/v1/account/agents?limit=2&cursor={}",
                second.body["nextCursor"].as_str().unwrap()
            ),
            &owner.token,
        )
        .await;
    let names: Vec<String> = [&first, &second, &third]
        .iter()
        .flat_map(|r| {
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(names, vec!["bot-4", "bot-3", "bot-2", "bot-1", "bot-0"]);
    assert!(third.body["nextCursor"].is_null());
    assert_error(
        &s.get("/v1/account/agents?limit=0", &owner.token).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_error(
        &s.get("/v1/account/agents?limit=101", &owner.token).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    assert_error(
        &s.get("/v1/account/agents?cursor=%27;drop", &owner.token)
            .await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    );
    s.stop().await;
}

#[tokio::test]
async fn account_tokens_can_be_minted_listed_and_revoked() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let created = s
        .post("/v1/account/tokens", &owner.token, json!({"label": "ci"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let token = created.body["accountToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(token.starts_with("acct_live_key_"));
    let id = created.body["accountToken"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.get("/v1/account", &token).await.status, StatusCode::OK);
    let listed = s.get("/v1/account/tokens", &owner.token).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    assert!(
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none())
    );
    assert_eq!(
        s.delete(&format!("/v1/account/tokens/{id}"), &owner.token)
            .await
            .status,
        StatusCode::OK
    );
    assert_error(
        &s.get("/v1/account", &token).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    s.stop().await;
}

#[tokio::test]
async fn unknown_fields_malformed_json_and_oversized_bodies_are_clear_errors() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let unknown = s
        .post(
            "/v1/account/agents",
            &owner.token,
            json!({"name": "x", "nmae": "typo"}),
        )
        .await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(error_fields(&unknown), vec!["nmae"]);
    let wrong_type = s
        .post("/v1/account/agents", &owner.token, json!({"name": 5}))
        .await;
    assert_eq!(error_fields(&wrong_type), vec!["name"]);
    let broken = s
        .send(
            s.client
                .post(format!("{}/v1/account/agents", s.base))
                .bearer_auth(&owner.token)
                .header("content-type", "application/json")
                .body("{\"name\": "),
        )
        .await;
    assert_error(&broken, StatusCode::BAD_REQUEST, "validation_failed");
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let too_large = s
        .send(
            s.client
                .post(format!("{}/v1/account/agents", s.base))
                .bearer_auth(&owner.token)
                .header("content-type", "application/json")
                .body(huge),
        )
        .await;
    assert_error(
        &too_large,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    s.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated_and_appear_in_errors() {
    let s = TestServer::start().await;
    let echoed = s
        .send(
            s.client
                .get(format!("{}/v1/agent/catalog/categories", s.base))
                .header("x-request-id", "trace-42"),
        )
        .await;
    assert_eq!(echoed.headers["x-request-id"], "trace-42");
    assert_eq!(echoed.body["error"]["requestId"], "trace-42");
    let invalid = s
        .send(
            s.client
                .get(format!("{}/healthz", s.base))
                .header("x-request-id", "bad id with spaces"),
        )
        .await;
    let generated = invalid.headers["x-request-id"].to_str().unwrap();
    assert!(generated.starts_with("req_"), "{generated}");
    let missing = s
        .send(s.client.get(format!("{}/no/such/route", s.base)))
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    s.stop().await;
}

#[tokio::test]
async fn health_readiness_and_openapi_describe_the_service() {
    let s = TestServer::start().await;
    assert_eq!(
        s.send(s.client.get(format!("{}/healthz", s.base)))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        s.send(s.client.get(format!("{}/readyz", s.base)))
            .await
            .body["status"],
        "ready"
    );
    let doc = s
        .send(s.client.get(format!("{}/openapi.json", s.base)))
        .await;
    assert_eq!(doc.body["openapi"], "3.1.0");
    let paths = doc.body["paths"].as_object().unwrap();
    for path in [
        "/v1/agent/catalog/categories",
        "/v1/agent/catalog/items",
        "/v1/agent/catalog/items/{catalogItemId}/checkout",
        "/v1/agent/quotes",
        "/v1/agent/quotes/{quoteId}",
        "/v1/account",
        "/v1/account/agents",
        "/v1/account/agents/{agentId}",
        "/v1/account/agents/{agentId}/suspend",
        "/v1/account/agents/{agentId}/resume",
        "/v1/account/agents/{agentId}/keys",
        "/v1/account/agents/{agentId}/keys/{keyId}",
        "/v1/account/tokens",
        "/v1/account/tokens/{tokenId}",
        "/v1/account/quotes",
        "/v1/agent/wallet",
        "/v1/agent/wallet/transactions",
        "/v1/agent/policies/effective",
        "/v1/agent/purchases",
        "/v1/agent/purchases/{purchaseId}",
        "/v1/agent/purchases/{purchaseId}/cancel",
        "/v1/agent/services",
        "/v1/agent/services/{serviceId}",
        "/v1/account/wallet",
        "/v1/account/wallet/transactions",
        "/v1/account/wallet/fundings",
        "/v1/account/policy",
        "/v1/account/agents/{agentId}/policy",
        "/v1/account/agents/{agentId}/keys/{keyId}/policy",
        "/v1/account/approvals",
        "/v1/account/purchases",
        "/v1/account/purchases/{purchaseId}",
        "/v1/account/purchases/{purchaseId}/approve",
        "/v1/account/purchases/{purchaseId}/reject",
        "/v1/account/services",
        "/v1/account/services/{serviceId}",
        "/v1/account/audit-events",
    ] {
        assert!(paths.contains_key(path), "openapi lacks {path}");
    }
    s.stop().await;
}

#[tokio::test]
async fn identity_changes_are_in_the_audit_log_with_the_credential_id_never_the_secret() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (agent_id, key) = s.agent(&owner, "bot").await;
    let key_id = key
        .strip_prefix("ask_live_")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    s.post(
        &format!("/v1/account/agents/{agent_id}/suspend"),
        &owner.token,
        json!({}),
    )
    .await;
    s.post(
        &format!("/v1/account/agents/{agent_id}/resume"),
        &owner.token,
        json!({}),
    )
    .await;
    s.delete(
        &format!("/v1/account/agents/{agent_id}/keys/{key_id}"),
        &owner.token,
    )
    .await;
    let log = s
        .get("/v1/account/audit-events?limit=100", &owner.token)
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "agent.created",
        "key.created",
        "agent.suspended",
        "agent.resumed",
        "key.revoked",
        "token.created",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let suspended = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "agent.suspended")
        .unwrap();
    assert_eq!(suspended["beforeStatus"], "active");
    assert_eq!(suspended["afterStatus"], "suspended");
    assert_eq!(suspended["actorType"], "account");
    assert!(
        suspended["credentialId"]
            .as_str()
            .unwrap()
            .starts_with("key_")
    );
    assert!(suspended["requestId"].as_str().unwrap().starts_with("req_"));
    let secret = owner.token.rsplit_once('.').unwrap().1;
    assert!(!log.text.contains(secret) && !log.text.contains(key.rsplit_once('.').unwrap().1));
    s.stop().await;
}
