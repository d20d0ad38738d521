//! Connecting, migrating and starting transactions, with the per-backend differences kept here.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions, Executor, Transaction};

use crate::StoreResult;

/// The database behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Tuning that is configuration, not code.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// SQLite `synchronous` pragma: `full` (default; every commit is durable on power loss) or `normal`
    /// (WAL commits survive a process crash but may be lost on power loss).
    pub sqlite_synchronous: String,
    /// How long a SQLite writer waits for the lock before failing.
    pub busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            sqlite_synchronous: "full".to_owned(),
            busy_timeout: Duration::from_secs(10),
        }
    }
}

/// A write transaction; on SQLite it holds the write lock from its first statement.
pub type WriteTx = Transaction<'static, Any>;

/// The connection pool and the backend it talks to.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    /// SQLite only: one connection that every write transaction goes through. SQLite has a single
    /// writer anyway; queueing writers here (fairly, without polling) instead of letting pool
    /// connections race for the lock avoids the busy handler's sleeps (up to 100 ms each), which
    /// left the database idle while writers slept and cut concurrent commit rates by ~10x.
    writer: Option<AnyPool>,
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Connect to `url` (`sqlite://path` or `postgres://...`). The SQLite file is created if missing.
    pub async fn connect(url: &str, options: &StoreOptions) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        };
        let connect_options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        let synchronous = match options.sqlite_synchronous.as_str() {
            "normal" => "NORMAL",
            "off" => "OFF",
            _ => "FULL",
        };
        let busy_ms = options.busy_timeout.as_millis();
        let pool = pool_options(backend, synchronous, busy_ms)
            .max_connections(options.max_connections.max(1))
            .connect_with(connect_options.clone())
            .await?;
        let writer = match backend {
            Backend::Sqlite => Some(
                pool_options(backend, synchronous, busy_ms)
                    .max_connections(1)
                    .connect_with(connect_options)
                    .await?,
            ),
            Backend::Postgres => None,
        };
        Ok(Self {
            pool,
            writer,
            backend,
        })
    }

    /// Apply every pending migration of this backend.
    pub async fn migrate(&self) -> StoreResult<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Begin a write transaction. SQLite takes the write lock at once (`BEGIN IMMEDIATE`), so two
    /// writers never deadlock upgrading a read lock; PostgreSQL uses READ COMMITTED with row locks and
    /// conditional updates.
    pub async fn begin_write(&self) -> StoreResult<WriteTx> {
        let tx = match self.backend {
            Backend::Sqlite => {
                let writer = self.writer.as_ref().unwrap_or(&self.pool);
                writer.begin_with("BEGIN IMMEDIATE").await?
            }
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(tx)
    }

    /// A connection from the pool, for several reads in a row outside a transaction.
    pub async fn acquire(&self) -> StoreResult<sqlx::pool::PoolConnection<Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// The pool, for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `sqlite` or `postgres`, for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Close every connection (graceful shutdown).
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }
}

/// Pool options shared by the read pool and the SQLite writer: per-connection pragmas on SQLite.
fn pool_options(backend: Backend, synchronous: &'static str, busy_ms: u128) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    let pragmas = format!(
                        "PRAGMA busy_timeout = {busy_ms}; PRAGMA synchronous = {synchronous}"
                    );
                    conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                }
                Ok(())
            })
        })
}

/// Commit a write transaction.
pub async fn commit(tx: WriteTx) -> StoreResult<()> {
    tx.commit().await?;
    Ok(())
}
