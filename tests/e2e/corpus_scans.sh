#!/bin/sh
# corpus_scans.sh - the portscan detector against the shared capture corpus.
#
# Every port scan and sweep capture must raise an alert whose src_ip is the
# expected attacker and whose attack_category is an expected one; benign
# captures must raise no port_scan or host_sweep alert at all.
#
#   VIGIL   the vigil binary (default ./vigil)
#   SHARED  the shared folder (default ../shared next to the checkout)
#
# Prints one PASS/FAIL line per capture, then "N passed, M failed".
set -u

root=$(cd "$(dirname "$0")/../.." && pwd)
VIGIL=${VIGIL:-$root/vigil}
SHARED=${SHARED:-${VIGIL_SHARED:-$root/../shared}}
# Relative paths are relative to where the script was started.
case $VIGIL in /*) ;; */*) VIGIL=$(pwd)/$VIGIL ;; esac
case $SHARED in /*) ;; *) SHARED=$(pwd)/$SHARED ;; esac
corpus=$SHARED/corpus

if [ ! -d "$corpus" ]; then
    echo "SKIP corpus (no shared folder)"
    exit 0
fi
cd "$root" || exit 1
if [ ! -x "$VIGIL" ]; then
    echo "FAIL $VIGIL is not executable (run make)"
    exit 1
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0
failed=0

# check EVE MODE ATTACKER CATEGORIES: MODE is "attack" or "benign".
check() {
    python3 -c '
import json, sys
eve, mode, attacker, wanted = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split("|")
scan = {"port_scan", "host_sweep"}
found, noisy = False, []
with open(eve) as f:
    for line in f:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event_type") != "alert":
            continue
        cats = ev.get("alert", {}).get("metadata", {}).get("attack_category", [])
        if isinstance(cats, str):
            cats = [cats]
        if mode == "attack" and ev.get("src_ip") == attacker and set(cats) & set(wanted):
            found = True
        if mode == "benign" and set(cats) & scan:
            noisy.append("%s %s" % (ev.get("src_ip"), ev["alert"].get("signature")))
        if mode == "attack" and set(cats) & scan and ev.get("src_ip") != attacker:
            noisy.append("wrong source %s %s" % (ev.get("src_ip"), ev["alert"].get("signature")))
if mode == "attack" and not found:
    print("no %s alert from %s" % ("/".join(wanted), attacker)); sys.exit(1)
if noisy:
    print("; ".join(noisy[:3])); sys.exit(1)
' "$@"
}

# run NAME FILE MODE ATTACKER CATEGORIES
run() {
    eve=$tmp/eve.json
    rm -f "$eve"                # vigil appends to an existing file
    if ! "$VIGIL" -q -r "$2" --eve "$eve" 2>"$tmp/err"; then
        echo "FAIL $1: vigil exited with an error: $(head -c 300 "$tmp/err")"
        failed=$((failed + 1))
        return
    fi
    if why=$(check "$eve" "$3" "$4" "$5"); then
        echo "PASS $1"
        passed=$((passed + 1))
    else
        echo "FAIL $1: $why"
        failed=$((failed + 1))
    fi
}

# Attack and benign rows of expect.tsv that concern this detector.
tab=$(printf '\t')
while IFS="$tab" read -r file kind category attacker _rest; do
    case "$file" in
    a_scans/*|lab/*) ;;
    i_benign/*) [ "$kind" = benign ] && run "$file" "$corpus/$file" benign - - ;
                continue ;;
    *) continue ;;
    esac
    case "$kind:$category" in
    attack:*port_scan*|attack:*host_sweep*)
        run "$file" "$corpus/$file" attack "$attacker" "$category" ;;
    benign:*)
        run "$file" "$corpus/$file" benign - - ;;
    esac
done < "$corpus/expect.tsv"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
