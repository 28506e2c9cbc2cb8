//! Second half of the pipeline: signals of a set of devices, in event-time order, through the
//! correlator and the calendar into stored alerts. Signals wait in the [`ReorderBuffer`] until
//! the watermark passes them; the buffer is stored, so a signal accepted before a crash is
//! still processed after the restart. What a run changed reaches the store in the order
//! [`WriteBack`] keeps.

use std::sync::Arc;

use crate::calendar::ChangeCalendar;
use crate::classify::Signal;
use crate::correlate::{Correlator, DeviceMachine, Finding, Limits, SequenceRules};
use crate::state::{AwaitedBoot, StateError, StateStore};
use crate::suppress::{self, Alert};
use crate::time::{Millis, format_rfc3339, now_ms};

use super::EngineStats;
use super::awaiting::AwaitingBoot;
use super::reorder::ReorderBuffer;
use super::write_back::WriteBack;

pub struct Engine {
    calendar: Arc<ChangeCalendar>,
    correlator: Correlator,
    store: StateStore,
    /// Write accepted signals to the store until processed, so that a crash loses none. The
    /// service needs it; a replay drains its buffer at the end and can skip the I/O.
    durable_buffer: bool,
    /// Signals waiting for the watermark, and the clock that moves it.
    reorder: ReorderBuffer,
    findings: Vec<Finding>,
    /// Whether a machine was written since [`Engine::take_changed`] was last called.
    changed: bool,
    /// Called with each alert once it is stored (the service queues it for its sinks here).
    on_alert: Option<AlertHook>,
    /// Called with each machine once it is written (Kafka mode produces it to the changelog).
    on_machine: Option<MachineHook>,
    /// Machines changed and buffer entries processed, not yet written.
    write_back: WriteBack,
    /// How often every changed machine is written (milliseconds of wall clock); 0: at the end
    /// of every run. In between, only machines that raised an alert are.
    write_every: Millis,
    /// Wall-clock time every changed machine was last written.
    written_all_at: Millis,
    /// Runs that processed nothing since the clock was last read for the write interval.
    idle_runs: u32,
    /// Devices told to reload, awaiting their boot (shared with the extractors, which add
    /// them): the engine forgets those with no image staged, and those that never came back.
    awaiting: Arc<AwaitingBoot>,
    /// Watermark at which forgotten devices are next looked for.
    next_expiry: Millis,
    pub stats: EngineStats,
}

/// Runs that process nothing between two reads of the clock for the write interval (see
/// [`Engine::set_write_every`]).
const CLOCK_STRIDE: u32 = 16;

/// Takes each alert right after it is stored and before the machine that raised it is
/// written: sled recovers a prefix of its writes, so a crash can leave an alert queued whose
/// machine does not know it yet (the resent line raises it again, and the sinks drop the
/// repeat), but never a machine that says "emitted" with the alert queued nowhere.
pub type AlertHook = Box<dyn FnMut(&Alert) -> Result<(), StateError> + Send>;

/// Takes each machine right after it is written, with its deadlines and awaited boot: after
/// the alerts it raised went to the [`AlertHook`].
pub type MachineHook = Box<dyn FnMut(&DeviceMachine) -> Result<(), StateError> + Send>;

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
        let mut correlator = Correlator::new(
            Arc::clone(&rules),
            Arc::new(calendar.inventory.clone()),
            Arc::new(calendar.allowlist.clone()),
        );
        // Machines stay in the store until their device is seen or one of their deadlines
        // fires: a restart reads the deadlines only.
        store.index_deadlines(&|m| m.deadlines(&rules))?;
        // Devices awaiting a boot at the last stop: their next line after a silence is still
        // their boot (the shared set is handed over in `set_awaiting`).
        let awaiting = Arc::new(AwaitingBoot::default());
        for (device, deadlines, awaited) in store.deadlines(owns)? {
            correlator.restore_timers(&device, deadlines);
            if let Some(a) = awaited {
                awaiting.reload(&device, a.reload, &a.vendor, None);
            }
        }
        let reorder = ReorderBuffer::new(store.clock()?, lateness);
        let mut engine = Engine {
            calendar,
            correlator,
            store,
            durable_buffer: true,
            reorder,
            findings: Vec::new(),
            changed: false,
            on_alert: None,
            on_machine: None,
            write_back: WriteBack::default(),
            write_every: 0,
            written_all_at: now_ms(),
            idle_runs: 0,
            awaiting,
            next_expiry: Millis::MIN,
            stats: EngineStats::default(),
        };
        for (time, seq, sig) in engine.store.buffered()? {
            if owns(&sig.device) {
                // Delivered once already (the machine remembers deliveries only once it has
                // processed them): a resend after the restart is a duplicate. The stored
                // machine comes first, or the delivery would start an empty one.
                engine.load(&sig.device)?;
                engine
                    .correlator
                    .first_delivery(&sig.device, sig.time, sig.fingerprint);
                engine.reorder.restore((time, seq), sig);
            }
        }
        Ok(engine)
    }

    /// Sets what receives each alert once stored (see [`AlertHook`]).
    pub fn set_alert_hook(&mut self, hook: AlertHook) {
        self.on_alert = Some(hook);
    }

    /// Sets what receives each machine once written (see [`MachineHook`]).
    pub fn set_machine_hook(&mut self, hook: MachineHook) {
        self.on_machine = Some(hook);
    }

    /// Shares the set of devices awaiting a boot with the extractors (one set per process).
    pub fn set_awaiting(&mut self, awaiting: Arc<AwaitingBoot>) {
        if !Arc::ptr_eq(&self.awaiting, &awaiting) {
            self.awaiting.hand_over(&awaiting);
        }
        self.awaiting = awaiting;
    }

    /// Sets how many machines stay in memory and how much evidence an instance keeps.
    pub fn set_limits(&mut self, limits: Limits) {
        self.correlator.set_limits(limits);
    }

    /// Writes a changed machine at most once per `every` milliseconds (in a run soon after the
    /// interval, see `interval_over`, and by [`Engine::write_all`]), unless it raised an alert:
    /// a busy device's machine is then written once per interval instead of once per signal,
    /// and its processed reorder-buffer entries wait in the store until it is (a crash replays
    /// them). Only with
    /// the durable buffer, or where a crash loses nothing worth keeping (a replay, which is run
    /// again): in Kafka mode nothing would replay them.
    pub fn set_write_every(&mut self, every: Millis) {
        self.write_every = every;
    }

    /// How far behind the latest time a signal may arrive and still be put in order.
    pub fn set_lateness(&mut self, lateness: Millis) {
        self.reorder.set_lateness(lateness);
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

    /// Whether a machine was written since the last call (the service flushes the store
    /// before it moves on).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Swaps in reloaded sequence rules or calendar; machines are kept.
    pub fn reconfigure(&mut self, rules: Arc<SequenceRules>, calendar: Arc<ChangeCalendar>) {
        self.correlator.reconfigure(
            rules,
            Arc::new(calendar.inventory.clone()),
            Arc::new(calendar.allowlist.clone()),
        );
        self.calendar = calendar;
    }

    pub fn calendar(&self) -> &Arc<ChangeCalendar> {
        &self.calendar
    }

    /// Time has reached `t` (an arrival, or the wall clock in the service).
    pub fn observe(&mut self, t: Millis) {
        self.reorder.observe(t);
    }

    pub fn watermark(&self) -> Option<Millis> {
        self.reorder.watermark()
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
        if self.reorder.is_late(signal.time) {
            self.stats.late += 1;
        }
        let seq = if self.durable_buffer {
            self.store.put_buffered(signal.time, &signal)?
        } else {
            self.store.next_id()?
        };
        self.reorder.push(seq, signal);
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
        let mut processed = false;
        loop {
            let next_signal = self.reorder.next_until(signal_limit);
            let next_timer = self.correlator.next_deadline().filter(|&d| d < watermark);
            if next_signal.is_some() || next_timer.is_some() {
                processed = true;
            }
            match (next_signal, next_timer) {
                (None, None) => break,
                (Some(s), Some(d)) if d < s => self.fire_timers(d + 1, out)?,
                (Some(_), _) => {
                    let (slot, sig) = self.reorder.pop().expect("peeked above");
                    self.load(&sig.device)?;
                    let changed = self.correlator.on_signal(&sig, &mut self.findings);
                    self.settle_awaiting(&sig.device, sig.time);
                    self.emit(out)?;
                    if self.durable_buffer {
                        self.write_back.signal_processed(&sig.device, slot, changed);
                    } else if changed {
                        self.write_back.machine_changed(&sig.device);
                    }
                }
                (None, Some(_)) => self.fire_timers(watermark, out)?,
            }
        }
        self.expire_awaiting(watermark);
        // Over `max_devices`, everything is written now: an unwritten machine cannot be
        // evicted, and memory must stay bounded.
        let all = self.write_back.pending() > 0
            && (self.write_every == 0
                || self.correlator.over_device_limit()
                || self.interval_over(processed));
        if all || self.write_back.due() {
            self.write_back(all)?;
        }
        self.evict()
    }

    /// Whether the write interval is over, while a machine waits to be written. The clock is
    /// read after a run that processed something, else only every [`CLOCK_STRIDE`] runs: a
    /// replay runs this for every line, most of them noise, and reading the clock cost more
    /// than the rest of such a run. A waiting machine is then written up to that many runs
    /// after its interval (the service runs the engine at least every tick, 50 ms).
    fn interval_over(&mut self, processed: bool) -> bool {
        if !processed && self.idle_runs + 1 < CLOCK_STRIDE {
            self.idle_runs += 1;
            return false;
        }
        self.idle_runs = 0;
        now_ms() - self.written_all_at >= self.write_every
    }

    /// A device awaits a boot only while one of its sequences has an image staged and was
    /// told to reload: the extractors cannot know that, the machine does.
    fn settle_awaiting(&mut self, device: &str, time: Millis) {
        if !self.awaiting.is_empty() && self.correlator.awaited_boot(device).is_none() {
            self.awaiting.settle(device, time);
        }
    }

    /// Forgets, once a minute of event time, devices whose reload is older than any sequence
    /// waits: they never came back (or their machine is elsewhere), and an entry left behind
    /// would keep the noise path reading headers.
    fn expire_awaiting(&mut self, watermark: Millis) {
        if self.awaiting.is_empty() || watermark < self.next_expiry {
            return;
        }
        self.next_expiry = watermark.saturating_add(crate::time::MINUTE);
        let wait = self.correlator.longest_wait();
        self.awaiting
            .expire(watermark.saturating_sub(wait.saturating_add(super::awaiting::BOOT_SILENCE)));
    }

    fn fire_timers(&mut self, now: Millis, out: &mut Vec<Alert>) -> Result<(), StateError> {
        // An evicted machine comes back from the store when its deadline fires.
        while let Some(device) = self.correlator.next_due(now).map(str::to_string) {
            self.load(&device)?;
            let Some(device) = self.correlator.fire_next(now, &mut self.findings) else {
                break;
            };
            self.settle_awaiting(&device, now);
            self.emit(out)?;
            self.write_back.machine_changed(&device);
        }
        Ok(())
    }

    // Residency: which machines are in memory. The correlator keeps the least recently used
    // order; the engine brings machines back from the store and lets stored ones go.

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

    /// Drops idle machines over the limit. Only stored machines go: one with a signal in the
    /// reorder buffer (its fingerprint taken, not yet written) stays until it is processed.
    fn evict(&mut self) -> Result<(), StateError> {
        self.stats.evidence_dropped = self.correlator.stats.evidence_dropped;
        self.stats.evicted += self.correlator.evict() as u64;
        Ok(())
    }

    /// Writes the changed machines with their deadlines (they may be evicted from then on),
    /// every one when `all`, else those that raised an alert; then drops the reorder-buffer
    /// entries the written ones processed.
    fn write_back(&mut self, all: bool) -> Result<(), StateError> {
        if all {
            self.written_all_at = now_ms();
        }
        while let Some(device) = self.write_back.next_machine(all) {
            if let Some(machine) = self.correlator.device(device) {
                let awaited =
                    machine
                        .awaited_boot(self.correlator.rules())
                        .map(|reload| AwaitedBoot {
                            reload,
                            vendor: machine.vendor.clone().unwrap_or_default(),
                        });
                self.store.put_device_with_deadlines(
                    machine,
                    self.correlator.deadlines(device),
                    awaited,
                )?;
                // The changelog gets the machine when the store does, not before.
                if let Some(hook) = &mut self.on_machine {
                    hook(machine)?;
                }
                self.correlator.stored(device);
                self.changed = true;
            }
            let device = device.to_string();
            for (t, seq) in self.write_back.machine_written(&device) {
                self.store.remove_buffered(t, seq)?;
            }
        }
        for (t, seq) in self.write_back.take_settled() {
            self.store.remove_buffered(t, seq)?;
        }
        Ok(())
    }

    /// Runs findings through the calendar, stores and returns the alerts; a change the
    /// calendar authorised becomes its device's baseline.
    fn emit(&mut self, out: &mut Vec<Alert>) -> Result<(), StateError> {
        for finding in std::mem::take(&mut self.findings) {
            self.stats.findings += 1;
            let judgement = suppress::decide(&self.calendar, &finding);
            let mut alert = judgement.alert;
            // The wall clock, not event time: when the record was produced, for a SIEM's
            // detection latency. Ids and revisions stay what the input determines.
            alert.emitted_at = Some(format_rfc3339(now_ms()));
            self.store.put_alert(&alert)?;
            if let Some(hook) = &mut self.on_alert {
                hook(&alert)?;
            }
            // Its machine is written in this run: once the sinks have the alert, a restart
            // must not raise it again from buffered signals.
            self.write_back.alert_raised(&finding.device);
            if alert.suppressed {
                self.stats.suppressed += 1;
            }
            if let Some(baseline) = judgement.authorised_baseline {
                self.load(&finding.device)?;
                self.correlator.authorise(
                    &finding.device,
                    baseline.version.as_deref(),
                    baseline.image.as_deref(),
                    baseline.at,
                );
                self.write_back.machine_changed(&finding.device);
            }
            if alert.escalated_by.is_some() {
                self.stats.escalated += 1;
            }
            self.stats.alerts += 1;
            out.push(alert);
        }
        Ok(())
    }

    /// End of a replay's input: every buffered signal is processed (in event-time order, with
    /// the timers due before each), the clock is saved and the store flushed.
    pub fn finish(&mut self, out: &mut Vec<Alert>) -> Result<(), StateError> {
        if let Some(last) = self.reorder.last_time() {
            self.run(Some(last), out)?;
        }
        self.write_all()?;
        self.checkpoint()?;
        self.store.flush()
    }

    /// Writes every changed machine now (before a shutdown, or for a reader of the store that
    /// must see what was processed).
    pub fn write_all(&mut self) -> Result<(), StateError> {
        self.write_back(true)?;
        self.evict()
    }

    /// Machines changed and not written yet.
    pub fn unwritten(&self) -> usize {
        self.write_back.pending()
    }

    /// Saves the clock (periodically, and at shutdown).
    pub fn checkpoint(&mut self) -> Result<(), StateError> {
        self.store.put_clock(self.reorder.clock())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{SignalFields, SignalKind};
    use crate::correlate::Limits;
    use crate::time::{HOUR, MINUTE};

    const T0: Millis = 1_780_000_000_000;

    fn rules() -> Arc<SequenceRules> {
        Arc::new(
            crate::config::RuleSource::Builtin
                .sequences()
                .expect("shipped rules load"),
        )
    }

    fn calendar() -> Arc<ChangeCalendar> {
        let yaml = "allowlist: {servers: [10.10.0.5]}\n";
        Arc::new(ChangeCalendar::from_yaml(yaml, "changes.yaml").unwrap())
    }

    fn engine(store: StateStore, max_devices: usize) -> Engine {
        let mut e = Engine::new(rules(), calendar(), store, MINUTE, &|_| true).unwrap();
        e.set_limits(Limits {
            max_devices,
            ..Limits::default()
        });
        e
    }

    fn sig(device: &str, kind: SignalKind, t: Millis, fields: SignalFields) -> Signal {
        Signal {
            device: device.into(),
            time: t,
            received: Some(t + 300),
            time_source: Default::default(),
            time_reason: Default::default(),
            kind,
            rule_id: format!("test.{kind}"),
            vendor: "cisco_ios".into(),
            sender: None,
            fields,
            fingerprint: t as u64 ^ device.len() as u64,
            message: format!("{device}: {kind} at {t}"),
            origin: Default::default(),
        }
    }

    fn image(name: &str, server: &str) -> SignalFields {
        SignalFields {
            image: Some(name.into()),
            server: Some(server.into()),
            ..Default::default()
        }
    }

    fn version(v: &str) -> SignalFields {
        SignalFields {
            version: Some(v.into()),
            ..Default::default()
        }
    }

    fn feed(e: &mut Engine, signals: Vec<Signal>, out: &mut Vec<Alert>) {
        for s in signals {
            e.observe(s.time);
            e.accept(s).unwrap();
            e.advance(out).unwrap();
        }
    }

    /// Twelve devices learn a baseline; one swaps its image, one stages an image nobody
    /// reboots into (a timeout a day later), one boots another version, others chatter.
    fn fleet() -> Vec<Signal> {
        let mut v = Vec::new();
        for i in 0..12 {
            v.push(sig(
                &format!("rtr-{i:02}"),
                SignalKind::Boot,
                T0 + i * MINUTE,
                version("15.7(3)M8"),
            ));
        }
        let mut t = T0 + HOUR;
        let mut step = |dev: &str, kind, fields| {
            t += 5 * MINUTE;
            sig(dev, kind, t, fields)
        };
        let bad = || image("x.bin", "203.0.113.45");
        v.push(step("rtr-03", SignalKind::Transfer, bad()));
        v.push(step(
            "rtr-05",
            SignalKind::Transfer,
            image("y.bin", "10.10.0.5"),
        ));
        for i in 0..12 {
            v.push(step(
                &format!("rtr-{i:02}"),
                SignalKind::ConfigSave,
                Default::default(),
            ));
        }
        v.push(step("rtr-03", SignalKind::BootVar, bad()));
        v.push(step(
            "rtr-05",
            SignalKind::BootVar,
            image("y.bin", "10.10.0.5"),
        ));
        for i in 0..12 {
            v.push(step(
                &format!("rtr-{i:02}"),
                SignalKind::ConfigSave,
                Default::default(),
            ));
        }
        v.push(step("rtr-03", SignalKind::Reload, Default::default()));
        v.push(step("rtr-03", SignalKind::Boot, version("15.7(3)M9")));
        v.push(step("rtr-08", SignalKind::Boot, version("15.2(4)M1")));
        // A day and more later: rtr-05's staged image has timed out.
        let late = t + 25 * HOUR;
        for i in 0..12 {
            v.push(sig(
                &format!("rtr-{i:02}"),
                SignalKind::ConfigSave,
                late + i * MINUTE,
                Default::default(),
            ));
        }
        v
    }

    fn run(max_devices: usize) -> (Vec<Alert>, EngineStats) {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(StateStore::open(dir.path()).unwrap(), max_devices);
        let mut out = Vec::new();
        feed(&mut e, fleet(), &mut out);
        e.finish(&mut out).unwrap();
        assert!(e.correlator().in_memory() <= max_devices.max(1) + 1);
        for a in &mut out {
            assert!(a.emitted_at.is_some(), "every alert is stamped");
            // The wall clock of this run: the one field two runs need not share.
            a.emitted_at = None;
        }
        (out, e.stats.clone())
    }

    /// Bytes of a machine's evidence lines as JSON: what the old layout rewrote on every write.
    fn evidence_bytes(m: &crate::correlate::DeviceMachine) -> usize {
        m.evidence_owners()
            .flat_map(|(_, lines, _)| lines)
            .map(|e| serde_json::to_vec(e).unwrap().len())
            .sum()
    }

    /// One busy device (thirty images staged again and again, each instance at its evidence
    /// cap): what a batch writes for it stays the size of what the batch changed, not of the
    /// machine's whole evidence, and the machine record stays small while the evidence grows.
    #[test]
    fn a_busy_machine_write_costs_what_changed_not_its_whole_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(StateStore::open(dir.path()).unwrap(), 1000);
        let mut out = Vec::new();
        let mut per_batch = Vec::new();
        for b in 0..150 {
            let before = e.store().machine_bytes_written();
            for k in 0..20 {
                let i = b * 20 + k;
                let s = sig(
                    "rtr-busy",
                    SignalKind::BootVar,
                    T0 + i * 100,
                    image(&format!("img{}.bin", i % 30), "10.10.0.5"),
                );
                e.observe(s.time);
                e.accept(s).unwrap();
            }
            e.advance(&mut out).unwrap();
            per_batch.push(e.store().machine_bytes_written() - before);
        }
        let machine = e.correlator().device("rtr-busy").unwrap();
        let held = evidence_bytes(machine);
        assert_eq!(machine.instances.len(), 30);
        assert!(
            machine.instances.iter().all(|i| i.evidence.len() == 64),
            "every instance at its cap"
        );
        assert!(held > 256 * 1024, "{held} bytes of evidence held");
        let record = e.store().tree("devices").unwrap().get("rtr-busy").unwrap();
        let record = record.unwrap().len();
        assert!(record < 32 * 1024, "machine record of {record} bytes");
        // The last batches: the machine at its largest, twenty lines each.
        let worst = *per_batch[100..].iter().max().unwrap();
        assert!(
            worst < 64 * 1024 && worst * 8 < held as u64,
            "a batch wrote {worst} bytes for {held} bytes of evidence held"
        );
    }

    /// A machine's changelog record (Kafka mode) carries its evidence lines, though the store
    /// keeps them apart: read back into an empty store, the machine has every line.
    #[test]
    fn a_changelog_record_carries_the_evidence_into_an_empty_store() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(StateStore::open(dir.path()).unwrap(), 1000);
        let mut out = Vec::new();
        let staged: Vec<Signal> = (0..6)
            .map(|i| {
                sig(
                    &format!("rtr-{}", i % 2),
                    SignalKind::BootVar,
                    T0 + i * MINUTE,
                    image(&format!("img{i}.bin"), "10.10.0.5"),
                )
            })
            .collect();
        feed(&mut e, staged, &mut out);
        let mut machines: Vec<_> = e.correlator().devices().cloned().collect();
        machines.retain(|m| m.evidence_owners().any(|(_, lines, _)| !lines.is_empty()));
        assert!(!machines.is_empty(), "the fleet leaves evidence in flight");
        let empty = tempfile::tempdir().unwrap();
        let fresh = StateStore::open(empty.path()).unwrap();
        for m in &machines {
            let record = StateStore::encode_machine(m);
            let back = StateStore::decode_machine(m.device.as_bytes(), &record).unwrap();
            fresh.put_device_with_deadlines(&back, &[], None).unwrap();
            let stored = fresh.device(&m.device).unwrap().expect("stored");
            let lines = |m: &crate::correlate::DeviceMachine| -> Vec<_> {
                m.evidence_owners()
                    .map(|(o, l, _)| (o, l.to_vec()))
                    .collect()
            };
            assert_eq!(lines(&stored), lines(m), "{}", m.device);
        }
    }

    /// Over `max_devices`, a write interval must not hold machines in memory: only written
    /// machines can be evicted, so everything is written then, and memory stays bounded.
    #[test]
    fn machines_over_the_device_limit_are_written_so_that_they_can_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        let mut e = engine(store.clone(), 10);
        e.set_write_every(HOUR);
        let mut out = Vec::new();
        let staged = (0..60)
            .map(|i| {
                let device = format!("rtr-{i:02}");
                sig(
                    &device,
                    SignalKind::BootVar,
                    T0 + i * 1000,
                    image("a.bin", "10.10.0.5"),
                )
            })
            .collect();
        feed(&mut e, staged, &mut out);
        e.observe(T0 + 10 * MINUTE);
        e.advance(&mut out).unwrap();
        assert!(e.stats.evicted >= 40, "evicted {}", e.stats.evicted);
        assert!(e.unwritten() <= 10, "{} unwritten", e.unwritten());
        assert!(
            store.device("rtr-00").unwrap().is_some(),
            "written before it went"
        );
    }

    /// A busy device's machine is rewritten whole (pending sequences, recent signals, duplicate
    /// memory): with a write interval it is written once per interval, not once per run, while
    /// a machine that raises an alert is written in that run. What was processed and not
    /// written stays in the stored reorder buffer: a restart replays it into the same machine,
    /// and raises no alert a second time.
    #[test]
    fn a_busy_machine_is_written_once_per_interval_and_at_once_when_it_raises_an_alert() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        let mut e = engine(store.clone(), 1000);
        e.set_write_every(HOUR);
        let mut out = Vec::new();
        let staged = |i: i64| {
            sig(
                "rtr-busy",
                SignalKind::BootVar,
                T0 + i * 1000,
                image(&format!("img{}.bin", i % 5), "10.10.0.5"),
            )
        };
        // Every signal its own run, its machine changed by each.
        feed(&mut e, (0..200).map(staged).collect(), &mut out);
        assert!(out.is_empty(), "{out:#?}");
        assert_eq!(
            e.store().machine_bytes_written(),
            0,
            "no machine written within the interval"
        );
        assert_eq!(e.unwritten(), 1);
        let processed = 200 - e.reorder.len();
        assert!(processed > 100, "{processed} processed");
        assert_eq!(
            store.tree("buffer").unwrap().len(),
            200,
            "processed entries stay until their machine is written"
        );
        // A swap from a server off the allowlist: its alert's machine is written at once.
        let bad = || image("x.bin", "203.0.113.45");
        let t = T0 + 300_000;
        let swap = vec![
            sig("rtr-03", SignalKind::Transfer, t, bad()),
            sig("rtr-03", SignalKind::BootVar, t + 1000, bad()),
            sig("rtr-03", SignalKind::Reload, t + 2000, Default::default()),
            sig("rtr-03", SignalKind::Boot, t + 3000, version("15.7(3)M9")),
        ];
        feed(&mut e, swap, &mut out);
        e.observe(t + 2 * MINUTE);
        e.advance(&mut out).unwrap();
        assert_eq!(out.len(), 1, "{out:#?}");
        let written = store
            .device("rtr-03")
            .unwrap()
            .expect("written with its alert");
        assert!(written.instances.iter().any(|i| i.emitted.is_some()));
        assert!(store.device("rtr-busy").unwrap().is_none(), "still waiting");
        let in_memory = e.correlator().device("rtr-busy").unwrap().clone();

        // A restart before the interval ends: the buffer replays rtr-busy's signals.
        drop(e);
        let mut e = engine(store.clone(), 1000);
        e.set_write_every(HOUR);
        let mut again = Vec::new();
        e.observe(t + 2 * MINUTE);
        e.advance(&mut again).unwrap();
        assert!(again.is_empty(), "no alert raised twice: {again:#?}");
        let mut replayed = e.correlator().device("rtr-busy").unwrap().clone();
        replayed.stored_owners = in_memory.stored_owners.clone();
        assert_eq!(replayed, in_memory);
        e.write_all().unwrap();
        assert_eq!(e.unwritten(), 0);
        assert_eq!(store.tree("buffer").unwrap().len(), 0);
        let stored = store.device("rtr-busy").unwrap().expect("written");
        let steps = |m: &crate::correlate::DeviceMachine| -> Vec<_> {
            m.instances
                .iter()
                .map(|i| (i.no, i.step_times.clone(), i.evidence.clone()))
                .collect()
        };
        assert_eq!(steps(&stored), steps(&in_memory));
    }

    /// A run that processed nothing reads the clock for the write interval only every
    /// [`CLOCK_STRIDE`] runs: a machine whose interval is over is written by the run that reads
    /// it, not by every idle run (a replay's noise lines).
    #[test]
    fn idle_runs_read_the_clock_for_the_write_interval_only_now_and_then() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        let mut e = engine(store.clone(), 1000);
        e.set_write_every(HOUR);
        let mut out = Vec::new();
        let s = sig(
            "rtr-a",
            SignalKind::BootVar,
            T0,
            image("a.bin", "10.10.0.5"),
        );
        feed(&mut e, vec![s], &mut out);
        // This run processes the signal and reads the clock: the hour is not over.
        e.observe(T0 + 2 * MINUTE);
        e.advance(&mut out).unwrap();
        assert_eq!(e.unwritten(), 1);
        e.set_write_every(1);
        std::thread::sleep(std::time::Duration::from_millis(5));
        for run in 1..CLOCK_STRIDE {
            e.advance(&mut out).unwrap();
            assert_eq!(e.unwritten(), 1, "idle run {run}");
        }
        assert!(store.device("rtr-a").unwrap().is_none());
        e.advance(&mut out).unwrap();
        assert_eq!(e.unwritten(), 0, "the run that reads the clock writes it");
        assert!(store.device("rtr-a").unwrap().is_some());
        // A run that processes a signal reads the clock whatever the count.
        e.set_write_every(HOUR);
        feed(
            &mut e,
            vec![sig(
                "rtr-a",
                SignalKind::ConfigSave,
                T0 + 3 * MINUTE,
                Default::default(),
            )],
            &mut out,
        );
        e.observe(T0 + 5 * MINUTE);
        e.advance(&mut out).unwrap();
        assert_eq!(e.unwritten(), 1);
        e.set_write_every(1);
        std::thread::sleep(std::time::Duration::from_millis(5));
        feed(
            &mut e,
            vec![sig(
                "rtr-b",
                SignalKind::ConfigSave,
                T0 + 5 * MINUTE,
                Default::default(),
            )],
            &mut out,
        );
        e.observe(T0 + 7 * MINUTE);
        e.advance(&mut out).unwrap();
        assert_eq!(e.unwritten(), 0);
    }

    /// Evidence lines live apart from the machine record: after a restart each stored machine
    /// is the one that was in memory (lines kept, lines dropped at the cap gone, lines of
    /// dropped instances gone, the flood's lines kept), with no line left over in the store;
    /// and so again after more signals on the restarted engine.
    #[test]
    fn evidence_survives_a_restart_apart_from_its_machine() {
        let dir = tempfile::tempdir().unwrap();
        let small = Limits {
            max_devices: 1000,
            max_evidence: 4,
            max_pending: 3,
        };
        let staged = |dev: &str, n: i64, i: i64| {
            sig(
                dev,
                SignalKind::BootVar,
                T0 + i * MINUTE,
                image(&format!("img{n}.bin"), "10.10.0.5"),
            )
        };
        let lines_in_store = |store: &StateStore| store.tree("evidence").unwrap().len();
        let check = |store: StateStore, memory: Vec<crate::correlate::DeviceMachine>| {
            drop(store);
            let store = StateStore::open(dir.path()).unwrap();
            for m in &memory {
                let stored = store.device(&m.device).unwrap().expect("stored");
                assert_eq!(&stored, m, "{} as stored", m.device);
            }
            let lines: usize = store
                .devices()
                .unwrap()
                .iter()
                .flat_map(|m| m.evidence_owners().map(|(_, l, _)| l.len()))
                .sum();
            assert_eq!(lines_in_store(&store), lines, "no line left over");
            store
        };
        let memory = |e: &Engine| {
            let mut v: Vec<_> = e.correlator().devices().cloned().collect();
            v.sort_by(|a, b| a.device.cmp(&b.device));
            v
        };
        let store = {
            let mut e = engine(StateStore::open(dir.path()).unwrap(), 1000);
            e.set_limits(small);
            let mut out = Vec::new();
            // rtr-a: three images staged eight times each (lines dropped at the cap), then two
            // more images (instances dropped at max_pending: a flood with lines of its own).
            let a = (0..26).map(|i| staged("rtr-a", if i < 24 { i % 3 } else { i - 21 }, i));
            let a = a.collect();
            feed(&mut e, a, &mut out);
            // rtr-b: a whole swap, whose instance lingers completed.
            feed(
                &mut e,
                vec![
                    staged("rtr-b", 9, 40),
                    sig(
                        "rtr-b",
                        SignalKind::Reload,
                        T0 + 41 * MINUTE,
                        Default::default(),
                    ),
                    sig(
                        "rtr-b",
                        SignalKind::Boot,
                        T0 + 45 * MINUTE,
                        version("15.9(3)M2"),
                    ),
                ],
                &mut out,
            );
            e.finish(&mut out).unwrap();
            let m = memory(&e);
            let a = &m[0];
            assert!(a.flood.as_ref().is_some_and(|f| !f.evidence.is_empty()));
            assert!(a.instances.iter().any(|i| i.evidence.len() == 4), "{a:?}");
            assert_eq!(a.instances.len(), 3);
            assert!(m[1].instances.iter().any(|i| i.completed.is_some()));
            let store = e.store().clone();
            drop(e);
            check(store, m)
        };
        // Restarted: more lines for rtr-a (drops among lines read back from the store), then
        // a day later every instance of rtr-a has timed out and its lines are gone.
        let mut e = engine(store, 1000);
        e.set_limits(small);
        let mut out = Vec::new();
        let more = (50..60).map(|i| staged("rtr-a", i % 7, i)).collect();
        feed(&mut e, more, &mut out);
        e.finish(&mut out).unwrap();
        let m = memory(&e);
        let store = e.store().clone();
        drop(e);
        let store = check(store, m);
        let mut e = engine(store, 1000);
        e.set_limits(small);
        let mut out = Vec::new();
        feed(
            &mut e,
            vec![sig(
                "rtr-c",
                SignalKind::ConfigSave,
                T0 + 50 * HOUR,
                Default::default(),
            )],
            &mut out,
        );
        e.observe(T0 + 52 * HOUR);
        e.advance(&mut out).unwrap();
        e.finish(&mut out).unwrap();
        let a = e.store().device("rtr-a").unwrap().unwrap();
        assert!(a.instances.is_empty() && a.flood.is_none(), "{a:?}");
        let m = memory(&e);
        let store = e.store().clone();
        drop(e);
        check(store, m);
    }

    #[test]
    fn eviction_and_reload_give_the_same_alerts_as_no_limit() {
        let (unlimited, stats) = run(1000);
        assert_eq!(stats.evicted, 0);
        let rules: Vec<&str> = unlimited.iter().map(|a| a.rule_id.as_str()).collect();
        assert!(rules.contains(&"t1601.image_replaced"), "{rules:?}");
        assert!(rules.contains(&"t1601.image_staged"), "{rules:?}");
        assert!(rules.contains(&"t1601.version_changed"), "{rules:?}");
        let (limited, stats) = run(2);
        assert!(stats.evicted > 20 && stats.loaded > 20, "{stats:?}");
        let json = |a: &[Alert]| serde_json::to_string_pretty(a).unwrap();
        assert_eq!(json(&limited), json(&unlimited));
    }

    /// The hook sees each alert before the machine that raised it is written: at that moment
    /// the stored machine (if any) has not recorded this revision as emitted.
    #[test]
    fn alerts_reach_the_hook_before_their_machine_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        let mut e = engine(store.clone(), 1000);
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        e.set_alert_hook(Box::new(move |alert: &Alert| {
            let stored = store.device(&alert.device)?;
            let recorded = stored.iter().flat_map(|m| &m.instances).any(|i| {
                i.id == alert.id
                    && i.emitted
                        .as_ref()
                        .is_some_and(|x| x.revision >= alert.revision)
            });
            let entry = (alert.id.clone(), alert.revision, recorded, stored.is_some());
            log.lock().unwrap().push(entry);
            Ok(())
        }));
        let mut out = Vec::new();
        feed(&mut e, fleet(), &mut out);
        e.finish(&mut out).unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), out.len());
        assert!(out.len() >= 3, "{out:?}");
        assert!(seen.iter().all(|(_, _, recorded, _)| !recorded), "{seen:?}");
        // The check looked at something: the machines were stored (from earlier signals).
        assert!(
            seen.iter().filter(|(_, _, _, stored)| *stored).count() >= 3,
            "{seen:?}"
        );
    }

    /// A signal still in the reorder buffer at a crash is processed after the restart against
    /// the device's stored machine (its baseline and the reload before it), not a new one.
    #[test]
    fn a_buffered_signal_after_a_restart_meets_its_stored_machine() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut e = engine(StateStore::open(dir.path()).unwrap(), 1000);
            let mut out = Vec::new();
            feed(
                &mut e,
                vec![
                    sig("rtr-a", SignalKind::Boot, T0, version("15.7(3)M8")),
                    sig(
                        "rtr-a",
                        SignalKind::Reload,
                        T0 + HOUR,
                        SignalFields::default(),
                    ),
                    sig(
                        "rtr-a",
                        SignalKind::Boot,
                        T0 + HOUR + 2 * MINUTE,
                        version("15.9(3)M2"),
                    ),
                ],
                &mut out,
            );
            assert!(out.is_empty(), "{out:?}");
            assert_eq!(e.reorder.len(), 1, "the boot waits for the watermark");
            e.checkpoint().unwrap();
            e.store().flush().unwrap();
        }
        let mut e = engine(StateStore::open(dir.path()).unwrap(), 1000);
        let mut out = Vec::new();
        e.finish(&mut out).unwrap();
        let rules: Vec<&str> = out.iter().map(|a| a.rule_id.as_str()).collect();
        assert_eq!(rules, ["t1601.version_changed"], "{out:?}");
    }

    /// A device told to reload with an image staged is still awaited after a restart (the
    /// state says so beside its deadlines), and no longer once its boot is processed.
    #[test]
    fn a_device_awaiting_its_boot_is_still_awaited_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut e = engine(StateStore::open(dir.path()).unwrap(), 1000);
            let set = Arc::new(AwaitingBoot::default());
            e.set_awaiting(Arc::clone(&set));
            let staged = sig(
                "rtr-a",
                SignalKind::BootVar,
                T0,
                image("x.bin", "10.10.0.5"),
            );
            let reload = sig("rtr-a", SignalKind::Reload, T0 + MINUTE, Default::default());
            // A reload with nothing staged awaits nothing once the engine has seen it.
            let plain = sig("rtr-b", SignalKind::Reload, T0 + MINUTE, Default::default());
            set.reload("rtr-a", reload.time, "cisco_ios", None);
            set.reload("rtr-b", plain.time, "cisco_ios", None);
            let mut out = Vec::new();
            feed(&mut e, vec![staged, reload, plain], &mut out);
            e.finish(&mut out).unwrap();
            assert_eq!(set.len(), 1, "rtr-b settled");
        }
        let mut e = engine(StateStore::open(dir.path()).unwrap(), 1000);
        let set = Arc::new(AwaitingBoot::default());
        e.set_awaiting(Arc::clone(&set));
        assert_eq!(set.len(), 1);
        assert_eq!(e.correlator().in_memory(), 0, "no machine read to know it");
        let boot = set.line("rtr-a", T0 + 9 * MINUTE).expect("awaited");
        assert_eq!(boot.reload, T0 + MINUTE);
        let mut out = Vec::new();
        let mut back = sig(
            "rtr-a",
            SignalKind::Boot,
            T0 + 9 * MINUTE,
            Default::default(),
        );
        back.rule_id = crate::classify::RESUMED_BOOT_RULE.to_string();
        feed(&mut e, vec![back], &mut out);
        e.finish(&mut out).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].rule_id, "t1601.image_replaced");
        assert!(
            out[0].reason.contains("logging again after a silence"),
            "{}",
            out[0].reason
        );
        let (_, _, awaited) = e
            .store()
            .deadlines(&|_| true)
            .unwrap()
            .into_iter()
            .next()
            .unwrap();
        assert_eq!(awaited, None, "the lingering instance awaits nothing");
    }

    #[test]
    fn timer_of_an_evicted_device_fires() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(StateStore::open(dir.path()).unwrap(), 1);
        let mut out = Vec::new();
        let staged = |kind, t| sig("rtr-a", kind, t, image("x.bin", "10.10.0.5"));
        feed(
            &mut e,
            vec![
                staged(SignalKind::Transfer, T0),
                staged(SignalKind::BootVar, T0 + MINUTE),
            ],
            &mut out,
        );
        // Other devices push rtr-a out of memory; its deadline stays indexed.
        let others = (0..5)
            .map(|i| {
                let dev = format!("sw-{i}");
                sig(
                    &dev,
                    SignalKind::ConfigSave,
                    T0 + (10 + i) * MINUTE,
                    Default::default(),
                )
            })
            .collect();
        feed(&mut e, others, &mut out);
        assert!(!e.correlator().resident("rtr-a"), "evicted");
        assert_eq!(e.correlator().pending_devices(), 1);
        e.observe(T0 + 20 * HOUR);
        e.observe(T0 + 26 * HOUR);
        e.advance(&mut out).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].device, "rtr-a");
        assert_eq!(out[0].rule_id, "t1601.image_staged");
        assert_eq!(e.correlator().pending_devices(), 0);
        let stored = e.store().device("rtr-a").unwrap().unwrap();
        assert!(
            stored.instances.is_empty(),
            "the fired instance is gone from the store"
        );
    }

    #[test]
    fn machines_waiting_in_the_reorder_buffer_are_evicted_once_stored() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(StateStore::open(dir.path()).unwrap(), 2);
        let mut out = Vec::new();
        // Ten devices' signals all wait for the watermark: their machines cannot go yet.
        for i in 0..10 {
            let s = sig(
                &format!("sw-{i}"),
                SignalKind::ConfigSave,
                T0 + i,
                Default::default(),
            );
            e.observe(s.time);
            e.accept(s).unwrap();
            e.advance(&mut out).unwrap();
        }
        assert_eq!(e.correlator().in_memory(), 10);
        e.observe(T0 + 2 * MINUTE);
        e.advance(&mut out).unwrap();
        assert!(
            e.correlator().in_memory() <= 2,
            "{}",
            e.correlator().in_memory()
        );
        assert_eq!(e.stats.evicted, 8);
    }

    #[test]
    fn state_written_before_the_deadlines_tree_is_indexed_once() {
        // A machine with a pending instance, as an earlier version stored it: no deadlines.
        let staged = {
            let mut e = engine(StateStore::temporary().unwrap(), 10);
            let mut out = Vec::new();
            let s = sig(
                "rtr-a",
                SignalKind::BootVar,
                T0,
                image("x.bin", "10.10.0.5"),
            );
            feed(&mut e, vec![s], &mut out);
            e.finish(&mut out).unwrap();
            e.store().device("rtr-a").unwrap().unwrap()
        };
        assert_eq!(staged.instances.len(), 1);
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::open(dir.path()).unwrap();
        store.put_device(&staged).unwrap();
        assert!(!store.deadlines_indexed().unwrap());
        let e = engine(store, 10);
        assert_eq!(e.correlator().pending_devices(), 1);
        assert_eq!(e.correlator().in_memory(), 0);
        assert!(e.store().deadlines_indexed().unwrap());
    }

    #[test]
    fn duplicates_are_recognised_after_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = engine(StateStore::open(dir.path()).unwrap(), 1);
        let mut out = Vec::new();
        let line = sig("rtr-a", SignalKind::ConfigSave, T0, Default::default());
        feed(&mut e, vec![line.clone()], &mut out);
        let others = (0..3)
            .map(|i| {
                let dev = format!("sw-{i}");
                sig(
                    &dev,
                    SignalKind::ConfigSave,
                    T0 + (2 + i) * MINUTE,
                    Default::default(),
                )
            })
            .collect();
        feed(&mut e, others, &mut out);
        assert!(!e.correlator().resident("rtr-a"));
        feed(&mut e, vec![line], &mut out);
        assert_eq!(e.stats.duplicates, 1);
    }

    #[test]
    fn restart_loads_only_pending_devices_and_idle_ones_keep_their_baseline() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut e = engine(StateStore::open(dir.path()).unwrap(), 1000);
            let mut out = Vec::new();
            let mut v: Vec<Signal> = (0..50)
                .map(|i| {
                    let dev = format!("rtr-{i:02}");
                    sig(
                        &dev,
                        SignalKind::Boot,
                        T0 + i * MINUTE,
                        version("15.7(3)M8"),
                    )
                })
                .collect();
            v.push(sig(
                "rtr-07",
                SignalKind::BootVar,
                T0 + HOUR,
                image("x.bin", "10.10.0.5"),
            ));
            feed(&mut e, v, &mut out);
            e.finish(&mut out).unwrap();
            assert!(out.is_empty(), "{out:?}");
            assert_eq!(e.correlator().in_memory(), 50);
        }
        let mut e = engine(StateStore::open(dir.path()).unwrap(), 1000);
        assert_eq!(e.correlator().in_memory(), 0, "no machine read at start-up");
        assert_eq!(e.correlator().pending_devices(), 1, "rtr-07's deadline");
        let mut out = Vec::new();
        // An idle device boots another version: its stored baseline says what it was.
        feed(
            &mut e,
            vec![sig(
                "rtr-33",
                SignalKind::Boot,
                T0 + 2 * HOUR,
                version("15.7(3)M9"),
            )],
            &mut out,
        );
        e.observe(T0 + 3 * HOUR);
        e.advance(&mut out).unwrap();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].rule_id, "t1601.version_changed");
        assert_eq!(out[0].version_before.as_deref(), Some("15.7(3)M8"));
        assert_eq!(e.stats.loaded, 1);
        // rtr-07's staged image times out: its machine comes back when the deadline fires.
        e.observe(T0 + 26 * HOUR);
        e.advance(&mut out).unwrap();
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(
            (out[1].device.as_str(), out[1].rule_id.as_str()),
            ("rtr-07", "t1601.image_staged")
        );
        assert_eq!(e.stats.loaded, 2);
        assert_eq!(e.correlator().in_memory(), 2);
    }
}
