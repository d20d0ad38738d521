//! Spending policies (SPEC section 8): the policy document, its validation, merging the layers
//! (platform -> account -> agent -> key) into the effective policy, evaluating a spend against them,
//! checking management-action capabilities, and the usage figures shown with the effective policy.
//!
//! Everything here is pure: callers load the layers and the spend already counted in each layer's scope
//! (captured spend plus pending holds, per UTC day and month) and get a decision back. Spend limits are
//! evaluated per layer rather than on the merged policy, because each layer counts a different scope: the
//! account layer counts every agent's spend, the agent layer only that agent's, the key layer only that
//! key's, and the platform layer (operator config) counts the account's.

mod decision;
mod evaluate;
mod merge;
mod model;
#[cfg(test)]
mod tests;
mod usage;
mod validate;

use serde::{Deserialize, Serialize};

pub use decision::{Decision, Evaluation, Reason, ReasonCode, ScopeUsage, Spend};
pub use evaluate::{ActionRefused, check_action, evaluate, is_read_capability};
pub use merge::{EffectivePolicy, merge};
pub use model::{CategoryRule, Policy};
pub use usage::{UsageView, usage_view};
pub use validate::{MAX_LIMIT_MINOR, MAX_LIST_LEN, MAX_PURCHASES_PER_HOUR};

/// Every management capability string (SPEC section 4), the only values `allowedActions` may hold.
pub const CAPABILITIES: &[&str] = &[
    "domain:nameservers:set",
    "domain:dns-records:read",
    "domain:dns-records:write",
    "server:restart",
    "server:reinstall",
    "server:power",
    "phone:balance:topup",
    "phone:messages:read",
    "phone:missed-calls:read",
    "phone:call-log:read",
    "storage:bucket-credentials:create",
    "storage:volume:attach",
    "storage:volume:expand",
    "storage:snapshot:create",
    "storage:snapshot:restore",
    "router:api-key:create",
    "router:api-key:list",
    "router:api-key:revoke",
    "router:usage:get",
];

/// Which layer a policy belongs to. Variants are declared in application order, so the derived `Ord`
/// sorts layers the way they narrow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerKind {
    /// Operator configuration; its spend limits count the whole account's spend.
    Platform,
    /// The account's own policy; counts every agent's spend.
    Account,
    /// One agent's policy; counts that agent's spend.
    Agent,
    /// Optional restrictions on one API key; counts spend made with that key.
    Key,
}

impl LayerKind {
    /// All layers in application order.
    pub const ALL: [LayerKind; 4] = [Self::Platform, Self::Account, Self::Agent, Self::Key];

    /// The wire name (`"platform"`, `"account"`, `"agent"`, `"key"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Platform => "platform",
            Self::Account => "account",
            Self::Agent => "agent",
            Self::Key => "key",
        }
    }
}

impl std::fmt::Display for LayerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One layer's policy. Serialized as `{"layer": "account", "policy": {...}}`, the shape of the `layers`
/// list in `GET /v1/agent/policies/effective`. Callers pass layers in application order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyLayer {
    #[serde(rename = "layer")]
    pub kind: LayerKind,
    pub policy: Policy,
}

impl PolicyLayer {
    pub fn new(kind: LayerKind, policy: Policy) -> Self {
        Self { kind, policy }
    }
}
