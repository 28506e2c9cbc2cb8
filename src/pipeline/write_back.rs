//! The order in which one engine run's changes reach the store: changed machines first (with
//! their deadlines), the reorder-buffer entries they processed after. Only the bookkeeping
//! lives here; the engine does the writes.

use std::collections::BTreeSet;

use super::reorder::Slot;

/// What the current run changed and has not written yet.
#[derive(Debug, Default)]
pub struct WriteBack {
    /// Devices whose machine changed in the current run: written once, at its end, however
    /// many of their signals it processed.
    unwritten: BTreeSet<String>,
    /// Reorder-buffer entries processed in the current run: removed from the store only
    /// after their machines are written, so a crash in between replays them instead of
    /// losing them (sled recovers a prefix of its writes).
    processed: Vec<Slot>,
}

impl WriteBack {
    /// Notes a device's machine as changed.
    pub fn machine_changed(&mut self, device: &str) {
        // Most signals are for a device already noted: no allocation then.
        if !self.unwritten.contains(device) {
            self.unwritten.insert(device.to_string());
        }
    }

    /// Notes a stored reorder-buffer entry as processed.
    pub fn signal_processed(&mut self, slot: Slot) {
        self.processed.push(slot);
    }

    /// The next changed machine to write, in device order; call [`WriteBack::machine_written`]
    /// once it is written.
    pub fn next_machine(&self) -> Option<&str> {
        self.unwritten.first().map(String::as_str)
    }

    pub fn machine_written(&mut self) {
        self.unwritten.pop_first();
    }

    /// The processed entries, to remove from the store once every machine is written.
    pub fn take_processed(&mut self) -> Vec<Slot> {
        debug_assert!(
            self.unwritten.is_empty(),
            "entries go only after the machines that processed them"
        );
        std::mem::take(&mut self.processed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_written_once_per_run_in_device_order() {
        let mut w = WriteBack::default();
        for d in ["rtr-b", "rtr-a", "rtr-b", "rtr-a"] {
            w.machine_changed(d);
        }
        w.signal_processed((10, 1));
        w.signal_processed((11, 2));
        let mut written = Vec::new();
        while let Some(d) = w.next_machine() {
            written.push(d.to_string());
            w.machine_written();
        }
        assert_eq!(written, ["rtr-a", "rtr-b"]);
        assert_eq!(w.take_processed(), [(10, 1), (11, 2)]);
        assert!(w.take_processed().is_empty());
    }
}
