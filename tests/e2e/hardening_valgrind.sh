#!/bin/sh
# hardening_valgrind.sh - memcheck over the libnids path. libnids is a
# system library without sanitizer instrumentation, so ASan cannot see its
# invalid reads; valgrind can. Replays pcaps/ and, when present, the shared
# reliability/ captures (malformed, evasion, libnids crashers) and the
# corpus's g_evasion/ set with the normal build, and tests/regress/*.pcap.
#
# Each file: valgrind reports nothing (--error-exitcode=9; definite,
# indirect and possible leaks count as errors), with only libnids' known
# one-time leaks suppressed (tests/valgrind.supp).
#
#   VIGIL_VALGRIND_MAX  at most this many files (default: all)
. "$(dirname "$0")/lib.sh"

if [ "${VIGIL_ASAN:-0}" = 1 ]; then
    skip hardening-valgrind "valgrind runs the normal build, not the ASan one"
    report
    exit
fi
if ! command -v valgrind >/dev/null; then
    skip hardening-valgrind "valgrind is not installed"
    report
    exit
fi

MAX=${VIGIL_VALGRIND_MAX:-100000}
files=$TMP/files
: >"$files"
for f in "$PCAPS"/*.pcap "$PCAPS"/*/*.pcap "$ROOT"/tests/regress/*.pcap "$SHARED"/reliability/*.pcap \
    "$SHARED"/reliability/malformed/*.pcap "$SHARED"/reliability/evasion/*.pcap \
    "$SHARED"/corpus/g_evasion/*.pcap; do
    [ -f "$f" ] && echo "$f" >>"$files"
done

# One file under memcheck; its report in $TMP/vg.K.err, its status in $TMP/vg.K.rc.
check_one() { # file k
    valgrind -q --error-exitcode=9 --leak-check=full \
        --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible \
        --suppressions="$ROOT/tests/valgrind.supp" --num-callers=30 \
        "$VIGIL" -q -r "$1" --eve "$TMP/vg.$2.json" >/dev/null 2>"$TMP/vg.$2.err" </dev/null
    echo $? >"$TMP/vg.$2.rc"
}

verdict() { # file k
    name=$(echo "$1" | sed "s|^$SHARED/|shared/|; s|^$ROOT/||")
    rc=$(cat "$TMP/vg.$2.rc")
    # vigil itself exits 0, 1 (broken file) or 2 (unsupported input).
    if [ "$rc" -le 2 ] && ! grep -q '^==[0-9]*== ' "$TMP/vg.$2.err"; then
        clean=$((clean + 1))
        pass "valgrind $name"
    else
        dirty=$((dirty + 1))
        what=$(grep -m1 -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|[0-9,]+ bytes in)' \
            "$TMP/vg.$2.err" | sed 's/^==[0-9]*== //')
        where=$(grep -m1 -E '^==[0-9]+== +(at|by) 0x[0-9A-F]+: [a-z_]+ \(' "$TMP/vg.$2.err" |
            sed 's/^==[0-9]*== *//')
        fail "valgrind $name" "exit $rc: ${what:-see log}; first frame: ${where:-?}"
        cp "$TMP/vg.$2.err" "/tmp/vigil-valgrind-$(basename "$1").log" 2>/dev/null &&
            echo "    log: /tmp/vigil-valgrind-$(basename "$1").log"
    fi
}

# As many files at once as there are CPUs.
JOBS=$(nproc 2>/dev/null || echo 1)
head -n "$MAX" "$files" >"$files.todo"
n=$(wc -l <"$files.todo") clean=0 dirty=0
set -- $(cat "$files.todo")
while [ $# -gt 0 ]; do
    batch= k=0
    while [ $# -gt 0 ] && [ "$k" -lt "$JOBS" ]; do
        k=$((k + 1))
        batch="$batch $1"
        check_one "$1" "$k" &
        shift
    done
    wait
    k=0
    for f in $batch; do
        k=$((k + 1))
        verdict "$f" "$k"
    done
done
echo "INFO valgrind: $n files, $clean clean, $dirty with reports"
report
