//! The syslog TLS listener's handshake limit: a client that connects and never finishes its
//! handshake is disconnected after `tls_handshake_timeout_secs`, freeing its connection slot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use imagewatch::serve::{self, ServeConfig};
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::service::config;

/// A TLS connector that trusts only the CA given as PEM.
pub fn connector(ca_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(client))
}

/// With one connection slot and a 1 s handshake limit, a client that sends the first bytes of
/// a ClientHello and then nothing is closed within the limit, and a normal client then gets
/// the slot, completes its handshake and is heard. Before the limit the stalled client held
/// the only slot for good and every later client was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_tls_handshake_is_closed_and_frees_its_slot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (ca, cert, key) = super::api_tls::ca_and_server_cert();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let running = serve::start(ServeConfig {
        udp: None,
        tcp: None,
        tls: Some("127.0.0.1:0".parse().unwrap()),
        tls_cert: Some(dir.join("cert.pem")),
        tls_key: Some(dir.join("key.pem")),
        max_connections: 1,
        tls_handshake_timeout_secs: 1,
        ..config(dir)
    })
    .await
    .expect("the service starts");
    let addr = running.tls.unwrap();

    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    // A TLS record header announcing a ClientHello of 200 bytes, then silence.
    stalled
        .write_all(&[0x16, 0x03, 0x01, 0x00, 0xc8])
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(4), async {
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    let waited = started.elapsed();
    assert!(
        closed.is_ok(),
        "the stalled client is still connected after {waited:?}"
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "closed after {waited:?}, not after the 1 s limit"
    );
    let metrics = &running.shared.metrics;
    // The socket closes as the handshake is abandoned, a moment before the count is taken.
    let counted = super::service::eventually(Duration::from_secs(2), async || {
        (metrics.tls_handshakes_timed_out.get() == 1).then_some(())
    })
    .await;
    assert!(counted.is_some(), "the timed-out handshake is counted");

    // The slot is free again: a normal client completes its handshake and is heard.
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector(&ca)
        .connect(name, tcp)
        .await
        .expect("the handshake succeeds once the slot is free");
    let line = "<189>1: rtr-0042: %SYS-5-CONFIG_I: Configured from console by jdoe";
    tls.write_all(format!("{} {line}", line.len()).as_bytes())
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let label = imagewatch::telemetry::TransportLabel { transport: "tls" };
    let heard = super::service::eventually(Duration::from_secs(5), async || {
        (metrics.lines_received.get_or_create(&label).get() == 1).then_some(())
    })
    .await;
    assert!(heard.is_some(), "the line over TLS was received");
    assert_eq!(metrics.connections_refused.get(), 0);
    tls.shutdown().await.unwrap();
    running.shutdown().await;
}
