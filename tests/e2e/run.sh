#!/bin/sh
# run.sh - end-to-end tests: the real binary on real captures.
# Uses $VIGIL_BUILD (default build/) and, when present, ../shared.
. "$(dirname "$0")/lib.sh"

V() { "$VIGIL" "$@"; }

# --- bad input: one clear line on stderr, the right exit status ----------
expect_error() { # name rc pattern cmd...
    name=$1 want=$2 pattern=$3
    shift 3
    "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    lines=$(wc -l <"$TMP/err")
    if ! clean_run "$TMP/err" "$rc"; then
        fail "$name" "crash or sanitizer report (rc=$rc): $(head -c 300 "$TMP/err")"
    elif [ "$rc" -ne "$want" ]; then
        fail "$name" "exit $rc, want $want: $(cat "$TMP/err")"
    elif [ "$lines" -ne 1 ]; then
        fail "$name" "want one line on stderr, got $lines: $(cat "$TMP/err")"
    elif ! grep -q -- "$pattern" "$TMP/err"; then
        fail "$name" "stderr lacks '$pattern': $(cat "$TMP/err")"
    else
        pass "$name"
    fi
}

case_bad_input() {
    expect_error missing-file 1 "$TMP/nope.pcap: No such file" V -q -r "$TMP/nope.pcap"
    expect_error not-a-capture 1 "README.md: not a readable capture" V -q -r "$ROOT/README.md"
    head -c 1000 "$PCAPS/benign.pcap" >"$TMP/cut.pcap"
    expect_error truncated-capture 1 "cut.pcap: record [0-9]* (reading stopped at byte [0-9]*): truncated" \
        V -q -r "$TMP/cut.pcap" --eve "$TMP/cut.json"
    if [ "$(stat_of "$TMP/cut.json" capture.packets)" -gt 0 ]; then
        pass truncated-capture-keeps-packets
    else
        fail truncated-capture-keeps-packets "no packet before the cut was processed"
    fi
    python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<IHHiIII",0xa1b2c3d4,2,4,0,0,65535,147)+struct.pack("<IIII",1,0,4,4)+b"abcd")' >"$TMP/dlt147.pcap"
    expect_error unknown-linktype 2 "dlt147.pcap: unsupported link type 147" V -q -r "$TMP/dlt147.pcap"
    expect_error bad-bpf 2 "bad filter 'tcp port nonsense'" V -q -r "$PCAPS/benign.pcap" -f 'tcp port nonsense'
    expect_error unknown-interface 1 "vigil-nosuch0: cannot capture: no such interface" V -q -i vigil-nosuch0
    expect_error no-arguments 2 "give either -r PATH" V
    expect_error both-outputs 2 "either --eve FILE or -l DIR" V -r "$PCAPS/benign.pcap" --eve - -l "$TMP"
    if V -T >"$TMP/t.out" 2>&1 && grep -q 'configuration OK' "$TMP/t.out"; then
        pass test-config-ok
    else
        fail test-config-ok "$(cat "$TMP/t.out")"
    fi
    mkdir -p "$TMP/sigs"
    printf 'alert tcp any any -> any 80 (msg:"GET seen"; flow:established,to_server; content:"GET "; depth:4; sid:1000001; rev:1;)\n' >"$TMP/sigs/ok.rules"
    if V --check-rules "$TMP/sigs" >"$TMP/cr.out" 2>&1 && grep -q 'loaded 1 rules' "$TMP/cr.out"; then
        pass check-rules-ok
    else
        fail check-rules-ok "$(cat "$TMP/cr.out")"
    fi
    V -q -S "$TMP/sigs/ok.rules" -r "$PCAPS/benign.pcap" --eve "$TMP/sig.json" 2>/dev/null
    n=$(grep -c '"signature_id":1000001' "$TMP/sig.json")
    if [ "$n" -ge 20 ]; then pass signature-rule-file; else fail signature-rule-file "$n alerts"; fi
    printf 'alert tcp any any -> any any (msg:"bad"; content:"x"; sid:1 rev:1;)\n' >"$TMP/sigs/bad.rules"
    V --check-rules "$TMP/sigs" >"$TMP/cr.out" 2>&1
    rc=$?
    if [ "$rc" -eq 2 ] && grep -q 'bad.rules:1:59: sid: expected an integer' "$TMP/cr.out"; then
        pass check-rules-syntax-error
    else
        fail check-rules-syntax-error "rc=$rc $(cat "$TMP/cr.out")"
    fi
    mkdir -p "$TMP/rules-bad"
    printf '[vigil]\nn_tcp_streams = 4096\nthis line is wrong\n' >"$TMP/rules-bad/vigil.conf"
    expect_error bad-rules-line 2 "rules-bad/vigil.conf:3: expected 'key = value'" \
        V -q -r "$PCAPS/benign.pcap" -R "$TMP/rules-bad"
    expect_error test-config-bad 2 "rules-bad/vigil.conf:3" V -T -R "$TMP/rules-bad"
    printf '[vigil]\nn_tcp_stream = 4096\n' >"$TMP/rules-bad/vigil.conf"
    expect_error unknown-setting 2 "vigil.conf:2: unknown setting 'n_tcp_stream' in \[vigil\]" \
        V -q -r "$PCAPS/benign.pcap" -R "$TMP/rules-bad"
    expect_error set-unknown 2 "unknown setting 'nonsense' in \[vigil\]" \
        V -q -r "$PCAPS/benign.pcap" --set vigil.nonsense=1
    expect_error set-malformed 2 "'bogus' is not section.key=value" \
        V -q -r "$PCAPS/benign.pcap" --set bogus
    printf '# site overrides\n[portscan]\nwindow_sec = 999999\n' >"$TMP/site.conf"
    expect_error settings-file-bad 2 "site.conf:3: window_sec: 999999 is outside" \
        V -q -r "$PCAPS/benign.pcap" -c "$TMP/site.conf"
    printf '[vigil]\nalert_dedup_sec = 0\n' >"$TMP/site.conf"
    if V -q -r "$PCAPS/benign.pcap" -c "$TMP/site.conf" --eve /dev/null; then
        pass settings-file-ok
    else
        fail settings-file-ok "rc=$?"
    fi
    printf '[vigil]\nmax_flows = 12\n' >"$TMP/rules-bad/vigil.conf"
    expect_error setting-out-of-range 2 "vigil.conf:2: max_flows: 12 is outside" \
        V -q -r "$PCAPS/benign.pcap" -R "$TMP/rules-bad"
    if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
        cp "$PCAPS/benign.pcap" "$TMP/private.pcap"
        chmod 600 "$TMP/private.pcap"
        chmod 755 "$TMP"
        expect_error no-permission-file 1 "private.pcap: Permission denied" \
            setpriv --reuid=65534 --regid=65534 --clear-groups "$VIGIL" -q -r "$TMP/private.pcap"
        expect_error no-permission-live 1 "lo: cannot capture: permission denied" \
            setpriv --reuid=65534 --regid=65534 --clear-groups "$VIGIL" -q -i lo
    else
        skip no-permission "needs root and setpriv to become an unprivileged user"
    fi
}

# --- malformed captures from the shared reliability set ------------------
case_malformed() {
    dir=$SHARED/reliability/malformed
    if [ ! -d "$dir" ]; then
        skip malformed "no $dir"
        return
    fi
    for f in "$dir"/*.pcap; do
        V -q -r "$f" --eve "$TMP/m.json" >"$TMP/out" 2>"$TMP/err"
        rc=$?
        lines=$(wc -l <"$TMP/err")
        if clean_run "$TMP/err" "$rc" && [ "$rc" -le 2 ] && [ "$lines" -le 1 ] &&
            { [ "$rc" -eq 0 ] || [ "$lines" -eq 1 ]; }; then
            pass "malformed/$(basename "$f")"
        else
            fail "malformed/$(basename "$f")" "rc=$rc lines=$lines: $(head -c 300 "$TMP/err")"
        fi
    done
}

# --- libnids crashers: validated before libnids sees a byte ---------------
case_libnids_crashers() {
    for f in "$SHARED"/reliability/libnids-*.pcap; do
        [ -f "$f" ] || { skip libnids-crashers "no shared reliability folder"; return; }
        name=crasher/$(basename "$f")
        V -q -r "$f" --eve /dev/null 2>"$TMP/err"
        rc=$?
        if ! clean_run "$TMP/err" "$rc"; then
            fail "$name" "rc=$rc $(head -c 300 "$TMP/err")"
            continue
        fi
        if [ -z "$VIGIL_ASAN" ] && command -v valgrind >/dev/null; then
            valgrind -q --error-exitcode=97 --leak-check=no "$VIGIL" -q -r "$f" \
                --eve /dev/null 2>"$TMP/vg"
            if [ $? -eq 97 ] || grep -q 'Invalid read\|uninitialised' "$TMP/vg"; then
                fail "$name" "valgrind: $(head -c 400 "$TMP/vg")"
                continue
            fi
        fi
        pass "$name"
    done
}

# --- our own captures: the alert set is what we expect --------------------
case_expected_alerts() {
    for exp in "$ROOT"/tests/e2e/expected/*.alerts; do
        [ -f "$exp" ] || continue
        name=$(basename "$exp" .alerts)
        V -q -r "$PCAPS/$name.pcap" --eve "$TMP/$name.json" 2>"$TMP/err"
        rc=$?
        alerts_of "$TMP/$name.json" >"$TMP/$name.got"
        if [ "$rc" -ne 0 ] || ! clean_run "$TMP/err" "$rc"; then
            fail "alerts/$name" "rc=$rc $(head -c 300 "$TMP/err")"
        elif cmp -s "$exp" "$TMP/$name.got"; then
            pass "alerts/$name"
        else
            fail "alerts/$name" "$(diff "$exp" "$TMP/$name.got" | head -20)"
        fi
    done
}

case_deterministic() {
    V -q -r "$PCAPS/scan-syn.pcap" "$PCAPS/benign.pcap" --eve "$TMP/d1.json" 2>/dev/null
    V -q -r "$PCAPS/benign.pcap" "$PCAPS/scan-syn.pcap" --eve "$TMP/d2.json" 2>/dev/null
    if [ -s "$TMP/d1.json" ] && cmp -s "$TMP/d1.json" "$TMP/d2.json"; then
        pass deterministic-replay
    else
        fail deterministic-replay "two replays differ"
    fi
}

case_outputs_and_filter() {
    mkdir -p "$TMP/logdir"
    V -q -r "$PCAPS/scan-syn.pcap" -l "$TMP/logdir" 2>/dev/null
    if [ -s "$TMP/logdir/eve.json" ] && grep -q '"event_type":"alert"' "$TMP/logdir/eve.json"; then
        pass log-dir-eve
    else
        fail log-dir-eve "no alerts in $TMP/logdir/eve.json"
    fi
    V -q -r "$PCAPS/benign.pcap" -f udp --eve "$TMP/f.json" 2>/dev/null
    if [ "$(stat_of "$TMP/f.json" decoder.tcp)" -eq 0 ] &&
        [ "$(stat_of "$TMP/f.json" decoder.udp)" -gt 0 ]; then
        pass bpf-filter
    else
        fail bpf-filter "tcp=$(stat_of "$TMP/f.json" decoder.tcp) udp=$(stat_of "$TMP/f.json" decoder.udp)"
    fi
    V -r "$PCAPS/scan-syn.pcap" >"$TMP/stdout.json" 2>"$TMP/summary"
    if grep -q '"event_type":"stats"' "$TMP/stdout.json" && grep -q 'packets' "$TMP/summary" &&
        grep -q 'portscan' "$TMP/summary"; then
        pass stdout-and-summary
    else
        fail stdout-and-summary "$(cat "$TMP/summary")"
    fi
}

case_linktypes() {
    for f in "$PCAPS"/linktypes/*.pcap; do
        [ -f "$f" ] || continue
        V -q -r "$f" --eve "$TMP/l.json" 2>"$TMP/err"
        est=$(stat_of "$TMP/l.json" reassembly.streams_established)
        bad=$(( $(stat_of "$TMP/l.json" decoder.truncated) + $(stat_of "$TMP/l.json" decoder.malformed) ))
        if [ "$est" -ge 1 ] && [ "$bad" -eq 0 ]; then
            pass "linktype/$(basename "$f" .pcap)"
        else
            fail "linktype/$(basename "$f" .pcap)" "streams=$est decode_errors=$bad"
        fi
    done
}

case_directory_replay() {
    V -q -r "$PCAPS/multi" --eve "$TMP/multi.json" 2>"$TMP/err"
    est=$(stat_of "$TMP/multi.json" reassembly.streams_established)
    mid=$(stat_of "$TMP/multi.json" reassembly.uninspected_bytes.midstream)
    closed=$(stat_of "$TMP/multi.json" reassembly.streams_closed)
    bad=$(stat_of "$TMP/multi.json" capture.bad_timestamp)
    if [ "$est" -ge 1 ] && [ "$mid" -eq 0 ] && [ "$closed" -ge 1 ] && [ "$bad" -eq 0 ]; then
        pass directory-replay-merges-by-time
    else
        fail directory-replay-merges-by-time "established=$est closed=$closed midstream=$mid bad_ts=$bad"
    fi
}

case_uninspected() {
    V -q -r "$PCAPS/midstream.pcap" --eve "$TMP/mid.json" 2>/dev/null
    mid=$(stat_of "$TMP/mid.json" reassembly.uninspected_bytes.midstream)
    if [ "$mid" -gt 0 ]; then
        pass uninspected-midstream-counted
    else
        fail uninspected-midstream-counted "midstream=$mid"
    fi
    V -q -r "$PCAPS/benign.pcap" --eve "$TMP/v6.json" 2>/dev/null
    v6=$(stat_of "$TMP/v6.json" reassembly.uninspected_bytes.ipv6)
    if [ "$v6" -gt 0 ]; then pass uninspected-ipv6-counted; else fail uninspected-ipv6-counted "ipv6=$v6"; fi
}

case_malformed_pcap() {
    V -q -r "$PCAPS/malformed.pcap" --eve "$TMP/mal.json" 2>"$TMP/err"
    rc=$?
    t=$(stat_of "$TMP/mal.json" decoder.truncated)
    m=$(stat_of "$TMP/mal.json" decoder.malformed)
    d=$(stat_of "$TMP/mal.json" decoder.decoded)
    if clean_run "$TMP/err" "$rc" && [ "$rc" -eq 0 ] && [ "$t" -gt 0 ] && [ "$m" -gt 0 ] && [ "$d" -ge 3 ]; then
        pass malformed-packets-counted
    else
        fail malformed-packets-counted "rc=$rc truncated=$t malformed=$m decoded=$d"
    fi
}

# --- a plugin built outside the tree against the installed header ---------
case_out_of_tree_plugin() {
    stage=$TMP/stage
    make -s -C "$ROOT" BUILD="$BUILD" install DESTDIR="$stage" PREFIX=/usr/local >"$TMP/install.log" 2>&1 ||
        { fail out-of-tree-plugin "make install failed: $(tail -5 "$TMP/install.log")"; return; }
    pc=$stage/usr/local/lib/pkgconfig
    cflags=$(PKG_CONFIG_PATH=$pc PKG_CONFIG_SYSROOT_DIR=$stage pkg-config --cflags vigil)
    mkdir -p "$TMP/oot"
    chmod 755 "$TMP/oot"
    ${CC:-cc} $cflags -std=c11 -Wall -Wextra -Werror -fPIC -fvisibility=hidden -shared \
        -o "$TMP/oot/oot_example.so" "$ROOT/tests/oot/oot_example.c" 2>"$TMP/err" ||
        { fail out-of-tree-plugin "build: $(cat "$TMP/err")"; return; }
    exported=$(nm -D --defined-only "$TMP/oot/oot_example.so" | awk '{print $3}' | grep -v '^_' | tr '\n' ' ')
    "$stage/usr/local/bin/vigil" -q -P "$TMP/oot" -R "$stage/usr/local/etc/vigil/rules" \
        -r "$PCAPS/benign.pcap" --eve "$TMP/oot.json" 2>"$TMP/err"
    if [ "$exported" = "vigil_plugin_entry " ] &&
        grep -q '"detector":\["oot_example"\]' "$TMP/oot.json"; then
        pass out-of-tree-plugin
    else
        fail out-of-tree-plugin "exports: $exported; $(head -c 300 "$TMP/err")"
    fi
}

# --- other suites ---------------------------------------------------------
case_scripts() {
    for s in "$ROOT"/tests/e2e/corpus_*.sh "$ROOT"/tests/e2e/live_*.sh \
        "$ROOT"/tests/e2e/report_chromium.sh "$ROOT"/tests/e2e/manpage_sync.sh \
        "$ROOT"/tests/e2e/plugin_doc.sh "$ROOT"/tests/e2e/share_*.sh \
        "$ROOT"/tests/e2e/fleet_*.sh; do
        [ -f "$s" ] || continue
        name=$(basename "$s" .sh)
        t0=$(date +%s)
        VIGIL=$VIGIL SHARED=$SHARED sh "$s" >"$TMP/$name.log" 2>&1
        rc=$?
        sed 's/^/    /' "$TMP/$name.log"
        if [ "$rc" -eq 0 ]; then pass "$name ($(($(date +%s) - t0)) s)"; else fail "$name" "see above"; fi
    done
}

[ -x "$VIGIL" ] || { echo "no $VIGIL: run make first"; exit 1; }
case_bad_input
case_malformed
case_libnids_crashers
case_malformed_pcap
case_expected_alerts
case_deterministic
case_outputs_and_filter
case_linktypes
case_directory_replay
case_uninspected
case_out_of_tree_plugin
case_scripts
report
