//! Payment interface (wallet funding charges) and the sandbox payment processor.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::sandbox::{digest, hex};
use crate::{ProviderError, SandboxConfig};

const PROVIDER: &str = "sandbox-payments";

/// Where a charge stands with the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// The money is collected: credit the wallet now.
    Succeeded,
    /// The processor will confirm later (through a signed webhook); credit nothing yet.
    Pending,
}

/// A charge the processor accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The processor's id of the charge.
    pub provider_ref: String,
    pub status: ChargeStatus,
}

/// A payment processor that collects wallet fundings.
#[async_trait]
pub trait Payments: Send + Sync {
    /// Charge `amount_minor` (USD cents, positive) for the funding `funding_id`. The funding id is the
    /// idempotency key: charging it again returns the first charge rather than collecting twice. A
    /// declined payment is a non-retryable error.
    async fn charge(&self, funding_id: &str, amount_minor: i64) -> Result<Charge, ProviderError>;
}

#[derive(Debug, Default)]
struct Record {
    calls: u32,
    charged: Option<(i64, Charge)>,
}

/// The offline payment processor: every charge succeeds at once, except amounts configured to decline
/// (like a test card that always fails).
#[derive(Debug)]
pub struct SandboxPayments {
    declined: HashSet<i64>,
    records: Mutex<HashMap<String, Record>>,
}

impl SandboxPayments {
    pub fn new(config: &SandboxConfig) -> Self {
        Self {
            declined: config
                .decline_funding_amounts_minor
                .iter()
                .copied()
                .collect(),
            records: Mutex::new(HashMap::new()),
        }
    }

    // Each update under the lock is a single assignment, so a poisoned lock holds consistent data.
    fn records(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Charge calls made for `funding_id` so far, successful or not.
    pub fn charge_calls(&self, funding_id: &str) -> u32 {
        self.records().get(funding_id).map_or(0, |r| r.calls)
    }
}

#[async_trait]
impl Payments for SandboxPayments {
    async fn charge(&self, funding_id: &str, amount_minor: i64) -> Result<Charge, ProviderError> {
        if funding_id.is_empty() {
            return Err(ProviderError::permanent(
                PROVIDER,
                "a charge needs a funding id",
            ));
        }
        let mut records = self.records();
        let record = records.entry(funding_id.to_owned()).or_default();
        record.calls = record.calls.saturating_add(1);
        if let Some((charged_minor, charge)) = &record.charged {
            // Like a processor's idempotency keys: the same key with different parameters is a mistake
            // to report, not a second charge to make.
            if *charged_minor != amount_minor {
                return Err(ProviderError::permanent(
                    PROVIDER,
                    "this funding was already charged a different amount",
                ));
            }
            return Ok(charge.clone());
        }
        if amount_minor <= 0 {
            return Err(ProviderError::permanent(
                PROVIDER,
                "a charge must be for a positive amount",
            ));
        }
        if self.declined.contains(&amount_minor) {
            return Err(ProviderError::permanent(
                PROVIDER,
                format!(
                    "the payment was declined (the sandbox declines fundings of {amount_minor} cents)"
                ),
            ));
        }
        let charge = Charge {
            provider_ref: format!("sandbox_ch_{}", hex(&digest("payment", funding_id)[..12])),
            status: ChargeStatus::Succeeded,
        };
        record.charged = Some((amount_minor, charge.clone()));
        Ok(charge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payments(declined: &[i64]) -> SandboxPayments {
        SandboxPayments::new(&SandboxConfig {
            decline_funding_amounts_minor: declined.to_vec(),
            ..SandboxConfig::default()
        })
    }

    #[tokio::test]
    async fn a_funding_charge_succeeds_at_once_and_only_once() {
        let payments = payments(&[]);
        let first = payments.charge("fund_1", 5000).await.unwrap();
        assert_eq!(first.status, ChargeStatus::Succeeded);
        assert!(first.provider_ref.starts_with("sandbox_ch_"));
        assert_eq!(payments.charge("fund_1", 5000).await.unwrap(), first);
        assert_eq!(payments.charge_calls("fund_1"), 2);
        assert_ne!(payments.charge("fund_2", 5000).await.unwrap(), first);
        let restarted = self::payments(&[]);
        assert_eq!(restarted.charge("fund_1", 5000).await.unwrap(), first);
    }

    #[tokio::test]
    async fn declined_funding_amounts_fail_permanently() {
        let payments = payments(&[666]);
        let error = payments.charge("fund_3", 666).await.unwrap_err();
        assert!(!error.retryable);
        assert!(error.message.contains("declined"), "{error}");
        assert!(payments.charge("fund_4", 667).await.is_ok());
    }

    #[tokio::test]
    async fn a_funding_id_reused_with_another_amount_or_a_bad_amount_is_refused() {
        let payments = payments(&[]);
        payments.charge("fund_5", 1000).await.unwrap();
        assert!(
            payments
                .charge("fund_5", 2000)
                .await
                .is_err_and(|e| !e.retryable)
        );
        assert!(
            payments
                .charge("fund_6", 0)
                .await
                .is_err_and(|e| !e.retryable)
        );
    }
}
