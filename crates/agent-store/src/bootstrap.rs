//! Building the [`App`] from a [`Config`]: the data directory, the server secret, the database (migrated),
//! the catalog and the providers.

use std::io::Write;
use std::path::Path;

use agent_store_app::config::SqliteSynchronous;
use agent_store_app::{App, Config};
use agent_store_core::catalog::Catalog;
use agent_store_core::keys::{Pepper, random_secret};
use agent_store_providers::Providers;
use agent_store_store::{Store, StoreOptions};
use anyhow::Context;
use secrecy::ExposeSecret;

/// Name of the generated server secret inside the data directory.
const SECRET_FILE: &str = "server-secret";

/// Open everything the app needs. Migrations run here, so every command sees the current schema.
pub async fn build_app(config: Config) -> anyhow::Result<App> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    if let Err(fields) = config.platform_policy.validate() {
        let problems: Vec<String> = fields
            .iter()
            .map(|f| format!("platform_policy.{}: {}", f.field, f.message))
            .collect();
        anyhow::bail!("invalid configuration: {}", problems.join("; "));
    }
    let pepper = load_or_create_secret(&config)?;
    let catalog = match &config.catalog_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read catalog file {}", path.display()))?;
            Catalog::from_json_str(&text)
                .with_context(|| format!("catalog file {}", path.display()))?
        }
        None => Catalog::default_catalog(),
    };
    let options = StoreOptions {
        max_connections: config.database.max_connections,
        sqlite_synchronous: match config.database.sqlite_synchronous {
            SqliteSynchronous::Full => "full".to_owned(),
            SqliteSynchronous::Normal => "normal".to_owned(),
        },
        ..StoreOptions::default()
    };
    let url = config.effective_database_url();
    let store = Store::connect(&url, &options)
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    let providers = Providers::sandbox(&config.sandbox);
    Ok(App::new(store, catalog, providers, pepper, config))
}

/// The configured server secret, or the one kept in the data directory (created on first start, 0600).
fn load_or_create_secret(config: &Config) -> anyhow::Result<Pepper> {
    if let Some(secret) = config
        .server_secret
        .as_ref()
        .filter(|s| !s.expose_secret().is_empty())
    {
        return Ok(Pepper::new(secret.expose_secret().as_bytes().to_vec()));
    }
    let path = config.data_dir.join(SECRET_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let secret = text.trim();
        anyhow::ensure!(
            secret.len() >= 32,
            "{} is too short to be a server secret",
            path.display()
        );
        return Ok(Pepper::new(secret.as_bytes().to_vec()));
    }
    let secret = random_secret();
    write_private_file(&path, secret.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new server secret");
    Ok(Pepper::new(secret.into_bytes()))
}

/// Write a file only the owner can read (0600 on Unix), failing if it already exists.
pub fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
