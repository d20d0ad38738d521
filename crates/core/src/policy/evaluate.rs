//! Evaluating a spend against every layer, and checking a management action's capability.
//!
//! Each layer is checked on its own against the usage of its own scope, so an account limit sees every
//! agent's spend while an agent limit sees only that agent's. A deny from any layer wins; every reason
//! from every layer is reported so the agent (or human) learns all that stands in the way at once.

use serde::{Deserialize, Serialize};

use super::{
    Decision, Evaluation, LayerKind, Policy, PolicyLayer, Reason, ReasonCode, ScopeUsage, Spend,
};

/// Decides a spend. `layers` are in application order; `usage(kind)` returns the usage already counted
/// in that layer's scope (platform and account: the account; agent: the agent; key: the key). It is
/// called once per layer, so a caller can pass a closure over pre-loaded figures, or `&dyn Fn`.
///
/// Limits compare with `>`: a spend that lands exactly on a limit is allowed, and a limit of 0 lets
/// nothing with a positive amount through. Sums are computed in `i128`, so no input can overflow.
pub fn evaluate(
    layers: &[PolicyLayer],
    usage: impl Fn(LayerKind) -> ScopeUsage,
    spend: &Spend<'_>,
) -> Evaluation {
    let mut denials = Vec::new();
    let mut approvals = Vec::new();
    for layer in layers {
        let scope = usage(layer.kind);
        let mut check = LayerCheck {
            layer: layer.kind,
            scope: &scope,
            spend,
            denials: &mut denials,
            approvals: &mut approvals,
        };
        check.limits(&layer.policy);
        check.lists(&layer.policy);
        check.approval_triggers(&layer.policy);
    }
    if !denials.is_empty() {
        Evaluation {
            decision: Decision::Deny,
            reasons: denials,
        }
    } else if !approvals.is_empty() {
        Evaluation {
            decision: Decision::ApprovalRequired,
            reasons: approvals,
        }
    } else {
        Evaluation::allow()
    }
}

/// A management action refused by a layer's `allowedActions` (the API's 403 `capability_not_allowed`).
/// A separate type rather than a [`ReasonCode`], because the SPEC's reason codes are about spends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct ActionRefused {
    pub layer: LayerKind,
    pub capability: String,
    pub message: String,
}

/// Whether a capability only reads (lists DNS records, messages, calls, router keys or usage).
pub fn is_read_capability(capability: &str) -> bool {
    [":read", ":list", ":get"]
        .iter()
        .any(|suffix| capability.ends_with(suffix))
}

/// Checks a management action: refused by the first layer whose `allowedActions` is a list without
/// `capability`; layers with `null` do not restrict. An empty list makes the key read-only for
/// management actions (SPEC section 8): it refuses every change and admits the read capabilities.
/// A non-empty list admits exactly what it names, reads included.
pub fn check_action(layers: &[PolicyLayer], capability: &str) -> Result<(), ActionRefused> {
    let read = is_read_capability(capability);
    let admits = |allowed: &[String]| {
        allowed.iter().any(|a| a == capability) || (allowed.is_empty() && read)
    };
    let refusing = layers.iter().find(|layer| {
        layer
            .policy
            .allowed_actions
            .as_deref()
            .is_some_and(|allowed| !admits(allowed))
    });
    match refusing {
        None => Ok(()),
        Some(layer) => Err(ActionRefused {
            layer: layer.kind,
            capability: capability.to_owned(),
            message: format!(
                "the {} policy does not allow the action `{capability}`",
                layer.kind
            ),
        }),
    }
}

/// One layer's checks, collecting reasons into the shared lists.
struct LayerCheck<'a> {
    layer: LayerKind,
    scope: &'a ScopeUsage,
    spend: &'a Spend<'a>,
    denials: &'a mut Vec<Reason>,
    approvals: &'a mut Vec<Reason>,
}

/// Which money limit a check is about, for codes and messages.
#[derive(Clone, Copy)]
enum Limit {
    MaxPurchase,
    Daily,
    Monthly,
}

impl LayerCheck<'_> {
    /// Per-purchase maximum and daily and monthly windows, for the layer and its rule for the category.
    fn limits(&mut self, policy: &Policy) {
        let rule = policy.category_rules.get(self.spend.category);
        let category = self.spend.category;
        self.money_limit(Limit::MaxPurchase, policy.max_purchase_minor, None, None);
        self.money_limit(
            Limit::MaxPurchase,
            rule.and_then(|r| r.max_purchase_minor),
            None,
            Some(category),
        );
        let today = self.scope.spent_today_minor;
        self.money_limit(
            Limit::Daily,
            policy.daily_spend_limit_minor,
            Some(today),
            None,
        );
        let category_today = self.scope.category_today(category);
        self.money_limit(
            Limit::Daily,
            rule.and_then(|r| r.daily_spend_limit_minor),
            Some(category_today),
            Some(category),
        );
        let month = self.scope.spent_this_month_minor;
        self.money_limit(
            Limit::Monthly,
            policy.monthly_spend_limit_minor,
            Some(month),
            None,
        );
        let category_month = self.scope.category_this_month(category);
        self.money_limit(
            Limit::Monthly,
            rule.and_then(|r| r.monthly_spend_limit_minor),
            Some(category_month),
            Some(category),
        );
        self.velocity(policy.max_purchases_per_hour);
    }

    /// Denies when `spent + amount > limit` (`spent` is 0 for the per-purchase maximum).
    fn money_limit(
        &mut self,
        kind: Limit,
        limit: Option<i64>,
        spent: Option<i64>,
        category: Option<&str>,
    ) {
        let Some(limit) = limit else { return };
        let amount = self.spend.amount_minor;
        let total = i128::from(spent.unwrap_or(0)) + i128::from(amount);
        if total <= i128::from(limit) {
            return;
        }
        let (code, what) = match kind {
            Limit::MaxPurchase => (ReasonCode::MaxPurchaseExceeded, "maximum purchase"),
            Limit::Daily => (ReasonCode::DailyLimitExceeded, "daily spend limit"),
            Limit::Monthly => (ReasonCode::MonthlyLimitExceeded, "monthly spend limit"),
        };
        let scope = match category {
            Some(c) => format!("{what} for category `{c}`"),
            None => what.to_owned(),
        };
        let message = match spent {
            Some(spent) => format!(
                "spending {amount} on top of {spent} already spent exceeds the {} policy's {scope} \
                 of {limit}",
                self.layer
            ),
            None => format!(
                "an amount of {amount} exceeds the {} policy's {scope} of {limit}",
                self.layer
            ),
        };
        let mut reason = Reason::new(code, self.layer, message);
        reason.limit_minor = Some(limit);
        reason.amount_minor = Some(amount);
        reason.spent_minor = spent;
        reason.category = category.map(str::to_owned);
        self.denials.push(reason);
    }

    /// Purchases per hour; top-ups and expansions do not count.
    fn velocity(&mut self, limit: Option<i64>) {
        let Some(limit) = limit else { return };
        let made = self.scope.purchases_last_hour;
        // `made + 1 > limit`, written without the addition so `i64::MAX` cannot overflow.
        if !self.spend.counts_as_purchase || made < limit {
            return;
        }
        let message = format!(
            "{made} purchases in the last hour; the {} policy allows at most {limit} per hour",
            self.layer
        );
        let mut reason = Reason::new(ReasonCode::VelocityExceeded, self.layer, message);
        reason.max_purchases_per_hour = Some(limit);
        reason.purchases_last_hour = Some(made);
        self.denials.push(reason);
    }

    /// Allow-lists and block-lists of categories and catalog items.
    fn lists(&mut self, policy: &Policy) {
        let category = self.spend.category;
        let item = self.spend.catalog_item_id;
        if let Some(allowed) = &policy.allowed_categories
            && !allowed.iter().any(|c| c == category)
        {
            self.list_denial(
                ReasonCode::CategoryNotAllowed,
                "is not among the allowed categories",
            );
        }
        if policy.blocked_categories.iter().any(|c| c == category) {
            self.list_denial(ReasonCode::CategoryNotAllowed, "is blocked");
        }
        if let Some(allowed) = &policy.allowed_catalog_item_ids
            && !allowed.iter().any(|i| i == item)
        {
            self.list_denial(
                ReasonCode::CatalogItemNotAllowed,
                "is not among the allowed items",
            );
        }
        if policy.blocked_catalog_item_ids.iter().any(|i| i == item) {
            self.list_denial(ReasonCode::CatalogItemNotAllowed, "is blocked");
        }
    }

    fn list_denial(&mut self, code: ReasonCode, problem: &str) {
        let (noun, value) = if code == ReasonCode::CategoryNotAllowed {
            ("category", self.spend.category)
        } else {
            ("catalog item", self.spend.catalog_item_id)
        };
        let message = format!("{noun} `{value}` {problem} in the {} policy", self.layer);
        let mut reason = Reason::new(code, self.layer, message);
        reason.amount_minor = Some(self.spend.amount_minor);
        reason.category = Some(self.spend.category.to_owned());
        if code == ReasonCode::CatalogItemNotAllowed {
            reason.catalog_item_id = Some(self.spend.catalog_item_id.to_owned());
        }
        self.denials.push(reason);
    }

    /// Approval thresholds (layer and category rule) and approval categories.
    fn approval_triggers(&mut self, policy: &Policy) {
        let category = self.spend.category;
        let rule_threshold = policy
            .category_rules
            .get(category)
            .and_then(|r| r.approval_required_above_minor);
        self.threshold(policy.approval_required_above_minor, None);
        self.threshold(rule_threshold, Some(category));
        if policy
            .approval_required_categories
            .iter()
            .any(|c| c == category)
        {
            let message = format!(
                "the {} policy requires approval for spends in category `{category}`",
                self.layer
            );
            let mut reason = Reason::new(ReasonCode::ApprovalCategory, self.layer, message);
            reason.amount_minor = Some(self.spend.amount_minor);
            reason.category = Some(category.to_owned());
            self.approvals.push(reason);
        }
    }

    fn threshold(&mut self, limit: Option<i64>, category: Option<&str>) {
        let amount = self.spend.amount_minor;
        let Some(limit) = limit.filter(|limit| amount > *limit) else {
            return;
        };
        let scope = category.map_or(String::new(), |c| format!(" for category `{c}`"));
        let message = format!(
            "an amount of {amount} is above the {} policy's approval threshold{scope} of {limit}",
            self.layer
        );
        let mut reason = Reason::new(ReasonCode::ApprovalThreshold, self.layer, message);
        reason.limit_minor = Some(limit);
        reason.amount_minor = Some(amount);
        reason.category = category.map(str::to_owned);
        self.approvals.push(reason);
    }
}
