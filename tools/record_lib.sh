# What the namespace recorders (tools/record_evasion.sh, tools/record_verify.sh) share. Sourced
# after the caller has set NSS (the network namespaces it will create) and OUT, and defined
# die(). Every process a recorder starts goes into PIDS and is ended by its PID; the namespaces
# and the work folder go at exit, however it comes.

# Installs the Debian packages named in the array `need` (INSTALL=0: refuse instead).
install_needed() {
    [ ${#need[@]} -eq 0 ] && return 0
    [ "${INSTALL:-1}" = 1 ] || die "missing packages: ${need[*]}"
    timeout 900 apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -o DPkg::Lock::Timeout=300 \
        install -y --no-install-recommends "${need[@]}"
}

# Refuses namespaces that exist (they may be someone else's), then makes OUT and WORK (named
# after $1) and sets the traps.
start_work() {
    local ns
    for ns in "${NSS[@]}"; do
        ! ip netns list | grep -qw "$ns" || die "namespace $ns exists; remove it: ip netns del $ns"
    done
    mkdir -p "$OUT"
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    # tcpdump drops root privileges to its own user before writing its file
    chmod 0777 "$WORK"
    PIDS=()
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    PIDS=()
}

cleanup() {
    stop_all
    local ns
    for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
    [ "${KEEP_WORK:-0}" = 1 ] && echo "work files kept in $WORK" >&2 || rm -rf "$WORK"
}

wait_for() {  # FILE PATTERN: bounded (10 s)
    local i
    for i in $(seq 1 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    die "timed out waiting for '$2' in $1"
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
