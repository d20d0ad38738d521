//! Storage items (`serviceType` `storage_service`): object buckets or block volumes of a provisioned
//! capacity, priced per GB-month; the quote covers the first month.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::config::{FieldSpec, Rule};
use super::offer::{Priced, check_price, check_range, check_slugs, get_i64, get_str, line, mul};

/// Largest capacity an operator may offer, in GB (1 PB); keeps every price far from overflow.
const MAX_CAPACITY_GB: i64 = 1_000_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct StorageParams {
    /// `object` or `block`; decides the management capabilities.
    pub storage_class: String,
    pub price_per_gb_month_minor: i64,
    pub min_capacity_gb: i64,
    pub max_capacity_gb: i64,
    /// When set, `capacityGb` is optional and defaults to this.
    #[serde(default)]
    pub default_capacity_gb: Option<i64>,
    pub regions: Vec<String>,
}

impl StorageParams {
    pub fn check(&self, at: &str, problems: &mut Vec<String>) {
        if !matches!(self.storage_class.as_str(), "object" | "block") {
            problems.push(format!(
                "{at}.storageClass: {:?} must be \"object\" or \"block\"",
                self.storage_class
            ));
        }
        check_price(
            problems,
            at,
            "pricePerGbMonthMinor",
            self.price_per_gb_month_minor,
        );
        check_range(
            problems,
            at,
            ("minCapacityGb", self.min_capacity_gb),
            ("maxCapacityGb", self.max_capacity_gb),
            1,
            MAX_CAPACITY_GB,
        );
        if let Some(default) = self.default_capacity_gb
            && !(self.min_capacity_gb..=self.max_capacity_gb).contains(&default)
        {
            problems.push(format!(
                "{at}.defaultCapacityGb: {default} must lie between minCapacityGb and maxCapacityGb"
            ));
        }
        check_slugs(problems, at, "regions", &self.regions);
    }

    pub fn fields(&self) -> Vec<FieldSpec> {
        let capacity_rule = Rule::Integer {
            min: self.min_capacity_gb,
            max: self.max_capacity_gb,
        };
        let capacity_description = format!(
            "Provisioned capacity in GB ({} to {}).",
            self.min_capacity_gb, self.max_capacity_gb
        );
        vec![
            FieldSpec::required(
                "region",
                Rule::OneOf(self.regions.clone()),
                "Data center region.",
            ),
            FieldSpec::required(
                "storageClass",
                Rule::Const(self.storage_class.clone()),
                format!("Must be \"{}\" for this item.", self.storage_class),
            ),
            match self.default_capacity_gb {
                Some(default) => FieldSpec::optional(
                    "capacityGb",
                    capacity_rule,
                    json!(default),
                    capacity_description,
                ),
                None => FieldSpec::required("capacityGb", capacity_rule, capacity_description),
            },
        ]
    }

    pub fn price(&self, item_name: &str, config: &Map<String, Value>) -> Option<Priced> {
        let region = get_str(config, "region")?;
        let gb = get_i64(config, "capacityGb")?;
        let amount = mul(self.price_per_gb_month_minor, gb)?;
        Some(Priced::new(
            vec![line(format!("{item_name} {gb} GB x 1 month"), amount)],
            format!("{item_name} ({region}, {gb} GB)"),
        ))
    }

    pub fn pricing(&self) -> Value {
        json!({
            "description": format!("{} per GB-month", self.price_per_gb_month_minor),
            "currency": "usd",
            "unit": "gb_month",
            "pricePerGbMonthMinor": self.price_per_gb_month_minor,
            "minCapacityGb": self.min_capacity_gb,
            "maxCapacityGb": self.max_capacity_gb,
            "defaultCapacityGb": self.default_capacity_gb,
            "note": "the quote covers the first month of the provisioned capacity",
        })
    }

    pub fn extras(&self) -> Map<String, Value> {
        let mut extras = Map::new();
        extras.insert("supportedRegions".to_owned(), json!(self.regions));
        extras.insert("storageClass".to_owned(), json!(self.storage_class));
        extras
    }

    pub fn capabilities(&self) -> &'static [&'static str] {
        if self.storage_class == "object" {
            &["storage:bucket-credentials:create"]
        } else {
            &[
                "storage:volume:attach",
                "storage:volume:expand",
                "storage:snapshot:create",
                "storage:snapshot:restore",
            ]
        }
    }
}
