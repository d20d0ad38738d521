//! Use cases of Agent Store. Every transport (REST, MCP, dashboard, CLI) calls these functions with an
//! authenticated [`Principal`]; business rules, scoping and validation of meaning live here once.

pub mod approvals;
pub mod audit;
pub mod catalog;
pub mod config;
pub mod domains;
mod error;
mod fulfilment;
pub mod idempotency;
pub mod identity;
pub mod manage;
pub mod pagination;
pub mod phones;
pub mod policies;
pub mod principal;
pub mod purchases;
pub mod quotes;
pub mod reports;
pub mod request_context;
pub mod router;
pub mod servers;
mod service_payments;
pub mod services;
pub mod sessions;
pub mod stats;
pub mod storage;
pub mod views;
pub mod wallet;
mod worker;

use std::sync::Arc;

use agent_store_core::catalog::Catalog;
use agent_store_core::keys::Pepper;
use agent_store_providers::Providers;
use agent_store_store::Store;

pub use config::Config;
pub use error::{AppError, AppResult};
pub use principal::Principal;

/// The application: shared, cheap to clone, safe to use from many tasks.
#[derive(Clone, Debug)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    catalog: Catalog,
    providers: Providers,
    pepper: Pepper,
    config: Config,
    router: router::Runtime,
    worker_notify: tokio::sync::Notify,
}

impl App {
    pub fn new(
        store: Store,
        catalog: Catalog,
        providers: Providers,
        pepper: Pepper,
        config: Config,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                catalog,
                providers,
                pepper,
                router: router::Runtime::new(&config.router),
                config,
                worker_notify: tokio::sync::Notify::new(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub fn providers(&self) -> &Providers {
        &self.inner.providers
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn worker_notify(&self) -> &tokio::sync::Notify {
        &self.inner.worker_notify
    }

    pub(crate) fn router_runtime(&self) -> &router::Runtime {
        &self.inner.router
    }

    /// A reference that does not keep the app alive (for background tasks that end with it).
    pub(crate) fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    pub(crate) fn upgrade(weak: &std::sync::Weak<Inner>) -> Option<Self> {
        weak.upgrade().map(|inner| Self { inner })
    }

    pub(crate) fn pepper(&self) -> &Pepper {
        &self.inner.pepper
    }
}
