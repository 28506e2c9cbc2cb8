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
    let text = text.trim();
    utc_in_known_hour(text).or_else(|| {
        text.parse::<jiff::Timestamp>()
            .ok()
            .map(|ts| ts.as_millisecond())
    })
}

/// The common form `YYYY-MM-DDTHH:MM:SS[.fraction]Z` within the hour of this thread's
/// previous call (an NDJSON feed stamps every line, and consecutive lines share their hour):
/// the hour's start plus minutes, seconds and milliseconds, without a full parse. `None`
/// for anything else (other offsets, leap seconds, a new hour), which jiff then parses; a
/// new hour is remembered once jiff has validated it.
fn utc_in_known_hour(text: &str) -> Option<Millis> {
    use std::cell::Cell;
    thread_local! {
        static HOUR: Cell<Option<([u8; 13], Millis)>> = const { Cell::new(None) };
    }
    let b = text.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[b.len() - 1] != b'Z' {
        return None;
    }
    let number = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0, |n: Millis, &c| {
            c.is_ascii_digit().then(|| n * 10 + Millis::from(c - b'0'))
        })
    };
    let (minute, second) = (number(14..16)?, number(17..19)?);
    let millis = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            number(20..20 + digits.len())?;
            (0..3).fold(0, |n, i| {
                n * 10 + digits.get(i).map_or(0, |&c| Millis::from(c - b'0'))
            })
        }
        _ => return None,
    };
    if minute > 59 || second > 59 {
        return None;
    }
    let key: [u8; 13] = b[..13].try_into().ok()?;
    let hour = match HOUR.get() {
        Some((k, start)) if k == key => start,
        _ => {
            let start = format!("{}:00:00Z", std::str::from_utf8(&key).ok()?)
                .parse::<jiff::Timestamp>()
                .ok()?
                .as_millisecond();
            if start < 0 {
                return None;
            }
            HOUR.set(Some((key, start)));
            start
        }
    };
    Some(hour + minute * MINUTE + second * SECOND + millis)
}

/// The wall clock now: the arrival time of what the service receives.
pub fn now_ms() -> Millis {
    jiff::Timestamp::now().as_millisecond()
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

    /// The shortcut for the hour seen last agrees with jiff on every form it takes, and
    /// leaves every other form to jiff.
    #[test]
    fn the_known_hour_shortcut_agrees_with_a_full_parse() {
        let full = |t: &str| {
            t.parse::<jiff::Timestamp>()
                .ok()
                .map(|x| x.as_millisecond())
        };
        let mut checked = 0;
        for hour in [
            "2026-06-01T03",
            "2026-06-01T04",
            "2026-12-31T23",
            "2028-02-29T00",
        ] {
            for minute in [0, 7, 59] {
                for second in [0, 1, 30, 59] {
                    for frac in ["", ".5", ".12", ".123", ".1234", ".999999999"] {
                        let t = format!("{hour}:{minute:02}:{second:02}{frac}Z");
                        assert_eq!(parse_rfc3339(&t), full(&t), "{t}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 200);
        for t in [
            "2026-06-01T03:10:00+02:00",
            "2026-06-01t03:10:00z",
            "2026-06-01T03:10:60Z",
            "2026-06-01T03:61:00Z",
            "2026-06-01T03:10:00.Z",
            "2026-06-01T03:10:00.1234567890Z",
            "2026-06-01T03:1x:00Z",
            "2026-02-30T03:10:00Z",
            "1969-12-31T23:59:59.5Z",
        ] {
            assert_eq!(parse_rfc3339(t), full(t), "{t}");
        }
    }
}
