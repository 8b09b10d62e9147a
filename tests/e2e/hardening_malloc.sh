#!/bin/sh
# hardening_malloc.sh - replay pcaps/ with malloc, calloc and realloc failing
# at random once packets flow (tests/malloc_fail.c, LD_PRELOAD). Whatever
# fails, the sensor must not crash (exit status < 128, no sanitizer report)
# and must never leave half an alert: every line of its EVE output parses
# as one JSON object.
#
#   VIGIL_MALLOC_RUNS   seeds per capture (default 20)
#   VIGIL_MALLOC_PPM    failures per million calls (default 2000)
. "$(dirname "$0")/lib.sh"

RUNS=${VIGIL_MALLOC_RUNS:-20}
PPM=${VIGIL_MALLOC_PPM:-2000}

if [ "${VIGIL_ASAN:-0}" = 1 ]; then
    # The sanitizer's allocator wins over an LD_PRELOAD one: nothing would fail.
    skip hardening-malloc "not under ASan (the shim cannot replace its allocator)"
    report
    exit
fi
SHIM=$TMP/malloc_fail.so
if ! ${CC:-cc} -std=c11 -O1 -g -shared -fPIC -o "$SHIM" "$ROOT/tests/malloc_fail.c" -ldl \
        2>"$TMP/cc.err"; then
    fail build-shim "$(cat "$TMP/cc.err")"
    report
    exit
fi

# Every line one JSON object; prints the first bad line number, if any.
bad_json_line() { # file
    python3 - "$1" <<'PY'
import json, sys
with open(sys.argv[1], "rb") as f:
    for i, line in enumerate(f, 1):
        try:
            if not isinstance(json.loads(line), dict):
                raise ValueError
        except ValueError:
            print(i)
            break
PY
}

# Sanity: the shim fails nothing at 0 ppm, and the output is the normal one.
"$VIGIL" -q -r "$PCAPS/benign.pcap" --eve "$TMP/ref.json" 2>/dev/null
MALLOC_FAIL_PPM=0 LD_PRELOAD=$SHIM "$VIGIL" -q -r "$PCAPS/benign.pcap" --eve "$TMP/zero.json" \
    2>"$TMP/zero.err"
if cmp -s "$TMP/ref.json" "$TMP/zero.json" && grep -q 'malloc_fail: 0 of [1-9]' "$TMP/zero.err"; then
    pass malloc-shim-transparent
else
    fail malloc-shim-transparent "output differs or the shim saw no call: $(cat "$TMP/zero.err")"
fi

total=0 crashed=0 torn=0 failed_calls=0 exits=""
for pcap in "$PCAPS"/*.pcap "$PCAPS"/*/*.pcap; do
    [ -f "$pcap" ] || continue
    name=$(basename "$pcap" .pcap)
    seed=1
    while [ "$seed" -le "$RUNS" ]; do
        total=$((total + 1))
        eve=$TMP/m.json
        rm -f "$eve"
        MALLOC_FAIL_SEED=$seed MALLOC_FAIL_PPM=$PPM LD_PRELOAD=$SHIM \
            "$VIGIL" -q -r "$pcap" --eve "$eve" >/dev/null 2>"$TMP/m.err"
        rc=$?
        case " $exits " in *" $rc "*) ;; *) exits="$exits $rc" ;; esac
        n=$(sed -n 's/^malloc_fail: \([0-9]*\) of.*/\1/p' "$TMP/m.err")
        failed_calls=$((failed_calls + ${n:-0}))
        if ! clean_run "$TMP/m.err" "$rc"; then
            crashed=$((crashed + 1))
            fail "malloc-$name-seed$seed" "exit $rc: $(grep -v '^malloc_fail' "$TMP/m.err" | head -c 300)"
            cp "$TMP/m.err" "$TMP/crash-$name-$seed.err"
        elif [ -s "$eve" ] && line=$(bad_json_line "$eve") && [ -n "$line" ]; then
            torn=$((torn + 1))
            fail "malloc-$name-seed$seed" "EVE line $line is not a JSON object: $(sed -n "${line}p" "$eve" | head -c 200)"
        fi
        seed=$((seed + 1))
    done
done
echo "INFO malloc: $total runs at $PPM ppm, $failed_calls allocations failed in all," \
    "exit statuses seen:$exits; $crashed crashed, $torn with a torn EVE line"
if [ "$crashed" -eq 0 ] && [ "$torn" -eq 0 ] && [ "$total" -gt 0 ]; then
    pass malloc-no-crash-no-torn-line
fi
report
