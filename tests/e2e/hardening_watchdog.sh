#!/bin/sh
# hardening_watchdog.sh - the plugin call budget ([vigil] plugin_budget_ms,
# docs/reliability.md §5): a detector that spins on one packet is stopped
# within its budget, named with the packet in an alert and on stderr, the
# packet is dumped, and the sensor carries on without it (plugin_overrun =
# disable) or finishes cleanly with status 3 (exit).
#
# The captures are built here (python3): a marker the test plugin alerts on
# (tests/plugins/spin.c), a SYN scan, the trigger packet, a second scan, a
# second marker. The sensor runs the spin plugin and the bundled portscan.
# A budget of 0 must change nothing: pcaps/ gives byte-identical EVE
# output with and without the watchdog.
#
#   VIGIL_WATCHDOG_BUDGET_MS   the budget the spin runs use (default 200)
. "$(dirname "$0")/lib.sh"

BUDGET=${VIGIL_WATCHDOG_BUDGET_MS:-200}
SPIN_MS=2000                    # how long the plugin would spin unchecked
SPIN=$BUILD/tests/plugins/spin.so
PORTSCAN=$BUILD/plugins/portscan.so
for f in "$SPIN" "$PORTSCAN"; do
    if [ ! -f "$f" ]; then
        skip hardening-watchdog "needs $f (make all $f)"
        report
        exit
    fi
done
if ! command -v python3 >/dev/null 2>&1; then
    skip hardening-watchdog "needs python3"
    report
    exit
fi

mkdir -m 0755 "$TMP/plugins"
cp "$SPIN" "$PORTSCAN" "$TMP/plugins/"
chmod 0755 "$TMP/plugins"/*.so
# The disabled plugin's memory is abandoned on purpose (docs/plugins.md):
# LeakSanitizer may say so for the spin plugin, and only for it.
cat "$ROOT/tests/lsan.supp" - >"$TMP/lsan.supp" <<'EOF'
leak:spin_init
leak:spin_packet
leak:spin_services
EOF

# gen.py OUT TRIGGER [late]: the test capture (Ethernet, IPv4). With "late",
# one more packet 200 s later expires the trigger's flow.
cat >"$TMP/gen.py" <<'PY'
import struct, sys

def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def frame(src, dst, proto, l4):
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0,
                     bytes(map(int, src.split('.'))), bytes(map(int, dst.split('.'))))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return b'\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00' + ip + l4

def udp(src, dst, sp, dp, data):
    return frame(src, dst, 17, struct.pack('!HHHH', sp, dp, 8 + len(data), 0) + data)

def syn(src, dst, sp, dp):
    return frame(src, dst, 6, struct.pack('!HHIIBBHHH', sp, dp, 1000, 0, 0x50, 0x02, 1024, 0, 0))

T0 = 1700000000
out, trigger = sys.argv[1], sys.argv[2].encode()
pkts = [(T0 + 0.1, udp('198.19.0.5', '198.18.0.9', 5000, 9, b'MARK one'))]
pkts += [(T0 + 0.2 + i / 100, syn('198.19.0.10', '198.18.0.20', 40000, 1 + i)) for i in range(40)]
pkts.append((T0 + 2.0, udp('198.19.0.66', '198.18.0.77', 6666, 7777, trigger + b' now')))
pkts += [(T0 + 3.0 + i / 100, syn('198.19.0.11', '198.18.0.21', 40001, 1 + i)) for i in range(40)]
pkts.append((T0 + 4.0, udp('198.19.0.5', '198.18.0.9', 5000, 9, b'MARK two')))
if len(sys.argv) > 3:
    pkts.append((T0 + 200.0, udp('198.19.0.5', '198.18.0.9', 5000, 9, b'late')))
with open(out, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for ts, b in pkts:
        f.write(struct.pack('<IIII', int(ts), round((ts - int(ts)) * 1e6), len(b), len(b)) + b)
PY

# check.py EVE INPUT DUMP PACKET_NO: what a disabled run must show. Prints
# "ok ran_ms" or the first problem.
cat >"$TMP/check.py" <<'PY'
import json, struct, sys, time

eve, pcap, dump, number = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
budget = int(sys.argv[5])

def records(path):
    with open(path, 'rb') as f:
        data = f.read()
    off, out = 24, []
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack('<IIII', data[off:off + 16])
        out.append((sec, usec, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out

def bad(why):
    print(why)
    sys.exit(0)

events = []
for i, line in enumerate(open(eve, 'rb'), 1):
    try:
        events.append(json.loads(line))
    except ValueError:
        bad('line %d is not JSON' % i)
alerts = [e for e in events if e.get('event_type') == 'alert']
wd = [a for a in alerts if a['alert']['signature_id'] == 9000001]
if len(wd) != 1:
    bad('%d watchdog alerts' % len(wd))
a = wd[0]
md = a['alert']['metadata']
want = {'detector': ['vigil'], 'plugin': ['spin'], 'budget_ms': [str(budget)],
        'packet': [str(number)]}
for k, v in want.items():
    if md.get(k) != v:
        bad('metadata %s = %s, want %s' % (k, md.get(k), v))
if 'detector spin disabled' not in a['alert']['signature'] or \
        ('%d ms' % budget) not in a['alert']['signature']:
    bad('signature: ' + a['alert']['signature'])
trigger = records(pcap)[number - 1]
ts = time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(trigger[0])) + '.%06d+0000' % trigger[1]
if a['timestamp'] != ts:
    bad('timestamp %s, want %s' % (a['timestamp'], ts))
if 'flow_id' not in a or 'community_id' not in a:
    bad('no flow_id or community_id')
got = records(dump)
if len(got) != 1 or got[0] != trigger:
    bad('dump holds %d packets, not just packet %d' % (len(got), number))
# The plugin is called no more: nothing of spin after the trigger (the
# second marker, its on_finish report).
after = [x for x in alerts if x['alert']['metadata']['detector'] == ['spin'] and
         x['timestamp'] > a['timestamp']]
if after:
    bad('spin alerted after it was disabled: ' + after[0]['alert']['signature'])
# The other detector still sees what came after (the second scan).
if not any(x['alert']['metadata']['detector'] == ['portscan'] and
           x.get('src_ip') == '198.19.0.11' for x in alerts):
    bad('no portscan alert for the scan after the trigger')
stats = [e for e in events if e.get('event_type') == 'stats'][-1]['stats']['detect']
if stats['plugins_disabled'] != 1 or stats['by_detector'].get('vigil') != 1:
    bad('stats: ' + json.dumps(stats))
print('ok', md['ran_ms'][0])
PY

now_ms() { python3 -c 'import time; print(int(time.monotonic() * 1000))'; }

# run NAME PCAP [SETTINGS...]: replay with the spin and portscan plugins into
# $TMP/NAME/; sets RC and MS (wall time of the run).
run() {
    name=$1 pcap=$2
    shift 2
    mkdir -p "$TMP/$name"
    t0=$(now_ms)
    LSAN_OPTIONS="suppressions=$TMP/lsan.supp" "$VIGIL" -q -P "$TMP/plugins" -r "$pcap" \
        -l "$TMP/$name" --set "spin.spin_ms=$SPIN_MS" "$@" 2>"$TMP/$name.err"
    RC=$?
    MS=$(($(now_ms) - t0))
}

for w in SPINLOOP SPINALERT SPINSLEEP QUIET; do
    python3 "$TMP/gen.py" "$TMP/$w.pcap" "$w"
done
python3 "$TMP/gen.py" "$TMP/late.pcap" SPINFREE late

# The same capture without a trigger: the time a run takes anyway.
run quiet "$TMP/QUIET.pcap" --set "vigil.plugin_budget_ms=$BUDGET"
BASE_MS=$MS
if [ "$RC" -eq 0 ] && clean_run "$TMP/quiet.err" "$RC" &&
        [ "$(stat_of "$TMP/quiet/eve.json" detect.plugins_disabled)" = 0 ]; then
    pass watchdog-quiet-run
else
    fail watchdog-quiet-run "exit $RC: $(head -c 300 "$TMP/quiet.err")"
fi

# --- plugin_overrun = disable: a busy loop, then a loop of host services ---
for w in SPINLOOP SPINALERT; do
    n=disable-$(echo "$w" | tr 'A-Z' 'a-z')
    run "$n" "$TMP/$w.pcap" --set "vigil.plugin_budget_ms=$BUDGET"
    if [ "$RC" -ne 0 ] || ! clean_run "$TMP/$n.err" "$RC"; then
        fail "$n" "exit $RC: $(head -c 400 "$TMP/$n.err")"
        continue
    fi
    res=$(python3 "$TMP/check.py" "$TMP/$n/eve.json" "$TMP/$w.pcap" "$TMP/$n/watchdog.pcap" \
        42 "$BUDGET")
    case $res in
    ok*) pass "$n-alert-dump-and-after" ;;
    *) fail "$n-alert-dump-and-after" "$res" ;;
    esac
    ran=${res#ok }
    extra=$((MS - BASE_MS))
    echo "INFO $n: stopped after ${ran} ms by the watchdog's clock (budget $BUDGET ms);" \
        "the run took $MS ms, $extra ms more than without the trigger (unchecked: $SPIN_MS ms)"
    # Within the budget plus one look (budget/8) and a margin for a loaded machine.
    if [ "${ran:-99999}" -ge "$BUDGET" ] && [ "${ran:-99999}" -le $((BUDGET * 3 / 2)) ] &&
            [ "$extra" -lt $((BUDGET * 3 / 2 + 300)) ]; then
        pass "$n-within-budget"
    else
        fail "$n-within-budget" "ran ${ran} ms, run $extra ms longer than without the trigger"
    fi
    line=$(grep 'watchdog: detector spin disabled' "$TMP/$n.err")
    if [ "$(grep -c 'watchdog:' "$TMP/$n.err")" = 1 ] &&
            echo "$line" | grep -q "on_packet call ran .* budget of $BUDGET ms, on packet 42 at 2023-11-14T22:13:22.000000+0000, 198.19.0.66:6666 -> 198.18.0.77:7777, flow [0-9]*; packet written to $TMP/$n/watchdog.pcap"; then
        pass "$n-stderr-line"
    else
        fail "$n-stderr-line" "$(cat "$TMP/$n.err")"
    fi
done

# --- a flow_free that spins when the flow expires (no plugin event) -------
run expiry "$TMP/late.pcap" --set "vigil.plugin_budget_ms=$BUDGET"
if [ "$RC" -eq 0 ] && clean_run "$TMP/expiry.err" "$RC" &&
        grep -q 'its flow_free call ran .* on packet 84 at 2023-11-14T22:16:40' "$TMP/expiry.err" &&
        [ "$(tcpdump -nr "$TMP/expiry/watchdog.pcap" 2>/dev/null | grep -c 'UDP, length 4')" = 1 ]; then
    pass expiry-flow-free-disabled
else
    fail expiry-flow-free-disabled "exit $RC: $(head -c 400 "$TMP/expiry.err")"
fi

# --- plugin_overrun = exit: clean finish, status 3 -------------------------
run exit "$TMP/SPINLOOP.pcap" --set "vigil.plugin_budget_ms=$BUDGET" --set vigil.plugin_overrun=exit
eve=$TMP/exit/eve.json
if [ "$RC" -eq 3 ] && clean_run "$TMP/exit.err" "$RC" && [ -s "$eve" ] &&
        python3 - "$eve" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1], 'rb')]
last = ev[-1]
assert last['event_type'] == 'stats', 'flushed: the final stats event is last'
assert last['stats']['capture']['packets'] == 42, 'stopped at the trigger'
assert last['stats']['detect']['plugins_disabled'] == 1
assert [e['alert']['signature_id'] for e in ev if e['event_type'] == 'alert'].count(9000001) == 1
assert not any(e.get('src_ip') == '198.19.0.11' for e in ev), 'nothing after the trigger'
PY
then
    pass exit-policy-status-3-flushed
else
    fail exit-policy-status-3-flushed "exit $RC: $(head -c 400 "$TMP/exit.err")"
fi
if [ -f "$TMP/exit/watchdog.pcap" ] && grep -q 'stopping (plugin_overrun = exit)' "$TMP/exit.err"; then
    pass exit-policy-dump
else
    fail exit-policy-dump "no dump or no stderr line"
fi

# --- blocked in the kernel: cannot be interrupted, status 4 ---------------
run stuck "$TMP/SPINSLEEP.pcap" --set "vigil.plugin_budget_ms=$BUDGET"
echo "INFO stuck: the run ended after $MS ms with status $RC (budget $BUDGET ms)"
if [ "$RC" -eq 4 ] && [ "$MS" -lt $((BASE_MS + BUDGET * 3 + 500)) ] &&
        grep -q 'watchdog: detector spin: one call has run for .* cannot be interrupted' \
            "$TMP/stuck.err" &&
        python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1],"rb")]' \
            "$TMP/stuck/eve.json"; then
    pass stuck-status-4
else
    fail stuck-status-4 "exit $RC after $MS ms: $(head -c 400 "$TMP/stuck.err")"
fi

# --- a budget of 0 changes nothing ------------------------------------------
same=0 total=0
for pcap in "$PCAPS"/*.pcap; do
    [ -f "$pcap" ] || continue
    total=$((total + 1))
    "$VIGIL" -q -r "$pcap" --eve "$TMP/off.json" --set vigil.plugin_budget_ms=0 2>/dev/null
    "$VIGIL" -q -r "$pcap" --eve "$TMP/on.json" 2>/dev/null
    cmp -s "$TMP/off.json" "$TMP/on.json" && same=$((same + 1))
    rm -f "$TMP/off.json" "$TMP/on.json"
done
if [ "$total" -gt 0 ] && [ "$same" -eq "$total" ]; then
    pass "budget-0-identical ($total captures)"
else
    fail budget-0-identical "$same of $total captures give the same EVE output"
fi

report
