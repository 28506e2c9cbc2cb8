//! The HTTP API over TLS (`api_tls_cert`/`api_tls_key`): a CA and a server certificate made
//! here, the real binary configured by a TOML file, real HTTPS requests that trust the CA.

use std::process::{Command, Stdio};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

use super::service::{eventually, free_port, terminate};

/// A CA (PEM) and a server certificate and key it signed for localhost and 127.0.0.1.
pub fn ca_and_server_cert() -> (String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "imagewatch test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = server_params.signed_by(&server_key, &ca, &ca_key).unwrap();
    (ca.pem(), server.pem(), server_key.serialize_pem())
}

/// `/healthz` and an `/api/v1/` route over HTTPS with the CA trusted; 401 without the token,
/// 200 with it; no cleartext HTTP on the port, and no trust without the CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_over_tls_with_a_generated_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (ca, cert, key) = ca_and_server_cert();
    std::fs::write(dir.join("cert.pem"), cert).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let port = free_port();
    let toml = format!(
        "udp = \"off\"\ntcp = \"off\"\nhttp = \"127.0.0.1:{port}\"\napi_tls_cert = {:?}\napi_tls_key = {:?}\nstate = {:?}\nrules = {:?}\n",
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("state"),
        super::rules_dir(),
    );
    std::fs::write(dir.join("imagewatch.toml"), toml).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .args(["serve", "--config"])
        .arg(dir.join("imagewatch.toml"))
        .env("IMAGEWATCH_API_TOKEN", "tls-token-1601")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let _ = super::http_client();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let base = format!("https://localhost:{port}");
    let health = eventually(Duration::from_secs(10), async || {
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await
    .expect("the API answers over HTTPS");
    assert_eq!(health.text().await.unwrap(), "ok\n");
    let by_ip = client
        .get(format!("https://127.0.0.1:{port}/api/v1/alerts"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_ip.status(), 401, "no token");
    let r = client
        .get(format!("{base}/api/v1/alerts"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "wrong token");
    let r = client
        .get(format!("{base}/api/v1/alerts"))
        .bearer_auth("tls-token-1601")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["alerts"].is_array(), "{body}");

    let untrusting = super::http_client();
    assert!(
        untrusting
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_err(),
        "a client without the CA does not trust the server"
    );
    assert!(
        untrusting
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_err(),
        "no cleartext HTTP on the TLS port"
    );
    // A client that connects and never handshakes holds up no one.
    let _silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let r = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(terminate(&mut child).code(), Some(0));
}
