//! DNS input validation for domain services (SPEC section 9): name server lists and DNS records of
//! the types A, AAAA, CNAME, MX, TXT, NS, SRV and CAA, with the TTL and priority rules, the key that
//! makes an upsert replace instead of duplicate, and CNAME exclusivity at a name.
//!
//! Everything here is pure and takes untrusted input: it reports every invalid field by name and never
//! panics (a property test feeds it arbitrary text). Values are normalized (lowercase host names without
//! the trailing dot, canonical IP addresses, single spaces), so the same record written two ways is one
//! record.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::FieldErrors;

/// TTL bounds in seconds, and the TTL of a record that gives none.
pub const MIN_TTL: i64 = 60;
pub const MAX_TTL: i64 = 86_400;
pub const DEFAULT_TTL: i64 = 3_600;
/// How many name servers a domain may delegate to.
pub const MIN_NAMESERVERS: usize = 2;
pub const MAX_NAMESERVERS: usize = 13;
/// Longest TXT value accepted (longer texts are split into 255-byte strings by the provider).
pub const MAX_TXT_LEN: usize = 2048;
/// Longest host name (RFC 1035, without the trailing dot).
const MAX_HOST_LEN: usize = 253;
/// Longest CAA property value.
const MAX_CAA_VALUE_LEN: usize = 255;
/// CAA property tags accepted (RFC 8659, RFC 9495).
pub const CAA_TAGS: [&str; 5] = ["issue", "issuewild", "iodef", "issuemail", "issuevmc"];

/// The record types a domain service manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Mx,
    Txt,
    Ns,
    Srv,
    Caa,
}

impl RecordType {
    pub const ALL: [RecordType; 8] = [
        Self::A,
        Self::Aaaa,
        Self::Cname,
        Self::Mx,
        Self::Txt,
        Self::Ns,
        Self::Srv,
        Self::Caa,
    ];

    /// The wire name (`"A"`, `"AAAA"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Cname => "CNAME",
            Self::Mx => "MX",
            Self::Txt => "TXT",
            Self::Ns => "NS",
            Self::Srv => "SRV",
            Self::Caa => "CAA",
        }
    }

    /// Parse a wire name, ignoring ASCII case.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }

    /// MX and SRV records carry a priority; the other types must not.
    pub const fn needs_priority(self) -> bool {
        matches!(self, Self::Mx | Self::Srv)
    }

    /// Types of which a name may hold several records, told apart by value (MX, TXT, NS, SRV, CAA).
    /// For the others (A, AAAA, CNAME) a name holds one record of the type, replaced on upsert.
    pub const fn keyed_by_value(self) -> bool {
        matches!(
            self,
            Self::Mx | Self::Txt | Self::Ns | Self::Srv | Self::Caa
        )
    }
}

/// A record as a client sent it (already split into fields by the transport).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordInput {
    pub record_type: String,
    pub name: String,
    pub value: String,
    pub ttl: Option<i64>,
    pub priority: Option<i64>,
}

/// A validated, normalized record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub record_type: RecordType,
    /// `@` for the domain itself, else lowercase labels relative to the domain (`www`, `_dmarc`).
    pub name: String,
    pub value: String,
    pub ttl: i64,
    pub priority: Option<i64>,
}

impl Record {
    /// What an upsert matches on: type and name, plus the value for types keyed by value.
    pub fn upsert_key(&self) -> (RecordType, &str, Option<&str>) {
        let value = self
            .record_type
            .keyed_by_value()
            .then_some(self.value.as_str());
        (self.record_type, &self.name, value)
    }

    /// The fully qualified name of the record in `domain`.
    pub fn fqdn(&self, domain: &str) -> String {
        if self.name == "@" {
            domain.to_owned()
        } else {
            format!("{}.{domain}", self.name)
        }
    }
}

/// Validate and normalize a record for `domain` (the service's lowercase domain name). Every invalid
/// field is reported (`type`, `name`, `value`, `ttl`, `priority`).
pub fn validate_record(input: &RecordInput, domain: &str) -> Result<Record, FieldErrors> {
    let mut errors = FieldErrors::new();
    let record_type = RecordType::parse(input.record_type.trim());
    if record_type.is_none() {
        errors.push(
            "type",
            "must be one of A, AAAA, CNAME, MX, TXT, NS, SRV, CAA",
        );
    }
    let name = match normalize_name(&input.name, domain) {
        Ok(name) => Some(name),
        Err(message) => {
            errors.push("name", message);
            None
        }
    };
    let ttl = input.ttl.unwrap_or(DEFAULT_TTL);
    if !(MIN_TTL..=MAX_TTL).contains(&ttl) {
        errors.push(
            "ttl",
            format!("must be between {MIN_TTL} and {MAX_TTL} seconds (default {DEFAULT_TTL})"),
        );
    }
    let Some(record_type) = record_type else {
        return Err(errors);
    };
    match (record_type.needs_priority(), input.priority) {
        (true, None) => errors.push(
            "priority",
            format!(
                "is required for {} records (0 to 65535)",
                record_type.as_str()
            ),
        ),
        (true, Some(p)) if !(0..=65_535).contains(&p) => {
            errors.push("priority", "must be between 0 and 65535");
        }
        (false, Some(_)) => errors.push("priority", "is only used by MX and SRV records"),
        _ => {}
    }
    if let Some(name) = &name {
        if let Some(problem) = name_problem(record_type, name) {
            errors.push("name", problem);
        }
        if name != "@" && fqdn_len(name, domain) > MAX_HOST_LEN {
            errors.push(
                "name",
                format!("the full name must be at most {MAX_HOST_LEN} characters"),
            );
        }
    }
    let value = match normalize_value(record_type, &input.value) {
        Ok(value) => Some(value),
        Err(message) => {
            errors.push("value", message);
            None
        }
    };
    if let (Some(name), Some(value)) = (&name, &value)
        && record_type == RecordType::Cname
    {
        let own = if name == "@" {
            domain.to_owned()
        } else {
            format!("{name}.{domain}")
        };
        if *value == own {
            errors.push("value", "a CNAME record cannot point at its own name");
        }
    }
    match (name, value) {
        (Some(name), Some(value)) if errors.is_empty() => Ok(Record {
            record_type,
            name,
            value,
            ttl,
            priority: input.priority.filter(|_| record_type.needs_priority()),
        }),
        _ => Err(errors),
    }
}

fn fqdn_len(name: &str, domain: &str) -> usize {
    name.len() + 1 + domain.len()
}

/// Rules that depend on the type: no CNAME or NS at the apex, SRV names are `_service._proto[...]`.
fn name_problem(record_type: RecordType, name: &str) -> Option<&'static str> {
    match record_type {
        RecordType::Cname if name == "@" => Some(
            "a CNAME record cannot be at the domain itself (@): it would hide the domain's other records",
        ),
        RecordType::Ns if name == "@" => Some(
            "the domain's own name servers are set with PUT .../domain/nameservers; NS records delegate a subdomain",
        ),
        RecordType::Srv => {
            let mut labels = name.split('.');
            let service = labels.next().unwrap_or_default();
            let proto = labels.next().unwrap_or_default();
            let underscored = |l: &str| l.len() > 1 && l.starts_with('_');
            (!(underscored(service) && underscored(proto))).then_some(
                "an SRV record's name must start with _service._protocol, e.g. _sip._tcp",
            )
        }
        _ => None,
    }
}

/// The record name relative to `domain`: `@` (or empty, or the domain itself) for the apex; a name
/// ending in `.<domain>` (with or without a final dot) is made relative; otherwise labels of letters,
/// digits, hyphens and underscores, with an optional leading `*` wildcard label.
fn normalize_name(raw: &str, domain: &str) -> Result<String, &'static str> {
    let lower = raw.trim().to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if name.is_empty() || name == "@" || name == domain {
        return Ok("@".to_owned());
    }
    let relative = name
        .strip_suffix(domain)
        .and_then(|rest| rest.strip_suffix('.'))
        .unwrap_or(name);
    if relative.is_empty() {
        return Err("must be @ or a name inside the domain");
    }
    if relative == domain || relative.ends_with(&format!(".{domain}")) {
        return Err("repeats the domain name; give the name relative to the domain, e.g. www");
    }
    if relative.len() > MAX_HOST_LEN {
        return Err("is too long");
    }
    for (i, label) in relative.split('.').enumerate() {
        if i == 0 && label == "*" {
            continue;
        }
        if !is_label(label, true) {
            return Err(
                "must be @ or dot-separated labels of 1-63 letters, digits, hyphens or underscores (not starting or ending with a hyphen); * only as the first label",
            );
        }
    }
    Ok(relative.to_owned())
}

/// One DNS label: 1-63 characters of letters, digits and hyphens (and underscores if allowed), not
/// starting or ending with a hyphen.
fn is_label(label: &str, underscore: bool) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || (underscore && b == b'_'))
}

/// A fully qualified host name (at least two labels, letters, digits and hyphens, optional final dot),
/// lowercased without the final dot. `Err` says what is wrong.
pub fn normalize_host(raw: &str) -> Result<String, &'static str> {
    host_name(raw, false)
}

/// [`normalize_host`], optionally allowing underscores in labels (CNAME targets such as
/// `_acme-challenge.example.net`).
fn host_name(raw: &str, underscore: bool) -> Result<String, &'static str> {
    let lower = raw.trim().to_ascii_lowercase();
    let host = lower.strip_suffix('.').unwrap_or(&lower);
    if host.is_empty() {
        return Err("must be a host name such as ns1.example.net");
    }
    if host.len() > MAX_HOST_LEN {
        return Err("must be at most 253 characters");
    }
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return Err(
            "must be a fully qualified host name with at least two labels, such as mail.example.com",
        );
    }
    if !labels.iter().all(|l| is_label(l, underscore)) {
        return Err(
            "must be dot-separated labels of 1-63 letters, digits or hyphens, not starting or ending with a hyphen",
        );
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must be a host name, not an IP address");
    }
    Ok(host.to_owned())
}

/// Validate a record value for its type and normalize it.
fn normalize_value(record_type: RecordType, raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("must not be empty".to_owned());
    }
    match record_type {
        RecordType::A => text
            .parse::<Ipv4Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| "must be an IPv4 address such as 203.0.113.10".to_owned()),
        RecordType::Aaaa => text
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| "must be an IPv6 address such as 2001:db8::10".to_owned()),
        RecordType::Cname => host_name(text, true).map_err(str::to_owned),
        RecordType::Mx | RecordType::Ns => normalize_host(text).map_err(str::to_owned),
        RecordType::Txt => txt_value(raw),
        RecordType::Srv => srv_value(text),
        RecordType::Caa => caa_value(text),
    }
}

fn txt_value(raw: &str) -> Result<String, String> {
    if raw.len() > MAX_TXT_LEN {
        return Err(format!("must be at most {MAX_TXT_LEN} characters"));
    }
    if !raw.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err("must be printable ASCII text (no control characters or tabs)".to_owned());
    }
    Ok(raw.to_owned())
}

/// `weight port target`, e.g. `5 5060 sip.example.com` (the priority is its own field). A target of
/// `.` means the service is not offered.
fn srv_value(text: &str) -> Result<String, String> {
    const SHAPE: &str = "must be \"weight port target\", e.g. \"5 5060 sip.example.com\" (weight 0-65535, port 0-65535)";
    let parts: Vec<&str> = text.split_ascii_whitespace().collect();
    let [weight, port, target] = parts.as_slice() else {
        return Err(SHAPE.to_owned());
    };
    let number = |t: &str| t.parse::<u16>().ok().filter(|_| t.len() <= 5);
    let (Some(weight), Some(port)) = (number(weight), number(port)) else {
        return Err(SHAPE.to_owned());
    };
    let target = if *target == "." {
        ".".to_owned()
    } else {
        normalize_host(target).map_err(|m| format!("target {m}"))?
    };
    Ok(format!("{weight} {port} {target}"))
}

/// `flags tag "value"`, e.g. `0 issue "letsencrypt.org"`; the quotes may be left out.
fn caa_value(text: &str) -> Result<String, String> {
    const SHAPE: &str = "must be \"flags tag value\", e.g. \"0 issue \\\"letsencrypt.org\\\"\" (flags 0-255; tag issue, issuewild, iodef, issuemail or issuevmc)";
    let mut parts = text.splitn(3, |c: char| c.is_ascii_whitespace());
    let (Some(flags), Some(tag), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SHAPE.to_owned());
    };
    let Some(flags) = flags.parse::<u8>().ok().filter(|_| flags.len() <= 3) else {
        return Err(SHAPE.to_owned());
    };
    let tag = tag.to_ascii_lowercase();
    if !CAA_TAGS.contains(&tag.as_str()) {
        return Err(SHAPE.to_owned());
    }
    let rest = rest.trim();
    let inner = match rest.strip_prefix('"') {
        Some(quoted) => quoted
            .strip_suffix('"')
            .ok_or_else(|| "the quoted CAA value is not closed".to_owned())?,
        None => rest,
    };
    if inner.len() > MAX_CAA_VALUE_LEN
        || inner.contains('"')
        || !inner.bytes().all(|b| (0x20..=0x7e).contains(&b))
    {
        return Err(format!(
            "the CAA value must be at most {MAX_CAA_VALUE_LEN} printable ASCII characters without quotes"
        ));
    }
    if tag == "iodef" && !(inner.starts_with("mailto:") || inner.starts_with("https://")) {
        return Err("an iodef CAA value must be a mailto: or https:// URL".to_owned());
    }
    Ok(format!("{flags} {tag} \"{inner}\""))
}

/// Validate a list of name servers: 2 to 13 host names, normalized, without duplicates. Errors name
/// `nameservers` (the list) or `nameservers[i]` (one entry).
pub fn validate_nameservers(raw: &[String]) -> Result<Vec<String>, FieldErrors> {
    let mut errors = FieldErrors::new();
    if !(MIN_NAMESERVERS..=MAX_NAMESERVERS).contains(&raw.len()) {
        errors.push(
            "nameservers",
            format!(
                "must list {MIN_NAMESERVERS} to {MAX_NAMESERVERS} name servers, got {}",
                raw.len()
            ),
        );
        return Err(errors);
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, host) in raw.iter().enumerate() {
        match normalize_host(host) {
            Ok(host) if out.contains(&host) => {
                errors.push(
                    format!("nameservers[{i}]"),
                    format!("{host} is listed twice"),
                );
            }
            Ok(host) => out.push(host),
            Err(message) => errors.push(format!("nameservers[{i}]"), message),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Why `record` cannot join the records already at its name (CNAME exclusivity: a name with a CNAME
/// holds nothing else). `existing` are the other records of the domain, excluding the one the upsert
/// replaces. `None` when it can.
pub fn cname_conflict<'a>(
    record: &Record,
    existing: impl IntoIterator<Item = (RecordType, &'a str)>,
) -> Option<String> {
    for (other_type, other_name) in existing {
        if other_name != record.name {
            continue;
        }
        if record.record_type == RecordType::Cname && other_type != RecordType::Cname {
            return Some(format!(
                "{} already has a {} record; a CNAME cannot coexist with other records at the same name",
                record.name,
                other_type.as_str()
            ));
        }
        if record.record_type != RecordType::Cname && other_type == RecordType::Cname {
            return Some(format!(
                "{} has a CNAME record; delete it before adding other records at that name",
                record.name
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests;
