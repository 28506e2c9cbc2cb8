//! The shipped rule files load and every example in them behaves as written.

use std::path::Path;

use imagewatch::Classifier;
use imagewatch::RuleSource;

fn shipped() -> Classifier {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"));
    match RuleSource::Dir(dir.to_path_buf()).classifier() {
        Ok(c) => c,
        Err(e) => panic!("shipped rules do not load: {e}"),
    }
}

#[test]
fn shipped_examples_hold() {
    let c = shipped();
    let failures = c.check_examples();
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(failures.is_empty(), "{} example failures", failures.len());
}

/// Enough examples per rule, each a whole syslog line with its header.
#[test]
fn shipped_examples_are_plentiful_and_whole_lines() {
    use imagewatch::{RawExamples, RawFile};

    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/signals"));
    let mut rules = 0usize;
    let mut matches = 0usize;
    let mut no_matches = 0usize;
    let mut bad = Vec::new();
    let mut count = |name: &str, id: &str, ex: &RawExamples| {
        rules += 1;
        matches += ex.matches.len();
        no_matches += ex.no_match.len();
        if ex.matches.is_empty() {
            bad.push(format!("{name}: {id} has no match example"));
        }
        let lines = ex
            .matches
            .iter()
            .map(|m| m.line.value.as_str())
            .chain(ex.no_match.iter().map(|n| n.value.line()));
        for line in lines {
            // A header starts with `<PRI>`, a relay or file timestamp, or a sequence number;
            // never with the `%FAC-SEV-MNEMONIC` body itself.
            let first = line.bytes().next().unwrap_or(b'%');
            if !(first == b'<' || first.is_ascii_alphanumeric()) {
                bad.push(format!("{name}: {id}: example without a header: {line}"));
            }
        }
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("rules/signals").collect();
    entries.sort_by_key(|e| e.as_ref().map(|e| e.path()).ok());
    for entry in entries {
        let path = entry.expect("entry").path();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).expect("rule file");
        let raw: RawFile = serde_saphyr::from_str(&text).expect("rule file parses");
        for c in &raw.carriers {
            count(&name, &c.id.value, &c.examples);
        }
        for r in raw.commands.iter().chain(&raw.messages) {
            count(&name, &r.id.value, &r.examples);
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(
        matches >= 2 * rules,
        "{matches} match examples for {rules} rules"
    );
    assert!(
        no_matches >= rules,
        "{no_matches} no_match examples for {rules} rules"
    );
    assert_eq!(shipped().example_count(), matches + no_matches);
    assert_eq!(shipped().rule_count(), rules);
}
