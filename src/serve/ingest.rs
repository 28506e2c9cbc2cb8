//! Syslog listeners: UDP, TCP and TLS. Each extracts signals itself (noise stops here) and
//! hands them to the worker that owns the device. A full queue drops UDP datagrams (counted)
//! and slows TCP senders down (back-pressure).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Semaphore;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::pipeline::{Extractor, Origin, Receipt};
use crate::source::InputFormat;

use super::framing::SyslogFramer;
use super::telemetry::{KindLabel, TransportLabel};
use super::worker::{Job, now_ms, shard};
use super::{Configured, Shared};

/// A per-listener extractor that follows rule reloads.
struct LocalExtractor {
    seen: Arc<Configured>,
    extractor: Extractor,
    transport: &'static str,
    last_unparsed: u64,
}

impl LocalExtractor {
    fn new(shared: &Shared, transport: &'static str) -> Self {
        let seen = shared.configured.load_full();
        let extractor = Extractor::new(
            Arc::clone(&seen.classifier),
            Arc::clone(&seen.inventory),
            seen.wanted.clone(),
            InputFormat::Syslog,
        );
        LocalExtractor {
            seen,
            extractor,
            transport,
            last_unparsed: 0,
        }
    }

    /// Extracts one message and routes its signal; false when the queue refused it (UDP).
    async fn handle(
        &mut self,
        shared: &Shared,
        bytes: &[u8],
        truncated: bool,
        sender: &str,
        wait: bool,
    ) -> bool {
        let current = shared.configured.load();
        if !Arc::ptr_eq(&self.seen, &current) {
            self.seen = current.clone();
            self.extractor.reconfigure(
                Arc::clone(&self.seen.classifier),
                Arc::clone(&self.seen.inventory),
                self.seen.wanted.clone(),
            );
        }
        let m = &shared.metrics;
        m.lines_received
            .get_or_create(&TransportLabel {
                transport: self.transport,
            })
            .inc();
        if truncated {
            m.truncated_lines.inc();
        }
        let origin = Origin {
            file: self.transport,
            line: 0,
        };
        let receipt = Receipt {
            arrival: Some(now_ms()),
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
            return true;
        };
        m.signals
            .get_or_create(&KindLabel {
                kind: signal.kind.as_str(),
            })
            .inc();
        let worker = &shared.workers[shard(&signal.device, shared.workers.len())];
        if wait {
            m.queue_depth.inc();
            if worker.send(Job::Signal(Box::new(signal))).await.is_err() {
                m.queue_depth.dec();
            }
            true
        } else {
            match worker.try_send(Job::Signal(Box::new(signal))) {
                Ok(()) => {
                    m.queue_depth.inc();
                    true
                }
                Err(_) => {
                    m.udp_dropped.inc();
                    false
                }
            }
        }
    }
}

pub async fn udp(socket: UdpSocket, shared: Arc<Shared>, stop: CancellationToken) {
    let mut local = LocalExtractor::new(&shared, "udp");
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    let max = shared.config.max_line.min(n);
                    let sender = from.ip().to_string();
                    local.handle(&shared, &buf[..max], n > max, &sender, false).await;
                }
                Err(e) => tracing::warn!(error = %e, "UDP receive failed."),
            },
            _ = stop.cancelled() => return,
        }
    }
}

/// Binds a UDP socket with a large receive buffer (syslog bursts at reload time).
pub fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = socket.set_recv_buffer_size(8 << 20);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
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
                local.handle(shared, &frame, truncated, &sender, true).await;
            }
        }
    }
}
