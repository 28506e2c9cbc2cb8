//! The plain type between correlate and suppress: what a device machine concluded.

use serde::{Deserialize, Serialize};

use crate::classify::{EventOrigin, Signal, SignalFields, SignalKind};
use crate::correlate::sequence::Severity;
use crate::time::Millis;

/// One line that supports a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub time: Millis,
    /// When the collector received the line, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<Millis>,
    pub kind: SignalKind,
    /// Signal rule that recognised the line.
    pub rule_id: String,
    /// Vendor of that rule's file (absent in records written before it was kept).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vendor: String,
    /// The address the line came from, when the input said (see `Signal::sender`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    pub fields: SignalFields,
    /// The raw line.
    pub message: String,
    /// The device's log or a management host's telemetry.
    #[serde(default, skip_serializing_if = "EventOrigin::is_device")]
    pub origin: EventOrigin,
}

impl Evidence {
    /// A signal as evidence.
    pub fn of(sig: &Signal) -> Evidence {
        Evidence {
            time: sig.time,
            received: sig.received,
            kind: sig.kind,
            rule_id: sig.rule_id.clone(),
            vendor: sig.vendor.clone(),
            sender: sig.sender.clone(),
            fields: sig.fields.clone(),
            message: sig.message.clone(),
            origin: sig.origin,
        }
    }
}

/// What the evidence of a finding says, gathered for the calendar and for the analyst.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// Step names matched, in order (`transfer`, `stage`, `reload`, `boot`).
    pub steps: Vec<String>,
    pub images: Vec<String>,
    pub servers: Vec<String>,
    pub users: Vec<String>,
    /// Versions the device reported while booting.
    pub versions: Vec<String>,
    pub version_before: Option<String>,
    pub version_after: Option<String>,
    /// The image file name `version_after` was read from, when the device booted without
    /// reporting a version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_inferred_from: Option<String>,
    pub version_changed: bool,
    pub downgrade: bool,
    /// Servers among `servers` that are not on the allowlist.
    pub unlisted_servers: Vec<String>,
    /// New privileged access that came before the work (see `correlate::access`), worded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_access: Vec<String>,
    /// An image was written over the file the device runs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub overwrites_running_image: bool,
}

/// A conclusion of a device machine, before the change calendar is consulted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id of the sequence instance; revisions of the same instance share it.
    pub id: String,
    pub revision: u32,
    pub device: String,
    pub rule_id: String,
    pub title: String,
    /// The sequence rule's description: what the rule looks for (ECS `rule.description`).
    #[serde(default)]
    pub rule_description: String,
    /// The device's vendor: the inventory's, else the one its boot reported, else that of the
    /// rules that recognised the latest evidence line.
    #[serde(default)]
    pub vendor: Option<String>,
    /// Where the latest evidence line that says came from (see `Signal::sender`).
    #[serde(default)]
    pub sender: Option<String>,
    pub severity: Severity,
    pub confidence: f64,
    pub first_seen: Millis,
    pub last_seen: Millis,
    pub evidence: Vec<Evidence>,
    pub facts: Facts,
    /// What happened, in one sentence.
    pub summary: String,
    /// Integrity failures and the like: the calendar never hides them.
    pub never_suppress: bool,
}

/// The vendor and sender a finding reports: those of its latest evidence line that has them.
pub(crate) fn origin_of(evidence: &[Evidence]) -> (Option<String>, Option<String>) {
    let vendor = evidence
        .iter()
        .rev()
        .find(|e| !e.vendor.is_empty())
        .map(|e| e.vendor.clone());
    let sender = evidence.iter().rev().find_map(|e| e.sender.clone());
    (vendor, sender)
}
