//! What an item sells, by service type: the per-type parameters from the catalog file and the dispatch
//! from a catalog item to its type's configuration fields, pricing, requirements and capabilities.

use serde_json::{Map, Value};

use super::QuoteLine;
use super::config::FieldSpec;
use super::storage::StorageParams;
use super::{domain::DomainParams, phone::PhoneParams, router::RouterParams, server::ServerParams};

/// The service types of SPEC section 1, with the parameters that configure each.
#[derive(Debug, Clone)]
pub(crate) enum Offer {
    Domain(DomainParams),
    Server(ServerParams),
    Storage(StorageParams),
    Phone(PhoneParams),
    Router(RouterParams),
}

/// The priced configuration of one unit, before quantity.
#[derive(Debug, Clone)]
pub(crate) struct Priced {
    pub lines: Vec<QuoteLine>,
    pub display_name: String,
    pub domain_name: Option<String>,
}

impl Priced {
    pub fn new(lines: Vec<QuoteLine>, display_name: String) -> Self {
        Self {
            lines,
            display_name,
            domain_name: None,
        }
    }
}

pub(crate) fn line(description: impl Into<String>, amount_minor: i64) -> QuoteLine {
    QuoteLine {
        description: description.into(),
        amount_minor,
    }
}

/// `a * b`, or `None` when the product does not fit in `i64`.
pub(crate) fn mul(a: i64, b: i64) -> Option<i64> {
    i64::try_from(i128::from(a) * i128::from(b)).ok()
}

/// `percent`% of a non-negative `amount`, rounded half up, in integer arithmetic.
pub(crate) fn percent_of(amount: i64, percent: i64) -> Option<i64> {
    i64::try_from((i128::from(amount) * i128::from(percent) + 50) / 100).ok()
}

/// `n unit` or `n units`.
pub(crate) fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

pub(crate) fn get_str<'a>(config: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    config.get(name).and_then(Value::as_str)
}

pub(crate) fn get_i64(config: &Map<String, Value>, name: &str) -> Option<i64> {
    config.get(name).and_then(Value::as_i64)
}

impl Offer {
    pub fn service_type(&self) -> &'static str {
        match self {
            Self::Domain(_) => "domain",
            Self::Server(_) => "server",
            Self::Storage(_) => "storage_service",
            Self::Phone(_) => "phone_number",
            Self::Router(_) => "llm_router",
        }
    }

    /// The category each service type belongs to; policies' per-category rules rely on this pairing.
    pub fn category(service_type: &str) -> Option<&'static str> {
        match service_type {
            "domain" => Some("domains"),
            "server" => Some("compute"),
            "storage_service" => Some("storage"),
            "phone_number" => Some("telephony"),
            "llm_router" => Some("api_tokens"),
            _ => None,
        }
    }

    /// Parse an item's `parameters` for its service type, reporting problems under `at`.
    pub fn parse(
        service_type: &str,
        parameters: Value,
        at: &str,
        problems: &mut Vec<String>,
    ) -> Option<Self> {
        fn typed<T: serde::de::DeserializeOwned>(
            parameters: Value,
            at: &str,
            problems: &mut Vec<String>,
        ) -> Option<T> {
            serde_json::from_value(parameters)
                .map_err(|e| problems.push(format!("{at}.parameters: {e}")))
                .ok()
        }
        let offer = match service_type {
            "domain" => Self::Domain(typed(parameters, at, problems)?),
            "server" => Self::Server(typed(parameters, at, problems)?),
            "storage_service" => Self::Storage(typed(parameters, at, problems)?),
            "phone_number" => Self::Phone(typed(parameters, at, problems)?),
            "llm_router" => Self::Router(typed(parameters, at, problems)?),
            other => {
                problems.push(format!(
                    "{at}.serviceType: unknown service type {other:?} (expected domain, server, storage_service, phone_number or llm_router)"
                ));
                return None;
            }
        };
        let at = format!("{at}.parameters");
        match &offer {
            Self::Domain(p) => p.check(&at, problems),
            Self::Server(p) => p.check(&at, problems),
            Self::Storage(p) => p.check(&at, problems),
            Self::Phone(p) => p.check(&at, problems),
            Self::Router(p) => p.check(&at, problems),
        }
        Some(offer)
    }

    pub fn fields(&self) -> Vec<FieldSpec> {
        match self {
            Self::Domain(p) => p.fields(),
            Self::Server(p) => p.fields(),
            Self::Storage(p) => p.fields(),
            Self::Phone(p) => p.fields(),
            Self::Router(p) => p.fields(),
        }
    }

    /// Price one unit of a validated, normalized configuration. `None` only on arithmetic overflow or a
    /// normalized configuration missing a field, which validation rules out.
    pub fn price(&self, item_name: &str, config: &Map<String, Value>) -> Option<Priced> {
        match self {
            Self::Domain(p) => p.price(config),
            Self::Server(p) => p.price(item_name, config),
            Self::Storage(p) => p.price(item_name, config),
            Self::Phone(p) => p.price(item_name, config),
            Self::Router(p) => p.price(item_name, config),
        }
    }

    /// The `pricing` object of the checkout requirements.
    pub fn pricing(&self) -> Value {
        match self {
            Self::Domain(p) => p.pricing(),
            Self::Server(p) => p.pricing(),
            Self::Storage(p) => p.pricing(),
            Self::Phone(p) => p.pricing(),
            Self::Router(p) => p.pricing(),
        }
    }

    /// Type-specific keys added to the checkout requirements.
    pub fn requirement_extras(&self) -> Map<String, Value> {
        match self {
            Self::Domain(p) => p.extras(),
            Self::Server(p) => p.extras(),
            Self::Storage(p) => p.extras(),
            Self::Phone(p) => p.extras(),
            Self::Router(_) => Map::new(),
        }
    }

    pub fn price_from_minor(&self) -> i64 {
        match self {
            Self::Domain(p) => p.price_from_minor(),
            Self::Server(p) => p.price_per_month_minor,
            Self::Storage(p) => p.price_per_gb_month_minor,
            Self::Phone(p) => p.price_from_minor(),
            Self::Router(p) => p.min_credit_minor,
        }
    }

    pub fn pricing_unit(&self) -> &'static str {
        match self {
            Self::Domain(_) => "year",
            Self::Server(_) | Self::Phone(_) => "month",
            Self::Storage(_) => "gb_month",
            Self::Router(_) => "one_time",
        }
    }

    /// The management actions a purchased service of this item supports (SPEC section 4). These are
    /// fixed by the code that implements them, so they are not part of the catalog file.
    pub fn management_capabilities(&self) -> Vec<String> {
        let caps: &[&str] = match self {
            Self::Domain(_) => &[
                "domain:nameservers:set",
                "domain:dns-records:read",
                "domain:dns-records:write",
            ],
            Self::Server(_) => &["server:restart", "server:reinstall", "server:power"],
            Self::Phone(_) => &[
                "phone:balance:topup",
                "phone:messages:read",
                "phone:missed-calls:read",
                "phone:call-log:read",
            ],
            Self::Storage(p) => p.capabilities(),
            Self::Router(_) => &[
                "router:api-key:create",
                "router:api-key:list",
                "router:api-key:revoke",
                "router:usage:get",
            ],
        };
        caps.iter().map(|c| (*c).to_owned()).collect()
    }
}

/// Load-time check that a price in minor units is positive and not absurd.
pub(crate) fn check_price(problems: &mut Vec<String>, at: &str, field: &str, minor: i64) {
    if !(1..=crate::money::MAX_USD_MINOR).contains(&minor) {
        problems.push(format!(
            "{at}.{field}: must be a price greater than 0 (in cents), got {minor}"
        ));
    }
}

/// Load-time check of an inclusive range `min..=max` that must sit within `floor..=ceiling`.
pub(crate) fn check_range(
    problems: &mut Vec<String>,
    at: &str,
    (min_name, min): (&str, i64),
    (max_name, max): (&str, i64),
    floor: i64,
    ceiling: i64,
) {
    if min < floor || max > ceiling || min > max {
        problems.push(format!(
            "{at}: {min_name} ({min}) and {max_name} ({max}) must satisfy {floor} <= {min_name} <= {max_name} <= {ceiling}"
        ));
    }
}

/// Load-time check of a list of slugs (regions, images): non-empty, distinct, lowercase letters, digits,
/// dots and hyphens only, so they are safe to show in messages and use as provider parameters.
pub(crate) fn check_slugs(problems: &mut Vec<String>, at: &str, field: &str, values: &[String]) {
    if values.is_empty() {
        problems.push(format!("{at}.{field}: must not be empty"));
    }
    for (i, value) in values.iter().enumerate() {
        let well_formed = !value.is_empty()
            && value.len() <= 64
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !well_formed {
            problems.push(format!(
                "{at}.{field}[{i}]: {value:?} must be 1-64 lowercase letters, digits, dots or hyphens"
            ));
        }
        if values[..i].contains(value) {
            problems.push(format!("{at}.{field}[{i}]: {value:?} is listed twice"));
        }
    }
}
