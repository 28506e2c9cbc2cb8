//! Device inventory: canonical names, vendors, baselines, and the alias map that turns any
//! name or address a log line carries into the canonical device name.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, Ipv6Addr};

use jiff::tz::TimeZone;
use rustc_hash::FxBuildHasher;
use serde_saphyr::Spanned;

use super::device_id::{canonical_host, ip_form, name_key, without_routing_engine};
use super::parse_zone;
use super::raw::{RawInventoryDevice, Text};
use crate::config::ConfigError;

/// One checked inventory entry. `device` is the canonical name: lower-case, no trailing dot.
#[derive(Debug, Clone)]
pub struct InventoryDevice {
    pub device: String,
    /// Lower-cased (`cisco_ios`, `juniper_junos`, ...).
    pub vendor: Option<String>,
    pub model: Option<String>,
    /// As written (trimmed); lookups go through [`Inventory::resolve`].
    pub aliases: Vec<String>,
    pub baseline_version: Option<String>,
    pub baseline_image: Option<String>,
    /// Zone of the device clock, for devices that log local time without an offset.
    pub timezone: Option<TimeZone>,
}

/// All inventory devices plus a precomputed map from every normalised name/alias to its device.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    devices: Vec<InventoryDevice>,
    /// Normalised key (lower-case, no trailing dot) → index into `devices`. The keys come from
    /// the calendar, not from log lines, so a fast hash cannot be flooded with colliding names
    /// by what devices send.
    keys: HashMap<Box<str>, usize, FxBuildHasher>,
}

impl Inventory {
    pub fn devices(&self) -> &[InventoryDevice] {
        &self.devices
    }

    /// The entry for a canonical name (as returned by [`Inventory::resolve`]).
    pub fn get(&self, canonical: &str) -> Option<&InventoryDevice> {
        let i = *self.keys.get(canonical)?;
        let dev = &self.devices[i];
        // `keys` also holds aliases; only the canonical name itself should answer here.
        (dev.device == canonical).then_some(dev)
    }

    /// Resolves any name or address to the canonical device name.
    ///
    /// Case-insensitive; trailing dots are ignored ([`name_key`]). Host names: the full name first; then, if it
    /// starts with a Junos `re0.`/`re1.`/`re0-`/`re1-` prefix, the rest (resolved the same way);
    /// then shorter forms with the domain stripped label by label (`rtr-0042.corp.example.com`
    /// → `rtr-0042.corp.example` → ... → `rtr-0042`). IP addresses match exactly (IPv6 in any
    /// spelling) and are never suffix-stripped.
    pub fn resolve(&self, name: &str) -> Option<&str> {
        self.resolve_device(name).map(|d| d.device.as_str())
    }

    /// The device id a name or address stands for: its inventory entry's name, else the
    /// canonical form of a host the inventory does not know. Every place that turns a name
    /// into a device id (lines, API paths and filters) goes through here.
    pub fn device_id(&self, name: &str) -> String {
        match self.resolve(name) {
            Some(device) => device.to_owned(),
            None => canonical_host(name),
        }
    }

    /// The entry any name or address resolves to (see [`Inventory::resolve`]).
    pub fn resolve_device(&self, name: &str) -> Option<&InventoryDevice> {
        // Without an inventory every line's host would be normalised only to be looked up in
        // nothing.
        if self.devices.is_empty() {
            return None;
        }
        let name = name_key(name);
        if name.is_empty() {
            return None;
        }
        let index = match ip_form(&name) {
            Some(ip) => self.lookup_ip(&name, ip),
            // The exact name first; then a Junos RE prefix, before domain stripping, so that
            // `re0.mx-01` means `mx-01` even if some device happens to be called `re0`.
            None => self.keys.get(name.as_ref()).copied().or_else(|| {
                without_routing_engine(&name)
                    .and_then(|rest| self.lookup_host(rest))
                    .or_else(|| self.lookup_host(&name))
            }),
        }?;
        Some(&self.devices[index])
    }

    fn lookup_host(&self, name: &str) -> Option<usize> {
        let mut candidate = name;
        loop {
            if let Some(&i) = self.keys.get(candidate) {
                return Some(i);
            }
            let dot = candidate.rfind('.')?;
            candidate = &candidate[..dot];
        }
    }

    fn lookup_ip(&self, text: &str, ip: IpAddr) -> Option<usize> {
        if let Some(&i) = self.keys.get(text) {
            return Some(i);
        }
        // IPv6 has many spellings (`::1`, `0:0::1`); keys also hold the canonical one.
        match ip {
            IpAddr::V6(v6) => self.keys.get(canonical_v6(v6).as_str()).copied(),
            IpAddr::V4(_) => None,
        }
    }

    pub(crate) fn compile(
        file: &str,
        raw: &[Spanned<RawInventoryDevice>],
    ) -> Result<Self, ConfigError> {
        let mut devices = Vec::with_capacity(raw.len());
        let mut keys: HashMap<Box<str>, usize, FxBuildHasher> =
            HashMap::with_capacity_and_hasher(raw.len() * 3, FxBuildHasher);
        // Where each key was claimed, to name the first claimant's line in collision errors.
        let mut claimed_at: HashMap<Box<str>, usize, FxBuildHasher> =
            HashMap::with_capacity_and_hasher(raw.len() * 3, FxBuildHasher);

        for (index, entry) in raw.iter().enumerate() {
            let r = &entry.value;
            let device = normalise_key(&r.device.value);
            if device.is_empty() {
                return Err(ConfigError::at(
                    file,
                    &r.device.referenced,
                    "inventory device name is empty",
                ));
            }
            let line = r.device.referenced.line();
            if let Some(&first) = keys.get(device.as_str()) {
                let first_dev: &InventoryDevice = &devices[first];
                let what = if first_dev.device == device {
                    format!("duplicate inventory device `{device}`")
                } else {
                    format!(
                        "inventory device `{device}` is already an alias of device `{}`",
                        first_dev.device
                    )
                };
                let first_line = claimed_at.get(device.as_str()).copied().unwrap_or(0);
                return Err(ConfigError::at(
                    file,
                    &r.device.referenced,
                    format!("{what} (first at line {first_line})"),
                ));
            }
            keys.insert(device.clone().into(), index);
            claimed_at.insert(device.clone().into(), line as usize);

            let mut aliases = Vec::new();
            for alias in r.aliases.iter().flatten() {
                let written = alias.value.trim();
                let key = normalise_key(written);
                if key.is_empty() {
                    return Err(ConfigError::at(
                        file,
                        &alias.referenced,
                        format!("inventory device `{device}`: empty alias"),
                    ));
                }
                let mut forms = vec![key];
                if let Ok(IpAddr::V6(v6)) = forms[0].parse::<IpAddr>() {
                    forms.push(canonical_v6(v6));
                }
                for form in forms {
                    match keys.entry(form.clone().into()) {
                        Entry::Vacant(slot) => {
                            slot.insert(index);
                            claimed_at.insert(form.into(), alias.referenced.line() as usize);
                        }
                        // Repeating an alias (or the own name) on one device is harmless.
                        Entry::Occupied(slot) if *slot.get() == index => {}
                        Entry::Occupied(slot) => {
                            let other = &devices[*slot.get()];
                            let first_line = claimed_at.get(form.as_str()).copied().unwrap_or(0);
                            return Err(ConfigError::at(
                                file,
                                &alias.referenced,
                                format!(
                                    "alias `{written}` of inventory device `{device}` is already \
                                     claimed by device `{}` (line {first_line})",
                                    other.device
                                ),
                            ));
                        }
                    }
                }
                aliases.push(written.to_owned());
            }

            devices.push(InventoryDevice {
                device,
                vendor: text(&r.vendor).map(|v| v.to_lowercase()),
                model: text(&r.model),
                aliases,
                baseline_version: text(&r.baseline_version),
                baseline_image: text(&r.baseline_image),
                timezone: r
                    .timezone
                    .as_ref()
                    .map(|tz| parse_zone(file, tz))
                    .transpose()?,
            });
        }
        Ok(Inventory { devices, keys })
    }
}

/// The form every key and lookup uses (see [`name_key`]).
fn normalise_key(s: &str) -> String {
    name_key(s).into_owned()
}

fn text(field: &Option<Text>) -> Option<String> {
    field
        .as_ref()
        .map(|t| t.value.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn canonical_v6(v6: Ipv6Addr) -> String {
    v6.to_string()
}
