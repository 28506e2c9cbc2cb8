//! Durable state in sled: device machines (baselines, instances in flight, timers), their
//! evidence lines, alerts emitted, and the clock. Values are versioned JSON so that state stays
//! readable without sled and can be migrated. A change is written when it happens; noise writes
//! nothing, and a machine write costs what changed: evidence lines live in a tree of their own,
//! each written once, so a busy device's machine record stays small.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::classify::Signal;
use crate::correlate::{DeviceMachine, Evidence};
use crate::suppress::Alert;
use crate::time::Millis;

pub(crate) mod triage;

/// Bumped when a stored shape changes incompatibly. 2: evidence lines apart from the machine
/// records (version 1 held them inline; a store of version 1 is migrated when opened).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state directory {0} is in use by another imagewatch process (or its lock is held): {1}"
    )]
    Locked(PathBuf, String),
    #[error("cannot open state directory {0}: {1}")]
    Open(PathBuf, String),
    #[error(
        "state directory {dir} has schema version {found}; this build reads version {SCHEMA_VERSION} \
         (and migrates version 1): run the imagewatch that wrote it, or move the directory aside \
         to start with an empty state"
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

/// How often sled's flusher thread runs (milliseconds; sled's default is 500). Each run is
/// also when sled reclaims log segments, and in sled 0.34 a run stops at the first segment
/// whose pages have all been moved (`SegmentCleaner::pop` answers "nothing to do" then), so
/// reclamation is paced by this period rather than by the garbage: at 500 ms a busy service's
/// directory grew ~2 MB/s, to 2.9x its live data in a 5-minute soak (`benches/soak.sh`,
/// BENCHMARKS.md); every 25 ms it stayed near 1.6x at the same throughput. The workers flush
/// after every batch anyway, so the extra flusher runs write next to nothing. (`Mode` is read
/// nowhere in sled 0.34, and a smaller `segment_size` made it worse: nodes over a quarter of
/// a segment become blob files.)
const FLUSH_EVERY_MS: u64 = 25;

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
    /// Device → its machine record, without evidence lines.
    devices: sled::Tree,
    /// (device, owner, line number) → one evidence line of a machine's instance or flood:
    /// written once, deleted when its owner drops it (see [`crate::correlate::machine::LineKeys`]).
    evidence: sled::Tree,
    /// Bytes of keys and values written to the machine trees (devices, evidence, timers), for
    /// the cost of machine writes (tests, benchmarks).
    machine_bytes: Arc<AtomicU64>,
    /// Device → its pending deadlines, for the devices that have any: what a restart loads
    /// instead of every machine.
    timers: sled::Tree,
    alerts: sled::Tree,
    /// Signals accepted but not yet processed (the reorder buffer), by (event time, seq).
    buffer: sled::Tree,
    /// Every alert record in emission order (seq → alert id), for newest-first listing.
    alert_log: sled::Tree,
    /// Every revision of every alert (`id/revision` → alert), for the alert's history; the
    /// `alerts` tree holds the latest only.
    revisions: sled::Tree,
    /// Alert id → sequence number of its newest `alert_log` entry, so a listing shows an
    /// alert once, at its newest place.
    alert_latest: sled::Tree,
    /// Alert id → analysts' triage decisions ([`triage`]).
    triage: sled::Tree,
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
                .flush_every_ms(Some(FLUSH_EVERY_MS))
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
        let mut migrate = false;
        match meta.get("schema_version")? {
            Some(v) => {
                let found = std::str::from_utf8(&v)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if found == 1 {
                    migrate = true;
                } else if found != SCHEMA_VERSION {
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
        let store = StateStore {
            devices: db.open_tree("devices")?,
            evidence: db.open_tree("evidence")?,
            machine_bytes: Arc::new(AtomicU64::new(0)),
            timers: db.open_tree("timers")?,
            buffer: db.open_tree("buffer")?,
            alert_log: db.open_tree("alert_log")?,
            alerts: db.open_tree("alerts")?,
            revisions: db.open_tree("alert_revisions")?,
            triage: db.open_tree("triage")?,
            alert_latest: db.open_tree("alert_latest")?,
            meta,
            db,
            location,
        };
        if migrate {
            store.migrate_inline_evidence()?;
        }
        Ok(store)
    }

    /// Version 1 kept evidence lines inside the machine records: moves them to the evidence
    /// tree, one machine at a time, then records the new version (a stop half-way migrates the
    /// rest at the next open: a machine rewritten already has no inline lines left).
    fn migrate_inline_evidence(&self) -> Result<(), StateError> {
        let mut moved = 0usize;
        for kv in self.devices.iter() {
            let (k, v) = kv?;
            let machine: DeviceMachine = Self::decode(&k, &v)?;
            let inline = machine
                .evidence_owners()
                .any(|(_, evidence, _)| !evidence.is_empty());
            if inline {
                self.put_device(&machine)?;
                moved += 1;
            }
        }
        self.meta
            .insert("schema_version", SCHEMA_VERSION.to_string().as_bytes())?;
        self.db.flush()?;
        tracing::info!(
            machines = moved,
            dir = %self.location.as_deref().unwrap_or(Path::new("")).display(),
            "Migrated the state to schema version {SCHEMA_VERSION}: evidence lines stored apart."
        );
        Ok(())
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

    /// A machine whole, its evidence lines with it: the value of its changelog record in Kafka
    /// mode (the store keeps evidence lines apart from the record; the changelog is read back
    /// into an empty store, so it carries them).
    pub fn encode_machine(machine: &DeviceMachine) -> Vec<u8> {
        #[derive(Serialize)]
        struct Whole<'a> {
            machine: &'a DeviceMachine,
            evidence: Vec<(u64, &'a [Evidence])>,
        }
        let evidence = machine
            .evidence_owners()
            .filter(|(_, lines, _)| !lines.is_empty())
            .map(|(owner, lines, _)| (owner, lines))
            .collect();
        Self::encode(&Whole { machine, evidence })
    }

    /// Reads what [`StateStore::encode_machine`] wrote; `key` names it in the error. Its
    /// evidence lines are new to the store that takes the machine.
    pub fn decode_machine(key: &[u8], bytes: &[u8]) -> Result<DeviceMachine, StateError> {
        #[derive(Deserialize)]
        struct Whole {
            machine: DeviceMachine,
            #[serde(default)]
            evidence: Vec<(u64, Vec<Evidence>)>,
        }
        let whole: Whole = Self::decode(key, bytes)?;
        let mut machine = whole.machine;
        machine.take_inline_evidence(whole.evidence);
        Ok(machine)
    }

    /// Records that the deadlines tree covers every stored machine (a store filled machine by
    /// machine with their deadlines, as a restore from the changelog does).
    pub fn set_deadlines_indexed(&self) -> Result<(), StateError> {
        self.meta.insert("deadlines_indexed", "1")?;
        Ok(())
    }

    /// The evidence key prefix of a device: its length first, so that no device's prefix is
    /// another's.
    fn evidence_prefix(device: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(4 + device.len() + 16);
        k.extend_from_slice(&(device.len() as u32).to_be_bytes());
        k.extend_from_slice(device.as_bytes());
        k
    }

    fn evidence_key(prefix: &[u8], owner: u64, no: u64) -> Vec<u8> {
        let mut k = Vec::with_capacity(prefix.len() + 16);
        k.extend_from_slice(prefix);
        k.extend_from_slice(&owner.to_be_bytes());
        k.extend_from_slice(&no.to_be_bytes());
        k
    }

    /// Stores a whole machine: its record and every evidence line, and deletes any other line
    /// stored for the device (tests, migration; the engine writes changes only).
    pub fn put_device(&self, machine: &DeviceMachine) -> Result<(), StateError> {
        let prefix = Self::evidence_prefix(&machine.device);
        let mut batch = sled::Batch::default();
        for kv in self.evidence.scan_prefix(&prefix) {
            batch.remove(kv?.0);
        }
        for (owner, evidence, keys) in machine.evidence_owners() {
            let mut renumbered = keys.clone();
            renumbered.stored = 0;
            for (no, e) in renumbered.unstored(evidence) {
                batch.insert(Self::evidence_key(&prefix, owner, no), Self::encode(e));
            }
        }
        self.evidence.apply_batch(batch)?;
        self.devices
            .insert(machine.device.as_bytes(), Self::encode(machine))?;
        Ok(())
    }

    /// Stores what changed in a machine since it was last stored (its record, the evidence lines
    /// numbered since, the deletion of lines dropped since) and its pending deadlines
    /// (`deadlines` empty: none), in one transaction: a crash leaves the old machine or the new
    /// one, never lines that belong to neither. The caller then marks the machine stored
    /// ([`DeviceMachine::mark_stored`]).
    pub fn put_device_with_deadlines(
        &self,
        machine: &DeviceMachine,
        deadlines: &[(Millis, u64)],
        awaiting_boot: Option<AwaitedBoot>,
    ) -> Result<(), StateError> {
        use sled::Transactional;
        use sled::transaction::ConflictableTransactionError;

        let key = machine.device.as_bytes();
        let prefix = Self::evidence_prefix(&machine.device);
        // Lines of owners gone: only this machine's worker writes its keys, so reading them
        // before the transaction is safe.
        let mut removed: Vec<sled::IVec> = Vec::new();
        for owner in machine.gone_owners() {
            let mut owned = prefix.clone();
            owned.extend_from_slice(&owner.to_be_bytes());
            for kv in self.evidence.scan_prefix(&owned) {
                removed.push(kv?.0);
            }
        }
        let mut added: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for (owner, evidence, keys) in machine.evidence_owners() {
            for &no in &keys.dropped {
                removed.push(Self::evidence_key(&prefix, owner, no).into());
            }
            for (no, e) in keys.unstored(evidence) {
                added.push((Self::evidence_key(&prefix, owner, no), Self::encode(e)));
            }
        }
        let record = Self::encode(machine);
        let timers = (!deadlines.is_empty()).then(|| {
            Self::encode(&Deadlines {
                deadlines: deadlines.to_vec(),
                awaiting_boot,
            })
        });
        let written = record.len()
            + key.len()
            + timers.as_ref().map_or(0, |t| t.len() + key.len())
            + added.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
        (&self.devices, &self.evidence, &self.timers)
            .transaction(|(devices, evidence, timer_tree)| {
                for k in &removed {
                    evidence.remove(k)?;
                }
                for (k, v) in &added {
                    evidence.insert(k.as_slice(), v.as_slice())?;
                }
                devices.insert(key, record.as_slice())?;
                match &timers {
                    Some(t) => timer_tree.insert(key, t.as_slice())?,
                    None => timer_tree.remove(key)?,
                };
                Ok::<(), ConflictableTransactionError<sled::Error>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Abort(e)
                | sled::transaction::TransactionError::Storage(e) => StateError::Store(e),
            })?;
        self.machine_bytes
            .fetch_add(written as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Bytes written to the machine trees so far by this store (see `machine_bytes`).
    pub fn machine_bytes_written(&self) -> u64 {
        self.machine_bytes.load(Ordering::Relaxed)
    }

    /// A machine read from its record and its evidence lines.
    fn read_machine(&self, key: &[u8], record: &[u8]) -> Result<DeviceMachine, StateError> {
        let mut machine: DeviceMachine = Self::decode(key, record)?;
        let prefix = Self::evidence_prefix(&machine.device);
        let mut lines = Vec::new();
        for kv in self.evidence.scan_prefix(&prefix) {
            let (k, v) = kv?;
            let rest = &k[prefix.len()..];
            let (Some(owner), Some(no)) = (
                rest.get(..8).and_then(|b| b.try_into().ok()),
                rest.get(8..16).and_then(|b| b.try_into().ok()),
            ) else {
                return Err(StateError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    reason: "evidence key too short".into(),
                });
            };
            let e: Evidence = Self::decode(&k, &v)?;
            lines.push((u64::from_be_bytes(owner), u64::from_be_bytes(no), e));
        }
        machine.attach_evidence(lines);
        Ok(machine)
    }

    /// One stored machine.
    pub fn device(&self, id: &str) -> Result<Option<DeviceMachine>, StateError> {
        match self.devices.get(id.as_bytes())? {
            Some(v) => Ok(Some(self.read_machine(id.as_bytes(), &v)?)),
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
                self.read_machine(&k, &v)
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
                self.read_machine(&k, &v)
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
        self.revisions.insert(
            Self::revision_key(&alert.id, alert.revision),
            Self::encode(alert),
        )?;
        let seq = self.db.generate_id()?;
        self.alert_log
            .insert(seq.to_be_bytes(), alert.id.as_bytes())?;
        self.alert_latest
            .insert(alert.id.as_bytes(), &seq.to_be_bytes())?;
        Ok(())
    }

    fn revision_key(id: &str, revision: u32) -> Vec<u8> {
        let mut k = Vec::with_capacity(id.len() + 5);
        k.extend_from_slice(id.as_bytes());
        k.push(b'/');
        k.extend_from_slice(&revision.to_be_bytes());
        k
    }

    /// Every stored revision of alert `id`, oldest first (revisions stored before this tree
    /// existed are missing; the latest is always in [`StateStore::alert`]).
    pub fn alert_revisions(&self, id: &str) -> Result<Vec<Alert>, StateError> {
        let mut prefix = id.as_bytes().to_vec();
        prefix.push(b'/');
        self.revisions
            .scan_prefix(&prefix)
            .filter(|kv| {
                kv.as_ref()
                    .map_or(true, |(k, _)| k.len() == prefix.len() + 4)
            })
            .map(|kv| {
                let (k, v) = kv?;
                Self::decode(&k, &v)
            })
            .collect()
    }

    /// The sequence number of the newest log entry of alert `id` (None for stores written
    /// before this index existed).
    pub fn latest_alert_seq(&self, id: &str) -> Result<Option<u64>, StateError> {
        Ok(self
            .alert_latest
            .get(id.as_bytes())?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes)))
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

    /// Alert `id` read as `T`, a subset of its fields (cheaper than the whole record when a
    /// listing only filters on a few).
    pub fn alert_as<T: for<'de> Deserialize<'de>>(
        &self,
        id: &str,
    ) -> Result<Option<T>, StateError> {
        match self.alerts.get(id.as_bytes())? {
            Some(v) => Ok(Some(Self::decode(id.as_bytes(), &v)?)),
            None => Ok(None),
        }
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

    /// A store of schema version 1 (evidence inline in the machine records) is migrated when
    /// opened: the lines move to the evidence tree, the record keeps none, nothing is lost.
    #[test]
    fn a_store_of_version_1_is_migrated_on_open() {
        use crate::classify::{SignalFields, SignalKind};
        let dir = tempfile::tempdir().unwrap();
        let machine = {
            let store = StateStore::temporary().unwrap();
            let mut engine = crate::pipeline::Engine::new(
                std::sync::Arc::new(crate::config::RuleSource::Builtin.sequences().unwrap()),
                std::sync::Arc::new(
                    crate::calendar::ChangeCalendar::from_yaml("{}\n", "changes.yaml").unwrap(),
                ),
                store,
                0,
                &|_| true,
            )
            .unwrap();
            let mut s = crate::classify::Signal {
                device: "rtr-1".into(),
                time: 1_000,
                received: Some(1_000),
                time_source: Default::default(),
                time_reason: Default::default(),
                kind: SignalKind::BootVar,
                rule_id: "test.boot_var".into(),
                vendor: "cisco_ios".into(),
                fields: SignalFields {
                    image: Some("x.bin".into()),
                    ..Default::default()
                },
                fingerprint: 1,
                message: "boot system flash:x.bin".into(),
                sender: None,
                origin: Default::default(),
            };
            let mut out = Vec::new();
            engine.observe(s.time);
            engine.accept(s.clone()).unwrap();
            s.time = 2_000;
            s.fingerprint = 2;
            s.message = "boot system flash:x.bin again".into();
            engine.observe(s.time);
            engine.accept(s).unwrap();
            engine.finish(&mut out).unwrap();
            engine.store().device("rtr-1").unwrap().unwrap()
        };
        assert_eq!(machine.instances[0].evidence.len(), 2);
        // Version 1's record: the same machine with its lines inline.
        let mut v1 = serde_json::to_value(Versioned {
            v: 1,
            value: &machine,
        })
        .unwrap();
        v1["instances"][0]["evidence"] =
            serde_json::to_value(&machine.instances[0].evidence).unwrap();
        {
            let db = sled::Config::new()
                .path(dir.path().join("db"))
                .open()
                .unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert("schema_version", "1")
                .unwrap();
            db.open_tree("devices")
                .unwrap()
                .insert("rtr-1", serde_json::to_vec(&v1).unwrap())
                .unwrap();
            db.flush().unwrap();
        }
        let store = StateStore::open(dir.path()).unwrap();
        let back = store.device("rtr-1").unwrap().unwrap();
        assert_eq!(back.instances[0].evidence, machine.instances[0].evidence);
        let record = store.devices.get("rtr-1").unwrap().unwrap();
        assert!(!String::from_utf8_lossy(&record).contains("\"evidence\""));
        assert_eq!(store.evidence.len(), 2);
        assert_eq!(&*store.meta.get("schema_version").unwrap().unwrap(), b"2");
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
