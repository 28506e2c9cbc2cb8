//! `imagewatch coverage` and `GET /api/v1/coverage`: which devices are blind to T1601 — per
//! device its vendor, lines, the signal kinds seen, whether its commands and boots reach the
//! collector, and what to enable where they do not (`advice`).
//!
//! The command reads lines as [`crate::explain`] does (every header parsed, every rule, a
//! command carrier noted even when no rule matches the command), so a device is credited with
//! what it logs, not only with what a sequence uses. The service counts lines per sender in its
//! listeners without parsing (`senders`) and signal kinds per device in its workers.

mod advice;
pub(crate) mod senders;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::calendar::Inventory;
use crate::classify::SignalKind;
use crate::config::{self, ConfigError, RuleSource};
use crate::explain::{Explainer, Explanation};
use crate::source::InputFormat;
use crate::source::lines::LineReader;
use crate::time::{Millis, format_rfc3339};

use advice::Platform;

/// Kinds that only a logged command (archive, accounting, CLI audit) or an install's own
/// messages produce. `config_change` is not one: IOS logs `%SYS-5-CONFIG_I` with no command
/// logging at all.
pub(crate) fn is_command_kind(kind: SignalKind) -> bool {
    use SignalKind as K;
    matches!(
        kind,
        K::Transfer
            | K::Verify
            | K::BootVar
            | K::InstallAdd
            | K::InstallActivate
            | K::InstallReload
            | K::InstallCommit
            | K::ConfigSave
            | K::ConfigCopy
            | K::ReloadCmd
    )
}

/// What has been seen of one device so far.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sighting {
    pub(crate) lines: u64,
    pub(crate) signals: BTreeMap<SignalKind, u64>,
    /// A command carrier matched one of its lines (even one no rule reads).
    pub(crate) carried: bool,
    /// A boot or version signal carried the running version.
    pub(crate) versions: bool,
    /// Lines per rule-file vendor, to name the vendor of a device the inventory does not.
    vendors: BTreeMap<String, u64>,
    pub(crate) last_seen: Option<Millis>,
}

impl Sighting {
    /// Counts one signal of `kind` from a rule of `vendor`.
    pub(crate) fn signal(&mut self, kind: SignalKind, vendor: &str, version: bool) {
        *self.signals.entry(kind).or_default() += 1;
        self.versions |= version && matches!(kind, SignalKind::Boot | SignalKind::Version);
        self.vendor_vote(vendor);
    }

    pub(crate) fn vendor_vote(&mut self, vendor: &str) {
        // `common` rules (tac_plus accounting, generic commands) say nothing of the platform.
        if vendor != "common" {
            *self.vendors.entry(vendor.to_owned()).or_default() += 1;
        }
    }

    pub(crate) fn seen_at(&mut self, at: Millis) {
        self.last_seen = Some(self.last_seen.map_or(at, |l| l.max(at)));
    }

    fn likely_vendor(&self) -> Option<&str> {
        let mut best: Option<(&str, u64)> = None;
        for (v, &n) in &self.vendors {
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((v, n));
            }
        }
        best.map(|(v, _)| v)
    }
}

/// One device in the report.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DeviceCoverage {
    pub(crate) device: String,
    /// The inventory's vendor, else the vendor of the rules its lines matched.
    pub(crate) vendor: Option<String>,
    pub(crate) lines: u64,
    /// When its last line arrived (the service), or its latest event time (the command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_seen: Option<String>,
    pub(crate) signals: BTreeMap<SignalKind, u64>,
    pub(crate) sees_commands: bool,
    pub(crate) sees_boots: bool,
    pub(crate) sees_versions: bool,
    /// What to enable on the device; empty when nothing is missing.
    pub(crate) gaps: Vec<String>,
}

/// The report over every device seen and every inventory device, sorted by device.
pub(crate) fn report(
    inventory: &Inventory,
    mut seen: BTreeMap<String, Sighting>,
) -> Vec<DeviceCoverage> {
    for d in inventory.devices() {
        seen.entry(d.device.clone()).or_default();
    }
    seen.into_iter()
        .map(|(device, s)| {
            let vendor = inventory
                .get(&device)
                .and_then(|d| d.vendor.clone())
                .or_else(|| s.likely_vendor().map(str::to_owned));
            let platform = Platform::of(vendor.as_deref());
            let sees_commands = s.carried || s.signals.keys().any(|&k| is_command_kind(k));
            let sees_boots = s.signals.contains_key(&SignalKind::Boot);
            let gaps = if s.lines == 0 {
                vec![platform.silent().to_owned()]
            } else {
                let mut gaps = Vec::new();
                if !sees_commands {
                    gaps.push(platform.commands().to_owned());
                }
                if !sees_boots {
                    gaps.push(platform.boots().to_owned());
                }
                gaps
            };
            DeviceCoverage {
                device,
                vendor,
                lines: s.lines,
                last_seen: s.last_seen.map(format_rfc3339),
                signals: s.signals,
                sees_commands,
                sees_boots,
                sees_versions: s.versions,
                gaps,
            }
        })
        .collect()
}

/// Adds one explained line to the devices seen; lines naming no device are only counted.
fn tally(seen: &mut BTreeMap<String, Sighting>, e: &Explanation) -> bool {
    let Some(device) = &e.device else {
        return false;
    };
    let s = match seen.get_mut(device) {
        Some(s) => s,
        None => seen.entry(device.clone()).or_default(),
    };
    s.lines += 1;
    if let Some(t) = e.event_millis {
        s.seen_at(t);
    }
    if let (Some(kind), Some(vendor)) = (e.kind, &e.vendor) {
        let version = e.fields.as_ref().is_some_and(|f| f.version.is_some());
        s.signal(kind, vendor, version);
    }
    if let Some(vendor) = &e.carrier_vendor {
        s.carried = true;
        s.vendor_vote(vendor);
    }
    true
}

#[derive(Debug, thiserror::Error)]
pub enum CoverageError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{path}: {source}")]
    Input { path: String, source: io::Error },
    #[error("writing the report: {0}")]
    Output(io::Error),
}

impl CoverageError {
    /// Exit status: 2 for anything the user has to fix (the input, rules, calendar).
    pub fn exit_code(&self) -> i32 {
        match self {
            CoverageError::Output(_) => 1,
            _ => 2,
        }
    }
}

pub struct CoverageOptions {
    pub changes: Option<PathBuf>,
    /// Rules directory; None reads with the built-in rules.
    pub rules: Option<PathBuf>,
    pub format: InputFormat,
    /// One JSON object per device instead of text.
    pub json: bool,
    /// Input files; `-` is stdin.
    pub files: Vec<PathBuf>,
}

/// Reads every file and writes the report; returns how many devices it names.
pub fn run(opts: &CoverageOptions, out: &mut dyn Write) -> Result<usize, CoverageError> {
    let loaded = config::load(
        &RuleSource::new(opts.rules.as_deref()),
        opts.changes.as_deref(),
    )?;
    let inventory = loaded.calendar.inventory.clone();
    let mut explainer = Explainer::new(loaded, opts.format);
    let mut seen = BTreeMap::new();
    let mut unattributed = 0u64;
    for path in &opts.files {
        let name = path.display().to_string();
        let input: Box<dyn Read> = if path.as_os_str() == "-" {
            Box::new(io::stdin().lock())
        } else {
            Box::new(File::open(path).map_err(|source| CoverageError::Input {
                path: name.clone(),
                source,
            })?)
        };
        let mut reader = LineReader::new(input, opts.format != InputFormat::Ndjson);
        while let Some(msg) = reader
            .next_message()
            .map_err(|source| CoverageError::Input {
                path: name.clone(),
                source,
            })?
        {
            let e = explainer.explain(msg.bytes, msg.line_no);
            if !tally(&mut seen, &e) && e.why_not != Some(crate::explain::WhyNot::Blank) {
                unattributed += 1;
            }
        }
    }
    let devices = report(&inventory, seen);
    let result = if opts.json {
        write_json(&devices, out)
    } else {
        write_text(&devices, unattributed, out)
    };
    result
        .and_then(|()| out.flush())
        .map_err(CoverageError::Output)?;
    Ok(devices.len())
}

fn write_json(devices: &[DeviceCoverage], out: &mut dyn Write) -> io::Result<()> {
    for d in devices {
        serde_json::to_writer(&mut *out, d)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

fn write_text(
    devices: &[DeviceCoverage],
    unattributed: u64,
    out: &mut dyn Write,
) -> io::Result<()> {
    let yes = |b: bool| if b { "yes" } else { "no" };
    let blind = devices.iter().filter(|d| !d.gaps.is_empty()).count();
    writeln!(
        out,
        "{} devices, {} with gaps; {} lines named no device",
        devices.len(),
        blind,
        unattributed
    )?;
    for d in devices {
        let kinds: Vec<String> = d.signals.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(
            out,
            "{}  vendor {}  lines {}  commands {}  boots {}  versions {}  signals: {}",
            d.device,
            d.vendor.as_deref().unwrap_or("unknown"),
            d.lines,
            yes(d.sees_commands),
            yes(d.sees_boots),
            yes(d.sees_versions),
            if kinds.is_empty() {
                "none".to_owned()
            } else {
                kinds.join(", ")
            }
        )?;
        for g in &d.gaps {
            writeln!(out, "  gap: {g}")?;
        }
    }
    Ok(())
}
