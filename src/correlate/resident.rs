//! Which device machines are in memory, and which go first when there are too many: the least
//! recently used among those stored since they last changed. Bookkeeping only; the engine
//! reads machines back from the store and writes them.

use std::collections::HashMap;

use super::machine::DeviceMachine;

/// A machine in memory, with when it was last used and whether it changed since it was
/// last stored.
struct Slot {
    machine: DeviceMachine,
    used: u64,
    dirty: bool,
}

#[derive(Default)]
pub struct Resident {
    slots: HashMap<String, Slot>,
    /// Use counter for least-recently-used eviction.
    clock: u64,
    /// Size below which [`Resident::evict`] does not look again (when machines it could
    /// not evict were still waiting to be stored).
    evict_again_at: usize,
    /// Machines stored since the last eviction attempt.
    stored_since: usize,
}

impl Resident {
    /// Puts back a machine read from the store (clean: it is what the store holds).
    pub fn restore(&mut self, machine: DeviceMachine) {
        self.clock += 1;
        let id = machine.device.clone();
        self.slots.insert(
            id,
            Slot {
                machine,
                used: self.clock,
                dirty: false,
            },
        );
    }

    pub fn contains(&self, id: &str) -> bool {
        self.slots.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn get(&self, id: &str) -> Option<&DeviceMachine> {
        self.slots.get(id).map(|s| &s.machine)
    }

    pub fn machines(&self) -> impl Iterator<Item = &DeviceMachine> {
        self.slots.values().map(|s| &s.machine)
    }

    pub fn ids(&self) -> Vec<String> {
        self.slots.keys().cloned().collect()
    }

    /// The machine of `id`, used now and changed; `new` makes it when none is in memory.
    pub fn changing(
        &mut self,
        id: &str,
        new: impl FnOnce() -> DeviceMachine,
    ) -> &mut DeviceMachine {
        self.clock += 1;
        let used = self.clock;
        // Look up before inserting: most calls find the machine, and need no key allocated.
        if !self.slots.contains_key(id) {
            let slot = Slot {
                machine: new(),
                used,
                dirty: true,
            };
            self.slots.insert(id.to_string(), slot);
        }
        let slot = self.slots.get_mut(id).expect("inserted above");
        slot.used = used;
        slot.dirty = true;
        &mut slot.machine
    }

    /// Runs `f` on the machine of `id`, if in memory, marking it used now; it counts as
    /// changed only when `f` says so.
    pub fn inspect(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut DeviceMachine) -> bool,
    ) -> Option<bool> {
        self.clock += 1;
        let slot = self.slots.get_mut(id)?;
        slot.used = self.clock;
        let changed = f(&mut slot.machine);
        slot.dirty |= changed;
        Some(changed)
    }

    /// The machine as stored: it may be evicted from now on.
    pub fn stored(&mut self, id: &str) {
        if let Some(slot) = self.slots.get_mut(id)
            && slot.dirty
        {
            slot.machine.mark_stored();
            slot.dirty = false;
            self.stored_since += 1;
        }
    }

    /// Over `max`, drops the least recently used clean machines (down to nine tenths of
    /// `max`, so that eviction runs in batches). Returns how many were evicted.
    pub fn evict(&mut self, max: usize) -> usize {
        if self.slots.len() <= max {
            return 0;
        }
        let target = max - max / 10;
        let needed = self.slots.len() - target;
        // After an attempt that found too few stored machines, look again once the map has
        // grown by a tenth of the limit or enough machines were stored since, not on every call.
        let batch = needed.min((max / 10).max(1));
        if self.slots.len() < self.evict_again_at && self.stored_since < batch {
            return 0;
        }
        self.stored_since = 0;
        let mut clean: Vec<(u64, &String)> = self
            .slots
            .iter()
            .filter(|(_, s)| !s.dirty)
            .map(|(id, s)| (s.used, id))
            .collect();
        // Machines with signals still in the reorder buffer stay.
        let n = needed.min(clean.len());
        self.evict_again_at = if n < needed {
            self.slots.len() - n + (max / 10).max(1)
        } else {
            0
        };
        if n == 0 {
            return 0;
        }
        if n < clean.len() {
            clean.select_nth_unstable(n - 1);
        }
        let victims: Vec<String> = clean[..n].iter().map(|(_, id)| (*id).clone()).collect();
        for id in &victims {
            self.slots.remove(id);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(id: &str) -> DeviceMachine {
        DeviceMachine::new(id, None, None)
    }

    #[test]
    fn only_stored_machines_go_least_recently_used_first() {
        let mut r = Resident::default();
        for id in ["a", "b", "c", "d"] {
            r.changing(id, || machine(id));
        }
        assert_eq!(r.evict(2), 0, "nothing stored yet: nothing may go");
        for id in ["a", "b", "c", "d"] {
            r.stored(id);
        }
        // `a` is used again: `b` and `c` are now the least recently used.
        assert_eq!(r.inspect("a", |_| false), Some(false));
        assert_eq!(r.evict(2), 2);
        let mut left = r.ids();
        left.sort();
        assert_eq!(left, ["a", "d"]);
    }

    #[test]
    fn a_machine_changed_after_it_was_stored_stays() {
        let mut r = Resident::default();
        r.restore(machine("a"));
        r.restore(machine("b"));
        assert_eq!(r.inspect("a", |_| true), Some(true));
        assert_eq!(r.inspect("zz", |_| true), None, "not in memory");
        assert_eq!(r.evict(1), 1);
        assert!(r.contains("a") && !r.contains("b"));
    }
}
