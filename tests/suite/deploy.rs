//! The README's deploy path, followed as written: its rsyslog relay files in a real `rsyslogd`
//! in front of a real `imagewatch serve`, its configuration and systemd unit (checked by
//! `systemd-analyze verify`), and the alert file rotated under a running service.
//!
//! The relay and unit blocks are read from README.md itself (only ports and paths replaced, and
//! each replacement must find what it replaces), so the README cannot drift from what is tested.
//! Tests that need `rsyslogd` or `systemd-analyze` are ignored with the reason; `.ci/run`
//! installs both and runs them.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::service_interop::{
    Reaped, api_alerts, edge_lines, external, file_alerts, http_client, until, write_changes,
};

// ---------------------------------------------------------------------------------------------
// The README

fn readme() -> String {
    std::fs::read_to_string(super::root().join("README.md")).expect("README.md")
}

/// The fenced block of the README whose first line is `first_line`, without its fences.
fn readme_block(first_line: &str) -> String {
    let text = readme();
    let start = text
        .find(&format!("\n{first_line}\n"))
        .unwrap_or_else(|| panic!("README.md has no block starting with `{first_line}`"));
    let before = &text[..start];
    let fence = before.rfind('\n').map_or(before, |i| &before[i + 1..]);
    assert!(
        fence.starts_with("```"),
        "`{first_line}` opens a fenced block in README.md"
    );
    let body = &text[start + 1..];
    let end = body.find("\n```").expect("the block is closed");
    body[..=end].to_string()
}

/// `text` with every `from` replaced by `to`; panics when `from` is not there (the README
/// changed under the test).
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the README block no longer contains `{from}`:\n{text}"
    );
    text.replace(from, to)
}

fn unit_file() -> String {
    std::fs::read_to_string(super::root().join("deploy/imagewatch.service"))
        .expect("deploy/imagewatch.service")
}

/// `Key=value` lines of a unit file, in order.
fn unit_keys(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn unit_value(unit: &str, key: &str) -> String {
    let values: Vec<String> = unit_keys(unit)
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values.len(), 1, "one `{key}=` in the unit: {values:?}");
    values[0].clone()
}

/// The README's service configuration, as TOML.
fn deploy_config() -> toml::Table {
    readme_block("# /etc/imagewatch/imagewatch.toml")
        .parse()
        .expect("the README's configuration is TOML")
}

// ---------------------------------------------------------------------------------------------
// The unit

/// The unit in `deploy/imagewatch.service` is the one the README shows; it waits for the
/// network (`Wants=` beside `After=`), creates its user and the directories the README's
/// configuration writes to, does not restart on a configuration error (exit status 2) and
/// grants only the capability to bind a low port.
#[test]
fn deploy_unit_matches_the_readme_and_the_configuration() {
    let unit = unit_file();
    assert_eq!(
        readme_block("# /etc/systemd/system/imagewatch.service"),
        unit,
        "README.md shows deploy/imagewatch.service as it is"
    );
    assert_eq!(unit_value(&unit, "Wants"), "network-online.target");
    assert_eq!(unit_value(&unit, "After"), "network-online.target");
    assert_eq!(unit_value(&unit, "DynamicUser"), "yes");
    assert_eq!(unit_value(&unit, "RestartPreventExitStatus"), "2");
    assert_eq!(unit_value(&unit, "Restart"), "on-failure");
    assert_eq!(
        unit_value(&unit, "AmbientCapabilities"),
        "CAP_NET_BIND_SERVICE"
    );
    assert_eq!(
        unit_value(&unit, "ExecReload"),
        "/bin/kill -HUP $MAINPID",
        "reload is SIGHUP"
    );
    let exec = unit_value(&unit, "ExecStart");
    assert!(
        exec.starts_with(
            "/usr/local/bin/imagewatch serve --config /etc/imagewatch/imagewatch.toml"
        ),
        "{exec}"
    );

    let config = deploy_config();
    let state = config["state"].as_str().expect("state is set");
    let alerts = Path::new(config["alerts"].as_str().expect("alerts is set"));
    assert_eq!(
        Path::new(state),
        Path::new("/var/lib").join(unit_value(&unit, "StateDirectory")),
        "the state directory is the unit's StateDirectory="
    );
    assert_eq!(
        alerts.parent(),
        Some(
            Path::new("/var/log")
                .join(unit_value(&unit, "LogsDirectory"))
                .as_path()
        ),
        "the alert file is in the unit's LogsDirectory="
    );
}

/// `systemd-analyze verify` accepts the unit (its ExecStart pointed at the built binary, which
/// it checks exists), with no warning about it.
#[test]
#[ignore = "needs systemd-analyze; .ci/run installs it"]
fn deploy_unit_passes_systemd_analyze_verify() {
    let analyze = external("systemd-analyze");
    let dir = tempfile::tempdir().unwrap();
    let unit = replaced(
        &unit_file(),
        "ExecStart=/usr/local/bin/imagewatch ",
        &format!("ExecStart={} ", env!("CARGO_BIN_EXE_imagewatch")),
    );
    let path = dir.path().join("imagewatch.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    let about_it: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("imagewatch"))
        .collect();
    assert!(
        about_it.is_empty(),
        "warnings about the unit: {about_it:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A real service

/// A free loopback TCP port (free when asked; the child binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `imagewatch serve` as a child with `args`, its stderr in `log`; returns once `/healthz`
/// answers on `http`.
async fn serve_child(args: &[String], log: &Path, http: SocketAddr) -> Reaped {
    let child = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("imagewatch serve starts");
    let child = Reaped(child);
    let client = http_client();
    until(
        "the service to answer /healthz",
        Duration::from_secs(20),
        async || {
            let r = client.get(format!("http://{http}/healthz")).send().await;
            r.ok().filter(|r| r.status().is_success())
        },
    )
    .await;
    child
}

/// An unprivileged `rsyslogd` (its work directory in `dir`, no system sockets) running
/// `config`.
fn rsyslogd(dir: &Path, config: &str) -> Reaped {
    let work = dir.join("rsyslog-work");
    std::fs::create_dir_all(&work).unwrap();
    let conf = dir.join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!("global(workDirectory=\"{}\")\n{config}", work.display()),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("rsyslogd.out")).unwrap();
    let child = Command::new(external("rsyslogd"))
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("rsyslogd starts");
    Reaped(child)
}

/// A Cisco NX-OS upgrade done through command accounting, as the switch sends it: no host
/// name in the header, stamps of the last 30 seconds (so the device clock agrees with the
/// relay's arrival time). Message texts from `tests/scenarios/boot_nxos_system_ready.yaml`,
/// whose sources they carry: `%AAA-6-AAA_ACCOUNTING_MESSAGE` (elastic cisco_nexus
/// test-nexus.log; the copy, boot, save and reload contents unverified),
/// `%PLATFORM-2-PFM_SYSTEM_RESET` (NX-OSv console) and `%ASCII-CFG-2-CONF_CONTROL: System
/// ready` (Nexus 3048 capture). The host-less header `<189>: 2023 May  2 12:57:15 UTC: ` is
/// elastic's test-nexus.log (FORMATS.md §1.4).
fn nxos_upgrade_lines() -> Vec<String> {
    let bodies = [
        (
            190,
            "%AAA-6-AAA_ACCOUNTING_MESSAGE: update:10.30.1.5@pts/0:jsmith:copy scp://jsmith@10.10.0.5/nxos64-cs.10.4.2.F.bin bootflash: vrf management (SUCCESS)",
        ),
        (
            190,
            "%AAA-6-AAA_ACCOUNTING_MESSAGE: update:10.30.1.5@pts/0:jsmith:configure terminal ; boot nxos bootflash:nxos64-cs.10.4.2.F.bin (SUCCESS)",
        ),
        (
            190,
            "%AAA-6-AAA_ACCOUNTING_MESSAGE: update:10.30.1.5@pts/0:jsmith:copy running-config startup-config (SUCCESS)",
        ),
        (
            190,
            "%AAA-6-AAA_ACCOUNTING_MESSAGE: update:10.30.1.5@pts/0:jsmith:reload (SUCCESS)",
        ),
        (
            186,
            "%PLATFORM-2-PFM_SYSTEM_RESET: Manual system restart from Command Line Interface",
        ),
        (186, "%ASCII-CFG-2-CONF_CONTROL: System ready"),
    ];
    let start = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(30);
    bodies
        .iter()
        .enumerate()
        .map(|(i, (pri, body))| {
            let at = start + jiff::SignedDuration::from_secs(4 * i as i64);
            let stamp = at.to_zoned(jiff::tz::TimeZone::UTC);
            format!(
                "<{pri}>: {} UTC: {body}",
                stamp.strftime("%Y %b %e %H:%M:%S")
            )
        })
        .collect()
}

/// A change calendar naming NX-OS switches by their addresses (on 9.3(10)), with the image
/// server allowlisted.
fn write_nxos_changes(path: &Path, devices: &[(&str, &str)]) {
    let mut yaml = String::from("allowlist:\n  servers: [\"10.10.0.5\"]\ninventory:\n");
    for (device, address) in devices {
        yaml.push_str(&format!(
            "  - {{device: {device}, vendor: cisco_nxos, aliases: [\"{address}\"], baseline_version: \"9.3(10)\"}}\n"
        ));
    }
    std::fs::write(path, yaml).unwrap();
}

/// Sends `lines` LF-framed over TCP to `to` from the loopback address `from` (Linux routes all
/// of 127/8 to lo), retrying the connection until the relay listens.
async fn send_from(from: [u8; 4], to: SocketAddr, lines: &[String]) {
    let mut stream = until(
        "the relay to accept a connection",
        Duration::from_secs(15),
        async || {
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.bind(SocketAddr::from((from, 0))).unwrap();
            socket.connect(to).await.ok()
        },
    )
    .await;
    for line in lines {
        stream
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }
    stream.shutdown().await.unwrap();
}

/// The devices of the image-replaced alerts `probe` finds, once there are `n` (or whatever
/// there are after 20 s, for the assertion to show).
async fn replaced_devices(
    n: usize,
    mut probe: impl AsyncFnMut() -> Vec<Value>,
) -> BTreeSet<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let devices: BTreeSet<String> = probe()
            .await
            .iter()
            .filter(|a| a["rule_id"] == "t1601.image_replaced")
            .filter_map(|a| a["device"].as_str().map(str::to_string))
            .collect();
        if devices.len() >= n || std::time::Instant::now() > deadline {
            return devices;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The relays

/// Host-less NX-OS lines of two switches (sources 127.0.0.2 and 127.0.0.3) go through a real
/// `rsyslogd` running the README's network relay file into a real `imagewatch serve`: they
/// come out as two devices, named by their inventory aliases, and nothing is filed under the
/// relay's address.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs rsyslogd; .ci/run installs it"]
async fn readme_rsyslog_relay_keeps_host_less_nxos_devices_apart() {
    let dir = tempfile::tempdir().unwrap();
    let changes = dir.path().join("changes.yaml");
    write_nxos_changes(
        &changes,
        &[("core-0111", "127.0.0.2"), ("core-0112", "127.0.0.3")],
    );
    let (tcp, relay, http) = (free_port(), free_port(), free_port());
    let http = SocketAddr::from(([127, 0, 0, 1], http));
    let args: Vec<String> = [
        "serve",
        "--udp",
        "off",
        "--tcp",
        &format!("127.0.0.1:{tcp}"),
        "--http",
        &http.to_string(),
        "--state",
        &dir.path().join("state").display().to_string(),
        "--changes",
        &changes.display().to_string(),
        "--alerts",
        &dir.path().join("alerts.ndjson").display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let _service = serve_child(&args, &dir.path().join("imagewatch.err"), http).await;

    let config = readme_block("# /etc/rsyslog.d/60-imagewatch.conf: a relay the devices send to");
    let config = replaced(
        &config,
        "port=\"514\"",
        &format!("address=\"127.0.0.1\" port=\"{relay}\""),
    );
    let config = replaced(
        &config,
        "target=\"10.0.0.5\" port=\"5514\"",
        &format!("target=\"127.0.0.1\" port=\"{tcp}\""),
    );
    let _relay = rsyslogd(dir.path(), &config);

    let relay = SocketAddr::from(([127, 0, 0, 1], relay));
    let lines = nxos_upgrade_lines();
    send_from([127, 0, 0, 2], relay, &lines).await;
    send_from([127, 0, 0, 3], relay, &lines).await;

    let client = http_client();
    let devices = replaced_devices(2, async || api_alerts(&client, http).await).await;
    assert_eq!(
        devices,
        BTreeSet::from(["core-0111".to_string(), "core-0112".to_string()]),
        "one alert per switch, under its name"
    );
    let listed: Value = http_client()
        .get(format!("http://{http}/api/v1/devices"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed.to_string();
    assert!(
        !listed.contains("\"127.0.0.1\""),
        "no device named after the relay: {listed}"
    );
}

/// The README's deploy path: its configuration (ports and paths replaced) run the way the
/// unit's `ExecStart` runs it, behind a real `rsyslogd` running the README's file relay. The
/// file holds host-less NX-OS lines of two switches, one in rsyslog's `RSYSLOG_FileFormat`
/// (as rsyslogd 8.2302 writes a host-less line: the sender's address as host, then ` : `)
/// and one in the collector-prefixed form; the alerts in the alert file name the switches,
/// never the relay.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs rsyslogd; .ci/run installs it"]
async fn readme_deploy_path_relays_a_file_under_the_device_names() {
    let dir = tempfile::tempdir().unwrap();
    let (tcp, udp, http) = (free_port(), free_port(), free_port());
    let etc = dir.path().join("etc");
    let var_lib = dir.path().join("lib/imagewatch");
    let var_log = dir.path().join("log/imagewatch");
    std::fs::create_dir_all(&etc).unwrap();

    let mut config = readme_block("# /etc/imagewatch/imagewatch.toml");
    for (from, to) in [
        (
            "tcp = \"0.0.0.0:5514\"",
            format!("tcp = \"127.0.0.1:{tcp}\""),
        ),
        (
            "udp = \"0.0.0.0:5514\"",
            format!("udp = \"127.0.0.1:{udp}\""),
        ),
        ("\"127.0.0.1:9514\"", format!("\"127.0.0.1:{http}\"")),
        (
            "\"/var/lib/imagewatch\"",
            format!("{:?}", var_lib.display().to_string()),
        ),
        (
            "\"/var/log/imagewatch/",
            format!("\"{}/", var_log.display()),
        ),
        ("\"/etc/imagewatch/", format!("\"{}/", etc.display())),
    ] {
        config = replaced(&config, from, &to);
    }
    let toml = etc.join("imagewatch.toml");
    std::fs::write(&toml, &config).unwrap();
    write_nxos_changes(
        &etc.join("changes.yaml"),
        &[("core-0112", "10.64.0.112"), ("core-0113", "10.64.0.113")],
    );

    // The unit's command line, the binary and configuration file replaced.
    let exec = unit_value(&unit_file(), "ExecStart");
    let exec = replaced(&exec, "/usr/local/bin/imagewatch ", "");
    let exec = replaced(
        &exec,
        "/etc/imagewatch/imagewatch.toml",
        &toml.display().to_string(),
    );
    let args: Vec<String> = exec.split_whitespace().map(String::from).collect();
    let http = SocketAddr::from(([127, 0, 0, 1], http));
    let _service = serve_child(&args, &dir.path().join("imagewatch.err"), http).await;

    // The collector's file, written before the relay starts (imfile reads it from the start).
    let devices_dir = dir.path().join("devices");
    std::fs::create_dir(&devices_dir).unwrap();
    let now = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string();
    let mut file = String::new();
    for line in nxos_upgrade_lines() {
        // RSYSLOG_FileFormat drops the PRI; a missing host becomes the sender's address.
        let message = &line[line.find('>').unwrap() + 1..];
        file.push_str(&format!("{now} 10.64.0.112 {message}\n"));
        file.push_str(&format!("{now} 10.64.0.113 {line}\n"));
    }
    std::fs::write(devices_dir.join("switches.log"), file).unwrap();

    let relay = readme_block("# /etc/rsyslog.d/61-imagewatch-files.conf: a relay that reads files");
    let relay = replaced(
        &relay,
        "file=\"/var/log/devices/*.log\"",
        &format!("file=\"{}/*.log\"", devices_dir.display()),
    );
    let relay = replaced(
        &relay,
        "target=\"10.0.0.5\" port=\"5514\"",
        &format!("target=\"127.0.0.1\" port=\"{tcp}\""),
    );
    let _relay = rsyslogd(dir.path(), &relay);

    let sink = var_log.join("alerts.ndjson");
    let devices = replaced_devices(2, async || file_alerts(&sink)).await;
    assert_eq!(
        devices,
        BTreeSet::from(["core-0112".to_string(), "core-0113".to_string()])
    );
    let relay_host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_lowercase();
    for alert in file_alerts(&sink) {
        let device = alert["device"].as_str().unwrap_or("");
        assert!(
            device.starts_with("core-"),
            "every alert names a switch, not the relay ({relay_host}, 127.0.0.1): {alert:#}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Alert file rotation

/// A running `imagewatch serve` (the binary) taking LF-framed syslog over TCP, with its
/// alert file at `dir/alerts.ndjson`.
struct Rotated {
    _child: Reaped,
    pid: i32,
    tcp: SocketAddr,
    http: SocketAddr,
    alerts: PathBuf,
}

async fn rotation_service(dir: &Path) -> Rotated {
    let changes = write_changes(
        dir,
        &[
            ("edge-0091", &["10.64.0.91"]),
            ("edge-0092", &["10.64.0.92"]),
            ("edge-0093", &["10.64.0.93"]),
        ],
    );
    let tcp = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let alerts = dir.join("alerts.ndjson");
    let args: Vec<String> = [
        "serve",
        "--udp",
        "off",
        "--tcp",
        &tcp.to_string(),
        "--http",
        &http.to_string(),
        "--state",
        &dir.join("state").display().to_string(),
        "--rules",
        &super::rules_dir().display().to_string(),
        "--changes",
        &changes.display().to_string(),
        "--alerts",
        &alerts.display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    let child = serve_child(&args, &dir.join("imagewatch.err"), http).await;
    Rotated {
        pid: child.0.id() as i32,
        _child: child,
        tcp,
        http,
        alerts,
    }
}

impl Rotated {
    /// Sends `device`'s image swap and waits until its alert is in the API.
    async fn swap(&self, device: &str) {
        let mut tcp = tokio::net::TcpStream::connect(self.tcp).await.unwrap();
        for line in edge_lines(device) {
            tcp.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        }
        tcp.shutdown().await.unwrap();
        let client = http_client();
        until(
            "the device's alert in the API",
            Duration::from_secs(15),
            async || {
                let alerts = api_alerts(&client, self.http).await;
                alerts.iter().any(|a| a["device"] == device).then_some(())
            },
        )
        .await;
    }

    /// Waits until the alert file at the configured path names `device`; returns its bytes.
    async fn in_file(&self, device: &str) -> Vec<u8> {
        let needle = format!("\"device\":\"{device}\"");
        until(
            "the device's alert in the alert file",
            Duration::from_secs(10),
            async || {
                let bytes = std::fs::read(&self.alerts).unwrap_or_default();
                let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
                found.then_some(bytes)
            },
        )
        .await
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
        let rc = unsafe { libc::kill(self.pid, signal) };
        assert_eq!(rc, 0, "kill({}, {signal})", self.pid);
    }
}

fn devices_in(records: &[Value]) -> BTreeSet<String> {
    records
        .iter()
        .filter_map(|a| a["device"].as_str().map(str::to_string))
        .collect()
}

/// logrotate's `copytruncate` on a running service: the alert file is copied and truncated to
/// zero; the next alert is written at the start of the emptied file (no hole of NUL bytes
/// where the old records were, which a writer at its old offset would leave), and the copy
/// keeps the earlier alert.
#[tokio::test(flavor = "multi_thread")]
async fn alert_file_copytruncate_keeps_appending_at_the_new_end() {
    let dir = tempfile::tempdir().unwrap();
    let service = rotation_service(dir.path()).await;
    service.swap("edge-0091").await;
    service.in_file("edge-0091").await;

    let rotated = dir.path().join("alerts.ndjson.1");
    std::fs::copy(&service.alerts, &rotated).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&service.alerts)
        .unwrap()
        .set_len(0)
        .unwrap();

    service.swap("edge-0092").await;
    let bytes = service.in_file("edge-0092").await;
    assert!(
        !bytes.contains(&0),
        "no NUL bytes: the record went to the new end, not the old offset"
    );
    assert_eq!(bytes.first(), Some(&b'{'), "the file starts with a record");
    assert_eq!(
        devices_in(&file_alerts(&service.alerts)),
        BTreeSet::from(["edge-0092".to_string()])
    );
    assert_eq!(
        devices_in(&file_alerts(&rotated)),
        BTreeSet::from(["edge-0091".to_string()])
    );
}

/// Rotation by rename (logrotate without `copytruncate`), with and without the SIGHUP of a
/// `postrotate` `systemctl reload`: each time the service keeps running, the next alert
/// creates a new file at the configured path, and the renamed file keeps the earlier alert and
/// gets nothing more.
#[tokio::test(flavor = "multi_thread")]
async fn alert_file_renamed_gets_a_new_file_with_or_without_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let service = rotation_service(dir.path()).await;
    service.swap("edge-0091").await;
    service.in_file("edge-0091").await;

    // Renamed, no signal.
    let first = dir.path().join("alerts.ndjson.1");
    std::fs::rename(&service.alerts, &first).unwrap();
    service.swap("edge-0092").await;
    service.in_file("edge-0092").await;
    assert_eq!(
        devices_in(&file_alerts(&service.alerts)),
        BTreeSet::from(["edge-0092".to_string()]),
        "a new file holds the alert after the rename"
    );

    // Renamed, then SIGHUP.
    let second = dir.path().join("alerts.ndjson.2");
    std::fs::rename(&service.alerts, &second).unwrap();
    service.signal(libc::SIGHUP);
    let err = dir.path().join("imagewatch.err");
    until(
        "the reload on SIGHUP in the log",
        Duration::from_secs(10),
        async || {
            let log = std::fs::read_to_string(&err).unwrap_or_default();
            log.contains("Rules and calendar reloaded").then_some(())
        },
    )
    .await;
    service.swap("edge-0093").await;
    service.in_file("edge-0093").await;
    assert_eq!(
        devices_in(&file_alerts(&service.alerts)),
        BTreeSet::from(["edge-0093".to_string()]),
        "a new file holds the alert after the rename and SIGHUP"
    );
    for (file, device) in [(&first, "edge-0091"), (&second, "edge-0092")] {
        assert_eq!(
            devices_in(&file_alerts(file)),
            BTreeSet::from([device.to_string()]),
            "{} keeps its alert and gets nothing more",
            file.display()
        );
    }
}
