#!/bin/sh
# live_daemon.sh - the sensor as a long-running daemon on a real interface
# (a veth pair between two network namespaces made here, 198.18.102.0/24):
# privilege drop to nobody, SIGUSR2 reload under traffic without losing a
# packet (and keeping the old rules when the new ones are invalid), SIGHUP
# log reopen after mv, graceful SIGTERM, --daemon with --pidfile, kernel
# drops when the sensor is stopped, checksums auto on offloaded veth
# traffic, and no thread keeping a capability when started as the service
# unit starts it (non-root, ambient CAP_NET_RAW, a Redis sender thread).
# Skips where namespaces cannot be made.
. "$(dirname "$0")/lib.sh"

SENSOR_IP=198.18.102.1
PEER_IP=198.18.102.2
VPID=

cleanup() {
    [ -n "$VPID" ] && kill -CONT "$VPID" 2>/dev/null && kill -KILL "$VPID" 2>/dev/null
    netns_pair_del
    rm -rf "$TMP"
}
trap cleanup EXIT

if ! netns_pair d $SENSOR_IP/24 $PEER_IP/24; then
    echo "SKIP live daemon: cannot create network namespaces here"
    exit 0
fi
# Resolve the neighbours now: no ARP in the middle of a counted run.
ip netns exec "$NS_B" ping -c 1 -W 2 $SENSOR_IP >/dev/null 2>&1

# nobody must reach the rules (reload) and the log directory (reopen).
chmod 711 "$TMP"
mkdir -p "$TMP/log"
chown nobody "$TMP/log"
cp -r "$ROOT/rules" "$TMP/rules"
chmod -R a+rX "$TMP/rules"

# send_udp COUNT SECONDS: COUNT UDP datagrams to port 9999, evenly over SECONDS.
send_udp() {
    ip netns exec "$NS_B" python3 - "$1" "$2" "$SENSOR_IP" <<'PY'
import socket, sys, time
n, secs, dst = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t0 = time.time()
for i in range(n):
    s.sendto(b"x" * 64, (dst, 9999))
    if i % 100 == 99:
        ahead = t0 + secs * (i + 1) / n - time.time()
        if ahead > 0:
            time.sleep(ahead)
PY
}

connect_scan() {
    ip netns exec "$NS_B" python3 - "$SENSOR_IP" <<'PY'
import socket, sys
for port in range(1, 301):
    s = socket.socket()
    s.settimeout(0.5)
    try:
        s.connect((sys.argv[1], port))
    except OSError:
        pass
    s.close()
PY
}

# start_sensor NAME ARGS...: vigil on the sensor side, pid in VPID.
start_sensor() {
    name=$1
    shift
    ip netns exec "$NS_A" "$VIGIL" -i "$VA" -R "$TMP/rules" "$@" 2>"$TMP/$name.err" &
    VPID=$!
    sleep 1.5
}

stop_sensor() { # name -> rc in RC
    kill -TERM "$VPID"
    wait "$VPID"
    RC=$?
    VPID=
}

# --- privilege drop -----------------------------------------------------
start_sensor priv --user nobody --eve "$TMP/log/priv.json" --stats-interval 1 -f 'tcp'
uid=$(awk '/^Uid:/ {print $2, $3}' /proc/$VPID/status)
capeff=$(awk '/^CapEff:/ {print $2}' /proc/$VPID/status)
capprm=$(awk '/^CapPrm:/ {print $2}' /proc/$VPID/status)
nobody=$(id -u nobody)
connect_scan
sleep 1.2
stop_sensor
if [ "$uid" = "$nobody $nobody" ] && [ "$capeff" = 0000000000000000 ] &&
    [ "$capprm" = 0000000000000000 ]; then
    pass live-privdrop-nobody-no-caps
else
    fail live-privdrop-nobody-no-caps "uid=$uid CapEff=$capeff CapPrm=$capprm"
fi
if [ "$RC" -eq 0 ] && alerts_of "$TMP/log/priv.json" | grep -q " $PEER_IP $SENSOR_IP port_scan"; then
    pass live-privdrop-still-captures
else
    fail live-privdrop-still-captures "rc=$RC $(cat "$TMP/priv.err") alerts: $(alerts_of "$TMP/log/priv.json" | head -3)"
fi

# Cases that run the binary, or reload its plugins, as nobody need a
# checkout nobody can reach (mktemp -d, for one, makes 0700 directories).
nobody_reaches=0
setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups \
    sh -c 'test -x "$1" && ls "$2" >/dev/null' sh "$VIGIL" "$(dirname "$VIGIL")/plugins" \
    2>/dev/null && nobody_reaches=1
NOBODY_WHY="nobody cannot reach $(dirname "$VIGIL") (a parent directory is private)"

# --- started as the service unit does: non-root with ambient CAP_NET_RAW ---
# Capability sets are per thread: the Redis sender thread must lose
# CAP_NET_RAW too, not only the capture thread that drops it.
if [ "$nobody_reaches" -eq 0 ]; then
    skip live-ambient-cap-no-thread-keeps-caps "$NOBODY_WHY"
elif command -v capsh >/dev/null && command -v redis-server >/dev/null; then
    ip netns exec "$NS_A" redis-server --port 6390 --bind 127.0.0.1 --save "" \
        --appendonly no >/dev/null 2>&1 &
    RPID=$!
    sleep 0.5
    ip netns exec "$NS_A" capsh --caps="cap_net_raw+eip cap_setpcap,cap_setuid,cap_setgid+ep" \
        --keep=1 --user=nobody --addamb=cap_net_raw -- -c \
        "exec '$VIGIL' -i '$VA' -R '$TMP/rules' --eve '$TMP/log/amb.json' --redis 127.0.0.1:6390" \
        2>"$TMP/amb.err" &
    VPID=$!
    sleep 1.5
    tasks=0 capped=
    for t in /proc/$VPID/task/*; do
        tasks=$((tasks + 1))
        sets=$(awk '/^Cap(Prm|Eff|Amb):/ {printf "%s ", $2}' "$t/status")
        [ "$sets" = "0000000000000000 0000000000000000 0000000000000000 " ] ||
            capped="$capped ${t##*/}:$sets"
    done
    connect_scan
    sleep 1.2
    stop_sensor
    kill "$RPID" 2>/dev/null
    wait "$RPID" 2>/dev/null
    if [ "$tasks" -ge 2 ] && [ -z "$capped" ] && [ "$RC" -eq 0 ] &&
        alerts_of "$TMP/log/amb.json" | grep -q " $PEER_IP $SENSOR_IP port_scan"; then
        pass "live-ambient-cap-no-thread-keeps-caps ($tasks threads)"
    else
        fail live-ambient-cap-no-thread-keeps-caps "threads $tasks, still capable:${capped:- none}," \
            "rc=$RC $(head -c 300 "$TMP/amb.err")"
    fi
else
    skip live-ambient-cap-no-thread-keeps-caps "needs capsh and redis-server"
fi

# --- SIGUSR2 reload under traffic, a bad rule set, then a good one again ---
N=30000
start_sensor reload --user nobody --eve "$TMP/log/reload.json" --stats-interval 1 \
    -f "udp and dst port 9999"
send_udp $N 6 &
SND=$!
sleep 1
kill -USR2 "$VPID"
sleep 1
printf '[portscan]\nno_such_knob = 1\n' >"$TMP/rules/zz-broken.conf"
chmod a+r "$TMP/rules/zz-broken.conf"
kill -USR2 "$VPID"
sleep 1
rm -f "$TMP/rules/zz-broken.conf"
kill -USR2 "$VPID"
sleep 0.5
kill -USR2 "$VPID"
wait "$SND"
sleep 1
alive=0
kill -0 "$VPID" 2>/dev/null && alive=1
stop_sensor
pk=$(stat_of "$TMP/log/reload.json" capture.packets)
dr=$(stat_of "$TMP/log/reload.json" capture.kernel_dropped)
nok=$(grep -c 'reloaded rules and detectors' "$TMP/reload.err")
nbad=$(grep -c 'reload failed, the running rules and detectors stay: .*zz-broken.conf:2: unknown setting' "$TMP/reload.err")
if [ "$alive" -eq 1 ] && [ "$RC" -eq 0 ] && [ "$pk" -eq "$N" ] && [ "$dr" -eq 0 ]; then
    pass live-reload-no-packet-lost
else
    fail live-reload-no-packet-lost "alive=$alive rc=$RC packets=$pk of $N dropped=$dr"
fi
if [ "$nobody_reaches" -eq 0 ]; then
    skip live-reload-bad-rules-kept-old "$NOBODY_WHY; a reload reads the plugins as nobody"
elif [ "$nok" -eq 3 ] && [ "$nbad" -eq 1 ]; then
    pass live-reload-bad-rules-kept-old
else
    fail live-reload-bad-rules-kept-old "ok=$nok bad=$nbad: $(cat "$TMP/reload.err")"
fi

# --- SIGHUP reopen after mv, under traffic --------------------------------
start_sensor reopen --user nobody --eve "$TMP/log/eve.json" --stats-interval 1 \
    -f "tcp or (udp and dst port 9999)"
send_udp $N 5 &
SND=$!
connect_scan
mv "$TMP/log/eve.json" "$TMP/log/eve.json.1"
kill -HUP "$VPID"
connect_scan
wait "$SND"
sleep 1
stop_sensor
python3 - "$TMP/log/eve.json.1" "$TMP/log/eve.json" "$N" >"$TMP/reopen.out" 2>&1 <<'PY'
import json, sys
old, new, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
alerts = [0, 0]
nstats = [0, 0]
stats = []
for k, path in enumerate((old, new)):
    for line in open(path):
        ev = json.loads(line)          # a split line fails here
        if ev["event_type"] == "alert":
            alerts[k] += 1
        elif ev["event_type"] == "stats":
            stats.append(ev["stats"])
            nstats[k] += 1
last = stats[-1]
# Both files got stats events, the packet counter never went back, and the
# final one counts every datagram sent and every alert written.
counts = [s["capture"]["packets"] for s in stats]
ok = (nstats[0] > 0 and nstats[1] > 0 and counts == sorted(counts)
      and sum(alerts) == last["detect"]["alerts"] and sum(alerts) > 0
      and last["capture"]["kernel_dropped"] == 0
      and last["decoder"]["udp"] == n)
print("alerts old=%d new=%d stats.alerts=%d stats=%s udp=%d of %d" % (alerts[0], alerts[1],
      last["detect"]["alerts"], nstats, last["decoder"]["udp"], n))
sys.exit(0 if ok else 1)
PY
if [ $? -eq 0 ] && [ "$RC" -eq 0 ]; then
    pass live-sighup-reopen-no-line-lost
else
    fail live-sighup-reopen-no-line-lost "rc=$RC $(cat "$TMP/reopen.out") $(cat "$TMP/reopen.err")"
fi

# --- graceful stop: SIGTERM drains and exits 0 within seconds ---------------
start_sensor stop --eve "$TMP/stop.json" --stats-interval 0 -f "udp and dst port 9999"
send_udp 5000 1
t0=$(date +%s)
stop_sensor
t1=$(date +%s)
if [ "$RC" -eq 0 ] && [ $((t1 - t0)) -le 3 ] && [ "$(stat_of "$TMP/stop.json" capture.packets)" -eq 5000 ]; then
    pass live-sigterm-graceful
else
    fail live-sigterm-graceful "rc=$RC took $((t1 - t0)) s packets=$(stat_of "$TMP/stop.json" capture.packets)"
fi

# --- --daemon and --pidfile -------------------------------------------------
ip netns exec "$NS_A" "$VIGIL" -i "$VA" -R "$TMP/rules" --daemon --pidfile "$TMP/vigil.pid" \
    --eve "$TMP/daemon.json" --stats-interval 1 2>"$TMP/daemon.err"
drc=$?
dpid=$(cat "$TMP/vigil.pid" 2>/dev/null)
ip netns exec "$NS_A" "$VIGIL" -i "$VA" -R "$TMP/rules" --daemon --pidfile "$TMP/vigil.pid" \
    --eve "$TMP/daemon2.json" 2>"$TMP/daemon2.err"
d2rc=$?
if [ "$drc" -eq 0 ] && [ -n "$dpid" ] && kill -0 "$dpid" 2>/dev/null && [ "$d2rc" -eq 1 ] &&
    grep -q "already running (pid $dpid)" "$TMP/daemon2.err"; then
    kill -TERM "$dpid"
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$dpid" 2>/dev/null || break; sleep 0.3; done
    if ! kill -0 "$dpid" 2>/dev/null && [ ! -e "$TMP/vigil.pid" ] &&
        [ "$(grep -c '"event_type":"stats"' "$TMP/daemon.json")" -ge 1 ]; then
        pass live-daemon-pidfile
    else
        fail live-daemon-pidfile "daemon did not stop cleanly: $(cat "$TMP/daemon.err")"
    fi
else
    fail live-daemon-pidfile "rc=$drc pid=$dpid second rc=$d2rc: $(cat "$TMP/daemon.err" "$TMP/daemon2.err")"
    [ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null
fi
ip netns exec "$NS_A" "$VIGIL" -i nonexistent0 --daemon --eve "$TMP/x.json" 2>"$TMP/bad.err"
if [ $? -eq 1 ] && grep -q "nonexistent0: cannot capture" "$TMP/bad.err"; then
    pass live-daemon-reports-setup-failure
else
    fail live-daemon-reports-setup-failure "$(cat "$TMP/bad.err")"
fi

# --- kernel drops while the sensor is stopped --------------------------------
start_sensor drops --buffer-mb 1 --eve "$TMP/drops.json" --stats-interval 1 \
    -f "udp and dst port 9999"
kill -STOP "$VPID"
send_udp 60000 1
kill -CONT "$VPID"
sleep 2.5
stop_sensor
kd=$(stat_of "$TMP/drops.json" capture.kernel_dropped)
pk=$(stat_of "$TMP/drops.json" capture.packets)
kr=$(stat_of "$TMP/drops.json" capture.kernel_received)
periodic=$(python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["event_type"] == "stats"
          and json.loads(l)["stats"]["capture"]["kernel_dropped"] > 0))' "$TMP/drops.json")
if [ "$RC" -eq 0 ] && [ "$kd" -gt 0 ] && [ "$periodic" -ge 2 ] && [ $((pk + kd)) -eq "$kr" ]; then
    pass live-kernel-drops-reported
else
    fail live-kernel-drops-reported "rc=$RC packets=$pk kernel_received=$kr kernel_dropped=$kd periodic=$periodic"
fi

# --- checksums auto on veth: locally sent packets carry offloaded checksums ---
start_sensor csum --checksums auto --eve "$TMP/csum.json" -f "udp and dst port 9999"
send_udp 3000 1
sleep 0.5
stop_sensor
if [ "$RC" -eq 0 ] && grep -q "checksums auto: .* wrong; offloaded capture, not verifying" "$TMP/csum.err" &&
    [ "$(stat_of "$TMP/csum.json" capture.packets)" -eq 3000 ]; then
    pass live-checksums-auto-offload
else
    fail live-checksums-auto-offload "rc=$RC $(cat "$TMP/csum.err")"
fi
report
