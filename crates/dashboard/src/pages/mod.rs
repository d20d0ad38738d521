//! The dashboard's pages. Each handler authenticates through [`crate::web::Authed`], checks CSRF on
//! forms, calls app functions (the same ones the Account API calls) and renders a template.

pub mod agents;
pub mod checkout;
pub mod money;
pub mod overview;
pub mod policies;
pub mod reports;

use std::collections::BTreeMap;

use agent_store_app::pagination::PageRequest;
use agent_store_app::purchases::PurchaseView;
use agent_store_app::{App, Principal};

use crate::fmt;

/// Agent names by id (for showing names instead of ids).
pub async fn agent_names(app: &App, principal: &Principal) -> BTreeMap<String, String> {
    app.list_agents(principal, &PageRequest::first(100))
        .await
        .map(|page| page.items.into_iter().map(|a| (a.id, a.name)).collect())
        .unwrap_or_default()
}

/// A purchase as a table row.
#[derive(Debug, Clone)]
pub struct PurchaseRow {
    pub id: String,
    pub name: String,
    pub agent: String,
    pub status: String,
    pub status_label: String,
    pub amount: String,
    pub created: String,
    pub note: Option<String>,
    pub reasons: Vec<String>,
}

impl PurchaseRow {
    pub fn new(p: &PurchaseView, names: &BTreeMap<String, String>) -> Self {
        let agent = match &p.agent_id {
            Some(id) => names.get(id).cloned().unwrap_or_else(|| id.clone()),
            None => "You (account)".to_owned(),
        };
        let reasons = p
            .approval
            .reasons
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|r| {
                        r.get("message")
                            .and_then(|m| m.as_str())
                            .map(str::to_owned)
                            .unwrap_or_else(|| r.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            id: p.id.clone(),
            name: p.display_name.clone(),
            agent,
            status: p.status.clone(),
            status_label: fmt::label(&p.status),
            amount: fmt::usd(p.total_price_minor),
            created: fmt::when(&p.created_at),
            note: p.note.clone(),
            reasons,
        }
    }
}
