//! Device clock text: the timestamp shapes network devices write (BSD, Cisco with year and
//! zone, NX-OS year-first, RFC 3339, uptime), their zone names and offsets, and the year a
//! year-less stamp belongs to. Everything ends as UTC [`Millis`].
//!
//! The scanners here work on bytes and positions so the header parser can try a shape at any
//! offset without allocating; they never index past the end of the input.

use crate::time::{DAY, HOUR, MINUTE, Millis, SECOND};

/// How far the device vouches for its clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSync {
    /// No marker: the device believes its clock (NTP synced or set by hand).
    Synced,
    /// `*` before the stamp: the clock was never set or is not synced (typical right after a
    /// reload, until NTP syncs).
    NotAuthoritative,
    /// `.` before the stamp: the clock was set but sync was lost since.
    SyncLost,
}

/// A wall-clock time the device wrote, converted to UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceStamp {
    /// The instant in UTC milliseconds.
    pub millis: Millis,
    /// The clock flag written before the stamp.
    pub sync: ClockSync,
    /// The year was written (else inferred from the reference time).
    pub had_year: bool,
    /// The zone is known: written and understood, or the device's own zone applied with
    /// [`DeviceStamp::in_zone`] (else UTC was assumed).
    pub zone_known: bool,
    /// The offset the wall time was read in, minutes east of UTC (0 when UTC was assumed):
    /// `millis` plus this offset is the wall time the device wrote.
    pub offset_minutes: i32,
}

impl DeviceStamp {
    /// The same wall time read in `zone`, the device's clock zone (from the inventory), when
    /// the stamp wrote no zone or one we could not place: devices set to local time often
    /// write `Jun  1 03:10:00` with no zone at all. A stamp with a known zone is unchanged;
    /// a wall time the zone skips (spring forward) is read with the offset before the gap.
    pub fn in_zone(self, zone: &jiff::tz::TimeZone) -> DeviceStamp {
        if self.zone_known {
            return self;
        }
        // The stamp was converted as if written in UTC, so its UTC fields are the wall time.
        let Ok(as_utc) = jiff::Timestamp::from_millisecond(self.millis) else {
            return self;
        };
        let wall = jiff::tz::TimeZone::UTC.to_datetime(as_utc);
        match zone.to_ambiguous_timestamp(wall).compatible() {
            Ok(t) => DeviceStamp {
                millis: t.as_millisecond(),
                zone_known: true,
                offset_minutes: zone.to_offset(t).seconds() / 60,
                ..self
            },
            Err(_) => self,
        }
    }
}

/// Month number (1..=12) for a three-letter English abbreviation, case-insensitive.
pub fn month_from_abbrev(b: &[u8]) -> Option<u8> {
    let [a, b, c] = b else {
        return None;
    };
    let key = [
        a.to_ascii_lowercase(),
        b.to_ascii_lowercase(),
        c.to_ascii_lowercase(),
    ];
    Some(match &key {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// What a stamp said about its zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Zone {
    /// Nothing written: UTC is assumed.
    Unwritten,
    /// A zone we understood, as minutes east of UTC.
    Offset(i32),
    /// A zone name we do not know (or cannot place): UTC is assumed.
    Unknown,
}

/// A timestamp as written, before year inference and zone conversion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WallTime {
    pub year: Option<i32>,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub milli: u16,
    pub zone: Zone,
}

/// Abbreviations devices are configured with (`clock timezone NAME`), as minutes east of UTC.
/// Ambiguous names take their most common network-operations meaning: IST is India, CST is
/// US Central; a per-device zone table can override later.
const ZONES: &[(&[u8], i32)] = &[
    (b"utc", 0),
    (b"gmt", 0),
    (b"ut", 0),
    (b"z", 0),
    (b"cet", 60),
    (b"cest", 120),
    (b"mest", 120),
    (b"met", 60),
    (b"mez", 60),
    (b"mesz", 120),
    (b"eet", 120),
    (b"eest", 180),
    (b"wet", 0),
    (b"west", 60),
    (b"bst", 60),
    (b"ist", 330),
    (b"est", -300),
    (b"edt", -240),
    (b"cst", -360),
    (b"cdt", -300),
    (b"mst", -420),
    (b"mdt", -360),
    (b"pst", -480),
    (b"pdt", -420),
    (b"akst", -540),
    (b"akdt", -480),
    (b"hst", -600),
    (b"aest", 600),
    (b"aedt", 660),
    (b"acst", 570),
    (b"acdt", 630),
    (b"awst", 480),
    (b"jst", 540),
    (b"kst", 540),
    (b"sgt", 480),
    (b"hkt", 480),
    (b"nzst", 720),
    (b"nzdt", 780),
    (b"msk", 180),
];

fn zone_by_name(name: &[u8]) -> Option<i32> {
    ZONES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, off)| off)
}

/// Reads `n` ASCII digits exactly at `i`.
fn fixed_digits(b: &[u8], i: usize, n: usize) -> Option<u32> {
    let s = b.get(i..i.checked_add(n)?)?;
    s.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Reads 1..=`max` ASCII digits at `i`; returns the value and the end position.
fn var_digits(b: &[u8], i: usize, max: usize) -> Option<(u32, usize)> {
    let mut v = 0u32;
    let mut j = i;
    while j < b.len() && j - i < max && b[j].is_ascii_digit() {
        v = v * 10 + u32::from(b[j] - b'0');
        j += 1;
    }
    (j > i).then_some((v, j))
}

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// A numeric offset `+H`, `+HH`, `+HHMM`, `+HH:MM` (`UTC+07:30` writes no sign on minutes).
fn parse_offset(b: &[u8], i: usize) -> Option<(i32, usize)> {
    let sign = match at(b, i) {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, mut j) = var_digits(b, i + 1, 2)?;
    let mut minutes = 0;
    if j - (i + 1) == 2
        && let Some(m) = fixed_digits(b, j, 2)
    {
        // `+0200`
        minutes = m;
        j += 2;
    } else if at(b, j) == b':'
        && let Some(m) = fixed_digits(b, j + 1, 2)
    {
        // `+02:00`, `UTC+07:30`
        minutes = m;
        j += 3;
    }
    if hours > 18 || minutes > 59 {
        return None;
    }
    Some((sign * (hours as i32 * 60 + minutes as i32), j))
}

/// A zone written after a time: a name (`UTC`, `mdt`, `CEST`), a name with an offset
/// (`UTC+1`, `UTC+07:30`), or a bare offset (`+0200`, `+02:00`).
pub(crate) fn parse_zone(b: &[u8], i: usize) -> Option<(Zone, usize)> {
    if let Some((off, j)) = parse_offset(b, i) {
        return Some((Zone::Offset(off), j));
    }
    let mut j = i;
    while j < b.len() && j - i < 6 && b[j].is_ascii_alphabetic() {
        j += 1;
    }
    if j == i || at(b, j).is_ascii_alphabetic() {
        return None;
    }
    let name = &b[i..j];
    let base = zone_by_name(name);
    if let Some((off, k)) = parse_offset(b, j) {
        // Only UTC/GMT-relative offsets are unambiguous; `CET+1` is not a thing we can place.
        return Some(match base {
            Some(0) => (Zone::Offset(off), k),
            _ => (Zone::Unknown, k),
        });
    }
    Some((base.map_or(Zone::Unknown, Zone::Offset), j))
}

/// `hh:mm:ss[.fff…]`; the fraction keeps milliseconds and skips further digits.
fn parse_clock(b: &[u8], i: usize) -> Option<(u8, u8, u8, u16, usize)> {
    let (h, j) = var_digits(b, i, 2)?;
    if at(b, j) != b':' {
        return None;
    }
    let m = fixed_digits(b, j + 1, 2)?;
    if at(b, j + 3) != b':' {
        return None;
    }
    let s = fixed_digits(b, j + 4, 2)?;
    let mut k = j + 6;
    let mut milli = 0u16;
    if at(b, k) == b'.' && at(b, k + 1).is_ascii_digit() {
        k += 1;
        let start = k;
        while k < b.len() && b[k].is_ascii_digit() {
            if k - start < 3 {
                milli = milli * 10 + u16::from(b[k] - b'0');
            }
            k += 1;
        }
        for _ in (k - start)..3 {
            milli *= 10;
        }
    }
    // Values are range-checked at resolve time; u8 holds any two digits.
    Some((h as u8, m as u8, s as u8, milli, k))
}

fn count_spaces(b: &[u8], i: usize) -> usize {
    b.get(i..)
        .map_or(0, |s| s.iter().take_while(|&&c| c == b' ').count())
}

/// `Mmm ` at `i`: the start of a date, so a 4-digit number before it is a year-first stamp.
fn starts_month_word(b: &[u8], i: usize) -> bool {
    b.get(i..i + 3).and_then(month_from_abbrev).is_some() && at(b, i + 3) == b' '
}

/// BSD/Cisco: `Mmm [d]d [YYYY ]hh:mm:ss[.fff][ YYYY]`. The year may sit before the time
/// (Cisco `service timestamps ... year`, ASA) or after it (Junos `time-format year`).
pub(crate) fn parse_bsd(b: &[u8], i: usize) -> Option<(WallTime, usize)> {
    let month = month_from_abbrev(b.get(i..i + 3)?)?;
    let sp = count_spaces(b, i + 3);
    if !(1..=2).contains(&sp) {
        return None;
    }
    let (day, j) = var_digits(b, i + 3 + sp, 2)?;
    if at(b, j) != b' ' {
        return None;
    }
    let mut k = j + 1;
    let mut year = None;
    if let Some(y) = fixed_digits(b, k, 4)
        && at(b, k + 4) == b' '
    {
        year = Some(y as i32);
        k += 5;
    }
    let (hour, minute, second, milli, mut end) = parse_clock(b, k)?;
    if year.is_none() {
        // Junos `Nov 10 12:21:25.510 2020  host`: a 4-digit year after the time, but not
        // the start of an NX-OS year-first stamp written by the device after a relay stamp.
        let sp = count_spaces(b, end);
        let after = end + sp + 4;
        if (1..=2).contains(&sp)
            && let Some(y) = fixed_digits(b, end + sp, 4)
            && (after == b.len() || b[after] == b' ')
            && !starts_month_word(b, after + 1)
        {
            year = Some(y as i32);
            end += sp + 4;
        }
    }
    let wall = WallTime {
        year,
        month,
        day: day as u8,
        hour,
        minute,
        second,
        milli,
        zone: Zone::Unwritten,
    };
    Some((wall, end))
}

/// NX-OS: `YYYY Mmm [d]d hh:mm:ss[.fff]`.
pub(crate) fn parse_year_first(b: &[u8], i: usize) -> Option<(WallTime, usize)> {
    let y = fixed_digits(b, i, 4)?;
    if at(b, i + 4) != b' ' {
        return None;
    }
    let (mut wall, end) = parse_bsd(b, i + 5)?;
    if wall.year.is_some() {
        return None;
    }
    wall.year = Some(y as i32);
    Some((wall, end))
}

/// RFC 3339 / ISO 8601: `YYYY-MM-DDThh:mm:ss[.f…][Z|±hh:mm]`; a missing offset means UTC
/// assumed (zone not known).
pub(crate) fn parse_rfc3339(b: &[u8], i: usize) -> Option<(WallTime, usize)> {
    let y = fixed_digits(b, i, 4)?;
    if at(b, i + 4) != b'-' || at(b, i + 7) != b'-' || !matches!(at(b, i + 10), b'T' | b't') {
        return None;
    }
    let mo = fixed_digits(b, i + 5, 2)?;
    let d = fixed_digits(b, i + 8, 2)?;
    if at(b, i + 13) != b':' {
        // The hour must be two digits here; parse_clock accepts one.
        return None;
    }
    let (hour, minute, second, milli, mut end) = parse_clock(b, i + 11)?;
    let zone = match at(b, end) {
        b'Z' | b'z' => {
            end += 1;
            Zone::Offset(0)
        }
        b'+' | b'-' => {
            let (off, j) = parse_offset(b, end)?;
            end = j;
            Zone::Offset(off)
        }
        _ => Zone::Unwritten,
    };
    let wall = WallTime {
        year: Some(y as i32),
        month: mo as u8,
        day: d as u8,
        hour,
        minute,
        second,
        milli,
        zone,
    };
    Some((wall, end))
}

/// A date and a clock written as two fields, `YYYY<sep>MM<sep>DD` and `hh:mm:ss[.fff]`
/// (FortiGate `date=2020-04-23 time=14:24:13`, PAN-OS `2021/10/26 15:05:03`); both must be
/// consumed whole. The zone is unwritten.
pub(crate) fn parse_date_and_clock(date: &[u8], sep: u8, clock: &[u8]) -> Option<WallTime> {
    if date.len() != 10 || at(date, 4) != sep || at(date, 7) != sep {
        return None;
    }
    let y = fixed_digits(date, 0, 4)?;
    let mo = fixed_digits(date, 5, 2)?;
    let d = fixed_digits(date, 8, 2)?;
    let (hour, minute, second, milli, end) = parse_clock(clock, 0)?;
    (end == clock.len()).then_some(WallTime {
        year: Some(y as i32),
        month: mo as u8,
        day: d as u8,
        hour,
        minute,
        second,
        milli,
        zone: Zone::Unwritten,
    })
}

/// Any wall-clock stamp shape at `i`: RFC 3339, NX-OS year-first, or BSD/Cisco.
pub(crate) fn parse_date_stamp(b: &[u8], i: usize) -> Option<(WallTime, usize)> {
    match at(b, i) {
        c if c.is_ascii_digit() => parse_rfc3339(b, i).or_else(|| parse_year_first(b, i)),
        c if c.is_ascii_alphabetic() => parse_bsd(b, i),
        _ => None,
    }
}

/// Cisco `service timestamps log uptime`: `2y10w`, `1d02h`, `3w4d`, or `00:01:23[.fff]`.
/// Returns the end position.
pub(crate) fn parse_uptime(b: &[u8], i: usize) -> Option<usize> {
    let units = |c: u8| matches!(c, b'y' | b'w' | b'd' | b'h' | b'm');
    let (_, j) = var_digits(b, i, 5)?;
    if units(at(b, j)) {
        let (_, k) = var_digits(b, j + 1, 2)?;
        return units(at(b, k)).then_some(k + 1);
    }
    let (_, _, _, _, end) = parse_clock(b, i)?;
    Some(end)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let (m, d) = (i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar year holding day `z` (days since 1970-01-01).
fn year_of_days(z: i64) -> i64 {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let y = yoe + era * 400;
    if mp >= 10 { y + 1 } else { y }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Which year a stamp that wrote none belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum YearOf {
    /// The year that puts the stamp nearest this time (the arrival time), stepping back a
    /// year rather than landing more than a day after it.
    Nearest(Millis),
    /// This calendar year, whatever the date: for a line read with no arrival time at all,
    /// where "nearest now" would move a December stamp read in January a year back.
    Calendar(i32),
}

/// Years the engine will reason about; keeps the arithmetic far from overflow whatever the
/// reference or the written year.
const MIN_YEAR: i64 = 1;
const MAX_YEAR: i64 = 9999;

impl WallTime {
    /// UTC millis of this wall time in year `y`, or None if the date does not exist there.
    fn millis_in_year(&self, y: i64, offset_minutes: i32) -> Option<Millis> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&y)
            || self.day == 0
            || self.day > days_in_month(y, self.month)
            || self.hour > 23
            || self.minute > 59
            || self.second > 60
        {
            return None;
        }
        let days = days_from_civil(y, self.month, self.day);
        Some(
            days * DAY
                + i64::from(self.hour) * HOUR
                + i64::from(self.minute) * MINUTE
                + i64::from(self.second) * SECOND
                + i64::from(self.milli)
                - i64::from(offset_minutes) * MINUTE,
        )
    }

    /// Converts to UTC. A year-less stamp takes its year as `year` says: the year that puts it
    /// nearest the reference, stepping back one year if that lands more than a day after it (a
    /// device writing `Dec 31 23:59:50` that arrives on Jan 1 belongs to the old year), or a
    /// given calendar year. None when the date does not exist (`May 00`, `Feb 30`).
    pub(crate) fn resolve_in(&self, sync: ClockSync, year: YearOf) -> Option<DeviceStamp> {
        let (offset, zone_known) = match self.zone {
            Zone::Offset(m) => (m, true),
            Zone::Unwritten | Zone::Unknown => (0, false),
        };
        let millis = match (self.year, year) {
            (Some(y), _) => self.millis_in_year(i64::from(y), offset)?,
            // Feb 29 in a common year: the leap year before it.
            (None, YearOf::Calendar(y)) => {
                (0..4).find_map(|back| self.millis_in_year(i64::from(y) - back, offset))?
            }
            (None, YearOf::Nearest(reference)) => {
                let ref_year =
                    year_of_days(reference.div_euclid(DAY)).clamp(MIN_YEAR + 1, MAX_YEAR - 1);
                let best = (ref_year - 1..=ref_year + 1)
                    .filter_map(|y| Some((y, self.millis_in_year(y, offset)?)))
                    .min_by_key(|&(_, t)| t.abs_diff(reference))?;
                if best.1.saturating_sub(reference) > DAY {
                    self.millis_in_year(best.0 - 1, offset).unwrap_or(best.1)
                } else {
                    best.1
                }
            }
        };
        Some(DeviceStamp {
            millis,
            sync,
            had_year: self.year.is_some(),
            zone_known,
            offset_minutes: offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339 as rfc;

    fn stamp(text: &str, reference: &str) -> Option<DeviceStamp> {
        let b = text.as_bytes();
        let (mut wall, end) = parse_date_stamp(b, 0)?;
        if end < b.len() {
            let (zone, zend) = parse_zone(b, end + 1)?;
            assert_eq!(zend, b.len(), "zone must consume the rest of {text:?}");
            wall.zone = zone;
        }
        wall.resolve_in(ClockSync::Synced, YearOf::Nearest(rfc(reference).unwrap()))
    }

    fn utc(text: &str) -> Millis {
        rfc(text).unwrap()
    }

    #[test]
    fn months_are_case_insensitive() {
        assert_eq!(month_from_abbrev(b"Jan"), Some(1));
        assert_eq!(month_from_abbrev(b"dEC"), Some(12));
        assert_eq!(month_from_abbrev(b"June"), None);
        assert_eq!(month_from_abbrev(b"Ja"), None);
    }

    #[test]
    fn civil_days_match_jiff() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (2026, 12, 31),
            (1, 1, 1),
            (9999, 12, 30),
        ] {
            let date = jiff::civil::date(y, m, d);
            let expect = date
                .to_zoned(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp()
                .as_second()
                / 86_400;
            assert_eq!(days_from_civil(i64::from(y), m as u8, d as u8), expect);
            assert_eq!(year_of_days(expect), i64::from(y));
        }
    }

    #[test]
    fn year_less_stamp_before_new_year_belongs_to_the_old_year() {
        let s = stamp("Dec 31 23:59:50", "2026-01-01T00:00:30Z").unwrap();
        assert_eq!(s.millis, utc("2025-12-31T23:59:50Z"));
        assert!(!s.had_year);
        assert!(!s.zone_known);
    }

    #[test]
    fn year_less_stamp_just_after_new_year_belongs_to_the_new_year() {
        let s = stamp("Jan  1 00:00:10", "2025-12-31T23:59:59Z").unwrap();
        assert_eq!(s.millis, utc("2026-01-01T00:00:10Z"));
    }

    #[test]
    fn year_less_stamp_far_in_the_future_steps_back_a_year() {
        // Nearest would be 2026-07-01 (181 days ahead); more than a day ahead means last year.
        let s = stamp("Jul  1 00:00:00", "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(s.millis, utc("2025-07-01T00:00:00Z"));
    }

    #[test]
    fn feb_29_takes_a_leap_year() {
        let s = stamp("Feb 29 12:00:00", "2025-03-01T00:00:00Z").unwrap();
        assert_eq!(s.millis, utc("2024-02-29T12:00:00Z"));
    }

    #[test]
    fn zones_convert_to_utc() {
        let r = "2023-08-01T00:00:00Z";
        let cases = [
            ("Aug 12 2023 12:14:24.412 mdt", "2023-08-12T18:14:24.412Z"),
            ("Aug 18 2023 07:15:04.461 CEST", "2023-08-18T05:15:04.461Z"),
            ("Jul 10 2023 15:58:56.590 EDT", "2023-07-10T19:58:56.590Z"),
            (
                "May 6 2023 16:13:09.123 UTC+07:30",
                "2023-05-06T08:43:09.123Z",
            ),
            ("May 6 2023 16:13:09.123 UTC+1", "2023-05-06T15:13:09.123Z"),
            ("May 6 2023 16:13:09 UTC-5", "2023-05-06T21:13:09Z"),
            ("May 6 2023 16:13:09 +0200", "2023-05-06T14:13:09Z"),
            ("May 6 2023 16:13:09 +02:00", "2023-05-06T14:13:09Z"),
            ("May 6 2023 16:13:09 IST", "2023-05-06T10:43:09Z"),
            ("May 6 2023 16:13:09 GMT", "2023-05-06T16:13:09Z"),
            ("May  3 2023 13:20:48.739 AEST", "2023-05-03T03:20:48.739Z"),
        ];
        for (text, want) in cases {
            let s = stamp(text, r).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(s.millis, utc(want), "{text}");
            assert!(s.zone_known, "{text}");
            assert!(s.had_year, "{text}");
        }
    }

    #[test]
    fn a_zone_less_stamp_is_read_in_the_device_zone() {
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let s = stamp("Jun  1 03:10:00", "2026-06-01T01:10:30Z").unwrap();
        assert_eq!(
            s.millis,
            utc("2026-06-01T03:10:00Z"),
            "UTC assumed without a zone"
        );
        let s = s.in_zone(&berlin);
        assert_eq!(s.millis, utc("2026-06-01T01:10:00Z"), "CEST is UTC+2");
        assert!(s.zone_known);
        // Winter time, and a zone name nobody can place: both read in the device zone.
        let s = stamp("Jan 15 2026 03:10:00", "2026-01-15T02:10:00Z").unwrap();
        assert_eq!(s.in_zone(&berlin).millis, utc("2026-01-15T02:10:00Z"));
        let s = stamp("Jan 15 2026 03:10:00 VIENNA", "2026-01-15T02:10:00Z").unwrap();
        assert_eq!(s.in_zone(&berlin).millis, utc("2026-01-15T02:10:00Z"));
        // A written zone wins over the inventory's.
        let s = stamp("Jun  1 2026 03:10:00 UTC", "2026-06-01T03:10:00Z").unwrap();
        assert_eq!(s.in_zone(&berlin).millis, utc("2026-06-01T03:10:00Z"));
        // 02:30 does not exist in Berlin on 2026-03-29: read with the offset before the gap.
        let s = stamp("Mar 29 2026 02:30:00", "2026-03-29T01:00:00Z").unwrap();
        assert_eq!(s.in_zone(&berlin).millis, utc("2026-03-29T01:30:00Z"));
    }

    /// The offset a stamp was read in travels with it: explain prints the wall time the device
    /// wrote with it, and an inventory zone yields its offset at that instant.
    #[test]
    fn the_offset_read_is_kept() {
        let r = "2023-08-01T00:00:00Z";
        assert_eq!(
            stamp("Aug 12 2023 12:14:24.412 mdt", r)
                .unwrap()
                .offset_minutes,
            -360
        );
        assert_eq!(
            stamp("May 6 2023 16:13:09 UTC+07:30", r)
                .unwrap()
                .offset_minutes,
            450
        );
        assert_eq!(
            stamp("May 6 2023 16:13:09 VIENNA", r)
                .unwrap()
                .offset_minutes,
            0
        );
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let s = stamp("Jun  1 2026 03:10:00", r).unwrap().in_zone(&berlin);
        assert_eq!(s.offset_minutes, 120);
        let s = stamp("Jan 15 2026 03:10:00", r).unwrap().in_zone(&berlin);
        assert_eq!(s.offset_minutes, 60);
    }

    /// With no arrival time, a year-less stamp is put in the given calendar year, even where
    /// the nearest year would be another one; Feb 29 falls back to the last leap year.
    #[test]
    fn a_calendar_year_is_taken_as_is() {
        let in_year = |text: &str, y| {
            let (wall, _) = parse_date_stamp(text.as_bytes(), 0).unwrap();
            wall.resolve_in(ClockSync::Synced, YearOf::Calendar(y))
                .unwrap()
                .millis
        };
        assert_eq!(
            in_year("Dec 31 23:59:50", 2026),
            utc("2026-12-31T23:59:50Z")
        );
        assert_eq!(
            in_year("Jan  1 00:00:10", 2026),
            utc("2026-01-01T00:00:10Z")
        );
        assert_eq!(
            in_year("Feb 29 12:00:00", 2026),
            utc("2024-02-29T12:00:00Z")
        );
        assert_eq!(
            in_year("Jun  1 2021 00:00:00", 2026),
            utc("2021-06-01T00:00:00Z")
        );
    }

    #[test]
    fn unknown_zone_is_utc_and_not_known() {
        let s = stamp("May 6 2023 16:13:09 VIENNA", "2023-05-01T00:00:00Z").unwrap();
        assert_eq!(s.millis, utc("2023-05-06T16:13:09Z"));
        assert!(!s.zone_known);
    }

    #[test]
    fn stamp_shapes() {
        let r = "2026-06-01T00:00:00Z";
        let s = stamp("2024-10-11T10:15:31.208321-05:00", r).unwrap();
        assert_eq!(s.millis, utc("2024-10-11T15:15:31.208Z"));
        assert!(s.had_year && s.zone_known);
        let s = stamp("2023 May  2 15:21:27.206", r).unwrap();
        assert_eq!(s.millis, utc("2023-05-02T15:21:27.206Z"));
        assert!(s.had_year && !s.zone_known);
        let s = stamp("Nov 10 12:21:25.510 2020", r).unwrap();
        assert_eq!(s.millis, utc("2020-11-10T12:21:25.510Z"));
        assert!(stamp("May 00 00:00:00", r).is_none());
        assert!(stamp("Feb 30 2023 00:00:00", r).is_none());
        assert!(stamp("2023-02-01T25:00:00Z", r).is_none());
    }

    #[test]
    fn uptime_shapes() {
        for text in ["2y10w", "1d02h", "3w4d", "00:01:23", "00:01:23.456"] {
            assert_eq!(parse_uptime(text.as_bytes(), 0), Some(text.len()), "{text}");
        }
        assert_eq!(parse_uptime(b"2y", 0), None);
        assert_eq!(parse_uptime(b"router", 0), None);
    }

    #[test]
    fn extreme_references_do_not_overflow() {
        for r in [i64::MIN, i64::MAX, 0, -1] {
            let (wall, _) = parse_bsd(b"Jan  1 00:00:00", 0).unwrap();
            let _ = wall.resolve_in(ClockSync::Synced, YearOf::Nearest(r));
        }
    }
}
