//! The analyst console in a real browser: Debian's chromium, driven headless by
//! `tests/browser/console.mjs` (playwright-core), against a running service fed a scenario.
//! Writes the README's screenshots (`docs/console-*.png`, 1280×800).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use imagewatch::serve::{self, ServeConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::service::eventually;

/// [`swap`]'s lines with `%STAMPn%` (now minus n minutes) for the browser script to fill in.
fn swap_template(host: &str, image: &str, server: &str, user: &str, version: &str) -> Vec<String> {
    swap_with(host, image, server, user, version, |mins| {
        format!("%STAMP{mins}%")
    })
}

/// Lines of one image swap on `host`, shaped like `docs/examples/sample.log`'s (whose Cisco
/// IOS lines come from the project's corpus formats), stamped `at` minus 4, 3, 2 and 1
/// minutes: within the device-clock tolerance of their arrival, so the device clock dates them.
fn swap(
    host: &str,
    image: &str,
    server: &str,
    user: &str,
    version: &str,
    at: jiff::Timestamp,
) -> Vec<String> {
    swap_with(host, image, server, user, version, |mins| {
        (at - jiff::SignedDuration::from_mins(mins))
            .strftime("%b %e %H:%M:%S%.3f")
            .to_string()
    })
}

fn swap_with(
    host: &str,
    image: &str,
    server: &str,
    user: &str,
    version: &str,
    stamp: impl Fn(i64) -> String,
) -> Vec<String> {
    vec![
        format!(
            "<189>811: {host}: {} UTC: %HA_EM-6-LOG: CLIaccounting: copy tftp://{server}/{image} flash:",
            stamp(4)
        ),
        format!(
            "<189>812: {host}: {} UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:{user}  logged command:boot system flash:{image}",
            stamp(3)
        ),
        format!(
            "<189>814: {host}: {} UTC: %SYS-5-RELOAD: Reload requested by {user} on vty0 (10.77.14.3). Reload Reason: Reload Command.",
            stamp(2)
        ),
        format!(
            "<189>3: {host}: *{} UTC: %SYS-5-RESTART: System restarted --#012Cisco IOS Software, C1900 Software (C1900-UNIVERSALK9-M), Version {version}, RELEASE SOFTWARE (fc2)",
            stamp(1)
        ),
    ]
}

const NEW_IMAGE: &str = "c1900-universalk9-mz.SPA.157-3.M9.bin";

/// The calendar: rtr-0042's upgrade is covered by CHG-RTR; edge-0091's falls in CHG-EDGE's time
/// with an image it did not approve (escalated); dist-0007 has no ticket yet.
fn changes(now: jiff::Timestamp) -> String {
    let t = |mins: i64| (now + jiff::SignedDuration::from_mins(mins)).to_string();
    format!(
        r#"
change_tickets:
  - {{id: CHG-RTR, devices: [rtr-0042], start: "{a}", end: "{b}", images: ["{NEW_IMAGE}"], servers: [10.10.0.5], users: [jsmith]}}
  - {{id: CHG-EDGE, devices: [edge-0091], start: "{a}", end: "{b}", images: [c1900-universalk9-mz.SPA.156-3.M10.bin]}}
allowlist: {{servers: [10.10.0.5]}}
inventory:
  - {{device: rtr-0042, vendor: cisco_ios, baseline_version: "15.6(3)M9"}}
  - {{device: edge-0091, vendor: cisco_ios, baseline_version: "15.6(3)M9"}}
  - {{device: dist-0007, vendor: cisco_ios, baseline_version: "15.6(3)M9"}}
"#,
        a = t(-15),
        b = t(15)
    )
}

async fn send(tcp: SocketAddr, lines: &[String]) {
    let mut s = tokio::net::TcpStream::connect(tcp).await.unwrap();
    for l in lines {
        s.write_all(format!("{l}\n").as_bytes()).await.unwrap();
    }
    s.shutdown().await.unwrap();
}

async fn alerts(http: SocketAddr, token: Option<&str>) -> (u16, Vec<Value>) {
    let mut req = super::http_client().get(format!("http://{http}/api/v1/alerts"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or_default();
    (status, v["alerts"].as_array().cloned().unwrap_or_default())
}

/// A page on another origin (another loopback port) that tries to add tickets to the API:
/// by `fetch` with a JSON body, by a no-cors `fetch`, and by a form the browser test submits.
async fn other_origin(api: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let page = format!(
        r#"<!doctype html><html><head><title>loading</title></head><body>
<form method="post" action="http://{api}/api/v1/tickets" enctype="text/plain"><input type="hidden" name='{{"id":"EVIL-FORM","devices":["*"],"start":"2026-01-01T00:00:00Z","end":"2030-01-01T00:00:00Z","x":"' value='"}}'><button id="submit" type="submit">go</button></form>
<script>
const body = JSON.stringify({{id: "EVIL-FETCH", devices: ["*"], start: "2026-01-01T00:00:00Z", end: "2030-01-01T00:00:00Z"}});
const url = "http://{api}/api/v1/tickets";
Promise.allSettled([
  fetch(url, {{method: "POST", headers: {{"Content-Type": "application/json"}}, body}}),
  fetch(url, {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}}, body}}),
]).then(() => {{ document.title = "done"; }});
</script></body></html>"#
    );
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let page = page.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = s.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    addr
}

/// Runs one phase of the browser script; panics with its output unless it passes.
async fn browser(phase: &str, envs: Vec<(&'static str, String)>) {
    let root = super::root();
    let phase = phase.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(root.join("tests/browser/console.mjs"))
            .arg(&phase)
            .env("SHOTS", root.join("docs"))
            .envs(envs)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "browser: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn config(dir: &Path) -> ServeConfig {
    ServeConfig {
        udp: None,
        tcp: Some("127.0.0.1:0".parse().unwrap()),
        http: "127.0.0.1:0".parse().unwrap(),
        state: dir.join("state"),
        rules: Some(super::rules_dir()),
        changes: Some(dir.join("changes.yaml")),
        alerts: dir.join("alerts.ndjson"),
        ..ServeConfig::default()
    }
}

/// The queue lists the alerts; the alert page shows evidence and the ticket (and the field
/// that did not fit); the device page draws the version change and the ticket span; a ticket
/// created through the form suppresses a later sequence; a page on another origin cannot add
/// a ticket; triage survives a restart; with a token the console works once it is entered and
/// the API still answers 401 without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and node; .ci/run installs them"]
async fn the_console_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now();
    std::fs::write(dir.path().join("changes.yaml"), changes(now)).unwrap();
    let running = serve::start(config(dir.path())).await.unwrap();
    let (http, tcp) = (running.http, running.tcp.unwrap());
    let mut lines = swap(
        "rtr-0042",
        NEW_IMAGE,
        "10.10.0.5",
        "jsmith",
        "15.7(3)M9",
        now,
    );
    lines.extend(swap(
        "edge-0091",
        NEW_IMAGE,
        "203.0.113.45",
        "jdoe",
        "15.7(3)M9",
        now,
    ));
    send(tcp, &lines).await;
    let two = eventually(Duration::from_secs(10), async || {
        let (_, a) = alerts(http, None).await;
        (a.len() == 2).then_some(a)
    })
    .await
    .expect("two alerts");
    assert!(
        two.iter().any(|a| a["suppressed_by"] == "CHG-RTR"),
        "{two:?}"
    );
    assert!(
        two.iter().any(|a| a["escalated_by"] == "CHG-EDGE"),
        "{two:?}"
    );

    let other = other_origin(http).await;
    // The later sequence the form's ticket covers: the browser script sends it (stamped as it
    // sends) while it watches the queue.
    let later = swap_template("dist-0007", NEW_IMAGE, "10.10.0.5", "jsmith", "15.7(3)M9");
    let form_start = (jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10)).to_string();
    let form_end = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2)).to_string();
    browser(
        "main",
        vec![
            ("BASE", format!("http://{http}")),
            ("OTHER", format!("http://{other}")),
            ("FORM_ID", "CHG-FORM".into()),
            ("FORM_DEVICE", "dist-0007".into()),
            ("FORM_START", form_start),
            ("FORM_END", form_end),
            ("SYSLOG", tcp.to_string()),
            ("LATER_LINES", later.join("\n")),
        ],
    )
    .await;
    let tickets: Value = reqwest::get(format!("http://{http}/api/v1/tickets"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = tickets["tickets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["source"] == "api")
        .filter_map(|t| t["id"].as_str())
        .collect();
    assert_eq!(ids, ["CHG-FORM"], "only the form's ticket was added");

    let dist = eventually(Duration::from_secs(10), async || {
        let (_, a) = alerts(http, None).await;
        a.into_iter().find(|a| a["device"] == "dist-0007")
    })
    .await
    .expect("an alert for dist-0007");
    assert_eq!(dist["suppressed_by"], "CHG-FORM", "{dist}");

    // Triage survives a restart.
    running.shutdown().await;
    let running = serve::start(config(dir.path())).await.unwrap();
    let http = running.http;
    let (_, listed) = alerts(http, None).await;
    let edge = listed.iter().find(|a| a["device"] == "edge-0091").unwrap();
    assert_eq!(edge["triage"]["history"][0]["state"], "confirmed", "{edge}");
    assert_eq!(edge["triage"]["history"][0]["by"], "local");
    browser("restart", vec![("BASE", format!("http://{http}"))]).await;
    running.shutdown().await;

    // With a token: the console asks for it; the API still refuses requests without it.
    let token = "console-test-token-8c1f";
    let running = serve::start(ServeConfig {
        token: Some(token.into()),
        ..config(dir.path())
    })
    .await
    .unwrap();
    let http = running.http;
    assert_eq!(alerts(http, None).await.0, 401);
    let part = reqwest::get(format!("http://{http}/console/part/queue"))
        .await
        .unwrap();
    assert_eq!(part.status().as_u16(), 401);
    browser(
        "token",
        vec![("BASE", format!("http://{http}")), ("TOKEN", token.into())],
    )
    .await;
    assert_eq!(alerts(http, None).await.0, 401);
    assert_eq!(alerts(http, Some(token)).await.0, 200);
    running.shutdown().await;
}
