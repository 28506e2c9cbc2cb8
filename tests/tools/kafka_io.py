#!/usr/bin/env python3
"""Test side of imagewatch's Kafka mode, with confluent-kafka (a current librdkafka).

  kafka_io.py create  BROKERS TOPIC PARTITIONS
  kafka_io.py produce BROKERS TOPIC FILE [FILE2] [--from N] [--count N]
      Produces the lines of FILE unkeyed, round-robin over the topic's partitions (so a
      device's lines land on every partition). With FILE2 (the same corpus in another
      format, line for line), odd lines come from FILE2: a topic of mixed records.
  kafka_io.py read    BROKERS TOPIC OUT
      Reads the topic from the beginning to its current end and writes the record values
      as NDJSON to OUT; prints the number of records.
  kafka_io.py consume BROKERS TOPIC
      Plain consumer (the benchmark floor): reads the topic to its end in a new group,
      prints records and records/s as JSON.
"""
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def create(brokers, topic, partitions):
    admin = AdminClient({"bootstrap.servers": brokers})
    fut = admin.create_topics([NewTopic(topic, num_partitions=int(partitions), replication_factor=1)])
    for f in fut.values():
        try:
            f.result(timeout=20)
        except Exception as e:  # an existing topic is fine
            if "already exists" not in str(e).lower() and "TOPIC_ALREADY_EXISTS" not in str(e):
                raise


def partitions_of(brokers, topic):
    admin = AdminClient({"bootstrap.servers": brokers})
    md = admin.list_topics(topic, timeout=20)
    return len(md.topics[topic].partitions)


def produce(brokers, topic, files, start=0, count=None):
    n = partitions_of(brokers, topic)
    p = Producer({"bootstrap.servers": brokers, "linger.ms": 20, "queue.buffering.max.messages": 200000})
    readers = [open(f, "rb") for f in files]
    sent = 0
    for i, lines in enumerate(zip(*readers)):
        if i < start:
            continue
        if count is not None and sent >= count:
            break
        line = lines[i % len(lines)].rstrip(b"\n")
        while True:
            try:
                p.produce(topic, value=line, partition=i % n)
                break
            except BufferError:
                p.poll(0.05)
        sent += 1
        if sent % 10000 == 0:
            p.poll(0)
    left = p.flush(60)
    if left:
        sys.exit(f"{left} records not acknowledged")
    print(sent)


def read(brokers, topic, out):
    c = Consumer({"bootstrap.servers": brokers, "group.id": "reader-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    n = partitions_of(brokers, topic)
    ends = {}
    tps = []
    for p in range(n):
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
        ends[p] = hi
        if hi > lo:
            tps.append(TopicPartition(topic, p, lo))
    c.assign(tps)
    left = {tp.partition for tp in tps}
    got = 0
    deadline = time.time() + 120
    with open(out, "wb") as f:
        while left and time.time() < deadline:
            m = c.poll(1.0)
            if m is None or m.error():
                continue
            if m.value() is not None:
                f.write(m.value() + b"\n")
                got += 1
            if m.offset() + 1 >= ends[m.partition()]:
                left.discard(m.partition())
    c.close()
    if left:
        sys.exit(f"partitions {sorted(left)} not read to their end")
    print(got)


def consume(brokers, topic):
    c = Consumer({"bootstrap.servers": brokers, "group.id": "floor-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    n = partitions_of(brokers, topic)
    ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1] for p in range(n)}
    c.assign([TopicPartition(topic, p, 0) for p in range(n) if ends[p] > 0])
    left = {p for p in range(n) if ends[p] > 0}
    got, t0 = 0, None
    while left:
        ms = c.consume(1000, 1.0)
        for m in ms:
            if m.error():
                continue
            if t0 is None:
                t0 = time.time()
            got += 1
            if m.offset() + 1 >= ends[m.partition()]:
                left.discard(m.partition())
    secs = time.time() - (t0 or time.time())
    print(json.dumps({"records": got, "seconds": round(secs, 3), "per_second": round(got / secs) if secs else None}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "create":
        create(*args)
    elif cmd == "produce":
        start, count, files = 0, None, []
        it = iter(args[2:])
        for a in it:
            if a == "--from":
                start = int(next(it))
            elif a == "--count":
                count = int(next(it))
            else:
                files.append(a)
        produce(args[0], args[1], files, start, count)
    elif cmd == "read":
        read(*args)
    elif cmd == "consume":
        consume(*args)
    else:
        sys.exit(__doc__)
