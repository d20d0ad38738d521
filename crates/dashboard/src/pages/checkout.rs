//! Dashboard checkout: the account quotes and buys as itself with the same payloads as the API
//! (`catalogItemId`, `quantity`, `configuration`; then `quoteId` with an idempotency key).

use agent_store_app::idempotency::{Keyed, fingerprint};
use agent_store_app::purchases::PurchaseRequest;
use agent_store_app::quotes::QuoteRequest;
use agent_store_app::{App, AppError};
use agent_store_core::ids::{IdKind, new_id};
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::fmt;
use crate::web::{Authed, Chrome, FieldMap, check_csrf, error_page, field_errors, render};

#[derive(Debug, Clone)]
pub struct ItemChoice {
    pub id: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Debug, Clone)]
pub struct QuoteShown {
    pub id: String,
    pub name: String,
    pub total: String,
    pub lines: Vec<(String, String)>,
    pub decision: String,
    pub decision_label: String,
    pub reasons: Vec<String>,
    pub expires: String,
    pub idempotency_key: String,
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    c: Chrome,
    items: Vec<ItemChoice>,
    item_id: String,
    item_name: String,
    quantity: String,
    configuration: String,
    required: String,
    errors: FieldMap,
    quote: Option<QuoteShown>,
}

#[derive(Debug, Deserialize)]
pub struct ItemQuery {
    item: Option<String>,
}

fn requirements(app: &App, item: &str) -> (String, String) {
    match app.catalog_checkout_requirements(item) {
        Ok(req) => {
            let required = req
                .get("requiredFields")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let example: serde_json::Map<String, Value> = req
                .get("requiredFields")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(|f| (f.to_owned(), Value::String(String::new())))
                        .collect()
                })
                .unwrap_or_default();
            let example = if example.is_empty() {
                String::new()
            } else {
                serde_json::to_string_pretty(&Value::Object(example)).unwrap_or_default()
            };
            (required, example)
        }
        Err(_) => (String::new(), String::new()),
    }
}

struct Input {
    item: String,
    quantity: String,
    configuration: Option<String>,
}

async fn page(
    app: &App,
    authed: &Authed,
    input: Input,
    errors: FieldMap,
    quote: Option<QuoteShown>,
    status: StatusCode,
) -> Response {
    let item = if app.catalog().item(&input.item).is_some() {
        input.item
    } else {
        app.catalog()
            .items()
            .first()
            .map(|i| i.id.clone())
            .unwrap_or_default()
    };
    let (required, example) = requirements(app, &item);
    let items = app
        .catalog()
        .items()
        .iter()
        .map(|i| ItemChoice {
            id: i.id.clone(),
            label: format!("{} ({})", i.name, i.description),
            selected: i.id == item,
        })
        .collect();
    let page = CheckoutPage {
        c: Chrome::new(app, authed, "checkout", "Buy as the account").await,
        items,
        item_name: app
            .catalog()
            .item(&item)
            .map(|i| i.name.clone())
            .unwrap_or_default(),
        item_id: item,
        quantity: input.quantity,
        configuration: input.configuration.unwrap_or(example),
        required,
        errors,
        quote,
    };
    render(status, &page)
}

/// `GET /dashboard/checkout?item=`.
pub async fn show(State(app): State<App>, authed: Authed, Query(q): Query<ItemQuery>) -> Response {
    let input = Input {
        item: q.item.unwrap_or_default(),
        quantity: "1".to_owned(),
        configuration: None,
    };
    page(&app, &authed, input, FieldMap::new(), None, StatusCode::OK).await
}

#[derive(Debug, Deserialize)]
pub struct QuoteForm {
    csrf: Option<String>,
    item: Option<String>,
    quantity: Option<String>,
    configuration: Option<String>,
}

/// `POST /dashboard/checkout/quote`: price the configuration (the same call as `POST /quotes`).
pub async fn quote(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<QuoteForm>,
) -> Response {
    if let Err(refused) = check_csrf(&authed, &headers, form.csrf.as_deref()) {
        return refused;
    }
    let input = Input {
        item: form.item.unwrap_or_default(),
        quantity: form.quantity.unwrap_or_default(),
        configuration: form.configuration,
    };
    let mut errors = FieldMap::new();
    let quantity = match input.quantity.trim().parse::<i64>() {
        Ok(q) => q,
        Err(_) => {
            errors.insert(
                "quantity".to_owned(),
                "Enter a whole number from 1 to 10.".to_owned(),
            );
            1
        }
    };
    let text = input.configuration.clone().unwrap_or_default();
    let configuration = if text.trim().is_empty() {
        None
    } else {
        match serde_json::from_str::<Value>(&text) {
            Ok(v) if v.is_object() => Some(v),
            Ok(_) => {
                errors.insert(
                    "configuration".to_owned(),
                    "Must be a JSON object, such as {\"region\": \"us-east\"}.".to_owned(),
                );
                None
            }
            Err(e) => {
                errors.insert(
                    "configuration".to_owned(),
                    format!("Is not valid JSON: {e}."),
                );
                None
            }
        }
    };
    if !errors.is_empty() {
        return page(
            &app,
            &authed,
            input,
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let request = QuoteRequest {
        catalog_item_id: input.item.clone(),
        quantity,
        configuration,
    };
    match app.create_quote(&authed.principal, &request).await {
        Ok(q) => {
            let lines = q
                .quote_details
                .get("lines")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|l| {
                            (
                                l.get("description")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                                fmt::usd(l.get("amountMinor").and_then(Value::as_i64).unwrap_or(0)),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let decision = q
                .policy_preview
                .get("decision")
                .and_then(Value::as_str)
                .unwrap_or("allow")
                .to_owned();
            let reasons = q
                .policy_preview
                .get("reasons")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.get("message").and_then(Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let shown = QuoteShown {
                id: q.id.clone(),
                name: q.display_name.clone(),
                total: fmt::usd(q.total_price_minor),
                lines,
                decision_label: fmt::label(&decision),
                decision,
                reasons,
                expires: fmt::when(&q.expires_at),
                idempotency_key: new_id(IdKind::Event),
            };
            page(
                &app,
                &authed,
                input,
                FieldMap::new(),
                Some(shown),
                StatusCode::OK,
            )
            .await
        }
        Err(err) => {
            let mut errors = FieldMap::new();
            for (field, message) in field_errors(&err) {
                let name = if field == "catalogItemId" {
                    "item".to_owned()
                } else if field == "quantity" || field == "_form" {
                    field
                } else {
                    // Configuration fields: configuration.hostname etc.
                    errors
                        .entry("configuration".to_owned())
                        .and_modify(|e: &mut String| {
                            e.push_str("; ");
                            e.push_str(&format!("{field} {message}"));
                        })
                        .or_insert_with(|| format!("{field} {message}"));
                    continue;
                };
                errors.insert(name, message);
            }
            page(
                &app,
                &authed,
                input,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct BuyForm {
    csrf: Option<String>,
    quote_id: Option<String>,
    idempotency_key: Option<String>,
}

/// `POST /dashboard/checkout/buy`: buy the quote (the same call as `POST /purchases` with `quoteId`).
pub async fn buy(
    State(app): State<App>,
    authed: Authed,
    headers: HeaderMap,
    Form(form): Form<BuyForm>,
) -> Response {
    if let Err(refused) = check_csrf(&authed, &headers, form.csrf.as_deref()) {
        return refused;
    }
    let quote_id = form.quote_id.unwrap_or_default();
    let key = form
        .idempotency_key
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| new_id(IdKind::Event));
    let keyed = Keyed {
        request_hash: fingerprint(
            "POST",
            "/v1/account/purchases",
            &json!({"quoteId": quote_id}),
        ),
        key,
    };
    let request = PurchaseRequest {
        quote_id: Some(quote_id),
        ..PurchaseRequest::default()
    };
    match app
        .create_purchase(&authed.principal, request, &keyed)
        .await
    {
        Ok(stored) => {
            let id = serde_json::from_str::<Value>(&stored.body)
                .ok()
                .and_then(|b| {
                    b.pointer("/purchase/id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            match id {
                Some(id) => Redirect::to(&format!("/dashboard/purchases/{id}")).into_response(),
                None => Redirect::to("/dashboard/purchases").into_response(),
            }
        }
        Err(err @ (AppError::Validation { .. } | AppError::QuoteExpired | AppError::QuoteUsed)) => {
            let mut errors = field_errors(&err);
            if let Some(m) = errors.remove("quoteId") {
                errors.insert(
                    "_form".to_owned(),
                    format!("The quote {m}. Get a new quote."),
                );
            }
            let input = Input {
                item: String::new(),
                quantity: "1".to_owned(),
                configuration: None,
            };
            page(
                &app,
                &authed,
                input,
                errors,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(err) => error_page(&err),
    }
}
