//! Approval decisions on pending purchases: approve (capture the hold, create services, start
//! provisioning), reject and cancel (release the hold), expire (the worker, after the window). Each
//! decision is a conditional update of the purchase, so it happens exactly once; deciding an
//! already-decided purchase is `invalid_state`.

use agent_store_core::money::format_minor;
use agent_store_core::time::now_ms;
use agent_store_store::ledger;
use agent_store_store::purchases::{self, Decision, Purchase};
use agent_store_store::{AnyConnection, accounts, commit, spends};
use serde_json::{Value, json};

use crate::audit::{self, Change};
use crate::fulfilment::{capture_postings, split};
use crate::idempotency::{Keyed, StoredResponse, scope};
use crate::pagination::{Page, PageRequest};
use crate::purchases::{PurchaseFilter, PurchaseView, purchase_body};
use crate::wallet::minor_to_micro;
use crate::{App, AppError, AppResult, Principal};

/// How a pending purchase ends without being bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Release {
    Rejected,
    Canceled,
    Expired,
}

impl Release {
    fn status(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
        }
    }
}

/// A decision on a pending purchase.
#[derive(Debug, Clone, Copy)]
enum Action<'a> {
    Approve,
    Release(Release, Option<&'a str>),
}

fn decided_state(p: &Purchase) -> AppError {
    AppError::Conflict(format!(
        "purchase {} is {}, not pending approval",
        p.id, p.status
    ))
}

impl App {
    /// Purchases waiting for a decision, newest first like every list.
    pub async fn list_approvals(
        &self,
        principal: &Principal,
        page: &PageRequest,
    ) -> AppResult<Page<PurchaseView>> {
        crate::identity::require_account(principal)?;
        let filter = PurchaseFilter {
            status: Some("pending_approval".to_owned()),
            ..PurchaseFilter::default()
        };
        self.list_purchases(principal, &filter, page).await
    }

    /// Approve: capture the held money, create the services and start provisioning.
    pub async fn approve_purchase(
        &self,
        principal: &Principal,
        purchase_id: &str,
        keyed: Option<&Keyed>,
    ) -> AppResult<StoredResponse> {
        let account_id = crate::identity::require_account(principal)?.to_owned();
        self.decide(principal, &account_id, purchase_id, keyed, Action::Approve)
            .await
    }

    async fn approve_in_tx(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        pending: Purchase,
        now: i64,
    ) -> AppResult<Purchase> {
        let item = self
            .catalog()
            .item(&pending.catalog_item_id)
            .ok_or_else(|| {
                AppError::Internal(format!(
                    "catalog item {} of a pending purchase is gone",
                    pending.catalog_item_id
                ))
            })?;
        let service_ids = self
            .create_services(&mut *conn, &pending, item, now)
            .await?;
        let ids =
            serde_json::to_string(&service_ids).map_err(|e| AppError::Internal(e.to_string()))?;
        let status = if pending.top_up_service_id.is_some() {
            "completed"
        } else {
            "provisioning"
        };
        let decision = Decision {
            status,
            approval_status: "approved",
            decided_by: Some(principal.credential_id()),
            reason: None,
            service_ids: Some(&ids),
            now,
        };
        let purchase = purchases::decide(&mut *conn, &pending.id, &decision)
            .await?
            .ok_or_else(|| decided_state(&pending))?;
        let configuration: Value =
            serde_json::from_str(&purchase.configuration).unwrap_or(Value::Null);
        let held = ledger::held_account(&purchase.account_id);
        let postings = capture_postings(
            &purchase,
            &split(&purchase, &configuration),
            &held,
            &service_ids,
        );
        let description = format!(
            "{} ({} USD, approved)",
            purchase.display_name,
            format_minor(purchase.total_price_minor)
        );
        self.post_for_purchase(&mut *conn, &purchase, "capture", description, postings, now)
            .await?;
        spends::set_status_for_purchase(&mut *conn, &purchase.id, "held", "captured", now).await?;
        let change = Change {
            action: "purchase.approved",
            object_type: "purchase",
            object_id: &purchase.id,
            before: Some("pending_approval"),
            after: Some(&purchase.status),
            details: json!({}),
        };
        audit::record(&mut *conn, &purchase.account_id, Some(principal), &change).await?;
        Ok(purchase)
    }

    /// Reject with a reason: the hold goes back to the wallet.
    pub async fn reject_purchase(
        &self,
        principal: &Principal,
        purchase_id: &str,
        reason: Option<&str>,
        keyed: Option<&Keyed>,
    ) -> AppResult<StoredResponse> {
        let account_id = crate::identity::require_account(principal)?.to_owned();
        if reason.is_some_and(|r| r.chars().count() > 1000) {
            return Err(AppError::invalid_field(
                "reason",
                "must be at most 1000 characters",
            ));
        }
        self.decide(
            principal,
            &account_id,
            purchase_id,
            keyed,
            Action::Release(Release::Rejected, reason),
        )
        .await
    }

    /// The agent (or the account) withdraws a pending purchase: the hold goes back to the wallet.
    pub async fn cancel_purchase(
        &self,
        principal: &Principal,
        purchase_id: &str,
        keyed: Option<&Keyed>,
    ) -> AppResult<StoredResponse> {
        let account_id = principal.account_id().to_owned();
        self.decide(
            principal,
            &account_id,
            purchase_id,
            keyed,
            Action::Release(Release::Canceled, None),
        )
        .await
    }

    /// Expire one pending purchase whose window has passed (the worker). `false` if already decided.
    pub(crate) async fn expire_purchase(&self, pending: &Purchase) -> AppResult<bool> {
        let mut tx = self.store().begin_write().await?;
        accounts::lock_for_spend(&mut tx, &pending.account_id).await?;
        let now = now_ms();
        match self
            .release(&mut tx, pending, Release::Expired, None, None, now)
            .await
        {
            Ok(_) => {
                commit(tx).await?;
                Ok(true)
            }
            Err(AppError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn release(
        &self,
        conn: &mut AnyConnection,
        pending: &Purchase,
        how: Release,
        actor: Option<&Principal>,
        reason: Option<&str>,
        now: i64,
    ) -> AppResult<Purchase> {
        let decided_by = match actor {
            Some(p) => Some(p.credential_id().to_owned()),
            None => Some("system".to_owned()),
        };
        let decision = Decision {
            status: how.status(),
            approval_status: how.status(),
            decided_by: decided_by.as_deref(),
            reason,
            service_ids: None,
            now,
        };
        let purchase = purchases::decide(&mut *conn, &pending.id, &decision)
            .await?
            .ok_or_else(|| decided_state(pending))?;
        let amount = minor_to_micro(purchase.total_price_minor);
        let postings = vec![
            (ledger::held_account(&purchase.account_id), -amount),
            (ledger::wallet_account(&purchase.account_id), amount),
        ];
        let description = format!("Hold released: {} {}", purchase.display_name, how.status());
        self.post_for_purchase(
            &mut *conn,
            &purchase,
            "hold_release",
            description,
            postings,
            now,
        )
        .await?;
        spends::set_status_for_purchase(&mut *conn, &purchase.id, "held", "released", now).await?;
        let change = Change {
            action: match how {
                Release::Rejected => "purchase.rejected",
                Release::Canceled => "purchase.canceled",
                Release::Expired => "purchase.expired",
            },
            object_type: "purchase",
            object_id: &purchase.id,
            before: Some("pending_approval"),
            after: Some(&purchase.status),
            details: json!({"reason": reason}),
        };
        audit::record(&mut *conn, &purchase.account_id, actor, &change).await?;
        Ok(purchase)
    }

    /// The shared shape of a decision: lock, idempotency, load the pending purchase, apply, audit,
    /// store the response, commit.
    async fn decide(
        &self,
        principal: &Principal,
        account_id: &str,
        purchase_id: &str,
        keyed: Option<&Keyed>,
        action: Action<'_>,
    ) -> AppResult<StoredResponse> {
        let scope = scope(principal);
        if let Some(keyed) = keyed
            && let Some(replay) = self.idempotent_lookup(None, &scope, keyed).await?
        {
            return Ok(replay);
        }
        let mut tx = self.store().begin_write().await?;
        accounts::lock_for_spend(&mut tx, account_id).await?;
        if let Some(keyed) = keyed
            && let Some(replay) = self.idempotent_lookup(Some(&mut tx), &scope, keyed).await?
        {
            return Ok(replay);
        }
        let pending = purchases::get(&mut *tx, account_id, principal.agent_id(), purchase_id)
            .await?
            .ok_or(AppError::NotFound("purchase"))?;
        if pending.status != "pending_approval" {
            return Err(decided_state(&pending));
        }
        let now = now_ms();
        if pending.approval_expires_at.is_some_and(|t| t <= now) {
            // The window has passed: the purchase is expired whatever the decision was.
            drop(tx);
            self.expire_purchase(&pending).await?;
            return Err(AppError::Conflict(format!(
                "purchase {} expired before the decision",
                pending.id
            )));
        }
        let purchase = match action {
            Action::Approve => self.approve_in_tx(&mut tx, principal, pending, now).await?,
            Action::Release(how, reason) => {
                self.release(&mut tx, &pending, how, Some(principal), reason, now)
                    .await?
            }
        };
        let body = purchase_body(purchase);
        if let Some(keyed) = keyed {
            self.idempotent_store(&mut tx, &scope, keyed, 200, &body)
                .await?;
        }
        commit(tx).await?;
        self.wake_worker();
        Ok(StoredResponse {
            status: 200,
            body,
            replayed: false,
        })
    }
}
