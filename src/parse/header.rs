//! Syslog header peeling: PRI, RFC 5424, relay/collector headers, Cisco `seq: host: stamp:`
//! chains, NX-OS, IOS-XR, ASA and BSD/Junos/EOS headers, down to the message body.
//!
//! A line can carry up to three layers (FORMATS.md §1.1): a relay header
//! (`Mmm dd hh:mm:ss sender` or `RFC3339 sender`, sometimes with the device's `<PRI>` after
//! it), the device's own header (vendor-shaped), and the body. The parser walks the line left
//! to right, recognising one header element at a time, and decides at the end which stamp and
//! host belong to whom: a stamp+host pair followed by another device header is the relay's;
//! a lone pair (BSD, Junos, EOS, RFC 3339 in a 3164 layout) is the device's own.
//!
//! Where the line alone cannot decide, these rules hold (the correlator maps identities and
//! decides trust; this module only reports what is written):
//! - A single stamp+host header before a `%` token (`Jun 12 18:10:50 10.53.35.85 %ILPOWER-...`)
//!   is read as the device's, like any BSD header: nothing on the line marks it as a relay's.
//! - `word:` directly before a `%` token with no BSD stamp in front is a Cisco host
//!   (`logging origin-id` without timestamps); after a BSD stamp+host it is the tag (EOS agent).
//! - A relay may write its own `<PRI>`; the innermost one (the device's) is kept.
//! - When the relay stamp carries a year (RFC 3339), it replaces `reference` for the device
//!   stamp's year inference: it is the better-known arrival time.
//!
//! Everything returned borrows from the input; nothing allocates. Positions only ever land
//! next to ASCII bytes, so every slice is on a char boundary, and slices go through
//! `str::get` anyway so a logic slip degrades to a shorter body rather than a panic.

use super::clock::{ClockSync, DeviceStamp, WallTime, Zone, parse_date_stamp, parse_rfc3339};
use super::clock::{parse_uptime, parse_zone};
use crate::time::Millis;

/// The layers in front of a syslog message, as far as they could be recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyslogHeader<'a> {
    /// `<PRI>` value (facility * 8 + severity), 0..=191.
    pub pri: Option<u8>,
    /// Timestamp a relay/collector/file writer put in front of the device's own header
    /// (an RFC 3164 `Mmm dd hh:mm:ss` or RFC 3339 stamp followed by a host), in UTC ms.
    pub relay_time: Option<Millis>,
    /// Host field of that relay header (often the sender's IP, sometimes a name).
    pub relay_host: Option<&'a str>,
    /// Hostname the device itself wrote (Cisco `logging origin-id` host, BSD HOSTNAME when
    /// there is no separate device header, RFC 5424 HOSTNAME). None when absent or `-`.
    pub host: Option<&'a str>,
    /// Tag / APP-NAME / EOS agent / Junos daemon (`mgd`, `Cli`, `/kernel`), without `[pid]`.
    pub app: Option<&'a str>,
    /// Last sequence number the device wrote (Cisco `service sequence-numbers`), if any.
    pub seq: Option<u64>,
    /// The device's own timestamp, when one was written as wall time.
    pub device_time: Option<DeviceStamp>,
    /// The device wrote an uptime (`2y10w`, `1d02h`, `00:01:23`) instead of wall time.
    pub uptime: bool,
    /// The message text after all header layers (see [`parse_header`]).
    pub body: &'a str,
    /// Byte offset of `body` in the input.
    pub body_offset: usize,
    /// At least one header element (PRI, timestamp, seq, host+tag, %-token) was recognised.
    pub recognized: bool,
}

/// Peels PRI, RFC 5424, relay RFC 3164/3339 headers, Cisco `seq: host: [*|.]timestamp:`
/// chains, NX-OS year-first stamps, IOS-XR `RP/0/RP0/CPU0:` node ids, BSD
/// `Mmm dd hh:mm:ss host tag[pid]:` (also Junos two spaces and Junos `time-format year
/// millisecond`), and `last message repeated N times` lines (body is that text).
///
/// The body starts at the first `%FAC(-SUB)*-SEV-MNEMONIC` token for Cisco-family lines,
/// after `tag[pid]: ` for BSD/Junos/EOS, and at MSG for RFC 5424 (BOM stripped); leading
/// blanks are trimmed. `reference` is the arrival time (or best-known now) used for year
/// inference; when the relay wrote a year, its stamp is the better reference for a year-less
/// device stamp and is used instead. Never panics.
pub fn parse_header(raw: &str, reference: Millis) -> SyslogHeader<'_> {
    let mut w = Walk::new(raw);
    let body_at = w.run(0, Mode::Line);
    w.finish(body_at, reference)
}

/// A stamp followed by a host: either a relay header or a BSD-style device header.
#[derive(Clone, Copy)]
struct Pair<'a> {
    wall: WallTime,
    host: &'a str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A whole line: every layer may appear.
    Line,
    /// The MSG part of an RFC 5424 line: only a Cisco device chain is peeled, and words
    /// ending in `:` are text, not tags.
    Msg5424,
}

/// Parser state while walking one line.
struct Walk<'a> {
    raw: &'a str,
    b: &'a [u8],
    pri: Option<u8>,
    /// First stamp+host pair seen.
    outer: Option<Pair<'a>>,
    /// A header element followed `outer`, so `outer` was written by a relay.
    outer_followed: bool,
    /// Second stamp+host pair (the device's, behind a relay's).
    inner: Option<Pair<'a>>,
    /// Cisco-style device stamp (terminated by `:`), with its clock flag.
    device: Option<(WallTime, ClockSync)>,
    /// RFC 5424 TIMESTAMP; wins over a stamp inside MSG.
    stamp_5424: Option<WallTime>,
    host_5424: Option<&'a str>,
    cisco_host: Option<&'a str>,
    app: Option<&'a str>,
    seq: Option<u64>,
    uptime: bool,
    recognized: bool,
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_blank(b[i]) {
        i += 1;
    }
    i
}

fn token_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && !is_blank(b[i]) {
        i += 1;
    }
    i
}

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// The end of a field: a blank or the end of input.
fn ends_field(b: &[u8], i: usize) -> bool {
    i >= b.len() || is_blank(b[i])
}

/// `<N>` with N in 0..=191.
fn pri_at(b: &[u8], i: usize) -> Option<(u8, usize)> {
    if at(b, i) != b'<' {
        return None;
    }
    let mut v = 0u32;
    let mut j = i + 1;
    while j < b.len() && b[j].is_ascii_digit() && j - i <= 3 {
        v = v * 10 + u32::from(b[j] - b'0');
        j += 1;
    }
    (j > i + 1 && at(b, j) == b'>' && v <= 191).then(|| (v as u8, j + 1))
}

/// A Cisco sequence number: digits, `:`, then a blank or the end. Returns value and the
/// position after the colon.
fn seq_at(b: &[u8], i: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    let mut j = i;
    while j < b.len() && b[j].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add(u64::from(b[j] - b'0'))?;
        j += 1;
    }
    (j > i && at(b, j) == b':' && ends_field(b, j + 1)).then_some((v, j + 1))
}

/// An empty Cisco field (`<189>: sw01: ...`, NX-OS relay `10.100.0.33 : 2023 ...`).
fn empty_field_at(b: &[u8], i: usize) -> Option<usize> {
    (at(b, i) == b':' && ends_field(b, i + 1)).then_some(i + 1)
}

/// An IOS-XR node id glued to the stamp: `RP/0/RP0/CPU0:`, `LC/0/2/CPU0:`.
fn node_id_at(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while j < b.len() && b[j] != b':' && !is_blank(b[j]) && j - i < 32 {
        j += 1;
    }
    let id = b.get(i..j)?;
    if at(b, j) != b':' || !id.contains(&b'/') {
        return None;
    }
    let cpu = id.iter().rposition(|&c| c == b'/').map(|k| &id[k + 1..])?;
    let digits = cpu.strip_prefix(b"CPU")?;
    (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit)).then_some(j + 1)
}

/// A `%FAC(-SUB)*-SEV-MNEMONIC` token (severity 0..7) followed by `:`, ` :`, a blank or the
/// end (ASA writes `%ASA-4-401004 Shunned`). Covers `%ASA-config-5-111008`,
/// `%ROUTING-BGP-5-MAXPFX`, `%EARL-SW2_DFC1-1-EXCESSIVE_PARITY_ERROR`.
fn cisco_token_at(b: &[u8], i: usize) -> bool {
    if at(b, i) != b'%' || !at(b, i + 1).is_ascii_alphabetic() {
        return false;
    }
    let start = i + 1;
    let mut j = start;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-') {
        j += 1;
        if j - start > 128 {
            return false;
        }
    }
    if !(j >= b.len() || b[j] == b':' || is_blank(b[j])) {
        return false;
    }
    let tok = &b[start..j];
    // Last segment: mnemonic; the one before: a single severity digit; at least one before.
    let Some(last_dash) = tok.iter().rposition(|&c| c == b'-') else {
        return false;
    };
    let mnemonic = &tok[last_dash + 1..];
    let head = &tok[..last_dash];
    let Some(sev_dash) = head.iter().rposition(|&c| c == b'-') else {
        return false;
    };
    let sev = &head[sev_dash + 1..];
    let facility = &head[..sev_dash];
    !mnemonic.is_empty()
        && matches!(sev, [b'0'..=b'7'])
        && !facility.is_empty()
        && !facility.ends_with(b"-")
}

fn repeated_at(b: &[u8], i: usize) -> bool {
    let rest = b.get(i..).unwrap_or_default();
    rest.starts_with(b"last message repeated ") || rest.starts_with(b"--- last message repeated")
}

/// A BSD tag `name:` or `name[pid]:` (Junos `/kernel:`, EOS `ConfigAgent:`); returns the
/// name's end and the position after the colon.
fn tag_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let end = token_end(b, i);
    if end < i + 2 || b[end - 1] != b':' {
        return None;
    }
    let word = &b[i..end - 1];
    if matches!(word[0], b'%' | b'<' | b'[') {
        return None;
    }
    let name_end = match word.iter().position(|&c| c == b'[') {
        Some(k) if k > 0 && word.ends_with(b"]") => i + k,
        Some(_) => return None,
        None => end - 1,
    };
    Some((name_end, end))
}

/// A Cisco stamp's tail: an optional zone, then `:` (or IOS-XR ` :`). Returns the position
/// after the colon and the zone written.
fn stamp_tail(b: &[u8], e: usize, zone_allowed: bool) -> Option<(usize, Option<Zone>)> {
    let colon = |k: usize| {
        (at(b, k) == b':' && (ends_field(b, k + 1) || at(b, k + 1) == b'%')).then_some(k + 1)
    };
    if let Some(k) = colon(e) {
        return Some((k, None));
    }
    if !is_blank(at(b, e)) {
        return None;
    }
    let j = skip_blanks(b, e);
    if let Some(k) = colon(j) {
        return Some((k, None));
    }
    if zone_allowed && let Some((zone, k)) = parse_zone(b, j) {
        let k2 = if is_blank(at(b, k)) { k + 1 } else { k };
        return colon(k).or_else(|| colon(k2)).map(|end| (end, Some(zone)));
    }
    None
}

impl<'a> Walk<'a> {
    fn new(raw: &'a str) -> Self {
        Walk {
            raw,
            b: raw.as_bytes(),
            pri: None,
            outer: None,
            outer_followed: false,
            inner: None,
            device: None,
            stamp_5424: None,
            host_5424: None,
            cisco_host: None,
            app: None,
            seq: None,
            uptime: false,
            recognized: false,
        }
    }

    fn text(&self, from: usize, to: usize) -> Option<&'a str> {
        self.raw
            .get(from..to)
            .filter(|s| !s.is_empty() && *s != "-")
    }

    /// A device-header element was seen: if a pair came first, it was the relay's.
    fn element(&mut self) {
        self.recognized = true;
        if self.outer.is_some() {
            self.outer_followed = true;
        }
    }

    /// True when a device-chain element starts at `i` (what makes a preceding word a host).
    fn chain_follows(&self, i: usize, with_token: bool) -> bool {
        let b = self.b;
        let s = if matches!(at(b, i), b'*' | b'.') {
            i + 1
        } else {
            i
        };
        // A stamp counts only with its Cisco colon: `junos-ids: 2017-08-24T... host` is a tag
        // followed by a structured header, not a host followed by a device stamp.
        let cisco_stamp = || {
            parse_date_stamp(b, s)
                .is_some_and(|(w, e)| stamp_tail(b, e, w.zone == Zone::Unwritten).is_some())
        };
        seq_at(b, i).is_some()
            || node_id_at(b, i).is_some()
            || cisco_stamp()
            || parse_uptime(b, s).is_some_and(|e| at(b, e) == b':')
            || (with_token && (cisco_token_at(b, i) || empty_field_at(b, i).is_some()))
    }

    /// Walks header elements from `i`; returns where the body starts.
    fn run(&mut self, mut i: usize, mode: Mode) -> usize {
        let b = self.b;
        loop {
            i = skip_blanks(b, i);
            if i >= b.len() {
                return i;
            }
            let c = b[i];
            if c == b'<' && mode == Mode::Line {
                let Some((pri, e)) = pri_at(b, i) else {
                    return i;
                };
                // A relay may add its own PRI; the innermost one is the device's.
                self.pri = Some(pri);
                self.element();
                if let Some(body) = self.rfc5424(e) {
                    return body;
                }
                i = e;
                continue;
            }
            if c == b'%' {
                if cisco_token_at(b, i) {
                    self.recognized = true;
                }
                return i;
            }
            if repeated_at(b, i) {
                self.recognized = true;
                return i;
            }

            let (sync, s) = match c {
                b'*' => (ClockSync::NotAuthoritative, i + 1),
                b'.' => (ClockSync::SyncLost, i + 1),
                _ => (ClockSync::Synced, i),
            };
            if let Some((mut wall, e)) = parse_date_stamp(b, s) {
                if let Some((after, zone)) = stamp_tail(b, e, wall.zone == Zone::Unwritten) {
                    if let Some(z) = zone {
                        wall.zone = z;
                    }
                    self.element();
                    self.device = Some((wall, sync));
                    return self.after_device_stamp(after);
                }
                if sync == ClockSync::Synced
                    && mode == Mode::Line
                    && let Some(after) = self.pair(wall, e)
                {
                    i = after;
                    continue;
                }
                return i;
            }
            if let Some(e) = parse_uptime(b, s)
                && let Some((after, _)) = stamp_tail(b, e, false)
            {
                self.element();
                self.uptime = true;
                return self.after_device_stamp(after);
            }
            if sync != ClockSync::Synced {
                return i;
            }
            if let Some(e) = empty_field_at(b, i) {
                // Not `element()`: ASA `device-id : %ASA-...` keeps its pair as the device's.
                self.recognized = true;
                i = e;
                continue;
            }
            if let Some((v, e)) = seq_at(b, i) {
                self.element();
                self.seq = Some(v);
                i = e;
                continue;
            }
            if let Some(e) = node_id_at(b, i) {
                self.element();
                i = e;
                continue;
            }
            match self.word(i, mode) {
                Ok(next) => i = next,
                Err(body) => return body,
            }
        }
    }

    /// A stamp without a Cisco colon: a host must follow for it to be a header.
    fn pair(&mut self, wall: WallTime, e: usize) -> Option<usize> {
        let b = self.b;
        if !is_blank(at(b, e)) {
            return None;
        }
        let h = skip_blanks(b, e);
        if h >= b.len() || matches!(b[h], b'%' | b'<' | b':') {
            return None;
        }
        let end = token_end(b, h);
        let host_end = if b[end - 1] == b':' { end - 1 } else { end };
        let pair = Pair {
            wall,
            host: self.raw.get(h..host_end)?,
        };
        if self.outer.is_none() {
            self.outer = Some(pair);
            self.recognized = true;
        } else if self.inner.is_none() {
            self.inner = Some(pair);
            self.element();
        } else {
            return None;
        }
        Some(end)
    }

    /// A word at `i` that is neither a stamp nor a number: a Cisco host (`sw01:`,
    /// `xrv RP/0/...`, `192.168.100.2 3132513:`), a zone after a BSD host (`ac45ce-sr1 AEST:`),
    /// or a BSD tag. Returns where to continue, or `Err` with where the body starts.
    fn word(&mut self, i: usize, mode: Mode) -> Result<usize, usize> {
        let b = self.b;
        let end = token_end(b, i);
        let next = skip_blanks(b, end);
        let after_pair = self.outer.is_some() && self.device.is_none();
        if b[end - 1] != b':' {
            // Host without a colon, only when a chain element follows.
            if mode == Mode::Line && (seq_at(b, next).is_some() || node_id_at(b, next).is_some()) {
                self.element();
                self.cisco_host = self.text(i, end);
                return Ok(next);
            }
            return Err(i);
        }
        if mode == Mode::Msg5424 {
            // `host: seq: stamp:` inside a 5424 MSG; anything else is message text.
            if end > i + 1 && self.chain_follows(next, false) {
                self.element();
                self.cisco_host = self.text(i, end - 1);
                return Ok(next);
            }
            return Err(i);
        }
        if after_pair {
            let latest = if self.inner.is_some() {
                &mut self.inner
            } else {
                &mut self.outer
            };
            if let Some(pair) = latest
                && pair.wall.zone == Zone::Unwritten
                && let Some((zone @ Zone::Offset(_), k)) = parse_zone(b, i)
                && k == end - 1
            {
                pair.wall.zone = zone;
                return Ok(next);
            }
        }
        let Some((name_end, _)) = tag_at(b, i) else {
            return Err(i);
        };
        let has_pid = name_end != end - 1;
        if !has_pid && self.chain_follows(next, !after_pair) {
            self.element();
            self.cisco_host = self.text(i, name_end);
            return Ok(next);
        }
        if !after_pair && !self.recognized {
            // `word:` with nothing else recognised is just text.
            return Err(i);
        }
        // The tag ends the header: what follows is the message, even if it looks like a tag.
        self.app = self.text(i, name_end);
        Err(self.after_tag(next))
    }

    /// After a BSD tag: a Junos structured header (`2017-08-24T04:58:58.724Z host RT_IDS - ...`)
    /// is the device's own stamp and host; a `%` token starts the body.
    fn after_tag(&mut self, i: usize) -> usize {
        let b = self.b;
        if self.outer.is_some()
            && self.inner.is_none()
            && let Some((wall, e)) = parse_rfc3339(b, i)
            && let Some(after) = self.pair(wall, e)
        {
            return skip_blanks(b, after);
        }
        i
    }

    /// After a Cisco device stamp: IOS-XR `proc[pid]: %TOKEN` names the process.
    fn after_device_stamp(&mut self, i: usize) -> usize {
        let b = self.b;
        let i = skip_blanks(b, i);
        if let Some((name_end, e)) = tag_at(b, i) {
            let next = skip_blanks(b, e);
            if cisco_token_at(b, next) {
                self.app = self.text(i, name_end);
                return next;
            }
        }
        i
    }

    /// RFC 5424 after PRI at `i`: `VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP
    /// MSGID SP SD [SP MSG]`. None when `i` does not start a version and a 5424 timestamp.
    fn rfc5424(&mut self, i: usize) -> Option<usize> {
        let b = self.b;
        let v_end = (i..b.len().min(i + 3))
            .find(|&k| !b[k].is_ascii_digit())
            .unwrap_or(b.len());
        if v_end == i || at(b, v_end) != b' ' || at(b, i) == b'0' {
            return None;
        }
        let ts = v_end + 1;
        let ts_end = if at(b, ts) == b'-' && ends_field(b, ts + 1) {
            ts + 1
        } else {
            let (wall, e) = parse_rfc3339(b, ts)?;
            if !ends_field(b, e) {
                return None;
            }
            self.stamp_5424 = Some(wall);
            e
        };
        self.recognized = true;
        // HOSTNAME, APP-NAME, PROCID, MSGID: single-space separated; tolerate missing tail.
        let mut fields = [(0usize, 0usize); 4];
        let mut k = ts_end;
        for f in &mut fields {
            if at(b, k) != b' ' {
                return Some(k.min(b.len()));
            }
            let start = k + 1;
            let end = token_end(b, start);
            *f = (start, end);
            k = end;
        }
        self.host_5424 = self.text(fields[0].0, fields[0].1);
        self.app = self.text(fields[1].0, fields[1].1);
        let sd_start = skip_blanks(b, k);
        let msg = skip_blanks(b, skip_structured_data(b, sd_start));
        let msg = if b
            .get(msg..)
            .is_some_and(|r| r.starts_with("\u{feff}".as_bytes()))
        {
            skip_blanks(b, msg + 3)
        } else {
            msg
        };
        Some(self.run(msg, Mode::Msg5424))
    }

    fn finish(self, body_at: usize, reference: Millis) -> SyslogHeader<'a> {
        if !self.recognized {
            return SyslogHeader {
                pri: None,
                relay_time: None,
                relay_host: None,
                host: None,
                app: None,
                seq: None,
                device_time: None,
                uptime: false,
                body: self.raw,
                body_offset: 0,
                recognized: false,
            };
        }
        let device_written = self.device.is_some() || self.uptime || self.stamp_5424.is_some();
        let (relay, device_pair) = match (self.outer, self.inner) {
            (Some(o), Some(i)) => (Some(o), Some(i)),
            (Some(o), None) if self.outer_followed || device_written => (Some(o), None),
            (Some(o), None) => (None, Some(o)),
            (None, _) => (None, None),
        };
        let relay_time = relay
            .and_then(|p| p.wall.resolve(ClockSync::Synced, reference))
            .map(|s| s.millis);
        // A relay stamp with a written year knows the year better than the caller's reference.
        let device_ref = match (relay, relay_time) {
            (Some(p), Some(t)) if p.wall.year.is_some() => t,
            _ => reference,
        };
        let device_time = match (self.stamp_5424, self.device, device_pair) {
            (Some(w), _, _) => w.resolve(ClockSync::Synced, device_ref),
            (None, Some((w, sync)), _) => w.resolve(sync, device_ref),
            (None, None, Some(p)) => p.wall.resolve(ClockSync::Synced, device_ref),
            (None, None, None) => None,
        };
        let body_offset = body_at.min(self.b.len());
        let (body, body_offset) = match self.raw.get(body_offset..) {
            Some(body) => (body, body_offset),
            None => (self.raw, 0),
        };
        SyslogHeader {
            pri: self.pri,
            relay_time,
            relay_host: relay.map(|p| p.host).filter(|h| !h.is_empty() && *h != "-"),
            host: self
                .host_5424
                .or(self.cisco_host)
                .or(device_pair.map(|p| p.host))
                .filter(|h| !h.is_empty() && *h != "-"),
            app: self.app,
            seq: self.seq,
            device_time,
            uptime: self.uptime,
            body,
            body_offset,
            recognized: true,
        }
    }
}

/// Skips RFC 5424 STRUCTURED-DATA at `i`: `-` or `[id k="v" ...]...`. Inside quoted values
/// `\"`, `\\` and `\]` are escapes, and an unescaped `]` is tolerated.
fn skip_structured_data(b: &[u8], i: usize) -> usize {
    if at(b, i) == b'-' && ends_field(b, i + 1) {
        return i + 1;
    }
    let mut k = i;
    while at(b, k) == b'[' {
        k += 1;
        let mut quoted = false;
        while k < b.len() {
            match b[k] {
                b'\\' => k += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            k += 1;
        }
        if k >= b.len() {
            return b.len();
        }
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    /// Expected fields; times as RFC 3339 text so failures read like the input.
    #[derive(Clone, Copy)]
    struct Want {
        pri: Option<u8>,
        relay_time: Option<&'static str>,
        relay_host: Option<&'static str>,
        host: Option<&'static str>,
        app: Option<&'static str>,
        seq: Option<u64>,
        /// (UTC time, clock flag, had_year, zone_known)
        device: Option<(&'static str, ClockSync, bool, bool)>,
        uptime: bool,
        /// Expected start of the body (bodies are long; the prefix pins where it starts).
        body: &'static str,
        recognized: bool,
    }

    const W: Want = Want {
        pri: None,
        relay_time: None,
        relay_host: None,
        host: None,
        app: None,
        seq: None,
        device: None,
        uptime: false,
        body: "",
        recognized: true,
    };

    use ClockSync::{NotAuthoritative as Star, SyncLost as Dot, Synced};

    fn ms(text: &str) -> Millis {
        parse_rfc3339(text).unwrap_or_else(|| panic!("bad test time {text}"))
    }

    fn check(line: &str, reference: &str, want: Want) {
        let h = parse_header(line, ms(reference));
        let ctx = format!("line: {line}\n got: {h:#?}");
        assert_eq!(h.recognized, want.recognized, "recognized\n{ctx}");
        assert_eq!(h.pri, want.pri, "pri\n{ctx}");
        assert_eq!(h.relay_time, want.relay_time.map(ms), "relay_time\n{ctx}");
        assert_eq!(h.relay_host, want.relay_host, "relay_host\n{ctx}");
        assert_eq!(h.host, want.host, "host\n{ctx}");
        assert_eq!(h.app, want.app, "app\n{ctx}");
        assert_eq!(h.seq, want.seq, "seq\n{ctx}");
        let device = want
            .device
            .map(|(t, sync, had_year, zone_known)| DeviceStamp {
                millis: ms(t),
                sync,
                had_year,
                zone_known,
            });
        assert_eq!(h.device_time, device, "device_time\n{ctx}");
        assert_eq!(h.uptime, want.uptime, "uptime\n{ctx}");
        assert!(h.body.starts_with(want.body), "body\n{ctx}");
        if want.body.is_empty() {
            assert_eq!(h.body, "", "body\n{ctx}");
        }
        assert_eq!(&line[h.body_offset..], h.body, "body_offset\n{ctx}");
    }

    #[test]
    fn relay_bsd_header_then_cisco_seq_and_stamp() {
        check(
            "Feb  8 04:00:48 192.168.100.2 585917: Feb  8 04:00:47.272: %SEC-6-IPACCESSLOGRP: list 1",
            "2023-02-08T05:00:00Z",
            Want {
                relay_time: Some("2023-02-08T04:00:48Z"),
                relay_host: Some("192.168.100.2"),
                seq: Some(585917),
                device: Some(("2023-02-08T04:00:47.272Z", Synced, false, false)),
                body: "%SEC-6-IPACCESSLOGRP: list 1",
                ..W
            },
        );
    }

    #[test]
    fn junos_bsd_header_is_the_devices_own() {
        check(
            "<189>Jun  1 03:10:00 edge-0007 mgd[1234]: UI_COMMIT: User 'a' requested 'commit'",
            "2026-06-01T03:10:01Z",
            Want {
                pri: Some(189),
                host: Some("edge-0007"),
                app: Some("mgd"),
                device: Some(("2026-06-01T03:10:00Z", Synced, false, false)),
                body: "UI_COMMIT: User 'a' requested 'commit'",
                ..W
            },
        );
        check(
            "<189>Jul 20 21:44:00 vmx01 mgd[7729]: UI_COMMIT: User 'luke' requested 'commit'",
            "2017-07-21T00:00:00Z",
            Want {
                pri: Some(189),
                host: Some("vmx01"),
                app: Some("mgd"),
                device: Some(("2017-07-20T21:44:00Z", Synced, false, false)),
                body: "UI_COMMIT: User 'luke'",
                ..W
            },
        );
    }

    #[test]
    fn junos_two_spaces_pidless_kernel_and_trimmed_body() {
        check(
            "<28>Jul  8 23:04:13  vmx01 craftd[4817]:  Major alarm set, Host 0 me0",
            "2020-07-09T00:00:00Z",
            Want {
                pri: Some(28),
                host: Some("vmx01"),
                app: Some("craftd"),
                device: Some(("2020-07-08T23:04:13Z", Synced, false, false)),
                body: "Major alarm set",
                ..W
            },
        );
        check(
            "<4>Jul 20 21:23:00 vmx01 /kernel: tcp_auth_ok: Packet from 1.2.3.4:61664",
            "2020-07-21T00:00:00Z",
            Want {
                pri: Some(4),
                host: Some("vmx01"),
                app: Some("/kernel"),
                device: Some(("2020-07-20T21:23:00Z", Synced, false, false)),
                body: "tcp_auth_ok: Packet",
                ..W
            },
        );
        check(
            "<14>Dec 13 13:12:00 srx-firewall RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed",
            "2020-12-14T00:00:00Z",
            Want {
                pri: Some(14),
                host: Some("srx-firewall"),
                app: Some("RT_FLOW"),
                device: Some(("2020-12-13T13:12:00Z", Synced, false, false)),
                body: "RT_FLOW_SESSION_CLOSE: session closed",
                ..W
            },
        );
    }

    #[test]
    fn junos_time_format_year_after_time() {
        check(
            "<189>Nov 10 12:21:25.510 2020  BRMJ00 mgd[53913]: UI_CMDLINE_READ_LINE: User 'x'",
            "2026-06-01T00:00:00Z",
            Want {
                pri: Some(189),
                host: Some("BRMJ00"),
                app: Some("mgd"),
                device: Some(("2020-11-10T12:21:25.510Z", Synced, true, false)),
                body: "UI_CMDLINE_READ_LINE",
                ..W
            },
        );
    }

    #[test]
    fn relay_then_cisco_host_seq_and_stamp_with_year() {
        let want = Want {
            pri: Some(190),
            relay_time: Some("2023-07-13T08:23:43Z"),
            relay_host: Some("192.168.100.2"),
            host: Some("sw01"),
            seq: Some(3132779),
            device: Some(("2023-07-14T08:23:43.398Z", Synced, true, true)),
            body: "%FOO-6-BAR: Test header format",
            ..W
        };
        let tail = "Jul 13 08:23:43 192.168.100.2 sw01: 3132779: Jul 14 2023 08:23:43.398 UTC: \
                    %FOO-6-BAR: Test header format";
        check(&format!("<190>{tail}"), "2023-07-13T08:23:44Z", want);
        // Elastic also has a syslog counter in front of the relay stamp.
        check(
            &format!("<190>3132517: {tail}"),
            "2023-07-13T08:23:44Z",
            want,
        );
    }

    #[test]
    fn nxos_relay_with_space_colon_and_year_first_stamp() {
        check(
            "<189>May  2 15:21:27 10.100.0.33 : 2023 May  2 15:21:27.206 UTC: \
             %AUTHPRIV-5-SYSTEM_MSG:    admin : TTY=pts/0",
            "2023-05-02T15:21:28Z",
            Want {
                pri: Some(189),
                relay_time: Some("2023-05-02T15:21:27Z"),
                relay_host: Some("10.100.0.33"),
                device: Some(("2023-05-02T15:21:27.206Z", Synced, true, true)),
                body: "%AUTHPRIV-5-SYSTEM_MSG:    admin",
                ..W
            },
        );
    }

    #[test]
    fn nxos_relay_without_colon_before_year_first_stamp() {
        check(
            "<187>May  3 13:55:35 10.100.0.35 2023 May  3 13:55:35.928 AEST: last message \
             repeated 6 time",
            "2023-05-03T04:00:00Z",
            Want {
                pri: Some(187),
                relay_time: Some("2023-05-03T13:55:35Z"),
                relay_host: Some("10.100.0.35"),
                device: Some(("2023-05-03T03:55:35.928Z", Synced, true, true)),
                body: "last message repeated 6 time",
                ..W
            },
        );
    }

    #[test]
    fn nxos_host_forms() {
        check(
            "<189>: 2023 May  2 12:57:15 UTC: %ETHPORT-5-IF_DOWN_ADMIN_DOWN: Interface",
            "2023-05-02T13:00:00Z",
            Want {
                pri: Some(189),
                device: Some(("2023-05-02T12:57:15Z", Synced, true, true)),
                body: "%ETHPORT-5-IF_DOWN_ADMIN_DOWN: Interface",
                ..W
            },
        );
        check(
            "<187>10.100.0.32: 2023 Apr 27 09:36:56 UTC: last message repeated 2 times",
            "2023-04-27T10:00:00Z",
            Want {
                pri: Some(187),
                host: Some("10.100.0.32"),
                device: Some(("2023-04-27T09:36:56Z", Synced, true, true)),
                body: "last message repeated 2 times",
                ..W
            },
        );
        check(
            "<190>sw01.pdx01: 2017 Jul 28 14:42:46 UTC: %AUTHPRIV-6-SYSTEM_MSG: pam_unix",
            "2026-01-01T00:00:00Z",
            Want {
                pri: Some(190),
                host: Some("sw01.pdx01"),
                device: Some(("2017-07-28T14:42:46Z", Synced, true, true)),
                body: "%AUTHPRIV-6-SYSTEM_MSG: pam_unix",
                ..W
            },
        );
        check(
            "<190>2018 Apr 20 13:15:07 nexus-switch %ETHPORT-5-IF_UP: Interface Ethernet1/33",
            "2026-01-01T00:00:00Z",
            Want {
                pri: Some(190),
                host: Some("nexus-switch"),
                device: Some(("2018-04-20T13:15:07Z", Synced, true, false)),
                body: "%ETHPORT-5-IF_UP: Interface",
                ..W
            },
        );
        check(
            "2023 May  1 22:58:09 switchname last message repeated 7 time",
            "2026-01-01T00:00:00Z",
            Want {
                host: Some("switchname"),
                device: Some(("2023-05-01T22:58:09Z", Synced, true, false)),
                body: "last message repeated 7 time",
                ..W
            },
        );
        check(
            "<189>109692: switchname: May 9 14:40:12.903: %AUTHPRIV-5-SYSTEM_MSG: Login failed",
            "2023-05-10T00:00:00Z",
            Want {
                pri: Some(189),
                host: Some("switchname"),
                seq: Some(109692),
                device: Some(("2023-05-09T14:40:12.903Z", Synced, false, false)),
                body: "%AUTHPRIV-5-SYSTEM_MSG: Login failed",
                ..W
            },
        );
    }

    #[test]
    fn ipv6_host_with_colon_colliding_with_separator() {
        check(
            "<190>3132783: 2a02:cf40::: 3132779: Jul 14 2023 08:23:43.398 UTC: %FOO-6-BAR: Test",
            "2023-07-14T09:00:00Z",
            Want {
                pri: Some(190),
                host: Some("2a02:cf40::"),
                seq: Some(3132779),
                device: Some(("2023-07-14T08:23:43.398Z", Synced, true, true)),
                body: "%FOO-6-BAR: Test",
                ..W
            },
        );
    }

    #[test]
    fn empty_seq_field_then_host_then_seq() {
        check(
            "<182>: host-1: 115649616: Jan 23 14:54:28.511 CET: %FMANFP-6-IPV6ACCESSLOGP: R0/0: x",
            "2023-01-24T00:00:00Z",
            Want {
                pri: Some(182),
                host: Some("host-1"),
                seq: Some(115649616),
                device: Some(("2023-01-23T13:54:28.511Z", Synced, false, true)),
                body: "%FMANFP-6-IPV6ACCESSLOGP: R0/0: x",
                ..W
            },
        );
    }

    #[test]
    fn asr920_two_counters_and_uptime() {
        check(
            "<165>7433: ASR920: 007439: 2y10w: %SEC_LOGIN-5-LOGIN_SUCCESS: Login Success",
            "2023-01-24T00:00:00Z",
            Want {
                pri: Some(165),
                host: Some("ASR920"),
                seq: Some(7439),
                uptime: true,
                body: "%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success",
                ..W
            },
        );
        check(
            "<189>12: 1d02h: %SYS-5-RESTART: System restarted",
            "2023-01-24T00:00:00Z",
            Want {
                pri: Some(189),
                seq: Some(12),
                uptime: true,
                body: "%SYS-5-RESTART",
                ..W
            },
        );
        check(
            "<189>3: *00:00:45.123: %LINK-3-UPDOWN: Interface Gi0/0, changed state to up",
            "2023-01-24T00:00:00Z",
            Want {
                pri: Some(189),
                seq: Some(3),
                uptime: true,
                body: "%LINK-3-UPDOWN",
                ..W
            },
        );
    }

    #[test]
    fn clock_flags() {
        check(
            "<190>*Jul 14 2023 08:23:43.398 UTC: %FOO-6-BAR: Test header format",
            "2026-01-01T00:00:00Z",
            Want {
                pri: Some(190),
                device: Some(("2023-07-14T08:23:43.398Z", Star, true, true)),
                body: "%FOO-6-BAR",
                ..W
            },
        );
        check(
            "Jul 10 16:07:14 cisco2621 636: .Jul 10 15:58:56.590 EDT: %SEC-6-IPACCESSLOGP: list",
            "2010-07-10T20:10:00Z",
            Want {
                relay_time: Some("2010-07-10T16:07:14Z"),
                relay_host: Some("cisco2621"),
                seq: Some(636),
                device: Some(("2010-07-10T19:58:56.590Z", Dot, false, true)),
                body: "%SEC-6-IPACCESSLOGP: list",
                ..W
            },
        );
        // The 1993 default clock is reported as written; the caller decides trust.
        check(
            "<189>1: router1: *Mar  1 00:00:05.123: %SYS-5-RESTART: System restarted",
            "1993-03-01T00:01:00Z",
            Want {
                pri: Some(189),
                host: Some("router1"),
                seq: Some(1),
                device: Some(("1993-03-01T00:00:05.123Z", Star, false, false)),
                body: "%SYS-5-RESTART",
                ..W
            },
        );
    }

    #[test]
    fn year_inference_across_new_year() {
        check(
            "<189>5: rtr: Dec 31 23:59:50 UTC: %SYS-5-CONFIG_I: Configured from console",
            "2026-01-01T00:00:30Z",
            Want {
                pri: Some(189),
                host: Some("rtr"),
                seq: Some(5),
                device: Some(("2025-12-31T23:59:50Z", Synced, false, true)),
                body: "%SYS-5-CONFIG_I",
                ..W
            },
        );
    }

    #[test]
    fn zones_in_cisco_stamps() {
        let line =
            |zone: &str| format!("<189>387448: host-01: May 6 16:13:09.123 {zone}: %X-5-Y: z");
        let want = |t: &'static str| Want {
            pri: Some(189),
            host: Some("host-01"),
            seq: Some(387448),
            device: Some((t, Synced, false, true)),
            body: "%X-5-Y: z",
            ..W
        };
        let r = "2023-05-07T00:00:00Z";
        check(&line("UTC+07:30"), r, want("2023-05-06T08:43:09.123Z"));
        check(&line("UTC+1"), r, want("2023-05-06T15:13:09.123Z"));
        check(&line("mdt"), r, want("2023-05-06T22:13:09.123Z"));
        check(&line("CEST"), r, want("2023-05-06T14:13:09.123Z"));
        check(&line("EDT"), r, want("2023-05-06T20:13:09.123Z"));
        check(&line("MEST"), r, want("2023-05-06T14:13:09.123Z"));
        check(
            "<190>3352436: 3352457: Aug 12 2023 12:14:24.412 mdt: %IOSXE-6-PLATFORM: R0/0: cpp_cp",
            r,
            Want {
                pri: Some(190),
                seq: Some(3352457),
                device: Some(("2023-08-12T18:14:24.412Z", Synced, true, true)),
                body: "%IOSXE-6-PLATFORM: R0/0: cpp_cp",
                ..W
            },
        );
        // Unknown zone: UTC assumed, not known.
        check(
            "<189>7: r1: May 6 16:13:09 XYZT: %X-5-Y: z",
            r,
            Want {
                pri: Some(189),
                host: Some("r1"),
                seq: Some(7),
                device: Some(("2023-05-06T16:13:09Z", Synced, false, false)),
                body: "%X-5-Y: z",
                ..W
            },
        );
    }

    #[test]
    fn zone_written_after_a_bsd_host() {
        check(
            "<187>Jun 14 11:34:35 ac45ce-sr1 AEST: %SFF8472-3-THRESHOLD_VIOLATION: Te2/0/17: Rx",
            "2023-06-14T02:00:00Z",
            Want {
                pri: Some(187),
                host: Some("ac45ce-sr1"),
                device: Some(("2023-06-14T01:34:35Z", Synced, false, true)),
                body: "%SFF8472-3-THRESHOLD_VIOLATION: Te2/0/17",
                ..W
            },
        );
    }

    #[test]
    fn rfc5424_sonic() {
        check(
            "<166>1 2019-02-20T15:10:50.505646+00:00 ss12.00.lab bgpd 83 - -  %ADJCHANGE: \
             neighbor 100.67.0.142(sp01.02.lab) in vrf Default Up",
            "2019-02-20T15:11:00Z",
            Want {
                pri: Some(166),
                host: Some("ss12.00.lab"),
                app: Some("bgpd"),
                device: Some(("2019-02-20T15:10:50.505Z", Synced, true, true)),
                body: "%ADJCHANGE: neighbor",
                ..W
            },
        );
        check(
            "<13>1 2019-02-21T16:46:14.931186+00:00 ss12.00.lab orchagent - - -  :- \
             setHostIntfsOperStatus: Set operation status UP",
            "2019-02-21T16:47:00Z",
            Want {
                pri: Some(13),
                host: Some("ss12.00.lab"),
                app: Some("orchagent"),
                device: Some(("2019-02-21T16:46:14.931Z", Synced, true, true)),
                body: ":- setHostIntfsOperStatus:",
                ..W
            },
        );
    }

    #[test]
    fn rfc5424_structured_data_with_escaped_bracket_and_bom() {
        check(
            "<165>1 2026-06-01T03:10:00.123+02:00 re0.edge-0001 mgd 4321 UI_COMMIT \
             [junos@2636.1.1.1.2.18 username=\"ad\\]min\" comment=\"a ] b\"][x@1 k=\"v\"] \
             \u{feff}User 'admin' requested 'commit' operation",
            "2026-06-01T01:11:00Z",
            Want {
                pri: Some(165),
                host: Some("re0.edge-0001"),
                app: Some("mgd"),
                device: Some(("2026-06-01T01:10:00.123Z", Synced, true, true)),
                body: "User 'admin' requested 'commit'",
                ..W
            },
        );
    }

    #[test]
    fn rfc5424_msg_carrying_a_cisco_chain() {
        check(
            "<189>1 - rtr-0042 - - - - 1042: *Jun  1 03:10:00.123 UTC: %SYS-5-RELOAD: Reload",
            "2026-06-01T03:11:00Z",
            Want {
                pri: Some(189),
                host: Some("rtr-0042"),
                seq: Some(1042),
                device: Some(("2026-06-01T03:10:00.123Z", Star, false, true)),
                body: "%SYS-5-RELOAD: Reload",
                ..W
            },
        );
        // With a 5424 stamp the inner stamp does not replace it.
        check(
            "<189>1 2026-06-01T03:10:01Z - - - - - 1042: *Jun  1 03:10:00 UTC: %SYS-5-RELOAD: R",
            "2026-06-01T03:11:00Z",
            Want {
                pri: Some(189),
                seq: Some(1042),
                device: Some(("2026-06-01T03:10:01Z", Synced, true, true)),
                body: "%SYS-5-RELOAD: R",
                ..W
            },
        );
    }

    #[test]
    fn rfc5424_junos_keeps_msgid_out_of_the_body() {
        check(
            "<14>1 2017-09-23T13:54:54.803Z sis-srx-mic-01 RT_FLOW - RT_FLOW_SESSION_DENY \
             [junos@2636.1.1.1.2.39 source-address=\"192.168.1.1\" reason=\"policy deny\"] \
             session denied",
            "2017-09-23T14:00:00Z",
            Want {
                pri: Some(14),
                host: Some("sis-srx-mic-01"),
                app: Some("RT_FLOW"),
                device: Some(("2017-09-23T13:54:54.803Z", Synced, true, true)),
                body: "session denied",
                ..W
            },
        );
        // SD only, no MSG: an empty body at the end of the line.
        let line = "<14>1 2017-09-23T13:54:54.803Z h RT_FLOW - X [a@1 k=\"v\"]";
        let h = parse_header(line, 0);
        assert_eq!((h.body, h.body_offset, h.host), ("", line.len(), Some("h")));
    }

    #[test]
    fn sequence_number_only() {
        check(
            "000019: %SYS-5-CONFIG_I: Configured from console by vty2 (10.34.195.36)",
            "2026-01-01T00:00:00Z",
            Want {
                seq: Some(19),
                body: "%SYS-5-CONFIG_I: Configured",
                ..W
            },
        );
    }

    #[test]
    fn multibyte_text_in_host_and_body() {
        check(
            "<189>12: r\u{e9}seau-1: Jun  1 03:10:00 UTC: %SYS-5-CONFIG_I: Configur\u{e9} \u{65e5}",
            "2026-06-01T04:00:00Z",
            Want {
                pri: Some(189),
                host: Some("r\u{e9}seau-1"),
                seq: Some(12),
                device: Some(("2026-06-01T03:10:00Z", Synced, false, true)),
                body: "%SYS-5-CONFIG_I: Configur\u{e9} \u{65e5}",
                ..W
            },
        );
    }

    #[test]
    fn rfc3339_in_a_3164_layout() {
        check(
            "<189>2024-10-11T10:15:31.208321-05:00 TestDevice %LINEPROTO-5-UPDOWN: Line protocol",
            "2024-10-11T15:16:00Z",
            Want {
                pri: Some(189),
                host: Some("TestDevice"),
                device: Some(("2024-10-11T15:15:31.208Z", Synced, true, true)),
                body: "%LINEPROTO-5-UPDOWN: Line protocol",
                ..W
            },
        );
        check(
            "<13>2020-03-31T08:41:59+00:00 some-switch Bgp: %BGP-5-ADJCHANGE: peer 192.0.2.2",
            "2020-03-31T09:00:00Z",
            Want {
                pri: Some(13),
                host: Some("some-switch"),
                app: Some("Bgp"),
                device: Some(("2020-03-31T08:41:59Z", Synced, true, true)),
                body: "%BGP-5-ADJCHANGE: peer",
                ..W
            },
        );
    }

    #[test]
    fn eos_agent_tag_before_cisco_token() {
        check(
            "<165>Oct 23 12:23:41 GeorgeSwitch ConfigAgent: %SYS-5-CONFIG_I: Configured from",
            "2018-10-24T00:00:00Z",
            Want {
                pri: Some(165),
                host: Some("GeorgeSwitch"),
                app: Some("ConfigAgent"),
                device: Some(("2018-10-23T12:23:41Z", Synced, false, false)),
                body: "%SYS-5-CONFIG_I: Configured",
                ..W
            },
        );
    }

    #[test]
    fn bare_cisco_token_without_header() {
        let line = "%ASA-5-111008: User 'impssnagios' executed the 'enable' command.";
        check(line, "2026-01-01T00:00:00Z", Want { body: line, ..W });
        let line = "%ASA-4-401004 Shunned packet: 192.168.0.1 = 192.168.0.2";
        check(line, "2026-01-01T00:00:00Z", Want { body: line, ..W });
    }

    #[test]
    fn asa_stamp_and_device_id() {
        check(
            "<165>Nov 14 2013 11:23:36: %ASA-5-111008: User 'enable_15' executed the 'copy'",
            "2026-01-01T00:00:00Z",
            Want {
                pri: Some(165),
                device: Some(("2013-11-14T11:23:36Z", Synced, true, false)),
                body: "%ASA-5-111008: User",
                ..W
            },
        );
        check(
            "<165>Nov 14 2013 11:23:36 fw01 : %ASA-config-5-111008: User 'x' executed",
            "2026-01-01T00:00:00Z",
            Want {
                pri: Some(165),
                host: Some("fw01"),
                device: Some(("2013-11-14T11:23:36Z", Synced, true, false)),
                body: "%ASA-config-5-111008: User",
                ..W
            },
        );
    }

    #[test]
    fn junos_structured_header_behind_a_relay() {
        check(
            "Aug 24 04:58:58 192.168.1.1 junos-ids: 2017-08-24T04:58:58.724Z sis-srx-EUH-03 \
             RT_IDS - RT_SCREEN_IP [junos@1.1.1.1.2.1 attack-name=\"IP spoofing!\"]",
            "2017-08-24T05:00:00Z",
            Want {
                relay_time: Some("2017-08-24T04:58:58Z"),
                relay_host: Some("192.168.1.1"),
                host: Some("sis-srx-EUH-03"),
                app: Some("junos-ids"),
                device: Some(("2017-08-24T04:58:58.724Z", Synced, true, true)),
                body: "RT_IDS - RT_SCREEN_IP",
                ..W
            },
        );
    }

    #[test]
    fn iosxr_node_id_and_process() {
        check(
            "<190>40: xrv RP/0/RP0/CPU0:Oct  4 22:52:47.441 : cfgmgr_trial_confirm[67310]: \
             %MGBL-CONFIG-6-DB_COMMIT : Configuration committed by user 'vagrant'.",
            "2017-10-05T00:00:00Z",
            Want {
                pri: Some(190),
                host: Some("xrv"),
                app: Some("cfgmgr_trial_confirm"),
                seq: Some(40),
                device: Some(("2017-10-04T22:52:47.441Z", Synced, false, false)),
                body: "%MGBL-CONFIG-6-DB_COMMIT : Configuration",
                ..W
            },
        );
        check(
            "<190>Oct 7 07:19:44 internet-primary-mgmt RP/0/RP0/CPU0:Oct 7 07:19:43.630 UTC: \
             ipv4_acl_mgr[310]: %ACL-IPV4_ACL-6-IPACCESSLOGP : access-list",
            "2022-10-07T08:00:00Z",
            Want {
                pri: Some(190),
                relay_time: Some("2022-10-07T07:19:44Z"),
                relay_host: Some("internet-primary-mgmt"),
                app: Some("ipv4_acl_mgr"),
                device: Some(("2022-10-07T07:19:43.630Z", Synced, false, true)),
                body: "%ACL-IPV4_ACL-6-IPACCESSLOGP : access-list",
                ..W
            },
        );
    }

    #[test]
    fn host_without_colon_before_a_sequence_number() {
        check(
            "172.16.5.10 6705: Feb 17 13:40:03.673: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin  \
             logged command:no access-session port-control",
            "2020-02-18T00:00:00Z",
            Want {
                host: Some("172.16.5.10"),
                seq: Some(6705),
                device: Some(("2020-02-17T13:40:03.673Z", Synced, false, false)),
                body: "%PARSER-5-CFGLOG_LOGGEDCMD: User:admin  logged",
                ..W
            },
        );
        check(
            "<190>3132517: 192.168.100.2 3132513: Jul 14 2023 08:23:43.398 UTC: %FOO-6-BAR: T",
            "2023-07-14T09:00:00Z",
            Want {
                pri: Some(190),
                host: Some("192.168.100.2"),
                seq: Some(3132513),
                device: Some(("2023-07-14T08:23:43.398Z", Synced, true, true)),
                body: "%FOO-6-BAR: T",
                ..W
            },
        );
    }

    #[test]
    fn relay_header_directly_before_a_cisco_token_is_read_as_the_devices() {
        // Without a second header nothing tells a relay from a device; BSD rules apply.
        check(
            "<189>Jun 12 18:10:50 10.53.35.85 %ILPOWER-5-IEEE_DISCONNECT: Interface Gi1/0/20",
            "2023-06-12T18:11:00Z",
            Want {
                pri: Some(189),
                host: Some("10.53.35.85"),
                device: Some(("2023-06-12T18:10:50Z", Synced, false, false)),
                body: "%ILPOWER-5-IEEE_DISCONNECT",
                ..W
            },
        );
    }

    #[test]
    fn generator_lines_behind_rsyslog_rfc3339_prefix() {
        let r = "2026-06-01T05:00:00Z";
        check(
            "2026-06-01T04:12:57.579Z 10.64.3.1 <189>35: rtr-0004: *Jun  1 04:12:56.961 UTC: \
             %SYS-5-RESTART: System restarted --#012Cisco IOS Software",
            r,
            Want {
                pri: Some(189),
                relay_time: Some("2026-06-01T04:12:57.579Z"),
                relay_host: Some("10.64.3.1"),
                host: Some("rtr-0004"),
                seq: Some(35),
                device: Some(("2026-06-01T04:12:56.961Z", Star, false, true)),
                body: "%SYS-5-RESTART: System restarted",
                ..W
            },
        );
        check(
            "2026-06-01T00:06:02.088Z 10.64.9.1 <189>core-0010: 2026 Jun 01 00:06:01 UTC: \
             %ACLLOG-5-ACLLOG_FLOW_INTERVAL: Src IP",
            r,
            Want {
                pri: Some(189),
                relay_time: Some("2026-06-01T00:06:02.088Z"),
                relay_host: Some("10.64.9.1"),
                host: Some("core-0010"),
                device: Some(("2026-06-01T00:06:01Z", Synced, true, true)),
                body: "%ACLLOG-5-ACLLOG_FLOW_INTERVAL: Src IP",
                ..W
            },
        );
        check(
            "2026-06-01T01:09:37.781Z 10.64.8.1 <190>Jun  1 01:09:39 sw-0009 mgd[23205]: \
             UI_LOGOUT_EVENT: User 'mlopez' logout",
            r,
            Want {
                pri: Some(190),
                relay_time: Some("2026-06-01T01:09:37.781Z"),
                relay_host: Some("10.64.8.1"),
                host: Some("sw-0009"),
                app: Some("mgd"),
                device: Some(("2026-06-01T01:09:39Z", Synced, false, false)),
                body: "UI_LOGOUT_EVENT: User",
                ..W
            },
        );
        check(
            "<189>: 2026 Jun 01 03:10:00 UTC: %SYS-5-RELOAD: Reload requested",
            r,
            Want {
                pri: Some(189),
                device: Some(("2026-06-01T03:10:00Z", Synced, true, true)),
                body: "%SYS-5-RELOAD",
                ..W
            },
        );
    }

    #[test]
    fn elastic_date_format_variants() {
        let r = "2022-01-20T00:00:00Z";
        let cases = [
            (
                "Jan  6 2022 22:11:43.398 UTC",
                "2022-01-06T22:11:43.398Z",
                true,
                true,
            ),
            ("Jan 16 2022 22:11:43:", "2022-01-16T22:11:43Z", true, false),
            (
                "Jan 16 2022 22:11:43 EDT",
                "2022-01-17T02:11:43Z",
                true,
                true,
            ),
            (
                "Jan  6 22:11:43.398",
                "2022-01-06T22:11:43.398Z",
                false,
                false,
            ),
            ("Jan 16 22:11:43 UTC", "2022-01-16T22:11:43Z", false, true),
        ];
        for (stamp, t, had_year, zone_known) in cases {
            let stamp = stamp.trim_end_matches(':');
            let line = format!("<190>2361044: sw01: {stamp}: %FOO-6-BAR: Test date format.");
            check(
                &line,
                r,
                Want {
                    pri: Some(190),
                    host: Some("sw01"),
                    seq: Some(2361044),
                    device: Some((t, Synced, had_year, zone_known)),
                    body: "%FOO-6-BAR: Test date format.",
                    ..W
                },
            );
        }
    }

    #[test]
    fn ntp_core_body_without_cisco_token() {
        check(
            "<191>2637085: rt401-rk30409: Aug 18 07:15:04.461 CEST: NTP Core (NOTICE): Clock",
            "2023-08-18T06:00:00Z",
            Want {
                pri: Some(191),
                host: Some("rt401-rk30409"),
                seq: Some(2637085),
                device: Some(("2023-08-18T05:15:04.461Z", Synced, false, true)),
                body: "NTP Core (NOTICE): Clock",
                ..W
            },
        );
    }

    #[test]
    fn garbage_is_not_recognized() {
        for line in [
            "this is not syslog at all",
            "",
            "   ",
            "hello: world",
            "<999>x",
            "日本語",
        ] {
            check(
                line,
                "2026-01-01T00:00:00Z",
                Want {
                    body: line,
                    recognized: false,
                    ..W
                },
            );
        }
    }

    #[test]
    fn pri_only_lines_keep_their_text() {
        check(
            "<189>date=2019-04-09 time=04:27:29 devname=fw01",
            "2026-01-01T00:00:00Z",
            Want {
                pri: Some(189),
                body: "date=2019-04-09 time=04:27:29 devname=fw01",
                ..W
            },
        );
    }

    /// Lines of the external corpus, one per entry; `.ini` files keep the text after `pass = `.
    fn corpus_lines() -> Vec<(String, String)> {
        fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
            let mut entries: Vec<_> = std::fs::read_dir(dir)
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            for path in entries {
                if path.is_dir() {
                    walk(&path, out);
                    continue;
                }
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                if name == "PROVENANCE.md" || name == "README.md" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let ini = name.ends_with(".ini");
                for line in text.lines() {
                    let line = if ini {
                        match line.split_once("pass = ") {
                            Some((_, rest)) => rest,
                            None => continue,
                        }
                    } else {
                        line
                    };
                    if !line.trim().is_empty() {
                        out.push((path.display().to_string(), line.to_string()));
                    }
                }
            }
        }
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/external");
        let mut out = Vec::new();
        walk(std::path::Path::new(root), &mut out);
        out
    }

    #[test]
    fn every_external_corpus_line_is_recognized() {
        let lines = corpus_lines();
        assert!(lines.len() > 300, "corpus too small: {}", lines.len());
        let reference = ms("2023-06-01T00:00:00Z");
        for (file, line) in &lines {
            let h = parse_header(line, reference);
            assert!(h.recognized, "{file}: {line}\n{h:#?}");
            assert_eq!(&line[h.body_offset..], h.body, "{file}: {line}");
            // A %-token in the line must be where the body starts when the header is Cisco's.
            if let Some(pct) = line.find(": %").map(|k| k + 2)
                && h.body_offset < pct
                && !h.body.starts_with('%')
                && h.app.is_none()
            {
                panic!("{file}: body should start at the %-token: {line}\n{h:#?}");
            }
        }
    }

    /// xorshift64*: enough randomness to shake the parser without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn assert_sane(line: &str, reference: Millis) {
        let h = parse_header(line, reference);
        assert_eq!(line.get(h.body_offset..), Some(h.body), "{line:?}");
        if !h.recognized {
            assert_eq!(h.body, line);
        }
    }

    #[test]
    fn never_panics_on_cuts_mutations_and_noise() {
        let lines = corpus_lines();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let refs = [0, i64::MIN, i64::MAX, ms("2026-01-01T00:00:30Z")];
        for (_, line) in &lines {
            let r = refs[rng.below(refs.len())];
            // Every prefix and suffix at a char boundary.
            for (k, _) in line.char_indices() {
                assert_sane(&line[..k], r);
                assert_sane(&line[k..], r);
            }
            // Byte-level mutations, read back through from_utf8_lossy.
            let mut bytes = line.as_bytes().to_vec();
            for _ in 0..8 {
                let k = rng.below(bytes.len());
                match rng.below(4) {
                    0 => bytes[k] = rng.next() as u8,
                    1 => {
                        bytes.insert(k, b"<>:*.% -[]\"\\0123456789TZ+"[rng.below(25)]);
                    }
                    2 if !bytes.is_empty() => {
                        bytes.remove(k.min(bytes.len() - 1));
                    }
                    _ => bytes.extend_from_slice("é日\u{feff}".as_bytes()),
                }
                assert_sane(&String::from_utf8_lossy(&bytes), r);
            }
        }
        // Noise built from header alphabet so deep paths get exercised.
        let atoms: &[&str] = &[
            "<189>",
            "<1",
            "1 ",
            "2023 ",
            "Jan",
            "May ",
            " 6 ",
            "12:",
            "34:56",
            ".123",
            " UTC",
            "+07:30",
            "-",
            ": ",
            " : ",
            "*",
            ".",
            "%SYS-5-X",
            "%A-9-",
            "RP/0/RP0/CPU0:",
            "host",
            "mgd[1]:",
            "2y10w",
            "T",
            "Z",
            "[a b=\"]\"]",
            "\\",
            "é",
            "日本",
            "\u{feff}",
            " ",
            "2026-06-01T03:10:00",
            "99999999999999999999999:",
            "last message repeated ",
        ];
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..rng.below(24) {
                s.push_str(atoms[rng.below(atoms.len())]);
            }
            assert_sane(&s, refs[rng.below(refs.len())]);
        }
        for _ in 0..2_000 {
            let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            assert_sane(&String::from_utf8_lossy(&bytes), 0);
        }
    }

    #[test]
    fn huge_inputs_stay_linear_and_safe() {
        let big = "Jan  1 00:00:00 2023 ".repeat(50_000);
        assert_sane(&big, 0);
        let big = "1: ".repeat(100_000);
        assert_sane(&big, 0);
        let big = format!("<189>1 - h a p m {}", "[x a=\"\\".repeat(50_000));
        assert_sane(&big, 0);
    }
}
