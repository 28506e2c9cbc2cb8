//! The TCP and TLS syslog listeners: a connection limit, one task per connection, frames from
//! [`super::framing`]; a full worker queue slows the sender down (back-pressure).

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use crate::serve::worker::now_ms;

use super::framing::SyslogFramer;
use super::listener::{Intake, ListenerExtractor};

pub type TlsAcceptor = tokio_rustls::TlsAcceptor;

/// Accepts connections on `listener` (TLS ones when `tls` is given) until `stop`.
pub async fn tcp(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    intake: Intake,
    stop: CancellationToken,
) {
    let limit = Arc::new(Semaphore::new(intake.limits.max_connections));
    let transport = if tls.is_some() { "tls" } else { "tcp" };
    let intake = Arc::new(intake);
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
            intake.metrics.connections_refused.inc();
            tracing::warn!(%peer, "Connection refused: connection limit reached.");
            continue;
        };
        let intake = Arc::clone(&intake);
        let stop = stop.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            intake.metrics.connections.inc();
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => connection(s, peer, transport, &intake, &stop).await,
                    Err(e) => tracing::warn!(%peer, error = %e, "TLS handshake failed."),
                },
                None => connection(stream, peer, transport, &intake, &stop).await,
            }
            intake.metrics.connections.dec();
            drop(permit);
        });
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    transport: &'static str,
    intake: &Intake,
    stop: &CancellationToken,
) {
    let mut local = ListenerExtractor::new(intake, transport);
    let mut frames = FramedRead::new(stream, SyslogFramer::new(intake.limits.max_line));
    let sender = peer.ip().to_string();
    let idle = intake.limits.idle_timeout;
    loop {
        let next = tokio::select! {
            n = tokio::time::timeout(idle, frames.next()) => n,
            _ = stop.cancelled() => return,
        };
        match next {
            Err(_) => {
                intake.metrics.connections_idle_closed.inc();
                tracing::info!(%peer, "Idle connection closed.");
                return;
            }
            Ok(None) => return,
            Ok(Some(Err(e))) => {
                intake.metrics.parse_failures.inc();
                tracing::warn!(%peer, error = %e, "Bad framing; connection closed.");
                return;
            }
            Ok(Some(Ok((frame, truncated)))) => {
                local
                    .handle_waiting(intake, &frame, truncated, &sender, now_ms())
                    .await;
            }
        }
    }
}
