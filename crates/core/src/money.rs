//! Money: integer minor units (cents) for wallet amounts, micro-dollars for metered router usage.
//!
//! Dollar inputs (`creditAmountUsd`, `amountUsd`, `initialBalanceUsd`) arrive as JSON numbers. They are
//! converted exactly, without floating-point arithmetic: the number's shortest decimal representation
//! (which round-trips to the same double and is exactly what the client wrote for any value with at most
//! 15 significant digits) is parsed as a decimal string. More than 2 decimal places is an error.

use serde_json::{Number, Value};

/// The only currency this version supports.
pub const CURRENCY: &str = "usd";

/// Largest dollar amount accepted anywhere (guards against overflow long before `i64` limits).
pub const MAX_USD_MINOR: i64 = 100_000_000_000;

/// Micro-dollars per minor unit (cent).
pub const MICRO_USD_PER_MINOR: i64 = 10_000;

/// Parse a JSON value holding a dollar amount into minor units.
pub fn usd_value_to_minor(value: &Value) -> Result<i64, String> {
    match value {
        Value::Number(n) => usd_number_to_minor(n),
        _ => Err("must be a number of US dollars with at most 2 decimal places".to_owned()),
    }
}

/// Parse a JSON number holding a dollar amount into minor units.
pub fn usd_number_to_minor(n: &Number) -> Result<i64, String> {
    if let Some(i) = n.as_i64() {
        return i
            .checked_mul(100)
            .filter(|m| m.abs() <= MAX_USD_MINOR)
            .ok_or_else(|| "is too large".to_owned());
    }
    if n.is_u64() {
        return Err("is too large".to_owned());
    }
    // A float: take the shortest representation that round-trips, which is the client's own text.
    decimal_str_to_minor(&n.to_string())
}

/// Parse a decimal string such as `12`, `12.5`, `-0.25` or `1e2` into minor units, exactly.
pub fn decimal_str_to_minor(text: &str) -> Result<i64, String> {
    const MSG: &str = "must have at most 2 decimal places";
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(pos) => {
            let exp: i32 = body[pos + 1..]
                .parse()
                .map_err(|_| "is not a valid number".to_owned())?;
            (&body[..pos], exp)
        }
        None => (body, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err("is not a valid number".to_owned());
    }
    // digits * 10^(exponent - frac_len) dollars => digits * 10^(exponent - frac_len + 2) cents.
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let frac_len = i32::try_from(frac_part.len()).map_err(|_| MSG.to_owned())?;
    // Checked: the exponent is the client's text (`1e2147483647` from a dashboard form), and
    // plain arithmetic overflowed here (a panic in debug builds, a wrapped scale in release).
    let mut scale = exponent
        .checked_sub(frac_len)
        .and_then(|s| s.checked_add(2))
        .ok_or_else(|| "is too large".to_owned())?;
    let mut digits = digits.to_owned();
    while scale < 0 {
        if digits.ends_with('0') {
            digits.pop();
            scale += 1;
        } else if digits.is_empty() {
            scale = 0;
        } else {
            return Err(MSG.to_owned());
        }
    }
    if digits.is_empty() {
        return Ok(0);
    }
    if digits.len() + usize::try_from(scale).unwrap_or(usize::MAX) > 15 {
        return Err("is too large".to_owned());
    }
    let mut value: i64 = digits
        .parse()
        .map_err(|_| "is not a valid number".to_owned())?;
    for _ in 0..scale {
        value = value
            .checked_mul(10)
            .ok_or_else(|| "is too large".to_owned())?;
    }
    if value > MAX_USD_MINOR {
        return Err("is too large".to_owned());
    }
    Ok(if negative { -value } else { value })
}

/// Format minor units as a dollar string with two decimals, e.g. `1250` -> `12.50`.
pub fn format_minor(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<i64, String> {
        usd_value_to_minor(&v)
    }

    #[test]
    fn whole_and_two_decimal_amounts_convert_exactly() {
        assert_eq!(parse(json!(25)), Ok(2500));
        assert_eq!(parse(json!(10.1)), Ok(1010));
        assert_eq!(parse(json!(0.29)), Ok(29));
        assert_eq!(parse(json!(19.99)), Ok(1999));
        assert_eq!(parse(json!(1e2)), Ok(10000));
        assert_eq!(parse(json!(0)), Ok(0));
    }

    #[test]
    fn more_than_two_decimals_is_rejected() {
        assert!(parse(json!(10.001)).is_err());
        assert!(parse(json!(0.125)).is_err());
    }

    #[test]
    fn non_numbers_and_huge_numbers_are_rejected() {
        assert!(parse(json!("10")).is_err());
        assert!(parse(json!(null)).is_err());
        assert!(parse(json!(1e300)).is_err());
        assert!(parse(json!(u64::MAX)).is_err());
    }

    #[test]
    fn decimal_strings_parse_with_exponents() {
        assert_eq!(decimal_str_to_minor("1.5e1"), Ok(1500));
        assert_eq!(decimal_str_to_minor("125e-2"), Ok(125));
        assert!(decimal_str_to_minor("125e-3").is_err());
        assert_eq!(decimal_str_to_minor("-0.25"), Ok(-25));
        assert!(decimal_str_to_minor("abc").is_err());
        assert!(decimal_str_to_minor(".").is_err());
    }

    #[test]
    fn minor_units_format_as_dollars() {
        assert_eq!(format_minor(1250), "12.50");
        assert_eq!(format_minor(5), "0.05");
        assert_eq!(format_minor(-101), "-1.01");
    }

    #[test]
    fn extreme_exponents_are_refused_without_overflow() {
        for text in [
            "1e2147483647",
            "1.5e2147483647",
            "1.5e-2147483648",
            "1e-2147483648",
            "0.01e2147483646",
            "1e99999999999",
        ] {
            assert!(decimal_str_to_minor(text).is_err(), "{text}");
        }
        assert_eq!(decimal_str_to_minor("0e-2147483648"), Ok(0));
    }

    proptest! {
        #[test]
        fn every_cent_amount_written_as_a_json_number_round_trips(cents in 0i64..100_000_000) {
            let text = format!("{}.{:02}", cents / 100, cents % 100);
            let value: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(usd_value_to_minor(&value), Ok(cents));
        }

        // Dashboard forms and the CLI hand user text to this parser.
        #[test]
        fn arbitrary_text_never_panics_the_decimal_parser(text in ".{0,40}") {
            let _ = decimal_str_to_minor(&text);
        }

        #[test]
        fn number_shaped_text_with_any_exponent_never_panics_and_stays_in_bounds(
            negative in any::<bool>(),
            int_part in "[0-9]{0,20}",
            frac_part in proptest::option::of("[0-9]{0,20}"),
            exponent in proptest::option::of(any::<i32>()),
        ) {
            let text = format!(
                "{}{int_part}{}{}",
                if negative { "-" } else { "" },
                frac_part.map(|f| format!(".{f}")).unwrap_or_default(),
                exponent.map(|e| format!("e{e}")).unwrap_or_default(),
            );
            if let Ok(minor) = decimal_str_to_minor(&text) {
                prop_assert!(minor.abs() <= MAX_USD_MINOR, "{text} -> {minor}");
            }
        }

        #[test]
        fn more_than_two_decimal_places_are_refused(cents in 0i64..1_000_000, extra in 1u8..10) {
            let text = format!("{}.{:02}{extra}", cents / 100, cents % 100);
            prop_assert!(decimal_str_to_minor(&text).is_err(), "{}", text);
        }

        #[test]
        fn any_json_number_never_panics_the_dollar_parser(f in any::<f64>(), i in any::<i64>(), u in any::<u64>()) {
            for value in [serde_json::json!(f), serde_json::json!(i), serde_json::json!(u)] {
                if let Ok(minor) = usd_value_to_minor(&value) {
                    prop_assert!(minor.abs() <= MAX_USD_MINOR);
                }
            }
        }
    }
}
