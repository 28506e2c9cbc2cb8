//! `imagewatch explain`: how each input line is read — the header's host and clock, the
//! device it is attributed to, the event time and which clock gave it, and the signal rule
//! it matches or why it yields none — as one JSON object per line.
//!
//! A diagnostic for rule authors and the coverage report, so it does more per line than the
//! pipeline: it parses the header of every line (noise too) and classifies with every rule,
//! not only those of the kinds some sequence uses (`correlated` says whether one does).
//! Device and time come from the functions the extractor itself uses
//! ([`crate::pipeline::extract`]), so what explain prints is what a replay would decide.
//! Unlike the extractor, which carries time from line to line, each line is read on its own:
//! a year-less stamp takes the year nearest the line's arrival time, or the current year
//! when the line has no arrival stamp.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::calendar::Inventory;
use crate::classify::{Classifier, SignalFields, SignalKind};
use crate::config::{self, ConfigError, Loaded, RuleSource};
use crate::parse::clock::{DeviceStamp, YearOf};
use crate::parse::header::parse_header_in;
use crate::parse::trust::{ClockBook, TimeReason, TimeSource};
use crate::pipeline::extract::{date_header, device_id, device_stamp, looks_like_syslog};
use crate::pipeline::wanted_kinds;
use crate::source::lines::LineReader;
use crate::source::{self, Framed, InputFormat, StampCache, ndjson};
use crate::time::{Millis, format_rfc3339};

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{path}: {source}")]
    Input { path: String, source: io::Error },
    #[error("writing explanations: {0}")]
    Output(io::Error),
}

impl ExplainError {
    /// Exit status: 2 for anything the user has to fix (the input, rules, calendar).
    pub fn exit_code(&self) -> i32 {
        match self {
            ExplainError::Output(_) => 1,
            _ => 2,
        }
    }
}

pub struct ExplainOptions {
    pub changes: Option<PathBuf>,
    /// Rules directory; None explains with the built-in rules.
    pub rules: Option<PathBuf>,
    pub format: InputFormat,
    /// The input; `-` (or none) is stdin.
    pub file: Option<PathBuf>,
}

/// Why a line yields no signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WhyNot {
    /// Nothing but white space.
    Blank,
    /// Neither a syslog header nor a collector prefix, and no rule matched.
    NotSyslog,
    /// A JSON line (or any line under `--format ndjson`) that could not be used; see `detail`.
    BadJson,
    /// No rule literal occurs in the line: the prefilter stops it before any regex.
    Prefilter,
    /// Some rule's literal occurs, but no rule matched.
    NoRule,
    /// A rule matched, but neither the header nor the collector names a device.
    NoDevice,
}

/// How one line is read. Times are RFC 3339; `device_time` keeps the offset the stamp was read
/// in (so its clock digits are the ones the device wrote), `-00:00` when UTC was assumed.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct Explanation {
    /// Line number (of the first line, for a message joined with its continuations).
    pub(crate) line: u64,
    /// Canonical device id, after the inventory's aliases.
    pub(crate) device: Option<String>,
    /// The host name the header carried: the device's own, else the relay header's.
    pub(crate) host: Option<String>,
    /// The host of a relay header in front of the device's (often the sender's address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) relay_host: Option<String>,
    /// The arrival time: the collector's, else a relay header's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) received: Option<String>,
    /// The device's own stamp as read.
    pub(crate) device_time: Option<String>,
    pub(crate) event_time: Option<String>,
    pub(crate) time_source: Option<TimeSource>,
    /// Why the device clock was not trusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) time_reason: Option<String>,
    /// The matching rule's vendor, else the inventory's vendor of the device.
    pub(crate) vendor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<SignalKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fields: Option<SignalFields>,
    /// Whether some sequence rule uses the kind; a replay drops signals of other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) correlated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) why_not: Option<WhyNot>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
    /// `event_time` as a number, for the coverage report.
    #[serde(skip)]
    pub(crate) event_millis: Option<Millis>,
    /// For a line with no signal: the vendor of the command carrier that reads a command out of
    /// it (the device logs its commands, though no rule reads this one).
    #[serde(skip)]
    pub(crate) carrier_vendor: Option<String>,
}

impl Explanation {
    fn new(line: u64) -> Explanation {
        Explanation {
            line,
            device: None,
            host: None,
            relay_host: None,
            received: None,
            device_time: None,
            event_time: None,
            time_source: None,
            time_reason: None,
            vendor: None,
            rule: None,
            kind: None,
            fields: None,
            correlated: None,
            why_not: None,
            detail: None,
            event_millis: None,
            carrier_vendor: None,
        }
    }
}

/// Explains lines one at a time with one set of rules and one inventory.
pub(crate) struct Explainer {
    classifier: Classifier,
    inventory: Inventory,
    /// Kinds some sequence rule uses.
    correlated: Vec<SignalKind>,
    format: InputFormat,
    stamps: StampCache,
    /// The year for year-less stamps on lines without an arrival time.
    year: i32,
    /// Each device's clock as the pipeline learns it (a late relay's steady delay), so a line
    /// is dated as `replay` of the same input dates it.
    clocks: ClockBook,
}

/// What a line's framing said before the header is read.
struct Framing<'a> {
    text: &'a str,
    /// The bytes the prefilter sees (the pipeline's hot path tests these).
    prefiltered: &'a [u8],
    arrival: Option<Millis>,
    sender: Option<&'a str>,
    host_hint: Option<&'a str>,
    structured: bool,
}

impl Explainer {
    pub(crate) fn new(loaded: Loaded, format: InputFormat) -> Explainer {
        Explainer {
            correlated: wanted_kinds(&loaded.sequences),
            classifier: loaded.classifier,
            inventory: loaded.calendar.inventory,
            format,
            stamps: StampCache::default(),
            year: jiff::Zoned::now().year().into(),
            clocks: ClockBook::default(),
        }
    }

    /// Reads year-less stamps of lines without an arrival time in `year`.
    #[cfg(test)]
    pub(crate) fn with_year(mut self, year: i32) -> Explainer {
        self.year = year;
        self
    }

    /// Explains one message (a line, or a line with its continuations).
    pub(crate) fn explain(&mut self, line: &[u8], line_no: u64) -> Explanation {
        let mut out = Explanation::new(line_no);
        match source::frame(line, self.format, &mut self.stamps) {
            Framed::Blank => out.why_not = Some(WhyNot::Blank),
            Framed::Text {
                arrival,
                sender,
                message,
            } => {
                let text = source::decode_message(message);
                let sender = sender.and_then(|s| std::str::from_utf8(s).ok());
                self.read(
                    &mut out,
                    Framing {
                        text: &text,
                        prefiltered: message,
                        arrival,
                        sender,
                        host_hint: None,
                        structured: arrival.is_some() || looks_like_syslog(message),
                    },
                );
            }
            Framed::Json(raw) => match ndjson::decode(raw) {
                Ok(rec) => {
                    let text = source::decode_message(rec.message.as_bytes());
                    self.read(
                        &mut out,
                        Framing {
                            text: &text,
                            prefiltered: rec.message.as_bytes(),
                            arrival: rec.arrival,
                            sender: rec.sender.as_deref(),
                            host_hint: rec.host.as_deref(),
                            structured: true,
                        },
                    );
                }
                Err(reason) => {
                    out.why_not = Some(WhyNot::BadJson);
                    out.detail = Some(reason);
                }
            },
        }
        out
    }

    fn read(&self, out: &mut Explanation, f: Framing<'_>) {
        let year = f
            .arrival
            .map_or(YearOf::Calendar(self.year), YearOf::Nearest);
        let header = parse_header_in(f.text, year);
        out.host = header.host.or(header.relay_host).map(str::to_string);
        out.relay_host = header.relay_host.map(str::to_string);
        let candidates = [header.host, f.host_hint, header.relay_host, f.sender];
        let (device, zone) = device_id(&self.inventory, &candidates).unzip();
        let zone = zone.flatten();
        let received = f.arrival.or(header.relay_time);
        let stamp = device_stamp(&header, zone.as_ref());
        if stamp.is_some() || received.is_some() {
            // The pipeline's own decision (`ClockBook::date`); the fallback only matters for a
            // stamp with no arrival to check it against, which is then the stamp itself.
            let key = device.as_deref().unwrap_or_default();
            let dated = date_header(&self.clocks, key, &header, zone.as_ref(), received, None, 0);
            out.event_time = Some(format_rfc3339(dated.time));
            out.event_millis = Some(dated.time);
            out.time_source = Some(dated.source);
            out.time_reason = (dated.reason != TimeReason::Agrees).then(|| {
                let why = dated.reason.describe();
                match (stamp, received) {
                    (Some(st), Some(r)) if st.millis != r => {
                        let off = std::time::Duration::from_millis(st.millis.abs_diff(r));
                        let side = if st.millis < r { "behind" } else { "ahead of" };
                        format!("{why}: {} {side} arrival", humantime::format_duration(off))
                    }
                    _ => why.to_owned(),
                }
            });
        }
        out.received = received.map(format_rfc3339);
        out.device_time = stamp.map(as_written);
        out.vendor = device
            .as_deref()
            .and_then(|d| self.inventory.get(d))
            .and_then(|d| d.vendor.clone());
        let class = self
            .classifier
            .may_match(f.prefiltered)
            .then(|| self.classifier.classify(f.text))
            .flatten();
        out.why_not = match &class {
            Some(_) if device.is_none() => Some(WhyNot::NoDevice),
            Some(_) => None,
            None if !f.structured && !header.recognized => Some(WhyNot::NotSyslog),
            None if !self.classifier.may_match(f.prefiltered) => Some(WhyNot::Prefilter),
            None => Some(WhyNot::NoRule),
        };
        if class.is_none() {
            out.carrier_vendor = self.classifier.carrier_vendor(f.text).map(str::to_owned);
        }
        out.device = device;
        if let Some(class) = class {
            out.vendor = Some(class.vendor.to_string());
            out.rule = Some(class.rule_id.to_string());
            out.correlated = Some(self.correlated.contains(&class.kind));
            out.kind = Some(class.kind);
            out.fields = Some(class.fields);
        }
    }
}

/// The stamp's instant in the offset it was read in: the clock digits the device wrote, then
/// the offset, `-00:00` (RFC 3339's "offset unknown") when no zone was known and UTC assumed.
fn as_written(stamp: DeviceStamp) -> String {
    let offset =
        jiff::tz::Offset::from_seconds(stamp.offset_minutes * 60).unwrap_or(jiff::tz::Offset::UTC);
    let Ok(ts) = jiff::Timestamp::from_millisecond(stamp.millis) else {
        return format_rfc3339(stamp.millis);
    };
    let wall = offset.to_datetime(ts);
    let suffix = if stamp.zone_known {
        let m = stamp.offset_minutes;
        let sign = if m < 0 { '-' } else { '+' };
        format!("{sign}{:02}:{:02}", m.abs() / 60, m.abs() % 60)
    } else {
        "-00:00".to_string()
    };
    format!("{}{suffix}", wall.strftime("%Y-%m-%dT%H:%M:%S%.3f"))
}

/// Explains every line of the input, one JSON object per line on `out`.
pub fn run(opts: &ExplainOptions, out: &mut dyn Write) -> Result<u64, ExplainError> {
    let loaded = config::load(
        &RuleSource::new(opts.rules.as_deref()),
        opts.changes.as_deref(),
    )?;
    let mut explainer = Explainer::new(loaded, opts.format);
    let (name, input): (String, Box<dyn Read>) = match &opts.file {
        Some(path) if path.as_os_str() != "-" => (
            path.display().to_string(),
            Box::new(File::open(path).map_err(|source| ExplainError::Input {
                path: path.display().to_string(),
                source,
            })?),
        ),
        _ => ("-".to_string(), Box::new(io::stdin().lock())),
    };
    let mut reader = LineReader::new(input, opts.format != InputFormat::Ndjson);
    let mut count = 0;
    while let Some(msg) = reader
        .next_message()
        .map_err(|source| ExplainError::Input {
            path: name.clone(),
            source,
        })?
    {
        let explanation = explainer.explain(msg.bytes, msg.line_no);
        serde_json::to_writer(&mut *out, &explanation)
            .map_err(|e| ExplainError::Output(e.into()))?;
        out.write_all(b"\n").map_err(ExplainError::Output)?;
        count += 1;
    }
    out.flush().map_err(ExplainError::Output)?;
    Ok(count)
}

#[cfg(test)]
mod tests;
