# bjnp-watch — the two set-up commands are `make demo` and `make test`. Each installs what it
# needs (Debian packages via apt-get, as root or through sudo) and then runs.

CARGO ?= cargo
DEMO_CAPTURE ?= samples/cups-bjnp-print.pcap

.PHONY: all build demo test lint unit deps test-deps bench samples clean

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

## All tests: lint, unit, golden samples, tshark differential, CLI errors, live capture (root).
test: test-deps lint
	$(CARGO) test --locked --all-targets

## Criterion benches (decode, BJNP parse, end-to-end replay).
bench: deps
	$(CARGO) bench --locked

## Regenerates the synthetic samples (byte-identical unless tools/gen_samples.py changed).
samples:
	python3 tools/gen_samples.py

clean:
	$(CARGO) clean
