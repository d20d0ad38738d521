//! Abuse limits (issue 9): bodies over 1 MiB are 413 `payload_too_large` on every surface; a client
//! trickling its headers or its body is cut off (header read timeout, body deadline: 408
//! `request_timeout`) while other clients are served; every credential is rate limited (429 with
//! `Retry-After`) on the Agent API, the Account API and the router; concurrent wrong passwords cannot
//! get past the dashboard's sign-in throttle; and very long strings and deeply nested JSON in every
//! field of representative bodies get clear 4xx errors with stable codes - never a 5xx - with the
//! server still answering afterwards. Each test prints the number of cases it tried.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod dashboard_support;

use std::time::{Duration, Instant};

use common::{TestServer, fund, wait_for_purchase};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, RETRY_AFTER};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

fn host(s: &TestServer) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

async fn healthy(s: &TestServer) {
    let started = Instant::now();
    // A fresh connection: a pooled one may have been closed as idle by the short header timeout.
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let reply = s.send(fresh.get(format!("{}/healthz", s.base))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the server answers others promptly"
    );
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413_payload_too_large_on_every_surface() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "big").await;
    let padding = "a".repeat(MIB);
    let big = json!({"name": padding});
    let mut cases = 0;
    for (method, path, bearer) in [
        (reqwest::Method::POST, "/v1/agent/quotes", key.as_str()),
        (
            reqwest::Method::POST,
            "/v1/account/agents",
            owner.token.as_str(),
        ),
        (
            reqwest::Method::PUT,
            "/v1/account/policy",
            owner.token.as_str(),
        ),
    ] {
        let reply = s
            .send(
                s.client
                    .request(method, format!("{}{path}", s.base))
                    .bearer_auth(bearer)
                    .json(&big),
            )
            .await;
        common::assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        cases += 1;
    }
    // Without Content-Length (chunked), the limit holds as the body streams in.
    let chunks = futures_util::stream::iter(
        (0..20).map(|_| Ok::<_, std::io::Error>(bytes_of(&"b".repeat(64 * 1024)))),
    );
    let reply = s
        .send(
            s.client
                .post(format!("{}/v1/agent/quotes", s.base))
                .bearer_auth(&key)
                .header(CONTENT_TYPE, "application/json")
                .body(reqwest::Body::wrap_stream(chunks)),
        )
        .await;
    common::assert_error(&reply, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    cases += 1;
    // The router answers in OpenAI's envelope with the same code.
    let router = router_key(&s, &owner, &key).await;
    let reply = s
        .post(
            "/openai/v1/chat/completions",
            &router,
            json!({"model": "sandbox/echo",
            "messages": [{"role": "user", "content": padding}]}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    assert_eq!(reply.body["error"]["code"], "payload_too_large");
    cases += 1;
    // MCP: the JSON-RPC body is bounded too.
    let reply = s
        .send(
            s.client
                .post(format!("{}/mcp", s.base))
                .bearer_auth(&key)
                .header("accept", "application/json, text/event-stream")
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                              "params": {"name": "catalog_search", "arguments": {"q": padding}}})),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        &reply.text[..reply.text.len().min(300)]
    );
    cases += 1;
    // The dashboard's sign-in form.
    let reply = s
        .send(
            s.client
                .post(format!("{}/dashboard/login", s.base))
                .header(CONTENT_TYPE, dashboard_support::FORM)
                .body(format!("email=x%40example.com&password={padding}")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    cases += 1;
    healthy(&s).await;
    println!("body limit: {cases} surfaces answered 413");
    s.stop().await;
}

fn bytes_of(text: &str) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(text.as_bytes())
}

/// Buy router credits as `key`'s agent and mint a router key.
async fn router_key(s: &TestServer, owner: &common::Owner, key: &str) -> String {
    fund(s, owner, 10_000).await;
    let reply = s
        .post(
            "/v1/agent/purchases",
            key,
            json!({"catalogItemId": "cat_router_credit_001",
            "quantity": 1, "configuration": {"creditAmountUsd": 5}, "idempotencyKey": "credits"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let purchase = wait_for_purchase(
        s,
        key,
        "/v1/agent",
        reply.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    let service = purchase["serviceId"].as_str().unwrap();
    let created = s
        .post(
            &format!("/v1/agent/services/{service}/router/api-keys"),
            key,
            json!({"label": "abuse"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.body["routerApiKey"]["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_headers_or_body_is_cut_off_while_others_are_served() {
    let s = TestServer::start_with(|c| {
        c.limits.header_read_timeout_seconds = 2;
        c.limits.body_read_timeout_seconds = 2;
    })
    .await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "slow").await;
    let router = router_key(&s, &owner, &key).await;
    let mut cases = 0;

    // Slowloris: 20 connections trickling header bytes, one every 300 ms.
    let mut loris = Vec::new();
    for _ in 0..20 {
        let host = host(&s);
        loris.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&host).await.unwrap();
            let started = Instant::now();
            let request = format!("GET /v1/agent/wallet HTTP/1.1\r\nHost: {host}\r\nX-Slow: ");
            stream.write_all(request.as_bytes()).await.unwrap();
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if stream.write_all(b"a").await.is_err()
                    || started.elapsed() > Duration::from_secs(10)
                {
                    break;
                }
                let mut probe = [0u8; 1024];
                match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
                {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    _ => {}
                }
            }
            started.elapsed()
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    healthy(&s).await;
    for task in loris {
        let held = task.await.unwrap();
        assert!(
            held < Duration::from_secs(5),
            "a header trickle was cut off after {held:?}"
        );
        cases += 1;
    }

    // A body trickle on an authenticated route, the router and the dashboard's sign-in: 408.
    for (path, bearer, content_type) in [
        ("/v1/agent/quotes", key.as_str(), "application/json"),
        (
            "/openai/v1/chat/completions",
            router.as_str(),
            "application/json",
        ),
        ("/dashboard/login", "", dashboard_support::FORM),
    ] {
        let host = host(&s);
        let mut stream = TcpStream::connect(&host).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\nContent-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let started = Instant::now();
        let (mut read, mut write) = stream.into_split();
        let trickle = tokio::spawn(async move {
            for _ in 0..40 {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if write.write_all(b" ").await.is_err() {
                    break;
                }
            }
        });
        let mut answer = vec![0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(6), read.read(&mut answer)).await;
        let elapsed = started.elapsed();
        trickle.abort();
        let n = read
            .unwrap_or_else(|_| {
                panic!("{path}: a trickled body was still being read after {elapsed:?}")
            })
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
        assert!(
            answer.starts_with("HTTP/1.1 408") && elapsed < Duration::from_secs(5),
            "{path}: a trickled body is answered 408 at the deadline, got {answer:?} after {elapsed:?}"
        );
        assert!(answer.contains("request_timeout"), "{path}: {answer}");
        healthy(&s).await;
        cases += 1;
    }
    println!(
        "slow clients: {cases} trickling connections cut off, the server answered others throughout"
    );
    s.stop().await;
}

#[tokio::test]
async fn each_credential_is_rate_limited_with_retry_after_on_every_api_and_the_router() {
    let s = TestServer::start_with(|c| {
        c.limits.rate_limit_per_second = 1;
        c.limits.rate_limit_burst = 5;
    })
    .await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "busy").await;
    let (_, other_key) = s.agent(&owner, "calm").await;
    let router = router_key(&s, &owner, &key).await;
    tokio::time::sleep(Duration::from_secs(6)).await; // refill after setup
    let mut cases = 0;
    for (path, bearer, openai) in [
        ("/v1/agent/wallet", key.as_str(), false),
        ("/v1/account/wallet", owner.token.as_str(), false),
        ("/openai/v1/models", router.as_str(), true),
    ] {
        let mut limited = None;
        for _ in 0..10 {
            let reply = s.get(path, bearer).await;
            cases += 1;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                limited = Some(reply);
                break;
            }
            assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text);
        }
        let reply = limited.unwrap_or_else(|| panic!("{path}: never rate limited"));
        let wait: u64 = reply.headers[RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&wait), "{path}: Retry-After {wait}");
        if openai {
            assert_eq!(reply.body["error"]["code"], "rate_limited");
            assert_eq!(reply.body["error"]["type"], "rate_limit_error");
        } else {
            common::assert_error(&reply, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        }
    }
    // Another key of the same account is not affected.
    assert_eq!(
        s.get("/v1/agent/wallet", &other_key).await.status,
        StatusCode::OK
    );
    println!("rate limits: {cases} requests, 3 credentials limited, the others unaffected");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_cannot_get_past_the_sign_in_throttle() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let mut attempts = Vec::new();
    for i in 0..30 {
        let base = s.base.clone();
        let email = owner.email.clone();
        attempts.push(tokio::spawn(async move {
            let client = dashboard_support::browser();
            let page = client
                .get(format!("{base}/dashboard/login"))
                .send()
                .await
                .unwrap();
            let cookie = dashboard_support::cookie_pair(
                &dashboard_support::set_cookie(&page, "agent_store_login_csrf").unwrap(),
            );
            let csrf = dashboard_support::csrf_field(&page.text().await.unwrap());
            client
                .post(format!("{base}/dashboard/login"))
                .header(COOKIE, cookie)
                .header(CONTENT_TYPE, dashboard_support::FORM)
                .body(dashboard_support::form(&[
                    ("email", email.as_str()),
                    ("password", &format!("guess-{i}")),
                    ("csrf", csrf.as_str()),
                ]))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut checked = 0;
    let mut throttled = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        checked <= agent_store_dashboard::MAX_FAILURES,
        "{checked} concurrent guesses were checked; the throttle allows {}",
        agent_store_dashboard::MAX_FAILURES
    );
    assert_eq!(checked + throttled, 30);
    // Locked now, even with the right password.
    let client = dashboard_support::browser();
    let response =
        dashboard_support::try_sign_in(&s, &client, &owner.email, dashboard_support::PASSWORD)
            .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    println!("login throttle: 30 concurrent guesses, {checked} checked, {throttled} throttled");
    s.stop().await;
}

/// Every leaf of `value` with its JSON pointer.
fn leaves(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                leaves(v, format!("{pointer}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{pointer}/{i}"), out);
            }
        }
        _ => out.push(pointer),
    }
}

fn deep_array(levels: usize) -> Value {
    // Built as text: serde_json would refuse to build (and recursively drop) such a value.
    Value::String(format!("{}{}", "[".repeat(levels), "]".repeat(levels)))
}

/// Replace the value at `pointer` in the serialized body by raw JSON text.
fn with_raw(body: &Value, pointer: &str, raw: &str) -> String {
    let marker = "__raw_value_marker__";
    let mut copy = body.clone();
    *copy.pointer_mut(pointer).unwrap() = Value::String(marker.to_owned());
    copy.to_string().replace(&format!("\"{marker}\""), raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_strings_and_deep_json_in_every_field_get_clear_errors_and_never_a_5xx() {
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (agent_id, key) = s.agent(&owner, "fuzzed").await;
    let router = router_key(&s, &owner, &key).await;
    fund(&s, &owner, 100_000).await;
    let domain = s
        .post(
            "/v1/agent/purchases",
            &key,
            json!({"catalogItemId": "cat_domain_com", "quantity": 1,
            "configuration": {"domainName": "abuse-test.com", "periodYears": 1,
                              "registrantEmail": "a@example.com", "registrantCountry": "US"},
            "idempotencyKey": "domain"}),
        )
        .await;
    let domain = wait_for_purchase(
        &s,
        &key,
        "/v1/agent",
        domain.body["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    let domain = domain["serviceId"].as_str().unwrap().to_owned();
    let vps = json!({"hostname": "node-1", "region": "us-east", "image": "ubuntu-24.04", "billingTermMonths": 1});
    let bodies: Vec<(&str, String, &str, Value)> = vec![
        (
            "post",
            "/v1/account/agents".into(),
            owner.token.as_str(),
            json!({"name": "n"}),
        ),
        (
            "patch",
            format!("/v1/account/agents/{agent_id}"),
            owner.token.as_str(),
            json!({"name": "n"}),
        ),
        (
            "post",
            format!("/v1/account/agents/{agent_id}/keys"),
            owner.token.as_str(),
            json!({"label": "l", "expiresAt": "2030-01-01T00:00:00Z"}),
        ),
        (
            "post",
            "/v1/account/tokens".into(),
            owner.token.as_str(),
            json!({"label": "l"}),
        ),
        (
            "put",
            "/v1/account/policy".into(),
            owner.token.as_str(),
            json!({"dailySpendLimitMinor": 100000, "approvalRequiredAboveMinor": 50000}),
        ),
        (
            "post",
            "/v1/agent/quotes".into(),
            key.as_str(),
            json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": vps}),
        ),
        (
            "post",
            "/v1/agent/purchases".into(),
            key.as_str(),
            json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": vps, "idempotencyKey": "k", "note": "n"}),
        ),
        (
            "post",
            format!("/v1/agent/services/{domain}/domain/dns-records"),
            key.as_str(),
            json!({"type": "TXT", "name": "@", "value": "v", "ttl": 300}),
        ),
        (
            "put",
            format!("/v1/agent/services/{domain}/domain/nameservers"),
            key.as_str(),
            json!({"nameservers": ["ns1.example.net", "ns2.example.net"]}),
        ),
        (
            "post",
            "/openai/v1/chat/completions".into(),
            router.as_str(),
            json!({"model": "sandbox/echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}),
        ),
        (
            "post",
            "/mcp".into(),
            key.as_str(),
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "quote_create", "arguments": {"catalogItemId": "cat_vps_micro", "quantity": 1, "configuration": vps}}}),
        ),
    ];
    let huge = format!("\"{}\"", "x".repeat(1_000_000));
    let long = format!("\"{}\"", "y".repeat(100_000));
    let deep_a = deep_array(10_000).as_str().unwrap().to_owned();
    let deep_o = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let variants = [
        ("1 MB string", &huge),
        ("100k string", &long),
        ("10k-deep array", &deep_a),
        ("10k-deep object", &deep_o),
    ];
    let mut cases = 0;
    let mut accepted_huge = Vec::new();
    for (method, path, bearer, body) in &bodies {
        let mut pointers = Vec::new();
        leaves(body, String::new(), &mut pointers);
        pointers.push(String::new()); // the whole body
        for pointer in &pointers {
            for (what, raw) in &variants {
                let text = if pointer.is_empty() {
                    (*raw).clone()
                } else {
                    with_raw(body, pointer, raw)
                };
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let mut request = s
                    .client
                    .request(method, format!("{}{path}", s.base))
                    .bearer_auth(bearer)
                    .header(CONTENT_TYPE, "application/json")
                    .body(text);
                if path == "/mcp" {
                    request = request.header("accept", "application/json, text/event-stream");
                }
                let reply = s.send(request).await;
                cases += 1;
                let case = format!("{path} {pointer} = {what}");
                assert!(
                    !reply.status.is_server_error(),
                    "{case}: {} {}",
                    reply.status,
                    &reply.text[..reply.text.len().min(400)]
                );
                let code = if path == "/mcp" && reply.status.is_success() {
                    // A JSON-RPC answer: a protocol error or a tool error, each with a code.
                    let error = reply.body.get("error").cloned().or_else(|| {
                        reply.body["result"]["structuredContent"]
                            .get("error")
                            .cloned()
                    });
                    error.map(|e| e["code"].clone()).unwrap_or(Value::Null)
                } else {
                    reply.body["error"]["code"].clone()
                };
                if reply.status.is_success() && code.is_null() {
                    if *what == "1 MB string" || *what == "100k string" {
                        accepted_huge.push(case.clone());
                    }
                    continue;
                }
                assert!(
                    reply.status.is_client_error() || path == "/mcp",
                    "{case}: {}",
                    reply.status
                );
                assert!(
                    code.is_string() || code.is_number(),
                    "{case}: a stable error code, got {} {}",
                    reply.status,
                    &reply.text[..reply.text.len().min(400)]
                );
                if path.starts_with("/v1/") && reply.status == StatusCode::BAD_REQUEST {
                    assert_eq!(code, "validation_failed", "{case}");
                    assert!(
                        !common::error_fields(&reply).is_empty(),
                        "{case}: names the field: {}",
                        &reply.text[..reply.text.len().min(400)]
                    );
                }
                // rmcp echoes the JSON-RPC id (as the protocol requires) and an unknown method's
                // name in its protocol errors; everything of ours is bounded.
                assert!(
                    path == "/mcp" || reply.text.len() < 20_000,
                    "{case}: the error does not echo the input ({} bytes)",
                    reply.text.len()
                );
            }
        }
    }
    // Long strings are fine where nothing is stored: the router passes prompts on (the sandbox
    // echoes them), and a JSON-RPC id comes back in the answer.
    let unexpected: Vec<_> = accepted_huge
        .iter()
        .filter(|c| !c.starts_with("/openai/") && !c.starts_with("/mcp /id"))
        .collect();
    assert!(
        unexpected.is_empty(),
        "long strings stored without a bound: {unexpected:#?}"
    );
    healthy(&s).await;
    assert_eq!(s.get("/v1/agent/wallet", &key).await.status, StatusCode::OK);
    println!("long strings and deep JSON: {cases} cases, no 5xx, every refusal with a stable code");
    s.stop().await;
}

/// Arbitrary JSON whose objects mostly use the chat completion's own field names, so generated
/// bodies get past the first checks into the deeper validation.
fn chat_json() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("sandbox/echo"),
            Just("user"),
            Just("assistant"),
            Just("system"),
            Just("tool")
        ]
        .prop_map(Value::from),
    ];
    let key = prop_oneof![
        Just("model"),
        Just("messages"),
        Just("role"),
        Just("content"),
        Just("max_tokens"),
        Just("max_completion_tokens"),
        Just("stream"),
        Just("stream_options"),
        Just("include_usage"),
        Just("temperature"),
        Just("n"),
        Just("tools"),
        Just("type"),
        Just("text"),
        Just("name"),
        Just("x-unknown"),
    ];
    let value = leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(key.clone().prop_map(str::to_owned), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    // Half the bodies start from a valid request with one field replaced.
    let valid = json!({"model": "sandbox/echo", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5});
    prop_oneof![
        value.clone(),
        (
            prop_oneof![
                Just("/model"),
                Just("/messages"),
                Just("/messages/0"),
                Just("/messages/0/role"),
                Just("/messages/0/content"),
                Just("/max_tokens"),
                Just("/stream")
            ],
            value
        )
            .prop_map(move |(pointer, v)| {
                let mut body = valid.clone();
                match body.pointer_mut(pointer) {
                    Some(slot) => *slot = v,
                    None => body["stream"] = v,
                }
                body
            }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_json_bodies_never_make_the_router_fail_with_a_5xx() {
    use proptest::strategy::{Strategy, ValueTree};
    let s = TestServer::start().await;
    let owner = s.owner().await;
    let (_, key) = s.agent(&owner, "router-prop").await;
    let router = router_key(&s, &owner, &key).await;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = chat_json();
    const CASES: usize = 400;
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..CASES {
        let body = strategy.new_tree(&mut runner).unwrap().current();
        let reply = s
            .post("/openai/v1/chat/completions", &router, body.clone())
            .await;
        assert!(
            !reply.status.is_server_error(),
            "{body}: {} {}",
            reply.status,
            reply.text
        );
        if !reply.status.is_success() {
            assert!(
                reply.body["error"]["code"].is_string() || reply.body["error"]["type"].is_string(),
                "{body}: {}",
                reply.text
            );
        }
        *statuses.entry(reply.status.as_u16()).or_insert(0) += 1;
    }
    healthy(&s).await;
    println!("router bodies: {CASES} generated JSON bodies, statuses {statuses:?}, no 5xx");
    s.stop().await;
}
