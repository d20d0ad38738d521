//! Router keys (`ark_live_<rk_...>.<secret>`): created (shown once), listed and revoked per
//! `llm_router` service by its agent or by the account, and resolved into a [`RouterPrincipal`] on
//! `/openai/v1/*`. Only the keyed hash of the secret is stored.

use agent_store_core::FieldErrors;
use agent_store_core::keys::{CredentialKind, parse_credential};
use agent_store_core::time::{format_rfc3339, now_ms};
use agent_store_store::router::{self as store, RouterKey};
use agent_store_store::services::Service;
use agent_store_store::{AnyConnection, commit, credentials};
use serde::Serialize;
use serde_json::json;

use super::RouterPrincipal;
use crate::audit::{self, Change};
use crate::identity::validate_name;
use crate::manage::{Action, ServiceState};
use crate::pagination::{Page, PageRequest};
use crate::{App, AppError, AppResult, Principal};

const CREATE: &str = "router:api-key:create";
const LIST: &str = "router:api-key:list";
const REVOKE: &str = "router:api-key:revoke";
/// Capability of `GET .../router/usage`.
pub(crate) const USAGE: &str = "router:usage:get";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouterKeyView {
    pub id: String,
    pub service_id: String,
    pub agent_id: Option<String>,
    pub label: String,
    /// The key itself: only in the creation response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The OpenAI-compatible base URL to use the key with.
    pub base_url: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl App {
    fn router_key_view(&self, k: RouterKey, key: Option<String>) -> RouterKeyView {
        RouterKeyView {
            id: k.id,
            service_id: k.service_id,
            agent_id: k.agent_id,
            label: k.label,
            key,
            base_url: self.router_base_url(),
            created_at: format_rfc3339(k.created_at),
            last_used_at: k.last_used_at.map(format_rfc3339),
            revoked_at: k.revoked_at.map(format_rfc3339),
        }
    }

    /// The absolute `/openai/v1` URL.
    pub fn router_base_url(&self) -> String {
        format!("{}/openai/v1", self.config().effective_public_base_url())
    }

    /// The principal's `llm_router` service for a router-key or usage action (see [`crate::manage`]).
    pub(crate) async fn router_service(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        service_id: &str,
        capability: &'static str,
    ) -> AppResult<Service> {
        let state = if capability == CREATE {
            ServiceState::Active
        } else {
            ServiceState::Any
        };
        let action = Action::new("llm_router", capability, state);
        self.managed_service(conn, principal, service_id, action)
            .await
    }

    pub async fn create_router_key(
        &self,
        principal: &Principal,
        service_id: &str,
        label: &str,
    ) -> AppResult<RouterKeyView> {
        let mut fields = FieldErrors::new();
        let label = validate_name(&mut fields, "label", label);
        fields.finish(()).map_err(AppError::validation)?;
        let now = now_ms();
        let minted = self.pepper().mint(CredentialKind::RouterKey);
        let mut tx = self.store().begin_write().await?;
        let service = self
            .router_service(&mut tx, principal, service_id, CREATE)
            .await?;
        let key = RouterKey {
            id: minted.key_id.clone(),
            account_id: service.account_id.clone(),
            agent_id: service.agent_id.clone(),
            service_id: service.id.clone(),
            label,
            secret_hash: minted.secret_hash.clone(),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        };
        store::insert_key(&mut *tx, &key).await?;
        let change = Change {
            action: "router_key.created",
            object_type: "router_key",
            object_id: &key.id,
            before: None,
            after: Some("active"),
            details: json!({"serviceId": service.id, "label": key.label}),
        };
        audit::record(&mut *tx, principal.account_id(), Some(principal), &change).await?;
        commit(tx).await?;
        Ok(self.router_key_view(key, Some(minted.plaintext)))
    }

    pub async fn list_router_keys(
        &self,
        principal: &Principal,
        service_id: &str,
        page: &PageRequest,
    ) -> AppResult<Page<RouterKeyView>> {
        let mut conn = self.store().acquire().await?;
        self.router_service(&mut conn, principal, service_id, LIST)
            .await?;
        let rows = store::list_keys(
            &mut *conn,
            service_id,
            page.cursor.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |k| k.id.clone(),
            |k| self.router_key_view(k, None),
        ))
    }

    /// Revoke a router key; the next request with it is refused (auth reads the row every time).
    pub async fn revoke_router_key(
        &self,
        principal: &Principal,
        service_id: &str,
        key_id: &str,
    ) -> AppResult<RouterKeyView> {
        let mut tx = self.store().begin_write().await?;
        self.router_service(&mut tx, principal, service_id, REVOKE)
            .await?;
        let (key, changed) = store::revoke_key(&mut tx, service_id, key_id, now_ms())
            .await?
            .ok_or(AppError::NotFound("router key"))?;
        if changed {
            let change = Change {
                action: "router_key.revoked",
                object_type: "router_key",
                object_id: &key.id,
                before: Some("active"),
                after: Some("revoked"),
                details: json!({"serviceId": service_id}),
            };
            audit::record(&mut *tx, principal.account_id(), Some(principal), &change).await?;
        }
        commit(tx).await?;
        Ok(self.router_key_view(key, None))
    }

    /// Resolve a router key. Every failure is the same `Unauthenticated`.
    pub async fn authenticate_router_key(&self, bearer: &str) -> AppResult<RouterPrincipal> {
        let parsed = parse_credential(bearer).ok_or(AppError::Unauthenticated)?;
        if parsed.kind != CredentialKind::RouterKey {
            return Err(AppError::Unauthenticated);
        }
        let found = store::get_key_for_auth(self.store().pool(), &parsed.key_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let k = &found.key;
        if !self.pepper().verify(&parsed, &k.secret_hash)
            || k.revoked_at.is_some()
            || found.service_type != "llm_router"
            || found.service_status != "active"
            || found.agent_status.as_deref().is_some_and(|s| s != "active")
        {
            return Err(AppError::Unauthenticated);
        }
        let now = now_ms();
        if k.last_used_at
            .is_none_or(|t| t < now - credentials::LAST_USED_GRANULARITY_MS)
            && let Err(err) = store::touch_key(
                self.store().pool(),
                &k.id,
                now,
                credentials::LAST_USED_GRANULARITY_MS,
            )
            .await
        {
            tracing::warn!(key_id = %k.id, error = %err, "could not record router key use");
        }
        Ok(RouterPrincipal {
            account_id: k.account_id.clone(),
            agent_id: k.agent_id.clone(),
            service_id: k.service_id.clone(),
            key_id: k.id.clone(),
        })
    }
}
