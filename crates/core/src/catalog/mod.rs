//! The catalog (SPEC section 4) and quote pricing (section 5): what can be bought, what configuration each
//! item needs, and what a configuration costs.
//!
//! The catalog is data. A default ships inside the binary (`crates/core/catalog/default.json`); an
//! operator can replace it with a file in the same format ([`Catalog::from_json_str`]), which is validated
//! on load. Each item's configuration fields are derived from its parameters once, and that single
//! description produces both the validator used by [`Catalog::price`] and the JSON Schema published by
//! [`Catalog::checkout_requirements`]. All money is integer minor units (cents).

mod config;
mod countries;
mod data;
mod domain;
mod offer;
mod phone;
mod router;
mod search;
mod server;
mod storage;
#[cfg(test)]
mod tests;
mod text;

use std::sync::OnceLock;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value, json};

use crate::fields::{FieldError, FieldErrors};
use crate::money::CURRENCY;
use offer::Offer;
pub use server::{GPU_ONLY_IMAGES, ServerResources};

/// The categories, in display order, with their display names. Fixed in code because policies' per-category
/// rules and the dashboard refer to them; catalog files may only use these.
pub const CATEGORIES: [(&str, &str); 5] = [
    ("domains", "Domains"),
    ("compute", "Compute"),
    ("storage", "Storage"),
    ("telephony", "Telephony"),
    ("api_tokens", "API Tokens"),
];

/// The default catalog file, embedded in the binary.
pub const DEFAULT_CATALOG_JSON: &str = include_str!("../../catalog/default.json");

/// Largest quantity of one item in a single quote.
pub const MAX_QUANTITY: i64 = 10;

/// Every item sold in this version needs a configuration.
const CHECKOUT_KIND: &str = "custom";

/// Why a catalog file could not be loaded. The message names each problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// Not JSON, or not the catalog file's shape (unknown or missing keys, wrong types).
    #[error("catalog file could not be read: {0}")]
    Parse(String),
    /// Well-formed, but breaks the catalog's rules (duplicate ids, unknown categories, bad prices, ...).
    #[error("catalog file is invalid: {}", problems.join("; "))]
    Invalid { problems: Vec<String> },
}

/// A loaded, validated catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    items: Vec<CatalogItem>,
}

/// One item that can be bought.
#[derive(Debug, Clone)]
pub struct CatalogItem {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub category: String,
    pub description: String,
    offer: Offer,
}

/// A category with the number of items in it, as listed by `GET /v1/agent/catalog/categories`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CategorySummary {
    pub id: String,
    pub name: String,
    pub item_count: usize,
}

/// One line of a quote's breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuoteLine {
    pub description: String,
    pub amount_minor: i64,
}

/// A validated, priced configuration of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedQuote {
    /// The configuration normalized: defaults filled in, names lowercased.
    pub configuration: Value,
    pub unit_price_minor: i64,
    /// `unit_price_minor * quantity`.
    pub total_price_minor: i64,
    pub display_name: String,
    /// The price breakdown for the whole quantity; the amounts sum to `total_price_minor`.
    pub lines: Vec<QuoteLine>,
    pub management_capabilities: Vec<String>,
    /// For domain items, the normalized name to check for availability.
    pub domain_name: Option<String>,
}

impl CatalogItem {
    pub fn service_type(&self) -> &str {
        self.offer.service_type()
    }

    pub fn category(&self) -> &str {
        &self.category
    }

    pub fn checkout_kind(&self) -> &str {
        CHECKOUT_KIND
    }

    /// The lowest price per pricing unit, for listings.
    pub fn price_from_minor(&self) -> i64 {
        self.offer.price_from_minor()
    }

    /// `year`, `month`, `gb_month` or `one_time`.
    pub fn pricing_unit(&self) -> &str {
        self.offer.pricing_unit()
    }

    pub fn management_capabilities(&self) -> Vec<String> {
        self.offer.management_capabilities()
    }

    /// The item as the API lists it (SPEC section 4).
    pub fn summary(&self) -> Value {
        json!({
            "id": self.id,
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "checkoutKind": self.checkout_kind(),
            "serviceType": self.service_type(),
            "description": self.description,
            "priceFromMinor": self.price_from_minor(),
            "currency": CURRENCY,
            "pricingUnit": self.pricing_unit(),
        })
    }

    /// The JSON Schema (draft 2020-12) of this item's configuration object.
    pub fn configuration_schema(&self) -> Value {
        config::schema(
            &format!("Configuration of {}", self.id),
            &self.offer.fields(),
        )
    }
}

/// Serializes as [`CatalogItem::summary`].
impl Serialize for CatalogItem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.summary().serialize(serializer)
    }
}

impl Catalog {
    /// The catalog embedded in the binary. Its loading is covered by a test, so the empty fallback (which
    /// exists only so this can never panic) is unreachable in a tested build.
    pub fn default_catalog() -> Catalog {
        static DEFAULT: OnceLock<Catalog> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                Catalog::from_json_str(DEFAULT_CATALOG_JSON)
                    .unwrap_or(Catalog { items: Vec::new() })
            })
            .clone()
    }

    /// Load a catalog file (the default's format), validating it.
    pub fn from_json_str(text: &str) -> Result<Catalog, CatalogError> {
        data::load(text).map(|items| Catalog { items })
    }

    /// Every category in display order, with its item count (possibly 0).
    pub fn categories(&self) -> Vec<CategorySummary> {
        CATEGORIES
            .iter()
            .map(|(id, name)| CategorySummary {
                id: (*id).to_owned(),
                name: (*name).to_owned(),
                item_count: self
                    .items
                    .iter()
                    .filter(|item| item.category == *id)
                    .count(),
            })
            .collect()
    }

    pub fn item(&self, id: &str) -> Option<&CatalogItem> {
        self.items.iter().find(|item| item.id == id)
    }

    pub fn items(&self) -> &[CatalogItem] {
        &self.items
    }

    /// Items of `category` (exact id; unknown -> empty) matching every word of `q`, best first. The whole
    /// ranked list is returned; the caller paginates.
    pub fn search(&self, category: Option<&str>, q: Option<&str>) -> Vec<&CatalogItem> {
        search::search(&self.items, category, q)
    }

    /// What an agent needs to configure `item` (SPEC section 4, checkout requirements).
    pub fn checkout_requirements(&self, item: &CatalogItem) -> Value {
        let fields = item.offer.fields();
        let names = |required: bool| -> Vec<&str> {
            fields
                .iter()
                .filter(|f| f.is_required() == required)
                .map(|f| f.name)
                .collect()
        };
        let mut out = Map::new();
        out.insert("catalogItemId".to_owned(), json!(item.id));
        out.insert("checkoutKind".to_owned(), json!(item.checkout_kind()));
        out.insert("serviceType".to_owned(), json!(item.service_type()));
        out.insert("requiredFields".to_owned(), json!(names(true)));
        out.insert("optionalFields".to_owned(), json!(names(false)));
        out.insert(
            "configurationSchema".to_owned(),
            item.configuration_schema(),
        );
        out.insert(
            "managementCapabilities".to_owned(),
            json!(item.management_capabilities()),
        );
        out.insert("pricing".to_owned(), item.offer.pricing());
        out.insert(
            "quantity".to_owned(),
            json!({"min": 1, "max": max_quantity(item)}),
        );
        out.extend(item.offer.requirement_extras());
        Value::Object(out)
    }

    /// Validate `quantity` and `configuration` for `item` and price them. Every problem is reported at
    /// once, one error per field (`quantity`, `configuration.<field>`).
    pub fn price(
        &self,
        item: &CatalogItem,
        quantity: i64,
        configuration: Option<&Value>,
    ) -> Result<PricedQuote, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let max = max_quantity(item);
        if !(1..=max).contains(&quantity) {
            if max == 1 {
                errors.push(
                    "quantity",
                    format!("must be 1 for {} items", item.service_type()),
                );
            } else {
                errors.push(
                    "quantity",
                    format!("must be an integer between 1 and {max}"),
                );
            }
        }
        let normalized = config::normalize(&item.offer.fields(), configuration, &mut errors);
        if !errors.is_empty() {
            return Err(errors.into_vec());
        }
        let too_large = || {
            vec![FieldError::new(
                "configuration",
                "results in a price too large to charge",
            )]
        };
        let priced = item
            .offer
            .price(&item.name, &normalized)
            .ok_or_else(too_large)?;
        let unit = priced
            .lines
            .iter()
            .try_fold(0_i64, |sum, l| sum.checked_add(l.amount_minor))
            .ok_or_else(too_large)?;
        let total = offer::mul(unit, quantity).ok_or_else(too_large)?;
        let mut lines = Vec::with_capacity(priced.lines.len());
        for l in priced.lines {
            // Lines cover the whole quantity so they always add up to the total.
            let amount_minor = offer::mul(l.amount_minor, quantity).ok_or_else(too_large)?;
            let description = if quantity == 1 {
                l.description
            } else {
                format!("{} (x {quantity})", l.description)
            };
            lines.push(QuoteLine {
                description,
                amount_minor,
            });
        }
        Ok(PricedQuote {
            configuration: Value::Object(normalized),
            unit_price_minor: unit,
            total_price_minor: total,
            display_name: priced.display_name,
            lines,
            management_capabilities: item.management_capabilities(),
            domain_name: priced.domain_name,
        })
    }
}

/// Domains and router credit are bought one at a time (one name, one balance); the rest up to 10.
fn max_quantity(item: &CatalogItem) -> i64 {
    match item.offer {
        Offer::Domain(_) | Offer::Router(_) => 1,
        _ => MAX_QUANTITY,
    }
}
