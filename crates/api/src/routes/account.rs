//! Account API (`/v1/account`, account token): profile, agents, agent keys, account tokens, and quotes
//! as the account itself (dashboard checkout).

use agent_store_app::pagination::{Page, PageRequest};
use agent_store_app::views::{AccountTokenView, AgentView, ApiKeyView};
use agent_store_app::{App, Principal};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::agent::CreateQuoteBody;
use super::{
    AccountResponse, AccountTokenResponse, AgentResponse, ApiKeyResponse, ListParams, QuoteResponse,
};
use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{JsonBody, QueryParams};

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(get_agent, update_agent))
        .routes(routes!(suspend_agent))
        .routes(routes!(resume_agent))
        .routes(routes!(list_agent_keys, create_agent_key))
        .routes(routes!(revoke_agent_key))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(account_create_quote))
        .routes(routes!(account_get_quote))
}

type Created<T> = ApiResult<(StatusCode, Json<T>)>;

/// The account.
#[utoipa::path(get, path = "/v1/account", tag = "account",
    responses((status = 200, body = AccountResponse), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
pub(crate) async fn get_account(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<AccountResponse>> {
    Ok(Json(AccountResponse {
        account: app.get_account(&p).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgentBody {
    /// 1 to 100 characters.
    pub name: String,
}

/// Create an agent.
#[utoipa::path(post, path = "/agents", tag = "agents", request_body = CreateAgentBody,
    responses((status = 201, body = AgentResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn create_agent(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<CreateAgentBody>,
) -> Created<AgentResponse> {
    Ok((
        StatusCode::CREATED,
        Json(AgentResponse {
            agent: app.create_agent(&p, &body.name).await?,
        }),
    ))
}

/// The account's agents, newest first.
#[utoipa::path(get, path = "/agents", tag = "agents", params(ListParams),
    responses((status = 200, body = Page<AgentView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn list_agents(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page<AgentView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "agt_")?;
    Ok(Json(app.list_agents(&p, &page).await?))
}

/// One agent.
#[utoipa::path(get, path = "/agents/{agentId}", tag = "agents", params(("agentId" = String, Path)),
    responses((status = 200, body = AgentResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn get_agent(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(agent_id): Path<String>,
) -> ApiResult<Json<AgentResponse>> {
    Ok(Json(AgentResponse {
        agent: app.get_agent(&p, &agent_id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAgentBody {
    /// The new name, 1 to 100 characters.
    pub name: Option<String>,
}

/// Rename an agent.
#[utoipa::path(patch, path = "/agents/{agentId}", tag = "agents", params(("agentId" = String, Path)), request_body = UpdateAgentBody,
    responses((status = 200, body = AgentResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn update_agent(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(agent_id): Path<String>,
    JsonBody(body): JsonBody<UpdateAgentBody>,
) -> ApiResult<Json<AgentResponse>> {
    Ok(Json(AgentResponse {
        agent: app
            .update_agent(&p, &agent_id, body.name.as_deref(), None)
            .await?,
    }))
}

/// Suspend an agent: all of its keys stop working at once.
#[utoipa::path(post, path = "/agents/{agentId}/suspend", tag = "agents", params(("agentId" = String, Path)),
    responses((status = 200, body = AgentResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn suspend_agent(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(agent_id): Path<String>,
) -> ApiResult<Json<AgentResponse>> {
    Ok(Json(AgentResponse {
        agent: app
            .update_agent(&p, &agent_id, None, Some("suspended"))
            .await?,
    }))
}

/// Resume a suspended agent.
#[utoipa::path(post, path = "/agents/{agentId}/resume", tag = "agents", params(("agentId" = String, Path)),
    responses((status = 200, body = AgentResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn resume_agent(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(agent_id): Path<String>,
) -> ApiResult<Json<AgentResponse>> {
    Ok(Json(AgentResponse {
        agent: app
            .update_agent(&p, &agent_id, None, Some("active"))
            .await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCredentialBody {
    /// 1 to 100 characters, e.g. "production".
    pub label: String,
    /// Optional RFC 3339 expiry in the future.
    pub expires_at: Option<String>,
}

/// Mint an API key for an agent. The `key` is in this response only.
#[utoipa::path(post, path = "/agents/{agentId}/keys", tag = "keys", params(("agentId" = String, Path)), request_body = CreateCredentialBody,
    responses((status = 201, body = ApiKeyResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn create_agent_key(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(agent_id): Path<String>,
    JsonBody(body): JsonBody<CreateCredentialBody>,
) -> Created<ApiKeyResponse> {
    let api_key = app
        .create_agent_key(&p, &agent_id, &body.label, body.expires_at.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(ApiKeyResponse { api_key })))
}

/// An agent's keys, without secrets.
#[utoipa::path(get, path = "/agents/{agentId}/keys", tag = "keys", params(("agentId" = String, Path), ListParams),
    responses((status = 200, body = Page<ApiKeyView>), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn list_agent_keys(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(agent_id): Path<String>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page<ApiKeyView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "key_")?;
    Ok(Json(app.list_agent_keys(&p, &agent_id, &page).await?))
}

/// Revoke an agent key; refused from the next request on.
#[utoipa::path(delete, path = "/agents/{agentId}/keys/{keyId}", tag = "keys",
    params(("agentId" = String, Path), ("keyId" = String, Path)),
    responses((status = 200, body = ApiKeyResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn revoke_agent_key(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((agent_id, key_id)): Path<(String, String)>,
) -> ApiResult<Json<ApiKeyResponse>> {
    Ok(Json(ApiKeyResponse {
        api_key: app.revoke_agent_key(&p, &agent_id, &key_id).await?,
    }))
}

/// Mint an account token. The `token` is in this response only.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = CreateCredentialBody,
    responses((status = 201, body = AccountTokenResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn create_token(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<CreateCredentialBody>,
) -> Created<AccountTokenResponse> {
    let account_token = app
        .create_account_token(&p, &body.label, body.expires_at.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AccountTokenResponse { account_token }),
    ))
}

/// The account's tokens, without secrets.
#[utoipa::path(get, path = "/tokens", tag = "tokens", params(ListParams),
    responses((status = 200, body = Page<AccountTokenView>), (status = 401, body = ErrorResponse)), security(("bearer" = [])))]
async fn list_tokens(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page<AccountTokenView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "key_")?;
    Ok(Json(app.list_account_tokens(&p, &page).await?))
}

/// Revoke an account token.
#[utoipa::path(delete, path = "/tokens/{tokenId}", tag = "tokens", params(("tokenId" = String, Path)),
    responses((status = 200, body = AccountTokenResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn revoke_token(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(token_id): Path<String>,
) -> ApiResult<Json<AccountTokenResponse>> {
    Ok(Json(AccountTokenResponse {
        account_token: app.revoke_account_token(&p, &token_id).await?,
    }))
}

/// Quote as the account itself (dashboard checkout); same payload as the Agent API.
#[utoipa::path(post, path = "/quotes", tag = "quotes", request_body = CreateQuoteBody,
    responses((status = 201, body = QuoteResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_create_quote(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<CreateQuoteBody>,
) -> Created<QuoteResponse> {
    let quote = app.create_quote(&p, &body.into()).await?;
    Ok((StatusCode::CREATED, Json(QuoteResponse { quote })))
}

/// Any quote of the account (every agent's and its own).
#[utoipa::path(get, path = "/quotes/{quoteId}", tag = "quotes", params(("quoteId" = String, Path)),
    responses((status = 200, body = QuoteResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_get_quote(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(quote_id): Path<String>,
) -> ApiResult<Json<QuoteResponse>> {
    Ok(Json(QuoteResponse {
        quote: app.get_quote(&p, &quote_id).await?,
    }))
}
