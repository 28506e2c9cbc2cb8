//! Lines of each vendor through `explain` with the built-in rules. The lines are the rule
//! files' own examples (`rules/signals/*.yaml`, where each one's source is given).

use super::*;

fn explainer() -> Explainer {
    let loaded = config::load(&RuleSource::new(None), None).expect("the built-in rules load");
    Explainer::new(loaded, InputFormat::Auto).with_year(2026)
}

/// What a line must come out as: the rule and kind it yields, or why it yields none.
enum Want {
    Signal(&'static str, SignalKind),
    Not(WhyNot),
}

use SignalKind as K;
use Want::{Not, Signal};

/// For each vendor a line that yields a signal and one that does not: the rule, kind and
/// vendor, or the reason, as the classifier with every rule (not only the correlated kinds)
/// decides.
#[test]
fn each_vendor_yields_its_rule_or_says_why_not() {
    let cases: &[(&str, Option<&str>, Want)] = &[
        (
            "<189>1042: rtr-0042: Jun  1 03:10:00.123 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin  logged command:boot system flash:c2900-universalk9-mz.SPA.157-3.M8.bin",
            Some("cisco_ios"),
            Signal("cmd.boot_system", K::BootVar),
        ),
        (
            "172.16.5.10 6705: Feb 17 13:40:03.673: %PARSER-5-CFGLOG_LOGGEDCMD: User:tech  logged command:!exec: enable",
            None,
            Not(WhyNot::Prefilter),
        ),
        (
            "<189>1042: dist-0004: Jun  1 03:10:00.123 UTC: %HA_EM-6-LOG: CLIaccounting: install add file bootflash:cat9k_iosxe.17.12.04.SPA.bin",
            // The carrier's vendor: the EEM applet line is what says which device wrote it.
            Some("cisco_ios"),
            Signal("cmd.iosxe.install_add", K::InstallAdd),
        ),
        (
            "<189>1042: dist-0004: Jun  1 03:10:00.123 UTC: %HA_EM-6-LOG: CLIaccounting: show install summary",
            None,
            Not(WhyNot::NoRule),
        ),
        (
            "<189>core-0003: 2026 Jun 01 03:10:00 UTC: %AAA-6-AAA_ACCOUNTING_MESSAGE: update:10.30.1.5@ssh.2315:tnguyen:no boot nxos (SUCCESS)",
            Some("cisco_nxos"),
            Signal("cmd.nxos.boot_nxos", K::BootVar),
        ),
        (
            "<189>: 2026 Jun 01 03:10:00 UTC: %AAA-6-AAA_ACCOUNTING_MESSAGE: update:10.30.1.5@ssh.2315:tnguyen:show boot (SUCCESS)",
            None,
            Not(WhyNot::NoRule),
        ),
        (
            // ASA without `logging device-id`: the rule matches, but nothing names the device.
            "<165>Jun 01 2026 03:10:00: %PIX-config-5-111008: User 'admin' executed the 'copy /noconfirm tftp://10.10.0.5/asa9-12-4-smp-k8.bin disk0:/asa9-12-4-smp-k8.bin' command.",
            Some("cisco_asa"),
            Signal("cmd.copy_image", K::Transfer),
        ),
        (
            "<165>Nov 14 2013 11:23:36: %ASA-5-111008: User 'impssnagios' executed the 'enable' command.",
            None,
            Not(WhyNot::NoRule),
        ),
        (
            "<190>Jun  1 03:10:00 edge-0007 mgd[2105]: UI_CMDLINE_READ_LINE: User 'jdoe', command 'file copy ftp://jdoe@10.99.7.23/junos-srxsme-23.2R2-S1.3.tgz /var/tmp/ '",
            Some("juniper_junos"),
            Signal("cmd.junos.file_copy_image", K::Transfer),
        ),
        (
            "<190>Jun  1 03:10:00 edge-0007 mgd[2105]: UI_LOGIN_EVENT: User 'jdoe' login, class 'j-super-user' [2105], ssh-connection '10.30.1.5 50022 10.64.7.7 22', client-mode 'cli'",
            Some("juniper_junos"),
            Signal("junos.msg.login_super_user", K::PrivilegedLogin),
        ),
        (
            "<165>Oct 23 12:22:50 GeorgeSwitch ConfigAgent: %SYS-5-CONFIG_STARTUP: Startup config saved from system:/running-config by admin on vty3 (127.0.0.1).",
            Some("arista_eos"),
            Signal("eos.msg.config_startup", K::ConfigSave),
        ),
        (
            "<165>Oct 23 12:20:55 GeorgeSwitch ConfigAgent: %SYS-5-CONFIG_E: Enter configuration mode from console by admin on vty3 (127.0.0.1)",
            None,
            Not(WhyNot::NoRule),
        ),
        (
            "<182>Jun  1 03:10:00 aaa01 tac_plus[811]: 10.64.1.1 jsmith tty2 10.30.1.5 stop task_id=42 service=shell priv-lvl=15 cmd=write memory <cr>",
            Some("common"),
            Signal("cmd.write_memory", K::ConfigSave),
        ),
    ];
    let mut e = explainer();
    for (i, (line, vendor, want)) in cases.iter().enumerate() {
        let got = e.explain(line.as_bytes(), i as u64 + 1);
        let ctx = format!("{line}\n got: {got:?}");
        assert_eq!(got.line, i as u64 + 1);
        assert!(got.event_time.is_some(), "{ctx}");
        match want {
            Signal(rule, kind) => {
                assert_eq!(got.rule.as_deref(), Some(*rule), "{ctx}");
                assert_eq!(got.kind, Some(*kind), "{ctx}");
                assert!(got.fields.is_some(), "{ctx}");
                assert_eq!(got.correlated, Some(true), "{ctx}");
                let no_device = got.device.is_none();
                assert_eq!(got.why_not, no_device.then_some(WhyNot::NoDevice), "{ctx}");
            }
            Not(why) => {
                assert_eq!(got.why_not, Some(*why), "{ctx}");
                assert!(got.rule.is_none() && got.kind.is_none(), "{ctx}");
            }
        }
        assert_eq!(got.vendor.as_deref(), *vendor, "{ctx}");
    }
}

/// A signal whose kind no sequence uses is still explained (replay would drop it), and says
/// so: explain classifies with every rule.
#[test]
fn kinds_no_sequence_uses_are_explained_too() {
    // Elastic's cisco_ios test line (test-syslog.log).
    let line = "<189>: sw01: Jan  6 2022 21:01:34.964: %SYS-5-CONFIG_I: Configured from console by akroh on vty0 (10.100.11.10)";
    let got = explainer().explain(line.as_bytes(), 1);
    assert_eq!(got.rule.as_deref(), Some("ios.msg.config_i"), "{got:?}");
    assert_eq!(got.kind, Some(SignalKind::ConfigChange));
    assert_eq!(got.correlated, Some(false));
    assert_eq!(got.device.as_deref(), Some("sw01"));
    assert_eq!(got.why_not, None);
}

/// Lines that are not syslog, not JSON, or blank say so; JSON lines are read like replay reads
/// them (the ECS `message`, `@timestamp` as the arrival).
#[test]
fn framing_reasons_and_json_lines() {
    let mut e = explainer();
    assert_eq!(e.explain(b"   ", 1).why_not, Some(WhyNot::Blank));
    assert_eq!(
        e.explain(b"not a syslog line at all", 2).why_not,
        Some(WhyNot::NotSyslog)
    );
    let bad = e.explain(b"{\"message\": ", 3);
    assert_eq!(bad.why_not, Some(WhyNot::BadJson));
    assert!(bad.detail.is_some());
    let json = br#"{"@timestamp":"2026-06-01T03:10:01Z","message":"<189>1042: rtr-0042: Jun  1 03:10:00.123 UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin  logged command:boot system flash:c2900-universalk9-mz.SPA.157-3.M8.bin"}"#;
    let got = e.explain(json, 4);
    assert_eq!(got.rule.as_deref(), Some("cmd.boot_system"));
    assert_eq!(got.received.as_deref(), Some("2026-06-01T03:10:01.000Z"));
    assert_eq!(got.event_time.as_deref(), Some("2026-06-01T03:10:00.123Z"));
    assert_eq!(got.time_source, Some(TimeSource::Device));
}

/// Without an arrival time a year-less stamp is put in the current year, even where the
/// nearest year would be the one before (a December stamp read in January).
#[test]
fn a_year_less_stamp_without_arrival_is_this_years() {
    // Elastic's cisco_ios test line (test-date-format.log), day and month changed.
    let line = "<190>2361044: sw01: Dec 16 22:11:43.398 UTC: %FOO-6-BAR: Test date format.";
    let got = explainer().with_year(2027).explain(line.as_bytes(), 1);
    assert_eq!(
        got.device_time.as_deref(),
        Some("2027-12-16T22:11:43.398+00:00")
    );
    assert_eq!(got.time_source, Some(TimeSource::Device));
}
