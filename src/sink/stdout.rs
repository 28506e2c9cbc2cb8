//! Replay's output: alerts as NDJSON on a writer (standard output), in the order produced.

use std::io::{self, Write};

use crate::suppress::Alert;

/// Writes and drains `alerts`, one JSON object per line.
pub fn write_alerts(alerts: &mut Vec<Alert>, out: &mut dyn Write) -> io::Result<()> {
    for a in alerts.drain(..) {
        serde_json::to_writer(&mut *out, &a)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
