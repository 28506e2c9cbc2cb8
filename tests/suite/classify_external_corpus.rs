//! Real public log lines (`shared/corpus/external`): the few that matter to T1601 classify as
//! expected, and none of them looks like a step of an image change (the corpus has none).

use std::path::{Path, PathBuf};

use imagewatch::RuleSource;
use imagewatch::SignalKind;

const EXTERNAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/external");

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|x| x != "md") {
            out.push(path);
        }
    }
}

/// Every log line of the corpus; `.ini` rule tests keep only the text after `pass = `.
fn lines() -> Vec<String> {
    let mut paths = Vec::new();
    files(Path::new(EXTERNAL), &mut paths);
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let ini = path.extension().is_some_and(|x| x == "ini");
        for line in text.lines() {
            let line = if ini {
                match line.split_once("pass = ") {
                    Some((_, rest)) => rest,
                    None => continue,
                }
            } else {
                line
            };
            if !line.trim().is_empty() {
                out.push(line.to_owned());
            }
        }
    }
    out
}

/// (substring that picks out one or more real lines, expected kind)
const EXPECTED: &[(&str, Option<SignalKind>)] = &[
    (
        "Configured from tftp://10.83.21.224//cisco-bootstrap by console",
        Some(SignalKind::ConfigCopy),
    ),
    (
        "Configured from console by admin on vty0 (10.31.0.24)",
        Some(SignalKind::ConfigChange),
    ),
    ("%SYSMGR-5-CFGWRITE_DONE", Some(SignalKind::ConfigSave)),
    ("%SYSMGR-5-CFGWRITE_STARTED", Some(SignalKind::ConfigSave)),
    ("%SYS-5-CONFIG_STARTUP", Some(SignalKind::ConfigSave)),
    ("COMMAND=/isanboot/bin/imghdr", Some(SignalKind::Verify)),
    (
        "111005: 192.168.0.1 end configuration: OK",
        Some(SignalKind::ConfigSave),
    ),
    ("%ASA-5-505002: Module ips is reloading", None),
    ("%PROCMGR-6-PROCESS_RESTART", None),
    ("UI_COMMIT: User 'luke'", Some(SignalKind::ConfigChange)),
    (
        "VSHD_SYSLOG_CONFIG_I: Configured from vty by admin",
        Some(SignalKind::ConfigChange),
    ),
    ("%SYS-5-CONFIG_E: Enter configuration mode", None),
    ("UI_LOAD_EVENT: User 'luke' is performing a 'rollback", None),
    ("%ASA-5-111010: User 'pgskyadm'", None),
    ("%ASA-5-111004: 192.168.0.1 end configuration: FAILED", None),
    ("%IPS-4-SIGNATURE", None),
];

const NEVER: &[SignalKind] = &[
    SignalKind::Transfer,
    SignalKind::BootVar,
    SignalKind::InstallAdd,
    SignalKind::InstallActivate,
    SignalKind::InstallReload,
    SignalKind::InstallCommit,
    SignalKind::Reload,
    SignalKind::ReloadCmd,
    SignalKind::Boot,
    SignalKind::IntegrityFailure,
];

#[test]
fn real_lines_classify_as_expected() {
    let rules = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"));
    let classifier = RuleSource::Dir(rules.to_path_buf())
        .classifier()
        .expect("shipped rules load");
    let lines = lines();
    assert!(
        lines.len() > 300,
        "corpus not found or shrunk: {} lines",
        lines.len()
    );

    let mut errors = Vec::new();
    for (needle, want) in EXPECTED {
        let hits: Vec<&String> = lines.iter().filter(|l| l.contains(needle)).collect();
        if hits.is_empty() {
            errors.push(format!("no corpus line contains {needle:?}"));
        }
        for line in hits {
            let got = classifier.classify(line).map(|c| c.kind);
            if got != *want {
                errors.push(format!(
                    "{needle:?}: expected {want:?}, got {got:?}: {line}"
                ));
            }
            if want.is_some() && !classifier.may_match(line.as_bytes()) {
                errors.push(format!("prefilter rejects {line}"));
            }
        }
    }
    for line in &lines {
        if let Some(c) = classifier.classify(line)
            && NEVER.contains(&c.kind)
        {
            errors.push(format!("classified as {} by {}: {line}", c.kind, c.rule_id));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}
