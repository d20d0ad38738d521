//! Purchase tools: buy, follow, list and cancel.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Hints, READ, ToolSpec, body, define, wire};
use crate::request::ApiRequest;

pub fn tools() -> Vec<ToolSpec> {
    vec![
        define::<PurchaseArgs>(
            "purchase_create",
            "Buy (create a purchase)",
            // Spends the wallet's money and has providers create real things, but only adds: nothing
            // existing is replaced. The required idempotency key makes a repeated call a replay.
            Hints {
                read_only: false,
                destructive: false,
                idempotent: true,
                open_world: true,
            },
            "Buy a quote (quoteId from quote_create), or buy an item directly with catalogItemId, \
             quantity and configuration (an implicit quote). Step 5 of the purchase flow; then poll \
             purchase_get_status. Spends money from the account's wallet, subject to the account's \
             spending policy. idempotencyKey is required: choose a new unique key (e.g. \
             \"deploy-domain-1\") for each new purchase and reuse the SAME key when retrying after a \
             timeout or an error, so the purchase happens and is paid at most once; a retry with the \
             same key returns the original result. A new key means a new purchase. Returns \
             {\"purchase\": {\"id\": \"pur_...\", \"status\", \"totalPriceMinor\" (US cents), \
             \"serviceIds\", \"approval\", ...}}. status is provisioning (paid, services being created), \
             completed (every service active), or pending_approval (a human must approve; the money is \
             held meanwhile). Errors: policy_denied (error.details.reasons says which limit and which \
             policy layer), insufficient_funds (error.details has availableMinor and requiredMinor), \
             quote_expired / quote_used (make a new quote), validation_failed (error.details.fields).",
            |a: PurchaseArgs| ApiRequest::post(&["purchases"], body(&a)),
        ),
        define::<PurchaseIdArgs>(
            "purchase_get_status",
            "Get a purchase and its status",
            READ,
            "Get one of your purchases with its current status. Step 6 of the purchase flow: call it \
             until status is no longer provisioning. Statuses: pending_approval (waiting for a human; \
             money held), provisioning (paid; services being created), completed (every service \
             active; use serviceIds with service_get), failed (failureReason says why; refunded in \
             full), rejected (a human said no; hold released), expired (no decision in time; hold \
             released), canceled (you canceled it; hold released).",
            |a: PurchaseIdArgs| ApiRequest::get(&["purchases", &a.purchase_id]),
        ),
        define::<PurchaseListArgs>(
            "purchase_list",
            "List purchases",
            READ,
            "List your purchases, newest first, optionally only those with one status. Returns \
             {\"items\": [purchase, ...], \"nextCursor\"}; pass nextCursor as cursor for the next page.",
            |a: PurchaseListArgs| {
                ApiRequest::get(&["purchases"])
                    .param("status", a.status.map(wire))
                    .param("limit", a.limit)
                    .param("cursor", a.cursor)
            },
        ),
        define::<CancelArgs>(
            "purchase_cancel",
            "Cancel a purchase awaiting approval",
            // Irreversible: a canceled purchase cannot be approved any more.
            Hints {
                read_only: false,
                destructive: true,
                idempotent: true,
                open_world: false,
            },
            "Withdraw one of your purchases while it is pending_approval; the held money returns to \
             the wallet and the status becomes canceled. Any other status is an invalid_state error \
             (a paid purchase cannot be canceled here). Returns {\"purchase\": {...}}.",
            |a: CancelArgs| {
                let body = match a.idempotency_key {
                    Some(key) => json!({"idempotencyKey": key}),
                    None => json!({}),
                };
                ApiRequest::post(&["purchases", &a.purchase_id, "cancel"], body)
            },
        ),
    ]
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PurchaseArgs {
    /// The quote to buy (quote.id from quote_create). Give either quoteId, or catalogItemId with
    /// quantity and configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_id: Option<String>,
    /// Buy this catalog item directly (an implicit quote), instead of a quoteId.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_item_id: Option<String>,
    /// With catalogItemId: how many, 1 to 10 (default 1; always 1 for domains and router credits).
    #[schemars(range(min = 1, max = 10))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// With catalogItemId: the item's configuration (see catalog_checkout_requirements).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Map<String, Value>>,
    /// Required. 1 to 255 printable ASCII characters, unique per purchase. Reuse the same key when
    /// retrying the same purchase; a new key is a new purchase.
    pub idempotency_key: String,
    /// Optional note shown to the human who approves the purchase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PurchaseIdArgs {
    /// The purchase id ("pur_...") from purchase_create or purchase_list.
    pub purchase_id: String,
}

/// A purchase status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseStatus {
    PendingApproval,
    Provisioning,
    Completed,
    Failed,
    Rejected,
    Expired,
    Canceled,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PurchaseListArgs {
    /// Only purchases with this status.
    pub status: Option<PurchaseStatus>,
    /// Page size, 1 to 100 (default 20).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// nextCursor from the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CancelArgs {
    /// The purchase id ("pur_...") of a purchase in status pending_approval.
    pub purchase_id: String,
    /// Optional: with a key, a retry of this cancel returns the first result instead of an
    /// invalid_state error.
    pub idempotency_key: Option<String>,
}
