//! Recording audit events for every state change, and reading them back for the account.

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::time::{format_rfc3339, now_ms};
use agent_store_store::audit::{self, AuditEvent};
use agent_store_store::{Any, Executor};
use serde::Serialize;
use serde_json::Value;

use crate::pagination::{Page, PageRequest};
use crate::{App, AppResult, Principal};

/// What happened, to which object.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub details: Value,
}

/// Build the event row for `actor` (None: the system, e.g. the jobs worker).
pub fn event(account_id: &str, actor: Option<&Principal>, change: &Change<'_>) -> AuditEvent {
    let (actor_type, actor_id, credential_id) = match actor {
        Some(Principal::Agent {
            agent_id, key_id, ..
        }) => ("agent", agent_id.clone(), Some(key_id.clone())),
        Some(Principal::Account {
            account_id,
            credential_id,
        }) => ("account", account_id.clone(), Some(credential_id.clone())),
        None => ("system", "system".to_owned(), None),
    };
    AuditEvent {
        id: new_id(IdKind::Event),
        account_id: account_id.to_owned(),
        actor_type: actor_type.to_owned(),
        actor_id,
        credential_id,
        action: change.action.to_owned(),
        object_type: change.object_type.to_owned(),
        object_id: change.object_id.to_owned(),
        before_status: change.before.map(str::to_owned),
        after_status: change.after.map(str::to_owned),
        details: change.details.to_string(),
        request_id: crate::request_context::current_request_id(),
        created_at: now_ms(),
    }
}

/// Record an event through any executor (a pool, or the transaction that made the change).
pub async fn record<'c, E: Executor<'c, Database = Any>>(
    ex: E,
    account_id: &str,
    actor: Option<&Principal>,
    change: &Change<'_>,
) -> AppResult<()> {
    audit::insert(ex, &event(account_id, actor, change)).await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEventView {
    pub id: String,
    pub actor_type: String,
    pub actor_id: String,
    /// The key or token id used (never a secret).
    pub credential_id: Option<String>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub before_status: Option<String>,
    pub after_status: Option<String>,
    #[schema(value_type = Object)]
    pub details: Value,
    pub request_id: Option<String>,
    pub created_at: String,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        Self {
            id: e.id,
            actor_type: e.actor_type,
            actor_id: e.actor_id,
            credential_id: e.credential_id,
            action: e.action,
            object_type: e.object_type,
            object_id: e.object_id,
            before_status: e.before_status,
            after_status: e.after_status,
            details: serde_json::from_str(&e.details).unwrap_or(Value::Null),
            request_id: e.request_id,
            created_at: format_rfc3339(e.created_at),
        }
    }
}

impl App {
    /// The account's audit log, newest first, optionally for one object or action.
    pub async fn list_audit_events(
        &self,
        principal: &Principal,
        object_id: Option<&str>,
        action: Option<&str>,
        page: &PageRequest,
    ) -> AppResult<Page<AuditEventView>> {
        let account_id = crate::identity::require_account(principal)?;
        let filter = audit::ListFilter { object_id, action };
        let rows = audit::list(
            self.store().pool(),
            account_id,
            &filter,
            page.cursor.as_deref(),
            page.fetch_limit(),
        )
        .await?;
        Ok(Page::from_rows(
            rows,
            page,
            |e| e.id.clone(),
            AuditEventView::from,
        ))
    }
}
