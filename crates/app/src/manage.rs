//! The gate every management action of SPEC section 9 passes before it touches a service, and the
//! audit record it leaves behind. Keeping the checks in one place keeps their order (and so the error a
//! client sees) the same for every action on every transport:
//!
//! 1. the service exists and belongs to the actor (an agent sees only its own): else 404 `not_found`;
//! 2. it is of the action's service type: else 400 `validation_failed` naming `serviceId`;
//! 3. the capability is one of the service's `managementCapabilities`: else 403 `capability_not_allowed`;
//! 4. every policy layer's `allowedActions` admits it: else 403 `capability_not_allowed`;
//! 5. the service is in a state the action accepts ([`ServiceState`]): else 409 `invalid_state`.

use agent_store_core::policy;
use agent_store_store::AnyConnection;
use agent_store_store::services::{self, Service};
use serde_json::{Value, json};

use crate::audit::{self, Change};
use crate::{App, AppError, AppResult, Principal};

/// The service states an action accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    /// Changes: only an `active` service (SPEC section 9).
    Active,
    /// Changes that bring a service back, e.g. a top-up of a number suspended at zero balance.
    ActiveOrSuspended,
    /// Reads: any state except `provisioning` and `failed` (nothing exists at the provider yet).
    Provisioned,
    /// Reads of what this store itself holds (router keys, usage): any state.
    Any,
}

impl ServiceState {
    fn accepts(self, status: &str) -> bool {
        match self {
            Self::Active => status == "active",
            Self::ActiveOrSuspended => matches!(status, "active" | "suspended"),
            Self::Provisioned => !matches!(status, "provisioning" | "failed"),
            Self::Any => true,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Active => "an active service",
            Self::ActiveOrSuspended => "an active or suspended service",
            Self::Provisioned => "a provisioned service",
            Self::Any => "a service",
        }
    }
}

/// What a management action is: the service type it applies to, its capability string and the
/// states it accepts.
#[derive(Debug, Clone, Copy)]
pub struct Action {
    pub service_type: &'static str,
    pub capability: &'static str,
    pub state: ServiceState,
}

impl Action {
    pub const fn new(
        service_type: &'static str,
        capability: &'static str,
        state: ServiceState,
    ) -> Self {
        Self {
            service_type,
            capability,
            state,
        }
    }
}

impl App {
    /// Load `service_id` for `action` on behalf of `principal`, applying the checks in the module
    /// docs in order. Pass the transaction that will make the change so the state read is the one
    /// the change is based on.
    pub async fn managed_service(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        service_id: &str,
        action: Action,
    ) -> AppResult<Service> {
        let service = services::get(
            &mut *conn,
            principal.account_id(),
            principal.agent_id(),
            service_id,
        )
        .await?
        .ok_or(AppError::NotFound("service"))?;
        if service.service_type != action.service_type {
            return Err(AppError::invalid_field(
                "serviceId",
                &format!(
                    "is a {} service; this action needs a {} service",
                    service.service_type, action.service_type
                ),
            ));
        }
        let capabilities: Vec<String> =
            serde_json::from_str(&service.capabilities).unwrap_or_default();
        if !capabilities.iter().any(|c| c == action.capability) {
            return Err(AppError::CapabilityNotAllowed(format!(
                "this service does not support {}",
                action.capability
            )));
        }
        let layers = self.layers_for(&mut *conn, principal).await?;
        policy::check_action(&layers, action.capability)
            .map_err(|refused| AppError::CapabilityNotAllowed(refused.to_string()))?;
        if !action.state.accepts(&service.status) {
            return Err(AppError::Conflict(format!(
                "the service is {}; {} needs {}",
                service.status,
                action.capability,
                action.state.describe()
            )));
        }
        Ok(service)
    }

    /// Record a management action as an audit event (`service.<capability>`), in the transaction
    /// that made the change.
    pub async fn record_service_action(
        &self,
        conn: &mut AnyConnection,
        principal: &Principal,
        service: &Service,
        action: Action,
        details: Value,
    ) -> AppResult<()> {
        let name = format!("service.{}", action.capability);
        let mut details = details;
        if let Some(obj) = details.as_object_mut() {
            obj.insert("serviceType".to_owned(), json!(service.service_type));
        }
        let change = Change {
            action: &name,
            object_type: "service",
            object_id: &service.id,
            before: None,
            after: None,
            details,
        };
        audit::record(&mut *conn, principal.account_id(), Some(principal), &change).await
    }
}
