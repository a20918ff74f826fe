#!/usr/bin/env bash
# Makes the toolchain rust-toolchain.toml pins available. Where rustup cannot download (a
# closed network) but the machine's stable toolchain is the pinned version, the pinned name is
# made to point at it; otherwise rustup installs the pin as usual. When neither works, the
# pinned name is pointed at whatever stable there is, with a loud warning, so a machine that
# cannot reach rustup's server still builds and tests (with another compiler than the pin).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v rustup >/dev/null 2>&1 || exit 0   # no rustup: whatever cargo is on PATH is used
pin=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
have=$(rustup toolchain list 2>/dev/null || true)
case "$have" in
    "$pin-"* | *$'\n'"$pin-"*) exit 0 ;;
esac
home=${RUSTUP_HOME:-$HOME/.rustup}
stable=$(ls -d "$home"/toolchains/stable-* 2>/dev/null | head -n1 || true)
link_to_stable() {
    triple=${stable##*/stable-}
    ln -sfn "$stable" "$home/toolchains/$pin-$triple"
}
if [ -n "$stable" ] && "$stable/bin/rustc" --version | grep -q "^rustc $pin "; then
    link_to_stable
    echo "toolchain: $pin is this machine's stable toolchain; linked" >&2
    exit 0
fi
if rustup toolchain install "$pin" --profile minimal --component rustfmt,clippy --no-self-update; then
    exit 0
fi
if [ -n "$stable" ]; then
    link_to_stable
    echo "toolchain: WARNING: Rust $pin (rust-toolchain.toml) could not be installed; building with this machine's $("$stable/bin/rustc" --version) under its name" >&2
    exit 0
fi
echo "toolchain: rust-toolchain.toml pins Rust $pin, which is not installed and could not be downloaded" >&2
exit 1
