//! The policy document: the JSON shape an account edits and an agent reads back (SPEC section 8).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// One layer's limits and lists. `None` (JSON `null`) means "no constraint from this layer". Block-lists
/// and approval triggers have no such distinction (an empty list constrains nothing), so `null` or an
/// absent field reads as empty for them. Serialization always writes every field, nulls included, so
/// clients see the full shape.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Policy {
    pub max_purchase_minor: Option<i64>,
    pub daily_spend_limit_minor: Option<i64>,
    pub monthly_spend_limit_minor: Option<i64>,
    pub approval_required_above_minor: Option<i64>,
    pub allowed_categories: Option<Vec<String>>,
    #[serde(deserialize_with = "null_as_default")]
    pub blocked_categories: Vec<String>,
    pub allowed_catalog_item_ids: Option<Vec<String>>,
    #[serde(deserialize_with = "null_as_default")]
    pub blocked_catalog_item_ids: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub approval_required_categories: Vec<String>,
    /// `None`: no restriction on management actions; `Some([])`: read-only for management actions.
    pub allowed_actions: Option<Vec<String>>,
    pub max_purchases_per_hour: Option<i64>,
    /// Extra limits for one category, keyed by category id; they apply on top of the layer's own.
    #[serde(deserialize_with = "null_as_default")]
    pub category_rules: BTreeMap<String, CategoryRule>,
}

/// Limits that apply only to spends in one category. Windows count that category's spend in the layer's
/// scope.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CategoryRule {
    pub max_purchase_minor: Option<i64>,
    pub daily_spend_limit_minor: Option<i64>,
    pub monthly_spend_limit_minor: Option<i64>,
    pub approval_required_above_minor: Option<i64>,
}

impl Policy {
    /// The money fields with their wire names, for validation and merging.
    pub(super) fn amount_fields(&self) -> [(&'static str, Option<i64>); 4] {
        [
            ("maxPurchaseMinor", self.max_purchase_minor),
            ("dailySpendLimitMinor", self.daily_spend_limit_minor),
            ("monthlySpendLimitMinor", self.monthly_spend_limit_minor),
            (
                "approvalRequiredAboveMinor",
                self.approval_required_above_minor,
            ),
        ]
    }
}

impl CategoryRule {
    /// The money fields with their wire names, for validation and merging.
    pub(super) fn amount_fields(&self) -> [(&'static str, Option<i64>); 4] {
        [
            ("maxPurchaseMinor", self.max_purchase_minor),
            ("dailySpendLimitMinor", self.daily_spend_limit_minor),
            ("monthlySpendLimitMinor", self.monthly_spend_limit_minor),
            (
                "approvalRequiredAboveMinor",
                self.approval_required_above_minor,
            ),
        ]
    }

    /// True when no field is set, so the rule constrains nothing.
    pub fn is_empty(&self) -> bool {
        self.amount_fields()
            .iter()
            .all(|(_, value)| value.is_none())
    }
}

/// Reads `null` as the type's default; an absent field is already covered by the container's `default`.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
