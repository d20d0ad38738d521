//! `agent-store-bench`: benchmarks of Agent Store that a skeptical engineer can rerun.
//!
//! It starts the real `agent-store` binary (next to this executable: build both with the same
//! profile) as a child process on loopback with a fresh database, drives it over HTTP with the load
//! generator in this crate, and reports every figure as a ratio against a baseline measured in the same
//! run (medians over repeated runs): the purchase path against a bare write transaction of the same
//! rows, the router against the same mock upstream called directly (and LiteLLM against the same
//! mock), MCP against REST. Results: a table on standard output, `results.json` and `results.md` in
//! the output directory (default `target/bench`).
//!
//! Commands: `all` (everything, SQLite and PostgreSQL, LiteLLM), `smoke` (seconds, SQLite only, no
//! LiteLLM; CI runs it so the harness cannot rot), `purchase`, `router`, `mcp`.

#![allow(
    clippy::print_stdout,
    clippy::float_arithmetic,
    clippy::cast_precision_loss,
    reason = "a benchmark prints its report and computes statistics in floating point"
)]

mod litellm;
mod mcp;
mod mock;
mod pg;
mod purchase;
mod report;
mod router;
mod server;
mod stats;
mod suites;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "agent-store-bench",
    about = "Benchmarks of Agent Store (see BENCHMARKS.md)."
)]
struct Cli {
    /// The agent-store binary to start. Default: `agent-store` next to this executable.
    #[arg(long, global = true)]
    server_bin: Option<PathBuf>,
    /// Where results.json, results.md and the run directories go.
    #[arg(long, global = true, default_value = "target/bench")]
    out_dir: PathBuf,
    /// Repetitions of every measurement (figures are medians over them).
    #[arg(long, global = true)]
    runs: Option<usize>,
    /// Use this PostgreSQL server (postgres://...) instead of starting a throwaway cluster.
    #[arg(long, global = true)]
    postgres_url: Option<String>,
    /// Skip the LiteLLM comparison.
    #[arg(long, global = true)]
    no_litellm: bool,
    /// The venv holding the LiteLLM proxy (installed there, pinned, if missing).
    #[arg(long, global = true)]
    litellm_venv: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
enum Cmd {
    /// Everything: purchase path (SQLite FULL and NORMAL, PostgreSQL), memory, router (with
    /// LiteLLM), MCP.
    All,
    /// A few seconds of each suite on SQLite, without LiteLLM (for CI).
    Smoke,
    /// Purchase path and memory only.
    Purchase,
    /// Router overhead only.
    Router,
    /// MCP against REST only.
    Mcp,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let smoke = cli.command == Cmd::Smoke;
    let plan = suites::Plan {
        server_bin: cli.server_bin.unwrap_or_else(server::default_server_bin),
        out_dir: cli.out_dir,
        runs: cli.runs.unwrap_or(if smoke { 1 } else { 3 }),
        smoke,
        postgres: matches!(cli.command, Cmd::All | Cmd::Purchase),
        postgres_url: cli.postgres_url,
        litellm: matches!(cli.command, Cmd::All | Cmd::Router) && !cli.no_litellm,
        litellm_venv: cli.litellm_venv.unwrap_or_else(litellm::default_venv),
    };
    if !plan.server_bin.exists() {
        anyhow::bail!(
            "{} not found: build it first (cargo build --release -p agent-store), or pass --server-bin",
            plan.server_bin.display()
        );
    }
    std::fs::create_dir_all(&plan.out_dir)?;
    let mut report = report::Report::new(&plan).await;
    let run_purchase = matches!(cli.command, Cmd::All | Cmd::Smoke | Cmd::Purchase);
    let run_router = matches!(cli.command, Cmd::All | Cmd::Smoke | Cmd::Router);
    let run_mcp = matches!(cli.command, Cmd::All | Cmd::Smoke | Cmd::Mcp);
    // The report is written after every suite, so a failure late in a long run keeps what was measured.
    if run_purchase {
        let outcome = suites::purchases(&plan, &mut report).await;
        report.finish();
        report.write(&plan.out_dir)?;
        outcome?;
    }
    if run_mcp {
        report.mcp = Some(suites::mcp(&plan).await?);
        report.finish();
        report.write(&plan.out_dir)?;
    }
    if run_router {
        report.router = Some(suites::router(&plan).await?);
    }
    report.finish();
    report.write(&plan.out_dir)?;
    println!("{}", report.markdown());
    let failures = report.failures();
    if !failures.is_empty() {
        anyhow::bail!("the benchmark saw errors: {}", failures.join("; "));
    }
    Ok(())
}
