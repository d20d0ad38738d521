//! Agent API (`/v1/agent`, agent API key): catalog and quotes.

use agent_store_app::pagination::{Page, PageRequest};
use agent_store_app::quotes::QuoteRequest;
use agent_store_app::{App, Principal};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::QuoteResponse;
use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{JsonBody, QueryParams};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(catalog_categories))
        .routes(routes!(catalog_items))
        .routes(routes!(catalog_checkout))
        .routes(routes!(create_quote))
        .routes(routes!(get_quote))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoriesResponse {
    #[schema(value_type = Vec<Object>)]
    pub categories: Vec<Value>,
}

/// List the catalog's categories with their item counts.
#[utoipa::path(get, path = "/catalog/categories", tag = "catalog",
    responses((status = 200, body = CategoriesResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn catalog_categories(State(app): State<App>) -> ApiResult<Json<CategoriesResponse>> {
    let categories = app
        .catalog_categories()
        .into_iter()
        .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
        .collect();
    Ok(Json(CategoriesResponse { categories }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// A category id: domains, compute, storage, telephony, api_tokens.
    pub category: Option<String>,
    /// Words that must all match the name, sku, description or category.
    pub q: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// Search catalog items; name matches rank first.
#[utoipa::path(get, path = "/catalog/items", tag = "catalog", params(SearchParams),
    responses((status = 200, body = Page<Object>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn catalog_items(
    State(app): State<App>,
    QueryParams(params): QueryParams<SearchParams>,
) -> ApiResult<Json<Page<Value>>> {
    let page = PageRequest::parse(params.limit.as_deref(), params.cursor.as_deref(), "cat_")?;
    Ok(Json(app.catalog_search(
        params.category.as_deref(),
        params.q.as_deref(),
        &page,
    )?))
}

/// Checkout requirements of an item: required and optional fields, the configuration's JSON Schema,
/// supported values, management capabilities and pricing.
#[utoipa::path(get, path = "/catalog/items/{catalogItemId}/checkout", tag = "catalog",
    params(("catalogItemId" = String, Path, description = "Catalog item id, e.g. cat_vps_micro")),
    responses((status = 200, body = Object), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn catalog_checkout(
    State(app): State<App>,
    Path(catalog_item_id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.catalog_checkout_requirements(&catalog_item_id)?))
}

/// Body of `POST /quotes` (Agent and Account APIs).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateQuoteBody {
    pub catalog_item_id: String,
    /// 1 to 10 (1 for domains and router credits); default 1.
    pub quantity: Option<i64>,
    /// Validated against the item's configuration schema (see checkout requirements).
    #[schema(value_type = Option<Object>)]
    pub configuration: Option<Value>,
}

impl From<CreateQuoteBody> for QuoteRequest {
    fn from(body: CreateQuoteBody) -> Self {
        Self {
            catalog_item_id: body.catalog_item_id,
            quantity: body.quantity.unwrap_or(1),
            configuration: body.configuration,
        }
    }
}

/// Price a configuration. The quote stays open for 15 minutes and can be purchased once.
#[utoipa::path(post, path = "/quotes", tag = "quotes", request_body = CreateQuoteBody,
    responses((status = 201, body = QuoteResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 409, body = ErrorResponse, description = "domain_unavailable"), (status = 413, body = ErrorResponse)),
    security(("bearer" = [])))]
pub(crate) async fn create_quote(
    State(app): State<App>,
    Extension(principal): Extension<Principal>,
    JsonBody(body): JsonBody<CreateQuoteBody>,
) -> ApiResult<(StatusCode, Json<QuoteResponse>)> {
    let quote = app.create_quote(&principal, &body.into()).await?;
    Ok((StatusCode::CREATED, Json(QuoteResponse { quote })))
}

/// One of the caller's quotes.
#[utoipa::path(get, path = "/quotes/{quoteId}", tag = "quotes",
    params(("quoteId" = String, Path, description = "Quote id")),
    responses((status = 200, body = QuoteResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
pub(crate) async fn get_quote(
    State(app): State<App>,
    Extension(principal): Extension<Principal>,
    Path(quote_id): Path<String>,
) -> ApiResult<Json<QuoteResponse>> {
    Ok(Json(QuoteResponse {
        quote: app.get_quote(&principal, &quote_id).await?,
    }))
}
