//! Scenario tests as data: each `tests/scenarios/*.yaml` holds syslog lines, a change calendar
//! and the alerts expected; this harness runs them through the same pipeline as `replay`.

use std::sync::Arc;

use imagewatch::Alert;
use imagewatch::ChangeCalendar;
use imagewatch::InputFormat;
use imagewatch::LineReader;
use imagewatch::RuleSource;
use imagewatch::StateStore;
use imagewatch::{Origin, Pipeline};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    #[serde(default)]
    changes: String,
    #[serde(default)]
    format: Option<String>,
    lines: String,
    expect: Vec<Expected>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Expected {
    rule_id: String,
    severity: String,
    suppressed: bool,
    #[serde(default)]
    suppressed_by: Option<String>,
    #[serde(default)]
    escalated_by: Option<String>,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    reason_contains: Vec<String>,
    #[serde(default)]
    evidence_kinds: Vec<String>,
    /// The version the alert says the device booted (reported or inferred).
    #[serde(default)]
    version_after: Option<String>,
    /// Whether that version was read from the staged image's name.
    #[serde(default)]
    version_inferred: Option<bool>,
}

/// Runs lines through a fresh pipeline (temporary state) and returns the last revision of
/// every alert, in the order the alerts first appeared.
pub fn run_lines(changes: &str, lines: &str, format: InputFormat) -> Vec<Alert> {
    let classifier = RuleSource::Dir(super::rules_dir())
        .classifier()
        .expect("rules load");
    let sequences = RuleSource::Dir(super::rules_dir())
        .sequences()
        .expect("sequences load");
    let calendar = ChangeCalendar::from_yaml(changes, "changes.yaml").expect("calendar loads");
    let mut pipeline = Pipeline::new(
        Arc::new(classifier),
        Arc::new(sequences),
        Arc::new(calendar),
        StateStore::temporary().unwrap(),
        format,
    )
    .unwrap();
    let mut alerts = Vec::new();
    let mut reader = LineReader::new(lines.as_bytes(), format != InputFormat::Ndjson);
    while let Some(m) = reader.next_message().unwrap() {
        let origin = Origin {
            file: "scenario",
            line: m.line_no,
        };
        pipeline
            .ingest(m.bytes, m.lines, &origin, &mut alerts)
            .unwrap();
    }
    pipeline.finish(&mut alerts).unwrap();
    let mut latest: Vec<Alert> = Vec::new();
    for a in alerts {
        match latest.iter_mut().find(|x| x.id == a.id) {
            Some(x) => {
                assert!(
                    a.revision > x.revision,
                    "revisions of {} must increase",
                    a.id
                );
                *x = a;
            }
            None => latest.push(a),
        }
    }
    latest
}

#[test]
fn every_scenario_gives_the_expected_alerts() {
    let dir = super::root().join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 18, "one scenario per corpus class at least");
    let mut failures = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let sc: Scenario = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let format = match sc.format.as_deref() {
            Some("ndjson") => InputFormat::Ndjson,
            Some("syslog") => InputFormat::Syslog,
            _ => InputFormat::Auto,
        };
        let got = run_lines(&sc.changes, &sc.lines, format);
        if let Err(why) = compare(&sc.expect, &got) {
            failures.push(format!(
                "{name} ({}): {why}\n  got: {}",
                sc.description,
                serde_json::to_string_pretty(&got).unwrap()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn compare(expect: &[Expected], got: &[Alert]) -> Result<(), String> {
    if expect.len() != got.len() {
        return Err(format!(
            "expected {} alerts, got {}",
            expect.len(),
            got.len()
        ));
    }
    for (e, a) in expect.iter().zip(got) {
        let check = |ok: bool, what: String| if ok { Ok(()) } else { Err(what) };
        check(
            a.rule_id == e.rule_id,
            format!("rule {} != {}", a.rule_id, e.rule_id),
        )?;
        check(
            a.severity.as_str() == e.severity,
            format!("severity {} != {}", a.severity.as_str(), e.severity),
        )?;
        check(
            a.suppressed == e.suppressed,
            format!("suppressed {} != {}", a.suppressed, e.suppressed),
        )?;
        check(
            a.suppressed_by == e.suppressed_by,
            format!(
                "suppressed_by {:?} != {:?}",
                a.suppressed_by, e.suppressed_by
            ),
        )?;
        check(
            a.escalated_by == e.escalated_by,
            format!("escalated_by {:?} != {:?}", a.escalated_by, e.escalated_by),
        )?;
        if let Some(d) = &e.device {
            check(&a.device == d, format!("device {} != {d}", a.device))?;
        }
        for needle in &e.reason_contains {
            check(
                a.reason.contains(needle.as_str()),
                format!("reason lacks {needle:?}: {}", a.reason),
            )?;
        }
        if let Some(v) = &e.version_after {
            check(
                a.version_after.as_ref() == Some(v),
                format!("version_after {:?} != {v:?}", a.version_after),
            )?;
        }
        if let Some(inferred) = e.version_inferred {
            check(
                a.version_inferred == inferred,
                format!("version_inferred {} != {inferred}", a.version_inferred),
            )?;
        }
        if !e.evidence_kinds.is_empty() {
            let kinds: Vec<&str> = a.evidence.iter().map(|x| x.kind.as_str()).collect();
            check(
                kinds == e.evidence_kinds,
                format!("evidence kinds {kinds:?} != {:?}", e.evidence_kinds),
            )?;
        }
    }
    Ok(())
}
