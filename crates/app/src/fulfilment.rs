//! Turning a paid purchase into services: how its money splits between revenue and the services'
//! prepaid balances, creating the service rows with their provisioning jobs, and the reverse (refund).

use agent_store_core::catalog::CatalogItem;
use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::money::usd_value_to_minor;
use agent_store_core::time::add_months;
use agent_store_store::ledger::{self, NewTransaction, PostError};
use agent_store_store::purchases::Purchase;
use agent_store_store::services::{self, Service};
use agent_store_store::{AnyConnection, jobs};
use serde_json::{Value, json};

use crate::wallet::minor_to_micro;
use crate::{App, AppError, AppResult};

/// The job kind that provisions one service.
pub const PROVISION_JOB: &str = "provision_service";

/// Where a purchase's money goes.
#[derive(Debug, Clone)]
pub struct MoneySplit {
    /// Prepaid balance credited to each new service (same order as the services), in cents.
    pub prepaid_per_service_minor: i64,
    /// Credited to an existing service (router credit top-up), in cents.
    pub top_up_minor: i64,
}

/// The prepaid part of a purchase: a phone number's initial balance, router credits.
pub fn split(purchase: &Purchase, configuration: &Value) -> MoneySplit {
    match purchase.service_type.as_str() {
        "phone_number" => MoneySplit {
            prepaid_per_service_minor: configuration
                .get("initialBalanceUsd")
                .and_then(|v| usd_value_to_minor(v).ok())
                .unwrap_or(0),
            top_up_minor: 0,
        },
        "llm_router" if purchase.top_up_service_id.is_some() => MoneySplit {
            prepaid_per_service_minor: 0,
            top_up_minor: purchase.total_price_minor,
        },
        "llm_router" => MoneySplit {
            prepaid_per_service_minor: purchase.total_price_minor,
            top_up_minor: 0,
        },
        _ => MoneySplit {
            prepaid_per_service_minor: 0,
            top_up_minor: 0,
        },
    }
}

/// Postings that pay for `purchase` from `source` (the wallet, or the held account after approval).
pub fn capture_postings(
    purchase: &Purchase,
    split: &MoneySplit,
    source: &str,
    service_ids: &[String],
) -> Vec<(String, i64)> {
    let total = minor_to_micro(purchase.total_price_minor);
    let mut postings = vec![(source.to_owned(), -total)];
    let mut prepaid_total = 0;
    if let Some(target) = &purchase.top_up_service_id {
        postings.push((
            ledger::service_account(target),
            minor_to_micro(split.top_up_minor),
        ));
        prepaid_total += minor_to_micro(split.top_up_minor);
    } else if split.prepaid_per_service_minor > 0 {
        for id in service_ids {
            postings.push((
                ledger::service_account(id),
                minor_to_micro(split.prepaid_per_service_minor),
            ));
            prepaid_total += minor_to_micro(split.prepaid_per_service_minor);
        }
    }
    let revenue = total - prepaid_total;
    if revenue != 0 {
        postings.push((ledger::REVENUE.to_owned(), revenue));
    }
    postings.retain(|(_, amount)| *amount != 0);
    postings
}

fn renews_at(service_type: &str, configuration: &Value, now: i64) -> Option<i64> {
    let months = |field: &str| {
        configuration
            .get(field)
            .and_then(Value::as_u64)
            .and_then(|m| u32::try_from(m).ok())
    };
    match service_type {
        "domain" => months("periodYears").map(|y| add_months(now, y.saturating_mul(12))),
        "server" => months("billingTermMonths").map(|m| add_months(now, m)),
        "phone_number" | "storage_service" => Some(add_months(now, 1)),
        _ => None,
    }
}

fn service_name(
    item: &CatalogItem,
    purchase: &Purchase,
    configuration: &Value,
    index: usize,
) -> String {
    let base = match purchase.service_type.as_str() {
        "server" => configuration
            .get("hostname")
            .and_then(Value::as_str)
            .unwrap_or(&item.name)
            .to_owned(),
        "domain" => configuration
            .get("domainName")
            .and_then(Value::as_str)
            .unwrap_or(&item.name)
            .to_owned(),
        _ => purchase.display_name.clone(),
    };
    // Servers get distinct hostnames (see `service_configuration`); other kinds are numbered.
    if purchase.quantity > 1 && purchase.service_type != "server" {
        format!("{base} #{}", index + 1)
    } else {
        base
    }
}

/// The configuration of the `index`-th service of a purchase. Several servers bought at once get
/// distinct hostnames: the first keeps the requested one, the others get `-2`, `-3`, ... (the base is
/// shortened if needed so the label stays within 63 characters).
fn service_configuration(purchase: &Purchase, configuration: &Value, index: usize) -> Value {
    let mut configuration = configuration.clone();
    if purchase.service_type == "server"
        && index > 0
        && let Some(hostname) = configuration.get("hostname").and_then(Value::as_str)
    {
        // Hostnames are validated ASCII labels, so byte slicing is character slicing.
        let suffix = format!("-{}", index + 1);
        let keep = 63usize.saturating_sub(suffix.len()).min(hostname.len());
        let base = hostname[..keep].trim_end_matches('-');
        configuration["hostname"] = Value::String(format!("{base}{suffix}"));
    }
    configuration
}

impl App {
    /// Create the purchase's services (status `provisioning`), their balance accounts and their
    /// provisioning jobs. Returns the new service ids. A router top-up creates nothing.
    pub(crate) async fn create_services(
        &self,
        conn: &mut AnyConnection,
        purchase: &Purchase,
        item: &CatalogItem,
        now: i64,
    ) -> AppResult<Vec<String>> {
        if let Some(target) = &purchase.top_up_service_id {
            return Ok(vec![target.clone()]);
        }
        let configuration: Value =
            serde_json::from_str(&purchase.configuration).unwrap_or(Value::Null);
        let capabilities = serde_json::to_string(&item.management_capabilities())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let count = usize::try_from(purchase.quantity).unwrap_or(1);
        let mut ids = Vec::with_capacity(count);
        for index in 0..count {
            let own = service_configuration(purchase, &configuration, index);
            let service = Service {
                id: new_id(IdKind::Service),
                account_id: purchase.account_id.clone(),
                agent_id: purchase.agent_id.clone(),
                purchase_id: purchase.id.clone(),
                catalog_item_id: purchase.catalog_item_id.clone(),
                service_type: purchase.service_type.clone(),
                status: "provisioning".to_owned(),
                display_name: service_name(item, purchase, &own, index),
                configuration: own.to_string(),
                capabilities: capabilities.clone(),
                details: json!({}).to_string(),
                provider_ref: None,
                created_at: now,
                updated_at: now,
                renews_at: renews_at(&purchase.service_type, &configuration, now),
                expires_at: None,
            };
            services::insert(&mut *conn, &service).await?;
            if matches!(
                purchase.service_type.as_str(),
                "phone_number" | "llm_router"
            ) {
                ledger::ensure_account(
                    &mut *conn,
                    &ledger::service_account(&service.id),
                    Some(&purchase.account_id),
                    "service_balance",
                    now,
                )
                .await?;
            }
            jobs::enqueue(
                &mut *conn,
                &new_id(IdKind::Job),
                PROVISION_JOB,
                &service.id,
                now,
                now,
            )
            .await?;
            ids.push(service.id);
        }
        Ok(ids)
    }

    /// Post a ledger transaction for a purchase, mapping a refused debit to `insufficient_funds`.
    pub(crate) async fn post_for_purchase(
        &self,
        conn: &mut AnyConnection,
        purchase: &Purchase,
        kind: &'static str,
        description: String,
        postings: Vec<(String, i64)>,
        now: i64,
    ) -> AppResult<()> {
        let txn = NewTransaction {
            id: new_id(IdKind::Transaction),
            account_id: purchase.account_id.clone(),
            kind,
            purchase_id: Some(purchase.id.clone()),
            service_id: purchase.top_up_service_id.clone(),
            agent_id: purchase.agent_id.clone(),
            description,
            postings,
            created_at: now,
        };
        match ledger::post(&mut *conn, &txn).await {
            Ok(_) => Ok(()),
            Err(PostError::InsufficientFunds(_)) => {
                let wallet = ledger::wallet(&mut *conn, &purchase.account_id).await?;
                Err(AppError::InsufficientFunds {
                    available_minor: crate::wallet::micro_to_minor(wallet.available_micro),
                    required_minor: purchase.total_price_minor,
                })
            }
            Err(other) => Err(crate::purchases::post_error(other)),
        }
    }

    /// Return every cent a captured purchase took: the capture's entries reversed, with money that
    /// came from the held account returned to the wallet.
    pub(crate) async fn refund_purchase(
        &self,
        conn: &mut AnyConnection,
        purchase: &Purchase,
        now: i64,
    ) -> AppResult<()> {
        let held = ledger::held_account(&purchase.account_id);
        let wallet = ledger::wallet_account(&purchase.account_id);
        let entries = ledger::entries_of_purchase(&mut *conn, &purchase.id, "capture").await?;
        if entries.is_empty() {
            return Ok(());
        }
        let mut postings: Vec<(String, i64)> = Vec::new();
        for (account, amount) in entries {
            let target = if account == held {
                wallet.clone()
            } else {
                account
            };
            match postings.iter_mut().find(|(a, _)| *a == target) {
                Some(existing) => existing.1 -= amount,
                None => postings.push((target, -amount)),
            }
        }
        postings.retain(|(_, amount)| *amount != 0);
        let description = format!("Refund of {} ({})", purchase.display_name, purchase.id);
        self.post_for_purchase(conn, purchase, "refund", description, postings, now)
            .await
    }
}
