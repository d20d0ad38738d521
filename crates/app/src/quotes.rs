//! Quotes: validate a configuration against the catalog item, price it, check domain availability, and
//! keep the result open for a configured time. A quote belongs to the actor that created it.

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::money::CURRENCY;
use agent_store_core::time::{SECOND_MS, now_ms};
use agent_store_providers::DomainAvailability;
use agent_store_store::quotes::{self, Quote};
use serde_json::{Value, json};

use crate::views::QuoteView;
use crate::{App, AppError, AppResult, Principal};

/// A quote request, parsed at the edge (unknown top-level fields already refused).
#[derive(Debug, Clone)]
pub struct QuoteRequest {
    pub catalog_item_id: String,
    pub quantity: i64,
    pub configuration: Option<Value>,
}

impl App {
    /// Price a configuration and store it as an open quote of `principal`.
    pub async fn create_quote(
        &self,
        principal: &Principal,
        request: &QuoteRequest,
    ) -> AppResult<QuoteView> {
        let item = self
            .catalog()
            .item(&request.catalog_item_id)
            .ok_or_else(|| {
                AppError::invalid_field("catalogItemId", "is not an item of the catalog")
            })?;
        let priced = self
            .catalog()
            .price(item, request.quantity, request.configuration.as_ref())
            .map_err(AppError::validation)?;
        // A top-up names the router service it credits: refuse a service that is not the caller's
        // own active router service here already, exactly as the purchase would, so that no quote
        // is ever issued against another agent's or account's service.
        if let Some(target) = priced
            .configuration
            .get("topUpServiceId")
            .and_then(Value::as_str)
        {
            let mut conn = self.store().acquire().await?;
            self.check_top_up_target(&mut conn, principal, target)
                .await?;
        }
        if let Some(domain) = &priced.domain_name {
            // Registered (or being registered) through this store: unavailable, whatever the registry says.
            if agent_store_store::purchases::domain_taken(self.store().pool(), domain).await? {
                return Err(AppError::DomainUnavailable(domain.clone()));
            }
            let availability = self
                .providers()
                .registrar
                .check_availability(domain)
                .await
                .map_err(|e| AppError::ProviderError(e.to_string()))?;
            if availability == DomainAvailability::Unavailable {
                return Err(AppError::DomainUnavailable(domain.clone()));
            }
        }
        let now = now_ms();
        let ttl_ms = i64::try_from(self.config().quotes.ttl_seconds)
            .unwrap_or(i64::MAX / 2)
            .saturating_mul(SECOND_MS);
        let lines: Vec<Value> = priced
            .lines
            .iter()
            .map(|l| json!({"description": l.description, "amountMinor": l.amount_minor}))
            .collect();
        let quote = Quote {
            id: new_id(IdKind::Quote),
            account_id: principal.account_id().to_owned(),
            agent_id: principal.agent_id().map(str::to_owned),
            catalog_item_id: item.id.clone(),
            quantity: request.quantity,
            unit_price_minor: priced.unit_price_minor,
            total_price_minor: priced.total_price_minor,
            currency: CURRENCY.to_owned(),
            display_name: priced.display_name.clone(),
            configuration: priced.configuration.to_string(),
            quote_details: json!({ "lines": lines }).to_string(),
            capabilities: serde_json::to_string(&priced.management_capabilities)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            domain_name: priced.domain_name.clone(),
            status: "open".to_owned(),
            expires_at: now.saturating_add(ttl_ms),
            created_at: now,
            used_at: None,
        };
        quotes::insert(self.store().pool(), &quote).await?;
        let mut view = QuoteView::new(quote, now);
        view.policy_preview = self.policy_preview(principal, &view).await?;
        Ok(view)
    }

    /// A quote of the acting agent (or any quote of the account, for the account itself).
    pub async fn get_quote(&self, principal: &Principal, quote_id: &str) -> AppResult<QuoteView> {
        let quote = quotes::get(
            self.store().pool(),
            principal.account_id(),
            principal.agent_id(),
            quote_id,
        )
        .await?
        .ok_or(AppError::NotFound("quote"))?;
        let mut view = QuoteView::new(quote, now_ms());
        view.policy_preview = self.policy_preview(principal, &view).await?;
        Ok(view)
    }

    /// Evaluate a purchase of the quote against the actor's policies and current usage, reserving
    /// nothing. A later purchase re-evaluates under the account's lock, so the preview can only be
    /// overtaken by other spending, never bypass a limit.
    async fn policy_preview(&self, principal: &Principal, quote: &QuoteView) -> AppResult<Value> {
        let Some(item) = self.catalog().item(&quote.catalog_item_id) else {
            return Ok(Value::Null);
        };
        let spend = agent_store_core::policy::Spend {
            amount_minor: quote.total_price_minor,
            category: item.category(),
            catalog_item_id: &item.id,
            counts_as_purchase: true,
        };
        let mut conn = self.store().acquire().await?;
        let evaluation = self.evaluate_spend(&mut conn, principal, &spend).await?;
        Ok(json!({"decision": evaluation.decision, "reasons": evaluation.reasons}))
    }
}
