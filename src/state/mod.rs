//! Durable state in sled: device machines (baselines, instances in flight, timers), alerts
//! emitted, and the clock. Values are versioned JSON so that state stays readable without sled
//! and can be migrated. A change is written when it happens; noise writes nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::classify::Signal;
use crate::correlate::DeviceMachine;
use crate::suppress::Alert;
use crate::time::Millis;

/// Bumped when a stored shape changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state directory {0} is in use by another imagewatch process (or its lock is held): {1}"
    )]
    Locked(PathBuf, String),
    #[error("cannot open state directory {0}: {1}")]
    Open(PathBuf, String),
    #[error(
        "state directory {dir} has schema version {found}; this build reads version {SCHEMA_VERSION}"
    )]
    Schema { dir: PathBuf, found: u32 },
    #[error("state store: {0}")]
    Store(#[from] sled::Error),
    #[error("corrupt state record {key}: {reason}")]
    Corrupt { key: String, reason: String },
}

/// The clock and counters that must survive a restart.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Clock {
    /// Latest time seen (arrival, else event time); the watermark trails it by the lateness.
    pub max_time: Option<Millis>,
    /// Event time of the last message, for lines that carry no time of their own.
    pub last_time: Option<Millis>,
}

/// How the store is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// Bytes of sled's page cache (sled's own default is 1 GiB); it bounds the memory the
    /// store uses besides the machines in memory.
    pub cache_bytes: u64,
}

/// Default page cache of the store: 64 MiB.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// A device and its pending deadlines, as (deadline, instance number).
pub type DeviceDeadlines = (String, Vec<(Millis, u64)>, Option<AwaitedBoot>);

/// The pending deadlines of one device, as (deadline, instance number).
#[derive(Serialize, Deserialize)]
struct Deadlines {
    deadlines: Vec<(Millis, u64)>,
    /// Set while the device, told to reload with an image staged, awaits its boot: stored with
    /// the deadlines so that a restart knows whose next line to watch without reading machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    awaiting_boot: Option<AwaitedBoot>,
}

/// A device told to reload with an image staged, not seen booting yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitedBoot {
    /// Event time of the reload.
    pub reload: Millis,
    /// Vendor the device is known as, for the boot its return stands for.
    pub vendor: String,
}

#[derive(Serialize, Deserialize)]
struct Versioned<T> {
    v: u32,
    #[serde(flatten)]
    value: T,
}

#[derive(Clone)]
pub struct StateStore {
    db: sled::Db,
    devices: sled::Tree,
    /// Device → its pending deadlines, for the devices that have any: what a restart loads
    /// instead of every machine.
    timers: sled::Tree,
    alerts: sled::Tree,
    /// Signals accepted but not yet processed (the reorder buffer), by (event time, seq).
    buffer: sled::Tree,
    /// Every alert record in emission order (seq → alert id), for newest-first listing.
    alert_log: sled::Tree,
    meta: sled::Tree,
    location: Option<PathBuf>,
}

impl StateStore {
    /// Opens (or creates) the store in `dir`. A second process on the same directory fails at
    /// once: sled holds an exclusive lock.
    pub fn open(dir: &Path) -> Result<StateStore, StateError> {
        Self::open_with(dir, StoreOptions::default())
    }

    /// [`StateStore::open`] with options.
    pub fn open_with(dir: &Path, options: StoreOptions) -> Result<StateStore, StateError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StateError::Open(dir.to_path_buf(), e.to_string()))?;
        // sled's flusher thread can hold the lock for a moment after a store in this process
        // is dropped; a short retry tells that apart from another process holding it.
        let mut attempts = 0;
        let db = loop {
            match sled::Config::new()
                .path(dir.join("db"))
                .cache_capacity(options.cache_bytes)
                .open()
            {
                Ok(db) => break db,
                Err(e) => {
                    let text = e.to_string();
                    if !(text.contains("lock") || text.contains("WouldBlock")) {
                        return Err(StateError::Open(dir.to_path_buf(), text));
                    }
                    attempts += 1;
                    if attempts >= 10 {
                        return Err(StateError::Locked(dir.to_path_buf(), text));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        };
        Self::with_db(db, Some(dir.to_path_buf()))
    }

    /// A store that lives only as long as this process (replay without `--state`).
    pub fn temporary() -> Result<StateStore, StateError> {
        let db = sled::Config::new()
            .temporary(true)
            .cache_capacity(DEFAULT_CACHE_BYTES)
            .open()?;
        Self::with_db(db, None)
    }

    fn with_db(db: sled::Db, location: Option<PathBuf>) -> Result<StateStore, StateError> {
        let meta = db.open_tree("meta")?;
        match meta.get("schema_version")? {
            Some(v) => {
                let found = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if found != SCHEMA_VERSION {
                    return Err(StateError::Schema {
                        dir: location.clone().unwrap_or_default(),
                        found,
                    });
                }
            }
            None => {
                meta.insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())?;
            }
        }
        Ok(StateStore {
            devices: db.open_tree("devices")?,
            timers: db.open_tree("timers")?,
            buffer: db.open_tree("buffer")?,
            alert_log: db.open_tree("alert_log")?,
            alerts: db.open_tree("alerts")?,
            meta,
            db,
            location,
        })
    }

    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    fn encode<T: Serialize>(value: &T) -> Vec<u8> {
        serde_json::to_vec(&Versioned {
            v: SCHEMA_VERSION,
            value,
        })
        .expect("state values are plain data and always serialise")
    }

    fn decode<T: for<'de> Deserialize<'de>>(key: &[u8], bytes: &[u8]) -> Result<T, StateError> {
        serde_json::from_slice::<Versioned<T>>(bytes)
            .map(|v| v.value)
            .map_err(|e| StateError::Corrupt {
                key: String::from_utf8_lossy(key).into_owned(),
                reason: e.to_string(),
            })
    }

    /// A machine as the store writes it (the versioned JSON envelope): also the value of its
    /// changelog record in Kafka mode.
    pub fn encode_machine(machine: &DeviceMachine) -> Vec<u8> {
        Self::encode(machine)
    }

    /// Reads what [`StateStore::encode_machine`] wrote; `key` names it in the error.
    pub fn decode_machine(key: &[u8], bytes: &[u8]) -> Result<DeviceMachine, StateError> {
        Self::decode(key, bytes)
    }

    /// Records that the deadlines tree covers every stored machine (a store filled machine by
    /// machine with their deadlines, as a restore from the changelog does).
    pub fn set_deadlines_indexed(&self) -> Result<(), StateError> {
        self.meta.insert("deadlines_indexed", "1")?;
        Ok(())
    }

    pub fn put_device(&self, machine: &DeviceMachine) -> Result<(), StateError> {
        self.devices
            .insert(machine.device.as_bytes(), Self::encode(machine))?;
        Ok(())
    }

    /// Stores a machine and, after it, its pending deadlines (`deadlines` empty: none), so
    /// that a restart finds the timers without reading every machine.
    pub fn put_device_with_deadlines(
        &self,
        machine: &DeviceMachine,
        deadlines: &[(Millis, u64)],
        awaiting_boot: Option<AwaitedBoot>,
    ) -> Result<(), StateError> {
        self.put_device(machine)?;
        let key = machine.device.as_bytes();
        if deadlines.is_empty() {
            self.timers.remove(key)?;
        } else {
            self.timers.insert(
                key,
                Self::encode(&Deadlines {
                    deadlines: deadlines.to_vec(),
                    awaiting_boot,
                }),
            )?;
        }
        Ok(())
    }

    /// One stored machine.
    pub fn device(&self, id: &str) -> Result<Option<DeviceMachine>, StateError> {
        match self.devices.get(id.as_bytes())? {
            Some(v) => Ok(Some(Self::decode(id.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` stored machines in device order, starting after `after`.
    pub fn devices_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DeviceMachine>, StateError> {
        use std::ops::Bound;
        let lower = match after {
            Some(a) => Bound::Excluded(a.as_bytes().to_vec()),
            None => Bound::Unbounded,
        };
        self.devices
            .range::<Vec<u8>, _>((lower, Bound::Unbounded))
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                Self::decode(&k, &v)
            })
            .collect()
    }

    /// The stored pending deadlines of the devices `owns` accepts.
    pub fn deadlines(
        &self,
        owns: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<DeviceDeadlines>, StateError> {
        let mut out = Vec::new();
        for kv in self.timers.iter() {
            let (k, v) = kv?;
            let device = String::from_utf8_lossy(&k);
            if owns(&device) {
                let d: Deadlines = Self::decode(&k, &v)?;
                out.push((device.into_owned(), d.deadlines, d.awaiting_boot));
            }
        }
        Ok(out)
    }

    /// True once the deadlines tree covers every stored machine (state written before it
    /// existed is indexed once, by [`StateStore::index_deadlines`]).
    pub fn deadlines_indexed(&self) -> Result<bool, StateError> {
        Ok(self.meta.get("deadlines_indexed")?.is_some())
    }

    /// Builds the deadlines tree from every stored machine (`deadlines` computes them), once.
    pub fn index_deadlines(
        &self,
        deadlines: &dyn Fn(&DeviceMachine) -> Vec<(Millis, u64)>,
    ) -> Result<(), StateError> {
        if self.deadlines_indexed()? {
            return Ok(());
        }
        for kv in self.devices.iter() {
            let (k, v) = kv?;
            let machine: DeviceMachine = Self::decode(&k, &v)?;
            if !machine.instances.is_empty() {
                let mut d = deadlines(&machine);
                d.sort_unstable();
                if !d.is_empty() {
                    self.timers.insert(
                        k,
                        Self::encode(&Deadlines {
                            deadlines: d,
                            awaiting_boot: None,
                        }),
                    )?;
                }
            }
        }
        self.meta.insert("deadlines_indexed", "1")?;
        Ok(())
    }

    pub fn devices(&self) -> Result<Vec<DeviceMachine>, StateError> {
        self.devices
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Self::decode(&k, &v)
            })
            .collect()
    }

    fn buffer_key(time: Millis, seq: u64) -> [u8; 16] {
        let mut k = [0u8; 16];
        // Offset so that negative times still sort before positive ones.
        k[..8].copy_from_slice(&((time as u64) ^ (1 << 63)).to_be_bytes());
        k[8..].copy_from_slice(&seq.to_be_bytes());
        k
    }

    /// Stores an accepted signal; returns its sequence number (unique in this store, so that
    /// several workers can share the tree).
    pub fn put_buffered(&self, time: Millis, signal: &Signal) -> Result<u64, StateError> {
        let seq = self.db.generate_id()?;
        self.buffer
            .insert(Self::buffer_key(time, seq), Self::encode(signal))?;
        Ok(seq)
    }

    pub fn remove_buffered(&self, time: Millis, seq: u64) -> Result<(), StateError> {
        self.buffer.remove(Self::buffer_key(time, seq))?;
        Ok(())
    }

    /// Signals accepted before the last stop and not yet processed, oldest first, with their
    /// (time, seq) keys.
    pub fn buffered(&self) -> Result<Vec<(Millis, u64, Signal)>, StateError> {
        let mut out = Vec::new();
        for kv in self.buffer.iter() {
            let (k, v) = kv?;
            let signal: Signal = Self::decode(&k, &v)?;
            let seq = u64::from_be_bytes(k[8..16].try_into().unwrap_or([0; 8]));
            out.push((signal.time, seq, signal));
        }
        Ok(out)
    }

    pub fn put_alert(&self, alert: &Alert) -> Result<(), StateError> {
        self.alerts
            .insert(alert.id.as_bytes(), Self::encode(alert))?;
        let seq = self.db.generate_id()?;
        self.alert_log
            .insert(seq.to_be_bytes(), alert.id.as_bytes())?;
        Ok(())
    }

    /// Alert ids newest first, starting below `before` (a cursor from an earlier page), with
    /// the sequence number of each record.
    pub fn alert_ids_newest_first(
        &self,
        before: Option<u64>,
    ) -> impl Iterator<Item = Result<(u64, String), StateError>> + '_ {
        let upper = before.unwrap_or(u64::MAX);
        self.alert_log.range(..upper.to_be_bytes()).rev().map(|kv| {
            let (k, v) = kv?;
            let seq = u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8]));
            Ok((seq, String::from_utf8_lossy(&v).into_owned()))
        })
    }

    /// A named tree for a component of the service (an outbox, API-managed calendar entries).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, StateError> {
        Ok(self.db.open_tree(name)?)
    }

    /// A number unique in this store, increasing.
    pub fn next_id(&self) -> Result<u64, StateError> {
        Ok(self.db.generate_id()?)
    }

    pub fn alert(&self, id: &str) -> Result<Option<Alert>, StateError> {
        match self.alerts.get(id.as_bytes())? {
            Some(v) => Ok(Some(Self::decode(id.as_bytes(), &v)?)),
            None => Ok(None),
        }
    }

    pub fn put_clock(&self, clock: &Clock) -> Result<(), StateError> {
        self.meta.insert("clock", Self::encode(clock))?;
        Ok(())
    }

    pub fn clock(&self) -> Result<Clock, StateError> {
        match self.meta.get("clock")? {
            Some(v) => Self::decode(b"clock", &v),
            None => Ok(Clock::default()),
        }
    }

    /// Makes everything written so far durable (as far as sled can; see the README).
    pub fn flush(&self) -> Result<(), StateError> {
        self.db.flush()?;
        Ok(())
    }

    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_refuses_a_second_opener() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = StateStore::open(dir.path()).unwrap();
            store
                .put_device(&DeviceMachine::new("rtr-1", Some("cisco_ios".into()), None))
                .unwrap();
            store
                .put_clock(&Clock {
                    max_time: Some(42),
                    last_time: Some(41),
                })
                .unwrap();
            let second = StateStore::open(dir.path());
            assert!(
                matches!(second, Err(StateError::Locked(..))),
                "second opener must fail"
            );
            store.flush().unwrap();
        }
        let store = StateStore::open(dir.path()).unwrap();
        assert_eq!(store.devices().unwrap()[0].device, "rtr-1");
        assert_eq!(store.clock().unwrap().max_time, Some(42));
    }

    #[test]
    fn refuses_another_schema_version() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::Config::new()
                .path(dir.path().join("db"))
                .open()
                .unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert("schema_version", "99")
                .unwrap();
            db.flush().unwrap();
        }
        assert!(matches!(
            StateStore::open(dir.path()),
            Err(StateError::Schema { found: 99, .. })
        ));
    }
}
