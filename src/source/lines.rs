//! Line framing for files and stdin: big reads, zero-copy lines, over-long lines truncated
//! (never dropped), and continuation lines without a header joined to the message before them
//! by the rule of [`super::continuation`] (a `%SYS-5-RESTART` banner that arrives with real
//! newlines).

use std::io::{self, Read};

use super::continuation::{MAX_JOINED, continues};

/// Longest line kept; the rest of a longer line is skipped and the line counted as truncated.
pub const MAX_LINE: usize = 64 * 1024;
const CHUNK: usize = 1 << 20;

/// One message as read: a line, or a line and its continuation lines joined by `\n`.
pub struct Message<'a> {
    pub bytes: &'a [u8],
    /// 1-based number of the message's first line in its input.
    pub line_no: u64,
    /// How many input lines it took.
    pub lines: u32,
    pub truncated: bool,
}

pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    join: bool,
    /// Where the line at `pos` ends (offset from `pos`) and whether it was cut, when a look
    /// for continuation lines has already found it: each line is searched for its end once.
    peeked: Option<(usize, bool)>,
    next_line_no: u64,
    /// Bytes consumed so far (for progress).
    pub consumed: u64,
}

impl<R: Read> LineReader<R> {
    /// `join`: glue header-less continuation lines to the message before them (text input).
    pub fn new(inner: R, join: bool) -> Self {
        LineReader {
            inner,
            buf: vec![0; CHUNK + MAX_LINE],
            pos: 0,
            len: 0,
            eof: false,
            join,
            peeked: None,
            next_line_no: 1,
            consumed: 0,
        }
    }

    /// Reads more input, moving unconsumed bytes to the front. False at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.len, 0);
            self.len -= self.pos;
            self.pos = 0;
        }
        if self.len == self.buf.len() {
            let new_len = self.buf.len() * 2;
            self.buf.resize(new_len, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.len..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.len += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// End (exclusive, before `\n`) of the line starting at `from`, reading more as needed;
    /// None at end of input. Lines longer than [`MAX_LINE`] end at the limit.
    fn line_end(&mut self, from_offset: usize) -> io::Result<Option<(usize, bool)>> {
        if from_offset == 0
            && let Some((end_off, truncated)) = self.peeked.take()
        {
            return Ok(Some((self.pos + end_off, truncated)));
        }
        loop {
            let from = self.pos + from_offset;
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from..self.len]) {
                if i > MAX_LINE {
                    return Ok(Some((from + MAX_LINE, true)));
                }
                return Ok(Some((from + i, false)));
            }
            if self.len - from > MAX_LINE {
                return Ok(Some((from + MAX_LINE, true)));
            }
            if !self.fill()? {
                let from = self.pos + from_offset;
                return Ok((from < self.len).then_some((self.len, false)));
            }
        }
    }

    /// Skips the rest of an over-long line whose kept part ends at `keep_off`, discarding the
    /// skipped bytes so memory stays bounded; returns the offset of its newline (or of the end).
    fn skip_rest(&mut self, keep_off: usize) -> io::Result<usize> {
        loop {
            let from = self.pos + keep_off;
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from..self.len]) {
                return Ok(keep_off + i);
            }
            self.consumed += (self.len - from) as u64;
            self.len = from;
            if !self.fill()? {
                return Ok(self.len - self.pos);
            }
        }
    }

    /// Offset just past the newline at `nl_off` (or `nl_off` itself at the end of input).
    fn past_newline(&self, nl_off: usize) -> usize {
        if self.pos + nl_off < self.len {
            nl_off + 1
        } else {
            nl_off
        }
    }

    /// True when the next message may need a read: the buffer holds fewer complete lines than
    /// a message needs to be told apart (two when continuation lines are joined), and the
    /// input has not ended. A caller holding messages back hands them on first, since a read
    /// from a pipe may wait for a long time.
    pub fn may_read(&self) -> bool {
        let needed = if self.join { 2 } else { 1 };
        !self.eof
            && memchr::memchr_iter(b'\n', &self.buf[self.pos..self.len])
                .take(needed)
                .count()
                < needed
    }

    pub fn next_message(&mut self) -> io::Result<Option<Message<'_>>> {
        let Some((end, truncated)) = self.line_end(0)? else {
            return Ok(None);
        };
        let line_no = self.next_line_no;
        let mut end_off = end - self.pos;
        let nl_off = if truncated {
            self.skip_rest(end_off)?
        } else {
            end_off
        };
        let mut next_off = self.past_newline(nl_off);
        let mut lines = 1u32;
        if self.join && !truncated {
            while (lines as usize) < MAX_JOINED {
                let Some((cont_end, cont_truncated)) = self.line_end(next_off)? else {
                    break;
                };
                let start = self.pos + next_off;
                let message = &self.buf[self.pos..self.pos + end_off];
                let cont = &self.buf[start..cont_end];
                if !continues(message, lines, truncated, cont, cont_truncated, MAX_LINE) {
                    // The next message starts with this line: its end is known.
                    self.peeked = Some((cont_end - start, cont_truncated));
                    break;
                }
                end_off = cont_end - self.pos;
                lines += 1;
                next_off = self.past_newline(end_off);
            }
        }
        let start = self.pos;
        let mut stop = start + end_off;
        if stop > start && self.buf[stop - 1] == b'\r' {
            stop -= 1;
        }
        self.consumed += next_off as u64;
        self.next_line_no += u64::from(lines);
        self.pos += next_off;
        Ok(Some(Message {
            bytes: &self.buf[start..stop],
            line_no,
            lines,
            truncated,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(input: &[u8], join: bool) -> Vec<(String, u64, u32, bool)> {
        let mut r = LineReader::new(input, join);
        let mut out = Vec::new();
        while let Some(m) = r.next_message().unwrap() {
            out.push((
                String::from_utf8_lossy(m.bytes).into_owned(),
                m.line_no,
                m.lines,
                m.truncated,
            ));
        }
        out
    }

    #[test]
    fn splits_lines_and_strips_cr() {
        let got = read_all(b"<1>a\r\n<2>b\n<3>c", false);
        let texts: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(texts, ["<1>a", "<2>b", "<3>c"]);
        assert_eq!(got[2].1, 3);
    }

    #[test]
    fn joins_headerless_continuations() {
        let input = b"<189>12: *Jun  1 03:10:00.123 UTC: %SYS-5-RESTART: System restarted --\nCisco IOS Software, C2900 Software, Version 15.7(3)M8, RELEASE SOFTWARE (fc2)\nTechnical Support: http://www.cisco.com/techsupport\n<189>13: *Jun  1 03:10:01.000 UTC: %SYS-6-BOOTTIME: x\n";
        let got = read_all(input, true);
        assert_eq!(got.len(), 2);
        assert!(got[0].0.contains("\nCisco IOS Software"));
        assert_eq!(got[0].2, 3);
        assert_eq!(got[1].1, 4);
        // Without joining every line stands alone.
        assert_eq!(read_all(input, false).len(), 4);
    }

    #[test]
    fn truncates_overlong_lines_and_keeps_going() {
        let mut input = vec![b'x'; MAX_LINE * 3];
        input.extend_from_slice(b"\n<1>next\n");
        let got = read_all(&input, true);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0.len(), MAX_LINE);
        assert!(got[0].3);
        assert_eq!(got[1].0, "<1>next");
    }

    /// The line after a message is looked at for a continuation and then read as the next
    /// message: an over-long one is still cut and counted once, whichever chunk it ends in.
    #[test]
    fn a_line_looked_at_as_a_continuation_is_read_once() {
        let mut input = b"<1>first\n".to_vec();
        input.extend(std::iter::repeat_n(b'y', CHUNK + 10));
        input.extend_from_slice(b"\n<2>last\n");
        let got = read_all(&input, true);
        let texts: Vec<usize> = got.iter().map(|g| g.0.len()).collect();
        assert_eq!(texts, [8, MAX_LINE, 7]);
        assert_eq!(
            got.iter().map(|g| (g.1, g.3)).collect::<Vec<_>>(),
            [(1, false), (2, true), (3, false)]
        );
    }

    #[test]
    fn handles_lines_across_chunk_boundaries() {
        let line = "<189>1: rtr: Jun  1 03:10:00.123 UTC: %LINK-3-UPDOWN: Interface Gi0/1, changed state to up\n";
        let input = line.repeat(CHUNK / line.len() * 3);
        let got = read_all(input.as_bytes(), true);
        assert_eq!(got.len(), CHUNK / line.len() * 3);
        assert!(got.iter().all(|g| g.0 == line.trim_end()));
    }
}
