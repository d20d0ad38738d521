//! Tests of policies: document validation and JSON shape, merging, evaluation of every reason code,
//! capabilities, the usage view, and properties over random layers and spends.

// Unwrapping is the clearest way to say "this must succeed" in a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod document;
mod evaluation;
mod merging;
mod properties;
mod scopes;

use serde_json::Value;

use super::{LayerKind, Policy, PolicyLayer, ScopeUsage, Spend};

fn policy(value: Value) -> Policy {
    serde_json::from_value(value).unwrap()
}

fn layer(kind: LayerKind, value: Value) -> PolicyLayer {
    PolicyLayer::new(kind, policy(value))
}

/// A purchase of a VPS (category `compute`) for `amount_minor`.
fn vps(amount_minor: i64) -> Spend<'static> {
    Spend {
        amount_minor,
        category: "compute",
        catalog_item_id: "cat_vps_micro",
        counts_as_purchase: true,
    }
}

/// Usage function for evaluations where nothing has been spent yet in any scope.
fn nothing_spent(_: LayerKind) -> ScopeUsage {
    ScopeUsage::default()
}

/// Usage with the given day and month totals (all in `compute`) and purchase count.
fn spent(today: i64, month: i64, purchases_last_hour: i64) -> ScopeUsage {
    ScopeUsage {
        spent_today_minor: today,
        spent_this_month_minor: month,
        purchases_last_hour,
        category_spent_today_minor: [("compute".to_owned(), today)].into(),
        category_spent_this_month_minor: [("compute".to_owned(), month)].into(),
    }
}
