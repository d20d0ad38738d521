//! Merging the layers into the effective policy shown to agents and the dashboard: numbers by minimum,
//! allow-lists by intersection, block-lists and approval triggers by union, category rules per category
//! and field by minimum, plus which layer decided each field.
//!
//! The merged policy is for display and for list checks; spend windows are evaluated per layer (see
//! [`super::evaluate`]) because each layer counts a different scope.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{CategoryRule, LayerKind, Policy, PolicyLayer};

/// The merged policy and, for every field some layer set, the layer that decided its value. Keys of
/// `sources` are wire field names (`maxPurchaseMinor`); category-rule fields use dotted paths
/// (`categoryRules.compute.dailySpendLimitMinor`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectivePolicy {
    pub policy: Policy,
    pub sources: BTreeMap<String, LayerKind>,
}

/// Merges `layers`, given in application order. With no layers the result constrains nothing.
///
/// Sources: for a minimum, the layer holding it (the earliest on ties, since a later equal value did not
/// narrow anything); for a list, the last layer that contributed to it.
pub fn merge(layers: &[PolicyLayer]) -> EffectivePolicy {
    let mut sources = BTreeMap::new();
    let mut min = |field: String, get: fn(&Policy) -> Option<i64>| {
        minimum(
            &mut sources,
            field,
            layers.iter().map(|l| (l.kind, get(&l.policy))),
        )
    };
    let max_purchase_minor = min("maxPurchaseMinor".into(), |p| p.max_purchase_minor);
    let daily_spend_limit_minor = min("dailySpendLimitMinor".into(), |p| p.daily_spend_limit_minor);
    let monthly_spend_limit_minor = min("monthlySpendLimitMinor".into(), |p| {
        p.monthly_spend_limit_minor
    });
    let approval_required_above_minor = min("approvalRequiredAboveMinor".into(), |p| {
        p.approval_required_above_minor
    });
    let max_purchases_per_hour = min("maxPurchasesPerHour".into(), |p| p.max_purchases_per_hour);

    let allowed_categories = intersection(&mut sources, "allowedCategories", layers, |p| {
        p.allowed_categories.as_ref()
    });
    let allowed_catalog_item_ids =
        intersection(&mut sources, "allowedCatalogItemIds", layers, |p| {
            p.allowed_catalog_item_ids.as_ref()
        });
    let allowed_actions = intersection(&mut sources, "allowedActions", layers, |p| {
        p.allowed_actions.as_ref()
    });
    let blocked_categories = union(&mut sources, "blockedCategories", layers, |p| {
        &p.blocked_categories
    });
    let blocked_catalog_item_ids = union(&mut sources, "blockedCatalogItemIds", layers, |p| {
        &p.blocked_catalog_item_ids
    });
    let approval_required_categories =
        union(&mut sources, "approvalRequiredCategories", layers, |p| {
            &p.approval_required_categories
        });
    let category_rules = merge_category_rules(&mut sources, layers);

    EffectivePolicy {
        policy: Policy {
            max_purchase_minor,
            daily_spend_limit_minor,
            monthly_spend_limit_minor,
            approval_required_above_minor,
            allowed_categories,
            blocked_categories,
            allowed_catalog_item_ids,
            blocked_catalog_item_ids,
            approval_required_categories,
            allowed_actions,
            max_purchases_per_hour,
            category_rules,
        },
        sources,
    }
}

/// Merges each category's rule field by field; a category appears if any layer has a rule for it that
/// sets something.
fn merge_category_rules(
    sources: &mut BTreeMap<String, LayerKind>,
    layers: &[PolicyLayer],
) -> BTreeMap<String, CategoryRule> {
    let categories: BTreeSet<&String> = layers
        .iter()
        .flat_map(|l| l.policy.category_rules.keys())
        .collect();
    let mut merged = BTreeMap::new();
    for category in categories {
        let mut min = |name: &str, get: fn(&CategoryRule) -> Option<i64>| {
            let values = layers.iter().filter_map(|l| {
                l.policy
                    .category_rules
                    .get(category)
                    .map(|rule| (l.kind, get(rule)))
            });
            minimum(sources, format!("categoryRules.{category}.{name}"), values)
        };
        let rule = CategoryRule {
            max_purchase_minor: min("maxPurchaseMinor", |r| r.max_purchase_minor),
            daily_spend_limit_minor: min("dailySpendLimitMinor", |r| r.daily_spend_limit_minor),
            monthly_spend_limit_minor: min("monthlySpendLimitMinor", |r| {
                r.monthly_spend_limit_minor
            }),
            approval_required_above_minor: min("approvalRequiredAboveMinor", |r| {
                r.approval_required_above_minor
            }),
        };
        if !rule.is_empty() {
            merged.insert(category.clone(), rule);
        }
    }
    merged
}

/// The smallest value set by any layer, recording the first layer that holds it.
fn minimum(
    sources: &mut BTreeMap<String, LayerKind>,
    field: String,
    values: impl Iterator<Item = (LayerKind, Option<i64>)>,
) -> Option<i64> {
    let mut best: Option<(i64, LayerKind)> = None;
    for (kind, value) in values {
        if let Some(value) = value
            && best.is_none_or(|(current, _)| value < current)
        {
            best = Some((value, kind));
        }
    }
    let (value, kind) = best?;
    sources.insert(field, kind);
    Some(value)
}

/// Intersection of the allow-lists the layers set (sorted, deduplicated); `None` when no layer set one.
fn intersection(
    sources: &mut BTreeMap<String, LayerKind>,
    field: &str,
    layers: &[PolicyLayer],
    get: fn(&Policy) -> Option<&Vec<String>>,
) -> Option<Vec<String>> {
    let mut merged: Option<BTreeSet<&String>> = None;
    for layer in layers {
        let Some(list) = get(&layer.policy) else {
            continue;
        };
        let set: BTreeSet<&String> = list.iter().collect();
        merged = Some(match merged {
            None => set,
            Some(previous) => previous.intersection(&set).copied().collect(),
        });
        sources.insert(field.to_owned(), layer.kind);
    }
    merged.map(|set| set.into_iter().cloned().collect())
}

/// Union of the lists the layers set (sorted, deduplicated); a layer with an empty list set nothing.
fn union(
    sources: &mut BTreeMap<String, LayerKind>,
    field: &str,
    layers: &[PolicyLayer],
    get: fn(&Policy) -> &Vec<String>,
) -> Vec<String> {
    let mut merged = BTreeSet::new();
    for layer in layers {
        let list = get(&layer.policy);
        if !list.is_empty() {
            merged.extend(list.iter());
            sources.insert(field.to_owned(), layer.kind);
        }
    }
    merged.into_iter().cloned().collect()
}
