//! Maintenance windows: recurring (cron + duration in an IANA zone) or one-off (start/end).

use std::fmt;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde_saphyr::Spanned;

use super::devices::DevicePatterns;
use super::raw::{RawWindow, Text};
use super::{parse_time, parse_zone};
use crate::config::ConfigError;
use crate::time::Millis;

/// A checked maintenance window. Work inside one of its occurrences, on a device it covers,
/// by the users/servers it names (when it names any), is authorised.
#[derive(Debug, Clone)]
pub struct MaintenanceWindow {
    pub id: String,
    pub users: Option<Vec<String>>,
    pub servers: Option<Vec<String>>,
    devices: DevicePatterns,
    schedule: Schedule,
}

#[derive(Clone)]
enum Schedule {
    /// Starts whenever `cron` fires in `zone` (wall-clock, so DST moves the UTC start) and
    /// lasts `duration` of elapsed time.
    Recurring {
        cron: Box<Cron>,
        duration: Millis,
        zone: TimeZone,
    },
    /// One occurrence, both ends inclusive.
    Once { start: Millis, end: Millis },
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Recurring {
                cron,
                duration,
                zone,
            } => f
                .debug_struct("Recurring")
                .field("cron", &cron.as_str())
                .field("duration_ms", duration)
                .field("zone", &zone.iana_name().unwrap_or("fixed"))
                .finish(),
            Schedule::Once { start, end } => f
                .debug_struct("Once")
                .field("start", start)
                .field("end", end)
                .finish(),
        }
    }
}

/// A window's schedule as written, for showing it (the API lists the calendar in force).
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleView<'a> {
    Recurring {
        cron: &'a str,
        duration: Millis,
        /// The IANA name; `None` for a zone without one.
        timezone: Option<&'a str>,
    },
    Once {
        start: Millis,
        end: Millis,
    },
}

impl MaintenanceWindow {
    /// The schedule as written.
    pub fn schedule(&self) -> ScheduleView<'_> {
        match &self.schedule {
            Schedule::Recurring {
                cron,
                duration,
                zone,
            } => ScheduleView::Recurring {
                cron: cron.as_str(),
                duration: *duration,
                timezone: zone.iana_name(),
            },
            Schedule::Once { start, end } => ScheduleView::Once {
                start: *start,
                end: *end,
            },
        }
    }

    /// Whether `device` (a canonical device name) is in this window's scope.
    pub fn matches_device(&self, device: &str) -> bool {
        self.devices.is_match(device)
    }

    /// The device globs as written.
    pub fn device_patterns(&self) -> &[String] {
        self.devices.patterns()
    }

    /// The occurrence containing `t`, if any.
    ///
    /// Recurring: `[s, s + duration)` for the latest start `s <= t` with `t < s + duration`;
    /// the start is computed in the window's zone, so it is correct across DST changes.
    /// One-off: `[start, end]`.
    pub fn occurrence_at(&self, t: Millis) -> Option<(Millis, Millis)> {
        match &self.schedule {
            Schedule::Once { start, end } => (*start <= t && t <= *end).then_some((*start, *end)),
            Schedule::Recurring {
                cron,
                duration,
                zone,
            } => {
                let at = zoned(t, zone)?;
                let start = cron.find_previous_occurrence(&at, true).ok()?;
                let start = start.timestamp().as_millisecond();
                let end = start.saturating_add(*duration);
                (t < end).then_some((start, end))
            }
        }
    }

    /// Whether any occurrence overlaps `[from, to]`; used to tell "inside the window's time but
    /// outside its scope" apart from "no window at all".
    pub fn overlaps(&self, from: Millis, to: Millis) -> bool {
        if from > to {
            return false;
        }
        match &self.schedule {
            Schedule::Once { start, end } => *start <= to && from <= *end,
            Schedule::Recurring {
                cron,
                duration,
                zone,
            } => {
                // An occurrence [s, s+d) overlaps [from, to] iff from - d < s <= to; the first
                // start after from - d decides it with a single search.
                let Some(after) = zoned(from.saturating_sub(*duration), zone) else {
                    return false;
                };
                match cron.find_next_occurrence(&after, false) {
                    Ok(s) => s.timestamp().as_millisecond() <= to,
                    Err(_) => false,
                }
            }
        }
    }

    /// When the window opens, in words (`0 2 * * SUN for 4h (UTC)`, or its start and end).
    pub fn schedule_words(&self) -> String {
        match &self.schedule {
            Schedule::Once { start, end } => format!(
                "{} – {}",
                crate::time::format_rfc3339(*start),
                crate::time::format_rfc3339(*end)
            ),
            Schedule::Recurring {
                cron,
                duration,
                zone,
            } => format!(
                "{} for {} ({})",
                cron.as_str(),
                humantime::format_duration(std::time::Duration::from_millis(
                    u64::try_from(*duration).unwrap_or(0)
                )),
                zone.iana_name().unwrap_or("fixed offset")
            ),
        }
    }

    /// Up to `max` occurrences overlapping `[from, to]`, in order (for drawing them).
    pub fn occurrences(&self, from: Millis, to: Millis, max: usize) -> Vec<(Millis, Millis)> {
        match &self.schedule {
            Schedule::Once { start, end } => {
                if *start <= to && from <= *end && max > 0 {
                    vec![(*start, *end)]
                } else {
                    vec![]
                }
            }
            Schedule::Recurring {
                cron,
                duration,
                zone,
            } => {
                let mut out = Vec::new();
                let mut at = from.saturating_sub(*duration);
                while out.len() < max {
                    let Some(after) = zoned(at, zone) else { break };
                    let Ok(s) = cron.find_next_occurrence(&after, false) else {
                        break;
                    };
                    let start = s.timestamp().as_millisecond();
                    if start > to || start <= at {
                        break;
                    }
                    out.push((start, start.saturating_add(*duration)));
                    at = start;
                }
                out
            }
        }
    }

    pub(crate) fn compile(file: &str, raw: &Spanned<RawWindow>) -> Result<Self, ConfigError> {
        let w = &raw.value;
        let id = w.id.value.trim().to_owned();
        if id.is_empty() {
            return Err(ConfigError::at(
                file,
                &w.id.referenced,
                "window id is empty",
            ));
        }
        let owner = format!("maintenance window `{id}`");
        let devices = DevicePatterns::compile(file, &owner, &w.devices)?;
        let recurring = w.cron.is_some() || w.duration.is_some();
        let once = w.start.is_some() || w.end.is_some();
        let schedule = match (recurring, once) {
            (true, true) => {
                // Point at whichever of start/end is there: it is the half that conflicts.
                let node = w
                    .start
                    .as_ref()
                    .or(w.end.as_ref())
                    .map_or(&raw.referenced, |n| &n.referenced);
                return Err(ConfigError::at(
                    file,
                    node,
                    format!(
                        "{owner} has both cron/duration and start/end; \
                         use cron + duration for a recurring window or start + end for a one-off"
                    ),
                ));
            }
            (false, false) => {
                return Err(ConfigError::at(
                    file,
                    &raw.referenced,
                    format!(
                        "{owner} has no schedule; \
                         give cron + duration (recurring) or start + end (one-off)"
                    ),
                ));
            }
            (true, false) => compile_recurring(file, &owner, raw)?,
            (false, true) => compile_once(file, &owner, raw)?,
        };
        Ok(MaintenanceWindow {
            id,
            users: w.users.clone(),
            servers: w.servers.clone(),
            devices,
            schedule,
        })
    }
}

fn compile_recurring(
    file: &str,
    owner: &str,
    raw: &Spanned<RawWindow>,
) -> Result<Schedule, ConfigError> {
    let w = &raw.value;
    let (Some(cron_text), Some(duration_text)) = (&w.cron, &w.duration) else {
        let missing = if w.cron.is_none() { "cron" } else { "duration" };
        return Err(ConfigError::at(
            file,
            &raw.referenced,
            format!(
                "{owner}: a recurring window needs both cron and duration; `{missing}` is missing"
            ),
        ));
    };
    let cron = parse_cron(file, owner, cron_text)?;
    let duration = parse_duration(file, owner, duration_text)?;
    let zone = match &w.timezone {
        Some(tz) => parse_zone(file, tz)?,
        None => TimeZone::UTC,
    };
    // A pattern such as `0 0 30 2 *` parses but never fires; reject it here rather than have
    // every lookup fail silently.
    let probe = Timestamp::UNIX_EPOCH.to_zoned(zone.clone());
    if cron.find_next_occurrence(&probe, true).is_err() {
        return Err(ConfigError::at(
            file,
            &cron_text.referenced,
            format!("{owner}: cron `{}` never fires", cron_text.value),
        ));
    }
    Ok(Schedule::Recurring {
        cron: Box::new(cron),
        duration,
        zone,
    })
}

fn compile_once(
    file: &str,
    owner: &str,
    raw: &Spanned<RawWindow>,
) -> Result<Schedule, ConfigError> {
    let w = &raw.value;
    let (Some(start_text), Some(end_text)) = (&w.start, &w.end) else {
        let missing = if w.start.is_none() { "start" } else { "end" };
        return Err(ConfigError::at(
            file,
            &raw.referenced,
            format!("{owner}: a one-off window needs both start and end; `{missing}` is missing"),
        ));
    };
    if let Some(tz) = &w.timezone {
        // start/end carry their own UTC offset; a zone here would be silently ignored.
        return Err(ConfigError::at(
            file,
            &tz.referenced,
            format!(
                "{owner}: `timezone` applies only to cron windows; \
                 give start/end with an offset (e.g. 2026-06-03T10:00:00+02:00)"
            ),
        ));
    }
    let start = parse_time(file, owner, "start", start_text)?;
    let end = parse_time(file, owner, "end", end_text)?;
    super::check_range(file, owner, start, end, end_text)?;
    Ok(Schedule::Once { start, end })
}

fn parse_cron(file: &str, owner: &str, text: &Text) -> Result<Cron, ConfigError> {
    // Five fields only: a sixth (seconds) or seventh (year) field is more likely a typo than
    // intent in a maintenance calendar, and the file format documents five.
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(&text.value)
        .map_err(|e| {
            ConfigError::at(
                file,
                &text.referenced,
                format!(
                    "{owner}: bad cron `{}`: {e} (five fields: minute 0-59, hour 0-23, day of month, month, day of week)",
                    text.value
                ),
            )
        })
}

fn parse_duration(file: &str, owner: &str, text: &Text) -> Result<Millis, ConfigError> {
    let bad = |why: String| {
        ConfigError::at(
            file,
            &text.referenced,
            format!("{owner}: bad duration `{}`: {why}", text.value),
        )
    };
    let d = humantime::parse_duration(text.value.trim()).map_err(|e| bad(e.to_string()))?;
    let ms = Millis::try_from(d.as_millis()).map_err(|_| bad("too long".to_owned()))?;
    if ms <= 0 {
        return Err(bad("must be longer than zero (e.g. 4h, 90m)".to_owned()));
    }
    Ok(ms)
}

fn zoned(t: Millis, zone: &TimeZone) -> Option<Zoned> {
    Timestamp::from_millisecond(t)
        .ok()
        .map(|ts| ts.to_zoned(zone.clone()))
}
