//! The one code path from a line to alerts, shared by `replay` and `serve`: frame → prefilter →
//! classify → parse the header → device and event time → dedupe → reorder by event time →
//! correlate → suppress → store. Signals wait in a reorder buffer until the watermark (latest
//! time seen minus the allowed lateness) passes them, so lines of one device that arrive out of
//! order by up to the lateness give the same alerts as lines in order.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::calendar::ChangeCalendar;
use crate::classify::{Classifier, Signal, SignalKind};
use crate::correlate::{Correlator, Finding, SequenceRules};
use crate::parse::clock::ClockSync;
use crate::parse::header::parse_header;
use crate::source::{self, Framed, InputFormat, StampCache, ndjson};
use crate::state::{Clock, StateError, StateStore};
use crate::suppress::{self, Alert};
use crate::time::{MINUTE, Millis, SECOND};

/// How far out of order lines of one device may arrive and still be put back in order.
pub const DEFAULT_LATENESS: Millis = 60 * SECOND;
/// A device clock further than this from the arrival time is not trusted (wrong zone, drift).
pub const CLOCK_TOLERANCE: Millis = 5 * MINUTE;
/// Longest evidence line kept.
const MAX_EVIDENCE_LINE: usize = 4096;

/// Where a line came from, for messages about it.
#[derive(Clone, Debug)]
pub struct Origin<'a> {
    pub file: &'a str,
    pub line: u64,
}

/// Counts for the summary and the metrics.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Input lines (a multi-line message counts each of its lines).
    pub lines: u64,
    /// Messages recognised as syslog (collector prefix, JSON record or a syslog header).
    pub parsed: u64,
    /// Messages with no recognisable structure, or JSON lines that could not be used.
    pub unparsed: u64,
    /// Messages the literal prefilter let through.
    pub candidates: u64,
    pub signals: HashMap<SignalKind, u64>,
    pub duplicates: u64,
    /// Signals older than the watermark when they arrived (processed at once).
    pub late: u64,
    /// Signals with neither a host name nor a sender address.
    pub no_device: u64,
    pub findings: u64,
    pub alerts: u64,
    pub suppressed: u64,
    pub escalated: u64,
    pub truncated: u64,
}

/// A problem with one input line, reported with its place.
#[derive(Clone, Debug)]
pub struct LineProblem {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

pub struct Pipeline {
    classifier: Arc<Classifier>,
    calendar: Arc<ChangeCalendar>,
    correlator: Correlator,
    store: StateStore,
    format: InputFormat,
    lateness: Millis,
    /// Signals waiting for the watermark, by (event time, arrival order).
    buffer: BTreeMap<(Millis, u64), Signal>,
    seq: u64,
    clock: Clock,
    stamps: StampCache,
    findings: Vec<Finding>,
    pub stats: Stats,
    /// The first few unusable lines, for the operator.
    pub problems: Vec<LineProblem>,
}

/// How many unusable lines are reported one by one.
const MAX_PROBLEMS: usize = 10;

impl Pipeline {
    /// Builds the pipeline and restores device machines and the clock from `store`.
    pub fn new(
        classifier: Arc<Classifier>,
        rules: Arc<SequenceRules>,
        calendar: Arc<ChangeCalendar>,
        store: StateStore,
        format: InputFormat,
    ) -> Result<Pipeline, StateError> {
        let mut correlator = Correlator::new(rules, Arc::clone(&calendar));
        for machine in store.devices()? {
            correlator.restore(machine);
        }
        let clock = store.clock()?;
        Ok(Pipeline {
            classifier,
            calendar,
            correlator,
            store,
            format,
            lateness: DEFAULT_LATENESS,
            buffer: BTreeMap::new(),
            seq: 0,
            clock,
            stamps: StampCache::default(),
            findings: Vec::new(),
            stats: Stats::default(),
            problems: Vec::new(),
        })
    }

    pub fn correlator(&self) -> &Correlator {
        &self.correlator
    }

    pub fn store(&self) -> &StateStore {
        &self.store
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

    fn observe(&mut self, t: Millis) {
        // A device clock far in the future must not drag every other device's timers with it.
        if let Some(max) = self.clock.max_time
            && t > max + crate::time::DAY
            && self.stats.parsed > 1
        {
            return;
        }
        self.clock.max_time = Some(self.clock.max_time.map_or(t, |m| m.max(t)));
    }

    fn watermark(&self) -> Option<Millis> {
        self.clock.max_time.map(|m| m - self.lateness)
    }

    /// Feeds one message (a line, or a line with its continuations).
    pub fn ingest(
        &mut self,
        line: &[u8],
        lines: u32,
        origin: &Origin<'_>,
        out: &mut Vec<Alert>,
    ) -> Result<(), StateError> {
        self.stats.lines += u64::from(lines);
        match source::frame(line, self.format, &mut self.stamps) {
            Framed::Blank => {}
            Framed::Text {
                arrival,
                sender,
                message,
            } => {
                let recognised = arrival.is_some() || looks_like_syslog(message);
                if recognised {
                    self.stats.parsed += 1;
                } else {
                    self.problem(origin, "no syslog header or collector prefix".to_string());
                }
                if let Some(a) = arrival {
                    self.observe(a);
                }
                if self.classifier.may_match(message) {
                    self.stats.candidates += 1;
                    let text = source::decode_message(message);
                    let sender = sender.map(str::to_string);
                    self.signal_from(&text, arrival, sender.as_deref(), None, line);
                }
            }
            Framed::Json(raw) => {
                if !self.classifier.may_match(raw) {
                    match ndjson::arrival_hint(raw) {
                        Some(a) => {
                            self.stats.parsed += 1;
                            self.observe(a);
                        }
                        None => match ndjson::decode(raw) {
                            Ok(rec) => {
                                self.stats.parsed += 1;
                                if let Some(a) = rec.arrival {
                                    self.observe(a);
                                }
                            }
                            Err(reason) => self.problem(origin, reason),
                        },
                    }
                } else {
                    match ndjson::decode(raw) {
                        Ok(rec) => {
                            self.stats.parsed += 1;
                            self.stats.candidates += 1;
                            if let Some(a) = rec.arrival {
                                self.observe(a);
                            }
                            let text = source::decode_message(rec.message.as_bytes()).into_owned();
                            self.signal_from(
                                &text,
                                rec.arrival,
                                rec.sender.as_deref(),
                                rec.host.as_deref(),
                                line,
                            );
                        }
                        Err(reason) => self.problem(origin, reason),
                    }
                }
            }
        }
        self.advance(None, out)
    }

    /// Classifies a candidate message and, when it is a signal, queues it.
    fn signal_from(
        &mut self,
        text: &str,
        arrival: Option<Millis>,
        sender: Option<&str>,
        host_hint: Option<&str>,
        raw_line: &[u8],
    ) {
        let Some(class) = self.classifier.classify(text) else {
            return;
        };
        if !self
            .correlator
            .rules()
            .sequences
            .iter()
            .any(|s| s.involves(class.kind))
        {
            // Recognised, but no sequence uses it: counted, not tracked.
            *self.stats.signals.entry(class.kind).or_default() += 1;
            return;
        }
        let reference = arrival
            .or(self.clock.last_time)
            .unwrap_or_else(|| jiff::Timestamp::now().as_millisecond());
        let header = parse_header(text, reference);
        // Arrival time: the collector's, else a relay header's.
        let received = arrival.or(header.relay_time);
        let device_time = header
            .device_time
            .filter(|_| !header.uptime)
            .map(|d| (d.millis, d.sync));
        let time = match (device_time, received) {
            (Some((t, ClockSync::Synced)), Some(r)) if (t - r).abs() <= CLOCK_TOLERANCE => t,
            (Some((t, ClockSync::Synced)), None) => t,
            (_, Some(r)) => r,
            (Some((t, _)), None) => t,
            (None, None) => reference,
        };
        let candidates = [header.host, host_hint, header.relay_host, sender];
        let Some(device) = self.device_id(&candidates) else {
            self.stats.no_device += 1;
            return;
        };
        // Identity of a delivery: the first line of the body (continuation lines joined to it
        // may differ between copies), the kind and the event time.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        header
            .body
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .hash(&mut hasher);
        class.kind.hash(&mut hasher);
        if !self
            .correlator
            .first_delivery(&device, time, hasher.finish())
        {
            self.stats.duplicates += 1;
            return;
        }
        *self.stats.signals.entry(class.kind).or_default() += 1;
        let mut message = String::from_utf8_lossy(raw_line).into_owned();
        if message.len() > MAX_EVIDENCE_LINE {
            let mut cut = MAX_EVIDENCE_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let signal = Signal {
            device,
            time,
            received,
            kind: class.kind,
            rule_id: class.rule_id.to_string(),
            vendor: class.vendor.to_string(),
            fields: class.fields,
            message,
        };
        if arrival.is_none() {
            self.observe(time);
        }
        self.clock.last_time = Some(time);
        if self.watermark().is_some_and(|w| time < w) {
            self.stats.late += 1;
        }
        self.seq += 1;
        self.buffer.insert((time, self.seq), signal);
    }

    /// The canonical device for the first host or address that names one: the inventory's
    /// name when any candidate resolves, else the first candidate, normalised.
    fn device_id(&self, candidates: &[Option<&str>]) -> Option<String> {
        let inventory = &self.calendar.inventory;
        for c in candidates.iter().flatten() {
            if let Some(name) = inventory.resolve(c) {
                return Some(name.to_string());
            }
        }
        candidates
            .iter()
            .flatten()
            .find(|c| !c.trim().is_empty())
            .map(|c| normalise_host(c))
    }

    /// Processes buffered signals and due timers up to the watermark. `flush_signals` (end of
    /// a replay) processes every buffered signal regardless of the watermark.
    fn advance(
        &mut self,
        flush_until: Option<Millis>,
        out: &mut Vec<Alert>,
    ) -> Result<(), StateError> {
        let Some(watermark) = self.watermark() else {
            return Ok(());
        };
        let signal_limit = flush_until.unwrap_or(watermark);
        loop {
            let next_signal = self
                .buffer
                .first_key_value()
                .map(|(k, _)| k.0)
                .filter(|&t| t <= signal_limit);
            let next_timer = self.correlator.next_deadline().filter(|&d| d < watermark);
            match (next_signal, next_timer) {
                (None, None) => break,
                (Some(s), Some(d)) if d < s => self.fire_timers(d + 1, out)?,
                (Some(_), _) => {
                    let (_, sig) = self.buffer.pop_first().expect("peeked above");
                    self.correlator.on_signal(&sig, &mut self.findings);
                    self.persist_device(&sig.device)?;
                    self.emit(out)?;
                }
                (None, Some(_)) => self.fire_timers(watermark, out)?,
            }
        }
        Ok(())
    }

    fn fire_timers(&mut self, now: Millis, out: &mut Vec<Alert>) -> Result<(), StateError> {
        for device in self.correlator.on_time(now, &mut self.findings) {
            self.persist_device(&device)?;
        }
        self.emit(out)
    }

    fn persist_device(&mut self, device: &str) -> Result<(), StateError> {
        if let Some(machine) = self.correlator.device(device) {
            self.store.put_device(machine)?;
        }
        Ok(())
    }

    /// Runs findings through the calendar, stores and returns the alerts.
    fn emit(&mut self, out: &mut Vec<Alert>) -> Result<(), StateError> {
        for finding in std::mem::take(&mut self.findings) {
            self.stats.findings += 1;
            let verdict = suppress::judge(&self.calendar, &finding);
            let alert = suppress::alert(&finding, verdict);
            if alert.suppressed {
                self.stats.suppressed += 1;
                if finding.facts.version_after.is_some() || !finding.facts.images.is_empty() {
                    self.correlator.authorise(
                        &finding.device,
                        finding.facts.version_after.as_deref(),
                        finding.facts.images.last().map(String::as_str),
                        finding.last_seen,
                    );
                    self.persist_device(&finding.device)?;
                }
            }
            if alert.escalated_by.is_some() {
                self.stats.escalated += 1;
            }
            self.stats.alerts += 1;
            self.store.put_alert(&alert)?;
            out.push(alert);
        }
        Ok(())
    }

    /// End of a replay's input: every buffered signal is processed (in event-time order, with
    /// the timers due before each), the clock is saved and the store flushed.
    pub fn finish(&mut self, out: &mut Vec<Alert>) -> Result<(), StateError> {
        if let Some(last) = self.buffer.last_key_value().map(|(k, _)| k.0) {
            self.advance(Some(last), out)?;
        }
        self.store.put_clock(&self.clock)?;
        self.store.flush()
    }

    /// Saves the clock (periodically, and at shutdown).
    pub fn checkpoint(&mut self) -> Result<(), StateError> {
        self.store.put_clock(&self.clock)
    }
}

/// A message with any syslog structure: PRI, a timestamp, a Cisco `%FAC-SEV-MNEMONIC` token.
fn looks_like_syslog(message: &[u8]) -> bool {
    match message.first() {
        Some(b'<') => true,
        Some(b'%' | b'*' | b'.') => true,
        Some(b'0'..=b'9') => true,
        Some(_) => {
            crate::parse::clock::month_from_abbrev(message.get(..3).unwrap_or(message)).is_some()
                || memchr::memchr(b'%', message).is_some()
        }
        None => false,
    }
}

/// Canonical form of a host not in the inventory: lower case, no trailing dot, a Junos
/// routing-engine prefix dropped, and a DNS name cut to its first label (so `RTR1` and
/// `rtr1.example.net` are one device). Addresses are kept whole.
pub fn normalise_host(host: &str) -> String {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if h.parse::<std::net::IpAddr>().is_ok() {
        return h;
    }
    let h = ["re0.", "re1.", "re0-", "re1-"]
        .iter()
        .find_map(|p| h.strip_prefix(p).filter(|rest| !rest.is_empty()))
        .unwrap_or(&h);
    h.split('.').next().unwrap_or(h).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_unknown_hosts() {
        assert_eq!(normalise_host("RTR-0042.corp.example.net."), "rtr-0042");
        assert_eq!(normalise_host("re0.edge01.bjm01"), "edge01");
        assert_eq!(normalise_host("10.1.2.3"), "10.1.2.3");
        assert_eq!(normalise_host("2001:DB8::1"), "2001:db8::1");
    }
}
