//! PostgreSQL for the benchmarks: a throwaway PostgreSQL 15 cluster started with the repository's
//! `scripts/pg-cluster.sh` (or an existing server given by URL), with a fresh database per
//! measurement; the durability settings in force are reported with the results.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sqlx::{AnyConnection, Connection, Executor, Row};

/// `scripts/pg-cluster.sh` of this source tree.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-cluster.sh")
}

/// A cluster this process started (stopped by [`Cluster::stop`]).
#[derive(Debug)]
pub struct Cluster {
    pub url: String,
    dir: Option<PathBuf>,
}

impl Cluster {
    /// Start a durable cluster in `dir` (`pg-cluster.sh` with `PG_CLUSTER_DURABLE=1`: fsync and full
    /// page writes on, unlike the test clusters) or use `existing`, and ask for durable commits with
    /// ALTER SYSTEM (options on an existing server's command line would win: the settings actually in
    /// force are read back by [`Cluster::settings`] and printed with the results; the baseline always
    /// runs on the same cluster).
    pub async fn start(dir: &Path, existing: Option<String>) -> anyhow::Result<Self> {
        let cluster = match existing {
            Some(url) => Self { url, dir: None },
            None => {
                std::fs::create_dir_all(dir)?;
                let out = tokio::process::Command::new("bash")
                    .arg(script())
                    .arg("start")
                    .arg(dir)
                    .env("PG_CLUSTER_DURABLE", "1")
                    .output()
                    .await
                    .context("cannot run scripts/pg-cluster.sh")?;
                if !out.status.success() {
                    bail!(
                        "scripts/pg-cluster.sh start failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                let url = String::from_utf8(out.stdout)?.trim().to_owned();
                Self {
                    url,
                    dir: Some(dir.to_owned()),
                }
            }
        };
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect(&cluster.url).await?;
        for statement in [
            "ALTER SYSTEM SET fsync = on",
            "ALTER SYSTEM SET full_page_writes = on",
            "ALTER SYSTEM SET synchronous_commit = on",
        ] {
            conn.execute(statement).await?;
        }
        conn.execute("SELECT pg_reload_conf()").await?;
        conn.close().await?;
        Ok(cluster)
    }

    /// The durability settings in force, for the report.
    pub async fn settings(&self) -> anyhow::Result<String> {
        let mut conn = AnyConnection::connect(&self.url).await?;
        let mut parts = Vec::new();
        for name in [
            "fsync",
            "synchronous_commit",
            "full_page_writes",
            "wal_sync_method",
        ] {
            let row = conn
                .fetch_one(sqlx::AssertSqlSafe(format!(
                    "SELECT setting FROM pg_settings WHERE name = '{name}'"
                )))
                .await?;
            parts.push(format!("{name}={}", row.try_get::<String, _>(0)?));
        }
        conn.close().await?;
        Ok(parts.join(", "))
    }

    pub async fn stop(self) {
        if let Some(dir) = &self.dir {
            let _ = tokio::process::Command::new("bash")
                .arg(script())
                .arg("stop")
                .arg(dir)
                .output()
                .await;
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A new empty database on the server of `server_url`; returns its URL.
pub async fn fresh_database(server_url: &str) -> anyhow::Result<String> {
    Ok(agent_store_store::test_support::fresh_postgres_database(server_url).await?)
}
