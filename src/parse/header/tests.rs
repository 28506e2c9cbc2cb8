//! Tables of real and hostile syslog headers and what the walk makes of each.

use super::*;
use crate::time::parse_rfc3339;

/// Expected fields; times as RFC 3339 text so failures read like the input.
#[derive(Clone, Copy)]
struct Want {
    pri: Option<u8>,
    relay_time: Option<&'static str>,
    relay_host: Option<&'static str>,
    host: Option<&'static str>,
    app: Option<&'static str>,
    seq: Option<u64>,
    /// (UTC time, clock flag, had_year, zone_known)
    device: Option<(&'static str, ClockSync, bool, bool)>,
    uptime: bool,
    /// Expected start of the body (bodies are long; the prefix pins where it starts).
    body: &'static str,
    recognized: bool,
}

const W: Want = Want {
    pri: None,
    relay_time: None,
    relay_host: None,
    host: None,
    app: None,
    seq: None,
    device: None,
    uptime: false,
    body: "",
    recognized: true,
};

use ClockSync::{NotAuthoritative as Star, SyncLost as Dot, Synced};

fn ms(text: &str) -> Millis {
    parse_rfc3339(text).unwrap_or_else(|| panic!("bad test time {text}"))
}

fn check(line: &str, reference: &str, want: Want) {
    let h = parse_header(line, ms(reference));
    let ctx = format!("line: {line}\n got: {h:#?}");
    assert_eq!(h.recognized, want.recognized, "recognized\n{ctx}");
    assert_eq!(h.pri, want.pri, "pri\n{ctx}");
    assert_eq!(h.relay_time, want.relay_time.map(ms), "relay_time\n{ctx}");
    assert_eq!(h.relay_host, want.relay_host, "relay_host\n{ctx}");
    assert_eq!(h.host, want.host, "host\n{ctx}");
    assert_eq!(h.app, want.app, "app\n{ctx}");
    assert_eq!(h.seq, want.seq, "seq\n{ctx}");
    // The offset is pinned where zones are the point (`zones_in_cisco_stamps`).
    let device = want
        .device
        .map(|(t, sync, had_year, zone_known)| (ms(t), sync, had_year, zone_known));
    let got = h
        .device_time
        .map(|d| (d.millis, d.sync, d.had_year, d.zone_known));
    assert_eq!(got, device, "device_time\n{ctx}");
    assert_eq!(h.uptime, want.uptime, "uptime\n{ctx}");
    assert!(h.body.starts_with(want.body), "body\n{ctx}");
    if want.body.is_empty() {
        assert_eq!(h.body, "", "body\n{ctx}");
    }
    assert_eq!(&line[h.body_offset..], h.body, "body_offset\n{ctx}");
}

#[test]
fn relay_bsd_header_then_cisco_seq_and_stamp() {
    check(
        "Feb  8 04:00:48 192.168.100.2 585917: Feb  8 04:00:47.272: %SEC-6-IPACCESSLOGRP: list 1",
        "2023-02-08T05:00:00Z",
        Want {
            relay_time: Some("2023-02-08T04:00:48Z"),
            relay_host: Some("192.168.100.2"),
            seq: Some(585917),
            device: Some(("2023-02-08T04:00:47.272Z", Synced, false, false)),
            body: "%SEC-6-IPACCESSLOGRP: list 1",
            ..W
        },
    );
}

#[test]
fn junos_bsd_header_is_the_devices_own() {
    check(
        "<189>Jun  1 03:10:00 edge-0007 mgd[1234]: UI_COMMIT: User 'a' requested 'commit'",
        "2026-06-01T03:10:01Z",
        Want {
            pri: Some(189),
            host: Some("edge-0007"),
            app: Some("mgd"),
            device: Some(("2026-06-01T03:10:00Z", Synced, false, false)),
            body: "UI_COMMIT: User 'a' requested 'commit'",
            ..W
        },
    );
    check(
        "<189>Jul 20 21:44:00 vmx01 mgd[7729]: UI_COMMIT: User 'luke' requested 'commit'",
        "2017-07-21T00:00:00Z",
        Want {
            pri: Some(189),
            host: Some("vmx01"),
            app: Some("mgd"),
            device: Some(("2017-07-20T21:44:00Z", Synced, false, false)),
            body: "UI_COMMIT: User 'luke'",
            ..W
        },
    );
}

#[test]
fn junos_two_spaces_pidless_kernel_and_trimmed_body() {
    check(
        "<28>Jul  8 23:04:13  vmx01 craftd[4817]:  Major alarm set, Host 0 me0",
        "2020-07-09T00:00:00Z",
        Want {
            pri: Some(28),
            host: Some("vmx01"),
            app: Some("craftd"),
            device: Some(("2020-07-08T23:04:13Z", Synced, false, false)),
            body: "Major alarm set",
            ..W
        },
    );
    check(
        "<4>Jul 20 21:23:00 vmx01 /kernel: tcp_auth_ok: Packet from 1.2.3.4:61664",
        "2020-07-21T00:00:00Z",
        Want {
            pri: Some(4),
            host: Some("vmx01"),
            app: Some("/kernel"),
            device: Some(("2020-07-20T21:23:00Z", Synced, false, false)),
            body: "tcp_auth_ok: Packet",
            ..W
        },
    );
    check(
        "<14>Dec 13 13:12:00 srx-firewall RT_FLOW: RT_FLOW_SESSION_CLOSE: session closed",
        "2020-12-14T00:00:00Z",
        Want {
            pri: Some(14),
            host: Some("srx-firewall"),
            app: Some("RT_FLOW"),
            device: Some(("2020-12-13T13:12:00Z", Synced, false, false)),
            body: "RT_FLOW_SESSION_CLOSE: session closed",
            ..W
        },
    );
}

#[test]
fn junos_time_format_year_after_time() {
    check(
        "<189>Nov 10 12:21:25.510 2020  BRMJ00 mgd[53913]: UI_CMDLINE_READ_LINE: User 'x'",
        "2026-06-01T00:00:00Z",
        Want {
            pri: Some(189),
            host: Some("BRMJ00"),
            app: Some("mgd"),
            device: Some(("2020-11-10T12:21:25.510Z", Synced, true, false)),
            body: "UI_CMDLINE_READ_LINE",
            ..W
        },
    );
}

#[test]
fn relay_then_cisco_host_seq_and_stamp_with_year() {
    let want = Want {
        pri: Some(190),
        relay_time: Some("2023-07-13T08:23:43Z"),
        relay_host: Some("192.168.100.2"),
        host: Some("sw01"),
        seq: Some(3132779),
        device: Some(("2023-07-14T08:23:43.398Z", Synced, true, true)),
        body: "%FOO-6-BAR: Test header format",
        ..W
    };
    let tail = "Jul 13 08:23:43 192.168.100.2 sw01: 3132779: Jul 14 2023 08:23:43.398 UTC: \
                %FOO-6-BAR: Test header format";
    check(&format!("<190>{tail}"), "2023-07-13T08:23:44Z", want);
    // Elastic also has a syslog counter in front of the relay stamp.
    check(
        &format!("<190>3132517: {tail}"),
        "2023-07-13T08:23:44Z",
        want,
    );
}

#[test]
fn nxos_relay_with_space_colon_and_year_first_stamp() {
    check(
        "<189>May  2 15:21:27 10.100.0.33 : 2023 May  2 15:21:27.206 UTC: \
         %AUTHPRIV-5-SYSTEM_MSG:    admin : TTY=pts/0",
        "2023-05-02T15:21:28Z",
        Want {
            pri: Some(189),
            relay_time: Some("2023-05-02T15:21:27Z"),
            relay_host: Some("10.100.0.33"),
            device: Some(("2023-05-02T15:21:27.206Z", Synced, true, true)),
            body: "%AUTHPRIV-5-SYSTEM_MSG:    admin",
            ..W
        },
    );
}

#[test]
fn nxos_relay_without_colon_before_year_first_stamp() {
    check(
        "<187>May  3 13:55:35 10.100.0.35 2023 May  3 13:55:35.928 AEST: last message \
         repeated 6 time",
        "2023-05-03T04:00:00Z",
        Want {
            pri: Some(187),
            relay_time: Some("2023-05-03T13:55:35Z"),
            relay_host: Some("10.100.0.35"),
            device: Some(("2023-05-03T03:55:35.928Z", Synced, true, true)),
            body: "last message repeated 6 time",
            ..W
        },
    );
}

#[test]
fn nxos_host_forms() {
    check(
        "<189>: 2023 May  2 12:57:15 UTC: %ETHPORT-5-IF_DOWN_ADMIN_DOWN: Interface",
        "2023-05-02T13:00:00Z",
        Want {
            pri: Some(189),
            device: Some(("2023-05-02T12:57:15Z", Synced, true, true)),
            body: "%ETHPORT-5-IF_DOWN_ADMIN_DOWN: Interface",
            ..W
        },
    );
    check(
        "<187>10.100.0.32: 2023 Apr 27 09:36:56 UTC: last message repeated 2 times",
        "2023-04-27T10:00:00Z",
        Want {
            pri: Some(187),
            host: Some("10.100.0.32"),
            device: Some(("2023-04-27T09:36:56Z", Synced, true, true)),
            body: "last message repeated 2 times",
            ..W
        },
    );
    check(
        "<190>sw01.pdx01: 2017 Jul 28 14:42:46 UTC: %AUTHPRIV-6-SYSTEM_MSG: pam_unix",
        "2026-01-01T00:00:00Z",
        Want {
            pri: Some(190),
            host: Some("sw01.pdx01"),
            device: Some(("2017-07-28T14:42:46Z", Synced, true, true)),
            body: "%AUTHPRIV-6-SYSTEM_MSG: pam_unix",
            ..W
        },
    );
    check(
        "<190>2018 Apr 20 13:15:07 nexus-switch %ETHPORT-5-IF_UP: Interface Ethernet1/33",
        "2026-01-01T00:00:00Z",
        Want {
            pri: Some(190),
            host: Some("nexus-switch"),
            device: Some(("2018-04-20T13:15:07Z", Synced, true, false)),
            body: "%ETHPORT-5-IF_UP: Interface",
            ..W
        },
    );
    check(
        "2023 May  1 22:58:09 switchname last message repeated 7 time",
        "2026-01-01T00:00:00Z",
        Want {
            host: Some("switchname"),
            device: Some(("2023-05-01T22:58:09Z", Synced, true, false)),
            body: "last message repeated 7 time",
            ..W
        },
    );
    check(
        "<189>109692: switchname: May 9 14:40:12.903: %AUTHPRIV-5-SYSTEM_MSG: Login failed",
        "2023-05-10T00:00:00Z",
        Want {
            pri: Some(189),
            host: Some("switchname"),
            seq: Some(109692),
            device: Some(("2023-05-09T14:40:12.903Z", Synced, false, false)),
            body: "%AUTHPRIV-5-SYSTEM_MSG: Login failed",
            ..W
        },
    );
}

#[test]
fn ipv6_host_with_colon_colliding_with_separator() {
    check(
        "<190>3132783: 2a02:cf40::: 3132779: Jul 14 2023 08:23:43.398 UTC: %FOO-6-BAR: Test",
        "2023-07-14T09:00:00Z",
        Want {
            pri: Some(190),
            host: Some("2a02:cf40::"),
            seq: Some(3132779),
            device: Some(("2023-07-14T08:23:43.398Z", Synced, true, true)),
            body: "%FOO-6-BAR: Test",
            ..W
        },
    );
}

#[test]
fn empty_seq_field_then_host_then_seq() {
    check(
        "<182>: host-1: 115649616: Jan 23 14:54:28.511 CET: %FMANFP-6-IPV6ACCESSLOGP: R0/0: x",
        "2023-01-24T00:00:00Z",
        Want {
            pri: Some(182),
            host: Some("host-1"),
            seq: Some(115649616),
            device: Some(("2023-01-23T13:54:28.511Z", Synced, false, true)),
            body: "%FMANFP-6-IPV6ACCESSLOGP: R0/0: x",
            ..W
        },
    );
}

#[test]
fn asr920_two_counters_and_uptime() {
    check(
        "<165>7433: ASR920: 007439: 2y10w: %SEC_LOGIN-5-LOGIN_SUCCESS: Login Success",
        "2023-01-24T00:00:00Z",
        Want {
            pri: Some(165),
            host: Some("ASR920"),
            seq: Some(7439),
            uptime: true,
            body: "%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success",
            ..W
        },
    );
    check(
        "<189>12: 1d02h: %SYS-5-RESTART: System restarted",
        "2023-01-24T00:00:00Z",
        Want {
            pri: Some(189),
            seq: Some(12),
            uptime: true,
            body: "%SYS-5-RESTART",
            ..W
        },
    );
    check(
        "<189>3: *00:00:45.123: %LINK-3-UPDOWN: Interface Gi0/0, changed state to up",
        "2023-01-24T00:00:00Z",
        Want {
            pri: Some(189),
            seq: Some(3),
            uptime: true,
            body: "%LINK-3-UPDOWN",
            ..W
        },
    );
}

#[test]
fn clock_flags() {
    check(
        "<190>*Jul 14 2023 08:23:43.398 UTC: %FOO-6-BAR: Test header format",
        "2026-01-01T00:00:00Z",
        Want {
            pri: Some(190),
            device: Some(("2023-07-14T08:23:43.398Z", Star, true, true)),
            body: "%FOO-6-BAR",
            ..W
        },
    );
    check(
        "Jul 10 16:07:14 cisco2621 636: .Jul 10 15:58:56.590 EDT: %SEC-6-IPACCESSLOGP: list",
        "2010-07-10T20:10:00Z",
        Want {
            relay_time: Some("2010-07-10T16:07:14Z"),
            relay_host: Some("cisco2621"),
            seq: Some(636),
            device: Some(("2010-07-10T19:58:56.590Z", Dot, false, true)),
            body: "%SEC-6-IPACCESSLOGP: list",
            ..W
        },
    );
    // The 1993 default clock is reported as written; the caller decides trust.
    check(
        "<189>1: router1: *Mar  1 00:00:05.123: %SYS-5-RESTART: System restarted",
        "1993-03-01T00:01:00Z",
        Want {
            pri: Some(189),
            host: Some("router1"),
            seq: Some(1),
            device: Some(("1993-03-01T00:00:05.123Z", Star, false, false)),
            body: "%SYS-5-RESTART",
            ..W
        },
    );
}

#[test]
fn year_inference_across_new_year() {
    check(
        "<189>5: rtr: Dec 31 23:59:50 UTC: %SYS-5-CONFIG_I: Configured from console",
        "2026-01-01T00:00:30Z",
        Want {
            pri: Some(189),
            host: Some("rtr"),
            seq: Some(5),
            device: Some(("2025-12-31T23:59:50Z", Synced, false, true)),
            body: "%SYS-5-CONFIG_I",
            ..W
        },
    );
}

#[test]
fn zones_in_cisco_stamps() {
    let line = |zone: &str| format!("<189>387448: host-01: May 6 16:13:09.123 {zone}: %X-5-Y: z");
    let want = |t: &'static str| Want {
        pri: Some(189),
        host: Some("host-01"),
        seq: Some(387448),
        device: Some((t, Synced, false, true)),
        body: "%X-5-Y: z",
        ..W
    };
    let r = "2023-05-07T00:00:00Z";
    check(&line("UTC+07:30"), r, want("2023-05-06T08:43:09.123Z"));
    check(&line("UTC+1"), r, want("2023-05-06T15:13:09.123Z"));
    check(&line("mdt"), r, want("2023-05-06T22:13:09.123Z"));
    check(&line("CEST"), r, want("2023-05-06T14:13:09.123Z"));
    check(&line("EDT"), r, want("2023-05-06T20:13:09.123Z"));
    check(&line("MEST"), r, want("2023-05-06T14:13:09.123Z"));
    check(
        "<190>3352436: 3352457: Aug 12 2023 12:14:24.412 mdt: %IOSXE-6-PLATFORM: R0/0: cpp_cp",
        r,
        Want {
            pri: Some(190),
            seq: Some(3352457),
            device: Some(("2023-08-12T18:14:24.412Z", Synced, true, true)),
            body: "%IOSXE-6-PLATFORM: R0/0: cpp_cp",
            ..W
        },
    );
    // Unknown zone: UTC assumed, not known.
    check(
        "<189>7: r1: May 6 16:13:09 XYZT: %X-5-Y: z",
        r,
        Want {
            pri: Some(189),
            host: Some("r1"),
            seq: Some(7),
            device: Some(("2023-05-06T16:13:09Z", Synced, false, false)),
            body: "%X-5-Y: z",
            ..W
        },
    );
}

#[test]
fn zone_written_after_a_bsd_host() {
    check(
        "<187>Jun 14 11:34:35 ac45ce-sr1 AEST: %SFF8472-3-THRESHOLD_VIOLATION: Te2/0/17: Rx",
        "2023-06-14T02:00:00Z",
        Want {
            pri: Some(187),
            host: Some("ac45ce-sr1"),
            device: Some(("2023-06-14T01:34:35Z", Synced, false, true)),
            body: "%SFF8472-3-THRESHOLD_VIOLATION: Te2/0/17",
            ..W
        },
    );
}

#[test]
fn rfc5424_sonic() {
    check(
        "<166>1 2019-02-20T15:10:50.505646+00:00 ss12.00.lab bgpd 83 - -  %ADJCHANGE: \
         neighbor 100.67.0.142(sp01.02.lab) in vrf Default Up",
        "2019-02-20T15:11:00Z",
        Want {
            pri: Some(166),
            host: Some("ss12.00.lab"),
            app: Some("bgpd"),
            device: Some(("2019-02-20T15:10:50.505Z", Synced, true, true)),
            body: "%ADJCHANGE: neighbor",
            ..W
        },
    );
    check(
        "<13>1 2019-02-21T16:46:14.931186+00:00 ss12.00.lab orchagent - - -  :- \
         setHostIntfsOperStatus: Set operation status UP",
        "2019-02-21T16:47:00Z",
        Want {
            pri: Some(13),
            host: Some("ss12.00.lab"),
            app: Some("orchagent"),
            device: Some(("2019-02-21T16:46:14.931Z", Synced, true, true)),
            body: ":- setHostIntfsOperStatus:",
            ..W
        },
    );
}

#[test]
fn rfc5424_structured_data_with_escaped_bracket_and_bom() {
    check(
        "<165>1 2026-06-01T03:10:00.123+02:00 re0.edge-0001 mgd 4321 UI_COMMIT \
         [junos@2636.1.1.1.2.18 username=\"ad\\]min\" comment=\"a ] b\"][x@1 k=\"v\"] \
         \u{feff}User 'admin' requested 'commit' operation",
        "2026-06-01T01:11:00Z",
        Want {
            pri: Some(165),
            host: Some("re0.edge-0001"),
            app: Some("mgd"),
            device: Some(("2026-06-01T01:10:00.123Z", Synced, true, true)),
            body: "User 'admin' requested 'commit'",
            ..W
        },
    );
}

#[test]
fn rfc5424_msg_carrying_a_cisco_chain() {
    check(
        "<189>1 - rtr-0042 - - - - 1042: *Jun  1 03:10:00.123 UTC: %SYS-5-RELOAD: Reload",
        "2026-06-01T03:11:00Z",
        Want {
            pri: Some(189),
            host: Some("rtr-0042"),
            seq: Some(1042),
            device: Some(("2026-06-01T03:10:00.123Z", Star, false, true)),
            body: "%SYS-5-RELOAD: Reload",
            ..W
        },
    );
    // With a 5424 stamp the inner stamp does not replace it.
    check(
        "<189>1 2026-06-01T03:10:01Z - - - - - 1042: *Jun  1 03:10:00 UTC: %SYS-5-RELOAD: R",
        "2026-06-01T03:11:00Z",
        Want {
            pri: Some(189),
            seq: Some(1042),
            device: Some(("2026-06-01T03:10:01Z", Synced, true, true)),
            body: "%SYS-5-RELOAD: R",
            ..W
        },
    );
}

#[test]
fn rfc5424_junos_keeps_msgid_out_of_the_body() {
    check(
        "<14>1 2017-09-23T13:54:54.803Z sis-srx-mic-01 RT_FLOW - RT_FLOW_SESSION_DENY \
         [junos@2636.1.1.1.2.39 source-address=\"192.168.1.1\" reason=\"policy deny\"] \
         session denied",
        "2017-09-23T14:00:00Z",
        Want {
            pri: Some(14),
            host: Some("sis-srx-mic-01"),
            app: Some("RT_FLOW"),
            device: Some(("2017-09-23T13:54:54.803Z", Synced, true, true)),
            body: "session denied",
            ..W
        },
    );
    // SD only, no MSG: an empty body at the end of the line.
    let line = "<14>1 2017-09-23T13:54:54.803Z h RT_FLOW - X [a@1 k=\"v\"]";
    let h = parse_header(line, 0);
    assert_eq!((h.body, h.body_offset, h.host), ("", line.len(), Some("h")));
}

#[test]
fn sequence_number_only() {
    check(
        "000019: %SYS-5-CONFIG_I: Configured from console by vty2 (10.34.195.36)",
        "2026-01-01T00:00:00Z",
        Want {
            seq: Some(19),
            body: "%SYS-5-CONFIG_I: Configured",
            ..W
        },
    );
}

#[test]
fn multibyte_text_in_host_and_body() {
    check(
        "<189>12: r\u{e9}seau-1: Jun  1 03:10:00 UTC: %SYS-5-CONFIG_I: Configur\u{e9} \u{65e5}",
        "2026-06-01T04:00:00Z",
        Want {
            pri: Some(189),
            host: Some("r\u{e9}seau-1"),
            seq: Some(12),
            device: Some(("2026-06-01T03:10:00Z", Synced, false, true)),
            body: "%SYS-5-CONFIG_I: Configur\u{e9} \u{65e5}",
            ..W
        },
    );
}

#[test]
fn rfc3339_in_a_3164_layout() {
    check(
        "<189>2024-10-11T10:15:31.208321-05:00 TestDevice %LINEPROTO-5-UPDOWN: Line protocol",
        "2024-10-11T15:16:00Z",
        Want {
            pri: Some(189),
            host: Some("TestDevice"),
            device: Some(("2024-10-11T15:15:31.208Z", Synced, true, true)),
            body: "%LINEPROTO-5-UPDOWN: Line protocol",
            ..W
        },
    );
    check(
        "<13>2020-03-31T08:41:59+00:00 some-switch Bgp: %BGP-5-ADJCHANGE: peer 192.0.2.2",
        "2020-03-31T09:00:00Z",
        Want {
            pri: Some(13),
            host: Some("some-switch"),
            app: Some("Bgp"),
            device: Some(("2020-03-31T08:41:59Z", Synced, true, true)),
            body: "%BGP-5-ADJCHANGE: peer",
            ..W
        },
    );
}

#[test]
fn eos_agent_tag_before_cisco_token() {
    check(
        "<165>Oct 23 12:23:41 GeorgeSwitch ConfigAgent: %SYS-5-CONFIG_I: Configured from",
        "2018-10-24T00:00:00Z",
        Want {
            pri: Some(165),
            host: Some("GeorgeSwitch"),
            app: Some("ConfigAgent"),
            device: Some(("2018-10-23T12:23:41Z", Synced, false, false)),
            body: "%SYS-5-CONFIG_I: Configured",
            ..W
        },
    );
}

#[test]
fn bare_cisco_token_without_header() {
    let line = "%ASA-5-111008: User 'impssnagios' executed the 'enable' command.";
    check(line, "2026-01-01T00:00:00Z", Want { body: line, ..W });
    let line = "%ASA-4-401004 Shunned packet: 192.168.0.1 = 192.168.0.2";
    check(line, "2026-01-01T00:00:00Z", Want { body: line, ..W });
}

#[test]
fn asa_stamp_and_device_id() {
    check(
        "<165>Nov 14 2013 11:23:36: %ASA-5-111008: User 'enable_15' executed the 'copy'",
        "2026-01-01T00:00:00Z",
        Want {
            pri: Some(165),
            device: Some(("2013-11-14T11:23:36Z", Synced, true, false)),
            body: "%ASA-5-111008: User",
            ..W
        },
    );
    check(
        "<165>Nov 14 2013 11:23:36 fw01 : %ASA-config-5-111008: User 'x' executed",
        "2026-01-01T00:00:00Z",
        Want {
            pri: Some(165),
            host: Some("fw01"),
            device: Some(("2013-11-14T11:23:36Z", Synced, true, false)),
            body: "%ASA-config-5-111008: User",
            ..W
        },
    );
}

#[test]
fn junos_structured_header_behind_a_relay() {
    check(
        "Aug 24 04:58:58 192.168.1.1 junos-ids: 2017-08-24T04:58:58.724Z sis-srx-EUH-03 \
         RT_IDS - RT_SCREEN_IP [junos@1.1.1.1.2.1 attack-name=\"IP spoofing!\"]",
        "2017-08-24T05:00:00Z",
        Want {
            relay_time: Some("2017-08-24T04:58:58Z"),
            relay_host: Some("192.168.1.1"),
            host: Some("sis-srx-EUH-03"),
            app: Some("junos-ids"),
            device: Some(("2017-08-24T04:58:58.724Z", Synced, true, true)),
            body: "RT_IDS - RT_SCREEN_IP",
            ..W
        },
    );
}

#[test]
fn iosxr_node_id_and_process() {
    check(
        "<190>40: xrv RP/0/RP0/CPU0:Oct  4 22:52:47.441 : cfgmgr_trial_confirm[67310]: \
         %MGBL-CONFIG-6-DB_COMMIT : Configuration committed by user 'vagrant'.",
        "2017-10-05T00:00:00Z",
        Want {
            pri: Some(190),
            host: Some("xrv"),
            app: Some("cfgmgr_trial_confirm"),
            seq: Some(40),
            device: Some(("2017-10-04T22:52:47.441Z", Synced, false, false)),
            body: "%MGBL-CONFIG-6-DB_COMMIT : Configuration",
            ..W
        },
    );
    check(
        "<190>Oct 7 07:19:44 internet-primary-mgmt RP/0/RP0/CPU0:Oct 7 07:19:43.630 UTC: \
         ipv4_acl_mgr[310]: %ACL-IPV4_ACL-6-IPACCESSLOGP : access-list",
        "2022-10-07T08:00:00Z",
        Want {
            pri: Some(190),
            relay_time: Some("2022-10-07T07:19:44Z"),
            relay_host: Some("internet-primary-mgmt"),
            app: Some("ipv4_acl_mgr"),
            device: Some(("2022-10-07T07:19:43.630Z", Synced, false, true)),
            body: "%ACL-IPV4_ACL-6-IPACCESSLOGP : access-list",
            ..W
        },
    );
}

#[test]
fn host_without_colon_before_a_sequence_number() {
    check(
        "172.16.5.10 6705: Feb 17 13:40:03.673: %PARSER-5-CFGLOG_LOGGEDCMD: User:admin  \
         logged command:no access-session port-control",
        "2020-02-18T00:00:00Z",
        Want {
            host: Some("172.16.5.10"),
            seq: Some(6705),
            device: Some(("2020-02-17T13:40:03.673Z", Synced, false, false)),
            body: "%PARSER-5-CFGLOG_LOGGEDCMD: User:admin  logged",
            ..W
        },
    );
    check(
        "<190>3132517: 192.168.100.2 3132513: Jul 14 2023 08:23:43.398 UTC: %FOO-6-BAR: T",
        "2023-07-14T09:00:00Z",
        Want {
            pri: Some(190),
            host: Some("192.168.100.2"),
            seq: Some(3132513),
            device: Some(("2023-07-14T08:23:43.398Z", Synced, true, true)),
            body: "%FOO-6-BAR: T",
            ..W
        },
    );
}

#[test]
fn relay_header_directly_before_a_cisco_token_is_read_as_the_devices() {
    // Without a second header nothing tells a relay from a device; BSD rules apply.
    check(
        "<189>Jun 12 18:10:50 10.53.35.85 %ILPOWER-5-IEEE_DISCONNECT: Interface Gi1/0/20",
        "2023-06-12T18:11:00Z",
        Want {
            pri: Some(189),
            host: Some("10.53.35.85"),
            device: Some(("2023-06-12T18:10:50Z", Synced, false, false)),
            body: "%ILPOWER-5-IEEE_DISCONNECT",
            ..W
        },
    );
}

#[test]
fn generator_lines_behind_rsyslog_rfc3339_prefix() {
    let r = "2026-06-01T05:00:00Z";
    check(
        "2026-06-01T04:12:57.579Z 10.64.3.1 <189>35: rtr-0004: *Jun  1 04:12:56.961 UTC: \
         %SYS-5-RESTART: System restarted --#012Cisco IOS Software",
        r,
        Want {
            pri: Some(189),
            relay_time: Some("2026-06-01T04:12:57.579Z"),
            relay_host: Some("10.64.3.1"),
            host: Some("rtr-0004"),
            seq: Some(35),
            device: Some(("2026-06-01T04:12:56.961Z", Star, false, true)),
            body: "%SYS-5-RESTART: System restarted",
            ..W
        },
    );
    check(
        "2026-06-01T00:06:02.088Z 10.64.9.1 <189>core-0010: 2026 Jun 01 00:06:01 UTC: \
         %ACLLOG-5-ACLLOG_FLOW_INTERVAL: Src IP",
        r,
        Want {
            pri: Some(189),
            relay_time: Some("2026-06-01T00:06:02.088Z"),
            relay_host: Some("10.64.9.1"),
            host: Some("core-0010"),
            device: Some(("2026-06-01T00:06:01Z", Synced, true, true)),
            body: "%ACLLOG-5-ACLLOG_FLOW_INTERVAL: Src IP",
            ..W
        },
    );
    check(
        "2026-06-01T01:09:37.781Z 10.64.8.1 <190>Jun  1 01:09:39 sw-0009 mgd[23205]: \
         UI_LOGOUT_EVENT: User 'mlopez' logout",
        r,
        Want {
            pri: Some(190),
            relay_time: Some("2026-06-01T01:09:37.781Z"),
            relay_host: Some("10.64.8.1"),
            host: Some("sw-0009"),
            app: Some("mgd"),
            device: Some(("2026-06-01T01:09:39Z", Synced, false, false)),
            body: "UI_LOGOUT_EVENT: User",
            ..W
        },
    );
    check(
        "<189>: 2026 Jun 01 03:10:00 UTC: %SYS-5-RELOAD: Reload requested",
        r,
        Want {
            pri: Some(189),
            device: Some(("2026-06-01T03:10:00Z", Synced, true, true)),
            body: "%SYS-5-RELOAD",
            ..W
        },
    );
}

#[test]
fn elastic_date_format_variants() {
    let r = "2022-01-20T00:00:00Z";
    let cases = [
        (
            "Jan  6 2022 22:11:43.398 UTC",
            "2022-01-06T22:11:43.398Z",
            true,
            true,
        ),
        ("Jan 16 2022 22:11:43:", "2022-01-16T22:11:43Z", true, false),
        (
            "Jan 16 2022 22:11:43 EDT",
            "2022-01-17T02:11:43Z",
            true,
            true,
        ),
        (
            "Jan  6 22:11:43.398",
            "2022-01-06T22:11:43.398Z",
            false,
            false,
        ),
        ("Jan 16 22:11:43 UTC", "2022-01-16T22:11:43Z", false, true),
    ];
    for (stamp, t, had_year, zone_known) in cases {
        let stamp = stamp.trim_end_matches(':');
        let line = format!("<190>2361044: sw01: {stamp}: %FOO-6-BAR: Test date format.");
        check(
            &line,
            r,
            Want {
                pri: Some(190),
                host: Some("sw01"),
                seq: Some(2361044),
                device: Some((t, Synced, had_year, zone_known)),
                body: "%FOO-6-BAR: Test date format.",
                ..W
            },
        );
    }
}

#[test]
fn ntp_core_body_without_cisco_token() {
    check(
        "<191>2637085: rt401-rk30409: Aug 18 07:15:04.461 CEST: NTP Core (NOTICE): Clock",
        "2023-08-18T06:00:00Z",
        Want {
            pri: Some(191),
            host: Some("rt401-rk30409"),
            seq: Some(2637085),
            device: Some(("2023-08-18T05:15:04.461Z", Synced, false, true)),
            body: "NTP Core (NOTICE): Clock",
            ..W
        },
    );
}

#[test]
fn garbage_is_not_recognized() {
    for line in [
        "this is not syslog at all",
        "",
        "   ",
        "hello: world",
        "<999>x",
        "日本語",
    ] {
        check(
            line,
            "2026-01-01T00:00:00Z",
            Want {
                body: line,
                recognized: false,
                ..W
            },
        );
    }
}

#[test]
fn pri_only_lines_keep_their_text() {
    // The body is the whole record; its own date, time and devname (a FortiGate record, no tz)
    // give the clock and the device.
    check(
        "<189>date=2019-04-09 time=04:27:29 devname=fw01",
        "2026-01-01T00:00:00Z",
        Want {
            pri: Some(189),
            host: Some("fw01"),
            device: Some(("2019-04-09T04:27:29Z", Synced, true, false)),
            body: "date=2019-04-09 time=04:27:29 devname=fw01",
            ..W
        },
    );
}

/// Lines of the external corpus, one per entry; `.ini` files keep the text after `pass = `.
fn corpus_lines() -> Vec<(String, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == "PROVENANCE.md" || name == "README.md" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let ini = name.ends_with(".ini");
            for line in text.lines() {
                let line = if ini {
                    match line.split_once("pass = ") {
                        Some((_, rest)) => rest,
                        None => continue,
                    }
                } else {
                    line
                };
                if !line.trim().is_empty() {
                    out.push((path.display().to_string(), line.to_string()));
                }
            }
        }
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpus/external");
    let mut out = Vec::new();
    walk(std::path::Path::new(root), &mut out);
    out
}

#[test]
fn every_external_corpus_line_is_recognized() {
    let lines = corpus_lines();
    assert!(lines.len() > 300, "corpus too small: {}", lines.len());
    let reference = ms("2023-06-01T00:00:00Z");
    for (file, line) in &lines {
        let h = parse_header(line, reference);
        assert!(h.recognized, "{file}: {line}\n{h:#?}");
        assert_eq!(&line[h.body_offset..], h.body, "{file}: {line}");
        // A %-token in the line must be where the body starts when the header is Cisco's.
        if let Some(pct) = line.find(": %").map(|k| k + 2)
            && h.body_offset < pct
            && !h.body.starts_with('%')
            && h.app.is_none()
        {
            panic!("{file}: body should start at the %-token: {line}\n{h:#?}");
        }
    }
}

/// xorshift64*: enough randomness to shake the parser without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn assert_sane(line: &str, reference: Millis) {
    let h = parse_header(line, reference);
    assert_eq!(line.get(h.body_offset..), Some(h.body), "{line:?}");
    if !h.recognized {
        assert_eq!(h.body, line);
    }
}

#[test]
fn never_panics_on_cuts_mutations_and_noise() {
    let lines = corpus_lines();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let refs = [0, i64::MIN, i64::MAX, ms("2026-01-01T00:00:30Z")];
    for (_, line) in &lines {
        let r = refs[rng.below(refs.len())];
        // Every prefix and suffix at a char boundary.
        for (k, _) in line.char_indices() {
            assert_sane(&line[..k], r);
            assert_sane(&line[k..], r);
        }
        // Byte-level mutations, read back through from_utf8_lossy.
        let mut bytes = line.as_bytes().to_vec();
        for _ in 0..8 {
            let k = rng.below(bytes.len());
            match rng.below(4) {
                0 => bytes[k] = rng.next() as u8,
                1 => {
                    bytes.insert(k, b"<>:*.% -[]\"\\0123456789TZ+"[rng.below(25)]);
                }
                2 if !bytes.is_empty() => {
                    bytes.remove(k.min(bytes.len() - 1));
                }
                _ => bytes.extend_from_slice("é日\u{feff}".as_bytes()),
            }
            assert_sane(&String::from_utf8_lossy(&bytes), r);
        }
    }
    // Noise built from header alphabet so deep paths get exercised.
    let atoms: &[&str] = &[
        "<189>",
        "<1",
        "1 ",
        "2023 ",
        "Jan",
        "May ",
        " 6 ",
        "12:",
        "34:56",
        ".123",
        " UTC",
        "+07:30",
        "-",
        ": ",
        " : ",
        "*",
        ".",
        "%SYS-5-X",
        "%A-9-",
        "RP/0/RP0/CPU0:",
        "host",
        "mgd[1]:",
        "2y10w",
        "T",
        "Z",
        "[a b=\"]\"]",
        "\\",
        "é",
        "日本",
        "\u{feff}",
        " ",
        "2026-06-01T03:10:00",
        "99999999999999999999999:",
        "last message repeated ",
    ];
    for _ in 0..20_000 {
        let mut s = String::new();
        for _ in 0..rng.below(24) {
            s.push_str(atoms[rng.below(atoms.len())]);
        }
        assert_sane(&s, refs[rng.below(refs.len())]);
    }
    for _ in 0..2_000 {
        let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        assert_sane(&String::from_utf8_lossy(&bytes), 0);
    }
}

#[test]
fn huge_inputs_stay_linear_and_safe() {
    let big = "Jan  1 00:00:00 2023 ".repeat(50_000);
    assert_sane(&big, 0);
    let big = "1: ".repeat(100_000);
    assert_sane(&big, 0);
    let big = format!("<189>1 - h a p m {}", "[x a=\"\\".repeat(50_000));
    assert_sane(&big, 0);
}

/// Firewall records carry their own clock and device name in the body. FortiGate: the record
/// is the device's, so a BSD stamp and host in front of it are a forwarder's; PAN-OS writes its
/// own BSD/IETF header, and its CSV only fills what the header left out.
#[test]
fn firewall_records_name_their_device_and_clock() {
    // Elastic `fortinet_fortigate` `test-fortinet.log`: PRI, then the record; no syslog header.
    check(
        "<189>date=2020-04-23 time=14:24:13 devname=\"testswitch3\" devid=\"someotherrouteridagain\" logid=\"0100041006\" type=\"event\" subtype=\"system\" level=\"notice\" vd=\"root\" eventtime=1587230655301863513 tz=\"-0300\" logdesc=\"FortiSandbox AV database updated\" version=\"1.522479\" msg=\"FortiSandbox AV database updated\"",
        "2020-04-23T17:25:00Z",
        Want {
            pri: Some(189),
            host: Some("testswitch3"),
            device: Some(("2020-04-23T17:24:13Z", Synced, true, true)),
            body: "date=2020-04-23 time=14:24:13",
            ..W
        },
    );
    // real-formats §6.1 (collector output pasted in a notes file): a relay's BSD header with
    // no PRI in front of the record; the relay is `_gateway`, the device `DAHUA_FORTIGATE`.
    check(
        "Aug 23 15:56:05 _gateway date=2026-08-23 time=15:56:05 devname=\"DAHUA_FORTIGATE\" devid=\"FG100ETK20014183\" logid=\"0100032002\" type=\"event\" subtype=\"system\" level=\"alert\" vd=\"root\" eventtime=1787493365290855265 tz=\"+0200\" logdesc=\"Admin login failed\"",
        "2026-08-23T13:56:06Z",
        Want {
            relay_time: Some("2026-08-23T15:56:05Z"),
            relay_host: Some("_gateway"),
            host: Some("DAHUA_FORTIGATE"),
            device: Some(("2026-08-23T13:56:05Z", Synced, true, true)),
            body: "date=2026-08-23",
            ..W
        },
    );
    // The same, read years later with no arrival time: the record's year dates the relay's
    // year-less stamp, not the reference.
    check(
        "Aug 23 15:56:05 _gateway date=2026-08-23 time=15:56:05 devname=\"DAHUA_FORTIGATE\" logid=\"0100032002\" type=\"event\" subtype=\"system\" tz=\"+0200\"",
        "2031-01-05T00:00:00Z",
        Want {
            relay_time: Some("2026-08-23T15:56:05Z"),
            relay_host: Some("_gateway"),
            host: Some("DAHUA_FORTIGATE"),
            device: Some(("2026-08-23T13:56:05Z", Synced, true, true)),
            body: "date=2026-08-23",
            ..W
        },
    );
    // apache/metron PAN-OS SYSTEM test line: the BSD header names the device; the CSV agrees.
    check(
        "<14>Mar 25 00:00:56 PAN1.exampleCustomer.com 1,2016/03/25 00:00:56,003002112674,SYSTEM,general,0,2016/03/25 00:00:56,,general,,0,0,general,informational,User HarryPotter logged in via Web from 10.255.255.255 using http,156324,0x0,0,0,0,0,,SUNKUPAN1",
        "2016-03-25T00:01:00Z",
        Want {
            pri: Some(14),
            host: Some("PAN1.exampleCustomer.com"),
            device: Some(("2016-03-25T00:00:56Z", Synced, false, false)),
            body: "1,2016/03/25 00:00:56,003002112674,SYSTEM",
            ..W
        },
    );
    // Elastic `panw` `test-panw-panos-system-sample.log`: bare CSV (a shipper's
    // `event.original`): the device name and the high-resolution time come from the record.
    check(
        "1,2021/10/26 15:05:03,,SYSTEM,general,2561,2021/10/26 15:05:03,,general,,0,0,general,informational,\"Connection to Update server closed: updates.paloaltonetworks.com, source: 81.2.69.193\",1234567890,0x0,0,0,0,0,,PA-VM,0,0,2021-10-26T15:05:03.440-07:00",
        "2021-10-26T22:05:04Z",
        Want {
            host: Some("PA-VM"),
            device: Some(("2021-10-26T22:05:03.440Z", Synced, true, true)),
            body: "1,2021/10/26 15:05:03,,SYSTEM",
            ..W
        },
    );
}
