//! The UDP syslog listener: one receive thread per socket reads datagrams in batches, one
//! message per datagram; a full worker queue drops the datagram's signal (counted).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::time::now_ms;

use super::listener::{Intake, ListenerExtractor};
use super::recv;

/// How long a UDP receive thread blocks before it looks at the stop token.
const UDP_POLL: Duration = Duration::from_millis(100);
/// How often a UDP receive thread reads its socket's kernel drop count while busy.
const DROPS_EVERY: Duration = Duration::from_millis(100);

/// Starts the receive thread of one UDP socket; the handle finishes when the thread has.
///
/// A plain thread (not a task) blocks in `recvmmsg`, so a busy socket is read in batches with
/// no wake-up per datagram. It stops on `stop`, or when the workers are gone (the runtime was
/// dropped without a shutdown).
pub fn spawn_udp(
    socket: std::net::UdpSocket,
    index: usize,
    intake: Intake,
    stop: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(format!("udp-recv-{index}"))
        .spawn(move || {
            udp_thread(&socket, &intake, &stop);
            let _ = done_tx.send(());
        })?;
    Ok(tokio::spawn(async move {
        let _ = done_rx.await;
    }))
}

fn udp_thread(socket: &std::net::UdpSocket, intake: &Intake, stop: &CancellationToken) {
    let mut local = ListenerExtractor::new(intake, "udp");
    let mut batch = recv::Batch::new(RECV_BATCH, intake.limits.max_line.min(recv::MAX_DATAGRAM));
    let mut senders = SenderNames::default();
    let mut drops = recv::KernelDrops::new(socket);
    let mut last_drops = Instant::now();
    let gone = || stop.is_cancelled() || intake.workers_gone();
    loop {
        let got = batch.recv(socket);
        if last_drops.elapsed() >= DROPS_EVERY || got.is_err() {
            intake
                .metrics
                .udp_kernel_dropped
                .inc_by(drops.new_drops(socket));
            last_drops = Instant::now();
        }
        let n = match got {
            Ok(n) => n,
            Err(e) => {
                if gone() {
                    return;
                }
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) {
                    tracing::warn!(error = %e, "UDP receive failed.");
                    std::thread::sleep(UDP_POLL);
                }
                continue;
            }
        };
        local.received.inc_by(n as u64);
        local.follow(intake);
        // One clock read per batch: every datagram of it had arrived by the time of the call.
        let arrival = now_ms();
        for i in 0..n {
            let (bytes, truncated, from) = batch.datagram(i);
            let sender = senders.name(from);
            local.handle_datagram(intake, bytes, truncated, &sender, arrival);
        }
        local.flush_senders(intake, arrival);
        if gone() {
            return;
        }
    }
}

/// Datagrams read per `recvmmsg(2)` call at most.
const RECV_BATCH: usize = 64;

/// Sender addresses as text, kept so a datagram costs no formatting (bounded: cleared when
/// it grows past [`SenderNames::MAX`] addresses). Consecutive datagrams from one sender (a
/// burst) skip the lookup.
#[derive(Default)]
struct SenderNames {
    names: HashMap<IpAddr, Arc<str>>,
    last: Option<(IpAddr, Arc<str>)>,
}

impl SenderNames {
    const MAX: usize = 65536;

    fn name(&mut self, ip: IpAddr) -> Arc<str> {
        if let Some((last, name)) = &self.last
            && *last == ip
        {
            return Arc::clone(name);
        }
        if self.names.len() >= Self::MAX && !self.names.contains_key(&ip) {
            self.names.clear();
        }
        let name = Arc::clone(
            self.names
                .entry(ip)
                .or_insert_with(|| ip.to_string().into()),
        );
        self.last = Some((ip, Arc::clone(&name)));
        name
    }
}

/// Binds `count` UDP sockets to `addr` (with `SO_REUSEPORT` when more than one, so the kernel
/// spreads senders over them), each with a receive buffer of `recv_buffer` bytes if the kernel
/// grants it. With port 0 the first socket picks the port and the others join it.
pub fn bind_udp(
    addr: SocketAddr,
    count: usize,
    recv_buffer: usize,
) -> std::io::Result<Vec<std::net::UdpSocket>> {
    let mut sockets: Vec<std::net::UdpSocket> = Vec::with_capacity(count.max(1));
    let mut at = addr;
    if count > 1 {
        // With SO_REUSEPORT a bind succeeds next to another process's sockets of the same
        // user, which would then get part of the traffic. A plain bind first fails on a port
        // in use, as with one socket, and picks the port when it is 0.
        let probe = std::net::UdpSocket::bind(addr)?;
        at = probe.local_addr()?;
    }
    for _ in 0..count.max(1) {
        let socket = recv::udp_socket(at, count > 1)?;
        let granted = recv::set_recv_buffer(&socket, recv_buffer);
        if granted < recv_buffer && sockets.is_empty() {
            tracing::warn!(
                requested = recv_buffer,
                granted,
                "UDP receive buffer smaller than configured: the kernel caps it at net.core.rmem_max \
                 (raise it, e.g. sysctl -w net.core.rmem_max={recv_buffer}); bursts beyond it are dropped and counted in imagewatch_udp_kernel_dropped_total."
            );
        }
        if sockets.is_empty() {
            at = socket.local_addr()?;
        }
        sockets.push(socket);
    }
    Ok(sockets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_sockets_share_one_port_and_never_join_someone_elses() {
        let sockets = bind_udp("127.0.0.1:0".parse().unwrap(), 3, 1 << 20).unwrap();
        let port = sockets[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        assert!(
            sockets
                .iter()
                .all(|s| s.local_addr().unwrap().port() == port)
        );
        let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let err = bind_udp(taken.local_addr().unwrap(), 2, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        // Nor a group of ours: a second service on the same port fails as with one socket.
        let err = bind_udp(sockets[0].local_addr().unwrap(), 2, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    }
}
