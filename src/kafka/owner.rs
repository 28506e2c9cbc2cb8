//! The correlating side of Kafka mode: the signals consumer group. Each signals partition this
//! instance is assigned gets an engine of its own (the pipeline's [`Engine`], on a state store
//! of its own), restored from the changelog partition of the same number before any of its
//! signals is processed; its machine changes go to the changelog and its alerts to the alerts
//! topic (and to the file and webhook sinks through the outbox). A signals offset is committed
//! only once the broker has acknowledged the changelog and alert records of every signal before
//! it; on revocation a partition is settled, committed and dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::config::Configured;
use crate::correlate::{DeviceMachine, Limits};
use crate::pipeline::{AwaitingBoot, Engine};
use crate::sink::outbox::Outbox;
use crate::state::{StateError, StateStore, StoreOptions};
use crate::suppress::Alert;
use crate::telemetry::{Metrics, PartitionLabel};
use crate::time::Millis;

use super::client::{self, AckedProducer, Outgoing};
use super::lag;
use super::records::{MARKS_KEY, Mark, SignalsRecord};
use super::restore;
use super::settings::{KafkaSettings, Start};

/// Records taken per batch at most before the owned partitions are settled.
const BATCH: usize = 2000;
const BATCH_WAIT: Duration = Duration::from_millis(50);
/// How often the lag of the owned partitions is asked for.
const LAG_EVERY: Duration = Duration::from_secs(2);
/// How often an owned partition's marks go to the changelog (and when it is released).
const MARKS_EVERY: Duration = Duration::from_secs(1);
/// sled page cache of one partition's store: the changelog is the durable copy.
const PARTITION_CACHE: u64 = 8 << 20;

/// What the owner needs from the service.
pub struct OwnerParts {
    pub settings: KafkaSettings,
    pub configured: Arc<ArcSwap<Configured>>,
    pub metrics: Arc<Metrics>,
    pub outbox: Outbox,
    pub awaiting: Arc<AwaitingBoot>,
    /// Where the partitions' stores live (`<state>/kafka/<signals topic>-<n>`).
    pub state: PathBuf,
    pub limits: Limits,
    /// How long a signal waits for earlier ones of its device, in the marks' time.
    pub lateness: Millis,
    /// What the alerts topic carries (the service's `alert_format`).
    pub alert_format: crate::sink::render::AlertFormat,
    /// Every input partition (topic, number): the watermark waits for a mark from each.
    pub inputs: Vec<(String, i32)>,
    pub stop: Arc<AtomicBool>,
}

/// An accepted signal the engine has not processed yet.
#[derive(Debug)]
struct Waiting {
    time: Millis,
    device: String,
    fingerprint: u64,
}

/// One owned signals partition.
struct Partition {
    engine: Engine,
    /// Accepted signals the engine has not processed yet, by offset: the commit stays before
    /// the first of them.
    waiting: BTreeMap<i64, Waiting>,
    /// Devices whose machine was written since the last settle: their changelog records.
    changed: Arc<Mutex<BTreeSet<String>>>,
    /// Offset after the last record read.
    next: Option<i64>,
    committed: Option<i64>,
    /// Latest mark per input partition.
    marks: HashMap<(String, i32), Millis>,
    /// When the marks last went to the changelog.
    marks_written: Instant,
    /// Changelog and alert records the engine's hooks produced, not yet sent.
    outgoing: Arc<Mutex<Vec<Outgoing>>>,
    /// Rules and calendar the engine runs with.
    seen: Arc<Configured>,
}

/// The owned partitions, shared by the loop and the rebalance callbacks (both run on the
/// owner's thread: the callbacks inside `poll`, which is never called with the lock held).
pub struct Owned {
    parts: OwnerParts,
    producer: AckedProducer,
    partitions: BTreeMap<i32, Partition>,
    /// Assigned, not restored yet.
    to_restore: BTreeSet<i32>,
}

/// Rebalance callbacks: revoked partitions are settled and committed before they go,
/// assigned ones wait for their restore.
pub struct OwnerContext {
    owned: Arc<Mutex<Owned>>,
}

impl ClientContext for OwnerContext {}

impl ConsumerContext for OwnerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut owned = self
                .owned
                .lock()
                .expect("the owner never panics holding it");
            for e in tpl.elements() {
                owned.release(e.partition(), consumer);
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let mut owned = self
                .owned
                .lock()
                .expect("the owner never panics holding it");
            let assigned: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
            tracing::info!(partitions = ?assigned, "Signals partitions assigned.");
            owned.to_restore.extend(assigned);
        }
    }
}

pub type OwnerConsumer = BaseConsumer<OwnerContext>;

/// Builds the signals consumer (subscribed) with its shared state.
pub fn clients(parts: OwnerParts) -> Result<(OwnerConsumer, Arc<Mutex<Owned>>), KafkaError> {
    let k = &parts.settings;
    let producer = client::single_record_producer(k)?;
    let owned = Arc::new(Mutex::new(Owned {
        producer,
        partitions: BTreeMap::new(),
        to_restore: BTreeSet::new(),
        parts,
    }));
    let k = &owned.lock().expect("just made").parts.settings.clone();
    // Committed offsets are the truth; a new group reads the whole topic.
    let consumer: OwnerConsumer =
        client::consumer_config(k, &format!("{}.signals", k.group), "earliest")
            .create_with_context(OwnerContext {
                owned: Arc::clone(&owned),
            })?;
    consumer.subscribe(&[&k.signals_topic])?;
    Ok((consumer, owned))
}

/// Runs until `stop`: restore, read, settle, commit.
pub fn run(consumer: OwnerConsumer, owned: Arc<Mutex<Owned>>) {
    let lock = || owned.lock().expect("the owner never panics holding it");
    let stop = Arc::clone(&lock().parts.stop);
    let mut last_lag = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        lock().restore_assigned();
        let started = Instant::now();
        let mut taken = 0;
        while taken < BATCH && started.elapsed() < BATCH_WAIT {
            let Some(got) = consumer.poll(BATCH_WAIT.saturating_sub(started.elapsed())) else {
                break;
            };
            taken += 1;
            match got {
                Ok(msg) => lock().take(&msg),
                Err(e) => tracing::warn!(error = %e, "Kafka signals consumer error."),
            }
        }
        let mut o = lock();
        let partitions: Vec<i32> = o.partitions.keys().copied().collect();
        for p in partitions {
            if !o.settle(p, &consumer, false) {
                break;
            }
        }
        if last_lag.elapsed() >= LAG_EVERY {
            last_lag = Instant::now();
            o.lag(&consumer);
        }
    }
    let mut o = lock();
    let partitions: Vec<i32> = o.partitions.keys().copied().collect();
    for p in partitions {
        o.release(p, &consumer);
    }
    drop(o);
    consumer.unsubscribe();
    tracing::info!("Kafka signals consumer stopped.");
}

/// A machine as its changelog record: without the deliveries of signals it accepted but has
/// not processed. Those are not committed, so the partition's next owner reads them again,
/// and must not take them for repeats of what this machine already holds.
fn changelog_value(mut machine: DeviceMachine, waiting: &BTreeMap<i64, Waiting>) -> Vec<u8> {
    let unprocessed: Vec<(Millis, u64)> = waiting
        .values()
        .filter(|w| w.device == machine.device)
        .map(|w| (w.time, w.fingerprint))
        .collect();
    if !unprocessed.is_empty() {
        machine.seen.retain(|d| !unprocessed.contains(d));
    }
    StateStore::encode_machine(&machine)
}

impl Owned {
    /// Restores every assigned partition not restored yet; a failure is retried each second
    /// (nothing of the partition is processed meanwhile).
    fn restore_assigned(&mut self) {
        while let Some(p) = self.to_restore.first().copied() {
            match self.restore(p) {
                Ok(()) => {
                    self.to_restore.remove(&p);
                }
                Err(e) => {
                    tracing::error!(partition = p, error = %e, "Cannot restore a signals partition from the changelog; retrying.");
                    if self.parts.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    }

    fn store_dir(&self, p: i32) -> PathBuf {
        self.parts
            .state
            .join("kafka")
            .join(format!("{}-{p}", self.parts.settings.signals_topic))
    }

    /// A fresh store for partition `p`, its devices read from the changelog, and an engine on
    /// it. The local store is wiped first: while another instance owned the partition the
    /// changelog moved on, and only the changelog says where.
    fn restore(&mut self, p: i32) -> Result<(), restore::RestoreError> {
        self.partitions.remove(&p);
        let dir = self.store_dir(p);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| {
                StateError::Open(
                    dir.clone(),
                    format!("cannot clear the partition's store: {e}"),
                )
            })?;
        }
        let store = StateStore::open_with(
            &dir,
            StoreOptions {
                cache_bytes: PARTITION_CACHE,
            },
        )?;
        let started = Instant::now();
        let seen = self.parts.configured.load_full();
        let restored = restore::restore(&self.parts.settings, p, &seen.sequences, &store)?;
        let records = restored.machines;
        let mut engine = Engine::new(
            Arc::clone(&seen.sequences),
            Arc::clone(&seen.calendar),
            store,
            self.parts.lateness,
            &|_| true,
        )?;
        // The changelog is the durable copy: the partition's store is a cache.
        engine.set_durable_buffer(false);
        engine.set_limits(self.parts.limits);
        engine.set_awaiting(Arc::clone(&self.parts.awaiting));
        let outgoing: Arc<Mutex<Vec<Outgoing>>> = Arc::default();
        let k = &self.parts.settings;
        let (alerts_topic, queue, out, format) = (
            k.alerts_topic.clone(),
            self.parts.outbox.clone(),
            Arc::clone(&outgoing),
            self.parts.alert_format,
        );
        engine.set_alert_hook(Box::new(move |alert: &Alert| {
            queue.push(alert)?;
            out.lock().expect("push only").push(Outgoing {
                topic: alerts_topic.clone(),
                partition: None,
                key: alert.id.clone().into_bytes(),
                value: crate::sink::render::render_bytes(alert, format),
            });
            Ok(())
        }));
        let changed: Arc<Mutex<BTreeSet<String>>> = Arc::default();
        let noted = Arc::clone(&changed);
        engine.set_machine_hook(Box::new(move |machine| {
            let mut noted = noted.lock().expect("insert only");
            if !noted.contains(&machine.device) {
                noted.insert(machine.device.clone());
            }
            Ok(())
        }));
        let took = started.elapsed();
        let m = &self.parts.metrics;
        m.kafka_restores.inc();
        m.kafka_restored_devices.inc_by(records);
        m.kafka_restore_seconds.inc_by(took.as_secs_f64());
        m.kafka_last_restore_seconds.set(took.as_secs_f64());
        tracing::info!(
            partition = p,
            records,
            took_ms = took.as_millis() as u64,
            "Signals partition restored from the changelog."
        );
        self.partitions.insert(
            p,
            Partition {
                engine,
                waiting: BTreeMap::new(),
                changed,
                next: None,
                committed: None,
                marks: restored.marks,
                marks_written: Instant::now(),
                outgoing,
                seen,
            },
        );
        m.kafka_partitions_owned.set(self.partitions.len() as i64);
        Ok(())
    }

    /// One record of the signals topic.
    fn take(&mut self, msg: &rdkafka::message::BorrowedMessage<'_>) {
        let p = msg.partition();
        if !self.partitions.contains_key(&p) {
            if !self.to_restore.contains(&p) {
                return; // Revoked meanwhile: its next owner reads it.
            }
            self.restore_assigned();
        }
        let Some(part) = self.partitions.get_mut(&p) else {
            return;
        };
        let offset = msg.offset();
        part.next = Some(offset + 1);
        match SignalsRecord::decode(msg.payload().unwrap_or_default()) {
            Ok(SignalsRecord::Signal(signal)) => {
                let waiting = Waiting {
                    time: signal.time,
                    device: signal.device.clone(),
                    fingerprint: signal.fingerprint,
                };
                let before = part.engine.stats.duplicates;
                if let Err(e) = part.engine.accept(*signal) {
                    tracing::error!(partition = p, offset, error = %e, "Cannot take a signal; it is read again after a restart.");
                    part.waiting.insert(
                        offset,
                        Waiting {
                            time: Millis::MAX,
                            ..waiting
                        },
                    );
                } else if part.engine.stats.duplicates == before {
                    part.waiting.insert(offset, waiting);
                } else {
                    self.parts.metrics.duplicates.inc();
                }
            }
            Ok(SignalsRecord::Mark(mark)) => {
                let t = part.marks.entry((mark.topic, mark.partition)).or_default();
                *t = (*t).max(mark.time);
            }
            Err(reason) => {
                tracing::warn!(topic = msg.topic(), partition = p, offset, %reason, "Unreadable record on the signals topic; skipped.");
            }
        }
    }

    /// The event time every input partition has reached (None until each has been marked).
    fn input_time(&self, marks: &HashMap<(String, i32), Millis>) -> Option<Millis> {
        if self.parts.inputs.is_empty() {
            return marks.values().min().copied();
        }
        self.parts
            .inputs
            .iter()
            .map(|key| marks.get(key).copied())
            .try_fold(Millis::MAX, |min, t| t.map(|t| min.min(t)))
    }

    /// Moves partition `p`'s engine to the marks' time, sends what it produced and commits
    /// what is settled. False when stopped before the broker acknowledged.
    fn settle(&mut self, p: i32, consumer: &OwnerConsumer, releasing: bool) -> bool {
        let current = self.parts.configured.load_full();
        let time = {
            let Some(part) = self.partitions.get(&p) else {
                return true;
            };
            self.input_time(&part.marks)
        };
        let part = self.partitions.get_mut(&p).expect("checked above");
        if !Arc::ptr_eq(&part.seen, &current) {
            part.engine.reconfigure(
                Arc::clone(&current.sequences),
                Arc::clone(&current.calendar),
            );
            part.seen = current;
        }
        if let Some(t) = time {
            part.engine.observe(t);
        }
        let before = part.engine.stats.clone();
        let mut alerts = Vec::new();
        if let Err(e) = part.engine.advance(&mut alerts) {
            tracing::error!(partition = p, error = %e, "State store failed while processing; alerts may be late.");
        }
        if let Some(w) = part.engine.watermark() {
            part.waiting.retain(|_, s| s.time > w);
        }
        let mut records = std::mem::take(&mut *part.outgoing.lock().expect("push only"));
        if part.marks_written.elapsed() >= MARKS_EVERY || releasing {
            part.marks_written = Instant::now();
            let marks: Vec<Mark> = part
                .marks
                .iter()
                .map(|((topic, partition), time)| Mark {
                    topic: topic.clone(),
                    partition: *partition,
                    time: *time,
                })
                .collect();
            records.push(Outgoing {
                topic: self.parts.settings.changelog_topic.clone(),
                partition: Some(p),
                key: MARKS_KEY.to_vec(),
                value: serde_json::to_vec(&marks).expect("marks always serialise"),
            });
        }
        let changed = std::mem::take(&mut *part.changed.lock().expect("insert only"));
        for device in changed {
            let machine = match part.engine.correlator().device(&device) {
                Some(m) => Some(m.clone()),
                None => part.engine.store().device(&device).ok().flatten(),
            };
            if let Some(machine) = machine {
                records.push(Outgoing {
                    topic: self.parts.settings.changelog_topic.clone(),
                    partition: Some(p),
                    key: device.into_bytes(),
                    value: changelog_value(machine, &part.waiting),
                });
            }
        }
        if !records.is_empty() {
            // Alerts acknowledged first, then the changelog that records them as emitted (the
            // engine's own order): a crash in between repeats an alert, never loses one.
            let (alerts, changelog): (Vec<Outgoing>, Vec<Outgoing>) = records
                .into_iter()
                .partition(|r| r.topic == self.parts.settings.alerts_topic);
            for batch in [alerts, changelog] {
                if !batch.is_empty() && !client::send_all(&self.producer, &batch, &self.parts.stop)
                {
                    return false;
                }
            }
            self.parts.outbox.notify();
        }
        let m = &self.parts.metrics;
        m.findings
            .inc_by(part.engine.stats.findings - before.findings);
        for alert in &alerts {
            m.alerts.inc();
            if alert.suppressed {
                m.suppressed.inc();
            }
            tracing::info!(alert = %alert.id, revision = alert.revision, device = %alert.device, rule = %alert.rule_id, severity = alert.severity.as_str(), suppressed = alert.suppressed, partition = p, "Alert.");
        }
        let settled = part.waiting.keys().next().copied().or(part.next);
        if let Some(next) = settled
            && settled != part.committed
        {
            let mut tpl = TopicPartitionList::new();
            let offset = Offset::Offset(next);
            if tpl
                .add_partition_offset(&self.parts.settings.signals_topic, p, offset)
                .is_ok()
                && consumer.commit(&tpl, CommitMode::Async).is_ok()
            {
                part.committed = settled;
            }
        }
        true
    }

    /// Settles partition `p`, commits it synchronously and lets it go.
    fn release(&mut self, p: i32, consumer: &OwnerConsumer) {
        self.to_restore.remove(&p);
        if !self.partitions.contains_key(&p) {
            return;
        }
        self.settle(p, consumer, true);
        let settled = self
            .partitions
            .get(&p)
            .and_then(|part| part.waiting.keys().next().copied().or(part.next));
        if let Some(offset) = settled {
            let mut tpl = TopicPartitionList::new();
            if tpl
                .add_partition_offset(
                    &self.parts.settings.signals_topic,
                    p,
                    Offset::Offset(offset),
                )
                .is_ok()
                && let Err(e) = consumer.commit(&tpl, CommitMode::Sync)
            {
                tracing::warn!(partition = p, error = %e, "Cannot commit a revoked signals partition; its next owner reads the rest again.");
            }
        }
        self.partitions.remove(&p);
        let m = &self.parts.metrics;
        m.kafka_partitions_owned.set(self.partitions.len() as i64);
        let _ = m.kafka_lag.remove(&PartitionLabel {
            topic: self.parts.settings.signals_topic.clone(),
            partition: p,
        });
        tracing::info!(partition = p, "Signals partition released.");
    }

    /// Records behind each owned partition's end.
    fn lag(&self, consumer: &OwnerConsumer) {
        let topic = &self.parts.settings.signals_topic;
        let owned: Vec<(String, i32)> = self
            .partitions
            .keys()
            .map(|&p| (topic.clone(), p))
            .collect();
        // The group reads a new partition from its start (see `clients`).
        for l in lag::lags(consumer, &owned, Start::Earliest) {
            self.parts
                .metrics
                .kafka_lag
                .get_or_create(&PartitionLabel {
                    topic: l.topic,
                    partition: l.partition,
                })
                .set(l.lag);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A delivery the machine accepted but has not processed leaves its changelog record: the
    /// next owner, reading that signal again, processes it instead of dropping it as a repeat.
    /// Processed deliveries stay, so signals read again after them are still repeats.
    #[test]
    fn the_changelog_forgets_deliveries_still_waiting() {
        let mut m = DeviceMachine::new("rtr-a", None, None);
        assert!(m.first_delivery(100, 1));
        assert!(m.first_delivery(200, 2));
        let mut waiting = BTreeMap::new();
        waiting.insert(
            7,
            Waiting {
                time: 200,
                device: "rtr-a".into(),
                fingerprint: 2,
            },
        );
        waiting.insert(
            8,
            Waiting {
                time: 100,
                device: "rtr-b".into(),
                fingerprint: 1,
            },
        );
        let value = changelog_value(m.clone(), &waiting);
        let mut restored = StateStore::decode_machine(b"rtr-a", &value).unwrap();
        assert!(
            restored.first_delivery(200, 2),
            "the waiting signal is taken again"
        );
        assert!(
            !restored.first_delivery(100, 1),
            "the processed one is a repeat"
        );
        let whole = StateStore::decode_machine(b"rtr-a", &changelog_value(m, &BTreeMap::new()));
        assert!(!whole.unwrap().first_delivery(200, 2));
    }
}
