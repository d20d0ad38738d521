//! Storage services (SPEC sections 9, 14): the reference flow over REST and MCP (object storage and
//! its credentials; a block volume attached to the same agent's server in its region, expanded as a
//! prorated idempotent spend, snapshotted and restored), and every refusal of the management gate.
//! The books are checked after every scenario.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod mcp_support;
mod money_support;

use common::{TestServer, assert_books_balance, assert_error, error_fields, fund};
use mcp_support::{Transport, connect, ok};
use money_support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn block(region: &str, gb: i64) -> Value {
    json!({"region": region, "storageClass": "block", "capacityGb": gb})
}

fn server(hostname: &str, region: &str) -> Value {
    json!({"hostname": hostname, "region": region, "image": "ubuntu-24.04", "billingTermMonths": 1, "backupsEnabled": false})
}

/// Buy `item` as `bearer` and return its active service id.
async fn bought(
    s: &TestServer,
    bearer: &str,
    base: &str,
    item: &str,
    configuration: Value,
) -> String {
    let purchase = buy_ok(s, bearer, base, item, configuration).await;
    let done = wait_status(
        s,
        bearer,
        base,
        purchase["id"].as_str().unwrap(),
        "completed",
    )
    .await;
    done["serviceId"].as_str().unwrap().to_owned()
}

fn path(id: &str, rest: &str) -> String {
    format!("/v1/agent/services/{id}/storage/{rest}")
}

/// The prorated price of growing by `monthly_minor` per month, just after purchase: the whole month
/// is (almost) left, so it is the monthly price or one cent less.
fn assert_prorated(amount: i64, monthly_minor: i64) {
    assert!(
        amount == monthly_minor || amount == monthly_minor - 1,
        "prorated {amount} for a monthly difference of {monthly_minor}"
    );
}

#[tokio::test]
async fn the_storage_reference_flow_works_over_rest() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 20_000).await;
    let (_, key) = s.agent(&owner, "builder").await;
    let found = s
        .get(
            "/v1/agent/catalog/items?category=storage&q=object&limit=3",
            &key,
        )
        .await;
    let ids: Vec<&str> = found.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["cat_storage_object_001", "cat_storage_block_001"],
        "{}",
        found.text
    );
    let quote = quote(
        &s,
        &key,
        AGENT,
        "cat_storage_object_001",
        object_storage(250),
    )
    .await;
    assert_eq!(quote["totalPriceMinor"], 500);
    let bucket_id = {
        let purchase = buy_quote(&s, &key, AGENT, quote["id"].as_str().unwrap()).await;
        let done = wait_status(
            &s,
            &key,
            AGENT,
            purchase["id"].as_str().unwrap(),
            "completed",
        )
        .await;
        done["serviceId"].as_str().unwrap().to_owned()
    };
    let created = s
        .post(
            &path(&bucket_id, "bucket-credentials"),
            &key,
            json!({"label": "backups", "access": "read"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let credentials = &created.body["credentials"];
    assert!(credentials["id"].as_str().unwrap().starts_with("cred_"));
    assert_eq!(credentials["access"], "read");
    assert_eq!(credentials["region"], "us-east");
    assert_eq!(
        credentials["endpoint"],
        "https://us-east.objects.sandbox.agent-store.test"
    );
    assert!(credentials["bucket"].as_str().unwrap().starts_with("as-"));
    let access_key = credentials["accessKeyId"].as_str().unwrap();
    let secret = credentials["secretAccessKey"].as_str().unwrap();
    assert!(secret.len() >= 40);
    // Only a keyed hash of the secret is stored.
    let stored = agent_store_store::storage_objects::credential_by_access_key(
        s.app().store().pool(),
        access_key,
    )
    .await
    .unwrap()
    .unwrap();
    assert_ne!(stored.secret_hash, secret);
    assert!(!stored.secret_hash.contains(secret));
    let audit_events = audit(&s, &owner, "service.storage:bucket-credentials:create").await;
    assert_eq!(audit_events.len(), 1);
    assert!(
        !audit_events[0].to_string().contains(secret),
        "the audit log never holds the secret"
    );

    let volume_id = bought(
        &s,
        &key,
        AGENT,
        "cat_storage_block_001",
        block("us-east", 100),
    )
    .await;
    let server_id = bought(
        &s,
        &key,
        AGENT,
        "cat_vps_micro",
        server("db-node-01", "us-east"),
    )
    .await;
    let attached = s
        .post(
            &path(&volume_id, "volume/attach"),
            &key,
            json!({"serverServiceId": server_id}),
        )
        .await;
    assert_eq!(attached.status, StatusCode::OK, "{}", attached.text);
    assert_eq!(
        attached.body["service"]["details"]["attachedToServiceId"],
        server_id.as_str()
    );
    // Attaching again to the same server changes nothing.
    let again = s
        .post(
            &path(&volume_id, "volume/attach"),
            &key,
            json!({"serverServiceId": server_id}),
        )
        .await;
    assert_eq!(
        again.body["service"]["details"],
        attached.body["service"]["details"]
    );
    let (before, _, _) = wallet(&s, &key, AGENT).await;
    let expanded = s
        .post(
            &path(&volume_id, "volume/expand"),
            &key,
            json!({"capacityGb": 200, "idempotencyKey": "grow-1"}),
        )
        .await;
    assert_eq!(expanded.status, StatusCode::CREATED, "{}", expanded.text);
    let amount = expanded.body["expansion"]["amountMinor"].as_i64().unwrap();
    assert_prorated(amount, 100 * 10);
    assert_eq!(expanded.body["expansion"]["fromCapacityGb"], 100);
    assert_eq!(expanded.body["service"]["details"]["capacityGb"], 200);
    assert_eq!(wallet(&s, &key, AGENT).await.0, before - amount);
    let snapshot = s
        .post(
            &path(&volume_id, "snapshots"),
            &key,
            json!({"label": "before-migration"}),
        )
        .await;
    assert_eq!(snapshot.status, StatusCode::CREATED, "{}", snapshot.text);
    let snapshot_id = snapshot.body["snapshot"]["id"].as_str().unwrap().to_owned();
    assert!(snapshot_id.starts_with("snap_"));
    assert_eq!(snapshot.body["snapshot"]["capacityGb"], 200);
    let listed = s.get(&path(&volume_id, "snapshots"), &key).await;
    assert_eq!(
        listed.body["items"][0]["id"],
        snapshot_id.as_str(),
        "{}",
        listed.text
    );
    assert_eq!(listed.body["nextCursor"], Value::Null);
    let restored = s
        .post(
            &path(&volume_id, &format!("snapshots/{snapshot_id}/restore")),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.text);
    assert!(restored.body["snapshot"]["lastRestoredAt"].is_string());
    assert_eq!(
        restored.body["service"]["details"]["snapshots"][0]["id"],
        snapshot_id.as_str()
    );
    let detached = s
        .post(&path(&volume_id, "volume/detach"), &key, json!({}))
        .await;
    assert_eq!(
        detached.body["service"]["details"]["attachedToServiceId"],
        Value::Null,
        "{}",
        detached.text
    );
    // The account drives the same routes.
    let account = s
        .get(
            &format!("/v1/account/services/{volume_id}/storage/snapshots"),
            &owner.token,
        )
        .await;
    let now_listed = s.get(&path(&volume_id, "snapshots"), &key).await;
    assert_eq!(account.body["items"], now_listed.body["items"]);
    assert_eq!(
        account.body["items"][0]["lastRestoredAt"],
        restored.body["snapshot"]["lastRestoredAt"]
    );
    for action in [
        "storage:volume:attach",
        "storage:volume:expand",
        "storage:snapshot:create",
        "storage:snapshot:restore",
    ] {
        assert!(
            !audit(&s, &owner, &format!("service.{action}"))
                .await
                .is_empty(),
            "{action} audited"
        );
    }
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn the_storage_reference_flow_works_over_mcp() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 20_000).await;
    let (_, key) = s.agent(&owner, "builder").await;
    let client = connect(&s, &key, Transport::Http).await;
    let found = ok(
        &client,
        "catalog_search",
        json!({"category": "storage", "q": "object", "limit": 3}),
    )
    .await;
    assert_eq!(found["items"][0]["id"], "cat_storage_object_001");
    let quote = ok(&client, "quote_create", json!({"catalogItemId": "cat_storage_object_001", "quantity": 1, "configuration": object_storage(250)})).await;
    assert_eq!(quote["quote"]["totalPriceMinor"], 500);
    let purchase = ok(
        &client,
        "purchase_create",
        json!({"quoteId": quote["quote"]["id"], "idempotencyKey": "mcp-bucket"}),
    )
    .await;
    let done =
        mcp_support::wait_for_purchase(&client, purchase["purchase"]["id"].as_str().unwrap()).await;
    let bucket = done["serviceId"].as_str().unwrap();
    let credentials = ok(
        &client,
        "storage_bucket_credentials_create",
        json!({"serviceId": bucket, "access": "read_write"}),
    )
    .await;
    assert_eq!(credentials["credentials"]["access"], "read_write");
    assert!(credentials["credentials"]["secretAccessKey"].is_string());
    let buy = |item: &'static str, configuration: Value, k: &'static str| {
        let client = &client;
        async move {
            let p = ok(client, "purchase_create", json!({"catalogItemId": item, "quantity": 1, "configuration": configuration, "idempotencyKey": k})).await;
            let done =
                mcp_support::wait_for_purchase(client, p["purchase"]["id"].as_str().unwrap()).await;
            assert_eq!(done["status"], "completed");
            done["serviceId"].as_str().unwrap().to_owned()
        }
    };
    let volume = buy("cat_storage_block_001", block("eu-west", 100), "mcp-volume").await;
    let server_id = buy(
        "cat_vps_micro",
        server("mcp-node-01", "eu-west"),
        "mcp-server",
    )
    .await;
    let attached = ok(
        &client,
        "storage_volume_attach",
        json!({"serviceId": volume, "serverServiceId": server_id}),
    )
    .await;
    assert_eq!(
        attached["service"]["details"]["attachedToServiceId"],
        server_id.as_str()
    );
    let expanded = ok(
        &client,
        "storage_volume_expand",
        json!({"serviceId": volume, "capacityGb": 150, "idempotencyKey": "mcp-grow"}),
    )
    .await;
    assert_prorated(
        expanded["expansion"]["amountMinor"].as_i64().unwrap(),
        50 * 10,
    );
    let replay = ok(
        &client,
        "storage_volume_expand",
        json!({"serviceId": volume, "capacityGb": 150, "idempotencyKey": "mcp-grow"}),
    )
    .await;
    assert_eq!(
        replay, expanded,
        "a retried expansion replays and pays once"
    );
    let snapshot = ok(
        &client,
        "storage_snapshot_create",
        json!({"serviceId": volume}),
    )
    .await;
    let snapshot_id = snapshot["snapshot"]["id"].as_str().unwrap();
    let listed = ok(
        &client,
        "storage_snapshot_list",
        json!({"serviceId": volume}),
    )
    .await;
    assert_eq!(listed["items"][0]["id"], snapshot_id);
    let restored = ok(
        &client,
        "storage_snapshot_restore",
        json!({"serviceId": volume, "snapshotId": snapshot_id}),
    )
    .await;
    assert!(restored["snapshot"]["lastRestoredAt"].is_string());
    let detached = ok(
        &client,
        "storage_volume_detach",
        json!({"serviceId": volume}),
    )
    .await;
    assert_eq!(
        detached["service"]["details"]["attachedToServiceId"],
        Value::Null
    );
    let error = mcp_support::error(
        &client,
        "storage_snapshot_restore",
        json!({"serviceId": volume, "snapshotId": "snap_nope"}),
    )
    .await;
    assert_eq!(error["code"], "not_found");
    let tools = mcp_support::tools(&client).await;
    let hints = |name: &str| {
        let a = tools
            .iter()
            .find(|t| t.name == name)
            .unwrap()
            .annotations
            .clone()
            .unwrap();
        (a.read_only_hint, a.destructive_hint, a.idempotent_hint)
    };
    assert_eq!(
        hints("storage_snapshot_restore"),
        (Some(false), Some(true), Some(true))
    );
    assert_eq!(
        hints("storage_snapshot_list"),
        (Some(true), Some(false), Some(true))
    );
    assert_eq!(
        hints("storage_volume_expand"),
        (Some(false), Some(false), Some(true))
    );
    client.cancel().await.unwrap();
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn expansions_are_idempotent_policy_checked_spends() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 20_000).await;
    let (agent_id, key) = s.agent(&owner, "builder").await;
    let volume = bought(
        &s,
        &key,
        AGENT,
        "cat_storage_block_001",
        block("us-east", 100),
    )
    .await;
    let (before, _, _) = wallet(&s, &key, AGENT).await;
    let expand = path(&volume, "volume/expand");
    let requests = (0..20)
        .map(|_| {
            (
                expand.clone(),
                key.clone(),
                json!({"capacityGb": 300, "idempotencyKey": "grow"}),
            )
        })
        .collect();
    let replies = concurrent_posts(&s, requests).await;
    assert_eq!(
        count_status(&replies, StatusCode::CREATED),
        20,
        "{}",
        replies[0].text
    );
    assert!(replies.iter().all(|r| r.text == replies[0].text));
    let amount = replies[0].body["expansion"]["amountMinor"]
        .as_i64()
        .unwrap();
    assert_prorated(amount, 200 * 10);
    assert_eq!(
        wallet(&s, &key, AGENT).await.0,
        before - amount,
        "charged once"
    );
    let mismatch = s
        .post(
            &expand,
            &key,
            json!({"capacityGb": 400, "idempotencyKey": "grow"}),
        )
        .await;
    assert_error(
        &mismatch,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_mismatch",
    );
    // Policies: over the per-spend maximum, or needing approval, is refused; nothing is charged.
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"maxPurchaseMinor": 500}),
    )
    .await;
    let denied = s
        .post(
            &expand,
            &key,
            json!({"capacityGb": 400, "idempotencyKey": "grow-2"}),
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
    let approval = s
        .post(
            &expand,
            &key,
            json!({"capacityGb": 400, "idempotencyKey": "grow-2"}),
        )
        .await;
    let error = assert_error(&approval, StatusCode::FORBIDDEN, "policy_denied");
    assert_eq!(
        reason_codes(&error["details"]["reasons"]),
        ["approval_threshold"]
    );
    let capacity = s.get(&format!("/v1/agent/services/{volume}"), &key).await;
    assert_eq!(capacity.body["service"]["details"]["capacityGb"], 300);
    assert_eq!(wallet(&s, &key, AGENT).await.0, before - amount);
    put_policy(&s, &owner, &format!("/agents/{agent_id}/policy"), json!({})).await;
    // Not enough money.
    let poor = s.owner().await;
    fund(&s, &poor, 1100).await;
    let (_, poor_key) = s.agent(&poor, "poor").await;
    let small = bought(
        &s,
        &poor_key,
        AGENT,
        "cat_storage_block_001",
        block("us-east", 100),
    )
    .await;
    let broke = s
        .post(
            &path(&small, "volume/expand"),
            &poor_key,
            json!({"capacityGb": 16000, "idempotencyKey": "x"}),
        )
        .await;
    let error = assert_error(&broke, StatusCode::PAYMENT_REQUIRED, "insufficient_funds");
    assert_eq!(error["details"]["availableMinor"], 100);
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn storage_actions_refuse_what_the_gate_refuses() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 50_000).await;
    let (agent_id, key) = s.agent(&owner, "builder").await;
    let (_, other_key) = s.agent(&owner, "other").await;
    let volume = bought(
        &s,
        &key,
        AGENT,
        "cat_storage_block_001",
        block("us-east", 100),
    )
    .await;
    let bucket = bought(
        &s,
        &key,
        AGENT,
        "cat_storage_object_001",
        object_storage(100),
    )
    .await;
    let server_id = bought(
        &s,
        &key,
        AGENT,
        "cat_vps_micro",
        server("gate-01", "us-east"),
    )
    .await;
    let far_server = bought(
        &s,
        &key,
        AGENT,
        "cat_vps_micro",
        server("gate-02", "eu-west"),
    )
    .await;
    let other_server = bought(
        &s,
        &other_key,
        AGENT,
        "cat_vps_micro",
        server("other-01", "us-east"),
    )
    .await;
    let phone = bought(
        &s,
        &key,
        AGENT,
        "cat_phone_global_001",
        json!({"countryCode": "US", "numberType": "local", "capabilities": ["sms"]}),
    )
    .await;
    let snapshot = s.post(&path(&volume, "snapshots"), &key, json!({})).await;
    let snapshot_id = snapshot.body["snapshot"]["id"].as_str().unwrap().to_owned();
    let restore = format!("snapshots/{snapshot_id}/restore");
    let actions: Vec<(&str, String, Value)> = vec![
        ("post", "bucket-credentials".to_owned(), json!({})),
        (
            "post",
            "volume/attach".to_owned(),
            json!({"serverServiceId": server_id}),
        ),
        ("post", "volume/detach".to_owned(), json!({})),
        (
            "post",
            "volume/expand".to_owned(),
            json!({"capacityGb": 200, "idempotencyKey": "gate"}),
        ),
        ("post", "snapshots".to_owned(), json!({})),
        ("get", "snapshots".to_owned(), Value::Null),
        ("post", restore.clone(), json!({})),
    ];
    let call = |bearer: String, service: String, action: (&'static str, String, Value)| {
        let s = &s;
        async move {
            let url = path(&service, &action.1);
            if action.0 == "get" {
                s.get(&url, &bearer).await
            } else {
                s.post(&url, &bearer, action.2).await
            }
        }
    };
    let owned = |a: &(&'static str, String, Value)| (a.0, a.1.clone(), a.2.clone());
    for action in &actions {
        // Wrong service type: a phone number is no storage.
        let reply = call(key.clone(), phone.clone(), owned(action)).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), ["serviceId"], "{}", action.1);
        // Another agent's volume does not exist for it.
        let reply = call(other_key.clone(), volume.clone(), owned(action)).await;
        assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    }
    // Object storage has no volume capabilities, block storage no bucket credentials.
    for action in &actions[1..] {
        let reply = call(key.clone(), bucket.clone(), owned(action)).await;
        assert_error(&reply, StatusCode::FORBIDDEN, "capability_not_allowed");
    }
    let reply = call(key.clone(), volume.clone(), owned(&actions[0])).await;
    assert_error(&reply, StatusCode::FORBIDDEN, "capability_not_allowed");
    // allowedActions: only snapshots allowed; attach, detach, expand and restore are refused.
    put_policy(
        &s,
        &owner,
        &format!("/agents/{agent_id}/policy"),
        json!({"allowedActions": ["storage:snapshot:create"]}),
    )
    .await;
    for action in [&actions[1], &actions[2], &actions[3], &actions[6]] {
        let reply = call(key.clone(), volume.clone(), owned(action)).await;
        assert_error(&reply, StatusCode::FORBIDDEN, "capability_not_allowed");
    }
    let reply = call(key.clone(), bucket.clone(), owned(&actions[0])).await;
    assert_error(&reply, StatusCode::FORBIDDEN, "capability_not_allowed");
    assert_eq!(
        call(key.clone(), volume.clone(), owned(&actions[5]))
            .await
            .status,
        StatusCode::OK
    );
    put_policy(&s, &owner, &format!("/agents/{agent_id}/policy"), json!({})).await;
    // Invalid values, each field named.
    let attach = path(&volume, "volume/attach");
    for (body, field) in [
        (json!({}), "serverServiceId"),
        (json!({"serverServiceId": other_server}), "serverServiceId"),
        (json!({"serverServiceId": far_server}), "serverServiceId"),
        (json!({"serverServiceId": bucket}), "serverServiceId"),
        (
            json!({"serverServiceId": server_id, "force": true}),
            "force",
        ),
    ] {
        let reply = s.post(&attach, &key, body.clone()).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), [field], "{body}");
    }
    let expand = path(&volume, "volume/expand");
    for (body, field) in [
        (json!({"idempotencyKey": "v"}), "capacityGb"),
        (
            json!({"capacityGb": 100, "idempotencyKey": "v"}),
            "capacityGb",
        ),
        (
            json!({"capacityGb": 50, "idempotencyKey": "v"}),
            "capacityGb",
        ),
        (
            json!({"capacityGb": 16001, "idempotencyKey": "v"}),
            "capacityGb",
        ),
        (
            json!({"capacityGb": 150.5, "idempotencyKey": "v"}),
            "capacityGb",
        ),
        (
            json!({"capacityGb": "200", "idempotencyKey": "v"}),
            "capacityGb",
        ),
        (json!({"capacityGb": 200}), "idempotencyKey"),
    ] {
        let reply = s.post(&expand, &key, body.clone()).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), [field], "{body}");
    }
    let credentials = path(&bucket, "bucket-credentials");
    for (body, field) in [
        (json!({"access": "admin"}), "access"),
        (json!({"label": "x".repeat(101)}), "label"),
        (json!({"label": "  "}), "label"),
    ] {
        let reply = s.post(&credentials, &key, body.clone()).await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), [field], "{body}");
    }
    let bad_label = s
        .post(&path(&volume, "snapshots"), &key, json!({"label": ""}))
        .await;
    assert_eq!(error_fields(&bad_label), ["label"]);
    let unknown = s
        .post(
            &path(&volume, "snapshots/snap_nope/restore"),
            &key,
            json!({}),
        )
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "not_found");
    // One server at a time: attached to one, the volume refuses another until detached.
    let second_server = bought(
        &s,
        &key,
        AGENT,
        "cat_vps_micro",
        server("gate-03", "us-east"),
    )
    .await;
    assert_eq!(
        s.post(&attach, &key, json!({"serverServiceId": server_id}))
            .await
            .status,
        StatusCode::OK
    );
    let busy = s
        .post(&attach, &key, json!({"serverServiceId": second_server}))
        .await;
    assert_error(&busy, StatusCode::CONFLICT, "invalid_state");
    assert_eq!(
        s.post(&path(&volume, "volume/detach"), &key, json!({}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        s.post(&attach, &key, json!({"serverServiceId": second_server}))
            .await
            .status,
        StatusCode::OK
    );
    // Inactive services: a suspended volume takes no action; an inactive server takes no volume.
    let pool = s.app().store().pool();
    sqlx::query("UPDATE services SET status = 'suspended' WHERE id = $1")
        .bind(&volume)
        .execute(pool)
        .await
        .unwrap();
    for action in [
        &actions[1],
        &actions[2],
        &actions[3],
        &actions[4],
        &actions[6],
    ] {
        let reply = call(key.clone(), volume.clone(), owned(action)).await;
        assert_error(&reply, StatusCode::CONFLICT, "invalid_state");
    }
    assert_eq!(
        call(key.clone(), volume.clone(), owned(&actions[5]))
            .await
            .status,
        StatusCode::OK,
        "reads still work"
    );
    sqlx::query("UPDATE services SET status = 'suspended' WHERE id = $1")
        .bind(&bucket)
        .execute(pool)
        .await
        .unwrap();
    assert_error(
        &call(key.clone(), bucket.clone(), owned(&actions[0])).await,
        StatusCode::CONFLICT,
        "invalid_state",
    );
    let volume_two = bought(
        &s,
        &key,
        AGENT,
        "cat_storage_block_001",
        block("us-east", 100),
    )
    .await;
    sqlx::query("UPDATE services SET status = 'suspended' WHERE id = $1")
        .bind(&server_id)
        .execute(pool)
        .await
        .unwrap();
    let inactive_server = s
        .post(
            &path(&volume_two, "volume/attach"),
            &key,
            json!({"serverServiceId": server_id}),
        )
        .await;
    assert_error(&inactive_server, StatusCode::CONFLICT, "invalid_state");
    assert_books_balance(s.app()).await;
}

#[tokio::test]
async fn an_expansion_the_provider_refuses_is_refunded_in_full_and_can_be_retried() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 20_000).await;
    let (_, key) = s.agent(&owner, "builder").await;
    let volume = bought(
        &s,
        &key,
        AGENT,
        "cat_storage_block_001",
        block("us-east", 100),
    )
    .await;
    let (before, _, _) = wallet(&s, &key, AGENT).await;
    // A volume the provider does not know: it refuses the expansion after the payment committed.
    let pool = s.app().store().pool();
    sqlx::query("UPDATE services SET provider_ref = 'vol-unknown' WHERE id = $1")
        .bind(&volume)
        .execute(pool)
        .await
        .unwrap();
    let body = json!({"capacityGb": 200, "idempotencyKey": "grow-fail"});
    let failed = s
        .post(&path(&volume, "volume/expand"), &key, body.clone())
        .await;
    assert_error(&failed, StatusCode::BAD_GATEWAY, "provider_error");
    assert_eq!(wallet(&s, &key, AGENT).await.0, before, "refunded in full");
    let service = s.get(&format!("/v1/agent/services/{volume}"), &key).await;
    assert_eq!(
        service.body["service"]["details"]["capacityGb"], 100,
        "capacity restored"
    );
    let transactions = s.get("/v1/agent/wallet/transactions", &key).await;
    let kinds: Vec<&str> = transactions.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["refund", "capture"], "{}", transactions.text);
    assert_books_balance(s.app()).await;
    // The key was released: once the provider accepts, the same key pays once.
    sqlx::query("UPDATE services SET provider_ref = 'vol-0123456789abcdef' WHERE id = $1")
        .bind(&volume)
        .execute(pool)
        .await
        .unwrap();
    let retried = s
        .post(&path(&volume, "volume/expand"), &key, body.clone())
        .await;
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text);
    let amount = retried.body["expansion"]["amountMinor"].as_i64().unwrap();
    let replay = s.post(&path(&volume, "volume/expand"), &key, body).await;
    assert_eq!(replay.text, retried.text);
    assert_eq!(wallet(&s, &key, AGENT).await.0, before - amount);
    assert_books_balance(s.app()).await;
}
