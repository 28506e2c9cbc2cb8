//! Restoring a signals partition's devices: its changelog partition (the same number) read
//! from the beginning to its end into an empty state store, the last record of each device
//! winning, as compaction would leave it.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::correlate::SequenceRules;
use crate::state::{AwaitedBoot, StateError, StateStore};
use crate::time::Millis;

use super::client;
use super::records::{MARKS_KEY, Mark};
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

/// Writes one changelog record (a machine) into the store with its deadlines and awaited
/// boot, as the engine would have written it.
fn apply(
    store: &StateStore,
    rules: &SequenceRules,
    key: &[u8],
    value: &[u8],
) -> Result<(), StateError> {
    let machine = StateStore::decode_machine(key, value)?;
    let awaited = machine.awaited_boot(rules).map(|reload| AwaitedBoot {
        reload,
        vendor: machine.vendor.clone().unwrap_or_default(),
    });
    let mut deadlines = machine.deadlines(rules);
    deadlines.sort_unstable();
    store.put_device_with_deadlines(&machine, &deadlines, awaited)
}

/// What a restore read: machines written to the store, and the last owner's marks.
#[derive(Debug, Default)]
pub struct Restored {
    pub machines: u64,
    pub marks: HashMap<(String, i32), Millis>,
}

/// Reads changelog partition `partition` into `store` (empty).
pub fn restore(
    k: &KafkaSettings,
    partition: i32,
    rules: &SequenceRules,
    store: &StateStore,
) -> Result<Restored, RestoreError> {
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
    let mut restored = Restored::default();
    if high <= low {
        store.set_deadlines_indexed()?;
        return Ok(restored);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Beginning)
        .map_err(kafka)?;
    consumer.assign(&tpl).map_err(kafka)?;
    loop {
        let Some(got) = consumer.poll(Duration::from_secs(10)) else {
            // Nothing in 10 s below the end we were told of: the broker lost it, or is gone.
            return Err(kafka(KafkaError::NoMessageReceived));
        };
        let msg = got.map_err(kafka)?;
        let offset = msg.offset();
        if let (Some(MARKS_KEY), Some(value)) = (msg.key(), msg.payload()) {
            // The last owner's marks; unreadable ones only cost waiting for new marks.
            if let Ok(marks) = serde_json::from_slice::<Vec<Mark>>(value) {
                restored.marks = marks
                    .into_iter()
                    .map(|m| ((m.topic, m.partition), m.time))
                    .collect();
            }
        } else if let (Some(key), Some(value)) = (msg.key(), msg.payload()) {
            apply(store, rules, key, value).map_err(|source| RestoreError::Record {
                topic: topic.clone(),
                partition,
                offset,
                source,
            })?;
            restored.machines += 1;
        }
        if offset + 1 >= high {
            break;
        }
    }
    store.set_deadlines_indexed()?;
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::calendar::ChangeCalendar;
    use crate::classify::{Signal, SignalFields, SignalKind};
    use crate::correlate::DeviceMachine;
    use crate::pipeline::Engine;
    use crate::time::{HOUR, MINUTE};

    const T0: Millis = 1_780_000_000_000;

    fn staged(kind: SignalKind, t: Millis) -> Signal {
        Signal {
            device: "rtr-a".into(),
            time: t,
            received: Some(t),
            time_source: Default::default(),
            time_reason: Default::default(),
            kind,
            rule_id: format!("test.{kind}"),
            vendor: "cisco_ios".into(),
            fields: SignalFields {
                image: Some("x.bin".into()),
                server: Some("203.0.113.45".into()),
                ..Default::default()
            },
            fingerprint: t as u64,
            message: format!("rtr-a: {kind} at {t}"),
            sender: None,
            origin: Default::default(),
        }
    }

    /// A staged image's timer survives a hand-over: the machine written to the changelog,
    /// applied to an empty store, fires its timeout in the new owner's engine.
    #[test]
    fn a_restored_machine_fires_its_staged_image_timeout() {
        let rules = Arc::new(crate::config::RuleSource::Builtin.sequences().unwrap());
        let calendar = Arc::new(ChangeCalendar::from_yaml("{}", "changes.yaml").unwrap());
        let mut old = Engine::new(
            Arc::clone(&rules),
            Arc::clone(&calendar),
            StateStore::temporary().unwrap(),
            MINUTE,
            &|_| true,
        )
        .unwrap();
        let written: Arc<Mutex<Vec<DeviceMachine>>> = Arc::default();
        let log = Arc::clone(&written);
        old.set_machine_hook(Box::new(move |m| {
            log.lock().unwrap().push(m.clone());
            Ok(())
        }));
        let mut out = Vec::new();
        for s in [
            staged(SignalKind::Transfer, T0),
            staged(SignalKind::BootVar, T0 + MINUTE),
        ] {
            old.observe(s.time);
            old.accept(s).unwrap();
        }
        old.observe(T0 + 10 * MINUTE);
        old.advance(&mut out).unwrap();
        assert!(out.is_empty(), "{out:?}");
        let last = written.lock().unwrap().last().cloned().unwrap();
        let store = StateStore::temporary().unwrap();
        apply(&store, &rules, b"rtr-a", &StateStore::encode_machine(&last)).unwrap();
        store.set_deadlines_indexed().unwrap();
        let mut new = Engine::new(rules, calendar, store, MINUTE, &|_| true).unwrap();
        assert_eq!(new.correlator().pending_devices(), 1);
        new.observe(T0 + 26 * HOUR);
        new.advance(&mut out).unwrap();
        let rules: Vec<&str> = out.iter().map(|a| a.rule_id.as_str()).collect();
        assert_eq!(rules, ["t1601.image_staged"], "{out:?}");
    }
}
