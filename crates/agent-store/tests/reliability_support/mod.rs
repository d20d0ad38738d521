//! Support for the reliability suites that drive the real `agent-store` binary: a seeded random
//! generator (the seed is printed so a failure can be replayed), a server process that can be killed
//! and restarted on the same database, an HTTP client that survives the server vanishing, and the
//! whole-database checks run after the last restart (books, stuck purchases, open router
//! reservations, reserved balances, duplicate provisioning).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use agent_store_store::{Store, StoreOptions};
use serde_json::Value;
use sqlx::Row;

use crate::common::process::{kill_hard, spawn_server_with_env, stop};

/// SplitMix64: small, seedable and good enough to place kills and pick operations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The seed from `RELIABILITY_SEED`, else one from the clock.
    pub fn seed_from_env_or_clock() -> u64 {
        std::env::var("RELIABILITY_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (hi exclusive, hi > lo).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo)
    }
}

/// One `serve` process of the real binary, restartable on the same data directory and database.
pub struct ServerProc {
    pub data: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub child: Option<Child>,
    pub base: String,
}

impl ServerProc {
    /// Start `serve` (off the async runtime: the helper blocks while it reads the log).
    pub async fn start(data: &Path, args: Vec<String>, env: Vec<(String, String)>) -> Self {
        let mut me = Self {
            data: data.to_path_buf(),
            args,
            env,
            child: None,
            base: String::new(),
        };
        me.spawn().await;
        me
    }

    async fn spawn(&mut self) {
        let (data, args, env) = (self.data.clone(), self.args.clone(), self.env.clone());
        let (child, base) = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            spawn_server_with_env(&data, &args, &env)
        })
        .await
        .expect("the server start helper panicked");
        self.child = Some(child);
        self.base = base;
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(child) = self.child.take() {
            kill_hard(child);
        }
    }

    /// SIGKILL and start again on the same database; returns the new base URL.
    pub async fn crash_and_restart(&mut self) -> String {
        self.kill();
        self.spawn().await;
        self.base.clone()
    }

    /// Graceful stop (SIGTERM, must exit 0).
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            stop(child);
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Wait (bounded) for `serve --demo` to write `demo.json`, and read it.
pub async fn read_demo(data: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(data.join("demo.json"))
            && let Ok(v) = serde_json::from_str::<Value>(&text)
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "demo.json not written within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An HTTP client whose requests give up instead of hanging on a killed server.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()
        .expect("a reqwest client")
}

/// An answer: status, replay header, body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub replayed: bool,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// Send a JSON request; `None` when no complete answer arrived (connection refused or cut).
pub async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    bearer: &str,
    body: Option<&Value>,
) -> Option<Answer> {
    let mut request = client.request(method, url).bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.ok()?;
    let status = response.status().as_u16();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let text = response.text().await.ok()?;
    Some(Answer {
        status,
        replayed,
        text,
    })
}

/// Open the database the servers use (for the checks; the servers may still run).
pub async fn open_store(url: &str) -> Store {
    Store::connect(url, &StoreOptions::default())
        .await
        .unwrap_or_else(|e| panic!("cannot open {url}: {e}"))
}

pub async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Rows of (text, i64) for a query returning two such columns.
pub async fn pairs(store: &Store, sql: &str) -> Vec<(String, i64)> {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| {
            (
                r.try_get::<String, _>(0).expect("a text column"),
                r.try_get::<i64, _>(1).expect("an integer column"),
            )
        })
        .collect()
}

/// Work left in flight: purchases provisioning, jobs not finished, router requests reserved, and
/// non-zero `reserved:<svc>` balances. Empty when everything settled.
pub async fn unsettled(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    let provisioning = count(
        store,
        "SELECT COUNT(*) FROM purchases WHERE status = 'provisioning'",
    )
    .await;
    if provisioning > 0 {
        out.push(format!("{provisioning} purchases provisioning"));
    }
    let jobs = count(
        store,
        "SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'running')",
    )
    .await;
    if jobs > 0 {
        out.push(format!("{jobs} jobs pending or running"));
    }
    let reserved = count(
        store,
        "SELECT COUNT(*) FROM router_requests WHERE status = 'reserved'",
    )
    .await;
    if reserved > 0 {
        out.push(format!("{reserved} router requests reserved"));
    }
    for (account, balance) in pairs(
        store,
        "SELECT id, balance_micro FROM ledger_accounts WHERE id LIKE 'reserved:%' AND balance_micro <> 0",
    )
    .await
    {
        out.push(format!("{account} holds {balance} micro-USD"));
    }
    out
}

/// Poll (bounded) until [`unsettled`] is empty; panics with what is left.
pub async fn wait_until_settled(store: &Store, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let left = unsettled(store).await;
        if left.is_empty() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "still unsettled after {limit:?}: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Everything that must hold once the system is at rest: the money invariants, no purchase stuck in
/// `provisioning` or `pending_approval`, no open router reservation, every `reserved:` balance zero,
/// one service per purchased unit, no provider resource behind two services, every completed
/// purchase's services active, every job done. Returns the problems found.
pub async fn problems_at_rest(store: &Store) -> Vec<String> {
    let mut problems = agent_store_store::invariants::check(store.pool())
        .await
        .expect("the invariants check runs");
    problems.extend(unsettled(store).await);
    let pending = count(
        store,
        "SELECT COUNT(*) FROM purchases WHERE status = 'pending_approval'",
    )
    .await;
    if pending > 0 {
        problems.push(format!("{pending} purchases still pending approval"));
    }
    for (purchase, n) in pairs(
        store,
        "SELECT p.id, COUNT(s.id) FROM purchases p JOIN services s ON s.purchase_id = p.id
         GROUP BY p.id, p.quantity HAVING COUNT(s.id) <> p.quantity",
    )
    .await
    {
        problems.push(format!("purchase {purchase} has {n} services"));
    }
    for (reference, n) in pairs(
        store,
        "SELECT provider_ref, COUNT(*) FROM services WHERE provider_ref IS NOT NULL
         GROUP BY provider_ref HAVING COUNT(*) > 1",
    )
    .await
    {
        problems.push(format!("provider resource {reference} backs {n} services"));
    }
    for (purchase, n) in pairs(
        store,
        "SELECT p.id, COUNT(s.id) FROM purchases p JOIN services s ON s.purchase_id = p.id
         WHERE p.status = 'completed' AND (s.status <> 'active' OR s.provider_ref IS NULL)
         GROUP BY p.id",
    )
    .await
    {
        problems.push(format!(
            "completed purchase {purchase} has {n} services not active or without a provider resource"
        ));
    }
    for (service, n) in pairs(
        store,
        "SELECT subject_id, COUNT(*) FROM jobs GROUP BY subject_id HAVING COUNT(*) > 1",
    )
    .await
    {
        problems.push(format!("service {service} has {n} jobs"));
    }
    let not_done = count(store, "SELECT COUNT(*) FROM jobs WHERE status <> 'done'").await;
    if not_done > 0 {
        problems.push(format!("{not_done} jobs not done"));
    }
    problems
}

/// Status counts of a table's `status` column, for the report.
pub async fn status_counts(store: &Store, table: &str) -> Vec<(String, i64)> {
    pairs(
        store,
        &format!("SELECT status, COUNT(*) FROM {table} GROUP BY status ORDER BY status"),
    )
    .await
}
