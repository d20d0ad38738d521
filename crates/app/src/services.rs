//! Services as the APIs show them: stored details merged with live balances (a phone number's prepaid
//! balance, a router's credits), listings with filters, and lookups scoped to the actor.

use agent_store_core::money::MICRO_USD_PER_MINOR;
use agent_store_core::time::format_rfc3339;
use agent_store_store::services::{self, Service};
use agent_store_store::{AnyConnection, ledger};
use serde::Serialize;
use serde_json::{Value, json};

use crate::pagination::{Page, PageRequest};
use crate::{App, AppError, AppResult, Principal};

pub const SERVICE_TYPES: [&str; 5] = [
    "domain",
    "server",
    "phone_number",
    "storage_service",
    "llm_router",
];
pub const SERVICE_STATUSES: [&str; 5] = [
    "provisioning",
    "active",
    "suspended",
    "failed",
    "terminated",
];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    pub id: String,
    /// domain, server, phone_number, storage_service, llm_router
    pub service_type: String,
    /// provisioning, active, suspended, failed, terminated
    pub status: String,
    pub agent_id: Option<String>,
    pub purchase_id: String,
    pub catalog_item_id: String,
    pub display_name: String,
    #[schema(value_type = Object)]
    pub configuration: Value,
    pub management_capabilities: Vec<String>,
    #[schema(value_type = Object)]
    pub details: Value,
    pub created_at: String,
    pub updated_at: String,
    pub renews_at: Option<String>,
    pub expires_at: Option<String>,
}

impl App {
    /// Build the view, reading live balances for prepaid services.
    pub(crate) async fn service_view(
        &self,
        conn: &mut AnyConnection,
        s: Service,
    ) -> AppResult<ServiceView> {
        let mut details: Value = serde_json::from_str(&s.details).unwrap_or_else(|_| json!({}));
        if !details.is_object() {
            details = json!({});
        }
        let balance = ledger::balance(&mut *conn, &ledger::service_account(&s.id)).await?;
        match s.service_type.as_str() {
            "phone_number" => details["balanceMinor"] = json!(balance / MICRO_USD_PER_MINOR),
            "llm_router" => {
                // Unused reservations and lease remainders flow back into service:<svc> as usage
                // credits, so what was bought counts every other credit. reserved:<svc> holds the
                // credit leased by server processes: what this process's lease has free is still
                // the customer's to spend (shown in the balance); the rest is held by requests in
                // flight or by other processes' leases.
                let purchased =
                    agent_store_store::router::credits_purchased(&mut *conn, &s.id).await?;
                let reserved = ledger::balance(
                    &mut *conn,
                    &agent_store_store::router::reserved_account(&s.id),
                )
                .await?;
                let free = self.router_lease_free(&s.id).min(reserved);
                details["creditBalanceMicroUsd"] = json!(balance + free);
                details["creditsPurchasedMicroUsd"] = json!(purchased);
                details["creditsReservedMicroUsd"] = json!(reserved - free);
                details["creditsUsedMicroUsd"] =
                    json!(purchased.saturating_sub(balance).saturating_sub(reserved));
                details["baseUrl"] = json!(self.router_base_url());
            }
            _ => {}
        }
        Ok(ServiceView {
            id: s.id,
            service_type: s.service_type,
            status: s.status,
            agent_id: s.agent_id,
            purchase_id: s.purchase_id,
            catalog_item_id: s.catalog_item_id,
            display_name: s.display_name,
            configuration: serde_json::from_str(&s.configuration).unwrap_or(Value::Null),
            management_capabilities: serde_json::from_str(&s.capabilities).unwrap_or_default(),
            details,
            created_at: format_rfc3339(s.created_at),
            updated_at: format_rfc3339(s.updated_at),
            renews_at: s.renews_at.map(format_rfc3339),
            expires_at: s.expires_at.map(format_rfc3339),
        })
    }

    pub async fn get_service(
        &self,
        principal: &Principal,
        service_id: &str,
    ) -> AppResult<ServiceView> {
        // Router balances include this process's finished requests.
        self.flush_router_usage().await?;
        let mut conn = self.store().acquire().await?;
        let service = services::get(
            &mut *conn,
            principal.account_id(),
            principal.agent_id(),
            service_id,
        )
        .await?
        .ok_or(AppError::NotFound("service"))?;
        self.service_view(&mut conn, service).await
    }

    /// Newest first; an agent sees its own, the account every agent's (optionally one agent's).
    pub async fn list_services(
        &self,
        principal: &Principal,
        service_type: Option<&str>,
        status: Option<&str>,
        agent_filter: Option<&str>,
        page: &PageRequest,
    ) -> AppResult<Page<ServiceView>> {
        let mut fields = agent_store_core::FieldErrors::new();
        if let Some(t) = service_type
            && !SERVICE_TYPES.contains(&t)
        {
            fields.push(
                "serviceType",
                format!("must be one of {}", SERVICE_TYPES.join(", ")),
            );
        }
        if let Some(s) = status
            && !SERVICE_STATUSES.contains(&s)
        {
            fields.push(
                "status",
                format!("must be one of {}", SERVICE_STATUSES.join(", ")),
            );
        }
        fields.finish(()).map_err(AppError::validation)?;
        let filter = services::ListFilter {
            agent_id: principal.agent_id().or(agent_filter),
            service_type,
            status,
        };
        self.flush_router_usage().await?;
        let mut conn = self.store().acquire().await?;
        let rows = services::list(
            &mut *conn,
            principal.account_id(),
            &filter,
            page.cursor.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        let limit = usize::try_from(page.limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.get(limit - 1).map(|s| s.id.clone())
        } else {
            None
        };
        let mut items = Vec::with_capacity(rows.len().min(limit));
        for row in rows.into_iter().take(limit) {
            items.push(self.service_view(&mut conn, row).await?);
        }
        Ok(Page { items, next_cursor })
    }
}
