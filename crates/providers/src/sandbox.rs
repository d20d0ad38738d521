//! What every sandbox provisioning provider shares: deriving values from the service id, the in-memory
//! record of what was created (which makes repeated calls idempotent), call counting, and the test-mode
//! knobs of [`SandboxConfig`] (delay, fail and flaky markers, failing service types).
//!
//! Every generated value comes from a SHA-256 of the service id, so even after a restart (when the
//! in-memory record is gone) a repeated call yields the same resource.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{ProviderError, ProvisionRequest, Provisioned, SandboxConfig};

/// SHA-256 of `kind:id`. The kind keeps different providers' values for one id unrelated.
pub(crate) fn digest(kind: &str, id: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update(b":");
    hasher.update(id.as_bytes());
    hasher.finalize().into()
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// A string field of a configuration object, if present.
pub(crate) fn config_str<'a>(req: &'a ProvisionRequest, name: &str) -> Option<&'a str> {
    req.configuration.get(name).and_then(Value::as_str)
}

/// Whether any string in `value` (at any depth) contains `marker`. An empty marker never matches, since
/// every string contains it.
fn contains_marker(value: &Value, marker: &str) -> bool {
    if marker.is_empty() {
        return false;
    }
    match value {
        Value::String(s) => s.contains(marker),
        Value::Array(items) => items.iter().any(|v| contains_marker(v, marker)),
        Value::Object(map) => map.values().any(|v| contains_marker(v, marker)),
        _ => false,
    }
}

#[derive(Debug, Default)]
struct Record {
    calls: u32,
    created: Option<Provisioned>,
}

/// The created resources and call counts of one sandbox provider, keyed by service id.
#[derive(Debug)]
pub(crate) struct ProvisionLog {
    provider: &'static str,
    service_type: &'static str,
    delay: Duration,
    fail_marker: String,
    flaky_marker: String,
    flaky_failures: u32,
    fail_always: bool,
    records: Mutex<HashMap<String, Record>>,
}

impl ProvisionLog {
    pub fn new(provider: &'static str, service_type: &'static str, config: &SandboxConfig) -> Self {
        Self {
            provider,
            service_type,
            delay: Duration::from_millis(config.provisioning_delay_ms),
            fail_marker: config.fail_marker.clone(),
            flaky_marker: config.flaky_marker.clone(),
            flaky_failures: config.flaky_failures,
            fail_always: config.fail_service_types.iter().any(|t| t == service_type),
            records: Mutex::new(HashMap::new()),
        }
    }

    // A panic while holding the lock cannot leave a record half-written (each update is one assignment),
    // so a poisoned lock is still safe to use.
    fn records(&self) -> MutexGuard<'_, HashMap<String, Record>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Provisioning calls made for `service_id` so far, successful or not.
    pub fn calls(&self, service_id: &str) -> u32 {
        self.records().get(service_id).map_or(0, |r| r.calls)
    }

    /// Answer `req`: the stored resource if this service already has one, else a test-mode failure if
    /// one is configured, else the resource `create` builds from the service id's digest (stored first).
    pub async fn provision(
        &self,
        req: &ProvisionRequest,
        create: impl FnOnce(&[u8; 32]) -> Result<Provisioned, ProviderError>,
    ) -> Result<Provisioned, ProviderError> {
        if req.service_id.is_empty() {
            return Err(self.permanent("a provisioning request needs a service id"));
        }
        let stored = {
            let mut records = self.records();
            let record = records.entry(req.service_id.clone()).or_default();
            record.calls = record.calls.saturating_add(1);
            record.created.clone()
        };
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        if let Some(created) = stored {
            return Ok(created);
        }
        self.injected_failure(req)?;
        let created = create(&digest(self.service_type, &req.service_id))?;
        // Two concurrent first calls build the same value; whichever stores first is the answer to both.
        let mut records = self.records();
        let record = records.entry(req.service_id.clone()).or_default();
        Ok(record.created.get_or_insert(created).clone())
    }

    fn injected_failure(&self, req: &ProvisionRequest) -> Result<(), ProviderError> {
        if self.fail_always {
            return Err(self.permanent(format!(
                "the sandbox is configured to refuse every {} order (fail_service_types)",
                self.service_type
            )));
        }
        if contains_marker(&req.configuration, &self.fail_marker) {
            return Err(self.permanent(format!(
                "the configuration contains the test marker {:?}, so the sandbox refuses it",
                self.fail_marker
            )));
        }
        // Attempt 0 is treated as the first attempt, so a caller counting from zero still sees failures.
        let attempt = req.attempt.max(1);
        if contains_marker(&req.configuration, &self.flaky_marker) && attempt <= self.flaky_failures
        {
            return Err(ProviderError::retryable(
                self.provider,
                format!(
                    "temporary sandbox outage (test marker {:?}: attempt {attempt} of the first {} fails); retry later",
                    self.flaky_marker, self.flaky_failures
                ),
            ));
        }
        Ok(())
    }

    pub fn permanent(&self, message: impl Into<String>) -> ProviderError {
        ProviderError::permanent(self.provider, message)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn markers_are_found_in_nested_strings_only() {
        let config = json!({"a": 1, "b": ["x", {"c": "my-sandbox-fail-host"}]});
        assert!(contains_marker(&config, "sandbox-fail"));
        assert!(!contains_marker(&config, "sandbox-flaky"));
        assert!(!contains_marker(&config, ""));
        assert!(!contains_marker(
            &json!({"sandbox-fail": true}),
            "sandbox-fail"
        ));
    }

    #[test]
    fn digests_differ_by_kind_and_id_and_hex_is_lowercase() {
        assert_ne!(digest("server", "svc_1"), digest("domain", "svc_1"));
        assert_ne!(digest("server", "svc_1"), digest("server", "svc_2"));
        assert_eq!(digest("server", "svc_1"), digest("server", "svc_1"));
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
