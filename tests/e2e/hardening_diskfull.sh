#!/bin/sh
# hardening_diskfull.sh - the EVE file and the TAXII spool on a full disk.
#
# Each output writes to its own 64 KiB tmpfs, filled up but for a few KiB
# by a filler file. The sensor reads a generated capture from a FIFO: a
# first part while the disk is full, then (once the filler is gone and the
# retry interval has passed) the rest, so the output recovers while the
# sensor runs. One rule (-S) makes every packet an alert, with dedup off,
# so the number of alerts is exactly known. Checked:
#   - the degraded state is logged once, with the path and the reason;
#   - records were held in memory and, the backlog being small, dropped,
#     and both are counted (stats output.eve, stderr);
#   - writing resumed, and the sensor kept running;
#   - no torn record: every EVE line is one JSON object, and the spool
#     reopens without a torn tail;
#   - persisted + counted as lost = what a clean run gives (alerts for EVE,
#     shared bundles for TAXII);
#   - lost output still ends the run with status 1 ("output is incomplete").
# The TAXII server (tests/taxii_server.py) listens on 127.0.0.1 only.
#
# Needs root (mount) and python3; skips otherwise.
. "$(dirname "$0")/lib.sh"

PARTS_EVE="120 40"      # packets before and after the space comes back
PARTS_TAXII="16 8"
RULE_SID=9299001

if [ "$(id -u)" -ne 0 ]; then
    skip diskfull "needs root to mount a tmpfs"
    report
    exit
fi
if ! command -v python3 >/dev/null; then
    skip diskfull "needs python3"
    report
    exit
fi
MNT_EVE=$TMP/eve-fs
MNT_SPOOL=$TMP/spool-fs
mkdir -p "$MNT_EVE" "$MNT_SPOOL"
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    [ -n "$VPID" ] && kill "$VPID" 2>/dev/null
    umount "$MNT_EVE" 2>/dev/null
    umount "$MNT_SPOOL" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
if ! mount -t tmpfs -o size=64k,mode=0700 vigil-diskfull "$MNT_EVE" 2>"$TMP/mount.err" ||
    ! mount -t tmpfs -o size=64k,mode=0700 vigil-diskfull "$MNT_SPOOL" 2>>"$TMP/mount.err"; then
    skip diskfull "cannot mount a tmpfs: $(head -c 200 "$TMP/mount.err")"
    report
    exit
fi

# --- input: UDP packets, each one an alert of the rule below --------------
cat >"$TMP/gen.py" <<'EOF'
# gen.py FIRST END [header]: pcap records for packets FIRST..END-1 (1 ms apart)
import struct, sys
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
out = sys.stdout.buffer
first, end = int(sys.argv[1]), int(sys.argv[2])
if len(sys.argv) > 3:
    out.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
for i in range(first, end):
    payload = b'VIGILDF packet %06d ' % i + b'x' * 40
    src = bytes([198, 19, (i >> 8) & 255, i & 255])
    udp = struct.pack('!HHHH', 40000 + i % 1000, 9999, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                     src, bytes([198, 18, 0, 2]))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    frame = b'\x02' * 6 + b'\x04' * 6 + b'\x08\x00' + ip + udp
    t = 1700000000 * 1000000 + i * 1000
    out.write(struct.pack('<IIII', t // 1000000, t % 1000000, len(frame), len(frame)) + frame)
EOF
echo "alert udp any any -> any any (msg:\"VIGIL TEST disk full marker\"; content:\"VIGILDF\";" \
    "classtype:bad-unknown; sid:$RULE_SID; rev:1;)" >"$TMP/df.rules"
SETS="--set vigil.alert_dedup_sec=0 --set sharing.home_net=keep"

# Fill a mount but for KB KiB.
fill() { # mount kb
    dd if=/dev/zero of="$1/filler" bs=1024 count=64 2>/dev/null
    size=$(wc -c <"$1/filler")
    truncate -s $((size - $2 * 1024)) "$1/filler"
}

# Feed the FIFO: part 1, free the space (and run HOOK), wait out the retry
# interval, part 2. Sets FED_AT (seconds the space came back after start).
feed() { # fifo first second hook
    exec 3<>"$1"    # read-write: does not block, even if the sensor never opens it
    python3 "$TMP/gen.py" 0 "$2" header >&3
    sleep 1
    rm -f "$MNT_EVE/filler" "$MNT_SPOOL/filler"
    $4
    sleep 1.2
    python3 "$TMP/gen.py" "$2" $(($2 + $3)) >&3
    exec 3>&-
}

# Wait for the sensor (at most 40 s); sets RC (124 when it had to be stopped).
wait_sensor() {
    n=0
    while kill -0 "$VPID" 2>/dev/null && [ $n -lt 400 ]; do sleep 0.1; n=$((n + 1)); done
    late=0
    kill "$VPID" 2>/dev/null && late=1
    wait "$VPID"
    RC=$?
    [ $late -eq 1 ] && RC=124
    VPID=
}

# Every line of an EVE file is one JSON object, and it ends in a newline:
# prints the number of alerts, or fails.
eve_whole() {
    python3 - "$1" <<'PY'
import json, sys
data = open(sys.argv[1], 'rb').read()
if data and not data.endswith(b'\n'):
    sys.exit("the file ends in half a line")
alerts = 0
for n, line in enumerate(data.split(b'\n')[:-1], 1):
    try:
        ev = json.loads(line)
    except ValueError as e:
        sys.exit("line %d is not JSON: %s" % (n, e))
    if not isinstance(ev, dict):
        sys.exit("line %d is not an object" % n)
    alerts += ev.get("event_type") == "alert"
print(alerts)
PY
}

# --- EVE -------------------------------------------------------------------
case_eve() {
    set -- $PARTS_EVE
    total=$(($1 + $2))
    python3 "$TMP/gen.py" 0 $total header >"$TMP/all.pcap"
    # shellcheck disable=SC2086
    "$VIGIL" -q -r "$TMP/all.pcap" -S "$TMP/df.rules" $SETS --eve "$TMP/clean.json" \
        2>"$TMP/clean.err"
    expected=$(grep -c '"event_type":"alert"' "$TMP/clean.json")
    if [ "$expected" -ne "$total" ]; then
        fail eve-clean-run "a clean run gave $expected alerts for $total packets"
        return
    fi
    fill "$MNT_EVE" 8
    mkfifo "$TMP/eve.fifo"
    # A 16 KiB backlog holds about 30 records: the rest of part 1 is dropped.
    # shellcheck disable=SC2086
    "$VIGIL" -q -r "$TMP/eve.fifo" -S "$TMP/df.rules" $SETS --set vigil.eve_backlog_kb=16 \
        --eve "$MNT_EVE/eve.json" 2>"$TMP/eve.err" &
    VPID=$!
    start=$(date +%s)
    feed "$TMP/eve.fifo" "$1" "$2" :
    wait_sensor
    rc=$RC
    secs=$(($(date +%s) - start))
    if ! clean_run "$TMP/eve.err" "$rc"; then
        fail eve-no-crash "exit $rc: $(head -c 600 "$TMP/eve.err")"
        return
    fi
    pass "eve-no-crash (${secs}s)"
    path="$MNT_EVE/eve.json"
    n=$(grep -c "EVE output $path: cannot write: No space left on device" "$TMP/eve.err")
    check_eq eve-degraded-logged-once 1 "$n" "$(head -c 400 "$TMP/eve.err")"
    if persisted=$(eve_whole "$path" 2>"$TMP/eve.whole"); then
        pass "eve-no-torn-record ($(grep -c . "$path") lines)"
    else
        fail eve-no-torn-record "$(cat "$TMP/eve.whole")"
        return
    fi
    resumed=$(grep "EVE output $path: writing again after" "$TMP/eve.err")
    if [ -n "$resumed" ]; then
        pass "eve-writing-resumed (${resumed#*: writing again })"
    else
        fail eve-writing-resumed "$(head -c 600 "$TMP/eve.err")"
    fi
    # The last packet's alert is in the file: the sensor kept going.
    last=$(($1 + $2 - 1))
    if grep -q "\"src_ip\":\"198.19.$((last >> 8)).$((last & 255))\"" "$path"; then
        pass eve-kept-running
    else
        fail eve-kept-running "no alert for the last packet"
    fi
    set -- $(stat_of "$path" output.eve.records_delayed) \
        $(stat_of "$path" output.eve.records_dropped) \
        $(stat_of "$path" output.eve.alerts_dropped) \
        $(stat_of "$path" output.eve.write_errors) \
        $(stat_of "$path" output.eve.records_held) \
        $(stat_of "$path" output.eve.degraded)
    echo "INFO eve: 64 KiB tmpfs with 8 KiB free, 16 KiB backlog, $total alerts expected;" \
        "persisted $persisted, delayed $1, dropped $2 ($3 alerts), write errors $4;" \
        "held at the end $5, degraded $6"
    if [ "$1" -gt 0 ] && [ "$2" -gt 0 ] && [ "$4" -gt 0 ] && [ "$5" -eq 0 ] && [ "$6" -eq 0 ]; then
        pass "eve-held-and-dropped-counted (delayed $1, dropped $2)"
    else
        fail eve-held-and-dropped-counted "delayed $1 dropped $2 errors $4 held $5 degraded $6"
    fi
    lost=$(sed -n "s|.*EVE output $path: \([0-9]*\) records lost this run (\([0-9]*\) alerts.*|\2|p" \
        "$TMP/eve.err")
    check_eq eve-stats-agree-with-summary "${lost:-none}" "$3" "stats say $3 alerts dropped"
    check_eq eve-persisted-plus-dropped-is-clean "$expected" $((persisted + ${lost:-0})) \
        "persisted $persisted + dropped ${lost:-?} != clean $expected"
    if [ "$rc" -eq 1 ] && grep -q "writing failed for eve (.*); output is incomplete" "$TMP/eve.err"; then
        pass eve-lost-output-exit-1
    else
        fail eve-lost-output-exit-1 "exit $rc"
    fi
}

check_eq() { # name expected got why
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected $2, got $3: $4"; fi
}

# --- TAXII spool -----------------------------------------------------------
SERVER="$ROOT/tests/taxii_server.py"
COLL=91a7b528-80eb-42ed-a74d-c6fbd5a26116

start_server() {
    rm -f "$TMP/taxii.port"
    python3 "$SERVER" serve --port "${PORT:-0}" --port-file "$TMP/taxii.port" \
        --store "$TMP/taxii.store" 2>>"$TMP/taxii.server.log" 3>&- &
    SPID=$!
    n=0
    while [ ! -s "$TMP/taxii.port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    PORT=$(cat "$TMP/taxii.port" 2>/dev/null)
}

stop_server() {
    kill "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=
}

# Shared bundles (one per line of the stix file) that arrived whole at the
# server, and those that did not: "arrived missing".
bundles_arrived() { # stix store
    python3 - "$1" "$2" <<'PY'
import json, sys
have = set()
for line in open(sys.argv[2]):
    if line.strip():
        have.add(json.loads(line)["id"])
ok = bad = 0
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    ids = [o["id"] for o in json.loads(line)["objects"]]
    if all(i in have for i in ids):
        ok += 1
    else:
        bad += 1
print(ok, bad)
PY
}

case_taxii() {
    if [ ! -f "$SERVER" ]; then
        skip taxii-spool "no $SERVER"
        return
    fi
    set -- $PARTS_TAXII
    total=$(($1 + $2))
    PORT=
    start_server            # learn a free port; the server is down at first
    stop_server
    URL="http://127.0.0.1:$PORT/api1/collections/$COLL/"
    fill "$MNT_SPOOL" 8
    mkfifo "$TMP/taxii.fifo"
    # A 12 KiB queue holds about 4 records (3 KiB each) besides the 2 on disk.
    # shellcheck disable=SC2086
    "$VIGIL" -q -r "$TMP/taxii.fifo" -S "$TMP/df.rules" $SETS --eve "$TMP/taxii.eve" \
        --stix "$TMP/taxii.stix" --taxii "$URL" --set "taxii.spool_dir=$MNT_SPOOL/spool" \
        --set taxii.spool_backlog_kb=12 --set taxii.retry_min_ms=100 \
        --set taxii.retry_max_sec=1 --set taxii.sync_ms=100 --set taxii.drain_sec=20 \
        2>"$TMP/taxii.err" &
    VPID=$!
    feed "$TMP/taxii.fifo" "$1" "$2" start_server
    wait_sensor
    rc=$RC
    stop_server
    if ! clean_run "$TMP/taxii.err" "$rc"; then
        fail taxii-no-crash "exit $rc: $(head -c 600 "$TMP/taxii.err")"
        return
    fi
    spool="$MNT_SPOOL/spool"
    n=$(grep -c "taxii spool $spool: cannot write: No space left on device" "$TMP/taxii.err")
    check_eq taxii-degraded-logged-once 1 "$n" "$(head -c 400 "$TMP/taxii.err")"
    resumed=$(grep "taxii spool $spool: writing again after" "$TMP/taxii.err")
    if [ -n "$resumed" ]; then
        pass "taxii-writing-resumed (${resumed#*: writing again })"
    else
        fail taxii-writing-resumed "$(head -c 600 "$TMP/taxii.err")"
    fi
    shared=$(grep -c . "$TMP/taxii.stix")
    lost=$(sed -n 's|.*taxii .*: \([0-9]*\) records lost (0 dropped by the spool cap, \([0-9]*\) unwritable).*|\2|p' \
        "$TMP/taxii.err")
    set -- $(bundles_arrived "$TMP/taxii.stix" "$TMP/taxii.store")
    echo "INFO taxii: 64 KiB tmpfs with 8 KiB free, 12 KiB queue, server down until the" \
        "space came back; $shared bundles shared, $1 delivered whole, $2 not, ${lost:-0}" \
        "counted as unwritable"
    if [ "$shared" -ne "$total" ]; then
        fail taxii-all-shared "$shared bundles for $total alerts"
    fi
    if [ "${lost:-0}" -gt 0 ] && [ "$2" -eq "$lost" ] && [ $(($1 + lost)) -eq "$shared" ]; then
        pass "taxii-delivered-plus-lost-is-shared ($1 + $lost = $shared)"
    else
        fail taxii-delivered-plus-lost-is-shared "delivered $1, missing $2, counted ${lost:-none}," \
            "shared $shared"
    fi
    # The end names the output that lost records: taxii, not the EVE file.
    if [ "$rc" -eq 1 ] && grep -q "writing failed for taxii; output is incomplete" "$TMP/taxii.err"; then
        pass taxii-lost-output-exit-1
    else
        fail taxii-lost-output-exit-1 "exit $rc: $(grep incomplete "$TMP/taxii.err")"
    fi
    # Nothing torn was left: the spool reopens without a warning and empty.
    "$VIGIL" -q -r "$PCAPS/benign.pcap" --eve /dev/null --taxii "$URL" \
        --set "taxii.spool_dir=$spool" --set taxii.drain_sec=0 >/dev/null 2>"$TMP/reopen.err"
    if grep -q -e 'torn record' -e 'damaged' -e 'resuming' "$TMP/reopen.err"; then
        fail taxii-no-torn-record "$(head -c 400 "$TMP/reopen.err")"
    else
        pass taxii-no-torn-record
    fi
}

case_eve
case_taxii
report
