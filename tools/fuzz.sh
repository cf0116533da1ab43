#!/bin/sh
# Runs every libFuzzer harness of a fuzz build (tests/fuzz, docs/reliability.md) for SECONDS each,
# JOBS at a time, and prints one line per harness: executions, coverage (cov: / ft: from
# libFuzzer's final stats) and the result. Exits 1 when any harness found something; the input
# that did it is kept in BUILD/fuzz/artifacts/NAME/ and the log in BUILD/fuzz/logs/NAME.log.
#   tools/fuzz.sh BUILD [SECONDS [JOBS [NAME...]]]
# Each harness starts from its committed seeds (tests/fuzz/corpus/NAME) plus what earlier runs in
# this build folder found (BUILD/fuzz/corpus/NAME), never writing into the source tree.
set -eu
build=${1:?usage: tools/fuzz.sh BUILD [SECONDS [JOBS [NAME...]]]}
secs=${2:-30}
jobs=${3:-2}
[ $# -ge 3 ] && shift 3 || shift $#
src=$(cd "$(dirname "$0")/.." && pwd)
out="$build/fuzz"
mkdir -p "$out/logs" "$out/corpus" "$out/artifacts"
if [ $# -gt 0 ]; then
    names="$*"
else
    names=$(ls "$build/tests/fuzz" | sed -n 's/^fuzz_\([a-z0-9_]*\)$/\1/p')
fi
[ -n "$names" ] || { echo "fuzz: no harnesses in $build/tests/fuzz (build them: ninja -C $build fuzz)" >&2; exit 1; }

run_one() {
    name=$1
    exe="$build/tests/fuzz/fuzz_$name"
    corpus="$out/corpus/$name"
    mkdir -p "$corpus" "$out/artifacts/$name"
    dict=""
    [ -f "$src/tests/fuzz/dict/$name.dict" ] && dict="-dict=$src/tests/fuzz/dict/$name.dict"
    seeds=""
    [ -d "$src/tests/fuzz/corpus/$name" ] && seeds="$src/tests/fuzz/corpus/$name"
    # -timeout: one input taking FUZZ_TIMEOUT s (25) is a finding (a hang); -rss_limit_mb: so is a
    # 2 GB appetite. A campaign at nice 19 on a busy machine needs a longer FUZZ_TIMEOUT: a starved
    # process can stand still for longer than that.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$exe" -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-25}" -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$name/" $dict "$corpus" $seeds >"$out/logs/$name.log" 2>&1
}

# a simple pool: at most $jobs harnesses at once
pids=""
status_dir="$out/status"
rm -rf "$status_dir"
mkdir -p "$status_dir"
for name in $names; do
    while [ "$(ls "$status_dir" | grep -c '\.running$' || true)" -ge "$jobs" ]; do sleep 1; done
    touch "$status_dir/$name.running"
    (rc=0; run_one "$name" || rc=$?; echo "$rc" >"$status_dir/$name.rc"; rm -f "$status_dir/$name.running") &
    pids="$pids $!"
done
wait

fail=0
printf '%-16s %6s %12s %8s %8s %8s  %s\n' harness secs execs exec/s cov ft result
for name in $names; do
    log="$out/logs/$name.log"
    rc=$(cat "$status_dir/$name.rc" 2>/dev/null || echo 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    if [ "$rc" = 0 ]; then
        result=ok
    else
        fail=1
        what=$(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$log" || echo "exit $rc")
        result="FINDING: $what (log $log, input in $out/artifacts/$name/)"
    fi
    printf '%-16s %6s %12s %8s %8s %8s  %s\n' "$name" "$secs" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
exit $fail
