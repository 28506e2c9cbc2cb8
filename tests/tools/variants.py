#!/usr/bin/env python3
"""Rewrite a gen.py corpus the way a real fleet would deliver it.

gen.py writes one clean shape per vendor. Real fleets differ: hostnames upper-case or with a
domain, Cisco stamps with a year or without milliseconds, local time zones, lost NTP sync,
RFC 5424 senders, senders logged without the collector prefix, relays that deliver twice or
out of order, junk on the wire, Filebeat / Elastic Agent NDJSON, and wording that drifts
between releases. This tool applies those transformations, each with a probability per device
or per line, and keeps labels.jsonl and changes.yaml consistent (devices keep their canonical
names in labels and inventory; aliases may gain FQDNs).

    variants.py apply --src GEN_DIR --out DIR [--seed N] [--format syslog|ndjson] [--only a,b]
    variants.py templates --base templates.json --out FILE

Deterministic: the same input and arguments give byte-identical output. Stdlib only.
"""

import argparse
import datetime as dt
import json
import os
import random
import re
import sys
import zlib

MON = ["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MON_NUM = {m: i for i, m in enumerate(MON) if m}

# Every transformation, with its default probability (per device unless noted).
TRANSFORMS = {
    "host_upper": 0.3,        # hostname upper-cased in the header
    "host_fqdn": 0.3,         # hostname with a domain suffix in the header
    "alias_fqdn": 0.5,        # inventory aliases gain the FQDN (of devices with host_fqdn)
    "cisco_year": 0.3,        # Cisco stamp `Jun  1 2026 03:10:00.123 UTC`
    "cisco_no_msec": 0.3,     # Cisco stamp without milliseconds
    "cisco_tz": 0.4,          # Cisco stamp in a local zone (abbreviation or UTC+hh:mm)
    "sync_lost": 0.02,        # per line: `.` marker (clock set, NTP sync lost)
    "rfc5424": 0.15,          # the whole device sends RFC 5424
    "bsd_rfc3339": 0.15,      # Junos/EOS: RFC 3339 stamp in an RFC 3164 layout
    "raw_sender": 0.1,        # no collector prefix (only senders that name themselves)
    "traditional_prefix": 0.1,  # rsyslog traditional file format, PRI dropped
    "duplicate": 0.05,        # per line: delivered again by a second relay
    "reorder": 0.1,           # per line: moved by up to +-20 s in the file
    "garbage": 0.004,         # per line: a junk line inserted after it
    "wording": 0.5,           # per device: release wording drift
    "boot_clock": 0.3,        # Cisco: after a reload the `*` stamps count from `Mar  1 00:00:00`
    # A sender with no collector prefix *and* a 1993 boot clock has no usable time on its boot
    # lines; off by default until the engine falls back to the latest time seen (see
    # tests/suite/variants.rs, `unsynced_stamp_without_arrival_*`).
    "raw_boot_clock": 0.0,
    "ipv6_sender": 0.1,       # the device sends from an IPv6 address (inventory alias too)
    "relay_header": 0.1,      # a relay puts its own `Mmm dd hh:mm:ss <ip>` in front of the message
    "multiline_real": 0.2,    # the RESTART banner arrives with real line breaks, not `#012`
    "cisco_seq": 0.3,         # Cisco sequence field: zero-padded, two counters or empty
    "re0_prefix": 0.3,        # Junos: hostname `re0.<name>` (dual routing engines)
    "bsd_unpadded": 0.3,      # BSD stamp `Jun 1` (no padding) or two spaces after the time
}

DOMAINS = ["corp.example.net", "net.example.com", "mgmt.example.org"]

# (abbreviation, offset minutes) a device may print with `service timestamps ... localtime
# show-timezone`, for June dates.
ZONES = [("CEST", 120), ("CET", 60), ("EDT", -240), ("PDT", -420), ("BST", 60), ("GMT", 0),
         ("UTC+02:00", 120), ("UTC+5:30", 330), ("JST", 540)]

EEM_NAMES = ["CLIaccounting", "CLI-LOG", "cli_log", "CMDLOG"]


def h32(*parts):
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode())


def iso_ms(ms, offset_min=0):
    t = dt.datetime.fromtimestamp(ms / 1000.0, tz=dt.timezone.utc) + dt.timedelta(minutes=offset_min)
    base = t.strftime("%Y-%m-%dT%H:%M:%S") + ".%03d" % (ms % 1000)
    if offset_min == 0:
        return base + "Z"
    sign = "+" if offset_min > 0 else "-"
    return base + "%s%02d:%02d" % (sign, abs(offset_min) // 60, abs(offset_min) % 60)


SHIFT_MS = 0


def parse_iso(s):
    return int(round(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000))


# --------------------------------------------------------------------------- input
CISCO = re.compile(r"^<(\d+)>(\d+): (?:(\S+): )?([*.]?)([A-Z][a-z]{2}) +(\d+) (\d\d):(\d\d):(\d\d)\.(\d{3}) UTC: (.*)$", re.S)
NXOS = re.compile(r"^<(\d+)>(\S*): (\d{4}) ([A-Z][a-z]{2}) (\d\d) (\d\d):(\d\d):(\d\d) UTC: (.*)$", re.S)
BSD = re.compile(r"^<(\d+)>([A-Z][a-z]{2}) +(\d+) (\d\d):(\d\d):(\d\d) (\S+) (\S+?): (.*)$", re.S)


def ms_of(year, mon, day, hh, mi, ss, ms):
    return int(dt.datetime(year, mon, day, hh, mi, ss, tzinfo=dt.timezone.utc).timestamp()) * 1000 + ms


class Event:
    __slots__ = ("arr", "ip", "dev", "vendor", "pri", "seq", "host", "marker", "tdev", "has_ms",
                 "proc", "body", "raw")


def parse_line(line, by_ip):
    """One gen.py syslog.log line -> Event (None for lines of unknown shape)."""
    arr_s, ip, raw = line.split(" ", 2)
    e = Event()
    e.arr, e.ip, e.raw = parse_iso(arr_s) + SHIFT_MS, ip, raw
    inv = by_ip.get(ip)
    if inv is None:
        return None
    e.dev, e.vendor = inv["device"], inv["vendor"]
    year = int(arr_s[:4])
    shifted = e.arr - SHIFT_MS
    e.proc, e.seq, e.marker, e.has_ms = "", None, "", True
    if e.vendor in ("cisco_ios", "cisco_iosxe"):
        m = CISCO.match(raw)
        if not m:
            return None
        e.pri, e.seq, e.host, e.marker = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        e.tdev = ms_of(year, MON_NUM[m.group(5)], int(m.group(6)), int(m.group(7)), int(m.group(8)),
                       int(m.group(9)), int(m.group(10)))
        e.body = m.group(11)
        e.tdev = fix_year(e.tdev, shifted)
    elif e.vendor == "cisco_nxos":
        m = NXOS.match(raw)
        if not m:
            return None
        e.pri, e.host = int(m.group(1)), m.group(2) or None
        e.tdev = ms_of(int(m.group(3)), MON_NUM[m.group(4)], int(m.group(5)), int(m.group(6)),
                       int(m.group(7)), int(m.group(8)), 0)
        e.has_ms = False
        e.body = m.group(9)
    else:
        m = BSD.match(raw)
        if not m:
            return None
        e.pri, e.host, e.proc = int(m.group(1)), m.group(7), m.group(8)
        e.tdev = ms_of(year, MON_NUM[m.group(2)], int(m.group(3)), int(m.group(4)), int(m.group(5)),
                       int(m.group(6)), 0)
        e.has_ms = False
        e.body = m.group(9)
        e.tdev = fix_year(e.tdev, shifted)
    e.tdev += SHIFT_MS
    return e


def fix_year(tdev, arr):
    """gen.py stamps carry no year: take the one nearest the arrival (Dec 31 -> Jan 1)."""
    best = tdev
    for dy in (-1, 1):
        t = dt.datetime.fromtimestamp(tdev / 1000.0, tz=dt.timezone.utc)
        try:
            c = int(t.replace(year=t.year + dy).timestamp() * 1000)
        except ValueError:
            continue
        if abs(c - arr) < abs(best - arr):
            best = c
    return best


def read_inventory(text):
    """Inventory entries from gen.py's changes.yaml (its own fixed layout)."""
    inv, cur = [], None
    for ln in text.splitlines():
        m = re.match(r"  - device: (\S+)$", ln)
        if m:
            cur = {"device": m.group(1)}
            inv.append(cur)
            continue
        if cur is None:
            continue
        m = re.match(r"    (vendor|aliases): (.*)$", ln)
        if m:
            cur[m.group(1)] = json.loads(m.group(2)) if m.group(1) == "aliases" else m.group(2)
    return inv


# --------------------------------------------------------------------------- device profiles
class Profile:
    def __init__(self, rng, inv, p):
        dev, vendor = inv["device"], inv["vendor"]
        self.upper = rng.random() < p["host_upper"]
        self.fqdn = DOMAINS[rng.randrange(len(DOMAINS))] if rng.random() < p["host_fqdn"] else None
        self.alias_fqdn = self.fqdn is not None and rng.random() < p["alias_fqdn"]
        name = dev.upper() if self.upper else dev
        self.hostname = name + ("." + self.fqdn if self.fqdn else "")
        cisco = vendor in ("cisco_ios", "cisco_iosxe")
        self.year = cisco and rng.random() < p["cisco_year"]
        self.no_msec = cisco and rng.random() < p["cisco_no_msec"]
        self.zone = ("UTC", 0)
        if cisco and rng.random() < p["cisco_tz"]:
            self.zone = ZONES[rng.randrange(len(ZONES))]
            if rng.random() < 0.2 and not self.zone[0].startswith("UTC"):
                self.zone = (self.zone[0].lower(), self.zone[1])
        self.rfc5424 = rng.random() < p["rfc5424"]
        self.sd_meta = rng.random() < 0.5
        self.bsd_rfc3339 = vendor in ("juniper_junos", "arista_eos") and not self.rfc5424 \
            and rng.random() < p["bsd_rfc3339"]
        self.raw = rng.random() < p["raw_sender"]
        self.boot_clock = cisco and rng.random() < p["boot_clock"]
        if self.raw and self.boot_clock and rng.random() >= p["raw_boot_clock"]:
            self.raw = False
        self.traditional = not self.raw and rng.random() < p["traditional_prefix"]
        self.wording = rng.random() < p["wording"]
        self.eem = EEM_NAMES[rng.randrange(len(EEM_NAMES))]
        self.nested_install = vendor == "cisco_iosxe" and rng.random() < 0.5
        self.junos_priority = vendor == "juniper_junos" and rng.random() < 0.4
        self.port = rng.randint(1024, 65535) if rng.random() < 0.5 else 514
        self.ipv6 = rng.random() < p["ipv6_sender"]
        self.relay = rng.random() < p["relay_header"]
        self.multiline = rng.random() < p["multiline_real"]
        self.seq_style = rng.choice(["pad", "two", "empty"]) if cisco and rng.random() < p["cisco_seq"] else None
        if vendor == "juniper_junos" and rng.random() < p["re0_prefix"]:
            self.hostname = rng.choice(["re0.", "re1."]) + self.hostname
        self.bsd_style = rng.choice(["unpadded", "twospace"]) if rng.random() < p["bsd_unpadded"] else None
        self.nd_shape = rng.choice(["gen", "nested", "dotted", "agent"])
        # Elastic Agent keeps the received line only with `preserve_original_event`.
        self.keep_original = rng.random() < 0.5


def names_itself(e, prof):
    """True when the message as sent carries the device's hostname (so it survives without the
    collector prefix)."""
    if prof.rfc5424:
        return e.host is not None
    return e.host is not None


# --------------------------------------------------------------------------- rendering
def drift(body, prof, rng):
    """Wording that differs between releases (FORMATS.md section 9, item 8)."""
    if not prof.wording:
        return body
    body = body.replace("Reload Reason: Reload Command.", "Reload Reason: Reload command.")
    body = re.sub(r"reboot after reload =  (\d+) seconds", r"reboot after reload = \1s", body)
    body = re.sub(r"^(%PARSER-5-CFGLOG_LOGGEDCMD: User:\S+)  logged command:", r"\1 logged command:", body)
    body = re.sub(r"^(%HA_EM-6-LOG: )CLIaccounting: ", lambda m: m.group(1) + prof.eem + ": ", body)
    body = re.sub(r"(UI_CMDLINE_READ_LINE: User '[^']*', command '.*) '$", r"\1'", body)
    body = body.replace("running 'CLI'", "running 'cli'")
    if prof.nested_install:
        # IOS-XE 16.x: the install engine's message wrapped in the IOSd platform message, with
        # the platform's own (local) time inside (FORMATS.md 1.3, nested messages).
        body = re.sub(r"^%INSTALL-5-(INSTALL_\w+): Switch 1 R0/0: install_engine: ",
                      r"%IOSXE-5-PLATFORM: Switch 1 R0/0: Jun  1 10:19:10 install_engine.sh: %INSTALL-5-\1: ", body)
    else:
        body = body.replace(": Switch 1 R0/0: install_engine: ", ": R0/0: install_mgr: ")
    if prof.junos_priority:
        # Junos `explicit-priority`: a Cisco-like token before the tag (FORMATS.md 1.5).
        body = re.sub(r"^(UI_CMDLINE_READ_LINE|UI_COMMIT|UI_LOGIN_EVENT): ", r"%INTERACT-6-\1: ", body)
        body = re.sub(r"^UI_REBOOT_EVENT: ", "%DAEMON-4-UI_REBOOT_EVENT: ", body)
    return body


def cisco_stamp(e, prof, marker, boot_ms=None):
    off = prof.zone[1]
    t = dt.datetime.fromtimestamp(e.tdev / 1000.0, tz=dt.timezone.utc) + dt.timedelta(minutes=off)
    if boot_ms is not None:
        # No battery-backed calendar: the clock starts at the 1993 default at boot.
        t = dt.datetime(1993, 3, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=e.tdev - boot_ms + 45000)
    s = "%s%s %2d " % (marker, MON[t.month], t.day)
    if prof.year:
        s += "%d " % t.year
    s += t.strftime("%H:%M:%S")
    if not prof.no_msec:
        s += ".%03d" % (e.tdev % 1000)
    return s + " " + prof.zone[0]


def sd_escape(v):
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


JUNOS_TAG = re.compile(r"^([A-Z][A-Z0-9_]+): (.*)$", re.S)
JUNOS_SD = {
    "UI_CMDLINE_READ_LINE": (r"User '([^']*)', command '(.*)'$", ("username", "command")),
    "UI_LOGIN_EVENT": (r"User '([^']*)' login", ("username",)),
    "UI_LOGOUT_EVENT": (r"User '([^']*)' logout", ("username",)),
    "UI_COMMIT": (r"User '([^']*)' requested '([^']*)'", ("username", "command")),
    "UI_REBOOT_EVENT": (r"System rebooted by '([^']*)'", ("username",)),
    "UI_LOAD_EVENT": (r"User '([^']*)' is performing a '([^']*)'", ("username", "action")),
}


def split_proc(proc):
    m = re.match(r"^(.*)\[(\d+)\]$", proc)
    return (m.group(1), m.group(2)) if m else (proc or "-", "-")


def rfc5424(e, prof, body):
    host = prof.hostname if e.host is not None else "-"
    ts = iso_ms(e.tdev)
    if e.vendor == "juniper_junos":
        app, pid = split_proc(e.proc)
        app = app.lstrip("/")
        m = JUNOS_TAG.match(body)
        if m:
            tag, text = m.group(1), m.group(2)
            params = ""
            spec = JUNOS_SD.get(tag)
            if spec:
                mm = re.search(spec[0], text)
                if mm:
                    params = "".join(' %s="%s"' % (k, sd_escape(v)) for k, v in zip(spec[1], mm.groups()))
            return "<%d>1 %s %s %s %s %s [junos@2636.1.1.1.2.18%s] %s" % (e.pri, ts, host, app, pid, tag, params, text)
        return "<%d>1 %s %s %s %s - - %s" % (e.pri, ts, host, app, pid, body)
    if e.vendor == "arista_eos":
        app, pid = split_proc(e.proc)
        return "<%d>1 %s %s %s %s - - %s" % (e.pri, ts, host, app, pid, body)
    sd = '[meta sequenceId="%d"]' % e.seq if (prof.sd_meta and e.seq is not None) else "-"
    return "<%d>1 %s %s - - - %s %s" % (e.pri, ts, host, sd, body)


def render_raw(e, prof, rng, p, boot_ms=None):
    """The message as the device sends it."""
    body = drift(e.body, prof, rng)
    if prof.multiline:
        body = body.replace("#012", "\n")
    if prof.rfc5424:
        return rfc5424(e, prof, body)
    host = prof.hostname if e.host is not None else None
    if e.vendor in ("cisco_ios", "cisco_iosxe"):
        marker = e.marker
        if not marker and rng.random() < p["sync_lost"]:
            marker = "."
        seq = {None: "%d: " % e.seq, "pad": "%06d: " % e.seq, "empty": ": ",
               "two": "%d: %d: " % (e.seq + 1000, e.seq)}[prof.seq_style]
        hdr = "<%d>%s" % (e.pri, seq)
        if host:
            hdr += host + ": "
        return hdr + cisco_stamp(e, prof, marker, boot_ms if marker == "*" else None) + ": " + body
    if e.vendor == "cisco_nxos":
        t = dt.datetime.fromtimestamp(e.tdev / 1000.0, tz=dt.timezone.utc)
        return "<%d>%s: %s UTC: %s" % (e.pri, host or "", t.strftime("%Y %b %d %H:%M:%S"), body)
    if prof.bsd_rfc3339:
        return "<%d>%s %s %s: %s" % (e.pri, iso_ms(e.tdev), host, e.proc, body)
    t = dt.datetime.fromtimestamp(e.tdev / 1000.0, tz=dt.timezone.utc)
    day = "%d" % t.day if prof.bsd_style == "unpadded" else "%2d" % t.day
    sep = "  " if prof.bsd_style == "twospace" else " "
    return "<%d>%s %s %s%s%s %s: %s" % (e.pri, MON[t.month], day, t.strftime("%H:%M:%S"), sep, host, e.proc, body)


def with_relay(e, prof, raw, arr):
    """A relay's RFC 3164 header in front of the device's message (FORMATS.md 1.1): the PRI
    moves in front of it, NX-OS gets ` : ` after the relay's sender."""
    if not prof.relay:
        return raw
    m = re.match(r"^<(\d+)>(.*)$", raw, re.S)
    if not m:
        return raw
    t = dt.datetime.fromtimestamp(arr / 1000.0, tz=dt.timezone.utc)
    sep = " : " if e.vendor == "cisco_nxos" and m.group(2).startswith(": ") else " "
    rest = m.group(2)[2:] if sep == " : " else m.group(2)
    return "<%s>%s %2d %s %s%s%s" % (m.group(1), MON[t.month], t.day, t.strftime("%H:%M:%S"), sender_of(e, prof), sep, rest)


def sender_of(e, prof):
    return prof.ipv6 if prof.ipv6 else e.ip


def syslog_line(e, prof, raw, arr):
    raw = with_relay(e, prof, raw, arr)
    if (prof.raw and names_itself(e, prof)) or prof.relay:
        # A relay header names the sender and the time: enough without the collector prefix.
        return raw
    if prof.traditional:
        t = dt.datetime.fromtimestamp(arr / 1000.0, tz=dt.timezone.utc)
        return "%s %2d %s %s %s" % (MON[t.month], t.day, t.strftime("%H:%M:%S"), sender_of(e, prof), re.sub(r"^<\d+>", "", raw))
    return "%s %s %s" % (iso_ms(arr), sender_of(e, prof), raw)


BSD_PARSE = re.compile(r"^<(\d+)>(?:\S+ +\d+ \d\d:\d\d:\d\d|\d{4}-\S+) (\S+) (\S+?)(?:\[(\d+)\])?: (.*)$", re.S)
R5424_PARSE = re.compile(r"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?(?<!\\)\]) ?(.*)$", re.S)


def ndjson_line(e, prof, raw, arr):
    """Filebeat / Elastic Agent shapes. `@timestamp` is the event time once a shipper has parsed
    the syslog header, else the arrival time; `event.created` is the arrival time."""
    shape = prof.nd_shape
    addr = "[%s]:%d" % (prof.ipv6, prof.port) if prof.ipv6 else "%s:%d" % (e.ip, prof.port)
    if shape == "gen":
        return json.dumps({"@timestamp": iso_ms(arr), "event": {"dataset": "network"},
                           "host": {"ip": sender_of(e, prof)}, "log": {"syslog": {"priority": e.pri}}, "message": raw})
    if shape == "nested":
        rec = {"@timestamp": iso_ms(e.tdev), "agent": {"type": "filebeat", "version": "8.15.1"},
               "event": {"created": iso_ms(arr), "module": "cisco"}, "input": {"type": "udp"},
               "log": {"source": {"address": addr}}, "message": raw,
               # the shipper's own host, as add_host_metadata writes it: not the device
               "host": {"name": "logcollector-01", "hostname": "logcollector-01", "ip": ["10.50.0.20"]}}
        if e.host is not None:
            rec["log"]["syslog"] = {"hostname": prof.hostname, "priority": e.pri}
        return json.dumps(rec)
    if shape == "dotted":
        rec = {"@timestamp": iso_ms(e.tdev), "event.created": iso_ms(arr), "log.source.address": addr,
               "agent.type": "filebeat", "message": raw}
        if e.host is not None:
            rec["log.syslog.hostname"] = prof.hostname
        return json.dumps(rec)
    # Elastic Agent with its syslog parser: the header is taken apart into log.syslog.*, the
    # original line kept in event.original. Only RFC 3164 / 5424 layouts parse; Cisco's own
    # header does not, and is shipped whole.
    rec = {"@timestamp": iso_ms(e.tdev), "event": {"created": iso_ms(arr)},
           "data_stream": {"dataset": "network.syslog", "type": "logs"},
           "log": {"source": {"address": addr}}, "host": {"name": "elastic-agent-7"}}
    if prof.keep_original:
        rec["event"]["original"] = raw
    m5 = R5424_PARSE.match(raw)
    mb = BSD_PARSE.match(raw)
    if m5:
        sl = {"priority": int(m5.group(1)), "version": "1", "appname": m5.group(4)}
        if m5.group(3) != "-":
            sl["hostname"] = m5.group(3)
        if m5.group(5) != "-":
            sl["procid"] = m5.group(5)
        if m5.group(6) != "-":
            sl["msgid"] = m5.group(6)
        if m5.group(7) != "-":
            sl["structured_data"] = m5.group(7)
        rec["log"]["syslog"] = sl
        rec["message"] = m5.group(8)
    elif mb:
        sl = {"priority": int(mb.group(1)), "hostname": mb.group(2), "appname": mb.group(3)}
        if mb.group(4):
            sl["procid"] = mb.group(4)
        rec["log"]["syslog"] = sl
        rec["message"] = mb.group(5)
    else:
        rec["message"] = raw
        if e.host is not None:
            rec["log"]["syslog"] = {"hostname": prof.hostname}
    return json.dumps(rec)


def garbage(rng, sample, arr, ndjson):
    """One junk line: binary noise, a truncated line, an empty line or partial JSON."""
    k = rng.randrange(6)
    if k == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 120))).replace(b"\n", b"\xff")
    if k == 1:
        return b""
    if k == 2:
        return ('{"@timestamp":"%s","message":"<189>12: ' % iso_ms(arr)).encode()
    if k == 3:
        # a line cut inside the header: nothing of the body survives
        return sample[: max(1, min(len(sample), rng.randint(5, 40)))].encode()
    if k == 4:
        return b"   \t  "
    return ("%s 0.0.0.0 \x00\x00\x01" % iso_ms(arr)).encode() if not ndjson else b"{]"


def is_noise(body):
    """Lines that carry no T1601 evidence; only these are truncated into garbage, so that a cut
    line never invents a half image name."""
    return re.search(r"UPDOWN|IPACCESSLOG|ADJCHG|ADJCHANGE|IF_UP|SNMP_TRAP_LINK|PEERREACH", body) is not None


# The June offsets of the zones gen.py's windows use: a shifted corpus keeps the windows where
# gen.py put its scenarios even when the new dates fall outside daylight saving time.
FIXED_ZONES = {"America/New_York": "Etc/GMT+4", "Europe/Berlin": "Etc/GMT-2"}


def iso_s(ms):
    return dt.datetime.fromtimestamp(ms / 1000.0, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shift_calendar_line(ln):
    m = re.match(r"^(\s+(?:- )?(?:start|end): )(\S+)$", ln)
    if m:
        return m.group(1) + iso_s(parse_iso(m.group(2)) + SHIFT_MS)
    for z, fixed in FIXED_ZONES.items():
        ln = ln.replace('"%s"' % z, '"%s"' % fixed)
    return ln


def apply(a):
    p = dict(TRANSFORMS)
    if a.only:
        keep = set(a.only.split(","))
        unknown = keep - set(p)
        if unknown:
            sys.exit("unknown transformations: %s" % ", ".join(sorted(unknown)))
        p = {k: (v if k in keep else 0.0) for k, v in p.items()}
    for kv in (a.prob or "").split(","):
        if kv:
            k, v = kv.split("=")
            if k not in p:
                sys.exit("unknown transformation: %s" % k)
            p[k] = float(v)
    global SHIFT_MS
    if a.shift_days % 7:
        sys.exit("--shift-days must be whole weeks (cron windows name weekdays)")
    SHIFT_MS = a.shift_days * 86400000
    os.makedirs(a.out, exist_ok=True)
    changes = open(os.path.join(a.src, "changes.yaml")).read()
    inv = read_inventory(changes)
    by_ip, profiles = {}, {}
    for d in inv:
        for al in d.get("aliases", []):
            by_ip[al] = d
        profiles[d["device"]] = Profile(random.Random(h32(a.seed, d["device"])), d, p)
        if profiles[d["device"]].ipv6:
            v4 = d["aliases"][0].split(".")
            profiles[d["device"]].ipv6 = "2001:db8:%x:%x::%x" % (int(v4[1]), int(v4[2]), int(v4[3]))

    # changes.yaml: only aliases change
    out_lines = []
    cur = None
    for ln in changes.splitlines():
        m = re.match(r"  - device: (\S+)$", ln)
        if m:
            cur = m.group(1)
        m2 = re.match(r"    aliases: (.*)$", ln)
        if m2 and cur in profiles:
            al = json.loads(m2.group(1))
            pr = profiles[cur]
            if pr.alias_fqdn:
                al.append("%s.%s" % (cur, pr.fqdn))
            if pr.ipv6:
                # the device logs from its IPv6 address only
                al = [pr.ipv6] + al[1:]
            ln = "    aliases: %s" % json.dumps(al)
        if SHIFT_MS:
            ln = shift_calendar_line(ln)
        out_lines.append(ln)
    with open(os.path.join(a.out, "changes.yaml"), "w") as fh:
        fh.write("\n".join(out_lines) + "\n")
    with open(os.path.join(a.src, "labels.jsonl")) as fi, open(os.path.join(a.out, "labels.jsonl"), "w") as fo:
        for ln in fi:
            lab = json.loads(ln)
            for k in ("start", "end"):
                lab[k] = iso_s(parse_iso(lab[k]) + SHIFT_MS)
            fo.write(json.dumps(lab) + "\n")

    rng = random.Random(h32(a.seed, "lines"))
    nd = a.format == "ndjson"
    items = []  # (sort key, tiebreak, bytes)
    n_in = n_skip = 0
    boot = {}  # device -> device time of the first `*` line since its last reload
    with open(os.path.join(a.src, "syslog.log"), encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            line = line.rstrip("\n")
            n_in += 1
            e = parse_line(line, by_ip)
            if e is None:
                n_skip += 1
                items.append((parse_iso(line.split(" ", 1)[0]) + SHIFT_MS, i, 0, line.encode()))
                continue
            prof = profiles[e.dev]
            boot_ms = None
            if prof.boot_clock and e.marker == "*":
                boot_ms = boot.setdefault(e.dev, e.tdev)
            else:
                boot.pop(e.dev, None)
            raw = render_raw(e, prof, rng, p, boot_ms)
            text = ndjson_line(e, prof, raw, e.arr) if nd else syslog_line(e, prof, raw, e.arr)
            key = e.arr
            if rng.random() < p["reorder"]:
                key += rng.randint(-20000, 20000)
            items.append((key, i, 0, text.encode()))
            if rng.random() < p["duplicate"]:
                arr2 = e.arr + rng.randint(1, 3000)
                text2 = ndjson_line(e, prof, raw, arr2) if nd else syslog_line(e, prof, raw, arr2)
                items.append((arr2, i, 1, text2.encode()))
            if rng.random() < p["garbage"]:
                sample = text if is_noise(e.body) else text[: text.find(" ") + 1] if not nd else "{"
                items.append((e.arr, i, 2, garbage(rng, sample, e.arr, nd)))
    items.sort(key=lambda t: (t[0], t[1], t[2]))
    name = "syslog.ndjson" if nd else "syslog.log"
    with open(os.path.join(a.out, name), "wb") as fo:
        for it in items:
            fo.write(it[3] + b"\n")
    sys.stderr.write("variants: %d lines in, %d out, %d passed through unparsed\n" % (n_in, len(items), n_skip))


# --------------------------------------------------------------------------- templates
def templates(a):
    """A templates.json for gen.py with other users, servers, images and version catalogues.
    gen.py's maintenance windows name `svc-ansible` and 10.20.0.10 literally, so the automation
    account and server stay; everything else changes."""
    t = json.load(open(a.base))
    t["users"].update({
        "engineers": ["k.tanaka", "mgarcia01", "ops-lee", "n.oconnor", "dpatel", "li.wei", "a.schmidt"],
        "automation": ["svc-ansible"],
        "unexpected": ["root", "operator", "guest1", "svc-backup", "netadmin", "temp01"],
        "jump_hosts": ["10.31.8.11", "10.31.8.12", "172.20.4.5"],
        "automation_hosts": ["10.20.0.11"],
        "odd_sources": ["100.64.12.9", "192.168.201.33", "10.250.3.77"],
    })
    t["servers"] = {
        "golden": ["10.12.40.21", "images01.corp.example.net"],
        "automation": ["10.20.0.10"],
        "unknown": ["185.220.101.7", "45.133.1.20", "10.250.9.9", "dl.example-mirror.org", "100.70.1.5"],
    }
    # Images kept in a directory tree on the server, as file servers usually are.
    for vname, v in t["vendors"].items():
        cmds = v["commands"]
        for key in ("copy_image", "copy_image_tftp"):
            cmds[key] = [c.replace("{server}/{image}", "{server}/images/%s/{image}" % vname.split("_")[0])
                         if i % 2 == 0 else c for i, c in enumerate(cmds[key])]
    V = t["vendors"]
    xe = "Cisco IOS Software [{train}], %s, Version {version}, RELEASE SOFTWARE (fc{fc})"
    xe_versions = [["17.6.7", "17.06.07", "Bengaluru"], ["17.9.4a", "17.09.04a", "Cupertino"],
                   ["17.9.5", "17.09.05", "Cupertino"], ["17.12.3", "17.12.03", "Dublin"],
                   ["17.12.4", "17.12.04", "Dublin"], ["17.15.1", "17.15.01", "IOSXE"]]
    V["cisco_iosxe"]["platforms"] = [
        {"model": "ISR4331", "install_mode": False, "roles": ["rtr", "edge"],
         "image": "isr4300-universalk9.{tok}.SPA.bin",
         "banner": xe % "ISR Software (X86_64_LINUX_IOSD-UNIVERSALK9-M)", "versions": xe_versions},
        {"model": "C9500-48Y4C", "install_mode": True, "roles": ["core", "dist"],
         "image": "cat9k_iosxe.{tok}.SPA.bin",
         "banner": xe % "Catalyst L3 Switch Software (CAT9K_IOSXE)", "versions": xe_versions},
        {"model": "ASR1001-X", "install_mode": False, "roles": ["edge", "rtr", "core"],
         "image": "asr1000-universalk9.{tok}.SPA.bin",
         "banner": xe % "ASR1000 Software (X86_64_LINUX_IOSD-UNIVERSALK9-M)", "versions": xe_versions},
        {"model": "C9300-48P", "install_mode": True, "roles": ["sw", "dist"],
         "image": "cat9k_iosxe.{tok}.SPA.bin",
         "banner": xe % "Catalyst L3 Switch Software (CAT9K_IOSXE)", "versions": xe_versions},
    ]
    ios = "Cisco IOS Software, %s Software (%s), Version {version}, RELEASE SOFTWARE (fc1)"
    V["cisco_ios"]["platforms"] = [
        {"model": "CISCO3945", "roles": ["rtr", "edge"], "image": "c3900-universalk9-mz.SPA.{tok}.bin",
         "banner": ios % ("C3900", "C3900-UNIVERSALK9-M"),
         "versions": [["15.6(3)M8", "156-3.M8"], ["15.7(3)M4b", "157-3.M4b"], ["15.7(3)M8", "157-3.M8"],
                      ["15.7(3)M9", "157-3.M9"], ["15.9(3)M7", "159-3.M7"], ["15.9(3)M9", "159-3.M9"]]},
        {"model": "IE-4000-8GT4G-E", "roles": ["sw", "dist", "edge"], "image": "ie4000-universalk9-mz.{tok}.bin",
         "banner": ios % ("IE4000", "IE4000-UNIVERSALK9-M"),
         "versions": [["15.2(7)E5", "152-7.E5"], ["15.2(7)E7", "152-7.E7"], ["15.2(7)E8", "152-7.E8"],
                      ["15.2(8)E3", "152-8.E3"], ["15.2(8)E5", "152-8.E5"]]},
    ]
    V["cisco_nxos"]["platforms"] = [
        {"model": "N9K-C9336C-FX2", "roles": ["core", "dist"], "image": "{tok}",
         "banner": "Cisco Nexus Operating System (NX-OS) Software, NXOS: version {version}",
         "versions": [["9.3(11)", "nxos.9.3.11.bin"], ["9.3(12)", "nxos.9.3.12.bin"], ["9.3(13)", "nxos.9.3.13.bin"],
                      ["10.2(8)", "nxos64-cs.10.2.8.M.bin"], ["10.3(6)", "nxos64-cs.10.3.6.M.bin"],
                      ["10.4(3)", "nxos64-cs.10.4.3.F.bin"]]},
    ]
    jb = "JUNOS {version} #0: 2024-09-30 17:42:10 UTC builder@host:/volume/build/junos/{tok}/obj/kernel"
    jv = [["21.4R3-S8.5", "21.4R3-S8.5"], ["22.2R3-S4.11", "22.2R3-S4.11"], ["22.4R3-S2.11", "22.4R3-S2.11"],
          ["23.2R2-S2.4", "23.2R2-S2.4"], ["23.4R2-S3.9", "23.4R2-S3.9"]]
    V["juniper_junos"]["platforms"] = [
        {"model": "QFX5120-48Y", "roles": ["core", "dist", "sw"],
         "image": "jinstall-host-qfx-5e-x86-64-{tok}-secure-signed.tgz", "banner": jb, "versions": jv},
        {"model": "EX4400-48T", "roles": ["sw", "edge"], "image": "junos-install-ex-arm-64-{tok}.tgz",
         "banner": jb, "versions": jv},
        {"model": "MX10003", "roles": ["rtr", "edge", "core"], "image": "junos-vmhost-install-mx-x86-64-{tok}.tgz",
         "banner": jb, "versions": jv},
    ]
    V["arista_eos"]["platforms"] = [
        {"model": "DCS-7280SR3-48YC8", "roles": ["core", "dist", "sw"], "image": "EOS64-{tok}.swi",
         "banner": "Arista DCS-7280SR3-48YC8 running EOS version {version}",
         "versions": [["4.29.9M", "4.29.9M"], ["4.30.7M", "4.30.7M"], ["4.31.4M", "4.31.4M"],
                      ["4.32.2F", "4.32.2F"], ["4.33.1F", "4.33.1F"]]},
    ]
    with open(a.out, "w") as fh:
        json.dump(t, fh, indent=1)
        fh.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ap_a = sub.add_parser("apply", help="write a variant corpus")
    ap_a.add_argument("--src", required=True, help="gen.py output directory (syslog format)")
    ap_a.add_argument("--out", required=True)
    ap_a.add_argument("--seed", type=int, default=1)
    ap_a.add_argument("--format", choices=["syslog", "ndjson"], default="syslog")
    ap_a.add_argument("--shift-days", type=int, default=0,
                      help="move every time by this many days (whole weeks), e.g. 210: Jun 1 -> Dec 28, over New Year")
    ap_a.add_argument("--only", default="", help="comma-separated transformations to keep (default all): "
                      + ",".join(TRANSFORMS))
    ap_a.add_argument("--prob", default="", help="override probabilities, e.g. 'rfc5424=1,duplicate=0.2'")
    ap_t = sub.add_parser("templates", help="write a variant templates.json for gen.py --templates")
    ap_t.add_argument("--base", required=True)
    ap_t.add_argument("--out", required=True)
    a = ap.parse_args()
    apply(a) if a.cmd == "apply" else templates(a)


if __name__ == "__main__":
    main()
