//! Policy editor: the account layer and each agent's layer, each beside the effective policy that
//! results (every layer merged, with the layer that decided each value).

use agent_store_app::policies::{EffectivePolicyView, LayerRef};
use agent_store_app::{App, AppError, Principal};
use agent_store_core::catalog::CATEGORIES;
use agent_store_core::policy::Policy;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use crate::fmt;
use crate::web::{
    Authed, Chrome, FieldMap, check_csrf, error_page, field_errors, render, see_other,
};

/// The form's values as typed.
#[derive(Debug, Clone, Default)]
pub struct Values {
    pub max_purchase: String,
    pub daily_limit: String,
    pub monthly_limit: String,
    pub approval_above: String,
    pub per_hour: String,
    pub blocked: Vec<String>,
    pub approval_categories: Vec<String>,
}

impl Values {
    fn from_policy(p: &Policy) -> Self {
        let dollars = |v: Option<i64>| {
            v.map(|m| fmt::usd(m).trim_start_matches('$').replace(',', ""))
                .unwrap_or_default()
        };
        Self {
            max_purchase: dollars(p.max_purchase_minor),
            daily_limit: dollars(p.daily_spend_limit_minor),
            monthly_limit: dollars(p.monthly_spend_limit_minor),
            approval_above: dollars(p.approval_required_above_minor),
            per_hour: p
                .max_purchases_per_hour
                .map(|n| n.to_string())
                .unwrap_or_default(),
            blocked: p.blocked_categories.clone(),
            approval_categories: p.approval_required_categories.clone(),
        }
    }
}

/// A category checkbox.
#[derive(Debug, Clone)]
pub struct CategoryBox {
    pub id: &'static str,
    pub name: &'static str,
    pub blocked: bool,
    pub approval: bool,
}

/// One line of the effective policy.
#[derive(Debug, Clone)]
pub struct EffectiveLine {
    pub label: &'static str,
    pub value: String,
    pub source: String,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    c: Chrome,
    action: String,
    layer_name: String,
    agents: Vec<(String, String, bool)>,
    is_agent: bool,
    v: Values,
    categories: Vec<CategoryBox>,
    errors: FieldMap,
    effective: Vec<EffectiveLine>,
    spent_today: String,
    spent_month: String,
}

const MONEY_FIELDS: [(&str, &str); 4] = [
    ("maxPurchaseMinor", "Largest single purchase"),
    ("dailySpendLimitMinor", "Daily spend limit"),
    ("monthlySpendLimitMinor", "Monthly spend limit"),
    ("approvalRequiredAboveMinor", "Needs approval above"),
];

fn effective_lines(view: &EffectivePolicyView) -> Vec<EffectiveLine> {
    let source = |field: &str| {
        view.sources
            .get(field)
            .and_then(|s| s.as_str())
            .map_or_else(|| "—".to_owned(), |s| format!("{} layer", fmt::label(s)))
    };
    let mut lines: Vec<EffectiveLine> = MONEY_FIELDS
        .iter()
        .map(|&(field, label)| EffectiveLine {
            label,
            value: view
                .policy
                .get(field)
                .and_then(serde_json::Value::as_i64)
                .map_or_else(|| "No limit".to_owned(), fmt::usd),
            source: source(field),
        })
        .collect();
    lines.push(EffectiveLine {
        label: "Purchases per hour",
        value: view
            .policy
            .get("maxPurchasesPerHour")
            .and_then(serde_json::Value::as_i64)
            .map_or_else(|| "No limit".to_owned(), |n| n.to_string()),
        source: source("maxPurchasesPerHour"),
    });
    let list = |field: &str, empty: &str| {
        let items: Vec<String> = view
            .policy
            .get(field)
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .map(fmt::label)
                    .collect()
            })
            .unwrap_or_default();
        if items.is_empty() {
            empty.to_owned()
        } else {
            items.join(", ")
        }
    };
    lines.push(EffectiveLine {
        label: "Blocked categories",
        value: list("blockedCategories", "None"),
        source: source("blockedCategories"),
    });
    lines.push(EffectiveLine {
        label: "Always need approval",
        value: list("approvalRequiredCategories", "None"),
        source: source("approvalRequiredCategories"),
    });
    lines
}

/// Which layer a page edits.
enum Target {
    Account,
    Agent(String),
}

async fn page(
    app: &App,
    authed: &Authed,
    target: &Target,
    form: Option<(Values, FieldMap)>,
    notice: Option<&str>,
) -> Response {
    let p = &authed.principal;
    let (layer, subject, action, layer_name) = match target {
        Target::Account => (
            LayerRef::Account,
            p.clone(),
            "/dashboard/policies".to_owned(),
            "Account layer: applies to every agent and to your own purchases".to_owned(),
        ),
        Target::Agent(agent_id) => {
            let agent = match app.get_agent(p, agent_id).await {
                Ok(a) => a,
                Err(err) => return error_page(&err),
            };
            (
                LayerRef::Agent {
                    agent_id: agent_id.clone(),
                },
                // The agent's view (without a key layer): what its purchases meet.
                Principal::Agent {
                    account_id: p.account_id().to_owned(),
                    agent_id: agent_id.clone(),
                    key_id: String::new(),
                },
                format!("/dashboard/agents/{agent_id}/policy"),
                format!(
                    "Agent layer of {}: applies on top of the account layer",
                    agent.name
                ),
            )
        }
    };
    let stored = match app.get_policy_layer(p, &layer).await {
        Ok(s) => s,
        Err(err) => return error_page(&err),
    };
    let effective = match app.effective_policy(&subject).await {
        Ok(e) => e,
        Err(err) => return error_page(&err),
    };
    let agents = app
        .list_agents(p, &agent_store_app::pagination::PageRequest::first(100))
        .await
        .map(|page| page.items)
        .unwrap_or_default();
    let current_agent = match target {
        Target::Agent(id) => Some(id.as_str()),
        Target::Account => None,
    };
    let (status, (v, errors)) = match form {
        Some(f) => (StatusCode::UNPROCESSABLE_ENTITY, f),
        None => (
            StatusCode::OK,
            (Values::from_policy(&stored), FieldMap::new()),
        ),
    };
    let categories = CATEGORIES
        .iter()
        .map(|&(id, name)| CategoryBox {
            id,
            name,
            blocked: v.blocked.iter().any(|b| b == id),
            approval: v.approval_categories.iter().any(|b| b == id),
        })
        .collect();
    let usage = &effective.usage;
    let money = |field: &str| {
        fmt::usd(
            usage
                .get(field)
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0),
        )
    };
    let page = PolicyPage {
        c: Chrome::new(app, authed, "policies", "Policies")
            .await
            .with_notice(notice),
        action,
        layer_name,
        agents: agents
            .iter()
            .map(|a| {
                (
                    a.id.clone(),
                    a.name.clone(),
                    current_agent == Some(a.id.as_str()),
                )
            })
            .collect(),
        is_agent: current_agent.is_some(),
        v,
        categories,
        errors,
        effective: effective_lines(&effective),
        spent_today: money("spentTodayMinor"),
        spent_month: money("spentThisMonthMinor"),
    };
    render(status, &page)
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// `GET /dashboard/policies`.
pub async fn account(
    State(app): State<App>,
    authed: Authed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    page(&app, &authed, &Target::Account, None, q.notice.as_deref()).await
}

/// `GET /dashboard/agents/{id}/policy`.
pub async fn agent(
    State(app): State<App>,
    authed: Authed,
    Path(agent_id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Response {
    page(
        &app,
        &authed,
        &Target::Agent(agent_id),
        None,
        q.notice.as_deref(),
    )
    .await
}

/// Read the form into `base` (the stored layer, so fields the form does not show are kept).
fn parse_form(pairs: &[(String, String)], mut base: Policy) -> (Values, FieldMap, Policy) {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let all = |name: &str| -> Vec<String> {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| CATEGORIES.iter().any(|(id, _)| id == v))
            .collect()
    };
    let v = Values {
        max_purchase: get("max_purchase"),
        daily_limit: get("daily_limit"),
        monthly_limit: get("monthly_limit"),
        approval_above: get("approval_above"),
        per_hour: get("per_hour"),
        blocked: all("blocked"),
        approval_categories: all("approval_categories"),
    };
    let mut errors = FieldMap::new();
    let mut money = |field: &str, text: &str| match fmt::parse_usd(text) {
        Ok(value) => value,
        Err(e) => {
            errors.insert(field.to_owned(), format!("The amount {e}."));
            None
        }
    };
    base.max_purchase_minor = money("max_purchase", &v.max_purchase);
    base.daily_spend_limit_minor = money("daily_limit", &v.daily_limit);
    base.monthly_spend_limit_minor = money("monthly_limit", &v.monthly_limit);
    base.approval_required_above_minor = money("approval_above", &v.approval_above);
    base.max_purchases_per_hour = match v.per_hour.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                errors.insert(
                    "per_hour".to_owned(),
                    "Enter a whole number such as 10, or leave it empty.".to_owned(),
                );
                None
            }
        },
    };
    base.blocked_categories = v.blocked.clone();
    base.approval_required_categories = v.approval_categories.clone();
    (v, errors, base)
}

const FORM_FIELDS: [&str; 7] = [
    "max_purchase",
    "daily_limit",
    "monthly_limit",
    "approval_above",
    "per_hour",
    "blocked",
    "approval_categories",
];

/// Map the app's field names (`dailySpendLimitMinor`) to the form's.
fn form_field(api_field: &str) -> String {
    match api_field {
        "maxPurchaseMinor" => "max_purchase",
        "dailySpendLimitMinor" => "daily_limit",
        "monthlySpendLimitMinor" => "monthly_limit",
        "approvalRequiredAboveMinor" => "approval_above",
        "maxPurchasesPerHour" => "per_hour",
        "blockedCategories" => "blocked",
        "approvalRequiredCategories" => "approval_categories",
        other => return other.to_owned(),
    }
    .to_owned()
}

async fn save(
    app: &App,
    authed: &Authed,
    headers: &HeaderMap,
    target: Target,
    pairs: Vec<(String, String)>,
) -> Response {
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    if let Err(refused) = check_csrf(authed, headers, csrf) {
        return refused;
    }
    let layer = match &target {
        Target::Account => LayerRef::Account,
        Target::Agent(agent_id) => LayerRef::Agent {
            agent_id: agent_id.clone(),
        },
    };
    let base = match app.get_policy_layer(&authed.principal, &layer).await {
        Ok(p) => p,
        Err(err) => return error_page(&err),
    };
    let (values, mut errors, policy) = parse_form(&pairs, base);
    if errors.is_empty() {
        match app
            .put_policy_layer(&authed.principal, &layer, policy)
            .await
        {
            Ok(_) => {
                let back = match &target {
                    Target::Account => "/dashboard/policies".to_owned(),
                    Target::Agent(id) => format!("/dashboard/agents/{id}/policy"),
                };
                return see_other(&back, "policy_saved");
            }
            Err(err @ AppError::Validation { .. }) => {
                for (field, message) in field_errors(&err) {
                    let name = form_field(&field);
                    if FORM_FIELDS.contains(&name.as_str()) {
                        errors.insert(name, message);
                    } else {
                        // A field this form does not show (set through the API): say which.
                        errors.insert("_form".to_owned(), format!("{field} {message}"));
                    }
                }
            }
            Err(err) => return error_page(&err),
        }
    }
    page(app, authed, &target, Some((values, errors)), None).await
}

/// `POST /dashboard/policies`.
pub async fn save_account(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    save(&app, &authed, &headers, Target::Account, pairs).await
}

/// `POST /dashboard/agents/{id}/policy`.
pub async fn save_agent(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Path(agent_id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    save(&app, &authed, &headers, Target::Agent(agent_id), pairs).await
}
