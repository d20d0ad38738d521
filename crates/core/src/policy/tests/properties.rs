//! Properties over random layers, usage and spends: narrowing is monotonic, merging takes minimums and
//! respects layer order, allowed spends never add up past a limit, and no input makes evaluation panic.

use proptest::prelude::*;
use proptest::sample::subsequence;

use crate::policy::{
    CategoryRule, Decision, LayerKind, Policy, PolicyLayer, ScopeUsage, Spend, check_action,
    evaluate, merge, usage_view,
};

const CATEGORIES: [&str; 3] = ["compute", "domains", "storage"];
const ITEMS: [&str; 3] = ["cat_a", "cat_b", "cat_c"];

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn list() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        subsequence(CATEGORIES.to_vec(), 0..=3),
        subsequence(ITEMS.to_vec(), 0..=3)
    ]
    .prop_map(|v| strings(&v))
}

fn allow_list() -> impl Strategy<Value = Option<Vec<String>>> {
    prop_oneof![2 => Just(None), 1 => list().prop_map(Some)]
}

fn block_list() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![2 => Just(Vec::new()), 1 => list()]
}

/// Limits from `values`, mostly absent so several layers interact without always denying.
fn limit(values: impl Strategy<Value = i64>) -> impl Strategy<Value = Option<i64>> {
    prop_oneof![2 => Just(None), 1 => values.prop_map(Some)]
}

fn rule(amounts: impl Strategy<Value = i64> + Clone) -> impl Strategy<Value = CategoryRule> {
    (
        limit(amounts.clone()),
        limit(amounts.clone()),
        limit(amounts.clone()),
        limit(amounts),
    )
        .prop_map(|(max, daily, monthly, approval)| CategoryRule {
            max_purchase_minor: max,
            daily_spend_limit_minor: daily,
            monthly_spend_limit_minor: monthly,
            approval_required_above_minor: approval,
        })
}

/// Policies whose numbers come from `amounts` (small ranges make limits bite, `any` probes extremes).
fn policy(amounts: impl Strategy<Value = i64> + Clone + 'static) -> impl Strategy<Value = Policy> {
    let numbers = (
        limit(amounts.clone()),
        limit(amounts.clone()),
        limit(amounts.clone()),
        limit(amounts.clone()),
        limit(amounts.clone()),
    );
    let lists = (
        allow_list(),
        allow_list(),
        allow_list(),
        block_list(),
        block_list(),
        block_list(),
    );
    let rules = proptest::collection::btree_map(
        proptest::sample::select(CATEGORIES.to_vec()).prop_map(str::to_owned),
        rule(amounts),
        0..=2,
    );
    (numbers, lists, rules).prop_map(|((max, daily, monthly, approval, hourly), lists, rules)| {
        let (categories, items, actions, blocked, blocked_items, approval_categories) = lists;
        Policy {
            max_purchase_minor: max,
            daily_spend_limit_minor: daily,
            monthly_spend_limit_minor: monthly,
            approval_required_above_minor: approval,
            allowed_categories: categories,
            blocked_categories: blocked,
            allowed_catalog_item_ids: items,
            blocked_catalog_item_ids: blocked_items,
            approval_required_categories: approval_categories,
            allowed_actions: actions,
            max_purchases_per_hour: hourly,
            category_rules: rules,
        }
    })
}

fn kind() -> impl Strategy<Value = LayerKind> {
    proptest::sample::select(LayerKind::ALL.to_vec())
}

fn layers(
    amounts: impl Strategy<Value = i64> + Clone + 'static,
) -> impl Strategy<Value = Vec<PolicyLayer>> {
    proptest::collection::vec(
        (kind(), policy(amounts)).prop_map(|(k, p)| PolicyLayer::new(k, p)),
        0..5,
    )
}

fn scope_usage(amounts: impl Strategy<Value = i64> + Clone) -> impl Strategy<Value = ScopeUsage> {
    let per_category = proptest::collection::btree_map(
        proptest::sample::select(CATEGORIES.to_vec()).prop_map(str::to_owned),
        amounts.clone(),
        0..=3,
    );
    (
        amounts.clone(),
        amounts.clone(),
        amounts,
        per_category.clone(),
        per_category,
    )
        .prop_map(|(today, month, hour, cat_today, cat_month)| ScopeUsage {
            spent_today_minor: today,
            spent_this_month_minor: month,
            purchases_last_hour: hour,
            category_spent_today_minor: cat_today,
            category_spent_this_month_minor: cat_month,
        })
}

fn rank(decision: Decision) -> u8 {
    match decision {
        Decision::Allow => 0,
        Decision::ApprovalRequired => 1,
        Decision::Deny => 2,
    }
}

fn index(kind: LayerKind) -> usize {
    LayerKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

type Numeric = fn(&Policy) -> Option<i64>;

const NUMERIC: [(&str, Numeric); 5] = [
    ("maxPurchaseMinor", |p| p.max_purchase_minor),
    ("dailySpendLimitMinor", |p| p.daily_spend_limit_minor),
    ("monthlySpendLimitMinor", |p| p.monthly_spend_limit_minor),
    ("approvalRequiredAboveMinor", |p| {
        p.approval_required_above_minor
    }),
    ("maxPurchasesPerHour", |p| p.max_purchases_per_hour),
];

proptest! {
    /// (a) Adding a layer anywhere never turns a deny into allow or approval, nor an approval into
    /// allow.
    #[test]
    fn adding_a_layer_only_narrows(
        base in layers(0..5000i64),
        extra in (kind(), policy(0..5000i64)),
        position in any::<prop::sample::Index>(),
        usages in proptest::array::uniform4(scope_usage(0..5000i64)),
        amount in 0..6000i64,
        category in proptest::sample::select(CATEGORIES.to_vec()),
        item in proptest::sample::select(ITEMS.to_vec()),
        counts in any::<bool>(),
    ) {
        let spend = Spend {
            amount_minor: amount,
            category,
            catalog_item_id: item,
            counts_as_purchase: counts,
        };
        let usage = |k: LayerKind| usages[index(k)].clone();
        let before = evaluate(&base, usage, &spend);
        let mut narrowed = base.clone();
        narrowed.insert(position.index(base.len() + 1), PolicyLayer::new(extra.0, extra.1));
        let after = evaluate(&narrowed, usage, &spend);
        prop_assert!(rank(after.decision) >= rank(before.decision), "{before:?} then {after:?}");
        prop_assert_eq!(after.decision == Decision::Allow, after.reasons.is_empty());
    }

    /// (b) Numeric fields are the minimum of the layers, credited to the first layer holding it; lists
    /// are credited to the last contributing layer; merging a prefix first changes nothing.
    #[test]
    fn merge_takes_minimums_in_layer_order(
        all in layers(0..100i64),
        split in any::<prop::sample::Index>(),
    ) {
        let merged = merge(&all);
        for (name, get) in NUMERIC {
            let min = all.iter().filter_map(|l| get(&l.policy)).min();
            prop_assert_eq!(get(&merged.policy), min);
            let first = all.iter().find(|l| min.is_some() && get(&l.policy) == min).map(|l| l.kind);
            prop_assert_eq!(merged.sources.get(name).copied(), first);
        }
        let last_allow =
            all.iter().rev().find(|l| l.policy.allowed_categories.is_some()).map(|l| l.kind);
        prop_assert_eq!(merged.sources.get("allowedCategories").copied(), last_allow);
        let last_block =
            all.iter().rev().find(|l| !l.policy.blocked_categories.is_empty()).map(|l| l.kind);
        prop_assert_eq!(merged.sources.get("blockedCategories").copied(), last_block);

        let at = split.index(all.len() + 1);
        let (head, tail) = all.split_at(at);
        let mut staged = vec![PolicyLayer::new(LayerKind::Platform, merge(head).policy)];
        staged.extend(tail.iter().cloned());
        prop_assert_eq!(merge(&staged).policy, merged.policy);
    }

    /// (c) Applying a random sequence of spends from two agents, each only when not denied (holds for
    /// approval count as spend), never takes any scope past a daily limit that applies to it.
    #[test]
    fn allowed_spends_never_exceed_a_daily_limit(
        account in policy(0..20_000i64),
        agent in policy(0..20_000i64),
        spends in proptest::collection::vec(
            (0..2usize, 1..5000i64, proptest::sample::select(CATEGORIES.to_vec())), 0..40),
    ) {
        let layers = [
            PolicyLayer::new(LayerKind::Account, account.clone()),
            PolicyLayer::new(LayerKind::Agent, agent.clone()),
        ];
        let mut account_usage = ScopeUsage::default();
        let mut agent_usage = [ScopeUsage::default(), ScopeUsage::default()];
        for (who, amount, category) in spends {
            let spend = Spend {
                amount_minor: amount,
                category,
                catalog_item_id: "cat_a",
                counts_as_purchase: true,
            };
            // One key per agent, so key and agent scopes coincide; platform counts the account.
            let usage = |k: LayerKind| match k {
                LayerKind::Agent | LayerKind::Key => agent_usage[who].clone(),
                LayerKind::Platform | LayerKind::Account => account_usage.clone(),
            };
            if evaluate(&layers, usage, &spend).decision == Decision::Deny {
                continue;
            }
            for scope in [&mut account_usage, &mut agent_usage[who]] {
                scope.spent_today_minor += amount;
                scope.spent_this_month_minor += amount;
                scope.purchases_last_hour += 1;
                *scope.category_spent_today_minor.entry(category.to_owned()).or_default() += amount;
            }
        }
        let within = |policy: &Policy, scope: &ScopeUsage| {
            policy.daily_spend_limit_minor.is_none_or(|l| scope.spent_today_minor <= l)
                && policy.max_purchases_per_hour.is_none_or(|l| scope.purchases_last_hour <= l)
                && policy.category_rules.iter().all(|(c, r)| {
                    r.daily_spend_limit_minor.is_none_or(|l| scope.category_today(c) <= l)
                })
        };
        prop_assert!(within(&account, &account_usage));
        prop_assert!(agent_usage.iter().all(|u| within(&agent, u)));
    }

    /// (d) Nothing panics or overflows, whatever the numbers and strings.
    #[test]
    fn evaluation_never_panics(
        all in layers(prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), any::<i64>()]),
        usages in proptest::array::uniform4(
            scope_usage(prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()])),
        amount in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>()],
        category in ".{0,12}",
        item in prop_oneof![Just("cat_a".to_owned()), ".{0,12}"],
        counts in any::<bool>(),
    ) {
        let spend = Spend {
            amount_minor: amount,
            category: &category,
            catalog_item_id: &item,
            counts_as_purchase: counts,
        };
        let usage = |k: LayerKind| usages[index(k)].clone();
        let e = evaluate(&all, usage, &spend);
        prop_assert!(serde_json::to_string(&e).is_ok());
        let _ = merge(&all);
        let _ = check_action(&all, &category);
        let view = usage_view(&all, usage, LayerKind::Agent);
        prop_assert!(view.remaining_today_minor.is_none_or(|r| r >= 0));
        for layer in &all {
            let _ = layer.policy.validate();
        }
    }
}
