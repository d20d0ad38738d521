//! Merging layers into the effective policy and recording which layer decided each field.

use serde_json::json;

use super::layer;
use crate::policy::LayerKind::{Account, Agent, Key, Platform};
use crate::policy::{EffectivePolicy, Policy, merge};

#[test]
fn no_layers_merge_to_the_unconstrained_policy() {
    assert_eq!(merge(&[]), EffectivePolicy::default());
}

#[test]
fn numbers_combine_by_minimum_and_name_the_deciding_layer() {
    let merged = merge(&[
        layer(
            Platform,
            json!({"maxPurchaseMinor": 100000, "dailySpendLimitMinor": 100}),
        ),
        layer(
            Account,
            json!({"maxPurchaseMinor": 50000, "maxPurchasesPerHour": 20}),
        ),
        layer(
            Agent,
            json!({"maxPurchaseMinor": 70000, "monthlySpendLimitMinor": 900}),
        ),
    ]);
    let p = &merged.policy;
    assert_eq!(p.max_purchase_minor, Some(50000));
    assert_eq!(p.daily_spend_limit_minor, Some(100));
    assert_eq!(p.monthly_spend_limit_minor, Some(900));
    assert_eq!(p.approval_required_above_minor, None);
    assert_eq!(p.max_purchases_per_hour, Some(20));
    assert_eq!(merged.sources["maxPurchaseMinor"], Account);
    assert_eq!(merged.sources["dailySpendLimitMinor"], Platform);
    assert_eq!(merged.sources["monthlySpendLimitMinor"], Agent);
    assert_eq!(merged.sources["maxPurchasesPerHour"], Account);
    assert!(!merged.sources.contains_key("approvalRequiredAboveMinor"));
}

#[test]
fn a_tie_is_credited_to_the_earlier_layer() {
    let merged = merge(&[
        layer(Account, json!({"dailySpendLimitMinor": 500})),
        layer(Agent, json!({"dailySpendLimitMinor": 500})),
    ]);
    assert_eq!(merged.sources["dailySpendLimitMinor"], Account);
}

#[test]
fn lower_layer_cannot_widen_an_allow_list() {
    let merged = merge(&[
        layer(
            Account,
            json!({"allowedCategories": ["compute", "domains"]}),
        ),
        layer(
            Agent,
            json!({"allowedCategories": ["compute", "storage", "telephony"]}),
        ),
    ]);
    assert_eq!(
        merged.policy.allowed_categories,
        Some(vec!["compute".to_owned()])
    );
    assert_eq!(merged.sources["allowedCategories"], Agent);
}

#[test]
fn a_null_allow_list_leaves_the_others_in_force() {
    let merged = merge(&[
        layer(
            Account,
            json!({"allowedCatalogItemIds": ["cat_vps_small", "cat_vps_micro"]}),
        ),
        layer(Agent, json!({"allowedCatalogItemIds": null})),
        layer(Key, json!({})),
    ]);
    assert_eq!(
        merged.policy.allowed_catalog_item_ids,
        Some(vec!["cat_vps_micro".to_owned(), "cat_vps_small".to_owned()])
    );
    assert_eq!(merged.sources["allowedCatalogItemIds"], Account);
}

#[test]
fn disjoint_allow_lists_allow_nothing() {
    let merged = merge(&[
        layer(Account, json!({"allowedActions": ["server:restart"]})),
        layer(Key, json!({"allowedActions": ["server:power"]})),
    ]);
    assert_eq!(merged.policy.allowed_actions, Some(vec![]));
    assert_eq!(merged.sources["allowedActions"], Key);
}

#[test]
fn block_lists_and_approval_categories_combine_by_union_sorted_and_deduplicated() {
    let merged = merge(&[
        layer(Platform, json!({"blockedCategories": ["telephony"]})),
        layer(
            Account,
            json!({"blockedCategories": ["domains", "telephony"],
            "approvalRequiredCategories": ["compute"], "blockedCatalogItemIds": ["cat_vps_gpu_standard"]}),
        ),
        layer(
            Agent,
            json!({"blockedCategories": [], "approvalRequiredCategories": ["storage", "compute"]}),
        ),
    ]);
    let p = &merged.policy;
    assert_eq!(p.blocked_categories, ["domains", "telephony"]);
    assert_eq!(p.approval_required_categories, ["compute", "storage"]);
    assert_eq!(p.blocked_catalog_item_ids, ["cat_vps_gpu_standard"]);
    // The agent's empty list contributed nothing, so the account decided the block-list.
    assert_eq!(merged.sources["blockedCategories"], Account);
    assert_eq!(merged.sources["approvalRequiredCategories"], Agent);
    assert_eq!(merged.sources["blockedCatalogItemIds"], Account);
}

#[test]
fn category_rules_merge_per_category_and_field() {
    let merged = merge(&[
        layer(
            Account,
            json!({"categoryRules": {
            "compute": {"maxPurchaseMinor": 30000, "dailySpendLimitMinor": 60000},
            "storage": {"monthlySpendLimitMinor": 1000}}}),
        ),
        layer(
            Agent,
            json!({"categoryRules": {
            "compute": {"maxPurchaseMinor": 40000, "dailySpendLimitMinor": 10000,
                        "approvalRequiredAboveMinor": 5000},
            "domains": {}}}),
        ),
    ]);
    let rules = &merged.policy.category_rules;
    assert_eq!(rules["compute"].max_purchase_minor, Some(30000));
    assert_eq!(rules["compute"].daily_spend_limit_minor, Some(10000));
    assert_eq!(rules["compute"].monthly_spend_limit_minor, None);
    assert_eq!(rules["compute"].approval_required_above_minor, Some(5000));
    assert_eq!(rules["storage"].monthly_spend_limit_minor, Some(1000));
    // A rule that sets nothing constrains nothing and is left out.
    assert!(!rules.contains_key("domains"));
    assert_eq!(
        merged.sources["categoryRules.compute.maxPurchaseMinor"],
        Account
    );
    assert_eq!(
        merged.sources["categoryRules.compute.dailySpendLimitMinor"],
        Agent
    );
    assert_eq!(
        merged.sources["categoryRules.compute.approvalRequiredAboveMinor"],
        Agent
    );
    assert_eq!(
        merged.sources["categoryRules.storage.monthlySpendLimitMinor"],
        Account
    );
    assert_eq!(merged.sources.len(), 4);
}

#[test]
fn a_single_layer_merges_to_itself_up_to_list_order() {
    let layers = [layer(
        Account,
        json!({"maxPurchaseMinor": 5, "blockedCategories": ["storage", "compute"]}),
    )];
    let merged = merge(&layers);
    assert_eq!(merged.policy.max_purchase_minor, Some(5));
    assert_eq!(merged.policy.blocked_categories, ["compute", "storage"]);
}

#[test]
fn the_effective_policy_serializes_camel_case() {
    let merged = merge(&[
        layer(Account, json!({"maxPurchaseMinor": 50000})),
        layer(Agent, json!({"allowedActions": []})),
    ]);
    let value = serde_json::to_value(&merged).unwrap();
    assert_eq!(value["policy"]["maxPurchaseMinor"], 50000);
    assert_eq!(value["policy"]["allowedActions"], json!([]));
    assert_eq!(value["policy"]["dailySpendLimitMinor"], json!(null));
    assert_eq!(
        value["sources"],
        json!({"maxPurchaseMinor": "account", "allowedActions": "agent"})
    );
    let back: EffectivePolicy = serde_json::from_value(value).unwrap();
    assert_eq!(back, merged);
    let _: Policy = back.policy;
}
