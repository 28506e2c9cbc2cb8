//! Time as the engine sees it: milliseconds since the Unix epoch, UTC, and their RFC 3339 text.

/// Milliseconds since 1970-01-01T00:00:00Z. Every stage carries time in this unit: it is
/// cheap to compare and to store, and millisecond resolution is all syslog ever gives.
pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

/// RFC 3339 text in UTC with millisecond precision (`2026-06-01T03:10:00.123Z`).
pub fn format_rfc3339(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => format!("invalid-time({ms})"),
    }
}

/// Parses RFC 3339 (any offset, optional fraction) into UTC milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    text.trim()
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|ts| ts.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let ms = parse_rfc3339("2026-06-01T03:10:00.123Z").unwrap();
        assert_eq!(format_rfc3339(ms), "2026-06-01T03:10:00.123Z");
        assert_eq!(parse_rfc3339("2026-06-01T05:10:00.123+02:00"), Some(ms));
        assert_eq!(parse_rfc3339("not a time"), None);
    }
}
