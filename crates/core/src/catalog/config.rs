//! The configuration field engine. Each catalog item describes its configuration as a list of
//! [`FieldSpec`]s built from its own parameters; that one description drives both the validator (which
//! reports every bad field at once and returns a normalized configuration with defaults filled in) and the
//! JSON Schema published in the checkout requirements, so the two cannot drift apart.

use serde_json::{Map, Number, Value, json};

use super::{countries, text};
use crate::fields::FieldErrors;
use crate::ids::{IdKind, is_valid_id};
use crate::money::{format_minor, usd_value_to_minor};

/// What a value must look like.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    /// An RFC 1123 hostname label, lowercased.
    Hostname,
    /// `label.<tld>`, lowercased.
    DomainName {
        tld: String,
    },
    Email,
    /// A short lowercase slug such as `new-york`.
    Slug {
        max_len: usize,
    },
    /// One of a fixed list of strings, matched exactly.
    OneOf(Vec<String>),
    /// Any assigned ISO 3166-1 alpha-2 code, case-insensitive, normalized to upper case.
    IsoCountry,
    /// One of the listed country codes, case-insensitive, normalized to upper case.
    CountryOneOf(Vec<String>),
    /// A service id (`svc_...`).
    ServiceId,
    Integer {
        min: i64,
        max: i64,
    },
    IntegerOneOf(Vec<i64>),
    Boolean,
    /// A dollar amount (at most 2 decimals) within bounds given in minor units.
    Usd {
        min_minor: i64,
        max_minor: i64,
    },
    /// Exactly this string (for example the storage class an item sells).
    Const(String),
    /// A non-empty list of distinct values from the given set.
    Subset(Vec<String>),
}

/// Whether a field must be given, or what it becomes when it is not.
#[derive(Debug, Clone)]
pub(crate) enum Presence {
    Required,
    /// Optional; filled in with this value. A `null` default also lets clients send `null` explicitly.
    Default(Value),
}

#[derive(Debug, Clone)]
pub(crate) struct FieldSpec {
    pub name: &'static str,
    pub description: String,
    pub rule: Rule,
    pub presence: Presence,
}

impl FieldSpec {
    pub fn required(name: &'static str, rule: Rule, description: impl Into<String>) -> Self {
        Self {
            name,
            description: description.into(),
            rule,
            presence: Presence::Required,
        }
    }

    pub fn optional(
        name: &'static str,
        rule: Rule,
        default: Value,
        description: impl Into<String>,
    ) -> Self {
        Self {
            name,
            description: description.into(),
            rule,
            presence: Presence::Default(default),
        }
    }

    pub fn is_required(&self) -> bool {
        matches!(self.presence, Presence::Required)
    }

    fn accepts_null(&self) -> bool {
        matches!(self.presence, Presence::Default(Value::Null))
    }
}

/// A dollar amount in minor units as a JSON number of dollars (`1250` -> `12.5`), built from the exact
/// decimal text so no floating-point arithmetic is involved.
pub(crate) fn minor_to_usd_value(minor: i64) -> Value {
    if minor % 100 == 0 {
        return Value::from(minor / 100);
    }
    format_minor(minor)
        .parse::<Number>()
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Validate `configuration` against `specs`, pushing one error per bad field (path
/// `configuration.<name>`), and return the normalized configuration. Absent or `null` counts as `{}` so
/// that every missing required field is reported.
pub(crate) fn normalize(
    specs: &[FieldSpec],
    configuration: Option<&Value>,
    errors: &mut FieldErrors,
) -> Map<String, Value> {
    let empty = Map::new();
    let object = match configuration {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(object)) => object,
        Some(_) => {
            // Field-by-field errors would all be noise once the shape itself is wrong.
            errors.push("configuration", "must be a JSON object");
            return Map::new();
        }
    };
    for key in object.keys() {
        if !specs.iter().any(|spec| spec.name == key) {
            let known: Vec<&str> = specs.iter().map(|spec| spec.name).collect();
            errors.push(
                format!("configuration.{key}"),
                format!(
                    "is not a known field for this item (known fields: {})",
                    known.join(", ")
                ),
            );
        }
    }
    let mut normalized = Map::new();
    for spec in specs {
        let path = format!("configuration.{}", spec.name);
        match (object.get(spec.name), &spec.presence) {
            (None, Presence::Required) => errors.push(path, "is required"),
            (None, Presence::Default(default)) => {
                normalized.insert(spec.name.to_owned(), default.clone());
            }
            (Some(Value::Null), _) if spec.accepts_null() => {
                normalized.insert(spec.name.to_owned(), Value::Null);
            }
            (Some(value), _) => match check(&spec.rule, value) {
                Ok(value) => {
                    normalized.insert(spec.name.to_owned(), value);
                }
                Err(message) => errors.push(path, message),
            },
        }
    }
    normalized
}

fn list(values: &[String]) -> String {
    values.join(", ")
}

fn string_of(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "must be a string".to_owned())
}

fn integer_of(value: &Value) -> Result<i64, String> {
    value
        .as_i64()
        .ok_or_else(|| "must be an integer".to_owned())
}

/// Check one present value; `Ok` carries its normalized form.
fn check(rule: &Rule, value: &Value) -> Result<Value, String> {
    match rule {
        Rule::Hostname => text::check_hostname(string_of(value)?).map(Value::from),
        Rule::DomainName { tld } => {
            text::check_domain_name(string_of(value)?, tld).map(Value::from)
        }
        Rule::Email => text::check_email(string_of(value)?).map(Value::from),
        Rule::Slug { max_len } => text::check_slug(string_of(value)?, *max_len).map(Value::from),
        Rule::OneOf(allowed) => {
            let s = string_of(value)?;
            if allowed.iter().any(|a| a == s) {
                Ok(Value::from(s))
            } else {
                Err(format!("must be one of {}", list(allowed)))
            }
        }
        Rule::IsoCountry => {
            let code = string_of(value)?.to_ascii_uppercase();
            if countries::is_iso_country(&code) {
                Ok(Value::from(code))
            } else {
                Err("must be an ISO 3166-1 alpha-2 country code such as US, GB or DE".to_owned())
            }
        }
        Rule::CountryOneOf(allowed) => {
            let code = string_of(value)?.to_ascii_uppercase();
            if allowed.contains(&code) {
                Ok(Value::from(code))
            } else {
                Err(format!(
                    "must be one of the supported country codes {}",
                    list(allowed)
                ))
            }
        }
        Rule::ServiceId => {
            let id = string_of(value)?;
            if is_valid_id(IdKind::Service, id) {
                Ok(Value::from(id))
            } else {
                Err("must be a service id (svc_ followed by 26 characters)".to_owned())
            }
        }
        Rule::Integer { min, max } => {
            let n = integer_of(value)
                .map_err(|_| format!("must be an integer between {min} and {max}"))?;
            if (*min..=*max).contains(&n) {
                Ok(Value::from(n))
            } else {
                Err(format!("must be an integer between {min} and {max}"))
            }
        }
        Rule::IntegerOneOf(allowed) => {
            let shown: Vec<String> = allowed.iter().map(i64::to_string).collect();
            match integer_of(value) {
                Ok(n) if allowed.contains(&n) => Ok(Value::from(n)),
                _ => Err(format!("must be one of {}", list(&shown))),
            }
        }
        Rule::Boolean => value
            .as_bool()
            .map(Value::from)
            .ok_or_else(|| "must be true or false".to_owned()),
        Rule::Usd {
            min_minor,
            max_minor,
        } => {
            let minor = usd_value_to_minor(value)?;
            if (*min_minor..=*max_minor).contains(&minor) {
                Ok(minor_to_usd_value(minor))
            } else {
                Err(format!(
                    "must be between {} and {} US dollars",
                    format_minor(*min_minor),
                    format_minor(*max_minor)
                ))
            }
        }
        Rule::Const(expected) => match value.as_str() {
            Some(s) if s == expected => Ok(Value::from(s)),
            _ => Err(format!("must be \"{expected}\" for this item")),
        },
        Rule::Subset(allowed) => check_subset(allowed, value),
    }
}

/// A non-empty set of distinct allowed values, returned in the canonical order of `allowed`.
fn check_subset(allowed: &[String], value: &Value) -> Result<Value, String> {
    let rule = format!(
        "must be a non-empty list of distinct values from {}",
        list(allowed)
    );
    let Some(items) = value.as_array() else {
        return Err(rule);
    };
    if items.is_empty() {
        return Err(format!("{rule}; it is empty"));
    }
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        match item.as_str() {
            None => return Err(format!("{rule}; every entry must be a string")),
            Some(s) if !allowed.iter().any(|a| a == s) => {
                return Err(format!("{rule}; {s:?} is not one of them"));
            }
            Some(s) if seen.contains(&s) => {
                return Err(format!("{rule}; {s:?} appears more than once"));
            }
            Some(s) => seen.push(s),
        }
    }
    Ok(Value::from(
        allowed
            .iter()
            .filter(|a| seen.contains(&a.as_str()))
            .cloned()
            .collect::<Vec<String>>(),
    ))
}

/// The JSON Schema (draft 2020-12) of a configuration object with these fields.
pub(crate) fn schema(title: &str, specs: &[FieldSpec]) -> Value {
    let mut properties = Map::new();
    for spec in specs {
        properties.insert(spec.name.to_owned(), property_schema(spec));
    }
    let required: Vec<&str> = specs
        .iter()
        .filter(|s| s.is_required())
        .map(|s| s.name)
        .collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn property_schema(spec: &FieldSpec) -> Value {
    let mut schema = match &spec.rule {
        Rule::Hostname => {
            json!({"type": "string", "minLength": 1, "maxLength": text::MAX_LABEL_LEN, "pattern": text::hostname_pattern()})
        }
        Rule::DomainName { tld } => {
            json!({"type": "string", "maxLength": text::MAX_DOMAIN_LEN, "pattern": text::domain_pattern(tld)})
        }
        Rule::Email => {
            json!({"type": "string", "maxLength": text::MAX_EMAIL_LEN, "pattern": text::EMAIL_PATTERN})
        }
        Rule::Slug { max_len } => {
            json!({"type": "string", "minLength": 1, "maxLength": max_len, "pattern": text::SLUG_PATTERN})
        }
        Rule::OneOf(allowed) | Rule::CountryOneOf(allowed) => {
            json!({"type": "string", "enum": allowed})
        }
        Rule::IsoCountry => {
            json!({"type": "string", "enum": countries::ISO_3166_ALPHA2.as_slice()})
        }
        Rule::ServiceId => json!({"type": "string", "pattern": "^svc_[0-9A-Za-z]{26}$"}),
        Rule::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Rule::IntegerOneOf(allowed) => json!({"type": "integer", "enum": allowed}),
        Rule::Boolean => json!({"type": "boolean"}),
        Rule::Usd {
            min_minor,
            max_minor,
        } => json!({
            "type": "number",
            "minimum": minor_to_usd_value(*min_minor),
            "maximum": minor_to_usd_value(*max_minor),
        }),
        Rule::Const(expected) => json!({"type": "string", "const": expected}),
        Rule::Subset(allowed) => json!({
            "type": "array",
            "items": {"type": "string", "enum": allowed},
            "minItems": 1,
            "maxItems": allowed.len(),
            "uniqueItems": true,
        }),
    };
    if let Value::Object(map) = &mut schema {
        map.insert(
            "description".to_owned(),
            Value::from(spec.description.clone()),
        );
        if let Presence::Default(default) = &spec.presence {
            if default.is_null() {
                // An explicit null means "not given", so the schema must admit it.
                if let Some(kind) = map.get("type").cloned() {
                    map.insert("type".to_owned(), json!([kind, "null"]));
                }
            } else {
                map.insert("default".to_owned(), default.clone());
            }
        }
    }
    schema
}
