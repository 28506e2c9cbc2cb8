#!/usr/bin/env bash
# Soak: `imagewatch serve` fed a signal-heavy stream over UDP for a long time. Samples the
# service's memory (VmRSS) and its state directory every SAMPLE seconds, prints them as a table
# and a plot, then compares the service's alerts with a `replay` of the same stream.
#
#   benches/soak.sh [--minutes 30] [--rate 30000] [--sample 30] [--binary PATH] [--sender ADDR]
#
# The stream (`loadgen soak`, examples/loadgen/soak.rs): the lines of the signal-heavy corpus
# (`gen.py --seed 7 --devices 200 --days 7 --scenario-rate 20 --noise-per-device-per-hour 6`,
# ~207k lines) in a loop, from one UDP socket on 127.0.0.1, each line re-dated to the moment it
# is due, so that the service's clock and the lines' agree, and sent as a relay forwards it:
# `<due time> <sender> <line>`, the sender being the device's address the corpus names. The
# replay reads exactly those bytes (`loadgen soak-print`) with the service's lateness
# (`--lateness-ms 250`), so both see the same arrival times and put the lines in the same order.
# Lines without a host name are known by their sender's address, per device. `--sender ADDR`
# names ADDR for every line instead: the host-less lines of all devices then make one very busy
# "device", the worst case for a machine's size (the stream of the first soak runs, with
# 127.0.0.1).
#
# Targets (the last lines say met/missed): RSS <= 512 MiB and flat over the last 10 minutes
# (the last third of a shorter run: growth <= 10% there), the state directory <= 3x the live
# data (the bytes of the keys and values of every record in every sled tree, counted by
# `examples/state_sizes.rs` once the service has stopped), and the service's alerts identical
# to the replay's (`emitted_at` aside: the wall clock when the record was made).
#
# --binary runs a given imagewatch (e.g. an older build) instead of building this checkout's.
# Environment: CARGO_TARGET_DIR (default ./target), BENCH_WORK (default /tmp/imagewatch-bench;
# needs the corpus, ~40 MB, and the state and alerts of the run). A PNG plot is written with
# gnuplot when it is installed (apt-get install gnuplot-nox); an ASCII plot is printed always.
set -euo pipefail

MINUTES=30 RATE=30000 SAMPLE=30 IW="" SENDER_ARGS=()
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --sample) SAMPLE=$2; shift 2 ;;
    --binary) IW=$2; shift 2 ;;
    --sender) SENDER_ARGS=(--sender "$2"); shift 2 ;;
    *) echo "usage: $0 [--minutes N] [--rate MSG_PER_S] [--sample SECS] [--binary PATH] [--sender ADDR]" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${BENCH_WORK:-/tmp/imagewatch-bench}
CORPUS=$WORK/soak-signal
RUN=$WORK/soak-run
mkdir -p "$WORK"
LOADGEN=$CARGO_TARGET_DIR/release/examples/loadgen
SIZES=$CARGO_TARGET_DIR/release/examples/state_sizes
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

log "building (release)"
if [ -z "$IW" ]; then
  (cd "$ROOT" && cargo build --release --quiet --bin imagewatch --example loadgen --example state_sizes)
  IW=$CARGO_TARGET_DIR/release/imagewatch
else
  (cd "$ROOT" && cargo build --release --quiet --example loadgen --example state_sizes)
fi

ARGS="--seed 7 --devices 200 --days 7 --scenario-rate 20 --noise-per-device-per-hour 6"
if [ ! -f "$CORPUS/.args" ] || [ "$(cat "$CORPUS/.args")" != "$ARGS" ]; then
  log "generating the signal-heavy corpus into $CORPUS"
  rm -rf "$CORPUS"
  # shellcheck disable=SC2086
  python3 "$SHARED/tools/corpus/gen.py" --out "$CORPUS" $ARGS >"$CORPUS.gen.log" 2>&1
  echo "$ARGS" >"$CORPUS/.args"
fi

rm -rf "$RUN"; mkdir -p "$RUN"
UDP=$(free_port) HTTP=127.0.0.1:$(free_port)
"$IW" serve --udp "127.0.0.1:$UDP" --tcp off --http "$HTTP" --state "$RUN/state" \
  --rules "$ROOT/rules" --changes "$CORPUS/changes.yaml" --alerts "$RUN/alerts.ndjson" \
  2>"$RUN/serve.log" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; kill "${SENDER:-0}" 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fsS "http://$HTTP/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://$HTTP/healthz" >/dev/null || { log "serve did not come up; see $RUN/serve.log"; exit 1; }

SECS=$((MINUTES * 60))
START_MS=$(( $(date +%s%3N) + 1000 ))
log "soak: $MINUTES min at $RATE msg/s ($((SECS * RATE)) lines), sampling every ${SAMPLE}s; pid $PID"
"$LOADGEN" soak --target "127.0.0.1:$UDP" --file "$CORPUS/syslog.log" --rate "$RATE" \
  --secs "$SECS" --start-ms "$START_MS" "${SENDER_ARGS[@]}" >"$RUN/sender.txt" &
SENDER=$!

metric() { curl -fsS "http://$HTTP/metrics" 2>/dev/null | awk -v m="$1" '$1 ~ "^"m {s += $NF} END {printf "%d", s}'; }
sample() { # t_seconds
  local rss state alerts
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$PID/status")
  # sled deletes blob files while du walks the directory: a vanished file is no error.
  state=$( { du -sb "$RUN/state" 2>/dev/null || true; } | cut -f1)
  alerts=$(stat -c %s "$RUN/alerts.ndjson" 2>/dev/null || echo 0)
  echo "$1 $rss $state $alerts $(metric imagewatch_lines_received_total)" | tee -a "$RUN/samples.txt" \
    | awk '{printf "  %6d s  RSS %7.1f MiB  state %8.1f MB  alerts %7.1f MB  received %10d\n", $1, $2/1024, $3/1e6, $4/1e6, $5}' >&2
}
: >"$RUN/samples.txt"
t0=$(date +%s)
sample 0
while kill -0 "$SENDER" 2>/dev/null; do
  sleep 1
  t=$(( $(date +%s) - t0 ))
  if [ $((t % SAMPLE)) = 0 ] && [ "$t" -gt 0 ]; then sample "$t"; fi
done
wait "$SENDER"
cat "$RUN/sender.txt" >&2
# Let the last lines through the reorder delay and the sinks.
sent=$(sed -n 's/.*sent=\([0-9]*\).*/\1/p' "$RUN/sender.txt")
for _ in $(seq 60); do
  [ "$(metric imagewatch_lines_received_total)" -ge "$sent" ] && break
  sleep 1
done
received=$(metric imagewatch_lines_received_total)
# And the alerts through the sink: what is still in the outbox at the stop is delivered only
# after a restart, and would be missing from the comparison.
for _ in $(seq 60); do
  sleep 1
  [ "$(metric imagewatch_outbox_depth)" = 0 ] && break
done
sleep 2
sample "$(( $(date +%s) - t0 ))"
kill -TERM "$PID"; wait "$PID" || true
trap - EXIT
# The live data: every record of every tree, read once the service has let the directory go.
"$SIZES" "$RUN/state" >"$RUN/state_sizes.txt"
"$SIZES" "$RUN/state" --json >"$RUN/state_sizes.json"
cat "$RUN/state_sizes.txt" >&2

log "replay of the same stream"
"$LOADGEN" soak-print --file "$CORPUS/syslog.log" --rate "$RATE" --secs "$SECS" \
  --start-ms "$START_MS" "${SENDER_ARGS[@]}" \
  | "$IW" replay --rules "$ROOT/rules" --changes "$CORPUS/changes.yaml" --lateness-ms 250 - \
  >"$RUN/replay.ndjson" \
  2>"$RUN/replay.log"

python3 - "$RUN" "$MINUTES" "$RATE" "$sent" "$received" <<'PY'
import json, os, sys
run, minutes, rate, sent, received = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = [list(map(int, l.split())) for l in open(os.path.join(run, "samples.txt"))]
mib = lambda kb: kb / 1024
print(f"\nimagewatch soak: {minutes} min at {rate} msg/s; sent {sent}, received {received}")
print(f"  {'t (s)':>6} {'RSS MiB':>8} {'state MB':>9} {'alerts MB':>10} {'received':>10}")
for t, rss, state, alerts, recv in rows:
    print(f"  {t:>6} {mib(rss):>8.1f} {state/1e6:>9.1f} {alerts/1e6:>10.1f} {recv:>10}")

# ASCII plot: RSS (*) and state size (o), each scaled to its own maximum.
width, height = min(len(rows), 60), 12
pick = [rows[round(i * (len(rows) - 1) / max(width - 1, 1))] for i in range(width)]
top_rss, top_state = max(r[1] for r in rows) or 1, max(r[2] for r in rows) or 1
grid = [[" "] * width for _ in range(height)]
for x, r in enumerate(pick):
    grid[height - 1 - round(r[2] / top_state * (height - 1))][x] = "o"
    grid[height - 1 - round(r[1] / top_rss * (height - 1))][x] = "*"
print(f"\n  * RSS (top {mib(top_rss):.0f} MiB)   o state (top {top_state/1e6:.0f} MB), over {rows[-1][0]} s")
for line in grid:
    print("  |" + "".join(line))
print("  +" + "-" * width)

# Alerts: the service's against the replay's, `emitted_at` aside.
def load(path):
    out = []
    for l in open(path):
        try:
            a = json.loads(l)
        except ValueError:
            continue
        a.pop("emitted_at", None)
        out.append(json.dumps(a, sort_keys=True))
    return sorted(out)
served, replayed = load(os.path.join(run, "alerts.ndjson")), load(os.path.join(run, "replay.ndjson"))
same = served == replayed
only_s = len(set(served) - set(replayed)); only_r = len(set(replayed) - set(served))
# Which devices the differences are on (one --sender for all mixes many devices' clocks).
odd = {}
for rec in set(served) ^ set(replayed):
    d = json.loads(rec)["device"]
    odd[d] = odd.get(d, 0) + 1

end = rows[-1]
sizes = json.load(open(os.path.join(run, "state_sizes.json")))
live, on_disk = sizes["live"], sizes["on_disk"]
window = [r for r in rows if r[0] >= end[0] - 600] if end[0] >= 1800 else [r for r in rows if r[0] >= end[0] * 2 // 3]
window = window if len(window) >= 2 else rows[-2:]
growth = (window[-1][1] - window[0][1]) / max(window[0][1], 1)
span = max(window[-1][0] - window[0][0], 1)
slope = (window[-1][1] - window[0][1]) / 1024 / span * 60
print(f"\n  RSS start {mib(rows[0][1]):.1f} MiB, end {mib(end[1]):.1f} MiB, max {mib(top_rss):.1f} MiB; "
      f"over the last {span} s: {growth*100:+.1f}% ({slope:+.2f} MiB/min)")
alerts_mb = os.path.getsize(os.path.join(run, "alerts.ndjson")) / 1e6
print(f"  state {on_disk/1e6:.1f} MB on disk for {live/1e6:.1f} MB of live records: {on_disk/max(live,1):.2f}x "
      f"(alerts as NDJSON: {alerts_mb:.1f} MB)")
print(f"  alerts: service {len(served)}, replay {len(replayed)}: " + ("identical" if same else
      f"DIFFERENT ({only_s} only in the service, {only_r} only in the replay; by device: "
      + ", ".join(f"{d} {n}" for d, n in sorted(odd.items(), key=lambda x: -x[1])[:5])
      + f"; the other devices' {sum(1 for r in served if json.loads(r)['device'] not in odd)} records identical)"))
ok = lambda b: "met" if b else "MISSED"
print(f"  target RSS <= 512 MiB: {ok(top_rss <= 512 * 1024)}; flat (<= 10% growth at the end): {ok(growth <= 0.10)}; "
      f"state <= 3x live: {ok(on_disk <= 3 * live)}; no line lost: {ok(received >= sent)}; alerts identical: {ok(same)}")
PY

if command -v gnuplot >/dev/null; then
  gnuplot <<EOF
set terminal png size 900,450
set output "$RUN/soak.png"
set xlabel "seconds"; set ylabel "MiB / MB"; set key left top
plot "$RUN/samples.txt" using 1:(\$2/1024) with linespoints title "RSS (MiB)", \
     "" using 1:(\$3/1e6) with linespoints title "state dir (MB)", \
     "" using 1:(\$4/1e6) with lines title "alerts NDJSON (MB)"
EOF
  log "plot: $RUN/soak.png"
fi
log "samples, alerts and logs in $RUN"
