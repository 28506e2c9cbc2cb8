//! Framing of syslog over TCP and TLS: RFC 6587 octet counting (`LEN SP MSG`) or a message per
//! line (LF, also NUL), detected once per connection from its first bytes. Frames longer than
//! the limit are truncated, never the cause of a dropped connection. Frames are lines; joining
//! a multi-line message's lines is [`super::continuation`]'s.

use bytes::{Buf, BytesMut};
use tokio_util::codec::Decoder;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Unknown,
    OctetCounting,
    Lines,
}

/// A decoder that yields one syslog message per frame, and whether it was truncated.
#[derive(Debug)]
pub struct SyslogFramer {
    mode: Mode,
    max: usize,
    /// Bytes of an over-long frame still to skip.
    skipping: usize,
    /// In line mode: skip to the next newline.
    skip_line: bool,
}

impl SyslogFramer {
    pub fn new(max: usize) -> Self {
        SyslogFramer {
            mode: Mode::Unknown,
            max,
            skipping: 0,
            skip_line: false,
        }
    }

    /// Octet counting when the stream starts with a count and a space (`81 <189>…`, or a
    /// relay's `95 2026-06-01T…` without a PRI). A line cannot start that way: syslog lines
    /// start with `<`, a timestamp or a host, and a Cisco sequence number ends with a colon.
    fn detect(buf: &[u8]) -> Option<Mode> {
        let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 9 {
            // No octet count is that long; deciding this before the space arrives keeps the
            // mode the same however the first bytes are split into reads.
            return Some(Mode::Lines);
        }
        if digits == buf.len() {
            return None; // need more bytes
        }
        if (1..=9).contains(&digits) && buf[digits] == b' ' {
            return Some(Mode::OctetCounting);
        }
        Some(Mode::Lines)
    }
}

impl SyslogFramer {
    /// A line without its terminator becomes a frame: a CR before the terminator dropped
    /// (CRLF), then cut to the limit.
    fn line_frame(&self, mut frame: BytesMut) -> (BytesMut, bool) {
        if frame.last() == Some(&b'\r') {
            frame.truncate(frame.len() - 1);
        }
        let truncated = frame.len() > self.max;
        frame.truncate(self.max);
        (frame, truncated)
    }
}

impl Decoder for SyslogFramer {
    type Item = (BytesMut, bool);
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        if self.skipping > 0 {
            let n = self.skipping.min(buf.len());
            buf.advance(n);
            self.skipping -= n;
            if self.skipping > 0 {
                return Ok(None);
            }
        }
        if self.skip_line {
            // The rest of an over-long line ends where any line ends: LF or NUL.
            match memchr::memchr2(b'\n', 0, buf) {
                Some(i) => {
                    buf.advance(i + 1);
                    self.skip_line = false;
                }
                None => {
                    buf.clear();
                    return Ok(None);
                }
            }
        }
        if self.mode == Mode::Unknown {
            match Self::detect(buf) {
                Some(m) => self.mode = m,
                None => return Ok(None),
            }
        }
        match self.mode {
            Mode::OctetCounting => {
                // Tolerate stray newlines between frames (some senders add them).
                while buf.first().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    buf.advance(1);
                }
                let digits = buf.iter().take_while(|b| b.is_ascii_digit()).count();
                if digits == buf.len() {
                    if digits > 9 {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "octet count longer than 9 digits",
                        ));
                    }
                    return Ok(None);
                }
                if digits == 0 || buf[digits] != b' ' || digits > 9 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "expected an octet count (RFC 6587)",
                    ));
                }
                let len: usize = std::str::from_utf8(&buf[..digits])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                let keep = len.min(self.max);
                if buf.len() < digits + 1 + keep {
                    buf.reserve(digits + 1 + keep - buf.len());
                    return Ok(None);
                }
                buf.advance(digits + 1);
                let frame = buf.split_to(keep);
                self.skipping = len - keep;
                Ok(Some((frame, len > keep)))
            }
            Mode::Lines => {
                let end = memchr::memchr2(b'\n', 0, buf);
                match end {
                    Some(i) => {
                        let frame = buf.split_to(i);
                        buf.advance(1);
                        // An empty line is a frame too: it ends a multi-line message
                        // (see `continuation`), as it does in a file.
                        Ok(Some(self.line_frame(frame)))
                    }
                    // One byte past the limit proves the line too long, unless it is a CR
                    // that may end the line (CRLF): then the next byte decides. So a line
                    // is cut the same however its bytes are split into reads.
                    None if buf.len() > self.max + 1
                        || (buf.len() == self.max + 1 && buf[self.max] != b'\r') =>
                    {
                        let frame = buf.split_to(self.max);
                        buf.clear();
                        self.skip_line = true;
                        Ok(Some((frame, true)))
                    }
                    None => Ok(None),
                }
            }
            Mode::Unknown => unreachable!("mode was set above"),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, Self::Error> {
        match self.decode(buf)? {
            Some(f) => Ok(Some(f)),
            None if self.mode == Mode::Lines && !buf.is_empty() && !self.skip_line => {
                let (frame, truncated) = self.line_frame(buf.split());
                Ok((!frame.is_empty()).then_some((frame, truncated)))
            }
            None => {
                buf.clear();
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: usize) -> Vec<(String, bool)> {
        let mut f = SyslogFramer::new(max);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        // Feed one byte at a time: frames must not depend on how reads are split.
        for b in input {
            buf.extend_from_slice(&[*b]);
            while let Some((frame, t)) = f.decode(&mut buf).unwrap() {
                out.push((String::from_utf8_lossy(&frame).into_owned(), t));
            }
        }
        while let Some((frame, t)) = f.decode_eof(&mut buf).unwrap() {
            out.push((String::from_utf8_lossy(&frame).into_owned(), t));
        }
        out
    }

    #[test]
    fn octet_counting_is_detected_and_split() {
        let got = frames(b"10 <13>hello\n11 <13>a\nb c d", 100);
        assert_eq!(
            got,
            [
                ("<13>hello\n".to_string(), false),
                ("<13>a\nb c d".to_string(), false)
            ]
        );
    }

    #[test]
    fn octet_counting_without_a_pri_is_detected() {
        let frame = "2026-06-01T03:10:00Z 10.1.1.1 <189>1: x";
        let input = format!("{} {frame}{} {frame}", frame.len(), frame.len());
        let got = frames(input.as_bytes(), 100);
        assert_eq!(
            got,
            [(frame.to_string(), false), (frame.to_string(), false)]
        );
    }

    #[test]
    fn lines_are_detected_even_with_leading_digits() {
        let got = frames(b"000019: %SYS-5-CONFIG_I: x\r\n<13>y\n\n<13>z", 100);
        let texts: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(texts, ["000019: %SYS-5-CONFIG_I: x", "<13>y", "", "<13>z"]);
    }

    #[test]
    fn long_frames_are_truncated_not_fatal() {
        let got = frames(b"20 <13>0123456789abcdef8 <13>next", 10);
        assert_eq!(
            got,
            [
                ("<13>012345".to_string(), true),
                ("<13>next".to_string(), false)
            ]
        );
        let got = frames(b"<13>0123456789abcdef\n<13>ok\n", 8);
        assert_eq!(
            got,
            [
                ("<13>0123".to_string(), true),
                ("<13>ok".to_string(), false)
            ]
        );
    }

    /// The rest of an over-long line was skipped to the next LF only, so with NUL-terminated
    /// lines everything after an over-long one was lost when it arrived in small reads (and
    /// kept when it arrived in one).
    #[test]
    fn overlong_nul_terminated_line_is_skipped_to_its_nul() {
        let input = b"<13>0123456789abcdef\0<13>ok\0<13>z";
        let want = [
            ("<13>0123".to_string(), true),
            ("<13>ok".to_string(), false),
            ("<13>z".to_string(), false),
        ];
        assert_eq!(frames(input, 8), want);
        assert_eq!(frames_in_one_read(input, 8), want);
    }

    /// Frames of the whole input delivered in one read.
    fn frames_in_one_read(input: &[u8], max: usize) -> Vec<(String, bool)> {
        let mut f = SyslogFramer::new(max);
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some((frame, t)) = f.decode_eof(&mut buf).unwrap() {
            out.push((String::from_utf8_lossy(&frame).into_owned(), t));
        }
        out
    }

    /// A line cut at the limit just after a CR lost that CR when the line arrived in one read
    /// (taken for the CR of a CRLF) and kept it when it arrived in small reads; a line of
    /// exactly the limit plus CRLF was marked truncated in small reads only.
    #[test]
    fn line_cut_next_to_a_cr_is_cut_the_same_in_any_reads() {
        type Case = (&'static [u8], &'static [(&'static str, bool)]);
        let cases: [Case; 4] = [
            (
                b"<13>012\r\x01\0<13>ok\n",
                &[("<13>012\r", true), ("<13>ok", false)],
            ),
            (
                b"<13>0123\r\n<13>ok\n",
                &[("<13>0123", false), ("<13>ok", false)],
            ),
            (
                b"<13>0123\r\r\n<13>ok",
                &[("<13>0123", true), ("<13>ok", false)],
            ),
            (b"<13>0123\r", &[("<13>0123", false)]),
        ];
        for (input, want) in cases {
            let want: Vec<(String, bool)> = want.iter().map(|(s, t)| (s.to_string(), *t)).collect();
            assert_eq!(frames(input, 8), want, "{input:?} in one-byte reads");
            assert_eq!(frames_in_one_read(input, 8), want, "{input:?} in one read");
        }
    }

    /// A stream starting with ten or more digits, a space and a PRI was taken for octet
    /// counting (and failed on the over-long count) when it arrived in one read, and for
    /// lines when the digits arrived before the space.
    #[test]
    fn ten_digit_start_means_lines_in_any_reads() {
        let input = b"22222222226 <13>x\n<13>y\n";
        let want = [
            ("22222222226 <13>x".to_string(), false),
            ("<13>y".to_string(), false),
        ];
        assert_eq!(frames(input, 100), want);
        assert_eq!(frames_in_one_read(input, 100), want);
    }

    #[test]
    fn garbage_octet_count_is_an_error() {
        let mut f = SyslogFramer::new(100);
        let mut buf = BytesMut::from(&b"5 <13>hixx <13>"[..]);
        assert!(f.decode(&mut buf).unwrap().is_some());
        assert!(f.decode(&mut buf).is_err());
    }
}
