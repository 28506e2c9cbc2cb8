//! The API's protections: no open API on a non-loopback address, the bearer token on every
//! `/api/` route (read from the router's own code, so a new route cannot slip through), and
//! the token never written to a log or the alert file.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use imagewatch::serve::{self, ServeConfig};
use tokio::io::AsyncWriteExt;

use super::service::{config, edge_swap, eventually, free_port, terminate};

/// Without a token the binary refuses to serve the API on a non-loopback address: exit 2, a
/// message that says what to do, and nothing bound.
#[test]
fn open_api_on_a_non_loopback_address_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_imagewatch"))
        .args(["serve", "--udp", "off", "--tcp", "off"])
        .args(["--http", &format!("0.0.0.0:{port}")])
        .arg("--state")
        .arg(tmp.path().join("state"))
        .arg("--rules")
        .arg(super::rules_dir())
        .env_remove("IMAGEWATCH_API_TOKEN")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "refusing to serve the API on 0.0.0.0:{port} without a token"
        )) && err.contains("IMAGEWATCH_API_TOKEN"),
        "{err}"
    );
    assert!(!tmp.path().join("state").exists(), "nothing opened");
    std::net::TcpListener::bind(("0.0.0.0", port)).expect("nothing bound");
}

/// (method, path) of every route of the nested `/api/v1` router in `src/serve/api.rs`.
fn api_routes() -> Vec<(String, String)> {
    let code = std::fs::read_to_string(super::root().join("src/serve/api.rs")).unwrap();
    let start = code
        .find("let api = Router::new()")
        .expect("the api router");
    let block = &code[start..start + code[start..].find(';').unwrap()];
    let mut routes = Vec::new();
    for call in block.split(".route(").skip(1) {
        let path = call.split('"').nth(1).unwrap();
        let handlers = &call[call.find(',').unwrap()..];
        for (method, marker) in [
            ("GET", "get("),
            ("POST", "post("),
            ("PUT", "put("),
            ("PATCH", "patch("),
            ("DELETE", "delete("),
        ] {
            if handlers.contains(marker) {
                routes.push((method.to_string(), format!("/api/v1{path}")));
            }
        }
    }
    routes
}

/// Every `/api/` route, every method: 401 without a token and with a wrong one (also one that
/// shares a prefix with the right one), something else with the right one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_needs_the_bearer_token() {
    let routes = api_routes();
    for want in [
        ("GET", "/api/v1/alerts"),
        ("GET", "/api/v1/devices/{id}"),
        ("POST", "/api/v1/tickets"),
        ("DELETE", "/api/v1/tickets/{id}"),
        ("DELETE", "/api/v1/windows/{id}"),
        ("POST", "/api/v1/reload"),
    ] {
        assert!(
            routes.iter().any(|(m, p)| m == want.0 && p == want.1),
            "{want:?} not found in {routes:?}"
        );
    }
    assert!(routes.len() >= 12, "{routes:?}");

    let tmp = tempfile::tempdir().unwrap();
    let cfg = ServeConfig {
        token: Some("s3cret-token".into()),
        ..config(tmp.path())
    };
    let running = serve::start(cfg).await.unwrap();
    let http = running.http;
    let client = super::http_client();
    for (method, path) in &routes {
        let url = format!("http://{http}{}", path.replace("{id}", "x"));
        let method: reqwest::Method = method.parse().unwrap();
        for token in [
            None,
            Some("wrong"),
            Some("s3cret-toke"),
            Some("s3cret-token2"),
        ] {
            let mut req = client
                .request(method.clone(), &url)
                .header("content-type", "application/json")
                .body("{}");
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{method} {path} with token {token:?}");
        }
        let r = client
            .request(method.clone(), &url)
            .header("authorization", "s3cret-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}: the token without Bearer");
        let r = client
            .request(method.clone(), &url)
            .bearer_auth("s3cret-token")
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 401, "{method} {path} with the right token");
    }
    let get = |path: &'static str, token: Option<&'static str>| {
        let mut req = client.get(format!("http://{http}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(get("/healthz", None).await, 200, "/healthz needs no token");
    // The metrics tell device counts, rates and sink state: behind the token like the API.
    assert_eq!(
        get("/metrics", None).await,
        401,
        "/metrics without the token"
    );
    assert_eq!(get("/metrics", Some("wrong")).await, 401);
    assert_eq!(get("/metrics", Some("s3cret-token")).await, 200);
    running.shutdown().await;
}

/// `metrics_public = true` opens `/metrics` to scrapers that hold no token; the API stays
/// closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_public_opens_only_the_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let running = serve::start(ServeConfig {
        token: Some("s3cret-token".into()),
        metrics_public: true,
        ..config(tmp.path())
    })
    .await
    .unwrap();
    let http = running.http;
    let status = |path: &str| {
        let url = format!("http://{http}{path}");
        async move { reqwest::get(url).await.unwrap().status() }
    };
    assert_eq!(status("/metrics").await, 200);
    assert_eq!(status("/api/v1/alerts").await, 401);
    running.shutdown().await;
}

/// The binary at trace level with a token from the environment and one from `token_file`:
/// right and wrong tokens, reloads through the API and SIGHUP, an alert, SIGTERM. Neither
/// token, nor the wrong one, appears in stdout, stderr or the alert file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_never_reach_logs_or_alerts() {
    let file_token = "file-token-5f1c9a0e77d2";
    let env_token = "env-token-3b8e61d4c0a9";
    let wrong_token = "wrong-token-aa42c1e9";
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    config(dir); // writes changes.yaml
    std::fs::write(dir.join("token"), format!("{file_token}\n")).unwrap();
    let mut outputs = Vec::new();
    for env in [None, Some(env_token)] {
        let (tcp, http) = (free_port(), free_port());
        let toml = format!(
            "udp = \"off\"\ntcp = \"127.0.0.1:{tcp}\"\nhttp = \"127.0.0.1:{http}\"\ntoken_file = {:?}\nstate = {:?}\nrules = {:?}\nchanges = {:?}\n",
            dir.join("token"),
            dir.join("state"),
            super::rules_dir(),
            dir.join("changes.yaml"),
        );
        std::fs::write(dir.join("imagewatch.toml"), toml).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imagewatch"));
        cmd.args(["serve", "--config"])
            .arg(dir.join("imagewatch.toml"))
            .env("RUST_LOG", "trace")
            .env_remove("IMAGEWATCH_API_TOKEN")
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(t) = env {
            cmd.env("IMAGEWATCH_API_TOKEN", t);
        }
        let mut child = cmd.spawn().unwrap();
        // Drain the pipes while the service runs (trace output fills a pipe quickly).
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out_reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            stdout.read_to_end(&mut s).unwrap();
            s
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            stderr.read_to_end(&mut s).unwrap();
            s
        });
        let right = env.unwrap_or(file_token);
        let client = super::http_client();
        let base = format!("http://127.0.0.1:{http}");
        eventually(Duration::from_secs(10), async || {
            client.get(format!("{base}/healthz")).send().await.ok()
        })
        .await
        .expect("the service comes up");
        for token in [right, wrong_token, file_token, env_token] {
            for path in ["alerts", "devices", "tickets", "windows/x"] {
                client
                    .get(format!("{base}/api/v1/{path}"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
            }
            client
                .post(format!("{base}/api/v1/reload"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
        }
        let r = client
            .get(format!("{base}/api/v1/alerts"))
            .bearer_auth(right)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap();
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", tcp))
            .await
            .unwrap();
        for l in edge_swap() {
            s.write_all(format!("{l}\n").as_bytes()).await.unwrap();
        }
        s.shutdown().await.unwrap();
        let alerts = dir.join("state/alerts.ndjson");
        eventually(Duration::from_secs(10), async || {
            std::fs::read_to_string(&alerts)
                .ok()
                .filter(|t| !t.is_empty())
        })
        .await
        .expect("the swap alerts");
        assert_eq!(terminate(&mut child).code(), Some(0));
        outputs.push(out_reader.join().unwrap());
        let err = err_reader.join().unwrap();
        let text = String::from_utf8_lossy(&err);
        assert!(
            text.contains("Rules and calendar reloaded") && text.contains("TRACE"),
            "trace logs are written: {}",
            &text[..text.len().min(2000)]
        );
        // Start-up says what it serves and what calendar is in force, in plain values.
        assert!(
            text.contains("2 inventory devices") && text.contains("udp=off"),
            "start-up summary: {}",
            &text[..text.len().min(2000)]
        );
        let own: Vec<&str> = text.lines().filter(|l| l.contains(" imagewatch")).collect();
        assert!(
            own.iter().all(|l| !l.contains("Some(")),
            "Rust option syntax in the logs: {:?}",
            own.iter()
                .filter(|l| l.contains("Some("))
                .take(3)
                .collect::<Vec<_>>()
        );
        // Logs into a pipe or a journal carry no terminal colour codes.
        assert!(
            !text.contains('\u{1b}'),
            "ANSI escapes in logs written to a pipe: {}",
            &text[..text.len().min(500)]
        );
        outputs.push(err);
    }
    outputs.push(std::fs::read(dir.join("state/alerts.ndjson")).unwrap());
    for (i, text) in outputs.iter().enumerate() {
        let text = String::from_utf8_lossy(text);
        for secret in [file_token, env_token, wrong_token] {
            assert!(
                !text.contains(secret),
                "output {i} contains {secret}: {}",
                text.lines()
                    .filter(|l| l.contains(secret))
                    .take(3)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}
