#!/usr/bin/env bash
# The UDP part of the service benchmark: an offered-rate sweep against `imagewatch serve` on
# loopback, with the load generator's several sender threads (sendmmsg batches).
#
#   benches/udp.sh OUT_DIR NOISE_CORPUS_DIR IW [BASE_IW]
#
# For each of RUNS runs (default 3) it starts the service (and BASE_IW, a second binary to
# compare with, when given: both run side by side, idle between their turns), then for each
# offered rate of UDP_RATES (msg/s; 0 means as fast as the sender can) sends for UDP_SECS
# seconds to each binary in turn, so the two are measured alternately under the same machine
# load. Lines go to OUT_DIR/udp.txt (`tag= run= ` then the load generator's key=value pairs);
# OUT_DIR/udp-summary.txt has the medians and OUT_DIR/udp-summary.json the figures the
# targets use: the highest offered rate with 0 loss in every run, and the saturation rate
# (median received msg/s when sending as fast as possible).
#
# Environment: RUNS, UDP_RATES (default "50000 100000 200000 300000 400000 0"), UDP_SECS
# (default 5), UDP_THREADS (sender threads, default 2), CARGO_TARGET_DIR (for the loadgen).
set -euo pipefail

OUT=$1 NOISE=$2 IW=$3 BASE_IW=${4:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOADGEN=${LOADGEN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/loadgen}
RUNS=${RUNS:-3}
UDP_RATES=${UDP_RATES:-50000 100000 200000 300000 400000 0}
UDP_SECS=${UDP_SECS:-5}
UDP_THREADS=${UDP_THREADS:-2}
WORK=$OUT/udp-work
mkdir -p "$OUT"; : >"$OUT/udp.txt"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

declare -A PID PORT HTTP
start() { # start TAG BINARY
  local tag=$1 bin=$2 dir=$WORK/$1
  rm -rf "$dir"; mkdir -p "$dir"
  PORT[$tag]=$(free_port); HTTP[$tag]=127.0.0.1:$(free_port)
  "$bin" serve --udp "127.0.0.1:${PORT[$tag]}" --tcp off --http "${HTTP[$tag]}" \
    --state "$dir/state" --rules "$ROOT/rules" --changes "$NOISE/changes.yaml" \
    --alerts "$dir/alerts.ndjson" 2>"$dir/serve.log" &
  PID[$tag]=$!
  for _ in $(seq 100); do
    curl -fsS "http://${HTTP[$tag]}/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "$tag did not come up; see $dir/serve.log"; return 1
}
stop_all() {
  for tag in "${!PID[@]}"; do
    kill "${PID[$tag]}" 2>/dev/null && wait "${PID[$tag]}" 2>/dev/null || true
    unset "PID[$tag]"
  done
}
trap stop_all EXIT

TAGS=(new); [ -n "$BASE_IW" ] && TAGS=(new base)
for run in $(seq "$RUNS"); do
  start new "$IW"
  [ -n "$BASE_IW" ] && start base "$BASE_IW"
  for rate in $UDP_RATES; do
    for tag in "${TAGS[@]}"; do
      log "udp run $run/$RUNS: $tag, offered ${rate/#0/max} msg/s, ${UDP_SECS}s"
      printf 'tag=%s run=%s ' "$tag" "$run" >>"$OUT/udp.txt"
      "$LOADGEN" udp --target "127.0.0.1:${PORT[$tag]}" --http "${HTTP[$tag]}" \
        --file "$NOISE/syslog.log" --rate "$rate" --secs "$UDP_SECS" \
        --threads "$UDP_THREADS" >>"$OUT/udp.txt"
    done
  done
  stop_all
done

python3 - "$OUT" <<'PY' | tee "$OUT/udp-summary.txt"
import json, os, statistics, sys
out = sys.argv[1]
rows = {}
for l in open(os.path.join(out, "udp.txt")):
    kv = dict(x.split("=", 1) for x in l.split() if "=" in x)
    rows.setdefault((kv["tag"], int(kv["offered"])), []).append(kv)
tags = sorted({t for t, _ in rows}, key=lambda t: t != "new")
rates = sorted({r for _, r in rows}, key=lambda r: r or 10**12)
med = lambda xs: statistics.median(xs) if xs else 0
summary = {}
print("UDP sweep (medians of %d runs; loss = sent - received + queue-dropped):" % max(len(v) for v in rows.values()))
print("  %-5s %9s %10s %10s %10s %12s %14s %s" % ("", "offered", "achieved", "received/s", "loss", "queue-drop", "kernel-drop", "loss per run"))
for tag in tags:
    best, sat, clean = 0, 0, []
    for r in rates:
        runs = rows.get((tag, r), [])
        if not runs:
            continue
        loss = [int(k["kernel_dropped"]) + int(k["queue_dropped"]) for k in runs]
        recv = med([float(k["recv_rate"]) for k in runs])
        print("  %-5s %9s %10.0f %10.0f %10.0f %12.0f %14.0f %s" % (
            tag, r or "max", med([float(k["send_rate"]) for k in runs]), recv, med(loss),
            med([int(k["queue_dropped"]) for k in runs]), med([int(k["kernel_dropped"]) for k in runs]),
            "/".join(map(str, loss))))
        if r and all(x == 0 for x in loss):
            best = max(best, r)
            clean.append(r)
        sat = max(sat, recv)
    summary[tag] = {"lossless": best, "lossless_rates": clean, "saturation": sat}
for tag in tags:
    s = summary[tag]
    print("  %s: highest offered rate with 0 loss in every run: %s; saturation (best median received rate): %.0f msg/s"
          % (tag, ("%d msg/s" % s["lossless"]) if s["lossless"] else "none", s["saturation"]))
if "base" in summary and summary["base"]["saturation"]:
    n, b = summary["new"], summary["base"]
    print("  new/base: saturation %.2fx; highest lossless rate %s" % (
        n["saturation"] / b["saturation"],
        ("%.2fx" % (n["lossless"] / b["lossless"])) if b["lossless"] else "base had none"))
json.dump(summary, open(os.path.join(out, "udp-summary.json"), "w"))
PY
