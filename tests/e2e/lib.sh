# lib.sh - helpers for the end-to-end tests (sourced, POSIX sh).
#
# Each case calls pass NAME / fail NAME WHY; report prints the closing
# line "N passed, M failed" and sets the exit status.

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${VIGIL_BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
VIGIL=${VIGIL:-$BUILD/vigil}
SHARED=${VIGIL_SHARED:-$ROOT/../shared}
PCAPS=$ROOT/pcaps
export LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:exitcode=99}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=99}"

PASSED=0
FAILED=0
TMP=$(mktemp -d /tmp/vigil-e2e.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }

report() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

# A sanitizer or a crash must never show up, whatever the exit status.
clean_run() { # stderr-file rc
    ! grep -q -e 'Sanitizer' -e 'runtime error' -e 'LeakSanitizer' "$1" && [ "$2" -lt 128 ] &&
        [ "$2" -ne 99 ]
}

# Print the alerts of an eve file as sorted "detector sid src dest category" lines.
alerts_of() {
    python3 - "$1" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    ev = json.loads(line)
    if ev.get("event_type") != "alert":
        continue
    a = ev["alert"]
    md = a.get("metadata", {})
    rows.append("%s %s %s %s %s" % (md.get("detector", ["?"])[0], a["signature_id"],
                ev.get("src_ip", "-"), ev.get("dest_ip", "-"),
                md.get("attack_category", ["-"])[0]))
for r in sorted(rows):
    print(r)
PY
}

# stats.<path> of the last stats event, e.g. stat_of eve.json reassembly.streams_established
stat_of() {
    python3 - "$1" "$2" <<'PY'
import json, sys
last = None
for line in open(sys.argv[1]):
    ev = json.loads(line)
    if ev.get("event_type") == "stats":
        last = ev["stats"]
v = last
for k in sys.argv[2].split("."):
    v = v[k]
print(v)
PY
}

# netns_pair TAG SENSOR_CIDR PEER_CIDR: two network namespaces made here,
# joined by a veth pair, both ends up. Sets NS_A/VA (the sensor's side) and
# NS_B/VB (the peer's). An empty CIDR leaves that end without an address
# and without IPv6, so the only frames on it are the ones a test sends.
# Returns 1 where namespaces cannot be made (not root, no netns support);
# netns_pair_del undoes it.
netns_pair() {
    NS_A=vigil-${1}a-$$ NS_B=vigil-${1}b-$$ VA=v${1}a$$ VB=v${1}b$$
    [ "$(id -u)" -eq 0 ] && ip netns add "$NS_A" 2>/dev/null || return 1
    ip netns add "$NS_B" && ip link add "$VA" type veth peer name "$VB" &&
        ip link set "$VA" netns "$NS_A" && ip link set "$VB" netns "$NS_B" || return 1
    netns_end "$NS_A" "$VA" "$2" && netns_end "$NS_B" "$VB" "$3"
}

netns_end() { # ns dev cidr
    if [ -n "$3" ]; then
        ip -n "$1" addr add "$3" dev "$2" || return 1
    else
        ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1
    fi
    ip -n "$1" link set "$2" up && ip -n "$1" link set lo up
}

netns_pair_del() {
    ip netns del "$NS_A" 2>/dev/null
    ip netns del "$NS_B" 2>/dev/null
}
