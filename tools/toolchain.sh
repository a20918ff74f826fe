#!/usr/bin/env bash
# Makes the toolchain rust-toolchain.toml pins available. Where rustup cannot download (a
# closed network) but the machine's stable toolchain is the pinned version, the pinned name is
# made to point at it; otherwise rustup installs the pin as usual, or this says what to do.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rustup >/dev/null 2>&1 || exit 0   # no rustup: whatever cargo is on PATH is used
pin=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if rustup toolchain list | grep -q "^$pin-"; then
    exit 0
fi
home=${RUSTUP_HOME:-$HOME/.rustup}
stable=$(ls -d "$home"/toolchains/stable-* 2>/dev/null | head -n1 || true)
if [ -n "$stable" ] && "$stable/bin/rustc" --version | grep -q "^rustc $pin "; then
    triple=${stable##*/stable-}
    ln -s "$stable" "$home/toolchains/$pin-$triple"
    echo "toolchain: $pin is this machine's stable toolchain; linked" >&2
    exit 0
fi
if ! rustup toolchain install "$pin" --profile minimal --component rustfmt,clippy; then
    echo "toolchain: rust-toolchain.toml pins Rust $pin, which is not installed and could not be downloaded" >&2
    exit 1
fi
