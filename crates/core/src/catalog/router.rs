//! LLM router credit items (`serviceType` `llm_router`): a prepaid credit balance whose price equals the
//! amount of credit bought. `topUpServiceId` adds the credit to an existing router service instead of
//! creating a new one.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::config::{FieldSpec, Rule, minor_to_usd_value};
use super::offer::{Priced, check_range, line};
use crate::money::{MAX_USD_MINOR, format_minor, usd_value_to_minor};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RouterParams {
    pub min_credit_minor: i64,
    pub max_credit_minor: i64,
}

impl RouterParams {
    pub fn check(&self, at: &str, problems: &mut Vec<String>) {
        check_range(
            problems,
            at,
            ("minCreditMinor", self.min_credit_minor),
            ("maxCreditMinor", self.max_credit_minor),
            1,
            MAX_USD_MINOR,
        );
    }

    pub fn fields(&self) -> Vec<FieldSpec> {
        vec![
            FieldSpec::required(
                "creditAmountUsd",
                Rule::Usd {
                    min_minor: self.min_credit_minor,
                    max_minor: self.max_credit_minor,
                },
                format!(
                    "Credit to buy, in US dollars ({} to {}, at most 2 decimals); the price equals the amount.",
                    format_minor(self.min_credit_minor),
                    format_minor(self.max_credit_minor)
                ),
            ),
            FieldSpec::optional(
                "topUpServiceId",
                Rule::ServiceId,
                Value::Null,
                "An existing LLM router service (svc_...) to add the credit to, instead of creating a new service.",
            ),
        ]
    }

    pub fn price(&self, item_name: &str, config: &Map<String, Value>) -> Option<Priced> {
        let amount = usd_value_to_minor(config.get("creditAmountUsd")?).ok()?;
        let dollars = format_minor(amount);
        Some(Priced::new(
            vec![line(
                format!("{item_name}: {dollars} USD of credit"),
                amount,
            )],
            format!("{item_name} ({dollars} USD)"),
        ))
    }

    pub fn pricing(&self) -> Value {
        json!({
            "description": "equal to the credit amount (25 USD of credit = 2500)",
            "currency": "usd",
            "unit": "one_time",
            "minCreditUsd": minor_to_usd_value(self.min_credit_minor),
            "maxCreditUsd": minor_to_usd_value(self.max_credit_minor),
            "minCreditMinor": self.min_credit_minor,
            "maxCreditMinor": self.max_credit_minor,
        })
    }
}
