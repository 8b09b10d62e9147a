#!/bin/sh
# live_workers.sh - --workers 2 on a veth pair between two network
# namespaces made here (198.18.103.0/24): the fanout group gives each
# conversation to exactly one worker (every TCP stream established once in
# the merged stats, both workers busy), a port scan is still seen whole,
# SIGUSR2 reaches every worker, the merged EVE file holds whole lines, and
# a worker that dies stops the sensor with status 1. Skips where
# namespaces cannot be made.
. "$(dirname "$0")/lib.sh"

SENSOR_IP=198.18.103.1
VPID=

cleanup() {
    [ -n "$VPID" ] && kill -KILL "$VPID" 2>/dev/null
    [ -n "${SRV:-}" ] && kill "$SRV" 2>/dev/null
    netns_pair_del
    rm -rf "$TMP"
}
trap cleanup EXIT

if ! netns_pair w $SENSOR_IP/24 198.18.103.10/24; then
    echo "SKIP live workers: cannot create network namespaces here"
    exit 0
fi
for i in 11 12 13 14 15 16 17; do
    ip -n "$NS_B" addr add 198.18.103.$i/24 dev "$VB"
done

ip netns exec "$NS_A" python3 -m http.server 8080 --bind $SENSOR_IP \
    --directory "$ROOT/pcaps" >/dev/null 2>&1 &
SRV=$!

ip netns exec "$NS_A" "$VIGIL" -i "$VA" --workers 2 --eve "$TMP/w.json" --stats-interval 1 \
    -f tcp 2>"$TMP/w.err" &
VPID=$!
sleep 2

# 8 clients x 5 HTTP exchanges, then a connect scan from one of them.
ip netns exec "$NS_B" python3 - "$SENSOR_IP" <<'PY'
import socket, sys, time
dst = sys.argv[1]
for i in range(10, 18):
    for _ in range(5):
        for attempt in range(20):
            try:
                s = socket.create_connection((dst, 8080), timeout=2,
                                             source_address=("198.18.103.%d" % i, 0))
                break
            except OSError:
                time.sleep(0.2)
        s.sendall(b"GET /README.md HTTP/1.0\r\nHost: x\r\n\r\n")
        while s.recv(65536):
            pass
        s.close()
for port in range(1, 301):
    s = socket.socket()
    s.settimeout(0.5)
    s.bind(("198.18.103.10", 0))
    try:
        s.connect((dst, port))
    except OSError:
        pass
    s.close()
PY
kill -USR2 "$VPID"
sleep 2
kill -TERM "$VPID"
wait "$VPID"
rc=$?
VPID=

if [ "$rc" -eq 0 ] && clean_run "$TMP/w.err" "$rc"; then pass workers-sigterm-exit-0; else fail workers-sigterm-exit-0 "rc=$rc $(cat "$TMP/w.err")"; fi
python3 - "$TMP/w.json" >"$TMP/w.out" 2>&1 <<'PY'
import json, sys
stats = []
for line in open(sys.argv[1]):
    ev = json.loads(line)
    if ev["event_type"] == "stats":
        stats.append(ev["stats"])
last = stats[-1]
cap, rea = last["capture"], last["reassembly"]
est = rea["streams_established"]
per = cap["worker_packets"]
print("streams=%d (want 340: 40 HTTP + 300 scan handshakes refused -> 40) per-worker=%s "
      "packets=%d kernel_received=%d dropped=%d stats events=%d"
      % (est, per, cap["packets"], cap["kernel_received"], cap["kernel_dropped"], len(stats)))
ok = (est == 40 and cap["workers"] == 2 and len(per) == 2 and min(per) > 0
      and sum(per) == cap["packets"] and cap["kernel_dropped"] == 0 and len(stats) >= 3)
sys.exit(0 if ok else 1)
PY
if [ $? -eq 0 ]; then pass workers-each-stream-once; else fail workers-each-stream-once "$(cat "$TMP/w.out")"; fi
if alerts_of "$TMP/w.json" | grep -q ' 198.18.103.10 198.18.103.1 port_scan'; then
    pass workers-scan-seen-whole
else
    fail workers-scan-seen-whole "alerts: $(alerts_of "$TMP/w.json" | head -5)"
fi
n=$(grep -c 'reloaded rules and detectors' "$TMP/w.err")
if [ "$n" -eq 2 ]; then pass workers-reload-forwarded; else fail workers-reload-forwarded "$n reload lines: $(cat "$TMP/w.err")"; fi

# A worker killed from outside: the sensor says so and stops with status 1.
ip netns exec "$NS_A" "$VIGIL" -i "$VA" --workers 2 --eve "$TMP/k.json" -f tcp 2>"$TMP/k.err" &
VPID=$!
sleep 1.5
child=$(pgrep -P "$VPID" | head -1)
[ -n "$child" ] && kill -KILL "$child"
for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$VPID" 2>/dev/null || break; sleep 0.3; done
wait "$VPID"
rc=$?
VPID=
if [ "$rc" -eq 1 ] && grep -q "worker [01] (pid $child) was killed by signal 9; stopping all workers" "$TMP/k.err"; then
    pass workers-death-stops-all
else
    fail workers-death-stops-all "rc=$rc child=$child $(cat "$TMP/k.err")"
fi
report
