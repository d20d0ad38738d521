//! Phone numbers (SPEC section 9, `phone_number`): balance top-ups, inbound SMS and calls delivered
//! by the telephony provider's signed webhook, their listings, and usage debited from the number's
//! balance (`service:<svc>` in the ledger).
//!
//! Usage rules (decisions, see docs/architecture.md):
//! - Prices: an inbound SMS costs `phone.sms_inbound_micro_usd`, an answered call
//!   `phone.call_per_minute_micro_usd` per started minute, a missed call nothing. The monthly rental
//!   is what the customer agreed to in the purchase (the item's rental for the number's country and
//!   type), taken from the balance at each renewal date after the first month (paid by the purchase).
//! - A usage charge takes the list price, or the whole remaining balance if that is less (the
//!   carrier cannot take back a delivered SMS or a finished call; the platform absorbs the shortfall),
//!   so a balance never goes negative. A number whose balance reaches zero is `suspended`.
//! - While `suspended` the carrier refuses inbound traffic: nothing is delivered, stored or charged.
//! - A rental the balance cannot cover in full is not taken: the number is suspended with the rental
//!   still due. A top-up first pays what is due, then resumes the number if money remains.

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::money::{CURRENCY, MICRO_USD_PER_MINOR, format_minor, usd_value_to_minor};
use agent_store_core::time::{add_months, format_rfc3339, now_ms, parse_rfc3339};
use agent_store_providers::{InboundEvent, InboundTraffic};
use agent_store_store::ledger::{self, NewTransaction};
use agent_store_store::phone::{self, EventFilter, PhoneEvent};
use agent_store_store::services::{self, Service};
use agent_store_store::{AnyConnection, accounts, commit, purchases};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::idempotency::{Keyed, StoredResponse, scope};
use crate::manage::{Action, ServiceState};
use crate::pagination::{Page, PageRequest};
use crate::service_payments::PaymentRequest;
use crate::{App, AppError, AppResult, Principal};

pub const TOPUP: Action = Action::new(
    "phone_number",
    "phone:balance:topup",
    ServiceState::ActiveOrSuspended,
);
pub const MESSAGES: Action = Action::new(
    "phone_number",
    "phone:messages:read",
    ServiceState::Provisioned,
);
pub const MISSED_CALLS: Action = Action::new(
    "phone_number",
    "phone:missed-calls:read",
    ServiceState::Provisioned,
);
pub const CALL_LOG: Action = Action::new(
    "phone_number",
    "phone:call-log:read",
    ServiceState::Provisioned,
);

/// The header carrying the webhook signature: `sha256=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "x-agent-store-signature";
/// Longest SMS body accepted by the sandbox injection (a concatenated SMS of 10 parts).
const MAX_SMS_LEN: usize = 1600;
/// Longest simulated call.
const MAX_CALL_SECONDS: i64 = 86_400;

/// Usage prices of phone numbers (`[phone]` in the configuration), in micro-USD.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhoneConfig {
    /// Price of one inbound SMS.
    pub sms_inbound_micro_usd: i64,
    /// Price of one started minute of an answered inbound call.
    pub call_per_minute_micro_usd: i64,
    /// Largest single top-up, in cents.
    pub max_topup_minor: i64,
}

impl Default for PhoneConfig {
    fn default() -> Self {
        Self {
            sms_inbound_micro_usd: 7_500,
            call_per_minute_micro_usd: 13_000,
            max_topup_minor: 50_000,
        }
    }
}

/// An inbound SMS: `{"id": "msg_...", "from", "to", "body", "receivedAt", "costMicroUsd"}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub received_at: String,
    /// Taken from the number's balance for this message.
    pub cost_micro_usd: i64,
}

/// A call: `{"id": "call_...", "from", "to", "direction", "status", "startedAt", "durationSeconds",
/// "costMicroUsd"}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallView {
    pub id: String,
    pub from: String,
    pub to: String,
    /// inbound
    pub direction: String,
    /// missed, completed
    pub status: String,
    pub started_at: String,
    pub duration_seconds: i64,
    pub cost_micro_usd: i64,
}

impl From<PhoneEvent> for MessageView {
    fn from(e: PhoneEvent) -> Self {
        Self {
            id: e.id,
            from: e.from_number,
            to: e.to_number,
            body: e.body.unwrap_or_default(),
            received_at: format_rfc3339(e.created_at),
            cost_micro_usd: e.cost_micro,
        }
    }
}

impl From<PhoneEvent> for CallView {
    fn from(e: PhoneEvent) -> Self {
        Self {
            id: e.id,
            from: e.from_number,
            to: e.to_number,
            direction: e.direction,
            status: e.status,
            started_at: format_rfc3339(e.created_at),
            duration_seconds: e.duration_seconds,
            cost_micro_usd: e.cost_micro,
        }
    }
}

/// The result of one delivered webhook event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboundResult {
    /// False when the number refused the traffic (suspended).
    pub accepted: bool,
    /// True when this event had been delivered before (nothing happened again).
    pub duplicate: bool,
    pub service_id: String,
    /// `msg_...` or `call_...` when accepted.
    pub id: Option<String>,
    /// sms or call
    pub kind: String,
    /// received, missed, completed; `refused` when not accepted.
    pub status: String,
    pub cost_micro_usd: i64,
    /// The number's status after the event (`suspended` once its balance is used up).
    pub service_status: String,
}

/// `POST /v1/account/sandbox/phone/inbound`, parsed at the edge.
#[derive(Debug, Clone)]
pub struct InjectRequest {
    pub service_id: String,
    pub kind: String,
    pub from: String,
    pub body: Option<String>,
    pub answered: Option<bool>,
    pub duration_seconds: Option<i64>,
}

/// Whether `text` is an E.164 number: `+`, then 8 to 15 digits not starting with 0.
pub fn is_e164(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

fn since_ms(since: Option<&str>) -> AppResult<Option<i64>> {
    match since.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => parse_rfc3339(text)
            .map(Some)
            .ok_or_else(|| AppError::invalid_field("since", "must be an RFC 3339 timestamp")),
    }
}

/// The balance a usage charge takes: its price, or everything left if that is less.
fn chargeable(price_micro: i64, balance_micro: i64) -> i64 {
    price_micro.min(balance_micro).max(0)
}

impl App {
    /// The monthly rental of a number in micro-USD: what its purchase paid per number, minus the
    /// initial balance that came with it.
    async fn rental_micro(&self, conn: &mut AnyConnection, service: &Service) -> AppResult<i64> {
        let purchase = purchases::get_by_id(&mut *conn, &service.purchase_id)
            .await?
            .ok_or_else(|| AppError::Internal("a number without its purchase".to_owned()))?;
        let configuration: Value =
            serde_json::from_str(&purchase.configuration).unwrap_or(Value::Null);
        let balance = configuration
            .get("initialBalanceUsd")
            .and_then(|v| usd_value_to_minor(v).ok())
            .unwrap_or(0);
        let per_number = purchase.total_price_minor / purchase.quantity.max(1);
        Ok(per_number.saturating_sub(balance).max(0) * MICRO_USD_PER_MINOR)
    }

    /// Post a usage debit of `amount` micro-USD from the number's balance to revenue.
    async fn post_usage(
        &self,
        conn: &mut AnyConnection,
        service: &Service,
        amount: i64,
        description: String,
        now: i64,
    ) -> AppResult<String> {
        let txn = NewTransaction {
            id: new_id(IdKind::Transaction),
            account_id: service.account_id.clone(),
            kind: "usage",
            purchase_id: None,
            service_id: Some(service.id.clone()),
            agent_id: service.agent_id.clone(),
            description,
            postings: vec![
                (ledger::service_account(&service.id), -amount),
                (ledger::REVENUE.to_owned(), amount),
            ],
            created_at: now,
        };
        ledger::post(&mut *conn, &txn)
            .await
            .map_err(crate::purchases::post_error)?;
        Ok(txn.id)
    }

    /// Change a number's status and audit it (by the system).
    async fn set_phone_status(
        &self,
        conn: &mut AnyConnection,
        service: &Service,
        to: &str,
        reason: &str,
        now: i64,
    ) -> AppResult<bool> {
        let changed = services::transition(&mut *conn, &service.id, &service.status, to, now)
            .await?
            .is_some();
        if changed {
            let action = if to == "suspended" {
                "service.suspended"
            } else {
                "service.resumed"
            };
            let change = crate::audit::Change {
                action,
                object_type: "service",
                object_id: &service.id,
                before: Some(&service.status),
                after: Some(to),
                details: json!({"reason": reason}),
            };
            crate::audit::record(&mut *conn, &service.account_id, None, &change).await?;
        }
        Ok(changed)
    }

    /// Take every rental that is due and affordable; returns whether one is still due (unpaid).
    async fn settle_rentals(
        &self,
        conn: &mut AnyConnection,
        service: &Service,
        now: i64,
    ) -> AppResult<bool> {
        let rental = self.rental_micro(&mut *conn, service).await?;
        let mut renews_at = service.renews_at;
        while let Some(due) = renews_at.filter(|d| *d <= now) {
            let balance =
                ledger::balance(&mut *conn, &ledger::service_account(&service.id)).await?;
            let next = add_months(due, 1);
            if rental == 0 {
                phone::advance_renewal(&mut *conn, &service.id, due, next, now).await?;
                renews_at = Some(next);
                continue;
            }
            if balance < rental {
                return Ok(true);
            }
            let description = format!(
                "Monthly rental of {} from {}",
                service.display_name,
                format_rfc3339(due)
            );
            let txn = self
                .post_usage(&mut *conn, service, rental, description, now)
                .await?;
            let record = phone::Rental {
                id: &new_id(IdKind::Transaction),
                account_id: &service.account_id,
                service_id: &service.id,
                period_start: due,
                amount_micro: rental,
                transaction_id: &txn,
                created_at: now,
            };
            if !phone::insert_rental(&mut *conn, &record).await?
                || !phone::advance_renewal(&mut *conn, &service.id, due, next, now).await?
            {
                return Err(AppError::Conflict(
                    "the rental was charged concurrently; retry".to_owned(),
                ));
            }
            renews_at = Some(next);
        }
        Ok(false)
    }

    /// `POST /services/{id}/phone/topup`: move `amount` dollars from the wallet to the number's
    /// balance (policy checked, idempotent), pay any due rental and resume a suspended number.
    pub async fn phone_topup(
        &self,
        principal: &Principal,
        service_id: &str,
        amount_usd: Option<&Value>,
        keyed: &Keyed,
    ) -> AppResult<StoredResponse> {
        let max = self.config().phone.max_topup_minor;
        let amount_minor = match amount_usd {
            None => return Err(AppError::invalid_field("amountUsd", "is required")),
            Some(v) => {
                usd_value_to_minor(v).map_err(|m| AppError::invalid_field("amountUsd", &m))?
            }
        };
        if amount_minor < 1 || amount_minor > max {
            return Err(AppError::invalid_field(
                "amountUsd",
                &format!("must be from 0.01 to {} US dollars", format_minor(max)),
            ));
        }
        let scope = scope(principal);
        if let Some(replay) = self.idempotent_lookup(None, &scope, keyed).await? {
            return Ok(replay);
        }
        let mut tx = self.store().begin_write().await?;
        accounts::lock_for_spend(&mut tx, principal.account_id()).await?;
        if let Some(replay) = self.idempotent_lookup(Some(&mut tx), &scope, keyed).await? {
            return Ok(replay);
        }
        let service = self
            .managed_service(&mut tx, principal, service_id, TOPUP)
            .await?;
        let now = now_ms();
        let request = PaymentRequest {
            kind: "phone_topup",
            service: &service,
            amount_minor,
            category: "telephony",
            credit_to: ledger::service_account(&service.id),
            transaction_kind: "service_topup",
            description: format!(
                "Top-up of {} ({} USD)",
                service.display_name,
                format_minor(amount_minor)
            ),
            detail: json!({}),
        };
        let payment = match self
            .pay_for_service(&mut tx, principal, &request, now)
            .await
        {
            Ok(p) => p,
            Err(AppError::PolicyDenied { summary, reasons }) => {
                drop(tx);
                self.audit_denied_payment(principal, service_id, TOPUP.capability, &reasons)
                    .await?;
                return Err(AppError::PolicyDenied { summary, reasons });
            }
            Err(other) => return Err(other),
        };
        let rental_due = self.settle_rentals(&mut tx, &service, now).await?;
        let balance = ledger::balance(&mut *tx, &ledger::service_account(&service.id)).await?;
        if service.status == "suspended" && !rental_due && balance > 0 {
            self.set_phone_status(&mut tx, &service, "active", "topped up", now)
                .await?;
        }
        self.record_service_action(
            &mut tx,
            principal,
            &service,
            TOPUP,
            json!({"amountMinor": amount_minor, "paymentId": payment.id}),
        )
        .await?;
        let current = services::get_by_id(&mut *tx, &service.id)
            .await?
            .ok_or_else(|| AppError::Internal("the number vanished".to_owned()))?;
        let view = self.service_view(&mut tx, current).await?;
        let body = json!({
            "topUp": {
                "id": payment.id,
                "serviceId": service.id,
                "amountMinor": amount_minor,
                "currency": CURRENCY,
                "transactionId": payment.transaction_id,
                "balanceMinor": balance / MICRO_USD_PER_MINOR,
                "balanceMicroUsd": balance,
                "rentalDue": rental_due,
                "createdAt": format_rfc3339(now),
            },
            "service": view,
        })
        .to_string();
        self.idempotent_store(&mut tx, &scope, keyed, 201, &body)
            .await?;
        commit(tx).await?;
        Ok(StoredResponse {
            status: 201,
            body,
            replayed: false,
        })
    }

    async fn phone_events(
        &self,
        principal: &Principal,
        service_id: &str,
        action: Action,
        filter: EventFilter<'_>,
        page: &PageRequest,
    ) -> AppResult<Vec<PhoneEvent>> {
        let mut conn = self.store().acquire().await?;
        self.managed_service(&mut conn, principal, service_id, action)
            .await?;
        Ok(phone::list_events(
            &mut *conn,
            service_id,
            filter,
            page.cursor.as_deref(),
            page.fetch_limit(),
        )
        .await?)
    }

    /// Inbound SMS of a number, newest first, optionally since a time.
    pub async fn list_phone_messages(
        &self,
        principal: &Principal,
        service_id: &str,
        since: Option<&str>,
        page: &PageRequest,
    ) -> AppResult<Page<MessageView>> {
        let filter = EventFilter {
            kind: "sms",
            status: None,
            since: since_ms(since)?,
        };
        let rows = self
            .phone_events(principal, service_id, MESSAGES, filter, page)
            .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |e| e.id.clone(),
            MessageView::from,
        ))
    }

    /// One inbound SMS.
    pub async fn get_phone_message(
        &self,
        principal: &Principal,
        service_id: &str,
        message_id: &str,
    ) -> AppResult<MessageView> {
        let mut conn = self.store().acquire().await?;
        self.managed_service(&mut conn, principal, service_id, MESSAGES)
            .await?;
        phone::get_event(&mut *conn, service_id, "sms", message_id)
            .await?
            .map(MessageView::from)
            .ok_or(AppError::NotFound("message"))
    }

    /// Calls of a number (all, or only missed ones), newest first.
    pub async fn list_phone_calls(
        &self,
        principal: &Principal,
        service_id: &str,
        missed_only: bool,
        since: Option<&str>,
        page: &PageRequest,
    ) -> AppResult<Page<CallView>> {
        let (action, status) = if missed_only {
            (MISSED_CALLS, Some("missed"))
        } else {
            (CALL_LOG, None)
        };
        let filter = EventFilter {
            kind: "call",
            status,
            since: since_ms(since)?,
        };
        let rows = self
            .phone_events(principal, service_id, action, filter, page)
            .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |e| e.id.clone(),
            CallView::from,
        ))
    }

    /// The signature the telephony webhook must carry for `body`: `sha256=` and the hex HMAC-SHA256
    /// of the body under a key derived from the server secret.
    pub fn telephony_webhook_signature(&self, body: &str) -> String {
        format!(
            "sha256={}",
            self.pepper().hash(&format!("telephony-webhook\n{body}"))
        )
    }

    /// Receive one webhook from the telephony provider: verify its signature, parse the event and
    /// record it (once, however often it is delivered), charging its usage.
    pub async fn receive_telephony_webhook(
        &self,
        body: &str,
        signature: Option<&str>,
    ) -> AppResult<InboundResult> {
        let expected = self.telephony_webhook_signature(body);
        let valid = signature.is_some_and(|s| constant_time_eq(s.as_bytes(), expected.as_bytes()));
        if !valid {
            return Err(AppError::Unauthenticated);
        }
        let event = self
            .providers()
            .telephony
            .parse_inbound_webhook(body)
            .map_err(|e| AppError::invalid_field("body", &e.message))?;
        self.record_inbound(&event).await
    }

    async fn record_inbound(&self, event: &InboundEvent) -> AppResult<InboundResult> {
        let mut tx = self.store().begin_write().await?;
        let Some(service) = phone_by_number(&mut tx, &event.to).await? else {
            return Err(AppError::NotFound("phone number"));
        };
        accounts::lock_for_spend(&mut tx, &service.account_id).await?;
        // Re-read under the lock: the status and balance the charge is based on.
        let service = services::get_by_id(&mut *tx, &service.id)
            .await?
            .ok_or(AppError::NotFound("phone number"))?;
        let kind = event.kind.clone();
        if let Some(done) =
            phone::event_by_provider_id(&mut *tx, &service.id, &event.event_id).await?
        {
            return Ok(InboundResult {
                accepted: true,
                duplicate: true,
                service_id: service.id.clone(),
                id: Some(done.id),
                kind,
                status: done.status,
                cost_micro_usd: done.cost_micro,
                service_status: service.status,
            });
        }
        if service.status != "active" {
            return Ok(InboundResult {
                accepted: false,
                duplicate: false,
                service_id: service.id.clone(),
                id: None,
                kind,
                status: "refused".to_owned(),
                cost_micro_usd: 0,
                service_status: service.status,
            });
        }
        let config = &self.config().phone;
        let (id, status, duration, price) = if kind == "sms" {
            (
                new_id(IdKind::Message),
                "received",
                0,
                config.sms_inbound_micro_usd,
            )
        } else if event.answered == Some(true) {
            let seconds = event.duration_seconds.unwrap_or(0).max(0);
            let minutes = (seconds + 59) / 60;
            (
                new_id(IdKind::Call),
                "completed",
                seconds,
                minutes.saturating_mul(config.call_per_minute_micro_usd),
            )
        } else {
            (new_id(IdKind::Call), "missed", 0, 0)
        };
        let now = now_ms();
        let balance_account = ledger::service_account(&service.id);
        let balance = ledger::balance(&mut *tx, &balance_account).await?;
        let cost = chargeable(price, balance);
        let transaction_id = if cost > 0 {
            let what = if kind == "sms" {
                "Inbound SMS".to_owned()
            } else {
                format!("Inbound call of {duration} s")
            };
            Some(
                self.post_usage(&mut tx, &service, cost, format!("{what} ({id})"), now)
                    .await?,
            )
        } else {
            None
        };
        let record = PhoneEvent {
            id: id.clone(),
            account_id: service.account_id.clone(),
            service_id: service.id.clone(),
            kind: kind.clone(),
            provider_event_id: event.event_id.clone(),
            from_number: event.from.clone(),
            to_number: event.to.clone(),
            body: event.body.clone(),
            direction: "inbound".to_owned(),
            status: status.to_owned(),
            duration_seconds: duration,
            price_micro: price,
            cost_micro: cost,
            transaction_id,
            created_at: now,
        };
        if !phone::insert_event(&mut tx, &record).await? {
            return Err(AppError::Internal(
                "inbound event recorded twice".to_owned(),
            ));
        }
        let mut service_status = service.status.clone();
        if price > 0 && ledger::balance(&mut *tx, &balance_account).await? == 0 {
            self.set_phone_status(&mut tx, &service, "suspended", "balance used up", now)
                .await?;
            service_status = "suspended".to_owned();
        }
        commit(tx).await?;
        Ok(InboundResult {
            accepted: true,
            duplicate: false,
            service_id: service.id,
            id: Some(id),
            kind,
            status: status.to_owned(),
            cost_micro_usd: cost,
            service_status,
        })
    }

    /// `POST /v1/account/sandbox/phone/inbound` (and `agent-store phone inject`): have the sandbox
    /// carrier deliver an SMS or a call to one of the account's numbers, through the same signed
    /// webhook path a real carrier uses.
    pub async fn sandbox_phone_inbound(
        &self,
        principal: &Principal,
        request: &InjectRequest,
    ) -> AppResult<InboundResult> {
        let mut fields = agent_store_core::FieldErrors::new();
        if !is_e164(&request.from) {
            fields.push("from", "must be an E.164 phone number such as +14155550123");
        }
        let traffic = match request.kind.as_str() {
            "sms" => {
                if request.answered.is_some() {
                    fields.push("answered", "applies to calls only");
                }
                if request.duration_seconds.is_some() {
                    fields.push("durationSeconds", "applies to calls only");
                }
                match request.body.as_deref() {
                    Some(b) if !b.is_empty() && b.chars().count() <= MAX_SMS_LEN => {}
                    _ => fields.push("body", "is required for an SMS: 1 to 1600 characters"),
                }
                InboundTraffic::Sms {
                    from: request.from.clone(),
                    body: request.body.clone().unwrap_or_default(),
                }
            }
            "call" => {
                if request.body.is_some() {
                    fields.push("body", "applies to SMS only");
                }
                let answered = request.answered.unwrap_or(false);
                let duration = request.duration_seconds.unwrap_or(0);
                if !(0..=MAX_CALL_SECONDS).contains(&duration) {
                    fields.push("durationSeconds", "must be from 0 to 86400");
                } else if answered && duration == 0 {
                    fields.push("durationSeconds", "must be at least 1 for an answered call");
                } else if !answered && duration != 0 {
                    fields.push(
                        "durationSeconds",
                        "must be 0 (or left out) for a missed call",
                    );
                }
                InboundTraffic::Call {
                    from: request.from.clone(),
                    answered,
                    duration_seconds: duration,
                }
            }
            _ => {
                fields.push("kind", "must be sms or call");
                InboundTraffic::Sms {
                    from: String::new(),
                    body: String::new(),
                }
            }
        };
        fields.finish(()).map_err(AppError::validation)?;
        let service = services::get(
            self.store().pool(),
            principal.account_id(),
            principal.agent_id(),
            &request.service_id,
        )
        .await?
        .ok_or(AppError::NotFound("service"))?;
        if service.service_type != "phone_number" {
            return Err(AppError::invalid_field(
                "serviceId",
                &format!("is a {} service, not a phone_number", service.service_type),
            ));
        }
        if service.status != "active" {
            return Err(AppError::Conflict(format!(
                "the number is {}; a suspended number receives nothing until it is topped up",
                service.status
            )));
        }
        let details: Value = serde_json::from_str(&service.details).unwrap_or(Value::Null);
        let Some(number) = details.get("phoneNumber").and_then(Value::as_str) else {
            return Err(AppError::Conflict(
                "the number has no phone number yet".to_owned(),
            ));
        };
        let body = self
            .providers()
            .telephony
            .simulate_inbound(number, &traffic)
            .map_err(|e| AppError::ProviderError(e.to_string()))?;
        let signature = self.telephony_webhook_signature(&body);
        self.receive_telephony_webhook(&body, Some(&signature))
            .await
    }

    /// The worker's duty: take due monthly rentals from active numbers' balances (suspending those
    /// that cannot pay). Returns how many numbers were handled.
    pub(crate) async fn charge_due_phone_rentals(&self) -> AppResult<usize> {
        let due = phone::rentals_due(self.store().pool(), now_ms(), 100).await?;
        for candidate in &due {
            let mut tx = self.store().begin_write().await?;
            accounts::lock_for_spend(&mut tx, &candidate.account_id).await?;
            let Some(service) = services::get_by_id(&mut *tx, &candidate.id).await? else {
                continue;
            };
            if service.status != "active" {
                continue;
            }
            let now = now_ms();
            let unpaid = self.settle_rentals(&mut tx, &service, now).await?;
            let balance = ledger::balance(&mut *tx, &ledger::service_account(&service.id)).await?;
            if unpaid || balance == 0 {
                let reason = if unpaid {
                    "the balance cannot pay the monthly rental"
                } else {
                    "balance used up"
                };
                self.set_phone_status(&mut tx, &service, "suspended", reason, now)
                    .await?;
            }
            commit(tx).await?;
        }
        Ok(due.len())
    }
}

/// The active or suspended number service that owns `number`.
async fn phone_by_number(conn: &mut AnyConnection, number: &str) -> AppResult<Option<Service>> {
    if !is_e164(number) {
        return Ok(None);
    }
    Ok(phone::service_by_number(conn, number).await?)
}

/// Equality in time independent of where the inputs differ (for signatures).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_never_takes_more_than_the_balance() {
        assert_eq!(chargeable(7_500, 100_000), 7_500);
        assert_eq!(chargeable(7_500, 3_000), 3_000);
        assert_eq!(chargeable(7_500, 0), 0);
        assert_eq!(chargeable(0, 10), 0);
    }

    #[test]
    fn e164_numbers_are_recognised() {
        assert!(is_e164("+14155550123"));
        assert!(!is_e164("14155550123"));
        assert!(!is_e164("+0123456789"));
        assert!(!is_e164("+1415%"));
    }
}
