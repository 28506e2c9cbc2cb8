//! What the internal topics hold. The signals topic carries, keyed by device, each extracted
//! signal, and from every instance that reads an input partition a progress mark: the latest
//! time that partition has reached, which is what moves the watermark of the partitions'
//! owners. The changelog carries each device's machine, keyed by device, in the state store's
//! own versioned JSON.

use serde::{Deserialize, Serialize};

use crate::classify::Signal;
use crate::time::Millis;

/// One record of the signals topic.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalsRecord {
    Signal(Box<Signal>),
    Mark(Mark),
}

/// An input partition has reached `time` (the latest arrival, else event time, of its records
/// read so far; the wall clock once it is read to its end): every signal extracted from it up
/// to there was produced, and acknowledged, before this mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub topic: String,
    pub partition: i32,
    pub time: Millis,
}

/// The changelog key under which an owner keeps its partition's latest marks (no device id
/// starts with a NUL byte): the next owner starts from them, not from nothing, since the marks
/// before the committed offset are not read again.
pub const MARKS_KEY: &[u8] = b"\0marks";

/// The partition of a device on the signals topic and, with the same number, on the
/// changelog: XXH3-64 of the device id (as the service's workers shard), chosen here rather
/// than by a client's partitioner so the two topics always agree.
pub fn partition_of(device: &str, partitions: i32) -> i32 {
    (xxhash_rust::xxh3::xxh3_64(device.as_bytes()) % partitions.max(1) as u64) as i32
}

impl SignalsRecord {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("signals and marks are plain data and always serialise")
    }

    pub fn decode(bytes: &[u8]) -> Result<SignalsRecord, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_and_devices_keep_their_partition() {
        let m = SignalsRecord::Mark(Mark {
            topic: "syslog".into(),
            partition: 3,
            time: 1_780_000_000_000,
        });
        let text = String::from_utf8(m.encode()).unwrap();
        assert_eq!(
            text,
            r#"{"mark":{"topic":"syslog","partition":3,"time":1780000000000}}"#
        );
        assert!(matches!(
            SignalsRecord::decode(text.as_bytes()),
            Ok(SignalsRecord::Mark(Mark { partition: 3, .. }))
        ));
        assert!(SignalsRecord::decode(b"{}").is_err());
        // The same fixed hash as the workers' shards: stable across builds.
        assert_eq!(partition_of("rtr-0042", 7), 6);
        assert!((0..200).all(|i| (0..4).contains(&partition_of(&format!("d{i}"), 4))));
    }
}
