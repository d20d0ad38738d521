//! Storage interface (object buckets and block volumes) and the sandbox storage provider.

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::sandbox::{ProvisionLog, config_str, digest, hex};
use crate::{ProviderError, ProvisionRequest, Provisioned, SandboxConfig};

const PROVIDER: &str = "sandbox-storage";

/// A provider of object buckets and block volumes.
#[async_trait]
pub trait Storage: Send + Sync {
    /// Create the bucket or volume of `req.configuration` (storageClass `object` or `block`, region,
    /// capacityGb). Details: `storageClass`, `region`, `capacityGb`, and for object storage `bucketName`
    /// and `endpoint`, for block storage `volumeId`, `attachedToServiceId` (null) and `snapshots` ([]).
    async fn create_storage(&self, req: &ProvisionRequest) -> Result<Provisioned, ProviderError>;

    /// Issue an access key for the bucket `bucket_ref` with `access` (`read` or `read_write`). The
    /// secret is returned once; the caller stores only a hash of it.
    async fn issue_bucket_keys(
        &self,
        bucket_ref: &str,
        access: &str,
    ) -> Result<BucketKeys, ProviderError>;

    /// Attach the volume to the server (`server_ref` is the compute provider's id of it). Attaching
    /// it to the server it is already attached to changes nothing.
    async fn attach_volume(&self, volume_ref: &str, server_ref: &str) -> Result<(), ProviderError>;

    /// Detach the volume from its server (nothing to do if it is detached).
    async fn detach_volume(&self, volume_ref: &str) -> Result<(), ProviderError>;

    /// Grow the volume to `capacity_gb` (growing to its current size or less changes nothing).
    async fn expand_volume(&self, volume_ref: &str, capacity_gb: i64) -> Result<(), ProviderError>;

    /// Snapshot the volume; `snapshot_id` is the idempotency key. Returns the provider's snapshot id.
    async fn create_snapshot(
        &self,
        volume_ref: &str,
        snapshot_id: &str,
    ) -> Result<String, ProviderError>;

    /// Replace the volume's contents with the snapshot's.
    async fn restore_snapshot(
        &self,
        volume_ref: &str,
        snapshot_ref: &str,
    ) -> Result<(), ProviderError>;
}

/// An object storage access key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct BucketKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for BucketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketKeys")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Whether `text` is a sandbox reference `<prefix><16 lowercase hex digits>`.
fn is_ref(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 16
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The offline storage provider: buckets and volumes exist only as records, named from the service id.
/// Endpoints use the reserved `.test` TLD, so nothing ever resolves or receives data.
#[derive(Debug)]
pub struct SandboxStorage {
    log: ProvisionLog,
}

impl SandboxStorage {
    pub fn new(config: &SandboxConfig) -> Self {
        Self {
            log: ProvisionLog::new(PROVIDER, "storage_service", config),
        }
    }

    /// Creation calls made for `service_id` so far.
    pub fn provision_calls(&self, service_id: &str) -> u32 {
        self.log.calls(service_id)
    }

    fn create(
        &self,
        req: &ProvisionRequest,
        hash: &[u8; 32],
    ) -> Result<Provisioned, ProviderError> {
        let Some(region) = config_str(req, "region") else {
            return Err(self.log.permanent("the configuration has no region"));
        };
        let Some(capacity_gb) = req.configuration.get("capacityGb").and_then(Value::as_i64) else {
            return Err(self.log.permanent("the configuration has no capacityGb"));
        };
        match config_str(req, "storageClass") {
            Some("object") => Ok(Provisioned {
                provider_ref: format!("sandbox_bkt_{}", hex(&hash[..8])),
                details: json!({
                    "storageClass": "object",
                    "region": region,
                    "capacityGb": capacity_gb,
                    "bucketName": format!("as-{}", hex(&hash[..6])),
                    "endpoint": format!("https://{region}.objects.sandbox.agent-store.test"),
                }),
            }),
            Some("block") => {
                let volume_id = format!("vol-{}", hex(&hash[..8]));
                Ok(Provisioned {
                    provider_ref: volume_id.clone(),
                    details: json!({
                        "storageClass": "block",
                        "region": region,
                        "capacityGb": capacity_gb,
                        "volumeId": volume_id,
                        "attachedToServiceId": null,
                        "snapshots": [],
                    }),
                })
            }
            other => Err(self.log.permanent(format!(
                "storage class {other:?} is not offered (expected \"object\" or \"block\")"
            ))),
        }
    }
}

#[async_trait]
impl Storage for SandboxStorage {
    async fn create_storage(&self, req: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        self.log.provision(req, |hash| self.create(req, hash)).await
    }

    async fn issue_bucket_keys(
        &self,
        bucket_ref: &str,
        access: &str,
    ) -> Result<BucketKeys, ProviderError> {
        if !is_ref(bucket_ref, "sandbox_bkt_") {
            return Err(ProviderError::permanent(PROVIDER, "no such bucket"));
        }
        if !matches!(access, "read" | "read_write") {
            return Err(ProviderError::permanent(
                PROVIDER,
                "access must be read or read_write",
            ));
        }
        // An AWS-style key id: 20 upper-case characters, "ASBX" marking the sandbox.
        let random = agent_store_core::keys::random_secret();
        let id_hash = digest("access-key", &random);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let suffix: String = id_hash[..16]
            .iter()
            .map(|b| char::from(alphabet[usize::from(b % 32)]))
            .collect();
        Ok(BucketKeys {
            access_key_id: format!("ASBX{suffix}"),
            secret_access_key: agent_store_core::keys::random_secret(),
        })
    }

    async fn attach_volume(&self, volume_ref: &str, server_ref: &str) -> Result<(), ProviderError> {
        if !is_ref(volume_ref, "vol-") {
            return Err(ProviderError::permanent(PROVIDER, "no such volume"));
        }
        if server_ref.is_empty() {
            return Err(ProviderError::permanent(PROVIDER, "no such server"));
        }
        Ok(())
    }

    async fn detach_volume(&self, volume_ref: &str) -> Result<(), ProviderError> {
        if !is_ref(volume_ref, "vol-") {
            return Err(ProviderError::permanent(PROVIDER, "no such volume"));
        }
        Ok(())
    }

    async fn expand_volume(&self, volume_ref: &str, capacity_gb: i64) -> Result<(), ProviderError> {
        if !is_ref(volume_ref, "vol-") {
            return Err(ProviderError::permanent(PROVIDER, "no such volume"));
        }
        if capacity_gb <= 0 {
            return Err(ProviderError::permanent(
                PROVIDER,
                "capacity must be positive",
            ));
        }
        Ok(())
    }

    async fn create_snapshot(
        &self,
        volume_ref: &str,
        snapshot_id: &str,
    ) -> Result<String, ProviderError> {
        if !is_ref(volume_ref, "vol-") {
            return Err(ProviderError::permanent(PROVIDER, "no such volume"));
        }
        // Derived from the snapshot id, so a repeated call names the same snapshot.
        Ok(format!(
            "snap-{}",
            hex(&digest(volume_ref, snapshot_id)[..8])
        ))
    }

    async fn restore_snapshot(
        &self,
        volume_ref: &str,
        snapshot_ref: &str,
    ) -> Result<(), ProviderError> {
        if !is_ref(volume_ref, "vol-") || !is_ref(snapshot_ref, "snap-") {
            return Err(ProviderError::permanent(
                PROVIDER,
                "no such volume or snapshot",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::request;

    #[tokio::test]
    async fn an_object_bucket_gets_a_name_and_a_regional_endpoint() {
        let storage = SandboxStorage::new(&SandboxConfig::default());
        let req = request(
            "svc_obj",
            json!({"region": "us-east", "storageClass": "object", "capacityGb": 250}),
        );
        let d = storage.create_storage(&req).await.unwrap().details;
        assert_eq!(
            (d["storageClass"].as_str(), d["capacityGb"].as_i64()),
            (Some("object"), Some(250))
        );
        let bucket = d["bucketName"].as_str().unwrap();
        assert!(bucket.starts_with("as-") && bucket.len() == 15, "{bucket}");
        assert!(
            bucket[3..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(
            d["endpoint"],
            "https://us-east.objects.sandbox.agent-store.test"
        );
    }

    #[tokio::test]
    async fn a_block_volume_starts_detached_without_snapshots() {
        let storage = SandboxStorage::new(&SandboxConfig::default());
        let req = request(
            "svc_vol",
            json!({"region": "eu-central", "storageClass": "block", "capacityGb": 100}),
        );
        let done = storage.create_storage(&req).await.unwrap();
        let d = &done.details;
        assert_eq!(d["region"], "eu-central");
        assert_eq!(d["volumeId"].as_str(), Some(done.provider_ref.as_str()));
        assert!(done.provider_ref.starts_with("vol-"));
        assert_eq!(d["attachedToServiceId"], Value::Null);
        assert_eq!(d["snapshots"], json!([]));
    }

    #[tokio::test]
    async fn volume_operations_accept_sandbox_references_only() {
        let storage = SandboxStorage::new(&SandboxConfig::default());
        let vol = "vol-0123456789abcdef";
        storage.attach_volume(vol, "sandbox_srv_1").await.unwrap();
        storage.expand_volume(vol, 200).await.unwrap();
        let snap = storage.create_snapshot(vol, "snap_1").await.unwrap();
        assert_eq!(snap, storage.create_snapshot(vol, "snap_1").await.unwrap());
        storage.restore_snapshot(vol, &snap).await.unwrap();
        storage.detach_volume(vol).await.unwrap();
        assert!(storage.attach_volume("vol-x", "s").await.is_err());
        assert!(storage.restore_snapshot(vol, "snap-zz").await.is_err());
        let keys = storage
            .issue_bucket_keys("sandbox_bkt_0123456789abcdef", "read")
            .await
            .unwrap();
        assert!(keys.access_key_id.starts_with("ASBX") && keys.access_key_id.len() == 20);
        assert!(!format!("{keys:?}").contains(&keys.secret_access_key));
        assert!(
            storage
                .issue_bucket_keys("sandbox_bkt_0123456789abcdef", "all")
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn an_unknown_storage_class_is_refused() {
        let storage = SandboxStorage::new(&SandboxConfig::default());
        let req = request(
            "svc_x",
            json!({"region": "eu-central", "storageClass": "tape", "capacityGb": 100}),
        );
        assert!(
            storage
                .create_storage(&req)
                .await
                .is_err_and(|e| !e.retryable)
        );
    }
}
