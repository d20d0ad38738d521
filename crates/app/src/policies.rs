//! Policy use cases: reading and replacing the stored layers, assembling the layers that apply to an
//! actor, measuring spend per scope, evaluating a spend, and the effective-policy view for agents.

use agent_store_core::policy::{
    self, Evaluation, LayerKind, Policy, PolicyLayer, ScopeUsage, Spend,
};
use agent_store_core::time::{HOUR_MS, now_ms, start_of_utc_day, start_of_utc_month};
use agent_store_store::credentials::{self, KIND_AGENT_KEY};
use agent_store_store::spends::{self, Scope};
use agent_store_store::{AnyConnection, agents, policies};
use serde::Serialize;
use serde_json::{Value, json};

use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Principal};

/// Which stored layer an Account API route addresses.
#[derive(Debug, Clone)]
pub enum LayerRef {
    Account,
    Agent { agent_id: String },
    Key { agent_id: String, key_id: String },
}

impl LayerRef {
    fn storage(&self) -> (&'static str, &str) {
        match self {
            Self::Account => ("account", ""),
            Self::Agent { agent_id } => ("agent", agent_id),
            Self::Key { key_id, .. } => ("key", key_id),
        }
    }
}

/// Spend of each scope an actor's layers count against.
#[derive(Debug, Clone, Default)]
pub struct UsageSet {
    pub account: ScopeUsage,
    pub agent: ScopeUsage,
    pub key: ScopeUsage,
}

impl UsageSet {
    pub fn for_layer(&self, kind: LayerKind) -> ScopeUsage {
        match kind {
            LayerKind::Platform | LayerKind::Account => self.account.clone(),
            LayerKind::Agent => self.agent.clone(),
            LayerKind::Key => self.key.clone(),
        }
    }
}

fn to_scope_usage(u: spends::Usage) -> ScopeUsage {
    ScopeUsage {
        spent_today_minor: u.today_minor,
        spent_this_month_minor: u.month_minor,
        purchases_last_hour: u.purchases_last_hour,
        category_spent_today_minor: u.category_today_minor,
        category_spent_this_month_minor: u.category_month_minor,
    }
}

/// `GET /v1/agent/policies/effective`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EffectivePolicyView {
    #[schema(value_type = Object)]
    pub policy: Value,
    #[schema(value_type = Object)]
    pub sources: Value,
    #[schema(value_type = Vec<Object>)]
    pub layers: Vec<Value>,
    #[schema(value_type = Object)]
    pub usage: Value,
}

/// Whether a policy has a limit that compares against spend already made (its scope's usage).
fn counts_past_spend(p: &Policy) -> bool {
    p.daily_spend_limit_minor.is_some()
        || p.monthly_spend_limit_minor.is_some()
        || p.max_purchases_per_hour.is_some()
        || p.category_rules
            .values()
            .any(|r| r.daily_spend_limit_minor.is_some() || r.monthly_spend_limit_minor.is_some())
}

fn parse_stored(text: &str) -> AppResult<Policy> {
    serde_json::from_str(text)
        .map_err(|e| AppError::Internal(format!("stored policy is unreadable: {e}")))
}

impl App {
    /// The layers that apply to `principal`, in order. The account acting as itself answers to the
    /// platform and account layers only.
    pub(crate) async fn layers_for(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
    ) -> AppResult<Vec<PolicyLayer>> {
        let account_id = principal.account_id();
        let mut layers = vec![PolicyLayer::new(
            LayerKind::Platform,
            self.config().platform_policy.clone(),
        )];
        let account = policies::get(&mut *conn, account_id, "account", "").await?;
        layers.push(PolicyLayer::new(
            LayerKind::Account,
            account
                .as_deref()
                .map(parse_stored)
                .transpose()?
                .unwrap_or_default(),
        ));
        if let Principal::Agent {
            agent_id, key_id, ..
        } = principal
        {
            let agent = policies::get(&mut *conn, account_id, "agent", agent_id).await?;
            layers.push(PolicyLayer::new(
                LayerKind::Agent,
                agent
                    .as_deref()
                    .map(parse_stored)
                    .transpose()?
                    .unwrap_or_default(),
            ));
            if let Some(key) = policies::get(&mut *conn, account_id, "key", key_id).await? {
                layers.push(PolicyLayer::new(LayerKind::Key, parse_stored(&key)?));
            }
        }
        Ok(layers)
    }

    /// Counted spend of every scope of `principal` at time `now`.
    pub(crate) async fn usage_for(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        now: i64,
    ) -> AppResult<UsageSet> {
        let (day, month, hour) = (
            start_of_utc_day(now),
            start_of_utc_month(now),
            now - HOUR_MS,
        );
        let account_id = principal.account_id();
        let account =
            spends::usage(&mut *conn, account_id, Scope::Account, day, month, hour).await?;
        let mut set = UsageSet {
            account: to_scope_usage(account),
            ..UsageSet::default()
        };
        if let Principal::Agent {
            agent_id, key_id, ..
        } = principal
        {
            set.agent = to_scope_usage(
                spends::usage(
                    &mut *conn,
                    account_id,
                    Scope::Agent(agent_id),
                    day,
                    month,
                    hour,
                )
                .await?,
            );
            set.key = to_scope_usage(
                spends::usage(&mut *conn, account_id, Scope::Key(key_id), day, month, hour).await?,
            );
        }
        Ok(set)
    }

    /// Like [`Self::usage_for`], but reads only the scopes that some layer has a window limit for
    /// (daily, monthly, per category, or purchases per hour): evaluation never looks at the usage of
    /// the others, and each read aggregates the scope's spends of the month, on every purchase. The
    /// result of the evaluation is the same; the skipped scopes are left at zero.
    async fn usage_counted_by(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        layers: &[PolicyLayer],
        now: i64,
    ) -> AppResult<UsageSet> {
        let counts = |kinds: &[LayerKind]| {
            layers
                .iter()
                .any(|l| kinds.contains(&l.kind) && counts_past_spend(&l.policy))
        };
        let (day, month, hour) = (
            start_of_utc_day(now),
            start_of_utc_month(now),
            now - HOUR_MS,
        );
        let account_id = principal.account_id();
        let mut set = UsageSet::default();
        if counts(&[LayerKind::Platform, LayerKind::Account]) {
            set.account = to_scope_usage(
                spends::usage(&mut *conn, account_id, Scope::Account, day, month, hour).await?,
            );
        }
        if let Principal::Agent {
            agent_id, key_id, ..
        } = principal
        {
            if counts(&[LayerKind::Agent]) {
                let scope = Scope::Agent(agent_id);
                set.agent = to_scope_usage(
                    spends::usage(&mut *conn, account_id, scope, day, month, hour).await?,
                );
            }
            if counts(&[LayerKind::Key]) {
                let scope = Scope::Key(key_id);
                set.key = to_scope_usage(
                    spends::usage(&mut *conn, account_id, scope, day, month, hour).await?,
                );
            }
        }
        Ok(set)
    }

    /// Evaluate a spend of `principal` against its layers and current usage (read through `ex`).
    pub(crate) async fn evaluate_spend(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        spend: &Spend<'_>,
    ) -> AppResult<Evaluation> {
        let layers = self.layers_for(&mut *conn, principal).await?;
        let usage = self
            .usage_counted_by(conn, principal, &layers, now_ms())
            .await?;
        Ok(policy::evaluate(
            &layers,
            |kind| usage.for_layer(kind),
            spend,
        ))
    }

    /// Check a management action's capability against the actor's `allowedActions` layers.
    pub async fn check_capability(&self, principal: &Principal, capability: &str) -> AppResult<()> {
        let mut conn = self.store().acquire().await?;
        let layers = self.layers_for(&mut conn, principal).await?;
        policy::check_action(&layers, capability)
            .map_err(|refused| AppError::CapabilityNotAllowed(refused.to_string()))
    }

    /// The merged policy, where each field came from, each layer, and the actor's usage.
    pub async fn effective_policy(&self, principal: &Principal) -> AppResult<EffectivePolicyView> {
        let mut conn = self.store().acquire().await?;
        let layers = self.layers_for(&mut conn, principal).await?;
        let usage = self.usage_for(&mut conn, principal, now_ms()).await?;
        let merged = policy::merge(&layers);
        let shown = if principal.agent_id().is_some() {
            LayerKind::Agent
        } else {
            LayerKind::Account
        };
        let view = policy::usage_view(&layers, |kind| usage.for_layer(kind), shown);
        Ok(EffectivePolicyView {
            policy: to_json(&merged.policy),
            sources: to_json(&merged.sources),
            layers: layers
                .iter()
                .map(|l| json!({"layer": l.kind, "policy": l.policy}))
                .collect(),
            usage: to_json(&view),
        })
    }

    async fn check_layer_subject(&self, account_id: &str, layer: &LayerRef) -> AppResult<()> {
        let pool = self.store().pool();
        match layer {
            LayerRef::Account => Ok(()),
            LayerRef::Agent { agent_id } => {
                agents::get(pool, account_id, agent_id)
                    .await?
                    .ok_or(AppError::NotFound("agent"))?;
                Ok(())
            }
            LayerRef::Key { agent_id, key_id } => {
                credentials::get(pool, account_id, KIND_AGENT_KEY, Some(agent_id), key_id)
                    .await?
                    .ok_or(AppError::NotFound("key"))?;
                Ok(())
            }
        }
    }

    /// One stored layer (an empty policy when never set).
    pub async fn get_policy_layer(
        &self,
        principal: &Principal,
        layer: &LayerRef,
    ) -> AppResult<Policy> {
        let account_id = crate::identity::require_account(principal)?;
        self.check_layer_subject(account_id, layer).await?;
        let (kind, subject) = layer.storage();
        let stored = policies::get(self.store().pool(), account_id, kind, subject).await?;
        Ok(stored
            .as_deref()
            .map(parse_stored)
            .transpose()?
            .unwrap_or_default())
    }

    /// Replace one layer after validating it; audited with the old and new policy.
    pub async fn put_policy_layer(
        &self,
        principal: &Principal,
        layer: &LayerRef,
        policy: Policy,
    ) -> AppResult<Policy> {
        let account_id = crate::identity::require_account(principal)?;
        policy.validate().map_err(AppError::validation)?;
        // Item ids must name items of this catalog: a typo would otherwise silently allow nothing
        // (or block nothing).
        let mut fields = agent_store_core::FieldErrors::new();
        let lists = [
            (
                "allowedCatalogItemIds",
                policy
                    .allowed_catalog_item_ids
                    .as_deref()
                    .unwrap_or_default(),
            ),
            (
                "blockedCatalogItemIds",
                policy.blocked_catalog_item_ids.as_slice(),
            ),
        ];
        for (field, ids) in lists {
            for (i, id) in ids.iter().enumerate() {
                if self.catalog().item(id).is_none() {
                    fields.push(format!("{field}[{i}]"), "is not an item of the catalog");
                }
            }
        }
        fields.finish(()).map_err(AppError::validation)?;
        self.check_layer_subject(account_id, layer).await?;
        let (kind, subject) = layer.storage();
        let before = policies::get(self.store().pool(), account_id, kind, subject).await?;
        let text = serde_json::to_string(&policy).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.store().begin_write().await?;
        policies::put(&mut *tx, account_id, kind, subject, &text, now_ms()).await?;
        let object_id = if subject.is_empty() {
            account_id.to_owned()
        } else {
            subject.to_owned()
        };
        let change = Change {
            action: "policy.updated",
            object_type: "policy",
            object_id: &object_id,
            before: None,
            after: None,
            details: json!({"layer": kind, "before": before.as_deref().map(parse_stored).transpose()?, "after": policy}),
        };
        audit::record(&mut *tx, account_id, Some(principal), &change).await?;
        agent_store_store::commit(tx).await?;
        Ok(policy)
    }
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
