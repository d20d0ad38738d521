//! Crash recovery under load (issue 9, section 1): a bounded mixed workload runs against the real
//! `agent-store` binary from several concurrent clients (keyed purchases, some auto-allowed and some
//! held for approval under the account policy, approvals by the owner, keyed phone top-ups, router
//! chat completions and streams on the sandbox model and a mock upstream) while the process is killed
//! with SIGKILL at random moments (seeded: the seed is printed, `RELIABILITY_SEED` replays it)
//! and restarted on the same database, twenty times.
//!
//! Clients behave as real ones: a request that got no answer is retried with the same idempotency key
//! until one arrives, and the first answer is recorded. After the last restart and once the
//! provisioning worker and the router sweeper are done (polled, bounded): every key replays its first
//! answer byte for byte (a key never answered replays as anything valid), each key made exactly one
//! purchase or top-up, no purchase is left provisioning or pending, no router request is left
//! reserved, every `reserved:<svc>` balance is zero, no service was provisioned twice, and every money
//! invariant holds. Runs on SQLite, and on PostgreSQL when AGENT_STORE_TEST_POSTGRES_URL is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;
mod reliability_support;
mod router_support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use reliability_support::{
    Answer, Rng, ServerProc, client, open_store, problems_at_rest, read_demo, send, status_counts,
    wait_until_settled,
};
use reqwest::Method;
use serde_json::{Value, json};

/// SIGKILLs during the workload.
const KILLS: usize = 20;
/// Milliseconds between kills: uniform in this range.
const KILL_GAP_MS: (u64, u64) = (300, 1500);

/// A keyed request and the first answer its client saw.
#[derive(Debug, Clone)]
struct Keyed {
    kind: &'static str,
    key: String,
    path: String,
    bearer: String,
    body: Value,
    /// The first answer; `None` when the client gave up without one.
    first: Option<Answer>,
    /// Attempts that got no answer before the first one did (the server died under them).
    unanswered: u32,
}

/// What the clients share: the current server address, the stop flag, the records and counters.
#[derive(Default)]
struct Shared {
    base: RwLock<String>,
    stop: AtomicBool,
    /// Set once the purchasers have stopped: the approver then empties the queue and returns.
    approver_stop: AtomicBool,
    records: Mutex<Vec<Keyed>>,
    server_errors: Mutex<Vec<String>>,
    chats_complete: AtomicU64,
    chats_cut: AtomicU64,
    chats_refused: AtomicU64,
}

impl Shared {
    fn base(&self) -> String {
        self.base.read().unwrap().clone()
    }
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Send a keyed POST, retrying with the same key until an answer arrives (bounded: 90 s), and record
/// the first answer.
async fn keyed_post(
    shared: &Shared,
    http: &reqwest::Client,
    kind: &'static str,
    key: String,
    path: String,
    bearer: &str,
    body: Value,
) -> Option<Answer> {
    let started = Instant::now();
    let mut unanswered = 0;
    let first = loop {
        let url = format!("{}{path}", shared.base());
        match send(http, Method::POST, &url, bearer, Some(&body)).await {
            Some(answer) => break Some(answer),
            None if started.elapsed() > Duration::from_secs(90) => break None,
            None => {
                unanswered += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    if let Some(a) = &first
        && a.status >= 500
    {
        shared
            .server_errors
            .lock()
            .unwrap()
            .push(format!("{kind} {key}: {} {}", a.status, a.text));
    }
    shared.records.lock().unwrap().push(Keyed {
        kind,
        key,
        path,
        bearer: bearer.to_owned(),
        body,
        first: first.clone(),
        unanswered,
    });
    first
}

fn storage_config() -> Value {
    json!({"region": "us-east", "storageClass": "object", "capacityGb": 250})
}

fn server_config(i: u64) -> Value {
    json!({"hostname": format!("crash-node-{i}"), "region": "eu-west", "image": "ubuntu-24.04",
           "billingTermMonths": 1, "backupsEnabled": true})
}

/// Keyed purchases: storage (500, allowed at once) or a server (2400, held for approval).
async fn purchaser(shared: Arc<Shared>, agent_key: String, task: u64, seed: u64) {
    let http = client();
    let mut rng = Rng::new(seed ^ (task + 1).wrapping_mul(0x1234_5678_9abc));
    let mut i = 0;
    while !shared.stopping() {
        i += 1;
        let (item, configuration) = if rng.range(0, 3) == 0 {
            ("cat_vps_micro", server_config(task * 10_000 + i))
        } else {
            ("cat_storage_object_001", storage_config())
        };
        let key = format!("t{task}-p{i}");
        let body = json!({"catalogItemId": item, "quantity": 1, "configuration": configuration,
                          "idempotencyKey": key});
        keyed_post(
            &shared,
            &http,
            "purchase",
            key,
            "/v1/agent/purchases".to_owned(),
            &agent_key,
            body,
        )
        .await;
        // The sandbox worker provisions one job at a time: keep the queue short enough to drain.
        tokio::time::sleep(Duration::from_millis(rng.range(100, 400))).await;
    }
}

/// Approve every purchase waiting for approval (one key per purchase). Returns when the queue is
/// empty after the stop flag.
async fn approver(shared: Arc<Shared>, token: String) {
    let http = client();
    let mut approved = std::collections::BTreeSet::new();
    loop {
        let stopping = shared.approver_stop.load(Ordering::SeqCst);
        let url = format!("{}/v1/account/approvals?limit=100", shared.base());
        let Some(list) = send(&http, Method::GET, &url, &token, None).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let ids: Vec<String> = list.json()["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|p| p["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if stopping && list.status == 200 && ids.is_empty() {
            return;
        }
        for id in ids {
            if !approved.insert(id.clone()) {
                continue;
            }
            let key = format!("approve-{id}");
            keyed_post(
                &shared,
                &http,
                "approval",
                key.clone(),
                format!("/v1/account/purchases/{id}/approve"),
                &token,
                json!({"idempotencyKey": key}),
            )
            .await;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Keyed phone top-ups of 1 USD.
async fn topper(shared: Arc<Shared>, agent_key: String, phone: String) {
    let http = client();
    let mut i = 0;
    while !shared.stopping() {
        i += 1;
        let key = format!("topup-{i}");
        keyed_post(
            &shared,
            &http,
            "topup",
            key.clone(),
            format!("/v1/agent/services/{phone}/phone/topup"),
            &agent_key,
            json!({"amountUsd": 1, "idempotencyKey": key}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Chat completions and streams: the sandbox model, a quick mock model and a slow mock stream (40
/// chunks over about a second, so kills land mid-stream).
async fn chatter(shared: Arc<Shared>, router_key: String, task: u64, seed: u64) {
    let http = client();
    let mut rng = Rng::new(seed ^ (task + 7).wrapping_mul(0x9876_5432_10fe));
    while !shared.stopping() {
        let (model, stream) = match rng.range(0, 5) {
            0 => ("sandbox/echo", false),
            1 => ("sandbox/echo", true),
            2 => ("m-ok", false),
            3 => ("m-ok", true),
            _ => ("m-slow", true),
        };
        let mut body = json!({"model": model, "stream": stream,
                              "messages": [{"role": "user", "content": format!("crash test {task}")}]});
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
        let url = format!("{}/openai/v1/chat/completions", shared.base());
        match send(&http, Method::POST, &url, &router_key, Some(&body)).await {
            Some(a) if a.status == 200 && (!stream || a.text.contains("[DONE]")) => {
                shared.chats_complete.fetch_add(1, Ordering::SeqCst);
            }
            Some(a) if a.status == 200 => {
                shared.chats_cut.fetch_add(1, Ordering::SeqCst);
            }
            Some(a) => {
                if a.status >= 500 {
                    shared
                        .server_errors
                        .lock()
                        .unwrap()
                        .push(format!("chat {model}: {} {}", a.status, a.text));
                }
                shared.chats_refused.fetch_add(1, Ordering::SeqCst);
            }
            None => {
                shared.chats_cut.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The router configuration: a mock upstream serving `m-ok` and `m-slow`, and a sweeper that treats
/// reservations older than 2 s as left by a crash.
fn router_toml(mock: &router_support::Mock) -> String {
    let model = |id: &str, upstream: &str| {
        format!(
            r#"[[router.upstreams.models]]
id = "{id}"
upstream_model = "{upstream}"
input_price_micro_per_million = 1000000
output_price_micro_per_million = 2000000
context_tokens = 100000
max_output_tokens = 1000
"#
        )
    };
    format!(
        "[router]\nsweep_after_seconds = 2\nlease_stale_seconds = 2\nstream_idle_timeout_seconds = 5\n[[router.upstreams]]\nname = \"mock\"\nbase_url = \"{}\"\n{}{}",
        mock.base_url,
        model("m-ok", "mock-ok"),
        model("m-slow", "mock-slow")
    )
}

/// A keyed POST during setup (no kills yet) that must succeed.
async fn setup_post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    bearer: &str,
    body: Value,
) -> Value {
    let answer = send(
        http,
        Method::POST,
        &format!("{base}{path}"),
        bearer,
        Some(&body),
    )
    .await
    .unwrap_or_else(|| panic!("no answer to {path}"));
    assert!(
        answer.status == 200 || answer.status == 201,
        "{path}: {} {}",
        answer.status,
        answer.text
    );
    answer.json()
}

/// Poll a purchase (bounded) until it leaves `provisioning`.
async fn settled(http: &reqwest::Client, base: &str, key: &str, id: &str) -> Value {
    for _ in 0..150 {
        let a = send(
            http,
            Method::GET,
            &format!("{base}/v1/agent/purchases/{id}"),
            key,
            None,
        )
        .await
        .expect("the server answers");
        let purchase = a.json()["purchase"].clone();
        if purchase["status"] != "provisioning" {
            return purchase;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("purchase {id} still provisioning after 15 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_approvals_topups_and_router_streams_survive_twenty_kills_with_nothing_lost_or_doubled()
 {
    let started = Instant::now();
    let seed = Rng::seed_from_env_or_clock();
    let backend = if agent_store_store::test_support::postgres_url().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    eprintln!(
        "reliability_crash: backend {backend}, seed {seed} (RELIABILITY_SEED={seed} replays it)"
    );
    let mut rng = Rng::new(seed);
    let mock = router_support::start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let url = agent_store_store::test_support::fresh_database_url(data)
        .await
        .unwrap();
    let config = data.join("crash.toml");
    std::fs::write(&config, router_toml(&mock)).unwrap();
    let args: Vec<String> = [
        "--demo",
        "--database-url",
        url.as_str(),
        "--config",
        config.to_str().unwrap(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let env: Vec<(String, String)> = [
        ("AGENT_STORE_LIMITS__RATE_LIMIT_PER_SECOND", "10000"),
        ("AGENT_STORE_LIMITS__RATE_LIMIT_BURST", "10000"),
        ("AGENT_STORE_JOBS__LEASE_SECONDS", "1"),
        ("AGENT_STORE_JOBS__POLL_INTERVAL_MS", "100"),
        ("AGENT_STORE_JOBS__RETRY_BASE_MS", "100"),
        // Provisioning takes a while, so kills land while jobs are claimed and calls in flight.
        ("AGENT_STORE_SANDBOX__PROVISIONING_DELAY_MS", "150"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let mut server = ServerProc::start(data, args, env).await;
    let demo = read_demo(data).await;
    let agent_key = demo["agentApiKey"].as_str().unwrap().to_owned();
    let token = demo["accountToken"].as_str().unwrap().to_owned();
    let http = client();
    let base = server.base.clone();

    // Setup, before any kill: money, a phone number and router credits with a key, then the policy
    // that sends servers (2400) to approval while storage (500) goes through.
    setup_post(
        &http,
        &base,
        "/v1/account/wallet/fundings",
        &token,
        json!({"amountMinor": 50_000_000, "idempotencyKey": "crash-funding"}),
    )
    .await;
    let phone = setup_post(
        &http,
        &base,
        "/v1/agent/purchases",
        &agent_key,
        json!({"catalogItemId": "cat_phone_global_001", "quantity": 1, "idempotencyKey": "setup-phone",
               "configuration": {"countryCode": "US", "numberType": "local", "capabilities": ["sms", "voice"],
                                 "locality": "new-york", "initialBalanceUsd": 0}}),
    )
    .await;
    let phone = settled(
        &http,
        &base,
        &agent_key,
        phone["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(phone["status"], "completed", "{phone}");
    let phone_service = phone["serviceId"].as_str().unwrap().to_owned();
    let credits = setup_post(
        &http,
        &base,
        "/v1/agent/purchases",
        &agent_key,
        json!({"catalogItemId": "cat_router_credit_001", "quantity": 1, "idempotencyKey": "setup-credits",
               "configuration": {"creditAmountUsd": 20}}),
    )
    .await;
    let credits = settled(
        &http,
        &base,
        &agent_key,
        credits["purchase"]["id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(credits["status"], "completed", "{credits}");
    let router_service = credits["serviceId"].as_str().unwrap().to_owned();
    let minted = setup_post(
        &http,
        &base,
        &format!("/v1/agent/services/{router_service}/router/api-keys"),
        &agent_key,
        json!({"label": "crash"}),
    )
    .await;
    let router_key = minted["routerApiKey"]["key"].as_str().unwrap().to_owned();
    let policy = send(
        &http,
        Method::PUT,
        &format!("{base}/v1/account/policy"),
        &token,
        Some(&json!({"approvalRequiredAboveMinor": 2000})),
    )
    .await
    .unwrap();
    assert_eq!(policy.status, 200, "{}", policy.text);

    // The workload: two purchasers, the owner approving, one top-up client, two router clients.
    let shared = Arc::new(Shared::default());
    *shared.base.write().unwrap() = base;
    let mut tasks = Vec::new();
    for task in 0..2 {
        tasks.push(tokio::spawn(purchaser(
            shared.clone(),
            agent_key.clone(),
            task,
            seed,
        )));
        tasks.push(tokio::spawn(chatter(
            shared.clone(),
            router_key.clone(),
            task,
            seed,
        )));
    }
    let approvals = tokio::spawn(approver(shared.clone(), token.clone()));
    tasks.push(tokio::spawn(topper(
        shared.clone(),
        agent_key.clone(),
        phone_service.clone(),
    )));
    let workload_started = Instant::now();
    for kill in 1..=KILLS {
        tokio::time::sleep(Duration::from_millis(
            rng.range(KILL_GAP_MS.0, KILL_GAP_MS.1),
        ))
        .await;
        let base = server.crash_and_restart().await;
        *shared.base.write().unwrap() = base;
        eprintln!(
            "reliability_crash: kill {kill}/{KILLS} at {:.1} s, {} keyed requests so far",
            workload_started.elapsed().as_secs_f64(),
            shared.records.lock().unwrap().len()
        );
    }
    // A last stretch without kills, then stop the clients; the approver empties its queue.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    shared.stop.store(true, Ordering::SeqCst);
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(120), task)
            .await
            .expect("a client stops within 120 s")
            .expect("a client task panicked");
    }
    shared.approver_stop.store(true, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(120), approvals)
        .await
        .expect("the approver empties the queue within 120 s")
        .expect("the approver panicked");
    let workload = workload_started.elapsed();

    // Settle: the worker finishes provisioning, the sweeper returns what killed requests reserved.
    let store = open_store(&url).await;
    let settle = wait_until_settled(&store, Duration::from_secs(60)).await;

    // Replay every key against the last process.
    let records = shared.records.lock().unwrap().clone();
    let base = server.base.clone();
    let mut replayed = 0;
    let mut never_answered = 0;
    let mut retried = 0;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &records {
        *by_kind.entry(r.kind).or_default() += 1;
        if r.unanswered > 0 {
            retried += 1;
        }
        let again = send(
            &http,
            Method::POST,
            &format!("{base}{}", r.path),
            &r.bearer,
            Some(&r.body),
        )
        .await
        .unwrap_or_else(|| panic!("no answer replaying {}", r.key));
        assert!(
            again.status == 200 || again.status == 201,
            "{} {} replayed as {} {}",
            r.kind,
            r.key,
            again.status,
            again.text
        );
        match &r.first {
            Some(first) if first.status < 300 => {
                assert!(
                    again.replayed,
                    "{} {} was not replayed: {}",
                    r.kind, r.key, again.text
                );
                assert_eq!(
                    (again.status, &again.text),
                    (first.status, &first.text),
                    "{} {} replays its first answer",
                    r.kind,
                    r.key
                );
            }
            Some(first) => panic!(
                "{} {} was refused at first ({} {}) with plenty of money and no limit",
                r.kind, r.key, first.status, first.text
            ),
            None => never_answered += 1,
        }
        replayed += 1;
        if r.kind == "purchase" {
            let id = again.json()["purchase"]["id"].as_str().unwrap().to_owned();
            let rows = sqlx::query_scalar::<_, String>(
                "SELECT id FROM purchases WHERE idempotency_key = $1",
            )
            .bind(&r.key)
            .fetch_all(store.pool())
            .await
            .unwrap();
            assert_eq!(rows, vec![id], "key {} made exactly one purchase", r.key);
        }
    }
    let topups = reliability_support::count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM service_payments WHERE service_id = '{phone_service}' AND kind = 'phone_topup'"
        ),
    )
    .await;
    assert_eq!(
        usize::try_from(topups).unwrap(),
        by_kind.get("topup").copied().unwrap_or(0),
        "one top-up per key"
    );
    let purchases = reliability_support::count(
        &store,
        "SELECT COUNT(*) FROM purchases WHERE idempotency_key LIKE 't%-p%'",
    )
    .await;
    assert_eq!(
        usize::try_from(purchases).unwrap(),
        by_kind.get("purchase").copied().unwrap_or(0),
        "one purchase per key"
    );
    // Replays of keys never answered may have created work (an approval that never ran): settle again.
    wait_until_settled(&store, Duration::from_secs(60)).await;
    server.stop();

    let problems = problems_at_rest(&store).await;
    assert!(
        problems.is_empty(),
        "after {KILLS} kills:\n{}",
        problems.join("\n")
    );
    let errors = shared.server_errors.lock().unwrap().clone();
    assert!(
        errors.is_empty(),
        "5xx answers during the workload:\n{}",
        errors.join("\n")
    );
    let chats = (
        shared.chats_complete.load(Ordering::SeqCst),
        shared.chats_cut.load(Ordering::SeqCst),
        shared.chats_refused.load(Ordering::SeqCst),
    );
    assert!(chats.0 > 0, "some chat completions finished");
    let outcomes = reliability_support::pairs(
        &store,
        "SELECT outcome, COUNT(*) FROM router_requests GROUP BY outcome ORDER BY outcome",
    )
    .await;
    // A stream whose last bytes reached the client but whose process died before settling it is
    // swept at no charge (the router sends `[DONE]` before it settles): reported, not failed, as the
    // books stay exact and the customer is never charged more than once.
    let charged_ok = outcomes
        .iter()
        .find(|(o, _)| o == "ok")
        .map_or(0, |(_, n)| *n);
    let uncharged = i64::try_from(chats.0).unwrap() - charged_ok;
    eprintln!(
        "reliability_crash: backend {backend}, seed {seed}: {KILLS} kills survived; workload {:.1} s, settled in {:.1} s, total {:.1} s\n  \
         keyed requests {} ({by_kind:?}), {retried} retried after a kill, {never_answered} never answered; {replayed} keys replayed\n  \
         chat completions: {} complete, {} cut by a kill, {} refused; router requests by outcome {outcomes:?}; {uncharged} complete answers not charged\n  \
         purchases by status {:?}; services by status {:?}; jobs by status {:?}",
        workload.as_secs_f64(),
        settle.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        records.len(),
        chats.0,
        chats.1,
        chats.2,
        status_counts(&store, "purchases").await,
        status_counts(&store, "services").await,
        status_counts(&store, "jobs").await,
    );
    store.close().await;
}
