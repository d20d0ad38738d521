//! Services and their details, router usage per model and per key (with a cost chart), audit log.

use agent_store_app::App;
use agent_store_app::pagination::PageRequest;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::agent_names;
use crate::chart::{self, Bar};
use crate::fmt;
use crate::web::{Authed, Chrome, error_page, render};

#[derive(Debug, Clone)]
pub struct ServiceRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub status_label: String,
    pub agent: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "services.html")]
struct ServicesPage {
    c: Chrome,
    services: Vec<ServiceRow>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CursorQuery {
    cursor: Option<String>,
}

fn agent_label(names: &std::collections::BTreeMap<String, String>, id: Option<&String>) -> String {
    match id {
        Some(id) => names.get(id).cloned().unwrap_or_else(|| id.clone()),
        None => "You (account)".to_owned(),
    }
}

/// `GET /dashboard/services`.
pub async fn services(
    State(app): State<App>,
    authed: Authed,
    Query(q): Query<CursorQuery>,
) -> Response {
    let p = &authed.principal;
    let page = PageRequest::parse(Some("50"), q.cursor.as_deref(), "svc_")
        .unwrap_or_else(|_| PageRequest::first(50));
    let list = match app.list_services(p, None, None, None, &page).await {
        Ok(list) => list,
        Err(err) => return error_page(&err),
    };
    let names = agent_names(&app, p).await;
    let services = list
        .items
        .iter()
        .map(|s| ServiceRow {
            id: s.id.clone(),
            name: s.display_name.clone(),
            kind: fmt::label(&s.service_type),
            status: s.status.clone(),
            status_label: fmt::label(&s.status),
            agent: agent_label(&names, s.agent_id.as_ref()),
            created: fmt::when(&s.created_at),
        })
        .collect();
    let page = ServicesPage {
        c: Chrome::new(&app, &authed, "services", "Services").await,
        services,
        next_cursor: list.next_cursor,
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "service.html")]
struct ServicePage {
    c: Chrome,
    s: ServiceRow,
    purchase_id: String,
    catalog_item_id: String,
    details: Vec<(String, String)>,
    capabilities: Vec<String>,
    configuration: String,
    renews: String,
}

fn show_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".to_owned(),
        serde_json::Value::Array(items) => {
            items.iter().map(show_value).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// `GET /dashboard/services/{id}`.
pub async fn service(State(app): State<App>, authed: Authed, Path(id): Path<String>) -> Response {
    let p = &authed.principal;
    let s = match app.get_service(p, &id).await {
        Ok(s) => s,
        Err(err) => return error_page(&err),
    };
    let names = agent_names(&app, p).await;
    let details = s
        .details
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), show_value(v))).collect())
        .unwrap_or_default();
    let page = ServicePage {
        c: Chrome::new(
            &app,
            &authed,
            "services",
            &format!("Service: {}", s.display_name),
        )
        .await,
        s: ServiceRow {
            id: s.id.clone(),
            name: s.display_name.clone(),
            kind: fmt::label(&s.service_type),
            status: s.status.clone(),
            status_label: fmt::label(&s.status),
            agent: agent_label(&names, s.agent_id.as_ref()),
            created: fmt::when(&s.created_at),
        },
        purchase_id: s.purchase_id.clone(),
        catalog_item_id: s.catalog_item_id.clone(),
        details,
        capabilities: s.management_capabilities.clone(),
        configuration: serde_json::to_string_pretty(&s.configuration).unwrap_or_default(),
        renews: fmt::when_opt(s.renews_at.as_deref()),
    };
    render(StatusCode::OK, &page)
}

#[derive(Debug, Clone)]
pub struct UsageRow {
    pub group: String,
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost: String,
}

#[derive(Template)]
#[template(path = "usage.html")]
struct UsagePage {
    c: Chrome,
    by_model: Vec<UsageRow>,
    by_key: Vec<UsageRow>,
    chart: String,
}

/// `GET /dashboard/usage`: router usage of every router service, per model and per router key.
pub async fn usage(State(app): State<App>, authed: Authed) -> Response {
    let usage = match app.account_router_usage(&authed.principal).await {
        Ok(u) => u,
        Err(err) => return error_page(&err),
    };
    let row = |l: &agent_store_app::reports::UsageLine| UsageRow {
        group: l.group.clone(),
        requests: l.requests,
        prompt_tokens: l.prompt_tokens,
        completion_tokens: l.completion_tokens,
        cost: fmt::micro_usd(l.cost_micro_usd),
    };
    let bars: Vec<Bar> = usage
        .by_model
        .iter()
        .map(|l| Bar {
            label: l.group.clone(),
            value: l.cost_micro_usd,
        })
        .collect();
    let page = UsagePage {
        c: Chrome::new(&app, &authed, "usage", "Router usage").await,
        by_model: usage.by_model.iter().map(row).collect(),
        by_key: usage.by_key.iter().map(row).collect(),
        chart: chart::horizontal_bars("Router cost per model", &bars),
    };
    render(StatusCode::OK, &page)
}

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub when: String,
    pub actor: String,
    pub credential: String,
    pub action: String,
    pub object: String,
    pub change: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    events: Vec<AuditRow>,
    next_cursor: Option<String>,
}

/// `GET /dashboard/audit`.
pub async fn audit(
    State(app): State<App>,
    authed: Authed,
    Query(q): Query<CursorQuery>,
) -> Response {
    let p = &authed.principal;
    let page = PageRequest::parse(Some("50"), q.cursor.as_deref(), "evt_")
        .unwrap_or_else(|_| PageRequest::first(50));
    let list = match app.list_audit_events(p, None, None, &page).await {
        Ok(list) => list,
        Err(err) => return error_page(&err),
    };
    let names = agent_names(&app, p).await;
    let events = list
        .items
        .iter()
        .map(|e| AuditRow {
            when: fmt::when(&e.created_at),
            actor: match e.actor_type.as_str() {
                "agent" => format!(
                    "Agent {}",
                    names
                        .get(&e.actor_id)
                        .cloned()
                        .unwrap_or_else(|| e.actor_id.clone())
                ),
                "account" => "You".to_owned(),
                other => fmt::label(other),
            },
            credential: e.credential_id.clone().unwrap_or_else(|| "—".to_owned()),
            action: e.action.clone(),
            object: format!("{} {}", e.object_type, e.object_id),
            change: match (&e.before_status, &e.after_status) {
                (Some(b), Some(a)) => format!("{b} → {a}"),
                (None, Some(a)) => a.clone(),
                _ => String::new(),
            },
        })
        .collect();
    let page = AuditPage {
        c: Chrome::new(&app, &authed, "audit", "Audit log").await,
        events,
        next_cursor: list.next_cursor,
    };
    render(StatusCode::OK, &page)
}
