//! The command line: exit codes and located messages for bad input files.

use std::process::Command;

fn imagewatch(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn rules_test_passes_on_the_shipped_rules() {
    let out = imagewatch(&[
        "rules",
        "test",
        "--rules",
        super::rules_dir().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 failures"), "{stdout}");
}

#[test]
fn bad_changes_file_exits_2_with_file_line_column_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let changes = tmp.path().join("changes.yaml");
    std::fs::write(&changes, "change_tickets:\n  - id: CHG1\n    devices: [\"r1\"]\n    start: 2026-06-02T00:00:00Z\n    end: 2026-06-01T00:00:00Z\n").unwrap();
    let log = tmp.path().join("x.log");
    std::fs::write(&log, "").unwrap();
    let out = imagewatch(&[
        "replay",
        "--rules",
        super::rules_dir().to_str().unwrap(),
        "--changes",
        changes.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:5:", changes.display())), "{err}");
}

#[test]
fn bad_rule_file_exits_2_with_location() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(rules.join("signals")).unwrap();
    std::fs::create_dir_all(rules.join("sequences")).unwrap();
    for entry in std::fs::read_dir(super::rules_dir().join("sequences")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, rules.join("sequences").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        rules.join("signals/bad.yaml"),
        "vendor: x\nmessages:\n  - id: bad.rule\n    kind: reload\n    literals: [\"RELOAD\"]\n    pattern: '(unclosed'\n",
    )
    .unwrap();
    let log = tmp.path().join("x.log");
    std::fs::write(&log, "").unwrap();
    let out = imagewatch(&[
        "replay",
        "--rules",
        rules.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml:6:"), "{err}");
}

#[test]
fn missing_input_exits_2_and_names_it() {
    let out = imagewatch(&[
        "replay",
        "--rules",
        super::rules_dir().to_str().unwrap(),
        "/nonexistent/x.log",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.log"));
}

#[test]
fn summary_reports_counts_on_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("x.log");
    std::fs::write(&log, "<189>1: r1: Jun  1 2026 03:10:00.123 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up\nnot syslog at all\n").unwrap();
    let out = imagewatch(&[
        "replay",
        "--rules",
        super::rules_dir().to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 lines (1 parsed, 1 unparsed"), "{err}");
    assert!(err.contains("x.log:2:"), "{err}");
    assert!(out.stdout.is_empty());
}
