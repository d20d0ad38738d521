//! Usage summaries of a router service from its request log: totals, per model and per key.

use agent_store_core::time::{format_rfc3339, parse_rfc3339};
use agent_store_store::router::{self as store, UsageGroup, UsageLine};
use serde::Serialize;

use crate::{App, AppError, AppResult, Principal};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageTotals {
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micro_usd: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelUsage {
    pub model: String,
    #[serde(flatten)]
    pub usage: UsageTotals,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyUsage {
    pub key_id: String,
    #[serde(flatten)]
    pub usage: UsageTotals,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouterUsageView {
    pub service_id: String,
    /// The start of the period (null: since the service was created).
    pub since: Option<String>,
    pub totals: UsageTotals,
    pub by_model: Vec<ModelUsage>,
    pub by_key: Vec<KeyUsage>,
}

fn totals(line: &UsageLine) -> UsageTotals {
    UsageTotals {
        requests: line.requests,
        prompt_tokens: line.prompt_tokens,
        completion_tokens: line.completion_tokens,
        cost_micro_usd: line.cost_micro,
    }
}

impl App {
    /// Usage of a router service since `since` (RFC 3339), from the request log.
    pub async fn router_usage(
        &self,
        principal: &Principal,
        service_id: &str,
        since: Option<&str>,
    ) -> AppResult<RouterUsageView> {
        let since_ms = match since.filter(|s| !s.is_empty()) {
            Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
                AppError::invalid_field(
                    "since",
                    "must be an RFC 3339 timestamp such as 2026-11-28T16:00:00Z",
                )
            })?),
            None => None,
        };
        // This process's finished requests are written first, so a caller sees its own requests.
        self.flush_router_usage().await?;
        let mut conn = self.store().acquire().await?;
        self.router_service(&mut conn, principal, service_id, super::keys::USAGE)
            .await?;
        let from = since_ms.unwrap_or(0);
        let total = store::usage(&mut *conn, service_id, from, UsageGroup::Total).await?;
        let by_model = store::usage(&mut *conn, service_id, from, UsageGroup::Model).await?;
        let by_key = store::usage(&mut *conn, service_id, from, UsageGroup::Key).await?;
        Ok(RouterUsageView {
            service_id: service_id.to_owned(),
            since: since_ms.map(format_rfc3339),
            totals: total.first().map(totals).unwrap_or(UsageTotals {
                requests: 0,
                prompt_tokens: 0,
                completion_tokens: 0,
                cost_micro_usd: 0,
            }),
            by_model: by_model
                .iter()
                .map(|l| ModelUsage {
                    model: l.key.clone(),
                    usage: totals(l),
                })
                .collect(),
            by_key: by_key
                .iter()
                .map(|l| KeyUsage {
                    key_id: l.key.clone(),
                    usage: totals(l),
                })
                .collect(),
        })
    }
}
