//! The TCP/TLS framer (RFC 6587 octet counting or LF) over arbitrary input delivered in
//! arbitrary chunks: it must never panic, never yield a frame over the limit, always make
//! progress, and yield the same frames however the input is split.

#![no_main]

use bytes::BytesMut;
use imagewatch::SyslogFramer;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

type Frames = (Vec<(Vec<u8>, bool)>, bool);

/// Runs the framer the way `FramedRead` does; the flag says whether it stopped on an error.
fn run(input: &[u8], max: usize, cuts: &[usize]) -> Frames {
    let mut framer = SyslogFramer::new(max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut at = 0;
    let mut cuts = cuts.iter().copied().peekable();
    while at < input.len() {
        let step = cuts.next().unwrap_or(input.len()).max(1);
        let end = (at + step).min(input.len());
        buf.extend_from_slice(&input[at..end]);
        at = end;
        loop {
            let before = buf.len();
            match framer.decode(&mut buf) {
                Ok(Some((frame, truncated))) => {
                    assert!(frame.len() <= max, "frame over the limit");
                    assert!(buf.len() < before, "a frame consumes input");
                    frames.push((frame.to_vec(), truncated));
                }
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
    }
    for _ in 0..=input.len() {
        let before = buf.len();
        match framer.decode_eof(&mut buf) {
            Ok(Some((frame, truncated))) => {
                assert!(frame.len() <= max, "frame over the limit");
                assert!(buf.len() < before, "a frame consumes input");
                frames.push((frame.to_vec(), truncated));
            }
            Ok(None) => return (frames, false),
            Err(_) => return (frames, true),
        }
    }
    panic!("decode_eof never returned None");
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max = usize::from(data[0] % 64) + 1;
    let n_cuts = usize::from(data[1] % 8);
    let cuts: Vec<usize> = data[2..]
        .iter()
        .take(n_cuts)
        .map(|b| usize::from(*b % 16) + 1)
        .collect();
    let input = &data[(2 + n_cuts).min(data.len())..];
    let chunked = run(input, max, &cuts);
    let whole = run(input, max, &[]);
    let bytewise = run(input, max, &vec![1; input.len()]);
    assert_eq!(chunked, whole, "frames depend on how reads are split");
    assert_eq!(bytewise, whole, "frames depend on how reads are split");
});
