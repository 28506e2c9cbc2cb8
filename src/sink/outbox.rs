//! Durable delivery of alerts: an alert is written to each sink's outbox (a sled tree) before
//! it is delivered, and removed when the sink acknowledges it. After a crash, what was not
//! acknowledged is delivered again; what was acknowledged is not.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::state::{StateError, StateStore};
use crate::suppress::Alert;
use crate::telemetry::{Metrics, SinkLabel};

use super::ndjson_file::NdjsonFile;
use super::webhook::Webhook;

/// Where alerts go.
#[derive(Clone, Debug)]
pub enum SinkKind {
    /// One JSON object per line, appended and synced.
    File(PathBuf),
    /// POST of the alert as JSON; `Idempotency-Key: <id>:<revision>`.
    Webhook(String),
}

impl SinkKind {
    fn name(&self) -> &'static str {
        match self {
            SinkKind::File(_) => "ndjson",
            SinkKind::Webhook(_) => "webhook",
        }
    }
}

/// The outboxes of every sink.
#[derive(Clone)]
pub struct Outbox {
    store: StateStore,
    trees: Vec<(SinkKind, sled::Tree, Arc<Notify>)>,
}

impl Outbox {
    pub fn open(store: &StateStore, sinks: Vec<SinkKind>) -> Result<Outbox, StateError> {
        let mut trees = Vec::new();
        for s in sinks {
            let tree = store.tree(&format!("outbox.{}", s.name()))?;
            trees.push((s, tree, Arc::new(Notify::new())));
        }
        Ok(Outbox {
            store: store.clone(),
            trees,
        })
    }

    /// Queues an alert for every sink (before anyone may see it delivered).
    pub fn push(&self, alert: &Alert) -> Result<(), StateError> {
        let json = super::alert_record(alert);
        let seq = self.store.next_id()?;
        for (_, tree, _) in &self.trees {
            tree.insert(seq.to_be_bytes(), json.as_slice())?;
        }
        Ok(())
    }

    /// Wakes the sinks (after the pushed alerts are durable).
    pub fn notify(&self) {
        for (_, _, notify) in &self.trees {
            notify.notify_one();
        }
    }

    /// Runs one delivery task per sink until `stop`.
    pub fn spawn(
        &self,
        metrics: Arc<Metrics>,
        stop: CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        self.trees
            .iter()
            .map(|(kind, tree, notify)| {
                let (kind, tree, notify) = (kind.clone(), tree.clone(), Arc::clone(notify));
                let metrics = Arc::clone(&metrics);
                let stop = stop.clone();
                tokio::spawn(async move { deliver_loop(kind, tree, notify, metrics, stop).await })
            })
            .collect()
    }
}

/// A started sink.
enum Sink {
    File(NdjsonFile),
    Webhook(Webhook),
}

/// Delivers the tree's alerts in order, each removed once its sink acknowledged it; a failed
/// delivery is retried with a growing pause.
async fn deliver_loop(
    kind: SinkKind,
    tree: sled::Tree,
    notify: Arc<Notify>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let label = SinkLabel { sink: kind.name() };
    let mut sink = match kind {
        SinkKind::File(path) => Sink::File(NdjsonFile::open(path).await),
        SinkKind::Webhook(url) => Sink::Webhook(Webhook::new(url)),
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        metrics
            .outbox_depth
            .get_or_create(&label)
            .set(tree.len() as i64);
        let next = tree.first().ok().flatten();
        let Some((key, value)) = next else {
            tokio::select! {
                _ = notify.notified() => continue,
                _ = stop.cancelled() => return,
            }
        };
        let delivered = match &mut sink {
            Sink::File(file) => file.deliver(&value).await,
            Sink::Webhook(hook) => hook.deliver(&value).await,
        };
        match delivered {
            Ok(()) => {
                let _ = tree.remove(&key);
                metrics.deliveries.get_or_create(&label).inc();
                backoff = Duration::from_millis(100);
            }
            Err(reason) => {
                metrics.delivery_failures.get_or_create(&label).inc();
                tracing::warn!(sink = label.sink, %reason, retry_in_ms = backoff.as_millis() as u64, "Alert delivery failed; will retry.");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
