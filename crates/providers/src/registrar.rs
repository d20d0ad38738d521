//! Domain registrar interface and the sandbox registrar.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use agent_store_core::time::{format_rfc3339, now_ms};
use async_trait::async_trait;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::sandbox::{ProvisionLog, config_str, hex};
use crate::{ProviderError, ProvisionRequest, Provisioned, SandboxConfig};

const PROVIDER: &str = "sandbox-registrar";
/// The name servers a sandbox registration delegates to until the owner sets their own.
pub const SANDBOX_NAMESERVERS: [&str; 2] = [
    "ns1.sandbox.agent-store.test",
    "ns2.sandbox.agent-store.test",
];

/// Whether a name can be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainAvailability {
    Available,
    Unavailable,
}

/// A domain registrar.
#[async_trait]
pub trait Registrar: Send + Sync {
    /// Ask the registry whether `domain` (normalized, lowercase) is free.
    async fn check_availability(&self, domain: &str) -> Result<DomainAvailability, ProviderError>;

    /// Register `configuration.domainName` for `configuration.periodYears`. Details: `domainName`,
    /// `nameservers`, `autoRenew`, `privacyProtection`, `expiresAt` (RFC 3339).
    async fn register(&self, req: &ProvisionRequest) -> Result<Provisioned, ProviderError>;
}

/// The offline registrar: every name is free except a configured reserved list and names it registered
/// itself. Names registered through the store are also checked by the app against its own services,
/// which survive restarts; this in-memory set does not.
#[derive(Debug)]
pub struct SandboxRegistrar {
    reserved: HashSet<String>,
    /// Domain name -> the service id it was registered for.
    registered: Mutex<HashMap<String, String>>,
    log: ProvisionLog,
}

impl SandboxRegistrar {
    /// A registrar with the default test-mode settings and these reserved names.
    pub fn new(reserved: impl IntoIterator<Item = String>) -> Self {
        let config = SandboxConfig {
            reserved_domains: reserved.into_iter().collect(),
            ..SandboxConfig::default()
        };
        Self::with_config(&config)
    }

    pub fn with_config(config: &SandboxConfig) -> Self {
        Self {
            reserved: config
                .reserved_domains
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            registered: Mutex::new(HashMap::new()),
            log: ProvisionLog::new(PROVIDER, "domain", config),
        }
    }

    /// Registration calls made for `service_id` so far.
    pub fn provision_calls(&self, service_id: &str) -> u32 {
        self.log.calls(service_id)
    }

    fn is_registered(&self, domain: &str) -> bool {
        self.registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(domain)
    }

    fn create(
        &self,
        req: &ProvisionRequest,
        hash: &[u8; 32],
    ) -> Result<Provisioned, ProviderError> {
        let Some(domain) = config_str(req, "domainName").map(str::to_ascii_lowercase) else {
            return Err(self.log.permanent("the configuration has no domainName"));
        };
        let years = req
            .configuration
            .get("periodYears")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let expires_at = years_from_now(years).ok_or_else(|| {
            self.log
                .permanent(format!("{years} is not a registration period"))
        })?;
        if self.reserved.contains(&domain) {
            return Err(self.log.permanent(format!("{domain} is not available")));
        }
        // Claimed under one lock so two services can never both register the same name, while two
        // concurrent first calls for the same service both succeed.
        let claimed = {
            let mut registered = self
                .registered
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let owner = registered
                .entry(domain.clone())
                .or_insert_with(|| req.service_id.clone());
            *owner == req.service_id
        };
        if !claimed {
            return Err(self
                .log
                .permanent(format!("{domain} is already registered to another service")));
        }
        let flag = |name: &str, default: bool| {
            req.configuration
                .get(name)
                .and_then(Value::as_bool)
                .unwrap_or(default)
        };
        Ok(Provisioned {
            provider_ref: format!("sandbox_dom_{}", hex(&hash[..8])),
            details: json!({
                "domainName": domain,
                "nameservers": SANDBOX_NAMESERVERS,
                "autoRenew": flag("autoRenew", false),
                "privacyProtection": flag("privacyProtection", true),
                "expiresAt": expires_at,
            }),
        })
    }
}

/// Now plus `years` calendar years at second precision, RFC 3339; 29 February becomes 28 February in
/// a year without it. `None` for a period outside 1-100 years.
fn years_from_now(years: i64) -> Option<String> {
    if !(1..=100).contains(&years) {
        return None;
    }
    let now = OffsetDateTime::from_unix_timestamp(now_ms().div_euclid(1000)).ok()?;
    let year = now.year() + i32::try_from(years).ok()?;
    let later = now
        .replace_year(year)
        .or_else(|_| now.replace_day(28).and_then(|d| d.replace_year(year)))
        .ok()?;
    Some(format_rfc3339(later.unix_timestamp().checked_mul(1000)?))
}

#[async_trait]
impl Registrar for SandboxRegistrar {
    async fn check_availability(&self, domain: &str) -> Result<DomainAvailability, ProviderError> {
        let domain = domain.to_ascii_lowercase();
        if self.reserved.contains(&domain) || self.is_registered(&domain) {
            Ok(DomainAvailability::Unavailable)
        } else {
            Ok(DomainAvailability::Available)
        }
    }

    async fn register(&self, req: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        self.log.provision(req, |hash| self.create(req, hash)).await
    }
}

#[cfg(test)]
mod tests {
    use agent_store_core::time::parse_rfc3339;

    use super::*;
    use crate::tests::request;

    fn domain_request(service_id: &str, name: &str) -> ProvisionRequest {
        request(
            service_id,
            json!({"domainName": name, "periodYears": 2, "autoRenew": true,
                "privacyProtection": true, "registrantEmail": "ops@example.com", "registrantCountry": "US"}),
        )
    }

    #[tokio::test]
    async fn reserved_names_are_unavailable_and_others_free() {
        let registrar = SandboxRegistrar::new(["Google.com".to_owned()]);
        assert_eq!(
            registrar.check_availability("google.com").await.ok(),
            Some(DomainAvailability::Unavailable)
        );
        assert_eq!(
            registrar.check_availability("launchpad.com").await.ok(),
            Some(DomainAvailability::Available)
        );
    }

    #[tokio::test]
    async fn registering_a_name_reports_its_details_and_takes_it() {
        let registrar = SandboxRegistrar::new([]);
        let done = registrar
            .register(&domain_request("svc_d1", "launchpad.com"))
            .await
            .unwrap();
        let d = &done.details;
        assert_eq!(d["domainName"], "launchpad.com");
        assert_eq!(d["nameservers"], json!(SANDBOX_NAMESERVERS));
        assert_eq!(
            (d["autoRenew"].as_bool(), d["privacyProtection"].as_bool()),
            (Some(true), Some(true))
        );
        let expires = parse_rfc3339(d["expiresAt"].as_str().unwrap()).unwrap();
        let two_years_ms = 2 * 365 * 24 * 3600 * 1000;
        assert!(
            (expires - now_ms() - two_years_ms).abs() < 2 * 24 * 3600 * 1000,
            "{d}"
        );
        assert!(done.provider_ref.starts_with("sandbox_dom_"));
        assert_eq!(
            registrar.check_availability("launchpad.com").await.ok(),
            Some(DomainAvailability::Unavailable)
        );
        let again = registrar
            .register(&domain_request("svc_d2", "launchpad.com"))
            .await;
        assert!(again.is_err_and(|e| !e.retryable && e.message.contains("already registered")));
    }

    #[tokio::test]
    async fn a_reserved_name_cannot_be_registered() {
        let registrar = SandboxRegistrar::with_config(&SandboxConfig::default());
        let error = registrar
            .register(&domain_request("svc_d3", "taken.com"))
            .await
            .unwrap_err();
        assert!(!error.retryable);
        assert_eq!(
            error.to_string(),
            "sandbox-registrar: taken.com is not available"
        );
    }
}
