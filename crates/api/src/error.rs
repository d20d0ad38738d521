//! The one place where errors become HTTP responses: status, stable code, and the envelope
//! `{"error": {"code", "message", "details", "requestId"}}`. 5xx bodies never carry internal text;
//! the cause is logged once, with the request id.

use agent_store_app::AppError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::request_id::current_request_id;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    pub retry_after_seconds: Option<u64>,
    pub www_authenticate: bool,
}

/// The error envelope, for the OpenAPI document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable, snake_case error code.
    pub code: String,
    /// For humans; never contains a secret.
    pub message: String,
    /// Machine-readable details; `fields` lists each invalid field.
    #[schema(value_type = Object)]
    pub details: Value,
    pub request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: json!({}),
            retry_after_seconds: None,
            www_authenticate: false,
        }
    }

    pub fn unauthenticated() -> Self {
        let mut err = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "a valid credential is required: send Authorization: Bearer <key>",
        );
        err.www_authenticate = true;
        err
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than 1 MiB",
        )
    }

    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        let mut err = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests for this credential; retry later",
        );
        err.retry_after_seconds = Some(retry_after_seconds.max(1));
        err
    }

    /// A body or query that could not be read, with the field it concerns.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut err = Self::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            format!("{field}: {message}"),
        );
        err.details = json!({"fields": [{"field": field, "message": message}]});
        err
    }

    pub fn timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long and was abandoned; retrying with the same idempotency key is safe",
        )
    }

    /// The client did not send its request body in time (see `slow_client`).
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time; send it faster or retry",
        )
    }

    pub fn route_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route; see /openapi.json",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not accept that method",
        )
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let code = err.code();
        let status = match &err {
            AppError::Unauthenticated => return Self::unauthenticated(),
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Validation { .. } => StatusCode::BAD_REQUEST,
            AppError::Conflict(_)
            | AppError::QuoteExpired
            | AppError::QuoteUsed
            | AppError::DomainUnavailable(_) => StatusCode::CONFLICT,
            AppError::ProviderError(_) => StatusCode::BAD_GATEWAY,
            AppError::InsufficientFunds { .. } => StatusCode::PAYMENT_REQUIRED,
            AppError::PolicyDenied { .. } | AppError::CapabilityNotAllowed(_) => {
                StatusCode::FORBIDDEN
            }
            AppError::ApprovalPending => StatusCode::CONFLICT,
            AppError::IdempotencyMismatch => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut api = Self::new(status, code, err.to_string());
        match err {
            AppError::Validation { fields, .. } => api.details = json!({ "fields": fields }),
            AppError::DomainUnavailable(domain) => api.details = json!({ "domainName": domain }),
            AppError::InsufficientFunds {
                available_minor,
                required_minor,
            } => {
                api.details =
                    json!({ "availableMinor": available_minor, "requiredMinor": required_minor });
            }
            AppError::PolicyDenied { reasons, .. } => api.details = json!({ "reasons": reasons }),
            AppError::Internal(cause) => {
                tracing::error!(request_id = %current_request_id(), %cause, "internal error");
                api.message = "an internal error occurred; it has been logged with this request id"
                    .to_owned();
            }
            _ => {}
        }
        api
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "requestId": current_request_id(),
        }});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.www_authenticate {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"agent-store\""),
            );
        }
        response
    }
}

/// Result type of handlers.
pub type ApiResult<T> = Result<T, ApiError>;
