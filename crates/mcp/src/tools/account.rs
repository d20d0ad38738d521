//! Wallet, policy and service tools: what the agent may spend and what it owns.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{NoArguments, READ, ToolSpec, define, wire};
use crate::request::ApiRequest;

pub fn tools() -> Vec<ToolSpec> {
    vec![
        define::<NoArguments>(
            "wallet_get",
            "Get the wallet balance",
            READ,
            "Get the account's wallet that pays for purchases: {\"wallet\": {\"balanceMinor\", \
             \"heldMinor\" (reserved for purchases awaiting approval), \"availableMinor\" (what can be \
             spent now), \"currency\": \"usd\"}}; amounts are US cents. Use it before buying to check \
             that availableMinor covers the quote's totalPriceMinor.",
            |_| ApiRequest::get(&["wallet"]),
        ),
        define::<NoArguments>(
            "policy_get_effective",
            "Get the spending policy in effect",
            READ,
            "Get the spending policy that applies to you: the merged limits (maxPurchaseMinor, \
             dailySpendLimitMinor, monthlySpendLimitMinor, approvalRequiredAboveMinor, allowed and \
             blocked categories and items, ...; US cents; null means no limit), which layer set each \
             (sources), every layer, and usage so far (spentTodayMinor, remainingTodayMinor, \
             remainingThisMonthMinor, purchasesLastHour). Use it to explain or avoid a policy_denied \
             error, or to know when a purchase will need a human's approval.",
            |_| ApiRequest::get(&["policies", "effective"]),
        ),
        define::<ServiceListArgs>(
            "service_list",
            "List services",
            READ,
            "List the services your purchases created (domains, servers, phone numbers, storage, LLM \
             router credit balances), newest first, optionally filtered by type and status. Step 7 of \
             the purchase flow, after purchase_get_status reports completed. Returns {\"items\": \
             [service, ...], \"nextCursor\"}.",
            |a: ServiceListArgs| {
                ApiRequest::get(&["services"])
                    .param("serviceType", a.service_type.map(wire))
                    .param("status", a.status.map(wire))
                    .param("limit", a.limit)
                    .param("cursor", a.cursor)
            },
        ),
        define::<ServiceIdArgs>(
            "service_get",
            "Get a service",
            READ,
            "Get one of your services with its type-specific details (a server's ipv4 and powerState, \
             a domain's nameservers, a phone number, a bucket's endpoint, a router's baseUrl and \
             credit balance), its status (provisioning, active, suspended, failed, terminated) and \
             its managementCapabilities. Returns {\"service\": {...}}.",
            |a: ServiceIdArgs| ApiRequest::get(&["services", &a.service_id]),
        ),
    ]
}

/// A service type.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    Domain,
    Server,
    PhoneNumber,
    StorageService,
    LlmRouter,
}

/// A service status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Provisioning,
    Active,
    Suspended,
    Failed,
    Terminated,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceListArgs {
    /// Only services of this type.
    pub service_type: Option<ServiceType>,
    /// Only services with this status.
    pub status: Option<ServiceStatus>,
    /// Page size, 1 to 100 (default 20).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// nextCursor from the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceIdArgs {
    /// The service id ("svc_...") from purchase.serviceIds or service_list.
    pub service_id: String,
}
