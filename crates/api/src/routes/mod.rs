//! Route handlers, one module per API surface. Each handler extracts validated input, calls one app
//! function and wraps the result in its envelope (`{"quote": {...}}`, `{"items": [...], ...}`).

pub mod account;
pub mod agent;
pub mod domains;
pub mod money_account;
pub mod money_agent;
pub mod phones;
pub mod router;
pub mod servers;
pub mod shared;
pub mod storage;
pub mod system;

use agent_store_app::views::{AccountTokenView, AccountView, AgentView, ApiKeyView, QuoteView};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `limit` and `cursor` of list routes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountResponse {
    pub account: AccountView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentResponse {
    pub agent: AgentView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyResponse {
    pub api_key: ApiKeyView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountTokenResponse {
    pub account_token: AccountTokenView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteResponse {
    pub quote: QuoteView,
}
