#!/usr/bin/env bash
# `make fuzz`: every cargo-fuzz target for FUZZ_SECONDS (default 60) on stable Rust
# (`cargo fuzz run -s none`), seeded from samples/ by tools/fuzz_seeds.py. Prints executions,
# coverage and findings per target; a crash or hang leaves its input in fuzz/artifacts/TARGET/
# and makes the run fail. Installs cargo-fuzz when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"decode bjnp pdl pjl postscript pcl capture_file engine eve_records defrag stream_overlap http ipp lpd doors_datagrams json_writer"}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
python3 tools/fuzz_seeds.py
cargo fuzz build -s none
mkdir -p fuzz/logs
failed=0
echo "| target | seconds | executions | exec/s | coverage (edges) | corpus | findings |"
echo "|---|---|---|---|---|---|---|"
for t in $TARGETS; do
    log=fuzz/logs/$t.log
    status=none
    if ! cargo fuzz run -s none "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        status="CRASH: $(ls -t fuzz/artifacts/"$t"/ 2>/dev/null | head -1)"
        failed=1
    fi
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
    rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
    cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
    corp=$(grep -Eo 'corp: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
    echo "| $t | $SECS | ${runs:-?} | ${rate:-?} | ${cov:-?} | ${corp:-?} | $status |"
done
exit $failed
