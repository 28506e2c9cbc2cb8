#!/usr/bin/env python3
"""Broker side of benches/kafka.sh (confluent-kafka, a current librdkafka).

  kafka_bench.py floor    BROKERS TOPIC N
      The plain consumer (the floor): reads the topic from the beginning in a group of its
      own until it has N records; prints records, seconds (first record to the Nth) and
      records/s as JSON. It counts records rather than trusting the end offsets: tansu 0.6.0
      reports a partition's end as the base offset of its last batch, plus one.
  kafka_bench.py stream   BROKERS TOPIC FILE RATE
      Produces the lines of FILE unkeyed, round-robin over the partitions, at RATE lines/s,
      until FILE ends (or the process is killed).
  kafka_bench.py commits  BROKERS GROUP TOPIC OUT
      Every 100 ms, appends to OUT the committed offsets of GROUP on TOPIC that changed, as
      `<unix ms> <partition> <offset>` lines, until killed.
  kafka_bench.py dump     BROKERS TOPIC OUT
      Reads a changelog topic until it has been quiet for 3 s; writes the last record of each
      device (the marks record left out) to OUT as {"key", "value"} NDJSON; prints the count.
  kafka_bench.py fill     BROKERS TOPIC RECORDS
      Produces {"partition", "key", "value"} NDJSON records one per request, as imagewatch
      writes its changelog; prints the count and the mean value size.
  kafka_bench.py failover KILL_MS LOG_KILLED LOG_SURVIVOR COMMITS
      The fail-over figures of one run from the two instances' JSON logs and the commits
      file (definitions in benches/kafka.sh); prints them as JSON.
"""
import json
import re
import sys
import time
import uuid
from datetime import datetime

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

MARKS_KEY = b"\0marks"


def partitions_of(brokers, topic):
    md = AdminClient({"bootstrap.servers": brokers}).list_topics(topic, timeout=20)
    return len(md.topics[topic].partitions)


def floor(brokers, topic, want):
    want = int(want)
    c = Consumer({"bootstrap.servers": brokers, "group.id": "floor-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions_of(brokers, topic))])
    got, t0, deadline = 0, None, time.time() + 300
    while got < want and time.time() < deadline:
        for m in c.consume(1000, 1.0):
            if m.error():
                continue
            if t0 is None:
                t0 = time.time()
            got += 1
    secs = time.time() - (t0 or time.time())
    c.close()
    if got < want:
        sys.exit(f"floor: {got} of {want} records in 300 s")
    print(json.dumps({"records": got, "seconds": round(secs, 3), "per_second": round(got / secs)}))


def stream(brokers, topic, path, rate):
    rate = float(rate)
    n = partitions_of(brokers, topic)
    p = Producer({"bootstrap.servers": brokers, "linger.ms": 5})
    start, sent = time.time(), 0
    with open(path, "rb") as f:
        for line in f:
            ahead = sent / rate - (time.time() - start)
            if ahead > 0:
                p.poll(0)
                time.sleep(ahead)
            while True:
                try:
                    p.produce(topic, value=line.rstrip(b"\n"), partition=sent % n)
                    break
                except BufferError:
                    p.poll(0.05)
            sent += 1
    p.flush(60)
    print(sent)


def commits(brokers, group, topic, out):
    n = partitions_of(brokers, topic)
    c = Consumer({"bootstrap.servers": brokers, "group.id": group, "enable.auto.commit": False})
    last = {}
    with open(out, "a", buffering=1) as f:
        while True:
            try:
                got = c.committed([TopicPartition(topic, p) for p in range(n)], timeout=5)
            except Exception:  # the broker busy or restarting: ask again
                got = []
            now = int(time.time() * 1000)
            for tp in got:
                if tp.offset >= 0 and last.get(tp.partition) != tp.offset:
                    last[tp.partition] = tp.offset
                    f.write(f"{now} {tp.partition} {tp.offset}\n")
            time.sleep(0.1)


def dump(brokers, topic, out):
    c = Consumer({"bootstrap.servers": brokers, "group.id": "dump-" + uuid.uuid4().hex,
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions_of(brokers, topic))])
    last, quiet = {}, time.time()
    while time.time() - quiet < 3:
        for m in c.consume(1000, 0.5):
            if m.error() or m.key() is None or m.value() is None:
                continue
            quiet = time.time()
            if m.key() != MARKS_KEY:
                last[m.key()] = m.value()
    c.close()
    with open(out, "w") as f:
        for k, v in last.items():
            f.write(json.dumps({"key": k.decode(), "value": v.decode()}) + "\n")
    print(len(last))


def fill(brokers, topic, path):
    p = Producer({"bootstrap.servers": brokers, "batch.num.messages": 1, "linger.ms": 0,
                  "queue.buffering.max.messages": 200000})
    sent, size = 0, 0
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            value = r["value"].encode()
            while True:
                try:
                    p.produce(topic, key=r["key"].encode(), value=value, partition=r["partition"])
                    break
                except BufferError:
                    p.poll(0.05)
            sent += 1
            size += len(value)
    left = p.flush(300)
    if left:
        sys.exit(f"fill: {left} records not acknowledged")
    print(json.dumps({"records": sent, "mean_value_bytes": round(size / max(sent, 1))}))


def log_lines(path):
    """(unix ms, fields) of each JSON log line of an imagewatch serve."""
    out = []
    with open(path) as f:
        for line in f:
            try:
                e = json.loads(line)
                t = datetime.fromisoformat(e["timestamp"]).timestamp() * 1000
            except (ValueError, KeyError):
                continue
            out.append((t, e.get("fields", {})))
    return out


def failover(kill_ms, killed_log, survivor_log, commits_path):
    kill = float(kill_ms)
    killed, survivor = log_lines(killed_log), log_lines(survivor_log)
    owned = set()
    for t, f in killed:
        if t <= kill and f.get("message") == "Signals partitions assigned.":
            owned = {int(x) for x in re.findall(r"\d+", str(f.get("partitions", "")))}
    emitted = {(f.get("alert"), f.get("revision")) for t, f in killed if f.get("message") == "Alert."}
    alert_times = sorted(t for t, f in killed + survivor if t <= kill and f.get("message") == "Alert.")
    gaps = sorted(b - a for a, b in zip(alert_times, alert_times[1:]))
    since = lambda t: round((t - kill) / 1000, 2) if t is not None else None
    after = [(t, f) for t, f in survivor if t > kill]
    assigned = next((t for t, f in after if f.get("message") == "Signals partitions assigned."), None)
    restored = {}
    for t, f in after:
        if f.get("message") == "Signals partition restored from the changelog." \
                and int(f.get("partition", -1)) in owned:
            restored.setdefault(int(f["partition"]), t)
    first_any = next((t for t, f in after if f.get("message") == "Alert."
                      and int(f.get("partition", -1)) in owned), None)
    first_new = next((t for t, f in after if f.get("message") == "Alert."
                      and int(f.get("partition", -1)) in owned
                      and (f.get("alert"), f.get("revision")) not in emitted), None)
    repeats = sum(1 for t, f in after if f.get("message") == "Alert."
                  and (f.get("alert"), f.get("revision")) in emitted)
    # Committed input offsets: where each partition stood at the kill, and when it moved on.
    at_kill, moved = {}, {}
    with open(commits_path) as f:
        for line in f:
            t, p, o = (int(x) for x in line.split())
            if t <= kill:
                at_kill[p] = o
            elif p not in moved and o > at_kill.get(p, -1):
                moved[p] = t
    stalled = sorted(set(at_kill) - set(moved))
    print(json.dumps({
        "killed_owned_signals_partitions": sorted(owned),
        "survivor_assigned_s": since(assigned),
        "restored_s": since(max(restored.values())) if len(restored) == len(owned) and owned else None,
        "input_resumed_s": since(max(moved.values())) if not stalled and moved else None,
        "input_partitions_not_resumed": stalled,
        "first_alert_s": since(first_any),
        "first_new_alert_s": since(first_new),
        "repeated_alerts": repeats,
        "median_alert_gap_before_s": round(gaps[len(gaps) // 2] / 1000, 2) if gaps else None,
    }))


if __name__ == "__main__":
    commands = {"floor": floor, "stream": stream, "commits": commits, "dump": dump,
                "fill": fill, "failover": failover}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
