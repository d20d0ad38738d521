//! Virtual server items (`serviceType` `server`): a monthly price charged for the whole billing term up
//! front, plus an optional backups surcharge as a percentage of that. Each item also states the machine it
//! sells ([`ServerResources`]), which the compute provider is asked to create and the service reports.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::CatalogItem;
use super::config::{FieldSpec, Rule};
use super::offer::{
    Offer, Priced, check_price, check_slugs, get_i64, get_str, line, mul, percent_of, plural,
};

/// Longest billing term an operator may offer, in months.
const MAX_TERM_MONTHS: i64 = 36;
/// Bounds on an item's machine size. They are far beyond any real offer; their job is to catch typos
/// (a size in GB where MB was meant, a missing digit) before the item is sold.
const MAX_VCPUS: i64 = 512;
const MIN_MEMORY_MB: i64 = 256;
const MAX_MEMORY_MB: i64 = 4 * 1024 * 1024;
const MAX_DISK_GB: i64 = 64 * 1024;
/// Longest GPU description, e.g. "1x NVIDIA L4".
const MAX_GPU_LEN: usize = 64;

/// Images that need a GPU: an item may offer them only if it has one (checked when the catalog loads,
/// and again when a server is reinstalled).
pub const GPU_ONLY_IMAGES: &[&str] = &["nvidia-ai-ubuntu"];

/// The machine a server item sells: what the compute provider creates and the service's details report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerResources {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
    /// A display description of the attached GPUs, e.g. "1x NVIDIA L4"; `None` for CPU-only machines.
    pub gpu: Option<String>,
}

impl CatalogItem {
    /// The machine this item sells; `None` for items that are not servers.
    pub fn server_resources(&self) -> Option<ServerResources> {
        match &self.offer {
            Offer::Server(p) => Some(p.resources()),
            _ => None,
        }
    }

    /// The images a server of this item may be installed (or reinstalled) with; empty for other items.
    pub fn server_images(&self) -> &[String] {
        match &self.offer {
            Offer::Server(p) => &p.images,
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ServerParams {
    pub price_per_month_minor: i64,
    /// Backups surcharge as a percentage of the base price.
    pub backups_percent: i64,
    pub regions: Vec<String>,
    pub images: Vec<String>,
    pub billing_terms_months: Vec<i64>,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
    /// Absent for CPU-only machines.
    #[serde(default)]
    pub gpu: Option<String>,
}

impl ServerParams {
    pub fn check(&self, at: &str, problems: &mut Vec<String>) {
        check_price(
            problems,
            at,
            "pricePerMonthMinor",
            self.price_per_month_minor,
        );
        if !(0..=100).contains(&self.backups_percent) {
            problems.push(format!(
                "{at}.backupsPercent: must be between 0 and 100, got {}",
                self.backups_percent
            ));
        }
        check_slugs(problems, at, "regions", &self.regions);
        check_slugs(problems, at, "images", &self.images);
        if self.gpu.is_none() {
            for image in self
                .images
                .iter()
                .filter(|i| GPU_ONLY_IMAGES.contains(&i.as_str()))
            {
                problems.push(format!(
                    "{at}.images: {image:?} needs a GPU, but the item has no gpu"
                ));
            }
        }
        if self.billing_terms_months.is_empty() {
            problems.push(format!("{at}.billingTermsMonths: must not be empty"));
        }
        for (i, term) in self.billing_terms_months.iter().enumerate() {
            if !(1..=MAX_TERM_MONTHS).contains(term)
                || self.billing_terms_months[..i].contains(term)
            {
                problems.push(format!(
                    "{at}.billingTermsMonths[{i}]: {term} must be a distinct number of months from 1 to {MAX_TERM_MONTHS}"
                ));
            }
        }
        self.check_resources(at, problems);
    }

    fn check_resources(&self, at: &str, problems: &mut Vec<String>) {
        for (field, value, min, max) in [
            ("vcpus", self.vcpus, 1, MAX_VCPUS),
            ("memoryMb", self.memory_mb, MIN_MEMORY_MB, MAX_MEMORY_MB),
            ("diskGb", self.disk_gb, 1, MAX_DISK_GB),
        ] {
            if !(min..=max).contains(&value) {
                problems.push(format!(
                    "{at}.{field}: must be between {min} and {max}, got {value}"
                ));
            }
        }
        if let Some(gpu) = &self.gpu {
            // Shown verbatim in listings and service details, so keep it to one short printable line.
            let printable = gpu.chars().all(|c| c.is_ascii_graphic() || c == ' ');
            if gpu.trim().is_empty() || gpu.trim() != gpu || gpu.len() > MAX_GPU_LEN || !printable {
                problems.push(format!(
                    "{at}.gpu: {gpu:?} must be 1-{MAX_GPU_LEN} printable ASCII characters without surrounding spaces"
                ));
            }
        }
    }

    pub fn resources(&self) -> ServerResources {
        ServerResources {
            vcpus: self.vcpus,
            memory_mb: self.memory_mb,
            disk_gb: self.disk_gb,
            gpu: self.gpu.clone(),
        }
    }

    pub fn fields(&self) -> Vec<FieldSpec> {
        vec![
            FieldSpec::required(
                "hostname",
                Rule::Hostname,
                "Server hostname: one RFC 1123 label (letters, digits, hyphens; 1-63 characters). Normalized to lowercase.",
            ),
            FieldSpec::required(
                "region",
                Rule::OneOf(self.regions.clone()),
                "Data center region.",
            ),
            FieldSpec::required(
                "image",
                Rule::OneOf(self.images.clone()),
                "Operating system image to install.",
            ),
            FieldSpec::required(
                "billingTermMonths",
                Rule::IntegerOneOf(self.billing_terms_months.clone()),
                "Billing term in months; the whole term is charged at purchase.",
            ),
            FieldSpec::optional(
                "backupsEnabled",
                Rule::Boolean,
                json!(false),
                format!(
                    "Daily backups, adding {}% to the price.",
                    self.backups_percent
                ),
            ),
        ]
    }

    pub fn price(&self, item_name: &str, config: &Map<String, Value>) -> Option<Priced> {
        let region = get_str(config, "region")?;
        let months = get_i64(config, "billingTermMonths")?;
        let backups = config.get("backupsEnabled").and_then(Value::as_bool)?;
        let period = plural(months, "month");
        let base = mul(self.price_per_month_minor, months)?;
        let mut lines = vec![line(format!("{item_name} x {period}"), base)];
        let mut display = format!("{item_name} ({region}, {period}");
        if backups {
            lines.push(line("Backups", percent_of(base, self.backups_percent)?));
            display.push_str(", backups");
        }
        display.push(')');
        Some(Priced::new(lines, display))
    }

    pub fn pricing(&self) -> Value {
        json!({
            "description": format!("{} per month; backups add {}%", self.price_per_month_minor, self.backups_percent),
            "currency": "usd",
            "unit": "month",
            "pricePerMonthMinor": self.price_per_month_minor,
            "backupsPercent": self.backups_percent,
            "billingTermsMonths": self.billing_terms_months,
            "note": "the whole billing term is charged at purchase; percentages round half up to the cent",
        })
    }

    pub fn extras(&self) -> Map<String, Value> {
        let mut extras = Map::new();
        extras.insert("supportedImages".to_owned(), json!(self.images));
        extras.insert("supportedRegions".to_owned(), json!(self.regions));
        extras.insert(
            "supportedBillingTermsMonths".to_owned(),
            json!(self.billing_terms_months),
        );
        extras.insert("resources".to_owned(), json!(self.resources()));
        extras
    }
}
