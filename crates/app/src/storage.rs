//! Storage services (SPEC section 9, `storage_service`): object storage access keys, and block
//! volumes attached to the same agent's servers, expanded (a prorated, policy-checked, idempotent
//! spend), snapshotted and restored. Provider calls go through [`agent_store_providers::Storage`]
//! outside any database transaction; the volume's details (attachment, capacity, snapshots) change
//! with a compare-and-set, so two concurrent changes of one volume never both apply.
//!
//! Detach has no capability of its own: it is the reverse of attach and needs
//! `storage:volume:attach`. Listing snapshots needs `storage:snapshot:create`.

use agent_store_core::ids::{IdKind, new_id};
use agent_store_core::money::{CURRENCY, format_minor};
use agent_store_core::time::{format_rfc3339, now_ms};
use agent_store_store::ledger;
use agent_store_store::services::{self, Service};
use agent_store_store::storage_objects::{self, StorageCredential};
use agent_store_store::{accounts, commit};
use serde::Serialize;
use serde_json::{Value, json};

use crate::idempotency::{Keyed, StoredResponse, scope};
use crate::manage::{Action, ServiceState};
use crate::service_payments::PaymentRequest;
use crate::services::ServiceView;
use crate::{App, AppError, AppResult, Principal};

pub const CREDENTIALS: Action = Action::new(
    "storage_service",
    "storage:bucket-credentials:create",
    ServiceState::Active,
);
pub const ATTACH: Action = Action::new(
    "storage_service",
    "storage:volume:attach",
    ServiceState::Active,
);
pub const EXPAND: Action = Action::new(
    "storage_service",
    "storage:volume:expand",
    ServiceState::Active,
);
pub const SNAPSHOT: Action = Action::new(
    "storage_service",
    "storage:snapshot:create",
    ServiceState::Active,
);
pub const SNAPSHOT_LIST: Action = Action::new(
    "storage_service",
    "storage:snapshot:create",
    ServiceState::Provisioned,
);
pub const RESTORE: Action = Action::new(
    "storage_service",
    "storage:snapshot:restore",
    ServiceState::Active,
);

/// Most snapshots kept per volume.
pub const MAX_SNAPSHOTS: usize = 50;
/// Longest credential label.
const MAX_LABEL_LEN: usize = 100;

/// `{"credentials": {...}}`: the secret is in this response only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BucketCredentialsView {
    pub id: String,
    pub label: String,
    /// read or read_write
    pub access: String,
    pub access_key_id: String,
    /// Shown once: store it now.
    pub secret_access_key: String,
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub created_at: String,
}

/// A snapshot of a block volume.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotView {
    pub id: String,
    pub label: Option<String>,
    /// The volume's capacity when the snapshot was taken.
    pub capacity_gb: i64,
    /// available
    pub status: String,
    pub created_at: String,
    pub last_restored_at: Option<String>,
    /// The storage provider's id of the snapshot.
    pub provider_ref: String,
}

fn details_of(service: &Service) -> Value {
    serde_json::from_str(&service.details).unwrap_or_else(|_| json!({}))
}

fn provider_error(err: agent_store_providers::ProviderError) -> AppError {
    AppError::ProviderError(err.to_string())
}

fn snapshots_of(details: &Value) -> Vec<SnapshotView> {
    details
        .get("snapshots")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn volume_ref(service: &Service) -> AppResult<String> {
    service
        .provider_ref
        .clone()
        .ok_or_else(|| AppError::Conflict("the volume has not been created yet".to_owned()))
}

impl App {
    /// Apply `change` to the details of `service` (as read by the caller), re-checking the gate in the
    /// transaction; 409 if another change came first.
    async fn change_volume(
        &self,
        principal: &Principal,
        service: &Service,
        action: Action,
        details: &Value,
        audit: Value,
    ) -> AppResult<ServiceView> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        let current = self
            .managed_service(&mut tx, principal, &service.id, action)
            .await?;
        let text = details.to_string();
        if current.details != service.details
            || !storage_objects::swap_details(&mut tx, &service.id, &service.details, &text, now)
                .await?
        {
            return Err(AppError::Conflict(
                "the volume was changed by another request; read it again and retry".to_owned(),
            ));
        }
        self.record_service_action(&mut tx, principal, &current, action, audit)
            .await?;
        let updated = services::get_by_id(&mut *tx, &service.id)
            .await?
            .ok_or(AppError::NotFound("service"))?;
        let view = self.service_view(&mut tx, updated).await?;
        commit(tx).await?;
        Ok(view)
    }

    async fn gate(
        &self,
        principal: &Principal,
        service_id: &str,
        action: Action,
    ) -> AppResult<Service> {
        let mut conn = self.store().acquire().await?;
        self.managed_service(&mut conn, principal, service_id, action)
            .await
    }

    /// `POST /services/{id}/storage/bucket-credentials`: an access key for an object bucket.
    pub async fn create_bucket_credentials(
        &self,
        principal: &Principal,
        service_id: &str,
        label: Option<&str>,
        access: Option<&str>,
    ) -> AppResult<BucketCredentialsView> {
        let mut fields = agent_store_core::FieldErrors::new();
        let label = label.unwrap_or("default").trim().to_owned();
        if label.is_empty()
            || label.chars().count() > MAX_LABEL_LEN
            || label.chars().any(char::is_control)
        {
            fields.push("label", "must be 1 to 100 printable characters");
        }
        let access = access.unwrap_or("read_write");
        if !matches!(access, "read" | "read_write") {
            fields.push("access", "must be read or read_write");
        }
        fields.finish(()).map_err(AppError::validation)?;
        let service = self.gate(principal, service_id, CREDENTIALS).await?;
        let details = details_of(&service);
        let bucket_ref = volume_ref(&service)?;
        let keys = self
            .providers()
            .storage
            .issue_bucket_keys(&bucket_ref, access)
            .await
            .map_err(provider_error)?;
        let now = now_ms();
        let credential = StorageCredential {
            id: new_id(IdKind::Credential),
            account_id: service.account_id.clone(),
            service_id: service.id.clone(),
            label: label.clone(),
            access: access.to_owned(),
            access_key_id: keys.access_key_id.clone(),
            secret_hash: self.pepper().hash(&keys.secret_access_key),
            created_at: now,
            revoked_at: None,
        };
        let mut tx = self.store().begin_write().await?;
        let current = self
            .managed_service(&mut tx, principal, service_id, CREDENTIALS)
            .await?;
        storage_objects::insert_credential(&mut *tx, &credential).await?;
        self.record_service_action(
            &mut tx,
            principal,
            &current,
            CREDENTIALS,
            json!({"credentialId": credential.id, "accessKeyId": credential.access_key_id, "access": access}),
        )
        .await?;
        commit(tx).await?;
        let text = |name: &str| {
            details
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(BucketCredentialsView {
            id: credential.id,
            label,
            access: access.to_owned(),
            access_key_id: keys.access_key_id,
            secret_access_key: keys.secret_access_key,
            endpoint: text("endpoint"),
            bucket: text("bucketName"),
            region: text("region"),
            created_at: format_rfc3339(now),
        })
    }

    /// `POST /services/{id}/storage/volume/attach`: attach the volume to one of the same agent's
    /// active servers in the same region. Attaching to the server it is attached to changes nothing.
    pub async fn attach_volume(
        &self,
        principal: &Principal,
        service_id: &str,
        server_service_id: Option<&str>,
    ) -> AppResult<ServiceView> {
        let Some(server_id) = server_service_id.filter(|s| !s.is_empty()) else {
            return Err(AppError::invalid_field("serverServiceId", "is required"));
        };
        let service = self.gate(principal, service_id, ATTACH).await?;
        let server = services::get(
            self.store().pool(),
            principal.account_id(),
            principal.agent_id(),
            server_id,
        )
        .await?
        .filter(|s| s.service_type == "server" && s.agent_id == service.agent_id)
        .ok_or_else(|| {
            AppError::invalid_field(
                "serverServiceId",
                "is not a server of the agent that owns this volume",
            )
        })?;
        if server.status != "active" {
            return Err(AppError::Conflict(format!(
                "the server is {}; a volume attaches to an active server",
                server.status
            )));
        }
        let mut details = details_of(&service);
        let region = details
            .get("region")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let server_region = details_of(&server)
            .get("region")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                serde_json::from_str::<Value>(&server.configuration)
                    .ok()
                    .and_then(|c| c.get("region").and_then(Value::as_str).map(str::to_owned))
            })
            .unwrap_or_default();
        if server_region != region {
            return Err(AppError::invalid_field(
                "serverServiceId",
                &format!("is in region {server_region}; the volume is in {region}"),
            ));
        }
        match details.get("attachedToServiceId").and_then(Value::as_str) {
            Some(current) if current == server.id => {
                let mut conn = self.store().acquire().await?;
                return self.service_view(&mut conn, service).await;
            }
            Some(other) => {
                return Err(AppError::Conflict(format!(
                    "the volume is attached to {other}; detach it first"
                )));
            }
            None => {}
        }
        let server_ref = server
            .provider_ref
            .clone()
            .ok_or_else(|| AppError::Conflict("the server has not been created yet".to_owned()))?;
        self.providers()
            .storage
            .attach_volume(&volume_ref(&service)?, &server_ref)
            .await
            .map_err(provider_error)?;
        details["attachedToServiceId"] = json!(server.id);
        self.change_volume(
            principal,
            &service,
            ATTACH,
            &details,
            json!({"serverServiceId": server.id}),
        )
        .await
    }

    /// `POST /services/{id}/storage/volume/detach` (capability `storage:volume:attach`). Detaching a
    /// detached volume changes nothing.
    pub async fn detach_volume(
        &self,
        principal: &Principal,
        service_id: &str,
    ) -> AppResult<ServiceView> {
        let service = self.gate(principal, service_id, ATTACH).await?;
        let mut details = details_of(&service);
        let Some(server) = details
            .get("attachedToServiceId")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            let mut conn = self.store().acquire().await?;
            return self.service_view(&mut conn, service).await;
        };
        self.providers()
            .storage
            .detach_volume(&volume_ref(&service)?)
            .await
            .map_err(provider_error)?;
        details["attachedToServiceId"] = Value::Null;
        self.change_volume(
            principal,
            &service,
            ATTACH,
            &details,
            json!({"detachedFromServiceId": server}),
        )
        .await
    }

    /// The prorated price of growing `service` to `capacity_gb`: the monthly price difference
    /// (priced by the catalog, which also validates the capacity) times the part of the current
    /// billing month that is left, rounded up to the cent. Returns (current GB, amount in cents).
    fn expansion_price(
        &self,
        service: &Service,
        capacity_gb: i64,
        now: i64,
    ) -> AppResult<(i64, i64)> {
        let item = self
            .catalog()
            .item(&service.catalog_item_id)
            .ok_or_else(|| {
                AppError::Conflict("the volume's catalog item is no longer offered".to_owned())
            })?;
        let configuration: Value =
            serde_json::from_str(&service.configuration).unwrap_or_else(|_| json!({}));
        let current = details_of(service)
            .get("capacityGb")
            .and_then(Value::as_i64)
            .or_else(|| configuration.get("capacityGb").and_then(Value::as_i64))
            .unwrap_or(0);
        if capacity_gb <= current {
            return Err(AppError::invalid_field(
                "capacityGb",
                &format!("must be larger than the current {current} GB (volumes only grow)"),
            ));
        }
        let monthly = |gb: i64| -> AppResult<i64> {
            let mut config = configuration.clone();
            config["capacityGb"] = json!(gb);
            self.catalog()
                .price(item, 1, Some(&config))
                .map(|q| q.total_price_minor)
                .map_err(|errors| {
                    let message = errors
                        .iter()
                        .find(|e| e.field.ends_with("capacityGb"))
                        .map_or_else(|| "is not accepted".to_owned(), |e| e.message.clone());
                    AppError::invalid_field("capacityGb", &message)
                })
        };
        let difference = i128::from(monthly(capacity_gb)? - monthly(current)?);
        let (start, end) = (service.created_at, service.renews_at.unwrap_or(0));
        let period = i128::from(end - start);
        let left = i128::from(end - now);
        let amount = if period <= 0 || left <= 0 || left >= period {
            difference
        } else {
            (difference * left + period - 1) / period
        };
        Ok((current, i64::try_from(amount).unwrap_or(i64::MAX)))
    }

    /// `POST /services/{id}/storage/volume/expand`: grow the volume, paying the prorated difference
    /// from the wallet (policy checked; idempotent with the key). The charge commits with the new
    /// capacity and the stored response; if the provider then refuses the expansion, the payment is
    /// refunded in full, the capacity restored and the key released (a retry tries again).
    pub async fn expand_volume(
        &self,
        principal: &Principal,
        service_id: &str,
        capacity_gb: Option<&Value>,
        keyed: &Keyed,
    ) -> AppResult<StoredResponse> {
        let capacity_gb = match capacity_gb {
            None => return Err(AppError::invalid_field("capacityGb", "is required")),
            Some(v) => v.as_i64().ok_or_else(|| {
                AppError::invalid_field("capacityGb", "must be an integer number of GB")
            })?,
        };
        let scope = scope(principal);
        if let Some(replay) = self.idempotent_lookup(None, &scope, keyed).await? {
            return Ok(replay);
        }
        let mut tx = self.store().begin_write().await?;
        accounts::lock_for_spend(&mut tx, principal.account_id()).await?;
        if let Some(replay) = self.idempotent_lookup(Some(&mut tx), &scope, keyed).await? {
            return Ok(replay);
        }
        let service = self
            .managed_service(&mut tx, principal, service_id, EXPAND)
            .await?;
        let now = now_ms();
        let (current, amount_minor) = self.expansion_price(&service, capacity_gb, now)?;
        let volume = volume_ref(&service)?;
        let category = self
            .catalog()
            .item(&service.catalog_item_id)
            .map_or("storage", |i| i.category())
            .to_owned();
        let payment = if amount_minor > 0 {
            let request = PaymentRequest {
                kind: "volume_expand",
                service: &service,
                amount_minor,
                category: &category,
                credit_to: ledger::REVENUE.to_owned(),
                transaction_kind: "capture",
                description: format!(
                    "Expansion of {} from {current} GB to {capacity_gb} GB ({} USD, prorated)",
                    service.display_name,
                    format_minor(amount_minor)
                ),
                detail: json!({"fromCapacityGb": current, "toCapacityGb": capacity_gb}),
            };
            match self
                .pay_for_service(&mut tx, principal, &request, now)
                .await
            {
                Ok(p) => Some(p),
                Err(AppError::PolicyDenied { summary, reasons }) => {
                    drop(tx);
                    self.audit_denied_payment(principal, service_id, EXPAND.capability, &reasons)
                        .await?;
                    return Err(AppError::PolicyDenied { summary, reasons });
                }
                Err(other) => return Err(other),
            }
        } else {
            None
        };
        let mut details = details_of(&service);
        details["capacityGb"] = json!(capacity_gb);
        let text = details.to_string();
        if !storage_objects::swap_details(&mut tx, &service.id, &service.details, &text, now)
            .await?
        {
            return Err(AppError::Conflict(
                "the volume was changed by another request; retry".to_owned(),
            ));
        }
        self.record_service_action(
            &mut tx,
            principal,
            &service,
            EXPAND,
            json!({"fromCapacityGb": current, "toCapacityGb": capacity_gb, "amountMinor": amount_minor,
                   "paymentId": payment.as_ref().map(|p| p.id.clone())}),
        )
        .await?;
        let updated = services::get_by_id(&mut *tx, &service.id)
            .await?
            .ok_or(AppError::NotFound("service"))?;
        let view = self.service_view(&mut tx, updated).await?;
        let body = json!({
            "expansion": {
                "id": payment.as_ref().map(|p| p.id.clone()),
                "serviceId": service.id,
                "fromCapacityGb": current,
                "toCapacityGb": capacity_gb,
                "amountMinor": amount_minor,
                "currency": CURRENCY,
                "transactionId": payment.as_ref().map(|p| p.transaction_id.clone()),
                "createdAt": format_rfc3339(now),
            },
            "service": view,
        })
        .to_string();
        self.idempotent_store(&mut tx, &scope, keyed, 201, &body)
            .await?;
        commit(tx).await?;
        if let Err(err) = self
            .providers()
            .storage
            .expand_volume(&volume, capacity_gb)
            .await
        {
            self.undo_expansion(
                principal,
                &service,
                &text,
                payment.as_ref(),
                &scope,
                keyed,
                &err.to_string(),
            )
            .await?;
            return Err(provider_error(err));
        }
        Ok(StoredResponse {
            status: 201,
            body,
            replayed: false,
        })
    }

    /// The provider refused a paid expansion: refund it, restore the capacity, release the key.
    #[expect(
        clippy::too_many_arguments,
        reason = "the undo needs everything the expansion changed"
    )]
    async fn undo_expansion(
        &self,
        principal: &Principal,
        service: &Service,
        expanded_details: &str,
        payment: Option<&agent_store_store::service_payments::ServicePayment>,
        scope: &str,
        keyed: &Keyed,
        reason: &str,
    ) -> AppResult<()> {
        let now = now_ms();
        let mut tx = self.store().begin_write().await?;
        accounts::lock_for_spend(&mut tx, principal.account_id()).await?;
        if let Some(payment) = payment {
            self.refund_service_payment(&mut tx, payment, ledger::REVENUE, reason, now)
                .await?;
        }
        storage_objects::swap_details(
            &mut tx,
            &service.id,
            expanded_details,
            &service.details,
            now,
        )
        .await?;
        storage_objects::release_idempotency_key(&mut tx, scope, &keyed.key).await?;
        commit(tx).await?;
        Ok(())
    }

    /// `POST /services/{id}/storage/snapshots`: snapshot the volume.
    pub async fn create_snapshot(
        &self,
        principal: &Principal,
        service_id: &str,
        label: Option<&str>,
    ) -> AppResult<(SnapshotView, ServiceView)> {
        if let Some(label) = label
            && (label.trim().is_empty()
                || label.chars().count() > MAX_LABEL_LEN
                || label.chars().any(char::is_control))
        {
            return Err(AppError::invalid_field(
                "label",
                "must be 1 to 100 printable characters",
            ));
        }
        let service = self.gate(principal, service_id, SNAPSHOT).await?;
        let mut details = details_of(&service);
        let mut snapshots = snapshots_of(&details);
        if snapshots.len() >= MAX_SNAPSHOTS {
            return Err(AppError::Conflict(format!(
                "the volume has {MAX_SNAPSHOTS} snapshots, the most kept; none can be added"
            )));
        }
        let id = new_id(IdKind::Snapshot);
        let provider_ref = self
            .providers()
            .storage
            .create_snapshot(&volume_ref(&service)?, &id)
            .await
            .map_err(provider_error)?;
        let snapshot = SnapshotView {
            id: id.clone(),
            label: label.map(|l| l.trim().to_owned()),
            capacity_gb: details
                .get("capacityGb")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            status: "available".to_owned(),
            created_at: format_rfc3339(now_ms()),
            last_restored_at: None,
            provider_ref,
        };
        snapshots.insert(0, snapshot.clone());
        details["snapshots"] = json!(snapshots);
        let view = self
            .change_volume(
                principal,
                &service,
                SNAPSHOT,
                &details,
                json!({"snapshotId": id}),
            )
            .await?;
        Ok((snapshot, view))
    }

    /// `GET /services/{id}/storage/snapshots`: newest first (capability `storage:snapshot:create`).
    pub async fn list_snapshots(
        &self,
        principal: &Principal,
        service_id: &str,
    ) -> AppResult<Vec<SnapshotView>> {
        let service = self.gate(principal, service_id, SNAPSHOT_LIST).await?;
        Ok(snapshots_of(&details_of(&service)))
    }

    /// `POST /services/{id}/storage/snapshots/{snapshotId}/restore`: replace the volume's contents
    /// with the snapshot's (the capacity stays: a volume never shrinks).
    pub async fn restore_snapshot(
        &self,
        principal: &Principal,
        service_id: &str,
        snapshot_id: &str,
    ) -> AppResult<(SnapshotView, ServiceView)> {
        let service = self.gate(principal, service_id, RESTORE).await?;
        let mut details = details_of(&service);
        let mut snapshots = snapshots_of(&details);
        let Some(position) = snapshots.iter().position(|s| s.id == snapshot_id) else {
            return Err(AppError::NotFound("snapshot"));
        };
        self.providers()
            .storage
            .restore_snapshot(&volume_ref(&service)?, &snapshots[position].provider_ref)
            .await
            .map_err(provider_error)?;
        snapshots[position].last_restored_at = Some(format_rfc3339(now_ms()));
        let snapshot = snapshots[position].clone();
        details["snapshots"] = json!(snapshots);
        let view = self
            .change_volume(
                principal,
                &service,
                RESTORE,
                &details,
                json!({"snapshotId": snapshot_id}),
            )
            .await?;
        Ok((snapshot, view))
    }
}
