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

    /// Delegate a registered domain to `nameservers` (2-13 validated, lowercase host names). Setting
    /// the same list again changes nothing.
    async fn set_nameservers(
        &self,
        domain: &DomainRef,
        nameservers: &[String],
    ) -> Result<(), ProviderError>;

    /// Create or replace the record `record.id` in the domain's zone. Idempotent per record id.
    async fn upsert_dns_record(
        &self,
        domain: &DomainRef,
        record: &DnsRecordSpec,
    ) -> Result<(), ProviderError>;

    /// Remove the record `record_id` from the domain's zone; removing an absent record succeeds.
    async fn delete_dns_record(
        &self,
        domain: &DomainRef,
        record_id: &str,
    ) -> Result<(), ProviderError>;
}

/// Which registered domain a management call is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainRef {
    pub service_id: String,
    /// The registrar's id from registration.
    pub provider_ref: String,
    /// Lowercase domain name.
    pub domain_name: String,
}

/// One validated DNS record as the registrar's zone holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecordSpec {
    /// The store's record id (`dns_...`), the registrar's idempotency key for the record.
    pub id: String,
    /// `A`, `AAAA`, `CNAME`, `MX`, `TXT`, `NS`, `SRV` or `CAA`.
    pub record_type: String,
    /// `@` or a name relative to the domain.
    pub name: String,
    pub value: String,
    pub ttl: i64,
    pub priority: Option<i64>,
}

/// The sandbox's copy of one domain's delegation and zone.
#[derive(Debug, Default, Clone)]
struct Zone {
    nameservers: Vec<String>,
    records: HashMap<String, DnsRecordSpec>,
}

/// The offline registrar: every name is free except a configured reserved list and names it registered
/// itself. Names registered through the store are also checked by the app against its own services,
/// which survive restarts; this in-memory set does not.
#[derive(Debug)]
pub struct SandboxRegistrar {
    reserved: HashSet<String>,
    /// Domain name -> the service id it was registered for.
    registered: Mutex<HashMap<String, String>>,
    /// Domain name -> its delegation and records. A zone is created on first use, so a domain
    /// registered before a restart (when this map was lost) is still managed.
    zones: Mutex<HashMap<String, Zone>>,
    /// Calls seen per flaky-marked change, for the simulated outage.
    flaky_calls: Mutex<HashMap<String, u32>>,
    fail_marker: String,
    flaky_marker: String,
    flaky_failures: u32,
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
            zones: Mutex::new(HashMap::new()),
            flaky_calls: Mutex::new(HashMap::new()),
            fail_marker: config.fail_marker.clone(),
            flaky_marker: config.flaky_marker.clone(),
            flaky_failures: config.flaky_failures,
            log: ProvisionLog::new(PROVIDER, "domain", config),
        }
    }

    /// Registration calls made for `service_id` so far.
    pub fn provision_calls(&self, service_id: &str) -> u32 {
        self.log.calls(service_id)
    }

    /// The sandbox's view of a domain: its name servers (the sandbox's own until set) and records,
    /// sorted by record id.
    pub fn zone(&self, domain: &str) -> (Vec<String>, Vec<DnsRecordSpec>) {
        let zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(zone) = zones.get(domain) else {
            return (
                SANDBOX_NAMESERVERS
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                Vec::new(),
            );
        };
        let mut records: Vec<DnsRecordSpec> = zone.records.values().cloned().collect();
        records.sort_by(|a, b| a.id.cmp(&b.id));
        (zone.nameservers.clone(), records)
    }

    /// Test-mode failures for a change whose text is `texts`: the fail marker refuses it for good;
    /// the flaky marker fails its first `flaky_failures` calls with a retryable error.
    fn injected_failure(&self, key: &str, texts: &[&str]) -> Result<(), ProviderError> {
        let has = |marker: &str| !marker.is_empty() && texts.iter().any(|t| t.contains(marker));
        if has(&self.fail_marker) {
            return Err(self.log.permanent(format!(
                "the change contains the test marker {:?}, so the sandbox refuses it",
                self.fail_marker
            )));
        }
        if has(&self.flaky_marker) {
            let mut calls = self
                .flaky_calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let seen = calls.entry(key.to_owned()).or_insert(0);
            *seen = seen.saturating_add(1);
            if *seen <= self.flaky_failures {
                return Err(ProviderError::retryable(
                    PROVIDER,
                    format!(
                        "temporary sandbox outage (test marker {:?}: call {seen} of the first {} fails); retry later",
                        self.flaky_marker, self.flaky_failures
                    ),
                ));
            }
        }
        Ok(())
    }

    fn with_zone<T>(&self, domain: &DomainRef, change: impl FnOnce(&mut Zone) -> T) -> T {
        let mut zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
        let zone = zones
            .entry(domain.domain_name.clone())
            .or_insert_with(|| Zone {
                nameservers: SANDBOX_NAMESERVERS
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                records: HashMap::new(),
            });
        change(zone)
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

    async fn set_nameservers(
        &self,
        domain: &DomainRef,
        nameservers: &[String],
    ) -> Result<(), ProviderError> {
        if !(2..=13).contains(&nameservers.len()) {
            return Err(self.log.permanent("a domain needs 2 to 13 name servers"));
        }
        let texts: Vec<&str> = nameservers.iter().map(String::as_str).collect();
        let key = format!("ns:{}:{}", domain.domain_name, texts.join(","));
        self.injected_failure(&key, &texts)?;
        self.with_zone(domain, |zone| zone.nameservers = nameservers.to_vec());
        Ok(())
    }

    async fn upsert_dns_record(
        &self,
        domain: &DomainRef,
        record: &DnsRecordSpec,
    ) -> Result<(), ProviderError> {
        let key = format!("rr:{}:{}:{}", domain.domain_name, record.id, record.value);
        self.injected_failure(&key, &[&record.name, &record.value])?;
        self.with_zone(domain, |zone| {
            zone.records.insert(record.id.clone(), record.clone());
        });
        Ok(())
    }

    async fn delete_dns_record(
        &self,
        domain: &DomainRef,
        record_id: &str,
    ) -> Result<(), ProviderError> {
        self.with_zone(domain, |zone| zone.records.remove(record_id));
        Ok(())
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

    fn launchpad() -> DomainRef {
        DomainRef {
            service_id: "svc_d9".to_owned(),
            provider_ref: "sandbox_dom_1".to_owned(),
            domain_name: "launchpad.com".to_owned(),
        }
    }

    fn record(id: &str, value: &str) -> DnsRecordSpec {
        DnsRecordSpec {
            id: id.to_owned(),
            record_type: "TXT".to_owned(),
            name: "@".to_owned(),
            value: value.to_owned(),
            ttl: 3600,
            priority: None,
        }
    }

    #[tokio::test]
    async fn the_sandbox_zone_follows_nameserver_and_record_changes_idempotently() {
        let registrar = SandboxRegistrar::with_config(&SandboxConfig::default());
        let d = launchpad();
        assert_eq!(registrar.zone("launchpad.com").0, SANDBOX_NAMESERVERS);
        let ns = vec!["ns1.example.net".to_owned(), "ns2.example.net".to_owned()];
        registrar.set_nameservers(&d, &ns).await.unwrap();
        registrar.set_nameservers(&d, &ns).await.unwrap();
        assert_eq!(registrar.zone("launchpad.com").0, ns);
        assert!(registrar.set_nameservers(&d, &ns[..1]).await.is_err());
        registrar
            .upsert_dns_record(&d, &record("dns_1", "a"))
            .await
            .unwrap();
        registrar
            .upsert_dns_record(&d, &record("dns_1", "b"))
            .await
            .unwrap();
        registrar
            .upsert_dns_record(&d, &record("dns_2", "c"))
            .await
            .unwrap();
        let values: Vec<String> = registrar
            .zone("launchpad.com")
            .1
            .into_iter()
            .map(|r| r.value)
            .collect();
        assert_eq!(values, ["b", "c"]);
        registrar.delete_dns_record(&d, "dns_1").await.unwrap();
        registrar.delete_dns_record(&d, "dns_1").await.unwrap();
        assert_eq!(registrar.zone("launchpad.com").1.len(), 1);
    }

    #[tokio::test]
    async fn dns_changes_with_test_markers_fail_like_a_real_outage() {
        let registrar = SandboxRegistrar::with_config(&SandboxConfig::default());
        let d = launchpad();
        let refused = registrar
            .upsert_dns_record(&d, &record("dns_3", "sandbox-fail"))
            .await
            .unwrap_err();
        assert!(!refused.retryable);
        for _ in 0..2 {
            let flaky = registrar
                .upsert_dns_record(&d, &record("dns_4", "sandbox-flaky"))
                .await
                .unwrap_err();
            assert!(flaky.retryable);
        }
        registrar
            .upsert_dns_record(&d, &record("dns_4", "sandbox-flaky"))
            .await
            .unwrap();
        assert_eq!(registrar.zone("launchpad.com").1.len(), 1);
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
