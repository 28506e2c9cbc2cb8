//! Replay's output: alerts as NDJSON on a writer (standard output), in the order produced.

use std::io::{self, Write};

use crate::suppress::Alert;

use super::render::{AlertFormat, render_bytes};

/// Writes and drains `alerts`, one JSON object per line, in `format`.
pub fn write_alerts(
    alerts: &mut Vec<Alert>,
    format: AlertFormat,
    out: &mut dyn Write,
) -> io::Result<()> {
    for a in alerts.drain(..) {
        out.write_all(&render_bytes(&a, format))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
