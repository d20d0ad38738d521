//! The inputs and outputs of evaluating a spend: the usage already counted in a layer's scope, the spend
//! itself, and the decision with its reasons (the `policyPreview` of a quote and the `details.reasons`
//! of a `policy_denied` error).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::LayerKind;

/// Spend already counted in one layer's scope: captured spend plus holds for pending approvals, per UTC
/// calendar day and month (released holds and refunds excluded), and purchases made in the last hour.
/// Category maps are keyed by category id; a missing category counts as zero.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeUsage {
    pub spent_today_minor: i64,
    pub spent_this_month_minor: i64,
    pub purchases_last_hour: i64,
    pub category_spent_today_minor: BTreeMap<String, i64>,
    pub category_spent_this_month_minor: BTreeMap<String, i64>,
}

impl ScopeUsage {
    pub fn category_today(&self, category: &str) -> i64 {
        self.category_spent_today_minor
            .get(category)
            .copied()
            .unwrap_or(0)
    }

    pub fn category_this_month(&self, category: &str) -> i64 {
        self.category_spent_this_month_minor
            .get(category)
            .copied()
            .unwrap_or(0)
    }
}

/// One prospective spend: a purchase, a phone top-up, a paid volume expansion, a router credit top-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spend<'a> {
    pub amount_minor: i64,
    pub category: &'a str,
    pub catalog_item_id: &'a str,
    /// Whether it counts toward `maxPurchasesPerHour`: top-ups and expansions are spend but not purchases.
    pub counts_as_purchase: bool,
}

/// The outcome for a spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    ApprovalRequired,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::ApprovalRequired => "approval_required",
            Self::Deny => "deny",
        }
    }
}

/// Stable reason codes (SPEC section 8). The first six deny; the last two require approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    MaxPurchaseExceeded,
    DailyLimitExceeded,
    MonthlyLimitExceeded,
    CategoryNotAllowed,
    CatalogItemNotAllowed,
    VelocityExceeded,
    ApprovalThreshold,
    ApprovalCategory,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxPurchaseExceeded => "max_purchase_exceeded",
            Self::DailyLimitExceeded => "daily_limit_exceeded",
            Self::MonthlyLimitExceeded => "monthly_limit_exceeded",
            Self::CategoryNotAllowed => "category_not_allowed",
            Self::CatalogItemNotAllowed => "catalog_item_not_allowed",
            Self::VelocityExceeded => "velocity_exceeded",
            Self::ApprovalThreshold => "approval_threshold",
            Self::ApprovalCategory => "approval_category",
        }
    }

    /// True for codes that trigger approval rather than denial.
    pub fn is_approval(self) -> bool {
        matches!(self, Self::ApprovalThreshold | Self::ApprovalCategory)
    }
}

/// Why a spend was denied or needs approval: the rule, the layer that set it and the figures involved.
/// Absent figures are omitted from JSON. `category` is set when the rule is about the category (a
/// category rule, a category list); `catalogItemId` when it is about the item. Velocity reasons carry
/// counts in `maxPurchasesPerHour` and `purchasesLastHour`, since they are not money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub code: ReasonCode,
    pub layer: LayerKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent_minor: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_item_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_purchases_per_hour: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchases_last_hour: Option<i64>,
}

impl Reason {
    /// A reason with no figures; set the relevant `Option` fields afterwards.
    pub fn new(code: ReasonCode, layer: LayerKind, message: impl Into<String>) -> Self {
        Self {
            code,
            layer,
            message: message.into(),
            limit_minor: None,
            amount_minor: None,
            spent_minor: None,
            category: None,
            catalog_item_id: None,
            max_purchases_per_hour: None,
            purchases_last_hour: None,
        }
    }
}

/// A decision with its reasons: every deny reason when denied (approval reasons are then left out, as
/// approval cannot help), every approval reason when approval is required, none when allowed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub decision: Decision,
    pub reasons: Vec<Reason>,
}

impl Evaluation {
    pub fn allow() -> Self {
        Self {
            decision: Decision::Allow,
            reasons: Vec::new(),
        }
    }
}
