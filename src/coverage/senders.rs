//! What the service has seen of each sender and device, for `GET /api/v1/coverage`: lines per
//! sender address counted by the listeners without parsing anything, and signal kinds per
//! device recorded by the workers.
//!
//! A listener counts into its own [`SenderTally`] (a run of lines from one sender is one
//! string compare and an add each) and hands the counts to the shared [`Sightings`] per batch
//! or once a second, so a noise line costs no lock and no header parse.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{DeviceCoverage, Sighting, report};
use crate::calendar::Inventory;
use crate::classify::SignalKind;
use crate::time::{Millis, SECOND};

/// How often a busy listener hands its counts over at least.
const FLUSH_EVERY: Millis = SECOND;

/// One sender address as seen by every listener together.
#[derive(Clone, Debug, Default)]
struct SenderSeen {
    lines: u64,
    last_seen: Millis,
    /// The device its signal lines named; None before any, or for a relay (several devices).
    device: Option<String>,
    relay: bool,
}

/// Shared by listeners and workers. `std::sync::Mutex`, not tokio's: each lock is a short
/// merge or copy that never spans an `.await`.
#[derive(Default)]
pub struct Sightings {
    senders: Mutex<HashMap<String, SenderSeen>>,
    devices: Mutex<BTreeMap<String, Sighting>>,
}

impl Sightings {
    /// A worker accepted a signal of `kind` for `device` (the engine side of the report).
    pub(crate) fn signal(&self, device: &str, kind: SignalKind, vendor: &str, version: bool) {
        let mut devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        match devices.get_mut(device) {
            Some(s) => s.signal(kind, vendor, version),
            None => devices
                .entry(device.to_owned())
                .or_default()
                .signal(kind, vendor, version),
        }
    }

    /// The report: every device a signal named, every sender (under the device its signals
    /// named, its inventory entry, or its address), every inventory device.
    pub(crate) fn report(&self, inventory: &Inventory) -> Vec<DeviceCoverage> {
        let mut seen = self
            .devices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let senders = self
            .senders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (addr, s) in senders {
            let device = match (&s.device, s.relay) {
                (Some(d), false) => d.clone(),
                _ => inventory.device_id(&addr),
            };
            let entry = seen.entry(device).or_default();
            entry.lines += s.lines;
            entry.seen_at(s.last_seen);
        }
        report(inventory, seen)
    }
}

/// One listener's counts since it last handed them over.
#[derive(Default)]
pub(crate) struct SenderTally {
    /// The sender of the current run of lines, and the run's count and last arrival.
    last: String,
    last_lines: u64,
    last_at: Millis,
    /// Other senders since the last hand-over.
    others: HashMap<String, (u64, Millis)>,
    /// (sender, device) for each signal line since the last hand-over.
    links: Vec<(String, String)>,
    flushed_at: Millis,
}

impl SenderTally {
    /// Counts one line from `sender` arriving at `at`; true when it is time to hand over.
    #[inline]
    pub(crate) fn count(&mut self, sender: &str, at: Millis) -> bool {
        if self.last != sender {
            self.spill();
            self.last.clear();
            self.last.push_str(sender);
        }
        self.last_lines += 1;
        self.last_at = at;
        at.saturating_sub(self.flushed_at) >= FLUSH_EVERY
    }

    /// A signal line from `sender` named `device` (signal lines only: rare).
    pub(crate) fn link(&mut self, sender: &str, device: &str) {
        if self
            .links
            .last()
            .is_none_or(|(s, d)| s != sender || d != device)
        {
            self.links.push((sender.to_owned(), device.to_owned()));
        }
    }

    fn spill(&mut self) {
        if self.last_lines == 0 {
            return;
        }
        let (n, at) = (self.last_lines, self.last_at);
        match self.others.get_mut(self.last.as_str()) {
            Some(e) => {
                e.0 += n;
                e.1 = e.1.max(at);
            }
            None => {
                self.others.insert(self.last.clone(), (n, at));
            }
        }
        self.last_lines = 0;
    }

    /// Hands the counts over to `book`; `at` is the current arrival time.
    pub(crate) fn flush(&mut self, book: &Sightings, at: Millis) {
        self.flushed_at = at;
        self.spill();
        if self.others.is_empty() && self.links.is_empty() {
            return;
        }
        let mut senders = book.senders.lock().unwrap_or_else(|p| p.into_inner());
        for (addr, (n, last)) in self.others.drain() {
            let s = senders.entry(addr).or_default();
            s.lines += n;
            s.last_seen = s.last_seen.max(last);
        }
        for (addr, device) in self.links.drain(..) {
            let s = senders.entry(addr).or_default();
            match &s.device {
                Some(d) if *d != device => s.relay = true,
                Some(_) => {}
                None => s.device = Some(device),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs from one sender, interleaved senders and links all reach the shared book, and a
    /// sender whose signals name two devices is kept apart as a relay.
    #[test]
    fn tallies_merge_per_sender_and_relays_stay_apart() {
        let book = Sightings::default();
        let mut t = SenderTally::default();
        for (sender, at) in [
            ("10.0.0.1", 1),
            ("10.0.0.1", 2),
            ("10.0.0.2", 3),
            ("10.0.0.1", 4),
        ] {
            t.count(sender, at);
        }
        t.link("10.0.0.1", "rtr-1");
        t.link("10.0.0.9", "a");
        t.link("10.0.0.9", "b");
        t.count("10.0.0.9", 5);
        t.flush(&book, 5);
        let rows = book.report(&Inventory::default());
        let lines: Vec<(&str, u64)> = rows.iter().map(|d| (d.device.as_str(), d.lines)).collect();
        assert_eq!(lines, [("10.0.0.2", 1), ("10.0.0.9", 1), ("rtr-1", 3)]);
        // Not due within a second of the last hand-over, due after it.
        assert!(!t.count("10.0.0.1", 5 + FLUSH_EVERY - 1));
        assert!(t.count("10.0.0.1", 5 + FLUSH_EVERY));
    }
}
