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
use super::clock::{YearOf, parse_uptime, parse_zone};
use super::firewall::{RecordShape, record_header};
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
    parse_header_in(raw, YearOf::Nearest(reference))
}

/// [`parse_header`] with the year of year-less stamps chosen by `year` (a relay stamp that
/// writes its year still decides the device stamp's).
pub(crate) fn parse_header_in(raw: &str, year: YearOf) -> SyslogHeader<'_> {
    with_record_header(walk(raw, year), raw, year)
}

fn walk(raw: &str, year: YearOf) -> SyslogHeader<'_> {
    let mut w = Walk::new(raw);
    let body_at = w.run(0, Mode::Line);
    w.finish(body_at, year)
}

/// A firewall record that carries its own time and device name in the body (FortiGate
/// key=value, PAN-OS CSV; see [`super::firewall`]). A FortiGate record's clock and `devname`
/// are the device's, so a syslog stamp and host in front of it were written by whoever
/// forwarded it and become the relay's; a PAN-OS record only fills what its own syslog header
/// (which PAN-OS writes) left out.
fn with_record_header<'a>(mut h: SyslogHeader<'a>, raw: &'a str, year: YearOf) -> SyslogHeader<'a> {
    let Some(record) = record_header(h.body) else {
        return h;
    };
    // As in `finish`: a relay stamp knows the year better than the caller's reference.
    let Some(stamp) = record.wall.resolve_in(
        ClockSync::Synced,
        h.relay_time.map_or(year, YearOf::Nearest),
    ) else {
        return h;
    };
    h.recognized = true;
    match record.shape {
        RecordShape::FortiGate => {
            if h.relay_time.is_none() && h.device_time.is_some_and(|d| !d.had_year) {
                // The record's dated clock knows the year of a year-less forwarder's stamp
                // better than the caller's reference.
                let again = walk(raw, YearOf::Nearest(stamp.millis));
                h.device_time = again.device_time;
            }
            if h.relay_time.is_none() && !h.uptime {
                h.relay_time = h.device_time.map(|d| d.millis);
            }
            h.relay_host = h.relay_host.or(h.host);
            h.host = record.host;
            h.device_time = Some(stamp);
            h.uptime = false;
        }
        RecordShape::PanOs => {
            h.host = h.host.or(record.host);
            if h.device_time.is_none() && !h.uptime {
                h.device_time = Some(stamp);
            }
        }
    }
    h
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

    fn finish(self, body_at: usize, year: YearOf) -> SyslogHeader<'a> {
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
            .and_then(|p| p.wall.resolve_in(ClockSync::Synced, year))
            .map(|s| s.millis);
        // A relay stamp with a written year knows the year better than the caller's reference.
        let device_year = match (relay, relay_time) {
            (Some(p), Some(t)) if p.wall.year.is_some() => YearOf::Nearest(t),
            _ => year,
        };
        let device_time = match (self.stamp_5424, self.device, device_pair) {
            (Some(w), _, _) => w.resolve_in(ClockSync::Synced, device_year),
            (None, Some((w, sync)), _) => w.resolve_in(sync, device_year),
            (None, None, Some(p)) => p.wall.resolve_in(ClockSync::Synced, device_year),
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
mod tests;
