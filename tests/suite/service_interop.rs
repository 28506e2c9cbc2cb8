//! The service from the outside: syslog over TLS, a webhook that is down and then up, and real
//! clients nobody here wrote (util-linux `logger`, `rsyslogd`, Prometheus `promtool`).
//!
//! `logger` is part of every Debian system (util-linux, `bsdutils`), so its tests always run.
//! The tests that need `rsyslogd` or `promtool` are `#[ignore]`d with the reason: a fresh
//! machine with only Rust and Python 3 lists them as ignored; `.ci/run` installs both and runs
//! the ignored tests too (`cargo test -- --include-ignored`), where a missing program fails.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imagewatch::serve::{self, Flags, Running, ServeConfig};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// The edge-0091 lines of `docs/examples/sample.log` as a device sends them (the collector prefix
/// dropped): transfer from an unknown server, boot variable, save, reload, restart banner with
/// a new version, one unrelated line. Replayed with `docs/examples/changes.yaml` they make one
/// critical alert.
pub(super) fn edge_lines(device: &str) -> Vec<String> {
    let text = std::fs::read_to_string(super::root().join("docs/examples/sample.log")).unwrap();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.contains("edge-0091:"))
        .map(|l| {
            let wire = &l[l.find('<').expect("a PRI")..];
            wire.replace("edge-0091", device)
        })
        .collect();
    assert!(lines.len() >= 5, "sample.log has the edge-0091 sequence");
    lines
}

/// The Cisco bodies of [`edge_lines`] (from `%FAC-SEV-MNEMONIC` on), for clients that build
/// their own syslog header around a message.
fn edge_bodies() -> Vec<String> {
    edge_lines("edge-0091")
        .iter()
        .map(|l| l[l.find('%').expect("a mnemonic")..].to_string())
        .collect()
}

/// A change calendar with `devices` on baseline 15.6(3)M9, each with `aliases`, and no ticket.
pub(super) fn write_changes(dir: &Path, devices: &[(&str, &[&str])]) -> PathBuf {
    let mut yaml = String::from("allowlist:\n  servers: [\"10.10.0.5\"]\ninventory:\n");
    for (device, aliases) in devices {
        let aliases: Vec<String> = aliases.iter().map(|a| format!("\"{a}\"")).collect();
        yaml.push_str(&format!(
            "  - device: {device}\n    vendor: cisco_ios\n    aliases: [{}]\n    baseline_version: \"15.6(3)M9\"\n",
            aliases.join(", ")
        ));
    }
    let path = dir.join("changes.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A configuration for an in-process service: every listener on a free loopback port, state,
/// alerts and calendar in `dir`, the shipped rules.
fn config(dir: &Path, changes: PathBuf) -> ServeConfig {
    ServeConfig {
        udp: Some(any_port()),
        tcp: Some(any_port()),
        tls: None,
        http: any_port(),
        state: dir.join("state"),
        rules: Some(super::rules_dir()),
        changes: Some(changes),
        alerts: dir.join("alerts.ndjson"),
        webhook: None,
        token: None,
        ..ServeConfig::default()
    }
}

pub(super) fn http_client() -> reqwest::Client {
    // reqwest is built without a crypto provider of its own; the service uses ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// `GET /api/v1/alerts` (the latest revision of each alert).
pub(super) async fn api_alerts(client: &reqwest::Client, http: SocketAddr) -> Vec<Value> {
    let body: Value = client
        .get(format!("http://{http}/api/v1/alerts"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("the alerts API answers")
        .json()
        .await
        .expect("alerts are JSON");
    body["alerts"].as_array().cloned().unwrap_or_default()
}

/// Every record of the NDJSON sink (each revision of each alert), or none yet.
pub(super) fn file_alerts(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each sink line is JSON"))
        .collect()
}

fn is_critical_open(a: &Value) -> bool {
    a["severity"] == "critical" && a["suppressed"] == false
}

/// Polls `probe` every 20 ms until it returns something or `within` passes (then panics
/// with `what`).
pub(super) async fn until<T>(
    what: &str,
    within: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the one open critical image-replaced alert of `device` in the API and in the
/// NDJSON sink; asserts there is no other open critical alert; returns the time the sink
/// had it, measured from `sent` (when the last line left the client).
async fn expect_one_critical(running: &Running, device: &str, sent: Instant) -> Duration {
    let client = http_client();
    let api = until(
        "an open critical alert in the API",
        Duration::from_secs(8),
        async || {
            let got: Vec<Value> = api_alerts(&client, running.http)
                .await
                .into_iter()
                .filter(is_critical_open)
                .collect();
            (!got.is_empty()).then_some(got)
        },
    )
    .await;
    let sink = &running.shared.config.alerts;
    let records = until(
        "the alert in the NDJSON sink",
        Duration::from_secs(5),
        async || {
            let got: Vec<Value> = file_alerts(sink)
                .into_iter()
                .filter(is_critical_open)
                .collect();
            (!got.is_empty()).then_some(got)
        },
    )
    .await;
    let latency = sent.elapsed();
    assert_eq!(api.len(), 1, "exactly one open critical alert: {api:#?}");
    let alert = &api[0];
    assert_eq!(alert["device"], device, "{alert:#}");
    assert_eq!(alert["rule_id"], "t1601.image_replaced", "{alert:#}");
    assert_eq!(alert["version_after"], "15.7(3)M9", "{alert:#}");
    let ids: BTreeSet<&str> = records.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids.into_iter().collect::<Vec<_>>(),
        [alert["id"].as_str().unwrap()],
        "the sink holds the same single alert: {records:#?}"
    );
    latency
}

/// Waits until the service has counted `n` lines received over `transport`, and no line it
/// could not parse: every line a client sent arrived whole, framed as sent.
async fn expect_received(running: &Running, transport: &'static str, n: u64) {
    let metrics = &running.shared.metrics;
    let label = imagewatch::telemetry::TransportLabel { transport };
    let what = format!("{n} lines received over {transport}");
    until(&what, Duration::from_secs(5), async || {
        (metrics.lines_received.get_or_create(&label).get() >= n).then_some(())
    })
    .await;
    assert_eq!(metrics.lines_received.get_or_create(&label).get(), n);
    assert_eq!(metrics.parse_failures.get(), 0, "no unparsable line");
}

// ---------------------------------------------------------------------------------------------
// TLS

/// Syslog over TLS (RFC 5425) with RFC 6587 octet counting: a client that trusts only the
/// service's self-signed certificate completes the handshake, and the edge-0091 sequence it
/// sends becomes exactly one open critical alert, in the API and in the NDJSON sink.
#[tokio::test(flavor = "multi_thread")]
async fn tls_octet_counted_sequence_raises_one_critical_alert() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("a self-signed certificate");
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();

    let changes = write_changes(dir.path(), &[("edge-0091", &["10.64.0.91"])]);
    let running = serve::start(ServeConfig {
        udp: None,
        tcp: None,
        tls: Some(any_port()),
        tls_cert: Some(cert_path),
        tls_key: Some(key_path),
        ..config(dir.path(), changes)
    })
    .await
    .expect("the service starts");

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let tcp = tokio::net::TcpStream::connect(running.tls.expect("TLS is bound"))
        .await
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .expect("the handshake succeeds");
    for line in edge_lines("edge-0091") {
        tls.write_all(format!("{} {line}", line.len()).as_bytes())
            .await
            .unwrap();
    }
    tls.flush().await.unwrap();
    let sent = Instant::now();

    let latency = expect_one_critical(&running, "edge-0091", sent).await;
    eprintln!("TLS: last line sent -> alert in the NDJSON sink: {latency:?}");
    expect_received(&running, "tls", edge_lines("edge-0091").len() as u64).await;
    tls.shutdown().await.unwrap();
    running.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Webhook

/// A webhook receiver that refuses (503) until told it is up, then records every delivery.
#[derive(Default)]
struct Hook {
    up: AtomicBool,
    refused: AtomicUsize,
    /// (Idempotency-Key header, body) of every accepted delivery, in arrival order.
    got: Mutex<Vec<(String, Value)>>,
}

async fn hook(
    axum::extract::State(hook): axum::extract::State<Arc<Hook>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    if !hook.up.load(Ordering::SeqCst) {
        hook.refused.fetch_add(1, Ordering::SeqCst);
        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    hook.got.lock().unwrap().push((key, body));
    axum::http::StatusCode::OK
}

/// The webhook sink (configured through a TOML file, `Flags` and `ServeConfig::resolve`)
/// survives a receiver that is first not listening, then answers 503, then 200: once it is
/// up it gets every alert record of two different alerts exactly once, each with
/// `Idempotency-Key: <id>:<revision>` matching its body, and nothing more a second later.
#[tokio::test(flavor = "multi_thread")]
async fn webhook_down_then_up_gets_each_alert_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on yet: the first deliveries are refused at connect.
    let hook_addr = std::net::TcpListener::bind(any_port())
        .unwrap()
        .local_addr()
        .unwrap();
    let changes = write_changes(
        dir.path(),
        &[
            ("edge-0091", &["10.64.0.91"]),
            ("edge-0092", &["10.64.0.92"]),
        ],
    );
    let toml = dir.path().join("imagewatch.toml");
    std::fs::write(
        &toml,
        format!(
            "udp = \"off\"\ntcp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\n\
             state = {state:?}\nrules = {rules:?}\nchanges = {changes:?}\nalerts = {alerts:?}\n\
             webhook = \"http://{hook_addr}/hook\"\nlateness_ms = 100\n",
            state = dir.path().join("state"),
            rules = super::rules_dir(),
            alerts = dir.path().join("alerts.ndjson"),
        ),
    )
    .unwrap();
    let flags = Flags {
        config: Some(toml),
        ..Flags::default()
    };
    let config = ServeConfig::resolve(&flags, None).expect("the TOML config resolves");
    assert_eq!(
        config.webhook.as_deref(),
        Some(format!("http://{hook_addr}/hook").as_str())
    );
    let running = serve::start(config).await.expect("the service starts");

    let mut tcp = tokio::net::TcpStream::connect(running.tcp.unwrap())
        .await
        .unwrap();
    for device in ["edge-0091", "edge-0092"] {
        for line in edge_lines(device) {
            tcp.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        }
    }
    tcp.flush().await.unwrap();

    let client = http_client();
    until(
        "two open critical alerts",
        Duration::from_secs(8),
        async || {
            let n = api_alerts(&client, running.http)
                .await
                .iter()
                .filter(|a| is_critical_open(a))
                .count();
            (n == 2).then_some(())
        },
    )
    .await;
    let failures = || {
        running
            .shared
            .metrics
            .delivery_failures
            .get_or_create(&imagewatch::telemetry::SinkLabel { sink: "webhook" })
            .get()
    };
    until(
        "a refused webhook connection",
        Duration::from_secs(5),
        async || (failures() > 0).then_some(()),
    )
    .await;

    // Now listening, but answering 503.
    let receiver = Arc::new(Hook::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(Arc::clone(&receiver));
    let listener = tokio::net::TcpListener::bind(hook_addr).await.unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    until("a 503 answered", Duration::from_secs(5), async || {
        (receiver.refused.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;

    // Up. Everything in the NDJSON sink must arrive, each record once.
    receiver.up.store(true, Ordering::SeqCst);
    let up = Instant::now();
    let expected: BTreeSet<String> = file_alerts(&running.shared.config.alerts)
        .iter()
        .map(|a| format!("{}:{}", a["id"].as_str().unwrap(), a["revision"]))
        .collect();
    assert!(expected.len() >= 2, "two alerts in the sink: {expected:?}");
    until(
        "every alert at the webhook",
        Duration::from_secs(8),
        async || {
            let got: BTreeSet<String> = receiver
                .got
                .lock()
                .unwrap()
                .iter()
                .map(|(k, _)| k.clone())
                .collect();
            (got == expected).then_some(())
        },
    )
    .await;
    eprintln!(
        "webhook: {} connect failures and {} answers 503, then up -> every record delivered \
         in {:?}",
        failures(),
        receiver.refused.load(Ordering::SeqCst),
        up.elapsed()
    );
    // Give a redelivery, were there one, time to show up.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let got = receiver.got.lock().unwrap().clone();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, body) in &got {
        *counts.entry(key.as_str()).or_default() += 1;
        assert_eq!(
            *key,
            format!(
                "{}:{}",
                body["id"].as_str().unwrap_or("?"),
                body["revision"]
            ),
            "the idempotency key names the record it comes with"
        );
    }
    assert!(
        counts.values().all(|n| *n == 1),
        "each (id, revision) delivered once: {counts:?}"
    );
    let devices: BTreeSet<&str> = got
        .iter()
        .filter_map(|(_, b)| b["device"].as_str())
        .collect();
    assert_eq!(devices, BTreeSet::from(["edge-0091", "edge-0092"]));
    assert_eq!(
        counts
            .keys()
            .map(|k| k.to_string())
            .collect::<BTreeSet<_>>(),
        expected
    );
    running.shutdown().await;
    server.abort();
}

// ---------------------------------------------------------------------------------------------
// Real clients

/// The path of an external program; panics (the test fails) when it is missing, since a test
/// that needs it runs only where it was asked for (`.ci/run`, or `--include-ignored`).
pub(super) fn external(program: &str) -> PathBuf {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{program}` is not installed: .ci/run installs it (Debian packages rsyslog, \
                 bsdutils and prometheus)"
            )
        })
}

/// Runs a program to completion off the async threads; panics with its output on failure.
async fn run(mut cmd: Command) {
    let shown = format!("{cmd:?}");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A child process killed (and reaped) when the test ends, passing or not.
pub(super) struct Reaped(pub(super) Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// util-linux `logger` (its own RFC 5424 header: this host's name, its tag, its clock) sends
/// the Cisco bodies of the edge-0091 sequence with `transport` options; the device is named
/// by its sender address (an inventory alias), and one open critical alert follows.
async fn logger_delivers(transport: &[&str], label: &str) {
    let logger = external("logger");
    let dir = tempfile::tempdir().unwrap();
    let changes = write_changes(dir.path(), &[("edge-0091", &["10.64.0.91", "127.0.0.1"])]);
    let running = serve::start(config(dir.path(), changes))
        .await
        .expect("the service starts");
    let port = if transport.contains(&"-d") {
        running.udp.unwrap().port()
    } else {
        running.tcp.unwrap().port()
    };
    let input = dir.path().join("bodies.txt");
    std::fs::write(&input, edge_bodies().join("\n") + "\n").unwrap();
    let mut cmd = Command::new(logger);
    cmd.args(["--rfc5424", "-n", "127.0.0.1", "-P", &port.to_string()])
        .args(transport)
        .args(["-p", "local7.notice", "-t", "edge-0091", "-f"])
        .arg(&input);
    run(cmd).await;
    let sent = Instant::now();
    let latency = expect_one_critical(&running, "edge-0091", sent).await;
    eprintln!("logger {label}: last line sent -> alert in the NDJSON sink: {latency:?}");
    let transport = if transport.contains(&"-d") {
        "udp"
    } else {
        "tcp"
    };
    expect_received(&running, transport, edge_bodies().len() as u64).await;
    running.shutdown().await;
}

/// `logger --rfc5424 -d` (RFC 5424 over UDP, one datagram per line) is understood.
#[tokio::test(flavor = "multi_thread")]
async fn logger_rfc5424_over_udp_raises_the_alert() {
    logger_delivers(&["-d"], "UDP").await;
}

/// `logger --rfc5424 -T` (RFC 5424 over TCP, a message per line) is understood.
#[tokio::test(flavor = "multi_thread")]
async fn logger_rfc5424_over_tcp_raises_the_alert() {
    logger_delivers(&["-T"], "TCP").await;
}

/// `logger --rfc5424 -T --octet-count` (RFC 6587 octet counting from another implementation)
/// is understood.
#[tokio::test(flavor = "multi_thread")]
async fn logger_rfc5424_over_tcp_octet_counted_raises_the_alert() {
    logger_delivers(&["-T", "--octet-count"], "TCP octet-counted").await;
}

/// An unprivileged rsyslogd (temp work directory, no system sockets) tails a file of device
/// lines with `imfile` and relays them unchanged with `omfwd` over TCP, octet-counted: the
/// service frames rsyslog's output and raises the one open critical alert.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs rsyslogd; .ci/run installs it"]
async fn rsyslog_omfwd_octet_counted_relay_raises_the_alert() {
    let rsyslogd = external("rsyslogd");
    let dir = tempfile::tempdir().unwrap();
    let changes = write_changes(dir.path(), &[("edge-0091", &["10.64.0.91"])]);
    let running = serve::start(ServeConfig {
        udp: None,
        ..config(dir.path(), changes)
    })
    .await
    .expect("the service starts");

    let feed = dir.path().join("devices.log");
    std::fs::write(&feed, edge_lines("edge-0091").join("\n") + "\n").unwrap();
    let work = dir.path().join("rsyslog");
    std::fs::create_dir(&work).unwrap();
    let conf = dir.path().join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"# Temp paths only; no imuxsock or imklog, so no system socket or kernel log.
global(workDirectory="{work}")
module(load="imfile")
template(name="relay" type="string" string="%rawmsg%")
input(type="imfile" file="{feed}" tag="devices" ruleset="relay")
ruleset(name="relay") {{
  action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp"
         TCP_Framing="octet-counted" template="relay")
}}
"#,
            work = work.display(),
            feed = feed.display(),
            port = running.tcp.unwrap().port(),
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("rsyslogd.out")).unwrap();
    let child = Command::new(rsyslogd)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.path().join("rsyslogd.pid"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("rsyslogd starts");
    let child = Reaped(child);
    let started = Instant::now();

    let latency = expect_one_critical(&running, "edge-0091", started).await;
    eprintln!("rsyslogd: start (tails the file) -> alert in the NDJSON sink: {latency:?}");
    expect_received(&running, "tcp", edge_lines("edge-0091").len() as u64).await;
    drop(child);
    running.shutdown().await;
}

/// `promtool check metrics` (Prometheus' own linter) accepts `GET /metrics` of the real
/// binary, `imagewatch serve` started as a child with a config file and flags, after it has
/// received lines over UDP and TCP and raised an alert.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs promtool; .ci/run installs it"]
async fn promtool_accepts_the_metrics_of_the_binary() {
    let promtool = external("promtool");
    let dir = tempfile::tempdir().unwrap();
    let changes = write_changes(dir.path(), &[("edge-0091", &["10.64.0.91"])]);
    let free = |udp: bool| -> SocketAddr {
        if udp {
            std::net::UdpSocket::bind(any_port())
                .unwrap()
                .local_addr()
                .unwrap()
        } else {
            std::net::TcpListener::bind(any_port())
                .unwrap()
                .local_addr()
                .unwrap()
        }
    };
    let (udp, tcp, http) = (free(true), free(false), free(false));
    let toml = dir.path().join("imagewatch.toml");
    std::fs::write(&toml, "lateness_ms = 100\nworkers = 2\ntls = \"off\"\n").unwrap();
    let log = std::fs::File::create(dir.path().join("imagewatch.err")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .arg("serve")
        .arg("--config")
        .arg(&toml)
        .args(["--udp", &udp.to_string(), "--tcp", &tcp.to_string()])
        .args(["--http", &http.to_string()])
        .arg("--state")
        .arg(dir.path().join("state"))
        .arg("--rules")
        .arg(super::rules_dir())
        .arg("--changes")
        .arg(&changes)
        .arg("--alerts")
        .arg(dir.path().join("alerts.ndjson"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("imagewatch serve starts");
    let _child = Reaped(child);
    let client = http_client();
    until(
        "the service to answer /healthz",
        Duration::from_secs(10),
        async || {
            let r = client.get(format!("http://{http}/healthz")).send().await;
            r.ok().filter(|r| r.status().is_success())
        },
    )
    .await;

    // Noise over UDP, the sequence over TCP.
    let socket = std::net::UdpSocket::bind(any_port()).unwrap();
    socket
        .send_to(
            b"<189>1: edge-0091: %LINK-3-UPDOWN: Interface Gi0/2, changed state to up",
            udp,
        )
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(tcp).await.unwrap();
    for line in edge_lines("edge-0091") {
        stream
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }
    stream.flush().await.unwrap();
    until(
        "an alert from the child",
        Duration::from_secs(8),
        async || {
            let n = api_alerts(&client, http).await.len();
            (n > 0).then_some(())
        },
    )
    .await;

    let metrics = client
        .get(format!("http://{http}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "imagewatch_lines_received_total{transport=\"udp\"} 1",
        "imagewatch_lines_received_total{transport=\"tcp\"}",
        "imagewatch_alerts_total ",
    ] {
        assert!(metrics.contains(name), "{name} in:\n{metrics}");
    }
    let exposed = dir.path().join("metrics.txt");
    std::fs::write(&exposed, &metrics).unwrap();
    let mut cmd = Command::new(promtool);
    cmd.args(["check", "metrics"])
        .stdin(std::fs::File::open(&exposed).unwrap());
    run(cmd).await;
}
