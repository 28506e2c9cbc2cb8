//! Sequence rules (`rules/sequences/*.yaml`): the ordered steps a device goes through when its
//! image is replaced, as data. The serde mirror here is compiled into [`SequenceRules`]; the
//! machines only ever see the compiled form.

use std::collections::HashMap;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::classify::SignalKind;
use crate::config::ConfigError;
use crate::time::Millis;

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// One level up, saturating at critical.
    pub fn raised(self) -> Severity {
        match self {
            Severity::Info => Severity::Low,
            Severity::Low => Severity::Medium,
            Severity::Medium => Severity::High,
            Severity::High | Severity::Critical => Severity::Critical,
        }
    }
}

/// A fact about an instance the rules can test; computed by the machine, named in rule files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// The device booted a version other than the one it ran before (unknown → false).
    VersionChanged,
    /// The device booted an older version than the one it ran before (vendor-aware ordering).
    Downgrade,
    /// An image came from a server that is not on the calendar's allowlist.
    ServerNotAllowlisted,
    /// New privileged access to the device (a session from a source it had not seen, a freshly
    /// created privileged account) came before the work, within the escalation's `within`.
    NewPrivilegedAccess,
    /// The account a signal creates came through the web UI or an API (its line says so, or
    /// the session of whoever created it did).
    ViaWebOrApi,
    /// An image was written over the file the device runs (the inventory's `baseline_image`).
    OverwritesRunningImage,
}

/// A field that all signals of one instance must agree on when they carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinField {
    Image,
    Server,
}

/// A duration written as humantime (`24h`, `90m`); invalid text is reported at its location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window(pub Millis);

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let dur = humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!("invalid duration {text:?}: {e} (try 24h, 90m)"))
        })?;
        let ms = Millis::try_from(dur.as_millis())
            .map_err(|_| serde::de::Error::custom(format!("duration {text:?} is too long")))?;
        if ms <= 0 {
            return Err(serde::de::Error::custom(
                "a window must be longer than zero",
            ));
        }
        Ok(Window(ms))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    sequences: Vec<RawSequence>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSequence {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    description: String,
    steps: Vec<RawStep>,
    #[serde(default)]
    context: Vec<SignalKind>,
    #[serde(default)]
    same: Vec<JoinField>,
    severity: Severity,
    confidence: f64,
    #[serde(default)]
    confidence_per_step: f64,
    #[serde(default)]
    confidence_per_join: f64,
    #[serde(default)]
    escalate: Vec<RawEscalation>,
    #[serde(default)]
    on_timeout: Vec<RawTimeout>,
    linger: Option<Window>,
    #[serde(default)]
    never_suppress: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Spanned<String>,
    kinds: Vec<SignalKind>,
    within: Option<Window>,
    #[serde(default)]
    optional: bool,
    #[serde(default, rename = "where")]
    conditions: Vec<Condition>,
    summary: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    #[serde(rename = "if")]
    condition: Condition,
    severity: Severity,
    /// For `new_privileged_access`: how long before the work the access may be.
    within: Option<Window>,
}

/// How long before image work new privileged access raises it, when a rule does not say.
pub const DEFAULT_ACCESS_WINDOW: Millis = 24 * crate::time::HOUR;

/// A condition that raises an instance's severity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Escalation {
    pub condition: Condition,
    pub severity: Severity,
    /// How far back the condition looks (`new_privileged_access` only).
    pub within: Millis,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeout {
    reached: Spanned<String>,
    rule_id: Spanned<String>,
    title: String,
    severity: Severity,
    #[serde(default)]
    confidence: Option<f64>,
}

/// One step of a sequence, checked.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub kinds: Vec<SignalKind>,
    /// Longest gap allowed since the previous matched step (none for the first step).
    pub within: Option<Millis>,
    /// A missing optional step does not stop the sequence (a `%SYS-5-RELOAD` is often lost).
    pub optional: bool,
    /// Conditions the signal must satisfy to match this step.
    pub conditions: Vec<Condition>,
    /// What an alert's summary says when this step was seen (none: the step adds nothing).
    /// A step of boot or version lines says it only when no version was reported: the
    /// version itself says more.
    pub summary: Option<String>,
}

impl Step {
    /// True when the lines of this step carry the version the device booted.
    pub fn reports_version(&self) -> bool {
        self.kinds
            .iter()
            .any(|k| matches!(k, SignalKind::Boot | SignalKind::Version))
    }
}

/// A finding raised when an instance that reached `reached` sees nothing more within its window.
#[derive(Debug, Clone)]
pub struct TimeoutFinding {
    pub reached: usize,
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub confidence: Option<f64>,
}

/// A checked sequence rule.
#[derive(Debug, Clone)]
pub struct Sequence {
    pub id: String,
    pub title: String,
    pub description: String,
    pub steps: Vec<Step>,
    /// Kinds that add evidence to a running instance but never start or advance one.
    pub context: Vec<SignalKind>,
    pub same: Vec<JoinField>,
    pub severity: Severity,
    pub confidence: f64,
    pub confidence_per_step: f64,
    pub confidence_per_join: f64,
    pub escalate: Vec<Escalation>,
    pub on_timeout: Vec<TimeoutFinding>,
    /// How long a completed instance keeps absorbing repeated evidence (one alert, revised).
    pub linger: Millis,
    pub never_suppress: bool,
}

impl Sequence {
    /// Index of the first step that is not optional: an instance may start at any step up to it.
    pub fn last_start_step(&self) -> usize {
        self.steps
            .iter()
            .position(|s| !s.optional)
            .unwrap_or(self.steps.len() - 1)
    }

    /// The timeout finding for an instance whose furthest step is `reached`, if the rule has one.
    pub fn timeout_for(&self, reached: usize) -> Option<&TimeoutFinding> {
        self.on_timeout
            .iter()
            .filter(|t| t.reached <= reached)
            .max_by_key(|t| t.reached)
    }

    /// True when a signal of `kind` can start, advance or add to an instance of this rule (a
    /// kind that stands for several steps counts when one of them does), or when the rule
    /// escalates on new privileged access and `kind` is what says so.
    pub fn involves(&self, kind: SignalKind) -> bool {
        (crate::correlate::access::is_access(kind) && self.access_window().is_some())
            || self.takes(kind)
    }

    /// True when a signal of `kind` can be a step or context line of this rule's instances.
    pub fn takes(&self, kind: SignalKind) -> bool {
        kind.correlates_as()
            .iter()
            .any(|k| self.context.contains(k) || self.steps.iter().any(|s| s.kinds.contains(k)))
    }

    /// How far back new privileged access raises this rule's instances, if it does.
    pub fn access_window(&self) -> Option<Millis> {
        self.escalate
            .iter()
            .filter(|e| e.condition == Condition::NewPrivilegedAccess)
            .map(|e| e.within)
            .max()
    }
}

/// Every sequence rule, in priority order: a signal that one rule's instance consumes is not
/// offered to later rules to start new instances.
#[derive(Debug, Clone, Default)]
pub struct SequenceRules {
    pub sequences: Vec<Sequence>,
}

impl SequenceRules {
    /// The longest any rule looks back for new privileged access (how long a device keeps it).
    pub fn access_window(&self) -> Option<Millis> {
        self.sequences
            .iter()
            .filter_map(Sequence::access_window)
            .max()
    }

    /// Compiles rule files given as (name, YAML text), in the given order.
    pub fn from_sources(files: &[(String, String)]) -> Result<SequenceRules, ConfigError> {
        let mut sequences = Vec::new();
        // Where each id was first defined, to name it when it comes again.
        let mut ids: HashMap<String, String> = HashMap::new();
        for (name, text) in files {
            let raw: RawFile =
                serde_saphyr::from_str(text).map_err(|e| ConfigError::from_yaml(name, &e))?;
            for seq in raw.sequences {
                let mut spans = vec![(seq.id.value.trim().to_string(), at(name, &seq.id, ""))];
                spans.extend(
                    seq.on_timeout
                        .iter()
                        .map(|t| (t.rule_id.value.trim().to_string(), at(name, &t.rule_id, ""))),
                );
                let compiled = compile(name, seq)?;
                for (id, here) in spans {
                    let place = format!("{}:{}:{}", here.file, here.line, here.column);
                    if let Some(first) = ids.insert(id.clone(), place) {
                        return Err(ConfigError {
                            reason: format!("duplicate rule id {id:?}: already defined at {first}"),
                            ..here
                        });
                    }
                }
                sequences.push(compiled);
            }
        }
        Ok(SequenceRules { sequences })
    }
}

fn at<T>(file: &str, spanned: &Spanned<T>, reason: impl Into<String>) -> ConfigError {
    ConfigError::at(file, &spanned.referenced, reason)
}

fn compile(file: &str, raw: RawSequence) -> Result<Sequence, ConfigError> {
    let id = raw.id.value.trim().to_string();
    if id.is_empty() {
        return Err(at(file, &raw.id, "a sequence needs a non-empty id"));
    }
    if raw.steps.is_empty() {
        return Err(at(file, &raw.id, format!("sequence {id:?} has no steps")));
    }
    if !(0.0..=1.0).contains(&raw.confidence) {
        return Err(at(file, &raw.id, "confidence must be between 0 and 1"));
    }
    let mut steps = Vec::with_capacity(raw.steps.len());
    for (i, s) in raw.steps.into_iter().enumerate() {
        if s.kinds.is_empty() {
            return Err(at(file, &s.name, "a step needs at least one kind"));
        }
        if i > 0 && s.within.is_none() {
            return Err(at(
                file,
                &s.name,
                format!(
                    "step {:?} needs `within` (the longest gap since the previous step)",
                    s.name.value
                ),
            ));
        }
        steps.push(Step {
            name: s.name.value,
            kinds: s.kinds,
            within: s.within.map(|w| w.0),
            optional: s.optional,
            conditions: s.conditions,
            summary: s
                .summary
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty()),
        });
    }
    if steps.iter().all(|s| s.optional) {
        return Err(at(file, &raw.id, "at least one step must not be optional"));
    }
    if steps.last().is_some_and(|s| s.optional) {
        return Err(at(file, &raw.id, "the last step must not be optional"));
    }
    let mut on_timeout = Vec::new();
    for t in raw.on_timeout {
        let Some(reached) = steps.iter().position(|s| s.name == t.reached.value) else {
            let names: Vec<&str> = steps.iter().map(|s| s.name.as_str()).collect();
            return Err(at(
                file,
                &t.reached,
                format!(
                    "no step named {:?} (steps: {})",
                    t.reached.value,
                    names.join(", ")
                ),
            ));
        };
        if reached + 1 >= steps.len() {
            return Err(at(
                file,
                &t.reached,
                "a timeout after the last step can never fire",
            ));
        }
        if t.rule_id.value.trim().is_empty() {
            return Err(at(file, &t.rule_id, "a timeout finding needs a rule_id"));
        }
        on_timeout.push(TimeoutFinding {
            reached,
            rule_id: t.rule_id.value,
            title: t.title,
            severity: t.severity,
            confidence: t.confidence,
        });
    }
    let linger = raw.linger.map(|w| w.0).unwrap_or_else(|| {
        steps
            .iter()
            .filter_map(|s| s.within)
            .max()
            .unwrap_or(crate::time::HOUR)
    });
    Ok(Sequence {
        id,
        title: raw.title,
        description: raw.description,
        steps,
        context: raw.context,
        same: raw.same,
        severity: raw.severity,
        confidence: raw.confidence,
        confidence_per_step: raw.confidence_per_step,
        confidence_per_join: raw.confidence_per_join,
        escalate: raw
            .escalate
            .into_iter()
            .map(|e| Escalation {
                condition: e.condition,
                severity: e.severity,
                within: e.within.map_or(DEFAULT_ACCESS_WINDOW, |w| w.0),
            })
            .collect(),
        on_timeout,
        linger,
        never_suppress: raw.never_suppress,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<SequenceRules, ConfigError> {
        SequenceRules::from_sources(&[("t.yaml".to_string(), text.to_string())])
    }

    #[test]
    fn shipped_rules_load() {
        let rules = crate::config::RuleSource::Builtin
            .sequences()
            .expect("shipped sequence rules load");
        assert!(
            rules
                .sequences
                .iter()
                .any(|s| s.id == "t1601.image_replaced")
        );
    }

    #[test]
    fn rejects_bad_rules_with_location() {
        let cases = [
            ("sequences:\n  - id: a\n    titel: x\n", 3, "unknown field"),
            (
                "sequences:\n  - id: a\n    title: t\n    severity: high\n    confidence: 0.5\n    steps:\n      - name: s\n        kinds: [transfer]\n      - name: b\n        kinds: [boot]\n        within: 24 parsecs\n",
                11,
                "invalid duration",
            ),
            (
                "sequences:\n  - id: a\n    title: t\n    severity: high\n    confidence: 0.5\n    steps:\n      - name: s\n        kinds: [teleport]\n",
                8,
                "teleport",
            ),
            (
                "sequences:\n  - id: a\n    title: t\n    severity: high\n    confidence: 0.5\n    steps:\n      - name: s\n        kinds: [transfer]\n      - name: b\n        kinds: [boot]\n        within: 1h\n    on_timeout:\n      - reached: nope\n        rule_id: x\n        title: y\n        severity: low\n",
                13,
                "no step named",
            ),
            (
                "sequences:\n  - id: a\n    title: t\n    severity: high\n    confidence: 0.5\n    steps:\n      - name: s\n        kinds: [transfer]\n      - name: b\n        kinds: [boot]\n",
                9,
                "needs `within`",
            ),
        ];
        for (text, line, needle) in cases {
            let err = load(text).expect_err(needle);
            assert_eq!(err.line, line, "{err}");
            assert!(err.reason.contains(needle), "{err}");
        }
    }

    #[test]
    fn timeout_for_picks_the_furthest_reached_entry() {
        let rules = load(
            "sequences:\n  - id: a\n    title: t\n    severity: high\n    confidence: 0.5\n    steps:\n      - {name: x, kinds: [transfer], optional: true}\n      - {name: y, kinds: [boot_var], within: 1h}\n      - {name: z, kinds: [boot], within: 1h}\n    on_timeout:\n      - {reached: x, rule_id: a.low, title: l, severity: low}\n      - {reached: y, rule_id: a.med, title: m, severity: medium}\n",
        )
        .unwrap();
        let s = &rules.sequences[0];
        assert_eq!(s.last_start_step(), 1);
        assert_eq!(s.timeout_for(0).unwrap().rule_id, "a.low");
        assert_eq!(s.timeout_for(1).unwrap().rule_id, "a.med");
        assert_eq!(s.linger, crate::time::HOUR);
    }
}
