//! The wallet: balances derived from the ledger, transaction listings, and funding through the payment
//! provider. Ledger amounts are micro-dollars; everything shown here is cents.

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::money::{CURRENCY, MICRO_USD_PER_MINOR, format_minor};
use agent_store_core::time::{format_rfc3339, now_ms};
use agent_store_providers::ChargeStatus;
use agent_store_store::ledger::{self, LedgerTransaction, NewTransaction, SANDBOX_FUNDING};
use agent_store_store::{accounts, commit};
use serde::Serialize;
use serde_json::json;

use crate::audit::{self, Change};
use crate::idempotency::{Keyed, StoredResponse, scope};
use crate::pagination::{Page, PageRequest};
use crate::{App, AppError, AppResult, Principal};

/// Micro-dollars to cents (wallet amounts are always whole cents).
pub fn micro_to_minor(micro: i64) -> i64 {
    micro / MICRO_USD_PER_MINOR
}

pub fn minor_to_micro(minor: i64) -> i64 {
    minor.saturating_mul(MICRO_USD_PER_MINOR)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WalletView {
    pub account_id: String,
    pub currency: String,
    /// Available plus held.
    pub balance_minor: i64,
    pub held_minor: i64,
    pub available_minor: i64,
    pub updated_at: String,
}

/// One line of the wallet's history. `amountMinor` is the change of available funds and
/// `balanceAfterMinor` the available balance after it; `heldChangeMinor`/`heldAfterMinor` do the same
/// for held funds, so both columns chain exactly (a capture of held money moves only the held column).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    pub id: String,
    /// funding, hold, hold_release, capture, refund, service_topup, adjustment
    #[serde(rename = "type")]
    pub kind: String,
    pub amount_minor: i64,
    pub balance_after_minor: i64,
    pub held_change_minor: i64,
    pub held_after_minor: i64,
    pub purchase_id: Option<String>,
    pub service_id: Option<String>,
    pub agent_id: Option<String>,
    pub description: String,
    pub created_at: String,
}

impl From<LedgerTransaction> for TransactionView {
    fn from(t: LedgerTransaction) -> Self {
        Self {
            id: t.id,
            kind: t.kind,
            amount_minor: micro_to_minor(t.available_change_micro),
            balance_after_minor: micro_to_minor(t.available_after_micro),
            held_change_minor: micro_to_minor(t.held_change_micro),
            held_after_minor: micro_to_minor(t.held_after_micro),
            purchase_id: t.purchase_id,
            service_id: t.service_id,
            agent_id: t.agent_id,
            description: t.description,
            created_at: format_rfc3339(t.created_at),
        }
    }
}

impl App {
    pub async fn wallet(&self, principal: &Principal) -> AppResult<WalletView> {
        let account_id = principal.account_id();
        let b = ledger::wallet(self.store().pool(), account_id).await?;
        let available = micro_to_minor(b.available_micro);
        let held = micro_to_minor(b.held_micro);
        Ok(WalletView {
            account_id: account_id.to_owned(),
            currency: CURRENCY.to_owned(),
            balance_minor: available + held,
            held_minor: held,
            available_minor: available,
            updated_at: format_rfc3339(b.updated_at),
        })
    }

    /// An agent sees its own transactions; the account sees all.
    pub async fn wallet_transactions(
        &self,
        principal: &Principal,
        page: &PageRequest,
    ) -> AppResult<Page<TransactionView>> {
        let rows = ledger::list_transactions(
            self.store().pool(),
            principal.account_id(),
            principal.agent_id(),
            page.cursor.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |t| t.id.clone(),
            TransactionView::from,
        ))
    }

    /// Fund the wallet through the payment provider (idempotent; the key is required).
    pub async fn fund_wallet(
        &self,
        principal: &Principal,
        amount_minor: i64,
        keyed: &Keyed,
    ) -> AppResult<StoredResponse> {
        let account_id = crate::identity::require_account(principal)?.to_owned();
        let max = self.config().funding.max_amount_minor;
        if amount_minor < 1 || amount_minor > max {
            return Err(AppError::invalid_field(
                "amountMinor",
                &format!("must be from 1 to {max} cents"),
            ));
        }
        let scope = scope(principal);
        if let Some(replay) = self.idempotent_lookup(None, &scope, keyed).await? {
            return Ok(replay);
        }
        // The provider call happens outside any database transaction; its reference derives from the
        // idempotency key, so a retry after a crash asks the processor for the same charge again.
        let funding_ref = format!("{scope}:{}", keyed.key);
        let charge = self
            .providers()
            .payments
            .charge(&funding_ref, amount_minor)
            .await
            .map_err(|e| {
                if e.retryable {
                    AppError::ProviderError(e.message)
                } else {
                    AppError::invalid_field("amountMinor", &e.message)
                }
            })?;
        let mut tx = self.store().begin_write().await?;
        accounts::lock_for_spend(&mut tx, &account_id).await?;
        if let Some(replay) = self.idempotent_lookup(Some(&mut tx), &scope, keyed).await? {
            return Ok(replay);
        }
        let now = now_ms();
        let id = new_id(IdKind::Transaction);
        let status = match charge.status {
            ChargeStatus::Succeeded => {
                let txn = NewTransaction {
                    id: id.clone(),
                    account_id: account_id.clone(),
                    kind: "funding",
                    purchase_id: None,
                    service_id: None,
                    agent_id: None,
                    description: format!("Wallet funding of {} USD", format_minor(amount_minor)),
                    postings: vec![
                        (SANDBOX_FUNDING.to_owned(), -minor_to_micro(amount_minor)),
                        (
                            ledger::wallet_account(&account_id),
                            minor_to_micro(amount_minor),
                        ),
                    ],
                    created_at: now,
                };
                ledger::post(&mut tx, &txn)
                    .await
                    .map_err(crate::purchases::post_error)?;
                "succeeded"
            }
            ChargeStatus::Pending => "pending",
        };
        let change = Change {
            action: "wallet.funded",
            object_type: "funding",
            object_id: &id,
            before: None,
            after: Some(status),
            details: json!({"amountMinor": amount_minor, "providerRef": charge.provider_ref}),
        };
        audit::record(&mut *tx, &account_id, Some(principal), &change).await?;
        let b = ledger::wallet(&mut *tx, &account_id).await?;
        let (available, held) = (
            micro_to_minor(b.available_micro),
            micro_to_minor(b.held_micro),
        );
        let body = json!({
            "funding": {"id": id, "amountMinor": amount_minor, "currency": CURRENCY, "status": status,
                        "providerRef": charge.provider_ref, "createdAt": format_rfc3339(now)},
            "wallet": {"accountId": account_id, "currency": CURRENCY, "balanceMinor": available + held, "heldMinor": held,
                       "availableMinor": available, "updatedAt": format_rfc3339(b.updated_at)},
        })
        .to_string();
        let http_status = if status == "succeeded" { 201 } else { 202 };
        self.idempotent_store(&mut tx, &scope, keyed, http_status, &body)
            .await?;
        commit(tx).await?;
        Ok(StoredResponse {
            status: http_status,
            body,
            replayed: false,
        })
    }
}
