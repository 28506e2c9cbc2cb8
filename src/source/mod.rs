//! Source stage: every input and what a collector wrapped around it. Files and stdin are
//! framed by [`lines`], TCP and TLS streams by [`framing`]; the listeners ([`udp`], [`tcp`])
//! extract signals for the service's workers ([`listener`]). Each line is then recognised as
//! one of the file formats collectors write: the collector-prefixed form (`<RFC 3339 arrival>
//! <sender> <raw message>`, rsyslog `%timegenerated% %fromhost-ip% %rawmsg%` and
//! RSYSLOG_FileFormat), NDJSON from Filebeat / Elastic Agent (ECS), or a raw syslog message
//! (wire form, rsyslog traditional).

pub(crate) mod continuation;
pub(crate) mod framing;
pub(crate) mod lines;
pub(crate) mod listener;
pub(crate) mod ndjson;
mod recv;
pub(crate) mod tcp;
pub(crate) mod udp;

pub(crate) use listener::{Job, shard};

use std::borrow::Cow;

use crate::time::Millis;

/// Which file formats to accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum InputFormat {
    /// Detect per line.
    #[default]
    Auto,
    /// Syslog text: collector-prefixed, rsyslog file formats or raw messages.
    Syslog,
    /// One JSON object per line (ECS: `message`, `@timestamp`, `host.*`, `log.syslog.*`).
    Ndjson,
}

/// A line after the collector's wrapping has been recognised.
#[derive(Debug, PartialEq)]
pub enum Framed<'a> {
    /// Nothing but white space.
    Blank,
    /// Syslog text, possibly behind a collector prefix.
    Text {
        arrival: Option<Millis>,
        /// The sender named by the collector prefix, as it was written: a caller that uses it
        /// as text checks that it is UTF-8 (most lines never need it).
        sender: Option<&'a [u8]>,
        message: &'a [u8],
    },
    /// A JSON object: decoded only when the prefilter lets it through.
    Json(&'a [u8]),
}

/// Recognises the wrapping of one line.
pub fn frame<'a>(line: &'a [u8], format: InputFormat, cache: &mut StampCache) -> Framed<'a> {
    let trimmed = trim_ascii_start(line);
    if trimmed.iter().all(u8::is_ascii_whitespace) {
        return Framed::Blank;
    }
    if format != InputFormat::Syslog && trimmed.first() == Some(&b'{') {
        return Framed::Json(trimmed);
    }
    if format == InputFormat::Ndjson {
        // Not JSON: reported by the caller as unparsed through the JSON decoder.
        return Framed::Json(trimmed);
    }
    if let Some((arrival, rest)) = collector_stamp(line, cache)
        && let Some(sp) = memchr::memchr(b' ', rest)
        && sp > 0
    {
        return Framed::Text {
            arrival: Some(arrival),
            sender: Some(&rest[..sp]),
            message: &rest[sp + 1..],
        };
    }
    Framed::Text {
        arrival: None,
        sender: None,
        message: line,
    }
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// Caches the last minute seen, so that the RFC 3339 stamp in front of nearly every line costs
/// a comparison and a few digit conversions instead of a calendar computation.
#[derive(Default)]
pub struct StampCache {
    minute: [u8; 16],
    minute_ms: Millis,
    valid: bool,
}

fn digits(b: &[u8]) -> Option<i64> {
    let mut v: i64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Parses a leading `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM|±HHMM)` followed by a space.
/// Returns the time in UTC milliseconds and the rest of the line after the space.
pub fn collector_stamp<'a>(line: &'a [u8], cache: &mut StampCache) -> Option<(Millis, &'a [u8])> {
    if line.len() < 21 || line[4] != b'-' || line[7] != b'-' || line[10] != b'T' || line[13] != b':'
    {
        return None;
    }
    let minute_ms = if cache.valid && line[..16] == cache.minute {
        cache.minute_ms
    } else {
        let text = std::str::from_utf8(&line[..16]).ok()?;
        let dt: jiff::civil::DateTime = format!("{text}:00").parse().ok()?;
        let ms = dt
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()?
            .timestamp()
            .as_millisecond();
        cache.minute.copy_from_slice(&line[..16]);
        cache.minute_ms = ms;
        cache.valid = true;
        ms
    };
    if line[16] != b':' {
        return None;
    }
    let secs = digits(&line[17..19])?;
    let mut i = 19;
    let mut frac_ms = 0;
    if line.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while line.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let frac = &line[start..i];
        let mut ms = 0;
        for k in 0..3 {
            ms = ms * 10 + frac.get(k).map_or(0, |d| i64::from(d - b'0'));
        }
        frac_ms = ms;
    }
    let offset_ms = match line.get(i)? {
        b'Z' | b'z' => {
            i += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            let hh = digits(line.get(i + 1..i + 3)?)?;
            let (mm, used) = if line.get(i + 3) == Some(&b':') {
                (digits(line.get(i + 4..i + 6)?)?, 6)
            } else {
                (digits(line.get(i + 3..i + 5)?)?, 5)
            };
            i += used;
            let off = (hh * 60 + mm) * 60_000;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    if line.get(i) != Some(&b' ') {
        return None;
    }
    Some((
        minute_ms + secs * 1000 + frac_ms - offset_ms,
        &line[i + 1..],
    ))
}

/// The message as text with rsyslog's control-character escapes decoded (`#012` newline,
/// `#015` carriage return, `#011` tab), so that a multi-line banner reads as lines.
pub fn decode_message(message: &[u8]) -> Cow<'_, str> {
    // std's check reads valid UTF-8 a word at a time where the lossy decoder goes byte by
    // byte; the same text either way.
    let text = match std::str::from_utf8(message) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(message),
    };
    if !text.contains('#') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4);
        match code {
            Some("012") => out.push('\n'),
            Some("015") => out.push('\r'),
            Some("011") => out.push('\t'),
            _ => {
                out.push('#');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 4..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_rfc3339;

    #[test]
    fn recognises_collector_prefix() {
        let mut c = StampCache::default();
        let line = b"2026-06-01T03:10:00.456Z 10.64.0.42 <189>1042: rtr-0042: Jun  1 03:10:00.123 UTC: %SYS-5-RELOAD: x";
        match frame(line, InputFormat::Auto, &mut c) {
            Framed::Text {
                arrival,
                sender,
                message,
            } => {
                assert_eq!(arrival, parse_rfc3339("2026-06-01T03:10:00.456Z"));
                assert_eq!(sender, Some(&b"10.64.0.42"[..]));
                assert!(message.starts_with(b"<189>1042"));
            }
            other => panic!("{other:?}"),
        }
        // The cached minute is reused, offsets are honoured.
        let (t, _) = collector_stamp(b"2026-06-01T03:10:59+02:00 h msg", &mut c).unwrap();
        assert_eq!(Some(t), parse_rfc3339("2026-06-01T01:10:59Z"));
        let (t, _) = collector_stamp(b"2026-06-01T03:10:07.5-0130 h msg", &mut c).unwrap();
        assert_eq!(Some(t), parse_rfc3339("2026-06-01T04:40:07.500Z"));
    }

    #[test]
    fn raw_and_json_lines() {
        let mut c = StampCache::default();
        assert!(matches!(
            frame(b"<189>Jun  1 03:10:00 h x", InputFormat::Auto, &mut c),
            Framed::Text { arrival: None, .. }
        ));
        assert!(matches!(
            frame(b"  {\"message\":1}", InputFormat::Auto, &mut c),
            Framed::Json(_)
        ));
        assert!(matches!(
            frame(b"{\"message\":1}", InputFormat::Syslog, &mut c),
            Framed::Text { .. }
        ));
        assert_eq!(frame(b"   ", InputFormat::Auto, &mut c), Framed::Blank);
        assert!(matches!(
            frame(b"2026-13-99Txx", InputFormat::Auto, &mut c),
            Framed::Text { arrival: None, .. }
        ));
    }

    #[test]
    fn decodes_rsyslog_escapes() {
        assert_eq!(decode_message(b"a#012b#011c#015#x#01"), "a\nb\tc\r#x#01");
        assert!(matches!(decode_message(b"plain"), Cow::Borrowed("plain")));
    }
}
