//! Syslog listeners: UDP, TCP and TLS. Each extracts signals itself (noise stops here) and
//! hands them to the worker that owns the device. A full queue drops UDP datagrams (counted)
//! and slows TCP senders down (back-pressure).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::pipeline::{Extractor, Origin, Receipt};
use crate::source::InputFormat;

use super::framing::SyslogFramer;
use super::recv;
use super::telemetry::{KindLabel, TransportLabel};
use super::worker::{Job, now_ms, shard};
use super::{Configured, Shared};

/// A per-listener extractor that follows rule reloads.
struct LocalExtractor {
    seen: Arc<Configured>,
    extractor: Extractor,
    transport: &'static str,
    last_unparsed: u64,
    /// This listener's samples of the per-transport counters (no family lookup per line).
    received: Counter,
    processed: Counter,
}

impl LocalExtractor {
    fn new(shared: &Shared, transport: &'static str) -> Self {
        let seen = shared.configured.load_full();
        let extractor = Extractor::new(
            Arc::clone(&seen.classifier),
            Arc::clone(&seen.inventory),
            Arc::clone(&seen.focus),
            InputFormat::Syslog,
        );
        let label = TransportLabel { transport };
        let m = &shared.metrics;
        LocalExtractor {
            seen,
            extractor,
            transport,
            last_unparsed: 0,
            received: m.lines_received.get_or_create(&label).clone(),
            processed: m.lines_processed.get_or_create(&label).clone(),
        }
    }

    /// Picks up reloaded rules.
    fn follow(&mut self, shared: &Shared) {
        let current = shared.configured.load();
        if !Arc::ptr_eq(&self.seen, &current) {
            self.seen = current.clone();
            self.extractor.reconfigure(
                Arc::clone(&self.seen.classifier),
                Arc::clone(&self.seen.inventory),
                Arc::clone(&self.seen.focus),
            );
        }
    }

    /// Extracts one received message: its signal and the worker it goes to, or None for noise
    /// (counted as processed here).
    fn extract(
        &mut self,
        shared: &Shared,
        bytes: &[u8],
        truncated: bool,
        sender: &str,
        arrival: i64,
    ) -> Option<(usize, Job)> {
        let m = &shared.metrics;
        if truncated {
            m.truncated_lines.inc();
        }
        let origin = Origin {
            file: self.transport,
            line: 0,
        };
        let receipt = Receipt {
            arrival: Some(arrival),
            sender: Some(sender),
        };
        let got = self.extractor.extract(bytes, 1, &origin, receipt);
        let stats = &self.extractor.stats;
        if stats.unparsed != self.last_unparsed {
            m.parse_failures.inc_by(stats.unparsed - self.last_unparsed);
            self.last_unparsed = stats.unparsed;
            self.extractor.problems.clear();
        }
        let Some(signal) = got.signal else {
            self.processed.inc();
            return None;
        };
        m.signals
            .get_or_create(&KindLabel {
                kind: signal.kind.as_str(),
            })
            .inc();
        let worker = shard(&signal.device, shared.workers.len());
        Some((worker, Job::Signal(Box::new(signal), self.transport)))
    }

    /// One message from a stream: waits for room in the queue (back-pressure).
    async fn handle_waiting(
        &mut self,
        shared: &Shared,
        bytes: &[u8],
        truncated: bool,
        sender: &str,
    ) {
        self.follow(shared);
        self.received.inc();
        if let Some((worker, job)) = self.extract(shared, bytes, truncated, sender, now_ms()) {
            shared.metrics.queue_depth.inc();
            if shared.workers[worker].send(job).await.is_err() {
                shared.metrics.queue_depth.dec();
            }
        }
    }

    /// One datagram: a full queue drops its signal (counted); false then.
    fn handle_datagram(
        &mut self,
        shared: &Shared,
        bytes: &[u8],
        truncated: bool,
        sender: &str,
        arrival: i64,
    ) -> bool {
        let Some((worker, job)) = self.extract(shared, bytes, truncated, sender, arrival) else {
            return true;
        };
        // Counted before the send: the worker may take the job (and decrement) at once.
        shared.metrics.queue_depth.inc();
        match shared.workers[worker].try_send(job) {
            Ok(()) => true,
            Err(_) => {
                shared.metrics.queue_depth.dec();
                shared.metrics.udp_dropped.inc();
                false
            }
        }
    }
}

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
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(format!("udp-recv-{index}"))
        .spawn(move || {
            udp_thread(&socket, &shared, &stop);
            let _ = done_tx.send(());
        })?;
    Ok(tokio::spawn(async move {
        let _ = done_rx.await;
    }))
}

fn udp_thread(socket: &std::net::UdpSocket, shared: &Shared, stop: &CancellationToken) {
    let mut local = LocalExtractor::new(shared, "udp");
    let mut batch = recv::Batch::new(RECV_BATCH, shared.config.max_line.min(recv::MAX_DATAGRAM));
    let mut senders = SenderNames::default();
    let mut drops = recv::KernelDrops::new(socket);
    let mut last_drops = Instant::now();
    let gone = || stop.is_cancelled() || shared.workers.iter().all(|w| w.is_closed());
    loop {
        let got = batch.recv(socket);
        if last_drops.elapsed() >= DROPS_EVERY || got.is_err() {
            shared
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
        local.follow(shared);
        // One clock read per batch: every datagram of it had arrived by the time of the call.
        let arrival = now_ms();
        for i in 0..n {
            let (bytes, truncated, from) = batch.datagram(i);
            let sender = senders.name(from);
            local.handle_datagram(shared, bytes, truncated, &sender, arrival);
        }
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

pub type TlsAcceptor = tokio_rustls::TlsAcceptor;

pub async fn tcp(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(shared.config.max_connections));
    let transport = if tls.is_some() { "tls" } else { "tcp" };
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "TCP accept failed.");
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            shared.metrics.connections_refused.inc();
            tracing::warn!(%peer, "Connection refused: connection limit reached.");
            continue;
        };
        let shared = Arc::clone(&shared);
        let stop = stop.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            shared.metrics.connections.inc();
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => connection(s, peer, transport, &shared, &stop).await,
                    Err(e) => tracing::warn!(%peer, error = %e, "TLS handshake failed."),
                },
                None => connection(stream, peer, transport, &shared, &stop).await,
            }
            shared.metrics.connections.dec();
            drop(permit);
        });
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    transport: &'static str,
    shared: &Arc<Shared>,
    stop: &CancellationToken,
) {
    let mut local = LocalExtractor::new(shared, transport);
    let mut frames = FramedRead::new(stream, SyslogFramer::new(shared.config.max_line));
    let sender = peer.ip().to_string();
    let idle = Duration::from_secs(shared.config.idle_timeout_secs);
    loop {
        let next = tokio::select! {
            n = tokio::time::timeout(idle, frames.next()) => n,
            _ = stop.cancelled() => return,
        };
        match next {
            Err(_) => {
                shared.metrics.connections_idle_closed.inc();
                tracing::info!(%peer, "Idle connection closed.");
                return;
            }
            Ok(None) => return,
            Ok(Some(Err(e))) => {
                shared.metrics.parse_failures.inc();
                tracing::warn!(%peer, error = %e, "Bad framing; connection closed.");
                return;
            }
            Ok(Some(Ok((frame, truncated)))) => {
                local
                    .handle_waiting(shared, &frame, truncated, &sender)
                    .await;
            }
        }
    }
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
