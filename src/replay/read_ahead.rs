//! Reading ahead of the engine: a thread reads the input files in order and cuts them into
//! batches of messages; screening workers, one batch each in turn, screen every message
//! (framing, literal prefilter, classification and a key of its sender, see [`Screen`]); the
//! replay's own thread takes the batches back in input order and does the rest. Screening
//! depends on no earlier line, so the alerts are those of one thread, while the bulk of a
//! replay's work runs on every core.

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
/// few enough hand-overs that waking the other threads costs little (64 KiB batches spent 3%
/// of the CPU there).
const BATCH_BYTES: usize = 512 << 10;
pub(super) const BATCH_MESSAGES: usize = 4096;
/// Batches queued before and after each screening worker: enough to ride out a slow stretch
/// on either side.
const IN_FLIGHT: usize = 2;
/// Screening workers at most.
const MAX_WORKERS: usize = 4;

/// One message of a batch: where its bytes are, where it came from, what screening made of it.
pub struct Screenful {
    bytes: Range<usize>,
    pub line_no: u64,
    pub lines: u32,
    pub truncated: bool,
    /// `Blank` until a screening worker has seen the batch.
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

    fn push(&mut self, message: &[u8], line_no: u64, lines: u32, truncated: bool) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(message);
        self.messages.push(Screenful {
            bytes: start..self.bytes.len(),
            line_no,
            lines,
            truncated,
            screened: Screened::Blank,
        });
    }

    /// Screens every message of the batch.
    fn screen(&mut self, screen: &mut Screen) {
        for m in &mut self.messages {
            m.screened = screen.screen(&self.bytes[m.bytes.clone()]);
        }
    }

    fn is_full(&self) -> bool {
        self.bytes.len() >= BATCH_BYTES || self.messages.len() >= BATCH_MESSAGES
    }
}

/// What the reading side hands over, in input order.
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

/// The reading thread, the screening workers (first in `threads`, by lane) and the ends of
/// their channels. Everything the
/// reader sends goes through one worker, in turn, so taking from the workers in the same turn
/// gives input order back. Dropping it (a replay that stops early) ends every thread at its
/// next hand-over.
pub struct ReadAhead {
    lanes: Vec<Receiver<Handed>>,
    next: usize,
    /// The lane found closed, which ended the input.
    closed: Option<usize>,
    /// Emptied batches go back to the reader, so that their buffers are reused.
    recycle: SyncSender<Batch>,
    threads: Vec<JoinHandle<()>>,
}

impl ReadAhead {
    /// The next thing handed over, in input order; None once everything is (or a worker
    /// stopped: [`ReadAhead::join`] tells).
    pub fn next(&mut self) -> Option<Handed> {
        let Ok(handed) = self.lanes[self.next].recv() else {
            self.closed = Some(self.next);
            return None;
        };
        self.next = (self.next + 1) % self.lanes.len();
        Some(handed)
    }

    /// Gives an emptied batch back for reuse (the reader makes a new one when none comes
    /// back).
    pub fn recycle(&self, batch: Batch) {
        let _ = self.recycle.try_send(batch);
    }

    /// Lets every thread go and waits for them; a panic in one is raised again here. The
    /// worker whose lane closed is waited for first: when it panicked, the others may wait
    /// for a reader that waits for stdin, so its panic is raised without waiting for them.
    pub fn join(self) {
        let ReadAhead {
            lanes,
            closed,
            recycle,
            mut threads,
            ..
        } = self;
        drop(lanes);
        drop(recycle);
        if let Some(worker) = closed
            && let Err(panic) = threads.remove(worker).join()
        {
            std::panic::resume_unwind(panic);
        }
        let mut panicked = None;
        for thread in threads {
            if let Err(panic) = thread.join() {
                panicked.get_or_insert(panic);
            }
        }
        if let Some(panic) = panicked {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Screening workers for this machine: one per core but the replay thread's own, at least one
/// and at most [`MAX_WORKERS`]. The reading thread mostly waits on reads and hand-overs; one
/// more busy thread than cores costs more than it gives: on 2 cores, two workers made the
/// replay 1.25x slower in wall time than one (medians of 11 interleaved runs).
pub fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1).clamp(1, MAX_WORKERS))
}

/// Starts the reading thread and `workers` screening workers (at least one; see [`workers`]),
/// each with a twin of `screen`, whose format the reader frames by.
pub fn start(files: Vec<PathBuf>, screen: &Screen, workers: usize) -> io::Result<ReadAhead> {
    let format = screen.format();
    let workers = workers.max(1);
    let (recycle, returned) = sync_channel(workers * 2 * IN_FLIGHT + 1);
    let mut inputs = Vec::new();
    let mut lanes = Vec::new();
    let mut threads = Vec::new();
    for n in 0..workers {
        let (to_worker, input) = sync_channel::<Handed>(IN_FLIGHT);
        let (output, lane) = sync_channel::<Handed>(IN_FLIGHT);
        let mut screen = screen.twin();
        let worker = std::thread::Builder::new()
            .name(format!("replay-screen-{n}"))
            .spawn(move || {
                for mut handed in input {
                    if let Handed::Batch(batch) = &mut handed {
                        batch.screen(&mut screen);
                    }
                    if output.send(handed).is_err() {
                        return;
                    }
                }
            })?;
        threads.push(worker);
        inputs.push(to_worker);
        lanes.push(lane);
    }
    let reader = std::thread::Builder::new()
        .name("replay-read".to_string())
        .spawn(move || {
            let mut lanes = Lanes {
                inputs,
                next: 0,
                returned,
            };
            read_all(&files, format, &mut lanes);
        })?;
    threads.push(reader);
    Ok(ReadAhead {
        lanes,
        next: 0,
        closed: None,
        recycle,
        threads,
    })
}

/// The reader's side of the workers' inputs, taken in turn.
struct Lanes {
    inputs: Vec<SyncSender<Handed>>,
    next: usize,
    returned: Receiver<Batch>,
}

impl Lanes {
    /// False when the receiving side is gone.
    fn send(&mut self, handed: Handed) -> bool {
        let sent = self.inputs[self.next].send(handed).is_ok();
        self.next = (self.next + 1) % self.inputs.len();
        sent
    }

    /// Sends `batch` when it holds anything, leaving an empty one (a returned one when there
    /// is) in its place. False when the receiving side is gone.
    fn hand_over<R>(&mut self, batch: &mut Batch, reader: &LineReader<R>) -> bool {
        if batch.messages.is_empty() {
            return true;
        }
        batch.consumed = reader.consumed;
        let next = self
            .returned
            .try_recv()
            .map(Batch::cleared)
            .unwrap_or_default();
        self.send(Handed::Batch(std::mem::replace(batch, next)))
    }
}

/// Reads every file in turn; returns early when the receiving side is gone.
fn read_all(files: &[PathBuf], format: InputFormat, lanes: &mut Lanes) {
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
                    lanes.send(Handed::Failed { file, error });
                    return;
                }
            }
        };
        let mut reader = LineReader::new(input, format != InputFormat::Ndjson);
        let mut shape = FileShape::default();
        let mut batch = Batch::default();
        loop {
            if pipe && reader.may_read() && !lanes.hand_over(&mut batch, &reader) {
                return;
            }
            let msg = match reader.next_message() {
                Ok(Some(msg)) => msg,
                Ok(None) => break,
                Err(error) => {
                    // The messages read before the error are replayed, as in one thread.
                    if lanes.hand_over(&mut batch, &reader) {
                        lanes.send(Handed::Failed { file, error });
                    }
                    return;
                }
            };
            shape.note(msg.bytes);
            batch.push(msg.bytes, msg.line_no, msg.lines, msg.truncated);
            if batch.is_full() && !lanes.hand_over(&mut batch, &reader) {
                return;
            }
        }
        if !lanes.hand_over(&mut batch, &reader) {
            return;
        }
        let end = Handed::End {
            file,
            consumed: reader.consumed,
            shape,
        };
        if !lanes.send(end) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::SignalKind;
    use crate::config::{RuleSource, load};
    use std::sync::Arc;

    /// Batches go to the workers in turn and come back in input order whatever their count:
    /// every message once, in order, screened as one screen would, then the file's end.
    #[test]
    fn batches_from_several_workers_come_back_in_input_order() {
        let loaded = load(&RuleSource::new(None), None).expect("built-in rules load");
        let focus = Arc::new(loaded.classifier.focus(&[SignalKind::Reload]));
        let screen = Screen::new(Arc::new(loaded.classifier), focus, InputFormat::Auto);
        let mut one = screen.twin();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.log");
        let lines: Vec<String> = (0..5 * BATCH_MESSAGES + 17)
            .map(|i| match i % 97 {
                0 => format!("<189>{i}: r{i}: Jun  1 00:00:00 UTC: %SYS-5-RELOAD: Reload requested by admin on vty0."),
                _ => format!("<189>{i}: r{i}: Jun  1 00:00:00 UTC: %LINK-3-UPDOWN: Interface Gi0/{i}, changed state to up"),
            })
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        for workers in [1, 3] {
            let mut ahead = start(vec![path.clone()], &screen, workers).expect("threads start");
            let (mut seen, mut batches, mut ended) = (0usize, 0, false);
            while let Some(handed) = ahead.next() {
                match handed {
                    Handed::Batch(mut batch) => {
                        assert!(!ended, "nothing after the end");
                        batches += 1;
                        for (bytes, m) in batch.drain() {
                            assert_eq!(m.line_no, seen as u64 + 1, "{workers} workers");
                            assert_eq!(bytes, lines[seen].as_bytes());
                            let want = matches!(
                                one.screen(bytes),
                                Screened::Text {
                                    classified: Some(_),
                                    ..
                                }
                            );
                            let got = matches!(
                                m.screened,
                                Screened::Text {
                                    classified: Some(_),
                                    ..
                                }
                            );
                            assert_eq!(got, want, "line {}", m.line_no);
                            seen += 1;
                        }
                        ahead.recycle(batch);
                    }
                    Handed::End { file, .. } => {
                        assert_eq!(file, 0);
                        ended = true;
                    }
                    Handed::Failed { error, .. } => panic!("{error}"),
                }
            }
            ahead.join();
            assert!(
                ended && seen == lines.len(),
                "{workers} workers: {seen} of {}",
                lines.len()
            );
            assert!(batches > 3, "several batches: {batches}");
        }
    }
}
