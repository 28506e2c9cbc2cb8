//! The service's limits hold and are counted in `/metrics`: longest line, most connections,
//! idle connections, largest API body.

use std::net::SocketAddr;
use std::time::Duration;

use imagewatch::serve::{self, ServeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::service::{config, edge_swap, eventually};

/// The value of the metric sample `name` (0 when absent).
pub async fn metric(http: SocketAddr, name: &str) -> f64 {
    let text = super::http_client()
        .get(format!("http://{http}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn wait_metric(http: SocketAddr, name: &str, value: f64) {
    let got = eventually(Duration::from_secs(5), async || {
        (metric(http, name).await == value).then_some(())
    })
    .await;
    assert!(
        got.is_some(),
        "{name} stays at {} (want {value})",
        metric(http, name).await
    );
}

/// Reads until the peer closes (true) or `within` passes (false).
async fn closed_by_peer(s: &mut tokio::net::TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(within, s.read(&mut buf)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

/// A line over `max_line` is truncated, counted, and its signal still reaches the engine; the
/// connection after `max_connections` is refused and counted; a connection silent for
/// `idle_timeout_secs` is closed and counted; a POST over `max_body` (16 KiB here) gets 413 and is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_enforced_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        max_line: 512,
        max_connections: 2,
        idle_timeout_secs: 1,
        max_body: 16 * 1024,
        ..config(tmp.path())
    };
    let running = serve::start(cfg).await.unwrap();
    let (http, tcp) = (running.http, running.tcp.unwrap());

    // Over-long line: the boot-variable command, then 4 KiB of padding.
    let mut long = tokio::net::TcpStream::connect(tcp).await.unwrap();
    let line = format!("{} {}\n", edge_swap()[1], "x".repeat(4096));
    long.write_all(line.as_bytes()).await.unwrap();
    wait_metric(http, "imagewatch_truncated_lines_total", 1.0).await;
    wait_metric(http, "imagewatch_signals_total{kind=\"boot_var\"}", 1.0).await;
    let pending = eventually(Duration::from_secs(5), async || {
        let v: serde_json::Value = super::http_client()
            .get(format!("http://{http}/api/v1/devices/edge-0091"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (v["pending"].as_array()?.len() == 1).then_some(v)
    })
    .await
    .expect("the truncated line's signal is processed");
    assert_eq!(pending["pending"][0]["reached_step"], 1, "{pending:#}");

    // Connection limit: `long` and a second are open; the third is closed at once.
    let mut second = tokio::net::TcpStream::connect(tcp).await.unwrap();
    wait_metric(http, "imagewatch_tcp_connections", 2.0).await;
    let mut third = tokio::net::TcpStream::connect(tcp).await.unwrap();
    assert!(closed_by_peer(&mut third, Duration::from_secs(5)).await);
    wait_metric(http, "imagewatch_tcp_connections_refused_total", 1.0).await;

    // Idle: both open connections say nothing more and are closed after 1 s.
    assert!(closed_by_peer(&mut second, Duration::from_secs(5)).await);
    assert!(closed_by_peer(&mut long, Duration::from_secs(5)).await);
    wait_metric(http, "imagewatch_connections_idle_closed_total", 2.0).await;
    wait_metric(http, "imagewatch_tcp_connections", 0.0).await;

    // Body limit: a declared length over 16 KiB (under the 64 KiB default), and a chunked
    // body that grows past it.
    let client = super::http_client();
    let big = serde_json::json!({"id": "CHG-BIG", "devices": ["x".repeat(20 * 1024)]});
    let r = client
        .post(format!("http://{http}/api/v1/tickets"))
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    wait_metric(http, "imagewatch_api_body_too_large_total", 1.0).await;
    let mut raw = tokio::net::TcpStream::connect(http).await.unwrap();
    let head = "POST /api/v1/windows HTTP/1.1\r\nHost: imagewatch\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    raw.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..10 {
        let chunk = format!("2000\r\n{}\r\n", " ".repeat(0x2000));
        // The service may answer and close before it has read everything.
        if raw.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = raw.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(r.status(), 413);
    wait_metric(http, "imagewatch_api_body_too_large_total", 2.0).await;
    running.shutdown().await;
}

/// Evasion by flooding, in the service: inside a maintenance window, a device's log is flooded
/// with a thousand boot-variable changes to decoy images after the real one. Past
/// `max_pending` the real sequence is pushed out, and the loss raises its own alert: one id
/// for the device, high, not suppressed by the window, naming the device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_past_max_pending_raises_one_unsuppressed_alert() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        max_pending: 4,
        ..config(tmp.path())
    };
    // The lines carry a device time of their own (June 2026) that disagrees with the wall
    // clock they arrive by: they are dated by arrival, so the window spans the test's now.
    let now = jiff::Timestamp::now();
    let window = format!(
        "maintenance_windows:\n  - id: MW-flood\n    devices: [\"rtr-0077\"]\n    start: {}\n    end: {}\n",
        now - jiff::SignedDuration::from_hours(1),
        now + jiff::SignedDuration::from_hours(1),
    );
    std::fs::write(tmp.path().join("changes.yaml"), window).unwrap();
    let running = serve::start(cfg).await.unwrap();
    let (http, tcp) = (running.http, running.tcp.unwrap());
    let line = |n: u32, image: &str| {
        format!(
            "<189>{n}: rtr-0077: Jun  3 02:00:00.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:mallory  logged command:boot system flash:{image}\n"
        )
    };
    let mut s = tokio::net::TcpStream::connect(tcp).await.unwrap();
    let mut text = line(1, "c2900-universalk9-mz.SPA.157-3.M9.bin");
    for n in 1..=1000 {
        text.push_str(&line(n + 1, &format!("decoy-{n:04}.bin")));
    }
    s.write_all(text.as_bytes()).await.unwrap();
    s.shutdown().await.unwrap();
    let alerts = eventually(Duration::from_secs(10), async || {
        let a = super::service::api_alerts(http, "device=rtr-0077").await;
        (a.len() == 1 && a[0]["revision"].as_u64()? >= 3).then_some(a)
    })
    .await
    .expect("one evidence-dropped alert, revised as the flood grows");
    let a = &alerts[0];
    assert_eq!(a["rule_id"], "t1601.evidence_dropped", "{a:#}");
    assert_eq!(a["severity"], "high");
    assert_eq!(a["suppressed"], false);
    assert_eq!(a["device"], "rtr-0077");
    let reason = a["reason"].as_str().unwrap();
    assert!(
        reason.contains("rtr-0077") && reason.contains("max_pending 4"),
        "{reason}"
    );
    assert!(
        reason.contains("c2900-universalk9-mz.SPA.157-3.M9.bin"),
        "{a:#}"
    );
    running.shutdown().await;
}
