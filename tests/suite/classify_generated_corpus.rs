//! Classifies a small corpus from the shared generator and checks every scenario line of its
//! templates gets the right kind and fields, and that noise never looks like an image change.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use imagewatch::RuleSource;
use imagewatch::{Classification, SignalKind};

const GEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tools/corpus/gen.py");

/// Which fields a scenario line must carry.
#[derive(Clone, Copy)]
enum Need {
    Nothing,
    Version,
    Image,
    ImageServer,
    User,
}

/// Scenario markers, most specific first: the first marker a line contains decides what the
/// line must classify to.
const MARKERS: &[(&str, SignalKind, Need)] = &[
    // Boot.
    ("%SYS-5-RESTART", SignalKind::Boot, Need::Version),
    ("%SYS-6-BOOTTIME", SignalKind::Boot, Need::Nothing),
    ("%SYSMGR-5-SYSTEM_BOOTED", SignalKind::Boot, Need::Version),
    ("%SYS-5-SYSTEM_RESTARTED", SignalKind::Boot, Need::Version),
    ("/kernel: JUNOS", SignalKind::Boot, Need::Version),
    // Integrity.
    ("%DIGISIGN-", SignalKind::IntegrityFailure, Need::Image),
    (
        "INTEGRITY_FAILED",
        SignalKind::IntegrityFailure,
        Need::Image,
    ),
    (
        "SIGNATURE_FAILED",
        SignalKind::IntegrityFailure,
        Need::Image,
    ),
    ("veriexec", SignalKind::IntegrityFailure, Need::Image),
    // Reload announcements.
    ("%SYS-5-RELOAD:", SignalKind::Reload, Need::User),
    ("%SYS-5-RELOAD_REQUESTED", SignalKind::Reload, Need::User),
    ("UI_REBOOT_EVENT", SignalKind::Reload, Need::User),
    ("PFM_SYSTEM_RESET", SignalKind::Reload, Need::Nothing),
    ("%PMAN-5-EXITACTION", SignalKind::Reload, Need::Nothing),
    // IOS-XE install messages.
    ("Started install add", SignalKind::InstallAdd, Need::Image),
    ("Completed install add", SignalKind::InstallAdd, Need::Image),
    (
        "Started install activate",
        SignalKind::InstallActivate,
        Need::Nothing,
    ),
    ("install commit", SignalKind::InstallCommit, Need::Nothing),
    ("install add file", SignalKind::InstallAdd, Need::Image),
    (
        "CLIaccounting: install activate",
        SignalKind::InstallActivate,
        Need::Nothing,
    ),
    // Configuration copies before image copies: they share `copy <url>`.
    (
        "running-config startup-config",
        SignalKind::ConfigSave,
        Need::User,
    ),
    (
        "copy running-config ",
        SignalKind::ConfigCopy,
        Need::Nothing,
    ),
    (
        "-confg running-config",
        SignalKind::ConfigCopy,
        Need::Nothing,
    ),
    (
        "copy startup-config ",
        SignalKind::ConfigCopy,
        Need::Nothing,
    ),
    ("file copy /config/", SignalKind::ConfigCopy, Need::Nothing),
    ("'load override", SignalKind::ConfigCopy, Need::User),
    ("UI_LOAD_EVENT", SignalKind::ConfigCopy, Need::User),
    ("copy scp:", SignalKind::Transfer, Need::ImageServer),
    ("copy tftp:", SignalKind::Transfer, Need::ImageServer),
    ("copy ftp:", SignalKind::Transfer, Need::ImageServer),
    ("copy http:", SignalKind::Transfer, Need::ImageServer),
    ("copy https:", SignalKind::Transfer, Need::ImageServer),
    ("copy sftp:", SignalKind::Transfer, Need::ImageServer),
    // Boot variable.
    (
        "logged command:boot system",
        SignalKind::BootVar,
        Need::Image,
    ),
    (
        "logged command:no boot system",
        SignalKind::BootVar,
        Need::User,
    ),
    ("cmd=boot system", SignalKind::BootVar, Need::Image),
    ("cmd=no boot system", SignalKind::BootVar, Need::User),
    (":boot nxos", SignalKind::BootVar, Need::Image),
    (":no boot nxos", SignalKind::BootVar, Need::User),
    // Installs and verification through command accounting; `reboot` makes the install one
    // that reloads by itself.
    ("no-validate reboot", SignalKind::InstallReload, Need::Image),
    (
        "request system software add",
        SignalKind::InstallAdd,
        Need::Image,
    ),
    ("verify /md5", SignalKind::Verify, Need::Image),
    ("file checksum md5", SignalKind::Verify, Need::Image),
    (" md5sum", SignalKind::Verify, Need::Image),
    // Saves and reload commands.
    (
        "CLIaccounting: write memory",
        SignalKind::ConfigSave,
        Need::Nothing,
    ),
    ("cmd=write memory", SignalKind::ConfigSave, Need::User),
    (
        "CLIaccounting: reload",
        SignalKind::ReloadCmd,
        Need::Nothing,
    ),
    (":reload (SUCCESS)", SignalKind::ReloadCmd, Need::User),
    ("cmd=reload now", SignalKind::ReloadCmd, Need::User),
    ("'request system reboot", SignalKind::ReloadCmd, Need::User),
    // Configuration changes.
    ("UI_COMMIT:", SignalKind::ConfigChange, Need::User),
];

/// Kinds that move a T1601 sequence forward; noise must never produce them.
const SEQUENCE_KINDS: &[SignalKind] = &[
    SignalKind::Transfer,
    SignalKind::BootVar,
    SignalKind::InstallAdd,
    SignalKind::InstallActivate,
    SignalKind::InstallReload,
    SignalKind::InstallCommit,
    SignalKind::Reload,
    SignalKind::ReloadCmd,
    SignalKind::Boot,
    SignalKind::IntegrityFailure,
];

fn check_fields(c: &Classification, need: Need) -> Result<(), String> {
    let f = &c.fields;
    let ok = match need {
        Need::Nothing => true,
        Need::Version => f.version.is_some(),
        Need::Image => f.image.is_some(),
        Need::ImageServer => f.image.is_some() && f.server.is_some(),
        Need::User => f.user.is_some(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("missing fields: {:?}", f))
    }
}

/// `--seed 3 --devices 60 --days 3` unless `IMAGEWATCH_TEST_CORPUS=seed,devices,days` asks
/// for another corpus (for a wider check by hand).
fn corpus_args() -> Vec<String> {
    let spec = std::env::var("IMAGEWATCH_TEST_CORPUS").unwrap_or_else(|_| "3,60,3".to_owned());
    let parts: Vec<&str> = spec.split(',').collect();
    assert_eq!(
        parts.len(),
        3,
        "IMAGEWATCH_TEST_CORPUS must be seed,devices,days"
    );
    [
        "--seed",
        parts[0],
        "--devices",
        parts[1],
        "--days",
        parts[2],
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn generated_corpus_classifies_as_its_templates_say() {
    let rules = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"));
    let classifier = RuleSource::Dir(rules.to_path_buf())
        .classifier()
        .expect("shipped rules load");
    let dir = tempfile::tempdir().expect("temp dir");
    let status = Command::new("python3")
        .arg(GEN)
        .args(["--out", &dir.path().display().to_string()])
        .args(corpus_args())
        .output()
        .expect("python3 runs the corpus generator");
    assert!(
        status.status.success(),
        "gen.py failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("syslog.log")).expect("syslog.log");

    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut lines = 0usize;
    for raw in text.lines() {
        lines += 1;
        // `<arrival RFC3339> <source ip> <raw message>`; the raw message is what classify sees.
        let message = raw
            .splitn(3, ' ')
            .nth(2)
            .unwrap_or(raw)
            .replace("#012", "\n");
        let got = classifier.classify(&message);
        if got.is_some() {
            assert!(
                classifier.may_match(message.as_bytes()),
                "prefilter rejected {message:?}"
            );
        }
        let marker = MARKERS.iter().find(|(m, _, _)| message.contains(m));
        match (marker, got) {
            (Some((m, kind, need)), Some(c)) => {
                *seen.entry(m).or_default() += 1;
                if c.kind != *kind {
                    errors.push(format!(
                        "{m}: expected {kind}, got {} ({}): {message}",
                        c.kind, c.rule_id
                    ));
                } else if let Err(e) = check_fields(&c, *need) {
                    errors.push(format!("{m}: {e}: {message}"));
                }
            }
            (Some((m, kind, _)), None) => {
                *seen.entry(m).or_default() += 1;
                errors.push(format!("{m}: expected {kind}, got nothing: {message}"));
            }
            (None, Some(c)) if SEQUENCE_KINDS.contains(&c.kind) => {
                errors.push(format!(
                    "noise classified as {} ({}): {message}",
                    c.kind, c.rule_id
                ));
            }
            _ => {}
        }
    }
    for e in errors.iter().take(40) {
        eprintln!("{e}");
    }
    assert!(
        errors.is_empty(),
        "{} misclassified lines of {lines}",
        errors.len()
    );
    // The seed is fixed, so every main scenario step appears; guard against a marker table
    // that silently stops matching anything.
    for m in [
        "%SYS-5-RESTART",
        "%SYS-5-RELOAD:",
        "copy scp:",
        "logged command:boot system",
        "Started install add",
        "no-validate reboot",
        "/kernel: JUNOS",
        "%SYSMGR-5-SYSTEM_BOOTED",
        "%SYS-5-SYSTEM_RESTARTED",
        ":boot nxos",
        "verify /md5",
    ] {
        assert!(
            seen.get(m).copied().unwrap_or(0) > 0,
            "no line with {m:?} in the corpus"
        );
    }
    eprintln!("marker counts: {seen:?}");
}
