//! The policy document: its JSON shape, lenient nulls, strict unknown fields, and validation.

use serde_json::json;

use super::policy;
use crate::fields::FieldError;
use crate::policy::{CAPABILITIES, CategoryRule, LayerKind, Policy, PolicyLayer};

fn fields(result: Result<(), Vec<FieldError>>) -> Vec<String> {
    result.unwrap_err().into_iter().map(|e| e.field).collect()
}

#[test]
fn the_spec_example_parses_and_validates() {
    let p = policy(
        json!({"maxPurchaseMinor": 50000, "dailySpendLimitMinor": 100000,
        "monthlySpendLimitMinor": 500000, "approvalRequiredAboveMinor": 20000,
        "allowedCategories": null, "blockedCategories": ["telephony"], "allowedCatalogItemIds": null,
        "blockedCatalogItemIds": [], "approvalRequiredCategories": ["compute"], "allowedActions": null,
        "maxPurchasesPerHour": 20,
        "categoryRules": {"compute": {"maxPurchaseMinor": 30000, "dailySpendLimitMinor": 60000}}}),
    );
    assert_eq!(p.max_purchase_minor, Some(50000));
    assert_eq!(p.blocked_categories, ["telephony"]);
    assert_eq!(
        p.category_rules["compute"].daily_spend_limit_minor,
        Some(60000)
    );
    assert_eq!(p.category_rules["compute"].monthly_spend_limit_minor, None);
    p.validate().unwrap();
}

#[test]
fn an_empty_document_is_the_default_policy() {
    assert_eq!(policy(json!({})), Policy::default());
}

#[test]
fn null_lists_and_rules_read_as_empty() {
    let p = policy(
        json!({"blockedCategories": null, "blockedCatalogItemIds": null,
        "approvalRequiredCategories": null, "categoryRules": null}),
    );
    assert_eq!(p, Policy::default());
}

#[test]
fn serialization_shows_every_field_with_nulls() {
    let value = serde_json::to_value(Policy::default()).unwrap();
    assert_eq!(
        value,
        json!({"maxPurchaseMinor": null, "dailySpendLimitMinor": null, "monthlySpendLimitMinor": null,
            "approvalRequiredAboveMinor": null, "allowedCategories": null, "blockedCategories": [],
            "allowedCatalogItemIds": null, "blockedCatalogItemIds": [], "approvalRequiredCategories": [],
            "allowedActions": null, "maxPurchasesPerHour": null, "categoryRules": {}})
    );
}

#[test]
fn category_rules_serialize_every_field() {
    let rule = CategoryRule {
        max_purchase_minor: Some(1),
        ..CategoryRule::default()
    };
    assert_eq!(
        serde_json::to_value(rule).unwrap(),
        json!({"maxPurchaseMinor": 1, "dailySpendLimitMinor": null, "monthlySpendLimitMinor": null,
            "approvalRequiredAboveMinor": null})
    );
}

#[test]
fn unknown_fields_are_rejected() {
    assert!(serde_json::from_value::<Policy>(json!({"maxPurchase": 1})).is_err());
    let rule = json!({"categoryRules": {"compute": {"weeklyLimitMinor": 1}}});
    assert!(serde_json::from_value::<Policy>(rule).is_err());
}

#[test]
fn layers_serialize_with_their_lowercase_name() {
    let layer = PolicyLayer::new(LayerKind::Account, Policy::default());
    let value = serde_json::to_value(&layer).unwrap();
    assert_eq!(value["layer"], "account");
    assert_eq!(serde_json::from_value::<PolicyLayer>(value).unwrap(), layer);
    let names: Vec<String> = LayerKind::ALL
        .iter()
        .map(|k| {
            serde_json::to_value(k)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["platform", "account", "agent", "key"]);
    assert!(
        LayerKind::ALL
            .iter()
            .all(|k| serde_json::to_value(k).unwrap() == k.as_str())
    );
}

#[test]
fn negative_and_huge_amounts_are_reported_with_their_paths() {
    let p = policy(
        json!({"maxPurchaseMinor": -1, "dailySpendLimitMinor": 10_000_000_000_001_i64,
        "monthlySpendLimitMinor": 10_000_000_000_000_i64, "approvalRequiredAboveMinor": 0,
        "categoryRules": {"compute": {"maxPurchaseMinor": -5, "approvalRequiredAboveMinor": i64::MAX}}}),
    );
    assert_eq!(
        fields(p.validate()),
        [
            "maxPurchaseMinor",
            "dailySpendLimitMinor",
            "categoryRules.compute.maxPurchaseMinor",
            "categoryRules.compute.approvalRequiredAboveMinor"
        ]
    );
}

#[test]
fn purchases_per_hour_must_be_in_range() {
    assert_eq!(
        fields(policy(json!({"maxPurchasesPerHour": -1})).validate()),
        ["maxPurchasesPerHour"]
    );
    assert_eq!(
        fields(policy(json!({"maxPurchasesPerHour": 100_001})).validate()),
        ["maxPurchasesPerHour"]
    );
    policy(json!({"maxPurchasesPerHour": 0}))
        .validate()
        .unwrap();
    policy(json!({"maxPurchasesPerHour": 100_000}))
        .validate()
        .unwrap();
}

#[test]
fn unknown_categories_are_reported_in_every_list_and_rule() {
    let p = policy(
        json!({"allowedCategories": ["compute", "gpus"], "blockedCategories": ["Domains"],
        "approvalRequiredCategories": ["storage", "x"], "categoryRules": {"food": {}}}),
    );
    assert_eq!(
        fields(p.validate()),
        [
            "allowedCategories[1]",
            "blockedCategories[0]",
            "approvalRequiredCategories[1]",
            "categoryRules.food"
        ]
    );
}

#[test]
fn catalog_item_ids_must_start_with_cat() {
    let p = policy(
        json!({"allowedCatalogItemIds": ["cat_vps_micro", "vps_micro"],
        "blockedCatalogItemIds": ["cat_"]}),
    );
    assert_eq!(
        fields(p.validate()),
        ["allowedCatalogItemIds[1]", "blockedCatalogItemIds[0]"]
    );
}

#[test]
fn actions_must_be_known_capabilities() {
    let p = policy(
        json!({"allowedActions": ["server:restart", "server:reboot", "router:usage:get", "*"]}),
    );
    assert_eq!(
        fields(p.validate()),
        ["allowedActions[1]", "allowedActions[3]"]
    );
    let every = Policy {
        allowed_actions: Some(CAPABILITIES.iter().map(|c| (*c).to_owned()).collect()),
        ..Policy::default()
    };
    every.validate().unwrap();
    assert_eq!(CAPABILITIES.len(), 19);
}

#[test]
fn empty_allowed_actions_is_valid() {
    policy(json!({"allowedActions": []})).validate().unwrap();
}

#[test]
fn lists_longer_than_a_hundred_are_reported_once() {
    let many: Vec<&str> = vec!["compute"; 101];
    let p = policy(json!({"blockedCategories": many}));
    let errors = p.validate().unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "blockedCategories");
    let hundred: Vec<&str> = vec!["compute"; 100];
    policy(json!({"blockedCategories": hundred}))
        .validate()
        .unwrap();
}

#[test]
fn every_problem_is_reported_at_once() {
    let p = policy(
        json!({"maxPurchaseMinor": -1, "allowedActions": ["nope"], "maxPurchasesPerHour": -3,
        "blockedCatalogItemIds": ["x"]}),
    );
    assert_eq!(
        fields(p.validate()),
        [
            "maxPurchaseMinor",
            "blockedCatalogItemIds[0]",
            "allowedActions[0]",
            "maxPurchasesPerHour"
        ]
    );
}
