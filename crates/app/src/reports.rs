//! Read-only summaries for the dashboard: spend per day and router usage across the account.

use agent_store_core::time::{now_ms, start_of_utc_day};
use agent_store_store::reports;

use crate::{App, AppResult, Principal};

const DAY_MS: i64 = 86_400_000;

/// Spend of one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySpend {
    /// Start of the day, epoch milliseconds.
    pub day_start: i64,
    pub amount_minor: i64,
}

/// Router usage of one model or one router key across the account.
#[derive(Debug, Clone)]
pub struct UsageLine {
    pub group: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micro_usd: i64,
}

/// Router usage across every router service of the account.
#[derive(Debug, Clone, Default)]
pub struct AccountRouterUsage {
    pub by_model: Vec<UsageLine>,
    pub by_key: Vec<UsageLine>,
}

fn line(r: reports::RouterUsageRow) -> UsageLine {
    UsageLine {
        group: r.group,
        requests: r.requests,
        prompt_tokens: r.prompt_tokens,
        completion_tokens: r.completion_tokens,
        cost_micro_usd: r.cost_micro,
    }
}

impl App {
    /// Spend (held and captured) per UTC day over the last `days` days, today last; every day is
    /// present, with 0 when nothing was spent.
    pub async fn spend_per_day(
        &self,
        principal: &Principal,
        days: i64,
    ) -> AppResult<Vec<DaySpend>> {
        let account_id = crate::identity::require_account(principal)?;
        let days = days.clamp(1, 366);
        let today = start_of_utc_day(now_ms());
        let first = today - (days - 1) * DAY_MS;
        let rows = reports::spend_per_day(self.store().pool(), account_id, first).await?;
        Ok((0..days)
            .map(|i| {
                let day_start = first + i * DAY_MS;
                let amount_minor = rows
                    .iter()
                    .find(|(d, _)| d * DAY_MS == day_start)
                    .map_or(0, |(_, a)| *a);
                DaySpend {
                    day_start,
                    amount_minor,
                }
            })
            .collect())
    }

    /// Router usage of the whole account by model and by key, most expensive first.
    pub async fn account_router_usage(
        &self,
        principal: &Principal,
    ) -> AppResult<AccountRouterUsage> {
        let account_id = crate::identity::require_account(principal)?;
        let pool = self.store().pool();
        let by_model = reports::router_usage(pool, account_id, false).await?;
        let by_key = reports::router_usage(pool, account_id, true).await?;
        Ok(AccountRouterUsage {
            by_model: by_model.into_iter().map(line).collect(),
            by_key: by_key.into_iter().map(line).collect(),
        })
    }
}
