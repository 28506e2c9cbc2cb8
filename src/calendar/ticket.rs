//! Change tickets: one-off authorisations for named devices, optionally pinned to the images,
//! versions, users and servers the change is expected to use.

use serde_saphyr::Spanned;

use super::devices::DevicePatterns;
use super::raw::RawTicket;
use super::{check_range, parse_time};
use crate::config::ConfigError;
use crate::time::Millis;

/// A checked change ticket covering `[start, end]` (both inclusive).
#[derive(Debug, Clone)]
pub struct ChangeTicket {
    pub id: String,
    pub start: Millis,
    pub end: Millis,
    pub images: Option<Vec<String>>,
    pub versions: Option<Vec<String>>,
    pub users: Option<Vec<String>>,
    pub servers: Option<Vec<String>>,
    devices: DevicePatterns,
}

impl ChangeTicket {
    /// Whether `device` (a canonical device name) is in this ticket's scope.
    pub fn matches_device(&self, device: &str) -> bool {
        self.devices.is_match(device)
    }

    /// Whether the device globs match every device (`*`): a ticket that authorises any image
    /// change anywhere.
    pub fn covers_every_device(&self) -> bool {
        self.devices.match_every_device()
    }

    /// The device globs as written.
    pub fn device_patterns(&self) -> &[String] {
        self.devices.patterns()
    }

    /// Whether `[start, end]` overlaps `[from, to]`.
    pub fn overlaps(&self, from: Millis, to: Millis) -> bool {
        self.start <= to && from <= self.end
    }

    pub(crate) fn compile(file: &str, raw: &Spanned<RawTicket>) -> Result<Self, ConfigError> {
        let t = &raw.value;
        let id = t.id.value.trim().to_owned();
        if id.is_empty() {
            return Err(ConfigError::at(
                file,
                &t.id.referenced,
                "ticket id is empty",
            ));
        }
        let owner = format!("change ticket `{id}`");
        let devices = DevicePatterns::compile(file, &owner, &t.devices)?;
        let start = parse_time(file, &owner, "start", &t.start)?;
        let end = parse_time(file, &owner, "end", &t.end)?;
        check_range(file, &owner, start, end, &t.end)?;
        Ok(ChangeTicket {
            id,
            start,
            end,
            images: t.images.clone(),
            versions: t.versions.clone(),
            users: t.users.clone(),
            servers: t.servers.clone(),
            devices,
        })
    }
}
