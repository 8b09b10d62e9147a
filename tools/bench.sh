#!/bin/sh
# bench.sh - Vigil throughput and memory against bare libpcap and bare libnids.
#
#   make bench                      (builds everything, then runs this)
#   sh tools/bench.sh               (from the checkout, after make all + tools)
#
# Generates the benchmark capture (tools/gen_bench.c) into a temporary
# directory, warms the page cache, then times four readers over the same
# file, best of RUNS by wall time:
#   bare_pcap           libpcap read loop, touches the bytes
#   bare_nids           libpcap loop + libnids reassembly, touches every byte
#   vigil-no-detectors  ./vigil with an empty plugin directory
#   vigil-all           ./vigil with every default plugin
#   vigil-sig-0         ./vigil with every plugin, signature given an empty rule file
#   vigil-sig-5000      the same with 5,000 generated rules (tools/gen_rules.py 5000)
#   only-NAME           with VIGIL_BENCH_PER_PLUGIN=1: each detector alone
# and prints a table plus PASS/FAIL against the performance targets. It
# reports; it does not gate: the exit status is 0 unless something could
# not run at all.
#
# Environment: VIGIL_BUILD (default build), VIGIL_BENCH_SCALE (default 1,
# about 330 MB of wire bytes), VIGIL_BENCH_RUNS (default 3),
# VIGIL_BENCH_STREAMS (bare_nids n_tcp_streams, default 262144).
set -eu

cd "$(dirname "$0")/.."
BUILD=${VIGIL_BUILD:-build}
SCALE=${VIGIL_BENCH_SCALE:-1}
RUNS=${VIGIL_BENCH_RUNS:-3}
STREAMS=${VIGIL_BENCH_STREAMS:-262144}
VIGIL=./vigil
[ -x "$VIGIL" ] || VIGIL=$BUILD/vigil

for t in gen_bench bare_pcap bare_nids; do
    if [ ! -x "$BUILD/tools/$t" ]; then
        echo "bench: $BUILD/tools/$t is missing; run 'make $BUILD/tools/$t'" >&2
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vigil-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
mkdir "$tmp/no-plugins"
pcap=$tmp/bench.pcap
results=$tmp/results
: > "$results"

if [ -x /usr/bin/time ]; then
    have_time=1
else
    have_time=0
    echo "bench: /usr/bin/time not found (Debian package 'time'); peak RSS is n/a" >&2
fi

now() { date +%s.%N; }

echo "bench: generating the capture (scale $SCALE)..."
"$BUILD/tools/gen_bench" "$pcap" "$SCALE"
cat "$pcap" > /dev/null
cat "$pcap" > /dev/null

# measure NAME EVE_FILE_OR_- CMD...: best wall time and peak RSS over RUNS.
# Appends "NAME SECONDS RSS_KB STATUS EVICTED" to $results.
measure() {
    name=$1
    eve=$2
    shift 2
    best=""
    rss_max=0
    status=ok
    evicted=n/a
    i=0
    while [ "$i" -lt "$RUNS" ]; do
        i=$((i + 1))
        [ "$eve" = - ] || rm -f "$eve"
        # Wall time from the clock (ms resolution; time(1) %e has only 10 ms),
        # peak RSS from time(1) %M.
        t0=$(now)
        if [ "$have_time" = 1 ]; then
            /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" ||
                status=failed
        else
            "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" || status=failed
        fi
        t1=$(now)
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        rss=0
        [ "$have_time" = 0 ] || rss=$(tail -n 1 "$tmp/time" | cut -d' ' -f2)
        if [ "$status" = failed ]; then
            echo "bench: $name failed:" >&2
            sed 's/^/    /' "$tmp/$name.err" | tail -n 5 >&2
            break
        fi
        if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then
            best=$secs
        fi
        if [ "$rss" -gt "$rss_max" ]; then rss_max=$rss; fi
        if [ "$eve" != - ]; then
            evicted=$(grep '"event_type" *: *"stats"' "$eve" 2>/dev/null | tail -n 1 |
                sed -n 's/.*"streams_evicted" *: *\([0-9][0-9]*\).*/\1/p')
            [ -n "$evicted" ] || evicted=n/a
        fi
        printf '  %-20s run %d: %ss\n' "$name" "$i" "$secs"
    done
    [ -n "$best" ] || best=0
    echo "$name $best $rss_max $status $evicted" >> "$results"
}

echo "bench: $RUNS runs each, best wall time"
measure bare_pcap - "$BUILD/tools/bare_pcap" "$pcap"
line=$(cat "$tmp/bare_pcap.out")
packets=$(echo "$line" | sed -n 's/.*packets=\([0-9]*\).*/\1/p')
bytes=$(echo "$line" | sed -n 's/.*bytes=\([0-9]*\).*/\1/p')
measure bare_nids - "$BUILD/tools/bare_nids" "$pcap" "$STREAMS"
nids_line=$(cat "$tmp/bare_nids.out")

if [ -x "$VIGIL" ]; then
    measure vigil-no-detectors "$tmp/eve-none.json" \
        "$VIGIL" -r "$pcap" -P "$tmp/no-plugins" --eve "$tmp/eve-none.json" -q
    measure vigil-all "$tmp/eve-all.json" "$VIGIL" -r "$pcap" --eve "$tmp/eve-all.json" -q
    alerts=$(grep -c '"event_type" *: *"alert"' "$tmp/eve-all.json" 2>/dev/null || true)
    # What each detector costs alone (VIGIL_BENCH_PER_PLUGIN=1): the plugin
    # directory holds only that one.
    if [ "${VIGIL_BENCH_PER_PLUGIN:-0}" = 1 ]; then
        for so in "$BUILD"/plugins/*.so; do
            p=$(basename "$so" .so)
            mkdir -p "$tmp/only-$p"
            cp "$so" "$tmp/only-$p/"
            measure "only-$p" "$tmp/eve-$p.json" \
                "$VIGIL" -r "$pcap" -P "$tmp/only-$p" --eve "$tmp/eve-$p.json" -q
        done
    fi
    # The signature detector: no rules against 5,000 generated rules.
    if command -v python3 > /dev/null 2>&1; then
        : > "$tmp/empty.rules"
        python3 tools/gen_rules.py 5000 > "$tmp/gen5000.rules"
        measure vigil-sig-0 "$tmp/eve-sig0.json" \
            "$VIGIL" -r "$pcap" -S "$tmp/empty.rules" --eve "$tmp/eve-sig0.json" -q
        measure vigil-sig-5000 "$tmp/eve-sig5000.json" \
            "$VIGIL" -r "$pcap" -S "$tmp/gen5000.rules" --eve "$tmp/eve-sig5000.json" -q
        # load time: -T loads the plugins (and compiles the rules), then exits
        t0=$(now); "$VIGIL" -T -S "$tmp/empty.rules" > /dev/null 2>&1 || true; t1=$(now)
        t2=$(now); "$VIGIL" -T -S "$tmp/gen5000.rules" > /dev/null 2>&1 || true; t3=$(now)
        sig_load=$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" \
            'BEGIN { printf "%.3f", (d - c) - (b - a) }')
    else
        echo "bench: python3 not found; signature rule runs skipped" >&2
    fi
else
    echo "bench: $VIGIL not built; measuring the bare loops only" >&2
    alerts=n/a
fi

echo
echo "capture: $packets packets, $bytes wire bytes ($(du -m "$pcap" | cut -f1) MiB file)"
echo "bare_nids: $nids_line"
[ "$alerts" = n/a ] || echo "vigil-all: $alerts alerts"
[ -z "${sig_load:-}" ] || echo "signature: 5,000 generated rules load in ${sig_load}s more than none"
echo
awk -v bytes="$bytes" -v packets="$packets" -v have_time="$have_time" -v sig_load="${sig_load:-0}" '
{ name[NR] = $1; secs[$1] = $2; rss[$1] = $3; st[$1] = $4; ev[$1] = $5; n = NR }
function ratio(a, b) { return (secs[a] > 0 && secs[b] > 0) ? sprintf("%.2f", secs[b] / secs[a]) : "n/a" }
END {
    printf "%-20s %8s %8s %10s %9s %9s %9s\n", "reader", "seconds", "Gbit/s", "packets/s", "RSS MiB", "x pcap", "x nids"
    for (i = 1; i <= n; i++) {
        k = name[i]
        if (st[k] != "ok") { printf "%-20s %8s\n", k, "FAILED"; continue }
        gbps = secs[k] > 0 ? sprintf("%.2f", bytes * 8 / secs[k] / 1e9) : "n/a"
        pps = secs[k] > 0 ? sprintf("%.0f", packets / secs[k]) : "n/a"
        r = have_time == 1 ? sprintf("%.1f", rss[k] / 1024) : "n/a"
        printf "%-20s %8.3f %8s %10s %9s %9s %9s\n", k, secs[k], gbps, pps, r, ratio(k, "bare_pcap"), ratio(k, "bare_nids")
    }
    print ""
    print "ratios are throughput relative to the bare loop (bare time / reader time)"
    print ""
    print "targets:"
    verdict("vigil-no-detectors >= 0.90 x bare_nids", ok_ratio("vigil-no-detectors", 0.90))
    verdict("vigil-all          >= 0.60 x bare_nids", ok_ratio("vigil-all", 0.60))
    if ("vigil-sig-5000" in secs) {
        r = (secs["vigil-sig-0"] > 0 && secs["vigil-sig-5000"] > 0) ? sprintf("%.2f", secs["vigil-sig-0"] / secs["vigil-sig-5000"]) : "n/a"
        t = secs["vigil-sig-5000"] - sig_load
        r2 = (secs["vigil-sig-0"] > 0 && t > 0) ? sprintf("%.2f", secs["vigil-sig-0"] / t) : "n/a"
        verdict("vigil-sig-5000     >= 0.67 x vigil-sig-0 (" r "; " r2 " without the rule load time)", r == "n/a" ? "n/a" : (r + 0 >= 0.67 ? "PASS" : "FAIL"))
    }
    if (have_time != 1) verdict("peak RSS <= 128 MiB", "n/a")
    else verdict("peak RSS <= 128 MiB (" rssdesc() ")", ok_rss())
    verdict("streams lost = 0 (streams_evicted: " evdesc() ")", ok_ev())
}
function ok_ratio(k, min) {
    if (!(k in secs) || st[k] != "ok" || secs[k] <= 0 || secs["bare_nids"] <= 0) return "n/a"
    return (secs["bare_nids"] / secs[k] >= min) ? "PASS" : "FAIL"
}
function rssdesc(  s, k) {
    s = ""
    for (k in rss) if (k ~ /^vigil/ && st[k] == "ok") s = s (s == "" ? "" : ", ") k " " sprintf("%.1f", rss[k] / 1024)
    return s == "" ? "no vigil run" : s
}
function ok_rss(  k, seen) {
    seen = 0
    for (k in rss) if (k ~ /^vigil/ && st[k] == "ok") { seen = 1; if (rss[k] > 128 * 1024) return "FAIL" }
    return seen ? "PASS" : "n/a"
}
function evdesc(  s, k) {
    s = ""
    for (k in ev) if (k ~ /^vigil/) s = s (s == "" ? "" : ", ") k " " ev[k]
    return s == "" ? "no vigil run" : s
}
function ok_ev(  k, seen) {
    seen = 0
    for (k in ev) if (k ~ /^vigil/ && st[k] == "ok") {
        if (ev[k] == "n/a") return "n/a"
        seen = 1
        if (ev[k] + 0 != 0) return "FAIL"
    }
    return seen ? "PASS" : "n/a"
}
function verdict(what, v) { printf "  %-4s  %s\n", v, what }
' "$results"
exit 0
