//! The one code path from a line to alerts, shared by `replay` and `serve`, in two halves:
//! [`extract`] turns a line into a signal ([`screen`]: frame → prefilter → classify; then
//! header → device and event time) and [`engine`] runs signals of a set of devices,
//! in event-time order (the [`reorder`] buffer and its watermark), through correlate and
//! suppress into stored alerts, written back in the order [`write_back`] keeps. `replay` runs
//! the screen in screening workers and the rest in its own thread ([`Pipeline`]); the service runs
//! extractors in its listeners and engines in device-sharded workers.

pub(crate) mod awaiting;
pub(crate) mod engine;
pub(crate) mod extract;
pub(crate) mod reorder;
pub(crate) mod screen;
pub(crate) mod write_back;

use std::collections::HashMap;
use std::sync::Arc;

pub use awaiting::AwaitingBoot;
pub use engine::Engine;
pub use extract::{Extractor, Receipt};
pub(crate) use screen::{Screen, Screened};

use crate::calendar::ChangeCalendar;
use crate::classify::{Classifier, SignalKind};
use crate::correlate::SequenceRules;
use crate::source::InputFormat;
use crate::state::{StateError, StateStore};
use crate::suppress::Alert;
use crate::time::{Millis, SECOND};

/// How often a changed machine is written at most (wall clock), unless it raised an alert, in
/// `serve` and `replay` (see [`Engine::set_write_every`]): a busy device's machine (its pending
/// sequences, recent signals, duplicate memory) is rewritten whole, so once per signal its
/// writes outgrow what sled can reclaim. In `serve` the signals processed in between stay in
/// the stored reorder buffer, so a crash replays them.
pub const MACHINE_WRITE_EVERY: Millis = 2 * SECOND;

/// How far out of order lines of one device may arrive in a replay and still be put back in
/// order.
pub const DEFAULT_LATENESS: Millis = 60 * SECOND;

/// Where a line came from, for messages about it.
#[derive(Clone, Debug)]
pub struct Origin<'a> {
    pub file: &'a str,
    pub line: u64,
}

/// A problem with one input line, reported with its place.
#[derive(Clone, Debug)]
pub struct LineProblem {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// What the extract half counted.
#[derive(Clone, Debug, Default)]
pub struct ExtractStats {
    /// Input lines (a multi-line message counts each of its lines).
    pub lines: u64,
    /// Messages recognised as syslog (collector prefix, JSON record or a syslog header).
    pub parsed: u64,
    /// Messages with no recognisable structure, or JSON lines that could not be used.
    pub unparsed: u64,
    /// Messages the literal prefilter let through.
    pub candidates: u64,
    pub signals: HashMap<SignalKind, u64>,
    /// Signals with neither a host name nor a sender address.
    pub no_device: u64,
    pub truncated: u64,
}

/// What the engine half counted.
#[derive(Clone, Debug, Default)]
pub struct EngineStats {
    pub duplicates: u64,
    /// Signals older than the watermark when they arrived (processed at once).
    pub late: u64,
    pub findings: u64,
    pub alerts: u64,
    pub suppressed: u64,
    pub escalated: u64,
    /// Machines dropped from memory over `max_devices` (their state is in the store).
    pub evicted: u64,
    /// Machines read back from the store (a signal or a deadline for an evicted device).
    pub loaded: u64,
    /// Evidence lines dropped at `max_evidence`.
    pub evidence_dropped: u64,
}

/// Kinds some sequence rule uses.
pub fn wanted_kinds(rules: &SequenceRules) -> Vec<SignalKind> {
    SignalKind::ALL
        .iter()
        .copied()
        .filter(|k| rules.sequences.iter().any(|s| s.involves(*k)))
        .collect()
}

/// Both halves in one thread, for `replay` and tests.
pub struct Pipeline {
    pub extractor: Extractor,
    pub engine: Engine,
}

impl Pipeline {
    pub fn new(
        classifier: Arc<Classifier>,
        rules: Arc<SequenceRules>,
        calendar: Arc<ChangeCalendar>,
        store: StateStore,
        format: InputFormat,
    ) -> Result<Pipeline, StateError> {
        let mut extractor = Extractor::new(
            Arc::clone(&classifier),
            Arc::new(calendar.inventory.clone()),
            Arc::new(classifier.focus(&wanted_kinds(&rules))),
            format,
        );
        let mut engine = Engine::new(rules, calendar, store, DEFAULT_LATENESS, &|_| true)?;
        let awaiting = Arc::new(AwaitingBoot::default());
        extractor.set_awaiting(Arc::clone(&awaiting));
        engine.set_awaiting(awaiting);
        // A replay drains the reorder buffer at its end: storing it would be wasted writes.
        engine.set_durable_buffer(false);
        // Nor need it write a machine on every change: a replay cut short is run again, so
        // its machines are written as the service's are, every 2 s (at once on an alert) and
        // at the end. On a fleet's logins that was a quarter of a replay's time.
        engine.set_write_every(MACHINE_WRITE_EVERY);
        Ok(Pipeline { extractor, engine })
    }

    /// Feeds one message (a line, or a line with its continuations).
    pub fn ingest(
        &mut self,
        line: &[u8],
        lines: u32,
        origin: &Origin<'_>,
        out: &mut Vec<Alert>,
    ) -> Result<(), StateError> {
        let got = self
            .extractor
            .extract(line, lines, origin, Receipt::default());
        self.take(got, out)
    }

    /// [`Pipeline::ingest`] for a message already screened (see [`Screen`]).
    pub(crate) fn ingest_screened(
        &mut self,
        line: &[u8],
        screened: Screened,
        lines: u32,
        origin: &Origin<'_>,
        out: &mut Vec<Alert>,
    ) -> Result<(), StateError> {
        let got =
            self.extractor
                .extract_screened(line, screened, lines, origin, Receipt::default());
        self.take(got, out)
    }

    /// The engine half of a message.
    fn take(&mut self, got: extract::Extracted, out: &mut Vec<Alert>) -> Result<(), StateError> {
        if let Some(t) = got.time {
            self.engine.observe(t);
        }
        if let Some(boot) = got.resumed {
            self.engine.accept(*boot)?;
        }
        if let Some(signal) = got.signal {
            self.engine.accept(*signal)?;
        }
        self.engine.advance(out)
    }

    pub fn finish(&mut self, out: &mut Vec<Alert>) -> Result<(), StateError> {
        self.engine.finish(out)
    }
}
