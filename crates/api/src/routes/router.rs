//! Router key and usage routes of an `llm_router` service, for the owning agent (`/v1/agent/...`) and
//! for the account (`/v1/account/...`): create (the key is shown once), list, revoke, usage.

use agent_store_app::pagination::{Page, PageRequest};
use agent_store_app::router::keys::RouterKeyView;
use agent_store_app::router::usage::RouterUsageView;
use agent_store_app::{App, Principal};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ListParams;
use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{JsonBody, QueryParams};

/// Agent API routes (mounted under `/v1/agent`).
pub fn agent_router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(agent_router_key_list, agent_router_key_create))
        .routes(routes!(agent_router_key_revoke))
        .routes(routes!(agent_router_usage))
}

/// Account API routes (mounted under `/v1/account`).
pub fn account_router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(account_router_key_list, account_router_key_create))
        .routes(routes!(account_router_key_revoke))
        .routes(routes!(account_router_usage))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRouterKeyBody {
    /// A name for the key, e.g. `production`.
    pub label: String,
    /// Accepted (as on every POST) and ignored: creating a key is not billable.
    #[serde(rename = "idempotencyKey")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouterKeyResponse {
    pub router_api_key: RouterKeyView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RouterUsageResponse {
    pub usage: RouterUsageView,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// RFC 3339 start of the period (default: everything).
    pub since: Option<String>,
}

async fn create(
    app: &App,
    p: &Principal,
    service_id: &str,
    body: CreateRouterKeyBody,
) -> ApiResult<(StatusCode, Json<RouterKeyResponse>)> {
    let key = app.create_router_key(p, service_id, &body.label).await?;
    Ok((
        StatusCode::CREATED,
        Json(RouterKeyResponse {
            router_api_key: key,
        }),
    ))
}

async fn list(
    app: &App,
    p: &Principal,
    service_id: &str,
    q: ListParams,
) -> ApiResult<Json<Page<RouterKeyView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "rk_")?;
    Ok(Json(app.list_router_keys(p, service_id, &page).await?))
}

async fn revoke(
    app: &App,
    p: &Principal,
    service_id: &str,
    key_id: &str,
) -> ApiResult<Json<RouterKeyResponse>> {
    Ok(Json(RouterKeyResponse {
        router_api_key: app.revoke_router_key(p, service_id, key_id).await?,
    }))
}

async fn usage(
    app: &App,
    p: &Principal,
    service_id: &str,
    q: UsageParams,
) -> ApiResult<Json<RouterUsageResponse>> {
    Ok(Json(RouterUsageResponse {
        usage: app.router_usage(p, service_id, q.since.as_deref()).await?,
    }))
}

/// Create a router key for this agent's llm_router service (`router_api_key_create`). The key
/// (`ark_live_...`) is in this response only; use it with the OpenAI SDK at `baseUrl`.
#[utoipa::path(post, path = "/services/{serviceId}/router/api-keys", tag = "router",
    params(("serviceId" = String, Path)), request_body = CreateRouterKeyBody,
    responses((status = 201, body = RouterKeyResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse, description = "invalid_state: the service is not active")),
    security(("bearer" = [])))]
async fn agent_router_key_create(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    JsonBody(body): JsonBody<CreateRouterKeyBody>,
) -> ApiResult<(StatusCode, Json<RouterKeyResponse>)> {
    create(&app, &p, &service_id, body).await
}

/// The service's router keys, newest first (`router_api_key_list`; no secrets).
#[utoipa::path(get, path = "/services/{serviceId}/router/api-keys", tag = "router",
    params(("serviceId" = String, Path), ListParams),
    responses((status = 200, body = Page<RouterKeyView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_router_key_list(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page<RouterKeyView>>> {
    list(&app, &p, &service_id, q).await
}

/// Revoke a router key (`router_api_key_revoke`); its next request is refused.
#[utoipa::path(delete, path = "/services/{serviceId}/router/api-keys/{keyId}", tag = "router",
    params(("serviceId" = String, Path), ("keyId" = String, Path)),
    responses((status = 200, body = RouterKeyResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_router_key_revoke(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((service_id, key_id)): Path<(String, String)>,
) -> ApiResult<Json<RouterKeyResponse>> {
    revoke(&app, &p, &service_id, &key_id).await
}

/// Requests, tokens and cost (micro-USD) of the service: totals, per model and per key
/// (`router_usage_get`).
#[utoipa::path(get, path = "/services/{serviceId}/router/usage", tag = "router",
    params(("serviceId" = String, Path), UsageParams),
    responses((status = 200, body = RouterUsageResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_router_usage(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    QueryParams(q): QueryParams<UsageParams>,
) -> ApiResult<Json<RouterUsageResponse>> {
    usage(&app, &p, &service_id, q).await
}

/// Create a router key for any of the account's llm_router services.
#[utoipa::path(post, path = "/services/{serviceId}/router/api-keys", tag = "router",
    params(("serviceId" = String, Path)), request_body = CreateRouterKeyBody,
    responses((status = 201, body = RouterKeyResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_router_key_create(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    JsonBody(body): JsonBody<CreateRouterKeyBody>,
) -> ApiResult<(StatusCode, Json<RouterKeyResponse>)> {
    create(&app, &p, &service_id, body).await
}

/// A service's router keys, newest first.
#[utoipa::path(get, path = "/services/{serviceId}/router/api-keys", tag = "router",
    params(("serviceId" = String, Path), ListParams),
    responses((status = 200, body = Page<RouterKeyView>), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_router_key_list(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page<RouterKeyView>>> {
    list(&app, &p, &service_id, q).await
}

/// Revoke a router key of any of the account's services.
#[utoipa::path(delete, path = "/services/{serviceId}/router/api-keys/{keyId}", tag = "router",
    params(("serviceId" = String, Path), ("keyId" = String, Path)),
    responses((status = 200, body = RouterKeyResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_router_key_revoke(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((service_id, key_id)): Path<(String, String)>,
) -> ApiResult<Json<RouterKeyResponse>> {
    revoke(&app, &p, &service_id, &key_id).await
}

/// Usage of any of the account's router services.
#[utoipa::path(get, path = "/services/{serviceId}/router/usage", tag = "router",
    params(("serviceId" = String, Path), UsageParams),
    responses((status = 200, body = RouterUsageResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_router_usage(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    QueryParams(q): QueryParams<UsageParams>,
) -> ApiResult<Json<RouterUsageResponse>> {
    usage(&app, &p, &service_id, q).await
}
