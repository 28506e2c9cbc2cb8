//! Kafka mode of `serve` (cargo feature `kafka`): scale-out and fail-over from Kafka's own
//! consumer groups, the repartition pattern of Kafka Streams.
//!
//! ```text
//! input topics (raw syslog / ECS, unkeyed) ─▶ input: extract (noise stops at the prefilter)
//!   ─▶ signals topic, keyed and partitioned by device, with progress marks
//!   ─▶ owner of the partition: the pipeline's engine ─▶ changelog (machine per device)
//!                                                    ─▶ alerts topic (+ file, webhook)
//! ```
//!
//! [`settings`] is the `[kafka]` table (always compiled); [`input`] reads the input topics,
//! [`owner`] the signals topic, [`restore`] reads a changelog partition back, [`records`]
//! defines what the internal topics hold, [`client`] the librdkafka clients and [`lag`] how far
//! behind a consumer is.

pub(crate) mod settings;

#[cfg(feature = "kafka")]
mod client;
#[cfg(feature = "kafka")]
mod input;
#[cfg(feature = "kafka")]
mod lag;
#[cfg(feature = "kafka")]
mod owner;
#[cfg(feature = "kafka")]
pub(crate) mod records;
#[cfg(feature = "kafka")]
mod restore;

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::Configured;
use crate::correlate::Limits;
use crate::pipeline::AwaitingBoot;
use crate::sink::outbox::Outbox;
use crate::telemetry::Metrics;

use settings::KafkaSettings;

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error(
        "kafka: this imagewatch was built without the `kafka` feature (cargo build --features kafka)"
    )]
    NotBuilt,
    #[cfg(feature = "kafka")]
    #[error("kafka ({brokers}): {source}")]
    Client {
        brokers: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("kafka: {0}")]
    Topics(String),
}

/// What Kafka mode takes from the service.
pub struct KafkaParts {
    pub configured: Arc<ArcSwap<Configured>>,
    pub metrics: Arc<Metrics>,
    pub outbox: Outbox,
    pub awaiting: Arc<AwaitingBoot>,
    pub state: PathBuf,
    pub limits: Limits,
    /// The service's `lateness_ms`.
    pub lateness: crate::time::Millis,
    /// The service's `alert_format`: what the alerts topic carries, as every sink.
    pub alert_format: crate::sink::render::AlertFormat,
}

/// The running Kafka threads.
pub struct KafkaTasks {
    #[cfg(feature = "kafka")]
    stop: Arc<std::sync::atomic::AtomicBool>,
    #[cfg(feature = "kafka")]
    threads: Vec<std::thread::JoinHandle<()>>,
}

#[cfg(not(feature = "kafka"))]
pub async fn start(_: KafkaSettings, parts: KafkaParts) -> Result<KafkaTasks, KafkaError> {
    // What a build with the feature would use.
    drop((
        parts.configured,
        parts.metrics,
        parts.outbox,
        parts.awaiting,
        parts.state,
        parts.limits,
        parts.lateness,
        parts.alert_format,
    ));
    Err(KafkaError::NotBuilt)
}

#[cfg(not(feature = "kafka"))]
impl KafkaTasks {
    pub async fn shutdown(self) {}
}

/// Creates missing internal topics, then starts the input and owner threads.
#[cfg(feature = "kafka")]
pub async fn start(k: KafkaSettings, parts: KafkaParts) -> Result<KafkaTasks, KafkaError> {
    use std::sync::atomic::AtomicBool;

    let client = |source| KafkaError::Client {
        brokers: k.brokers.clone(),
        source,
    };
    client::ensure_topics(&k).await.map_err(client)?;
    let probe_settings = k.clone();
    let (signals, inputs) = tokio::task::spawn_blocking(move || topology(&probe_settings))
        .await
        .map_err(|e| KafkaError::Topics(format!("metadata lookup failed: {e}")))??;
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let (owner_consumer, owned) = owner::clients(owner::OwnerParts {
        settings: k.clone(),
        configured: Arc::clone(&parts.configured),
        metrics: Arc::clone(&parts.metrics),
        outbox: parts.outbox.clone(),
        awaiting: Arc::clone(&parts.awaiting),
        state: parts.state.clone(),
        limits: parts.limits,
        lateness: parts.lateness,
        alert_format: parts.alert_format,
        inputs,
        stop: Arc::clone(&stop),
    })
    .map_err(client)?;
    threads.push(
        std::thread::Builder::new()
            .name("kafka-owner".into())
            .spawn(move || owner::run(owner_consumer, owned))
            .map_err(|e| KafkaError::Topics(format!("cannot start a thread: {e}")))?,
    );
    if !k.input_topics.is_empty() {
        let (consumer, producer) = input::clients(&k).map_err(client)?;
        let parts = input::InputParts {
            settings: k.clone(),
            configured: parts.configured,
            metrics: parts.metrics,
            awaiting: parts.awaiting,
            signals_partitions: signals,
            stop: Arc::clone(&stop),
        };
        threads.push(
            std::thread::Builder::new()
                .name("kafka-input".into())
                .spawn(move || input::run(consumer, producer, parts))
                .map_err(|e| KafkaError::Topics(format!("cannot start a thread: {e}")))?,
        );
    }
    tracing::info!(brokers = %k.brokers, group = %k.group, inputs = ?k.input_topics, signals = %k.signals_topic, partitions = signals, "Kafka mode started.");
    Ok(KafkaTasks { stop, threads })
}

/// The signals topic's partition count (checked against the changelog's) and every input
/// partition.
#[cfg(feature = "kafka")]
fn topology(k: &KafkaSettings) -> Result<(i32, Vec<(String, i32)>), KafkaError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use std::time::Duration;

    let client = |source| KafkaError::Client {
        brokers: k.brokers.clone(),
        source,
    };
    let probe: BaseConsumer = client::config(k).create().map_err(client)?;
    let partitions = |topic: &str| -> Result<i32, KafkaError> {
        let md = probe
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(client)?;
        Ok(md
            .topics()
            .first()
            .filter(|t| t.error().is_none())
            .map_or(0, |t| t.partitions().len() as i32))
    };
    let signals = partitions(&k.signals_topic)?;
    let changelog = partitions(&k.changelog_topic)?;
    if signals == 0 || signals != changelog {
        return Err(KafkaError::Topics(format!(
            "{} has {signals} partitions and {} has {changelog}: they must be equal (and not 0)",
            k.signals_topic, k.changelog_topic
        )));
    }
    let mut inputs = Vec::new();
    for topic in &k.input_topics {
        let n = partitions(topic)?;
        if n == 0 {
            return Err(KafkaError::Topics(format!(
                "input topic {topic} does not exist"
            )));
        }
        inputs.extend((0..n).map(|p| (topic.clone(), p)));
    }
    Ok((signals, inputs))
}

#[cfg(feature = "kafka")]
impl KafkaTasks {
    /// Stops reading, settles and commits the owned partitions, leaves the groups.
    pub async fn shutdown(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
    }
}
