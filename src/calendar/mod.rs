//! Change calendar (`changes.yaml`): maintenance windows, change tickets, an allowlist of
//! transfer servers and the device inventory, used to suppress authorised image changes.
//!
//! Loading is two steps. `raw` is a serde mirror of the file (`deny_unknown_fields`, every
//! node that can be wrong carries its source position); `compile` turns it into the checked
//! types below, rejecting anything invalid with a [`ConfigError`](crate::config::ConfigError) that points at the node.
//! The engine only ever sees the checked types.
//!
//! Hostile input: serde-saphyr's default budgets (alias expansion, nesting depth, node and
//! event counts) stop YAML bombs and deep nesting with an error instead of a hang, and
//! [`ChangeCalendar::load`] refuses files larger than [`MAX_FILE_BYTES`] before parsing.

mod device_id;
mod devices;
mod inventory;
mod raw;
mod ticket;
mod window;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use jiff::tz::TimeZone;

pub use device_id::{canonical_host, name_key};
pub use inventory::Inventory;
pub use ticket::ChangeTicket;
pub use window::{MaintenanceWindow, ScheduleView};

use crate::config::ConfigError;
use crate::time::{Millis, parse_rfc3339};
use raw::{RawCalendar, Text};

/// Largest calendar file [`ChangeCalendar::load`] reads. A generated calendar for 200 devices
/// and a week is about 50 KiB; this leaves room for very large estates while bounding memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The checked change calendar.
#[derive(Debug, Clone, Default)]
pub struct ChangeCalendar {
    pub windows: Vec<MaintenanceWindow>,
    pub tickets: Vec<ChangeTicket>,
    pub allowlist: Allowlist,
    pub inventory: Inventory,
}

impl ChangeCalendar {
    /// What is in force, in words for a log line: `2 windows, 5 tickets, 200 inventory
    /// devices, 1 allowlisted server`.
    pub fn describe(&self) -> String {
        let n = |count: usize, what: &str| {
            format!("{count} {what}{}", if count == 1 { "" } else { "s" })
        };
        format!(
            "{}, {}, {}, {}",
            n(self.windows.len(), "window"),
            n(self.tickets.len(), "ticket"),
            n(self.inventory.devices().len(), "inventory device"),
            n(self.allowlist.servers.len(), "allowlisted server"),
        )
    }
}

/// Servers from which image transfers are always expected (software repositories).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    pub servers: Vec<String>,
}

impl Allowlist {
    /// True when `s` may serve images: listed, or no allowlist was given at all.
    pub fn permits(&self, s: &str) -> bool {
        self.servers.is_empty() || self.contains_server(s)
    }

    /// Case-insensitive exact match (host names and IPv6 literals vary in case).
    pub fn contains_server(&self, s: &str) -> bool {
        let s = name_key(s);
        self.servers
            .iter()
            .any(|known| known.eq_ignore_ascii_case(&s))
    }
}

impl ChangeCalendar {
    /// Reads and validates a calendar file. The path's display form names the file in errors.
    pub fn load(path: &Path) -> Result<ChangeCalendar, ConfigError> {
        let origin = path.display().to_string();
        let io_err = |e: std::io::Error| ConfigError::whole(&origin, format!("cannot read: {e}"));
        let file = std::fs::File::open(path).map_err(io_err)?;
        let mut text = String::new();
        // Read one byte past the limit so an oversized file is detected without reading it all.
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io_err)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(ConfigError::whole(
                &origin,
                format!("file is larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        Self::from_yaml(&text, &origin)
    }

    /// Parses and validates calendar text; `origin` names the file in errors.
    pub fn from_yaml(text: &str, origin: &str) -> Result<ChangeCalendar, ConfigError> {
        // `Option` because an empty document (or one with only comments) is YAML null, which
        // is a valid, empty calendar.
        let raw: Option<RawCalendar> =
            serde_saphyr::from_str(text).map_err(|e| ConfigError::from_yaml(origin, &e))?;
        compile(origin, raw.unwrap_or_default())
    }

    /// A calendar that authorises nothing and knows no devices.
    pub fn empty() -> ChangeCalendar {
        ChangeCalendar::default()
    }

    /// Tickets whose device globs match `device` and whose `[start, end]` overlaps `[from, to]`.
    pub fn tickets_overlapping<'a>(
        &'a self,
        device: &str,
        from: Millis,
        to: Millis,
    ) -> impl Iterator<Item = &'a ChangeTicket> {
        // The time test is two comparisons; check it before the glob match.
        self.tickets
            .iter()
            .filter(move |t| t.overlaps(from, to) && t.matches_device(device))
    }

    /// Windows whose device globs match `device`.
    pub fn windows_for<'a>(&'a self, device: &str) -> impl Iterator<Item = &'a MaintenanceWindow> {
        self.windows
            .iter()
            .filter(move |w| w.matches_device(device))
    }
}

fn compile(file: &str, raw: RawCalendar) -> Result<ChangeCalendar, ConfigError> {
    let raw_windows = raw.maintenance_windows.unwrap_or_default();
    let mut windows = Vec::with_capacity(raw_windows.len());
    let mut seen = HashMap::new();
    for w in &raw_windows {
        check_unique(file, "maintenance window", &mut seen, &w.value.id)?;
        windows.push(MaintenanceWindow::compile(file, w)?);
    }

    let raw_tickets = raw.change_tickets.unwrap_or_default();
    let mut tickets = Vec::with_capacity(raw_tickets.len());
    let mut seen = HashMap::new();
    for t in &raw_tickets {
        check_unique(file, "change ticket", &mut seen, &t.value.id)?;
        tickets.push(ChangeTicket::compile(file, t)?);
    }

    let mut servers = Vec::new();
    for s in raw.allowlist.and_then(|a| a.servers).unwrap_or_default() {
        let name = s.value.trim();
        if name.is_empty() {
            return Err(ConfigError::at(
                file,
                &s.referenced,
                "allowlist: empty server",
            ));
        }
        servers.push(name.to_owned());
    }

    let inventory = Inventory::compile(file, raw.inventory.as_deref().unwrap_or_default())?;

    Ok(ChangeCalendar {
        windows,
        tickets,
        allowlist: Allowlist { servers },
        inventory,
    })
}

/// Rejects a second use of an id within one section, naming the first one's line.
fn check_unique(
    file: &str,
    what: &str,
    seen: &mut HashMap<String, u64>,
    id: &Text,
) -> Result<(), ConfigError> {
    let key = id.value.trim();
    if let Some(first) = seen.get(key) {
        return Err(ConfigError::at(
            file,
            &id.referenced,
            format!("duplicate {what} id `{key}` (first defined at line {first})"),
        ));
    }
    seen.insert(key.to_owned(), id.referenced.line());
    Ok(())
}

/// RFC 3339 with an offset, e.g. `2026-06-03T10:00:00Z` (quoted or not).
pub(crate) fn parse_time(
    file: &str,
    owner: &str,
    field: &str,
    text: &Text,
) -> Result<Millis, ConfigError> {
    parse_rfc3339(&text.value).ok_or_else(|| {
        ConfigError::at(
            file,
            &text.referenced,
            format!(
                "{owner}: `{field}` is not an RFC 3339 time with offset: `{}` \
                 (expected e.g. 2026-06-03T10:00:00Z)",
                text.value
            ),
        )
    })
}

/// An inverted range is reported at `end`, the value most likely mistyped.
pub(crate) fn check_range(
    file: &str,
    owner: &str,
    start: Millis,
    end: Millis,
    end_node: &Text,
) -> Result<(), ConfigError> {
    if end < start {
        return Err(ConfigError::at(
            file,
            &end_node.referenced,
            format!(
                "{owner}: end {} is before start {}",
                crate::time::format_rfc3339(end),
                crate::time::format_rfc3339(start)
            ),
        ));
    }
    Ok(())
}

/// An IANA zone name (`Europe/Berlin`, `UTC`) from the bundled tz database.
pub(crate) fn parse_zone(file: &str, text: &Text) -> Result<TimeZone, ConfigError> {
    TimeZone::get(text.value.trim()).map_err(|e| {
        ConfigError::at(
            file,
            &text.referenced,
            format!("unknown time zone `{}`: {e}", text.value),
        )
    })
}

#[cfg(test)]
mod tests;
