# bjnp-watch — the two set-up commands are `make demo` and `make test`. Each installs what it
# needs (Debian packages via apt-get, as root or through sudo) and then runs.

CARGO ?= cargo
DEMO_CAPTURE ?= samples/cups-bjnp-print.pcap

.PHONY: all build demo test lint unit deps test-deps bench bench-deps fuzz samples clean install install-files

all: build

deps:
	@tools/install-deps.sh build

test-deps:
	@tools/install-deps.sh test

build: deps
	@$(CARGO) build --release --locked

## Replays the bundled capture of the CUPS bjnp backend printing a job, one record per line.
demo: build
	@echo "== bjnp-watch -r $(DEMO_CAPTURE)" >&2
	@./target/release/bjnp-watch -r $(DEMO_CAPTURE)

lint: deps
	@command -v rustup >/dev/null 2>&1 && rustup component add rustfmt clippy >/dev/null 2>&1 || true
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	@CARGO=$(CARGO) tools/deny.sh

## Unit tests of the library and the binary: no root, no network, no external tools.
unit: deps
	$(CARGO) test --locked --lib --bins

## All tests: lint, unit, golden samples, tshark differential, CLI errors, live capture (root).
test: test-deps lint
	$(CARGO) test --locked --all-targets

## Benchmarks: criterion (decode, BJNP parse, flow upsert at 1 k and 100 k flows, end-to-end
## engine), then bjnp-watch against tcpdump and cat on generated captures (LAN, all-printer,
## SYN storm), the Kafka sink against the file sink on one replay (a tansu broker on loopback),
## then live capture under load on a veth pair (root only). BENCH_ROUNDS, BENCH_DIR;
## BENCH_PREVIOUS (a git ref, default the latest tag) adds that release's build to the table.
BENCH_ROUNDS ?= 5
BENCH_PREVIOUS ?= $(shell git describe --tags --abbrev=0 2>/dev/null)
bench: bench-deps build
	$(CARGO) bench --locked
	BENCH_PREVIOUS=$(BENCH_PREVIOUS) python3 tools/bench_compare.py --rounds $(BENCH_ROUNDS)
	python3 tools/bench_kafka.py --rounds $(BENCH_ROUNDS)
	ROUNDS=3 tools/bench_live.sh

bench-deps: deps
	@tools/install-deps.sh bench
	@tools/install-kafka-test.sh

## Fuzzing: every cargo-fuzz target for FUZZ_SECONDS (default 60) on stable Rust, seeded from
## samples/. Installs cargo-fuzz when missing.
fuzz: deps
	@tools/fuzz.sh

## Installs the binary, its man page and shell completions under $(DESTDIR)$(PREFIX), all
## generated from the binary itself. `install-files` does it for an already built BIN.
PREFIX ?= /usr/local
BIN ?= target/release/bjnp-watch
install: build install-files

install-files:
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/bjnp-watch
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	$(BIN) man > $(DESTDIR)$(PREFIX)/share/man/man1/bjnp-watch.1
	$(BIN) completions bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/bjnp-watch
	$(BIN) completions zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_bjnp-watch
	$(BIN) completions fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/bjnp-watch.fish

## Regenerates the synthetic samples (byte-identical unless tools/gen_samples.py changed).
samples:
	python3 tools/gen_samples.py

clean:
	$(CARGO) clean
