//! The input side of Kafka mode: a consumer group reads the input topics (raw syslog lines or
//! ECS JSON, detected per record as `replay` does), extracts signals (noise stops at the
//! prefilter) and produces them to the signals topic keyed by device, followed by a progress
//! mark per input partition. Input offsets are committed once the broker has acknowledged the
//! signals of everything before them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::config::Configured;
use crate::parse::trust::ClockBook;
use crate::pipeline::{AwaitingBoot, Extractor, Origin, Receipt};
use crate::source::InputFormat;
use crate::telemetry::{KindLabel, Metrics, PartitionLabel, TransportLabel};
use crate::time::{Millis, now_ms};

use super::client::{self, AckedProducer, Outgoing};
use super::lag::{self, Lag};
use super::records::{Mark, SignalsRecord, partition_of};
use super::settings::{KafkaSettings, Start};

/// Records taken per batch at most: one acknowledgement wait and one commit for all of them.
const BATCH: usize = 2000;
/// How long a batch waits for more records.
const BATCH_WAIT: Duration = Duration::from_millis(50);
/// How often progress marks go out when nothing else moves them.
const MARK_EVERY: Duration = Duration::from_millis(250);
/// How often partition ends are looked at (lag, and whether a partition is read to its end).
const ENDS_EVERY: Duration = Duration::from_secs(1);

/// What the input thread needs from the service.
pub struct InputParts {
    pub settings: KafkaSettings,
    pub configured: Arc<ArcSwap<Configured>>,
    pub metrics: Arc<Metrics>,
    pub awaiting: Arc<AwaitingBoot>,
    /// Partitions of the signals topic (as found at start-up).
    pub signals_partitions: i32,
    pub stop: Arc<AtomicBool>,
}

/// Builds the input consumer (subscribed) and its producer; errors before the thread starts.
pub fn clients(k: &KafkaSettings) -> Result<(BaseConsumer, AckedProducer), KafkaError> {
    let consumer: BaseConsumer = client::consumer_config(k, &k.group, k.start.as_str()).create()?;
    let topics: Vec<&str> = k.input_topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    Ok((consumer, client::producer(k)?))
}

/// Per input partition: how far it has been read.
#[derive(Default)]
struct Progress {
    /// Latest time its records reached (arrival, else event time); while it is read to its
    /// end, moving on with the wall clock from there.
    time: Option<Millis>,
    /// Since when (wall clock) it has been read to its end, and its time then.
    idle: Option<(Millis, Millis)>,
    /// Offset after the last record read and not yet committed.
    uncommitted: Option<i64>,
    /// The time in the last mark sent.
    marked: Option<Millis>,
}

/// Runs until `stop`: read, extract, produce, commit.
pub fn run(consumer: BaseConsumer, producer: AckedProducer, parts: InputParts) {
    let InputParts {
        settings: k,
        configured,
        metrics,
        awaiting,
        signals_partitions,
        stop,
    } = parts;
    let mut seen = configured.load_full();
    let mut extractor = Extractor::new(
        Arc::clone(&seen.classifier),
        Arc::clone(&seen.inventory),
        Arc::clone(&seen.focus),
        InputFormat::Auto,
    );
    extractor.share_clocks(Arc::new(ClockBook::default()));
    extractor.set_awaiting(awaiting);
    let transport = TransportLabel { transport: "kafka" };
    let received = metrics.lines_received.get_or_create(&transport).clone();
    let processed = metrics.lines_processed.get_or_create(&transport).clone();
    let mut progress: HashMap<(String, i32), Progress> = HashMap::new();
    let mut last_unparsed = 0;
    let mut last_mark = Instant::now();
    let mut last_ends = Instant::now();
    let mut outgoing: Vec<Outgoing> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let current = configured.load();
        if !Arc::ptr_eq(&seen, &current) {
            seen = current.clone();
            extractor.reconfigure(
                Arc::clone(&seen.classifier),
                Arc::clone(&seen.inventory),
                Arc::clone(&seen.focus),
            );
        }
        let started = Instant::now();
        let mut taken = 0;
        while taken < BATCH && started.elapsed() < BATCH_WAIT {
            let Some(got) = consumer.poll(BATCH_WAIT.saturating_sub(started.elapsed())) else {
                break;
            };
            let msg = match got {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "Kafka input consumer error.");
                    continue;
                }
            };
            taken += 1;
            received.inc();
            let payload = msg.payload().unwrap_or_default();
            let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
            let lines = 1 + memchr::memchr_iter(b'\n', payload).count() as u32;
            let origin = Origin {
                file: msg.topic(),
                line: msg.offset().max(0) as u64,
            };
            let receipt = Receipt {
                arrival: msg.timestamp().to_millis(),
                sender: None,
            };
            let got = extractor.extract(payload, lines, &origin, receipt);
            let p = progress
                .entry((msg.topic().to_string(), msg.partition()))
                .or_default();
            p.uncommitted = Some(msg.offset() + 1);
            p.idle = None;
            if let Some(t) = got.time {
                p.time = Some(p.time.map_or(t, |m| m.max(t)));
            }
            if got.signal.is_none() && got.resumed.is_none() {
                processed.inc();
            }
            for signal in [got.resumed, got.signal].into_iter().flatten() {
                metrics
                    .signals
                    .get_or_create(&KindLabel {
                        kind: signal.kind.as_str(),
                    })
                    .inc();
                outgoing.push(Outgoing {
                    topic: k.signals_topic.clone(),
                    partition: Some(partition_of(&signal.device, signals_partitions)),
                    key: signal.device.clone().into_bytes(),
                    value: SignalsRecord::Signal(signal).encode(),
                });
            }
        }
        let stats = &extractor.stats;
        if stats.unparsed != last_unparsed {
            metrics
                .parse_failures
                .inc_by(stats.unparsed - last_unparsed);
            last_unparsed = stats.unparsed;
            extractor.problems.clear();
        }
        // Signals first, acknowledged, then the offsets that produced them.
        if !outgoing.is_empty() {
            if !client::send_all(&producer, &outgoing, &stop) {
                break;
            }
            processed.inc_by(outgoing.len() as u64);
            outgoing.clear();
        }
        commit(&consumer, &mut progress);
        let assigned = assigned(&consumer);
        if last_ends.elapsed() >= ENDS_EVERY {
            last_ends = Instant::now();
            read_to_end(&consumer, &assigned, &mut progress, &metrics, k.start);
        }
        if last_mark.elapsed() >= MARK_EVERY || taken == BATCH {
            last_mark = Instant::now();
            let marks = marks(&k, &assigned, &mut progress, signals_partitions);
            if !marks.is_empty() && !client::send_all(&producer, &marks, &stop) {
                break;
            }
        }
    }
    commit(&consumer, &mut progress);
    tracing::info!("Kafka input stopped.");
}

/// The input partitions assigned to this instance now.
fn assigned(consumer: &BaseConsumer) -> Vec<(String, i32)> {
    consumer
        .assignment()
        .map(|tpl| {
            tpl.elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect()
        })
        .unwrap_or_default()
}

fn commit(consumer: &BaseConsumer, progress: &mut HashMap<(String, i32), Progress>) {
    let mut tpl = TopicPartitionList::new();
    for ((topic, partition), p) in progress.iter_mut() {
        if let Some(next) = p.uncommitted.take() {
            let _ = tpl.add_partition_offset(topic, *partition, Offset::Offset(next));
        }
    }
    if tpl.count() > 0
        && let Err(e) = consumer.commit(&tpl, CommitMode::Async)
    {
        // A partition revoked since it was read: its next owner reads those records again.
        tracing::debug!(error = %e, "Kafka input commit failed.");
    }
}

/// The lag of each assigned partition ([`lag::lags`]), and for a partition read to its end,
/// a time that moves on with the wall clock from its last record's. A quiet feed must still
/// let windows pass (a staged image nobody reboots into is a finding), but a backlog read to
/// its end is not "now": time goes on from where its records stopped, as fast as the clock,
/// so records produced a little later still meet a watermark that has not run past them.
fn read_to_end(
    consumer: &BaseConsumer,
    assigned: &[(String, i32)],
    progress: &mut HashMap<(String, i32), Progress>,
    metrics: &Metrics,
    start: Start,
) {
    for Lag {
        topic,
        partition,
        low,
        high,
        lag,
    } in lag::lags(consumer, assigned, start)
    {
        metrics
            .kafka_lag
            .get_or_create(&PartitionLabel {
                topic: topic.clone(),
                partition,
            })
            .set(lag);
        let p = progress.entry((topic, partition)).or_default();
        if lag == 0 && (p.time.is_some() || high == low) {
            // A partition read to its end by an earlier owner has a time this instance does not
            // know (the owners kept its last mark); only one that never held a record is "now".
            let now = now_ms();
            let (since, base) = *p.idle.get_or_insert((now, p.time.unwrap_or(now)));
            let idle_time = base.saturating_add(now - since);
            p.time = Some(p.time.map_or(idle_time, |t| t.max(idle_time)));
        }
    }
}

/// Progress marks of the assigned input partitions that moved, one per signals partition.
fn marks(
    k: &KafkaSettings,
    assigned: &[(String, i32)],
    progress: &mut HashMap<(String, i32), Progress>,
    signals_partitions: i32,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    for key in assigned {
        let Some(p) = progress.get_mut(key) else {
            continue;
        };
        let Some(time) = p.time else { continue };
        if p.marked == Some(time) {
            continue;
        }
        p.marked = Some(time);
        let value = SignalsRecord::Mark(Mark {
            topic: key.0.clone(),
            partition: key.1,
            time,
        })
        .encode();
        for s in 0..signals_partitions {
            out.push(Outgoing {
                topic: k.signals_topic.clone(),
                partition: Some(s),
                key: Vec::new(),
                value: value.clone(),
            });
        }
    }
    out
}
