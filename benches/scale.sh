#!/usr/bin/env bash
# imagewatch at a million tracked devices: memory per idle device, state size on disk, restart
# time, and the cost of reading an evicted machine back.
#
#   benches/scale.sh
#
# Builds the release binary and the `scale` example (examples/scale/main.rs), then RUNS times:
#   1. builds a fresh state of DEVICES synthetic devices through the engine (each boots: a
#      learned baseline, a running version, one recent signal; every PENDING_EVERY-th also
#      sets a boot variable, so it has a pending instance with a deadline) with the default
#      limits (max_devices 100000, sled cache 64 MiB), and reads the process RSS before and
#      after: (after - before) / DEVICES is the memory per idle tracked device;
#   2. measures the state directory on disk (du);
#   3. starts `imagewatch serve` on that state and times process start to `/healthz` answering
#      (the first start after the build, when sled replays the log the build wrote), then
#      RESTARTS more starts; checks that no machine was read at start-up.
# Prints the medians.
#
# Environment: CARGO_TARGET_DIR (default ./target), BENCH_WORK (default /tmp/imagewatch-scale;
# needs ~1.5 GB per run), DEVICES (default 1000000), PENDING_EVERY (default 20), RUNS
# (default 3), RESTARTS (default 3), PORT (default 19614).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${BENCH_WORK:-/tmp/imagewatch-scale}
DEVICES=${DEVICES:-1000000}
PENDING_EVERY=${PENDING_EVERY:-20}
RUNS=${RUNS:-3}
RESTARTS=${RESTARTS:-3}
PORT=${PORT:-19614}
IW="$CARGO_TARGET_DIR/release/imagewatch"
SCALE="$CARGO_TARGET_DIR/release/examples/scale"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

log "building (release)"
(cd "$ROOT" && cargo build --release --quiet --bin imagewatch --example scale)
mkdir -p "$WORK"
cd "$WORK"

field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
now_ms() { date +%s%3N; }

# Starts the service on $1, prints the milliseconds until /healthz answered, stops it.
restart() {
  local state=$1 begun done pid
  begun=$(now_ms)
  "$IW" serve --state "$state" --rules "$ROOT/rules" --udp off --tcp off \
    --http "127.0.0.1:$PORT" --alerts "$WORK/alerts.ndjson" 2>"$WORK/serve.log" &
  pid=$!
  until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
    sleep 0.005
  done
  done=$(now_ms)
  local in_memory
  in_memory=$(curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^imagewatch_devices_in_memory //p')
  [ "$in_memory" = 0 ] || { echo "expected no machine in memory at start-up, got $in_memory" >&2; exit 1; }
  curl -sf "http://127.0.0.1:$PORT/api/v1/devices/dev-0000040" >/dev/null \
    || { echo "device lookup from the store failed" >&2; exit 1; }
  kill -TERM "$pid"
  wait "$pid"
  echo $((done - begun))
}

: >"$WORK/bytes"; : >"$WORK/disk"; : >"$WORK/first"; : >"$WORK/again"; : >"$WORK/touch"; : >"$WORK/resident"
for run in $(seq 1 "$RUNS"); do
  rm -rf "$WORK/state"
  log "run $run/$RUNS: building a state of $DEVICES devices"
  out=$("$SCALE" build --state "$WORK/state" --devices "$DEVICES" --pending-every "$PENDING_EVERY" 2>/dev/null)
  echo "  $out" >&2
  field "$out" bytes_per_device >>"$WORK/bytes"
  field "$out" touch_us_per_signal >>"$WORK/touch"
  field "$out" resident_us_per_signal >>"$WORK/resident"
  du -sb "$WORK/state" | cut -f1 >>"$WORK/disk"
  first=$(restart "$WORK/state")
  echo "$first" >>"$WORK/first"
  log "  first start after the build: ${first} ms"
  for r in $(seq 1 "$RESTARTS"); do
    again=$(restart "$WORK/state")
    echo "$again" >>"$WORK/again"
    log "  restart $r: ${again} ms"
  done
done

echo
echo "imagewatch scale benchmark: $DEVICES devices (1 in $PENDING_EVERY with a pending instance), medians of $RUNS runs"
printf '  RSS per idle tracked device      %6s B   (target <= 512)\n' "$(median <"$WORK/bytes")"
printf '  state on disk (sled)             %6s MB\n' "$(median <"$WORK/disk" | awk '{printf "%.0f", $1/1e6}')"
printf '  start to /healthz, first start   %6s ms  (sled replays the log written since it was opened)\n' "$(median <"$WORK/first")"
printf '  start to /healthz, restarts      %6s ms  (target <= 2000; %s restarts per run)\n' "$(median <"$WORK/again")" "$RESTARTS"
printf '  signal for an evicted device     %6s us  (machine read back from sled)\n' "$(median <"$WORK/touch")"
printf '  signal for a device in memory    %6s us\n' "$(median <"$WORK/resident")"
