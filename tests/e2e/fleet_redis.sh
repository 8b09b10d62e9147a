#!/bin/sh
# fleet_redis.sh - two sensors publish into one Redis stream, `vigil collect`
# merges them: nothing lost when redis-server dies and comes back while a
# sensor runs, every alert exactly once after acknowledgement, unacknowledged
# entries of a killed collector delivered again, and an attacker seen by both
# sensors reported as one incident. Redis runs on 127.0.0.1 only, on a free
# port, in the test's temp dir.
#
# Uses $VIGIL when it has the redis output (--redis) and `vigil collect`;
# otherwise builds a small stand-in from the sensor sources in the temp dir.

. "$(dirname "$0")/lib.sh"

REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
REDIS_CLI=${REDIS_CLI:-/usr/bin/redis-cli}
if [ ! -x "$REDIS_SERVER" ] || [ ! -x "$REDIS_CLI" ]; then
    skip fleet-redis "no $REDIS_SERVER or $REDIS_CLI"
    report
    exit 0
fi

# ---- the binary ---------------------------------------------------------------
V=$VIGIL
if ! "$V" --help 2>/dev/null | grep -q -e '--redis' ||
   ! "$V" collect --help >/dev/null 2>&1; then
    V=$TMP/vigil-fleet
    mkdir -p "$TMP/obj"
    # The stand-in takes the sensor name from FLEET_SENSOR_NAME: the engine
    # rejects [vigil] sensor_name until it reads it before checking settings.
    {
        cat <<'EOF'
#include <stdlib.h>
#include "redis_out.h"
static int fleet_open_redis(const char *t, const struct vigil_output_env *env,
                            struct vigil_output *out, char *err, size_t errlen)
{
    struct vigil_output_env e2 = *env;
    if (getenv("FLEET_SENSOR_NAME"))
        e2.sensor_name = getenv("FLEET_SENSOR_NAME");
    return vigil_output_open_redis(t, &e2, out, err, errlen);
}
EOF
        sed 's|^    { "eve", vigil_output_open_eve },|&\n    { "redis", fleet_open_redis },|' \
            "$ROOT/sensor/outputs.c"
    } >"$TMP/obj/outputs.c"
    cat >"$TMP/obj/driver.c" <<'EOF'
/* vigil -r ... with --redis T, and vigil collect ... */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "capture.h"
#include "collect.h"
#include "engine.h"
static volatile sig_atomic_t stop;
static void packet(void *u, int dlt, const struct pcap_pkthdr *h, const uint8_t *d)
{
    vigil_engine_packet(u, dlt, h, d);
}
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "collect") == 0)
        return vigil_collect_main(argc - 1, argv + 1);
    char *paths[64], *settings[64], err[1024];
    size_t np = 0, ns = 0;
    const char *eve = "-", *rules = NULL, *plugins = NULL;
    struct vigil_output_spec out[4];
    size_t no = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--redis") && i + 1 < argc)
            out[no++] = (struct vigil_output_spec){ "redis", argv[++i] };
        else if (!strcmp(argv[i], "--set") && i + 1 < argc &&
                 !strncmp(argv[i + 1], "vigil.sensor_name=", 18))
            setenv("FLEET_SENSOR_NAME", argv[++i] + 18, 1);
        else if (!strcmp(argv[i], "--set") && i + 1 < argc)
            settings[ns++] = argv[++i];
        else if (!strcmp(argv[i], "--eve") && i + 1 < argc)
            eve = argv[++i];
        else if (!strcmp(argv[i], "-R") && i + 1 < argc)
            rules = argv[++i];
        else if (!strcmp(argv[i], "-P") && i + 1 < argc)
            plugins = argv[++i];
        else if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "-r"))
            continue;
        else
            paths[np++] = argv[i];
    }
    int code = 0;
    struct vigil_capture *cap = vigil_capture_open_files(paths, np, NULL, err, sizeof err, &code);
    if (!cap) { fprintf(stderr, "vigil: %s\n", err); return code; }
    struct vigil_engine_options eo = { .plugin_dir = plugins, .rules_dir = rules, .eve_path = eve,
        .quiet = 1, .settings = settings, .nsettings = ns, .outputs = out, .noutputs = no };
    struct vigil_engine *e = vigil_engine_new(&eo, err, sizeof err, &code);
    if (!e) { fprintf(stderr, "vigil: %s\n", err); return code; }
    int broken = vigil_capture_replay(cap, packet, e, &stop);
    int failed = vigil_engine_finish(e) < 0;
    vigil_engine_free(e);
    vigil_capture_close(cap);
    return broken || failed;
}
EOF
    objs=""
    ok=1
    for src in addrset alert_filter capture community_id config decode dirlist engine eve \
               flow log plugin_host reasm output_redis collect; do
        cc -std=c11 -D_DEFAULT_SOURCE -I"$ROOT/include" -I"$ROOT/sensor" -I"$BUILD" -O1 -g \
           -c -o "$TMP/obj/$src.o" "$ROOT/sensor/$src.c" 2>>"$TMP/build.log" || ok=0
        objs="$objs $TMP/obj/$src.o"
    done
    for src in outputs driver; do
        cc -std=c11 -D_DEFAULT_SOURCE -I"$ROOT/include" -I"$ROOT/sensor" -I"$BUILD" -O1 -g \
           -c -o "$TMP/obj/$src.o" "$TMP/obj/$src.c" 2>>"$TMP/build.log" || ok=0
        objs="$objs $TMP/obj/$src.o"
    done
    # shellcheck disable=SC2086
    [ $ok = 1 ] && cc -o "$V" $objs -lnids -lpcap -ljansson -lcrypto -lhiredis -lpthread -ldl -lm \
        2>>"$TMP/build.log" || ok=0
    if [ $ok = 0 ]; then
        fail fleet-build "stand-in binary did not build: $(head -c 600 "$TMP/build.log")"
        report
        exit 1
    fi
    V_ARGS="-R $ROOT/rules -P $BUILD/plugins"
fi
V_ARGS=${V_ARGS:-}

# ---- a private redis-server ----------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RDIR=$TMP/redis
mkdir -p "$RDIR"
RPID=
redis_start() {
    "$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$RDIR" --save '' \
        --appendonly yes --appendfsync always --logfile "$RDIR/log" &
    RPID=$!
    i=0
    while [ $i -lt 100 ]; do
        [ "$(rcli PING 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
        i=$((i + 1))
    done
    return 1
}
redis_kill() {
    [ -n "$RPID" ] && kill -KILL "$RPID" 2>/dev/null && wait "$RPID" 2>/dev/null
    RPID=
}
rcli() { "$REDIS_CLI" -h 127.0.0.1 -p "$PORT" "$@"; }
HOLDER=
cleanup() {
    [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
    redis_kill
    rm -rf "$TMP"
}
trap cleanup EXIT

if ! redis_start; then
    fail redis-start "redis-server did not answer on 127.0.0.1:$PORT"
    report
    exit 1
fi
TARGET=127.0.0.1:$PORT

# ---- sensor A: Redis up ------------------------------------------------------------
# shellcheck disable=SC2086
"$V" $V_ARGS -q -r "$PCAPS/scan-syn.pcap" "$PCAPS/scan-stealth.pcap" --redis "$TARGET" \
    --set vigil.sensor_name=A --eve "$TMP/a.json" 2>"$TMP/a.err"
rc=$?
na=$(alerts_of "$TMP/a.json" | wc -l)
if [ $rc -eq 0 ] && clean_run "$TMP/a.err" $rc && [ "$na" -ge 2 ] &&
   [ "$(rcli XLEN vigil:alerts)" = "$na" ]; then
    pass sensor-a-publishes
else
    fail sensor-a-publishes "rc=$rc alerts=$na xlen=$(rcli XLEN vigil:alerts): $(head -c 300 "$TMP/a.err")"
fi

# ---- sensor B: redis-server killed before its first alert, back 2 s later -----------
redis_kill
start=$(date +%s)
# shellcheck disable=SC2086
"$V" $V_ARGS -q -r "$PCAPS/scan-syn.pcap" "$PCAPS/sweep.pcap" --redis "$TARGET" \
    --set vigil.sensor_name=B --set redis.drain_sec=30 --eve "$TMP/b.json" 2>"$TMP/b.err" &
BPID=$!
sleep 2
if kill -0 $BPID 2>/dev/null; then
    pass sensor-b-waits-for-redis
else
    fail sensor-b-waits-for-redis "sensor B ended while Redis was down"
fi
redis_start || fail redis-restart "redis-server did not come back"
wait $BPID
rc=$?
nb=$(alerts_of "$TMP/b.json" | wc -l)
total=$(rcli XLEN vigil:alerts)
if [ $rc -eq 0 ] && clean_run "$TMP/b.err" $rc && [ "$nb" -ge 2 ] &&
   [ "$total" = $((na + nb)) ] && grep -q 'retrying' "$TMP/b.err"; then
    pass redis-restart-loses-nothing
else
    fail redis-restart-loses-nothing "rc=$rc A=$na B=$nb xlen=$total: $(head -c 400 "$TMP/b.err")"
fi
[ "$(rcli XLEN vigil:stats)" = 2 ] && pass stats-stream ||
    fail stats-stream "vigil:stats has $(rcli XLEN vigil:stats) entries, want 2"

# ---- a collector killed before acknowledging: its entries come again -----------------
python3 - "$TMP/bulk.cmd" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(400):
        eve = {"timestamp": "2023-11-14T22:13:20.%06d+0000" % i, "event_type": "alert",
               "src_ip": "198.18.9.%d" % (i % 200), "dest_ip": "198.18.0.10",
               "alert": {"signature_id": 9000 + i, "signature": "x" * 1000,
                         "metadata": {"attack_category": ["port_scan"]}}}
        args = ["XADD", "vigil:bulk", "*", "sensor", "C", "type", "alert",
                "ts", str(1700000000000000 + i), "seq", str(i + 1), "eve", json.dumps(eve)]
        f.write(" ".join('"%s"' % a.replace("\\", "\\\\").replace('"', '\\"') for a in args) + "\n")
PY
rcli <"$TMP/bulk.cmd" >/dev/null
mkfifo "$TMP/fifo"
sleep 60 <"$TMP/fifo" &         # holds the pipe open and never reads it
HOLDER=$!
"$V" collect -s "$TARGET" --stream vigil:bulk --consumer c1 -o "$TMP/fifo" --once \
    2>"$TMP/c1.err" &
CPID=$!
i=0
while [ $i -lt 100 ] && [ "$(rcli XPENDING vigil:bulk vigil-collect | head -1)" = 0 ]; do
    sleep 0.05
    i=$((i + 1))
done
sleep 0.3                       # the collector is now stuck writing its first batch
kill -KILL $CPID
wait $CPID 2>/dev/null
kill $HOLDER 2>/dev/null
wait $HOLDER 2>/dev/null
HOLDER=
pending=$(rcli XPENDING vigil:bulk vigil-collect | head -1)
"$V" collect -s "$TARGET" --stream vigil:bulk --consumer c1 -o "$TMP/bulk.json" --once \
    2>"$TMP/c2.err"
rc=$?
got=$(python3 -c 'import json,sys; print(len({json.loads(l)["stream_id"] for l in open(sys.argv[1])}))' \
      "$TMP/bulk.json" 2>/dev/null)
after=$(rcli XPENDING vigil:bulk vigil-collect | head -1)
if [ "$pending" -gt 0 ] && [ $rc -eq 0 ] && [ "$got" = 400 ] && [ "$after" = 0 ] &&
   grep -q "$pending re-delivered" "$TMP/c2.err"; then
    pass killed-collector-redelivers
else
    fail killed-collector-redelivers "pending=$pending rc=$rc got=$got after=$after: $(cat "$TMP/c2.err")"
fi

# ---- the merge: every alert of both sensors exactly once, and one incident ----------
"$V" collect -s "$TARGET" -o "$TMP/merged.json" --once 2>"$TMP/m.err"
rc=$?
"$V" collect -s "$TARGET" -o "$TMP/merged.json" --once 2>>"$TMP/m.err"   # nothing new
rc2=$?
check=$(python3 - "$TMP/a.json" "$TMP/b.json" "$TMP/merged.json" <<'PY'
import collections, json, sys
def alerts(path, sensor=None):
    out = collections.Counter()
    for line in open(path):
        ev = json.loads(line)
        if ev.get("event_type") != "alert":
            continue
        s = sensor or ev.pop("sensor")
        ev.pop("stream_id", None)
        out[(s, json.dumps(ev, sort_keys=True))] += 1
    return out
want = alerts(sys.argv[1], "A") + alerts(sys.argv[2], "B")
got = alerts(sys.argv[3])
if got != want:
    print("merged alerts differ: missing %d, extra %d" % (sum((want - got).values()),
                                                          sum((got - want).values())))
    sys.exit()
inc = [json.loads(l) for l in open(sys.argv[3]) if '"incident"' in l]
inc = [e for e in inc if e.get("event_type") == "incident"]
if len(inc) != 1:
    print("%d incidents, want 1" % len(inc)); sys.exit()
i = inc[0]
if i["src_ip"] != "198.18.7.7" or sorted(i["incident"]["sensors"]) != ["A", "B"] \
   or i["incident"]["alert_count"] != 2 or "port_scan" not in i["incident"]["categories"]:
    print("unexpected incident %s" % json.dumps(i)); sys.exit()
print("ok %d" % sum(want.values()))
PY
)
case $check in
ok*) [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && pass "merged-exactly-once ($check alerts)" ||
         fail merged-exactly-once "rc=$rc/$rc2: $(cat "$TMP/m.err")" ;;
*) fail merged-exactly-once "$check" ;;
esac
case $check in
ok*) pass incident-for-attacker-seen-by-both ;;
*) fail incident-for-attacker-seen-by-both "$check" ;;
esac
[ "$(rcli XPENDING vigil:alerts vigil-collect | head -1)" = 0 ] && pass all-acknowledged ||
    fail all-acknowledged "entries still pending"

report
