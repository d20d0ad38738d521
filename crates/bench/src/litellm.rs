//! The LiteLLM proxy as the comparison router: installed pinned into a venv inside the clone
//! (`litellm-setup.sh`), started on a free loopback port in front of the same mock upstream, with the
//! same model name and prices, one worker process, a master key, and LiteLLM's spend tracking that
//! works without a database: per-request cost calculation from the upstream's usage and a global
//! budget (`litellm_settings.max_budget`) checked before each call. LiteLLM's database-backed spend
//! tracking (per-key spend logs) needs Prisma, whose query engine is downloaded at run time from a
//! host outside the package registries this machine reaches, so it cannot run here (see
//! BENCHMARKS.md).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

pub const MASTER_KEY: &str = "sk-bench-master";

/// The pinned version (keep in step with `litellm-setup.sh`).
pub const VERSION: &str = "1.106.12";

#[derive(Debug)]
pub struct LiteLlm {
    child: Child,
    pub pid: u32,
    pub url: String,
}

/// The venv used by default: `target/bench/litellm-venv` of this source tree.
pub fn default_venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench/litellm-venv")
}

/// Install the pinned proxy into `venv` unless it is there already.
pub async fn ensure_installed(venv: &Path) -> anyhow::Result<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("litellm-setup.sh");
    let status = Command::new("bash").arg(script).arg(venv).status().await?;
    if !status.success() {
        bail!("installing litellm[proxy]=={VERSION} failed");
    }
    Ok(())
}

fn config_yaml(upstream: &str) -> String {
    format!(
        "model_list:\n\
         \x20 - model_name: bench-model\n\
         \x20   litellm_params:\n\
         \x20     model: openai/bench-model\n\
         \x20     api_base: {upstream}\n\
         \x20     api_key: sk-mock\n\
         \x20     input_cost_per_token: 0.000001\n\
         \x20     output_cost_per_token: 0.000002\n\
         litellm_settings:\n\
         \x20 max_budget: 1000000\n\
         \x20 budget_duration: 30d\n\
         general_settings:\n\
         \x20 master_key: {MASTER_KEY}\n"
    )
}

impl LiteLlm {
    pub async fn start(venv: &Path, dir: &Path, upstream: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let config = dir.join("litellm.yaml");
        std::fs::write(&config, config_yaml(upstream))?;
        let port = crate::server::free_port()?;
        let log = std::fs::File::create(dir.join("litellm.log"))?;
        let child = Command::new(venv.join("bin/litellm"))
            .arg("--config")
            .arg(&config)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--num_workers", "1"])
            .env("LITELLM_LOG", "ERROR")
            .env("LITELLM_MODE", "PRODUCTION")
            .env("DISABLE_ADMIN_UI", "True")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start litellm")?;
        let pid = child.id().context("litellm exited at once")?;
        let base = format!("http://127.0.0.1:{port}");
        let client = crate::server::client()?;
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let ok = client
                .get(format!("{base}/health/liveliness"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "LiteLLM did not start in 180 s; see {}",
                    dir.join("litellm.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(Self {
            child,
            pid,
            url: format!("{base}/v1/chat/completions"),
        })
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}
