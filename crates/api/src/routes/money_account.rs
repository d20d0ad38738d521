//! Account API money routes: wallet and funding, policy layers, approvals, every agent's purchases
//! and services, purchases as the account itself, and the audit log.

use agent_store_app::audit::AuditEventView;
use agent_store_app::pagination::{Page, PageRequest};
use agent_store_app::policies::LayerRef;
use agent_store_app::purchases::PurchaseView;
use agent_store_app::services::ServiceView;
use agent_store_app::wallet::TransactionView;
use agent_store_app::{App, Principal};
use agent_store_core::policy::Policy;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ListParams;
use super::shared::{
    ActionBody, CreatePurchaseBody, PurchaseListParams, PurchaseResponse, ServiceListParams,
    ServiceResponse, WalletResponse, require_key, stored,
};
use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{JsonBody, KeyedJson, QueryParams};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(account_wallet))
        .routes(routes!(account_wallet_transactions))
        .routes(routes!(account_fund_wallet))
        .routes(routes!(get_account_policy, put_account_policy))
        .routes(routes!(get_agent_policy, put_agent_policy))
        .routes(routes!(get_key_policy, put_key_policy))
        .routes(routes!(list_approvals))
        .routes(routes!(approve_purchase))
        .routes(routes!(reject_purchase))
        .routes(routes!(account_list_purchases, account_create_purchase))
        .routes(routes!(account_get_purchase))
        .routes(routes!(account_list_services))
        .routes(routes!(account_get_service))
        .routes(routes!(list_audit_events))
}

/// The wallet.
#[utoipa::path(get, path = "/wallet", tag = "wallet",
    responses((status = 200, body = WalletResponse), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
async fn account_wallet(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<WalletResponse>> {
    Ok(Json(WalletResponse {
        wallet: app.wallet(&p).await?,
    }))
}

/// Every wallet transaction of the account, newest first.
#[utoipa::path(get, path = "/wallet/transactions", tag = "wallet", params(ListParams),
    responses((status = 200, body = Page<TransactionView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_wallet_transactions(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page<TransactionView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "txn_")?;
    Ok(Json(app.wallet_transactions(&p, &page).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FundingBody {
    /// Cents to add, e.g. 10000 for 100 USD.
    pub amount_minor: Option<i64>,
    /// Required (or the Idempotency-Key header).
    pub idempotency_key: Option<String>,
}

/// Fund the wallet through the payment provider (the sandbox credits at once). Idempotent.
#[utoipa::path(post, path = "/wallet/fundings", tag = "wallet", request_body = FundingBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Alternative to the idempotencyKey body field")),
    responses((status = 201, body = Object), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 422, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_fund_wallet(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    req: KeyedJson<FundingBody>,
) -> ApiResult<Response> {
    let keyed = require_key(req.keyed)?;
    let amount = req
        .body
        .amount_minor
        .ok_or_else(|| crate::error::ApiError::invalid("amountMinor", "is required"))?;
    Ok(stored(app.fund_wallet(&p, amount, &keyed).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyResponse {
    #[schema(value_type = Object)]
    pub policy: Policy,
}

/// The account's own policy layer.
#[utoipa::path(get, path = "/policy", tag = "policies",
    responses((status = 200, body = PolicyResponse), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
async fn get_account_policy(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<PolicyResponse>> {
    Ok(Json(PolicyResponse {
        policy: app.get_policy_layer(&p, &LayerRef::Account).await?,
    }))
}

/// Replace the account's policy layer (applies to every agent).
#[utoipa::path(put, path = "/policy", tag = "policies", request_body(content = Object, description = "A policy"),
    responses((status = 200, body = PolicyResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn put_account_policy(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    JsonBody(policy): JsonBody<Policy>,
) -> ApiResult<Json<PolicyResponse>> {
    Ok(Json(PolicyResponse {
        policy: app.put_policy_layer(&p, &LayerRef::Account, policy).await?,
    }))
}

/// One agent's policy layer.
#[utoipa::path(get, path = "/agents/{agentId}/policy", tag = "policies", params(("agentId" = String, Path)),
    responses((status = 200, body = PolicyResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn get_agent_policy(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(agent_id): Path<String>,
) -> ApiResult<Json<PolicyResponse>> {
    Ok(Json(PolicyResponse {
        policy: app
            .get_policy_layer(&p, &LayerRef::Agent { agent_id })
            .await?,
    }))
}

/// Replace one agent's policy layer (it can only narrow the account's).
#[utoipa::path(put, path = "/agents/{agentId}/policy", tag = "policies", params(("agentId" = String, Path)),
    request_body(content = Object, description = "A policy"),
    responses((status = 200, body = PolicyResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn put_agent_policy(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(agent_id): Path<String>,
    JsonBody(policy): JsonBody<Policy>,
) -> ApiResult<Json<PolicyResponse>> {
    Ok(Json(PolicyResponse {
        policy: app
            .put_policy_layer(&p, &LayerRef::Agent { agent_id }, policy)
            .await?,
    }))
}

/// One key's policy layer.
#[utoipa::path(get, path = "/agents/{agentId}/keys/{keyId}/policy", tag = "policies",
    params(("agentId" = String, Path), ("keyId" = String, Path)),
    responses((status = 200, body = PolicyResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn get_key_policy(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((agent_id, key_id)): Path<(String, String)>,
) -> ApiResult<Json<PolicyResponse>> {
    Ok(Json(PolicyResponse {
        policy: app
            .get_policy_layer(&p, &LayerRef::Key { agent_id, key_id })
            .await?,
    }))
}

/// Replace one key's policy layer (restrictions on that key only).
#[utoipa::path(put, path = "/agents/{agentId}/keys/{keyId}/policy", tag = "policies",
    params(("agentId" = String, Path), ("keyId" = String, Path)), request_body(content = Object, description = "A policy"),
    responses((status = 200, body = PolicyResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn put_key_policy(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((agent_id, key_id)): Path<(String, String)>,
    JsonBody(policy): JsonBody<Policy>,
) -> ApiResult<Json<PolicyResponse>> {
    Ok(Json(PolicyResponse {
        policy: app
            .put_policy_layer(&p, &LayerRef::Key { agent_id, key_id }, policy)
            .await?,
    }))
}

/// Purchases waiting for a human decision.
#[utoipa::path(get, path = "/approvals", tag = "approvals", params(ListParams),
    responses((status = 200, body = Page<PurchaseView>), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
async fn list_approvals(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page<PurchaseView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "pur_")?;
    Ok(Json(app.list_approvals(&p, &page).await?))
}

/// Approve a pending purchase: the hold is captured and provisioning starts.
#[utoipa::path(post, path = "/purchases/{purchaseId}/approve", tag = "approvals", params(("purchaseId" = String, Path)),
    request_body(content = Option<ActionBody>),
    responses((status = 200, body = PurchaseResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse, description = "invalid_state: already decided")),
    security(("bearer" = [])))]
async fn approve_purchase(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: KeyedJson<ActionBody>,
) -> ApiResult<Response> {
    Ok(stored(
        app.approve_purchase(&p, &id, req.keyed.as_ref()).await?,
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RejectBody {
    /// Why, for the agent (up to 1000 characters).
    pub reason: Option<String>,
    pub idempotency_key: Option<String>,
}

/// Reject a pending purchase with a reason: the hold is released.
#[utoipa::path(post, path = "/purchases/{purchaseId}/reject", tag = "approvals", params(("purchaseId" = String, Path)),
    request_body(content = Option<RejectBody>),
    responses((status = 200, body = PurchaseResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse, description = "invalid_state: already decided")),
    security(("bearer" = [])))]
async fn reject_purchase(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: KeyedJson<RejectBody>,
) -> ApiResult<Response> {
    Ok(stored(
        app.reject_purchase(&p, &id, req.body.reason.as_deref(), req.keyed.as_ref())
            .await?,
    ))
}

/// Every agent's purchases (filters: status, agentId, createdFrom, createdTo).
#[utoipa::path(get, path = "/purchases", tag = "purchases", params(PurchaseListParams),
    responses((status = 200, body = Page<PurchaseView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_list_purchases(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<PurchaseListParams>,
) -> ApiResult<Json<Page<PurchaseView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "pur_")?;
    Ok(Json(app.list_purchases(&p, &q.filter()?, &page).await?))
}

/// Buy as the account itself (dashboard checkout): same payload and idempotency rules as agents;
/// only the platform and account policy layers apply.
#[utoipa::path(post, path = "/purchases", tag = "purchases", request_body = CreatePurchaseBody,
    params(("Idempotency-Key" = Option<String>, Header)),
    responses((status = 201, body = PurchaseResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 402, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_create_purchase(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    req: KeyedJson<CreatePurchaseBody>,
) -> ApiResult<Response> {
    let keyed = require_key(req.keyed)?;
    Ok(stored(
        app.create_purchase(&p, req.body.into(), &keyed).await?,
    ))
}

/// Any purchase of the account.
#[utoipa::path(get, path = "/purchases/{purchaseId}", tag = "purchases", params(("purchaseId" = String, Path)),
    responses((status = 200, body = PurchaseResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_get_purchase(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<PurchaseResponse>> {
    Ok(Json(PurchaseResponse {
        purchase: app.get_purchase(&p, &id).await?,
    }))
}

/// Every agent's services.
#[utoipa::path(get, path = "/services", tag = "services", params(ServiceListParams),
    responses((status = 200, body = Page<ServiceView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_list_services(
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
            q.agent_id.as_deref(),
            &page,
        )
        .await?,
    ))
}

/// Any service of the account.
#[utoipa::path(get, path = "/services/{serviceId}", tag = "services", params(("serviceId" = String, Path)),
    responses((status = 200, body = ServiceResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_get_service(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<ServiceResponse>> {
    Ok(Json(ServiceResponse {
        service: app.get_service(&p, &id).await?,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only events about this object id.
    pub object_id: Option<String>,
    /// Only this action, e.g. purchase.approved.
    pub action: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// The audit log: who did what, when, with which credential id.
#[utoipa::path(get, path = "/audit-events", tag = "audit", params(AuditParams),
    responses((status = 200, body = Page<AuditEventView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn list_audit_events(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<AuditParams>,
) -> ApiResult<Json<Page<AuditEventView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "evt_")?;
    Ok(Json(
        app.list_audit_events(&p, q.object_id.as_deref(), q.action.as_deref(), &page)
            .await?,
    ))
}
