#!/bin/sh
# live_replay_equal.sh - the same capture seen live and replayed gives the
# same alerts. tcpreplay sends the bundled captures at their recorded pace
# into a veth pair between two namespaces made here; vigil -i listens on the
# other end; vigil -r reads the same files. Detectors run on packet time,
# so only the arrival jitter differs: the alert sets must be equal.
. "$(dirname "$0")/lib.sh"

VPID=

cleanup() {
    [ -n "$VPID" ] && kill -KILL "$VPID" 2>/dev/null
    netns_pair_del
    rm -rf "$TMP"
}
trap cleanup EXIT

# No addresses and no IPv6: the only frames on the wire are the replayed ones.
if ! command -v tcpreplay >/dev/null || ! netns_pair r "" ""; then
    echo "SKIP live vs replay: needs root, tcpreplay and network namespaces"
    exit 0
fi

CAPS="$PCAPS/scan-syn.pcap $PCAPS/sweep.pcap $PCAPS/scan-stealth.pcap"
ip netns exec "$NS_A" "$VIGIL" -i "$VA" --eve "$TMP/live.json" 2>"$TMP/live.err" &
VPID=$!
sleep 1.5
for c in $CAPS; do
    ip netns exec "$NS_B" tcpreplay -q -i "$VB" "$c" >/dev/null 2>&1 ||
        fail "tcpreplay $(basename "$c")" "tcpreplay failed"
done
sleep 1
kill -INT "$VPID"
wait "$VPID"
rc=$?
VPID=
if [ "$rc" -eq 0 ] && clean_run "$TMP/live.err" "$rc"; then pass live-run; else fail live-run "rc=$rc $(cat "$TMP/live.err")"; fi

# shellcheck disable=SC2086
"$VIGIL" -q -r $CAPS --eve "$TMP/replay.json" 2>/dev/null
alerts_of "$TMP/live.json" >"$TMP/live.alerts"
alerts_of "$TMP/replay.json" >"$TMP/replay.alerts"
sent=$(stat_of "$TMP/replay.json" capture.packets)
seen=$(stat_of "$TMP/live.json" capture.packets)
if [ "$seen" -eq "$sent" ]; then pass "every packet captured ($seen)"; else fail packets "live $seen, file $sent"; fi
if [ -s "$TMP/replay.alerts" ] && cmp -s "$TMP/live.alerts" "$TMP/replay.alerts"; then
    pass "live alerts equal replay alerts ($(wc -l <"$TMP/replay.alerts"))"
else
    fail live-equals-replay "$(diff "$TMP/replay.alerts" "$TMP/live.alerts" | head -10)"
fi
report
