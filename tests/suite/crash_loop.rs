//! kill -9 at random moments, again and again, on one state directory, while a sender feeds a
//! scenario-dense set of lines over TCP: the alert file ends with exactly the alert records of
//! an uninterrupted run of the same input (whole records: evidence, confidence, revisions),
//! each (id, revision) once.
//!
//! TCP has no application-level acknowledgement, so lines written before a kill may die in
//! socket buffers. The sender therefore treats a line as delivered only once the service has
//! confirmed it durable: the listener has read every line sent on this life
//! (`imagewatch_lines_received_total`) and a reload has passed through every worker queue (a
//! reload answers only when the workers have processed and flushed what was queued before
//! it). After each kill the sender resends everything after the last confirmed line, and
//! the 40 lines before it too; lines the service had already stored come back as duplicate
//! deliveries (same device time, same fingerprint) and are dropped by the engine.
//!
//! `CRASH_KILLS` sets the number of kills (default 20); `CRASH_SEED` the seed of the kill
//! moments. `scripts/crash_loop.sh` runs it with 100 kills.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::service::{ServeChild, eventually, file_alerts, serve_child, terminate};

/// Devices in the input; each runs one scenario (see [`device_lines`]).
const DEVICES: usize = 140;
/// Event time between two consecutive lines of the input, in ms.
const STEP_MS: i64 = 10;
/// Lines written between two confirmations.
const CHUNK: usize = 25;
/// Confirmed lines sent again after each restart.
const AGAIN: usize = 40;

/// xorshift64*: enough randomness for kill moments, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A Cisco stamp with year, milliseconds and zone: a clock the engine trusts (it is within
/// minutes of the arrival time), so a resent line keeps its event time and is recognised as a
/// duplicate.
fn stamp(ms: i64) -> String {
    let ts = jiff::Timestamp::from_millisecond(ms).unwrap();
    let z = ts.to_zoned(jiff::tz::TimeZone::UTC);
    format!(
        "{}.{:03} UTC",
        z.strftime("%b %e %Y %H:%M:%S"),
        ms.rem_euclid(1000)
    )
}

fn device_name(d: usize) -> String {
    format!("cl-{d:04}")
}

const IMAGE: &str = "c1900-universalk9-mz.SPA.157-3.M9.bin";

fn swap_lines(host: &str, server: &str, user: &str) -> Vec<String> {
    vec![
        format!(
            "<189>811: {host}: {{stamp}}: %HA_EM-6-LOG: CLIaccounting: copy tftp://{server}/{IMAGE} flash:"
        ),
        format!(
            "<189>812: {host}: {{stamp}}: %PARSER-5-CFGLOG_LOGGEDCMD: User:{user}  logged command:boot system flash:{IMAGE}"
        ),
        format!(
            "<189>814: {host}: {{stamp}}: %SYS-5-RELOAD: Reload requested by {user} on vty0 (10.77.14.3). Reload Reason: Reload Command."
        ),
        boot_line(host, "15.7(3)M9"),
    ]
}

fn boot_line(host: &str, version: &str) -> String {
    format!(
        "<189>3: {host}: {{stamp}}: %SYS-5-RESTART: System restarted --#012Cisco IOS Software, C1900 Software (C1900-UNIVERSALK9-M), Version {version}, RELEASE SOFTWARE (fc2)"
    )
}

fn noise(host: &str, n: usize) -> String {
    format!(
        "<187>{n}: {host}: {{stamp}}: %LINK-3-UPDOWN: Interface GigabitEthernet0/{n}, changed state to up"
    )
}

/// The lines of device `d`, `{stamp}` still to fill: one scenario per device, in turn a
/// malicious swap, a swap from the golden server, a ticketed swap, a version change with no
/// transfer, a staged image with no reload (no alert within the test), a swap whose device
/// then reports an older version (a second, critical revision), an integrity failure; and noise
/// around them.
fn device_lines(d: usize) -> Vec<String> {
    let host = device_name(d);
    let mut lines = vec![noise(&host, 1)];
    match d % 7 {
        0 => lines.extend(swap_lines(&host, &format!("203.0.113.{}", d % 250), "jdoe")),
        1 | 2 => lines.extend(swap_lines(&host, "10.10.0.5", "jsmith")),
        3 => {
            lines.push(format!("<189>814: {host}: {{stamp}}: %SYS-5-RELOAD: Reload requested by admin on vty0 (10.77.14.3). Reload Reason: Reload Command."));
            lines.push(boot_line(&host, "15.8(3)M1"));
        }
        4 => lines.extend(swap_lines(&host, "198.51.100.7", "jdoe").into_iter().take(2)),
        5 => {
            lines.extend(swap_lines(&host, "10.10.0.5", "mallory"));
            lines.push(noise(&host, 2));
            lines.push(boot_line(&host, "15.5(3)M10"));
        }
        _ => lines.push(format!("<187>88: {host}: {{stamp}}: %BOOT-3-BOOTTIME_INTEGRITY_FAILED: R0/0: Image integrity verification failed for bootflash:cat9k_iosxe.17.12.04.SPA.bin")),
    }
    lines.push(noise(&host, 3));
    lines
}

/// The input (devices interleaved at random, per-device order kept, event times increasing
/// from `base`) and its change calendar (inventory with baselines, the golden server, a
/// ticket for every third-scenario device).
fn input(base: i64) -> (Vec<String>, String) {
    let mut queues: Vec<std::collections::VecDeque<String>> =
        (0..DEVICES).map(|d| device_lines(d).into()).collect();
    let mut rng = Rng(0x1601_2026);
    let mut lines = Vec::new();
    while queues.iter().any(|q| !q.is_empty()) {
        let d = rng.below(DEVICES as u64) as usize;
        if let Some(l) = queues[d].pop_front() {
            let t = base + lines.len() as i64 * STEP_MS;
            lines.push(l.replace("{stamp}", &stamp(t)));
        }
    }
    let rfc = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap().to_string();
    let mut changes = String::from("allowlist:\n  servers: [\"10.10.0.5\"]\ninventory:\n");
    for d in 0..DEVICES {
        changes.push_str(&format!(
            "  - device: {}\n    vendor: cisco_ios\n    baseline_version: \"15.6(3)M9\"\n",
            device_name(d)
        ));
    }
    changes.push_str("change_tickets:\n");
    for d in (0..DEVICES).filter(|d| d % 7 == 2) {
        changes.push_str(&format!(
            "  - id: CHG-{d:04}\n    devices: [\"{}\"]\n    start: {}\n    end: {}\n    images: [\"{IMAGE}\"]\n    versions: [\"15.7(3)M9\"]\n    users: [\"jsmith\"]\n    servers: [\"10.10.0.5\"]\n",
            device_name(d),
            rfc(base - 3_600_000),
            rfc(base + 3_600_000),
        ));
    }
    (lines, changes)
}

/// One life of the service on the given test directory; its log goes to `serve.log` there.
fn spawn(dir: &Path) -> ServeChild {
    let log = File::options()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .unwrap();
    serve_child(dir, Stdio::from(log))
}

/// The value of the metric sample `name` (0 when absent).
async fn metric(client: &reqwest::Client, http: SocketAddr, name: &str) -> Result<f64, String> {
    let text = client
        .get(format!("http://{http}/metrics"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0))
}

async fn healthy(client: &reqwest::Client, http: SocketAddr) -> Result<(), String> {
    eventually(Duration::from_secs(20), async || {
        client
            .get(format!("http://{http}/healthz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await
    .map(|_| ())
    .ok_or_else(|| "service did not come up".to_string())
}

/// The service has read `n` lines on this life and stored what they carry.
async fn confirm(client: &reqwest::Client, http: SocketAddr, n: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(
        client,
        http,
        "imagewatch_lines_received_total{transport=\"tcp\"}",
    )
    .await?
        < n as f64
    {
        if Instant::now() > deadline {
            return Err(format!("the listener did not read {n} lines"));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The listener counts a line just before queueing it; a breath closes that gap.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let r = client
        .post(format!("http://{http}/api/v1/reload"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != 200 {
        return Err(format!("reload: HTTP {}", r.status()));
    }
    Ok(())
}

/// Sends the last `again` confirmed lines once more (a sender that cannot tell what the
/// service kept; they must count as duplicates), then up to `budget` new ones, confirming
/// every [`CHUNK`] lines; `confirmed` moves only when the service has confirmed.
async fn feed(
    client: &reqwest::Client,
    life: (SocketAddr, SocketAddr),
    lines: &[String],
    confirmed: &mut usize,
    again: usize,
    budget: usize,
) -> Result<(), String> {
    let (tcp, http) = life;
    healthy(client, http).await?;
    let end = (*confirmed + budget).min(lines.len());
    let mut conn = tokio::net::TcpStream::connect(tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut pos, mut sent) = (confirmed.saturating_sub(again), 0);
    while pos < end {
        let upto = (pos + CHUNK).min(end);
        let mut bytes = lines[pos..upto].join("\n");
        bytes.push('\n');
        conn.write_all(bytes.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        sent += upto - pos;
        pos = upto;
        confirm(client, http, sent).await?;
        *confirmed = pos;
    }
    Ok(())
}

/// Waits until every alert has left the outbox and the file has stopped growing.
async fn settle(client: &reqwest::Client, http: SocketAddr, file: &Path) {
    let mut last = usize::MAX;
    eventually(Duration::from_secs(30), async || {
        let depth = metric(client, http, "imagewatch_outbox_depth{sink=\"ndjson\"}")
            .await
            .ok()?;
        let now = file_alerts(file).len();
        let stable = depth == 0.0 && now == last;
        last = now;
        tokio::time::sleep(Duration::from_millis(200)).await;
        stable.then_some(())
    })
    .await
    .expect("the outbox drains");
}

/// One alert record of the file, as compared between runs: id, revision, rule, device,
/// severity, suppressed, and the whole record (evidence, confidence, reason, …) but for
/// `last_seen`.
type Record = (String, u64, String, String, String, bool, String);

fn records(file: &Path) -> Vec<Record> {
    file_alerts(file)
        .iter()
        .map(|a: &Value| {
            (
                a["id"].as_str().unwrap_or("").to_string(),
                a["revision"].as_u64().unwrap_or(0),
                a["rule_id"].as_str().unwrap_or("").to_string(),
                a["device"].as_str().unwrap_or("").to_string(),
                a["severity"].as_str().unwrap_or("").to_string(),
                a["suppressed"].as_bool().unwrap_or(false),
                {
                    // `last_seen` also takes the arrival time of the evidence (a device clock
                    // a little behind the collector must not end a finding early): a property
                    // of the delivery, not of the input; `emitted_at` is the wall clock of the
                    // run that wrote the record.
                    let mut a = a.clone();
                    let a_obj = a.as_object_mut().unwrap();
                    a_obj.remove("last_seen");
                    a_obj.remove("emitted_at");
                    a.to_string()
                },
            )
        })
        .collect()
}

/// The uninterrupted run: everything in one life, then SIGTERM.
async fn uninterrupted(dir: &Path, changes: &str, lines: &[String]) -> Vec<Record> {
    std::fs::write(dir.join("changes.yaml"), changes).unwrap();
    let client = super::http_client();
    let mut life = spawn(dir);
    let mut confirmed = 0;
    feed(
        &client,
        (life.tcp, life.http),
        lines,
        &mut confirmed,
        0,
        lines.len(),
    )
    .await
    .unwrap();
    let file = dir.join("state/alerts.ndjson");
    settle(&client, life.http, &file).await;
    assert_eq!(terminate(&mut life.child).code(), Some(0));
    records(&file)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_kill_9_loses_and_duplicates_no_alert() {
    let kills: usize = std::env::var("CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    // Event times from 3 s ahead on, 10 ms apart: while the sender works through them (slower
    // than 100 lines a second, kills included) many lines wait in the reorder buffer (stored)
    // until the wall clock reaches them, so kills land while signals are buffered too. Every
    // time stays within the 5 minutes in which the engine trusts a device clock over the
    // arrival time, for both runs.
    let base = jiff::Timestamp::now().as_millisecond() + 3_000;
    let (lines, changes) = input(base);
    let started = Instant::now();

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("changes.yaml"), &changes).unwrap();
    let client = super::http_client();
    let mut rng = Rng(seed);
    let budget = lines.len().div_ceil(kills) * 2;
    let mut confirmed = 0;
    let loop_started = Instant::now();
    for k in 0..kills {
        let mut life = spawn(dir);
        let kill_after = Duration::from_millis(20 + rng.below(900));
        let at = Instant::now() + kill_after;
        let fed = tokio::time::timeout_at(
            at.into(),
            feed(
                &client,
                (life.tcp, life.http),
                &lines,
                &mut confirmed,
                AGAIN,
                budget,
            ),
        )
        .await;
        if let Ok(Err(e)) = fed {
            let _ = life.child.kill();
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            panic!("life {k}: {e} (seed {seed})\n{log}");
        }
        tokio::time::sleep_until(at.into()).await;
        if let Ok(Some(status)) = life.child.try_wait() {
            let log = std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default();
            panic!("life {k}: the service exited by itself: {status} (seed {seed})\n{log}");
        }
        life.child.kill().unwrap(); // SIGKILL
        life.child.wait().unwrap();
    }
    let loop_time = loop_started.elapsed();

    // The last life: the rest of the input, the outbox drained, SIGTERM.
    let mut life = spawn(dir);
    feed(
        &client,
        (life.tcp, life.http),
        &lines,
        &mut confirmed,
        AGAIN,
        lines.len(),
    )
    .await
    .unwrap();
    assert_eq!(confirmed, lines.len());
    // Every buffered signal is due (and processed) before the file is read.
    let last = base + lines.len() as i64 * STEP_MS;
    let wait = last + 1_000 - jiff::Timestamp::now().as_millisecond();
    tokio::time::sleep(Duration::from_millis(wait.max(0) as u64)).await;
    let file = dir.join("state/alerts.ndjson");
    settle(&client, life.http, &file).await;
    assert_eq!(terminate(&mut life.child).code(), Some(0));
    let got = records(&file);

    // The same input, uninterrupted (by now every event time has passed).
    let reference_started = Instant::now();
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = uninterrupted(reference_dir.path(), &changes, &lines).await;
    let reference_time = reference_started.elapsed();

    let mut counts: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for r in &got {
        *counts.entry((r.0.clone(), r.1)).or_default() += 1;
    }
    let duplicates: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    let want: BTreeSet<&Record> = reference.iter().collect();
    let have: BTreeSet<&Record> = got.iter().collect();
    let missing: Vec<_> = want.difference(&have).collect();
    let extra: Vec<_> = have.difference(&want).collect();
    let final_revisions = |rs: &[Record]| -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for r in rs {
            let e = m.entry(r.0.clone()).or_insert(0);
            *e = (*e).max(r.1);
        }
        m
    };
    println!(
        "crash loop: {kills} kills (seed {seed}), {} lines, {} alert records in the reference \
         run ({} alerts), {} in the crash run; {} duplicates, {} missing, {} extra; \
         reference run {:.1?}, kill loop {:.1?}, total {:.1?}",
        lines.len(),
        reference.len(),
        final_revisions(&reference).len(),
        got.len(),
        duplicates.len(),
        missing.len(),
        extra.len(),
        reference_time,
        loop_time,
        started.elapsed(),
    );
    assert!(
        reference.len() >= DEVICES * 5 / 7,
        "the input raises alerts: {reference:#?}"
    );
    assert!(
        duplicates.is_empty(),
        "delivered twice (seed {seed}): {duplicates:#?}"
    );
    assert!(
        missing.is_empty() && extra.is_empty(),
        "seed {seed}: missing {missing:#?}\nextra {extra:#?}"
    );
    assert_eq!(final_revisions(&reference), final_revisions(&got));
}

/// Regression: a signal still waiting in the reorder buffer (its device time a little ahead)
/// when the service is killed is restored from the store at restart; its resend must count as
/// a duplicate delivery, not enter the buffer a second time and be processed twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_of_a_buffered_signal_after_kill_9_is_a_duplicate() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = jiff::Timestamp::now().as_millisecond();
    let host = device_name(0);
    let times = [now - 10_000, now - 9_000, now + 4_000, now + 4_500];
    let lines: Vec<String> = swap_lines(&host, "203.0.113.9", "jdoe")
        .iter()
        .zip(times)
        .map(|(l, t)| l.replace("{stamp}", &stamp(t)))
        .collect();
    let (_, changes) = input(now);
    std::fs::write(dir.join("changes.yaml"), changes).unwrap();
    let client = super::http_client();

    let mut first = spawn(dir);
    let mut confirmed = 0;
    feed(
        &client,
        (first.tcp, first.http),
        &lines,
        &mut confirmed,
        0,
        4,
    )
    .await
    .unwrap();
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let mut second = spawn(dir);
    let mut again = 0;
    feed(&client, (second.tcp, second.http), &lines, &mut again, 0, 4)
        .await
        .unwrap();
    assert_eq!(
        metric(&client, second.http, "imagewatch_duplicate_signals_total")
            .await
            .unwrap(),
        4.0,
        "every resent line is a duplicate"
    );
    let file = dir.join("state/alerts.ndjson");
    eventually(Duration::from_secs(15), async || {
        (!file_alerts(&file).is_empty()).then_some(())
    })
    .await
    .expect("the sequence completes once its buffered lines are due");
    settle(&client, second.http, &file).await;
    let got = file_alerts(&file);
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(
        got[0]["evidence"].as_array().unwrap().len(),
        4,
        "{:#}",
        got[0]
    );
    assert_eq!(terminate(&mut second.child).code(), Some(0));
}
