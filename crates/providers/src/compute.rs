//! Compute interface (virtual servers) and the sandbox compute provider.

use std::net::{Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::sandbox::{ProvisionLog, config_str, hex};
use crate::{ProviderError, ProvisionRequest, Provisioned, SandboxConfig};

const PROVIDER: &str = "sandbox-compute";

/// The IPv4 documentation ranges (RFC 5737): addresses that never route, so a sandbox server can never
/// be mistaken for, or collide with, a real host.
const IPV4_DOC_NETS: [[u8; 3]; 3] = [[192, 0, 2], [198, 51, 100], [203, 0, 113]];

/// A provider of virtual servers.
#[async_trait]
pub trait Compute: Send + Sync {
    /// Create the server described by `req.configuration` (hostname, region, image, backupsEnabled) and
    /// `req.resources`. Details: `hostname`, `region`, `image`, `ipv4`, `ipv6`, `powerState`,
    /// `backupsEnabled`, `vcpus`, `memoryMb`, `diskGb`, `gpu` (null if none).
    async fn create_server(&self, req: &ProvisionRequest) -> Result<Provisioned, ProviderError>;
}

/// The offline compute provider: servers exist only as records, with addresses from the documentation
/// ranges (IPv4 RFC 5737, IPv6 `2001:db8::/32`, RFC 3849) derived from the service id.
#[derive(Debug)]
pub struct SandboxCompute {
    log: ProvisionLog,
}

impl SandboxCompute {
    pub fn new(config: &SandboxConfig) -> Self {
        Self {
            log: ProvisionLog::new(PROVIDER, "server", config),
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
        let Some(resources) = &req.resources else {
            return Err(self
                .log
                .permanent("the request does not say which machine size to create"));
        };
        let text = |name: &str| {
            config_str(req, name).map(str::to_owned).ok_or_else(|| {
                self.log
                    .permanent(format!("the configuration has no {name}"))
            })
        };
        let (hostname, region, image) = (text("hostname")?, text("region")?, text("image")?);
        let backups = req
            .configuration
            .get("backupsEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(Provisioned {
            provider_ref: format!("sandbox_srv_{}", hex(&hash[..8])),
            details: json!({
                "hostname": hostname,
                "region": region,
                "image": image,
                "ipv4": ipv4(hash).to_string(),
                "ipv6": ipv6(hash).to_string(),
                "powerState": "running",
                "backupsEnabled": backups,
                "vcpus": resources.vcpus,
                "memoryMb": resources.memory_mb,
                "diskGb": resources.disk_gb,
                "gpu": resources.gpu,
            }),
        })
    }
}

/// A host address (1-254, never the network or broadcast address) in one of the IPv4 documentation nets.
fn ipv4(hash: &[u8; 32]) -> Ipv4Addr {
    let [a, b, c] = IPV4_DOC_NETS[usize::from(hash[0]) % IPV4_DOC_NETS.len()];
    Ipv4Addr::new(a, b, c, hash[1] % 254 + 1)
}

/// An address in `2001:db8::/32` with a non-zero interface id.
fn ipv6(hash: &[u8; 32]) -> Ipv6Addr {
    let group = |i: usize| u16::from_be_bytes([hash[i], hash[i + 1]]);
    Ipv6Addr::new(0x2001, 0x0db8, group(2), group(4), 0, 0, 0, group(6).max(1))
}

#[async_trait]
impl Compute for SandboxCompute {
    async fn create_server(&self, req: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        self.log.provision(req, |hash| self.create(req, hash)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::server_request;

    #[tokio::test]
    async fn server_addresses_are_in_documentation_ranges() {
        let compute = SandboxCompute::new(&SandboxConfig::default());
        for n in 0..200 {
            let done = compute
                .create_server(&server_request(&format!("svc_srv_{n}"), "web-01"))
                .await
                .unwrap();
            let v4: Ipv4Addr = done.details["ipv4"].as_str().unwrap().parse().unwrap();
            let [a, b, c, d] = v4.octets();
            assert!(IPV4_DOC_NETS.contains(&[a, b, c]), "{v4}");
            assert!((1..=254).contains(&d), "{v4}");
            let text = done.details["ipv6"].as_str().unwrap();
            let v6: Ipv6Addr = text.parse().unwrap();
            assert_eq!(v6.segments()[..2], [0x2001, 0x0db8], "{v6}");
            assert_eq!(v6.to_string(), text, "the address is in canonical form");
        }
    }

    #[tokio::test]
    async fn a_server_reports_its_configuration_and_machine() {
        let compute = SandboxCompute::new(&SandboxConfig::default());
        let done = compute
            .create_server(&server_request("svc_srv_a", "web-01"))
            .await
            .unwrap();
        let d = &done.details;
        assert_eq!(d["hostname"], "web-01");
        assert_eq!(d["region"], "eu-west");
        assert_eq!(d["image"], "ubuntu-24.04");
        assert_eq!(d["powerState"], "running");
        assert_eq!(d["backupsEnabled"], true);
        assert_eq!(
            (
                d["vcpus"].as_i64(),
                d["memoryMb"].as_i64(),
                d["diskGb"].as_i64()
            ),
            (Some(1), Some(1024), Some(25))
        );
        assert_eq!(d["gpu"], Value::Null);
        assert!(done.provider_ref.starts_with("sandbox_srv_"));
    }

    #[tokio::test]
    async fn a_server_without_a_machine_size_is_refused() {
        let compute = SandboxCompute::new(&SandboxConfig::default());
        let mut req = server_request("svc_srv_b", "web-01");
        req.resources = None;
        let error = compute.create_server(&req).await.unwrap_err();
        assert!(!error.retryable);
    }
}
