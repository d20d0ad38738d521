//! Domain management routes of a `domain` service, for the owning agent (`/v1/agent/...`) and for the
//! account (`/v1/account/...`): name servers, and DNS records list / upsert / delete.

use agent_store_app::domains::{DnsRecordView, Upserted};
use agent_store_app::pagination::{Page, PageRequest};
use agent_store_app::{App, Principal};
use agent_store_core::dns::RecordInput;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ListParams;
use super::shared::ServiceResponse;
use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{JsonBody, QueryParams};

/// Agent API routes (mounted under `/v1/agent`).
pub fn agent_router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(agent_nameservers_set))
        .routes(routes!(agent_dns_record_list, agent_dns_record_upsert))
        .routes(routes!(agent_dns_record_delete))
}

/// Account API routes (mounted under `/v1/account`).
pub fn account_router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(account_nameservers_set))
        .routes(routes!(account_dns_record_list, account_dns_record_upsert))
        .routes(routes!(account_dns_record_delete))
}

/// Body of `PUT .../domain/nameservers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameserversBody {
    /// 2 to 13 distinct host names, e.g. `["ns1.example.net", "ns2.example.net"]`.
    pub nameservers: Vec<String>,
}

/// Body of `POST .../domain/dns-records`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsRecordBody {
    /// `A`, `AAAA`, `CNAME`, `MX`, `TXT`, `NS`, `SRV` or `CAA`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// `@` for the domain itself, or a name relative to it (`www`, `_dmarc`, `*.dev`).
    pub name: String,
    /// IPv4 (A), IPv6 (AAAA), a host name (CNAME, MX, NS), text (TXT), `weight port target` (SRV),
    /// `flags tag "value"` (CAA).
    pub value: String,
    /// Seconds, 60 to 86400 (default 3600).
    pub ttl: Option<i64>,
    /// Required for MX and SRV (0-65535); refused for other types.
    pub priority: Option<i64>,
    /// Accepted (as on every POST) and ignored: an upsert is safe to retry as it is.
    #[serde(rename = "idempotencyKey")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecordResponse {
    pub dns_record: DnsRecordView,
}

async fn set_nameservers(
    app: &App,
    p: &Principal,
    service_id: &str,
    body: NameserversBody,
) -> ApiResult<Json<ServiceResponse>> {
    Ok(Json(ServiceResponse {
        service: app
            .set_nameservers(p, service_id, &body.nameservers)
            .await?,
    }))
}

async fn list(
    app: &App,
    p: &Principal,
    service_id: &str,
    q: ListParams,
) -> ApiResult<Json<Page<DnsRecordView>>> {
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor.as_deref(), "dns_")?;
    Ok(Json(app.list_dns_records(p, service_id, &page).await?))
}

async fn upsert(
    app: &App,
    p: &Principal,
    service_id: &str,
    body: DnsRecordBody,
) -> ApiResult<(StatusCode, Json<DnsRecordResponse>)> {
    let input = RecordInput {
        record_type: body.record_type,
        name: body.name,
        value: body.value,
        ttl: body.ttl,
        priority: body.priority,
    };
    let Upserted { record, created } = app.upsert_dns_record(p, service_id, &input).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(DnsRecordResponse { dns_record: record })))
}

async fn delete(
    app: &App,
    p: &Principal,
    service_id: &str,
    record_id: &str,
) -> ApiResult<Json<DnsRecordResponse>> {
    Ok(Json(DnsRecordResponse {
        dns_record: app.delete_dns_record(p, service_id, record_id).await?,
    }))
}

/// Delegate this agent's domain to 2-13 name servers (`domain_nameservers_set`). Returns the service
/// with `details.nameservers` set.
#[utoipa::path(put, path = "/services/{serviceId}/domain/nameservers", tag = "domains",
    params(("serviceId" = String, Path)), request_body = NameserversBody,
    responses((status = 200, body = ServiceResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse, description = "capability_not_allowed"), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse, description = "invalid_state: the service is not active"),
              (status = 502, body = ErrorResponse, description = "provider_error: the registrar refused or failed")),
    security(("bearer" = [])))]
async fn agent_nameservers_set(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    JsonBody(body): JsonBody<NameserversBody>,
) -> ApiResult<Json<ServiceResponse>> {
    set_nameservers(&app, &p, &service_id, body).await
}

/// The domain's DNS records, newest first (`domain_dns_record_list`).
#[utoipa::path(get, path = "/services/{serviceId}/domain/dns-records", tag = "domains",
    params(("serviceId" = String, Path), ListParams),
    responses((status = 200, body = Page<DnsRecordView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_dns_record_list(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page<DnsRecordView>>> {
    list(&app, &p, &service_id, q).await
}

/// Create or replace a DNS record (`domain_dns_record_upsert`): a record with the same type and name
/// (and, for MX/TXT/NS/SRV/CAA, the same value) is replaced (200), else one is created (201), so a
/// retry is safe. A CNAME cannot share its name with other records and cannot be at `@`.
#[utoipa::path(post, path = "/services/{serviceId}/domain/dns-records", tag = "domains",
    params(("serviceId" = String, Path)), request_body = DnsRecordBody,
    responses((status = 201, body = DnsRecordResponse, description = "created"), (status = 200, body = DnsRecordResponse, description = "replaced"),
              (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse, description = "invalid_state: inactive service or CNAME conflict"),
              (status = 502, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_dns_record_upsert(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    JsonBody(body): JsonBody<DnsRecordBody>,
) -> ApiResult<(StatusCode, Json<DnsRecordResponse>)> {
    upsert(&app, &p, &service_id, body).await
}

/// Delete a DNS record (`domain_dns_record_delete`); returns the removed record.
#[utoipa::path(delete, path = "/services/{serviceId}/domain/dns-records/{recordId}", tag = "domains",
    params(("serviceId" = String, Path), ("recordId" = String, Path)),
    responses((status = 200, body = DnsRecordResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse), (status = 502, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_dns_record_delete(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((service_id, record_id)): Path<(String, String)>,
) -> ApiResult<Json<DnsRecordResponse>> {
    delete(&app, &p, &service_id, &record_id).await
}

/// Delegate any of the account's domains to 2-13 name servers.
#[utoipa::path(put, path = "/services/{serviceId}/domain/nameservers", tag = "domains",
    params(("serviceId" = String, Path)), request_body = NameserversBody,
    responses((status = 200, body = ServiceResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse),
              (status = 502, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_nameservers_set(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    JsonBody(body): JsonBody<NameserversBody>,
) -> ApiResult<Json<ServiceResponse>> {
    set_nameservers(&app, &p, &service_id, body).await
}

/// DNS records of any of the account's domains, newest first.
#[utoipa::path(get, path = "/services/{serviceId}/domain/dns-records", tag = "domains",
    params(("serviceId" = String, Path), ListParams),
    responses((status = 200, body = Page<DnsRecordView>), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_dns_record_list(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    QueryParams(q): QueryParams<ListParams>,
) -> ApiResult<Json<Page<DnsRecordView>>> {
    list(&app, &p, &service_id, q).await
}

/// Create or replace a DNS record of any of the account's domains (same rules as the Agent API).
#[utoipa::path(post, path = "/services/{serviceId}/domain/dns-records", tag = "domains",
    params(("serviceId" = String, Path)), request_body = DnsRecordBody,
    responses((status = 201, body = DnsRecordResponse), (status = 200, body = DnsRecordResponse), (status = 400, body = ErrorResponse),
              (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse), (status = 502, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_dns_record_upsert(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    JsonBody(body): JsonBody<DnsRecordBody>,
) -> ApiResult<(StatusCode, Json<DnsRecordResponse>)> {
    upsert(&app, &p, &service_id, body).await
}

/// Delete a DNS record of any of the account's domains.
#[utoipa::path(delete, path = "/services/{serviceId}/domain/dns-records/{recordId}", tag = "domains",
    params(("serviceId" = String, Path), ("recordId" = String, Path)),
    responses((status = 200, body = DnsRecordResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse), (status = 502, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_dns_record_delete(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((service_id, record_id)): Path<(String, String)>,
) -> ApiResult<Json<DnsRecordResponse>> {
    delete(&app, &p, &service_id, &record_id).await
}
