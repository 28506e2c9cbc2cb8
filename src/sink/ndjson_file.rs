//! The NDJSON alert file sink: one alert record per line, appended and synced; a partial last
//! line left by a crash is cut, and records a crash wrote without the outbox hearing of it are
//! not written twice.

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;

use crate::suppress::Alert;

use super::render::{AlertFormat, record_key, render_bytes};

/// The alert file and what it already holds at start.
pub struct NdjsonFile {
    path: PathBuf,
    /// (id, revision) of the file's last records when the sink started: what a crash may have
    /// appended before the outbox removed it. Each is skipped once instead of written again.
    already_written: Vec<(String, u64)>,
}

impl NdjsonFile {
    /// Opens the sink: repairs a partial last line and notes the last records.
    pub async fn open(path: PathBuf) -> NdjsonFile {
        if let Err(e) = cut_partial_line(&path).await {
            tracing::warn!(file = %path.display(), error = %e, "Cannot check the alert file for a partial record.");
        }
        let already_written = recent_file_records(&path).await;
        NdjsonFile {
            path,
            already_written,
        }
    }

    /// Appends one alert record in `format` (unless the file got it before a crash).
    pub async fn deliver(&mut self, alert: &Alert, format: AlertFormat) -> Result<(), String> {
        let id = (alert.id.clone(), u64::from(alert.revision));
        if let Some(pos) = self.already_written.iter().position(|r| *r == id) {
            self.already_written.remove(pos);
            return Ok(());
        }
        append_line(&self.path, &render_bytes(alert, format)).await
    }
}

/// Checks at start that the alert file can be created (with its directory) and appended to,
/// without writing to it: a service that cannot write its alerts must not start and seem
/// well, with every alert piling up in the outbox.
pub fn check_writable(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
}

/// Cuts a partial last line off the NDJSON file: a crash in the middle of an append leaves
/// one, and the next append would glue a whole record to it (one unreadable line, an alert
/// lost to whoever reads the file). The partial record was never acknowledged, so the outbox
/// still holds it and delivers it again.
async fn cut_partial_line(path: &Path) -> std::io::Result<()> {
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
async fn recent_file_records(path: &Path) -> Vec<(String, u64)> {
    let Ok(bytes) = tokio::fs::read(path).await else {
        return Vec::new();
    };
    let start = bytes.len().saturating_sub(256 * 1024);
    String::from_utf8_lossy(&bytes[start..])
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| record_key(&v))
        .collect()
}

/// Opens the file for each record, appending (`O_APPEND`): a rotation needs no reopening, a
/// `copytruncate` gets the next record at the new end (not a hole up to the old offset) and a
/// rename gets a new file at `path`.
async fn append_line(path: &Path, json: &[u8]) -> Result<(), String> {
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
