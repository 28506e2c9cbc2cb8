//! Restoring a signals partition's devices: its changelog partition (the same number) read
//! from the beginning to its end into an empty state store, the last record of each device
//! winning, as compaction would leave it.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::correlate::SequenceRules;
use crate::state::{AwaitedBoot, StateError, StateStore};

use super::client;
use super::settings::KafkaSettings;

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("changelog {topic} partition {partition}: {source}")]
    Kafka {
        topic: String,
        partition: i32,
        source: KafkaError,
    },
    #[error("changelog {topic} partition {partition} offset {offset}: {source}")]
    Record {
        topic: String,
        partition: i32,
        offset: i64,
        source: StateError,
    },
    #[error("{0}")]
    State(#[from] StateError),
}

/// Reads changelog partition `partition` into `store` (empty); returns the devices written.
pub fn restore(
    k: &KafkaSettings,
    partition: i32,
    rules: &SequenceRules,
    store: &StateStore,
) -> Result<u64, RestoreError> {
    let topic = &k.changelog_topic;
    let kafka = |source| RestoreError::Kafka {
        topic: topic.clone(),
        partition,
        source,
    };
    // Assigned, never subscribed: the group id is never joined, only required.
    let consumer: BaseConsumer =
        client::consumer_config(k, &format!("{}.restore", k.group), "earliest")
            .create()
            .map_err(kafka)?;
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(10))
        .map_err(kafka)?;
    if high <= low {
        store.set_deadlines_indexed()?;
        return Ok(0);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .map_err(kafka)?;
    consumer.assign(&tpl).map_err(kafka)?;
    let mut written = 0;
    loop {
        let Some(got) = consumer.poll(Duration::from_secs(10)) else {
            // Nothing in 10 s below the end we were told of: the broker lost it, or is gone.
            return Err(kafka(KafkaError::NoMessageReceived));
        };
        let msg = got.map_err(kafka)?;
        let offset = msg.offset();
        if let (Some(key), Some(value)) = (msg.key(), msg.payload()) {
            let machine =
                StateStore::decode_machine(key, value).map_err(|source| RestoreError::Record {
                    topic: topic.clone(),
                    partition,
                    offset,
                    source,
                })?;
            let awaited = machine.awaited_boot(rules).map(|reload| AwaitedBoot {
                reload,
                vendor: machine.vendor.clone().unwrap_or_default(),
            });
            let mut deadlines = machine.deadlines(rules);
            deadlines.sort_unstable();
            store.put_device_with_deadlines(&machine, &deadlines, awaited)?;
            written += 1;
        }
        if offset + 1 >= high {
            break;
        }
    }
    store.set_deadlines_indexed()?;
    Ok(written)
}
