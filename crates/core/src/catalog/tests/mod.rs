//! Tests of the catalog: reference quotes and search flows from SPEC section 14, validation of every
//! item's configuration, operator catalog files, and agreement between the validator and the published
//! JSON Schema.

// Unwrapping is the clearest way to say "this must succeed" in a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod loading;
mod quotes;
mod rejections;
mod schema;
mod search;

use serde_json::{Value, json};

use super::{Catalog, CatalogItem, PricedQuote};
use crate::fields::FieldError;

fn catalog() -> Catalog {
    Catalog::default_catalog()
}

fn item(id: &str) -> CatalogItem {
    catalog()
        .item(id)
        .unwrap_or_else(|| panic!("{id} is in the default catalog"))
        .clone()
}

fn quote(id: &str, quantity: i64, configuration: Value) -> Result<PricedQuote, Vec<FieldError>> {
    let catalog = catalog();
    let item = catalog.item(id).expect("item exists");
    catalog.price(item, quantity, Some(&configuration))
}

/// The fields named by a rejection, sorted, to compare against an expected set.
fn error_fields(errors: &[FieldError]) -> Vec<&str> {
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    fields
}

/// A valid configuration for each default item (the reference flows' where there is one).
fn valid_configuration(id: &str) -> Value {
    match id {
        "cat_domain_com" => {
            json!({"domainName": "launchpad.com", "periodYears": 1, "autoRenew": true,
            "privacyProtection": true, "registrantEmail": "ops@example.com", "registrantCountry": "US"})
        }
        "cat_domain_dev" => json!({"domainName": "launchpad.dev", "periodYears": 3,
            "registrantEmail": "ops@example.com", "registrantCountry": "DE"}),
        "cat_domain_io" => json!({"domainName": "launchpad.io", "periodYears": 1,
            "registrantEmail": "ops@example.com", "registrantCountry": "GB"}),
        "cat_domain_ai" => json!({"domainName": "launchpad.ai", "periodYears": 2,
            "registrantEmail": "ops@example.com", "registrantCountry": "AI"}),
        "cat_vps_micro" | "cat_vps_small" => {
            json!({"hostname": "deploy-node-01", "region": "eu-west",
            "image": "ubuntu-24.04", "billingTermMonths": 1, "backupsEnabled": true})
        }
        "cat_vps_gpu_standard" => json!({"hostname": "gpu-01", "region": "us-east",
            "image": "nvidia-ai-ubuntu", "billingTermMonths": 3}),
        "cat_storage_object_001" => {
            json!({"region": "us-east", "storageClass": "object", "capacityGb": 250})
        }
        "cat_storage_block_001" => json!({"region": "eu-central", "storageClass": "block"}),
        "cat_phone_global_001" => json!({"countryCode": "US", "numberType": "local",
            "capabilities": ["sms", "voice"], "locality": "new-york", "initialBalanceUsd": 10}),
        "cat_router_credit_001" => json!({"creditAmountUsd": 25}),
        other => panic!("no valid configuration written for {other}"),
    }
}
