//! Wallet (funding, transactions), the approvals queue with approve/reject, purchases with filters
//! and their detail.

use std::collections::BTreeMap;

use agent_store_app::App;
use agent_store_app::idempotency::{Keyed, fingerprint};
use agent_store_app::pagination::PageRequest;
use agent_store_app::purchases::{PURCHASE_STATUSES, PurchaseFilter};
use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::time::parse_rfc3339;
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{PurchaseRow, agent_names};
use crate::fmt;
use crate::web::{
    Authed, Chrome, FieldMap, check_csrf, error_page, field_errors, render, see_other,
};

#[derive(Debug, Clone)]
pub struct TxnRow {
    pub kind: String,
    pub description: String,
    pub amount: String,
    pub held_change: String,
    pub available_after: String,
    pub created: String,
    pub purchase_id: Option<String>,
}

#[derive(Template)]
#[template(path = "wallet.html")]
struct WalletPage {
    c: Chrome,
    balance: String,
    held: String,
    available: String,
    txns: Vec<TxnRow>,
    next_cursor: Option<String>,
    amount: String,
    errors: FieldMap,
    idempotency_key: String,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    notice: Option<String>,
    cursor: Option<String>,
}

async fn wallet_page(
    app: &App,
    authed: &Authed,
    cursor: Option<&str>,
    notice: Option<&str>,
    amount: String,
    errors: FieldMap,
    status: StatusCode,
) -> Response {
    let p = &authed.principal;
    let page = match PageRequest::parse(Some("25"), cursor, "txn_") {
        Ok(page) => page,
        Err(err) => return error_page(&err),
    };
    let (wallet, txns) = match (app.wallet(p).await, app.wallet_transactions(p, &page).await) {
        (Ok(w), Ok(t)) => (w, t),
        (Err(err), _) | (_, Err(err)) => return error_page(&err),
    };
    let rows = txns
        .items
        .iter()
        .map(|t| TxnRow {
            kind: fmt::label(&t.kind),
            description: t.description.clone(),
            amount: fmt::usd(t.amount_minor),
            held_change: if t.held_change_minor == 0 {
                String::new()
            } else {
                fmt::usd(t.held_change_minor)
            },
            available_after: fmt::usd(t.balance_after_minor),
            created: fmt::when(&t.created_at),
            purchase_id: t.purchase_id.clone(),
        })
        .collect();
    let page = WalletPage {
        c: Chrome::new(app, authed, "wallet", "Wallet")
            .await
            .with_notice(notice),
        balance: fmt::usd(wallet.balance_minor),
        held: fmt::usd(wallet.held_minor),
        available: fmt::usd(wallet.available_minor),
        txns: rows,
        next_cursor: txns.next_cursor,
        amount,
        errors,
        idempotency_key: new_id(IdKind::Event),
    };
    render(status, &page)
}

/// `GET /dashboard/wallet`.
pub async fn wallet(
    State(app): State<App>,
    authed: Authed,
    Query(q): Query<ListQuery>,
) -> Response {
    wallet_page(
        &app,
        &authed,
        q.cursor.as_deref(),
        q.notice.as_deref(),
        String::new(),
        FieldMap::new(),
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct FundForm {
    csrf: Option<String>,
    amount: Option<String>,
    idempotency_key: Option<String>,
}

/// `POST /dashboard/wallet/fund`: add sandbox money (the same app call as `POST /wallet/fundings`).
pub async fn fund(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<FundForm>,
) -> Response {
    if let Err(refused) = check_csrf(&authed, &headers, form.csrf.as_deref()) {
        return refused;
    }
    let text = form.amount.unwrap_or_default();
    let mut errors = FieldMap::new();
    let amount = match fmt::parse_usd(&text) {
        Ok(Some(a)) if a > 0 => Some(a),
        Ok(_) => {
            errors.insert(
                "amount".to_owned(),
                "Enter an amount greater than zero.".to_owned(),
            );
            None
        }
        Err(e) => {
            errors.insert("amount".to_owned(), format!("The amount {e}."));
            None
        }
    };
    let key = form
        .idempotency_key
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| new_id(IdKind::Event));
    if let Some(amount) = amount {
        let keyed = Keyed {
            key,
            request_hash: fingerprint(
                "POST",
                "/v1/account/wallet/fundings",
                &json!({"amountMinor": amount}),
            ),
        };
        match app.fund_wallet(&authed.principal, amount, &keyed).await {
            Ok(_) => return see_other("/dashboard/wallet", "funded"),
            Err(err) => {
                for (field, message) in field_errors(&err) {
                    let field = if field == "amountMinor" {
                        "amount".to_owned()
                    } else {
                        field
                    };
                    errors.insert(field, message);
                }
            }
        }
    }
    wallet_page(
        &app,
        &authed,
        None,
        None,
        text,
        errors,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    c: Chrome,
    items: Vec<PurchaseRow>,
}

/// `GET /dashboard/approvals`.
pub async fn approvals(
    State(app): State<App>,
    authed: Authed,
    Query(q): Query<ListQuery>,
) -> Response {
    let p = &authed.principal;
    let list = match app.list_approvals(p, &PageRequest::first(100)).await {
        Ok(list) => list,
        Err(err) => return error_page(&err),
    };
    let names = agent_names(&app, p).await;
    let page = ApprovalsPage {
        c: Chrome::new(&app, &authed, "approvals", "Approvals")
            .await
            .with_notice(q.notice.as_deref()),
        items: list
            .items
            .iter()
            .map(|x| PurchaseRow::new(x, &names))
            .collect(),
    };
    render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "decided.html")]
struct Decided {
    p: PurchaseRow,
    verb: &'static str,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    csrf: Option<String>,
    reason: Option<String>,
}

async fn decide(
    app: &App,
    authed: &Authed,
    headers: &HeaderMap,
    purchase_id: &str,
    form: DecisionForm,
    approve: bool,
) -> Response {
    if let Err(refused) = check_csrf(authed, headers, form.csrf.as_deref()) {
        return refused;
    }
    let reason = form
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    let result = if approve {
        app.approve_purchase(&authed.principal, purchase_id, None)
            .await
    } else {
        app.reject_purchase(&authed.principal, purchase_id, reason.as_deref(), None)
            .await
    };
    if let Err(err) = result {
        return error_page(&err);
    }
    if headers.contains_key("hx-request") {
        let names = agent_names(app, &authed.principal).await;
        return match app.get_purchase(&authed.principal, purchase_id).await {
            Ok(p) => render(
                StatusCode::OK,
                &Decided {
                    p: PurchaseRow::new(&p, &names),
                    verb: if approve { "Approved" } else { "Rejected" },
                    reason,
                },
            ),
            Err(err) => error_page(&err),
        };
    }
    see_other(
        "/dashboard/approvals",
        if approve { "approved" } else { "rejected" },
    )
}

/// `POST /dashboard/purchases/{id}/approve`.
pub async fn approve(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    decide(&app, &authed, &headers, &id, form, true).await
}

/// `POST /dashboard/purchases/{id}/reject`.
pub async fn reject(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    decide(&app, &authed, &headers, &id, form, false).await
}

#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "purchases.html")]
struct PurchasesPage {
    c: Chrome,
    recent: Vec<PurchaseRow>,
    agents: Vec<Choice>,
    statuses: Vec<Choice>,
    from: String,
    to: String,
    errors: FieldMap,
    next_href: Option<String>,
    filtered: bool,
}

#[derive(Debug, Deserialize)]
pub struct PurchaseQuery {
    agent: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
}

fn parse_day(errors: &mut FieldMap, field: &str, text: Option<&str>, end: bool) -> Option<i64> {
    let text = text.map(str::trim).filter(|t| !t.is_empty())?;
    match parse_rfc3339(&format!("{text}T00:00:00Z")) {
        Some(ms) => Some(if end { ms + 86_400_000 } else { ms }),
        None => {
            errors.insert(field.to_owned(), "Enter a date as YYYY-MM-DD.".to_owned());
            None
        }
    }
}

/// `GET /dashboard/purchases?agent=&status=&from=&to=`.
pub async fn purchases(
    State(app): State<App>,
    authed: Authed,
    Query(q): Query<PurchaseQuery>,
) -> Response {
    let p = &authed.principal;
    let names = agent_names(&app, p).await;
    let mut errors = FieldMap::new();
    let agent = q.agent.clone().filter(|a| !a.is_empty());
    if agent.as_ref().is_some_and(|a| !names.contains_key(a)) {
        errors.insert("agent".to_owned(), "Choose one of your agents.".to_owned());
    }
    let status = q.status.clone().filter(|s| !s.is_empty());
    if status
        .as_deref()
        .is_some_and(|s| !PURCHASE_STATUSES.contains(&s))
    {
        errors.insert(
            "status".to_owned(),
            "Choose a status from the list.".to_owned(),
        );
    }
    let from = parse_day(&mut errors, "from", q.from.as_deref(), false);
    let to = parse_day(&mut errors, "to", q.to.as_deref(), true);
    if let (Some(f), Some(t)) = (from, to)
        && f >= t
    {
        errors.insert(
            "to".to_owned(),
            "Must be on or after the From date.".to_owned(),
        );
    }
    let (items, next_cursor) = if errors.is_empty() {
        let filter = PurchaseFilter {
            status: status.clone(),
            agent_id: agent.clone(),
            created_from: from,
            created_to: to,
        };
        let page = PageRequest::parse(Some("25"), q.cursor.as_deref(), "pur_")
            .unwrap_or_else(|_| PageRequest::first(25));
        match app.list_purchases(p, &filter, &page).await {
            Ok(list) => (list.items, list.next_cursor),
            Err(err) => {
                errors.extend(field_errors(&err));
                (Vec::new(), None)
            }
        }
    } else {
        (Vec::new(), None)
    };
    let query_base = format!(
        "agent={}&status={}&from={}&to={}",
        agent.as_deref().unwrap_or_default(),
        status.as_deref().unwrap_or_default(),
        q.from.as_deref().map(str::trim).unwrap_or_default(),
        q.to.as_deref().map(str::trim).unwrap_or_default()
    );
    let filtered = agent.is_some() || status.is_some() || from.is_some() || to.is_some();
    let mut agent_choices = vec![Choice {
        value: String::new(),
        label: "All agents".to_owned(),
        selected: agent.is_none(),
    }];
    agent_choices.extend(names.iter().map(|(id, name)| Choice {
        value: id.clone(),
        label: name.clone(),
        selected: agent.as_deref() == Some(id.as_str()),
    }));
    let mut status_choices = vec![Choice {
        value: String::new(),
        label: "Any status".to_owned(),
        selected: status.is_none(),
    }];
    status_choices.extend(PURCHASE_STATUSES.iter().map(|s| Choice {
        value: (*s).to_owned(),
        label: fmt::label(s),
        selected: status.as_deref() == Some(*s),
    }));
    let has_errors = !errors.is_empty();
    let page = PurchasesPage {
        c: Chrome::new(&app, &authed, "purchases", "Purchases").await,
        recent: items.iter().map(|x| PurchaseRow::new(x, &names)).collect(),
        agents: agent_choices,
        statuses: status_choices,
        from: q.from.unwrap_or_default(),
        to: q.to.unwrap_or_default(),
        errors,
        // Only ids and dates we validated go into the link; the cursor is a purchase id.
        next_href: next_cursor.map(|c| format!("/dashboard/purchases?{query_base}&cursor={c}")),
        filtered,
    };
    let status = if has_errors {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &page)
}

#[derive(Template)]
#[template(path = "purchase.html")]
struct PurchasePage {
    c: Chrome,
    p: PurchaseRow,
    catalog_item_id: String,
    quantity: i64,
    configuration: String,
    approval_status: String,
    decided: String,
    decided_by: String,
    decision_reason: Option<String>,
    failure_reason: Option<String>,
    services: Vec<String>,
    idempotency_key: String,
    updated: String,
}

/// `GET /dashboard/purchases/{id}`.
pub async fn purchase(State(app): State<App>, authed: Authed, Path(id): Path<String>) -> Response {
    let p = &authed.principal;
    let view = match app.get_purchase(p, &id).await {
        Ok(v) => v,
        Err(err) => return error_page(&err),
    };
    let names: BTreeMap<String, String> = agent_names(&app, p).await;
    let page = PurchasePage {
        c: Chrome::new(
            &app,
            &authed,
            "purchases",
            &format!("Purchase: {}", view.display_name),
        )
        .await,
        p: PurchaseRow::new(&view, &names),
        catalog_item_id: view.catalog_item_id.clone(),
        quantity: view.quantity,
        configuration: serde_json::to_string_pretty(&view.configuration).unwrap_or_default(),
        approval_status: fmt::label(&view.approval.status),
        decided: fmt::when_opt(view.approval.decided_at.as_deref()),
        decided_by: view
            .approval
            .decided_by
            .clone()
            .unwrap_or_else(|| "—".to_owned()),
        decision_reason: view.approval.reason.clone(),
        failure_reason: view.failure_reason.clone(),
        services: view.service_ids.clone(),
        idempotency_key: view
            .idempotency_key
            .clone()
            .unwrap_or_else(|| "—".to_owned()),
        updated: fmt::when(&view.updated_at),
    };
    render(StatusCode::OK, &page)
}
