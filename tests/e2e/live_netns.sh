#!/bin/sh
# live_netns.sh - live capture on a veth pair between two network
# namespaces made here (198.18.100.0/24). A real TCP connect scan and a real
# HTTP exchange cross it; vigil -i must see them, report periodic stats and
# stop cleanly on SIGINT. Skips where namespaces cannot be made.
. "$(dirname "$0")/lib.sh"

cleanup() {
    [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null
    netns_pair_del
    rm -rf "$TMP"
}
trap cleanup EXIT

if ! netns_pair g 198.18.100.1/24 198.18.100.2/24; then
    echo "SKIP live capture: cannot create network namespaces here"
    exit 0
fi

ip netns exec "$NS_A" python3 -m http.server 8080 --bind 198.18.100.1 \
    --directory "$ROOT/pcaps" >/dev/null 2>&1 &
SRV=$!

ip netns exec "$NS_A" "$VIGIL" -i "$VA" --eve "$TMP/live.json" --stats-interval 1 \
    2>"$TMP/live.err" &
VPID=$!
sleep 1.5

ip netns exec "$NS_B" python3 - <<'PY'
import socket, time, urllib.request
# A real HTTP exchange, reassembled by the sensor.
for _ in range(20):
    try:
        body = urllib.request.urlopen("http://198.18.100.1:8080/README.md", timeout=2).read()
        break
    except OSError:
        time.sleep(0.2)
# A real TCP connect scan of 300 closed ports on the sensor's side.
for port in range(1, 301):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        s.connect(("198.18.100.1", port))
    except OSError:
        pass
    s.close()
PY
sleep 1.5
kill -INT "$VPID"
wait "$VPID"
rc=$?

if [ "$rc" -eq 0 ] && clean_run "$TMP/live.err" "$rc"; then pass live-sigint-exit-0; else fail live-sigint-exit-0 "rc=$rc $(cat "$TMP/live.err")"; fi
nstats=$(grep -c '"event_type":"stats"' "$TMP/live.json")
if [ "$nstats" -ge 3 ]; then pass live-periodic-stats; else fail live-periodic-stats "$nstats stats events"; fi
pk=$(stat_of "$TMP/live.json" capture.packets)
kr=$(stat_of "$TMP/live.json" capture.kernel_received)
est=$(stat_of "$TMP/live.json" reassembly.streams_established)
bytes=$(stat_of "$TMP/live.json" reassembly.bytes)
drop=$(stat_of "$TMP/live.json" capture.kernel_dropped)
if [ "$pk" -gt 600 ] && [ "$kr" -gt 0 ] && [ "$drop" -eq 0 ] && [ "$est" -ge 1 ] && [ "$bytes" -gt 1000 ]; then
    pass live-capture-and-reassembly
else
    fail live-capture-and-reassembly "packets=$pk kernel_received=$kr dropped=$(stat_of "$TMP/live.json" capture.kernel_dropped) streams=$est bytes=$bytes"
fi
if alerts_of "$TMP/live.json" | grep -q ' 198.18.100.2 198.18.100.1 port_scan'; then
    pass live-connect-scan-detected
else
    fail live-connect-scan-detected "alerts: $(alerts_of "$TMP/live.json" | head -5)"
fi
report
