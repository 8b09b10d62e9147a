#!/bin/sh
# smoke.sh - run each libFuzzer target for FUZZ_SECONDS, FUZZ_JOBS targets at
# a time, then replay the corpus it grew. Fails on any crash, leak, timeout
# or sanitizer report; the input that did it is kept in build-fuzz/artifacts/.
#
#   FUZZ_SECONDS (60)  time per target
#   FUZZ_JOBS (nproc)  targets fuzzed at once
#   VIGIL_BUILD        the build whose fuzz seeds are used (build)
set -u
cd "$(dirname "$0")/../.."
SECS=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
BUILD=${VIGIL_BUILD:-build}
FB=build-fuzz
OUT=$FB/logs
mkdir -p "$OUT" "$FB/artifacts"

# Instrumented plugins, so the fuzzers reach and check detector code too.
export VIGIL_FUZZ_PLUGINS=$FB/plugins VIGIL_FUZZ_PLUGIN_DIR=$FB/plugins VIGIL_BUILD=$BUILD

PCAP_SEEDS="pcaps pcaps/linktypes pcaps/multi tests/regress"
for d in ../shared/reliability ../shared/reliability/malformed ../shared/reliability/evasion \
    ../shared/corpus/*/; do
    [ -d "$d" ] && PCAP_SEEDS="$PCAP_SEEDS $d"
done

# name: extra libFuzzer flags, then the seed directories after the corpus.
args_of() {
    case $1 in
    fuzz_decode) echo "-max_len=4096 $BUILD/fuzz-seeds/decode" ;;
    fuzz_config) echo "rules tests/fuzz/config-seeds" ;;
    fuzz_dns) echo "-max_len=600 $BUILD/fuzz-seeds/dns" ;;
    fuzz_rules) echo "rules tests/fuzz/rule-seeds" ;;
    fuzz_pcap) echo "-max_len=65536 -rss_limit_mb=2048 -close_fd_mask=2 $PCAP_SEEDS" ;;
    fuzz_detectors) echo "-max_len=8192 tests/fuzz/detector-seeds" ;;
    *) echo "" ;;
    esac
}

# One target: fuzz, then replay the grown corpus with -runs=0.
fuzz_one() {
    t=$1
    mkdir -p "$FB/corpus/$t"
    # shellcheck disable=SC2046
    "$FB/$t" -max_total_time="$SECS" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$FB/artifacts/$t-" "$FB/corpus/$t" $(args_of "$t") \
        >"$OUT/$t.log" 2>&1 || return 1
    "$FB/$t" -runs=0 -timeout=10 "$FB/corpus/$t" >"$OUT/$t.replay.log" 2>&1
}

summary() {
    t=$1
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/$t.log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$OUT/$t.log" | tail -1 | cut -d' ' -f2)
    n=$(ls "$FB/corpus/$t" | wc -l)
    echo "${runs:-?} runs, ${cov:-?} edges, corpus $n"
}

TARGETS=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/||; s|\.c$||')
rc=0
set -- $TARGETS
while [ $# -gt 0 ]; do
    batch=
    i=0
    while [ $# -gt 0 ] && [ "$i" -lt "$JOBS" ]; do
        batch="$batch $1"
        shift
        i=$((i + 1))
    done
    for t in $batch; do
        ( fuzz_one "$t"; echo $? >"$OUT/$t.rc" ) &
    done
    wait
    for t in $batch; do
        if [ "$(cat "$OUT/$t.rc")" = 0 ]; then
            echo "PASS fuzz-smoke $t: ${SECS} s, $(summary "$t")"
        else
            rc=1
            echo "FAIL fuzz-smoke $t (log: $OUT/$t.log)"
            grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$OUT/$t.log" "$OUT/$t.replay.log" 2>/dev/null |
                head -20 | sed 's/^/    /'
        fi
    done
done
exit $rc
