#!/usr/bin/env bash
# Re-record samples/cups-socket-jobs.pcap: ordinary print jobs made by real software
# (Ghostscript, the CUPS filter chain) and sent by the real CUPS `socket` backend to
# TCP 9100, one connection per job.  It is the false-alarm sample for the raw-printing
# analyzer: none of these jobs does anything risky.
#
# Usage (as root):  tools/record_socket_jobs.sh [OUTPUT_DIR]     (default: samples/)
#                   KEEP_WORK=1 tools/record_socket_jobs.sh      (keep the jobs and logs)
#                   INSTALL=0 ...                                (never run apt-get)
#
# Network containment: the listener (tools/sink9100.py), tcpdump and the backend all
# run inside the network namespace `bjnpsock`, which this script creates and deletes
# and which holds only `lo`.  The backend talks to 127.0.0.1:9100 inside it; its SNMP
# supply query (UDP 161, CUPS's default) also stays on that loopback and gets no
# answer.  Every process runs under `timeout`, every wait is bounded.
#
# Needs (installed with apt-get when missing, unless INSTALL=0): cups (the socket
# backend and cupsfilter), cups-filters, ghostscript, openprinting-ppds (the Lexmark
# PPD), tcpdump, iproute2, python3; tshark is optional (summary at the end).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/samples}
NAME=cups-socket-jobs.pcap
NS=bjnpsock
SINK=$ROOT/tools/sink9100.py
SOCKET_BACKEND=${SOCKET_BACKEND:-/usr/lib/cups/backend/socket}
OPENPRINTING=/usr/lib/cups/driver/openprinting-ppds
LEXMARK_PPD="openprinting-ppds:0/ppd/openprinting/Lexmark/Lexmark_MS610_Series.ppd"
PDF_PPD=/usr/share/ppd/cupsfilters/Generic-PDF_Printer-PDF.ppd
# What cupsd passes a backend: job-id user title copies options [file].
JOB_ID=1 JOB_USER=alice JOB_TITLE="job title"

die() { echo "record_socket_jobs: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (network namespace, tcpdump)"

# --- tools -----------------------------------------------------------------------
need_pkgs=()
[ -x "$SOCKET_BACKEND" ] || need_pkgs+=(cups)
command -v cupsfilter >/dev/null || need_pkgs+=(cups)
[ -x /usr/lib/cups/filter/texttopdf ] || need_pkgs+=(cups-filters)
[ -f "$PDF_PPD" ] || need_pkgs+=(cups-filters)
command -v gs >/dev/null || need_pkgs+=(ghostscript)
[ -x "$OPENPRINTING" ] || need_pkgs+=(openprinting-ppds)
command -v tcpdump >/dev/null || need_pkgs+=(tcpdump)
command -v ip >/dev/null || need_pkgs+=(iproute2)
command -v python3 >/dev/null || need_pkgs+=(python3)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    [ "${INSTALL:-1}" = 1 ] || die "missing packages: ${need_pkgs[*]}"
    echo "+ apt-get install ${need_pkgs[*]}" >&2
    # Waits (bounded) for another apt/dpkg to release its lock.
    timeout 900 apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o DPkg::Lock::Timeout=300 \
        install -y --no-install-recommends "${need_pkgs[@]}"
fi
for cmd in ip tcpdump gs cupsfilter python3 timeout; do
    command -v "$cmd" >/dev/null || die "missing command: $cmd"
done
[ -x "$SOCKET_BACKEND" ] || die "no CUPS socket backend at $SOCKET_BACKEND (dpkg -S backend/socket)"

# Refuse rather than delete: a namespace of that name may belong to someone else.
if ip netns list | grep -qw "$NS"; then
    die "network namespace $NS already exists; remove it with: ip netns del $NS"
fi
mkdir -p "$OUT"

WORK=$(mktemp -d /tmp/bjnp-sockjobs.XXXXXX)
# tcpdump drops root privileges to its own user before writing the file.
chmod 0777 "$WORK"
PIDS=()

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}
cleanup() {
    stop_all
    ip netns del "$NS" 2>/dev/null || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "work files (jobs, logs) kept in $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for FILE PATTERN: bounded wait (10 s) until PATTERN shows up in FILE.
wait_for() {
    local i
    for i in $(seq 1 100); do
        if grep -q "$2" "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "timed out waiting for '$2' in $1"
}

# --- the jobs (rendered outside the namespace: no network involved) ---------------
cd "$WORK"
cat >memo.txt <<'EOF'
Quarterly report

This is an ordinary one-page print job.
Nothing to see here: just a few lines of plain text
for the bjnp-watch false-alarm sample.
EOF
GS=(timeout 60 gs -q -dSAFER -dBATCH -dNOPAUSE)
# The source document: CUPS's texttopdf (cups-filters) through cupsfilter.
timeout 60 cupsfilter -m application/pdf -U "$JOB_USER" -t "$JOB_TITLE" memo.txt >memo.pdf 2>memo.pdf.log
# a-d: Ghostscript output devices, straight from the PDF (600 dpi default for ljet4/pxlmono).
"${GS[@]}" -sDEVICE=ps2write -o job.ps memo.pdf
"${GS[@]}" -sDEVICE=ljet4 -o job.pcl memo.pdf
"${GS[@]}" -sDEVICE=pxlmono -o job.pxl memo.pdf
"${GS[@]}" -sDEVICE=pdfwrite -o job.pdf memo.pdf
# e: what a CUPS queue for a PostScript printer sends: the whole CUPS filter chain
#    (texttopdf, pdftopdf, pdftops -> gs ps2write, pstops) with a manufacturer PPD
#    whose JCL wraps the job in PJL.
timeout 30 "$OPENPRINTING" cat "$LEXMARK_PPD" >lexmark-ms610.ppd
grep -q '^\*JCLToPSInterpreter' lexmark-ms610.ppd || die "Lexmark PPD without JCL"
timeout 60 cupsfilter -p lexmark-ms610.ppd -m printer/foo -U "$JOB_USER" \
    -t "$JOB_TITLE" memo.txt >job-pjl-ps.prn 2>job-pjl-ps.log
# f: what a CUPS queue for a PDF printer (cups-filters' Generic PDF Printer PPD) sends:
#    texttopdf, pdftopdf, then the PPD's own pass-through (-e), PJL header from the PPD.
timeout 60 cupsfilter -e -p "$PDF_PPD" -m printer/foo -U "$JOB_USER" \
    -t "$JOB_TITLE" memo.txt >job-pjl-pdf.prn 2>job-pjl-pdf.log
# g: Ghostscript's PJL-wrapped PCL 5 device.
"${GS[@]}" -sDEVICE=ljet4pjl -o job-pjl.pcl memo.pdf
JOBS=(job.ps job.pcl job.pxl job.pdf job-pjl-ps.prn job-pjl-pdf.prn job-pjl.pcl)
for j in "${JOBS[@]}"; do
    [ -s "$j" ] || die "job $j is empty"
    echo "job $j: $(stat -c %s "$j") bytes" >&2
done

# --- the recording ------------------------------------------------------------------
ip netns add "$NS"
# Ethernet-sized frames, as on a LAN: loopback's MTU is 65536 and tcpdump on lo sees the
# stack's GSO super-segments (8-56 KiB here), so cap both the MTU and GSO at 1500 bytes.
# Every frame is then at most 1514 bytes (MSS 1448 with timestamps).  This changes only
# how TCP cuts the stream, not what the backend sends.  (It also keeps tests/hostile/robustness.rs,
# which truncates every sample frame at every length, affordable.)
ip netns exec "$NS" ip link set lo mtu 1500 gso_max_size 1500 gso_max_segs 1 ||
    die "cannot set lo mtu/gso_max_size in $NS (iproute2 too old?)"
ip netns exec "$NS" ip link set lo up

: >tcpdump.err
ip netns exec "$NS" timeout 180 tcpdump -n -i lo -U -w "$WORK/$NAME" 'tcp port 9100' \
    2>tcpdump.err &
CAP_PID=$!
PIDS+=("$CAP_PID")
wait_for tcpdump.err "listening on"

: >sink.out
ip netns exec "$NS" timeout 170 python3 "$SINK" --max-connections ${#JOBS[@]} \
    --timeout 160 >sink.out 2>sink.log &
SINK_PID=$!
PIDS+=("$SINK_PID")
wait_for sink.out READY

for j in "${JOBS[@]}"; do
    echo "+ [$NS] DEVICE_URI=socket://127.0.0.1:9100 $SOCKET_BACKEND $JOB_ID $JOB_USER \"$JOB_TITLE\" 1 \"\" $j" >&2
    ip netns exec "$NS" timeout 60 env DEVICE_URI=socket://127.0.0.1:9100 \
        "$SOCKET_BACKEND" "$JOB_ID" "$JOB_USER" "$JOB_TITLE" 1 "" "$WORK/$j" \
        2>"backend-$j.log" || die "backend failed on $j (see $WORK/backend-$j.log)"
    grep -h "^INFO: Sent print file" "backend-$j.log" >&2 || true
    sleep 0.5
done

# The sink exits by itself after the last connection; then let tcpdump flush.
for _ in $(seq 1 100); do
    kill -0 "$SINK_PID" 2>/dev/null || break
    sleep 0.1
done
cat sink.log >&2
sleep 1
stop_all
ip netns del "$NS"

install -m 0644 "$WORK/$NAME" "$OUT/$NAME"
echo "recorded $OUT/$NAME ($(stat -c %s "$OUT/$NAME") bytes)" >&2

if command -v tshark >/dev/null; then
    tshark -r "$OUT/$NAME" -q -z conv,tcp 2>/dev/null
fi
echo "done" >&2
