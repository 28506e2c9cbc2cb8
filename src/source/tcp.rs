//! The TCP and TLS syslog listeners: a connection limit, one task per connection, frames from
//! [`super::framing`] joined into messages by [`super::continuation`] (the rule files and
//! stdin follow); a full worker queue slows the sender down (back-pressure).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::time::now_ms;

use super::continuation::StreamJoiner;
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
    // Connections are tracked so the listener finishes only once each has handed over its
    // last (held) message: the service stops its workers after its listeners.
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.cancelled() => {
                connections.close();
                connections.wait().await;
                return;
            }
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
        connections.spawn(async move {
            intake.metrics.connections.inc();
            match tls {
                // The handshake has a time limit: a client that connects and never finishes
                // it would otherwise hold a connection slot for good.
                Some(acceptor) => match tokio::select! {
                    r = tokio::time::timeout(
                        intake.limits.tls_handshake_timeout,
                        acceptor.accept(stream),
                    ) => r,
                    // A handshake still under way when the service stops has sent nothing yet.
                    _ = stop.cancelled() => Ok(Err(std::io::Error::other("service stopping"))),
                } {
                    Ok(Ok(s)) => connection(s, peer, transport, &intake, &stop).await,
                    Ok(Err(e)) => tracing::warn!(%peer, error = %e, "TLS handshake failed."),
                    Err(_) => {
                        intake.metrics.tls_handshakes_timed_out.inc();
                        tracing::warn!(%peer, "TLS handshake timed out; connection closed.");
                    }
                },
                None => connection(stream, peer, transport, &intake, &stop).await,
            }
            intake.metrics.connections.dec();
            drop(permit);
        });
    }
}

/// How long a message is held for a continuation line once the connection has gone quiet. The
/// lines of a multi-line message are written together, so their continuation arrives with
/// them or within milliseconds; on a busy connection the next message's header ends the wait
/// at once. This bounds the latency a quiet connection adds to its last message.
pub const CONTINUATION_WAIT: Duration = Duration::from_millis(100);

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    transport: &'static str,
    intake: &Intake,
    stop: &CancellationToken,
) {
    let mut local = ListenerExtractor::new(intake, transport);
    let mut frames = FramedRead::new(stream, SyslogFramer::new(intake.limits.max_line));
    let mut joiner = StreamJoiner::new(intake.limits.max_line);
    let sender = peer.ip().to_string();
    let idle = intake.limits.idle_timeout;
    loop {
        let wait = if joiner.holding() {
            CONTINUATION_WAIT
        } else {
            idle
        };
        let next = tokio::select! {
            n = tokio::time::timeout(wait, frames.next()) => n,
            _ = stop.cancelled() => Ok(None),
        };
        let frame = match next {
            Err(_) if joiner.holding() => None,
            Err(_) => {
                local.flush_senders(intake, now_ms());
                intake.metrics.connections_idle_closed.inc();
                tracing::info!(%peer, "Idle connection closed.");
                return;
            }
            Ok(Some(Ok(frame))) => Some(frame),
            Ok(None) => {
                // The sender is gone (or the service stops): what it sent last is complete.
                if let Some(m) = joiner.flush() {
                    local
                        .handle_waiting(intake, m.bytes, m.truncated, &sender, m.arrival)
                        .await;
                }
                local.flush_senders(intake, now_ms());
                return;
            }
            Ok(Some(Err(e))) => {
                if let Some(m) = joiner.flush() {
                    local
                        .handle_waiting(intake, m.bytes, m.truncated, &sender, m.arrival)
                        .await;
                }
                local.flush_senders(intake, now_ms());
                intake.metrics.parse_failures.inc();
                tracing::warn!(%peer, error = %e, "Bad framing; connection closed.");
                return;
            }
        };
        let complete = match &frame {
            Some((bytes, truncated)) => joiner.push(bytes, *truncated, now_ms()),
            // Quiet for CONTINUATION_WAIT: nothing more will continue the held message.
            None => joiner.flush(),
        };
        if let Some(m) = complete {
            local
                .handle_waiting(intake, m.bytes, m.truncated, &sender, m.arrival)
                .await;
        }
        if frame.is_none() {
            // Quiet: what this connection sent so far shows in the coverage report.
            local.flush_senders(intake, now_ms());
        }
    }
}
