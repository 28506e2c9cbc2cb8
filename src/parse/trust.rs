//! Which clock dates a signal: the device's stamp or the arrival time, and why. A device clock
//! far from the arrival time is either wrong (unset, wrong zone, drifting) or right and the line
//! late (a relay that held a backlog); a small per-device record of recent offsets to arrival
//! tells the two apart. Only signal lines consult it, so the noise path pays nothing.
//!
//! A delivery can only make a line later, never earlier: a device clock *ahead* of arrival is
//! wrong. A device clock *behind* arrival by more than [`CLOCK_TOLERANCE`] is trusted when its
//! offset is steady for that device (a relay that forwards with a fixed delay) or when the same
//! clock agreed with arrival before and has not run ahead since (a relay that flushes a backlog
//! after an outage). Everything else falls back to the arrival time, as before.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::parse::clock::{ClockSync, DeviceStamp};
use crate::time::{HOUR, MINUTE, Millis, SECOND};

/// A device clock further than this from the arrival time is not trusted on its own (wrong
/// zone, drift, a clock never set); within it, device and arrival agree.
pub const CLOCK_TOLERANCE: Millis = 5 * MINUTE;
/// Offsets remembered per device.
const RECENT_OFFSETS: usize = 8;
/// Earlier offsets that must agree with a line's offset for it to count as steady.
const STEADY_AGREEING: usize = 3;
/// How far offsets of one steady delay may differ (relay batching, network jitter).
const STEADY_SPREAD: Millis = 60 * SECOND;
/// Longest delay a relay is believed to add: a stamp further behind arrival is a wrong clock
/// (or a wrong year for a year-less stamp), however steady.
const MAX_DELAY: Millis = 24 * HOUR;
/// Lines within tolerance that make a clock known to be right (for a backlog flush).
const AGREED_TO_TRUST: u8 = 3;
/// An offset this close to a whole number of quarter hours, on a stamp whose zone was
/// assumed, reads as a clock in another zone rather than a delay: every UTC offset in use is a
/// multiple of 15 minutes.
const ZONE_LIKE: Millis = 90 * SECOND;
/// Devices whose offsets are remembered; past it an arbitrary one is forgotten (it learns
/// again from its next lines).
const MAX_TRACKED_DEVICES: usize = 200_000;

/// The clock an event time comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The stamp the device wrote.
    #[default]
    Device,
    /// When the line was received (the collector's stamp, a relay's, or the feed's latest).
    Arrival,
}

impl TimeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeSource::Device => "device",
            TimeSource::Arrival => "arrival",
        }
    }
}

/// Why the event time comes from the clock it does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeReason {
    /// Device: the stamp is within [`CLOCK_TOLERANCE`] of arrival.
    #[default]
    Agrees,
    /// Device: nothing records when the line arrived, so nothing contradicts the stamp.
    NoArrival,
    /// Device: behind arrival by a delay this device's recent lines share (a relay forwarding
    /// late).
    SteadyDelay,
    /// Device: behind arrival, from a clock that agreed with arrival before and never ran ahead
    /// since (a relay flushing a backlog).
    Backlog,
    /// Arrival: the line carries no wall-clock stamp.
    NoDeviceClock,
    /// Arrival: the device wrote its uptime, not a wall time.
    Uptime,
    /// Arrival: the stamp is marked `*`, the clock is not authoritative.
    NotSynchronised,
    /// Arrival: the stamp is marked `.`, the clock lost its sync.
    SyncLost,
    /// Arrival: the stamp is ahead of arrival by more than the tolerance; no delivery does that.
    ClockAhead,
    /// Arrival: the stamp is more than a day behind arrival; no relay is trusted to hold a line
    /// that long.
    TooFarBehind,
    /// Arrival: the stamp is behind arrival by an amount this device's recent lines do not
    /// share, and its clock was not seen right before.
    Unsteady,
    /// Arrival: the steady offset is a whole number of quarter hours on a stamp with no known
    /// zone: a device clock in local time, not a delay (the inventory's `timezone` fixes it).
    ZoneLike,
}

impl TimeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeReason::Agrees => "agrees",
            TimeReason::NoArrival => "no_arrival",
            TimeReason::SteadyDelay => "steady_delay",
            TimeReason::Backlog => "backlog",
            TimeReason::NoDeviceClock => "no_device_clock",
            TimeReason::Uptime => "uptime",
            TimeReason::NotSynchronised => "not_synchronised",
            TimeReason::SyncLost => "sync_lost",
            TimeReason::ClockAhead => "clock_ahead",
            TimeReason::TooFarBehind => "too_far_behind",
            TimeReason::Unsteady => "unsteady",
            TimeReason::ZoneLike => "zone_like",
        }
    }

    /// One sentence for a person reading `explain`.
    pub fn describe(self) -> &'static str {
        match self {
            TimeReason::Agrees => "device clock within 5 minutes of arrival",
            TimeReason::NoArrival => "no arrival time to check the device clock against",
            TimeReason::SteadyDelay => {
                "device clock behind arrival by the steady delay of this device's recent lines \
                 (late relay)"
            }
            TimeReason::Backlog => {
                "device clock behind arrival, and the same clock agreed with arrival before \
                 (backlog flushed late)"
            }
            TimeReason::NoDeviceClock => "the line carries no device time stamp",
            TimeReason::Uptime => "the device stamped its uptime, not a wall time",
            TimeReason::NotSynchronised => "device clock marked '*' (not authoritative)",
            TimeReason::SyncLost => "device clock marked '.' (sync lost)",
            TimeReason::ClockAhead => "device clock more than 5 minutes ahead of arrival",
            TimeReason::TooFarBehind => "device clock more than a day behind arrival",
            TimeReason::Unsteady => {
                "device clock more than 5 minutes behind arrival and its offset is not steady"
            }
            TimeReason::ZoneLike => {
                "device clock off by whole quarter hours with no zone known (set the device's \
                 timezone in the inventory)"
            }
        }
    }
}

/// The event time chosen for a line, with the clock it came from and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dated {
    pub time: Millis,
    pub source: TimeSource,
    pub reason: TimeReason,
}

/// What one device's recent lines said about its clock.
#[derive(Clone, Debug, Default)]
struct OffsetTrack {
    /// Arrival minus device time of the latest synchronised stamps, oldest overwritten first.
    offsets: [Millis; RECENT_OFFSETS],
    len: u8,
    next: u8,
    /// Stamps within tolerance since the clock was last seen ahead of arrival (saturating).
    agreed: u8,
}

impl OffsetTrack {
    fn steady(&self, offset: Millis) -> bool {
        self.offsets[..usize::from(self.len)]
            .iter()
            .filter(|o| o.abs_diff(offset) <= STEADY_SPREAD as u64)
            .count()
            >= STEADY_AGREEING
    }

    fn record(&mut self, offset: Millis) {
        self.offsets[usize::from(self.next)] = offset;
        self.next = (self.next + 1) % RECENT_OFFSETS as u8;
        self.len = (self.len + 1).min(RECENT_OFFSETS as u8);
        if offset.abs() <= CLOCK_TOLERANCE {
            self.agreed = self.agreed.saturating_add(1);
        } else if offset < -CLOCK_TOLERANCE {
            self.agreed = 0;
        }
    }
}

/// Recent clock offsets of every device, shared by the extractors of one process (a device
/// may reach the service over several connections). A plain mutex: it is taken once per
/// signal line, never per noise line, and never across an await.
#[derive(Debug, Default)]
pub struct ClockBook {
    devices: Mutex<HashMap<String, OffsetTrack>>,
}

impl ClockBook {
    /// Dates a signal of `device`: its stamp (already in the device's zone), the arrival time
    /// if known, and whether the device wrote an uptime. Synchronised stamps with an arrival
    /// are remembered for the device's next lines. `fallback` is the time used when there is
    /// neither a trusted stamp nor an arrival.
    pub fn date(
        &self,
        device: &str,
        stamp: Option<DeviceStamp>,
        uptime: bool,
        arrival: Option<Millis>,
        fallback: Millis,
    ) -> Dated {
        let device_time = |reason| Dated {
            time: stamp.map_or(fallback, |s| s.millis),
            source: TimeSource::Device,
            reason,
        };
        let arrival_time = |reason| Dated {
            time: arrival.unwrap_or(fallback),
            source: TimeSource::Arrival,
            reason,
        };
        let Some(stamp) = stamp.filter(|_| !uptime) else {
            return arrival_time(if uptime {
                TimeReason::Uptime
            } else {
                TimeReason::NoDeviceClock
            });
        };
        match stamp.sync {
            ClockSync::NotAuthoritative => return arrival_time(TimeReason::NotSynchronised),
            ClockSync::SyncLost => return arrival_time(TimeReason::SyncLost),
            ClockSync::Synced => {}
        }
        let Some(arrival) = arrival else {
            return device_time(TimeReason::NoArrival);
        };
        let offset = arrival.saturating_sub(stamp.millis);
        let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
        if !devices.contains_key(device) {
            if devices.len() >= MAX_TRACKED_DEVICES {
                let forget = devices.keys().next().cloned();
                if let Some(k) = forget {
                    devices.remove(&k);
                }
            }
            devices.insert(device.to_string(), OffsetTrack::default());
        }
        let track = devices
            .get_mut(device)
            .expect("the device's entry exists: inserted above when absent");
        let dated = if offset.abs() <= CLOCK_TOLERANCE {
            device_time(TimeReason::Agrees)
        } else if offset < 0 {
            arrival_time(TimeReason::ClockAhead)
        } else if offset > MAX_DELAY {
            arrival_time(TimeReason::TooFarBehind)
        } else if track.agreed >= AGREED_TO_TRUST {
            device_time(TimeReason::Backlog)
        } else if !track.steady(offset) {
            arrival_time(TimeReason::Unsteady)
        } else if !stamp.zone_known && zone_like(offset) {
            arrival_time(TimeReason::ZoneLike)
        } else {
            device_time(TimeReason::SteadyDelay)
        };
        track.record(offset);
        dated
    }

    /// Devices whose offsets are remembered.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.devices.lock().map_or(0, |d| d.len())
    }
}

/// Within [`ZONE_LIKE`] of a whole number of quarter hours.
fn zone_like(offset: Millis) -> bool {
    const QUARTER: Millis = 15 * MINUTE;
    let rest = offset.rem_euclid(QUARTER);
    rest <= ZONE_LIKE || QUARTER - rest <= ZONE_LIKE
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_780_000_000_000;

    fn stamp(millis: Millis, sync: ClockSync, zone_known: bool) -> Option<DeviceStamp> {
        Some(DeviceStamp {
            millis,
            sync,
            had_year: false,
            zone_known,
            offset_minutes: 0,
        })
    }

    fn synced(millis: Millis) -> Option<DeviceStamp> {
        stamp(millis, ClockSync::Synced, true)
    }

    /// A relay that forwards every line 40 minutes late: the first lines have nothing to go
    /// by, and from the fourth on the delay is steady and the device clock is kept.
    #[test]
    fn a_steady_delay_keeps_the_device_clock() {
        let book = ClockBook::default();
        let delay = 40 * MINUTE;
        let mut reasons = Vec::new();
        for i in 0..6 {
            let t = T0 + i * 7 * MINUTE;
            let d = book.date("rtr-1", synced(t), false, Some(t + delay + i * 150), 0);
            reasons.push((d.source, d.reason));
            if d.source == TimeSource::Device {
                assert_eq!(d.time, t);
            } else {
                assert_eq!(d.time, t + delay + i * 150);
            }
        }
        use TimeReason::*;
        use TimeSource::*;
        assert_eq!(
            reasons,
            [
                (Arrival, Unsteady),
                (Arrival, Unsteady),
                (Arrival, Unsteady),
                (Device, SteadyDelay),
                (Device, SteadyDelay),
                (Device, SteadyDelay),
            ]
        );
    }

    /// A device whose clock agreed with arrival, then a backlog of its lines flushed at once.
    #[test]
    fn a_backlog_from_a_clock_seen_right_keeps_the_device_clock() {
        let book = ClockBook::default();
        for i in 0..3 {
            let t = T0 + i * MINUTE;
            let d = book.date("rtr-1", synced(t), false, Some(t + 300), 0);
            assert_eq!(d.reason, TimeReason::Agrees);
        }
        let flush = T0 + 2 * HOUR;
        // Forty minutes of lines, the oldest first, all delivered at 02:00.
        for i in 0..15 {
            let t = T0 + 80 * MINUTE + i * 2 * MINUTE;
            let d = book.date("rtr-1", synced(t), false, Some(flush + i), 0);
            assert_eq!((d.time, d.reason), (t, TimeReason::Backlog), "line {i}");
        }
        // Another device has learned nothing: its late lines keep arrival times.
        let d = book.date("rtr-2", synced(T0), false, Some(flush), 0);
        assert_eq!((d.time, d.reason), (flush, TimeReason::Unsteady));
    }

    /// A clock that jumps around (ahead and behind) never earns trust.
    #[test]
    fn an_erratic_clock_uses_arrival() {
        let book = ClockBook::default();
        let jumps = [47, -133, 190, 12, -31, 75, 160, 9, 111, -8];
        for (i, j) in jumps.iter().enumerate() {
            let arrival = T0 + i as Millis * MINUTE;
            let d = book.date(
                "rtr-1",
                synced(arrival - j * MINUTE),
                false,
                Some(arrival),
                0,
            );
            assert_eq!(d.source, TimeSource::Arrival, "jump {j}m: {d:?}");
            assert_eq!(d.time, arrival);
        }
    }

    #[test]
    fn unsynchronised_and_uptime_stamps_use_arrival_even_when_steady() {
        let book = ClockBook::default();
        let late = 40 * MINUTE;
        for i in 0..6 {
            let t = T0 + i * MINUTE;
            let d = book.date(
                "rtr-1",
                stamp(t, ClockSync::NotAuthoritative, true),
                false,
                Some(t + late),
                0,
            );
            assert_eq!((d.time, d.reason), (t + late, TimeReason::NotSynchronised));
            let d = book.date(
                "rtr-1",
                stamp(t, ClockSync::SyncLost, true),
                false,
                Some(t),
                0,
            );
            assert_eq!((d.time, d.reason), (t, TimeReason::SyncLost));
        }
        let d = book.date("rtr-1", synced(T0), true, Some(T0 + 5), 0);
        assert_eq!((d.time, d.reason), (T0 + 5, TimeReason::Uptime));
        let d = book.date("rtr-1", None, false, None, 77);
        assert_eq!((d.time, d.source), (77, TimeSource::Arrival));
        assert_eq!(
            book.tracked(),
            0,
            "unsynchronised and uptime stamps teach nothing"
        );
    }

    /// A device in local time west of UTC writing no zone is hours "behind" arrival, steadily:
    /// that is a zone, not a relay, unless the zone of the stamp is known.
    #[test]
    fn a_steady_whole_hour_offset_without_a_zone_is_a_zone() {
        let book = ClockBook::default();
        let off = 4 * HOUR + 2 * SECOND;
        for i in 0..6 {
            let t = T0 + i * MINUTE;
            let d = book.date(
                "rtr-1",
                stamp(t, ClockSync::Synced, false),
                false,
                Some(t + off),
                0,
            );
            assert_eq!(d.source, TimeSource::Arrival);
        }
        let t = T0 + 10 * MINUTE;
        let d = book.date(
            "rtr-1",
            stamp(t, ClockSync::Synced, false),
            false,
            Some(t + off),
            0,
        );
        assert_eq!(d.reason, TimeReason::ZoneLike);
        assert!(zone_like(45 * MINUTE - SECOND) && zone_like(-30 * MINUTE + 80 * SECOND));
        assert!(!zone_like(40 * MINUTE));
    }

    #[test]
    fn a_clock_ahead_is_never_a_delay_and_resets_what_was_learned() {
        let book = ClockBook::default();
        for i in 0..3 {
            let t = T0 + i * MINUTE;
            book.date("rtr-1", synced(t), false, Some(t), 0);
        }
        let d = book.date("rtr-1", synced(T0 + HOUR), false, Some(T0), 0);
        assert_eq!((d.time, d.reason), (T0, TimeReason::ClockAhead));
        let t = T0 + 10 * MINUTE;
        let d = book.date("rtr-1", synced(t), false, Some(t + 30 * MINUTE), 0);
        assert_eq!(d.reason, TimeReason::Unsteady, "no longer known right");
    }

    /// A stamp half a year behind arrival (a year-less stamp from another season, a clock
    /// reset) is never a relay's delay, however steady.
    #[test]
    fn a_delay_over_a_day_is_not_believed() {
        let book = ClockBook::default();
        let off = 187 * 24 * HOUR;
        for i in 0..6 {
            let t = T0 + i * MINUTE;
            let d = book.date("rtr-1", synced(t), false, Some(t + off), 0);
            assert_eq!((d.time, d.reason), (t + off, TimeReason::TooFarBehind));
        }
    }

    #[test]
    fn memory_is_bounded() {
        let book = ClockBook::default();
        for i in 0..(MAX_TRACKED_DEVICES + 10) {
            book.date(&format!("d{i}"), synced(T0), false, Some(T0), 0);
        }
        assert_eq!(book.tracked(), MAX_TRACKED_DEVICES);
    }
}
