//! UDP sending for the load generator and the overload test: `sendmmsg(2)` batches from several
//! threads, each with its own socket (its own source port, so a service with several
//! `SO_REUSEPORT` sockets gets the load spread over them), paced to a total rate.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Datagrams per `sendmmsg(2)` call at most.
pub const BATCH: usize = 64;

/// What to send where.
#[derive(Clone, Debug)]
pub struct Plan {
    pub target: String,
    /// Messages per second over all threads; 0: as fast as the threads can.
    pub rate: f64,
    pub secs: f64,
    pub threads: usize,
}

/// What was sent: datagrams that left (`sendmmsg` accepted them) and over how long.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sent {
    pub sent: u64,
    pub secs: f64,
}

impl Sent {
    pub fn rate(&self) -> f64 {
        self.sent as f64 / self.secs.max(1e-9)
    }
}

/// Sends `lines` round-robin (each thread from its own offset) as `plan` says; returns once
/// every thread is done.
pub fn flood(lines: Arc<Vec<Vec<u8>>>, plan: &Plan) -> Sent {
    let threads = plan.threads.max(1);
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let lines = Arc::clone(&lines);
            let plan = plan.clone();
            std::thread::spawn(move || {
                let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
                socket.connect(&plan.target).expect("connect");
                let offset = t * lines.len() / threads;
                let rate = plan.rate / threads as f64;
                pace(&socket, &lines, offset, rate, plan.secs, None, |_, _| {}).sent
            })
        })
        .collect();
    let sent = handles.into_iter().map(|h| h.join().expect("sender")).sum();
    Sent {
        sent,
        secs: start.elapsed().as_secs_f64(),
    }
}

/// Sends `lines` round-robin from `offset` at `rate` per second (0: unpaced) for `secs`, or
/// until `stop` is set; calls `sent` with the index of each line that left and when.
pub fn pace(
    socket: &UdpSocket,
    lines: &[Vec<u8>],
    offset: usize,
    rate: f64,
    secs: f64,
    stop: Option<&AtomicBool>,
    mut sent: impl FnMut(usize, Instant),
) -> Sent {
    let total = if rate > 0.0 {
        (rate * secs) as u64
    } else {
        u64::MAX
    };
    let start = Instant::now();
    let mut i: u64 = 0;
    let mut idx = Vec::with_capacity(BATCH);
    let mut refused = 0u32;
    while i < total {
        let elapsed = start.elapsed().as_secs_f64();
        // Unpaced: until `secs`. Paced: the last batch is due at `secs`; a sender that cannot
        // keep up stops a little later anyway (the achieved rate says by how much it fell short).
        let limit = if rate > 0.0 { secs + 0.1 } else { secs };
        if elapsed >= limit || stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
        let due = if rate > 0.0 {
            ((elapsed * rate) as u64).min(total)
        } else {
            i + BATCH as u64
        };
        if i >= due {
            std::thread::sleep(Duration::from_micros(50));
            continue;
        }
        let n = ((due - i) as usize).min(BATCH);
        idx.clear();
        idx.extend((0..n as u64).map(|k| ((offset as u64 + i + k) % lines.len() as u64) as usize));
        let done = send_batch(socket, lines, &idx);
        let now = Instant::now();
        for &x in &idx[..done] {
            sent(x, now);
        }
        i += done as u64;
        if done == 0 {
            // Socket buffer full (ENOBUFS/EAGAIN) or an ICMP refusal (nobody listening): a
            // send failure, not a drop by the service; retry, so only datagrams that left count.
            refused += 1;
            if refused.is_multiple_of(1024) {
                std::thread::sleep(Duration::from_millis(1));
            } else {
                std::thread::yield_now();
            }
        }
    }
    Sent {
        sent: i,
        secs: start.elapsed().as_secs_f64(),
    }
}

/// One `sendmmsg(2)` on a connected socket; returns how many datagrams left.
pub fn send_batch(socket: &UdpSocket, lines: &[Vec<u8>], idx: &[usize]) -> usize {
    let mut iov: Vec<libc::iovec> = idx
        .iter()
        .map(|&x| libc::iovec {
            iov_base: lines[x].as_ptr() as *mut libc::c_void,
            iov_len: lines[x].len(),
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = iov
        .iter_mut()
        .map(|v| {
            // SAFETY: an all-zero msghdr is valid (no name, no control data).
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_iov = v as *mut libc::iovec;
            h.msg_iovlen = 1;
            libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            }
        })
        .collect();
    // SAFETY: `msgs` and the iovecs and buffers it points to outlive the call; the socket is
    // connected, so no destination address is needed.
    let r = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            msgs.as_mut_ptr(),
            msgs.len() as libc::c_uint,
            0,
        )
    };
    if r < 0 { 0 } else { r as usize }
}
