//! Storage interface (object buckets and block volumes) and the sandbox storage provider.

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::sandbox::{ProvisionLog, config_str, hex};
use crate::{ProviderError, ProvisionRequest, Provisioned, SandboxConfig};

const PROVIDER: &str = "sandbox-storage";

/// A provider of object buckets and block volumes.
#[async_trait]
pub trait Storage: Send + Sync {
    /// Create the bucket or volume of `req.configuration` (storageClass `object` or `block`, region,
    /// capacityGb). Details: `storageClass`, `region`, `capacityGb`, and for object storage `bucketName`
    /// and `endpoint`, for block storage `volumeId`, `attachedToServiceId` (null) and `snapshots` ([]).
    async fn create_storage(&self, req: &ProvisionRequest) -> Result<Provisioned, ProviderError>;
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
