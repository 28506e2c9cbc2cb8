//! Alerts that cannot be delivered are not silent: `serve` refuses to start on an alert file it
//! cannot write, a sink failing past `sink_unhealthy_after_secs` turns `/healthz` into 503
//! naming it, and every delivery warning names the sink and its target.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use imagewatch::serve;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::service::{config, edge_swap, eventually, file_alerts, free_port, terminate};

/// The service's user cannot create the alert file (here: its directory is a regular file,
/// which stops root too): exit 2 naming the path, before any listener is bound.
#[test]
fn an_alert_file_that_cannot_be_created_stops_serve_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let not_a_dir = tmp.path().join("logs");
    std::fs::write(&not_a_dir, "").unwrap();
    let alerts = not_a_dir.join("alerts.ndjson");
    let http = free_port();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .args(["serve", "--udp", "off", "--tcp", "127.0.0.1:0"])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .arg("--state")
        .arg(tmp.path().join("state"))
        .arg("--rules")
        .arg(super::rules_dir())
        .arg("--alerts")
        .arg(&alerts)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A service that wrongly starts is stopped after a while, and the test fails.
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(15) {
            child.kill().unwrap();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        err.contains(&format!("alert file {}", alerts.display())),
        "{err}"
    );
    assert!(!err.contains("Serving."), "nothing was bound: {err}");
}

/// The alert file turns into a directory while the service runs: deliveries fail, `/healthz`
/// says 503 with the sink, its file and the reason once the failure is older than the allowed
/// second, and says `ok` again once the file is back and the held alert delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_file_sink_turns_healthz_503_until_it_delivers_again() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = serve::ServeConfig {
        sink_unhealthy_after_secs: 1,
        ..config(tmp.path())
    };
    let alerts = cfg.alerts.clone();
    let running = serve::start(cfg).await.unwrap();
    let health = format!("http://{}/healthz", running.http);
    let client = super::http_client();
    let get = async || client.get(&health).send().await.ok();
    assert_eq!(get().await.unwrap().status(), 200);
    std::fs::remove_file(&alerts).unwrap();
    std::fs::create_dir(&alerts).unwrap();

    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for l in &edge_swap() {
        udp.send_to(l.as_bytes(), running.udp.unwrap())
            .await
            .unwrap();
    }
    let body: Value = eventually(Duration::from_secs(10), async || {
        let r = get().await?;
        if r.status() != 503 {
            return None;
        }
        r.json().await.ok()
    })
    .await
    .expect("healthz turns 503");
    let sink = &body["sinks"][0];
    assert_eq!(sink["sink"], "ndjson", "{body}");
    assert_eq!(sink["target"], alerts.display().to_string(), "{body}");
    assert!(
        sink["reason"].as_str().unwrap().contains("directory"),
        "{body}"
    );
    assert!(sink["failing_for_secs"].as_u64().unwrap() >= 1, "{body}");

    std::fs::remove_dir(&alerts).unwrap();
    eventually(Duration::from_secs(20), async || {
        let r = get().await?;
        (r.status() == 200).then_some(())
    })
    .await
    .expect("healthy again after a delivery");
    assert_eq!(
        file_alerts(&alerts).len(),
        1,
        "the held alert was delivered"
    );
    running.shutdown().await;
}

/// A webhook that refuses connections: every delivery warning names the sink and the URL
/// without its credentials or query, and `/healthz` names it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_failures_name_the_sink_and_its_url_without_credentials() {
    let tmp = tempfile::tempdir().unwrap();
    let (tcp, http, hook) = (free_port(), free_port(), free_port());
    let toml = tmp.path().join("imagewatch.toml");
    std::fs::write(
        &toml,
        format!(
            "webhook = \"http://alice:s3cret@127.0.0.1:{hook}/hook?key=k3y\"\n\
             sink_unhealthy_after_secs = 1\n"
        ),
    )
    .unwrap();
    std::fs::write(tmp.path().join("changes.yaml"), "").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .args(["serve", "--udp", "off", "--config"])
        .arg(&toml)
        .args(["--tcp", &format!("127.0.0.1:{tcp}")])
        .args(["--http", &format!("127.0.0.1:{http}")])
        .arg("--state")
        .arg(tmp.path().join("state"))
        .arg("--rules")
        .arg(super::rules_dir())
        .arg("--changes")
        .arg(tmp.path().join("changes.yaml"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let health = format!("http://127.0.0.1:{http}/healthz");
    let client = super::http_client();
    eventually(Duration::from_secs(10), async || {
        client
            .get(&health)
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await
    .expect("service comes up");
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", tcp))
        .await
        .unwrap();
    for l in edge_swap() {
        s.write_all(format!("{l}\n").as_bytes()).await.unwrap();
    }
    s.shutdown().await.unwrap();
    let body: Value = eventually(Duration::from_secs(10), async || {
        let r = client.get(&health).send().await.ok()?;
        if r.status() != 503 {
            return None;
        }
        r.json().await.ok()
    })
    .await
    .expect("healthz turns 503");
    let shown = format!("http://127.0.0.1:{hook}/hook");
    assert_eq!(body["sinks"][0]["sink"], "webhook", "{body}");
    assert_eq!(body["sinks"][0]["target"], shown.as_str(), "{body}");
    assert_eq!(
        body["sinks"].as_array().unwrap().len(),
        1,
        "the alert file delivers: {body}"
    );
    terminate(&mut child);
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("Alert delivery failed"))
        .collect();
    assert!(!warnings.is_empty(), "{err}");
    for w in &warnings {
        assert!(
            w.contains("sink=\"webhook\"") || w.contains("sink=webhook"),
            "{w}"
        );
        assert!(w.contains(&format!("target={shown}")), "{w}");
    }
    assert!(!err.contains("s3cret") && !err.contains("k3y"), "{err}");
}
