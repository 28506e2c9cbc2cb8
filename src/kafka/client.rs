//! The librdkafka clients of Kafka mode: their configuration (the `[kafka]` pass-through
//! settings included), a producer that returns only once the broker acknowledged a batch,
//! and the creation of missing internal topics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};

use super::settings::KafkaSettings;

/// A client configuration: bootstrap servers, then the pass-through settings (which may
/// override anything set here).
pub fn config(k: &KafkaSettings) -> ClientConfig {
    with_defaults(k, &[])
}

/// A consumer of group `group`, committing by hand. A member that stops heart-beating is
/// dropped from its group after 10 s (librdkafka's default is 45 s): that bounds fail-over.
pub fn consumer_config(k: &KafkaSettings, group: &str, start: &str) -> ClientConfig {
    with_defaults(
        k,
        &[
            ("group.id", group),
            ("enable.auto.commit", "false"),
            ("auto.offset.reset", start),
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "1000"),
        ],
    )
}

fn with_defaults(k: &KafkaSettings, defaults: &[(&str, &str)]) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.brokers);
    for (key, value) in defaults {
        c.set(*key, *value);
    }
    for (key, value) in &k.settings {
        c.set(key, value);
    }
    c
}

/// Records a batch whose delivery failed, by index, so [`send_all`] produces them again.
#[derive(Default)]
pub struct Acks {
    failed: Mutex<Vec<usize>>,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        if let Err((e, _)) = result {
            tracing::warn!(error = %e, "Kafka record not acknowledged; it is produced again.");
            self.failed
                .lock()
                .expect("the failed list is only pushed to")
                .push(index);
        }
    }
}

pub type AckedProducer = BaseProducer<Acks>;

pub fn producer(k: &KafkaSettings) -> Result<AckedProducer, KafkaError> {
    producer_with(k, &[])
}

/// A producer that sends each record in a batch of its own: for the alerts and changelog,
/// few records that must each arrive (see the README on the test broker).
pub fn single_record_producer(k: &KafkaSettings) -> Result<AckedProducer, KafkaError> {
    producer_with(k, &[("batch.num.messages", "1")])
}

fn producer_with(k: &KafkaSettings, extra: &[(&str, &str)]) -> Result<AckedProducer, KafkaError> {
    // One request in flight per connection keeps a mark behind the signals it covers even
    // when a request is retried.
    let mut defaults = vec![
        ("max.in.flight.requests.per.connection", "1"),
        ("linger.ms", "5"),
    ];
    defaults.extend_from_slice(extra);
    with_defaults(k, &defaults).create_with_context(Acks::default())
}

/// A record to produce.
pub struct Outgoing {
    pub topic: String,
    /// Set for the signals and changelog topics (see `records::partition_of`).
    pub partition: Option<i32>,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// Produces every record and returns once the broker acknowledged all of them; what fails is
/// produced again after a pause, until `stop`. False when stopped before everything was
/// acknowledged (nothing may be committed then).
pub fn send_all(producer: &AckedProducer, records: &[Outgoing], stop: &AtomicBool) -> bool {
    let mut todo: Vec<usize> = (0..records.len()).collect();
    let mut pause = Duration::from_millis(100);
    while !todo.is_empty() {
        for &i in &todo {
            let r = &records[i];
            let mut record = BaseRecord::with_opaque_to(&r.topic, i)
                .key(&r.key)
                .payload(&r.value);
            if let Some(p) = r.partition {
                record = record.partition(p);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        producer.poll(Duration::from_millis(50));
                        record = back;
                    }
                    Err((e, _)) => {
                        tracing::warn!(topic = %r.topic, error = %e, "Cannot produce a Kafka record; it is produced again.");
                        producer.context().failed.lock().expect("push only").push(i);
                        break;
                    }
                }
            }
        }
        if !acknowledged(producer, stop) {
            return false;
        }
        todo = std::mem::take(&mut *producer.context().failed.lock().expect("push only"));
        if !todo.is_empty() {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(10));
        }
    }
    true
}

/// Waits until the broker has acknowledged every record produced and their reports are served
/// (`failed` then holds those it refused). rdkafka's own `flush` polls in steps of 100 ms that
/// each run to their end (rdkafka 0.39), so a batch took at least 100 ms, which capped an
/// instance at about 10k lines/s; this returns within a millisecond of the last report. False
/// when `stop` is set and the broker has not answered for 10 s.
fn acknowledged(producer: &AckedProducer, stop: &AtomicBool) -> bool {
    // A zero-timeout flush sends what lingers at once.
    let _ = producer.flush(Duration::ZERO);
    let mut waiting = Instant::now();
    while producer.in_flight_count() > 0 {
        producer.poll(Duration::from_millis(1));
        if waiting.elapsed() >= Duration::from_secs(10) {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            waiting = Instant::now();
        }
    }
    true
}

/// Creates the internal topics that do not exist: signals and changelog with `partitions`
/// partitions (the changelog compacted where the broker accepts it), alerts likewise.
pub async fn ensure_topics(k: &KafkaSettings) -> Result<(), KafkaError> {
    let admin: AdminClient<DefaultClientContext> = config(k).create()?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for (topic, compact) in [
        (&k.signals_topic, false),
        (&k.changelog_topic, true),
        (&k.alerts_topic, false),
    ] {
        let mut new = NewTopic::new(topic, k.partitions, TopicReplication::Fixed(1));
        if compact {
            new = new.set("cleanup.policy", "compact");
        }
        let mut result = admin.create_topics([&new], &options).await?;
        if compact
            && matches!(
                result.first(),
                Some(Err((_, RDKafkaErrorCode::InvalidConfig)))
            )
        {
            tracing::warn!(%topic, "The broker does not take cleanup.policy=compact; the changelog is created without it and grows until its retention.");
            let new = NewTopic::new(topic, k.partitions, TopicReplication::Fixed(1));
            result = admin.create_topics([&new], &options).await?;
        }
        match result.into_iter().next() {
            Some(Ok(_)) => {
                tracing::info!(%topic, partitions = k.partitions, "Created Kafka topic.")
            }
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | None => {}
            Some(Err((_, code))) => {
                return Err(KafkaError::AdminOp(code));
            }
        }
    }
    Ok(())
}
