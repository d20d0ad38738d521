//! The server under test: the `agent-store` binary started as a child process (so its resident memory
//! can be read from `/proc`) on a free loopback port, with a fresh data directory and database, the
//! demo account seeded by `serve --demo`, and rate limits lifted so the load generator measures the
//! request path rather than the per-key token bucket.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// How the server is configured for one measurement.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `postgres://...` or `None` for SQLite in the data directory.
    pub postgres_url: Option<String>,
    /// SQLite `synchronous` (`full` as shipped, or `normal`).
    pub sqlite_synchronous: String,
    /// Pool size (the shipped default is 16).
    pub max_connections: u32,
    /// The mock upstream's base URL (`http://127.0.0.1:PORT/v1`), served as model `bench-model`.
    pub upstream_base: Option<String>,
    /// `router.lease_chunk_micro` (`None`: the shipped default; 0: one transaction per request).
    pub router_lease_chunk_micro: Option<i64>,
}

/// What `serve --demo` wrote to `demo.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Demo {
    pub agent_id: String,
    pub agent_api_key: String,
    pub account_token: String,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub pid: u32,
    pub base: String,
    pub database_url: String,
    pub demo: Demo,
    pub client: reqwest::Client,
}

/// A free loopback port (bound, then released for the child to bind).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A load-generator HTTP client: keep-alive pool large enough for 64 concurrent requests.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?)
}

fn config_toml(listen: &str, data_dir: &Path, database_url: &str, o: &ServerOptions) -> String {
    let mut text = format!(
        "listen = \"{listen}\"\ndata_dir = \"{}\"\ndatabase_url = \"{database_url}\"\n\n\
         [database]\nmax_connections = {}\nsqlite_synchronous = \"{}\"\n\n\
         [limits]\nrate_limit_per_second = 1000000\nrate_limit_burst = 1000000\n",
        data_dir.display(),
        o.max_connections,
        o.sqlite_synchronous,
    );
    if let Some(chunk) = o.router_lease_chunk_micro {
        text.push_str(&format!("\n[router]\nlease_chunk_micro = {chunk}\n"));
    }
    if let Some(upstream) = &o.upstream_base {
        text.push_str(&format!(
            "\n[[router.upstreams]]\nname = \"mock\"\nbase_url = \"{upstream}\"\n\n\
             [[router.upstreams.models]]\nid = \"bench-model\"\n\
             input_price_micro_per_million = 1000000\noutput_price_micro_per_million = 2000000\n\
             context_tokens = 8192\nmax_output_tokens = 64\n"
        ));
    }
    text
}

impl Server {
    /// Start the binary with a fresh data directory under `dir` and wait until it is ready.
    pub async fn start(bin: &Path, dir: &Path, options: &ServerOptions) -> anyhow::Result<Self> {
        let data_dir = dir.join("data");
        std::fs::create_dir_all(&data_dir)?;
        let database_url = match &options.postgres_url {
            Some(server) => crate::pg::fresh_database(server).await?,
            None => format!("sqlite://{}", data_dir.join("agent-store.db").display()),
        };
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let config_path = dir.join("config.toml");
        std::fs::write(
            &config_path,
            config_toml(&listen, &data_dir, &database_url, options),
        )?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let child = Command::new(bin)
            .arg("--config")
            .arg(&config_path)
            .arg("serve")
            .arg("--demo")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let base = format!("http://{listen}");
        let client = client()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let demo_path = data_dir.join("demo.json");
        loop {
            let ready = client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready && demo_path.exists() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "the server did not become ready in 60 s; see {}",
                    dir.join("server.log").display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let demo: Demo = serde_json::from_str(&std::fs::read_to_string(&demo_path)?)?;
        Ok(Self {
            child,
            pid,
            base,
            database_url,
            demo,
            client,
        })
    }

    /// Resident memory of the server process, in bytes.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        rss_bytes(self.pid)
    }

    /// Fund the demo wallet with `minor` cents through the Account API.
    pub async fn fund(&self, minor: i64, key: &str) -> anyhow::Result<()> {
        let body = json!({"amountMinor": minor, "idempotencyKey": key});
        self.expect_ok(
            self.client
                .post(format!("{}/v1/account/wallet/fundings", self.base))
                .bearer_auth(&self.demo.account_token)
                .json(&body),
        )
        .await?;
        Ok(())
    }

    /// Send a request and parse the JSON body; any non-2xx status is an error.
    pub async fn expect_ok(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("HTTP {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// POST as the demo agent.
    pub async fn agent_post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.expect_ok(
            self.client
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.demo.agent_api_key)
                .json(body),
        )
        .await
    }

    /// GET as the demo agent.
    pub async fn agent_get(&self, path: &str) -> anyhow::Result<Value> {
        self.expect_ok(
            self.client
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.demo.agent_api_key),
        )
        .await
    }

    /// The demo account's id.
    pub async fn account_id(&self) -> anyhow::Result<String> {
        let wallet = self.agent_get("/v1/agent/wallet").await?;
        wallet["wallet"]["accountId"]
            .as_str()
            .map(str::to_owned)
            .context("wallet without accountId")
    }

    /// The key id of the demo agent key (`ask_live_<keyId>.<secret>`).
    pub fn agent_key_id(&self) -> String {
        let rest = self
            .demo
            .agent_api_key
            .strip_prefix("ask_live_")
            .unwrap_or(&self.demo.agent_api_key);
        rest.split('.').next().unwrap_or_default().to_owned()
    }

    /// Stop the server (SIGKILL: nothing of a benchmark database needs to survive).
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }
}

/// `VmRSS` of a process, in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .context("no VmRSS in /proc status")?;
    Ok(kb * 1024)
}

/// The default server binary: `agent-store` next to this executable (same cargo profile).
pub fn default_server_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("agent-store")))
        .unwrap_or_else(|| PathBuf::from("target/release/agent-store"))
}
