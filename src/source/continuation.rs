//! The one rule for continuation lines: a header-less line after a message belongs to it (a
//! `%SYS-5-RESTART` banner sent with real line breaks). Files and stdin reach it through
//! [`super::lines::LineReader`], LF- and octet-framed TCP and TLS through [`StreamJoiner`];
//! a UDP datagram is one message and joins nothing.

use crate::time::Millis;

/// Most lines one multi-line message may absorb.
pub const MAX_JOINED: usize = 32;

/// Whether a line looks like the start of a message rather than the rest of the previous one.
pub fn starts_message(line: &[u8]) -> bool {
    match line.first() {
        None => true,
        Some(b'<' | b'{' | b'%' | b'*' | b'.' | b'0'..=b'9') => true,
        Some(_) => {
            crate::parse::clock::month_from_abbrev(line.get(..3).unwrap_or(line)).is_some()
                && line.get(3) == Some(&b' ')
                || line.starts_with(b"last message")
        }
    }
}

/// Whether `next` continues `message` (its `lines` lines so far, joined by `\n`), so that
/// joined they stay within `max_len` bytes. A truncated line neither continues nor is
/// continued: its end is unknown.
#[inline]
pub fn continues(
    message: &[u8],
    lines: u32,
    truncated: bool,
    next: &[u8],
    next_truncated: bool,
    max_len: usize,
) -> bool {
    if truncated || next_truncated || lines as usize >= MAX_JOINED || starts_message(next) {
        return false;
    }
    if message.len() + 1 + next.len() > max_len {
        return false;
    }
    // A message continues only where it says so (the restart banner ends its first line with
    // `--`), or where the next line is indented: a stray line of text after an ordinary
    // message stays a line of its own, and is reported.
    let head_open = lines > 1 || message.trim_ascii_end().ends_with(b"--");
    let indented = next.first().is_some_and(|c| *c == b' ' || *c == b'\t');
    head_open || indented
}

/// Joins the frames of one TCP or TLS connection into messages by [`continues`]. A message is
/// held until a frame arrives that does not continue it, or until the caller flushes it (the
/// connection went quiet or ended). Two buffers reused for the connection's life: no
/// allocation per message.
pub struct StreamJoiner {
    max_len: usize,
    held: Vec<u8>,
    held_lines: u32,
    held_truncated: bool,
    held_arrival: Millis,
    /// The message last handed out.
    done: Vec<u8>,
}

/// A complete message from a stream.
pub struct Joined<'a> {
    pub bytes: &'a [u8],
    pub truncated: bool,
    /// When its first line arrived.
    pub arrival: Millis,
}

impl StreamJoiner {
    pub fn new(max_len: usize) -> StreamJoiner {
        StreamJoiner {
            max_len,
            held: Vec::new(),
            held_lines: 0,
            held_truncated: false,
            held_arrival: 0,
            done: Vec::new(),
        }
    }

    /// Whether a message is held for a continuation that may still come.
    pub fn holding(&self) -> bool {
        self.held_lines > 0
    }

    /// Takes the next frame, which arrived at `arrival`. Returns the held message when the
    /// frame does not continue it (the frame is then held in its place). An empty frame (a
    /// blank line) ends the held message and is itself nothing.
    pub fn push(&mut self, frame: &[u8], truncated: bool, arrival: Millis) -> Option<Joined<'_>> {
        if self.holding()
            && !frame.is_empty()
            && continues(
                &self.held,
                self.held_lines,
                self.held_truncated,
                frame,
                truncated,
                self.max_len,
            )
        {
            self.held.push(b'\n');
            self.held.extend_from_slice(frame);
            self.held_lines += 1;
            return None;
        }
        let had = self.take_held();
        if !frame.is_empty() {
            self.held.extend_from_slice(frame);
            self.held_lines = 1;
            self.held_truncated = truncated;
            self.held_arrival = arrival;
        }
        had.map(|(truncated, arrival)| Joined {
            bytes: &self.done,
            truncated,
            arrival,
        })
    }

    /// Hands out the held message: nothing more will continue it.
    pub fn flush(&mut self) -> Option<Joined<'_>> {
        self.take_held().map(|(truncated, arrival)| Joined {
            bytes: &self.done,
            truncated,
            arrival,
        })
    }

    /// Moves the held message to `done`; its truncation flag and arrival.
    fn take_held(&mut self) -> Option<(bool, Millis)> {
        if !self.holding() {
            return None;
        }
        std::mem::swap(&mut self.held, &mut self.done);
        self.held.clear();
        self.held_lines = 0;
        Some((self.held_truncated, self.held_arrival))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BANNER: [&str; 4] = [
        "<189>12: rtr: *Jun  1 03:10:00.123 UTC: %SYS-5-RESTART: System restarted --",
        "Cisco IOS Software, C2900 Software, Version 15.7(3)M8, RELEASE SOFTWARE (fc2)",
        "Technical Support: http://www.cisco.com/techsupport",
        "<189>13: rtr: *Jun  1 03:10:01.000 UTC: %SYS-6-BOOTTIME: x",
    ];

    fn joined(frames: &[&str], max: usize) -> Vec<(String, Millis)> {
        let mut j = StreamJoiner::new(max);
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            if let Some(m) = j.push(f.as_bytes(), false, i as Millis) {
                out.push((String::from_utf8_lossy(m.bytes).into_owned(), m.arrival));
            }
        }
        if let Some(m) = j.flush() {
            out.push((String::from_utf8_lossy(m.bytes).into_owned(), m.arrival));
        }
        out
    }

    #[test]
    fn stream_frames_join_as_file_lines_do() {
        let got = joined(&BANNER, 1024);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, BANNER[..3].join("\n"));
        assert_eq!(got[0].1, 0, "the arrival of the first line");
        assert_eq!(got[1], (BANNER[3].to_string(), 3));
        // The same lines through the file reader give the same messages.
        let file = BANNER.join("\n");
        let mut r = super::super::lines::LineReader::new(file.as_bytes(), true);
        let mut from_file = Vec::new();
        while let Some(m) = r.next_message().unwrap() {
            from_file.push(String::from_utf8_lossy(m.bytes).into_owned());
        }
        let from_stream: Vec<String> = got.into_iter().map(|g| g.0).collect();
        assert_eq!(from_file, from_stream);
    }

    #[test]
    fn a_stray_line_a_blank_line_or_the_limit_ends_a_message() {
        // Not after `--` and not indented: a line of its own.
        assert_eq!(
            joined(&["<13>a", "stray text", "  indented"], 1024).len(),
            2
        );
        // A blank line ends the banner; what follows is a message of its own.
        let got = joined(&[BANNER[0], "", BANNER[1]], 1024);
        assert_eq!(got.len(), 2);
        // Joined lines past the limit are not joined.
        let got = joined(&BANNER[..3], BANNER[0].len() + 10);
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn a_truncated_line_joins_nothing() {
        let mut j = StreamJoiner::new(1024);
        assert!(j.push(BANNER[0].as_bytes(), true, 0).is_none());
        let m = j.push(BANNER[1].as_bytes(), false, 1).unwrap();
        assert!(m.truncated);
        assert_eq!(m.bytes, BANNER[0].as_bytes());
        assert!(j.holding());
        assert!(!j.flush().unwrap().truncated);
        assert!(!j.holding());
        assert!(j.flush().is_none());
    }
}
