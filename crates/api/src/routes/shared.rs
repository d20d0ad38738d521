//! Pieces shared by Agent and Account API handlers: request bodies, query parameters, response
//! envelopes, and turning a stored (replayable) response into HTTP.

use agent_store_app::idempotency::{Keyed, StoredResponse};
use agent_store_app::purchases::PurchaseView;
use agent_store_app::services::ServiceView;
use agent_store_app::wallet::WalletView;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// Send a stored response exactly as stored; replays carry `Idempotent-Replayed: true`.
pub fn stored(response: StoredResponse) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    let mut out = (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        response.body,
    )
        .into_response();
    if response.replayed {
        out.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    out
}

/// The key is required on routes that move money.
pub fn require_key(keyed: Option<Keyed>) -> Result<Keyed, ApiError> {
    keyed.ok_or_else(|| {
        ApiError::invalid("idempotencyKey", "is required: send it in the body or as the Idempotency-Key header, and reuse it when retrying")
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WalletResponse {
    pub wallet: WalletView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurchaseResponse {
    pub purchase: PurchaseView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceResponse {
    pub service: ServiceView,
}

/// Body of `POST /purchases`: a quote id, or an item with its quantity and configuration.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePurchaseBody {
    pub quote_id: Option<String>,
    pub catalog_item_id: Option<String>,
    pub quantity: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub configuration: Option<Value>,
    /// Required (or the Idempotency-Key header). Reuse the same key when retrying.
    pub idempotency_key: Option<String>,
    /// Shown to the human approver.
    pub note: Option<String>,
}

impl From<CreatePurchaseBody> for agent_store_app::purchases::PurchaseRequest {
    fn from(b: CreatePurchaseBody) -> Self {
        Self {
            quote_id: b.quote_id,
            catalog_item_id: b.catalog_item_id,
            quantity: b.quantity,
            configuration: b.configuration,
            note: b.note,
        }
    }
}

/// Body of action routes that take only an optional idempotency key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ActionBody {
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PurchaseListParams {
    /// pending_approval, provisioning, completed, failed, rejected, expired, canceled
    pub status: Option<String>,
    /// Account API only: one agent's purchases.
    pub agent_id: Option<String>,
    /// RFC 3339: created at or after.
    pub created_from: Option<String>,
    /// RFC 3339: created before.
    pub created_to: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

impl PurchaseListParams {
    pub fn filter(&self) -> Result<agent_store_app::purchases::PurchaseFilter, ApiError> {
        let time = |field: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
            match v.as_deref().filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(text) => agent_store_core::time::parse_rfc3339(text)
                    .map(Some)
                    .ok_or_else(|| ApiError::invalid(field, "must be an RFC 3339 timestamp")),
            }
        };
        Ok(agent_store_app::purchases::PurchaseFilter {
            status: self.status.clone().filter(|s| !s.is_empty()),
            agent_id: self.agent_id.clone().filter(|s| !s.is_empty()),
            created_from: time("createdFrom", &self.created_from)?,
            created_to: time("createdTo", &self.created_to)?,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ServiceListParams {
    /// domain, server, phone_number, storage_service, llm_router
    pub service_type: Option<String>,
    /// provisioning, active, suspended, failed, terminated
    pub status: Option<String>,
    /// Account API only: one agent's services.
    pub agent_id: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}
