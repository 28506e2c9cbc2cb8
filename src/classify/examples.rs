//! Rule-file examples: the `match` and `no_match` lines each rule carries, and the check that
//! runs them through the whole classifier (`imagewatch rules test`, and `cargo test`).

use std::fmt;

use super::classifier::{Classifier, Verdict};
use super::compile::Field;
use super::signal::SignalFields;

/// A line its rule must win, with at least these fields.
pub(super) struct MatchExample {
    /// Line of the example in the rule file.
    pub(super) line: u64,
    pub(super) text: String,
    pub(super) fields: SignalFields,
}

/// A line its rule must not win.
pub(super) struct NoMatchExample {
    /// Line of the example in the rule file.
    pub(super) line: u64,
    pub(super) text: String,
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
    pub fn check_examples(&self) -> Vec<ExampleFailure> {
        let mut failures = Vec::new();
        for rule in self.rules() {
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
      no_match:
        - "x reboot y"
  - id: m.shadowed
    kind: boot
    literals: ["reload"]
    pattern: 'reload'
    examples:
      match:
        - line: "x reload z"
          fields: {version: "1.0"}
        - line: "nothing here"
      no_match:
        - "reload again"
"#;
        let c = ok(yaml);
        assert_eq!(c.example_count(), 5);
        let failures = c.check_examples();
        let text: Vec<String> = failures.iter().map(ToString::to_string).collect();
        assert_eq!(failures.len(), 2, "{text:#?}");
        assert!(
            text[0].contains("t.yaml:19: rule m.shadowed: won by m.first"),
            "{}",
            text[0]
        );
        assert!(
            text[1].contains("does not pass the prefilter"),
            "{}",
            text[1]
        );
    }
}
