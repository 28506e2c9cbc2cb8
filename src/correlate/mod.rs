//! Correlate stage: per-device state machines over signals, driven by sequence rules and event
//! time. Synchronous and free of I/O, so that `replay`, `serve` and the tests share it exactly.

pub mod finding;
pub mod machine;
pub mod sequence;
pub mod version;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub use finding::{Evidence, Facts, Finding};
pub use machine::{Baseline, BaselineSource, DeviceMachine};
pub use sequence::{SequenceRules, Severity};

use crate::calendar::ChangeCalendar;
use crate::classify::Signal;
use crate::time::Millis;

/// Every device's machine plus a timer index, so that a quiet device still gets its
/// "staged, never rebooted" finding when the watermark passes its deadline.
pub struct Correlator {
    rules: Arc<SequenceRules>,
    calendar: Arc<ChangeCalendar>,
    devices: HashMap<String, DeviceMachine>,
    /// (deadline, device, instance number): what must be looked at when time passes.
    timers: BTreeSet<(Millis, String, u64)>,
}

impl Correlator {
    pub fn new(rules: Arc<SequenceRules>, calendar: Arc<ChangeCalendar>) -> Self {
        Correlator {
            rules,
            calendar,
            devices: HashMap::new(),
            timers: BTreeSet::new(),
        }
    }

    /// Swaps in reloaded rules or calendar; machines and their instances are kept (instances
    /// of a rule that no longer exists are dropped when next looked at).
    pub fn reconfigure(&mut self, rules: Arc<SequenceRules>, calendar: Arc<ChangeCalendar>) {
        self.rules = rules;
        self.calendar = calendar;
        let ids: Vec<String> = self.devices.keys().cloned().collect();
        self.timers.clear();
        for id in ids {
            self.reindex(&id, &[]);
        }
    }

    pub fn rules(&self) -> &SequenceRules {
        &self.rules
    }

    /// Puts back a machine loaded from the state store.
    pub fn restore(&mut self, machine: DeviceMachine) {
        let id = machine.device.clone();
        self.devices.insert(id.clone(), machine);
        self.reindex(&id, &[]);
    }

    pub fn device(&self, id: &str) -> Option<&DeviceMachine> {
        self.devices.get(id)
    }

    pub fn devices(&self) -> impl Iterator<Item = &DeviceMachine> {
        self.devices.values()
    }

    fn machine(&mut self, id: &str) -> &mut DeviceMachine {
        if !self.devices.contains_key(id) {
            let inv = self.calendar.inventory.get(id);
            let baseline = inv.and_then(|d| {
                (d.baseline_version.is_some() || d.baseline_image.is_some()).then(|| Baseline {
                    version: d.baseline_version.clone(),
                    image: d.baseline_image.clone(),
                    source: BaselineSource::Inventory,
                    since: None,
                })
            });
            let vendor = inv.and_then(|d| d.vendor.clone());
            self.devices
                .insert(id.to_string(), DeviceMachine::new(id, vendor, baseline));
        }
        self.devices.get_mut(id).expect("inserted above")
    }

    /// True the first time a (time, fingerprint) pair is seen for a device: duplicate
    /// deliveries of one line (two relays, two collectors) must not change the result.
    pub fn first_delivery(&mut self, device: &str, time: Millis, fingerprint: u64) -> bool {
        self.machine(device).first_delivery(time, fingerprint)
    }

    /// Feeds one signal (in event-time order per device).
    pub fn on_signal(&mut self, sig: &Signal, out: &mut Vec<Finding>) {
        let rules = Arc::clone(&self.rules);
        let calendar = Arc::clone(&self.calendar);
        let ctx = machine::Context {
            allowlist: &calendar.allowlist,
        };
        let before = self.deadlines_of(&sig.device);
        self.machine(&sig.device).on_signal(&rules, &ctx, sig, out);
        self.reindex(&sig.device, &before);
    }

    /// The earliest pending deadline, if any.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.timers.first().map(|t| t.0)
    }

    /// Fires every deadline strictly before `now`; returns the devices whose state changed.
    pub fn on_time(&mut self, now: Millis, out: &mut Vec<Finding>) -> Vec<String> {
        let mut touched = Vec::new();
        while let Some((deadline, device, _)) = self.timers.first().cloned() {
            if deadline >= now {
                break;
            }
            let rules = Arc::clone(&self.rules);
            let calendar = Arc::clone(&self.calendar);
            let ctx = machine::Context {
                allowlist: &calendar.allowlist,
            };
            let before = self.deadlines_of(&device);
            // Fire exactly at the deadline's end so that later deadlines stay pending.
            self.machine(&device)
                .on_time(&rules, &ctx, deadline + 1, out);
            self.reindex(&device, &before);
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

    fn deadlines_of(&self, device: &str) -> Vec<(Millis, u64)> {
        self.devices
            .get(device)
            .map(|d| d.deadlines(&self.rules))
            .unwrap_or_default()
    }

    fn reindex(&mut self, device: &str, before: &[(Millis, u64)]) {
        for (t, no) in before {
            self.timers.remove(&(*t, device.to_string(), *no));
        }
        for (t, no) in self.deadlines_of(device) {
            self.timers.insert((t, device.to_string(), no));
        }
    }
}
