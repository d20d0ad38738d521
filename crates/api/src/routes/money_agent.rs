//! Agent API money routes: wallet, effective policy, purchases and services.

use agent_store_app::pagination::{Page, PageRequest};
use agent_store_app::policies::EffectivePolicyView;
use agent_store_app::purchases::PurchaseView;
use agent_store_app::services::ServiceView;
use agent_store_app::wallet::TransactionView;
use agent_store_app::{App, Principal};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ListParams;
use super::shared::{
    ActionBody, CreatePurchaseBody, PurchaseListParams, PurchaseResponse, ServiceListParams,
    ServiceResponse, WalletResponse, require_key, stored,
};
use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{KeyedJson, QueryParams};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(agent_wallet))
        .routes(routes!(agent_wallet_transactions))
        .routes(routes!(agent_effective_policy))
        .routes(routes!(agent_list_purchases, agent_create_purchase))
        .routes(routes!(agent_get_purchase))
        .routes(routes!(agent_cancel_purchase))
        .routes(routes!(agent_list_services))
        .routes(routes!(agent_get_service))
}

/// The account's wallet: balance, held and available, in cents.
#[utoipa::path(get, path = "/wallet", tag = "wallet",
    responses((status = 200, body = WalletResponse), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
async fn agent_wallet(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<WalletResponse>> {
    Ok(Json(WalletResponse {
        wallet: app.wallet(&p).await?,
    }))
}

/// This agent's wallet transactions, newest first.
#[utoipa::path(get, path = "/wallet/transactions", tag = "wallet", params(ListParams),
    responses((status = 200, body = Page<TransactionView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_wallet_transactions(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page<TransactionView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "txn_")?;
    Ok(Json(app.wallet_transactions(&p, &page).await?))
}

/// The merged policy that applies to this agent's key, where each field comes from, every layer,
/// and current usage against the limits.
#[utoipa::path(get, path = "/policies/effective", tag = "policies",
    responses((status = 200, body = EffectivePolicyView), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
async fn agent_effective_policy(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<EffectivePolicyView>> {
    Ok(Json(app.effective_policy(&p).await?))
}

/// Buy a quote (or an item with its configuration). Requires an idempotency key; a retry with the
/// same key and body replays the first response (`Idempotent-Replayed: true`).
#[utoipa::path(post, path = "/purchases", tag = "purchases", request_body = CreatePurchaseBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Alternative to the idempotencyKey body field")),
    responses((status = 201, body = PurchaseResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 402, body = ErrorResponse, description = "insufficient_funds"),
              (status = 403, body = ErrorResponse, description = "policy_denied"), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse, description = "quote_used, quote_expired, domain_unavailable"),
              (status = 422, body = ErrorResponse, description = "idempotency_key_mismatch")),
    security(("bearer" = [])))]
async fn agent_create_purchase(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    req: KeyedJson<CreatePurchaseBody>,
) -> ApiResult<Response> {
    let keyed = require_key(req.keyed)?;
    Ok(stored(
        app.create_purchase(&p, req.body.into(), &keyed).await?,
    ))
}

/// This agent's purchases, newest first.
#[utoipa::path(get, path = "/purchases", tag = "purchases", params(PurchaseListParams),
    responses((status = 200, body = Page<PurchaseView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_list_purchases(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<PurchaseListParams>,
) -> ApiResult<Json<Page<PurchaseView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "pur_")?;
    Ok(Json(app.list_purchases(&p, &q.filter()?, &page).await?))
}

/// A purchase and its status (poll this until `completed`, `failed`, `rejected`, ...).
#[utoipa::path(get, path = "/purchases/{purchaseId}", tag = "purchases", params(("purchaseId" = String, Path)),
    responses((status = 200, body = PurchaseResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_get_purchase(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<PurchaseResponse>> {
    Ok(Json(PurchaseResponse {
        purchase: app.get_purchase(&p, &id).await?,
    }))
}

/// Withdraw a purchase that is waiting for approval; the held money returns to the wallet.
#[utoipa::path(post, path = "/purchases/{purchaseId}/cancel", tag = "purchases", params(("purchaseId" = String, Path)),
    request_body(content = Option<ActionBody>),
    responses((status = 200, body = PurchaseResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse, description = "invalid_state")),
    security(("bearer" = [])))]
async fn agent_cancel_purchase(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: KeyedJson<ActionBody>,
) -> ApiResult<Response> {
    Ok(stored(
        app.cancel_purchase(&p, &id, req.keyed.as_ref()).await?,
    ))
}

/// This agent's services, newest first.
#[utoipa::path(get, path = "/services", tag = "services", params(ServiceListParams),
    responses((status = 200, body = Page<ServiceView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_list_services(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<ServiceListParams>,
) -> ApiResult<Json<Page<ServiceView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "svc_")?;
    Ok(Json(
        app.list_services(
            &p,
            q.service_type.as_deref(),
            q.status.as_deref(),
            None,
            &page,
        )
        .await?,
    ))
}

/// One service with its type-specific details.
#[utoipa::path(get, path = "/services/{serviceId}", tag = "services", params(("serviceId" = String, Path)),
    responses((status = 200, body = ServiceResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_get_service(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceResponse>> {
    Ok(Json(ServiceResponse {
        service: app.get_service(&p, &id).await?,
    }))
}
