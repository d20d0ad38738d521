//! LLM router tools: router keys for an `llm_router` service and its usage. The key a model creates
//! here is used with any OpenAI SDK at the returned `baseUrl`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{Hints, READ, ToolSpec, define};
use crate::request::ApiRequest;

/// Creates a credential: not idempotent, not destructive, stays in this store.
const CREATE: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: false,
    open_world: false,
};

/// Revoking is irreversible but revoking twice changes nothing more.
const REVOKE: Hints = Hints {
    read_only: false,
    destructive: true,
    idempotent: true,
    open_world: false,
};

pub fn tools() -> Vec<ToolSpec> {
    vec![
        define::<KeyCreateArgs>(
            "router_api_key_create",
            "Create an LLM router API key",
            CREATE,
            "Create an API key for one of your llm_router services (bought as cat_router_credit_001). \
             Returns {\"routerApiKey\": {\"id\": \"rk_...\", \"label\", \"key\": \"ark_live_...\" (shown \
             only now: store it), \"baseUrl\", \"createdAt\"}}. Use the key with any OpenAI SDK: \
             base_url = baseUrl, api_key = key; GET baseUrl/models lists models and prices, and each \
             chat completion is paid from the service's credits.",
            |a: KeyCreateArgs| {
                ApiRequest::post(
                    &["services", &a.service_id, "router", "api-keys"],
                    json!({"label": a.label}),
                )
            },
        ),
        define::<ServiceArgs>(
            "router_api_key_list",
            "List LLM router API keys",
            READ,
            "List the API keys of one of your llm_router services, newest first, without their \
             secrets: {\"items\": [{\"id\", \"label\", \"baseUrl\", \"createdAt\", \"lastUsedAt\", \
             \"revokedAt\"}], \"nextCursor\"}.",
            |a: ServiceArgs| ApiRequest::get(&["services", &a.service_id, "router", "api-keys"]),
        ),
        define::<KeyArgs>(
            "router_api_key_revoke",
            "Revoke an LLM router API key",
            REVOKE,
            "Revoke one API key of an llm_router service; its next request is refused with 401. \
             Returns {\"routerApiKey\": {...}} with revokedAt set.",
            |a: KeyArgs| {
                ApiRequest::delete(&["services", &a.service_id, "router", "api-keys", &a.key_id])
            },
        ),
        define::<UsageArgs>(
            "router_usage_get",
            "Get LLM router usage",
            READ,
            "Get the usage of an llm_router service: requests, prompt and completion tokens and cost \
             in micro-USD (1 USD = 1000000), as totals, per model and per key, optionally since a time. \
             Returns {\"usage\": {\"totals\", \"byModel\", \"byKey\", \"since\"}}; the remaining credit is \
             in service_get details.creditBalanceMicroUsd.",
            |a: UsageArgs| {
                ApiRequest::get(&["services", &a.service_id, "router", "usage"])
                    .param("since", a.since)
            },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceArgs {
    /// The llm_router service id ("svc_...").
    pub service_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyCreateArgs {
    /// The llm_router service id ("svc_...").
    pub service_id: String,
    /// A name for the key, e.g. "production".
    pub label: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyArgs {
    /// The llm_router service id ("svc_...").
    pub service_id: String,
    /// The router key id ("rk_...").
    pub key_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsageArgs {
    /// The llm_router service id ("svc_...").
    pub service_id: String,
    /// Only usage at or after this RFC 3339 time, e.g. "2026-11-28T00:00:00Z".
    pub since: Option<String>,
}
