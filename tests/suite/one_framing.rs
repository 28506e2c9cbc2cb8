//! One framing path: the same multi-line byte stream (a restart banner sent with real line
//! breaks) gives the same alerts through `replay`, LF-framed TCP, octet-counted TCP and TLS.

use std::path::Path;
use std::time::Duration;

use imagewatch::serve::{self, ServeConfig};
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::service::{config, eventually, file_alerts};

/// An upgrade of rtr-0042 from a server nobody approved, ending in a restart banner whose
/// version lines follow the header line after real line breaks (the shape of
/// `tests/scenarios/f3_multiline_banner.yaml`). The banner is the last message: a stream
/// listener must not hold it back for a continuation that never comes. The device clock reads
/// minutes before now, within the tolerance the service trusts, so event times (and with them
/// alert ids) do not depend on arrival.
fn stream() -> String {
    let now = jiff::Timestamp::now();
    let at = |minutes_ago: i64| {
        (now - jiff::SignedDuration::from_mins(minutes_ago))
            .to_zoned(jiff::tz::TimeZone::UTC)
            .strftime("%b %e %Y %H:%M:%S.000 UTC")
            .to_string()
    };
    format!(
        "\
<189>5001: rtr-0042: {}: %HA_EM-6-LOG: CLIaccounting: copy tftp://203.0.113.45/c2900-universalk9-mz.SPA.157-3.M7.bin flash:
<189>5002: rtr-0042: {}: %PARSER-5-CFGLOG_LOGGEDCMD: User:jdoe  logged command:boot system flash:c2900-universalk9-mz.SPA.157-3.M7.bin
<189>5008: rtr-0042: {}: %SYS-5-RELOAD: Reload requested by jdoe on vty0 (10.77.14.3). Reload Reason: Reload Command.
<189>12: rtr-0042: {}: %SYS-5-RESTART: System restarted --
Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M7, RELEASE SOFTWARE (fc2)
Technical Support: http://www.cisco.com/techsupport
Copyright (c) 1986-2024 by Cisco Systems, Inc.
Compiled Tue 02-Apr-24 10:41 by prod_rel_team
",
        at(4),
        at(3),
        at(2),
        at(1)
    )
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    LfTcp,
    OctetTcp,
    Tls,
}

/// Alert records in a stable order, without `last_seen`: the service extends it to the
/// arrival of the last line (a device clock a little behind the collector), replay has no
/// arrival; without `emitted_at`, the wall clock of the run; and without `sender`, the peer
/// address the service knows and a replay of bare syslog does not. Everything else (ids,
/// evidence and its times, reasons) depends on the bytes only: every line carries a trusted
/// device clock with a year.
fn comparable(alerts: Vec<Value>) -> Vec<String> {
    let mut out: Vec<String> = alerts
        .into_iter()
        .map(|mut a| {
            let a_obj = a.as_object_mut().expect("an alert is an object");
            for field in ["last_seen", "emitted_at", "sender"] {
                a_obj.remove(field);
            }
            a.to_string()
        })
        .collect();
    out.sort();
    out
}

/// Writes the stream as the transport frames it: LF as is, octet counting one frame per line.
async fn send(w: &mut (impl AsyncWrite + Unpin), stream: &str, how: Transport) {
    match how {
        Transport::LfTcp => w.write_all(stream.as_bytes()).await.unwrap(),
        Transport::OctetTcp | Transport::Tls => {
            for line in stream.lines() {
                w.write_all(format!("{} {line}", line.len()).as_bytes())
                    .await
                    .unwrap();
            }
        }
    }
    w.flush().await.unwrap();
}

/// Runs a fresh service, sends the stream over `how` on a connection left open, and returns
/// the alert records once the service has as many as `want` and nothing more comes.
async fn through_service(dir: &Path, stream: &str, how: Transport, want: usize) -> Vec<Value> {
    let (ca, cert, key) = super::api_tls::ca_and_server_cert();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let running = serve::start(ServeConfig {
        udp: None,
        tls: Some("127.0.0.1:0".parse().unwrap()),
        tls_cert: Some(dir.join("cert.pem")),
        tls_key: Some(dir.join("key.pem")),
        ..config(dir)
    })
    .await
    .expect("the service starts");
    let alerts_file = running.shared.config.alerts.clone();
    let tcp = tokio::net::TcpStream::connect(match how {
        Transport::Tls => running.tls.unwrap(),
        _ => running.tcp.unwrap(),
    })
    .await
    .unwrap();
    // Kept open until the alerts are in: the last message must leave the listener without
    // the connection closing.
    let _open: Box<dyn std::any::Any + Send> = match how {
        Transport::Tls => {
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            let mut tls = super::syslog_tls::connector(&ca)
                .connect(name, tcp)
                .await
                .expect("the handshake succeeds");
            send(&mut tls, stream, how).await;
            Box::new(tls)
        }
        _ => {
            let mut tcp = tcp;
            send(&mut tcp, stream, how).await;
            Box::new(tcp)
        }
    };
    let got = eventually(Duration::from_secs(5), async || {
        let a = file_alerts(&alerts_file);
        (a.len() >= want).then_some(a)
    })
    .await
    .unwrap_or_else(|| panic!("{how:?}: {:#?}", file_alerts(&alerts_file)));
    // Nothing more arrives once the queues are drained and the reorder delay has passed.
    tokio::time::sleep(Duration::from_millis(600)).await;
    running.shared.sync().await;
    assert_eq!(file_alerts(&alerts_file).len(), got.len(), "{how:?}");
    running.shutdown().await;
    got
}

/// Before one framing path, LF-framed TCP passed the banner's header line on alone (no
/// version: the downgrade read "version not reported") and each octet-counted line stood
/// alone too, while replay joined the lines. Now all four give the same alerts, among them the
/// image replacement with its downgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_line_banner_alerts_the_same_through_every_input() {
    let tmp = tempfile::tempdir().unwrap();
    let _ = config(tmp.path());
    let input = tmp.path().join("stream.log");
    let stream = stream();
    std::fs::write(&input, &stream).unwrap();
    let replayed: Vec<Value> = super::replay(tmp.path(), &input, &[])
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        replayed
            .iter()
            .any(|a| a["rule_id"] == "t1601.image_replaced"
                && a["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("booted 15.7(3)M7 (was 15.7(3)M8, a downgrade)"))),
        "{replayed:#?}"
    );
    let want = comparable(replayed.clone());
    for how in [Transport::LfTcp, Transport::OctetTcp, Transport::Tls] {
        let dir = tmp.path().join(format!("{how:?}"));
        std::fs::create_dir_all(&dir).unwrap();
        let got = through_service(&dir, &stream, how, replayed.len()).await;
        // The one field that rightly differs: the service knows the peer, a bare file does not.
        assert!(
            got.iter().all(|a| a["sender"] == "127.0.0.1"),
            "{how:?}: {got:#?}"
        );
        assert!(replayed.iter().all(|a| a["sender"].is_null()));
        assert_eq!(comparable(got), want, "{how:?} differs from replay");
    }
}

/// A stream listener holds a message until it knows no continuation follows. A shutdown in
/// that moment must still hand the held message to the engine: the service stops its workers
/// only after every connection has passed on what it held. (Before, the workers could stop
/// first and the restart banner, with the version that makes the finding, was lost.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_held_at_shutdown_is_still_processed() {
    let tmp = tempfile::tempdir().unwrap();
    let running = serve::start(ServeConfig {
        lateness_ms: 0,
        ..config(tmp.path())
    })
    .await
    .expect("the service starts");
    let alerts_file = running.shared.config.alerts.clone();
    let mut tcp = tokio::net::TcpStream::connect(running.tcp.unwrap())
        .await
        .unwrap();
    send(&mut tcp, &stream(), Transport::LfTcp).await;
    // Once the three messages before it have been handed on, the banner is held for its
    // continuation wait (100 ms): stop the service then.
    let metrics = format!("http://{}/metrics", running.http);
    let handed = eventually(Duration::from_secs(5), async || {
        let text = reqwest::get(&metrics).await.ok()?.text().await.ok()?;
        // 3: the banner is held. (On a machine slow enough to poll after its 100 ms, 4: the
        // banner went the normal way, and the alert must be there all the same.)
        let n: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("imagewatch_lines_received_total{transport=\"tcp\"} "))?
            .parse()
            .ok()?;
        (n >= 3).then_some(())
    })
    .await;
    assert!(handed.is_some(), "the first three messages arrive");
    running.shutdown().await;
    let alerts = file_alerts(&alerts_file);
    assert!(
        alerts.iter().any(|a| a["rule_id"] == "t1601.image_replaced"
            && a["reason"]
                .as_str()
                .is_some_and(|r| r.contains("booted 15.7(3)M7"))),
        "{alerts:#?}"
    );
    drop(tcp);
}
