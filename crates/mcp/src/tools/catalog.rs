//! Catalog and quote tools: the first four steps of the purchase flow.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Hints, NoArguments, READ, ToolSpec, body, define, wire};
use crate::request::ApiRequest;

pub fn tools() -> Vec<ToolSpec> {
    vec![
        define::<NoArguments>(
            "catalog_categories",
            "List catalog categories",
            READ,
            "List the catalog's categories with how many items each has. Step 1 of the purchase flow: \
             catalog_categories -> catalog_search -> catalog_checkout_requirements -> quote_create -> \
             purchase_create -> purchase_get_status -> service_list / service_get. Categories: domains \
             (domain registrations), compute (VPS servers), storage (object and block storage), \
             telephony (phone numbers), api_tokens (LLM router credits). Returns {\"categories\": \
             [{\"id\", \"name\", \"itemCount\"}]}.",
            |_| ApiRequest::get(&["catalog", "categories"]),
        ),
        define::<SearchArgs>(
            "catalog_search",
            "Search the catalog",
            READ,
            "Search catalog items by category and/or words. Step 2 of the purchase flow (after \
             catalog_categories, before catalog_checkout_requirements). Every word of q must match the \
             item's name, sku, description or category (case-insensitive); name matches rank first. \
             Each item has id (e.g. cat_vps_micro, use it as catalogItemId), name, category, \
             serviceType, checkoutKind (custom: needs a configuration, read its checkout requirements; \
             standard: fixed price, no configuration), priceFromMinor (US cents) and pricingUnit. \
             Returns {\"items\": [...], \"nextCursor\"}; pass nextCursor as cursor for the next page.",
            |a: SearchArgs| {
                ApiRequest::get(&["catalog", "items"])
                    .param("category", a.category.map(wire))
                    .param("q", a.q)
                    .param("limit", a.limit)
                    .param("cursor", a.cursor)
            },
        ),
        define::<CheckoutArgs>(
            "catalog_checkout_requirements",
            "Read checkout requirements",
            READ,
            "Read what buying a catalog item requires, before quoting it. Step 3 of the purchase flow. \
             Returns requiredFields and optionalFields of the configuration, configurationSchema (the \
             JSON Schema the configuration given to quote_create must satisfy), supported values \
             (regions, images, ...), the managementCapabilities the resulting service will have, and \
             pricing (amounts in US cents).",
            |a: CheckoutArgs| {
                ApiRequest::get(&["catalog", "items", &a.catalog_item_id, "checkout"])
            },
        ),
        define::<QuoteArgs>(
            "quote_create",
            "Price a configuration (quote)",
            // Writes a quote record but moves no money; for domains it asks the registrar whether the
            // name is available, which reaches outside this store.
            Hints {
                read_only: false,
                destructive: false,
                idempotent: false,
                open_world: true,
            },
            "Get a binding price for a catalog item with its configuration. Step 4 of the purchase flow \
             (after catalog_checkout_requirements, before purchase_create). Moves no money. The \
             configuration is validated against the item's configurationSchema and every problem is \
             reported at once in error.details.fields. Returns {\"quote\": {\"id\": \"quote_...\", \
             \"totalPriceMinor\" (US cents), \"quoteDetails\" (price lines), \"policyPreview\" \
             {\"decision\": \"allow\" | \"approval_required\" | \"deny\", \"reasons\"}, \"expiresAt\", \
             ...}}. policyPreview tells in advance whether the purchase would be allowed, need a human's \
             approval, or be denied by the account's spending policy. A quote stays open 15 minutes and \
             can be purchased once: pass its id as quoteId to purchase_create.",
            |a: QuoteArgs| ApiRequest::post(&["quotes"], body(&a)),
        ),
    ]
}

/// A catalog category.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Domains,
    Compute,
    Storage,
    Telephony,
    ApiTokens,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SearchArgs {
    /// Only items of this category (see catalog_categories).
    pub category: Option<Category>,
    /// Words that must all match, e.g. "vps", "com", "phone number", "router credits".
    pub q: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    /// nextCursor from the previous page of the same search.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CheckoutArgs {
    /// The catalog item id from catalog_search, e.g. "cat_vps_micro" or "cat_domain_com".
    pub catalog_item_id: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QuoteArgs {
    /// The catalog item id from catalog_search, e.g. "cat_vps_micro".
    pub catalog_item_id: String,
    /// How many, 1 to 10 (default 1); always 1 for domains and router credits.
    #[schemars(range(min = 1, max = 10))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// The item's configuration, an object matching configurationSchema from
    /// catalog_checkout_requirements, e.g. {"hostname": "deploy-node-01", "region": "eu-west",
    /// "image": "ubuntu-24.04", "billingTermMonths": 1, "backupsEnabled": true} for cat_vps_micro.
    /// Dollar inputs (creditAmountUsd, initialBalanceUsd) are numbers with at most 2 decimals.
    /// Omit it for standard (fixed-price) items.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Map<String, Value>>,
}
