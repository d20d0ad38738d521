//! Server management (SPEC sections 9 and 14): the server reference flow over HTTP and over MCP
//! (search, quote 2400, purchase, restart, reinstall, waiting for the power state to settle), power
//! on/off, one action at a time, idempotent retries, GPU-only images, and every refusal: wrong service
//! type, another agent's server, a capability outside `allowedActions`, an inactive server, invalid
//! values.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod mcp_support;

use std::time::Duration;

use common::{
    Owner, Reply, TestServer, assert_books_balance, assert_error, error_fields, fund,
    wait_for_purchase,
};
use mcp_support::{Transport, connect, ok};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn put(s: &TestServer, bearer: &str, path: &str, body: Value) -> Reply {
    s.send(
        s.client
            .put(format!("{}{path}", s.base))
            .bearer_auth(bearer)
            .json(&body),
    )
    .await
}

fn server_config(hostname: &str, image: &str) -> Value {
    json!({"hostname": hostname, "region": "eu-west", "image": image, "billingTermMonths": 1,
           "backupsEnabled": true})
}

async fn buy_server(s: &TestServer, key: &str, item: &str, hostname: &str, image: &str) -> String {
    let purchase = s
        .post(
            "/v1/agent/purchases",
            key,
            json!({"catalogItemId": item, "quantity": 1, "configuration": server_config(hostname, image),
                   "idempotencyKey": format!("buy-{hostname}")}),
        )
        .await;
    assert_eq!(purchase.status, StatusCode::CREATED, "{}", purchase.text);
    let done = wait_for_purchase(
        s,
        key,
        "/v1/agent",
        purchase.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    done["serviceIds"][0].as_str().unwrap().to_owned()
}

async fn setup() -> (TestServer, Owner, String, String) {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    fund(&s, &owner, 100_000).await;
    let (agent_id, key) = s.agent(&owner, "ops-bot").await;
    (s, owner, agent_id, key)
}

fn action(base: &str, service_id: &str, what: &str) -> String {
    format!("{base}/services/{service_id}/server/{what}")
}

/// Poll the service until `details.powerState` is `running` or `stopped` (bounded: 10 s).
async fn settled(s: &TestServer, key: &str, service_id: &str) -> Value {
    for _ in 0..200 {
        let reply = s
            .get(&format!("/v1/agent/services/{service_id}"), key)
            .await;
        let state = reply.body["service"]["details"]["powerState"]
            .as_str()
            .unwrap_or_default();
        if matches!(state, "running" | "stopped") {
            return reply.body["service"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server {service_id} did not settle in 10 s");
}

#[tokio::test]
async fn the_server_reference_flow_works_over_http() {
    let (s, owner, _, key) = setup().await;
    let found = s
        .get(
            "/v1/agent/catalog/items?category=compute&q=vps&limit=3",
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
        ["cat_vps_micro", "cat_vps_small", "cat_vps_gpu_standard"]
    );
    let quote = s
        .post(
            "/v1/agent/quotes",
            &key,
            json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": server_config("deploy-node-01", "ubuntu-24.04")}),
        )
        .await;
    assert_eq!(
        quote.body["quote"]["totalPriceMinor"], 2400,
        "{}",
        quote.text
    );
    let purchase = s
        .post(
            "/v1/agent/purchases",
            &key,
            json!({"quoteId": quote.body["quote"]["id"], "idempotencyKey": "deploy-node-01"}),
        )
        .await;
    let done = wait_for_purchase(
        &s,
        &key,
        "/v1/agent",
        purchase.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    let service_id = done["serviceIds"][0].as_str().unwrap().to_owned();

    let restart = s
        .post(
            &action("/v1/agent", &service_id, "restart"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(restart.status, StatusCode::ACCEPTED, "{}", restart.text);
    let state = restart.body["service"]["details"]["powerState"]
        .as_str()
        .unwrap();
    assert!(matches!(state, "restarting" | "running"), "{state}");
    let service = settled(&s, &key, &service_id).await;
    assert_eq!(service["details"]["powerState"], "running");
    assert_eq!(service["details"]["lastOperation"]["action"], "restart");
    assert_eq!(service["details"]["lastOperation"]["status"], "succeeded");

    let reinstall = s
        .post(
            &action("/v1/agent", &service_id, "reinstall"),
            &key,
            json!({"image": "debian-12"}),
        )
        .await;
    assert_eq!(reinstall.status, StatusCode::ACCEPTED, "{}", reinstall.text);
    let service = settled(&s, &key, &service_id).await;
    assert_eq!(service["details"]["powerState"], "running");
    assert_eq!(service["details"]["image"], "debian-12");

    let off = s
        .post(
            &action("/v1/agent", &service_id, "power"),
            &key,
            json!({"state": "off"}),
        )
        .await;
    assert_eq!(off.status, StatusCode::ACCEPTED, "{}", off.text);
    assert_eq!(
        settled(&s, &key, &service_id).await["details"]["powerState"],
        "stopped"
    );
    let off_again = s
        .post(
            &action("/v1/agent", &service_id, "power"),
            &key,
            json!({"state": "off"}),
        )
        .await;
    assert_eq!(off_again.status, StatusCode::OK, "{}", off_again.text);
    assert_eq!(
        off_again.body["service"]["details"]["powerState"],
        "stopped"
    );
    let restart_stopped = s
        .post(
            &action("/v1/agent", &service_id, "restart"),
            &key,
            json!({}),
        )
        .await;
    assert_error(&restart_stopped, StatusCode::CONFLICT, "invalid_state");
    // The account can act on every agent's server.
    let on = s
        .post(
            &action("/v1/account", &service_id, "power"),
            &owner.token,
            json!({"state": "on"}),
        )
        .await;
    assert_eq!(on.status, StatusCode::ACCEPTED, "{}", on.text);
    assert_eq!(
        settled(&s, &key, &service_id).await["details"]["powerState"],
        "running"
    );

    let events = s
        .get("/v1/account/audit-events?limit=100", &owner.token)
        .await;
    let actions: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in [
        "service.server:restart",
        "service.server:reinstall",
        "service.server:power",
        "service.server_operation_succeeded",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    assert_books_balance(s.app()).await;
    s.stop().await;
}

async fn mcp_flow(transport: Transport) {
    let (s, _, _, key) = setup().await;
    let client = connect(&s, &key, transport).await;
    let found = ok(
        &client,
        "catalog_search",
        json!({"category": "compute", "q": "vps", "limit": 3}),
    )
    .await;
    assert_eq!(found["items"][0]["id"], "cat_vps_micro");
    let quote = ok(
        &client,
        "quote_create",
        json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": server_config("deploy-node-01", "ubuntu-24.04")}),
    )
    .await;
    assert_eq!(quote["quote"]["totalPriceMinor"], 2400);
    let purchase = ok(
        &client,
        "purchase_create",
        json!({"quoteId": quote["quote"]["id"], "idempotencyKey": "mcp-node-01"}),
    )
    .await;
    let done =
        mcp_support::wait_for_purchase(&client, purchase["purchase"]["id"].as_str().unwrap()).await;
    let service_id = done["serviceIds"][0].as_str().unwrap().to_owned();
    let restarted = ok(&client, "server_restart", json!({"serviceId": service_id})).await;
    assert_eq!(restarted["service"]["id"], service_id.as_str());
    assert_eq!(
        settled(&s, &key, &service_id).await["details"]["powerState"],
        "running"
    );
    ok(
        &client,
        "server_reinstall",
        json!({"serviceId": service_id, "image": "debian-12"}),
    )
    .await;
    let service = settled(&s, &key, &service_id).await;
    assert_eq!(service["details"]["image"], "debian-12");
    let via_tool = ok(&client, "service_get", json!({"serviceId": service_id})).await;
    assert_eq!(via_tool["service"]["details"]["powerState"], "running");
    ok(
        &client,
        "server_power",
        json!({"serviceId": service_id, "state": "off"}),
    )
    .await;
    assert_eq!(
        settled(&s, &key, &service_id).await["details"]["powerState"],
        "stopped"
    );
    let refused = mcp_support::error(
        &client,
        "server_reinstall",
        json!({"serviceId": service_id, "image": "nvidia-ai-ubuntu"}),
    )
    .await;
    assert_eq!(refused["code"], "validation_failed");
    client.cancel().await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn the_server_reference_flow_works_over_hosted_mcp() {
    mcp_flow(Transport::Http).await;
}

#[tokio::test]
async fn the_server_reference_flow_works_over_stdio_mcp() {
    mcp_flow(Transport::Stdio).await;
}

#[tokio::test]
async fn a_second_action_while_one_runs_is_refused_and_keyed_retries_replay() {
    // A slow sandbox keeps the first action in progress long enough to observe it.
    let s = TestServer::start_with(|c| c.sandbox.provisioning_delay_ms = 1500).await;
    let owner = s.owner().await;
    fund(&s, &owner, 100_000).await;
    let (_, key) = s.agent(&owner, "ops-bot").await;
    let service_id = buy_server(&s, &key, "cat_vps_micro", "web-01", "ubuntu-24.04").await;
    let first = s
        .post(
            &action("/v1/agent", &service_id, "restart"),
            &key,
            json!({"idempotencyKey": "restart-1"}),
        )
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.text);
    assert_eq!(first.body["service"]["details"]["powerState"], "restarting");
    for (what, body) in [
        ("restart", json!({})),
        ("reinstall", json!({"image": "debian-12"})),
        ("power", json!({"state": "off"})),
    ] {
        let reply = s
            .post(&action("/v1/agent", &service_id, what), &key, body)
            .await;
        assert!(
            assert_error(&reply, StatusCode::CONFLICT, "invalid_state")["message"]
                .as_str()
                .unwrap()
                .contains("restarting"),
            "{}",
            reply.text
        );
    }
    let replay = s
        .post(
            &action("/v1/agent", &service_id, "restart"),
            &key,
            json!({"idempotencyKey": "restart-1"}),
        )
        .await;
    assert_eq!(replay.status, StatusCode::ACCEPTED);
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.text, first.text);
    assert_eq!(
        settled(&s, &key, &service_id).await["details"]["powerState"],
        "running"
    );
    // After settling, the same key still replays instead of restarting again.
    let later = s
        .post(
            &action("/v1/agent", &service_id, "restart"),
            &key,
            json!({"idempotencyKey": "restart-1"}),
        )
        .await;
    assert_eq!(later.headers["idempotent-replayed"], "true");
    let service = s
        .get(&format!("/v1/agent/services/{service_id}"), &key)
        .await;
    assert_eq!(service.body["service"]["details"]["powerState"], "running");
    let mismatch = s
        .post(
            &action("/v1/agent", &service_id, "power"),
            &key,
            json!({"state": "off", "idempotencyKey": "restart-1"}),
        )
        .await;
    assert_error(
        &mismatch,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_mismatch",
    );
    s.stop().await;
}

#[tokio::test]
async fn a_flaky_provider_is_retried_until_the_action_settles() {
    let s = TestServer::start_with(|c| c.jobs.retry_base_ms = 20).await;
    let owner = s.owner().await;
    fund(&s, &owner, 100_000).await;
    let (_, key) = s.agent(&owner, "ops-bot").await;
    let service_id = buy_server(
        &s,
        &key,
        "cat_vps_micro",
        "web-sandbox-flaky",
        "ubuntu-24.04",
    )
    .await;
    let reply = s
        .post(
            &action("/v1/agent", &service_id, "power"),
            &key,
            json!({"state": "off"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    let service = settled(&s, &key, &service_id).await;
    assert_eq!(service["details"]["powerState"], "stopped");
    assert_eq!(service["details"]["lastOperation"]["status"], "succeeded");
    s.stop().await;
}

#[tokio::test]
async fn images_must_be_offered_by_the_item_and_gpu_images_need_a_gpu() {
    let (s, owner, _, key) = setup().await;
    fund(&s, &owner, 200_000).await;
    let cpu = buy_server(&s, &key, "cat_vps_micro", "cpu-01", "ubuntu-24.04").await;
    let gpu = buy_server(&s, &key, "cat_vps_gpu_standard", "gpu-01", "ubuntu-24.04").await;
    for (body, field) in [
        (json!({"image": "nvidia-ai-ubuntu"}), "image"),
        (json!({"image": "windows-11"}), "image"),
        (json!({"image": ""}), "image"),
        (json!({}), "image"),
    ] {
        let reply = s
            .post(&action("/v1/agent", &cpu, "reinstall"), &key, body.clone())
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), [field], "{body}");
    }
    let unknown = s
        .post(
            &action("/v1/agent", &cpu, "reinstall"),
            &key,
            json!({"image": "debian-12", "wipe": true}),
        )
        .await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "validation_failed");
    for body in [
        json!({"state": "sideways"}),
        json!({"state": "ON"}),
        json!({}),
    ] {
        let reply = s
            .post(&action("/v1/agent", &cpu, "power"), &key, body)
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), ["state"]);
    }
    let service = s.get(&format!("/v1/agent/services/{cpu}"), &key).await;
    assert_eq!(service.body["service"]["details"]["powerState"], "running");
    assert_eq!(service.body["service"]["details"]["image"], "ubuntu-24.04");
    let reply = s
        .post(
            &action("/v1/agent", &gpu, "reinstall"),
            &key,
            json!({"image": "nvidia-ai-ubuntu"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
    assert_eq!(
        settled(&s, &key, &gpu).await["details"]["image"],
        "nvidia-ai-ubuntu"
    );
    s.stop().await;
}

#[tokio::test]
async fn server_actions_are_gated_by_owner_type_capability_and_state() {
    let (s, owner, agent_id, key) = setup().await;
    let service_id = buy_server(&s, &key, "cat_vps_micro", "web-01", "ubuntu-24.04").await;
    let (_, other) = s.agent(&owner, "other-bot").await;
    let calls = [
        ("restart", json!({})),
        ("reinstall", json!({"image": "debian-12"})),
        ("power", json!({"state": "off"})),
    ];
    for (what, body) in &calls {
        let reply = s
            .post(
                &action("/v1/agent", &service_id, what),
                &other,
                body.clone(),
            )
            .await;
        assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    }
    // A domain is the wrong type for server actions.
    let domain = s
        .post(
            "/v1/agent/purchases",
            &key,
            json!({"catalogItemId": "cat_domain_com", "quantity": 1, "idempotencyKey": "dom-1",
                   "configuration": {"domainName": "launchpad.com", "periodYears": 1, "registrantEmail": "ops@launchpad.com", "registrantCountry": "US"}}),
        )
        .await;
    let done = wait_for_purchase(
        &s,
        &key,
        "/v1/agent",
        domain.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    let domain_id = done["serviceIds"][0].as_str().unwrap();
    for (what, body) in &calls {
        let reply = s
            .post(&action("/v1/agent", domain_id, what), &key, body.clone())
            .await;
        assert_error(&reply, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(error_fields(&reply), ["serviceId"]);
    }
    // allowedActions without server:reinstall and server:power refuses those two only.
    let policy = put(
        &s,
        &owner.token,
        &format!("/v1/account/agents/{agent_id}/policy"),
        json!({"allowedActions": ["server:restart"]}),
    )
    .await;
    assert_eq!(policy.status, StatusCode::OK, "{}", policy.text);
    for (what, body) in &calls[1..] {
        let reply = s
            .post(&action("/v1/agent", &service_id, what), &key, body.clone())
            .await;
        assert_error(&reply, StatusCode::FORBIDDEN, "capability_not_allowed");
    }
    let restart = s
        .post(
            &action("/v1/agent", &service_id, "restart"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(restart.status, StatusCode::ACCEPTED, "{}", restart.text);
    settled(&s, &key, &service_id).await;
    // A server whose provisioning failed is not active.
    let failed = buy_server(
        &s,
        &key,
        "cat_vps_micro",
        "web-sandbox-fail",
        "ubuntu-24.04",
    )
    .await;
    put(
        &s,
        &owner.token,
        &format!("/v1/account/agents/{agent_id}/policy"),
        json!({"allowedActions": null}),
    )
    .await;
    for (what, body) in &calls {
        let reply = s
            .post(&action("/v1/agent", &failed, what), &key, body.clone())
            .await;
        assert_error(&reply, StatusCode::CONFLICT, "invalid_state");
    }
    assert_books_balance(s.app()).await;
    s.stop().await;
}

#[tokio::test]
async fn server_routes_are_in_the_openapi_document() {
    let s = TestServer::start().await;
    let doc = s
        .send(s.client.get(format!("{}/openapi.json", s.base)))
        .await;
    let paths = doc.body["paths"].as_object().unwrap();
    for base in ["/v1/agent", "/v1/account"] {
        for what in ["restart", "reinstall", "power"] {
            let path = format!("{base}/services/{{serviceId}}/server/{what}");
            assert!(paths.contains_key(&path), "openapi lacks {path}");
        }
    }
    s.stop().await;
}
