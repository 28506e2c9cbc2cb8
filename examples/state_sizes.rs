//! The live data of a state directory, tree by tree: how many records each sled tree holds and
//! the bytes of their keys and values, beside the directory's size on disk. The soak benchmark
//! (`benches/soak.sh`) compares the two; run it on a stopped service's directory (sled takes
//! the directory's lock, and opening it recovers it).
//!
//!   cargo run --release --example state_sizes -- STATE_DIR [--json]

use std::path::Path;

fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: state_sizes STATE_DIR [--json]");
        std::process::exit(2);
    };
    let json = args.next().as_deref() == Some("--json");
    let on_disk = dir_bytes(Path::new(&dir));
    let db = match sled::Config::new().path(Path::new(&dir).join("db")).open() {
        Ok(db) => db,
        Err(e) => {
            eprintln!("cannot open {dir}/db: {e}");
            std::process::exit(1);
        }
    };
    let mut rows = Vec::new();
    for name in db.tree_names() {
        let label = String::from_utf8_lossy(&name).into_owned();
        let Ok(tree) = db.open_tree(&name) else {
            continue;
        };
        let (mut keys, mut key_bytes, mut value_bytes) = (0u64, 0u64, 0u64);
        for (k, v) in tree.iter().flatten() {
            keys += 1;
            key_bytes += k.len() as u64;
            value_bytes += v.len() as u64;
        }
        rows.push((label, keys, key_bytes, value_bytes));
    }
    let live: u64 = rows.iter().map(|r| r.2 + r.3).sum();
    if json {
        let trees: Vec<String> = rows
            .iter()
            .map(|(n, k, kb, vb)| {
                format!(r#"{{"tree":{n:?},"records":{k},"key_bytes":{kb},"value_bytes":{vb}}}"#)
            })
            .collect();
        println!(
            r#"{{"on_disk":{on_disk},"live":{live},"trees":[{}]}}"#,
            trees.join(",")
        );
        return;
    }
    println!(
        "{:<24} {:>10} {:>12} {:>14}",
        "tree", "records", "key bytes", "value bytes"
    );
    for (n, k, kb, vb) in &rows {
        println!("{n:<24} {k:>10} {kb:>12} {vb:>14}");
    }
    println!(
        "live data {:.1} MB; directory {:.1} MB on disk ({:.2}x)",
        live as f64 / 1e6,
        on_disk as f64 / 1e6,
        on_disk as f64 / live.max(1) as f64
    );
}
