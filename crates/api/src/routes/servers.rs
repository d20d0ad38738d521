//! Server management routes of a `server` service, for the owning agent (`/v1/agent/...`) and for the
//! account (`/v1/account/...`): restart, reinstall, power on/off. Each answers with the service: 202
//! while the action runs (`details.powerState` is transitional), 200 when there was nothing to do.
//! An idempotency key (body `idempotencyKey` or `Idempotency-Key` header) makes a retry replay the
//! first answer instead of acting twice.

use agent_store_app::servers::ServerCommand;
use agent_store_app::{App, Principal};
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::shared::{ServiceResponse, stored};
use crate::error::{ApiResult, ErrorResponse};
use crate::extract::KeyedJson;

/// Agent API routes (mounted under `/v1/agent`).
pub fn agent_router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(agent_server_restart))
        .routes(routes!(agent_server_reinstall))
        .routes(routes!(agent_server_power))
}

/// Account API routes (mounted under `/v1/account`).
pub fn account_router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(account_server_restart))
        .routes(routes!(account_server_reinstall))
        .routes(routes!(account_server_power))
}

/// Body of `POST .../server/restart` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartBody {
    /// Optional: a retry with the same key replays the first answer instead of restarting again.
    #[serde(rename = "idempotencyKey")]
    pub idempotency_key: Option<String>,
}

/// Body of `POST .../server/reinstall`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReinstallBody {
    /// One of the item's `supportedImages` (`nvidia-ai-ubuntu` only on GPU servers). Required (a
    /// missing image is reported on the `image` field).
    #[serde(default)]
    pub image: String,
    /// Optional: a retry with the same key replays the first answer instead of reinstalling again.
    #[serde(rename = "idempotencyKey")]
    pub idempotency_key: Option<String>,
}

/// Body of `POST .../server/power`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerBody {
    /// `on` or `off`. Required (a missing state is reported on the `state` field).
    #[serde(default)]
    pub state: String,
    /// Optional, as on every POST.
    #[serde(rename = "idempotencyKey")]
    pub idempotency_key: Option<String>,
}

async fn act(
    app: &App,
    p: &Principal,
    service_id: &str,
    command: ServerCommand,
    keyed: Option<agent_store_app::idempotency::Keyed>,
) -> ApiResult<Response> {
    Ok(stored(
        app.server_action(p, service_id, command, keyed.as_ref())
            .await?,
    ))
}

/// Restart this agent's server (`server_restart`). Answers 202 with `details.powerState`
/// `restarting`; poll the service until it is `running`. 409 `invalid_state` while another action
/// runs or when the server is stopped.
#[utoipa::path(post, path = "/services/{serviceId}/server/restart", tag = "servers",
    params(("serviceId" = String, Path)), request_body(content = Option<RestartBody>),
    responses((status = 202, body = ServiceResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse, description = "capability_not_allowed"), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse, description = "invalid_state")),
    security(("bearer" = [])))]
async fn agent_server_restart(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    req: KeyedJson<RestartBody>,
) -> ApiResult<Response> {
    act(&app, &p, &service_id, ServerCommand::Restart, req.keyed).await
}

/// Wipe and reinstall this agent's server with another image (`server_reinstall`). Answers 202 with
/// `details.powerState` `reinstalling`; it is `running` with the new `details.image` when done.
#[utoipa::path(post, path = "/services/{serviceId}/server/reinstall", tag = "servers",
    params(("serviceId" = String, Path)), request_body = ReinstallBody,
    responses((status = 202, body = ServiceResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_server_reinstall(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    req: KeyedJson<ReinstallBody>,
) -> ApiResult<Response> {
    let command = ServerCommand::Reinstall(req.body.image);
    act(&app, &p, &service_id, command, req.keyed).await
}

/// Power this agent's server on or off (`server_power`). 202 with `starting` / `stopping`, or 200 if
/// it is already in that state.
#[utoipa::path(post, path = "/services/{serviceId}/server/power", tag = "servers",
    params(("serviceId" = String, Path)), request_body = PowerBody,
    responses((status = 202, body = ServiceResponse), (status = 200, body = ServiceResponse, description = "already in that state"),
              (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
              (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn agent_server_power(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    req: KeyedJson<PowerBody>,
) -> ApiResult<Response> {
    let command = ServerCommand::Power(req.body.state);
    act(&app, &p, &service_id, command, req.keyed).await
}

/// Restart any of the account's servers.
#[utoipa::path(post, path = "/services/{serviceId}/server/restart", tag = "servers",
    params(("serviceId" = String, Path)), request_body(content = Option<RestartBody>),
    responses((status = 202, body = ServiceResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_server_restart(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    req: KeyedJson<RestartBody>,
) -> ApiResult<Response> {
    act(&app, &p, &service_id, ServerCommand::Restart, req.keyed).await
}

/// Reinstall any of the account's servers.
#[utoipa::path(post, path = "/services/{serviceId}/server/reinstall", tag = "servers",
    params(("serviceId" = String, Path)), request_body = ReinstallBody,
    responses((status = 202, body = ServiceResponse), (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
              (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_server_reinstall(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    req: KeyedJson<ReinstallBody>,
) -> ApiResult<Response> {
    let command = ServerCommand::Reinstall(req.body.image);
    act(&app, &p, &service_id, command, req.keyed).await
}

/// Power any of the account's servers on or off.
#[utoipa::path(post, path = "/services/{serviceId}/server/power", tag = "servers",
    params(("serviceId" = String, Path)), request_body = PowerBody,
    responses((status = 202, body = ServiceResponse), (status = 200, body = ServiceResponse), (status = 400, body = ErrorResponse),
              (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
              (status = 409, body = ErrorResponse)),
    security(("bearer" = [])))]
async fn account_server_power(
    State(app): State<App>,
    Extension(p): Extension<Principal>,
    Path(service_id): Path<String>,
    req: KeyedJson<PowerBody>,
) -> ApiResult<Response> {
    let command = ServerCommand::Power(req.body.state);
    act(&app, &p, &service_id, command, req.keyed).await
}
