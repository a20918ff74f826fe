#!/usr/bin/env bash
# Re-record the evasion corpus (samples/evasion-*.pcap): the same attacks sent whole and
# evasively, by real tools, to a printer played by Linux's own IP and TCP stacks.
#
#   evasion-nmap-whole.pcap        nmap -sS of the printer ports
#   evasion-nmap-frag.pcap         the same scan with nmap -f (8-byte IP fragments: the first
#                                  ends inside the TCP header)
#   evasion-nmap-mtu16.pcap        the same scan with nmap --mtu 16
#   evasion-bjnp-whole.pcap        a BJNP get-identity request (scapy)
#   evasion-bjnp-overlap.pcap      the same in IP fragments plus an overlapping decoy fragment
#   evasion-bjnp-incomplete.pcap   a fragmented get-identity request whose last fragment never
#                                  comes
#   evasion-bjnp6-whole.pcap       the get-identity request over IPv6 (scapy)
#   evasion-bjnp6-overlap.pcap     the same in IPv6 fragments plus the overlapping decoy (nmap
#                                  does not fragment IPv6)
#   evasion-pjl-whole.pcap         a raw job that deletes a file through PJL (scapy, TCP 9100)
#   evasion-pjl-ipfrag.pcap        the same job's segment in 8-byte IP fragments
#   evasion-pjl-overlap.pcap       the same job, then a resend of its bytes saying something else
# What bjnp-watch must report for each is in README.md ("Evaders") and tests/detection/evasion.rs.
#
# Usage (as root):  tools/record_evasion.sh [OUTPUT_DIR]      (default: samples/)
#                   INSTALL=0 ...                              (never run apt-get)
#
# Network containment: two network namespaces this script creates and deletes, joined by a
# veth pair with 10.79.0.0/24 and no route anywhere else: ev-atk (10.79.0.5, the attacker:
# nmap and tools/evasion_send.py) and ev-prn (10.79.0.30, the printer: tools/sink9100.py on
# TCP 9100, tools/bjnp_responder.py on UDP 8611; tcpdump on its interface, as a sensor there
# would see the frames). scapy's handshakes need the attacker's kernel to keep quiet about
# connections it does not know: iptables in ev-atk drops its outgoing resets. Every process
# runs under `timeout`; every wait is bounded.

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/samples}
RESPONDER=$ROOT/tools/bjnp_responder.py
SINK=$ROOT/tools/sink9100.py
SENDER=$ROOT/tools/evasion_send.py
ATK=10.79.0.5 PRN=10.79.0.30 ATK6=2001:db8:79::5 PRN6=2001:db8:79::30
NSS=(ev-atk ev-prn)

die() { echo "record_evasion: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, iptables, tcpdump)"

need=()
command -v nmap >/dev/null || need+=(nmap)
command -v iptables >/dev/null || need+=(iptables)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
/usr/bin/python3 -c 'import scapy' 2>/dev/null || need+=(python3-scapy)
# shellcheck source=tools/record_lib.sh
. "$ROOT/tools/record_lib.sh"
install_needed
start_work bjnp-evasion

build_site() {
    for ns in "${NSS[@]}"; do
        ip netns add "$ns"
        in_ns "$ns" ip link set lo up
        # IPv4 only: no router solicitations or MLD reports in the samples
        in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    done
    in_ns ev-atk ip link add eth0 type veth peer name eth0 netns ev-prn
    in_ns ev-atk ip addr add "$ATK/24" dev eth0
    in_ns ev-prn ip addr add "$PRN/24" dev eth0
    for ns in "${NSS[@]}"; do
        in_ns "$ns" ip link set eth0 up
        # Ethernet-sized frames (veth offloads would hand tcpdump 64 KiB super-segments).
        in_ns "$ns" ethtool -K eth0 tso off gso off gro off 2>/dev/null || true
    done
}

start_printer() {
    : >"$WORK/sink.out"
    in_ns ev-prn timeout 170 python3 "$SINK" --addr "$PRN" --max-connections 50 \
        --timeout 160 --idle 5 >"$WORK/sink.out" 2>>"$WORK/sink.log" &
    PIDS+=($!)
    wait_for "$WORK/sink.out" READY
    : >"$WORK/resp.out"
    in_ns ev-prn timeout 170 python3 "$RESPONDER" --addr "$PRN" --device-ip "$PRN" \
        --udp-ports 8611 --timeout 160 --quiet >"$WORK/resp.out" 2>>"$WORK/resp.log" &
    PIDS+=($!)
    wait_for "$WORK/resp.out" READY
}

record() {  # NAME COMMAND...: one capture of what COMMAND sends from the attacker
    local name=$1; shift
    : >"$WORK/tcpdump.err"
    # neither ARP nor IPv6's own chatter (neighbour discovery, MLD behind a hop-by-hop header)
    in_ns ev-prn timeout 60 tcpdump -n -i eth0 -U -w "$WORK/$name.pcap" \
        'not arp and not (icmp6 and ip6[40] >= 130) and not (ip6 and ip6[6] == 0)' \
        2>"$WORK/tcpdump.err" &
    local dump=$!
    wait_for "$WORK/tcpdump.err" "listening on"
    echo "== $name: $*" >&2
    in_ns ev-atk timeout 40 "$@" >&2 || die "$name: the sender failed"
    sleep 1
    kill -TERM "$dump" 2>/dev/null || true
    wait "$dump" 2>/dev/null || true
    install -m 0644 "$WORK/$name.pcap" "$OUT/$name.pcap"
    echo "   $OUT/$name.pcap: $(stat -c %s "$OUT/$name.pcap") bytes" >&2
}

build_site
start_printer
SCAN=(nmap -n -Pn -sS -p 9100,8611,8612 --max-retries 0 "$PRN")
record evasion-nmap-whole "${SCAN[@]}"
record evasion-nmap-frag "${SCAN[@]}" -f
record evasion-nmap-mtu16 "${SCAN[@]}" --mtu 16
# From here on scapy does the attacker's TCP: its kernel must not reset what it did not open
# (nmap's scans above need those resets, or the printer keeps resending its SYN-ACKs).
sleep 2
in_ns ev-atk iptables -A OUTPUT -p tcp --tcp-flags RST RST -j DROP
for case in bjnp-whole bjnp-overlap bjnp-incomplete pjl-whole pjl-ipfrag pjl-overlap; do
    record "evasion-$case" /usr/bin/python3 "$SENDER" "$case" "$PRN"
done
# IPv6 last: its addresses only now, so the IPv4 samples hold no IPv6 chatter
for ns in "${NSS[@]}"; do
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.eth0.disable_ipv6=0
done
in_ns ev-atk ip addr add "$ATK6/64" dev eth0 nodad
in_ns ev-prn ip addr add "$PRN6/64" dev eth0 nodad
sleep 2
for case in bjnp6-whole bjnp6-overlap; do
    record "evasion-$case" /usr/bin/python3 "$SENDER" "$case" "$PRN6"
done
echo "== what the printer's stacks delivered" >&2
cat "$WORK/sink.log" "$WORK/resp.log" >&2 || true
stop_all
echo done >&2
