//! The overview: money at a glance, spend against limits, what waits for a decision, what was bought.

use agent_store_app::App;
use agent_store_app::pagination::PageRequest;
use agent_store_app::purchases::PurchaseFilter;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{PurchaseRow, agent_names};
use crate::chart::{self, Bar};
use crate::fmt;
use crate::web::{Authed, Chrome, error_page, render};

/// Spend so far in a window against its limit.
#[derive(Debug, Clone)]
pub struct Gauge {
    pub label: &'static str,
    pub spent: String,
    pub limit: Option<String>,
    /// Percent of the limit used, 0-100.
    pub percent: i64,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Page {
    c: Chrome,
    balance: String,
    held: String,
    available: String,
    gauges: Vec<Gauge>,
    pending: Vec<PurchaseRow>,
    recent: Vec<PurchaseRow>,
    chart: String,
    spend_30: String,
}

#[derive(Debug, Deserialize)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

fn gauge(label: &'static str, spent: i64, limit: Option<i64>) -> Gauge {
    let percent = match limit {
        Some(l) if l > 0 => (spent.saturating_mul(100) / l).clamp(0, 100),
        Some(_) => 100,
        None => 0,
    };
    Gauge {
        label,
        spent: fmt::usd(spent),
        limit: limit.map(fmt::usd),
        percent,
    }
}

fn limit_of(policy: &serde_json::Value, field: &str) -> Option<i64> {
    policy.get(field).and_then(serde_json::Value::as_i64)
}

/// `GET /dashboard`.
pub async fn show(
    State(app): State<App>,
    authed: Authed,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let p = &authed.principal;
    let result = async {
        let wallet = app.wallet(p).await?;
        let effective = app.effective_policy(p).await?;
        let names = agent_names(&app, p).await;
        let pending = app.list_approvals(p, &PageRequest::first(5)).await?;
        let recent = app
            .list_purchases(p, &PurchaseFilter::default(), &PageRequest::first(8))
            .await?;
        let days = app.spend_per_day(p, 30).await?;
        Ok::<_, agent_store_app::AppError>((wallet, effective, names, pending, recent, days))
    }
    .await;
    let (wallet, effective, names, pending, recent, days) = match result {
        Ok(parts) => parts,
        Err(err) => return error_page(&err),
    };
    let usage = &effective.usage;
    let spent_today = usage
        .get("spentTodayMinor")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let spent_month = usage
        .get("spentThisMonthMinor")
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let gauges = vec![
        gauge(
            "Spent today",
            spent_today,
            limit_of(&effective.policy, "dailySpendLimitMinor"),
        ),
        gauge(
            "Spent this month",
            spent_month,
            limit_of(&effective.policy, "monthlySpendLimitMinor"),
        ),
    ];
    let bars: Vec<Bar> = days
        .iter()
        .map(|d| Bar {
            label: agent_store_core::time::format_rfc3339(d.day_start)
                .get(5..10)
                .unwrap_or_default()
                .to_owned(),
            value: d.amount_minor,
        })
        .collect();
    let total: i64 = days.iter().map(|d| d.amount_minor).sum();
    let page = Page {
        c: Chrome::new(&app, &authed, "overview", "Overview")
            .await
            .with_notice(q.notice.as_deref()),
        balance: fmt::usd(wallet.balance_minor),
        held: fmt::usd(wallet.held_minor),
        available: fmt::usd(wallet.available_minor),
        gauges,
        pending: pending
            .items
            .iter()
            .map(|x| PurchaseRow::new(x, &names))
            .collect(),
        recent: recent
            .items
            .iter()
            .map(|x| PurchaseRow::new(x, &names))
            .collect(),
        chart: chart::daily_bars("Spend per day over the last 30 days", &bars),
        spend_30: fmt::usd(total),
    };
    render(StatusCode::OK, &page)
}
