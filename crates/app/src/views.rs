//! The JSON objects of the Agent and Account APIs (camelCase, RFC 3339 timestamps). MCP tool results
//! and the dashboard use the same views, so an object looks the same everywhere.

use agent_store_core::time::format_rfc3339;
use agent_store_store::{accounts::Account, agents::Agent, credentials::Credential, quotes::Quote};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

fn ts(ms: i64) -> String {
    format_rfc3339(ms)
}

fn ts_opt(ms: Option<i64>) -> Option<String> {
    ms.map(format_rfc3339)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: String,
}

impl From<Account> for AccountView {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            email: a.email,
            name: a.name,
            created_at: ts(a.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentView {
    pub id: String,
    pub name: String,
    /// `active` or `suspended`.
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Agent> for AgentView {
    fn from(a: Agent) -> Self {
        Self {
            id: a.id,
            name: a.name,
            status: a.status,
            created_at: ts(a.created_at),
            updated_at: ts(a.updated_at),
        }
    }
}

/// An agent API key. `key` (the plaintext) is present only in the creation response.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: String,
    pub agent_id: String,
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl ApiKeyView {
    pub fn new(c: Credential, plaintext: Option<String>) -> Self {
        Self {
            id: c.id,
            agent_id: c.agent_id.unwrap_or_default(),
            label: c.label,
            key: plaintext,
            created_at: ts(c.created_at),
            expires_at: ts_opt(c.expires_at),
            last_used_at: ts_opt(c.last_used_at),
            revoked_at: ts_opt(c.revoked_at),
        }
    }
}

/// An account token. `token` (the plaintext) is present only in the creation response.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountTokenView {
    pub id: String,
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl AccountTokenView {
    pub fn new(c: Credential, plaintext: Option<String>) -> Self {
        Self {
            id: c.id,
            label: c.label,
            token: plaintext,
            created_at: ts(c.created_at),
            expires_at: ts_opt(c.expires_at),
            last_used_at: ts_opt(c.last_used_at),
            revoked_at: ts_opt(c.revoked_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuoteLineView {
    pub description: String,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuoteDetailsView {
    pub lines: Vec<QuoteLineView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuoteView {
    pub id: String,
    pub catalog_item_id: String,
    /// The agent that asked for it; `null` for the account's own (dashboard) quotes.
    pub agent_id: Option<String>,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub total_price_minor: i64,
    pub currency: String,
    pub display_name: String,
    #[schema(value_type = Object)]
    pub configuration: Value,
    #[schema(value_type = Object)]
    pub quote_details: Value,
    pub management_capabilities: Vec<String>,
    /// `open`, `used` or `expired`.
    pub status: String,
    pub expires_at: String,
    pub created_at: String,
    /// What a purchase of this quote would meet now: `{"decision": "allow" | "approval_required" |
    /// "deny", "reasons": [...]}`. Nothing is reserved.
    #[schema(value_type = Object)]
    pub policy_preview: Value,
}

impl QuoteView {
    /// The view at time `now` (an open quote past its expiry shows as `expired`).
    pub fn new(q: Quote, now: i64) -> Self {
        let status = if q.status == "open" && now >= q.expires_at {
            "expired".to_owned()
        } else {
            q.status
        };
        Self {
            id: q.id,
            catalog_item_id: q.catalog_item_id,
            agent_id: q.agent_id,
            quantity: q.quantity,
            unit_price_minor: q.unit_price_minor,
            total_price_minor: q.total_price_minor,
            currency: q.currency,
            display_name: q.display_name,
            configuration: serde_json::from_str(&q.configuration).unwrap_or(Value::Null),
            quote_details: serde_json::from_str(&q.quote_details).unwrap_or(Value::Null),
            management_capabilities: serde_json::from_str(&q.capabilities).unwrap_or_default(),
            status,
            expires_at: ts(q.expires_at),
            created_at: ts(q.created_at),
            policy_preview: Value::Null,
        }
    }
}
