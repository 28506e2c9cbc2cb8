//! The order in which the engine's changes reach the store: changed machines first (with
//! their deadlines), the reorder-buffer entries they processed after. A machine that raised
//! an alert is written in the run that raised it; the others may wait for the next write of
//! everything (see [`crate::pipeline::Engine::set_write_every`]), so that a busy device's
//! machine is written once per interval, not once per signal. Only the bookkeeping lives here;
//! the engine does the writes.

use std::collections::{BTreeMap, BTreeSet};

use super::reorder::Slot;

/// What the engine changed and has not written yet.
#[derive(Debug, Default)]
pub struct WriteBack {
    /// Devices whose machine changed since it was last written, with the reorder-buffer
    /// entries it processed since: an entry is removed from the store only after its machine
    /// is written, so a crash in between replays it instead of losing it (sled recovers a
    /// prefix of its writes).
    unwritten: BTreeMap<String, Vec<Slot>>,
    /// Devices that raised an alert since they were last written: written at the end of the
    /// run, so that no machine replays an alert its sinks already have.
    urgent: BTreeSet<String>,
    /// Entries whose signal changed nothing the store keeps, for a machine with nothing
    /// unwritten: removed at the end of the run, no machine write needed.
    settled: Vec<Slot>,
}

impl WriteBack {
    /// Notes a device's machine as changed.
    pub fn machine_changed(&mut self, device: &str) {
        // Most signals are for a device already noted: no allocation then.
        if !self.unwritten.contains_key(device) {
            self.unwritten.insert(device.to_string(), Vec::new());
        }
    }

    /// Notes a stored reorder-buffer entry as processed by `device`'s machine, which it
    /// `changed` (or not: see [`crate::correlate::Correlator::on_signal`]).
    pub fn signal_processed(&mut self, device: &str, slot: Slot, changed: bool) {
        if changed {
            self.machine_changed(device);
        }
        match self.unwritten.get_mut(device) {
            // Goes with the machine's earlier changes: a crash replays them in order.
            Some(slots) => slots.push(slot),
            None => self.settled.push(slot),
        }
    }

    /// Entries processed with nothing to write, to remove from the store now.
    pub fn take_settled(&mut self) -> Vec<Slot> {
        std::mem::take(&mut self.settled)
    }

    /// Notes that `device` raised an alert: its machine is written at the end of this run.
    pub fn alert_raised(&mut self, device: &str) {
        self.machine_changed(device);
        if !self.urgent.contains(device) {
            self.urgent.insert(device.to_string());
        }
    }

    /// The next machine to write, in device order: any changed one when `all`, else one that
    /// raised an alert. Call [`WriteBack::machine_written`] with it once it is written.
    pub fn next_machine(&self, all: bool) -> Option<&str> {
        if all {
            self.unwritten.keys().next().map(String::as_str)
        } else {
            self.urgent.first().map(String::as_str)
        }
    }

    /// The machine of `device` is written: returns the entries it processed, to remove from
    /// the store now.
    pub fn machine_written(&mut self, device: &str) -> Vec<Slot> {
        self.urgent.remove(device);
        self.unwritten.remove(device).unwrap_or_default()
    }

    /// Whether something must reach the store in this run even if not every changed machine
    /// is written: a machine that raised an alert, or an entry that changed nothing.
    pub fn due(&self) -> bool {
        !self.urgent.is_empty() || !self.settled.is_empty()
    }

    /// Machines waiting to be written.
    pub fn pending(&self) -> usize {
        self.unwritten.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(w: &mut WriteBack, all: bool) -> Vec<(String, Vec<Slot>)> {
        let mut written = Vec::new();
        while let Some(d) = w.next_machine(all).map(str::to_string) {
            let slots = w.machine_written(&d);
            written.push((d, slots));
        }
        written
    }

    #[test]
    fn a_device_is_written_once_in_device_order_with_the_entries_it_processed() {
        let mut w = WriteBack::default();
        for d in ["rtr-b", "rtr-a", "rtr-b", "rtr-a"] {
            w.machine_changed(d);
        }
        w.signal_processed("rtr-b", (10, 1), true);
        w.signal_processed("rtr-a", (11, 2), true);
        w.signal_processed("rtr-b", (12, 3), true);
        assert_eq!(
            write(&mut w, true),
            [
                ("rtr-a".to_string(), vec![(11, 2)]),
                ("rtr-b".to_string(), vec![(10, 1), (12, 3)])
            ]
        );
        assert!(write(&mut w, true).is_empty());
    }

    #[test]
    fn only_a_machine_that_raised_an_alert_must_be_written_at_once() {
        let mut w = WriteBack::default();
        w.signal_processed("rtr-quiet", (10, 1), true);
        w.signal_processed("rtr-alert", (11, 2), true);
        w.alert_raised("rtr-alert");
        assert_eq!(
            write(&mut w, false),
            [("rtr-alert".to_string(), vec![(11, 2)])]
        );
        assert_eq!(w.pending(), 1, "rtr-quiet waits");
        assert_eq!(
            write(&mut w, true),
            [("rtr-quiet".to_string(), vec![(10, 1)])]
        );
        assert_eq!(w.pending(), 0);
    }

    /// A signal that changed nothing the store keeps needs no machine write: its entry goes
    /// at once, unless its machine has unwritten changes it came after.
    #[test]
    fn an_entry_that_changed_nothing_goes_without_its_machine() {
        let mut w = WriteBack::default();
        w.signal_processed("rtr-routine", (10, 1), false);
        w.signal_processed("rtr-busy", (11, 2), true);
        w.signal_processed("rtr-busy", (12, 3), false);
        assert_eq!(w.take_settled(), [(10, 1)]);
        assert_eq!(w.pending(), 1, "rtr-routine has nothing to write");
        assert_eq!(
            write(&mut w, true),
            [("rtr-busy".to_string(), vec![(11, 2), (12, 3)])]
        );
        assert!(w.take_settled().is_empty());
    }
}
