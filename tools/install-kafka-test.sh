#!/usr/bin/env bash
# What tests/outputs/kafka.rs needs, installed once and reused:
#   * tansu, a Kafka-protocol broker written in Rust (Apache-2.0), from crates.io with the
#     `dynostore` feature (in-memory storage), into ${XDG_CACHE_HOME:-~/.cache}/bjnp-watch/tansu.
#     The first build takes 8-13 minutes on 2 cores; later runs find it there.
#   * confluent-kafka from PyPI: the independent consumer (it bundles a recent librdkafka;
#     Debian's kcat and python3-confluent-kafka carry librdkafka 2.0.2, which fails against
#     current brokers).
set -euo pipefail
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/bjnp-watch
TANSU_VERSION=0.6.0
if ! [ -x "$CACHE/tansu/bin/tansu" ]; then
    echo "install-kafka-test: building the tansu $TANSU_VERSION broker (8-13 min, once)" >&2
    mkdir -p "$CACHE/tansu"
    cargo install --quiet --locked tansu --version "$TANSU_VERSION" --features dynostore \
        --root "$CACHE/tansu" >&2
fi
if ! python3 -c 'import confluent_kafka' 2>/dev/null; then
    echo "install-kafka-test: installing confluent-kafka (PyPI)" >&2
    # a Debian python3 refuses pip outside a venv (PEP 668): this one package is the test's
    python3 -m pip install --quiet confluent-kafka >&2 ||
        python3 -m pip install --quiet --break-system-packages confluent-kafka >&2
fi
