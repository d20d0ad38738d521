//! The `usage` block of `GET /v1/agent/policies/effective`: what has been spent and what is left under
//! the tightest daily and monthly limits.

use serde::{Deserialize, Serialize};

use super::{LayerKind, PolicyLayer, ScopeUsage};

/// Spend so far and what remains. `remaining*` is `null` when no layer sets that window's limit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    pub spent_today_minor: i64,
    pub spent_this_month_minor: i64,
    pub remaining_today_minor: Option<i64>,
    pub remaining_this_month_minor: Option<i64>,
    pub purchases_last_hour: i64,
}

/// Computes the usage view. `usage(kind)` gives each layer's scope usage, as for [`super::evaluate`].
///
/// The `spent*` and `purchasesLastHour` figures are those of the `shown` scope: pass
/// [`LayerKind::Agent`] when an agent asks (it sees its own spend), [`LayerKind::Account`] for the
/// account's view. Remaining amounts are the smallest `limit - spent` (floored at 0) over the layers that
/// set a limit, each against its own scope's spend, because that is what the next spend will meet.
pub fn usage_view(
    layers: &[PolicyLayer],
    usage: impl Fn(LayerKind) -> ScopeUsage,
    shown: LayerKind,
) -> UsageView {
    let mut remaining_today: Option<i64> = None;
    let mut remaining_this_month: Option<i64> = None;
    for layer in layers {
        let daily = layer.policy.daily_spend_limit_minor;
        let monthly = layer.policy.monthly_spend_limit_minor;
        if daily.is_none() && monthly.is_none() {
            continue;
        }
        let scope = usage(layer.kind);
        if let Some(limit) = daily {
            lower(
                &mut remaining_today,
                remaining(limit, scope.spent_today_minor),
            );
        }
        if let Some(limit) = monthly {
            lower(
                &mut remaining_this_month,
                remaining(limit, scope.spent_this_month_minor),
            );
        }
    }
    let shown = usage(shown);
    UsageView {
        spent_today_minor: shown.spent_today_minor,
        spent_this_month_minor: shown.spent_this_month_minor,
        remaining_today_minor: remaining_today,
        remaining_this_month_minor: remaining_this_month,
        purchases_last_hour: shown.purchases_last_hour,
    }
}

/// `limit - spent`, never negative; computed wide so extreme inputs cannot overflow.
fn remaining(limit: i64, spent: i64) -> i64 {
    let left = (i128::from(limit) - i128::from(spent)).max(0);
    i64::try_from(left).unwrap_or(i64::MAX)
}

fn lower(current: &mut Option<i64>, candidate: i64) {
    *current = Some(current.map_or(candidate, |c| c.min(candidate)));
}
