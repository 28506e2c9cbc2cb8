#!/usr/bin/env python3
"""One device floods the service with signals: N `boot system` command lines (40 images, so
the device holds as many sequence instances as `max_pending` allows), all already past the
reorder delay, over one TCP connection. Prints the time from the first byte sent until the
device's last signal is visible in the API (the reorder delay, 250 ms, included).

    benches/one_device_flood.py IMAGEWATCH_BINARY [N]   # N defaults to 30000
"""
import datetime, json, os, socket, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
binp = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 30000
def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
P, H = port(), port()
d = tempfile.mkdtemp()
proc = subprocess.Popen([binp, "serve", "--udp", "off", "--tcp", f"127.0.0.1:{P}", "--http", f"127.0.0.1:{H}",
    "--state", d + "/state", "--rules", os.path.join(ROOT, "rules"), "--alerts", d + "/alerts.ndjson"], stderr=subprocess.DEVNULL)
for _ in range(200):
    try: urllib.request.urlopen(f"http://127.0.0.1:{H}/healthz"); break
    except Exception: time.sleep(0.05)
now = datetime.datetime.now(datetime.timezone.utc)
lines = []
for i in range(n):
    t = now - datetime.timedelta(milliseconds=n) + datetime.timedelta(milliseconds=i)
    stamp = t.strftime("%b %d %Y %H:%M:%S.") + f"{t.microsecond//1000:03d}"
    lines.append(f"<189>{i}: rtr-flood: {stamp} UTC: %PARSER-5-CFGLOG_LOGGEDCMD: User:ops  logged command:boot system flash:img{i%40}.bin\n")
tl = now - datetime.timedelta(milliseconds=1); last = tl.strftime("%Y-%m-%dT%H:%M:%S.") + f"{tl.microsecond//1000:03d}Z"
t0 = time.time()
s = socket.create_connection(("127.0.0.1", P)); s.sendall("".join(lines).encode()); s.close()
while True:
    try:
        v = json.load(urllib.request.urlopen(f"http://127.0.0.1:{H}/api/v1/devices/rtr-flood"))
        if v.get("last_signal") == last: break
    except Exception: pass
    time.sleep(0.01)
print(f"{os.path.basename(binp)}: {n} signals of one device processed in {time.time()-t0:.2f} s")
proc.terminate(); proc.wait()
