#!/usr/bin/env bash
# Re-record the samples of `bjnp-watch verify`: a small site before and after the advisory's
# fix, with real clients and a real firewall.
#
#   samples/verify-fix.pcap      the fix as it should be: before it, a workstation reaches the
#                                printer's 9100 and BJNP ports; after it (iptables on the
#                                router), only the print server does, and it still prints
#   samples/verify-broken.pcap   the fix gone wrong: the rules forgot the print server, whose
#                                jobs now fail
# Each has a sidecar NAME.change-at: the RFC 3339 time the firewall rules were applied.
#
# Usage (as root):  tools/record_verify.sh [OUTPUT_DIR]      (default: samples/)
#                   INSTALL=0 ...                             (never run apt-get)
#
# Network containment: everything runs in network namespaces this script creates and
# deletes: bv-rtr (a router: bridge br0 for the LAN 10.77.1.0/24, veth to the printer
# segment 10.77.0.0/24, ip_forward, iptables), bv-prn (the printer 10.77.0.30:
# tools/sink9100.py on TCP 9100 and tools/bjnp_responder.py on UDP and TCP 8611),
# bv-srv (the print server 10.77.1.10) and bv-ws (a workstation 10.77.1.50). No
# namespace has a route anywhere else. tcpdump listens on the LAN's two switch ports (the
# router's bridge ports to the print server and the workstation), as a sensor on a SPAN port
# would, and mergecap merges the two by time. (Not on br0 itself: the resets iptables' REJECT
# sends leave through the bridge port without passing br0's packet taps.)
#
# The clients: the CUPS `socket` backend (raw printing), the CUPS `bjnp` backend
# (cups-backend-bjnp), nmap -sS and nmap -sU --script bjnp-discover. The firewall: DROP for
# TCP 9100 (the attempt goes unanswered: S0), REJECT --reject-with tcp-reset for TCP 8610-8614
# (REJ) and REJECT (ICMP port unreachable) for UDP 8610-8614. Every process runs under
# `timeout`; every wait is bounded.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/samples}
RESPONDER=$ROOT/tools/bjnp_responder.py
SINK=$ROOT/tools/sink9100.py
SOCKET_BACKEND=/usr/lib/cups/backend/socket
BJNP_BACKEND=/usr/lib/cups/backend/bjnp
PRN=10.77.0.30 SRV=10.77.1.10 WS=10.77.1.50
NSS=(bv-rtr bv-prn bv-srv bv-ws)

die() { echo "record_verify: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, iptables, tcpdump)"

need=()
[ -x "$SOCKET_BACKEND" ] || need+=(cups)
[ -x "$BJNP_BACKEND" ] || need+=(cups-backend-bjnp)
command -v nmap >/dev/null || need+=(nmap)
command -v iptables >/dev/null || need+=(iptables)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
command -v mergecap >/dev/null || need+=(wireshark-common)
# shellcheck source=tools/record_lib.sh
. "$ROOT/tools/record_lib.sh"
install_needed
start_work bjnp-verify

build_site() {
    for ns in "${NSS[@]}"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
    in_ns bv-rtr ip link add br0 type bridge
    in_ns bv-rtr ip addr add 10.77.1.1/24 dev br0
    in_ns bv-rtr ip link set br0 up
    local ns addr
    for pair in "bv-srv $SRV" "bv-ws $WS"; do
        read -r ns addr <<<"$pair"
        in_ns bv-rtr ip link add "v-$ns" type veth peer name eth0 netns "$ns"
        in_ns bv-rtr ip link set "v-$ns" master br0 up
        in_ns "$ns" ip addr add "$addr/24" dev eth0
        in_ns "$ns" ip link set eth0 up
        in_ns "$ns" ip route add default via 10.77.1.1
    done
    in_ns bv-rtr ip link add v-prn type veth peer name eth0 netns bv-prn
    in_ns bv-rtr ip addr add 10.77.0.1/24 dev v-prn
    in_ns bv-rtr ip link set v-prn up
    in_ns bv-prn ip addr add "$PRN/24" dev eth0
    in_ns bv-prn ip link set eth0 up
    in_ns bv-prn ip route add default via 10.77.0.1
    in_ns bv-rtr sysctl -qw net.ipv4.ip_forward=1
    # Ethernet-sized frames (veth offloads would hand tcpdump 64 KiB super-segments).
    for ns in bv-srv bv-ws; do in_ns "$ns" ethtool -K eth0 tso off gso off 2>/dev/null || true; done
    in_ns bv-prn ethtool -K eth0 tso off gso off 2>/dev/null || true
}

start_printer() {
    : >"$WORK/sink.out"
    in_ns bv-prn timeout 170 python3 "$SINK" --addr 0.0.0.0 --max-connections 50 \
        --timeout 160 --idle 5 >"$WORK/sink.out" 2>"$WORK/sink.log" &
    PIDS+=($!)
    wait_for "$WORK/sink.out" READY
    : >"$WORK/resp.out"
    in_ns bv-prn timeout 170 python3 "$RESPONDER" --addr 0.0.0.0 --device-ip "$PRN" \
        --udp-ports 8611 --tcp-ports 8611 --timeout 160 --quiet \
        >"$WORK/resp.out" 2>"$WORK/resp.log" &
    PIDS+=($!)
    wait_for "$WORK/resp.out" READY
}

start_capture() {  # FILE: one tcpdump per LAN switch port, merged at the end
    local port
    CAPS=()
    for port in v-bv-srv v-bv-ws; do
        : >"$WORK/tcpdump-$port.err"
        in_ns bv-rtr timeout 170 tcpdump -n -i "$port" -U -w "$1.$port" \
            'tcp portrange 8610-8614 or tcp port 9100 or udp portrange 8610-8614 or icmp' \
            2>"$WORK/tcpdump-$port.err" &
        PIDS+=($!)
        CAPS+=("$1.$port")
        wait_for "$WORK/tcpdump-$port.err" "listening on"
    done
}

printf 'Test page for the verification sample.\n\f' >"$WORK/page.txt"

raw_job() {  # NS USER: one job through the CUPS socket backend (it retries until the timeout)
    in_ns "$1" timeout 12 env DEVICE_URI="socket://$PRN:9100" \
        "$SOCKET_BACKEND" 1 "$2" "test page" 1 "" "$WORK/page.txt" \
        >/dev/null 2>>"$WORK/backend.log" || echo "  raw job from $1: failed (as recorded)" >&2
}

bjnp_job() {  # NS USER: one job through the CUPS bjnp backend (it lingers ~15 s after a job)
    in_ns "$1" timeout 30 env DEVICE_URI="bjnp://$PRN:8611" \
        "$BJNP_BACKEND" 1 "$2" "test page" 1 "" "$WORK/page.txt" \
        >/dev/null 2>>"$WORK/backend.log" || echo "  bjnp job from $1: failed (as recorded)" >&2
}

probe() {  # what an attacker on the workstation tries
    in_ns bv-ws timeout 40 nmap -n -Pn -sS -p 9100,8611,8612 --max-retries 0 "$PRN" >&2 || true
    in_ns bv-ws timeout 40 nmap -n -Pn -sU -p 8611,8612 --max-retries 0 --script bjnp-discover "$PRN" >&2 || true
}

firewall() {  # with|without the print server's exception
    in_ns bv-rtr iptables -F FORWARD
    in_ns bv-rtr iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    if [ "$1" = with ]; then
        in_ns bv-rtr iptables -A FORWARD -s "$SRV" -d "$PRN" -j ACCEPT
    fi
    in_ns bv-rtr iptables -A FORWARD -d "$PRN" -p tcp --dport 9100 -j DROP
    in_ns bv-rtr iptables -A FORWARD -d "$PRN" -p tcp --dport 8610:8614 -j REJECT --reject-with tcp-reset
    in_ns bv-rtr iptables -A FORWARD -d "$PRN" -p udp --dport 8610:8614 -j REJECT
}

record() {  # NAME with|without
    local name=$1 rule=$2
    build_site
    start_printer
    start_capture "$WORK/$name.pcap"
    echo "== $name: before the change" >&2
    raw_job bv-srv printserver
    bjnp_job bv-srv printserver
    raw_job bv-ws mallory
    probe
    sleep 1
    firewall "$rule"
    date -u +%Y-%m-%dT%H:%M:%S.%6NZ >"$WORK/$name.change-at"
    echo "== $name: firewall applied at $(cat "$WORK/$name.change-at")" >&2
    sleep 1
    raw_job bv-srv printserver
    bjnp_job bv-srv printserver
    raw_job bv-ws mallory
    probe
    sleep 2
    stop_all
    for ns in "${NSS[@]}"; do ip netns del "$ns"; done
    mergecap -F pcap -w "$WORK/$name.pcap" "${CAPS[@]}"
    install -m 0644 "$WORK/$name.pcap" "$OUT/$name.pcap"
    install -m 0644 "$WORK/$name.change-at" "$OUT/$name.change-at"
    echo "recorded $OUT/$name.pcap ($(stat -c %s "$OUT/$name.pcap") bytes)" >&2
}

record verify-fix with
record verify-broken without
echo done >&2
