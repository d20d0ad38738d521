//! Storage tools: object bucket credentials; block volume attach, detach, expand, snapshots.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Hints, READ, ToolSpec, body, define};
use crate::request::ApiRequest;

/// Changes a volume through the storage provider; repeating it leaves the same state.
const CHANGE: Hints = Hints {
    read_only: false,
    destructive: false,
    idempotent: true,
    open_world: true,
};

pub fn tools() -> Vec<ToolSpec> {
    vec![
        define::<CredentialsArgs>(
            "storage_bucket_credentials_create",
            "Create object storage credentials",
            Hints {
                read_only: false,
                destructive: false,
                idempotent: false,
                open_world: true,
            },
            "Create an S3-style access key for one of your object storage services (storageClass \
             object). Returns {\"credentials\": {\"id\": \"cred_...\", \"accessKeyId\", \
             \"secretAccessKey\" (shown only now: store it), \"endpoint\", \"bucket\", \"region\", \
             \"access\"}}. access is read or read_write (default read_write). Each call creates a new key.",
            |a: CredentialsArgs| {
                ApiRequest::post(
                    &["services", &a.service_id, "storage", "bucket-credentials"],
                    body(&CredentialsBody {
                        label: a.label.clone(),
                        access: a.access,
                    }),
                )
            },
        ),
        define::<AttachArgs>(
            "storage_volume_attach",
            "Attach a block volume to a server",
            CHANGE,
            "Attach one of your block storage volumes to one of your active servers in the same \
             region (serverServiceId: the server's service id). A volume is attached to one server at \
             a time: detach it first to move it. Returns {\"service\": {...}} with \
             details.attachedToServiceId set.",
            |a: AttachArgs| {
                ApiRequest::post(
                    &["services", &a.service_id, "storage", "volume", "attach"],
                    json!({"serverServiceId": a.server_service_id}),
                )
            },
        ),
        define::<ServiceArgs>(
            "storage_volume_detach",
            "Detach a block volume",
            CHANGE,
            "Detach one of your block storage volumes from the server it is attached to (needs the \
             storage:volume:attach capability). Returns {\"service\": {...}} with \
             details.attachedToServiceId null.",
            |a: ServiceArgs| {
                ApiRequest::post(
                    &["services", &a.service_id, "storage", "volume", "detach"],
                    json!({}),
                )
            },
        ),
        define::<ExpandArgs>(
            "storage_volume_expand",
            "Expand a block volume",
            Hints {
                read_only: false,
                destructive: false,
                idempotent: true,
                open_world: true,
            },
            "Grow one of your block storage volumes to capacityGb (volumes only grow). A spend: the \
             monthly price difference for the rest of the current billing month (prorated, rounded up \
             to the cent), checked against the spending policy (policy_denied) and the wallet \
             (insufficient_funds). idempotencyKey is required: a new key per expansion, the SAME key \
             when retrying. Returns {\"expansion\": {\"amountMinor\", \"fromCapacityGb\", \
             \"toCapacityGb\", ...}, \"service\": {...}}.",
            |a: ExpandArgs| {
                ApiRequest::post(
                    &["services", &a.service_id, "storage", "volume", "expand"],
                    json!({"capacityGb": a.capacity_gb, "idempotencyKey": a.idempotency_key}),
                )
            },
        ),
        define::<SnapshotArgs>(
            "storage_snapshot_create",
            "Snapshot a block volume",
            Hints {
                read_only: false,
                destructive: false,
                idempotent: false,
                open_world: true,
            },
            "Take a snapshot of one of your block storage volumes (at most 50 per volume). Returns \
             {\"snapshot\": {\"id\": \"snap_...\", \"capacityGb\", \"createdAt\", ...}, \"service\": {...}}.",
            |a: SnapshotArgs| {
                let body = match a.label {
                    Some(label) => json!({"label": label}),
                    None => json!({}),
                };
                ApiRequest::post(&["services", &a.service_id, "storage", "snapshots"], body)
            },
        ),
        define::<ServiceArgs>(
            "storage_snapshot_list",
            "List a volume's snapshots",
            READ,
            "List the snapshots of one of your block storage volumes, newest first (needs the \
             storage:snapshot:create capability). Returns {\"items\": [{\"id\": \"snap_...\", \
             \"label\", \"capacityGb\", \"status\", \"createdAt\", \"lastRestoredAt\"}], \"nextCursor\": null}.",
            |a: ServiceArgs| ApiRequest::get(&["services", &a.service_id, "storage", "snapshots"]),
        ),
        define::<RestoreArgs>(
            "storage_snapshot_restore",
            "Restore a volume from a snapshot",
            Hints {
                read_only: false,
                destructive: true,
                idempotent: true,
                open_world: true,
            },
            "Replace the current contents of one of your block storage volumes with a snapshot's \
             (snapshotId from storage_snapshot_create or storage_snapshot_list). Destructive: data \
             written since the snapshot is lost. Returns {\"snapshot\": {...}, \"service\": {...}}.",
            |a: RestoreArgs| {
                ApiRequest::post(
                    &[
                        "services",
                        &a.service_id,
                        "storage",
                        "snapshots",
                        &a.snapshot_id,
                        "restore",
                    ],
                    json!({}),
                )
            },
        ),
    ]
}

#[derive(Debug, Serialize)]
struct CredentialsBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access: Option<Access>,
}

/// Access of a bucket key.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    ReadWrite,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CredentialsArgs {
    /// The object storage service id ("svc_...").
    pub service_id: String,
    /// A name for the key, e.g. "backups" (default "default").
    pub label: Option<String>,
    /// read or read_write (default read_write).
    pub access: Option<Access>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceArgs {
    /// The block storage service id ("svc_...").
    pub service_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AttachArgs {
    /// The block storage service id ("svc_...").
    pub service_id: String,
    /// The server's service id ("svc_..."), same agent and region.
    pub server_service_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpandArgs {
    /// The block storage service id ("svc_...").
    pub service_id: String,
    /// The new capacity in GB, larger than the current one.
    pub capacity_gb: i64,
    /// Required. 1 to 255 printable ASCII characters, unique per expansion; reuse it when retrying.
    pub idempotency_key: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SnapshotArgs {
    /// The block storage service id ("svc_...").
    pub service_id: String,
    /// An optional name for the snapshot.
    pub label: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RestoreArgs {
    /// The block storage service id ("svc_...").
    pub service_id: String,
    /// The snapshot id ("snap_...").
    pub snapshot_id: String,
}
