//! Support for test suites: a fresh, empty database per test, on SQLite always and on PostgreSQL when
//! `AGENT_STORE_TEST_POSTGRES_URL` names a server (CI sets it). Not used by the product itself.

use std::path::Path;

use sqlx::{AnyConnection, Connection, Executor};

use crate::StoreResult;

/// The environment variable naming a PostgreSQL server for the suites (its URL's database is used
/// only to create one throwaway database per test).
pub const POSTGRES_URL_ENV: &str = "AGENT_STORE_TEST_POSTGRES_URL";

/// The PostgreSQL server URL for tests, if configured.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|u| !u.is_empty())
}

/// A URL for a new empty database: PostgreSQL when configured, else a SQLite file in `dir`.
pub async fn fresh_database_url(dir: &Path) -> StoreResult<String> {
    match postgres_url() {
        Some(url) => fresh_postgres_database(&url).await,
        None => Ok(format!("sqlite://{}", dir.join("test.db").display())),
    }
}

/// Create a uniquely named database on the server of `server_url` and return its URL.
pub async fn fresh_postgres_database(server_url: &str) -> StoreResult<String> {
    sqlx::any::install_default_drivers();
    let name = format!(
        "t_{}",
        agent_store_core::ids::new_id(agent_store_core::ids::IdKind::Event).replace("evt_", "")
    );
    let mut conn = AnyConnection::connect(server_url).await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await?;
    conn.close().await?;
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (server_url, String::new()),
    };
    let prefix = match base.rfind('/') {
        Some(pos) if pos > "postgres://".len() => &base[..pos],
        _ => base,
    };
    Ok(format!("{prefix}/{name}{query}"))
}
