//! Per-layer scopes (account limits count every agent, agent limits only that agent), management
//! capabilities, and the usage view of the effective policy.

use serde_json::json;

use super::{layer, nothing_spent, spent, vps};
use crate::policy::LayerKind::{self, Account, Agent, Key, Platform};
use crate::policy::{Decision, ReasonCode, ScopeUsage, UsageView, check_action, usage_view};

/// The account has spent 9000 today across all its agents; this agent 1000 of it, this key 400.
fn usage(kind: LayerKind) -> ScopeUsage {
    match kind {
        Platform | Account => spent(9000, 9000, 10),
        Agent => spent(1000, 1000, 2),
        Key => spent(400, 400, 1),
    }
}

#[test]
fn account_limit_counts_every_agent() {
    let layers = [layer(Account, json!({"dailySpendLimitMinor": 10000}))];
    let e = evaluate_vps(&layers, 2000);
    assert_eq!(e.decision, Decision::Deny);
    assert_eq!(e.reasons[0].spent_minor, Some(9000));
}

#[test]
fn agent_limit_counts_only_that_agent() {
    let layers = [layer(Agent, json!({"dailySpendLimitMinor": 3000}))];
    assert_eq!(evaluate_vps(&layers, 2000).decision, Decision::Allow);
    let e = evaluate_vps(&layers, 2001);
    assert_eq!(
        (e.reasons[0].layer, e.reasons[0].spent_minor),
        (Agent, Some(1000))
    );
}

#[test]
fn key_and_platform_layers_use_their_own_scopes() {
    let layers = [
        layer(Platform, json!({"maxPurchasesPerHour": 10})),
        layer(Key, json!({"monthlySpendLimitMinor": 500})),
    ];
    let e = evaluate_vps(&layers, 101);
    let found: Vec<_> = e.reasons.iter().map(|r| (r.code, r.layer)).collect();
    assert_eq!(
        found,
        [
            (ReasonCode::VelocityExceeded, Platform),
            (ReasonCode::MonthlyLimitExceeded, Key)
        ]
    );
    assert_eq!(e.reasons[1].spent_minor, Some(400));
}

fn evaluate_vps(layers: &[crate::policy::PolicyLayer], amount: i64) -> crate::policy::Evaluation {
    crate::policy::evaluate(layers, usage, &vps(amount))
}

#[test]
fn actions_are_unrestricted_without_allowed_actions() {
    assert_eq!(
        check_action(&[layer(Account, json!({}))], "server:restart"),
        Ok(())
    );
}

#[test]
fn an_action_outside_a_layers_list_is_refused_by_that_layer() {
    let layers = [
        layer(
            Account,
            json!({"allowedActions": ["server:restart", "server:power"]}),
        ),
        layer(Key, json!({"allowedActions": ["server:restart"]})),
    ];
    assert_eq!(check_action(&layers, "server:restart"), Ok(()));
    let refused = check_action(&layers, "server:power").unwrap_err();
    assert_eq!(refused.layer, Key);
    assert_eq!(refused.capability, "server:power");
    assert_eq!(
        serde_json::to_value(&refused).unwrap()["layer"],
        json!("key")
    );
    assert_eq!(
        check_action(&layers, "server:reinstall").unwrap_err().layer,
        Account
    );
}

#[test]
fn an_empty_allowed_actions_list_is_read_only() {
    let layers = [layer(Agent, json!({"allowedActions": []}))];
    for read in [
        "router:api-key:list",
        "router:usage:get",
        "domain:dns-records:read",
        "phone:messages:read",
    ] {
        assert_eq!(check_action(&layers, read), Ok(()), "{read}");
    }
    for change in [
        "router:api-key:create",
        "server:restart",
        "phone:balance:topup",
    ] {
        assert_eq!(
            check_action(&layers, change).unwrap_err().layer,
            Agent,
            "{change}"
        );
    }
    // A non-empty list admits exactly what it names, reads included.
    let listed = [layer(Agent, json!({"allowedActions": ["server:restart"]}))];
    assert!(check_action(&listed, "phone:messages:read").is_err());
}

#[test]
fn the_read_capabilities_are_the_listings_and_nothing_that_changes_a_service() {
    let reads: Vec<&str> = crate::policy::CAPABILITIES
        .iter()
        .copied()
        .filter(|c| crate::policy::is_read_capability(c))
        .collect();
    assert_eq!(
        reads,
        [
            "domain:dns-records:read",
            "phone:messages:read",
            "phone:missed-calls:read",
            "phone:call-log:read",
            "router:api-key:list",
            "router:usage:get",
        ]
    );
}

#[test]
fn usage_view_shows_the_tightest_remaining_amount_per_window() {
    let layers = [
        layer(
            Account,
            json!({"dailySpendLimitMinor": 10000, "monthlySpendLimitMinor": 100000}),
        ),
        layer(Agent, json!({"dailySpendLimitMinor": 5000})),
    ];
    let view = usage_view(&layers, usage, Agent);
    assert_eq!(
        view,
        UsageView {
            spent_today_minor: 1000,
            spent_this_month_minor: 1000,
            // Account: 10000 - 9000 = 1000; agent: 5000 - 1000 = 4000.
            remaining_today_minor: Some(1000),
            remaining_this_month_minor: Some(91000),
            purchases_last_hour: 2,
        }
    );
    assert_eq!(usage_view(&layers, usage, Account).spent_today_minor, 9000);
}

#[test]
fn usage_view_has_null_remaining_without_limits_and_never_goes_negative() {
    let view = usage_view(
        &[layer(Account, json!({"maxPurchaseMinor": 5}))],
        nothing_spent,
        Agent,
    );
    let value = serde_json::to_value(&view).unwrap();
    assert_eq!(
        value,
        json!({"spentTodayMinor": 0, "spentThisMonthMinor": 0, "remainingTodayMinor": null,
            "remainingThisMonthMinor": null, "purchasesLastHour": 0})
    );
    let over = usage_view(
        &[layer(Account, json!({"dailySpendLimitMinor": 100}))],
        usage,
        Account,
    );
    assert_eq!(over.remaining_today_minor, Some(0));
}
