//! Timestamps: stored as integer milliseconds since the Unix epoch, shown as RFC 3339 UTC with a `Z`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

pub const SECOND_MS: Millis = 1_000;
pub const MINUTE_MS: Millis = 60 * SECOND_MS;
pub const HOUR_MS: Millis = 60 * MINUTE_MS;
pub const DAY_MS: Millis = 24 * HOUR_MS;

/// The current time in milliseconds.
pub fn now_ms() -> Millis {
    let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// RFC 3339 UTC, second precision when the milliseconds are zero, else millisecond precision.
pub fn format_rfc3339(ms: Millis) -> String {
    let Ok(dt) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::from("invalid");
    };
    let (y, mo, d) = (dt.year(), u8::from(dt.month()), dt.day());
    let (h, mi, s) = (dt.hour(), dt.minute(), dt.second());
    let milli = dt.millisecond();
    if milli == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
    }
}

/// Parse an RFC 3339 timestamp (any offset) into milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    let dt = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Start of the UTC calendar day containing `ms`.
pub fn start_of_utc_day(ms: Millis) -> Millis {
    ms - ms.rem_euclid(DAY_MS)
}

/// Start of the UTC calendar month containing `ms`.
pub fn start_of_utc_month(ms: Millis) -> Millis {
    let Ok(dt) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms;
    };
    let day_start = start_of_utc_day(ms);
    day_start - i64::from(dt.day() - 1) * DAY_MS
}

/// `ms` plus `months` calendar months (the day is clamped to the target month's length).
pub fn add_months(ms: Millis, months: u32) -> Millis {
    let Ok(dt) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms;
    };
    let total = i64::from(dt.year()) * 12 + i64::from(u8::from(dt.month())) - 1 + i64::from(months);
    let (Ok(year), Ok(month0)) = (
        i32::try_from(total.div_euclid(12)),
        u8::try_from(total.rem_euclid(12)),
    ) else {
        return ms;
    };
    let Ok(month) = time::Month::try_from(month0 + 1) else {
        return ms;
    };
    let day = dt.day().min(month.length(year));
    let Ok(date) = time::Date::from_calendar_date(year, month, day) else {
        return ms;
    };
    let moved = dt.replace_date(date);
    i64::try_from(moved.unix_timestamp_nanos() / 1_000_000).unwrap_or(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_rfc3339() {
        let ms = parse_rfc3339("2026-11-28T16:00:00Z").unwrap();
        assert_eq!(format_rfc3339(ms), "2026-11-28T16:00:00Z");
        assert_eq!(format_rfc3339(ms + 5), "2026-11-28T16:00:00.005Z");
        assert_eq!(parse_rfc3339("2026-11-28T17:00:00+01:00"), Some(ms));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn adding_months_clamps_to_the_month_length() {
        let jan31 = parse_rfc3339("2027-01-31T10:00:00Z").unwrap();
        assert_eq!(format_rfc3339(add_months(jan31, 1)), "2027-02-28T10:00:00Z");
        assert_eq!(
            format_rfc3339(add_months(jan31, 12)),
            "2028-01-31T10:00:00Z"
        );
        assert_eq!(
            format_rfc3339(add_months(jan31, 13)),
            "2028-02-29T10:00:00Z"
        );
    }

    #[test]
    fn day_and_month_windows_start_at_utc_midnight() {
        let ms = parse_rfc3339("2026-11-28T16:30:00Z").unwrap();
        assert_eq!(format_rfc3339(start_of_utc_day(ms)), "2026-11-28T00:00:00Z");
        assert_eq!(
            format_rfc3339(start_of_utc_month(ms)),
            "2026-11-01T00:00:00Z"
        );
    }
}
