//! Shared by the targets: the shipped rules, compiled once per process.

// Each target uses a part of this module.
#![allow(dead_code)]

use std::sync::LazyLock;

use imagewatch::Classifier;

/// The shipped signal rule files, as (name, text), in file-name order, as the loader reads them.
pub const SIGNAL_FILES: [(&str, &str); 7] = [
    (
        "arista_eos.yaml",
        include_str!("../../rules/signals/arista_eos.yaml"),
    ),
    (
        "cisco_asa.yaml",
        include_str!("../../rules/signals/cisco_asa.yaml"),
    ),
    (
        "cisco_ios.yaml",
        include_str!("../../rules/signals/cisco_ios.yaml"),
    ),
    (
        "cisco_iosxe.yaml",
        include_str!("../../rules/signals/cisco_iosxe.yaml"),
    ),
    (
        "cisco_nxos.yaml",
        include_str!("../../rules/signals/cisco_nxos.yaml"),
    ),
    (
        "common.yaml",
        include_str!("../../rules/signals/common.yaml"),
    ),
    (
        "juniper_junos.yaml",
        include_str!("../../rules/signals/juniper_junos.yaml"),
    ),
];

pub const SEQUENCE_FILE: (&str, &str) = (
    "t1601.yaml",
    include_str!("../../rules/sequences/t1601.yaml"),
);

pub fn owned(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

pub static CLASSIFIER: LazyLock<Classifier> = LazyLock::new(|| {
    Classifier::from_sources(&owned(&SIGNAL_FILES)).expect("shipped signal rules compile")
});
