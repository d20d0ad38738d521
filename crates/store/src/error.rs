//! The store's error type: constraint violations are told apart so the app layer can map them to 4xx.

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated (for example an email already in use).
    #[error("unique constraint violated")]
    UniqueViolation,
    /// A CHECK or foreign-key constraint refused the write: a rule the database backs.
    #[error("constraint violated: {0}")]
    ConstraintViolation(String),
    /// A stored document could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Anything else from the driver: connection loss, timeouts, I/O.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return Self::UniqueViolation,
                sqlx::error::ErrorKind::CheckViolation
                | sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return Self::ConstraintViolation(db.message().to_owned());
                }
                _ => {}
            }
        }
        Self::Database(err)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        Self::Corrupt(err.to_string())
    }
}
