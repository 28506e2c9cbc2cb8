//! `imagewatch replay` on input it cannot use: a missing file, the wrong `--format`, no
//! calendar. Each is said on stderr before or instead of a silent, wrong replay.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use super::service::edge_swap;

fn replay(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .arg("replay")
        .arg("--rules")
        .arg(super::rules_dir())
        .args(args)
        .output()
        .expect("imagewatch runs")
}

/// The image swap of the service tests as raw syslog lines: one alert for `edge-0091`.
fn syslog_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("edge.log");
    std::fs::write(&path, edge_swap().join("\n") + "\n").unwrap();
    path
}

/// The same lines as Filebeat-style NDJSON (ECS `@timestamp`, `log.source.address`, `message`).
fn ndjson_file(dir: &Path) -> std::path::PathBuf {
    let times = [
        "2026-06-02T22:41:00.500Z",
        "2026-06-02T22:48:00.500Z",
        "2026-06-02T22:55:10.500Z",
        "2026-06-02T23:00:59.500Z",
    ];
    let lines: Vec<String> = edge_swap()
        .iter()
        .zip(times)
        .map(|(message, t)| {
            serde_json::json!({
                "@timestamp": t,
                "log": {"source": {"address": "10.64.0.91:514"}},
                "message": message,
            })
            .to_string()
        })
        .collect();
    let path = dir.join("edge.ndjson");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn alerts(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("alerts are JSON"))
        .collect()
}

/// A missing file after a good one: every input is checked before any is read, so the error
/// names the missing file (and a directory given as input) and no alert was written.
#[test]
fn a_missing_input_is_named_before_any_alert_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let good = syslog_file(tmp.path());
    let missing = tmp.path().join("missing.log");
    let out = replay(&[
        good.as_os_str(),
        missing.as_os_str(),
        tmp.path().as_os_str(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(out.stdout.is_empty(), "no alert written: {err}");
    assert!(
        err.contains(&format!("{}: No such file", missing.display())),
        "{err}"
    );
    assert!(err.contains("is a directory"), "{err}");
    // The good file alone replays.
    let out = replay(&[good.as_os_str()]);
    assert!(out.status.success());
    assert_eq!(alerts(&out).len(), 1);
}

/// NDJSON read with `--format syslog`: no device is made of the JSON (`{"@timestamp":…`), and
/// the replay fails naming the format that reads the file; the right format alerts.
#[test]
fn ndjson_read_as_syslog_fails_and_names_ndjson() {
    let tmp = tempfile::tempdir().unwrap();
    let file = ndjson_file(tmp.path());
    let out = replay(&["--format".as_ref(), "syslog".as_ref(), file.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        alerts(&out)
            .iter()
            .all(|a| !a["device"].as_str().unwrap_or("").starts_with('{')),
        "a JSON object is no host name"
    );
    assert!(err.contains("4 of 4 lines do not parse as syslog"), "{err}");
    assert!(err.contains("--format ndjson"), "{err}");

    let out = replay(&["--format".as_ref(), "ndjson".as_ref(), file.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = alerts(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["device"], "edge-0091");
}

/// Syslog read with `--format ndjson` exits non-zero naming `--format syslog`, instead of
/// "0 parsed" and success; a file in neither format is said to be in neither.
#[test]
fn syslog_read_as_ndjson_fails_and_names_syslog() {
    let tmp = tempfile::tempdir().unwrap();
    let file = syslog_file(tmp.path());
    let out = replay(&["--format".as_ref(), "ndjson".as_ref(), file.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("do not parse as NDJSON"), "{err}");
    assert!(err.contains("--format syslog"), "{err}");

    let junk = tmp.path().join("junk.txt");
    std::fs::write(&junk, "hello\nworld\nsyslog this is not\n").unwrap();
    let out = replay(&[junk.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("neither syslog nor NDJSON"), "{err}");
}

/// Without `--changes` one notice says nothing will be suppressed; with it, none.
#[test]
fn without_a_calendar_one_notice_says_nothing_is_suppressed() {
    let tmp = tempfile::tempdir().unwrap();
    let file = syslog_file(tmp.path());
    let out = replay(&[file.as_os_str()]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("nothing will be suppressed").count(),
        1,
        "{err}"
    );

    let changes = tmp.path().join("changes.yaml");
    std::fs::write(&changes, "allowlist:\n  servers: [\"10.10.0.5\"]\n").unwrap();
    let out = replay(&["--changes".as_ref(), changes.as_os_str(), file.as_os_str()]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("nothing will be suppressed"), "{err}");
}

/// A pipe that stays open (`tail -f log | imagewatch replay -`): what was written is replayed
/// and its alert written while the pipe waits for more, not when it closes.
#[test]
fn an_open_pipe_is_replayed_as_it_comes() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .arg("replay")
        .arg("--rules")
        .arg(super::rules_dir())
        .args(["--lateness-ms", "0", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("imagewatch runs");
    let mut stdin = child.stdin.take().unwrap();
    // A line after the boot: until the next line comes, the boot banner could go on (its
    // continuation lines are joined to it), in one thread as in two.
    let mut lines = edge_swap();
    lines.push(
        "<189>4: edge-0091: Jun  2 23:02:00.000 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up"
            .to_string(),
    );
    stdin
        .write_all((lines.join("\n") + "\n").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(std::time::Duration::from_secs(20));
    drop(stdin);
    let status = child.wait().unwrap();
    let first = first.expect("an alert while the pipe is still open");
    let alert: Value = serde_json::from_str(&first).expect("an alert record");
    assert_eq!(alert["device"], "edge-0091");
    assert!(status.success());
}
