//! Evaluating one spend: every reason code, the precedence of deny over approval, and the JSON shape.

use serde_json::json;

use super::{layer, nothing_spent, spent, vps};
use crate::policy::LayerKind::{Account, Agent, Key, Platform};
use crate::policy::{Decision, Evaluation, PolicyLayer, ReasonCode, ScopeUsage, Spend, evaluate};

fn codes(evaluation: &Evaluation) -> Vec<ReasonCode> {
    evaluation.reasons.iter().map(|r| r.code).collect()
}

fn account(value: serde_json::Value) -> Vec<PolicyLayer> {
    vec![layer(Account, value)]
}

#[test]
fn no_policy_allows_with_no_reasons() {
    let e = evaluate(&[], nothing_spent, &vps(2000));
    assert_eq!(e, Evaluation::allow());
}

#[test]
fn purchase_over_max_purchase_is_denied() {
    let e = evaluate(
        &account(json!({"maxPurchaseMinor": 1999})),
        nothing_spent,
        &vps(2000),
    );
    assert_eq!(e.decision, Decision::Deny);
    let r = &e.reasons[0];
    assert_eq!(
        (r.code, r.layer),
        (ReasonCode::MaxPurchaseExceeded, Account)
    );
    assert_eq!(
        (r.limit_minor, r.amount_minor, r.spent_minor),
        (Some(1999), Some(2000), None)
    );
    assert_eq!(r.category, None);
}

#[test]
fn purchase_exactly_at_a_limit_is_allowed() {
    let layers = account(
        json!({"maxPurchaseMinor": 2000, "dailySpendLimitMinor": 3000,
        "monthlySpendLimitMinor": 3000, "approvalRequiredAboveMinor": 2000}),
    );
    let e = evaluate(&layers, |_| spent(1000, 1000, 0), &vps(2000));
    assert_eq!(e, Evaluation::allow());
}

#[test]
fn purchase_over_daily_limit_is_denied() {
    let layers = account(json!({"dailySpendLimitMinor": 3000}));
    let e = evaluate(&layers, |_| spent(1500, 1500, 0), &vps(2000));
    assert_eq!(codes(&e), [ReasonCode::DailyLimitExceeded]);
    let r = &e.reasons[0];
    assert_eq!(
        (r.limit_minor, r.amount_minor, r.spent_minor),
        (Some(3000), Some(2000), Some(1500))
    );
}

#[test]
fn purchase_over_monthly_limit_is_denied() {
    let layers = account(json!({"monthlySpendLimitMinor": 10000}));
    let e = evaluate(&layers, |_| spent(0, 9000, 0), &vps(2000));
    assert_eq!(codes(&e), [ReasonCode::MonthlyLimitExceeded]);
    assert_eq!(e.reasons[0].spent_minor, Some(9000));
}

#[test]
fn a_limit_of_zero_lets_nothing_be_spent() {
    let layers = account(json!({"dailySpendLimitMinor": 0}));
    assert_eq!(
        evaluate(&layers, nothing_spent, &vps(1)).decision,
        Decision::Deny
    );
    let layers = account(json!({"maxPurchaseMinor": 0}));
    assert_eq!(
        evaluate(&layers, nothing_spent, &vps(1)).decision,
        Decision::Deny
    );
}

#[test]
fn category_rules_apply_their_own_maximum_and_windows() {
    let layers = account(
        json!({"categoryRules": {"compute": {"maxPurchaseMinor": 1000,
        "dailySpendLimitMinor": 2500, "monthlySpendLimitMinor": 2500}}}),
    );
    let e = evaluate(&layers, |_| spent(1000, 1000, 0), &vps(2000));
    assert_eq!(
        codes(&e),
        [
            ReasonCode::MaxPurchaseExceeded,
            ReasonCode::DailyLimitExceeded,
            ReasonCode::MonthlyLimitExceeded
        ]
    );
    assert!(
        e.reasons
            .iter()
            .all(|r| r.category.as_deref() == Some("compute"))
    );
    assert_eq!(e.reasons[1].spent_minor, Some(1000));
}

#[test]
fn category_windows_count_only_that_categorys_spend() {
    let layers = account(json!({"categoryRules": {"compute": {"dailySpendLimitMinor": 2500}}}));
    let usage = ScopeUsage {
        spent_today_minor: 100_000,
        category_spent_today_minor: [("domains".to_owned(), 100_000)].into(),
        ..ScopeUsage::default()
    };
    assert_eq!(
        evaluate(&layers, |_| usage.clone(), &vps(2000)).decision,
        Decision::Allow
    );
}

#[test]
fn category_rules_of_other_categories_do_not_apply() {
    let layers = account(json!({"categoryRules": {"domains": {"maxPurchaseMinor": 1}}}));
    assert_eq!(
        evaluate(&layers, nothing_spent, &vps(2000)).decision,
        Decision::Allow
    );
}

#[test]
fn category_outside_the_allow_list_is_denied() {
    let layers = account(json!({"allowedCategories": ["domains"]}));
    let e = evaluate(&layers, nothing_spent, &vps(2000));
    assert_eq!(codes(&e), [ReasonCode::CategoryNotAllowed]);
    assert_eq!(e.reasons[0].category.as_deref(), Some("compute"));
}

#[test]
fn blocked_category_is_denied() {
    let layers = account(json!({"blockedCategories": ["compute"]}));
    assert_eq!(
        codes(&evaluate(&layers, nothing_spent, &vps(2000))),
        [ReasonCode::CategoryNotAllowed]
    );
}

#[test]
fn catalog_item_outside_the_allow_list_or_blocked_is_denied() {
    let layers = account(json!({"allowedCatalogItemIds": ["cat_vps_small"],
        "blockedCatalogItemIds": ["cat_vps_micro"]}));
    let e = evaluate(&layers, nothing_spent, &vps(2000));
    assert_eq!(
        codes(&e),
        [
            ReasonCode::CatalogItemNotAllowed,
            ReasonCode::CatalogItemNotAllowed
        ]
    );
    assert_eq!(
        e.reasons[0].catalog_item_id.as_deref(),
        Some("cat_vps_micro")
    );
}

#[test]
fn too_many_purchases_in_an_hour_is_denied() {
    let layers = account(json!({"maxPurchasesPerHour": 3}));
    assert_eq!(
        evaluate(&layers, |_| spent(0, 0, 2), &vps(1)).decision,
        Decision::Allow
    );
    let e = evaluate(&layers, |_| spent(0, 0, 3), &vps(1));
    assert_eq!(codes(&e), [ReasonCode::VelocityExceeded]);
    assert_eq!(e.reasons[0].max_purchases_per_hour, Some(3));
    assert_eq!(e.reasons[0].purchases_last_hour, Some(3));
}

#[test]
fn top_ups_do_not_count_toward_velocity() {
    let layers = account(json!({"maxPurchasesPerHour": 0}));
    let top_up = Spend {
        counts_as_purchase: false,
        ..vps(500)
    };
    assert_eq!(
        evaluate(&layers, nothing_spent, &top_up).decision,
        Decision::Allow
    );
}

#[test]
fn amount_above_the_threshold_requires_approval() {
    let layers = account(json!({"approvalRequiredAboveMinor": 1000}));
    let e = evaluate(&layers, nothing_spent, &vps(2000));
    assert_eq!(e.decision, Decision::ApprovalRequired);
    assert_eq!(codes(&e), [ReasonCode::ApprovalThreshold]);
    assert_eq!(
        (e.reasons[0].limit_minor, e.reasons[0].amount_minor),
        (Some(1000), Some(2000))
    );
}

#[test]
fn category_rule_threshold_requires_approval() {
    let layers =
        account(json!({"categoryRules": {"compute": {"approvalRequiredAboveMinor": 1500}}}));
    let e = evaluate(&layers, nothing_spent, &vps(2000));
    assert_eq!(codes(&e), [ReasonCode::ApprovalThreshold]);
    assert_eq!(e.reasons[0].category.as_deref(), Some("compute"));
}

#[test]
fn approval_category_requires_approval() {
    let layers = account(json!({"approvalRequiredCategories": ["compute"]}));
    let e = evaluate(&layers, nothing_spent, &vps(1));
    assert_eq!(e.decision, Decision::ApprovalRequired);
    assert_eq!(codes(&e), [ReasonCode::ApprovalCategory]);
}

#[test]
fn a_denial_carries_every_reason_and_no_approval_reasons() {
    let layers = [
        layer(Platform, json!({"maxPurchaseMinor": 1000})),
        layer(
            Account,
            json!({"approvalRequiredAboveMinor": 10, "blockedCategories": ["compute"]}),
        ),
        layer(
            Agent,
            json!({"dailySpendLimitMinor": 100, "approvalRequiredCategories": ["compute"]}),
        ),
    ];
    let e = evaluate(&layers, nothing_spent, &vps(2000));
    assert_eq!(e.decision, Decision::Deny);
    let found: Vec<_> = e.reasons.iter().map(|r| (r.code, r.layer)).collect();
    assert_eq!(
        found,
        [
            (ReasonCode::MaxPurchaseExceeded, Platform),
            (ReasonCode::CategoryNotAllowed, Account),
            (ReasonCode::DailyLimitExceeded, Agent)
        ]
    );
}

#[test]
fn approval_reasons_are_collected_across_layers() {
    let layers = [
        layer(Account, json!({"approvalRequiredAboveMinor": 10})),
        layer(Key, json!({"approvalRequiredCategories": ["compute"]})),
    ];
    let e = evaluate(&layers, nothing_spent, &vps(2000));
    let found: Vec<_> = e.reasons.iter().map(|r| (r.code, r.layer)).collect();
    assert_eq!(
        found,
        [
            (ReasonCode::ApprovalThreshold, Account),
            (ReasonCode::ApprovalCategory, Key)
        ]
    );
}

#[test]
fn the_spec_example_policy_decides_as_documented() {
    let layers = account(
        json!({"maxPurchaseMinor": 50000, "dailySpendLimitMinor": 100000,
        "monthlySpendLimitMinor": 500000, "approvalRequiredAboveMinor": 20000,
        "blockedCategories": ["telephony"], "approvalRequiredCategories": ["compute"],
        "maxPurchasesPerHour": 20,
        "categoryRules": {"compute": {"maxPurchaseMinor": 30000, "dailySpendLimitMinor": 60000}}}),
    );
    let domain = Spend {
        amount_minor: 1499,
        category: "domains",
        catalog_item_id: "cat_domain_com",
        counts_as_purchase: true,
    };
    assert_eq!(
        evaluate(&layers, nothing_spent, &domain).decision,
        Decision::Allow
    );
    assert_eq!(
        evaluate(&layers, nothing_spent, &vps(2400)).decision,
        Decision::ApprovalRequired
    );
    assert_eq!(
        evaluate(&layers, nothing_spent, &vps(35000)).decision,
        Decision::Deny
    );
    let phone = Spend {
        category: "telephony",
        catalog_item_id: "cat_phone_global_001",
        ..domain
    };
    assert_eq!(
        evaluate(&layers, nothing_spent, &phone).decision,
        Decision::Deny
    );
}

#[test]
fn evaluations_serialize_with_snake_case_codes_and_omit_absent_figures() {
    let layers = account(json!({"dailySpendLimitMinor": 3000, "blockedCategories": ["compute"]}));
    let e = evaluate(&layers, |_| spent(1500, 1500, 0), &vps(2000));
    let value = serde_json::to_value(&e).unwrap();
    assert_eq!(value["decision"], "deny");
    let daily = &value["reasons"][0];
    assert_eq!(daily["code"], "daily_limit_exceeded");
    assert_eq!(daily["layer"], "account");
    assert_eq!(daily["limitMinor"], 3000);
    assert_eq!(daily["amountMinor"], 2000);
    assert_eq!(daily["spentMinor"], 1500);
    assert!(daily["message"].as_str().unwrap().contains("3000"));
    assert!(daily.get("category").is_none() && daily.get("catalogItemId").is_none());
    assert_eq!(value["reasons"][1]["code"], "category_not_allowed");
    assert_eq!(serde_json::from_value::<Evaluation>(value).unwrap(), e);
    let approval = serde_json::to_value(Decision::ApprovalRequired).unwrap();
    assert_eq!(approval, "approval_required");
    assert_eq!(Decision::ApprovalRequired.as_str(), "approval_required");
}

#[test]
fn reason_codes_have_stable_strings() {
    let all = [
        ReasonCode::MaxPurchaseExceeded,
        ReasonCode::DailyLimitExceeded,
        ReasonCode::MonthlyLimitExceeded,
        ReasonCode::CategoryNotAllowed,
        ReasonCode::CatalogItemNotAllowed,
        ReasonCode::VelocityExceeded,
        ReasonCode::ApprovalThreshold,
        ReasonCode::ApprovalCategory,
    ];
    for code in all {
        assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
    }
    assert_eq!(all.iter().filter(|c| c.is_approval()).count(), 2);
}
