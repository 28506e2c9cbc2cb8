//! Every kind of mistake in a file a person writes — signal rules, sequence rules,
//! `changes.yaml`, the service's TOML — makes the command exit 2 with `file:line:column` and a
//! reason a person can act on. One table; each row is a file, where the mistake is, and words
//! the message must contain.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::service::copy_dir;

/// Which file a row writes, and which command reads it.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `rules/signals/x-bad.yaml` beside the shipped rules; `imagewatch rules test`.
    Signals,
    /// `rules/sequences/x-bad.yaml` beside (and read after) the shipped rules; `imagewatch rules test`.
    Sequences,
    /// `changes.yaml`; `imagewatch replay --changes`.
    Changes,
    /// `imagewatch.toml`; `imagewatch serve --config`.
    Serve,
}

struct Row {
    what: &'static str,
    kind: Kind,
    content: &'static str,
    /// `line:column` of the mistake.
    at: &'static str,
    /// Words the reason must contain.
    says: &'static [&'static str],
}

const fn row(
    what: &'static str,
    kind: Kind,
    content: &'static str,
    at: &'static str,
    says: &'static [&'static str],
) -> Row {
    Row {
        what,
        kind,
        content,
        at,
        says,
    }
}

use Kind::*;

const ROWS: &[Row] = &[
    // Signal rules.
    row(
        "signal: YAML syntax",
        Signals,
        "vendor: x\nmessages:\n  - id: x.a\n    kind: reload\n    literals: [\"RELOAD\"]\n    pattern: 'RELOAD\n",
        "6:14",
        &["unclosed quote"],
    ),
    row(
        "signal: unknown field",
        Signals,
        "vendor: x\nmessages:\n  - id: x.a\n    kind: reload\n    literals: [\"RELOAD\"]\n    patern: 'RELOAD'\n",
        "6:5",
        &["patern"],
    ),
    row(
        "signal: unknown kind",
        Signals,
        "vendor: x\nmessages:\n  - id: x.a\n    kind: rebooot\n    literals: [\"RELOAD\"]\n    pattern: 'RELOAD'\n",
        "4:11",
        &["rebooot"],
    ),
    row(
        "signal: bad regex",
        Signals,
        "vendor: x\nmessages:\n  - id: x.a\n    kind: reload\n    literals: [\"RELOAD\"]\n    pattern: '(unclosed'\n",
        "6:14",
        &["regex", "unclosed"],
    ),
    row(
        "signal: unknown capture",
        Signals,
        "vendor: x\nmessages:\n  - id: x.a\n    kind: reload\n    literals: [\"RELOAD\"]\n    pattern: 'RELOAD (?P<imaeg>\\S+)'\n",
        "6:14",
        &["imaeg"],
    ),
    row(
        "signal: duplicate id",
        Signals,
        "vendor: x\nmessages:\n  - id: x.a\n    kind: reload\n    literals: [\"RELOAD\"]\n    pattern: 'RELOAD'\n  - id: x.a\n    kind: reload\n    literals: [\"RESTART\"]\n    pattern: 'RESTART'\n",
        "7:9",
        &["duplicate", "x.a"],
    ),
    row(
        "signal: empty literal",
        Signals,
        "vendor: x\nmessages:\n  - id: x.a\n    kind: reload\n    literals: [\"\"]\n    pattern: 'RELOAD'\n",
        "5:15",
        &["literal"],
    ),
    row(
        "signal: missing pattern",
        Signals,
        "vendor: x\nmessages:\n  - id: x.a\n    kind: reload\n    literals: [\"RELOAD\"]\n",
        "5:5",
        &["missing field `pattern`"],
    ),
    // Sequence rules.
    row(
        "sequence: YAML syntax",
        Sequences,
        "sequences:\n  - id: s.a\n    steps: [{name: a, kinds: [reload]\n",
        "3:13",
        &["unclosed bracket"],
    ),
    row(
        "sequence: bad humantime duration",
        Sequences,
        "sequences:\n  - id: s.a\n    title: t\n    steps:\n      - name: a\n        kinds: [reload]\n      - name: b\n        kinds: [boot]\n        within: 24 hourz\n    severity: high\n    confidence: 0.5\n",
        "9:17",
        &["24 hourz", "duration"],
    ),
    row(
        "sequence: unknown field",
        Sequences,
        "sequences:\n  - id: s.a\n    title: t\n    steps:\n      - name: a\n        kinds: [reload]\n        withn: 2h\n    severity: high\n    confidence: 0.5\n",
        "7:9",
        &["withn"],
    ),
    row(
        "sequence: unknown signal kind",
        Sequences,
        "sequences:\n  - id: s.a\n    title: t\n    steps:\n      - name: a\n        kinds: [tranfser]\n    severity: high\n    confidence: 0.5\n",
        "6:17",
        &["tranfser"],
    ),
    row(
        "sequence: unknown condition",
        Sequences,
        "sequences:\n  - id: s.a\n    title: t\n    steps:\n      - name: a\n        kinds: [boot]\n        where: [version_chnged]\n    severity: high\n    confidence: 0.5\n",
        "7:17",
        &["version_chnged"],
    ),
    row(
        "sequence: unknown severity",
        Sequences,
        "sequences:\n  - id: s.a\n    title: t\n    steps:\n      - name: a\n        kinds: [boot]\n    severity: urgent\n    confidence: 0.5\n",
        "7:15",
        &["urgent"],
    ),
    row(
        "sequence: duplicate id",
        Sequences,
        "sequences:\n  - id: t1601.image_replaced\n    title: t\n    steps:\n      - name: a\n        kinds: [boot]\n    severity: high\n    confidence: 0.5\n",
        "2:9",
        &[
            "duplicate",
            "t1601.image_replaced",
            "already defined at",
            "t1601.yaml:",
        ],
    ),
    row(
        "sequence: on_timeout names no step",
        Sequences,
        "sequences:\n  - id: s.a\n    title: t\n    steps:\n      - name: a\n        kinds: [reload]\n      - name: b\n        kinds: [boot]\n        within: 2h\n    severity: high\n    confidence: 0.5\n    on_timeout:\n      - reached: c\n        rule_id: s.a.timeout\n        title: t\n        severity: low\n        confidence: 0.3\n",
        "13:18",
        &["\"c\""],
    ),
    // changes.yaml
    row(
        "changes: YAML syntax",
        Changes,
        "change_tickets:\n  - {id: CHG1, devices: [r1]\n",
        "2:5",
        &["unclosed bracket"],
    ),
    row(
        "changes: unknown field",
        Changes,
        "change_tickets:\n  - id: CHG1\n    device: [\"r1\"]\n    start: 2026-06-01T00:00:00Z\n    end: 2026-06-02T00:00:00Z\n",
        "3:5",
        &["device"],
    ),
    row(
        "changes: bad glob",
        Changes,
        "change_tickets:\n  - id: CHG1\n    devices: [\"rtr-[0-9\"]\n    start: 2026-06-01T00:00:00Z\n    end: 2026-06-02T00:00:00Z\n",
        "3:15",
        &["rtr-[0-9"],
    ),
    row(
        "changes: bad cron",
        Changes,
        "maintenance_windows:\n  - id: MW1\n    devices: [\"*\"]\n    cron: \"61 2 * * *\"\n    duration: 2h\n    timezone: UTC\n",
        "4:11",
        &["cron", "61 2 * * *", "minute 0-59"],
    ),
    row(
        "changes: unknown time zone",
        Changes,
        "maintenance_windows:\n  - id: MW1\n    devices: [\"*\"]\n    cron: \"0 2 * * 6\"\n    duration: 2h\n    timezone: Mars/Olympus_Mons\n",
        "6:15",
        &["Mars/Olympus_Mons"],
    ),
    row(
        "changes: ticket ends before it starts",
        Changes,
        "change_tickets:\n  - id: CHG1\n    devices: [\"r1\"]\n    start: 2026-06-02T00:00:00Z\n    end: 2026-06-01T00:00:00Z\n",
        "5:10",
        &["end", "before", "start"],
    ),
    row(
        "changes: window ends before it starts",
        Changes,
        "maintenance_windows:\n  - id: MW1\n    devices: [\"*\"]\n    start: 2026-06-02T00:00:00Z\n    end: 2026-06-01T00:00:00Z\n",
        "5:10",
        &["end", "before", "start"],
    ),
    row(
        "changes: duplicate ticket id",
        Changes,
        "change_tickets:\n  - id: CHG1\n    devices: [\"r1\"]\n    start: 2026-06-01T00:00:00Z\n    end: 2026-06-02T00:00:00Z\n  - id: CHG1\n    devices: [\"r2\"]\n    start: 2026-06-01T00:00:00Z\n    end: 2026-06-02T00:00:00Z\n",
        "6:9",
        &["duplicate", "CHG1"],
    ),
    row(
        "changes: duplicate window id",
        Changes,
        "maintenance_windows:\n  - id: MW1\n    devices: [\"*\"]\n    start: 2026-06-01T00:00:00Z\n    end: 2026-06-02T00:00:00Z\n  - id: MW1\n    devices: [\"*\"]\n    cron: \"0 2 * * 6\"\n    duration: 2h\n    timezone: UTC\n",
        "6:9",
        &["duplicate", "MW1"],
    ),
    row(
        "changes: bad humantime duration",
        Changes,
        "maintenance_windows:\n  - id: MW1\n    devices: [\"*\"]\n    cron: \"0 2 * * 6\"\n    duration: 2 hourz\n    timezone: UTC\n",
        "5:15",
        &["2 hourz"],
    ),
    row(
        "changes: not a time",
        Changes,
        "change_tickets:\n  - id: CHG1\n    devices: [\"r1\"]\n    start: yesterday\n    end: 2026-06-02T00:00:00Z\n",
        "4:12",
        &["yesterday", "RFC 3339"],
    ),
    row(
        "changes: cron without duration",
        Changes,
        "maintenance_windows:\n  - id: MW1\n    devices: [\"*\"]\n    cron: \"0 2 * * 6\"\n    timezone: UTC\n",
        "2:5",
        &["duration"],
    ),
    row(
        "changes: duplicate inventory device",
        Changes,
        "inventory:\n  - device: r1\n    vendor: cisco_ios\n  - device: r1\n    vendor: cisco_ios\n",
        "4:13",
        &["r1"],
    ),
    // The service's TOML.
    row(
        "serve: TOML syntax",
        Serve,
        "udp = \"off\"\ntcp = \"127.0.0.1:0\nhttp = \"127.0.0.1:0\"\n",
        "2:19",
        &["not closed"],
    ),
    row(
        "serve: unknown key",
        Serve,
        "udp = \"off\"\nworkerz = 3\n",
        "2:1",
        &["workerz"],
    ),
    row(
        "serve: wrong type",
        Serve,
        "udp = \"off\"\nworkers = \"two\"\n",
        "2:11",
        &["\"two\"", "expected a whole number"],
    ),
    row(
        "serve: bad listen address",
        Serve,
        "udp = \"off\"\ntcp = \"127.0.0.1:99999\"\n",
        "2:7",
        &["tcp", "127.0.0.1:99999", "not an address"],
    ),
    row(
        "serve: host name as listen address",
        Serve,
        "udp = \"off\"\ntls = \"localhost:6514\"\n",
        "2:7",
        &["tls", "localhost:6514"],
    ),
    row(
        "serve: bad API address",
        Serve,
        "udp = \"off\"\nhttp = \"localhost\"\n",
        "2:8",
        &["http", "\"localhost\"", "not an address"],
    ),
    row(
        "serve: tls without cert and key",
        Serve,
        "udp = \"off\"\ntls = \"127.0.0.1:0\"\n",
        "2:7",
        &["tls_cert", "tls_key"],
    ),
    row(
        "serve: api_tls_cert without api_tls_key",
        Serve,
        "udp = \"off\"\napi_tls_cert = \"cert.pem\"\n",
        "2:16",
        &["api_tls_key"],
    ),
    row(
        "serve: missing token file",
        Serve,
        "udp = \"off\"\ntoken_file = \"/nonexistent/token\"\n",
        "2:14",
        &["/nonexistent/token"],
    ),
    row(
        "serve: open API without a token",
        Serve,
        "udp = \"off\"\nhttp = \"0.0.0.0:0\"\n",
        "2:8",
        &["without a token", "IMAGEWATCH_API_TOKEN"],
    ),
    row(
        "serve: a duration where milliseconds go",
        Serve,
        "udp = \"off\"\nlateness_ms = \"250ms\"\n",
        "2:15",
        &["\"250ms\"", "expected a whole number"],
    ),
    // Out of a key's range: refused where it is written, never clamped.
    row(
        "serve: no workers",
        Serve,
        "udp = \"off\"\nworkers = 0\n",
        "2:11",
        &["workers = 0", "out of range", "between 1 and 64"],
    ),
    row(
        "serve: an empty queue",
        Serve,
        "udp = \"off\"\nqueue = 0\n",
        "2:9",
        &["queue = 0", "at least 1"],
    ),
    row(
        "serve: too many UDP sockets",
        Serve,
        "udp = \"off\"\nudp_sockets = 100000\n",
        "2:15",
        &["udp_sockets = 100000", "between 1 and 64"],
    ),
    row(
        "serve: max_line too small",
        Serve,
        "udp = \"off\"\nmax_line = 100\n",
        "2:12",
        &["max_line = 100", "at least 256"],
    ),
    row(
        "serve: negative lateness",
        Serve,
        "udp = \"off\"\nlateness_ms = -5\n",
        "2:15",
        &["lateness_ms = -5", "at least 0"],
    ),
    row(
        "serve: UDP receive buffer too large",
        Serve,
        "udp = \"off\"\nudp_recv_buffer = 2147483648\n",
        "2:19",
        &["udp_recv_buffer", "between 4096 and 1073741824"],
    ),
];

/// Runs the command a row's file goes to; returns (exit code, stderr, the file's name).
fn run(row: &Row, dir: &Path) -> (Option<i32>, String, String) {
    let bin = env!("CARGO_BIN_EXE_imagewatch");
    let rules = dir.join("rules");
    let (file, mut cmd) = match row.kind {
        Signals | Sequences => {
            copy_dir(&super::rules_dir(), &rules);
            let sub = if matches!(row.kind, Signals) {
                "signals"
            } else {
                "sequences"
            };
            let file = rules.join(sub).join("x-bad.yaml");
            let mut c = Command::new(bin);
            c.args(["rules", "test", "--rules"]).arg(&rules);
            (file, c)
        }
        Changes => {
            let file = dir.join("changes.yaml");
            std::fs::write(dir.join("empty.log"), "").unwrap();
            let mut c = Command::new(bin);
            c.args(["replay", "--rules"])
                .arg(super::rules_dir())
                .arg("--changes")
                .arg(&file)
                .arg("--state")
                .arg(dir.join("state"))
                .arg(dir.join("empty.log"));
            (file, c)
        }
        Serve => {
            let file = dir.join("imagewatch.toml");
            let mut c = Command::new(bin);
            c.args(["serve", "--config"]).arg(&file);
            // Loopback and port 0 unless the row is about them (flags win over the file).
            for key in ["tcp", "http"] {
                if !row.content.contains(&format!("{key} =")) {
                    c.arg(format!("--{key}")).arg("127.0.0.1:0");
                }
            }
            c.arg("--state")
                .arg(dir.join("state"))
                .arg("--rules")
                .arg(super::rules_dir())
                .env_remove("IMAGEWATCH_API_TOKEN");
            (file, c)
        }
    };
    std::fs::write(&file, row.content).unwrap();
    let mut child = cmd
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A file that is wrongly accepted would leave `serve` running: stop it after a while.
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    (status.code(), err, file.display().to_string())
}

#[test]
fn every_config_mistake_exits_2_with_file_line_column_and_reason() {
    assert!(ROWS.len() >= 20);
    let mut failures = Vec::new();
    for row in ROWS {
        let tmp = tempfile::tempdir().unwrap();
        let (code, err, file) = run(row, tmp.path());
        let located = format!("{file}:{}: ", row.at);
        println!("{}: {}", row.what, err.trim().replace(&file, "FILE"));
        let missing: Vec<_> = row.says.iter().filter(|w| !err.contains(*w)).collect();
        if code != Some(2) || !err.contains(&located) || !missing.is_empty() {
            failures.push(format!(
                "{} ({:?}): exit {code:?}, want {located:?} and {missing:?} in:\n    {}",
                row.what,
                row.kind,
                err.trim().replace('\n', "\n    ")
            ));
        }
        // A configuration that does not load leaves the state directory untouched.
        if matches!(row.kind, Serve | Changes) && tmp.path().join("state").exists() {
            failures.push(format!("{}: the state directory was opened", row.what));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows fail:\n{}",
        failures.len(),
        ROWS.len(),
        failures.join("\n")
    );
}
