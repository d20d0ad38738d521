//! Persistence for Agent Store: one sqlx implementation over SQLite (default) and PostgreSQL.
//!
//! Every statement is portable SQL with `$n` placeholders, run through sqlx's `Any` driver. Each backend
//! has its own migrations folder (`migrations/sqlite`, `migrations/postgres`), applied on start. Write
//! transactions on SQLite start with `BEGIN IMMEDIATE` so concurrent writers queue on the database lock
//! instead of failing on upgrade. Repository functions take any executor, so the app layer composes
//! several of them inside one transaction.

pub mod accounts;
pub mod agents;
pub mod audit;
pub mod credentials;
mod db;
pub mod dns_records;
mod error;
pub mod idempotency;
pub mod invariants;
pub mod jobs;
pub mod ledger;
pub mod phone;
pub mod policies;
pub mod purchases;
pub mod quotes;
pub mod reports;
pub mod router;
pub mod router_leases;
pub mod server_operations;
pub mod service_payments;
pub mod services;
pub mod sessions;
pub mod spends;
pub mod stats;
pub mod storage_objects;
pub mod test_support;

pub use db::{Backend, Store, StoreOptions, WriteTx, commit};
pub use error::StoreError;
pub use sqlx::{Any, AnyConnection, Executor};

/// Result type of this crate.
pub type StoreResult<T> = Result<T, StoreError>;
