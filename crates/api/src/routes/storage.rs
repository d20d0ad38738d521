//! Storage routes (SPEC section 9, `storage_service`) for the owning agent (`/v1/agent/...`) and the
//! account (`/v1/account/...`): bucket credentials, volume attach / detach / expand, snapshots.

use agent_store_app::services::ServiceView;
use agent_store_app::storage::{BucketCredentialsView, SnapshotView};
use agent_store_app::{App, Principal};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shared::{ActionBody, ServiceResponse, require_key, stored};
use crate::error::{ApiResult, ErrorResponse};
use crate::extract::{JsonBody, KeyedJson, OptionalJsonBody};

/// Agent API routes (mounted under `/v1/agent`).
pub fn agent_router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(agent_bucket_credentials))
        .routes(routes!(agent_volume_attach))
        .routes(routes!(agent_volume_detach))
        .routes(routes!(agent_volume_expand))
        .routes(routes!(agent_snapshot_list, agent_snapshot_create))
        .routes(routes!(agent_snapshot_restore))
}

/// Account API routes (mounted under `/v1/account`).
pub fn account_router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(account_bucket_credentials))
        .routes(routes!(account_volume_attach))
        .routes(routes!(account_volume_detach))
        .routes(routes!(account_volume_expand))
        .routes(routes!(account_snapshot_list, account_snapshot_create))
        .routes(routes!(account_snapshot_restore))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CredentialsBody {
    /// A name for the key (default `default`).
    pub label: Option<String>,
    /// read or read_write (default read_write)
    pub access: Option<String>,
    /// Accepted and ignored: each call issues a new key.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialsResponse {
    pub credentials: BucketCredentialsView,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttachBody {
    /// A server service (`svc_...`) of the same agent, in the volume's region.
    pub server_service_id: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpandBody {
    /// The new capacity in GB: larger than the current one, at most the item's maximum.
    #[schema(value_type = i64)]
    pub capacity_gb: Option<Value>,
    /// Required (or the Idempotency-Key header). Reuse the same key when retrying.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotBody {
    /// An optional name for the snapshot.
    pub label: Option<String>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotResponse {
    pub snapshot: SnapshotView,
    pub service: ServiceView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotList {
    pub items: Vec<SnapshotView>,
    /// Always null: a volume keeps at most 50 snapshots, all on one page.
    pub next_cursor: Option<String>,
}

async fn credentials(
    app: &App,
    p: &Principal,
    id: &str,
    b: CredentialsBody,
) -> ApiResult<(StatusCode, Json<CredentialsResponse>)> {
    let credentials = app
        .create_bucket_credentials(p, id, b.label.as_deref(), b.access.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CredentialsResponse { credentials }),
    ))
}

async fn attach(
    app: &App,
    p: &Principal,
    id: &str,
    b: AttachBody,
) -> ApiResult<Json<ServiceResponse>> {
    Ok(Json(ServiceResponse {
        service: app
            .attach_volume(p, id, b.server_service_id.as_deref())
            .await?,
    }))
}

async fn detach(app: &App, p: &Principal, id: &str) -> ApiResult<Json<ServiceResponse>> {
    Ok(Json(ServiceResponse {
        service: app.detach_volume(p, id).await?,
    }))
}

async fn expand(
    app: &App,
    p: &Principal,
    id: &str,
    req: KeyedJson<ExpandBody>,
) -> ApiResult<Response> {
    let keyed = require_key(req.keyed)?;
    Ok(stored(
        app.expand_volume(p, id, req.body.capacity_gb.as_ref(), &keyed)
            .await?,
    ))
}

async fn snapshot(
    app: &App,
    p: &Principal,
    id: &str,
    b: SnapshotBody,
) -> ApiResult<(StatusCode, Json<SnapshotResponse>)> {
    let (snapshot, service) = app.create_snapshot(p, id, b.label.as_deref()).await?;
    Ok((
        StatusCode::CREATED,
        Json(SnapshotResponse { snapshot, service }),
    ))
}

async fn snapshots(app: &App, p: &Principal, id: &str) -> ApiResult<Json<SnapshotList>> {
    Ok(Json(SnapshotList {
        items: app.list_snapshots(p, id).await?,
        next_cursor: None,
    }))
}

async fn restore(
    app: &App,
    p: &Principal,
    id: &str,
    snapshot_id: &str,
) -> ApiResult<Json<SnapshotResponse>> {
    let (snapshot, service) = app.restore_snapshot(p, id, snapshot_id).await?;
    Ok(Json(SnapshotResponse { snapshot, service }))
}

/// Create an access key for an object storage bucket (`storage_bucket_credentials_create`). The
/// `secretAccessKey` is in this response only; only a hash of it is stored.
#[utoipa::path(post, path = "/services/{serviceId}/storage/bucket-credentials", tag = "storage",
    params(("serviceId" = String, Path)), request_body = CredentialsBody,
    responses((status = 201, body = CredentialsResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse, description = "capability_not_allowed"), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse, description = "invalid_state")),
    security(("bearer" = [])))]
async fn agent_bucket_credentials(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJsonBody(b): OptionalJsonBody<CredentialsBody>,
) -> ApiResult<(StatusCode, Json<CredentialsResponse>)> {
    credentials(&app, &p, &id, b).await
}

/// Attach a block volume to a server of the same agent in the same region
/// (`storage_volume_attach`); a volume is attached to one server at a time.
#[utoipa::path(post, path = "/services/{serviceId}/storage/volume/attach", tag = "storage",
    params(("serviceId" = String, Path)), request_body = AttachBody,
    responses((status = 200, body = ServiceResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_volume_attach(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<AttachBody>,
) -> ApiResult<Json<ServiceResponse>> {
    attach(&app, &p, &id, b).await
}

/// Detach a block volume from its server (`storage_volume_detach`; capability
/// `storage:volume:attach`).
#[utoipa::path(post, path = "/services/{serviceId}/storage/volume/detach", tag = "storage",
    params(("serviceId" = String, Path)), request_body = ActionBody,
    responses((status = 200, body = ServiceResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_volume_detach(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJsonBody(_b): OptionalJsonBody<ActionBody>,
) -> ApiResult<Json<ServiceResponse>> {
    detach(&app, &p, &id).await
}

/// Grow a block volume (`storage_volume_expand`): a spend of the prorated monthly price difference
/// for the rest of the billing month, policy checked and idempotent.
#[utoipa::path(post, path = "/services/{serviceId}/storage/volume/expand", tag = "storage",
    params(("serviceId" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Alternative to the idempotencyKey body field")),
    request_body = ExpandBody,
    responses((status = 201, description = "{\"expansion\": {...}, \"service\": {...}}"), (status = 400, body = ErrorResponse),
              (status = 401, body = ErrorResponse), (status = 402, body = ErrorResponse, description = "insufficient_funds"),
              (status = 403, body = ErrorResponse, description = "policy_denied, capability_not_allowed"), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse), (status = 502, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_volume_expand(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: KeyedJson<ExpandBody>,
) -> ApiResult<Response> {
    expand(&app, &p, &id, req).await
}

/// Snapshot a block volume (`storage_snapshot_create`).
#[utoipa::path(post, path = "/services/{serviceId}/storage/snapshots", tag = "storage",
    params(("serviceId" = String, Path)), request_body = SnapshotBody,
    responses((status = 201, body = SnapshotResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_snapshot_create(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJsonBody(b): OptionalJsonBody<SnapshotBody>,
) -> ApiResult<(StatusCode, Json<SnapshotResponse>)> {
    snapshot(&app, &p, &id, b).await
}

/// The volume's snapshots, newest first (`storage_snapshot_list`; capability
/// `storage:snapshot:create`).
#[utoipa::path(get, path = "/services/{serviceId}/storage/snapshots", tag = "storage",
    params(("serviceId" = String, Path)),
    responses((status = 200, body = SnapshotList), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_snapshot_list(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<SnapshotList>> {
    snapshots(&app, &p, &id).await
}

/// Replace the volume's contents with a snapshot's (`storage_snapshot_restore`; destructive).
#[utoipa::path(post, path = "/services/{serviceId}/storage/snapshots/{snapshotId}/restore", tag = "storage",
    params(("serviceId" = String, Path), ("snapshotId" = String, Path)), request_body = ActionBody,
    responses((status = 200, body = SnapshotResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_snapshot_restore(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((id, snapshot_id)): Path<(String, String)>,
    OptionalJsonBody(_b): OptionalJsonBody<ActionBody>,
) -> ApiResult<Json<SnapshotResponse>> {
    restore(&app, &p, &id, &snapshot_id).await
}

/// Create an access key for any of the account's buckets.
#[utoipa::path(post, path = "/services/{serviceId}/storage/bucket-credentials", tag = "storage",
    params(("serviceId" = String, Path)), request_body = CredentialsBody,
    responses((status = 201, body = CredentialsResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_bucket_credentials(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJsonBody(b): OptionalJsonBody<CredentialsBody>,
) -> ApiResult<(StatusCode, Json<CredentialsResponse>)> {
    credentials(&app, &p, &id, b).await
}

/// Attach any of the account's volumes to a server of the volume's agent in its region.
#[utoipa::path(post, path = "/services/{serviceId}/storage/volume/attach", tag = "storage",
    params(("serviceId" = String, Path)), request_body = AttachBody,
    responses((status = 200, body = ServiceResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_volume_attach(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<AttachBody>,
) -> ApiResult<Json<ServiceResponse>> {
    attach(&app, &p, &id, b).await
}

/// Detach any of the account's volumes.
#[utoipa::path(post, path = "/services/{serviceId}/storage/volume/detach", tag = "storage",
    params(("serviceId" = String, Path)), request_body = ActionBody,
    responses((status = 200, body = ServiceResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_volume_detach(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJsonBody(_b): OptionalJsonBody<ActionBody>,
) -> ApiResult<Json<ServiceResponse>> {
    detach(&app, &p, &id).await
}

/// Grow any of the account's volumes (a prorated, policy-checked, idempotent spend).
#[utoipa::path(post, path = "/services/{serviceId}/storage/volume/expand", tag = "storage",
    params(("serviceId" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "Alternative to the idempotencyKey body field")),
    request_body = ExpandBody,
    responses((status = 201, description = "{\"expansion\": {...}, \"service\": {...}}"), (status = 400, body = ErrorResponse),
              (status = 401, body = ErrorResponse), (status = 402, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse),
              (status = 502, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_volume_expand(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    req: KeyedJson<ExpandBody>,
) -> ApiResult<Response> {
    expand(&app, &p, &id, req).await
}

/// Snapshot any of the account's volumes.
#[utoipa::path(post, path = "/services/{serviceId}/storage/snapshots", tag = "storage",
    params(("serviceId" = String, Path)), request_body = SnapshotBody,
    responses((status = 201, body = SnapshotResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_snapshot_create(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJsonBody(b): OptionalJsonBody<SnapshotBody>,
) -> ApiResult<(StatusCode, Json<SnapshotResponse>)> {
    snapshot(&app, &p, &id, b).await
}

/// Snapshots of any of the account's volumes.
#[utoipa::path(get, path = "/services/{serviceId}/storage/snapshots", tag = "storage",
    params(("serviceId" = String, Path)),
    responses((status = 200, body = SnapshotList), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_snapshot_list(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> ApiResult<Json<SnapshotList>> {
    snapshots(&app, &p, &id).await
}

/// Restore a snapshot of any of the account's volumes (destructive).
#[utoipa::path(post, path = "/services/{serviceId}/storage/snapshots/{snapshotId}/restore", tag = "storage",
    params(("serviceId" = String, Path), ("snapshotId" = String, Path)), request_body = ActionBody,
    responses((status = 200, body = SnapshotResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_snapshot_restore(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path((id, snapshot_id)): Path<(String, String)>,
    OptionalJsonBody(_b): OptionalJsonBody<ActionBody>,
) -> ApiResult<Json<SnapshotResponse>> {
    restore(&app, &p, &id, &snapshot_id).await
}
