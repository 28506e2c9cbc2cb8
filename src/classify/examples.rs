//! Rule-file examples: the `match` and `no_match` lines each rule carries, and the check that
//! runs them through the whole classifier (`imagewatch rules test`, and `cargo test`).

use std::fmt;
use std::sync::Arc;

use super::classifier::{Classifier, Verdict};
use super::compile::Field;
use super::signal::{SignalFields, SignalKind};

/// A line its rule must win, with at least these fields.
pub(super) struct MatchExample {
    /// Line of the example in the rule file.
    pub(super) line: u64,
    pub(super) text: String,
    /// Where the line's wording comes from (see [`Provenance`]).
    pub(super) source: Option<String>,
    pub(super) fields: SignalFields,
}

/// A line its rule must not win.
pub(super) struct NoMatchExample {
    /// Line of the example in the rule file.
    pub(super) line: u64,
    pub(super) text: String,
    pub(super) source: Option<String>,
}

/// A vendor of the rule files and the signal kinds it declares it does not log.
pub(super) struct VendorDecl {
    pub(super) vendor: Arc<str>,
    pub(super) not_logged: Vec<(SignalKind, String)>,
}

/// What an example's `source:` says about its wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Provenance {
    /// A public document, repository path or advisory the line follows.
    Sourced,
    /// `unverified — <what the wording rests on>`: no public capture was found.
    Unverified,
}

/// Reads a `source:` value, or says what is wrong with it.
fn provenance(source: Option<&str>) -> Result<Provenance, &'static str> {
    let source = source.map(str::trim).unwrap_or("");
    if source.is_empty() {
        return Err(
            "example without a source (add `source:` — a public document, repository path or advisory, or `unverified — <what the wording rests on>`)",
        );
    }
    let lower = source.to_ascii_lowercase();
    match lower.strip_prefix("unverified") {
        Some(rest) => {
            let rest = rest.trim_start_matches(|c: char| {
                c.is_whitespace()
                    || c == '-'
                    || c == ':'
                    || c == ','
                    || c == '\u{2014}'
                    || c == '\u{2013}'
            });
            if rest.is_empty() {
                Err(
                    "unverified example without what its wording rests on (`unverified — <reason>`)",
                )
            } else {
                Ok(Provenance::Unverified)
            }
        }
        None => Ok(Provenance::Sourced),
    }
}

/// Source problems of one example list: a missing or bare source, and an unverified example
/// listed before a sourced one (unverified ones are kept apart, after the sourced ones).
fn source_problems<'a>(
    examples: impl Iterator<Item = (u64, &'a str, Option<&'a str>)>,
) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    let mut unverified_seen = false;
    for (line, text, source) in examples {
        match provenance(source) {
            Err(problem) => out.push((line, text.to_owned(), problem.to_owned())),
            Ok(Provenance::Unverified) => unverified_seen = true,
            Ok(Provenance::Sourced) if unverified_seen => out.push((
                line,
                text.to_owned(),
                "sourced example listed after an unverified one (keep unverified ones apart, after the sourced)".to_owned(),
            )),
            Ok(Provenance::Sourced) => {}
        }
    }
    out
}

impl Examples {
    /// Source problems of the `match` list, then of the `no_match` list.
    fn source_problems(&self) -> Vec<(u64, String, String)> {
        let mut out = source_problems(
            self.matches
                .iter()
                .map(|e| (e.line, e.text.as_str(), e.source.as_deref())),
        );
        out.extend(source_problems(
            self.no_match
                .iter()
                .map(|e| (e.line, e.text.as_str(), e.source.as_deref())),
        ));
        out
    }
}

/// One cell of the coverage matrix: a signal kind on one vendor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoverageCell {
    /// `match` examples of the vendor's rules of this kind, by provenance.
    Examples { sourced: usize, unverified: usize },
    /// The vendor declares it does not log this kind (`not_logged:`).
    NotLogged,
    /// No rule example of this kind and no declaration: a gap.
    Empty,
}

/// Signal kind × vendor: what the rule files' `match` examples show of each kind, and which
/// kinds a platform declares it does not log. Printed by `imagewatch rules test`.
#[derive(Clone, Debug)]
pub struct CoverageMatrix {
    /// Vendor names, in rule-file load order (the columns).
    pub vendors: Vec<String>,
    /// One row per signal kind, in [`SignalKind::ALL`] order, one cell per vendor.
    pub rows: Vec<(SignalKind, Vec<CoverageCell>)>,
    /// Every `not_logged` declaration: vendor, kind, reason.
    pub not_logged: Vec<(String, SignalKind, String)>,
}

impl CoverageMatrix {
    /// The cell of `kind` on `vendor`, if both are in the matrix.
    pub fn cell(&self, kind: SignalKind, vendor: &str) -> Option<&CoverageCell> {
        let col = self.vendors.iter().position(|v| v == vendor)?;
        let (_, cells) = self.rows.iter().find(|(k, _)| *k == kind)?;
        cells.get(col)
    }
}

impl fmt::Display for CoverageMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "coverage: match examples per signal kind and vendor, sourced+unverified; \
             `n/l` = declared not logged; `.` = none"
        )?;
        let kind_w = SignalKind::ALL
            .iter()
            .map(|k| k.as_str().len())
            .max()
            .unwrap_or(0);
        let widths: Vec<usize> = self.vendors.iter().map(|v| v.len().max(5)).collect();
        write!(f, "{:kind_w$}", "kind")?;
        for (v, w) in self.vendors.iter().zip(&widths) {
            write!(f, "  {v:>w$}")?;
        }
        writeln!(f)?;
        for (kind, cells) in &self.rows {
            write!(f, "{:kind_w$}", kind.as_str())?;
            for (cell, w) in cells.iter().zip(&widths) {
                let text = match cell {
                    CoverageCell::Examples {
                        sourced,
                        unverified,
                    } => format!("{sourced}+{unverified}"),
                    CoverageCell::NotLogged => "n/l".to_owned(),
                    CoverageCell::Empty => ".".to_owned(),
                };
                write!(f, "  {text:>w$}")?;
            }
            writeln!(f)?;
        }
        for (vendor, kind, reason) in &self.not_logged {
            writeln!(f, "not logged: {vendor} {}: {reason}", kind.as_str())?;
        }
        Ok(())
    }
}

/// A rule's examples, kept with the compiled rule so `rules test` can run them.
#[derive(Default)]
pub(super) struct Examples {
    pub(super) matches: Vec<MatchExample>,
    pub(super) no_match: Vec<NoMatchExample>,
}

impl Examples {
    pub(super) fn len(&self) -> usize {
        self.matches.len() + self.no_match.len()
    }
}

/// One example that does not behave as its rule file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExampleFailure {
    pub file: String,
    pub rule_id: String,
    /// Line of the example in the rule file.
    pub line: u64,
    pub example: String,
    pub problem: String,
}

impl fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: rule {}: {}: {:?}",
            self.file, self.line, self.rule_id, self.problem, self.example
        )
    }
}

impl Classifier {
    /// Number of `match` and `no_match` examples of all rules.
    pub fn example_count(&self) -> usize {
        self.rules().map(|r| r.examples.len()).sum::<usize>()
            + self
                .carriers
                .iter()
                .map(|c| c.examples.len())
                .sum::<usize>()
    }

    /// Runs every rule's examples through the whole classifier (prefilter and all rules).
    ///
    /// A `match` example of a message or command rule must pass the prefilter and be won by
    /// that rule with at least the given fields; a `no_match` example must not be won by it.
    /// For a carrier, "won" means it is the first carrier whose pattern matches (carriers
    /// have no literals, and a carried `show version` rightly classifies to nothing).
    ///
    /// Every example must name its source, unverified ones after the sourced ones; a kind a
    /// vendor declares `not_logged` must not be what one of its rules yields.
    pub fn check_examples(&self) -> Vec<ExampleFailure> {
        let mut failures = Vec::new();
        for rule in self.rules() {
            for (line, example, problem) in rule.examples.source_problems() {
                failures.push(ExampleFailure {
                    file: rule.origin.file.to_string(),
                    rule_id: rule.origin.id.to_string(),
                    line,
                    example,
                    problem,
                });
            }
            let declared = self
                .vendors
                .iter()
                .find(|v| v.vendor == rule.origin.vendor)
                .and_then(|v| v.not_logged.iter().find(|(k, _)| *k == rule.kind));
            if declared.is_some() {
                failures.push(ExampleFailure {
                    file: rule.origin.file.to_string(),
                    rule_id: rule.origin.id.to_string(),
                    line: rule.examples.matches.first().map_or(0, |e| e.line),
                    example: String::new(),
                    problem: format!(
                        "yields {}, which vendor {} declares not_logged",
                        rule.kind, rule.origin.vendor
                    ),
                });
            }
            let fail = |ex_line: u64, text: &str, problem: String| ExampleFailure {
                file: rule.origin.file.to_string(),
                rule_id: rule.origin.id.to_string(),
                line: ex_line,
                example: text.to_owned(),
                problem,
            };
            for ex in &rule.examples.matches {
                if !self.may_match(ex.text.as_bytes()) {
                    failures.push(fail(
                        ex.line,
                        &ex.text,
                        "does not pass the prefilter".into(),
                    ));
                    continue;
                }
                match self.verdict(&ex.text) {
                    None => failures.push(fail(ex.line, &ex.text, "classified as nothing".into())),
                    Some(v) => {
                        let (winner, fields) = match &v {
                            Verdict::Message(r, f) | Verdict::Command(_, r, f) => (*r, f),
                        };
                        if !std::ptr::eq(winner, rule) {
                            let problem =
                                format!("won by {} ({}) instead", winner.origin.id, winner.kind);
                            failures.push(fail(ex.line, &ex.text, problem));
                        } else if let Some(problem) = field_mismatch(&ex.fields, fields) {
                            failures.push(fail(ex.line, &ex.text, problem));
                        }
                    }
                }
            }
            for ex in &rule.examples.no_match {
                let won = match self.verdict(&ex.text) {
                    Some(Verdict::Message(r, _)) | Some(Verdict::Command(_, r, _)) => {
                        std::ptr::eq(r, rule)
                    }
                    None => false,
                };
                if won {
                    failures.push(fail(
                        ex.line,
                        &ex.text,
                        "no_match example won by the rule".into(),
                    ));
                }
            }
        }
        for (ci, carrier) in self.carriers.iter().enumerate() {
            let fail = |ex_line: u64, text: &str, problem: String| ExampleFailure {
                file: carrier.origin.file.to_string(),
                rule_id: carrier.origin.id.to_string(),
                line: ex_line,
                example: text.to_owned(),
                problem,
            };
            for (line, example, problem) in carrier.examples.source_problems() {
                failures.push(fail(line, &example, problem));
            }
            for ex in &carrier.examples.matches {
                match self.carry(ex.text.as_bytes()) {
                    None => failures.push(fail(ex.line, &ex.text, "no carrier matches".into())),
                    Some((i, _)) if i != ci => {
                        let problem = format!("carried by {} instead", self.carriers[i].origin.id);
                        failures.push(fail(ex.line, &ex.text, problem));
                    }
                    Some((_, fields)) => {
                        if let Some(problem) = field_mismatch(&ex.fields, &fields) {
                            failures.push(fail(ex.line, &ex.text, problem));
                        }
                    }
                }
            }
            for ex in &carrier.examples.no_match {
                if self.carry(ex.text.as_bytes()).is_some_and(|(i, _)| i == ci) {
                    failures.push(fail(ex.line, &ex.text, "no_match example carried".into()));
                }
            }
        }
        failures
    }
}

impl Classifier {
    /// Signal kind × vendor matrix of the rules' `match` examples (carriers yield no kind and
    /// are left out), with each vendor's `not_logged` declarations.
    pub fn coverage_matrix(&self) -> CoverageMatrix {
        let vendors: Vec<String> = self.vendors.iter().map(|v| v.vendor.to_string()).collect();
        let rows = SignalKind::ALL
            .into_iter()
            .map(|kind| {
                let cells = self
                    .vendors
                    .iter()
                    .map(|v| {
                        let (mut sourced, mut unverified) = (0, 0);
                        let rules = self
                            .rules()
                            .filter(|r| r.kind == kind && r.origin.vendor == v.vendor);
                        for ex in rules.flat_map(|r| &r.examples.matches) {
                            match provenance(ex.source.as_deref()) {
                                Ok(Provenance::Sourced) => sourced += 1,
                                Ok(Provenance::Unverified) => unverified += 1,
                                Err(_) => {}
                            }
                        }
                        if sourced + unverified > 0 {
                            CoverageCell::Examples {
                                sourced,
                                unverified,
                            }
                        } else if v.not_logged.iter().any(|(k, _)| *k == kind) {
                            CoverageCell::NotLogged
                        } else {
                            CoverageCell::Empty
                        }
                    })
                    .collect();
                (kind, cells)
            })
            .collect();
        let not_logged = self
            .vendors
            .iter()
            .flat_map(|v| {
                v.not_logged
                    .iter()
                    .map(|(k, reason)| (v.vendor.to_string(), *k, reason.clone()))
            })
            .collect();
        CoverageMatrix {
            vendors,
            rows,
            not_logged,
        }
    }
}

/// The first expected field that is missing or different, described.
fn field_mismatch(expected: &SignalFields, got: &SignalFields) -> Option<String> {
    Field::ALL.into_iter().find_map(|f| {
        let want = f.get(expected)?;
        match f.get(got) {
            Some(have) if have == want => None,
            Some(have) => Some(format!(
                "field {}: expected {want:?}, got {have:?}",
                f.name()
            )),
            None => Some(format!(
                "field {}: expected {want:?}, got nothing",
                f.name()
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(yaml: &str) -> Classifier {
        match Classifier::from_sources(&[("t.yaml".to_owned(), yaml.to_owned())]) {
            Ok(c) => c,
            Err(e) => panic!("rules should load: {e}"),
        }
    }

    #[test]
    fn examples_are_checked_through_the_whole_classifier() {
        let yaml = r#"
vendor: test
messages:
  - id: m.first
    kind: reload
    literals: ["reload"]
    pattern: 'reload'
    examples:
      match:
        - line: "x reload y"
          source: "doc A"
      no_match:
        - line: "x reboot y"
          source: "doc A"
  - id: m.shadowed
    kind: boot
    literals: ["reload"]
    pattern: 'reload'
    examples:
      match:
        - line: "x reload z"
          source: "doc B"
          fields: {version: "1.0"}
        - line: "nothing here"
          source: "unverified — made up"
      no_match:
        - line: "reload again"
          source: "doc B"
"#;
        let c = ok(yaml);
        assert_eq!(c.example_count(), 5);
        let failures = c.check_examples();
        let text: Vec<String> = failures.iter().map(ToString::to_string).collect();
        assert_eq!(failures.len(), 2, "{text:#?}");
        assert!(
            text[0].contains("t.yaml:21: rule m.shadowed: won by m.first"),
            "{}",
            text[0]
        );
        assert!(
            text[1].contains("does not pass the prefilter"),
            "{}",
            text[1]
        );
    }

    /// Every example needs a source; `unverified` must say what it rests on and come after
    /// the sourced ones; both plain-string and `{line, source}` no_match forms parse.
    #[test]
    fn examples_without_a_source_fail() {
        let yaml = r#"
vendor: test
messages:
  - id: m.one
    kind: reload
    literals: ["reload"]
    pattern: 'reload'
    examples:
      match:
        - line: "a reload"
        - line: "b reload"
          source: "unverified"
        - line: "c reload"
          source: "unverified — the vendor guide's wording"
        - line: "d reload"
          source: "https://example.invalid/guide"
      no_match:
        - "x reboot"
        - line: "y reboot"
          source: "doc"
"#;
        let c = ok(yaml);
        assert_eq!(c.example_count(), 6);
        let failures = c.check_examples();
        let text: Vec<String> = failures.iter().map(ToString::to_string).collect();
        assert_eq!(failures.len(), 4, "{text:#?}");
        assert!(
            text[0].contains(":10: rule m.one: example without a source"),
            "{}",
            text[0]
        );
        assert!(
            text[1].contains(":11: rule m.one: unverified example without what"),
            "{}",
            text[1]
        );
        assert!(
            text[2].contains(":15: rule m.one: sourced example listed after an unverified"),
            "{}",
            text[2]
        );
        assert!(
            text[3].contains("example without a source") && text[3].contains("x reboot"),
            "{}",
            text[3]
        );
    }

    #[test]
    fn coverage_matrix_counts_declares_and_leaves_gaps() {
        let a = r#"
vendor: a
not_logged:
  version: "no banner"
messages:
  - id: a.boot
    kind: boot
    literals: ["up"]
    pattern: 'up'
    examples:
      match:
        - line: "x up"
          source: "doc"
        - line: "y up"
          source: "unverified — guess"
"#;
        let b = r#"
vendor: b
messages:
  - id: b.version
    kind: version
    literals: ["ver"]
    pattern: 'ver'
    examples:
      match:
        - line: "x ver"
          source: "doc"
"#;
        let c = match Classifier::from_sources(&[
            ("a.yaml".to_owned(), a.to_owned()),
            ("b.yaml".to_owned(), b.to_owned()),
        ]) {
            Ok(c) => c,
            Err(e) => panic!("rules should load: {e}"),
        };
        assert!(c.check_examples().is_empty());
        let m = c.coverage_matrix();
        assert_eq!(m.vendors, ["a", "b"]);
        assert_eq!(m.rows.len(), SignalKind::ALL.len());
        assert!(m.rows.iter().all(|(_, cells)| cells.len() == 2));
        assert_eq!(
            m.cell(SignalKind::Boot, "a"),
            Some(&CoverageCell::Examples {
                sourced: 1,
                unverified: 1
            })
        );
        assert_eq!(
            m.cell(SignalKind::Version, "a"),
            Some(&CoverageCell::NotLogged)
        );
        assert_eq!(
            m.cell(SignalKind::Version, "b"),
            Some(&CoverageCell::Examples {
                sourced: 1,
                unverified: 0
            })
        );
        assert_eq!(m.cell(SignalKind::Boot, "b"), Some(&CoverageCell::Empty));
        let shown = m.to_string();
        assert!(
            shown.contains("not logged: a version: no banner"),
            "{shown}"
        );
        let version_row = shown
            .lines()
            .find(|l| l.starts_with("version "))
            .unwrap_or("");
        assert!(
            version_row.contains("n/l") && version_row.contains("1+0"),
            "{shown}"
        );
    }

    #[test]
    fn not_logged_is_checked() {
        let unknown = "vendor: a\nnot_logged:\n  rebooted: \"x\"\nmessages: []\n";
        match Classifier::from_sources(&[("a.yaml".to_owned(), unknown.to_owned())]) {
            Err(e) => assert!(e.to_string().contains("unknown kind `rebooted`"), "{e}"),
            Ok(_) => panic!("an unknown kind must not load"),
        }
        let contradicts = r#"
vendor: a
not_logged:
  boot: "never"
messages:
  - id: a.boot
    kind: boot
    literals: ["up"]
    pattern: 'up'
    examples:
      match:
        - line: "x up"
          source: "doc"
"#;
        let c = ok(contradicts);
        let failures: Vec<String> = c.check_examples().iter().map(ToString::to_string).collect();
        assert_eq!(failures.len(), 1, "{failures:#?}");
        assert!(
            failures[0].contains("declares not_logged"),
            "{}",
            failures[0]
        );
    }
}
