//! The app layer's error type. Each variant has one stable code; the HTTP mapping lives in the api crate.

use agent_store_core::FieldError;
use agent_store_store::StoreError;

/// Result type of the app layer.
pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    /// The object does not exist, or belongs to someone else (never said which).
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Validation {
        message: String,
        fields: Vec<FieldError>,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("the quote has expired; create a new quote")]
    QuoteExpired,
    #[error("the quote has already been used; create a new quote")]
    QuoteUsed,
    #[error("the domain {0} is not available for registration")]
    DomainUnavailable(String),
    #[error("{0}")]
    ProviderError(String),
    #[error("the wallet's available balance is {available_minor} but {required_minor} is needed")]
    InsufficientFunds {
        available_minor: i64,
        required_minor: i64,
    },
    /// A policy forbids the spend; the reasons say which limit, set by which layer.
    #[error("denied by policy: {}", summary)]
    PolicyDenied {
        summary: String,
        reasons: serde_json::Value,
    },
    #[error("the purchase is waiting for a human decision")]
    ApprovalPending,
    #[error("this idempotency key was already used with a different request")]
    IdempotencyMismatch,
    #[error("{0}")]
    CapabilityNotAllowed(String),
    /// An unexpected failure; the text is logged, never shown to clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// Invalid input with each field named.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => format!("{} {}", one.field, one.message),
            _ => format!("{} fields are invalid", fields.len()),
        };
        Self::Validation { message, fields }
    }

    /// Invalid input in one field.
    pub fn invalid_field(field: &str, message: &str) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// The stable error code of SPEC section 2.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Validation { .. } => "validation_failed",
            Self::Conflict(_) => "invalid_state",
            Self::QuoteExpired => "quote_expired",
            Self::QuoteUsed => "quote_used",
            Self::DomainUnavailable(_) => "domain_unavailable",
            Self::ProviderError(_) => "provider_error",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::PolicyDenied { .. } => "policy_denied",
            Self::ApprovalPending => "approval_pending",
            Self::IdempotencyMismatch => "idempotency_key_mismatch",
            Self::CapabilityNotAllowed(_) => "capability_not_allowed",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        Self::Internal(err.to_string())
    }
}
