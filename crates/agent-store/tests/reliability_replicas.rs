//! Replicas (issue 9, section 2): three `serve` processes of the real binary share one PostgreSQL
//! database (the first migrates and seeds the demo account, the others start after it), and the test
//! client spreads concurrent load across them. Checked exactly: (a) a daily spend limit admits exactly
//! its worth of purchases; (b) the wallet is never overdrawn and ends at funding minus the purchases
//! made; (c) router chat completions never spend more than the service's credits and the books match
//! the charges; (d) one idempotency key sent to every replica at once makes one purchase that every
//! reply names; (e) an agent key revoked through one replica is refused by the others on the very next
//! request. Every money invariant holds afterwards and nothing is left provisioning or reserved.
//! PostgreSQL only: skipped (with a message) when AGENT_STORE_TEST_POSTGRES_URL is unset.

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
use std::time::{Duration, Instant};

use reliability_support::{
    Answer, ServerProc, client, open_store, problems_at_rest, read_demo, send, wait_until_settled,
};
use reqwest::Method;
use serde_json::{Value, json};

const REPLICAS: usize = 3;
/// The router model's price: every answer costs, and reserves, exactly 0.50 USD (20 completion tokens
/// at 25,000 micro-USD each; prompts are free).
const CHAT_COST_MICRO: i64 = 500_000;

/// Send every request at once; answers in request order (`None`: no answer).
async fn burst(
    http: &reqwest::Client,
    requests: Vec<(Method, String, String, Option<Value>)>,
) -> Vec<Option<Answer>> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(method, url, bearer, body)| {
            let http = http.clone();
            tokio::spawn(async move { send(&http, method, &url, &bearer, body.as_ref()).await })
        })
        .collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.expect("a request task panicked"));
    }
    out
}

/// Status code counts; a missing answer counts as 0.
fn statuses(answers: &[Option<Answer>]) -> BTreeMap<u16, usize> {
    let mut out = BTreeMap::new();
    for a in answers {
        *out.entry(a.as_ref().map_or(0, |a| a.status)).or_default() += 1;
    }
    out
}

async fn must(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    bearer: &str,
    body: Option<Value>,
) -> Value {
    let a = send(http, method, url, bearer, body.as_ref())
        .await
        .unwrap_or_else(|| panic!("no answer from {url}"));
    assert!(a.status < 300, "{url}: {} {}", a.status, a.text);
    a.json()
}

/// The available wallet balance in cents, as one replica reports it.
async fn available(http: &reqwest::Client, base: &str, key: &str) -> i64 {
    must(
        http,
        Method::GET,
        &format!("{base}/v1/agent/wallet"),
        key,
        None,
    )
    .await["wallet"]["availableMinor"]
        .as_i64()
        .unwrap()
}

fn storage_purchase(key: &str) -> Value {
    json!({"catalogItemId": "cat_storage_object_001", "quantity": 1, "idempotencyKey": key,
           "configuration": {"region": "us-east", "storageClass": "object", "capacityGb": 250}})
}

fn server_purchase(key: &str) -> Value {
    json!({"catalogItemId": "cat_vps_micro", "quantity": 1, "idempotencyKey": key,
           "configuration": {"hostname": "replica-node", "region": "eu-west", "image": "ubuntu-24.04",
                             "billingTermMonths": 1, "backupsEnabled": true}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_one_postgres_keep_limits_balances_credits_keys_and_revocations_exact() {
    let Some(server_url) = agent_store_store::test_support::postgres_url() else {
        eprintln!("skipped: reliability_replicas needs AGENT_STORE_TEST_POSTGRES_URL (CI sets it)");
        return;
    };
    let started = Instant::now();
    let database = agent_store_store::test_support::fresh_postgres_database(&server_url)
        .await
        .unwrap();
    let mock = router_support::start_mock().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let config = data.join("replicas.toml");
    std::fs::write(
        &config,
        format!(
            r#"[router]
[[router.upstreams]]
name = "mock"
base_url = "{}"
[[router.upstreams.models]]
id = "m-credit"
upstream_model = "mock-ok"
input_price_micro_per_million = 0
output_price_micro_per_million = 25000000000
context_tokens = 100000
max_output_tokens = 20
"#,
            mock.base_url
        ),
    )
    .unwrap();
    let args = |demo: bool| -> Vec<String> {
        let mut a = vec![
            "--database-url".to_owned(),
            database.clone(),
            "--config".to_owned(),
            config.to_str().unwrap().to_owned(),
        ];
        if demo {
            a.insert(0, "--demo".to_owned());
        }
        a
    };
    let env: Vec<(String, String)> = [
        ("AGENT_STORE_LIMITS__RATE_LIMIT_PER_SECOND", "10000"),
        ("AGENT_STORE_LIMITS__RATE_LIMIT_BURST", "10000"),
        ("AGENT_STORE_JOBS__POLL_INTERVAL_MS", "100"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    // The first process migrates and seeds; the others start on the migrated database and share the
    // data directory, hence the server secret that hashes credentials.
    let mut replicas = vec![ServerProc::start(data, args(true), env.clone()).await];
    let demo = read_demo(data).await;
    for _ in 1..REPLICAS {
        replicas.push(ServerProc::start(data, args(false), env.clone()).await);
    }
    let bases: Vec<String> = replicas.iter().map(|r| r.base.clone()).collect();
    let on = |i: usize| bases[i % REPLICAS].clone();
    let key = demo["agentApiKey"].as_str().unwrap().to_owned();
    let token = demo["accountToken"].as_str().unwrap().to_owned();
    let agent_id = demo["agentId"].as_str().unwrap().to_owned();
    let http = client();
    let mut checks = Vec::new();

    // (a) A daily limit of 60 storage purchases' worth, set through replica 2; 150 purchases spread
    // over the three replicas.
    must(
        &http,
        Method::POST,
        &format!("{}/v1/account/wallet/fundings", on(2)),
        &token,
        Some(json!({"amountMinor": 200_000, "idempotencyKey": "replicas-funding"})),
    )
    .await;
    let funded = 10_000 + 200_000;
    must(
        &http,
        Method::PUT,
        &format!("{}/v1/account/policy", on(1)),
        &token,
        Some(json!({"dailySpendLimitMinor": 30_000})),
    )
    .await;
    let answers = burst(
        &http,
        (0..150)
            .map(|i| {
                (
                    Method::POST,
                    format!("{}/v1/agent/purchases", on(i)),
                    key.clone(),
                    Some(storage_purchase(&format!("limit-{i}"))),
                )
            })
            .collect(),
    )
    .await;
    assert_eq!(
        statuses(&answers),
        BTreeMap::from([(201, 60), (403, 90)]),
        "the daily limit admits exactly 60 purchases across replicas"
    );
    let effective = must(
        &http,
        Method::GET,
        &format!("{}/v1/agent/policies/effective", on(0)),
        &key,
        None,
    )
    .await;
    assert_eq!(effective["usage"]["spentTodayMinor"], 30_000, "{effective}");
    checks.push("(a) daily limit 30,000: 150 concurrent purchases, exactly 60 admitted".to_owned());
    must(
        &http,
        Method::PUT,
        &format!("{}/v1/account/policy", on(0)),
        &token,
        Some(json!({})),
    )
    .await;

    // (c) Router credits of 5 USD: 40 completions across the replicas, each costing 0.50 USD.
    let bought = must(
        &http,
        Method::POST,
        &format!("{}/v1/agent/purchases", on(0)),
        &key,
        Some(json!({"catalogItemId": "cat_router_credit_001", "quantity": 1, "idempotencyKey": "replica-credits",
                    "configuration": {"creditAmountUsd": 5}})),
    )
    .await;
    let purchase_id = bought["purchase"]["id"].as_str().unwrap().to_owned();
    let mut service_id = String::new();
    for _ in 0..150 {
        let p = must(
            &http,
            Method::GET,
            &format!("{}/v1/agent/purchases/{purchase_id}", on(1)),
            &key,
            None,
        )
        .await["purchase"]
            .clone();
        if p["status"] == "completed" {
            service_id = p["serviceId"].as_str().unwrap().to_owned();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !service_id.is_empty(),
        "the router credits were provisioned"
    );
    let minted = must(
        &http,
        Method::POST,
        &format!("{}/v1/agent/services/{service_id}/router/api-keys", on(2)),
        &key,
        Some(json!({"label": "replicas"})),
    )
    .await;
    let router_key = minted["routerApiKey"]["key"].as_str().unwrap().to_owned();
    let answers = burst(
        &http,
        (0..40)
            .map(|i| {
                let stream = i % 2 == 1;
                (
                    Method::POST,
                    format!("{}/openai/v1/chat/completions", on(i)),
                    router_key.clone(),
                    Some(json!({"model": "m-credit", "stream": stream,
                                "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null },
                                "messages": [{"role": "user", "content": format!("replica {i}")}]})),
                )
            })
            .collect(),
    )
    .await;
    let chat_statuses = statuses(&answers);
    let served = chat_statuses.get(&200).copied().unwrap_or(0);
    assert!(
        chat_statuses.keys().all(|s| *s == 200 || *s == 402),
        "chat completions are served or refused for credits: {chat_statuses:?} {:?}",
        answers
            .iter()
            .flatten()
            .find(|a| a.status != 200 && a.status != 402)
    );
    assert!(
        (1..=10).contains(&served),
        "5 USD pays for at most 10 answers of 0.50 USD, served {served}"
    );
    let store = open_store(&database).await;
    wait_until_settled(&store, Duration::from_secs(30)).await;
    let spent = reliability_support::count(
        &store,
        &format!("SELECT CAST(COALESCE(SUM(cost_micro), 0) AS BIGINT) FROM router_requests WHERE service_id = '{service_id}'"),
    )
    .await;
    let balance = agent_store_store::ledger::balance(
        store.pool(),
        &agent_store_store::ledger::service_account(&service_id),
    )
    .await
    .unwrap();
    assert_eq!(
        spent,
        i64::try_from(served).unwrap() * CHAT_COST_MICRO,
        "each served answer charged exactly once"
    );
    assert_eq!(
        balance,
        5_000_000 - spent,
        "the credits left are the credits bought minus the charges"
    );
    checks.push(format!(
        "(c) router credits 5 USD: 40 concurrent completions at 0.50 USD, {served} served, {} refused, {spent} micro-USD charged, {balance} left",
        40 - served
    ));

    // (d) One idempotency key sent to every replica at once.
    let answers = burst(
        &http,
        (0..30)
            .map(|i| {
                (
                    Method::POST,
                    format!("{}/v1/agent/purchases", on(i)),
                    key.clone(),
                    Some(storage_purchase("replicas-shared-key")),
                )
            })
            .collect(),
    )
    .await;
    assert_eq!(statuses(&answers), BTreeMap::from([(201, 30)]));
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .flatten()
        .map(|a| a.json()["purchase"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "every reply names the same purchase: {ids:?}");
    let made = reliability_support::count(
        &store,
        "SELECT COUNT(*) FROM purchases WHERE idempotency_key = 'replicas-shared-key'",
    )
    .await;
    assert_eq!(made, 1, "one purchase for the key");
    checks.push(
        "(d) one key sent 30 times at once across the replicas: one purchase, 30 replies naming it"
            .to_owned(),
    );

    // (b) Drain the wallet with server purchases (2400 each, more than it can pay).
    let before = available(&http, &on(0), &key).await;
    let affordable = usize::try_from(before / 2400).unwrap();
    let tries = affordable + 40;
    let answers = burst(
        &http,
        (0..tries)
            .map(|i| {
                (
                    Method::POST,
                    format!("{}/v1/agent/purchases", on(i)),
                    key.clone(),
                    Some(server_purchase(&format!("drain-{i}"))),
                )
            })
            .collect(),
    )
    .await;
    assert_eq!(
        statuses(&answers),
        BTreeMap::from([(201, affordable), (402, 40)]),
        "the wallet pays for exactly {affordable} servers of 2400 out of {before}"
    );
    for base in &bases {
        assert_eq!(
            available(&http, base, &key).await,
            before - 2400 * i64::try_from(affordable).unwrap(),
            "every replica reports the same balance"
        );
    }
    wait_until_settled(&store, Duration::from_secs(60)).await;
    let purchased = reliability_support::count(
        &store,
        "SELECT CAST(COALESCE(SUM(total_price_minor), 0) AS BIGINT) FROM purchases WHERE status IN ('provisioning', 'completed')",
    )
    .await;
    let left = available(&http, &on(1), &key).await;
    assert_eq!(
        left,
        funded - purchased,
        "the wallet is funding minus the purchases made"
    );
    checks.push(format!(
        "(b) wallet {before}: {tries} concurrent purchases of 2400, exactly {affordable} paid, {left} left = funded {funded} - purchases {purchased}"
    ));

    // (e) A key revoked through replica 1 is refused by the others on their very next request.
    let created = must(
        &http,
        Method::POST,
        &format!("{}/v1/account/agents/{agent_id}/keys", on(0)),
        &token,
        Some(json!({"label": "revocable"})),
    )
    .await;
    let doomed = created["apiKey"]["key"].as_str().unwrap().to_owned();
    let key_id = doomed
        .strip_prefix("ask_live_")
        .and_then(|k| k.split('.').next())
        .unwrap()
        .to_owned();
    for base in &bases {
        available(&http, base, &doomed).await;
    }
    must(
        &http,
        Method::DELETE,
        &format!("{}/v1/account/agents/{agent_id}/keys/{key_id}", on(0)),
        &token,
        None,
    )
    .await;
    for base in &bases {
        let refused = send(
            &http,
            Method::GET,
            &format!("{base}/v1/agent/wallet"),
            &doomed,
            None,
        )
        .await
        .expect("an answer");
        assert_eq!(refused.status, 401, "{base}: {}", refused.text);
    }
    checks.push(
        "(e) key revoked through replica 1: 401 from all 3 replicas on the next request".to_owned(),
    );

    for r in &mut replicas {
        r.stop();
    }
    let problems = problems_at_rest(&store).await;
    assert!(
        problems.is_empty(),
        "after the replica runs:\n{}",
        problems.join("\n")
    );
    store.close().await;
    eprintln!(
        "reliability_replicas: {REPLICAS} replicas, {:.1} s\n  {}",
        started.elapsed().as_secs_f64(),
        checks.join("\n  ")
    );
}
