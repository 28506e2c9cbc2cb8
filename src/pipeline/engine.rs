//! Second half of the pipeline: signals of a set of devices, in event-time order, through the
//! correlator and the calendar into stored alerts. Signals wait in a reorder buffer until the
//! watermark (latest time seen minus the allowed lateness) passes them; the buffer is stored,
//! so a signal accepted before a crash is still processed after the restart.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::calendar::ChangeCalendar;
use crate::classify::Signal;
use crate::correlate::{Correlator, Finding, Limits, SequenceRules};
use crate::state::{Clock, StateError, StateStore};
use crate::suppress::{self, Alert};
use crate::time::{DAY, Millis};

use super::EngineStats;

pub struct Engine {
    calendar: Arc<ChangeCalendar>,
    correlator: Correlator,
    store: StateStore,
    lateness: Millis,
    /// Write accepted signals to the store until processed, so that a crash loses none. The
    /// service needs it; a replay drains its buffer at the end and can skip the I/O.
    durable_buffer: bool,
    /// Signals waiting for the watermark, by (event time, arrival order).
    buffer: BTreeMap<(Millis, u64), Signal>,
    clock: Clock,
    /// A time more than a day ahead, waiting for a second line to confirm it.
    jump: Option<Millis>,
    findings: Vec<Finding>,
    /// Devices whose machine changed since [`Engine::take_changed`] was last called.
    changed: Vec<String>,
    pub stats: EngineStats,
}

impl Engine {
    /// Builds the engine and restores the machines of the devices `owns` accepts, the buffer
    /// and the clock from `store`.
    pub fn new(
        rules: Arc<SequenceRules>,
        calendar: Arc<ChangeCalendar>,
        store: StateStore,
        lateness: Millis,
        owns: &dyn Fn(&str) -> bool,
    ) -> Result<Engine, StateError> {
        let mut correlator = Correlator::new(Arc::clone(&rules), Arc::clone(&calendar));
        // Machines stay in the store until their device is seen or one of their deadlines
        // fires: a restart reads the deadlines only.
        store.index_deadlines(&|m| m.deadlines(&rules))?;
        for (device, deadlines) in store.deadlines()? {
            if owns(&device) {
                correlator.restore_timers(&device, deadlines);
            }
        }
        let mut buffer = BTreeMap::new();
        for (time, seq, sig) in store.buffered()? {
            if owns(&sig.device) {
                // Delivered once already (the machine remembers deliveries only once it has
                // processed them): a resend after the restart is a duplicate.
                correlator.first_delivery(&sig.device, sig.time, sig.fingerprint);
                buffer.insert((time, seq), sig);
            }
        }
        let clock = store.clock()?;
        Ok(Engine {
            calendar,
            correlator,
            store,
            lateness,
            durable_buffer: true,
            buffer,
            clock,
            jump: None,
            findings: Vec::new(),
            changed: Vec::new(),
            stats: EngineStats::default(),
        })
    }

    /// Sets how many machines stay in memory and how much evidence an instance keeps.
    pub fn set_limits(&mut self, limits: Limits) {
        self.correlator.set_limits(limits);
    }

    /// Turns off storing the reorder buffer (see `durable_buffer`).
    pub fn set_durable_buffer(&mut self, on: bool) {
        self.durable_buffer = on;
    }

    pub fn correlator(&self) -> &Correlator {
        &self.correlator
    }

    pub fn store(&self) -> &StateStore {
        &self.store
    }

    /// Devices whose machine changed since the last call (the service refreshes its read
    /// views from them once the changes are durable).
    pub fn take_changed(&mut self) -> Vec<String> {
        std::mem::take(&mut self.changed)
    }

    /// Swaps in reloaded sequence rules or calendar; machines are kept.
    pub fn reconfigure(&mut self, rules: Arc<SequenceRules>, calendar: Arc<ChangeCalendar>) {
        self.correlator.reconfigure(rules, Arc::clone(&calendar));
        self.calendar = calendar;
    }

    pub fn calendar(&self) -> &Arc<ChangeCalendar> {
        &self.calendar
    }

    /// Time has reached `t` (an arrival, or the wall clock in the service).
    pub fn observe(&mut self, t: Millis) {
        // One device clock far in the future must not drag every other device's timers with
        // it: a jump of more than a day counts only when a second line confirms it.
        if let Some(max) = self.clock.max_time
            && t > max + DAY
        {
            match self.jump {
                Some(j) if (t - j).abs() <= DAY => self.jump = None,
                _ => {
                    self.jump = Some(t);
                    return;
                }
            }
        }
        self.clock.max_time = Some(self.clock.max_time.map_or(t, |m| m.max(t)));
    }

    pub fn watermark(&self) -> Option<Millis> {
        self.clock.max_time.map(|m| m - self.lateness)
    }

    /// Takes a signal: drops duplicate deliveries, queues it (durably) for the watermark.
    pub fn accept(&mut self, signal: Signal) -> Result<(), StateError> {
        // The duplicate check needs the device's fingerprints: its machine first.
        self.load(&signal.device)?;
        if !self
            .correlator
            .first_delivery(&signal.device, signal.time, signal.fingerprint)
        {
            self.stats.duplicates += 1;
            return Ok(());
        }
        if self.watermark().is_some_and(|w| signal.time < w) {
            self.stats.late += 1;
        }
        self.clock.last_time = Some(signal.time);
        let seq = if self.durable_buffer {
            self.store.put_buffered(signal.time, &signal)?
        } else {
            self.store.next_id()?
        };
        self.buffer.insert((signal.time, seq), signal);
        Ok(())
    }

    /// Processes buffered signals and due timers up to the watermark.
    pub fn advance(&mut self, out: &mut Vec<Alert>) -> Result<(), StateError> {
        self.run(None, out)
    }

    /// `flush_until`: process every buffered signal up to that time whatever the watermark
    /// (the end of a replay's input).
    fn run(&mut self, flush_until: Option<Millis>, out: &mut Vec<Alert>) -> Result<(), StateError> {
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
                    let ((t, seq), sig) = self.buffer.pop_first().expect("peeked above");
                    self.load(&sig.device)?;
                    self.correlator.on_signal(&sig, &mut self.findings);
                    self.persist_device(&sig.device)?;
                    self.emit(out)?;
                    if self.durable_buffer {
                        self.store.remove_buffered(t, seq)?;
                    }
                }
                (None, Some(_)) => self.fire_timers(watermark, out)?,
            }
        }
        self.evict()
    }

    fn fire_timers(&mut self, now: Millis, out: &mut Vec<Alert>) -> Result<(), StateError> {
        // An evicted machine comes back from the store when its deadline fires.
        while let Some(device) = self.correlator.next_due(now).map(str::to_string) {
            self.load(&device)?;
            let Some(device) = self.correlator.fire_next(now, &mut self.findings) else {
                break;
            };
            self.persist_device(&device)?;
        }
        self.emit(out)
    }

    /// Brings a device's machine back from the store when it is not in memory.
    fn load(&mut self, device: &str) -> Result<(), StateError> {
        if self.correlator.resident(device) {
            return Ok(());
        }
        if let Some(machine) = self.store.device(device)? {
            self.correlator.restore(machine);
            self.stats.loaded += 1;
        }
        Ok(())
    }

    /// Drops idle machines over the limit; every change is stored by now, so nothing is lost.
    fn evict(&mut self) -> Result<(), StateError> {
        self.stats.evidence_dropped = self.correlator.stats.evidence_dropped;
        if self.correlator.in_memory() <= self.correlator.limits().max_devices {
            return Ok(());
        }
        for device in self.correlator.dirty() {
            self.persist_device(&device)?;
        }
        self.stats.evicted += self.correlator.evict() as u64;
        Ok(())
    }

    /// Writes a device's machine and its deadlines; the machine may be evicted from then on.
    fn persist_device(&mut self, device: &str) -> Result<(), StateError> {
        if let Some(machine) = self.correlator.device(device) {
            self.store
                .put_device_with_deadlines(machine, self.correlator.deadlines(device))?;
            self.correlator.stored(device);
            if !self.changed.iter().any(|d| d == device) {
                self.changed.push(device.to_string());
            }
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
                    self.load(&finding.device)?;
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
            self.run(Some(last), out)?;
        }
        self.checkpoint()?;
        self.store.flush()
    }

    /// Saves the clock (periodically, and at shutdown).
    pub fn checkpoint(&mut self) -> Result<(), StateError> {
        self.store.put_clock(&self.clock)
    }
}
