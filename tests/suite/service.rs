//! The service over real sockets, a real sled directory and real HTTP, on 127.0.0.1.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use imagewatch::serve::{self, ServeConfig};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// A change calendar with two devices and the allowlisted golden server.
const CHANGES: &str = r#"
allowlist:
  servers: ["10.10.0.5"]
inventory:
  - device: edge-0091
    vendor: cisco_ios
    aliases: ["10.64.0.91"]
    baseline_version: "15.6(3)M9"
  - device: rtr-0042
    vendor: cisco_ios
    aliases: ["10.64.0.42"]
    baseline_version: "15.7(3)M8"
"#;

/// The raw lines of an image swap on `host`: image from `server`, boot variable, reload, and a
/// restart banner with `version`.
pub fn swap(host: &str, image: &str, server: &str, version: &str, user: &str) -> Vec<String> {
    vec![
        format!(
            "<189>811: {host}: Jun  2 22:41:00.000 UTC: %HA_EM-6-LOG: CLIaccounting: copy tftp://{server}/{image} flash:"
        ),
        format!(
            "<189>812: {host}: Jun  2 22:48:00.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:{user}  logged command:boot system flash:{image}"
        ),
        format!(
            "<189>814: {host}: Jun  2 22:55:10.000 UTC: %SYS-5-RELOAD: Reload requested by {user} on vty0 (10.77.14.3). Reload Reason: Reload Command."
        ),
        format!(
            "<189>3: {host}: *Jun  2 23:00:59.000 UTC: %SYS-5-RESTART: System restarted --#012Cisco IOS Software, C1900 Software (C1900-UNIVERSALK9-M), Version {version}, RELEASE SOFTWARE (fc2)"
        ),
    ]
}

/// The malicious swap on edge-0091 (unknown server, new version) most tests send.
pub fn edge_swap() -> Vec<String> {
    swap(
        "edge-0091",
        "c1900-universalk9-mz.SPA.157-3.M9.bin",
        "203.0.113.45",
        "15.7(3)M9",
        "jdoe",
    )
}

/// Waits until the device view shows `n` pending sequences (signals processed and stored).
async fn wait_pending(http: SocketAddr, device: &str, n: usize) -> Option<()> {
    eventually(Duration::from_secs(5), async || {
        let url = format!("http://{http}/api/v1/devices/{device}");
        let v: Value = reqwest::get(url).await.ok()?.json().await.ok()?;
        (v["pending"].as_array()?.len() == n).then_some(())
    })
    .await
}

pub fn config(dir: &Path) -> ServeConfig {
    std::fs::write(dir.join("changes.yaml"), CHANGES).unwrap();
    ServeConfig {
        udp: Some("127.0.0.1:0".parse().unwrap()),
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        http: "127.0.0.1:0".parse().unwrap(),
        state: dir.join("state"),
        rules: Some(super::rules_dir()),
        changes: Some(dir.join("changes.yaml")),
        alerts: dir.join("alerts.ndjson"),
        ..ServeConfig::default()
    }
}

/// Polls `f` until it returns Some or the deadline passes.
pub async fn eventually<T>(within: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn api_alerts(http: SocketAddr, query: &str) -> Vec<Value> {
    let url = format!("http://{http}/api/v1/alerts?{query}");
    let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    v["alerts"].as_array().cloned().unwrap_or_default()
}

/// The alerts the API lists for `query` once there are any (None after `within`).
pub async fn wait_alerts(http: SocketAddr, query: &str, within: Duration) -> Option<Vec<Value>> {
    eventually(within, async || {
        let a = api_alerts(http, query).await;
        (!a.is_empty()).then_some(a)
    })
    .await
}

/// The alerts for `device` in the API and in the NDJSON file, once both have some.
async fn wait_api_and_file(
    http: SocketAddr,
    file: &Path,
    device: &str,
) -> Option<(Vec<Value>, Vec<Value>)> {
    let query = format!("device={device}");
    eventually(Duration::from_secs(3), async || {
        let a = api_alerts(http, &query).await;
        let f: Vec<Value> = file_alerts(file)
            .into_iter()
            .filter(|a| a["device"] == device)
            .collect();
        (!a.is_empty() && !f.is_empty()).then_some((a, f))
    })
    .await
}

pub fn file_alerts(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// RFC 6587 octet counting.
fn octets(line: &str) -> Vec<u8> {
    format!("{} {line}", line.len()).into_bytes()
}

/// A malicious sequence over UDP and another over TCP with octet counting each give exactly
/// one unsuppressed alert, in the API and in the NDJSON sink, within 1 s of the closing line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_and_octet_counted_tcp_sequences_alert_within_a_second() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let alerts_file = cfg.alerts.clone();
    let running = serve::start(cfg).await.unwrap();

    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let lines = edge_swap();
    for l in &lines {
        udp.send_to(l.as_bytes(), running.udp.unwrap())
            .await
            .unwrap();
    }
    let closed = Instant::now();
    let http = running.http;
    let got = wait_api_and_file(http, &alerts_file, "edge-0091")
        .await
        .expect("UDP sequence alerts");
    let latency = closed.elapsed();
    assert!(
        latency < Duration::from_secs(1),
        "UDP alert took {latency:?}"
    );
    assert_eq!(got.0.len(), 1, "{:#?}", got.0);
    assert_eq!(got.0[0]["severity"], "critical");
    assert_eq!(got.0[0]["suppressed"], false);
    assert_eq!(got.1.len(), 1);

    let mut tcp = tokio::net::TcpStream::connect(running.tcp.unwrap())
        .await
        .unwrap();
    let lines = swap(
        "rtr-0042",
        "c2900-universalk9-mz.SPA.157-3.M9.bin",
        "10.10.0.5",
        "15.7(3)M9",
        "jsmith",
    );
    for l in &lines {
        tcp.write_all(&octets(l)).await.unwrap();
    }
    tcp.flush().await.unwrap();
    let closed = Instant::now();
    let got = wait_api_and_file(http, &alerts_file, "rtr-0042")
        .await
        .expect("TCP sequence alerts");
    let latency = closed.elapsed();
    assert!(
        latency < Duration::from_secs(1),
        "TCP alert took {latency:?}"
    );
    assert_eq!(got.0.len(), 1);
    assert_eq!(
        got.0[0]["severity"], "high",
        "allowlisted server: high, not critical"
    );
    assert_eq!(got.1.len(), 1);
    drop(tcp);
    running.shutdown().await;
}

/// A ticket posted through the API suppresses a later authorised sequence (and is named in
/// it); a sequence in the ticket's time but with another image is escalated with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_ticket_suppresses_and_escalates() {
    let tmp = tempfile::tempdir().unwrap();
    let running = serve::start(config(tmp.path())).await.unwrap();
    let http = running.http;
    let client = reqwest::Client::new();
    let now = jiff::Timestamp::now();
    let ticket = json!({
        "id": "CHG0099001", "devices": ["rtr-0042"],
        "start": (now - jiff::SignedDuration::from_hours(1)).to_string(),
        "end": (now + jiff::SignedDuration::from_hours(1)).to_string(),
        "images": ["c2900-universalk9-mz.SPA.157-3.M9.bin"], "versions": ["15.7(3)M9"],
        "users": ["jsmith"], "servers": ["10.10.0.5"],
    });
    let r = client
        .post(format!("http://{http}/api/v1/tickets"))
        .json(&ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let bad = json!({"id": "CHG-BAD", "devices": ["rtr-*"], "start": "yesterday", "end": "2026-01-01T00:00:00Z"});
    let r = client
        .post(format!("http://{http}/api/v1/tickets"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["field"], "start", "{body}");
    let listed: Value = reqwest::get(format!("http://{http}/api/v1/tickets"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["tickets"].as_array().unwrap().len(), 1);

    let tcp_addr = running.tcp.unwrap();
    let send = async |lines: Vec<String>| {
        let mut tcp = tokio::net::TcpStream::connect(tcp_addr).await.unwrap();
        for l in &lines {
            tcp.write_all(format!("{l}\n").as_bytes()).await.unwrap();
        }
        tcp.shutdown().await.unwrap();
    };
    send(swap(
        "rtr-0042",
        "c2900-universalk9-mz.SPA.157-3.M9.bin",
        "10.10.0.5",
        "15.7(3)M9",
        "jsmith",
    ))
    .await;
    let a = wait_alerts(http, "device=rtr-0042", Duration::from_secs(15))
        .await
        .expect("suppressed alert recorded");
    assert_eq!(a[0]["suppressed"], true, "{:#}", a[0]);
    assert_eq!(a[0]["suppressed_by"], "CHG0099001");

    send(swap(
        "rtr-0042",
        "c2900-universalk9-mz.SPA.157-3.M7.bin",
        "10.10.0.5",
        "15.7(3)M7",
        "jsmith",
    ))
    .await;
    let a = wait_alerts(
        http,
        "device=rtr-0042&suppressed=false",
        Duration::from_secs(3),
    )
    .await
    .expect("escalated alert");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["escalated_by"], "CHG0099001");
    let reason = a[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("CHG0099001") && reason.contains("is not approved"),
        "{reason}"
    );
    running.shutdown().await;
}

/// With a token configured every `/api/` route needs it; health and metrics stay open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_needs_the_bearer_token() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        token: Some("s3cret-token".into()),
        ..config(tmp.path())
    };
    let running = serve::start(cfg).await.unwrap();
    let http = running.http;
    let client = reqwest::Client::new();
    for path in [
        "alerts",
        "devices",
        "devices/x",
        "tickets",
        "tickets/x",
        "windows",
        "windows/x",
    ] {
        let r = client
            .get(format!("http://{http}/api/v1/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "GET {path}");
        let r = client
            .get(format!("http://{http}/api/v1/{path}"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "GET {path} with a wrong token");
    }
    for path in ["tickets", "windows", "reload"] {
        let r = client
            .post(format!("http://{http}/api/v1/{path}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "POST {path}");
    }
    let r = client
        .get(format!("http://{http}/api/v1/alerts"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        reqwest::get(format!("http://{http}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    running.shutdown().await;
}

/// An image staged with no reload: the timeout finding fires from the wall clock on a feed
/// that has gone quiet, without any further line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absence_finding_fires_on_a_quiet_feed() {
    let tmp = tempfile::tempdir().unwrap();
    // The shipped rules with the staged window shortened to 2 s.
    let rules = tmp.path().join("rules");
    copy_dir(&super::rules_dir(), &rules);
    let seq = rules.join("sequences/t1601.yaml");
    let text = std::fs::read_to_string(&seq).unwrap();
    std::fs::write(&seq, text.replace("within: 24h", "within: 2s")).unwrap();
    let cfg = ServeConfig {
        rules: Some(rules),
        ..config(tmp.path())
    };
    let running = serve::start(cfg).await.unwrap();
    let http = running.http;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let lines = edge_swap();
    for l in &lines[..2] {
        udp.send_to(l.as_bytes(), running.udp.unwrap())
            .await
            .unwrap();
    }
    let sent = Instant::now();
    let a = eventually(Duration::from_secs(6), async || {
        let a = api_alerts(http, "device=edge-0091").await;
        (!a.is_empty()).then_some(a)
    })
    .await
    .expect("the staged finding fires");
    assert_eq!(a[0]["rule_id"], "t1601.image_staged");
    assert_eq!(a[0]["severity"], "medium");
    assert!(
        sent.elapsed() >= Duration::from_secs(2),
        "not before the window ends"
    );
    running.shutdown().await;
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

pub(super) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The binary as a child process on fresh loopback ports (TCP syslog, HTTP), on the state
/// directory and `changes.yaml` of a test directory.
pub struct ServeChild {
    pub child: Child,
    pub tcp: SocketAddr,
    pub http: SocketAddr,
}

/// A test that fails must not leave its service running.
impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `imagewatch serve` on `dir/state` with `dir/changes.yaml`; its stderr goes to
/// `stderr`.
pub fn serve_child(dir: &Path, stderr: Stdio) -> ServeChild {
    let (tcp, http) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .args(["serve", "--udp", "off"])
        .args(["--tcp", &format!("127.0.0.1:{tcp}")])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .arg("--state")
        .arg(dir.join("state"))
        .arg("--rules")
        .arg(super::rules_dir())
        .arg("--changes")
        .arg(dir.join("changes.yaml"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    ServeChild {
        child,
        tcp: format!("127.0.0.1:{tcp}").parse().unwrap(),
        http: format!("127.0.0.1:{http}").parse().unwrap(),
    }
}

fn spawn_serve(dir: &Path) -> ServeChild {
    std::fs::write(dir.join("changes.yaml"), CHANGES).unwrap();
    serve_child(dir, Stdio::piped())
}

async fn wait_healthy(http: SocketAddr) {
    eventually(Duration::from_secs(10), async || {
        reqwest::get(format!("http://{http}/healthz"))
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await
    .expect("service comes up");
}

pub async fn send_lines(tcp: SocketAddr, lines: &[String]) {
    let mut s = tokio::net::TcpStream::connect(tcp).await.unwrap();
    for l in lines {
        s.write_all(format!("{l}\n").as_bytes()).await.unwrap();
    }
    s.shutdown().await.unwrap();
}

/// kill -9 in the middle of a sequence, a restart on the same state directory, the rest of
/// the sequence: exactly one alert, in the API and in the sink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_sequence_then_restart_gives_exactly_one_alert() {
    let tmp = tempfile::tempdir().unwrap();
    let lines = edge_swap();
    let mut a = spawn_serve(tmp.path());
    wait_healthy(a.http).await;
    send_lines(a.tcp, &lines[..2]).await;
    let http = a.http;
    wait_pending(http, "edge-0091", 1)
        .await
        .expect("first half processed");
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();

    let mut b = spawn_serve(tmp.path());
    wait_healthy(b.http).await;
    send_lines(b.tcp, &lines[2..]).await;
    let http = b.http;
    let alerts_file: PathBuf = tmp.path().join("state/alerts.ndjson");
    let got = eventually(Duration::from_secs(5), async || {
        let f = file_alerts(&alerts_file);
        (!f.is_empty()).then_some(f)
    })
    .await
    .expect("the sequence completes after the restart");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(file_alerts(&alerts_file).len(), 1, "{got:#?}");
    let api = api_alerts(http, "").await;
    assert_eq!(api.len(), 1);
    assert_eq!(api[0]["rule_id"], "t1601.image_replaced");
    assert_eq!(
        api[0]["evidence"].as_array().unwrap().len(),
        4,
        "evidence from both lives"
    );
    terminate(&mut b.child);
}

pub(super) fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.wait().unwrap()
}

/// SIGTERM: exit 0 with the state flushed; a second instance on the same state directory
/// fails at once with a clear message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_zero_and_a_second_instance_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = spawn_serve(tmp.path());
    wait_healthy(a.http).await;

    let mut second = spawn_serve(tmp.path());
    let started = Instant::now();
    let status = second.child.wait().unwrap();
    assert_eq!(status.code(), Some(2));
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut err = String::new();
    std::io::Read::read_to_string(second.child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("in use by another imagewatch"), "{err}");

    let lines = edge_swap();
    send_lines(a.tcp, &lines[..2]).await;
    let http = a.http;
    wait_pending(http, "edge-0091", 1)
        .await
        .expect("signals processed");
    let status = terminate(&mut a.child);
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0");
    let store = imagewatch::StateStore::open(&tmp.path().join("state")).unwrap();
    let dev = store
        .devices()
        .unwrap()
        .into_iter()
        .find(|d| d.device == "edge-0091")
        .expect("flushed");
    assert_eq!(dev.instances.len(), 1);
}

/// `POST /api/v1/reload` re-reads rules and calendar; an invalid rule file keeps the old rules
/// and the response says why. An edited `changes.yaml` is picked up on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_old_rules_on_error_and_follows_the_calendar_file() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    copy_dir(&super::rules_dir(), &rules);
    let cfg = ServeConfig {
        rules: Some(rules.clone()),
        ..config(tmp.path())
    };
    let running = serve::start(cfg).await.unwrap();
    let http = running.http;
    let client = reqwest::Client::new();

    let r = client
        .post(format!("http://{http}/api/v1/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ok: Value = r.json().await.unwrap();
    assert!(ok["summary"]["signal_rules"].as_u64().unwrap() > 20, "{ok}");

    std::fs::write(rules.join("signals/broken.yaml"), "vendor: x\nmessages:\n  - id: b\n    kind: reload\n    literals: [\"RELOAD\"]\n    pattern: '(oops'\n").unwrap();
    let r = client
        .post(format!("http://{http}/api/v1/reload"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("broken.yaml:6:"),
        "{body}"
    );
    // The old rules still work.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for l in edge_swap() {
        udp.send_to(l.as_bytes(), running.udp.unwrap())
            .await
            .unwrap();
    }
    wait_alerts(http, "device=edge-0091", Duration::from_secs(15))
        .await
        .expect("alerts with the previous rules");
    std::fs::remove_file(rules.join("signals/broken.yaml")).unwrap();

    // A new window in changes.yaml suppresses the next swap on rtr-0042 without a reload call.
    let now = jiff::Timestamp::now();
    let window = format!(
        "maintenance_windows:\n  - id: MW-now\n    devices: [\"rtr-*\"]\n    start: {}\n    end: {}\n{CHANGES}",
        now - jiff::SignedDuration::from_hours(1),
        now + jiff::SignedDuration::from_hours(1)
    );
    std::fs::write(tmp.path().join("changes.yaml"), window).unwrap();
    // The service looks at the file's modification time every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for l in swap(
        "rtr-0042",
        "c2900-universalk9-mz.SPA.157-3.M9.bin",
        "10.10.0.5",
        "15.7(3)M9",
        "jsmith",
    ) {
        udp.send_to(l.as_bytes(), running.udp.unwrap())
            .await
            .unwrap();
    }
    let a = wait_alerts(http, "device=rtr-0042", Duration::from_secs(15))
        .await
        .expect("alert recorded");
    assert_eq!(a[0]["suppressed_by"], "MW-now", "{:#}", a[0]);
    running.shutdown().await;
}

/// With one machine in memory per worker, devices are evicted to the store and read back:
/// the swap still alerts once, the API pages devices from the store, the metrics count it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicted_devices_still_alert_and_the_api_pages_them() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        max_devices: 2,
        workers: 2,
        ..config(tmp.path())
    };
    let running = serve::start(cfg).await.unwrap();
    let http = running.http;
    let lines = edge_swap();
    let chatter = |i: usize| {
        format!(
            "<189>9{i}: sw-{i:02}: Jun  2 22:4{}:30.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:ops  logged command:write memory",
            i % 10
        )
    };
    // Three rounds, each processed (past the lateness) before the next: the chatter of a
    // round evicts edge-0091's machine, which the next round's line must read back.
    let mut first = vec![lines[0].clone()];
    first.extend((0..6).map(chatter));
    let mut second = vec![lines[1].clone()];
    second.extend((6..12).map(chatter));
    for round in [first, second, lines[2..].to_vec()] {
        send_lines(running.tcp.unwrap(), &round).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        running.shared.sync().await;
    }
    let a = wait_alerts(http, "device=edge-0091", Duration::from_secs(5))
        .await
        .expect("the swap alerts");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["rule_id"], "t1601.image_replaced");
    assert_eq!(a[0]["severity"], "critical");

    let page = |q: String| async move {
        let url = format!("http://{http}/api/v1/devices?{q}");
        reqwest::get(url)
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let p = page(format!("limit=5&after={after}")).await;
        for d in p["devices"].as_array().unwrap() {
            seen.push(d["device"].as_str().unwrap().to_string());
        }
        match p["next"].as_str() {
            Some(n) => after = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 13, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    let v: Value = reqwest::get(format!("http://{http}/api/v1/devices/EDGE-0091"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["running"], "15.7(3)M9");
    assert_eq!(v["baseline"]["version"], "15.6(3)M9");
    // The API names devices as lines do: by an inventory alias (its address) or a
    // domain-qualified name, through the one device-id function.
    for name in ["10.64.0.91", "edge-0091.example.net", "EDGE-0091."] {
        let v: Value = reqwest::get(format!("http://{http}/api/v1/devices/{name}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["device"], "edge-0091", "{name}: {v}");
        let a = wait_alerts(http, &format!("device={name}"), Duration::from_secs(1))
            .await
            .unwrap_or_default();
        assert_eq!(a.len(), 1, "alerts?device={name}: {a:?}");
    }

    let metrics = reqwest::get(format!("http://{http}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    assert!(value("imagewatch_devices_evicted_total") > 0.0, "{metrics}");
    assert!(value("imagewatch_devices_loaded_total") > 0.0, "{metrics}");
    assert!(value("imagewatch_devices_in_memory") <= 4.0, "{metrics}");
    running.shutdown().await;
}

/// The service sees a reloaded device's return the way `replay` does: an IOS router with a
/// staged image, told to reload, that sends no restart banner (and so no version) but an
/// interface line after two minutes of silence over UDP, raises the image replacement with the
/// version read from the image name. Device clocks are synchronised and within minutes of
/// arrival, so the silence is the device's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_device_that_logs_again_over_udp_has_booted() {
    let tmp = tempfile::tempdir().unwrap();
    let running = serve::start(config(tmp.path())).await.unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let stamp = |ago_s: i64| {
        let z = jiff::Timestamp::from_millisecond(now - ago_s * 1000)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC);
        z.strftime("%b %e %H:%M:%S%.3f").to_string()
    };
    let image = "c2900-universalk9-mz.SPA.157-3.M9.bin";
    let lines = [
        format!(
            "<189>811: rtr-0042: {} UTC: %HA_EM-6-LOG: CLIaccounting: copy scp://jsmith@10.10.0.5/{image} flash:",
            stamp(240)
        ),
        format!(
            "<189>812: rtr-0042: {} UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:jsmith  logged command:boot system flash:{image}",
            stamp(180)
        ),
        format!(
            "<189>814: rtr-0042: {} UTC: %SYS-5-RELOAD: Reload requested by jsmith on vty0 (10.30.1.5). Reload Reason: Reload Command.",
            stamp(120)
        ),
        format!(
            "<187>2: rtr-0042: {} UTC: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to up",
            stamp(0)
        ),
    ];
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for l in &lines {
        udp.send_to(l.as_bytes(), running.udp.unwrap())
            .await
            .unwrap();
        // One datagram at a time, in order: the device's own order is what is tested.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = wait_alerts(running.http, "device=rtr-0042", Duration::from_secs(5))
        .await
        .expect("the return after the reload completes the sequence");
    assert_eq!(got.len(), 1, "{got:#?}");
    let a = &got[0];
    assert_eq!(a["rule_id"], "t1601.image_replaced", "{a:#}");
    assert_eq!(a["version_after"], "15.7(3)M9", "{a:#}");
    assert_eq!(a["version_inferred"], true, "{a:#}");
    let reason = a["reason"].as_str().unwrap();
    assert!(
        reason.contains("the boot is the device logging again after a silence"),
        "{reason}"
    );
    running.shutdown().await;
}
