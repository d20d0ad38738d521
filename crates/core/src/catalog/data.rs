//! The catalog file format and its load-time validation. The default catalog and an operator's
//! replacement go through the same path, and every problem in a file is reported at once, each naming
//! where it is (`items[3] (cat_vps_micro).parameters.regions: must not be empty`).
//!
//! Format (JSON): `{"formatVersion": 1, "items": [{"id", "sku", "name", "category", "serviceType",
//! "description", "parameters": {...}}]}`, where `parameters` depends on `serviceType` (see the
//! `*Params` structs of the per-type modules and `crates/core/catalog/default.json`).

use serde::Deserialize;
use serde_json::Value;

use super::offer::Offer;
use super::{CATEGORIES, CatalogError, CatalogItem};

/// The only file format version this build reads.
const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CatalogFile {
    format_version: u32,
    items: Vec<ItemFile>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ItemFile {
    id: String,
    sku: String,
    name: String,
    category: String,
    service_type: String,
    description: String,
    parameters: Value,
}

fn is_catalog_id(id: &str) -> bool {
    id.strip_prefix("cat_").is_some_and(|rest| {
        !rest.is_empty()
            && id.len() <= 64
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

fn is_sku(sku: &str) -> bool {
    !sku.is_empty()
        && sku.len() <= 64
        && sku
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parse and validate a catalog file.
pub(super) fn load(text: &str) -> Result<Vec<CatalogItem>, CatalogError> {
    let file: CatalogFile =
        serde_json::from_str(text).map_err(|e| CatalogError::Parse(e.to_string()))?;
    let mut problems = Vec::new();
    if file.format_version != FORMAT_VERSION {
        problems.push(format!(
            "formatVersion: {} is not supported (expected {FORMAT_VERSION})",
            file.format_version
        ));
    }
    if file.items.is_empty() {
        problems.push("items: the catalog has no items".to_owned());
    }
    let mut items: Vec<CatalogItem> = Vec::with_capacity(file.items.len());
    // Tracked apart from `items` so duplicates are caught even next to an item that failed to parse.
    let mut seen: Vec<(String, String)> = Vec::new();
    for (i, raw) in file.items.into_iter().enumerate() {
        let at = format!("items[{i}] ({})", raw.id);
        if !is_catalog_id(&raw.id) {
            problems.push(format!("{at}.id: must be \"cat_\" followed by lowercase letters, digits or underscores (at most 64 characters)"));
        }
        if seen.iter().any(|(id, _)| *id == raw.id) {
            problems.push(format!("{at}.id: duplicate id {:?}", raw.id));
        }
        if !is_sku(&raw.sku) {
            problems.push(format!(
                "{at}.sku: {:?} must be 1-64 lowercase letters, digits or hyphens",
                raw.sku
            ));
        }
        if seen.iter().any(|(_, sku)| *sku == raw.sku) {
            problems.push(format!("{at}.sku: duplicate sku {:?}", raw.sku));
        }
        seen.push((raw.id.clone(), raw.sku.clone()));
        for (field, value) in [("name", &raw.name), ("description", &raw.description)] {
            if value.trim().is_empty() || value.len() > 1000 {
                problems.push(format!(
                    "{at}.{field}: must be non-empty text of at most 1000 characters"
                ));
            }
        }
        let known: Vec<&str> = CATEGORIES.iter().map(|(id, _)| *id).collect();
        if !known.contains(&raw.category.as_str()) {
            problems.push(format!(
                "{at}.category: unknown category {:?} (expected one of {})",
                raw.category,
                known.join(", ")
            ));
        } else if let Some(expected) = Offer::category(&raw.service_type)
            && expected != raw.category
        {
            problems.push(format!(
                "{at}.category: {:?} items belong in category {expected:?}, not {:?}",
                raw.service_type, raw.category
            ));
        }
        let Some(offer) = Offer::parse(&raw.service_type, raw.parameters, &at, &mut problems)
        else {
            continue;
        };
        items.push(CatalogItem {
            id: raw.id,
            sku: raw.sku,
            name: raw.name,
            category: raw.category,
            description: raw.description,
            offer,
        });
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(CatalogError::Invalid { problems })
    }
}
