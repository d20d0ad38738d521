//! Domain registration items (`serviceType` `domain`): one TLD per item, priced per year of registration.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::config::{FieldSpec, Rule};
use super::offer::{Priced, check_price, check_range, get_i64, get_str, line, mul, plural};
use super::text;

/// Registries accept registrations of at most 10 years.
const MAX_REGISTRATION_YEARS: i64 = 10;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DomainParams {
    /// The TLD without its dot, e.g. `com`.
    pub tld: String,
    pub price_per_year_minor: i64,
    pub min_period_years: i64,
    pub max_period_years: i64,
}

impl DomainParams {
    pub fn check(&self, at: &str, problems: &mut Vec<String>) {
        if self.tld != self.tld.to_ascii_lowercase() || text::label_problem(&self.tld).is_some() {
            problems.push(format!(
                "{at}.tld: {:?} must be a lowercase DNS label without the dot, e.g. com",
                self.tld
            ));
        }
        check_price(problems, at, "pricePerYearMinor", self.price_per_year_minor);
        check_range(
            problems,
            at,
            ("minPeriodYears", self.min_period_years),
            ("maxPeriodYears", self.max_period_years),
            1,
            MAX_REGISTRATION_YEARS,
        );
    }

    pub fn fields(&self) -> Vec<FieldSpec> {
        let tld = &self.tld;
        vec![
            FieldSpec::required(
                "domainName",
                Rule::DomainName { tld: tld.clone() },
                format!(
                    "The name to register: one label followed by .{tld}, e.g. example.{tld}. Normalized to lowercase."
                ),
            ),
            FieldSpec::required(
                "periodYears",
                Rule::Integer {
                    min: self.min_period_years,
                    max: self.max_period_years,
                },
                format!(
                    "Registration period in years ({} to {}).",
                    self.min_period_years, self.max_period_years
                ),
            ),
            FieldSpec::required(
                "registrantEmail",
                Rule::Email,
                "Email address of the registrant (the domain's legal owner).",
            ),
            FieldSpec::required(
                "registrantCountry",
                Rule::IsoCountry,
                "Registrant's country as an ISO 3166-1 alpha-2 code, e.g. US.",
            ),
            // Off by default so nothing renews (and spends) unless asked for.
            FieldSpec::optional(
                "autoRenew",
                Rule::Boolean,
                json!(false),
                "Renew automatically before expiry.",
            ),
            // On by default: it costs nothing and keeps the registrant's details out of public WHOIS.
            FieldSpec::optional(
                "privacyProtection",
                Rule::Boolean,
                json!(true),
                "Hide registrant contact details in public WHOIS (free).",
            ),
        ]
    }

    pub fn price(&self, config: &Map<String, Value>) -> Option<Priced> {
        let name = get_str(config, "domainName")?;
        let years = get_i64(config, "periodYears")?;
        let amount = mul(self.price_per_year_minor, years)?;
        let period = plural(years, "year");
        let mut priced = Priced::new(
            vec![line(format!("{name} registration x {period}"), amount)],
            format!("{name} ({period})"),
        );
        priced.domain_name = Some(name.to_owned());
        Some(priced)
    }

    pub fn pricing(&self) -> Value {
        let mut description = format!("{} per year", self.price_per_year_minor);
        if self.min_period_years > 1 {
            description.push_str(&format!("; minimum {} years", self.min_period_years));
        }
        description.push_str("; privacy protection and auto-renew included at no extra cost");
        json!({
            "description": description,
            "currency": "usd",
            "unit": "year",
            "pricePerYearMinor": self.price_per_year_minor,
            "minPeriodYears": self.min_period_years,
            "maxPeriodYears": self.max_period_years,
        })
    }

    pub fn extras(&self) -> Map<String, Value> {
        let mut extras = Map::new();
        extras.insert("tld".to_owned(), json!(self.tld));
        extras.insert("minPeriodYears".to_owned(), json!(self.min_period_years));
        extras.insert("maxPeriodYears".to_owned(), json!(self.max_period_years));
        extras
    }

    pub fn price_from_minor(&self) -> i64 {
        self.price_per_year_minor
    }
}
