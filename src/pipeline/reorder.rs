//! The reorder buffer and the watermark: signals wait, ordered by (event time, arrival order),
//! until the watermark (latest time seen minus the allowed lateness) passes them. Pure: no I/O;
//! the engine stores the buffer and the clock where a restart must find them.

use std::collections::BTreeMap;

use crate::classify::Signal;
use crate::state::Clock;
use crate::time::{DAY, Millis};

/// Where a signal waits: its event time, then a number that keeps arrival order among signals
/// of one instant (the store's key, so a restart rebuilds the same order).
pub type Slot = (Millis, u64);

pub struct ReorderBuffer {
    /// How far behind the latest time a signal may arrive and still be put in order.
    lateness: Millis,
    /// Latest time seen and the last signal's event time: both survive a restart.
    clock: Clock,
    /// A time more than a day ahead, waiting for a second line to confirm it.
    jump: Option<Millis>,
    /// Signals waiting for the watermark, boxed: a B-tree shifts its values within a node on
    /// every insert and removal, and a signal is some 400 bytes.
    waiting: BTreeMap<Slot, Box<Signal>>,
}

impl ReorderBuffer {
    /// An empty buffer that carries on from `clock` (as stored at the last checkpoint).
    pub fn new(clock: Clock, lateness: Millis) -> ReorderBuffer {
        ReorderBuffer {
            lateness,
            clock,
            jump: None,
            waiting: BTreeMap::new(),
        }
    }

    pub fn set_lateness(&mut self, lateness: Millis) {
        self.lateness = lateness;
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

    /// Latest time seen minus the lateness: signals and deadlines before it are settled.
    pub fn watermark(&self) -> Option<Millis> {
        self.clock.max_time.map(|m| m - self.lateness)
    }

    /// True when a signal at `t` arrives after the watermark passed it (it is processed at
    /// once, out of order).
    pub fn is_late(&self, t: Millis) -> bool {
        self.watermark().is_some_and(|w| t < w)
    }

    /// Queues a newly accepted signal; it becomes the last event time seen.
    pub fn push(&mut self, seq: u64, signal: Signal) {
        self.clock.last_time = Some(signal.time);
        self.waiting.insert((signal.time, seq), Box::new(signal));
    }

    /// Puts back a signal that was waiting at the last restart (the clock already knows it).
    pub fn restore(&mut self, slot: Slot, signal: Signal) {
        self.waiting.insert(slot, Box::new(signal));
    }

    /// Event time of the first waiting signal, if it is at or before `limit`.
    pub fn next_until(&self, limit: Millis) -> Option<Millis> {
        self.waiting
            .first_key_value()
            .map(|(k, _)| k.0)
            .filter(|&t| t <= limit)
    }

    /// Takes the first waiting signal.
    pub fn pop(&mut self) -> Option<(Slot, Signal)> {
        self.waiting.pop_first().map(|(slot, s)| (slot, *s))
    }

    /// Event time of the last waiting signal (how far a replay's end must flush).
    pub fn last_time(&self) -> Option<Millis> {
        self.waiting.last_key_value().map(|(k, _)| k.0)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// What the store keeps across a restart.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{SignalFields, SignalKind};
    use crate::time::{HOUR, MINUTE};

    const T0: Millis = 1_780_000_000_000;

    fn sig(t: Millis, message: &str) -> Signal {
        Signal {
            device: "rtr-1".into(),
            time: t,
            received: None,
            time_source: Default::default(),
            time_reason: Default::default(),
            kind: SignalKind::ConfigSave,
            rule_id: "test".into(),
            vendor: "cisco_ios".into(),
            sender: None,
            fields: SignalFields::default(),
            fingerprint: 0,
            message: message.into(),
            origin: Default::default(),
        }
    }

    fn buffer() -> ReorderBuffer {
        ReorderBuffer::new(Clock::default(), MINUTE)
    }

    #[test]
    fn the_watermark_trails_the_latest_time_by_the_lateness() {
        let mut b = buffer();
        assert_eq!(b.watermark(), None, "nothing seen, nothing settled");
        b.observe(T0);
        b.observe(T0 - HOUR);
        assert_eq!(b.watermark(), Some(T0 - MINUTE), "time never goes back");
        assert!(b.is_late(T0 - 2 * MINUTE));
        assert!(!b.is_late(T0 - MINUTE));
    }

    #[test]
    fn signals_leave_in_event_time_then_arrival_order() {
        let mut b = buffer();
        b.push(7, sig(T0 + 2, "c"));
        b.push(5, sig(T0, "b"));
        b.push(3, sig(T0, "a"));
        assert_eq!(
            b.clock().last_time,
            Some(T0),
            "the last accepted, not the latest"
        );
        assert_eq!(b.last_time(), Some(T0 + 2));
        assert_eq!(b.next_until(T0 - 1), None, "nothing due before the first");
        let order: Vec<String> = std::iter::from_fn(|| b.pop().map(|(_, s)| s.message)).collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert!(b.is_empty());
    }

    #[test]
    fn a_jump_of_more_than_a_day_counts_only_once_confirmed() {
        let mut b = buffer();
        b.observe(T0);
        b.observe(T0 + 3 * DAY);
        assert_eq!(
            b.watermark(),
            Some(T0 - MINUTE),
            "one line alone does not move time"
        );
        b.observe(T0 + HOUR);
        assert_eq!(
            b.watermark(),
            Some(T0 + HOUR - MINUTE),
            "ordinary time still moves"
        );
        b.observe(T0 + 3 * DAY + MINUTE);
        assert_eq!(
            b.watermark(),
            Some(T0 + 3 * DAY),
            "a second line near the jump confirms it"
        );
    }

    #[test]
    fn a_restored_signal_leaves_the_last_event_time_alone() {
        let mut b = ReorderBuffer::new(
            Clock {
                max_time: Some(T0),
                last_time: Some(T0 - 5),
            },
            MINUTE,
        );
        b.restore((T0 - 10, 1), sig(T0 - 10, "a"));
        assert_eq!(b.clock().last_time, Some(T0 - 5));
        assert_eq!(b.len(), 1);
        assert_eq!(b.next_until(T0), Some(T0 - 10));
    }
}
