#!/usr/bin/env python3
"""Reads a Kafka topic from the beginning with an independent client (confluent-kafka from
PyPI, which bundles its own librdkafka), for tests/outputs/kafka.rs. Used only against a broker the
test started on 127.0.0.1.

    kafka_consume.py BROKER TOPIC COUNT [SECONDS]

Prints one JSON line per message: {"partition": P, "offset": O, "key": K or null,
"value": V} (V as text), until COUNT messages were read or SECONDS (default 30) passed, then
exits 0 if COUNT were read, 1 otherwise.
"""

import json
import sys
import time
import uuid

from confluent_kafka import Consumer  # type: ignore


def main() -> int:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    broker, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    limit = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": f"bjnp-watch-test-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([topic])
    got = 0
    end = time.monotonic() + limit
    try:
        while got < count and time.monotonic() < end:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            key = m.key()
            print(json.dumps({
                "partition": m.partition(),
                "offset": m.offset(),
                "key": key.decode() if key is not None else None,
                "value": m.value().decode(),
            }), flush=True)
            got += 1
    finally:
        c.close()
    return 0 if got >= count else 1


if __name__ == "__main__":
    sys.exit(main())
