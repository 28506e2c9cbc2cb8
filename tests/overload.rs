//! UDP overload: the service (the real binary, as a child process) is flooded with real corpus
//! lines far beyond what it can process, for 30 s. It must stay up, keep its memory under a
//! bound, count every datagram it did not process (sent = received + kernel-dropped, received
//! = processed + queue-dropped, from its own `/metrics`), and be lossless again, and alert,
//! once the flood is over.
//!
//! Its own test binary, so cargo runs it alone, not next to the main suite. Settings
//! (environment):
//!
//! - `IMAGEWATCH_OVERLOAD_SECS`: flood duration, default 30;
//! - `IMAGEWATCH_OVERLOAD_BASE_RATE`: the modest rate checked lossless before and after,
//!   msg/s, default 5000;
//! - `IMAGEWATCH_OVERLOAD_RATE`: flood rate in msg/s, or `max` (the default) for as fast as
//!   the sender threads can, which must reach at least 10x the base rate;
//! - `IMAGEWATCH_OVERLOAD_MAX_RSS_MIB`: the RSS bound, default 512;
//! - `IMAGEWATCH_OVERLOAD_DRAIN_SECS`: how long the queues may take to drain after the
//!   flood, default 300;
//! - `IMAGEWATCH_OVERLOAD_BIN`: the binary to test (default: the one cargo built with the
//!   test, a debug build under plain `cargo test`; e.g. a release build for release figures).
//!
//! The service runs on its defaults (2 workers, queues of 65,536 signals, 8 MiB socket
//! buffers). A debug build reads far fewer datagrams than a release build, so its worker
//! queues may never fill: queue-dropped is then 0 and only the kernel drops.
//!
//! `cargo test --test overload -- --nocapture` shows the figures.

#[path = "../examples/loadgen/sender.rs"]
mod sender;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A UDP port nobody uses (checked by binding it).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` over plain HTTP/1.1: status and body, None when the service does not answer.
fn get(http: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&http, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// The service's counters, by sample name with labels (`name{labels}`); panics when the
/// service does not answer within a minute.
fn metrics(http: SocketAddr) -> HashMap<String, u64> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let body = loop {
        match get(http, "/metrics") {
            Some((200, body)) => break body,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            other => panic!("no metrics: {other:?}"),
        }
    };
    body.lines()
        .filter(|l| l.starts_with("imagewatch_"))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// The counters that make up the UDP accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Udp {
    received: u64,
    kernel_dropped: u64,
    processed: u64,
    queue_dropped: u64,
    queue_depth: u64,
}

impl Udp {
    fn read(http: SocketAddr) -> Udp {
        let m = metrics(http);
        let get = |k: &str| m.get(k).copied().unwrap_or(0);
        Udp {
            received: get("imagewatch_lines_received_total{transport=\"udp\"}"),
            kernel_dropped: get("imagewatch_udp_kernel_dropped_total"),
            processed: get("imagewatch_lines_processed_total{transport=\"udp\"}"),
            queue_dropped: get("imagewatch_udp_dropped_total"),
            queue_depth: get("imagewatch_queue_depth"),
        }
    }

    fn since(&self, before: &Udp) -> Udp {
        Udp {
            received: self.received - before.received,
            kernel_dropped: self.kernel_dropped - before.kernel_dropped,
            processed: self.processed - before.processed,
            queue_dropped: self.queue_dropped - before.queue_dropped,
            queue_depth: self.queue_depth,
        }
    }
}

/// Waits until `sent` datagrams since `before` are all accounted for and the queues are empty
/// (or `within` passes); returns the deltas.
fn drained(http: SocketAddr, before: &Udp, sent: u64, within: Duration) -> Udp {
    let deadline = Instant::now() + within;
    loop {
        let d = Udp::read(http).since(before);
        let settled = d.received + d.kernel_dropped >= sent
            && d.queue_depth == 0
            && d.processed + d.queue_dropped >= d.received;
        if settled || Instant::now() > deadline {
            // One more read after a pause: nothing may still be moving.
            std::thread::sleep(Duration::from_millis(300));
            return Udp::read(http).since(before);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn healthy(http: SocketAddr) -> bool {
    get(http, "/healthz").is_some_and(|(s, _)| s == 200)
}

/// Real device lines: a small generated corpus (`gen.py` with `args`), without the collector
/// prefix.
fn corpus_lines(dir: &Path, args: &[&str]) -> Vec<Vec<u8>> {
    let out = Command::new("python3")
        .arg(root().join("../shared/tools/corpus/gen.py"))
        .arg("--out")
        .arg(dir)
        .args(["--seed", "11", "--devices", "30", "--days", "2"])
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "gen.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read(dir.join("syslog.log")).unwrap();
    text.split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            // `2026-06-01T00:00:00.000Z 10.64.0.1 <189>…` → `<189>…`
            let mut spaces = l.iter().enumerate().filter(|(_, c)| **c == b' ');
            match (spaces.next(), spaces.next()) {
                (Some(_), Some((second, _))) if l.get(10) == Some(&b'T') => {
                    l[second + 1..].to_vec()
                }
                _ => l.to_vec(),
            }
        })
        .collect()
}

/// `a` and `b` interleaved, all of `b` and as many of `a` as there are of `b`.
fn mix(a: &[Vec<u8>], b: &[Vec<u8>]) -> Vec<Vec<u8>> {
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| [x.clone(), y.clone()])
        .collect()
}

/// An image swap on a device of the test's own (not in the corpus): unknown server, new
/// version, no ticket; it must alert.
fn swap_lines() -> Vec<String> {
    let host = "ovl-0001";
    let image = "c1900-universalk9-mz.SPA.157-3.M9.bin";
    vec![
        format!(
            "<189>811: {host}: Jun  2 22:41:00.000 UTC: %HA_EM-6-LOG: CLIaccounting: copy tftp://203.0.113.45/{image} flash:"
        ),
        format!(
            "<189>812: {host}: Jun  2 22:48:00.000 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:jdoe  logged command:boot system flash:{image}"
        ),
        format!(
            "<189>814: {host}: Jun  2 22:55:10.000 UTC: %SYS-5-RELOAD: Reload requested by jdoe on vty0 (10.77.14.3). Reload Reason: Reload Command."
        ),
        format!(
            "<189>3: {host}: *Jun  2 23:00:59.000 UTC: %SYS-5-RESTART: System restarted --#012Cisco IOS Software, C1900 Software (C1900-UNIVERSALK9-M), Version 15.7(3)M9, RELEASE SOFTWARE (fc2)"
        ),
    ]
}

struct Service {
    child: Child,
    udp: SocketAddr,
    http: SocketAddr,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path) -> Service {
    // The corpus calendar plus the test's own device.
    let changes = std::fs::read_to_string(dir.join("changes.yaml")).unwrap();
    let own = "inventory:\n  - device: ovl-0001\n    vendor: cisco_ios\n    aliases: [\"10.99.0.1\"]\n    baseline_version: \"15.6(3)M9\"\n";
    assert!(
        changes.contains("\ninventory:\n"),
        "corpus calendar has an inventory"
    );
    std::fs::write(
        dir.join("changes.yaml"),
        changes.replacen("\ninventory:\n", &format!("\n{own}"), 1),
    )
    .unwrap();
    let udp: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let bin = std::env::var("IMAGEWATCH_OVERLOAD_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_imagewatch").to_string());
    let child = Command::new(bin)
        .args(["serve", "--tcp", "off", "--udp", &udp.to_string()])
        .args(["--http", &http.to_string()])
        .arg("--state")
        .arg(dir.join("state"))
        .arg("--rules")
        .arg(root().join("rules"))
        .arg("--changes")
        .arg(dir.join("changes.yaml"))
        .arg("--alerts")
        .arg(dir.join("alerts.ndjson"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("serve.log")).unwrap())
        .spawn()
        .expect("imagewatch starts");
    let service = Service { child, udp, http };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !healthy(http) {
        assert!(Instant::now() < deadline, "service did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    service
}

/// Sends at `rate` for `secs` and returns how many left and the accounting deltas once drained.
fn burst(s: &Service, lines: &Arc<Vec<Vec<u8>>>, rate: f64, secs: f64) -> (sender::Sent, Udp) {
    let before = Udp::read(s.http);
    let plan = sender::Plan {
        target: s.udp.to_string(),
        rate,
        secs,
        threads: 1,
    };
    let sent = sender::flood(Arc::clone(lines), &plan);
    let d = drained(s.http, &before, sent.sent, Duration::from_secs(60));
    (sent, d)
}

#[test]
fn udp_flood_is_survived_counted_exactly_and_recovered_from() {
    let secs: f64 = env_or("IMAGEWATCH_OVERLOAD_SECS", 30.0);
    let base: f64 = env_or("IMAGEWATCH_OVERLOAD_BASE_RATE", 5000.0);
    let flood_rate: f64 = match std::env::var("IMAGEWATCH_OVERLOAD_RATE").as_deref() {
        Ok("max") | Err(_) => 0.0,
        Ok(v) => v.parse().expect("IMAGEWATCH_OVERLOAD_RATE: msg/s or max"),
    };
    let max_rss: f64 = env_or("IMAGEWATCH_OVERLOAD_MAX_RSS_MIB", 512.0);
    let drain_secs: u64 = env_or("IMAGEWATCH_OVERLOAD_DRAIN_SECS", 300);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Noise-heavy lines for the base rate; the flood mixes in the signal-heavy corpus (about
    // one line in four a signal), so the worker queues overflow too, not only the sockets.
    let lines = Arc::new(corpus_lines(dir, &[]));
    let signal_dir = dir.join("signal-heavy");
    let signal_heavy = corpus_lines(
        &signal_dir,
        &["--scenario-rate", "20", "--noise-per-device-per-hour", "6"],
    );
    let flood_lines = Arc::new(mix(&lines, &signal_heavy));
    let mut service = start(dir);
    let pid = service.child.id();
    let http = service.http;

    // 1. The base rate is lossless.
    let (sent, d) = burst(&service, &lines, base, 2.0);
    println!(
        "before: {base} msg/s offered for 2 s: sent {}, {d:?}",
        sent.sent
    );
    assert_eq!(
        (d.received, d.kernel_dropped, d.queue_dropped),
        (sent.sent, 0, 0),
        "the base rate must be lossless: {d:?}"
    );

    // 2. The flood, with the RSS and the health of the service sampled throughout.
    let before = Udp::read(http);
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let (mut peak, mut unhealthy, mut last_health) = (0f64, 0u32, Instant::now());
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(rss_mib(pid).unwrap_or(f64::INFINITY));
                if last_health.elapsed() >= Duration::from_secs(1) {
                    last_health = Instant::now();
                    if !healthy(http) {
                        unhealthy += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (peak, unhealthy)
        })
    };
    let plan = sender::Plan {
        target: service.udp.to_string(),
        rate: flood_rate,
        secs,
        threads: 2,
    };
    let flood = sender::flood(flood_lines, &plan);
    let d = drained(http, &before, flood.sent, Duration::from_secs(drain_secs));
    done.store(true, Ordering::Relaxed);
    let (peak_rss, unhealthy) = watcher.join().unwrap();
    let peak_rss = peak_rss.max(rss_mib(pid).unwrap_or(f64::INFINITY));
    println!(
        "flood: {} for {secs} s, {} threads: sent {} ({:.0} msg/s achieved, {:.1}x the base rate)",
        if flood_rate > 0.0 {
            format!("{flood_rate:.0} msg/s offered")
        } else {
            "as fast as the sender can".to_string()
        },
        plan.threads,
        flood.sent,
        flood.rate(),
        flood.rate() / base
    );
    println!(
        "flood: received {} ({:.0} msg/s), kernel-dropped {}, processed {}, queue-dropped {}; max RSS {peak_rss:.1} MiB (bound {max_rss} MiB); failed health checks {unhealthy}",
        d.received,
        d.received as f64 / flood.secs,
        d.kernel_dropped,
        d.processed,
        d.queue_dropped
    );
    assert!(
        service.child.try_wait().unwrap().is_none(),
        "the service died under the flood; see {}",
        dir.join("serve.log").display()
    );
    assert_eq!(unhealthy, 0, "/healthz failed during the flood");
    assert!(
        flood.rate() >= 10.0 * base,
        "the sender reached only {:.0} msg/s, less than 10x the base rate",
        flood.rate()
    );
    assert!(
        d.kernel_dropped + d.queue_dropped > 0,
        "a flood at 10x the base rate must overload the service: {d:?}"
    );
    assert_eq!(
        flood.sent,
        d.received + d.kernel_dropped,
        "sent = received + kernel-dropped: {d:?}"
    );
    assert_eq!(
        d.received,
        d.processed + d.queue_dropped,
        "received = processed + queue-dropped: {d:?}"
    );
    assert!(
        peak_rss < max_rss,
        "RSS {peak_rss:.1} MiB over {max_rss} MiB"
    );

    // 3. Lossless again at the base rate.
    let (sent, d) = burst(&service, &lines, base, 2.0);
    println!(
        "after: {base} msg/s offered for 2 s: sent {}, {d:?}",
        sent.sent
    );
    assert_eq!(
        (d.received, d.kernel_dropped, d.queue_dropped, d.processed),
        (sent.sent, 0, 0, sent.sent),
        "lossless again after the flood: {d:?}"
    );

    // 4. A real sequence after the flood still alerts.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for l in swap_lines() {
        socket.send_to(l.as_bytes(), service.udp).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let alerted = loop {
        let (_, body) = get(http, "/api/v1/alerts?device=ovl-0001").unwrap_or_default();
        if body.contains("\"ovl-0001\"") {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(alerted, "the swap after the flood did not alert");
    println!("after: the swap sequence sent after the flood alerted");

    // SIGTERM: drains and exits 0.
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let status = service.child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}
