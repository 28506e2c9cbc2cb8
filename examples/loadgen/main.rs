//! Load generator for `imagewatch serve`, used by `benches/run.sh`.
//!
//! Sends real corpus lines (the collector prefix `<arrival> <sender> ` of `gen.py` lines is
//! stripped, so the service gets what a device sends) and reads the service's own counters
//! from `GET /metrics`.
//!
//! ```text
//! loadgen udp     --target ADDR --http ADDR --file FILE --rate MSG_PER_S --secs N [--threads N]
//! loadgen tcp     --target ADDR --http ADDR --file FILE [--lines N]
//! loadgen latency --target ADDR --http ADDR --file FILE --rate MSG_PER_S --secs N --alerts FILE
//! loadgen soak    --target ADDR --file FILE --rate MSG_PER_S --secs N --start-ms UNIX_MS [--sender ADDR]
//! loadgen soak-print          --file FILE --rate MSG_PER_S --secs N --start-ms UNIX_MS [--sender ADDR]
//! ```
//!
//! Each mode prints one line of `key=value` pairs on stdout:
//!
//! - `udp`: offered rate (`--rate 0`: as fast as the sender threads can), messages sent and
//!   the rate actually achieved, `received` (`imagewatch_lines_received_total{transport="udp"}`
//!   delta), `queue_dropped` (`imagewatch_udp_dropped_total` delta: signals refused by a full
//!   worker queue), `kernel_dropped` (sent − received: datagrams lost before the listener read
//!   them) and `kernel_counted` (the service's own `imagewatch_udp_kernel_dropped_total` delta;
//!   -1 when it has no such counter). `--threads` sender threads (default 2) each send from
//!   their own socket in `sendmmsg(2)` batches; `--duration` is `--secs`.
//! - `tcp`: lines written over one connection and lines/s until the service counted them all.
//! - `latency`: per alert record in the NDJSON sink, the time from sending the newest line among
//!   its evidence (the line that closed or raised it) to the record appearing in the file;
//!   p50/p99/max in milliseconds.
//! - `soak`: the stream of `benches/soak.sh` (see `soak.rs`): corpus lines in a loop, each
//!   re-dated to when it is due and sent then, behind a collector prefix naming the line's
//!   sender in the corpus (`--sender ADDR`: that address for every line), from one socket;
//!   prints `sent` and how far the sender fell behind at worst (`late_max_ms`). `soak-print`
//!   prints the same records, for `imagewatch replay -`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod sender;
mod soak;

struct Args {
    mode: String,
    target: String,
    http: String,
    file: String,
    rate: f64,
    secs: f64,
    lines: usize,
    alerts: String,
    threads: usize,
    start_ms: i64,
    /// The sender every soak record names; empty: each line's own, from the corpus.
    sender: String,
}

fn usage() -> ! {
    eprintln!(
        "usage: loadgen udp|tcp|latency|soak|soak-print --target ADDR --http ADDR --file FILE \
         [--rate N] [--secs N] [--threads N] [--lines N] [--alerts FILE] [--start-ms MS] [--sender ADDR]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_else(|| usage());
    let mut a = Args {
        mode,
        target: String::new(),
        http: String::new(),
        file: String::new(),
        rate: 100_000.0,
        secs: 5.0,
        lines: 0,
        alerts: String::new(),
        threads: 2,
        start_ms: 0,
        sender: String::new(),
    };
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--target" => a.target = v,
            "--http" => a.http = v,
            "--file" => a.file = v,
            "--rate" => a.rate = v.parse().unwrap_or_else(|_| usage()),
            "--secs" | "--duration" => a.secs = v.parse().unwrap_or_else(|_| usage()),
            "--lines" => a.lines = v.parse().unwrap_or_else(|_| usage()),
            "--alerts" => a.alerts = v,
            "--threads" => a.threads = v.parse().unwrap_or_else(|_| usage()),
            "--start-ms" => a.start_ms = v.parse().unwrap_or_else(|_| usage()),
            "--sender" => a.sender = v,
            _ => usage(),
        }
    }
    let needs_http = !a.mode.starts_with("soak");
    let needs_target = a.mode != "soak-print";
    if (needs_target && a.target.is_empty())
        || (needs_http && a.http.is_empty())
        || a.file.is_empty()
    {
        usage()
    }
    a
}

/// Reads up to `max` lines (0: all), without the `gen.py` collector prefix.
fn load_lines(path: &str, max: usize) -> Vec<Vec<u8>> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| {
        eprintln!("loadgen: cannot open {path}: {e}");
        std::process::exit(1)
    });
    let mut out = Vec::new();
    for line in BufReader::with_capacity(1 << 20, f).split(b'\n') {
        let line = line.expect("read corpus");
        out.push(strip_prefix(&line).to_vec());
        if max > 0 && out.len() >= max {
            break;
        }
    }
    if out.is_empty() {
        eprintln!("loadgen: {path} is empty");
        std::process::exit(1)
    }
    out
}

/// `2026-06-01T00:00:00.000Z 10.64.0.1 <189>…` → `<189>…`; other lines unchanged.
fn strip_prefix(line: &[u8]) -> &[u8] {
    split_prefix(line).1
}

/// `2026-06-01T00:00:00.000Z 10.64.0.1 <189>…` → (`10.64.0.1`, `<189>…`); a line without the
/// prefix has no sender.
fn split_prefix(line: &[u8]) -> (&[u8], &[u8]) {
    if line.len() > 20 && line[4] == b'-' && line[10] == b'T' {
        let mut spaces = line.iter().enumerate().filter(|(_, c)| **c == b' ');
        if let (Some((first, _)), Some((second, _))) = (spaces.next(), spaces.next()) {
            return (&line[first + 1..second], &line[second + 1..]);
        }
    }
    (b"", line)
}

/// Every line of `path` without its collector prefix, with the sender a relay names for it:
/// `fixed` when given, else the prefix's own (127.0.0.1 for a line without one).
fn load_records(path: &str, fixed: &str) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let text = std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("loadgen: cannot open {path}: {e}");
        std::process::exit(1)
    });
    let (mut senders, mut lines) = (Vec::new(), Vec::new());
    let text = text.strip_suffix(b"\n").unwrap_or(&text);
    for line in text.split(|&c| c == b'\n') {
        let (sender, rest) = split_prefix(line);
        let sender = match (fixed, sender) {
            ("", b"") => b"127.0.0.1".as_slice(),
            ("", s) => s,
            (f, _) => f.as_bytes(),
        };
        senders.push(sender.to_vec());
        lines.push(rest.to_vec());
    }
    if lines.is_empty() {
        eprintln!("loadgen: {path} is empty");
        std::process::exit(1)
    }
    (senders, lines)
}

/// Sum of every sample of `name` in the Prometheus text at `http` whose labels contain
/// `label` (empty: any).
fn metric(http: &str, name: &str, label: &str) -> u64 {
    let Ok(mut s) = TcpStream::connect(http) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return 0;
    }
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    let mut total = 0.0;
    for line in body.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (metric_name, labels) = key.split_once('{').unwrap_or((key, ""));
        if metric_name == name && labels.contains(label) {
            total += value.parse::<f64>().unwrap_or(0.0);
        }
    }
    total as u64
}

const RECEIVED: &str = "imagewatch_lines_received_total";
const KERNEL_DROPPED: &str = "imagewatch_udp_kernel_dropped_total";

/// Whether the service exports `name` at all.
fn metric_exists(http: &str, name: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(http) else {
        return false;
    };
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    let mut body = String::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_string(&mut body).is_ok()
        && body.lines().any(|l| l.starts_with(name))
}

/// Polls `value` until it reaches `want` or stops moving for a while; returns when it last
/// changed.
fn settle(value: impl Fn() -> u64, want: u64) -> Instant {
    let mut last = value();
    let mut changed = Instant::now();
    loop {
        if last >= want || changed.elapsed() > Duration::from_millis(1500) {
            return changed;
        }
        std::thread::sleep(Duration::from_millis(20));
        let now = value();
        if now != last {
            last = now;
            changed = Instant::now();
        }
    }
}

fn udp(a: &Args) {
    // Enough distinct lines for the whole run (up to 2M), or 2M when unpaced.
    let n = if a.rate > 0.0 {
        ((a.rate * a.secs) as usize).min(2_000_000)
    } else {
        2_000_000
    };
    let lines = Arc::new(load_lines(&a.file, n));
    let before = metric(&a.http, RECEIVED, "udp");
    let dropped_before = metric(&a.http, "imagewatch_udp_dropped_total", "");
    let has_kernel = metric_exists(&a.http, KERNEL_DROPPED);
    let kernel_before = metric(&a.http, KERNEL_DROPPED, "");
    let start = Instant::now();
    let plan = sender::Plan {
        target: a.target.clone(),
        rate: a.rate,
        secs: a.secs,
        threads: a.threads,
    };
    let sent = sender::flood(lines, &plan);
    // Wait until every datagram is accounted for (received or counted as a kernel drop), or
    // the counters stop moving.
    let accounted = || {
        metric(&a.http, RECEIVED, "udp").saturating_sub(before)
            + if has_kernel {
                metric(&a.http, KERNEL_DROPPED, "").saturating_sub(kernel_before)
            } else {
                0
            }
    };
    let last_change = settle(accounted, sent.sent);
    let received = metric(&a.http, RECEIVED, "udp").saturating_sub(before);
    let kernel_counted = if has_kernel {
        (metric(&a.http, KERNEL_DROPPED, "").saturating_sub(kernel_before)) as i64
    } else {
        -1
    };
    // Until the service had counted the last datagram it got (it may still be draining the
    // socket buffer after the sender stopped).
    let recv_secs = last_change
        .duration_since(start)
        .as_secs_f64()
        .max(sent.secs);
    let queue_dropped = metric(&a.http, "imagewatch_udp_dropped_total", "") - dropped_before;
    println!(
        "udp offered={} secs={} threads={} send_secs={:.3} sent={} send_rate={:.0} received={} recv_rate={:.0} queue_dropped={} kernel_dropped={} kernel_counted={}",
        a.rate as u64,
        a.secs,
        a.threads,
        sent.secs,
        sent.sent,
        sent.rate(),
        received,
        received as f64 / recv_secs,
        queue_dropped,
        sent.sent.saturating_sub(received),
        kernel_counted
    );
}

fn tcp(a: &Args) {
    let lines = load_lines(&a.file, a.lines);
    let bytes: u64 = lines.iter().map(|l| l.len() as u64 + 1).sum();
    let before = metric(&a.http, RECEIVED, "tcp");
    let stream = TcpStream::connect(&a.target).expect("connect");
    let start = Instant::now();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, stream);
    for l in &lines {
        w.write_all(l).expect("write");
        w.write_all(b"\n").expect("write");
    }
    w.flush().expect("flush");
    let written = start.elapsed().as_secs_f64();
    let last_change = settle(
        || metric(&a.http, RECEIVED, "tcp").saturating_sub(before),
        lines.len() as u64,
    );
    let received = metric(&a.http, RECEIVED, "tcp").saturating_sub(before);
    let elapsed = last_change.duration_since(start).as_secs_f64();
    drop(w);
    println!(
        "tcp lines={} received={} secs={:.3} write_secs={:.3} lines_per_s={:.0} mb_per_s={:.1}",
        lines.len(),
        received,
        elapsed,
        written,
        received as f64 / elapsed,
        bytes as f64 / elapsed / 1e6
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn latency(a: &Args) {
    let n = ((a.rate * a.secs) as usize).min(2_000_000);
    let lines = load_lines(&a.file, n);
    let texts: Vec<String> = lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, t) in texts.iter().enumerate() {
        index.insert(t.as_str(), i);
    }
    // When each line (by index) was last sent.
    let sent_at: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; lines.len()]));
    let done = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(String, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let watcher = {
        let path = a.alerts.clone();
        let done = Arc::clone(&done);
        let seen = Arc::clone(&seen);
        std::thread::spawn(move || tail(&path, &done, &seen))
    };
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(&a.target).expect("connect");
    let before = metric(&a.http, RECEIVED, "udp");
    let sent = {
        let sent_at = Arc::clone(&sent_at);
        sender::pace(&socket, &lines, 0, a.rate, a.secs, None, move |i, t| {
            sent_at.lock().expect("lock")[i] = Some(t)
        })
        .sent
    };
    settle(
        || metric(&a.http, RECEIVED, "udp").saturating_sub(before),
        sent,
    );
    // Let the reorder delay and the sink catch up.
    std::thread::sleep(Duration::from_secs(2));
    done.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");
    let sent_at = sent_at.lock().expect("lock");
    let mut ms = Vec::new();
    let mut unmatched = 0;
    for (record, at) in seen.lock().expect("lock").iter() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(record) else {
            continue;
        };
        let newest = v["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .filter_map(|m| index.get(m.trim_end()).and_then(|i| sent_at[*i]))
            .max();
        match newest {
            Some(t) if *at >= t => {
                let l = at.duration_since(t).as_secs_f64() * 1e3;
                if l > 50.0 {
                    // The slow ones, on stderr, to see which rules and revisions they are.
                    eprintln!(
                        "slow alert: {:.1} ms rule={} revision={} device={}",
                        l, v["rule_id"], v["revision"], v["device"]
                    );
                }
                ms.push(l)
            }
            _ => unmatched += 1,
        }
    }
    ms.sort_by(|x, y| x.total_cmp(y));
    println!(
        "latency sent={} alerts={} unmatched={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        sent,
        ms.len(),
        unmatched,
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    );
}

/// Follows an NDJSON file, stamping each complete record with the time it was first seen.
fn tail(path: &str, done: &AtomicBool, seen: &Mutex<Vec<(String, Instant)>>) {
    let mut pos = 0u64;
    let mut partial = Vec::new();
    let mut buf = Vec::new();
    loop {
        let finished = done.load(Ordering::Relaxed);
        if let Ok(mut f) = std::fs::File::open(path)
            && f.seek(SeekFrom::Start(pos)).is_ok()
        {
            buf.clear();
            if let Ok(n) = f.read_to_end(&mut buf) {
                pos += n as u64;
                let now = Instant::now();
                partial.extend_from_slice(&buf);
                while let Some(nl) = partial.iter().position(|c| *c == b'\n') {
                    let rec: Vec<u8> = partial.drain(..=nl).collect();
                    let text = String::from_utf8_lossy(&rec).trim().to_string();
                    if !text.is_empty() {
                        seen.lock().expect("lock").push((text, now));
                    }
                }
            }
        }
        if finished {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn main() {
    let a = parse_args();
    match a.mode.as_str() {
        "udp" => udp(&a),
        "tcp" => tcp(&a),
        "latency" => {
            if a.alerts.is_empty() {
                usage()
            }
            latency(&a)
        }
        "soak" | "soak-print" => {
            let (senders, lines) = load_records(&a.file, &a.sender);
            let stream = soak::Stream {
                lines,
                senders,
                start_ms: a.start_ms,
                rate: a.rate.max(1.0),
                total: (a.rate.max(1.0) * a.secs) as u64,
            };
            if a.mode == "soak-print" {
                soak::print(&stream);
            } else {
                let (sent, late) = soak::send(&stream, &a.target);
                println!("soak sent={sent} late_max_ms={late}");
            }
        }
        _ => usage(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_prefix_gives_the_sender_and_a_fixed_sender_replaces_it() {
        let path = std::env::temp_dir().join(format!("loadgen-{}.log", std::process::id()));
        std::fs::write(
            &path,
            "2026-06-01T00:00:02.906Z 10.64.74.1 <190>Jun  1 00:00:03 rtr-0075 x\nno prefix\n",
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let (senders, lines) = load_records(path, "");
        assert_eq!(senders, [b"10.64.74.1".to_vec(), b"127.0.0.1".to_vec()]);
        assert_eq!(
            lines,
            [
                b"<190>Jun  1 00:00:03 rtr-0075 x".to_vec(),
                b"no prefix".to_vec()
            ]
        );
        let (senders, _) = load_records(path, "127.0.0.9");
        assert_eq!(senders, [b"127.0.0.9".to_vec(), b"127.0.0.9".to_vec()]);
        std::fs::remove_file(path).unwrap();
    }
}
