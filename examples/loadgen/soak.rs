//! The soak stream: corpus lines sent in a loop at a fixed rate, each re-dated to the moment it
//! is due, so that the service sees a live feed (its wall clock and the lines' clocks agree).
//! Each line goes out in the collector-prefixed form a relay forwards (`<due time> <sender>
//! <line>`, the sender the corpus names for the line, as a relay names the device it heard
//! from), and `soak-print` prints exactly those bytes for the `replay` the service's alerts are
//! compared with: both read the same arrival time and sender for every line. Sent raw, the
//! service would date the lines without a clock of their own (and key their evidence) by the
//! moment of receipt, which no replay can reproduce.
//!
//! Line `i` of the stream is corpus line `i mod n` (the `gen.py` collector prefix stripped),
//! due at `start + i / rate`; its header time (Cisco `Mmm dd hh:mm:ss.mmm`, NX-OS
//! `yyyy Mmm dd hh:mm:ss`, BSD `Mmm dd hh:mm:ss`) becomes that moment in UTC, and the Cisco
//! not-synchronised marker (`*`, `.`) goes, so that every line's own time is trusted as it is
//! in a replay. Nothing else in the line changes.

use std::io::Write;
use std::net::UdpSocket;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sender::{BATCH, send_batch};

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The stream: which lines, from when, how fast, how many.
pub struct Stream {
    pub lines: Vec<Vec<u8>>,
    /// The sender each line's record names (one per line).
    pub senders: Vec<Vec<u8>>,
    /// Unix milliseconds line 0 is due.
    pub start_ms: i64,
    pub rate: f64,
    pub total: u64,
}

impl Stream {
    /// When line `i` is due (Unix milliseconds).
    pub fn due(&self, i: u64) -> i64 {
        self.start_ms + (i as f64 * 1000.0 / self.rate) as i64
    }

    /// Line `i`, re-dated.
    pub fn line(&self, i: u64) -> Vec<u8> {
        let raw = &self.lines[(i % self.lines.len() as u64) as usize];
        redate(raw, self.due(i))
    }

    /// Line `i` as a collector forwards it: `<due time> <sender> <line>`.
    pub fn record(&self, i: u64) -> Vec<u8> {
        let line = self.line(i);
        let sender = &self.senders[(i % self.senders.len() as u64) as usize];
        let mut out = Vec::with_capacity(line.len() + 42);
        out.extend_from_slice(rfc3339(self.due(i)).as_bytes());
        out.push(b' ');
        out.extend_from_slice(sender);
        out.push(b' ');
        out.extend_from_slice(&line);
        out
    }
}

/// (year, month 1-12, day) of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as usize, d)
}

/// `2026-12-07T14:17:50.123Z`.
pub fn rfc3339(ms: i64) -> String {
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Where the header time is in `line`: (start, end, year present, millis present, marker
/// before it). Looks only at the first 96 bytes, where every vendor's header puts it.
fn find_time(line: &[u8]) -> Option<(usize, usize, bool, bool, bool)> {
    let head = &line[..line.len().min(96)];
    let digit = |i: usize| head.get(i).is_some_and(u8::is_ascii_digit);
    for p in 0..head.len().saturating_sub(15) {
        if !MONTHS.iter().any(|m| head[p..].starts_with(*m)) {
            continue;
        }
        // `Mmm dd hh:mm:ss` (day space- or zero-padded).
        let day_ok = head[p + 3] == b' '
            && (head[p + 4] == b' ' || digit(p + 4))
            && digit(p + 5)
            && head[p + 6] == b' ';
        let time_ok = digit(p + 7)
            && digit(p + 8)
            && head[p + 9] == b':'
            && digit(p + 10)
            && digit(p + 11)
            && head[p + 12] == b':'
            && digit(p + 13)
            && digit(p + 14);
        if !(day_ok && time_ok) {
            continue;
        }
        let year = p >= 5 && (p - 5..p - 1).all(digit) && head[p - 1] == b' ';
        let millis = head.get(p + 15) == Some(&b'.') && (p + 16..p + 19).all(digit);
        let start = if year { p - 5 } else { p };
        let marker = start > 0 && matches!(head[start - 1], b'*' | b'.');
        let end = if millis { p + 19 } else { p + 15 };
        return Some((start, end, year, millis, marker));
    }
    None
}

/// `line` with its header time set to `ms` (UTC) in the same form; unchanged if it has none.
pub fn redate(line: &[u8], ms: i64) -> Vec<u8> {
    let Some((start, end, year, millis, marker)) = find_time(line) else {
        return line.to_vec();
    };
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let month = std::str::from_utf8(MONTHS[m - 1]).expect("ASCII");
    let hms = format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    let stamp = if year {
        format!("{y:04} {month} {d:02} {hms}")
    } else {
        format!("{month} {d:>2} {hms}")
    };
    let mut out = Vec::with_capacity(line.len() + 4);
    out.extend_from_slice(&line[..start - usize::from(marker)]);
    out.extend_from_slice(stamp.as_bytes());
    if millis {
        out.extend_from_slice(format!(".{milli:03}").as_bytes());
    }
    out.extend_from_slice(&line[end..]);
    out
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Prints the records the service is sent, one a line: the input of the `replay` the service's
/// alerts are compared with.
pub fn print(stream: &Stream) {
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    for i in 0..stream.total {
        let ok = w.write_all(&stream.record(i)).is_ok() && w.write_all(b"\n").is_ok();
        if !ok {
            return; // the reader went away
        }
    }
    let _ = w.flush();
}

/// Sends the stream from one socket (so that every line of a device keeps its order), each
/// line once it is due; returns (sent, how late the sender fell behind at worst, in ms).
pub fn send(stream: &Stream, target: &str) -> (u64, i64) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.connect(target).expect("connect");
    let mut i = 0u64;
    let mut worst = 0i64;
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(BATCH);
    let idx: Vec<usize> = (0..BATCH).collect();
    while i < stream.total {
        let now = now_ms();
        if stream.due(i) > now {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        worst = worst.max(now - stream.due(i));
        batch.clear();
        while batch.len() < BATCH && i + (batch.len() as u64) < stream.total {
            let j = i + batch.len() as u64;
            if stream.due(j) > now {
                break;
            }
            batch.push(stream.record(j));
        }
        let mut done = 0;
        while done < batch.len() {
            let n = send_batch(&socket, &batch[done..], &idx[..batch.len() - done]);
            if n == 0 {
                // Socket buffer full: retry; every line must leave, in order.
                std::thread::sleep(Duration::from_micros(100));
            }
            done += n;
        }
        i += batch.len() as u64;
    }
    (i, worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-07T14:05:09.042Z
    const T: i64 = 1_796_652_309_042;

    #[test]
    fn every_header_time_of_the_corpus_is_redated() {
        assert_eq!(rfc3339(T), "2026-12-07T14:05:09.042Z");
        let cases: [(&str, &str); 4] = [
            (
                "<189>1042: rtr-0042: *Jun  1 03:10:00.123 UTC: %SYS-5-RELOAD: x",
                "<189>1042: rtr-0042: Dec  7 14:05:09.042 UTC: %SYS-5-RELOAD: x",
            ),
            (
                "<189>: 2026 Jun 01 03:10:00 UTC: %VSHD-5-VSHD_SYSLOG_CONFIG_I: x",
                "<189>: 2026 Dec 07 14:05:09 UTC: %VSHD-5-VSHD_SYSLOG_CONFIG_I: x",
            ),
            (
                "<28>Jun 11 22:14:15 edge1 mgd[4321]: UI_COMMIT: x",
                "<28>Dec  7 14:05:09 edge1 mgd[4321]: UI_COMMIT: x",
            ),
            ("no time here", "no time here"),
        ];
        for (line, want) in cases {
            let got = redate(line.as_bytes(), T);
            assert_eq!(String::from_utf8_lossy(&got), want);
        }
    }

    /// Each record names its own line's sender: host-less lines of different devices stay
    /// apart (one sender for all would merge them into one device).
    #[test]
    fn each_record_names_its_lines_sender() {
        let stream = Stream {
            lines: vec![
                b"<189>: 2026 Jun 01 03:10:00 UTC: %X-5-Y: a".to_vec(),
                b"b".to_vec(),
            ],
            senders: vec![b"10.64.0.1".to_vec(), b"10.64.7.1".to_vec()],
            start_ms: T,
            rate: 1000.0,
            total: 3,
        };
        let records: Vec<String> = (0..3)
            .map(|i| String::from_utf8(stream.record(i)).unwrap())
            .collect();
        assert_eq!(
            records,
            [
                "2026-12-07T14:05:09.042Z 10.64.0.1 <189>: 2026 Dec 07 14:05:09 UTC: %X-5-Y: a",
                "2026-12-07T14:05:09.043Z 10.64.7.1 b",
                "2026-12-07T14:05:09.044Z 10.64.0.1 <189>: 2026 Dec 07 14:05:09 UTC: %X-5-Y: a",
            ]
        );
    }
}
