//! Telephony interface (phone number rental) and the sandbox telephony provider, with its fictional
//! numbering plan.

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::sandbox::{ProvisionLog, config_str, digest, hex};
use crate::{ProviderError, ProvisionRequest, Provisioned, SandboxConfig};

const PROVIDER: &str = "sandbox-telephony";

/// A provider of phone numbers.
#[async_trait]
pub trait Telephony: Send + Sync {
    /// Rent a number of `req.configuration` (countryCode, numberType, capabilities, optional locality).
    /// Details: `phoneNumber` (E.164), `countryCode`, `numberType`, `capabilities`, `locality` (or null).
    async fn rent_number(&self, req: &ProvisionRequest) -> Result<Provisioned, ProviderError>;

    /// Parse the body of one of this provider's inbound webhooks (its signature already verified by
    /// the caller) into the event it reports.
    fn parse_inbound_webhook(&self, body: &str) -> Result<InboundEvent, ProviderError>;

    /// Test mode only: have the carrier receive `traffic` for the number `to` and produce the
    /// webhook body it would deliver. A real carrier refuses (traffic comes from real phones).
    fn simulate_inbound(&self, to: &str, traffic: &InboundTraffic)
    -> Result<String, ProviderError>;
}

/// Inbound traffic to simulate: an SMS, or a call answered for some seconds or missed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundTraffic {
    Sms {
        from: String,
        body: String,
    },
    Call {
        from: String,
        answered: bool,
        duration_seconds: i64,
    },
}

/// An inbound SMS or call as the carrier reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InboundEvent {
    /// The carrier's id of the event; a redelivery carries the same id.
    pub event_id: String,
    /// `sms` or `call`.
    pub kind: String,
    /// The caller or sender, E.164.
    pub from: String,
    /// The rented number, E.164.
    pub to: String,
    /// SMS text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Calls: whether someone answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<bool>,
    /// Calls: seconds connected (0 when missed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
}

/// Where sandbox numbers come from: the country calling code, the leading digits (one picked per
/// number) and how many digits follow them.
struct Block {
    calling_code: &'static str,
    prefixes: &'static [&'static str],
    random_digits: usize,
}

const fn block(
    calling_code: &'static str,
    prefixes: &'static [&'static str],
    random_digits: usize,
) -> Block {
    Block {
        calling_code,
        prefixes,
        random_digits,
    }
}

/// The sandbox's numbering plan. Sandbox numbers must never ring a real person, so they come from
/// ranges reserved for fiction where a regulator publishes one (North America 555-0100 to 555-0199, in
/// several real area codes; Ofcom's drama ranges for the UK; ARCEP's for France; ACMA's for Australia;
/// the Bundesnetzagentur's Berlin range for German landlines), and otherwise from zero-filled blocks that
/// read as obviously made up. US and Canadian numbers of every type use 555-01XX, since only those are
/// guaranteed fictional.
fn numbering_block(country: &str, number_type: &str) -> Option<Block> {
    const US: &[&str] = &[
        "21255501", "41555501", "31255501", "20655501", "51255501", "61755501", "30355501",
        "40455501",
    ];
    const CA: &[&str] = &["41655501", "60455501", "51455501", "40355501", "61355501"];
    let found = match (country, number_type) {
        ("US", _) => block("1", US, 2),
        ("CA", _) => block("1", CA, 2),
        ("GB", "local") => block("44", &["2079460"], 3),
        ("GB", "mobile") => block("44", &["7700900"], 3),
        ("GB", _) => block("44", &["8081570"], 3),
        ("FR", "local") => block("33", &["19900"], 4),
        ("FR", "mobile") => block("33", &["63998"], 4),
        ("FR", _) => block("33", &["80500"], 4),
        ("AU", "local") => block("61", &["25550"], 4),
        ("AU", "mobile") => block("61", &["491570"], 3),
        ("AU", _) => block("61", &["1800160"], 3),
        ("DE", "local") => block("49", &["3023125"], 3),
        ("DE", "mobile") => block("49", &["15200000"], 3),
        ("DE", _) => block("49", &["8000000"], 3),
        ("NL", "local") => block("31", &["200000"], 3),
        ("NL", "mobile") => block("31", &["600000"], 3),
        ("NL", _) => block("31", &["8000"], 3),
        ("ES", "local") => block("34", &["910000"], 3),
        ("ES", "mobile") => block("34", &["600000"], 3),
        ("ES", _) => block("34", &["900000"], 3),
        ("JP", "local") => block("81", &["30000"], 4),
        ("JP", "mobile") => block("81", &["900000"], 4),
        ("JP", _) => block("81", &["120000"], 3),
        ("BR", "local") => block("55", &["1130000"], 3),
        ("BR", "mobile") => block("55", &["11900000"], 3),
        ("BR", _) => block("55", &["8000000"], 3),
        _ => return None,
    };
    Some(found)
}

/// The E.164 number of `hash` in `block`.
fn phone_number(block: &Block, hash: &[u8; 32]) -> String {
    let prefix = block.prefixes[usize::from(hash[0]) % block.prefixes.len()];
    let mut number = format!("+{}{prefix}", block.calling_code);
    for b in hash.iter().skip(1).take(block.random_digits) {
        number.push(char::from(b'0' + b % 10));
    }
    number
}

/// The offline telephony provider: numbers exist only as records, from the fictional plan above.
#[derive(Debug)]
pub struct SandboxTelephony {
    log: ProvisionLog,
    /// Inbound events simulated so far (part of each event id).
    events: std::sync::atomic::AtomicU64,
    /// Random per process, so event ids never repeat across restarts.
    instance: String,
}

impl SandboxTelephony {
    pub fn new(config: &SandboxConfig) -> Self {
        Self {
            log: ProvisionLog::new(PROVIDER, "phone_number", config),
            events: std::sync::atomic::AtomicU64::new(0),
            instance: agent_store_core::keys::random_secret(),
        }
    }

    /// Rental calls made for `service_id` so far.
    pub fn provision_calls(&self, service_id: &str) -> u32 {
        self.log.calls(service_id)
    }

    fn create(
        &self,
        req: &ProvisionRequest,
        hash: &[u8; 32],
    ) -> Result<Provisioned, ProviderError> {
        let (Some(country), Some(number_type)) = (
            config_str(req, "countryCode"),
            config_str(req, "numberType"),
        ) else {
            return Err(self
                .log
                .permanent("the configuration needs a countryCode and a numberType"));
        };
        let country = country.to_ascii_uppercase();
        let Some(block) = numbering_block(&country, number_type) else {
            return Err(self.log.permanent(format!(
                "the sandbox has no phone numbers in country {country}"
            )));
        };
        let capabilities = req
            .configuration
            .get("capabilities")
            .cloned()
            .unwrap_or_else(|| json!([]));
        let locality = req
            .configuration
            .get("locality")
            .cloned()
            .unwrap_or(Value::Null);
        Ok(Provisioned {
            provider_ref: format!("sandbox_num_{}", hex(&hash[..8])),
            details: json!({
                "phoneNumber": phone_number(&block, hash),
                "countryCode": country,
                "numberType": number_type,
                "capabilities": capabilities,
                "locality": locality,
            }),
        })
    }
}

#[async_trait]
impl Telephony for SandboxTelephony {
    async fn rent_number(&self, req: &ProvisionRequest) -> Result<Provisioned, ProviderError> {
        self.log.provision(req, |hash| self.create(req, hash)).await
    }

    fn parse_inbound_webhook(&self, body: &str) -> Result<InboundEvent, ProviderError> {
        let event: InboundEvent = serde_json::from_str(body).map_err(|e| {
            ProviderError::permanent(PROVIDER, format!("malformed inbound webhook: {e}"))
        })?;
        let consistent = match event.kind.as_str() {
            "sms" => event.body.is_some() && event.answered.is_none(),
            "call" => event.body.is_none() && event.duration_seconds.is_some_and(|d| d >= 0),
            _ => false,
        };
        if !consistent || event.event_id.is_empty() {
            return Err(ProviderError::permanent(
                PROVIDER,
                "malformed inbound webhook: inconsistent event",
            ));
        }
        Ok(event)
    }

    fn simulate_inbound(
        &self,
        to: &str,
        traffic: &InboundTraffic,
    ) -> Result<String, ProviderError> {
        let sequence = self
            .events
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let event = match traffic {
            InboundTraffic::Sms { from, body } => InboundEvent {
                event_id: String::new(),
                kind: "sms".to_owned(),
                from: from.clone(),
                to: to.to_owned(),
                body: Some(body.clone()),
                answered: None,
                duration_seconds: None,
            },
            InboundTraffic::Call {
                from,
                answered,
                duration_seconds,
            } => InboundEvent {
                event_id: String::new(),
                kind: "call".to_owned(),
                from: from.clone(),
                to: to.to_owned(),
                body: None,
                answered: Some(*answered),
                duration_seconds: Some(if *answered { *duration_seconds } else { 0 }),
            },
        };
        // Unique per delivery: the sequence and the time keep two identical messages apart, and the
        // hash of the content makes the id depend on what was delivered.
        let seed = format!(
            "{}:{}:{sequence}:{}",
            self.instance,
            agent_store_core::time::now_ms(),
            serde_json::to_string(&event).unwrap_or_default()
        );
        let event = InboundEvent {
            event_id: format!("sbx_evt_{}", hex(&digest("inbound", &seed)[..12])),
            ..event
        };
        serde_json::to_string(&event)
            .map_err(|e| ProviderError::permanent(PROVIDER, format!("cannot encode event: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::request;

    const COUNTRIES: [&str; 10] = ["US", "CA", "GB", "DE", "FR", "NL", "ES", "AU", "JP", "BR"];
    const TYPES: [&str; 3] = ["local", "mobile", "toll_free"];

    /// E.164: a plus sign, then 8 to 15 digits (country code included) not starting with 0.
    fn is_e164(number: &str) -> bool {
        number.strip_prefix('+').is_some_and(|digits| {
            (8..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
        })
    }

    #[test]
    fn phone_numbers_are_valid_e164_and_fictional() {
        for country in COUNTRIES {
            for number_type in TYPES {
                let block = numbering_block(country, number_type).unwrap();
                for n in 0..50 {
                    let number = phone_number(&block, &digest("phone_number", &format!("svc_{n}")));
                    assert!(is_e164(&number), "{country} {number_type}: {number}");
                    let national = &number[1 + block.calling_code.len()..];
                    assert!(
                        block.prefixes.iter().any(|p| national.starts_with(p)),
                        "{number}"
                    );
                    if country == "US" || country == "CA" {
                        // NPA, then 555-0100..0199: the North American range reserved for fiction.
                        assert_eq!(national.len(), 10, "{number}");
                        assert_eq!(&national[3..8], "55501", "{number}");
                    }
                }
            }
        }
        assert!(numbering_block("ZZ", "local").is_none());
    }

    #[tokio::test]
    async fn a_rented_number_reports_its_configuration() {
        let telephony = SandboxTelephony::new(&SandboxConfig::default());
        let req = request(
            "svc_ph",
            json!({"countryCode": "US", "numberType": "local", "capabilities": ["sms", "voice"],
                "locality": "new-york", "initialBalanceUsd": 10}),
        );
        let done = telephony.rent_number(&req).await.unwrap();
        let d = &done.details;
        assert!(d["phoneNumber"].as_str().unwrap().starts_with("+1"));
        assert_eq!(d["countryCode"], "US");
        assert_eq!(d["numberType"], "local");
        assert_eq!(d["capabilities"], json!(["sms", "voice"]));
        assert_eq!(d["locality"], "new-york");
        assert!(done.provider_ref.starts_with("sandbox_num_"));
    }

    #[test]
    fn simulated_inbound_traffic_parses_back_with_unique_event_ids() {
        let telephony = SandboxTelephony::new(&SandboxConfig::default());
        let sms = InboundTraffic::Sms {
            from: "+14155550123".to_owned(),
            body: "hello".to_owned(),
        };
        let first = telephony.simulate_inbound("+12125550100", &sms).unwrap();
        let second = telephony.simulate_inbound("+12125550100", &sms).unwrap();
        let a = telephony.parse_inbound_webhook(&first).unwrap();
        let b = telephony.parse_inbound_webhook(&second).unwrap();
        assert_ne!(a.event_id, b.event_id);
        assert_eq!((a.kind.as_str(), a.body.as_deref()), ("sms", Some("hello")));
        let missed = InboundTraffic::Call {
            from: "+14155550123".to_owned(),
            answered: false,
            duration_seconds: 30,
        };
        let call = telephony
            .parse_inbound_webhook(&telephony.simulate_inbound("+12125550100", &missed).unwrap())
            .unwrap();
        assert_eq!(
            (call.answered, call.duration_seconds),
            (Some(false), Some(0))
        );
        assert!(
            telephony
                .parse_inbound_webhook("{\"kind\": \"fax\"}")
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_country_without_numbers_is_refused_permanently() {
        let telephony = SandboxTelephony::new(&SandboxConfig::default());
        let req = request(
            "svc_zz",
            json!({"countryCode": "IS", "numberType": "local", "capabilities": ["sms"]}),
        );
        let error = telephony.rent_number(&req).await.unwrap_err();
        assert!(!error.retryable);
        assert!(error.message.contains("country IS"), "{error}");
    }
}
