//! Reading ahead of the engine: a thread reads the input files in order, screens each message
//! (framing, literal prefilter, classification and a key of its sender, see [`Screen`]) and
//! hands them over in batches; the replay's own thread does the rest. Screening depends on no
//! earlier line, so the alerts are those of one thread, while about half of a replay's work
//! runs on another core.

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::pipeline::{Screen, Screened};
use crate::source::InputFormat;
use crate::source::lines::LineReader;

use super::FileShape;

/// A batch is handed over once it holds this many bytes or messages (a message's screening
/// takes ~100 bytes more), at the end of a file, and from a pipe before a read that may wait:
/// few enough hand-overs that waking the other thread costs little (64 KiB batches spent 3%
/// of the CPU there).
const BATCH_BYTES: usize = 512 << 10;
pub(super) const BATCH_MESSAGES: usize = 4096;
/// Batches on their way to the engine: enough to ride out a slow stretch on either side.
const IN_FLIGHT: usize = 4;

/// One message of a batch: where its bytes are, where it came from, what screening made of it.
pub struct Screenful {
    bytes: Range<usize>,
    pub line_no: u64,
    pub lines: u32,
    pub truncated: bool,
    pub screened: Screened,
}

/// Consecutive messages of one file, their bytes copied out of the reader's buffer.
#[derive(Default)]
pub struct Batch {
    bytes: Vec<u8>,
    messages: Vec<Screenful>,
    /// Bytes of the file consumed up to the end of this batch (for progress).
    pub consumed: u64,
}

impl Batch {
    /// The messages with their bytes, in input order; emptied as it goes.
    pub fn drain(&mut self) -> impl Iterator<Item = (&[u8], Screenful)> + '_ {
        let bytes = &self.bytes;
        self.messages
            .drain(..)
            .map(move |m| (&bytes[m.bytes.clone()], m))
    }

    /// The batch emptied for reuse, its buffers kept.
    fn cleared(mut self) -> Batch {
        self.bytes.clear();
        self.messages.clear();
        self.consumed = 0;
        self
    }

    fn push(&mut self, message: &[u8], m: Screenful) {
        self.messages.push(m);
        self.bytes.extend_from_slice(message);
    }

    fn is_full(&self) -> bool {
        self.bytes.len() >= BATCH_BYTES || self.messages.len() >= BATCH_MESSAGES
    }
}

/// What the reading thread hands over, in input order.
pub enum Handed {
    Batch(Batch),
    /// The end of input file `file` (its index in the list), with the shape of its messages.
    End {
        file: usize,
        consumed: u64,
        shape: FileShape,
    },
    /// Input file `file` could not be opened or read; nothing more follows.
    Failed {
        file: usize,
        error: io::Error,
    },
}

/// The reading thread and the ends of its channels. Dropping `handed` (a replay that stops
/// early) ends the thread at its next hand-over.
pub struct ReadAhead {
    pub handed: Receiver<Handed>,
    /// Emptied batches go back to the reader, so that their buffers are reused.
    pub recycle: SyncSender<Batch>,
    pub thread: JoinHandle<()>,
}

pub fn start(files: Vec<PathBuf>, format: InputFormat, screen: Screen) -> io::Result<ReadAhead> {
    let (send, handed) = sync_channel(IN_FLIGHT);
    let (recycle, returned) = sync_channel(IN_FLIGHT + 1);
    let thread = std::thread::Builder::new()
        .name("replay-read".to_string())
        .spawn(move || read_all(&files, format, screen, &send, &returned))?;
    Ok(ReadAhead {
        handed,
        recycle,
        thread,
    })
}

/// Reads every file in turn; returns early when the receiving side is gone.
fn read_all(
    files: &[PathBuf],
    format: InputFormat,
    mut screen: Screen,
    send: &SyncSender<Handed>,
    returned: &Receiver<Batch>,
) {
    for (file, path) in files.iter().enumerate() {
        // A pipe may pause for as long as its writer likes (`tail -f … | imagewatch replay -`):
        // what has been read is handed on before a read that may wait.
        let pipe = path.as_os_str() == "-";
        let input: Box<dyn Read> = if pipe {
            Box::new(io::stdin().lock())
        } else {
            match File::open(path) {
                Ok(f) => Box::new(f),
                Err(error) => {
                    let _ = send.send(Handed::Failed { file, error });
                    return;
                }
            }
        };
        let mut reader = LineReader::new(input, format != InputFormat::Ndjson);
        let mut shape = FileShape::default();
        let mut batch = Batch::default();
        loop {
            if pipe && reader.may_read() && !hand_over(&mut batch, &reader, send, returned) {
                return;
            }
            let msg = match reader.next_message() {
                Ok(Some(msg)) => msg,
                Ok(None) => break,
                Err(error) => {
                    // The messages read before the error are replayed, as in one thread.
                    if hand_over(&mut batch, &reader, send, returned) {
                        let _ = send.send(Handed::Failed { file, error });
                    }
                    return;
                }
            };
            shape.note(msg.bytes);
            let start = batch.bytes.len();
            let screened = screen.screen(msg.bytes);
            let m = Screenful {
                bytes: start..start + msg.bytes.len(),
                line_no: msg.line_no,
                lines: msg.lines,
                truncated: msg.truncated,
                screened,
            };
            batch.push(msg.bytes, m);
            if batch.is_full() && !hand_over(&mut batch, &reader, send, returned) {
                return;
            }
        }
        if !hand_over(&mut batch, &reader, send, returned) {
            return;
        }
        let end = Handed::End {
            file,
            consumed: reader.consumed,
            shape,
        };
        if send.send(end).is_err() {
            return;
        }
    }
}

/// Sends `batch` when it holds anything, leaving an empty one (a returned one when there is)
/// in its place. False when the receiving side is gone.
fn hand_over<R>(
    batch: &mut Batch,
    reader: &LineReader<R>,
    send: &SyncSender<Handed>,
    returned: &Receiver<Batch>,
) -> bool {
    if batch.messages.is_empty() {
        return true;
    }
    batch.consumed = reader.consumed;
    let next = returned.try_recv().map(Batch::cleared).unwrap_or_default();
    send.send(Handed::Batch(std::mem::replace(batch, next)))
        .is_ok()
}
