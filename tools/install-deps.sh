#!/usr/bin/env bash
# Installs the Debian packages bjnp-watch needs to build and test, only those missing.
# As root it calls apt-get directly; otherwise through sudo.
#   tools/install-deps.sh build   libpcap (build and run), OpenSSL headers (the Kafka client's TLS)
#   tools/install-deps.sh bench   + tcpdump, netsniff-ng (trafgen), iproute2, time (make bench)
#   tools/install-deps.sh test    + tshark (differential test), iproute2, procps, util-linux
#                                 (live tests: ip netns, kill, sysctl, setpriv), tcpdump,
#                                 rsyslog (syslog sink tests), logrotate and systemd
#                                 (contrib/ checks), libcap2-bin (setcap test), PyYAML, time
#                                 (GNU time: the storms' peak memory), chromium (the verify
#                                 report's HTML page rendered headless), prometheus (the
#                                 metrics test's server and promtool); then the Kafka test's
#                                 broker and consumer (tools/install-kafka-test.sh)
set -euo pipefail

"$(dirname "$0")/toolchain.sh"

want=(libpcap-dev pkg-config libssl-dev)
if [ "${1:-build}" = "bench" ]; then
    want+=(tcpdump netsniff-ng iproute2 procps time)
fi
if [ "${1:-build}" = "test" ]; then
    want+=(tshark tcpdump iproute2 procps util-linux rsyslog logrotate systemd libcap2-bin time chromium ca-certificates prometheus)
    # filebeat.yml is checked with PyYAML, in whichever python3 is first on PATH.
    if ! python3 -c 'import yaml' 2>/dev/null; then
        python3 -m pip install --quiet pyyaml 2>/dev/null || want+=(python3-yaml)
    fi
fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
kafka_test() {
    # after the Debian packages: the broker is built with cargo
    if [ "${1:-build}" = "test" ]; then
        "$(dirname "$0")/install-kafka-test.sh"
    fi
}
if [ ${#missing[@]} -eq 0 ]; then
    kafka_test "${1:-build}"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
# sudo resets the environment: pass the non-interactive setting on the command line.
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
# wireshark-common asks whether non-root users may capture; answer no, quietly.
echo "wireshark-common wireshark-common/install-setuid boolean false" | "${SUDO[@]}" debconf-set-selections 2>/dev/null || true
"${APT[@]}" update -qq
"${APT[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
kafka_test "${1:-build}"
