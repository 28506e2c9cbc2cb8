//! What a syslog listener gets from the service ([`Intake`]), and the per-listener extractor
//! that turns one received message into a signal for the worker that owns its device.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, oneshot};

use crate::calendar::ChangeCalendar;
use crate::classify::Signal;
use crate::config::Configured;
use crate::correlate::SequenceRules;
use crate::coverage::senders::{SenderTally, Sightings};
use crate::parse::trust::ClockBook;
use crate::pipeline::{AwaitingBoot, Extractor, Origin, Receipt};
use crate::source::InputFormat;
use crate::telemetry::{KindLabel, Metrics, TransportLabel};

/// The narrow handle the service passes to its listeners: the rules to extract with, where
/// signals go, the counters they bump and the limits they keep. Nothing else of the service
/// (store, outbox, API) is in reach of a listener.
#[derive(Clone)]
pub struct Intake {
    /// Rules, inventory and focus in force; a reload swaps them and listeners follow.
    pub configured: Arc<ArcSwap<Configured>>,
    pub metrics: Arc<Metrics>,
    /// One queue per engine worker; a device's signals always go to the same one.
    pub workers: Vec<mpsc::Sender<Job>>,
    pub limits: ListenerLimits,
    /// Recent device clock offsets, learned by every listener together: a device's lines may
    /// come over several connections, and a relay reconnecting must not start from nothing.
    pub clocks: Arc<ClockBook>,
    /// Devices told to reload, awaiting their boot: shared with every listener and worker.
    pub awaiting: Arc<AwaitingBoot>,
    /// Lines per sender for the coverage report; each listener hands over its own tally.
    pub sightings: Arc<Sightings>,
}

/// What goes down a worker's queue: signals from the listeners, and the service's own
/// requests (new rules, a barrier).
pub enum Job {
    /// A signal and the transport it came by.
    Signal(Box<Signal>, &'static str),
    Reconfigure(Arc<SequenceRules>, Arc<ChangeCalendar>),
    /// Answered once everything sent before it has been processed and stored.
    Sync(oneshot::Sender<()>),
}

/// Which worker owns a device. XXH3-64 of the device id, the fixed hash fingerprints use:
/// sharding is not stored, but a fixed hash keeps it the same on every build.
pub fn shard(device: &str, workers: usize) -> usize {
    (xxhash_rust::xxh3::xxh3_64(device.as_bytes()) % workers as u64) as usize
}

/// Limits of the syslog listeners (from the service configuration).
#[derive(Clone, Copy, Debug)]
pub struct ListenerLimits {
    /// Longest message kept, in bytes; longer ones are truncated.
    pub max_line: usize,
    /// Most TCP/TLS connections at once, handshaking ones included.
    pub max_connections: usize,
    /// A TCP/TLS connection that sends nothing for this long is closed.
    pub idle_timeout: Duration,
    /// A TLS client that has not completed its handshake after this long is disconnected.
    pub tls_handshake_timeout: Duration,
}

impl Intake {
    /// True once every worker has stopped (the service is gone).
    pub fn workers_gone(&self) -> bool {
        self.workers.iter().all(|w| w.is_closed())
    }
}

/// A per-listener extractor that follows rule reloads.
pub struct ListenerExtractor {
    seen: Arc<Configured>,
    extractor: Extractor,
    transport: &'static str,
    last_unparsed: u64,
    /// Lines per sender since the last hand-over to [`Intake::sightings`].
    senders: SenderTally,
    /// This listener's samples of the per-transport counters (no family lookup per line).
    pub received: Counter,
    processed: Counter,
}

impl ListenerExtractor {
    pub fn new(intake: &Intake, transport: &'static str) -> Self {
        let seen = intake.configured.load_full();
        let mut extractor = Extractor::new(
            Arc::clone(&seen.classifier),
            Arc::clone(&seen.inventory),
            Arc::clone(&seen.focus),
            InputFormat::Syslog,
        );
        extractor.share_clocks(Arc::clone(&intake.clocks));
        extractor.set_awaiting(Arc::clone(&intake.awaiting));
        let label = TransportLabel { transport };
        let m = &intake.metrics;
        ListenerExtractor {
            seen,
            extractor,
            transport,
            last_unparsed: 0,
            senders: SenderTally::default(),
            received: m.lines_received.get_or_create(&label).clone(),
            processed: m.lines_processed.get_or_create(&label).clone(),
        }
    }

    /// Picks up reloaded rules.
    pub fn follow(&mut self, intake: &Intake) {
        let current = intake.configured.load();
        if !Arc::ptr_eq(&self.seen, &current) {
            self.seen = current.clone();
            self.extractor.reconfigure(
                Arc::clone(&self.seen.classifier),
                Arc::clone(&self.seen.inventory),
                Arc::clone(&self.seen.focus),
            );
        }
    }

    /// Extracts one received message: its signals (a device's return after a reload, then the
    /// line's own) with the worker they go to, or nothing for noise (counted as processed).
    fn extract(
        &mut self,
        intake: &Intake,
        bytes: &[u8],
        truncated: bool,
        sender: &str,
        arrival: i64,
    ) -> [Option<(usize, Job)>; 2] {
        let m = &intake.metrics;
        if truncated {
            m.truncated_lines.inc();
        }
        let origin = Origin {
            file: self.transport,
            line: 0,
        };
        let receipt = Receipt {
            arrival: Some(arrival),
            sender: Some(sender),
        };
        let got = self.extractor.extract(bytes, 1, &origin, receipt);
        let stats = &self.extractor.stats;
        if stats.unparsed != self.last_unparsed {
            m.parse_failures.inc_by(stats.unparsed - self.last_unparsed);
            self.last_unparsed = stats.unparsed;
            self.extractor.problems.clear();
        }
        if got.signal.is_none() && got.resumed.is_none() {
            self.processed.inc();
        }
        for s in [&got.resumed, &got.signal].into_iter().flatten() {
            self.senders.link(sender, &s.device);
        }
        [got.resumed, got.signal].map(|s| s.map(|s| self.job(intake, *s)))
    }

    fn job(&self, intake: &Intake, signal: Signal) -> (usize, Job) {
        intake
            .metrics
            .signals
            .get_or_create(&KindLabel {
                kind: signal.kind.as_str(),
            })
            .inc();
        let worker = shard(&signal.device, intake.workers.len());
        (worker, Job::Signal(Box::new(signal), self.transport))
    }

    /// Counts a line for its sender, without reading it; hands the tally over once a second.
    #[inline]
    fn count_sender(&mut self, intake: &Intake, sender: &str, arrival: i64) {
        if self.senders.count(sender, arrival) {
            self.senders.flush(&intake.sightings, arrival);
        }
    }

    /// Hands this listener's lines per sender over to the coverage report: after a batch, when
    /// a connection goes quiet or ends.
    pub fn flush_senders(&mut self, intake: &Intake, now: i64) {
        self.senders.flush(&intake.sightings, now);
    }

    /// One message from a stream, received at `arrival`: waits for room in the queue
    /// (back-pressure).
    pub async fn handle_waiting(
        &mut self,
        intake: &Intake,
        bytes: &[u8],
        truncated: bool,
        sender: &str,
        arrival: i64,
    ) {
        self.follow(intake);
        self.received.inc();
        self.count_sender(intake, sender, arrival);
        for (worker, job) in self
            .extract(intake, bytes, truncated, sender, arrival)
            .into_iter()
            .flatten()
        {
            intake.metrics.queue_depth.inc();
            if intake.workers[worker].send(job).await.is_err() {
                intake.metrics.queue_depth.dec();
            }
        }
    }

    /// One datagram: a full queue drops its signal (counted); false then.
    pub fn handle_datagram(
        &mut self,
        intake: &Intake,
        bytes: &[u8],
        truncated: bool,
        sender: &str,
        arrival: i64,
    ) -> bool {
        let mut sent = true;
        self.count_sender(intake, sender, arrival);
        for (worker, job) in self
            .extract(intake, bytes, truncated, sender, arrival)
            .into_iter()
            .flatten()
        {
            // Counted before the send: the worker may take the job (and decrement) at once.
            intake.metrics.queue_depth.inc();
            if intake.workers[worker].try_send(job).is_err() {
                intake.metrics.queue_depth.dec();
                intake.metrics.udp_dropped.inc();
                sent = false;
            }
        }
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shards come from the same published hash as fingerprints (XXH3-64), not from std's
    /// unspecified one, so a device's worker is the same on every build.
    #[test]
    fn shard_uses_the_fixed_hash() {
        assert_eq!(0x8a68_8379_b4b8_e24e_u64 % 7, 6);
        assert_eq!(shard("rtr-0042", 7), 6);
        assert!((0..100).all(|i| shard(&format!("d{i}"), 4) < 4));
    }
}
