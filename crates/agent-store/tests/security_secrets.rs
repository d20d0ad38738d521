//! The secrets scan (issue 9): the compiled binary runs with `RUST_LOG=debug` (its standard output
//! and error captured to a file) through a flow that issues every kind of secret - the server secret,
//! the owner's password (CLI and dashboard sign-in), account tokens (CLI and API), agent keys, router
//! keys, bucket credential secrets, and an upstream LLM API key from the environment (sent to a mock
//! upstream that echoes it back in its error messages, as real upstreams do) - and tries wrong
//! secrets of every kind (right key id, wrong secret; revoked keys; a wrong password). Then the log
//! file, the SQLite files (`agent-store.db`, `-wal`, `-shm`, read while the server runs and after it
//! stops), every audit event, every error body received and `/metrics` are searched for each secret
//! as a raw substring: there must be no hit (keyed hashes are fine). Prints secrets x places scanned.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use common::process::BIN;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::{Value, json};

const UPSTREAM_KEY_ENV: &str = "SECRETS_SCAN_UPSTREAM_KEY";

fn random(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        agent_store_core::ids::new_id(agent_store_core::ids::IdKind::Event)
            .trim_start_matches("evt_")
            .to_lowercase()
    )
}

/// A mock OpenAI-compatible upstream that records the `Authorization` header it receives; model
/// `echo-key` answers 401 with the key in the message, as OpenAI's "Incorrect API key provided".
async fn start_upstream() -> (String, Arc<Mutex<Vec<String>>>) {
    async fn completions(
        State(seen): State<Arc<Mutex<Vec<String>>>>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> axum::response::Response {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        seen.lock().unwrap().push(auth.clone());
        if body["model"] == "echo-key" {
            return (
                AxumStatus::UNAUTHORIZED,
                Json(
                    json!({"error": {"message": format!("Incorrect API key provided: {auth}"),
                                      "type": "invalid_request_error", "code": "invalid_api_key"}}),
                ),
            )
                .into_response();
        }
        if body["model"] == "echo-key-stream" {
            // A stream that starts, then reports an error quoting the key in an SSE event.
            let events = format!(
                "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
                json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "x",
                       "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}, "finish_reason": null}]}),
                json!({"error": {"message": format!("key {auth} was revoked mid-stream"), "type": "server_error"}}),
            );
            return ([("content-type", "text/event-stream")], events).into_response();
        }
        if body["model"] == "echo-key-400" {
            return (
                AxumStatus::BAD_REQUEST,
                Json(
                    json!({"error": {"message": format!("bad request from {auth}"),
                                      "type": "invalid_request_error", "code": "bad"}}),
                ),
            )
                .into_response();
        }
        Json(json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}))
        .into_response()
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(completions))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1"), seen)
}

fn cli(dir: &std::path::Path, env: &[(&str, String)], args: &[&str]) -> Value {
    let output = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `serve` on port 0 with every log line (stdout and stderr) copied into `log`.
fn spawn_logged(
    dir: &std::path::Path,
    config: &std::path::Path,
    env: &[(&str, String)],
    log: &std::path::Path,
) -> (Child, String) {
    let file = std::fs::File::create(log).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "debug")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut file = file;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
            if let Some(rest) = line.split("addr=").nth(1) {
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("server address");
    (child, format!("http://{addr}"))
}

/// The HTTP side of the flow: every response with status >= 400 is kept for the scan.
struct Flow {
    client: reqwest::Client,
    base: String,
    errors: Vec<String>,
}

impl Flow {
    async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        if status.as_u16() >= 400 {
            self.errors.push(text.clone());
        }
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        )
    }

    async fn post(&mut self, path: &str, bearer: &str, body: Value) -> (StatusCode, Value) {
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(bearer)
            .json(&body);
        let (status, body, _) = self.send(request).await;
        (status, body)
    }

    async fn get(&mut self, path: &str, bearer: &str) -> (StatusCode, Value) {
        let request = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(bearer);
        let (status, body, _) = self.send(request).await;
        (status, body)
    }
}

fn created(reply: (StatusCode, Value), pointer: &str) -> String {
    assert!(reply.0.is_success(), "{}: {}", reply.0, reply.1);
    reply
        .1
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer}: {}", reply.1))
        .to_owned()
}

/// The secret part of `<prefix><keyId>.<secret>`.
fn secret_part(credential: &str) -> String {
    credential.rsplit('.').next().unwrap().to_owned()
}

/// A credential with the same key id and another secret of the same shape.
fn wrong_secret(credential: &str) -> String {
    let (head, secret) = credential.rsplit_once('.').unwrap();
    let flipped: String = secret.chars().rev().collect();
    format!("{head}.{flipped}")
}

async fn wait_completed(flow: &mut Flow, key: &str, purchase_id: &str) -> String {
    for _ in 0..200 {
        let (_, body) = flow
            .get(&format!("/v1/agent/purchases/{purchase_id}"), key)
            .await;
        if body["purchase"]["status"] == "completed" {
            return body["purchase"]["serviceId"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("purchase {purchase_id} did not complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_issued_or_attempted_secret_appears_in_logs_database_audit_errors_or_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (upstream_url, seen) = start_upstream().await;
    let upstream_key = random("sk-upstream-");
    let server_secret = random("server-secret-");
    let password = random("pw-owner-");
    let env = vec![
        ("AGENT_STORE_SERVER_SECRET", server_secret.clone()),
        (UPSTREAM_KEY_ENV, upstream_key.clone()),
    ];
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[router]\n[[router.upstreams]]\nname = \"mock\"\nbase_url = \"{upstream_url}\"\napi_key_env = \"{UPSTREAM_KEY_ENV}\"\n\
             [[router.upstreams.models]]\nid = \"m-ok\"\nupstream_model = \"ok\"\ninput_price_micro_per_million = 1000000\n\
             output_price_micro_per_million = 1000000\ncontext_tokens = 10000\nmax_output_tokens = 100\n\
             [[router.upstreams.models]]\nid = \"m-echo\"\nupstream_model = \"echo-key\"\ninput_price_micro_per_million = 1000000\n\
             output_price_micro_per_million = 1000000\ncontext_tokens = 10000\nmax_output_tokens = 100\n\
             [[router.upstreams.models]]\nid = \"m-echo-stream\"\nupstream_model = \"echo-key-stream\"\ninput_price_micro_per_million = 1000000\n\
             output_price_micro_per_million = 1000000\ncontext_tokens = 10000\nmax_output_tokens = 100\n\
             [[router.upstreams.models]]\nid = \"m-echo-400\"\nupstream_model = \"echo-key-400\"\ninput_price_micro_per_million = 1000000\n\
             output_price_micro_per_million = 1000000\ncontext_tokens = 10000\nmax_output_tokens = 100\n"
        ),
    )
    .unwrap();

    // The CLI issues the password and the first account token.
    let email = "secrets@example.com";
    cli(
        dir.path(),
        &env,
        &[
            "account",
            "create",
            "--email",
            email,
            "--password",
            &password,
        ],
    );
    let cli_token = created(
        (
            StatusCode::OK,
            cli(
                dir.path(),
                &env,
                &["token", "create", "--account", email, "--label", "cli"],
            ),
        ),
        "/accountToken/token",
    );
    cli(
        dir.path(),
        &env,
        &["wallet", "fund", "--account", email, "--amount-usd", "100"],
    );

    let log = dir.path().join("server.log");
    let (child, base) = spawn_logged(dir.path(), &config, &env, &log);
    let mut flow = Flow {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base,
        errors: Vec::new(),
    };

    let api_token = created(
        flow.post("/v1/account/tokens", &cli_token, json!({"label": "api"}))
            .await,
        "/accountToken/token",
    );
    let agent_id = created(
        flow.post("/v1/account/agents", &api_token, json!({"name": "scanner"}))
            .await,
        "/agent/id",
    );
    let agent_key = created(
        flow.post(
            &format!("/v1/account/agents/{agent_id}/keys"),
            &api_token,
            json!({"label": "main"}),
        )
        .await,
        "/apiKey/key",
    );
    let revoked_key_reply = flow
        .post(
            &format!("/v1/account/agents/{agent_id}/keys"),
            &api_token,
            json!({"label": "to-revoke"}),
        )
        .await;
    let revoked_key = created(revoked_key_reply.clone(), "/apiKey/key");
    let revoked_key_id = created(revoked_key_reply, "/apiKey/id");
    let (status, _, _) = flow
        .send(
            flow.client
                .delete(format!(
                    "{}/v1/account/agents/{agent_id}/keys/{revoked_key_id}",
                    flow.base
                ))
                .bearer_auth(&api_token),
        )
        .await;
    assert!(status.is_success(), "{status}");

    // Router credits, a router key, chat through the upstream (its key in play), and the upstream's
    // key-echoing errors.
    let purchase = created(
        flow.post(
            "/v1/agent/purchases",
            &agent_key,
            json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
            "configuration": {"creditAmountUsd": 5}, "idempotencyKey": "router-1"}),
        )
        .await,
        "/purchase/id",
    );
    let router_service = wait_completed(&mut flow, &agent_key, &purchase).await;
    let router_key = created(
        flow.post(
            &format!("/v1/agent/services/{router_service}/router/api-keys"),
            &agent_key,
            json!({"label": "prod"}),
        )
        .await,
        "/routerApiKey/key",
    );
    let chat =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hello"}]});
    let (status, body) = flow
        .post("/openai/v1/chat/completions", &router_key, chat("m-ok"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = flow
        .post("/openai/v1/chat/completions", &router_key, chat("m-echo"))
        .await;
    assert!(status.is_client_error() || status.is_server_error());
    let (status, _) = flow
        .post(
            "/openai/v1/chat/completions",
            &router_key,
            chat("m-echo-400"),
        )
        .await;
    assert!(status.is_client_error() || status.is_server_error());
    // A streamed answer whose upstream quotes the key in an error event: the event is relayed with
    // the key removed.
    let mut streamed = chat("m-echo-stream");
    streamed["stream"] = json!(true);
    let relayed = flow
        .client
        .post(format!("{}/openai/v1/chat/completions", flow.base))
        .bearer_auth(&router_key)
        .json(&streamed)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(relayed.contains("[redacted]"), "{relayed}");
    flow.errors.push(relayed);
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|auth| auth.contains(&upstream_key)),
        "the upstream received the configured key, so the scan below is meaningful"
    );

    // Object storage and a bucket credential.
    let purchase = created(
        flow.post("/v1/agent/purchases", &agent_key, json!({"catalogItemId": "cat_storage_object_001", "quantity": 1,
            "configuration": {"region": "us-east", "storageClass": "object", "capacityGb": 10}, "idempotencyKey": "bucket-1"})).await,
        "/purchase/id",
    );
    let bucket = wait_completed(&mut flow, &agent_key, &purchase).await;
    let bucket_secret = created(
        flow.post(
            &format!("/v1/agent/services/{bucket}/storage/bucket-credentials"),
            &agent_key,
            json!({"label": "ci", "access": "read_write"}),
        )
        .await,
        "/credentials/secretAccessKey",
    );

    // The MCP endpoint with the agent key.
    let (status, _, _) = flow
        .send(flow.client.post(format!("{}/mcp", flow.base)).bearer_auth(&agent_key)
            .header("accept", "application/json, text/event-stream")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "wallet_get", "arguments": {}}})))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Dashboard sign-in: a wrong password first, then the right one.
    let wrong_password = random("pw-wrong-");
    for attempt in [&wrong_password, &password] {
        let login = flow
            .client
            .get(format!("{}/dashboard/login", flow.base))
            .send()
            .await
            .unwrap();
        let csrf_cookie = login
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("agent_store_login_csrf="))
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let page = login.text().await.unwrap();
        let start = page.find("name=\"csrf\" value=\"").unwrap() + 19;
        let csrf = page[start..].split('"').next().unwrap().to_owned();
        let form = format!(
            "email={}&password={}&csrf={csrf}",
            email.replace('@', "%40"),
            attempt
        );
        let (status, _, headers) = flow
            .send(
                flow.client
                    .post(format!("{}/dashboard/login", flow.base))
                    .header(COOKIE, &csrf_cookie)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form),
            )
            .await;
        if attempt == &password {
            assert_eq!(status, StatusCode::SEE_OTHER);
            assert!(headers.get_all(SET_COOKIE).iter().any(|v| {
                v.to_str()
                    .unwrap_or_default()
                    .starts_with("agent_store_session=")
            }));
        } else {
            assert_ne!(status, StatusCode::SEE_OTHER);
        }
    }

    // Wrong secrets of every kind, on every surface.
    let wrong = vec![
        wrong_secret(&agent_key),
        wrong_secret(&api_token),
        wrong_secret(&router_key),
        format!("ask_live_key_{}.{}", random(""), random("fakesecret")),
        revoked_key.clone(),
    ];
    for bad in &wrong {
        for path in [
            "/v1/agent/wallet",
            "/v1/account/wallet",
            "/openai/v1/models",
        ] {
            let (status, _) = flow.get(path, bad).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        }
    }
    // Credentials presented where they do not belong.
    for (path, bearer) in [
        ("/v1/agent/wallet", &api_token),
        ("/v1/account/wallet", &agent_key),
        ("/openai/v1/models", &agent_key),
        ("/v1/agent/wallet", &router_key),
    ] {
        let (status, _) = flow.get(path, bearer).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    // Audit events (every page) and metrics.
    let mut audit = String::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/account/audit-events?limit=100&cursor={c}"),
            None => "/v1/account/audit-events?limit=100".to_owned(),
        };
        let (status, body) = flow.get(&path, &api_token).await;
        assert_eq!(status, StatusCode::OK);
        audit.push_str(&body.to_string());
        match body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert!(audit.contains("evt_"), "the audit log has events to scan");
    let metrics = flow
        .client
        .get(format!("{}/metrics", flow.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("# TYPE"), "metrics to scan");

    let db = dir.path().join("agent-store.db");
    let read = |path: &std::path::Path| std::fs::read(path).unwrap_or_default();
    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("audit events".into(), audit.into_bytes()),
        ("metrics".into(), metrics.into_bytes()),
        ("error bodies".into(), flow.errors.join("\n").into_bytes()),
    ];
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        places.push((format!("agent-store.db{suffix} (running)"), read(&path)));
    }
    common::process::stop(child);
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        places.push((format!("agent-store.db{suffix} (stopped)"), read(&path)));
    }
    let log_text = read(&log);
    assert!(
        String::from_utf8_lossy(&log_text).contains("DEBUG"),
        "debug logging was on"
    );
    places.push(("server log".into(), log_text));
    assert!(!places[3].1.is_empty(), "the database file exists");
    assert!(
        flow.errors.len() >= 20,
        "error bodies collected: {}",
        flow.errors.len()
    );

    let mut secrets: Vec<(&str, String)> = vec![
        ("server secret", server_secret),
        ("owner password", password),
        ("wrong password", wrong_password),
        ("upstream API key", upstream_key),
        ("bucket secret", bucket_secret),
    ];
    for (what, credential) in [
        ("CLI account token", &cli_token),
        ("API account token", &api_token),
        ("agent key", &agent_key),
        ("revoked agent key", &revoked_key),
        ("router key", &router_key),
    ] {
        secrets.push((what, secret_part(credential)));
    }
    for bad in &wrong {
        secrets.push(("wrong secret", secret_part(bad)));
    }
    let mut hits = Vec::new();
    for (what, secret) in &secrets {
        assert!(
            secret.len() >= 16,
            "{what} is long enough to be searched for"
        );
        for (place, bytes) in &places {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                hits.push(format!("{what} found in {place}"));
            }
        }
    }
    assert!(hits.is_empty(), "secrets leaked:\n{}", hits.join("\n"));
    println!(
        "secrets scan: {} secrets x {} places = {} scans, 0 hits ({} error bodies, {} log bytes)",
        secrets.len(),
        places.len(),
        secrets.len() * places.len(),
        flow.errors.len(),
        places.last().map(|p| p.1.len()).unwrap_or_default()
    );
}
