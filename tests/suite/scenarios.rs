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
    /// Text each of which some evidence line holds.
    #[serde(default)]
    evidence_contains: Vec<String>,
    /// Where each evidence line came from (`device` or `host`), in order.
    #[serde(default)]
    evidence_origins: Vec<String>,
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
        for needle in &e.evidence_contains {
            check(
                a.evidence
                    .iter()
                    .any(|x| x.message.contains(needle.as_str())),
                format!("no evidence line holds {needle:?}"),
            )?;
        }
        if !e.evidence_origins.is_empty() {
            let origins: Vec<&str> = a.evidence.iter().map(|x| x.origin.as_str()).collect();
            check(
                origins == e.evidence_origins,
                format!("evidence origins {origins:?} != {:?}", e.evidence_origins),
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

/// Evasion by flooding: an attacker stages a real image, then floods the device's log with a
/// thousand boot-variable changes to decoy images, inside a maintenance window, so that the
/// real sequence is pushed out at `max_pending`. The loss is one finding for the device, high,
/// not suppressed by the window, naming the device, how much was dropped and the real image
/// (its line is kept as evidence).
///
/// Lines: IOS `%PARSER-5-CFGLOG_LOGGEDCMD: User:<user>  logged command:<cmd>` (template S,
/// ../shared/FORMATS.md §2 "bootvar", Sigma and NOC; the `boot system flash:…` content is
/// source: unverified), behind the project's collector prefix (README, "Input formats").
#[test]
fn a_flood_of_sequence_starts_raises_one_unsuppressed_finding_in_a_window() {
    let changes = r#"
maintenance_windows:
  - id: MW-rtr-0077
    devices: ["rtr-0077"]
    start: 2026-06-03T01:00:00Z
    end: 2026-06-03T05:00:00Z
inventory:
  - device: rtr-0077
    vendor: cisco_ios
    aliases: ["10.64.0.77"]
    baseline_version: "15.7(3)M8"
"#;
    let line = |n: u32, secs: u32, image: &str| {
        let (m, s) = (secs / 60, secs % 60);
        format!(
            "2026-06-03T02:{m:02}:{s:02}.200Z 10.64.0.77 <189>{n}: rtr-0077: Jun  3 02:{m:02}:{s:02}.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:mallory  logged command:boot system flash:{image}\n"
        )
    };
    let mut lines = line(1, 0, "c2900-universalk9-mz.SPA.157-3.M9.bin");
    for n in 1..=1000 {
        lines.push_str(&line(
            n + 1,
            60 + n * 3 / 1000,
            &format!("decoy-{n:04}.bin"),
        ));
    }
    // The feed goes on after the flood: the finding's count is brought up to date.
    lines.push_str(
        "2026-06-03T02:20:00.000Z 10.64.0.77 <189>2002: rtr-0077: Jun  3 02:20:00.000 UTC: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to up\n",
    );
    let got = run_lines(changes, &lines, InputFormat::Auto);
    let dropped = 1001 - imagewatch::Limits::default().max_pending;
    let expect = [Expected {
        rule_id: "t1601.evidence_dropped".into(),
        severity: "high".into(),
        suppressed: false,
        suppressed_by: None,
        escalated_by: None,
        device: Some("rtr-0077".into()),
        reason_contains: vec![
            format!("{dropped} pending sequence instances and {dropped} evidence lines"),
            "c2900-universalk9-mz.SPA.157-3.M9.bin".into(),
            "Dropped evidence is never suppressed".into(),
        ],
        evidence_kinds: Vec::new(),
        version_after: None,
        version_inferred: None,
        evidence_contains: Vec::new(),
        evidence_origins: Vec::new(),
    }];
    if let Err(why) = compare(&expect, &got) {
        panic!("{why}\n{}", serde_json::to_string_pretty(&got).unwrap());
    }
    assert_eq!(got[0].revision, 4, "1, 10 and 100 lines, then the pause");
}
