//! The suites: each starts what it measures, repeats it `runs` times, and returns medians with the
//! same-run baselines.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::purchase::{self, BaselineTemplate};
use crate::report::{
    McpRow, Memory, PurchaseLevel, PurchaseRun, PurchaseSuite, Report, RouterRow, RouterSuite,
};
use crate::server::{Server, ServerOptions};
use crate::stats::{Summary, median};
use crate::{litellm, mcp, mock, pg, router};

/// What to run, from the command line.
#[derive(Debug, Clone)]
pub struct Plan {
    pub server_bin: PathBuf,
    pub out_dir: PathBuf,
    pub runs: usize,
    pub smoke: bool,
    pub postgres: bool,
    pub postgres_url: Option<String>,
    pub litellm: bool,
    pub litellm_venv: PathBuf,
}

impl Plan {
    /// (concurrency, purchases) per level.
    fn levels(&self) -> Vec<(usize, usize)> {
        if self.smoke {
            vec![(1, 10), (16, 32)]
        } else {
            vec![(1, 200), (16, 1000), (64, 1000)]
        }
    }

    fn level_time(&self) -> Duration {
        Duration::from_secs(if self.smoke { 5 } else { 12 })
    }

    fn run_dir(&self, name: &str) -> PathBuf {
        self.out_dir.join("runs").join(name)
    }
}

/// A fresh directory (removed first if an older run left it).
fn fresh_dir(path: &PathBuf) -> anyhow::Result<PathBuf> {
    if path.exists() {
        std::fs::remove_dir_all(path)?;
    }
    std::fs::create_dir_all(path)?;
    Ok(path.clone())
}

fn sqlite(sync: &str) -> ServerOptions {
    ServerOptions {
        postgres_url: None,
        sqlite_synchronous: sync.to_owned(),
        max_connections: 16,
        upstream_base: None,
        router_lease_chunk_micro: None,
    }
}

/// Samples the server's resident memory every 20 ms while running; `stop` returns the maximum.
struct RssSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let task = tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                if let Ok(rss) = crate::server::rss_bytes(pid) {
                    m.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        Self { stop, max, task }
    }

    async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.max.load(Ordering::Relaxed)
    }
}

/// One run of the purchase suite on a fresh server: every level, app and baseline, alternating
/// which goes first. Returns per-level runs, idle RSS and peak RSS under load.
async fn purchase_run(
    plan: &Plan,
    options: &ServerOptions,
    dir: PathBuf,
    run: usize,
) -> anyhow::Result<(Vec<PurchaseRun>, u64, u64, Vec<String>)> {
    let server = Server::start(&plan.server_bin, &dir, options).await?;
    server.fund(100_000_000, "bench-funding").await?;
    // Window limits on the account layer, far above what the run spends: every purchase then
    // evaluates them against the account's counted spend, as a real deployment would.
    server
        .expect_ok(
            server
                .client
                .put(format!("{}/v1/account/policy", server.base))
                .bearer_auth(&server.demo.account_token)
                .json(&json!({"dailySpendLimitMinor": 100_000_000, "monthlySpendLimitMinor": 100_000_000,
                              "maxPurchasesPerHour": 100_000})),
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = server.rss_bytes()?;
    let store = purchase::open_store(&server.database_url, &options.sqlite_synchronous, 16).await?;
    // Warm-up purchases (also the template of the baseline's rows and stored response).
    let warm = purchase::create_quotes(&server, 5).await?;
    let mut body = String::new();
    for q in &warm {
        let response = server
            .client
            .post(format!("{}/v1/agent/purchases", server.base))
            .bearer_auth(&server.demo.agent_api_key)
            .json(&json!({"quoteId": q, "idempotencyKey": format!("warm-{q}")}))
            .send()
            .await?;
        if response.status().as_u16() != 201 {
            bail!("warm-up purchase failed: {}", response.text().await?);
        }
        body = response.text().await?;
    }
    let template = BaselineTemplate::from_server(&server, &store, &warm[0], body).await?;
    let mut results = Vec::new();
    let mut peak = 0;
    for (concurrency, n) in plan.levels() {
        let app_first = run.is_multiple_of(2);
        let mut app = Summary::default();
        let mut base = Summary::default();
        for phase in 0..2 {
            purchase::drain_jobs(&store).await?;
            if (phase == 0) == app_first {
                let quotes = purchase::create_quotes(&server, n).await?;
                purchase::drain_jobs(&store).await?;
                let sampler = RssSampler::start(server.pid);
                app = purchase::run_app(&server, quotes, concurrency, plan.level_time()).await?;
                peak = peak.max(sampler.stop().await);
            } else {
                let quotes = purchase::baseline_quotes(&store, &template, n).await?;
                base = purchase::run_baseline(
                    &store,
                    &template,
                    quotes,
                    concurrency,
                    plan.level_time(),
                )
                .await?;
            }
        }
        results.push(PurchaseRun {
            concurrency,
            app,
            baseline: base,
        });
    }
    purchase::drain_jobs(&store).await?;
    let problems = agent_store_store::invariants::check(store.pool()).await?;
    store.close().await;
    server.stop().await?;
    Ok((results, idle, peak, problems))
}

async fn purchase_suite(
    plan: &Plan,
    name: &str,
    durability: String,
    options: &ServerOptions,
) -> anyhow::Result<(PurchaseSuite, Vec<u64>, Vec<u64>)> {
    let mut per_level: Vec<Vec<PurchaseRun>> = vec![Vec::new(); plan.levels().len()];
    let (mut idles, mut peaks, mut problems) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..plan.runs {
        eprintln!("purchase path: {name}, run {}/{}", run + 1, plan.runs);
        let dir = fresh_dir(&plan.run_dir(&format!("purchase-{name}-{run}")))?;
        let (levels, idle, peak, p) = purchase_run(plan, options, dir, run).await?;
        for (slot, level) in per_level.iter_mut().zip(levels) {
            slot.push(level);
        }
        idles.push(idle);
        peaks.push(peak);
        problems.extend(p);
    }
    let levels = per_level
        .into_iter()
        .map(PurchaseLevel::from_runs)
        .collect();
    Ok((
        PurchaseSuite {
            name: name.to_owned(),
            durability,
            levels,
            invariant_problems: problems,
        },
        idles,
        peaks,
    ))
}

/// The purchase path on SQLite (FULL, as shipped; NORMAL unless smoke) and PostgreSQL, and memory.
pub async fn purchases(plan: &Plan, report: &mut Report) -> anyhow::Result<()> {
    let (suite, idles, peaks) = purchase_suite(
        plan,
        "sqlite-full",
        "SQLite WAL, synchronous=FULL (default)".to_owned(),
        &sqlite("full"),
    )
    .await?;
    report.purchase.push(suite);
    let mb = |v: &[u64]| {
        median(
            &v.iter()
                .map(|b| *b as f64 / 1_048_576.0)
                .collect::<Vec<_>>(),
        )
    };
    report.memory = Some(Memory {
        idle_rss_mb: mb(&idles),
        load_rss_mb: mb(&peaks),
        runs_idle_rss_mb: idles.iter().map(|b| *b as f64 / 1_048_576.0).collect(),
        runs_load_rss_mb: peaks.iter().map(|b| *b as f64 / 1_048_576.0).collect(),
    });
    if plan.smoke {
        return Ok(());
    }
    let (suite, _, _) = purchase_suite(
        plan,
        "sqlite-normal",
        "SQLite WAL, synchronous=NORMAL".to_owned(),
        &sqlite("normal"),
    )
    .await?;
    report.purchase.push(suite);
    if plan.postgres {
        // An absolute directory with a short path: it holds the server's Unix socket.
        let cluster_dir =
            std::env::temp_dir().join(format!("agent-store-bench-pg-{}", std::process::id()));
        let cluster = pg::Cluster::start(&cluster_dir, plan.postgres_url.clone()).await?;
        let settings = cluster.settings().await?;
        let options = ServerOptions {
            postgres_url: Some(cluster.url.clone()),
            ..sqlite("full")
        };
        let outcome = purchase_suite(
            plan,
            "postgres",
            format!("PostgreSQL 15, {settings}"),
            &options,
        )
        .await;
        cluster.stop().await;
        report.purchase.push(outcome?.0);
    }
    Ok(())
}

/// MCP `tools/call` against REST for a catalog search and a purchase.
pub async fn mcp(plan: &Plan) -> anyhow::Result<Vec<McpRow>> {
    let n = if plan.smoke { 10 } else { 200 };
    let (mut search, mut buy) = (Vec::new(), Vec::new());
    for run in 0..plan.runs {
        eprintln!("MCP vs REST: run {}/{}", run + 1, plan.runs);
        let dir = fresh_dir(&plan.run_dir(&format!("mcp-{run}")))?;
        let server = Server::start(&plan.server_bin, &dir, &sqlite("full")).await?;
        server.fund(100_000_000, "bench-funding").await?;
        // Warm both paths before timing.
        mcp::catalog_search(&server, 5).await?;
        search.push(mcp::catalog_search(&server, n).await?);
        let quotes = purchase::create_quotes(&server, 2 * n).await?;
        buy.push(mcp::purchase_create(&server, &quotes).await?);
        server.stop().await?;
    }
    Ok(vec![
        McpRow::from_runs("catalog_search", &search),
        McpRow::from_runs("purchase_create", &buy),
    ])
}

async fn router_credits(server: &Server) -> anyhow::Result<String> {
    server.fund(1_000_000, "bench-router-funding").await?;
    let quote = server
        .agent_post(
            "/v1/agent/quotes",
            &json!({"catalogItemId": "cat_router_credit_001", "quantity": 1,
                    "configuration": {"creditAmountUsd": 5000}}),
        )
        .await?;
    let quote_id = quote["quote"]["id"].as_str().context("quote id")?;
    let bought = server
        .agent_post(
            "/v1/agent/purchases",
            &json!({"quoteId": quote_id, "idempotencyKey": "bench-router-credits"}),
        )
        .await?;
    let purchase_id = bought["purchase"]["id"].as_str().context("purchase id")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let service_id = loop {
        let p = server
            .agent_get(&format!("/v1/agent/purchases/{purchase_id}"))
            .await?;
        if p["purchase"]["status"] == "completed" {
            break p["purchase"]["serviceId"]
                .as_str()
                .context("service id")?
                .to_owned();
        }
        if Instant::now() > deadline {
            bail!("router credit purchase did not complete: {p}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let key = server
        .agent_post(
            &format!("/v1/agent/services/{service_id}/router/api-keys"),
            &json!({"label": "bench"}),
        )
        .await?;
    Ok(key["routerApiKey"]["key"]
        .as_str()
        .context("router key")?
        .to_owned())
}

/// Router overhead at fixed request rates, with LiteLLM in front of the same mock when enabled.
pub async fn router(plan: &Plan) -> anyhow::Result<RouterSuite> {
    let latency = Duration::from_millis(1);
    let upstream = mock::start(latency)?;
    let dir = fresh_dir(&plan.run_dir("router"))?;
    let server = Server::start(
        &plan.server_bin,
        &dir,
        &ServerOptions {
            upstream_base: Some(upstream.clone()),
            ..sqlite("full")
        },
    )
    .await?;
    let router_key = router_credits(&server).await?;
    // The same router without leases: every request commits its reservation and its settlement.
    let per_request_dir = fresh_dir(&plan.run_dir("router-per-request"))?;
    let per_request = Server::start(
        &plan.server_bin,
        &per_request_dir,
        &ServerOptions {
            upstream_base: Some(upstream.clone()),
            router_lease_chunk_micro: Some(0),
            ..sqlite("full")
        },
    )
    .await?;
    let per_request_key = router_credits(&per_request).await?;
    let lite = if plan.litellm {
        litellm::ensure_installed(&plan.litellm_venv).await?;
        Some(litellm::LiteLlm::start(&plan.litellm_venv, &dir, &upstream).await?)
    } else {
        None
    };
    let client = crate::server::client()?;
    let model = "bench-model".to_owned();
    let direct = router::Target {
        url: format!("{upstream}/chat/completions"),
        bearer: Some("sk-mock".to_owned()),
        model: model.clone(),
    };
    let ours = router::Target {
        url: format!("{}/openai/v1/chat/completions", server.base),
        bearer: Some(router_key),
        model: model.clone(),
    };
    let ours_per_request = router::Target {
        url: format!("{}/openai/v1/chat/completions", per_request.base),
        bearer: Some(per_request_key),
        model: model.clone(),
    };
    let theirs = lite.as_ref().map(|l| router::Target {
        url: l.url.clone(),
        bearer: Some(litellm::MASTER_KEY.to_owned()),
        model,
    });
    router::warm_up(&client, &direct, 20).await?;
    router::warm_up(&client, &ours, 20).await?;
    router::warm_up(&client, &ours_per_request, 20).await?;
    if let Some(t) = &theirs {
        router::warm_up(&client, t, 20).await?;
    }
    let duration = Duration::from_secs(if plan.smoke { 1 } else { 5 });
    let rates: &[u32] = if plan.smoke { &[100] } else { &[100, 500] };
    let mut rows = Vec::new();
    let mut per_request_rows = Vec::new();
    for &rate in rates {
        for stream in [false, true] {
            let mut runs = Vec::new();
            let mut per_request_runs = Vec::new();
            for run in 0..plan.runs {
                eprintln!(
                    "router: {rate} req/s, {}, run {}/{}",
                    if stream { "streaming" } else { "non-streaming" },
                    run + 1,
                    plan.runs
                );
                let d = router::open_loop(&client, &direct, stream, rate, duration).await?;
                let o = router::open_loop(&client, &ours, stream, rate, duration).await?;
                let o0 =
                    router::open_loop(&client, &ours_per_request, stream, rate, duration).await?;
                per_request_runs.push((d, o0, None));
                let t = match &theirs {
                    Some(t) => Some(router::open_loop(&client, t, stream, rate, duration).await?),
                    None => None,
                };
                runs.push((d, o, t));
            }
            rows.push(RouterRow::from_runs(rate, stream, &runs));
            per_request_rows.push(RouterRow::from_runs(rate, stream, &per_request_runs));
        }
    }
    let server_rss = server.rss_bytes()?;
    let litellm_rss = lite
        .as_ref()
        .and_then(|l| crate::server::rss_bytes(l.pid).ok());
    server.stop().await?;
    per_request.stop().await?;
    if let Some(l) = lite {
        l.stop().await?;
    }
    Ok(RouterSuite {
        mock_latency_ms: 1,
        litellm_version: plan.litellm.then(|| litellm::VERSION.to_owned()),
        durability: "SQLite WAL, synchronous=FULL (default); credit leases of 1 USD (default)"
            .to_owned(),
        rows,
        per_request_rows,
        server_rss_mb_after: server_rss as f64 / 1_048_576.0,
        litellm_rss_mb_after: litellm_rss.map(|b| b as f64 / 1_048_576.0),
    })
}
