//! Durable delivery of alerts: an alert is written to each sink's outbox (a sled tree) before
//! it is delivered, and removed when the sink acknowledges it. After a crash, what was not
//! acknowledged is delivered again; what was acknowledged is not.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::state::{StateError, StateStore};
use crate::suppress::Alert;
use crate::telemetry::{Metrics, SinkLabel};

use super::health::{SinkFailure, SinkHealth, shown_url};
use super::ndjson_file::NdjsonFile;
use super::render::AlertFormat;
use super::webhook::{Webhook, WebhookSettings};

/// Where alerts go.
#[derive(Clone, Debug)]
pub enum SinkKind {
    /// One record per line, appended and synced.
    File(PathBuf),
    /// POST of the record (or a batch of them) to an HTTP receiver.
    Webhook(WebhookSettings),
}

impl SinkKind {
    fn name(&self) -> &'static str {
        match self {
            SinkKind::File(_) => "ndjson",
            SinkKind::Webhook(_) => "webhook",
        }
    }

    /// What the sink delivers to, as logs and `/healthz` show it (no credentials).
    fn target(&self) -> String {
        match self {
            SinkKind::File(path) => path.display().to_string(),
            SinkKind::Webhook(settings) => shown_url(&settings.url),
        }
    }
}

/// The outboxes of every sink. An outbox holds the native record; each sink renders it in
/// `format` as it delivers, so a change of format applies to what is still queued.
#[derive(Clone)]
pub struct Outbox {
    store: StateStore,
    trees: Vec<(SinkKind, sled::Tree, Arc<Notify>)>,
    format: AlertFormat,
    /// One per sink, in the order of `trees`.
    health: Vec<Arc<SinkHealth>>,
}

impl Outbox {
    pub fn open(
        store: &StateStore,
        sinks: Vec<SinkKind>,
        format: AlertFormat,
    ) -> Result<Outbox, StateError> {
        let mut trees = Vec::new();
        let mut health = Vec::new();
        for s in sinks {
            let tree = store.tree(&format!("outbox.{}", s.name()))?;
            health.push(Arc::new(SinkHealth::new(s.name(), s.target())));
            trees.push((s, tree, Arc::new(Notify::new())));
        }
        Ok(Outbox {
            store: store.clone(),
            trees,
            format,
            health,
        })
    }

    /// The sinks whose delivery has been failing for longer than `allowed`.
    pub fn failing_longer_than(&self, allowed: Duration) -> Vec<SinkFailure> {
        self.health
            .iter()
            .filter_map(|h| h.failing_longer_than(allowed))
            .collect()
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
            .zip(&self.health)
            .map(|((kind, tree, notify), health)| {
                let (kind, tree, notify) = (kind.clone(), tree.clone(), Arc::clone(notify));
                let (health, metrics) = (Arc::clone(health), Arc::clone(&metrics));
                let stop = stop.clone();
                let format = self.format;
                tokio::spawn(async move {
                    deliver_loop(kind, format, tree, notify, health, metrics, stop).await
                })
            })
            .collect()
    }
}

/// A started sink.
enum Sink {
    File(NdjsonFile),
    Webhook(Box<Webhook>),
}

/// Delivers the tree's alerts in order, each removed once its sink acknowledged it; a failed
/// delivery is retried with a growing pause. A batching webhook takes up to its batch size at
/// once, waiting up to its batch wait for a batch to fill. Every failure is logged with the
/// sink and its target, and noted in `health` until a delivery succeeds.
async fn deliver_loop(
    kind: SinkKind,
    format: AlertFormat,
    tree: sled::Tree,
    notify: Arc<Notify>,
    health: Arc<SinkHealth>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let label = SinkLabel { sink: kind.name() };
    let (mut sink, batching) = match kind {
        SinkKind::File(path) => (Sink::File(NdjsonFile::open(path).await), None),
        SinkKind::Webhook(settings) => {
            let batching = settings.batching();
            (Sink::Webhook(Box::new(Webhook::new(settings))), batching)
        }
    };
    let most = batching.map_or(1, |(max, _)| max);
    let mut backoff = Duration::from_millis(100);
    // When the oldest record of a batch still filling was first seen.
    let mut filling_since: Option<Instant> = None;
    loop {
        metrics
            .outbox_depth
            .get_or_create(&label)
            .set(tree.len() as i64);
        if tree.is_empty() {
            filling_since = None;
            tokio::select! {
                _ = notify.notified() => continue,
                _ = stop.cancelled() => return,
            }
        }
        if let Some((max, wait)) = batching
            && tree.len() < max
        {
            let since = *filling_since.get_or_insert_with(Instant::now);
            let left = wait.saturating_sub(since.elapsed());
            if !left.is_zero() {
                tokio::select! {
                    _ = notify.notified() => continue,
                    _ = tokio::time::sleep(left) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
        filling_since = None;
        let mut keys = Vec::new();
        let mut alerts = Vec::new();
        for (key, value) in tree.iter().take(most).filter_map(Result::ok) {
            match serde_json::from_slice::<Alert>(&value) {
                Ok(a) => {
                    keys.push(key);
                    alerts.push(a);
                }
                Err(e) => {
                    // Written by this program, so never expected; kept, it would block the
                    // sink for good.
                    tracing::error!(sink = label.sink, error = %e, "Unreadable alert record in the outbox; it is dropped.");
                    let _ = tree.remove(&key);
                }
            }
        }
        if alerts.is_empty() {
            continue;
        }
        let delivered = match &mut sink {
            Sink::File(file) => file.deliver(&alerts[0], format).await,
            Sink::Webhook(hook) => hook.deliver(&alerts, format).await,
        };
        match delivered {
            Ok(()) => {
                for key in keys {
                    let _ = tree.remove(&key);
                }
                metrics
                    .deliveries
                    .get_or_create(&label)
                    .inc_by(alerts.len() as u64);
                backoff = Duration::from_millis(100);
                if let Some(lasted) = health.delivered() {
                    tracing::info!(sink = label.sink, target = %health.target, failed_for_secs = lasted.as_secs(), "Alert delivery works again.");
                }
            }
            Err(reason) => {
                metrics.delivery_failures.get_or_create(&label).inc();
                health.failed(&reason);
                tracing::warn!(sink = label.sink, target = %health.target, %reason, retry_in_ms = backoff.as_millis() as u64, "Alert delivery failed; will retry.");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
