//! Correlate stage: per-device state machines over signals, driven by sequence rules and event
//! time. Synchronous and free of I/O, so that `replay`, `serve` and the tests share it exactly.

pub(crate) mod access;
pub(crate) mod finding;
pub(crate) mod machine;
pub(crate) mod resident;
pub(crate) mod sequence;
pub(crate) mod summary;
pub(crate) mod version;

use std::collections::{BTreeSet, HashMap};

use resident::Resident;
use std::sync::Arc;

pub use finding::{Evidence, Finding};
pub use machine::{
    Baseline, BaselineSource, DEFAULT_MAX_EVIDENCE, DEFAULT_MAX_PENDING, DeviceMachine,
    EVIDENCE_DROPPED_RULE,
};
pub use sequence::{SequenceRules, Severity};

use crate::calendar::{Allowlist, Inventory};
use crate::classify::Signal;
use crate::time::Millis;

/// Limits on what one correlator keeps in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most machines held in memory; past it the least recently used clean machines are
    /// evicted (their state is in the store) and reloaded when their device is seen again.
    pub max_devices: usize,
    /// Most evidence lines per sequence instance (see [`machine::DEFAULT_MAX_EVIDENCE`]).
    pub max_evidence: usize,
    /// Most sequence instances per device (see [`machine::DEFAULT_MAX_PENDING`]).
    pub max_pending: usize,
}

/// Default for [`Limits::max_devices`] (per process; split across the service's workers).
pub const DEFAULT_MAX_DEVICES: usize = 100_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_devices: DEFAULT_MAX_DEVICES,
            max_evidence: machine::DEFAULT_MAX_EVIDENCE,
            max_pending: machine::DEFAULT_MAX_PENDING,
        }
    }
}

/// What the correlator counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CorrelatorStats {
    pub evicted: u64,
    pub evidence_dropped: u64,
}

/// The machines of the devices in memory plus a timer index over every device (in memory or
/// not), so that a quiet device still gets its "staged, never rebooted" finding when the
/// watermark passes its deadline.
///
/// The correlator does no I/O: whoever drives it (the engine) loads a machine from the store
/// with [`Correlator::restore`] before it feeds a device that is not [`Correlator::resident`],
/// marks machines stored with [`Correlator::stored`], and calls [`Correlator::evict`] when
/// everything changed is stored. Only stored (clean) machines are evicted.
pub struct Correlator {
    rules: Arc<SequenceRules>,
    /// Where a new machine's vendor and baseline come from.
    inventory: Arc<Inventory>,
    /// Servers images may come from (a transfer from elsewhere escalates).
    allowlist: Arc<Allowlist>,
    limits: Limits,
    /// The machines in memory, in least-recently-used order.
    devices: Resident,
    /// (deadline, device, instance number): what must be looked at when time passes.
    timers: BTreeSet<(Millis, String, u64)>,
    /// The entries of `timers` by device, so that a device's entries can be replaced without
    /// its machine (which may be evicted, or loaded after a restart).
    timer_keys: HashMap<String, Vec<(Millis, u64)>>,
    pub stats: CorrelatorStats,
}

impl Correlator {
    pub fn new(
        rules: Arc<SequenceRules>,
        inventory: Arc<Inventory>,
        allowlist: Arc<Allowlist>,
    ) -> Self {
        Self::with_limits(rules, inventory, allowlist, Limits::default())
    }

    pub fn with_limits(
        rules: Arc<SequenceRules>,
        inventory: Arc<Inventory>,
        allowlist: Arc<Allowlist>,
        limits: Limits,
    ) -> Self {
        let mut c = Correlator {
            rules,
            inventory,
            allowlist,
            limits: Limits::default(),
            devices: Resident::default(),
            timers: BTreeSet::new(),
            timer_keys: HashMap::new(),
            stats: CorrelatorStats::default(),
        };
        c.set_limits(limits);
        c
    }

    /// Changes the limits; an engine applies them before it feeds anything.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = Limits {
            max_devices: limits.max_devices.max(1),
            max_evidence: limits.max_evidence.max(2),
            max_pending: limits.max_pending.max(1),
        };
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Swaps in reloaded rules, inventory or allowlist; machines and their instances are kept
    /// (instances of a rule that no longer exists are dropped when next looked at). Deadlines
    /// of machines in memory are recomputed; those of evicted machines when their timer fires
    /// and the machine is reloaded.
    pub fn reconfigure(
        &mut self,
        rules: Arc<SequenceRules>,
        inventory: Arc<Inventory>,
        allowlist: Arc<Allowlist>,
    ) {
        self.rules = rules;
        self.inventory = inventory;
        self.allowlist = allowlist;
        let ids = self.devices.ids();
        for id in ids {
            self.reindex(&id);
        }
    }

    pub fn rules(&self) -> &SequenceRules {
        &self.rules
    }

    /// Puts back a machine loaded from the state store (clean: it is what the store holds).
    pub fn restore(&mut self, machine: DeviceMachine) {
        let id = machine.device.clone();
        self.devices.restore(machine);
        self.reindex(&id);
    }

    /// Puts back the stored deadlines of a device whose machine stays in the store until one
    /// of them fires (start-up).
    pub fn restore_timers(&mut self, device: &str, deadlines: Vec<(Millis, u64)>) {
        if self.devices.contains(device) {
            return;
        }
        self.set_timers(device, deadlines);
    }

    /// True when the device's machine is in memory (or there is none anywhere yet: callers
    /// check the store first).
    pub fn resident(&self, id: &str) -> bool {
        self.devices.contains(id)
    }

    /// Machines in memory.
    pub fn in_memory(&self) -> usize {
        self.devices.len()
    }

    /// Devices with a pending deadline (in memory or not).
    pub fn pending_devices(&self) -> usize {
        self.timer_keys.len()
    }

    pub fn device(&self, id: &str) -> Option<&DeviceMachine> {
        self.devices.get(id)
    }

    pub fn devices(&self) -> impl Iterator<Item = &DeviceMachine> {
        self.devices.machines()
    }

    /// The deadlines the timer index holds for a device (what the store should hold too).
    pub fn deadlines(&self, id: &str) -> &[(Millis, u64)] {
        self.timer_keys.get(id).map_or(&[], Vec::as_slice)
    }

    /// The machine as stored: it may be evicted from now on.
    pub fn stored(&mut self, id: &str) {
        self.devices.stored(id);
    }

    /// Over the limit, drops the least recently used clean machines (down to nine tenths of
    /// the limit, so that eviction runs in batches); their timers stay indexed. Returns how
    /// many were evicted.
    /// More machines in memory than `max_devices`: eviction is due, and only machines
    /// written to the store can go.
    pub fn over_device_limit(&self) -> bool {
        self.devices.len() > self.limits.max_devices
    }

    pub fn evict(&mut self) -> usize {
        let n = self.devices.evict(self.limits.max_devices);
        self.stats.evicted += n as u64;
        n
    }

    fn machine(&mut self, id: &str) -> &mut DeviceMachine {
        let inventory = &self.inventory;
        self.devices.changing(id, || {
            let inv = inventory.get(id);
            let baseline = inv.and_then(|d| {
                (d.baseline_version.is_some() || d.baseline_image.is_some()).then(|| Baseline {
                    version: d.baseline_version.clone(),
                    image: d.baseline_image.clone(),
                    source: BaselineSource::Inventory,
                    since: None,
                })
            });
            let vendor = inv.and_then(|d| d.vendor.clone());
            DeviceMachine::new(id, vendor, baseline)
        })
    }

    /// True the first time a (time, fingerprint) pair is seen for a device: duplicate
    /// deliveries of one line (two relays, two collectors) must not change the result.
    pub fn first_delivery(&mut self, device: &str, time: Millis, fingerprint: u64) -> bool {
        if let Some(first) = self
            .devices
            .inspect(device, |m| m.first_delivery(time, fingerprint))
        {
            return first;
        }
        self.machine(device).first_delivery(time, fingerprint)
    }

    /// Feeds one signal (in event-time order per device).
    /// Returns whether the device's machine changed in a way the store must keep (see
    /// [`DeviceMachine::on_signal`]).
    pub fn on_signal(&mut self, sig: &Signal, out: &mut Vec<Finding>) -> bool {
        let rules = Arc::clone(&self.rules);
        let allowlist = Arc::clone(&self.allowlist);
        let mut ctx = machine::Context::new(&allowlist, self.limits.max_evidence);
        ctx.max_pending = self.limits.max_pending;
        let from = out.len();
        let machine = self.machine(&sig.device);
        let changed = machine.on_signal(&rules, &ctx, sig, out);
        known_vendor(machine, &mut out[from..]);
        self.stats.evidence_dropped += ctx.evidence_dropped.get();
        self.reindex(&sig.device);
        changed
    }

    /// The reload a device in memory waits to see the boot of, if any (see
    /// [`DeviceMachine::awaited_boot`]).
    pub fn awaited_boot(&self, id: &str) -> Option<Millis> {
        self.devices
            .get(id)
            .and_then(|m| m.awaited_boot(&self.rules))
    }

    /// The longest any step waits for the next: past it, nothing awaits a reloaded device.
    pub fn longest_wait(&self) -> Millis {
        self.rules
            .sequences
            .iter()
            .flat_map(|s| s.steps.iter().filter_map(|step| step.within))
            .max()
            .unwrap_or(crate::time::HOUR)
    }

    /// The earliest pending deadline, if any.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.timers.first().map(|t| t.0)
    }

    /// The device of the earliest deadline strictly before `now`: its machine must be in
    /// memory before [`Correlator::fire_next`].
    pub fn next_due(&self, now: Millis) -> Option<&str> {
        self.timers
            .first()
            .filter(|t| t.0 < now)
            .map(|t| t.1.as_str())
    }

    /// Fires the earliest deadline strictly before `now`; returns its device (whose state
    /// changed), or None when nothing is due. A device whose machine is not in memory (it was
    /// not in the store either) loses its timers.
    pub fn fire_next(&mut self, now: Millis, out: &mut Vec<Finding>) -> Option<String> {
        let (deadline, device, no) = self.timers.first().cloned().filter(|t| t.0 < now)?;
        if !self.devices.contains(&device) {
            self.set_timers(&device, Vec::new());
            return Some(device);
        }
        let rules = Arc::clone(&self.rules);
        let allowlist = Arc::clone(&self.allowlist);
        let mut ctx = machine::Context::new(&allowlist, self.limits.max_evidence);
        ctx.max_pending = self.limits.max_pending;
        // Fire exactly at the deadline's end so that later deadlines stay pending.
        let from = out.len();
        let machine = self.machine(&device);
        machine.on_time(&rules, &ctx, deadline + 1, out);
        known_vendor(machine, &mut out[from..]);
        // A deadline written under other rules may be gone now: never fire it twice.
        self.timers.remove(&(deadline, device.clone(), no));
        if let Some(keys) = self.timer_keys.get_mut(&device) {
            keys.retain(|&k| k != (deadline, no));
        }
        self.reindex(&device);
        Some(device)
    }

    /// Fires every deadline strictly before `now` of machines in memory; returns the devices
    /// whose state changed.
    pub fn on_time(&mut self, now: Millis, out: &mut Vec<Finding>) -> Vec<String> {
        let mut touched = Vec::new();
        while let Some(device) = self.fire_next(now, out) {
            if !touched.contains(&device) {
                touched.push(device);
            }
        }
        touched
    }

    /// A suppressed (authorised) change becomes the device's baseline.
    pub fn authorise(
        &mut self,
        device: &str,
        version: Option<&str>,
        image: Option<&str>,
        at: Millis,
    ) {
        self.machine(device).authorise(version, image, at);
    }

    /// Recomputes a machine's entries in the timer index.
    fn reindex(&mut self, device: &str) {
        let now = self
            .devices
            .get(device)
            .map(|m| m.deadlines(&self.rules))
            .unwrap_or_default();
        self.set_timers(device, now);
    }

    fn set_timers(&mut self, device: &str, mut deadlines: Vec<(Millis, u64)>) {
        deadlines.sort_unstable();
        let old = self.timer_keys.get(device);
        // Unchanged: most signals, and every routine one with no deadline at all. (An entry
        // emptied by a fired deadline must still go.)
        match old {
            None if deadlines.is_empty() => return,
            Some(old) if !deadlines.is_empty() && *old == deadlines => return,
            _ => {}
        }
        let old = old.map_or(&[][..], Vec::as_slice);
        for (t, no) in old {
            self.timers.remove(&(*t, device.to_string(), *no));
        }
        for (t, no) in &deadlines {
            self.timers.insert((*t, device.to_string(), *no));
        }
        if deadlines.is_empty() {
            self.timer_keys.remove(device);
        } else {
            self.timer_keys.insert(device.to_string(), deadlines);
        }
    }
}

/// The vendor the device is known by (inventory, or what its boot reported) wins over that of
/// the rules that recognised a finding's lines: a command recognised through another vendor's
/// carrier says less about the device.
fn known_vendor(machine: &DeviceMachine, findings: &mut [Finding]) {
    if let Some(v) = &machine.vendor {
        for f in findings {
            f.vendor = Some(v.clone());
        }
    }
}
