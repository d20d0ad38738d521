//! Operational aggregates for metrics: purchases by status, ledger balances by kind, jobs by status.

use agent_store_store::stats;

use crate::{App, AppResult};

/// Counts read from the database (shared by every process).
#[derive(Debug, Clone, Default)]
pub struct OperationalStats {
    pub purchases_by_status: Vec<(String, i64)>,
    /// Micro-dollars per ledger account kind.
    pub ledger_by_kind: Vec<(String, i64)>,
    pub jobs_by_status: Vec<(String, i64)>,
}

impl App {
    pub async fn operational_stats(&self) -> AppResult<OperationalStats> {
        let pool = self.store().pool();
        Ok(OperationalStats {
            purchases_by_status: stats::purchases_by_status(pool).await?,
            ledger_by_kind: stats::ledger_totals(pool).await?,
            jobs_by_status: stats::jobs_by_status(pool).await?,
        })
    }
}
