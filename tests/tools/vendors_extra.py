#!/usr/bin/env python3
"""Add Palo Alto PAN-OS and Fortinet FortiGate firewalls to a gen.py corpus directory.

gen.py (../shared/tools/corpus, read-only) knows routers and switches only. This tool adds
firewalls to a corpus it wrote in `syslog` format, in place:

- changes.yaml: an inventory entry per firewall (after gen.py's), and the change tickets of
  their instances (appended to gen.py's `change_tickets`);
- syslog.log: the firewalls' noise and scenario lines, merged by arrival time, in the same
  `<arrival RFC 3339 UTC> <sender IP> <message as sent>` layout;
- labels.jsonl: one object per instance in score.py's format.

Each firewall gets one instance, the kinds taking turns:

  M1 (alert, critical)  image from a server off the allowlist, no ticket: download/restore,
                        install, restart, start-up, new version
  B1 (suppressed)       the same flow inside a ticket that approves image, version, user, server
  M2 (alert, high)      inside a ticket's time, but another image and version than approved

    vendors_extra.py --dir GEN_DIR [--seed N] [--per-vendor N] [--noise-per-hour N]

Message formats (every one with its source; `unverified` = no public capture exists):

PAN-OS SYSTEM CSV (rules/signals/paloalto_panos.yaml, tests/scenarios/p1, p5):
  layout   elastic/integrations packages/panw/data_stream/panos/_dev/test/pipeline/
           test-panw-panos-system-sample.log (real); BSD header as apache/metron
           BasicPaloAltoFirewallParserTest.java (real), IETF header as Graylog's
           PANORAMA_SYSTEM_MESSAGE (real)
  noise    `User <u> logged in via Web from <ip> using https`: apache/metron (real wording);
           `Connection to Update server closed: …, source: …` and `Connection to Update server:
           … completed successfully, initiated by …`: elastic test-panw-panos-system-sample.log
           (real wording); `failed authentication for user '<u>'. Reason: Invalid
           username/password. From: <ip>.`: axoflow/axosyslog-core-docs panos-parser (real)
  flow     source: unverified — `Software image PanOS_<platform>-<v> downloaded from <server>
           by <user>`, `… installed by <user> from <ip>`, `System restart requested by <user>
           from <ip>`, `The system is starting up.`, `Running software version <v>`: the
           wording of tests/scenarios/p1 and the pack's examples (PAN-OS CLI messages and
           `request system software info` image naming), no device capture

FortiGate key=value event records (rules/signals/fortinet_fortigate.yaml, tests/scenarios/p2, p6):
  layout   elastic/integrations packages/fortinet_fortigate/data_stream/log/_dev/test/pipeline/
           test-fortinet.log (real)
  noise    0100032001 `Admin login successful`: test-fortinet-7-4.log (real wording, this
           device's name and addresses); 0100041006 `FortiSandbox AV database updated` with
           `version=`: test-fortinet.log (real); 0116047301 REST API GET `system.firmware`:
           test-fortinet-7-4.log (real, a look-alike of an upgrade); 0100040704 `System performance statistics`:
           splunk/splunk-connect-for-syslog tests/test_fortinet_ngfw.py (test fixture, unquoted
           values as there)
  flow     source: unverified — logids 44548 (`execute restore image tftp <file> <server>`),
           32215 (Image updated), 32200 (Device shutdown), 32009 (FortiGate started), 22091
           (upgrade completed, `version="v<v>,build<n>"`): FortiOS Log Message Reference field
           lists, msg wording as tests/scenarios/p2

Deterministic (same input and arguments, same output). Stdlib only.
"""

import argparse
import datetime as dt
import json
import os
import random
import re

MON = ["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
MIN = 60 * 1000
H = 60 * MIN

APPROVED_SERVER = "10.10.0.5"  # in gen.py's allowlist
UNKNOWN_SERVERS = ["198.51.100.17", "203.0.113.45", "192.0.2.200"]  # documentation ranges
TICKET_USERS = ["jsmith", "mlopez", "tnguyen"]  # gen.py's engineers
ADMIN_SOURCES = ["10.30.1.5", "10.30.1.7", "10.30.2.11"]
KINDS = ["M1", "B1", "M2"]

# (version, image token) per vendor; PAN-OS images `PanOS_<platform>-<version>`
# (`request system software info`), FortiGate `FGT_<model>-v<version>.F-build<n>-FORTINET.out`
# (Fortinet's download naming).
PANOS = {"model": "PA-VM", "platform": "vm",
         "versions": ["10.1.6", "10.1.9", "10.2.7", "10.2.9", "11.0.3"]}
FGT = {"model": "FortiGate-VM64", "platform": "VM64",
       "versions": [("7.0.12", "0523"), ("7.2.8", "1639"), ("7.4.3", "2573"), ("7.4.4", "2662")]}


def parse_iso(s):
    return int(round(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000))


def utc(ms):
    return dt.datetime.fromtimestamp(ms / 1000.0, tz=dt.timezone.utc)


def arrival(ms):
    return utc(ms).strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


def iso_s(ms):
    return utc(ms).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- devices
class Fw:
    def __init__(self, vendor, idx, rng):
        self.vendor = vendor
        self.idx = idx
        self.name = ("pa-%04d" if vendor == "paloalto_panos" else "fw-%04d") % (idx + 1)
        # 10.200.x.y: apart from gen.py's 10.64.0.0/10 senders.
        self.ip = "10.%d.%d.%d" % (200 if vendor == "paloalto_panos" else 201, idx // 250, idx % 250 + 1)
        self.serial = "0070510%08d" % rng.randint(0, 10 ** 8 - 1)
        self.devid = "FGVM02TM%08d" % rng.randint(0, 10 ** 8 - 1)
        self.seqno = 7300000000000000000 + rng.randint(0, 10 ** 12)
        # PAN-OS: BSD or IETF header; FortiGate: a device clock in UTC or in local time (+0200).
        self.ietf = vendor == "paloalto_panos" and idx % 2 == 1
        self.tz_min = 120 if (vendor == "fortinet_fortigate" and idx % 2 == 1) else 0
        n = len(PANOS["versions"] if vendor == "paloalto_panos" else FGT["versions"])
        self.cur = rng.randint(0, n - 3)
        self.base = self.cur

    def version(self, i):
        if self.vendor == "paloalto_panos":
            v = PANOS["versions"][i]
            return v, "PanOS_%s-%s" % (PANOS["platform"], v)
        v, build = FGT["versions"][i]
        return v, "FGT_%s-v%s.F-build%s-FORTINET.out" % (FGT["platform"], v, build)

    # ---- PAN-OS -----------------------------------------------------------------
    def panos(self, t, desc, pri=14, severity="informational", subtype="general", eventid="general",
              quote=True, hires=True):
        self.seqno += 1
        u = utc(t)
        csv_t = u.strftime("%Y/%m/%d %H:%M:%S")
        if quote:
            desc = '"%s"' % desc.replace('"', '""')
        tail = ",0,0," + u.strftime("%Y-%m-%dT%H:%M:%S") + ".%03d+00:00" % (t % 1000) if hires else ""
        body = "1,%s,%s,SYSTEM,%s,0,%s,,%s,,0,0,general,%s,%s,%d,0x0,0,0,0,0,,%s%s" % (
            csv_t, self.serial, subtype, csv_t, eventid, severity, desc, self.seqno, self.name, tail)
        if self.ietf:
            head = "<%d>1 %s %s - - - - " % (pri, u.strftime("%Y-%m-%dT%H:%M:%S+00:00"), self.name)
        else:
            head = "<%d>%s %2d %s %s " % (pri, MON[u.month], u.day, u.strftime("%H:%M:%S"), self.name)
        return head + body

    # ---- FortiGate --------------------------------------------------------------
    def fgt(self, t, pri, logid, level, rest, quoted=True, subtype="system"):
        loc = utc(t) + dt.timedelta(minutes=self.tz_min)
        tz = "%s%02d%02d" % ("+" if self.tz_min >= 0 else "-", abs(self.tz_min) // 60, abs(self.tz_min) % 60)
        t_s = t - t % 1000
        if quoted:
            return ('<%d>date=%s time=%s devname="%s" devid="%s" logid="%s" type="event" subtype="%s" '
                    'level="%s" vd="root" eventtime=%d tz="%s" %s') % (
                pri, loc.strftime("%Y-%m-%d"), loc.strftime("%H:%M:%S"), self.name, self.devid, logid, subtype, level,
                t_s * 1000000, tz, rest)
        return ('<%d>date=%s time=%s devname=%s devid=%s logid=%s type=event subtype=system level=%s '
                'tz="%s" vd=root %s') % (
            pri, loc.strftime("%Y-%m-%d"), loc.strftime("%H:%M:%S"), self.name, self.devid, logid, level, tz, rest)

    def noise(self, t, rng):
        ip = "10.30.%d.%d" % (rng.randint(1, 3), rng.randint(2, 250))
        r = rng.random()
        if self.vendor == "paloalto_panos":
            if r < 0.35:
                return self.panos(t, "User %s logged in via Web from %s using https" % (rng.choice(TICKET_USERS), ip),
                                  quote=False, hires=False)
            if r < 0.6:
                return self.panos(t, "Connection to Update server closed: updates.paloaltonetworks.com, source: %s"
                                  % self.ip)
            if r < 0.85:
                return self.panos(t, "Connection to Update server: updates.paloaltonetworks.com completed "
                                     "successfully, initiated by %s" % self.ip)
            return self.panos(t, "failed authentication for user 'admin'. Reason: Invalid username/password. "
                                 "From: %s." % ip, pri=12, severity="medium", subtype="auth",
                              eventid="auth-fail", quote=False, hires=False)
        if r < 0.4:
            cpu, mem, sess = rng.randint(1, 40), rng.randint(20, 70), rng.randint(20, 5000)
            return self.fgt(t, 189, "0100040704", "notice",
                            'logdesc="System performance statistics" action="perf-stats" cpu=%d mem=%d '
                            'totalsession=%d disk=2 bandwidth=158/138 setuprate=2 disklograte=0 fazlograte=0 '
                            'msg="Performance statistics: average CPU: %d, memory:  %d, concurrent sessions:  %d, '
                            'setup-rate: 2"' % (cpu, mem, sess, cpu, mem, sess), quoted=False)
        if r < 0.55:
            return self.fgt(t, 189, "0100041006", "notice",
                            'logdesc="FortiSandbox AV database updated" version="1.%06d" '
                            'msg="FortiSandbox AV database updated"' % rng.randint(0, 999999))
        user = rng.choice(TICKET_USERS)
        if r < 0.75:
            # The firmware page read over the REST API: a look-alike, not an upgrade.
            return self.fgt(t, 190, "0116047301", "information",
                            'logdesc="REST API request success" user="%s" ui="GUI(%s)" method="GET" '
                            'path="system.firmware" status="200" url="/api/v2/monitor/system/firmware?vdom=root"'
                            % (user, ip), subtype="rest-api")
        return self.fgt(t, 190, "0100032001", "information",
                        'logdesc="Admin login successful" sn="%d" user="%s" ui="ssh(%s)" method="ssh" srcip=%s '
                        'dstip=%s action="login" status="success" reason="none" profile="super_admin" '
                        'msg="Administrator %s logged in successfully from ssh(%s)"'
                        % (t // 1000, user, ip, ip, self.ip, user, ip))

    # ---- the image lifecycle ----------------------------------------------------
    def flow(self, t, rng, user, src, server, image, version):
        """[(device ms, line)] of login, transfer, install, restart, start-up, version; the
        device is silent between the restart and the start-up."""
        out = []
        t += rng.randint(0, 999)
        if self.vendor == "paloalto_panos":
            out.append((t, self.panos(t, "User %s logged in via Web from %s using https" % (user, src),
                                      quote=False, hires=False)))
            t += rng.randint(60, 240) * 1000
            out.append((t, self.panos(t, "Software image %s downloaded from %s by %s" % (image, server, user))))
            t += rng.randint(5, 12) * MIN
            out.append((t, self.panos(t, "Software image %s installed by %s from %s" % (image, user, src))))
            t += rng.randint(2, 5) * MIN
            out.append((t, self.panos(t, "System restart requested by %s from %s" % (user, src), pri=12,
                                      severity="critical")))
            down = t
            t += rng.randint(6, 10) * MIN
            up = t
            out.append((t, self.panos(t, "The system is starting up.")))
            t += rng.randint(30, 90) * 1000
            out.append((t, self.panos(t, "Running software version %s" % version)))
            return out, (down, up)
        ui = 'user="%s" ui="ssh(%s)"' % (user, src)
        out.append((t, self.fgt(t, 190, "0100032001", "information",
                                'logdesc="Admin login successful" sn="%d" %s method="ssh" srcip=%s dstip=%s '
                                'action="login" status="success" reason="none" profile="super_admin" '
                                'msg="Administrator %s logged in successfully from ssh(%s)"'
                                % (t // 1000, ui, src, self.ip, user, src))))
        t += rng.randint(60, 240) * 1000
        out.append((t, self.fgt(t, 189, "0100044548", "information",
                                'logdesc="Action performed" %s action="execute" msg="execute restore image tftp %s %s"'
                                % (ui, image, server))))
        t += rng.randint(2, 4) * MIN
        out.append((t, self.fgt(t, 186, "0100032215", "critical",
                                'logdesc="Image updated" %s action="update" msg="Firmware image %s updated by %s '
                                'from ssh(%s)"' % (ui, image, user, src))))
        t += rng.randint(10, 40) * 1000
        out.append((t, self.fgt(t, 186, "0100032200", "critical",
                                'logdesc="Device shutdown" %s action="reboot" msg="User %s rebooted the device from '
                                'ssh(%s)."' % (ui, user, src))))
        down = t
        t += rng.randint(3, 6) * MIN
        up = t
        out.append((t, self.fgt(t, 190, "0100032009", "information", 'logdesc="FortiGate started" msg="FortiGate started"')))
        t += rng.randint(40, 90) * 1000
        build = image.split("-build")[1].split("-")[0]
        out.append((t, self.fgt(t, 190, "0100022091", "information",
                                'logdesc="Federated upgrade complete" version="v%s,build%s" '
                                'msg="Federated upgrade completed"' % (version, build))))
        return out, (down, up)


# --------------------------------------------------------------------------- the corpus
def corpus_span(path):
    first = last = None
    with open(path) as fh:
        for ln in fh:
            if not ln.strip():
                continue
            a = ln.split(" ", 1)[0]
            first = first or a
            last = a
    return parse_iso(first), parse_iso(last)


def yaml_list(xs):
    return "[" + ", ".join(json.dumps(x) for x in xs) + "]"


def build(a):
    rng = random.Random(a.seed)
    t0, t1 = corpus_span(os.path.join(a.dir, "syslog.log"))
    fws = []
    for vendor in ("paloalto_panos", "fortinet_fortigate"):
        for i in range(a.per_vendor):
            fws.append(Fw(vendor, i, rng))
    lines, labels, tickets = [], [], []
    tnum = 90000 + rng.randint(0, 500)
    for k, fw in enumerate(fws):
        kind = KINDS[(k + a.seed) % len(KINDS)]
        # The instance lies well inside the corpus and leaves 24 h after it.
        start = t0 + 2 * H + rng.randint(0, max(1, (t1 - t0 - 28 * H) // MIN)) * MIN
        user = rng.choice(TICKET_USERS) if kind != "M1" else "admin"
        src = rng.choice(ADMIN_SOURCES)
        server = APPROVED_SERVER if kind != "M1" else rng.choice(UNKNOWN_SERVERS)
        new = rng.randint(fw.cur + 1, len(PANOS["versions"] if fw.vendor == "paloalto_panos" else FGT["versions"]) - 1)
        version, image = fw.version(new)
        base_version, base_image = fw.version(fw.base)
        flow, downtime = fw.flow(start, rng, user, src, server, image, version)
        lab = {"id": "%s-%s" % (kind, fw.name), "scenario": kind, "device": fw.name, "vendor": fw.vendor,
               "start": iso_s(flow[0][0]), "end": iso_s(flow[-1][0] + 999)}
        if kind == "M1":
            lab.update(expect="alert", min_severity="critical",
                       why="%s from unknown server %s, installed, restarted, runs %s; no ticket" % (image, server, version))
        else:
            tnum += 1
            tid = "CHG%07d" % tnum
            approved_v, approved_img = (version, image)
            if kind == "M2":
                other = next(i for i in range(len(PANOS["versions"] if fw.vendor == "paloalto_panos"
                                                  else FGT["versions"])) if i not in (fw.cur, new))
                approved_v, approved_img = fw.version(other)
            tickets.append({"id": tid, "devices": [fw.name], "start": iso_s(start - 30 * MIN),
                            "end": iso_s(start + 3 * H), "images": [approved_img], "versions": [approved_v],
                            "users": [user], "servers": [APPROVED_SERVER]})
            if kind == "B1":
                lab.update(expect="suppressed", min_severity=None, ticket=tid,
                           why="ticket %s approves %s by %s from %s" % (tid, image, user, APPROVED_SERVER))
            else:
                lab.update(expect="alert", min_severity="high", ticket=tid,
                           why="ticket %s approves %s but %s (%s) installed" % (tid, approved_img, image, version))
        labels.append(lab)
        fw.cur = new
        for t, line in flow:
            lines.append((t + rng.randint(80, 400), fw.ip, line))
        # Noise at --noise-per-hour, none while the device is down.
        n = int((t1 - t0) / H * a.noise_per_hour)
        for _ in range(n):
            t = rng.randint(t0, t1)
            if downtime[0] <= t <= downtime[1]:
                continue
            lines.append((t + rng.randint(80, 400), fw.ip, fw.noise(t, rng)))
        fw.base_version, fw.base_image = base_version, base_image
    return fws, lines, labels, tickets


def write(a, fws, lines, labels, tickets):
    # syslog.log: merge by arrival (gen.py's lines are sorted; ours are sorted, then merged).
    path = os.path.join(a.dir, "syslog.log")
    ours = sorted(("%s %s %s\n" % (arrival(t), ip, line) for t, ip, line in lines), key=lambda s: s[:24])
    with open(path) as fh:
        theirs = fh.readlines()
    merged, i = [], 0
    for ln in theirs:
        while i < len(ours) and ours[i][:24] < ln[:24]:
            merged.append(ours[i])
            i += 1
        merged.append(ln)
    merged.extend(ours[i:])
    with open(path + ".tmp", "w") as fh:
        fh.writelines(merged)
    os.replace(path + ".tmp", path)

    # changes.yaml: tickets after gen.py's, inventory entries at the end.
    path = os.path.join(a.dir, "changes.yaml")
    with open(path) as fh:
        text = fh.read()
    tk = "".join(
        "  - id: %s\n    devices: %s\n    start: %s\n    end: %s\n    images: %s\n    versions: %s\n"
        "    users: %s\n    servers: %s\n" % (t["id"], yaml_list(t["devices"]), t["start"], t["end"],
                                            yaml_list(t["images"]), yaml_list(t["versions"]),
                                            yaml_list(t["users"]), yaml_list(t["servers"])) for t in tickets)
    if not re.search(r"(?m)^change_tickets:$", text):
        sys_exit("changes.yaml has no change_tickets section")
    text = re.sub(r"(?m)^allowlist:$", lambda m: tk + m.group(0), text, count=1)
    inv = "".join(
        "  - device: %s\n    vendor: %s\n    model: %s\n    aliases: %s\n    baseline_version: %s\n"
        "    baseline_image: %s\n" % (fw.name, fw.vendor, json.dumps(PANOS["model"] if fw.vendor == "paloalto_panos"
                                                                   else FGT["model"]),
                                      yaml_list([fw.ip]), json.dumps(fw.base_version), json.dumps(fw.base_image))
        for fw in fws)
    if not text.endswith("\n"):
        text += "\n"
    with open(path, "w") as fh:
        fh.write(text + inv)

    # labels.jsonl
    path = os.path.join(a.dir, "labels.jsonl")
    with open(path) as fh:
        old = [json.loads(ln) for ln in fh if ln.strip()]
    allx = sorted(old + labels, key=lambda l: (l["start"], l["device"]))
    with open(path, "w") as fh:
        for l in allx:
            fh.write(json.dumps(l) + "\n")


def sys_exit(msg):
    raise SystemExit("vendors_extra.py: " + msg)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True, help="gen.py output directory (syslog format), changed in place")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-vendor", type=int, default=3, help="firewalls per vendor (instance kinds take turns)")
    ap.add_argument("--noise-per-hour", type=float, default=4.0, help="noise lines per firewall per hour")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.dir, "syslog.log")):
        sys_exit("%s has no syslog.log (gen.py --format syslog)" % a.dir)
    write(a, *build(a))


if __name__ == "__main__":
    main()
