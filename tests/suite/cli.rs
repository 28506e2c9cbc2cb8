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

/// Every attack and benign scenario's lines in one log (the scenarios' own calendars left out,
/// so the attacks raise alerts).
fn scenario_log(dir: &std::path::Path) -> std::path::PathBuf {
    #[derive(serde::Deserialize)]
    struct Scenario {
        lines: String,
    }
    let mut paths: Vec<_> = std::fs::read_dir(super::root().join("tests/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let mut log = String::new();
    for path in paths {
        let s: Scenario = serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        log.push_str(&s.lines);
    }
    let file = dir.join("scenarios.log");
    std::fs::write(&file, log).unwrap();
    file
}

/// An installed binary needs no checkout: from a directory without `rules/`, `replay` runs the
/// built-in rules, and they raise exactly what the shipped rules directory raises.
#[test]
fn replay_without_rules_runs_the_built_in_set() {
    let tmp = tempfile::tempdir().unwrap();
    let log = scenario_log(tmp.path());
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
            .arg("replay")
            .args(extra)
            .arg(&log)
            .current_dir(&empty)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let built_in = run(&[]);
    let from_dir = run(&["--rules", super::rules_dir().to_str().unwrap()]);
    assert!(built_in.lines().count() >= 5, "{built_in}");
    let stable = |out: &str| super::without_emitted_at(out.lines().map(str::to_string).collect());
    assert_eq!(stable(&built_in), stable(&from_dir));
}

/// `rules export` writes the built-in set as the shipped tree, `rules test` passes on the
/// export and on the built-in set, and a second export does not overwrite without `--force`.
#[test]
fn rules_export_writes_the_shipped_tree_and_rules_test_passes_on_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my-rules");
    let out = imagewatch(&["rules", "export", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");

    let shipped = super::rules_dir();
    for sub in ["signals", "sequences"] {
        let names = |root: &std::path::Path| {
            let mut n: Vec<_> = std::fs::read_dir(root.join(sub))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            n.sort();
            n
        };
        assert_eq!(names(&dir), names(&shipped), "{sub}/");
        for name in names(&shipped) {
            let path = std::path::Path::new(sub).join(&name);
            assert_eq!(
                std::fs::read(dir.join(&path)).unwrap(),
                std::fs::read(shipped.join(&path)).unwrap(),
                "{}",
                path.display()
            );
        }
    }

    for args in [
        &["rules", "test", "--rules", dir.to_str().unwrap()][..],
        &["rules", "test"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
            .args(args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?}: {stdout}");
        assert!(stdout.contains(" 0 failures"), "{args:?}: {stdout}");
    }

    let cisco = dir.join("signals/cisco_ios.yaml");
    std::fs::write(&cisco, "customised").unwrap();
    let again = imagewatch(&["rules", "export", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&cisco).unwrap(), "customised");
    let forced = imagewatch(&["rules", "export", "--force", dir.to_str().unwrap()]);
    assert!(forced.status.success(), "{forced:?}");
    assert_eq!(
        std::fs::read(&cisco).unwrap(),
        std::fs::read(shipped.join("signals/cisco_ios.yaml")).unwrap()
    );
}

/// A rules directory that is not there is named, with the reason, and no `0:0` position.
#[test]
fn missing_rules_directory_is_named_without_a_position() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("nope");
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
    assert!(
        err.contains(&format!(
            "{}: cannot read directory: No such file or directory",
            rules.join("signals").display()
        )),
        "{err}"
    );
    assert!(!err.contains(":0:0"), "{err}");
}

/// `rules test` prints the coverage matrix (every signal kind × every vendor, declared
/// not-logged kinds as such) and fails, exit 2, on an example without a source.
#[test]
fn rules_test_prints_the_coverage_matrix_and_fails_on_an_unsourced_example() {
    let out = imagewatch(&[
        "rules",
        "test",
        "--rules",
        super::rules_dir().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let header = stdout
        .lines()
        .find(|l| l.starts_with("kind "))
        .unwrap_or_else(|| panic!("no matrix header: {stdout}"));
    let vendors: Vec<&str> = header.split_whitespace().skip(1).collect();
    for v in [
        "arista_eos",
        "cisco_asa",
        "cisco_ios",
        "cisco_iosxe",
        "cisco_nxos",
        "common",
        "fortinet_fortigate",
        "juniper_junos",
        "paloalto_panos",
    ] {
        assert!(vendors.contains(&v), "{v} missing from {header}");
    }
    for kind in imagewatch::SignalKind::ALL {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(kind.as_str()))
            .unwrap_or_else(|| panic!("no row for {kind}: {stdout}"));
        assert_eq!(row.split_whitespace().count(), vendors.len() + 1, "{row}");
    }
    let version = stdout.lines().find(|l| l.starts_with("version ")).unwrap();
    let col = vendors.iter().position(|v| *v == "cisco_nxos").unwrap();
    assert_eq!(
        version.split_whitespace().nth(col + 1),
        Some("n/l"),
        "{version}"
    );
    assert!(
        stdout.contains("not logged: cisco_nxos version: "),
        "{stdout}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(rules.join("signals")).unwrap();
    std::fs::create_dir_all(rules.join("sequences")).unwrap();
    for dir in ["signals", "sequences"] {
        for entry in std::fs::read_dir(super::rules_dir().join(dir)).unwrap() {
            let p = entry.unwrap().path();
            std::fs::copy(&p, rules.join(dir).join(p.file_name().unwrap())).unwrap();
        }
    }
    let asa = rules.join("signals/cisco_asa.yaml");
    let text = std::fs::read_to_string(&asa).unwrap();
    // Remove the first example's `source:` line: that example then has none.
    let mut removed = false;
    let unsourced: String = text
        .lines()
        .filter(|l| {
            let drop = !removed && l.trim_start().starts_with("source: ");
            removed |= drop;
            !drop
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(removed);
    std::fs::write(&asa, unsourced).unwrap();
    let out = imagewatch(&["rules", "test", "--rules", rules.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cisco_asa.yaml") && err.contains("example without a source"),
        "{err}"
    );
}
