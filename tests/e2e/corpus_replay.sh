#!/bin/sh
# corpus_replay.sh - replay every capture of the shared corpus (all
# categories, including the deliberately broken ones): no crash, no
# sanitizer report, an exit status of 0, 1 (broken file) or 2 (link type).
. "$(dirname "$0")/lib.sh"

if [ ! -d "$SHARED/corpus" ]; then
    echo "SKIP corpus replay (no $SHARED/corpus)"
    exit 0
fi
find "$SHARED/corpus" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) |
    sort >"$TMP/list"
while read -r f; do
    "$VIGIL" -q -r "$f" --eve /dev/null >/dev/null 2>"$TMP/err"
    rc=$?
    name=${f#"$SHARED"/corpus/}
    if clean_run "$TMP/err" "$rc" && [ "$rc" -le 2 ]; then
        pass "$name"
    else
        fail "$name" "rc=$rc $(head -c 300 "$TMP/err")"
    fi
done <"$TMP/list"
report
