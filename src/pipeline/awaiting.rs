//! Devices told to reload that have not come back yet. Many platforms log nothing that says
//! "booted" (no banner, no version), so the first line a device sends after going quiet is its
//! boot. Extractors see every line, noise included, and engines know which devices have an
//! image staged, so the set is shared between them (in the service, across threads: a
//! concurrent map). Almost always empty: a noise line only looks at it while it is not.

use std::sync::atomic::{AtomicUsize, Ordering};

use dashmap::DashMap;
use rustc_hash::FxBuildHasher;

use crate::time::{Millis, SECOND};

/// How long a device that was told to reload must send nothing before its next line counts
/// as its boot. Lines within this time of the reload (or of each other) are the device going
/// down; no platform this project reads (IOS, IOS-XE, NX-OS, ASA, Junos, EOS) reboots in less,
/// all take minutes, so a shorter gap cannot be a boot and a longer one is at worst a quiet
/// device whose staged image is already a finding of its own.
pub const BOOT_SILENCE: Millis = 30 * SECOND;

/// The key a sender (its UTF-8 bytes) is known by in [`AwaitingBoot`]: XXH3-64.
pub fn sender_key(sender: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(sender)
}

/// What is known about a device awaiting its boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Awaiting {
    /// Event time of the reload (or reload command) line.
    pub reload: Millis,
    /// Latest event time of a line from the device since.
    pub last: Millis,
    /// Vendor of the rule that recognised the reload, for the boot it stands for.
    pub vendor: String,
    /// The address the reload line came from (a collector's sender, a socket's peer), when
    /// known: the device's lines come from there, and lines from elsewhere need no look.
    pub sender: Option<String>,
}

/// The devices awaiting a boot, by canonical device id.
#[derive(Debug, Default)]
pub struct AwaitingBoot {
    devices: DashMap<String, Awaiting>,
    /// Entries in `devices`, so that the noise path reads one atomic instead of locking every
    /// shard of the map to learn that it is empty.
    len: AtomicUsize,
    /// The senders of awaited devices, with how many devices each stands for. A noise line
    /// from any other sender cannot be an awaited device's return, so its header is not read:
    /// in a fleet there is nearly always some device rebooting, and reading every noise
    /// line's header meanwhile cost a third more CPU per replayed line.
    /// Keyed by [`sender_key`], which the reading side computes while the line is in its
    /// cache: a noise line is then looked up without its bytes (two keys that collide only
    /// cost a header read, never a missed boot).
    senders: DashMap<u64, usize, FxBuildHasher>,
    /// Awaited devices whose sender is unknown (restored from the store, or read from a file
    /// with no sender): while there are any, every noise line is looked at.
    unknown: AtomicUsize,
}

impl AwaitingBoot {
    /// True when no device awaits a boot: the only check a noise line pays for then.
    pub fn is_empty(&self) -> bool {
        self.len.load(Ordering::Relaxed) == 0
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether a noise line from a sender with key `sender` (see [`sender_key`]) may be an
    /// awaited device's return, so worth reading its header: some device awaits a boot, and
    /// it is from a sender of one (or some awaited device's sender, or this line's, is
    /// unknown).
    pub fn may_be_awaited(&self, sender: Option<u64>) -> bool {
        !self.is_empty()
            && (self.unknown.load(Ordering::Relaxed) > 0
                || sender.is_none_or(|s| self.senders.contains_key(&s)))
    }

    /// A device was told to reload at `time`, by a line from `sender`.
    pub fn reload(&self, device: &str, time: Millis, vendor: &str, sender: Option<&str>) {
        let mut fresh = false;
        self.devices
            .entry(device.to_string())
            .and_modify(|a| {
                a.reload = a.reload.max(time);
                a.last = a.last.max(time);
            })
            .or_insert_with(|| {
                fresh = true;
                Awaiting {
                    reload: time,
                    last: time,
                    vendor: vendor.to_string(),
                    sender: sender.map(str::to_string),
                }
            });
        if fresh {
            self.len.fetch_add(1, Ordering::Relaxed);
            match sender {
                Some(s) => *self.senders.entry(sender_key(s.as_bytes())).or_default() += 1,
                None => {
                    self.unknown.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// A line of `device` at `time`. When the device awaits a boot and was silent for
    /// [`BOOT_SILENCE`] before this line, it is no longer awaited and what was known is
    /// returned: this line is its boot. Otherwise the line only moves its silence on.
    pub fn line(&self, device: &str, time: Millis) -> Option<Awaiting> {
        let resumed = {
            let mut a = self.devices.get_mut(device)?;
            if time < a.last.saturating_add(BOOT_SILENCE) {
                a.last = a.last.max(time);
                return None;
            }
            a.clone()
        };
        self.forget_if(device, |a| a.reload == resumed.reload)
            .then_some(resumed)
    }

    /// The device reported its boot itself: it is no longer awaited.
    pub fn booted(&self, device: &str) {
        self.forget_if(device, |_| true);
    }

    /// The engine processed the device's signals up to `time` and no sequence of it waits for
    /// a boot after a reload: a reload up to then awaits nothing (a later one may still).
    pub fn settle(&self, device: &str, time: Millis) {
        self.forget_if(device, |a| a.reload <= time);
    }

    /// Forgets reloads before `before`: a device that never came back within every sequence's
    /// window.
    pub fn expire(&self, before: Millis) {
        let mut gone = Vec::new();
        self.devices.retain(|_, a| {
            let keep = a.reload >= before;
            if !keep {
                self.len.fetch_sub(1, Ordering::Relaxed);
                gone.push(a.sender.take());
            }
            keep
        });
        for sender in gone {
            self.release(sender.as_deref());
        }
    }

    /// Copies every entry into `other` (a set built at start-up into the one shared).
    pub fn hand_over(&self, other: &AwaitingBoot) {
        for entry in self.devices.iter() {
            let a = entry.value();
            other.reload(entry.key(), a.reload, &a.vendor, a.sender.as_deref());
        }
    }

    fn forget_if(&self, device: &str, pred: impl FnOnce(&Awaiting) -> bool) -> bool {
        let Some((_, a)) = self.devices.remove_if(device, |_, a| pred(a)) else {
            return false;
        };
        self.len.fetch_sub(1, Ordering::Relaxed);
        self.release(a.sender.as_deref());
        true
    }

    /// One awaited device less from `sender`.
    fn release(&self, sender: Option<&str>) {
        match sender {
            Some(s) => {
                self.senders
                    .remove_if_mut(&sender_key(s.as_bytes()), |_, n| {
                        *n -= 1;
                        *n == 0
                    });
            }
            None => {
                self.unknown.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_after_the_silence_is_the_boot_and_lines_before_it_move_the_silence() {
        let set = AwaitingBoot::default();
        assert!(set.is_empty());
        assert_eq!(set.line("rtr-1", 0), None, "not awaited: nothing");
        set.reload("rtr-1", 1_000, "juniper_junos", None);
        assert_eq!(set.len(), 1);
        // Going down: lines within the silence of each other.
        assert_eq!(set.line("rtr-1", 20_000), None);
        assert_eq!(set.line("rtr-1", 45_000), None);
        assert_eq!(set.line("rtr-2", 400_000), None, "another device");
        let boot = set.line("rtr-1", 45_000 + BOOT_SILENCE).expect("the boot");
        assert_eq!(boot.reload, 1_000);
        assert_eq!(boot.vendor, "juniper_junos");
        assert!(set.is_empty());
        assert_eq!(set.line("rtr-1", 900_000), None, "only once");
    }

    #[test]
    fn settle_keeps_a_reload_the_engine_has_not_seen() {
        let set = AwaitingBoot::default();
        set.reload("rtr-1", 5_000, "cisco_ios", None);
        set.settle("rtr-1", 4_000);
        assert_eq!(set.len(), 1);
        set.settle("rtr-1", 5_000);
        assert!(set.is_empty());
        set.reload("rtr-1", 6_000, "cisco_ios", None);
        set.reload("rtr-2", 9_000, "cisco_ios", None);
        set.booted("rtr-1");
        assert_eq!(set.len(), 1);
        set.expire(9_000);
        assert_eq!(set.len(), 1);
        set.expire(9_001);
        assert!(set.is_empty());
    }

    /// Noise lines from senders no awaited device uses are not looked at; a device whose sender
    /// is unknown makes every line worth a look; the senders are forgotten with their devices.
    #[test]
    fn only_the_senders_of_awaited_devices_are_looked_at() {
        let set = AwaitingBoot::default();
        assert!(
            !set.may_be_awaited(Some(sender_key(b"10.0.0.1"))),
            "nothing awaited"
        );
        set.reload("rtr-1", 1_000, "cisco_ios", Some("10.0.0.1"));
        set.reload("rtr-1", 2_000, "cisco_ios", Some("10.0.0.1"));
        assert!(set.may_be_awaited(Some(sender_key(b"10.0.0.1"))));
        assert!(!set.may_be_awaited(Some(sender_key(b"10.0.0.2"))));
        assert!(
            set.may_be_awaited(None),
            "a line with no sender may be anyone's"
        );
        set.reload("rtr-2", 1_000, "cisco_ios", None);
        assert!(
            set.may_be_awaited(Some(sender_key(b"10.0.0.2"))),
            "rtr-2's sender is unknown"
        );
        set.booted("rtr-2");
        assert!(!set.may_be_awaited(Some(sender_key(b"10.0.0.2"))));
        set.booted("rtr-1");
        assert!(!set.may_be_awaited(Some(sender_key(b"10.0.0.1"))));
        assert!(set.senders.is_empty());
        set.reload("rtr-3", 1_000, "cisco_ios", Some("10.0.0.3"));
        set.expire(5_000);
        assert!(set.is_empty() && set.senders.is_empty());
    }
}
