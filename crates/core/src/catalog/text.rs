//! String rules for configuration values: hostname labels (RFC 1123), registrable domain names, email
//! addresses and slugs. Each rule comes as a checker (used by the validator, which also normalizes case)
//! and a regular expression (used in the generated JSON Schema); the tests keep the two in agreement.

/// One DNS label as a regex: 1-63 letters, digits or hyphens, not starting or ending with a hyphen.
/// Upper case is allowed here because the validator lowercases names instead of rejecting them.
const LABEL_PATTERN: &str = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";

/// Longest email address accepted (the practical SMTP limit).
pub(crate) const MAX_EMAIL_LEN: usize = 254;

/// Longest domain name DNS can carry.
pub(crate) const MAX_DOMAIN_LEN: usize = 253;

/// Longest single DNS label.
pub(crate) const MAX_LABEL_LEN: usize = 63;

pub(crate) fn hostname_pattern() -> String {
    format!("^{LABEL_PATTERN}$")
}

/// `label.tld` with the TLD matched case-insensitively (JSON Schema regexes have no `i` flag).
pub(crate) fn domain_pattern(tld: &str) -> String {
    let tld: String = tld
        .chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                c.to_string()
            }
        })
        .collect();
    format!("^{LABEL_PATTERN}\\.{tld}$")
}

/// One `@`, something before it, and a domain after it with a dot that is neither first nor last.
pub(crate) const EMAIL_PATTERN: &str = r"^[^@\s]+@[^@\s.][^@\s]*\.[^@\s]*[^@\s.]$";

/// Lowercase words joined by single hyphens, such as `new-york`.
pub(crate) const SLUG_PATTERN: &str = "^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$";

/// Why `label` is not a valid RFC 1123 label, or `None` when it is. Expects lowercase input.
pub(crate) fn label_problem(label: &str) -> Option<&'static str> {
    if label.is_empty() {
        Some("is empty")
    } else if label.len() > MAX_LABEL_LEN {
        Some("is longer than 63 characters")
    } else if !label
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Some("may contain only letters, digits and hyphens")
    } else if label.starts_with('-') || label.ends_with('-') {
        Some("must not start or end with a hyphen")
    } else {
        None
    }
}

fn has_whitespace_or_control(s: &str) -> bool {
    s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A server hostname: one RFC 1123 label, normalized to lowercase.
pub(crate) fn check_hostname(raw: &str) -> Result<String, String> {
    const RULE: &str = "must be a hostname label of 1-63 letters, digits or hyphens, \
                        not starting or ending with a hyphen (e.g. web-01)";
    if has_whitespace_or_control(raw) {
        return Err(format!("{RULE}; it contains whitespace"));
    }
    let name = raw.to_ascii_lowercase();
    match label_problem(&name) {
        Some(problem) => Err(format!("{RULE}; it {problem}")),
        None => Ok(name),
    }
}

/// A registrable domain name: exactly one label followed by the item's TLD, normalized to lowercase.
pub(crate) fn check_domain_name(raw: &str, tld: &str) -> Result<String, String> {
    let rule = format!(
        "must be a domain name of the form example.{tld} (one label of 1-63 letters, digits or hyphens, then .{tld})"
    );
    if has_whitespace_or_control(raw) {
        return Err(format!("{rule}; it contains whitespace"));
    }
    if raw.len() > MAX_DOMAIN_LEN {
        return Err(format!(
            "{rule}; it is longer than {MAX_DOMAIN_LEN} characters"
        ));
    }
    let name = raw.to_ascii_lowercase();
    let Some(label) = name.strip_suffix(&format!(".{tld}")) else {
        return Err(format!(
            "must end in .{tld}: this item registers .{tld} names only"
        ));
    };
    if label.contains('.') {
        return Err(format!(
            "must be exactly one label plus .{tld}, e.g. example.{tld}; subdomains cannot be registered"
        ));
    }
    match label_problem(label) {
        Some(problem) => Err(format!("{rule}; the part before .{tld} {problem}")),
        None => Ok(name),
    }
}

/// A pragmatic email check: deliverability is the registrar's concern, obvious typos are ours.
pub(crate) fn check_email(raw: &str) -> Result<String, String> {
    const RULE: &str = "must be an email address such as ops@example.com";
    if raw.len() > MAX_EMAIL_LEN {
        return Err(format!(
            "{RULE}; it is longer than {MAX_EMAIL_LEN} characters"
        ));
    }
    if has_whitespace_or_control(raw) {
        return Err(format!("{RULE}; it contains whitespace"));
    }
    let mut parts = raw.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{RULE}; it must contain exactly one @"));
    };
    if local.is_empty() {
        return Err(format!("{RULE}; nothing comes before the @"));
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return Err(format!(
            "{RULE}; the part after the @ must be a domain with a dot, like example.com"
        ));
    }
    // The domain part is case-insensitive; the local part is left as written (it may be case-sensitive).
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// A short slug such as `new-york`, normalized to lowercase.
pub(crate) fn check_slug(raw: &str, max_len: usize) -> Result<String, String> {
    let rule = format!(
        "must be a short slug of letters and digits joined by single hyphens, at most {max_len} characters (e.g. new-york)"
    );
    let slug = raw.to_ascii_lowercase();
    let well_formed = !slug.is_empty()
        && slug.len() <= max_len
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if well_formed { Ok(slug) } else { Err(rule) }
}
