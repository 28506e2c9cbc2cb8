//! The webhook as a SIEM's ingest client, against real receivers on 127.0.0.1: a request
//! header read from a file (and never logged, even when delivery fails), mutual TLS with a CA
//! and a client certificate made here, and batches (JSON array, NDJSON, Elasticsearch
//! `_bulk`) of native or ECS records.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagewatch::serve::{self, ServeConfig};
use imagewatch::{AlertFormat, Batch};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::service::{config, eventually, file_alerts, free_port, swap, terminate};

/// One request a receiver got: its headers (lower-case names) and body.
#[derive(Clone, Debug)]
struct Got {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Records every request; answers `refuse_first` of them with 401, the rest with `answer`.
#[derive(Default)]
struct Receiver {
    refuse_first: usize,
    seen: AtomicUsize,
    answer: Mutex<Option<String>>,
    got: Mutex<Vec<Got>>,
}

async fn receive(
    axum::extract::State(r): axum::extract::State<Arc<Receiver>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, String) {
    let n = r.seen.fetch_add(1, Ordering::SeqCst);
    if n < r.refuse_first {
        return (axum::http::StatusCode::UNAUTHORIZED, String::new());
    }
    let headers = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    r.got.lock().unwrap().push(Got {
        headers,
        body: body.to_vec(),
    });
    let answer = r.answer.lock().unwrap().clone().unwrap_or_default();
    (axum::http::StatusCode::OK, answer)
}

async fn start_receiver(r: Arc<Receiver>, port: u16) -> tokio::task::JoinHandle<()> {
    let app = axum::Router::new()
        .route("/{*path}", axum::routing::post(receive))
        .with_state(r);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

/// A swap on each of `n` devices: each raises one critical alert.
fn swaps(n: usize) -> Vec<String> {
    (0..n)
        .flat_map(|i| {
            swap(
                &format!("edge-07{i:02}"),
                "c1900-universalk9-mz.SPA.157-3.M9.bin",
                "203.0.113.45",
                "15.7(3)M9",
                "jdoe",
            )
        })
        .collect()
}

async fn send_tcp(addr: SocketAddr, lines: &[String]) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    for l in lines {
        s.write_all(format!("{l}\n").as_bytes()).await.unwrap();
    }
    s.shutdown().await.unwrap();
}

const SECRET: &str = "Splunk 5ecr3t-hec-token-1601";

/// `webhook_header_files` puts the file's value in the `Authorization` header of every request;
/// the service's log at its most verbose (`RUST_LOG=trace`, every crate), through refused
/// connections and 401 answers, never contains it. A header file whose value cannot be a
/// header stops the start-up naming the file, not the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_from_a_file_reaches_the_receiver_and_never_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("changes.yaml"), "{}\n").unwrap();
    std::fs::write(dir.join("hec-auth"), format!("{SECRET}\n")).unwrap();
    let (tcp, http, hook) = (free_port(), free_port(), free_port());
    let toml = format!(
        "udp = \"off\"\ntcp = \"127.0.0.1:{tcp}\"\nhttp = \"127.0.0.1:{http}\"\nstate = {:?}\n\
         rules = {:?}\nchanges = {:?}\nlateness_ms = 50\n\
         webhook = \"http://127.0.0.1:{hook}/services/collector/event\"\n\
         webhook_header_files = {{ Authorization = {:?} }}\n\
         webhook_headers = {{ X-Splunk-Request-Channel = \"0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba\" }}\n",
        dir.join("state"),
        super::rules_dir(),
        dir.join("changes.yaml"),
        dir.join("hec-auth"),
    );
    std::fs::write(dir.join("imagewatch.toml"), &toml).unwrap();
    let log = std::fs::File::create(dir.join("stderr.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .args(["serve", "--config"])
        .arg(dir.join("imagewatch.toml"))
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let up = eventually(Duration::from_secs(10), async || {
        tokio::net::TcpStream::connect(("127.0.0.1", tcp))
            .await
            .ok()
    })
    .await;
    assert!(up.is_some(), "the service listens");
    send_tcp(format!("127.0.0.1:{tcp}").parse().unwrap(), &swaps(1)).await;

    // Nobody listens on the webhook's port yet: refused connections first.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let receiver = Arc::new(Receiver {
        refuse_first: 2,
        ..Receiver::default()
    });
    let server = start_receiver(Arc::clone(&receiver), hook).await;
    let got = eventually(Duration::from_secs(20), async || {
        receiver.got.lock().unwrap().first().cloned()
    })
    .await
    .expect("a delivery after the refusals");
    assert_eq!(got.header("authorization"), Some(SECRET));
    assert_eq!(
        got.header("x-splunk-request-channel"),
        Some("0aeeac95-ac74-4aa9-b30d-6c4c0ac581ba")
    );
    assert!(got.header("idempotency-key").is_some());
    assert_eq!(terminate(&mut child).code(), Some(0));
    server.abort();

    let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    assert!(
        log.matches("Alert delivery failed").count() >= 2,
        "the refusals were logged: {}",
        &log[log.len().saturating_sub(3000)..]
    );
    assert!(log.contains("401"), "the 401 answers were logged");
    assert!(!log.contains("5ecr3t"), "the header value is in the log");

    // A value that cannot be a header: the start-up stops at the key, without the value.
    std::fs::write(dir.join("hec-auth"), "Splunk 5ecr3t\u{1}x\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .args(["serve", "--config"])
        .arg(dir.join("imagewatch.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("webhook_header_files") && err.contains("hec-auth"),
        "{err}"
    );
    assert!(!err.contains("5ecr3t"), "{err}");
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all PEM:
/// (ca, server cert, server key, client cert, client key).
fn pki() -> (String, String, String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "imagewatch test SIEM CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(DnType::CommonName, "imagewatch");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().unwrap();
    let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();
    (
        ca.pem(),
        server.pem(),
        server_key.serialize_pem(),
        client.pem(),
        client_key.serialize_pem(),
    )
}

/// An HTTPS receiver on 127.0.0.1 that requires a client certificate signed by `ca`: a plain
/// HTTP/1.1 exchange per connection over tokio-rustls, each request recorded.
async fn mtls_receiver(
    ca: &str,
    cert: &str,
    key: &str,
) -> (
    SocketAddr,
    Arc<Mutex<Vec<Got>>>,
    tokio::task::JoinHandle<()>,
) {
    let _ = super::http_client();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .unwrap();
    let config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let record = Arc::clone(&got);
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let headers: Vec<(String, String)> = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let length: usize = headers
                    .iter()
                    .find(|(k, _)| k == "content-length")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                record.lock().unwrap().push(Got {
                    headers,
                    body: buf[head_end..head_end + length].to_vec(),
                });
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (addr, got, task)
}

/// The webhook over mutual TLS: the receiver requires a client certificate from its CA (a
/// client without one is refused), and the service, given the CA bundle and its certificate
/// and key, delivers its alert there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_delivers_over_mutual_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (ca, cert, key, client_cert, client_key) = pki();
    for (name, pem) in [
        ("ca.pem", &ca),
        ("client.pem", &client_cert),
        ("client-key.pem", &client_key),
    ] {
        std::fs::write(dir.join(name), pem).unwrap();
    }
    let (addr, got, server) = mtls_receiver(&ca, &cert, &key).await;
    let url = format!("https://{addr}/hook");

    // The receiver's requirement is real: the CA alone does not get a request through.
    let no_cert = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    assert!(no_cert.post(&url).body("{}").send().await.is_err());
    assert!(got.lock().unwrap().is_empty());

    let config = ServeConfig {
        webhook: Some(url),
        webhook_ca: Some(dir.join("ca.pem")),
        webhook_client_cert: Some(dir.join("client.pem")),
        webhook_client_key: Some(dir.join("client-key.pem")),
        lateness_ms: 50,
        ..config(dir)
    };
    let running = serve::start(config).await.expect("the service starts");
    send_tcp(running.tcp.unwrap(), &swaps(1)).await;
    let delivered = eventually(Duration::from_secs(15), async || {
        got.lock().unwrap().first().cloned()
    })
    .await
    .expect("the alert is delivered over mutual TLS");
    let record: Value = serde_json::from_slice(&delivered.body).unwrap();
    assert_eq!(
        delivered.header("idempotency-key"),
        Some(format!("{}:{}", record["id"].as_str().unwrap(), record["revision"]).as_str())
    );
    assert_eq!(record["device"], "edge-0700");
    running.shutdown().await;
    server.abort();
}

/// The records of one request, by batch mode: (id, revision) of each, checked for the mode's
/// shape (a bulk action line before each record, naming its `_id`).
fn batch_records(mode: Batch, got: &Got) -> Vec<(String, u64)> {
    let body = String::from_utf8(got.body.clone()).unwrap();
    let docs: Vec<Value> = match mode {
        Batch::Array => {
            assert_eq!(got.header("content-type"), Some("application/json"));
            serde_json::from_str::<Vec<Value>>(&body).unwrap()
        }
        Batch::Ndjson => {
            assert_eq!(got.header("content-type"), Some("application/x-ndjson"));
            body.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        }
        Batch::Bulk => {
            assert_eq!(got.header("content-type"), Some("application/x-ndjson"));
            let lines: Vec<Value> = body
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            assert_eq!(lines.len() % 2, 0, "{body}");
            lines
                .chunks(2)
                .map(|pair| {
                    let doc = pair[1].clone();
                    let key = record_key(&doc);
                    assert_eq!(pair[0]["create"]["_id"], format!("{}:{}", key.0, key.1));
                    doc
                })
                .collect()
        }
        Batch::Off => unreachable!(),
    };
    docs.iter().map(record_key).collect()
}

/// (id, revision) of a native record or an ECS document.
fn record_key(doc: &Value) -> (String, u64) {
    let (id, rev) = match doc.get("imagewatch") {
        Some(iw) => (&iw["alert_id"], &iw["revision"]),
        None => (&doc["id"], &doc["revision"]),
    };
    (id.as_str().unwrap().to_string(), rev.as_u64().unwrap())
}

/// Batches: with `webhook_batch` array, NDJSON or bulk (records in ECS form for bulk, as an
/// Elasticsearch data stream wants them), alerts of several devices arrive several to a
/// request, each (id, revision) exactly once, the same set as the NDJSON file holds; a `_bulk`
/// answer refusing one record as a duplicate (409) counts as delivered, not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_carry_several_records_each_once() {
    for (mode, format) in [
        (Batch::Array, AlertFormat::Native),
        (Batch::Ndjson, AlertFormat::Native),
        (Batch::Bulk, AlertFormat::Ecs),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let hook = free_port();
        let receiver = Arc::new(Receiver::default());
        if mode == Batch::Bulk {
            *receiver.answer.lock().unwrap() = Some(
                r#"{"errors":true,"items":[{"create":{"_id":"x:1","status":409,"error":{"reason":"version conflict"}}}]}"#
                    .to_string(),
            );
        }
        let server = start_receiver(Arc::clone(&receiver), hook).await;
        let config = ServeConfig {
            webhook: Some(format!(
                "http://127.0.0.1:{hook}/logs-imagewatch.alert-default/_bulk"
            )),
            webhook_batch: mode,
            webhook_batch_max: 50,
            webhook_batch_wait_ms: 1500,
            alert_format: format,
            lateness_ms: 50,
            ..config(dir)
        };
        let alerts_file = config.alerts.clone();
        let running = serve::start(config).await.expect("the service starts");
        send_tcp(running.tcp.unwrap(), &swaps(4)).await;
        let expected = eventually(Duration::from_secs(15), async || {
            let keys: BTreeSet<(String, u64)> =
                file_alerts(&alerts_file).iter().map(record_key).collect();
            (keys.len() >= 4).then_some(keys)
        })
        .await
        .unwrap_or_else(|| panic!("{mode:?}: four alerts in the file"));
        let requests = eventually(Duration::from_secs(15), async || {
            let got = receiver.got.lock().unwrap().clone();
            let keys: BTreeSet<(String, u64)> =
                got.iter().flat_map(|g| batch_records(mode, g)).collect();
            (keys == expected).then_some(got)
        })
        .await
        .unwrap_or_else(|| panic!("{mode:?}: every record at the receiver"));
        // A redelivery, were there one, would show within the batch wait.
        tokio::time::sleep(Duration::from_millis(1800)).await;
        let requests_after = receiver.got.lock().unwrap().clone();
        let all: Vec<(String, u64)> = requests_after
            .iter()
            .flat_map(|g| batch_records(mode, g))
            .collect();
        assert_eq!(
            all.len(),
            expected.len(),
            "{mode:?}: each record once: {all:?}"
        );
        assert!(
            requests.iter().any(|g| batch_records(mode, g).len() >= 2),
            "{mode:?}: some request carries several records ({} requests for {} records)",
            requests.len(),
            all.len()
        );
        if format == AlertFormat::Ecs {
            let doc: Value =
                serde_json::from_slice(requests[0].body.split(|&b| b == b'\n').nth(1).unwrap())
                    .unwrap();
            assert_eq!(doc["event"]["kind"], "alert");
            assert!(
                file_alerts(&alerts_file)
                    .iter()
                    .all(|a| a["ecs"]["version"].is_string()),
                "alert_format applies to the file sink too"
            );
        }
        running.shutdown().await;
        server.abort();
    }
}
