//! The report: machine, per-suite medians with their same-run baselines and ratios, targets; written
//! as `results.json` (everything, including each run) and `results.md` (the tables of BENCHMARKS.md).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::mcp::Pair;
use crate::stats::{Summary, median, ratio};
use crate::suites::Plan;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseRun {
    pub concurrency: usize,
    pub app: Summary,
    pub baseline: Summary,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseLevel {
    pub concurrency: usize,
    pub purchases_per_s: f64,
    pub baseline_tx_per_s: f64,
    /// Median over runs of (purchases/s / baseline tx/s) of the same run.
    pub ratio: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub baseline_p50_ms: f64,
    pub baseline_p99_ms: f64,
    pub errors: usize,
    pub runs: Vec<PurchaseRun>,
}

fn med(runs: &[Summary], f: impl Fn(&Summary) -> f64) -> f64 {
    median(&runs.iter().map(f).collect::<Vec<_>>())
}

impl PurchaseLevel {
    pub fn from_runs(runs: Vec<PurchaseRun>) -> Self {
        let app: Vec<Summary> = runs.iter().map(|r| r.app).collect();
        let base: Vec<Summary> = runs.iter().map(|r| r.baseline).collect();
        let ratios: Vec<f64> = runs
            .iter()
            .map(|r| ratio(r.app.throughput, r.baseline.throughput))
            .collect();
        Self {
            concurrency: runs.first().map_or(0, |r| r.concurrency),
            purchases_per_s: med(&app, |s| s.throughput),
            baseline_tx_per_s: med(&base, |s| s.throughput),
            ratio: median(&ratios),
            p50_ms: med(&app, |s| s.p50_us) / 1000.0,
            p99_ms: med(&app, |s| s.p99_us) / 1000.0,
            baseline_p50_ms: med(&base, |s| s.p50_us) / 1000.0,
            baseline_p99_ms: med(&base, |s| s.p99_us) / 1000.0,
            errors: runs.iter().map(|r| r.app.errors + r.baseline.errors).sum(),
            runs,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseSuite {
    pub name: String,
    pub durability: String,
    pub levels: Vec<PurchaseLevel>,
    /// Ledger and purchase invariants checked after each run (empty: sound).
    pub invariant_problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    pub idle_rss_mb: f64,
    pub load_rss_mb: f64,
    pub runs_idle_rss_mb: Vec<f64>,
    pub runs_load_rss_mb: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouterRow {
    pub rate: u32,
    pub streaming: bool,
    pub direct_p50_ms: f64,
    pub direct_p99_ms: f64,
    /// Median over runs of (Agent Store percentile - direct percentile of the same run).
    pub added_p50_ms: f64,
    pub added_p99_ms: f64,
    pub litellm_added_p50_ms: Option<f64>,
    pub litellm_added_p99_ms: Option<f64>,
    /// LiteLLM's added p99 over ours (>= 10 is the target).
    pub litellm_over_ours_p99: Option<f64>,
    pub errors: usize,
    pub litellm_errors: usize,
    pub runs: Vec<(Summary, Summary, Option<Summary>)>,
}

impl RouterRow {
    pub fn from_runs(
        rate: u32,
        streaming: bool,
        runs: &[(Summary, Summary, Option<Summary>)],
    ) -> Self {
        let added = |f: fn(&Summary) -> f64| {
            median(
                &runs
                    .iter()
                    .map(|(d, o, _)| (f(o) - f(d)) / 1000.0)
                    .collect::<Vec<_>>(),
            )
        };
        let lite = |f: fn(&Summary) -> f64| -> Option<f64> {
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|(d, _, t)| t.map(|t| (f(&t) - f(d)) / 1000.0))
                .collect();
            (!values.is_empty()).then(|| median(&values))
        };
        let added_p99 = added(|s| s.p99_us);
        let litellm_added_p99 = lite(|s| s.p99_us);
        Self {
            rate,
            streaming,
            direct_p50_ms: median(&runs.iter().map(|r| r.0.p50_us / 1000.0).collect::<Vec<_>>()),
            direct_p99_ms: median(&runs.iter().map(|r| r.0.p99_us / 1000.0).collect::<Vec<_>>()),
            added_p50_ms: added(|s| s.p50_us),
            added_p99_ms: added_p99,
            litellm_added_p50_ms: lite(|s| s.p50_us),
            litellm_added_p99_ms: litellm_added_p99,
            litellm_over_ours_p99: litellm_added_p99.map(|l| ratio(l, added_p99.max(0.001))),
            errors: runs.iter().map(|(d, o, _)| d.errors + o.errors).sum(),
            litellm_errors: runs.iter().filter_map(|r| r.2.map(|t| t.errors)).sum(),
            runs: runs.to_vec(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouterSuite {
    pub mock_latency_ms: u64,
    pub litellm_version: Option<String>,
    pub durability: String,
    pub rows: Vec<RouterRow>,
    /// The same measurement, same runs, with `router.lease_chunk_micro = 0`: a durable reservation
    /// and settlement per request (what the router did before leases).
    pub per_request_rows: Vec<RouterRow>,
    pub server_rss_mb_after: f64,
    pub litellm_rss_mb_after: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct McpRow {
    pub operation: String,
    pub rest_p50_ms: f64,
    pub rest_p99_ms: f64,
    pub mcp_p50_ms: f64,
    pub mcp_p99_ms: f64,
    /// Median over runs of MCP p50 / REST p50 of the same run (<= 1.5 is the target).
    pub ratio_p50: f64,
    pub ratio_p99: f64,
    pub runs: Vec<(Summary, Summary)>,
}

impl McpRow {
    pub fn from_runs(operation: &str, runs: &[Pair]) -> Self {
        let m = |f: fn(&Pair) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
        Self {
            operation: operation.to_owned(),
            rest_p50_ms: m(|p| p.rest.p50_us / 1000.0),
            rest_p99_ms: m(|p| p.rest.p99_us / 1000.0),
            mcp_p50_ms: m(|p| p.mcp.p50_us / 1000.0),
            mcp_p99_ms: m(|p| p.mcp.p99_us / 1000.0),
            ratio_p50: m(|p| ratio(p.mcp.p50_us, p.rest.p50_us)),
            ratio_p99: m(|p| ratio(p.mcp.p99_us, p.rest.p99_us)),
            runs: runs.iter().map(|p| (p.rest, p.mcp)).collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    pub cpu: String,
    pub cpus: usize,
    pub memory_gb: f64,
    pub kernel: String,
    pub load_average_start: String,
    pub load_average_end: String,
    pub started_at: String,
    pub finished_at: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub machine: Machine,
    pub runs: usize,
    pub smoke: bool,
    pub purchase: Vec<PurchaseSuite>,
    pub memory: Option<Memory>,
    pub router: Option<RouterSuite>,
    pub mcp: Option<Vec<McpRow>>,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn now_text() -> String {
    agent_store_core::time::format_rfc3339(agent_store_core::time::now_ms())
}

impl Report {
    pub async fn new(plan: &Plan) -> Self {
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_default();
        let mem_kb: f64 = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Self {
            machine: Machine {
                cpu,
                cpus: std::thread::available_parallelism().map_or(1, usize::from),
                memory_gb: mem_kb / 1_048_576.0,
                kernel: read("/proc/sys/kernel/osrelease").trim().to_owned(),
                load_average_start: read("/proc/loadavg").trim().to_owned(),
                load_average_end: String::new(),
                started_at: now_text(),
                finished_at: String::new(),
            },
            runs: plan.runs,
            smoke: plan.smoke,
            purchase: Vec::new(),
            memory: None,
            router: None,
            mcp: None,
        }
    }

    pub fn finish(&mut self) {
        self.machine.load_average_end = read("/proc/loadavg").trim().to_owned();
        self.machine.finished_at = now_text();
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(self)?,
        )?;
        std::fs::write(dir.join("results.md"), self.markdown())?;
        Ok(())
    }

    /// Errors of our own server (LiteLLM's are reported, not failures).
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for suite in &self.purchase {
            for l in &suite.levels {
                if l.errors > 0 {
                    out.push(format!(
                        "{} c={}: {} failed requests",
                        suite.name, l.concurrency, l.errors
                    ));
                }
            }
            out.extend(suite.invariant_problems.iter().cloned());
        }
        if let Some(r) = &self.router {
            for row in r.rows.iter().chain(&r.per_request_rows) {
                if row.errors > 0 {
                    out.push(format!("router {} req/s: {} failed", row.rate, row.errors));
                }
            }
        }
        out
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(
            s,
            "Run {} .. {}; {} x {}, {:.1} GB RAM, Linux {}; load average at start `{}`, at end `{}`; \
             {} run(s) per figure, medians shown.\n",
            m.started_at,
            m.finished_at,
            m.cpus,
            m.cpu,
            m.memory_gb,
            m.kernel,
            m.load_average_start,
            m.load_average_end,
            self.runs
        );
        for suite in &self.purchase {
            let _ = writeln!(
                s,
                "### Purchase path: {} ({})\n\n\
                 | concurrency | purchases/s | p50 ms | p99 ms | baseline tx/s | baseline p50 ms | baseline p99 ms | ratio (target >= 0.50 at 16) |\n\
                 |---:|---:|---:|---:|---:|---:|---:|---:|",
                suite.name, suite.durability
            );
            for l in &suite.levels {
                let _ = writeln!(
                    s,
                    "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | **{:.2}** |",
                    l.concurrency,
                    l.purchases_per_s,
                    l.p50_ms,
                    l.p99_ms,
                    l.baseline_tx_per_s,
                    l.baseline_p50_ms,
                    l.baseline_p99_ms,
                    l.ratio
                );
            }
            let _ = writeln!(
                s,
                "\nInvariants after each run: {}\n",
                if suite.invariant_problems.is_empty() {
                    "sound".to_owned()
                } else {
                    suite.invariant_problems.join("; ")
                }
            );
        }
        if let Some(mem) = &self.memory {
            let _ = writeln!(
                s,
                "### Memory (resident, server process)\n\n| state | RSS MB | target |\n|---|---:|---:|\n\
                 | idle (after start, demo seed, funding) | {:.1} | < 50 |\n\
                 | peak under the purchase load (SQLite FULL, all levels) | {:.1} | < 150 |\n",
                mem.idle_rss_mb, mem.load_rss_mb
            );
        }
        if let Some(rows) = &self.mcp {
            let _ = writeln!(
                s,
                "### MCP tools/call vs REST (sequential, SQLite FULL)\n\n\
                 | operation | REST p50 ms | REST p99 ms | MCP p50 ms | MCP p99 ms | MCP/REST p50 | MCP/REST p99 |\n\
                 |---|---:|---:|---:|---:|---:|---:|"
            );
            for r in rows {
                let _ = writeln!(
                    s,
                    "| {} | {:.2} | {:.2} | {:.2} | {:.2} | **{:.2}** | {:.2} |",
                    r.operation,
                    r.rest_p50_ms,
                    r.rest_p99_ms,
                    r.mcp_p50_ms,
                    r.mcp_p99_ms,
                    r.ratio_p50,
                    r.ratio_p99
                );
            }
            s.push('\n');
        }
        if let Some(r) = &self.router {
            let _ = writeln!(
                s,
                "### Router added latency over the mock upstream ({} ms mock latency; {}{})\n\n\
                 | rate req/s | mode | direct p50 ms | direct p99 ms | Agent Store added p50 ms | added p99 ms | LiteLLM added p50 ms | LiteLLM added p99 ms | LiteLLM/ours p99 |\n\
                 |---:|---|---:|---:|---:|---:|---:|---:|---:|",
                r.mock_latency_ms,
                r.durability,
                r.litellm_version
                    .as_ref()
                    .map(|v| format!("; LiteLLM {v}"))
                    .unwrap_or_default()
            );
            let opt = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
            for row in &r.rows {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.2} | {:.2} | {:.2} | **{:.2}** | {} | {} | **{}** |",
                    row.rate,
                    if row.streaming {
                        "streaming, first byte"
                    } else {
                        "non-streaming"
                    },
                    row.direct_p50_ms,
                    row.direct_p99_ms,
                    row.added_p50_ms,
                    row.added_p99_ms,
                    opt(row.litellm_added_p50_ms),
                    opt(row.litellm_added_p99_ms),
                    opt(row.litellm_over_ours_p99),
                );
            }
            let _ = writeln!(
                s,
                "\nWithout leases (`router.lease_chunk_micro = 0`: one durable reservation and one \
                 settlement transaction per request), same runs:\n\n\
                 | rate req/s | mode | added p50 ms | added p99 ms |\n|---:|---|---:|---:|"
            );
            for row in &r.per_request_rows {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.2} | {:.2} |",
                    row.rate,
                    if row.streaming {
                        "streaming, first byte"
                    } else {
                        "non-streaming"
                    },
                    row.added_p50_ms,
                    row.added_p99_ms,
                );
            }
            let _ = writeln!(
                s,
                "\nRSS after the router runs: Agent Store {:.1} MB{}.",
                r.server_rss_mb_after,
                r.litellm_rss_mb_after
                    .map(|v| format!(", LiteLLM {v:.1} MB"))
                    .unwrap_or_default()
            );
            if r.rows.iter().any(|row| row.litellm_errors > 0) {
                let errs: Vec<String> = r
                    .rows
                    .iter()
                    .map(|row| format!("{} req/s: {}", row.rate, row.litellm_errors))
                    .collect();
                let _ = writeln!(s, "LiteLLM failed requests: {}.", errs.join(", "));
            }
        }
        s
    }
}
