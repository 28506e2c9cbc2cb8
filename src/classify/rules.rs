//! Serde mirror of a signal rule file (`rules/signals/*.yaml`), exactly as written.
//!
//! Every node an error may need to point at is a [`Spanned`] value, so the compiler in
//! [`super::classifier`] can report file, line and column. Unknown keys are rejected
//! (`deny_unknown_fields`) because a misspelt `unles:` would otherwise silently widen a rule.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

/// One rule file: a vendor and its three rule families.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// Becomes [`crate::classify::Classification::vendor`] for every rule of the file.
    pub vendor: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// How a typed command reaches syslog (accounting, EEM, archive logging).
    #[serde(default)]
    pub carriers: Vec<RawCarrier>,
    /// Patterns over the command text a carrier extracted.
    #[serde(default)]
    pub commands: Vec<RawRule>,
    /// Patterns over the whole message.
    #[serde(default)]
    pub messages: Vec<RawRule>,
    /// Signal kinds this platform does not log at all, each with the reason (kind → reason),
    /// so the coverage matrix of `rules test` shows them as such rather than as a gap.
    #[serde(default)]
    pub not_logged: Option<Spanned<BTreeMap<String, String>>>,
}

/// A carrier: a message shape that wraps a command line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCarrier {
    pub id: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub pattern: Spanned<String>,
    #[serde(default)]
    pub examples: RawExamples,
}

/// A message or command rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub id: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub kind: Spanned<String>,
    /// Optional in the serde sense only, so that a missing list is reported by the compiler
    /// with the rule's location and a clear reason rather than a generic "missing field".
    #[serde(default)]
    pub literals: Option<Spanned<Vec<String>>>,
    pub pattern: Spanned<String>,
    #[serde(default)]
    pub unless: Option<Spanned<String>>,
    #[serde(default)]
    pub examples: RawExamples,
}

/// Lines a rule must and must not win.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExamples {
    #[serde(default, rename = "match")]
    pub matches: Vec<RawMatchExample>,
    #[serde(default)]
    pub no_match: Vec<Spanned<RawNoMatch>>,
}

/// A line the rule must not win: a plain string (no source yet, which `rules test` reports),
/// or `{line, source}`. Untagged, so the span is taken on the whole node (serde-saphyr cannot
/// span inside untagged variants).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawNoMatch {
    Plain(String),
    Sourced {
        line: String,
        #[serde(default)]
        source: Option<String>,
    },
}

impl RawNoMatch {
    /// The example line.
    pub fn line(&self) -> &str {
        match self {
            RawNoMatch::Plain(line) | RawNoMatch::Sourced { line, .. } => line,
        }
    }
}

/// A line the rule must win, with the fields it must extract at least.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatchExample {
    pub line: Spanned<String>,
    /// The public document, repository path or advisory the line follows, or
    /// `unverified — <what the wording rests on>`.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub fields: RawFields,
}

/// Expected fields of a match example; the names are those of
/// [`crate::classify::SignalFields`], so a typo is an error rather than an ignored key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFields {
    pub image: Option<String>,
    pub path: Option<String>,
    pub server: Option<String>,
    pub proto: Option<String>,
    pub user: Option<String>,
    pub src: Option<String>,
    pub version: Option<String>,
    pub command: Option<String>,
    pub account: Option<String>,
}
