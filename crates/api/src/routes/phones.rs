//! Phone number routes (SPEC section 9, `phone_number`) for the owning agent (`/v1/agent/...`) and
//! the account (`/v1/account/...`): balance top-up, inbound messages, missed calls, call log; the
//! sandbox carrier's injection (`/v1/account/sandbox/phone/inbound`) and the telephony provider's
//! signed webhook (`/webhooks/telephony/sandbox`, public: the HMAC signature is the credential).

use agent_store_app::pagination::{Page, PageRequest};
use agent_store_app::phones::{
    CallView, InboundResult, InjectRequest, MessageView, SIGNATURE_HEADER,
};
use agent_store_app::{App, Principal};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shared::{require_key, stored};
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::{JsonBody, KeyedJson, QueryParams};

/// Agent API routes (mounted under `/v1/agent`).
pub fn agent_router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(agent_phone_topup))
        .routes(routes!(agent_phone_messages))
        .routes(routes!(agent_phone_message))
        .routes(routes!(agent_phone_missed_calls))
        .routes(routes!(agent_phone_calls))
}

/// Account API routes (mounted under `/v1/account`).
pub fn account_router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(account_phone_topup))
        .routes(routes!(account_phone_messages))
        .routes(routes!(account_phone_message))
        .routes(routes!(account_phone_missed_calls))
        .routes(routes!(account_phone_calls))
        .routes(routes!(sandbox_phone_inbound))
}

/// The telephony provider's webhook (no bearer credential: the signature authenticates it).
pub fn webhook_router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(telephony_webhook))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TopupBody {
    /// US dollars, at most 2 decimal places, from 0.01 to 500.
    #[schema(value_type = f64)]
    pub amount_usd: Option<Value>,
    /// Required (or the Idempotency-Key header). Reuse the same key when retrying.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// RFC 3339: only events at or after this time.
    pub since: Option<String>,
    /// Page size, 1 to 100 (default 20).
    pub limit: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: MessageView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InboundResponse {
    pub inbound: InboundResult,
}

/// Body of `POST /v1/account/sandbox/phone/inbound`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InjectBody {
    /// The phone_number service (`svc_...`) that receives the traffic.
    pub service_id: String,
    /// sms or call
    pub kind: String,
    /// The sender or caller, E.164 (e.g. +14155550123).
    pub from: String,
    /// SMS text (sms only).
    pub body: Option<String>,
    /// Calls: whether the call was answered (default false: a missed call).
    pub answered: Option<bool>,
    /// Calls: seconds connected (answered calls only).
    pub duration_seconds: Option<i64>,
    /// Accepted (as on every POST) and ignored: each injection is a new event.
    pub idempotency_key: Option<String>,
}

async fn topup(
    app: &App,
    p: &Principal,
    id: &str,
    req: KeyedJson<TopupBody>,
) -> ApiResult<Response> {
    let keyed = require_key(req.keyed)?;
    Ok(stored(
        app.phone_topup(p, id, req.body.amount_usd.as_ref(), &keyed)
            .await?,
    ))
}

async fn messages(
    app: &App,
    p: &Principal,
    id: &str,
    q: EventParams,
) -> ApiResult<Json<Page<MessageView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "msg_")?;
    Ok(Json(
        app.list_phone_messages(p, id, q.since.as_deref(), &page)
            .await?,
    ))
}

async fn calls(
    app: &App,
    p: &Principal,
    id: &str,
    missed_only: bool,
    q: EventParams,
) -> ApiResult<Json<Page<CallView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "call_")?;
    Ok(Json(
        app.list_phone_calls(p, id, missed_only, q.since.as_deref(), &page)
            .await?,
    ))
}

/// Move money from the wallet to the number's balance (`phone_balance_topup`): a spend, policy
/// checked and idempotent. A suspended number resumes once its balance (after any due rental) is
/// above zero. A spend that would need a human approval is refused with `policy_denied`.
#[utoipa::path(post, path = "/services/{serviceId}/phone/topup", tag = "phone",
    params(("serviceId" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Alternative to the idempotencyKey body field")),
    request_body = TopupBody,
    responses((status = 201, description = "{\"topUp\": {...}, \"service\": {...}}"), (status = 400, body = ErrorResponse),
              (status = 401, body = ErrorResponse), (status = 402, body = ErrorResponse, description = "insufficient_funds"),
              (status = 403, body = ErrorResponse, description = "policy_denied, capability_not_allowed"),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse, description = "invalid_state"),
              (status = 422, body = ErrorResponse, description = "idempotency_key_mismatch")),
    security(("bearer" = [])))]
async fn agent_phone_topup(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: KeyedJson<TopupBody>,
) -> ApiResult<Response> {
    topup(&app, &p, &id, req).await
}

/// Inbound SMS of the number, newest first (`phone_message_list`).
#[utoipa::path(get, path = "/services/{serviceId}/phone/messages", tag = "phone",
    params(("serviceId" = String, Path), EventParams),
    responses((status = 200, body = Page<MessageView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_phone_messages(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<EventParams>,
) -> ApiResult<Json<Page<MessageView>>> {
    messages(&app, &p, &id, q).await
}

/// One inbound SMS (`phone_message_get`).
#[utoipa::path(get, path = "/services/{serviceId}/phone/messages/{messageId}", tag = "phone",
    params(("serviceId" = String, Path), ("messageId" = String, Path)),
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_phone_message(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<MessageResponse>> {
    Ok(Json(MessageResponse {
        message: app.get_phone_message(&p, &id, &message_id).await?,
    }))
}

/// Missed inbound calls, newest first (`phone_missed_call_list`).
#[utoipa::path(get, path = "/services/{serviceId}/phone/missed-calls", tag = "phone",
    params(("serviceId" = String, Path), EventParams),
    responses((status = 200, body = Page<CallView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_phone_missed_calls(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<EventParams>,
) -> ApiResult<Json<Page<CallView>>> {
    calls(&app, &p, &id, true, q).await
}

/// Every call with its status, duration and cost, newest first (`phone_call_log_get`).
#[utoipa::path(get, path = "/services/{serviceId}/phone/calls", tag = "phone",
    params(("serviceId" = String, Path), EventParams),
    responses((status = 200, body = Page<CallView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_phone_calls(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<EventParams>,
) -> ApiResult<Json<Page<CallView>>> {
    calls(&app, &p, &id, false, q).await
}

/// Top up any of the account's numbers (policy checked against the account layers).
#[utoipa::path(post, path = "/services/{serviceId}/phone/topup", tag = "phone",
    params(("serviceId" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Alternative to the idempotencyKey body field")),
    request_body = TopupBody,
    responses((status = 201, description = "{\"topUp\": {...}, \"service\": {...}}"), (status = 400, body = ErrorResponse),
              (status = 401, body = ErrorResponse), (status = 402, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_phone_topup(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: KeyedJson<TopupBody>,
) -> ApiResult<Response> {
    topup(&app, &p, &id, req).await
}

/// Inbound SMS of any of the account's numbers.
#[utoipa::path(get, path = "/services/{serviceId}/phone/messages", tag = "phone",
    params(("serviceId" = String, Path), EventParams),
    responses((status = 200, body = Page<MessageView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_phone_messages(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<EventParams>,
) -> ApiResult<Json<Page<MessageView>>> {
    messages(&app, &p, &id, q).await
}

/// One inbound SMS of any of the account's numbers.
#[utoipa::path(get, path = "/services/{serviceId}/phone/messages/{messageId}", tag = "phone",
    params(("serviceId" = String, Path), ("messageId" = String, Path)),
    responses((status = 200, body = MessageResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_phone_message(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((id, message_id)): Path<(String, String)>,
) -> ApiResult<Json<MessageResponse>> {
    Ok(Json(MessageResponse {
        message: app.get_phone_message(&p, &id, &message_id).await?,
    }))
}

/// Missed calls of any of the account's numbers.
#[utoipa::path(get, path = "/services/{serviceId}/phone/missed-calls", tag = "phone",
    params(("serviceId" = String, Path), EventParams),
    responses((status = 200, body = Page<CallView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_phone_missed_calls(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<EventParams>,
) -> ApiResult<Json<Page<CallView>>> {
    calls(&app, &p, &id, true, q).await
}

/// The call log of any of the account's numbers.
#[utoipa::path(get, path = "/services/{serviceId}/phone/calls", tag = "phone",
    params(("serviceId" = String, Path), EventParams),
    responses((status = 200, body = Page<CallView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_phone_calls(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<EventParams>,
) -> ApiResult<Json<Page<CallView>>> {
    calls(&app, &p, &id, false, q).await
}

/// Sandbox telephony: have the sandbox carrier deliver an inbound SMS or call to one of the
/// account's numbers. It arrives through the same signed webhook a real carrier would call, and is
/// charged to the number's balance like real traffic.
#[utoipa::path(post, path = "/sandbox/phone/inbound", tag = "phone", request_body = InjectBody,
    responses((status = 201, body = InboundResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse, description = "invalid_state: the number is not active")),
    security(("bearer" = [])))]
async fn sandbox_phone_inbound(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<InjectBody>,
) -> ApiResult<(StatusCode, Json<InboundResponse>)> {
    let request = InjectRequest {
        service_id: body.service_id,
        kind: body.kind,
        from: body.from,
        body: body.body,
        answered: body.answered,
        duration_seconds: body.duration_seconds,
    };
    Ok((
        StatusCode::CREATED,
        Json(InboundResponse {
            inbound: app.sandbox_phone_inbound(&p, &request).await?,
        }),
    ))
}

/// The sandbox telephony provider's inbound webhook. The body is the carrier's event JSON; the
/// `X-Agent-Store-Signature: sha256=<hex>` header is the HMAC-SHA256 of the body under a key
/// derived from the server secret. A redelivery of an event is answered as a duplicate and changes
/// nothing; traffic to a suspended number is refused (`accepted: false`).
#[utoipa::path(post, path = "/webhooks/telephony/sandbox", tag = "phone",
    request_body(content = Object, content_type = "application/json",
        description = "{\"eventId\", \"kind\": \"sms\" | \"call\", \"from\", \"to\", \"body\"?, \"answered\"?, \"durationSeconds\"?}"),
    params(("X-Agent-Store-Signature" = String, Header, description = "sha256=<hex HMAC-SHA256 of the body>")),
    responses((status = 200, body = InboundResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 404, body = ErrorResponse)))]
async fn telephony_webhook(
    State(app): State<App>,
    request: axum::extract::Request,
) -> ApiResult<Json<InboundResponse>> {
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let signature = signature.as_deref();
    let body = axum::body::to_bytes(request.into_body(), crate::extract::MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::payload_too_large())?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::invalid("body", "must be UTF-8 JSON"))?;
    Ok(Json(InboundResponse {
        inbound: app.receive_telephony_webhook(text, signature).await?,
    }))
}
