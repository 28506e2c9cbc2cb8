//! Serde mirror of `changes.yaml`: the file exactly as written, with source positions.
//!
//! Nothing here is trusted. Times, durations, globs, cron expressions and zones stay strings
//! so that each can be checked in one place (`compile`) with an error that points at its node.
//! Timestamps stay strings on purpose: an unquoted YAML timestamp (`start: 2026-06-03T10:00:00Z`)
//! must be read as text and parsed as RFC 3339 by us, not interpreted by the YAML layer.

use serde::Deserialize;
use serde_saphyr::Spanned;

pub(crate) type Text = Spanned<String>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCalendar {
    // `Option` so that a present-but-empty section (`change_tickets:`) reads as absent.
    pub maintenance_windows: Option<Vec<Spanned<RawWindow>>>,
    pub change_tickets: Option<Vec<Spanned<RawTicket>>>,
    pub allowlist: Option<RawAllowlist>,
    pub inventory: Option<Vec<Spanned<RawInventoryDevice>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWindow {
    pub id: Text,
    pub devices: Spanned<Vec<Text>>,
    pub cron: Option<Text>,
    pub duration: Option<Text>,
    pub timezone: Option<Text>,
    pub start: Option<Text>,
    pub end: Option<Text>,
    pub users: Option<Vec<String>>,
    pub servers: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTicket {
    pub id: Text,
    pub devices: Spanned<Vec<Text>>,
    pub start: Text,
    pub end: Text,
    pub images: Option<Vec<String>>,
    pub versions: Option<Vec<String>>,
    pub users: Option<Vec<String>>,
    pub servers: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAllowlist {
    pub servers: Option<Vec<Text>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInventoryDevice {
    pub device: Text,
    pub vendor: Option<Text>,
    pub model: Option<Text>,
    pub aliases: Option<Vec<Text>>,
    pub baseline_version: Option<Text>,
    pub baseline_image: Option<Text>,
    pub timezone: Option<Text>,
}
