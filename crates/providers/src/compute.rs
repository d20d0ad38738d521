//! Compute interface (virtual servers) and the sandbox compute provider.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

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

    /// Reboot the server; it is running afterwards.
    async fn restart_server(&self, req: &ServerActionRequest)
    -> Result<ServerState, ProviderError>;

    /// Wipe the server's disk and install `image`; it is running afterwards.
    async fn reinstall_server(
        &self,
        req: &ServerActionRequest,
        image: &str,
    ) -> Result<ServerState, ProviderError>;

    /// Power the server on (`true`) or off (`false`).
    async fn set_server_power(
        &self,
        req: &ServerActionRequest,
        on: bool,
    ) -> Result<ServerState, ProviderError>;
}

/// One management action on a server. `operation_id` is the idempotency key: the jobs worker may
/// call again after a timeout or a restart, and the provider must not act twice.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerActionRequest {
    pub operation_id: String,
    pub service_id: String,
    /// The provider's id of the server, from provisioning.
    pub provider_ref: String,
    /// The service's configuration (hostname, region, image, ...).
    pub configuration: Value,
    /// 1 for the first call for this operation, then one more on each retry.
    pub attempt: u32,
}

/// Whether a server is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    Running,
    Stopped,
}

impl PowerState {
    /// The `details.powerState` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
        }
    }
}

/// A server's state after an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    pub power_state: PowerState,
    /// The installed image, when the action changed it (reinstall).
    pub image: Option<String>,
}

/// The offline compute provider: servers exist only as records, with addresses from the documentation
/// ranges (IPv4 RFC 5737, IPv6 `2001:db8::/32`, RFC 3849) derived from the service id.
#[derive(Debug)]
pub struct SandboxCompute {
    log: ProvisionLog,
    delay: Duration,
    flaky_marker: String,
    flaky_failures: u32,
    /// Results of management actions by operation id (repeated calls answer the same), and the
    /// number of calls made for each.
    actions: Mutex<HashMap<String, (u32, Option<ServerState>)>>,
}

impl SandboxCompute {
    pub fn new(config: &SandboxConfig) -> Self {
        Self {
            log: ProvisionLog::new(PROVIDER, "server", config),
            delay: Duration::from_millis(config.provisioning_delay_ms),
            flaky_marker: config.flaky_marker.clone(),
            flaky_failures: config.flaky_failures,
            actions: Mutex::new(HashMap::new()),
        }
    }

    /// Calls made for a management operation so far, successful or not.
    pub fn action_calls(&self, operation_id: &str) -> u32 {
        self.actions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(operation_id)
            .map_or(0, |(calls, _)| *calls)
    }

    /// Run one management action: the stored result if the operation already ran, else (after the
    /// configured delay, standing in for the reboot) the test-mode outage of a `flaky_marker`
    /// server's first attempts, else `result`, which is stored.
    async fn act(
        &self,
        req: &ServerActionRequest,
        result: ServerState,
    ) -> Result<ServerState, ProviderError> {
        if req.operation_id.is_empty() || req.provider_ref.is_empty() {
            return Err(self
                .log
                .permanent("a server action needs an operation id and the server's provider ref"));
        }
        let stored = {
            let mut actions = self.actions.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = actions.entry(req.operation_id.clone()).or_default();
            entry.0 = entry.0.saturating_add(1);
            entry.1.clone()
        };
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if let Some(done) = stored {
            return Ok(done);
        }
        let flaky = !self.flaky_marker.is_empty()
            && config_text(&req.configuration).any(|t| t.contains(&self.flaky_marker));
        let attempt = req.attempt.max(1);
        if flaky && attempt <= self.flaky_failures {
            return Err(ProviderError::retryable(
                PROVIDER,
                format!(
                    "temporary sandbox outage (test marker {:?}: attempt {attempt} of the first {} fails); retry later",
                    self.flaky_marker, self.flaky_failures
                ),
            ));
        }
        let mut actions = self.actions.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = actions.entry(req.operation_id.clone()).or_default();
        Ok(entry.1.get_or_insert(result).clone())
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

    async fn restart_server(
        &self,
        req: &ServerActionRequest,
    ) -> Result<ServerState, ProviderError> {
        let running = ServerState {
            power_state: PowerState::Running,
            image: None,
        };
        self.act(req, running).await
    }

    async fn reinstall_server(
        &self,
        req: &ServerActionRequest,
        image: &str,
    ) -> Result<ServerState, ProviderError> {
        let slug = !image.is_empty()
            && image.len() <= 64
            && image
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !slug {
            return Err(self
                .log
                .permanent(format!("{image:?} is not an image name")));
        }
        let reinstalled = ServerState {
            power_state: PowerState::Running,
            image: Some(image.to_owned()),
        };
        self.act(req, reinstalled).await
    }

    async fn set_server_power(
        &self,
        req: &ServerActionRequest,
        on: bool,
    ) -> Result<ServerState, ProviderError> {
        let power_state = if on {
            PowerState::Running
        } else {
            PowerState::Stopped
        };
        self.act(
            req,
            ServerState {
                power_state,
                image: None,
            },
        )
        .await
    }
}

/// Every string in a configuration object (one level deep is all a server's configuration has).
fn config_text(configuration: &Value) -> impl Iterator<Item = &str> {
    configuration
        .as_object()
        .into_iter()
        .flat_map(|o| o.values())
        .filter_map(Value::as_str)
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

    fn action(op: &str, hostname: &str, attempt: u32) -> ServerActionRequest {
        ServerActionRequest {
            operation_id: op.to_owned(),
            service_id: "svc_srv_z".to_owned(),
            provider_ref: "sandbox_srv_1".to_owned(),
            configuration: json!({"hostname": hostname, "region": "eu-west"}),
            attempt,
        }
    }

    #[tokio::test]
    async fn server_actions_report_the_resulting_state_once_per_operation() {
        let compute = SandboxCompute::new(&SandboxConfig::default());
        let off = compute
            .set_server_power(&action("job_1", "web", 1), false)
            .await
            .unwrap();
        assert_eq!(off.power_state, PowerState::Stopped);
        // The same operation again answers the same, even if asked differently.
        let again = compute
            .set_server_power(&action("job_1", "web", 2), true)
            .await
            .unwrap();
        assert_eq!(again.power_state, PowerState::Stopped);
        assert_eq!(compute.action_calls("job_1"), 2);
        let restarted = compute
            .restart_server(&action("job_2", "web", 1))
            .await
            .unwrap();
        assert_eq!(restarted.power_state.as_str(), "running");
        let reinstalled = compute
            .reinstall_server(&action("job_3", "web", 1), "debian-12")
            .await
            .unwrap();
        assert_eq!(reinstalled.image.as_deref(), Some("debian-12"));
        let bad = compute
            .reinstall_server(&action("job_4", "web", 1), "Not An Image")
            .await
            .unwrap_err();
        assert!(!bad.retryable);
    }

    #[tokio::test]
    async fn a_flaky_server_fails_its_first_action_attempts_then_succeeds() {
        let compute = SandboxCompute::new(&SandboxConfig::default());
        for attempt in 1..=2 {
            let err = compute
                .restart_server(&action("job_5", "web-sandbox-flaky", attempt))
                .await
                .unwrap_err();
            assert!(err.retryable);
        }
        assert!(
            compute
                .restart_server(&action("job_5", "web-sandbox-flaky", 3))
                .await
                .is_ok()
        );
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
