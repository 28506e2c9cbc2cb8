//! First half of the pipeline, stateless but for counters: a line becomes a [`Signal`] (or
//! nothing). Frame → literal prefilter → classify → parse the header → event time and device.
//! Noise stops at the prefilter; only the arrival time of a noise line is kept, to move time,
//! except while some device awaits its boot after a reload ([`AwaitingBoot`]): then a noise
//! line's header is read too, since a device's first line after a silence is its boot.

use std::sync::Arc;

use jiff::tz::TimeZone;

use crate::calendar::{Inventory, canonical_host};
use crate::classify::{
    Classification, Classifier, EventOrigin, Focus, RESUMED_BOOT_RULE, Signal, SignalFields,
    SignalKind,
};
use crate::parse::clock::DeviceStamp;
use crate::parse::header::{SyslogHeader, parse_header};
use crate::parse::trust::{ClockBook, Dated, TimeReason, TimeSource};
use crate::source::{self, InputFormat, ndjson};
use crate::time::Millis;

use super::awaiting::{AwaitingBoot, sender_key};
use super::screen::{Classified, Screen, Screened};
use super::{ExtractStats, LineProblem, Origin};

/// Longest evidence line kept.
const MAX_EVIDENCE_LINE: usize = 4096;
/// How many unusable lines are reported one by one.
const MAX_PROBLEMS: usize = 10;

/// What one line yields. Signals are boxed: nearly every line yields none, and a line's
/// result is moved several times on its way (a signal is some 400 bytes).
#[derive(Debug, Default)]
pub struct Extracted {
    /// A time the line proves has been reached (its arrival, else its event time).
    pub time: Option<Millis>,
    /// The boot that this line, the first from a reloaded device after a silence, stands for:
    /// to be processed before `signal`, which the line may carry as well.
    pub resumed: Option<Box<Signal>>,
    pub signal: Option<Box<Signal>>,
}

/// Who sent a line and when it happened: what a signal is built on, and all a noise line needs
/// to tell whether it is a reloaded device's return.
struct Envelope<'a> {
    device: String,
    time: Millis,
    received: Option<Millis>,
    /// Which clock gave `time`, and why (see [`ClockBook::date`]).
    time_source: TimeSource,
    time_reason: TimeReason,
    /// The first line of the body: with the kind, the identity of a delivery.
    first_body_line: &'a str,
}

/// Where a line was received, for sources that know it better than the line does (a socket).
#[derive(Clone, Copy, Debug, Default)]
pub struct Receipt<'a> {
    pub arrival: Option<Millis>,
    pub sender: Option<&'a str>,
}

pub struct Extractor {
    inventory: Arc<Inventory>,
    /// Framing, prefilter and classification, the stateless first steps; it holds the rules.
    screen: Screen,
    /// Devices told to reload, awaiting their boot; shared with the engines.
    awaiting: Arc<AwaitingBoot>,
    /// Recent device clock offsets, to tell a late relay from a wrong clock: the extractor's
    /// own, or one shared by every listener of the service (see [`Extractor::share_clocks`]).
    clocks: Arc<ClockBook>,
    /// Event time of the last signal, for lines that carry no time of their own.
    last_time: Option<Millis>,
    /// Latest time a line proved (an arrival, or a signal's trusted event time): the
    /// reference for year-less stamps and for clocks that cannot be trusted.
    latest: Option<Millis>,
    pub stats: ExtractStats,
    /// The first few unusable lines, for the operator.
    pub problems: Vec<LineProblem>,
}

impl Extractor {
    pub fn new(
        classifier: Arc<Classifier>,
        inventory: Arc<Inventory>,
        focus: Arc<Focus>,
        format: InputFormat,
    ) -> Extractor {
        Extractor {
            screen: Screen::new(classifier, focus, format),
            inventory,
            awaiting: Arc::default(),
            clocks: Arc::default(),
            last_time: None,
            latest: None,
            stats: ExtractStats::default(),
            problems: Vec::new(),
        }
    }

    /// Learns device clocks in `clocks`, shared with other extractors (a device may reach the
    /// service over several connections).
    pub fn share_clocks(&mut self, clocks: Arc<ClockBook>) {
        self.clocks = clocks;
    }

    /// Shares the set of devices awaiting a boot with the engines (one set per process).
    pub fn set_awaiting(&mut self, awaiting: Arc<AwaitingBoot>) {
        self.awaiting = awaiting;
    }

    /// Swaps in reloaded rules and inventory.
    pub fn reconfigure(
        &mut self,
        classifier: Arc<Classifier>,
        inventory: Arc<Inventory>,
        focus: Arc<Focus>,
    ) {
        self.screen = Screen::new(classifier, focus, self.screen.format());
        self.inventory = inventory;
    }

    /// The first steps of [`Extractor::extract`], for running them elsewhere (see
    /// [`Screen::twin`] and [`Extractor::extract_screened`]).
    pub(crate) fn screen(&self) -> &Screen {
        &self.screen
    }

    fn problem(&mut self, origin: &Origin<'_>, reason: String) {
        self.stats.unparsed += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(LineProblem {
                file: origin.file.to_string(),
                line: origin.line,
                reason,
            });
        }
    }

    /// Extracts what one message (a line, or a line with its continuations) says.
    pub fn extract(
        &mut self,
        line: &[u8],
        lines: u32,
        origin: &Origin<'_>,
        receipt: Receipt<'_>,
    ) -> Extracted {
        let screened = self.screen.screen(line);
        self.extract_screened(line, screened, lines, origin, receipt)
    }

    /// [`Extractor::extract`] for a line already screened, by this extractor's [`Screen`] or
    /// a twin of it.
    pub(crate) fn extract_screened(
        &mut self,
        line: &[u8],
        screened: Screened,
        lines: u32,
        origin: &Origin<'_>,
        receipt: Receipt<'_>,
    ) -> Extracted {
        self.stats.lines += u64::from(lines);
        let mut out = Extracted::default();
        match screened {
            Screened::Blank => {}
            Screened::Text {
                arrival,
                sender,
                message,
                prefiltered,
                classified,
            } => {
                let message = &line[message];
                let (at, screened_key) =
                    sender.map_or((None, None), |(at, key)| (Some(at), Some(key)));
                if arrival.is_none() && message.trim_ascii_start().starts_with(b"{") {
                    // `--format syslog` on NDJSON: a JSON object has no syslog header, and its
                    // first word must not become a device's name.
                    self.problem(
                        origin,
                        "a JSON object, not syslog: read NDJSON with --format ndjson (or without --format)"
                            .to_string(),
                    );
                    return out;
                }
                let arrival = arrival.or(receipt.arrival);
                if arrival.is_some() || looks_like_syslog(message) {
                    self.stats.parsed += 1;
                } else {
                    self.problem(origin, "no syslog header or collector prefix".to_string());
                }
                out.time = arrival;
                if prefiltered {
                    self.stats.candidates += 1;
                }
                // Classified when screened: a signal, once its header names a device.
                if let Some(c) = classified {
                    let Classified { text, class } = *c;
                    let sender = sender_text(line, at.clone(), receipt.sender);
                    (out.signal, out.resumed) =
                        self.signal_from(&text, Some(class), arrival, sender, None, line);
                }
                // The sender's key is all a noise line needs (see `AwaitingBoot::may_be_awaited`),
                // and only while a device awaits its boot: in replay the line's bytes were
                // written on another core, and reading them is a cache miss a line; its text is
                // read for a signal or a possible boot only.
                let key = match screened_key {
                    _ if self.awaiting.is_empty() => None,
                    Some(key) => Some(key),
                    None => receipt.sender.map(|s| sender_key(s.as_bytes())),
                };
                if out.signal.is_none() && self.awaiting.may_be_awaited(key) {
                    let text = source::decode_message(message);
                    let sender = sender_text(line, at.clone(), receipt.sender);
                    out.resumed = self
                        .resumed_by(&text, arrival, sender, None, line)
                        .map(Box::new);
                }
            }
            Screened::Json { at, candidate } => {
                let raw = &line[at];
                if !candidate && !self.awaiting.is_empty() {
                    // Noise while a device awaits its boot: whose is it?
                    match ndjson::decode(raw) {
                        Ok(rec) => {
                            self.stats.parsed += 1;
                            let arrival = rec.arrival.or(receipt.arrival);
                            out.time = arrival;
                            let text = source::decode_message(rec.message.as_bytes()).into_owned();
                            let sender = rec.sender.as_deref().or(receipt.sender);
                            let host = rec.host.as_deref();
                            out.resumed = self
                                .resumed_by(&text, arrival, sender, host, line)
                                .map(Box::new);
                        }
                        Err(reason) => self.problem(origin, reason),
                    }
                } else if !candidate {
                    match ndjson::arrival_hint(raw) {
                        Some(a) => {
                            self.stats.parsed += 1;
                            out.time = Some(a);
                        }
                        None => match ndjson::decode(raw) {
                            Ok(rec) => {
                                self.stats.parsed += 1;
                                out.time = rec.arrival.or(receipt.arrival);
                            }
                            Err(reason) => self.problem(origin, reason),
                        },
                    }
                } else {
                    match ndjson::decode(raw) {
                        Ok(rec) => {
                            self.stats.parsed += 1;
                            self.stats.candidates += 1;
                            let arrival = rec.arrival.or(receipt.arrival);
                            out.time = arrival;
                            out.signal = rec
                                .telemetry
                                .as_ref()
                                .and_then(|ev| self.host_signal(ev, arrival, line))
                                .map(Box::new);
                            let text = source::decode_message(rec.message.as_bytes()).into_owned();
                            let sender = rec.sender.as_deref().or(receipt.sender);
                            let host = rec.host.as_deref();
                            if out.signal.is_none() && !text.is_empty() {
                                let class = self.screen.classify(&text);
                                (out.signal, out.resumed) =
                                    self.signal_from(&text, class, arrival, sender, host, line);
                            }
                            if out.signal.is_none() && !self.awaiting.is_empty() {
                                out.resumed = self
                                    .resumed_by(&text, arrival, sender, host, line)
                                    .map(Box::new);
                            }
                        }
                        Err(reason) => self.problem(origin, reason),
                    }
                }
            }
        }
        if out.time.is_none() {
            out.time = out.signal.as_ref().map(|s| s.time);
        }
        if let Some(t) = out.time {
            self.latest = Some(self.latest.map_or(t, |l| l.max(t)));
        }
        out
    }

    /// Builds the signal of a message a focused rule classified (`class`, from
    /// [`Classifier::classify_focused`]); and the boot it stands for when it is a reloaded
    /// device's return (see [`Extracted`]).
    fn signal_from(
        &mut self,
        text: &str,
        class: Option<Classification>,
        arrival: Option<Millis>,
        sender: Option<&str>,
        host_hint: Option<&str>,
        raw_line: &[u8],
    ) -> (Option<Box<Signal>>, Option<Box<Signal>>) {
        let Some(class) = class else {
            return (None, None);
        };
        *self.stats.signals.entry(class.kind).or_default() += 1;
        let Some(env) = self.envelope(text, arrival, sender, host_hint) else {
            self.stats.no_device += 1;
            return (None, None);
        };
        self.last_time = Some(env.time);
        let resumed = self.awaiting_boot(class.kind, &class.vendor, &env, sender, raw_line);
        // Identity of a delivery: the first line of the body (continuation lines joined to it
        // may differ between copies) and the kind; the engine adds the event time.
        let signal = Signal {
            fingerprint: fingerprint(env.first_body_line, class.kind),
            device: env.device,
            time: env.time,
            received: env.received,
            time_source: env.time_source,
            time_reason: env.time_reason,
            kind: class.kind,
            rule_id: class.rule_id.to_string(),
            vendor: class.vendor.to_string(),
            sender: sender.map(str::to_string),
            fields: class.fields,
            message: evidence_line(raw_line),
            origin: EventOrigin::Device,
        };
        (Some(Box::new(signal)), resumed.map(Box::new))
    }

    /// A management host's process or network event that names a device of the inventory as
    /// its peer: rendered as one line (see [`render_host_event`]) for the rules of
    /// `rules/signals/host_telemetry.yaml`, and made the device's signal, its origin the host.
    /// None when no peer is in the inventory or no rule reads the event.
    fn host_signal(
        &mut self,
        ev: &ndjson::HostEvent,
        arrival: Option<Millis>,
        raw_line: &[u8],
    ) -> Option<Signal> {
        let (device, peer, host_addr) = host_peer(&self.inventory, ev)?;
        let text = render_host_event(ev, &peer, host_addr.as_deref());
        let class = self.screen.classify(&text)?;
        *self.stats.signals.entry(class.kind).or_default() += 1;
        let (time, time_source, time_reason) = match (ev.time, arrival) {
            (Some(t), _) => (t, TimeSource::Device, TimeReason::Agrees),
            (None, Some(a)) => (a, TimeSource::Arrival, TimeReason::NoDeviceClock),
            (None, None) => (self.latest?, TimeSource::Arrival, TimeReason::NoDeviceClock),
        };
        self.last_time = Some(time);
        let mut fields = class.fields;
        // The event came from the management host: it is the sender, and the server when the
        // rule read none.
        let sender = host_addr.clone();
        if fields.server.is_none() {
            fields.server = host_addr;
        }
        Some(Signal {
            fingerprint: fingerprint(&text, class.kind),
            device,
            time,
            received: arrival,
            time_source,
            time_reason,
            kind: class.kind,
            rule_id: class.rule_id.to_string(),
            vendor: class.vendor.to_string(),
            sender,
            fields,
            message: evidence_line(raw_line),
            origin: EventOrigin::Host,
        })
    }

    /// The header of a message: its device and event time. None when nothing names a device.
    fn envelope<'a>(
        &self,
        text: &'a str,
        arrival: Option<Millis>,
        sender: Option<&str>,
        host_hint: Option<&str>,
    ) -> Option<Envelope<'a>> {
        let reference = arrival
            .or(self.latest)
            .or(self.last_time)
            .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond());
        let header = parse_header(text, reference);
        let candidates = [header.host, host_hint, header.relay_host, sender];
        let (device, zone) = device_id(&self.inventory, &candidates)?;
        // Arrival time: the collector's, else a relay header's.
        let received = arrival.or(header.relay_time);
        let dated = date_header(
            &self.clocks,
            &device,
            &header,
            zone.as_ref(),
            received,
            self.latest.or(self.last_time),
            reference,
        );
        Some(Envelope {
            device,
            time: dated.time,
            received,
            time_source: dated.source,
            time_reason: dated.reason,
            first_body_line: header.body.lines().next().unwrap_or("").trim(),
        })
    }

    /// A line that yields no signal, read only while some device awaits its boot: the boot
    /// it stands for when it is that device's first line after the silence.
    fn resumed_by(
        &mut self,
        text: &str,
        arrival: Option<Millis>,
        sender: Option<&str>,
        host_hint: Option<&str>,
        raw_line: &[u8],
    ) -> Option<Signal> {
        let env = self.envelope(text, arrival, sender, host_hint)?;
        let awaited = self.awaiting.line(&env.device, env.time)?;
        Some(resumed_boot(&env, awaited.vendor, sender, raw_line))
    }

    /// Keeps the set of devices awaiting a boot up to date with a signal of `kind` recognised
    /// by `vendor`'s rules in `env`: a reload (or reload command) makes its device awaited, a
    /// reported boot or version ends the wait, and any other line after the silence is the
    /// boot, returned.
    fn awaiting_boot(
        &self,
        kind: SignalKind,
        vendor: &str,
        env: &Envelope<'_>,
        sender: Option<&str>,
        raw_line: &[u8],
    ) -> Option<Signal> {
        let mut resumed = None;
        if !self.awaiting.is_empty() {
            if matches!(kind, SignalKind::Boot | SignalKind::Version) {
                self.awaiting.booted(&env.device);
            } else if let Some(awaited) = self.awaiting.line(&env.device, env.time) {
                resumed = Some(resumed_boot(env, awaited.vendor, sender, raw_line));
            }
        }
        if matches!(kind, SignalKind::Reload | SignalKind::ReloadCmd) {
            self.awaiting.reload(&env.device, env.time, vendor, sender);
        }
        resumed
    }
}

/// The device a host event is about, the address it knows it by, and the host's own address:
/// for a network event, whichever end is in the inventory (the destination first) and the
/// other end; for a process, the first argument (or part of one: `user@addr:path`,
/// `tftp://addr/…`) that the inventory knows, and the host's address. Only inventory devices
/// count: a host talks to many machines that are not network devices.
fn host_peer(
    inventory: &Inventory,
    ev: &ndjson::HostEvent,
) -> Option<(String, String, Option<String>)> {
    let known = |addr: &str| inventory.resolve_device(addr).map(|d| d.device.clone());
    if ev.destination_port.is_some() {
        if let Some(dst) = ev.destination_ip.as_deref()
            && let Some(dev) = known(dst)
        {
            return Some((
                dev,
                dst.to_string(),
                ev.source_ip.clone().or(ev.host_ip.clone()),
            ));
        }
        if let Some(src) = ev.source_ip.as_deref()
            && let Some(dev) = known(src)
        {
            return Some((dev, src.to_string(), ev.destination_ip.clone()));
        }
    }
    let host_addr = ev.host_ip.clone().or_else(|| ev.host.clone());
    for arg in ev.args.iter().skip(1) {
        for piece in arg.split(['@', '/', ',', '=', '"', '\'', ' ']) {
            let candidates = [piece, piece.split(':').next().unwrap_or(piece)];
            for c in candidates {
                if c.len() > 1
                    && let Some(dev) = known(c)
                {
                    return Some((dev, c.to_string(), host_addr));
                }
            }
        }
    }
    None
}

/// A host event as one line for the rules (`ecs~host process …` / `ecs~host flow …`): the
/// fields rules read, `key=value` in a fixed order, `-` for what the event lacks, a process's
/// arguments last. This text is imagewatch's own rendering of the ECS fields, not something a
/// host writes; the evidence keeps the original JSON.
fn render_host_event(ev: &ndjson::HostEvent, peer: &str, host_addr: Option<&str>) -> String {
    let or_dash = |v: Option<&str>| v.filter(|s| !s.is_empty()).unwrap_or("-").replace(' ', "_");
    let host = or_dash(ev.host.as_deref());
    let addr = or_dash(host_addr);
    if let Some(port) = ev.destination_port.filter(|_| ev.args.is_empty()) {
        format!(
            "ecs~host flow host={host} ip={addr} peer={peer} transport={} port={port} protocol={} snmp_sets={} file={}",
            or_dash(ev.transport.as_deref()),
            or_dash(ev.protocol.as_deref()),
            ev.snmp_sets.unwrap_or(0),
            or_dash(ev.file.as_deref()),
        )
    } else {
        format!(
            "ecs~host process host={host} ip={addr} peer={peer} user={} name={} args={}",
            or_dash(ev.user.as_deref()),
            or_dash(ev.process.as_deref()),
            ev.args.join(" "),
        )
    }
}

/// The canonical device for the first host or address that names one, with its clock zone:
/// the inventory's name and zone when any candidate resolves, else the first candidate,
/// canonical, and no zone.
pub(crate) fn device_id(
    inventory: &Inventory,
    candidates: &[Option<&str>],
) -> Option<(String, Option<TimeZone>)> {
    for c in candidates.iter().flatten() {
        if let Some(dev) = inventory.resolve_device(c) {
            return Some((dev.device.clone(), dev.timezone.clone()));
        }
    }
    candidates
        .iter()
        .flatten()
        .find(|c| is_host_name(c))
        .map(|c| (canonical_host(c), None))
}

/// Whether a header's or record's host field can name a device: not blank, and not a piece of
/// JSON or quoted text (a JSON object read as syslog puts `{"@timestamp":…` where a host goes).
fn is_host_name(candidate: &str) -> bool {
    let c = candidate.trim();
    !c.is_empty() && !c.starts_with(['{', '[']) && !c.contains('"')
}

/// The event time of a parsed line, through the device's clock book (see [`ClockBook::date`]):
/// what the pipeline and `explain` both use. `feed` is the latest time the input proved, the
/// guess for an unchecked device clock; `reference` the time for a line with no clock at all.
pub(crate) fn date_header(
    clocks: &ClockBook,
    device: &str,
    header: &SyslogHeader<'_>,
    zone: Option<&TimeZone>,
    received: Option<Millis>,
    feed: Option<Millis>,
    reference: Millis,
) -> Dated {
    let stamp = device_stamp(header, zone);
    // An unsynchronised clock with nothing to check it against: the feed's own time is a
    // better guess than a 1993 default.
    let fallback = stamp.map_or(reference, |d| feed.unwrap_or(d.millis));
    clocks.date(device, stamp, header.uptime, received, fallback)
}

/// The device's own stamp, read in the device's inventory zone when it wrote none; `None` for
/// an uptime (no wall time at all).
pub(crate) fn device_stamp(
    header: &SyslogHeader<'_>,
    zone: Option<&TimeZone>,
) -> Option<DeviceStamp> {
    header
        .device_time
        .filter(|_| !header.uptime)
        .map(|d| zone.map_or(d, |z| d.in_zone(z)))
}

/// The boot a reloaded device's first line after the silence stands for: the line itself as
/// evidence, no version (the device did not report one), recognised by the pipeline rather
/// than a rule file.
fn resumed_boot(
    env: &Envelope<'_>,
    vendor: String,
    sender: Option<&str>,
    raw_line: &[u8],
) -> Signal {
    Signal {
        fingerprint: fingerprint(env.first_body_line, SignalKind::Boot),
        device: env.device.clone(),
        time: env.time,
        received: env.received,
        time_source: env.time_source,
        time_reason: env.time_reason,
        kind: SignalKind::Boot,
        rule_id: RESUMED_BOOT_RULE.to_string(),
        vendor,
        sender: sender.map(str::to_string),
        fields: SignalFields::default(),
        message: evidence_line(raw_line),
        origin: EventOrigin::Device,
    }
}

/// A line's sender as text: the collector prefix's (`at`, checked to be UTF-8 when screened),
/// else the receipt's.
fn sender_text<'a>(
    line: &'a [u8],
    at: Option<std::ops::Range<usize>>,
    receipt: Option<&'a str>,
) -> Option<&'a str> {
    match at {
        Some(at) => std::str::from_utf8(&line[at]).ok(),
        None => receipt,
    }
}

/// The raw line as evidence, cut at [`MAX_EVIDENCE_LINE`] bytes.
fn evidence_line(raw_line: &[u8]) -> String {
    // Nearly every line is UTF-8: std's check reads it a word at a time where the lossy
    // decoder goes byte by byte, and only what is kept is copied. The same text either way.
    if let Ok(text) = std::str::from_utf8(raw_line) {
        let mut cut = text.len().min(MAX_EVIDENCE_LINE);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        return text[..cut].to_string();
    }
    let mut message = String::from_utf8_lossy(raw_line).into_owned();
    if message.len() > MAX_EVIDENCE_LINE {
        let mut cut = MAX_EVIDENCE_LINE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    message
}

/// Identity of a line's content for duplicate detection: XXH3-64 (seed 0, the published
/// xxHash spec) of the kind's rule-file name (`transfer`, `reload`, …), a NUL byte, then the
/// first body line's UTF-8 bytes. Kind names hold no NUL, so no two inputs share their bytes.
///
/// Devices keep recent fingerprints in the state store, so the value is part of the stored
/// format: it must not come from std's `DefaultHasher`, whose algorithm may change between
/// Rust releases. Changing this definition means a resend of a line first delivered before
/// the change is not recognised as one.
fn fingerprint(body: &str, kind: SignalKind) -> u64 {
    let name = kind.as_str().as_bytes();
    let len = name.len() + 1 + body.len();
    // A short line is hashed in one call from a copy on the stack: the streaming hasher's
    // set-up cost more than the hash. The one-shot and streaming XXH3 give the same value.
    let mut buf = [0u8; 256];
    if len <= buf.len() {
        buf[..name.len()].copy_from_slice(name);
        buf[name.len() + 1..len].copy_from_slice(body.as_bytes());
        return xxhash_rust::xxh3::xxh3_64(&buf[..len]);
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(kind.as_str().as_bytes());
    hasher.update(&[0]);
    hasher.update(body.as_bytes());
    hasher.digest()
}

/// A message with any syslog structure: PRI, a timestamp, a Cisco `%FAC-SEV-MNEMONIC` token,
/// or a FortiGate record sent without a syslog header (`date=2020-04-23 time=…`).
pub(crate) fn looks_like_syslog(message: &[u8]) -> bool {
    if message.starts_with(b"date=") {
        return true;
    }
    match message.first() {
        Some(b'<' | b'%' | b'*' | b'.' | b'0'..=b'9') => true,
        Some(_) => {
            crate::parse::clock::month_from_abbrev(message.get(..3).unwrap_or(message)).is_some()
                || memchr::memchr(b'%', message).is_some()
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JSON object read as syslog puts its first word where the host goes: that is never a
    /// device, and the next candidate (the sender) names it instead.
    #[test]
    fn a_piece_of_json_is_never_a_device_name() {
        let inventory = Inventory::default();
        let json_host = Some(r#"{"@timestamp":"2026-06-02T22:41:00.500Z","log":"#);
        assert_eq!(
            device_id(&inventory, &[json_host, Some("10.64.0.91")]).map(|d| d.0),
            Some("10.64.0.91".to_string())
        );
        assert!(device_id(&inventory, &[json_host, Some("\"x\"")]).is_none());
        assert_eq!(
            device_id(&inventory, &[Some(" "), Some("RTR-1.example.net")]).map(|d| d.0),
            Some("rtr-1".to_string())
        );
    }

    /// Fingerprints are stored in sled (each device remembers recent ones to drop resends), so
    /// their value must not depend on std's unspecified hasher: these values are XXH3-64 as
    /// published (cross-checked with the Python `xxhash` binding) and must never change.
    #[test]
    fn fingerprints_have_a_pinned_value() {
        assert_eq!(xxhash_rust::xxh3::xxh3_64(b""), 0x2d06_8005_38d3_94c2);
        let line = "%SYS-5-RELOAD: Reload requested by admin on vty0 (10.0.0.5).";
        assert_eq!(fingerprint(line, SignalKind::Reload), 0x95ff_19df_6f57_e81e);
        assert_ne!(
            fingerprint(line, SignalKind::Reload),
            fingerprint(line, SignalKind::ReloadCmd),
            "the kind is part of the identity"
        );
        // Lines hashed from the stack and streamed agree with the definition.
        for n in [0, 200, 247, 248, 249, 300, 5000] {
            let body = "x".repeat(n);
            let whole = format!("reload\0{body}");
            assert_eq!(
                fingerprint(&body, SignalKind::Reload),
                xxhash_rust::xxh3::xxh3_64(whole.as_bytes()),
                "{n}"
            );
        }
    }

    /// The evidence line is the raw line, cut at a character boundary at most
    /// [`MAX_EVIDENCE_LINE`] bytes in, whether or not it is valid UTF-8.
    #[test]
    fn evidence_lines_are_the_lossy_text_cut_at_a_character() {
        let lossy = |raw: &[u8]| {
            let mut m = String::from_utf8_lossy(raw).into_owned();
            let mut cut = m.len().min(MAX_EVIDENCE_LINE);
            while !m.is_char_boundary(cut) {
                cut -= 1;
            }
            m.truncate(cut);
            m
        };
        let mut cases: Vec<Vec<u8>> = vec![
            b"<189>Jun  2 10:00:00 rtr-1 %SEC_LOGIN-5-LOGIN_SUCCESS: x".to_vec(),
            Vec::new(),
            b"bad \xff byte".to_vec(),
        ];
        for pad in 4093..4097 {
            let mut line = "a".repeat(pad).into_bytes();
            line.extend("\u{e9}\u{1f600}tail".as_bytes());
            cases.push(line.clone());
            line.push(0xff);
            cases.push(line);
        }
        for raw in &cases {
            let got = evidence_line(raw);
            assert_eq!(got, lossy(raw));
            assert!(got.len() <= MAX_EVIDENCE_LINE);
        }
        assert_eq!(evidence_line(&cases[3]).len(), 4093 + 2);
    }
}
