//! `imagewatch coverage` (the real binary) on a generated fleet, and `GET /api/v1/coverage` on
//! the service over real sockets. The device lines follow the rule files' examples
//! (`rules/signals/*.yaml`, each with its source) and FORMATS.md §2 (IOS `%SYS-5-CONFIG_I`,
//! `%SYS-5-RESTART`); the `%LINK-3-UPDOWN` lines are noise in IOS's mnemonic layout.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use imagewatch::serve;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::service::{config, edge_swap, eventually, swap};

const INVENTORY: &str = r#"
inventory:
  - device: rtr-full
    vendor: cisco_ios
  - device: rtr-blind
    vendor: cisco_ios
  - device: edge-noboot
    vendor: juniper_junos
  - device: core-silent
    vendor: cisco_nxos
"#;

fn noise(host: &str, n: u32) -> String {
    format!(
        "<187>{n}: {host}: Jun  1 03:1{n}:00.000 UTC: %LINK-3-UPDOWN: Interface GigabitEthernet0/{n}, changed state to up"
    )
}

/// The fleet, in two files: rtr-full logs commands (an EEM accounting line no rule reads) and
/// boots; rtr-blind boots and logs `%SYS-5-CONFIG_I`, which is not command logging;
/// edge-noboot logs commands but no boot; dist-eos (not in the inventory) logs an accounting
/// line and its boot; core-silent sends nothing.
fn fleet(dir: &std::path::Path) -> Vec<String> {
    let a = [
        noise("rtr-full", 1),
        "<189>1042: rtr-full: Jun  1 03:10:00.123 UTC: %HA_EM-6-LOG: CLIaccounting: show version".to_string(),
        "<189>1: rtr-full: *Jun  1 03:20:00.123 UTC: %SYS-5-RESTART: System restarted --#012Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M8, RELEASE SOFTWARE (fc2)".to_string(),
        noise("rtr-blind", 2),
        "<189>1043: rtr-blind: Jun  1 03:10:00.123 UTC: %SYS-5-CONFIG_I: Configured from console by admin on vty0 (10.31.0.24)".to_string(),
        "<189>1: rtr-blind: *Jun  1 03:20:00.123 UTC: %SYS-5-RESTART: System restarted --#012Cisco IOS Software, C2900 Software (C2900-UNIVERSALK9-M), Version 15.7(3)M8, RELEASE SOFTWARE (fc2)".to_string(),
    ];
    let b = [
        "<190>Jun  1 03:10:00 edge-noboot mgd[2105]: UI_CMDLINE_READ_LINE: User 'jdoe', command 'show version '".to_string(),
        "<190>Jun  1 03:11:00 edge-noboot mgd[2105]: UI_CMDLINE_READ_LINE: User 'jdoe', command 'request system reboot '".to_string(),
        "<189>Jun  1 03:10:00 dist-eos Aaa: %ACCOUNTING-6-CMD: netops vty3 10.30.1.5 stop task_id=12 start_time=1780382163.789 timezone=UTC service=shell priv-lvl=15 cmd=show version".to_string(),
        "Jun  1 03:30:45 dist-eos SystemInitMonitor: %SYS-5-SYSTEM_INITIALIZED: System is initialized".to_string(),
    ];
    std::fs::write(dir.join("changes.yaml"), INVENTORY).unwrap();
    std::fs::write(dir.join("a.log"), a.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("b.log"), b.join("\n") + "\n").unwrap();
    ["a.log", "b.log"]
        .iter()
        .map(|f| dir.join(f).display().to_string())
        .collect()
}

fn run_coverage(dir: &std::path::Path, json: bool) -> String {
    let files = fleet(dir);
    let changes = dir.join("changes.yaml");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_imagewatch"));
    cmd.arg("coverage").arg("--changes").arg(&changes);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.args(&files).output().expect("imagewatch runs");
    assert!(
        out.status.success(),
        "coverage failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Devices that log no commands or no boots are named with what to enable on them, in their
/// vendor's configuration; fully logging devices have no gaps (a command carrier counts even
/// when no rule reads its command; `%SYS-5-CONFIG_I` does not); an inventory device that sent
/// nothing is listed with 0 lines.
#[test]
fn coverage_names_the_blind_devices_and_what_to_enable() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_coverage(tmp.path(), true);
    let rows: BTreeMap<String, Value> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["device"].as_str().unwrap().to_owned(), v))
        .collect();
    let names: Vec<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "core-silent",
            "dist-eos",
            "edge-noboot",
            "rtr-blind",
            "rtr-full"
        ]
    );
    let gaps = |d: &str| -> Vec<String> {
        rows[d]["gaps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_owned())
            .collect()
    };
    let blind: Vec<&str> = rows
        .keys()
        .map(String::as_str)
        .filter(|d| !gaps(d).is_empty())
        .collect();
    assert_eq!(blind, ["core-silent", "edge-noboot", "rtr-blind"]);

    let full = &rows["rtr-full"];
    assert_eq!(full["lines"], 3);
    assert_eq!(full["sees_commands"], true);
    assert_eq!(full["sees_boots"], true);
    assert_eq!(full["sees_versions"], true);
    assert_eq!(full["signals"]["boot"], 1);
    assert_eq!(
        rows["dist-eos"]["vendor"], "arista_eos",
        "named by its rules"
    );
    assert_eq!(rows["dist-eos"]["sees_commands"], true);

    let blind_ios = &rows["rtr-blind"];
    assert_eq!(blind_ios["sees_commands"], false);
    assert_eq!(blind_ios["signals"]["config_change"], 1);
    let g = gaps("rtr-blind");
    assert_eq!(g.len(), 1, "{g:?}");
    assert!(
        g[0].contains("log config") && g[0].contains("notify syslog"),
        "{g:?}"
    );
    assert!(g[0].contains("event manager applet"), "{g:?}");

    let edge = &rows["edge-noboot"];
    assert_eq!(edge["sees_commands"], true);
    assert_eq!(edge["sees_boots"], false);
    let g = gaps("edge-noboot");
    assert_eq!(g.len(), 1, "{g:?}");
    assert!(g[0].starts_with("no boot seen") && g[0].contains("set system syslog host"));

    let silent = &rows["core-silent"];
    assert_eq!(silent["lines"], 0);
    assert_eq!(silent["vendor"], "cisco_nxos");
    assert!(gaps("core-silent")[0].contains("logging server"));

    let text = run_coverage(tmp.path(), false);
    assert!(text.starts_with("5 devices, 3 with gaps"), "{text}");
}

/// The service lists every sender with its line count: two that send image swaps (over UDP and
/// TCP) under the device their signals name, and one that sends only noise under its address,
/// with no signal kinds and its gaps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_coverage_counts_lines_per_sender_noise_only_included() {
    let tmp = tempfile::tempdir().unwrap();
    let running = serve::start(config(tmp.path())).await.unwrap();
    let udp_to = running.udp.unwrap();

    let swapper = tokio::net::UdpSocket::bind("127.0.0.2:0").await.unwrap();
    for l in edge_swap() {
        swapper.send_to(l.as_bytes(), udp_to).await.unwrap();
    }
    let noisy = tokio::net::UdpSocket::bind("127.0.0.3:0").await.unwrap();
    for n in 1..=3 {
        noisy
            .send_to(noise("sw-noise", n).as_bytes(), udp_to)
            .await
            .unwrap();
    }
    let mut tcp = tokio::net::TcpStream::connect(running.tcp.unwrap())
        .await
        .unwrap();
    let lines = swap(
        "rtr-0042",
        "c2900-universalk9-mz.SPA.157-3.M9.bin",
        "10.10.0.5",
        "15.7(3)M9",
        "jsmith",
    );
    for l in &lines {
        tcp.write_all(format!("{l}\n").as_bytes()).await.unwrap();
    }
    tcp.flush().await.unwrap();

    let http: SocketAddr = running.http;
    let want = [("127.0.0.3", 3), ("edge-0091", 4), ("rtr-0042", 4)];
    let rows = eventually(Duration::from_secs(5), async || {
        let v: Value = reqwest::get(format!("http://{http}/api/v1/coverage"))
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let rows = v["devices"].as_array()?.clone();
        let got: Vec<(String, u64)> = rows
            .iter()
            .map(|d| {
                (
                    d["device"].as_str().unwrap().to_owned(),
                    d["lines"].as_u64().unwrap(),
                )
            })
            .collect();
        let same = got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|((d, n), (wd, wn))| d == wd && *n == wn);
        same.then_some(rows)
    })
    .await
    .expect("all three senders with their line counts");
    let noise_only = &rows[0];
    assert_eq!(noise_only["signals"], serde_json::json!({}));
    assert!(noise_only["last_seen"].is_string());
    assert!(!noise_only["gaps"].as_array().unwrap().is_empty());
    assert_eq!(rows[1]["sees_boots"], true);
    assert_eq!(rows[1]["sees_commands"], true);
    drop(tcp);
    running.shutdown().await;
}
