//! Phone number items (`serviceType` `phone_number`): a number rented by country and number type, priced
//! as the first month's rental plus an optional prepaid usage balance.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::config::{FieldSpec, Rule, minor_to_usd_value};
use super::countries;
use super::offer::{Priced, check_price, check_range, get_str, line};
use crate::money::{MAX_USD_MINOR, usd_value_to_minor};

const NUMBER_TYPES: [&str; 3] = ["local", "mobile", "toll_free"];
const CAPABILITIES: [&str; 3] = ["sms", "voice", "mms"];
/// Longest `locality` slug accepted.
const MAX_LOCALITY_LEN: usize = 64;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PhoneParams {
    pub countries: Vec<PhoneCountry>,
    pub min_initial_balance_minor: i64,
    pub max_initial_balance_minor: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct PhoneCountry {
    /// ISO 3166-1 alpha-2, upper case.
    pub code: String,
    pub name: String,
    pub monthly_rental_minor: Rentals,
}

/// Monthly rental per number type; keys are the `numberType` values themselves.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rentals {
    pub local: i64,
    pub mobile: i64,
    pub toll_free: i64,
}

impl Rentals {
    fn get(&self, number_type: &str) -> Option<i64> {
        match number_type {
            "local" => Some(self.local),
            "mobile" => Some(self.mobile),
            "toll_free" => Some(self.toll_free),
            _ => None,
        }
    }
}

impl PhoneParams {
    pub fn check(&self, at: &str, problems: &mut Vec<String>) {
        if self.countries.is_empty() {
            problems.push(format!("{at}.countries: must not be empty"));
        }
        for (i, country) in self.countries.iter().enumerate() {
            let here = format!("{at}.countries[{i}]");
            if !countries::is_iso_country(&country.code) {
                problems.push(format!(
                    "{here}.code: {:?} is not an upper-case ISO 3166-1 alpha-2 code",
                    country.code
                ));
            }
            if self.countries[..i].iter().any(|c| c.code == country.code) {
                problems.push(format!("{here}.code: {:?} is listed twice", country.code));
            }
            if country.name.trim().is_empty() {
                problems.push(format!("{here}.name: must not be empty"));
            }
            let rentals = &country.monthly_rental_minor;
            for (number_type, minor) in [
                ("local", rentals.local),
                ("mobile", rentals.mobile),
                ("toll_free", rentals.toll_free),
            ] {
                check_price(
                    problems,
                    &format!("{here}.monthlyRentalMinor"),
                    number_type,
                    minor,
                );
            }
        }
        check_range(
            problems,
            at,
            ("minInitialBalanceMinor", self.min_initial_balance_minor),
            ("maxInitialBalanceMinor", self.max_initial_balance_minor),
            0,
            MAX_USD_MINOR,
        );
    }

    pub fn fields(&self) -> Vec<FieldSpec> {
        let owned = |values: &[&str]| {
            values
                .iter()
                .map(|v| (*v).to_owned())
                .collect::<Vec<String>>()
        };
        let codes = self.countries.iter().map(|c| c.code.clone()).collect();
        vec![
            FieldSpec::required(
                "countryCode",
                Rule::CountryOneOf(codes),
                "Country of the number (ISO 3166-1 alpha-2).",
            ),
            FieldSpec::required(
                "numberType",
                Rule::OneOf(owned(&NUMBER_TYPES)),
                "Kind of number; the rental depends on it.",
            ),
            FieldSpec::required(
                "capabilities",
                Rule::Subset(owned(&CAPABILITIES)),
                "What the number must support: a non-empty list of distinct values from sms, voice, mms.",
            ),
            FieldSpec::optional(
                "locality",
                Rule::Slug {
                    max_len: MAX_LOCALITY_LEN,
                },
                Value::Null,
                "Preferred city or area as a slug, e.g. new-york (best effort).",
            ),
            FieldSpec::optional(
                "initialBalanceUsd",
                Rule::Usd {
                    min_minor: self.min_initial_balance_minor,
                    max_minor: self.max_initial_balance_minor,
                },
                minor_to_usd_value(self.min_initial_balance_minor),
                "Prepaid usage balance for messages and calls, in US dollars (at most 2 decimals).",
            ),
        ]
    }

    pub fn price(&self, item_name: &str, config: &Map<String, Value>) -> Option<Priced> {
        let code = get_str(config, "countryCode")?;
        let number_type = get_str(config, "numberType")?;
        let rental = self
            .countries
            .iter()
            .find(|c| c.code == code)?
            .monthly_rental_minor
            .get(number_type)?;
        let balance = usd_value_to_minor(config.get("initialBalanceUsd")?).ok()?;
        let type_label = number_type.replace('_', "-");
        let mut lines = vec![line(
            format!("{code} {type_label} number rental x 1 month"),
            rental,
        )];
        if balance > 0 {
            lines.push(line("Initial usage balance", balance));
        }
        let display = match get_str(config, "locality") {
            Some(locality) => format!("{item_name} ({code} {type_label}, {locality})"),
            None => format!("{item_name} ({code} {type_label})"),
        };
        Some(Priced::new(lines, display))
    }

    pub fn pricing(&self) -> Value {
        let example = self
            .countries
            .first()
            .map(|c| format!(" ({} local {})", c.code, c.monthly_rental_minor.local))
            .unwrap_or_default();
        json!({
            "description": format!("monthly rental by country and number type{example}, plus the initial usage balance"),
            "currency": "usd",
            "unit": "month",
            "rentals": self.countries,
            "minInitialBalanceMinor": self.min_initial_balance_minor,
            "maxInitialBalanceMinor": self.max_initial_balance_minor,
        })
    }

    pub fn extras(&self) -> Map<String, Value> {
        let mut extras = Map::new();
        extras.insert("supportedCountries".to_owned(), json!(self.countries));
        extras.insert("supportedNumberTypes".to_owned(), json!(NUMBER_TYPES));
        extras.insert("supportedCapabilities".to_owned(), json!(CAPABILITIES));
        extras
    }

    pub fn price_from_minor(&self) -> i64 {
        let rentals = self.countries.iter().map(|c| &c.monthly_rental_minor);
        rentals
            .flat_map(|r| [r.local, r.mobile, r.toll_free])
            .min()
            .unwrap_or(0)
    }
}
