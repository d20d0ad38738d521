//! Formatting for people: dollars with thousands separators, micro-dollars, dates; and parsing the
//! dollar amounts people type into forms (exactly, no floating point).

use agent_store_core::money::decimal_str_to_minor;

/// `123456` -> `$1,234.56`, `-250` -> `-$2.50`.
pub fn usd(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}${}.{:02}", thousands(abs / 100), abs % 100)
}

/// Micro-dollars with enough precision to see small router costs: `1234` -> `$0.001234`.
pub fn micro_usd(micro: i64) -> String {
    let sign = if micro < 0 { "-" } else { "" };
    let abs = micro.unsigned_abs();
    let cents_part = abs % 1_000_000;
    let text = format!("{cents_part:06}");
    let trimmed = text.trim_end_matches('0');
    let frac = if trimmed.len() < 2 {
        &text[..2]
    } else {
        trimmed
    };
    format!("{sign}${}.{frac}", thousands(abs / 1_000_000))
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// An RFC 3339 timestamp as `2026-11-28 16:00 UTC` (the API's strings are always UTC).
pub fn when(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// An optional timestamp, or a dash.
pub fn when_opt(rfc3339: Option<&str>) -> String {
    rfc3339.map_or_else(|| "—".to_owned(), when)
}

/// Parse a dollar amount typed by a person (`100`, `100.5`, `$1,250.00`) into cents. Empty is `None`.
pub fn parse_usd(text: &str) -> Result<Option<i64>, String> {
    let cleaned: String = text
        .trim()
        .trim_start_matches('$')
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    if cleaned.is_empty() {
        return Ok(None);
    }
    if cleaned.starts_with('-') {
        return Err("must not be negative".to_owned());
    }
    if cleaned.contains(['e', 'E']) {
        return Err("must be a plain amount such as 20 or 20.50".to_owned());
    }
    decimal_str_to_minor(&cleaned)
        .map(Some)
        .map_err(|e| format!("{e} (for example 20 or 20.50)"))
}

/// A status word as a label: `pending_approval` -> `Pending approval`.
pub fn label(status: &str) -> String {
    let text = status.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Escape text for HTML we assemble ourselves (the SVG charts).
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_are_shown_with_separators_and_cents() {
        assert_eq!(usd(123_456), "$1,234.56");
        assert_eq!(usd(-250), "-$2.50");
        assert_eq!(usd(0), "$0.00");
        assert_eq!(usd(100_000_000), "$1,000,000.00");
    }

    #[test]
    fn micro_dollars_keep_small_costs_visible() {
        assert_eq!(micro_usd(1_234), "$0.001234");
        assert_eq!(micro_usd(2_500_000), "$2.50");
        assert_eq!(micro_usd(0), "$0.00");
    }

    #[test]
    fn typed_amounts_parse_exactly_or_explain() {
        assert_eq!(parse_usd("100"), Ok(Some(10_000)));
        assert_eq!(parse_usd(" $1,250.5 "), Ok(Some(125_050)));
        assert_eq!(parse_usd(""), Ok(None));
        assert!(parse_usd("20.001").is_err());
        assert!(parse_usd("-5").is_err());
        assert!(parse_usd("abc").is_err());
        assert!(parse_usd("1e3").is_err());
    }
}
