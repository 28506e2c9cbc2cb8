//! Consumer lag of the assigned partitions, without a request to the broker: the partition ends
//! librdkafka keeps from its fetch responses, and where reading resumes — the position, or,
//! while nothing has been handed over since the assignment, the committed offset.
//!
//! Asking the broker for the ends (ListOffsets) on every pass cost a round trip per partition
//! that queues behind the consumer's own idle fetch, which the broker holds for up to
//! `fetch.wait.max.ms` (requests on a connection are answered in order): the loop waited, and
//! requests with a shorter timeout expired ("held back by preceding FetchRequest").

use std::ffi::CString;
use std::time::Duration;

use rdkafka::bindings::{rd_kafka_get_watermark_offsets, rd_kafka_resp_err_t};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};

use super::settings::Start;

/// How long the committed offsets of freshly assigned partitions are waited for.
const COMMITTED_WAIT: Duration = Duration::from_secs(1);

/// One partition's ends and lag.
#[derive(Debug, PartialEq, Eq)]
pub struct Lag {
    pub topic: String,
    pub partition: i32,
    /// The partition's first offset (0 when the broker has not said).
    pub low: i64,
    /// Its end: the offset the next record produced to it will get.
    pub high: i64,
    /// Records between where reading resumes and `high`.
    pub lag: i64,
}

/// Where reading a partition resumes: after the last record handed over, else (none since the
/// assignment) at the committed offset, else where `start` puts a group without one. A
/// partition read to its end before a rebalance gave it back has no position until a new
/// record arrives: its lag is 0, not its whole length.
pub fn next_to_read(
    position: Option<i64>,
    committed: Option<i64>,
    low: i64,
    high: i64,
    start: Start,
) -> i64 {
    position.or(committed).unwrap_or(match start {
        Start::Earliest => low,
        Start::Latest => high,
    })
}

fn offset(o: Offset) -> Option<i64> {
    match o {
        Offset::Offset(n) if n >= 0 => Some(n),
        _ => None,
    }
}

/// The ends of a partition as of the consumer's last fetch response for it; None before one.
fn cached_watermarks<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
) -> Option<(i64, i64)> {
    let topic = CString::new(topic).ok()?;
    let (mut low, mut high) = (-1_i64, -1_i64);
    // SAFETY: the handle is the consumer's, alive for the call; `topic` is a NUL-terminated
    // string that outlives it; `low` and `high` are valid for writes. librdkafka only reads
    // the partition's offsets under its lock (rd_kafka_get_watermark_offsets).
    let err = unsafe {
        rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (err == rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some((low.max(0), high))
}

/// The lag of each of `partitions` whose end is known. A partition with no position is left out
/// when its committed offset cannot be read (a wrong lag is worse than an old one).
pub fn lags<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    partitions: &[(String, i32)],
    start: Start,
) -> Vec<Lag> {
    let positions = consumer.position().ok();
    let position = |topic: &str, partition: i32| {
        positions
            .as_ref()
            .and_then(|tpl| tpl.find_partition(topic, partition))
            .and_then(|e| offset(e.offset()))
    };
    let ends: Vec<(&String, i32, i64, i64)> = partitions
        .iter()
        .filter_map(|(topic, partition)| {
            cached_watermarks(consumer, topic, *partition)
                .map(|(low, high)| (topic, *partition, low, high))
        })
        .collect();
    let mut unread = TopicPartitionList::new();
    for (topic, partition, ..) in &ends {
        if position(topic, *partition).is_none() {
            unread.add_partition(topic, *partition);
        }
    }
    let committed = if unread.count() > 0 {
        consumer.committed_offsets(unread, COMMITTED_WAIT).ok()
    } else {
        None
    };
    let mut out = Vec::new();
    for (topic, partition, low, high) in ends {
        let at = position(topic, partition);
        let committed = match (&at, &committed) {
            (Some(_), _) => None,
            (None, Some(tpl)) => tpl
                .find_partition(topic, partition)
                .and_then(|e| offset(e.offset())),
            (None, None) => continue,
        };
        let next = next_to_read(at, committed, low, high, start);
        out.push(Lag {
            topic: topic.clone(),
            partition,
            low,
            high,
            lag: (high - next).max(0),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A partition this instance read to its end (committed 7253) and was given back by a
    /// rebalance, with nothing new on it: no position, lag 0. Counting from the partition's
    /// start instead (the earlier fallback) reported 7253 records behind, forever.
    #[test]
    fn a_partition_given_back_at_its_end_has_no_lag() {
        let next = next_to_read(None, Some(7253), 0, 7253, Start::Earliest);
        assert_eq!(7253 - next, 0);
        // Records read since the assignment: the position wins over the committed offset.
        assert_eq!(
            next_to_read(Some(7000), Some(6000), 0, 7253, Start::Earliest),
            7000
        );
        // Nothing committed: where the group starts.
        assert_eq!(next_to_read(None, None, 5, 90, Start::Earliest), 5);
        assert_eq!(next_to_read(None, None, 5, 90, Start::Latest), 90);
    }
}
