#!/usr/bin/env bash
# `make lint`'s dependency check (deny.toml): licenses, bans and sources always; advisories when
# the RustSec database can be fetched. Installs cargo-deny (from crates.io) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
DENY_VERSION=0.20.2
if ! command -v cargo-deny >/dev/null 2>&1; then
    echo "deny: installing cargo-deny $DENY_VERSION (once, a few minutes)" >&2
    "$CARGO" install --locked cargo-deny --version "$DENY_VERSION" >&2
fi
"$CARGO" deny --log-level error check bans licenses sources
if timeout 20 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
    "$CARGO" deny --log-level error check advisories
else
    echo "deny: advisories NOT checked: the RustSec database (github.com) cannot be reached from here" >&2
fi
