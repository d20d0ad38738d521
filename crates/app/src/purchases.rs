//! Purchases (SPEC section 6). Creating one is a single atomic step under the account's spend lock:
//! idempotency check, quote check, policy evaluation against current usage, the hold or capture, the
//! purchase row, its services and jobs, the spend record and the stored response all commit together
//! or not at all.

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::money::format_minor;
use agent_store_core::policy::{Decision, Spend};
use agent_store_core::time::{SECOND_MS, format_rfc3339, now_ms};
use agent_store_store::ledger::{self, PostError};
use agent_store_store::purchases::{self, Purchase};
use agent_store_store::spends::{self, NewSpend};
use agent_store_store::{AnyConnection, StoreError, accounts, commit, quotes, services};
use serde::Serialize;
use serde_json::{Value, json};

use crate::audit::{self, Change};
use crate::fulfilment::{capture_postings, split};
use crate::idempotency::{Keyed, StoredResponse, scope};
use crate::pagination::{Page, PageRequest};
use crate::quotes::QuoteRequest;
use crate::{App, AppError, AppResult, Principal};

/// Longest accepted note for the approver.
const MAX_NOTE_LEN: usize = 1000;

/// `POST /purchases`, parsed at the edge.
#[derive(Debug, Clone, Default)]
pub struct PurchaseRequest {
    pub quote_id: Option<String>,
    pub catalog_item_id: Option<String>,
    pub quantity: Option<i64>,
    pub configuration: Option<Value>,
    pub note: Option<String>,
}

pub(crate) fn post_error(err: PostError) -> AppError {
    match err {
        PostError::InsufficientFunds(account) => {
            AppError::Internal(format!("unexpected insufficient funds in {account}"))
        }
        PostError::Unbalanced => AppError::Internal("unbalanced ledger postings".to_owned()),
        PostError::Store(e) => e.into(),
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalView {
    pub required: bool,
    /// not_required, pending, approved, rejected, expired, canceled
    pub status: String,
    #[schema(value_type = Vec<Object>)]
    pub reasons: Value,
    pub decided_at: Option<String>,
    /// The account credential id (or `system`) that decided.
    pub decided_by: Option<String>,
    pub expires_at: Option<String>,
    /// The approver's reason for a rejection.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PurchaseView {
    pub id: String,
    /// pending_approval, provisioning, completed, failed, rejected, expired, canceled
    pub status: String,
    pub agent_id: Option<String>,
    pub quote_id: String,
    pub catalog_item_id: String,
    pub display_name: String,
    pub quantity: i64,
    pub total_price_minor: i64,
    pub currency: String,
    #[schema(value_type = Object)]
    pub configuration: Value,
    pub service_id: Option<String>,
    pub service_ids: Vec<String>,
    pub approval: ApprovalView,
    pub failure_reason: Option<String>,
    pub idempotency_key: Option<String>,
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Purchase> for PurchaseView {
    fn from(p: Purchase) -> Self {
        let service_ids: Vec<String> = serde_json::from_str(&p.service_ids).unwrap_or_default();
        Self {
            approval: ApprovalView {
                required: p.approval_required != 0,
                status: p.approval_status,
                reasons: serde_json::from_str(&p.approval_reasons)
                    .unwrap_or(Value::Array(Vec::new())),
                decided_at: p.decided_at.map(format_rfc3339),
                decided_by: p.decided_by,
                expires_at: p.approval_expires_at.map(format_rfc3339),
                reason: p.decision_reason,
            },
            id: p.id,
            status: p.status,
            agent_id: p.agent_id,
            quote_id: p.quote_id,
            catalog_item_id: p.catalog_item_id,
            display_name: p.display_name,
            quantity: p.quantity,
            total_price_minor: p.total_price_minor,
            currency: p.currency,
            configuration: serde_json::from_str(&p.configuration).unwrap_or(Value::Null),
            service_id: service_ids.first().cloned(),
            service_ids,
            failure_reason: p.failure_reason,
            idempotency_key: p.idempotency_key,
            note: p.note,
            created_at: format_rfc3339(p.created_at),
            updated_at: format_rfc3339(p.updated_at),
        }
    }
}

/// `{"purchase": {...}}` as stored for replays.
pub(crate) fn purchase_body(p: Purchase) -> String {
    json!({ "purchase": PurchaseView::from(p) }).to_string()
}

impl App {
    /// Buy a quote (or an implicit quote from an item and configuration). See the module docs.
    pub async fn create_purchase(
        &self,
        principal: &Principal,
        request: PurchaseRequest,
        keyed: &Keyed,
    ) -> AppResult<StoredResponse> {
        if request
            .note
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTE_LEN)
        {
            return Err(AppError::invalid_field(
                "note",
                "must be at most 1000 characters",
            ));
        }
        let scope = scope(principal);
        if let Some(replay) = self.idempotent_lookup(None, &scope, keyed).await? {
            return Ok(replay);
        }
        let quote_id = match (&request.quote_id, &request.catalog_item_id) {
            (Some(_), Some(_)) => {
                return Err(AppError::invalid_field(
                    "quoteId",
                    "give either quoteId or catalogItemId (with its configuration), not both",
                ));
            }
            (Some(q), None) => {
                if request.quantity.is_some() || request.configuration.is_some() {
                    return Err(AppError::invalid_field(
                        "quoteId",
                        "a purchase of a quote takes its quantity and configuration from the quote",
                    ));
                }
                q.clone()
            }
            (None, Some(item)) => {
                let implicit = QuoteRequest {
                    catalog_item_id: item.clone(),
                    quantity: request.quantity.unwrap_or(1),
                    configuration: request.configuration.clone(),
                };
                self.create_quote(principal, &implicit).await?.id
            }
            (None, None) => {
                return Err(AppError::invalid_field(
                    "quoteId",
                    "is required (or catalogItemId with its configuration)",
                ));
            }
        };

        let mut tx = self.store().begin_write().await?;
        accounts::lock_for_spend(&mut tx, principal.account_id()).await?;
        if let Some(replay) = self.idempotent_lookup(Some(&mut tx), &scope, keyed).await? {
            return Ok(replay);
        }
        let outcome = self
            .purchase_in_tx(&mut tx, principal, &quote_id, &request, keyed)
            .await;
        let purchase = match outcome {
            Ok(p) => p,
            Err(AppError::PolicyDenied { summary, reasons }) => {
                drop(tx);
                // Nothing was created, but the refusal itself is part of the record.
                let change = Change {
                    action: "purchase.denied",
                    object_type: "quote",
                    object_id: &quote_id,
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
                .await?;
                return Err(AppError::PolicyDenied { summary, reasons });
            }
            Err(other) => return Err(other),
        };
        let body = purchase_body(purchase);
        self.idempotent_store(&mut tx, &scope, keyed, 201, &body)
            .await?;
        commit(tx).await?;
        self.wake_worker();
        Ok(StoredResponse {
            status: 201,
            body,
            replayed: false,
        })
    }

    async fn purchase_in_tx(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        quote_id: &str,
        request: &PurchaseRequest,
        keyed: &Keyed,
    ) -> AppResult<Purchase> {
        let now = now_ms();
        let quote = quotes::get(
            &mut *conn,
            principal.account_id(),
            principal.agent_id(),
            quote_id,
        )
        .await?
        .filter(|q| q.agent_id.as_deref() == principal.agent_id())
        .ok_or(AppError::NotFound("quote"))?;
        if quote.status == "used" {
            return Err(AppError::QuoteUsed);
        }
        if now >= quote.expires_at {
            return Err(AppError::QuoteExpired);
        }
        let item = self.catalog().item(&quote.catalog_item_id).ok_or_else(|| {
            AppError::invalid_field(
                "quoteId",
                "the quote's catalog item is no longer offered; create a new quote",
            )
        })?;
        let configuration: Value =
            serde_json::from_str(&quote.configuration).unwrap_or(Value::Null);
        let top_up = configuration
            .get("topUpServiceId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(target) = &top_up {
            self.check_top_up_target(conn, principal, target).await?;
        }
        let spend = Spend {
            amount_minor: quote.total_price_minor,
            category: item.category(),
            catalog_item_id: &item.id,
            counts_as_purchase: true,
        };
        let evaluation = self.evaluate_spend(&mut *conn, principal, &spend).await?;
        let reasons = serde_json::to_value(&evaluation.reasons).unwrap_or(Value::Array(Vec::new()));
        if evaluation.decision == Decision::Deny {
            let summary = evaluation
                .reasons
                .iter()
                .map(|r| r.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(AppError::PolicyDenied { summary, reasons });
        }
        let needs_approval = evaluation.decision == Decision::ApprovalRequired;
        let window =
            i64::try_from(self.config().approvals.window_seconds).unwrap_or(i64::MAX / 2000);
        let mut purchase = Purchase {
            id: new_id(IdKind::Purchase),
            account_id: principal.account_id().to_owned(),
            agent_id: principal.agent_id().map(str::to_owned),
            key_id: match principal {
                Principal::Agent { key_id, .. } => Some(key_id.clone()),
                Principal::Account { .. } => None,
            },
            quote_id: quote.id.clone(),
            catalog_item_id: item.id.clone(),
            category: item.category().to_owned(),
            service_type: item.service_type().to_owned(),
            quantity: quote.quantity,
            total_price_minor: quote.total_price_minor,
            currency: quote.currency.clone(),
            display_name: quote.display_name.clone(),
            configuration: quote.configuration.clone(),
            quote_details: quote.quote_details.clone(),
            domain_name: quote.domain_name.clone(),
            top_up_service_id: top_up.clone(),
            status: if needs_approval {
                "pending_approval"
            } else {
                "provisioning"
            }
            .to_owned(),
            approval_required: i64::from(needs_approval),
            approval_status: if needs_approval {
                "pending"
            } else {
                "not_required"
            }
            .to_owned(),
            approval_reasons: reasons.to_string(),
            approval_expires_at: needs_approval
                .then(|| now.saturating_add(window.saturating_mul(SECOND_MS))),
            decided_at: None,
            decided_by: None,
            decision_reason: None,
            failure_reason: None,
            idempotency_key: Some(keyed.key.clone()),
            note: request.note.clone(),
            service_ids: "[]".to_owned(),
            created_at: now,
            updated_at: now,
        };
        if !quotes::mark_used(&mut *conn, &quote.id, now).await? {
            return Err(AppError::QuoteUsed);
        }
        match purchases::insert(&mut *conn, &purchase).await {
            Ok(()) => {}
            Err(StoreError::UniqueViolation) => {
                return Err(AppError::DomainUnavailable(
                    purchase.domain_name.clone().unwrap_or_default(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let wallet = ledger::wallet_account(&purchase.account_id);
        if needs_approval {
            let postings = vec![
                (
                    wallet,
                    -crate::wallet::minor_to_micro(purchase.total_price_minor),
                ),
                (
                    ledger::held_account(&purchase.account_id),
                    crate::wallet::minor_to_micro(purchase.total_price_minor),
                ),
            ];
            let description = format!("Hold for {} awaiting approval", purchase.display_name);
            self.post_for_purchase(&mut *conn, &purchase, "hold", description, postings, now)
                .await?;
        } else {
            let service_ids = self
                .create_services(&mut *conn, &purchase, item, now)
                .await?;
            let postings = capture_postings(
                &purchase,
                &split(&purchase, &configuration),
                &wallet,
                &service_ids,
            );
            let description = format!(
                "{} ({} USD)",
                purchase.display_name,
                format_minor(purchase.total_price_minor)
            );
            self.post_for_purchase(&mut *conn, &purchase, "capture", description, postings, now)
                .await?;
            purchase.service_ids = serde_json::to_string(&service_ids)
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let status = if top_up.is_some() {
                "completed"
            } else {
                "provisioning"
            };
            purchase = purchases::set_services(
                &mut *conn,
                &purchase.id,
                &purchase.service_ids,
                status,
                now,
            )
            .await?
            .ok_or_else(|| AppError::Internal("purchase vanished".to_owned()))?;
        }
        spends::insert(
            &mut *conn,
            &NewSpend {
                id: new_id(IdKind::Spend),
                account_id: purchase.account_id.clone(),
                agent_id: purchase.agent_id.clone(),
                key_id: purchase.key_id.clone(),
                purchase_id: Some(purchase.id.clone()),
                service_id: top_up,
                category: purchase.category.clone(),
                catalog_item_id: purchase.catalog_item_id.clone(),
                amount_minor: purchase.total_price_minor,
                counts_as_purchase: true,
                status: if needs_approval { "held" } else { "captured" },
                created_at: now,
            },
        )
        .await?;
        let change = Change {
            action: "purchase.created",
            object_type: "purchase",
            object_id: &purchase.id,
            before: None,
            after: Some(&purchase.status),
            details: json!({"totalPriceMinor": purchase.total_price_minor, "catalogItemId": purchase.catalog_item_id,
                            "decision": evaluation.decision, "reasons": reasons}),
        };
        audit::record(&mut *conn, &purchase.account_id, Some(principal), &change).await?;
        Ok(purchase)
    }

    pub async fn get_purchase(
        &self,
        principal: &Principal,
        purchase_id: &str,
    ) -> AppResult<PurchaseView> {
        let p = purchases::get(
            self.store().pool(),
            principal.account_id(),
            principal.agent_id(),
            purchase_id,
        )
        .await?
        .ok_or(AppError::NotFound("purchase"))?;
        Ok(p.into())
    }

    /// Newest first; an agent sees its own, the account every agent's (optionally one agent's).
    pub async fn list_purchases(
        &self,
        principal: &Principal,
        filter: &PurchaseFilter,
        page: &PageRequest,
    ) -> AppResult<Page<PurchaseView>> {
        if let Some(status) = &filter.status
            && !PURCHASE_STATUSES.contains(&status.as_str())
        {
            return Err(AppError::invalid_field(
                "status",
                &format!("must be one of {}", PURCHASE_STATUSES.join(", ")),
            ));
        }
        let agent_id = principal.agent_id().or(filter.agent_id.as_deref());
        let store_filter = purchases::ListFilter {
            agent_id,
            status: filter.status.as_deref(),
            created_from: filter.created_from,
            created_to: filter.created_to,
        };
        let rows = purchases::list(
            self.store().pool(),
            principal.account_id(),
            &store_filter,
            page.cursor.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |p| p.id.clone(),
            PurchaseView::from,
        ))
    }
}

pub const PURCHASE_STATUSES: [&str; 7] = [
    "pending_approval",
    "provisioning",
    "completed",
    "failed",
    "rejected",
    "expired",
    "canceled",
];

/// Filters of a purchase listing (the agent filter applies to the account's view only).
#[derive(Debug, Clone, Default)]
pub struct PurchaseFilter {
    pub status: Option<String>,
    pub agent_id: Option<String>,
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
}

impl App {
    /// A router credit top-up must name one of the caller's own active LLM router services (checked
    /// when quoting and again when buying).
    pub(crate) async fn check_top_up_target(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        target: &str,
    ) -> AppResult<()> {
        let service = services::get(
            &mut *conn,
            principal.account_id(),
            principal.agent_id(),
            target,
        )
        .await?;
        if service.is_some_and(|s| s.service_type == "llm_router" && s.status == "active") {
            Ok(())
        } else {
            Err(AppError::invalid_field(
                "configuration.topUpServiceId",
                "is not one of your active LLM router services",
            ))
        }
    }
}
