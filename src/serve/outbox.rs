//! Durable delivery of alerts: an alert is written to each sink's outbox (a sled tree) before
//! it is delivered, and removed when the sink acknowledges it. After a crash, what was not
//! acknowledged is delivered again; what was acknowledged is not.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::state::{StateError, StateStore};
use crate::suppress::Alert;

use super::telemetry::{Metrics, SinkLabel};

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
        let json = serde_json::to_vec(alert).expect("alerts always serialise");
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

/// Cuts a partial last line off the NDJSON file: a crash in the middle of an append leaves
/// one, and the next append would glue a whole record to it (one unreadable line, an alert
/// lost to whoever reads the file). The partial record was never acknowledged, so the outbox
/// still holds it and delivers it again.
async fn cut_partial_line(path: &PathBuf) -> std::io::Result<()> {
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let f = tokio::fs::OpenOptions::new().write(true).open(path).await?;
    f.set_len(keep as u64).await?;
    f.sync_all().await?;
    tracing::warn!(file = %path.display(), bytes = bytes.len() - keep, "Cut a partial alert record left by a crash; it is delivered again.");
    Ok(())
}

/// Ids and revisions of the last lines of an NDJSON file: what a crash may have written
/// without the outbox hearing of it.
async fn recent_file_records(path: &PathBuf) -> Vec<(String, u64)> {
    let Ok(bytes) = tokio::fs::read(path).await else {
        return Vec::new();
    };
    let start = bytes.len().saturating_sub(256 * 1024);
    String::from_utf8_lossy(&bytes[start..])
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            Some((
                v.get("id")?.as_str()?.to_string(),
                v.get("revision")?.as_u64()?,
            ))
        })
        .collect()
}

async fn deliver_loop(
    kind: SinkKind,
    tree: sled::Tree,
    notify: Arc<Notify>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let label = SinkLabel { sink: kind.name() };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build();
    let mut already_written = match &kind {
        SinkKind::File(path) => {
            if let Err(e) = cut_partial_line(path).await {
                tracing::warn!(file = %path.display(), error = %e, "Cannot check the alert file for a partial record.");
            }
            recent_file_records(path).await
        }
        SinkKind::Webhook(_) => Vec::new(),
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
        let delivered = match &kind {
            SinkKind::File(path) => {
                let v: serde_json::Value = serde_json::from_slice(&value).unwrap_or_default();
                let id = (
                    v["id"].as_str().unwrap_or("").to_string(),
                    v["revision"].as_u64().unwrap_or(0),
                );
                if let Some(pos) = already_written.iter().position(|r| *r == id) {
                    already_written.remove(pos);
                    Ok(())
                } else {
                    append_line(path, &value).await
                }
            }
            SinkKind::Webhook(url) => match &client {
                Ok(client) => post(client, url, &value).await,
                Err(e) => Err(format!("cannot build HTTP client: {e}")),
            },
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

async fn append_line(path: &PathBuf, json: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut f = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut line = json.to_vec();
    line.push(b'\n');
    f.write_all(&line).await.map_err(|e| e.to_string())?;
    f.sync_data().await.map_err(|e| e.to_string())
}

async fn post(client: &reqwest::Client, url: &str, json: &[u8]) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let key = format!(
        "{}:{}",
        v["id"].as_str().unwrap_or(""),
        v["revision"].as_u64().unwrap_or(0)
    );
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(json.to_vec())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", resp.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_partial_last_record_is_cut_and_whole_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.ndjson");
        let whole = "{\"id\":\"a\",\"revision\":1}\n";
        std::fs::write(&path, format!("{whole}{{\"id\":\"b\",\"rev")).unwrap();
        cut_partial_line(&path).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        cut_partial_line(&path).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        assert_eq!(recent_file_records(&path).await, vec![("a".to_string(), 1)]);
        cut_partial_line(&dir.path().join("none.ndjson"))
            .await
            .unwrap();
    }
}
