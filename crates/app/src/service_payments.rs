//! Paying for a change to an existing service from the wallet (a phone top-up, a volume expansion):
//! the same money path as a purchase, inside the caller's transaction under the account's spend lock.
//! The spend is evaluated against every policy layer with current usage, posted to the ledger with a
//! conditional debit, and recorded as a `spends` row (so later limits count it) plus a
//! `service_payments` row that ties the spend to its ledger transaction.
//!
//! A spend that a policy would send to a human for approval is refused (403 `policy_denied`, with the
//! approval reasons): a top-up or an expansion is small and urgent, and a pending hold on a service
//! change would leave the service in limbo. The owner can raise the approval threshold, or act from
//! the Account API as the account (only the platform and account layers apply there).

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::policy::{Decision, Spend};
use agent_store_store::AnyConnection;
use agent_store_store::ledger::{self, NewTransaction, PostError};
use agent_store_store::service_payments::{self, ServicePayment};
use agent_store_store::services::Service;
use agent_store_store::spends::{self, NewSpend};
use serde_json::{Value, json};

use crate::audit::{self, Change};
use crate::wallet::{micro_to_minor, minor_to_micro};
use crate::{App, AppError, AppResult, Principal};

/// What is being paid for.
#[derive(Debug)]
pub(crate) struct PaymentRequest<'a> {
    /// `phone_topup` or `volume_expand`.
    pub kind: &'static str,
    pub service: &'a Service,
    pub amount_minor: i64,
    /// Policy category of the service's item (`telephony`, `storage`).
    pub category: &'a str,
    /// The ledger account credited: the service's balance (top-up) or revenue (expansion).
    pub credit_to: String,
    /// Ledger transaction type: `service_topup` or `capture`.
    pub transaction_kind: &'static str,
    pub description: String,
    pub detail: Value,
}

impl App {
    /// Evaluate, post and record a payment (see the module docs). Returns the payment.
    pub(crate) async fn pay_for_service(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        request: &PaymentRequest<'_>,
        now: i64,
    ) -> AppResult<ServicePayment> {
        let spend = Spend {
            amount_minor: request.amount_minor,
            category: request.category,
            catalog_item_id: &request.service.catalog_item_id,
            counts_as_purchase: false,
        };
        let evaluation = self.evaluate_spend(&mut *conn, principal, &spend).await?;
        if evaluation.decision != Decision::Allow {
            let reasons =
                serde_json::to_value(&evaluation.reasons).unwrap_or(Value::Array(Vec::new()));
            let mut summary = evaluation
                .reasons
                .iter()
                .map(|r| r.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            if evaluation.decision == Decision::ApprovalRequired {
                summary = format!(
                    "{summary} (this payment would need a human approval, and payments for an existing service cannot wait for one: ask the owner to raise the approval threshold or to make it from the Account API)"
                );
            }
            return Err(AppError::PolicyDenied { summary, reasons });
        }
        let id = new_id(IdKind::Spend);
        let wallet = ledger::wallet_account(principal.account_id());
        let amount = minor_to_micro(request.amount_minor);
        let txn = NewTransaction {
            id: new_id(IdKind::Transaction),
            account_id: principal.account_id().to_owned(),
            kind: request.transaction_kind,
            purchase_id: None,
            service_id: Some(request.service.id.clone()),
            agent_id: principal.agent_id().map(str::to_owned),
            description: request.description.clone(),
            postings: vec![(wallet, -amount), (request.credit_to.clone(), amount)],
            created_at: now,
        };
        match ledger::post(&mut *conn, &txn).await {
            Ok(_) => {}
            Err(PostError::InsufficientFunds(_)) => {
                let balances = ledger::wallet(&mut *conn, principal.account_id()).await?;
                return Err(AppError::InsufficientFunds {
                    available_minor: micro_to_minor(balances.available_micro),
                    required_minor: request.amount_minor,
                });
            }
            Err(other) => return Err(crate::purchases::post_error(other)),
        }
        spends::insert(
            &mut *conn,
            &NewSpend {
                id: id.clone(),
                account_id: principal.account_id().to_owned(),
                agent_id: principal.agent_id().map(str::to_owned),
                key_id: match principal {
                    Principal::Agent { key_id, .. } => Some(key_id.clone()),
                    Principal::Account { .. } => None,
                },
                purchase_id: None,
                service_id: Some(request.service.id.clone()),
                category: request.category.to_owned(),
                catalog_item_id: request.service.catalog_item_id.clone(),
                amount_minor: request.amount_minor,
                counts_as_purchase: false,
                status: "captured",
                created_at: now,
            },
        )
        .await?;
        let payment = ServicePayment {
            id,
            account_id: principal.account_id().to_owned(),
            agent_id: principal.agent_id().map(str::to_owned),
            service_id: request.service.id.clone(),
            kind: request.kind.to_owned(),
            amount_minor: request.amount_minor,
            status: "captured".to_owned(),
            transaction_id: txn.id,
            refund_transaction_id: None,
            detail: request.detail.to_string(),
            created_at: now,
            updated_at: now,
        };
        service_payments::insert(&mut *conn, &payment).await?;
        Ok(payment)
    }

    /// Return a captured payment in full (the provider refused the change it paid for).
    pub(crate) async fn refund_service_payment(
        &self,
        conn: &mut AnyConnection,
        payment: &ServicePayment,
        credited: &str,
        reason: &str,
        now: i64,
    ) -> AppResult<()> {
        let amount = minor_to_micro(payment.amount_minor);
        let txn = NewTransaction {
            id: new_id(IdKind::Transaction),
            account_id: payment.account_id.clone(),
            kind: "refund",
            purchase_id: None,
            service_id: Some(payment.service_id.clone()),
            agent_id: payment.agent_id.clone(),
            description: format!("Refund: {reason}"),
            postings: vec![
                (ledger::wallet_account(&payment.account_id), amount),
                (credited.to_owned(), -amount),
            ],
            created_at: now,
        };
        ledger::post(&mut *conn, &txn)
            .await
            .map_err(crate::purchases::post_error)?;
        if !service_payments::mark_refunded(&mut *conn, &payment.id, &txn.id, now).await? {
            return Err(AppError::Internal(format!(
                "service payment {} was not captured",
                payment.id
            )));
        }
        Ok(())
    }

    /// Record a refused payment in the audit log (nothing was created, but the refusal is part of
    /// the record), outside the rolled-back transaction.
    pub(crate) async fn audit_denied_payment(
        &self,
        principal: &Principal,
        service_id: &str,
        capability: &str,
        reasons: &Value,
    ) -> AppResult<()> {
        let action = format!("service.{capability}.denied");
        let change = Change {
            action: &action,
            object_type: "service",
            object_id: service_id,
            before: None,
            after: None,
            details: json!({"reasons": reasons}),
        };
        audit::record(
            self.store().pool(),
            principal.account_id(),
            Some(principal),
            &change,
        )
        .await
    }
}
