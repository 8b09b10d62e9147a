#!/bin/sh
# share_taxii.sh - the durable TAXII 2.1 push, end to end, on 127.0.0.1 only.
#
# A TAXII 2.1 test server (tests/taxii_server.py) takes the sensor's
# pushes; every case checks by object id that what the sensor shared (the
# same bundles, written by the "stix" file sink) arrived at least once:
# a plain run, SIGKILL mid-delivery and a restart, the server stopped for a
# while, a torn spool tail, credentials (Basic, Bearer, wrong, a readable
# secret file), dead letters, and TLS verification.
#
# The sensor runs as a small driver linked from the sensor's objects with
# the "taxii" and "stix" sinks, until the command line has an option for
# them. Uses $VIGIL_BUILD (default build/), needs python3 and openssl.
. "$(dirname "$0")/lib.sh"

SERVER="$ROOT/tests/taxii_server.py"
COLL=91a7b528-80eb-42ed-a74d-c6fbd5a26116
ALERT_PCAPS="$PCAPS/scan-syn.pcap $PCAPS/scan-stealth.pcap $PCAPS/sweep.pcap $PCAPS/beacon-c2.pcap"

# --- the driver: replay captures with the taxii sink, or push made-up records
build_driver() {
    cat >"$TMP/taxii_driver.c" <<'EOF'
/* taxii_driver.c - the sensor's engine with the taxii and stix sinks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "engine.h"
#include "log.h"
#include "outputs.h"
#include "share.h"
#include "taxii.h"

int vigil_outputs_open(const char *kind, const char *target,
                       const struct vigil_output_env *env, struct vigil_output *out,
                       char *err, size_t errlen)
{
    if (strcmp(kind, "taxii") == 0)
        return vigil_output_open_taxii(target, env, out, err, errlen);
    if (strcmp(kind, "stix") == 0)
        return vigil_output_open_stix(target, env, out, err, errlen);
    vigil_seterr(err, errlen, "unknown output kind '%s'", kind);
    return -1;
}

static volatile sig_atomic_t stop;
static long delay_us;

static void on_term(int sig) { (void)sig; stop = 1; }

static void on_packet(void *user, int dlt, const struct pcap_pkthdr *h, const uint8_t *d)
{
    vigil_engine_packet(user, dlt, h, d);
    if (delay_us)
        usleep((useconds_t)delay_us);
}

/* replay URL EVE STIX RULES PLUGINS [S.K=V ...] -- PCAP... */
static int replay(int argc, char **argv)
{
    char *sets[64];
    size_t nsets = 0;
    int i = 7;
    for (; i < argc && strcmp(argv[i], "--") != 0 && nsets < 64; i++)
        sets[nsets++] = argv[i];
    i++;
    struct vigil_output_spec outs[2] = { { "stix", argv[4] }, { "taxii", argv[2] } };
    struct vigil_engine_options o = {
        .plugin_dir = argv[6], .rules_dir = argv[5], .eve_path = argv[3], .quiet = 1,
        .settings = sets, .nsettings = nsets, .outputs = outs, .noutputs = 2,
    };
    char err[512];
    int code;
    struct vigil_engine *e = vigil_engine_new(&o, err, sizeof err, &code);
    if (e == NULL) {
        vigil_err("%s", err);
        return code;
    }
    int rc = 0;
    if (i < argc) {
        struct vigil_capture *c = vigil_capture_open_files(argv + i, (size_t)(argc - i), NULL,
                                                           err, sizeof err, &code);
        if (c == NULL) {
            vigil_err("%s", err);
            vigil_engine_free(e);
            return code;
        }
        rc = vigil_capture_replay(c, on_packet, e, &stop);
        vigil_capture_close(c);
    }
    fprintf(stderr, "driver: replay done\n");
    if (vigil_engine_finish(e) < 0)
        rc = 1;
    vigil_engine_free(e);
    return rc;
}

/* synth URL SPOOL N IDS [reject-index] : N one-indicator records */
static int synth(int argc, char **argv)
{
    struct vigil_taxii_options o = {
        .collection_url = argv[2], .drain_sec = 20, .retry_min_ms = 100, .retry_max_ms = 1000,
        .sync_ms = 200,
        .spool = { .dir = argv[3], .max_bytes = 64u << 20 },
    };
    int n = atoi(argv[4]), reject = argc > 6 ? atoi(argv[6]) : -1;
    char err[512];
    struct vigil_taxii *t = vigil_taxii_open(&o, err, sizeof err);
    if (t == NULL) {
        vigil_err("%s", err);
        return 1;
    }
    FILE *ids = fopen(argv[5], "w");
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int k = 0; k < n; k++) {
        char id[64], rec[512];
        if (k == reject)
            snprintf(id, sizeof id, "indicator--deadbeef-dead-4ead-bead-%012d", k);
        else
            snprintf(id, sizeof id, "indicator--%08lx-%04lx-4%03lx-a%03lx-%012d",
                     (unsigned long)random() & 0xffffffffUL, (unsigned long)random() & 0xffff,
                     (unsigned long)random() & 0xfff, (unsigned long)random() & 0xfff, k);
        snprintf(rec, sizeof rec, "[{\"type\":\"indicator\",\"spec_version\":\"2.1\","
                 "\"id\":\"%s\",\"created\":\"2025-05-14T09:30:41.250Z\","
                 "\"modified\":\"2025-05-14T09:30:41.250Z\",\"pattern\":"
                 "\"[ipv4-addr:value = '203.0.113.%d']\",\"pattern_type\":\"stix\","
                 "\"valid_from\":\"2025-05-14T09:30:41.250Z\"}]", id, k % 250);
        if (vigil_taxii_submit(t, rec, strlen(rec)) == 0 && k != reject)
            fprintf(ids, "%s\n", id);
    }
    fclose(ids);
    return vigil_taxii_close(t) < 0;
}

int main(int argc, char **argv)
{
    signal(SIGTERM, on_term);
    signal(SIGPIPE, SIG_IGN);
    delay_us = getenv("DRIVER_DELAY_US") ? atol(getenv("DRIVER_DELAY_US")) : 0;
    if (argc >= 8 && strcmp(argv[1], "replay") == 0)
        return replay(argc, argv);
    if (argc >= 6 && strcmp(argv[1], "synth") == 0)
        return synth(argc, argv);
    fprintf(stderr, "usage: driver replay URL EVE STIX RULES PLUGINS [S.K=V...] -- PCAP...\n"
                    "       driver synth URL SPOOL N IDS [REJECT]\n");
    return 2;
}
EOF
    objs=$(ls "$BUILD"/sensor/*.o | grep -v -e '/main\.o$' -e '/outputs\.o$')
    san=""
    [ -n "$VIGIL_ASAN" ] && san="-fsanitize=address,undefined -fno-omit-frame-pointer"
    # shellcheck disable=SC2086
    cc -std=c11 -D_DEFAULT_SOURCE -g $san -I"$ROOT/include" -I"$ROOT/sensor" \
        $(pkg-config --cflags jansson 2>/dev/null) -o "$TMP/driver" "$TMP/taxii_driver.c" \
        $objs -lnids -lpcap -ljansson -lcrypto -luuid -lcurl -lhiredis -lpthread -ldl -lm \
        2>"$TMP/driver.cc.log"
}

# --- the server ----------------------------------------------------------------
# start_server NAME [server options]: SPID, PORT (kept across restarts of NAME)
start_server() {
    name=$1
    shift
    rm -f "$TMP/$name.port"
    python3 "$SERVER" serve --port "${PORT:-0}" --port-file "$TMP/$name.port" \
        --store "$TMP/$name.store" "$@" 2>>"$TMP/$name.server.log" &
    SPID=$!
    n=0
    while [ ! -s "$TMP/$name.port" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    PORT=$(cat "$TMP/$name.port" 2>/dev/null)
    URL="http://127.0.0.1:$PORT/api1/collections/$COLL/"
}

stop_server() {
    kill "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
}

# Lines (objects) the server stored.
stored() { [ -f "$TMP/$1.store" ] && wc -l <"$TMP/$1.store" || echo 0; }

# Every object id in a stix file (one bundle per line), once.
stix_ids() { # file [skip-last-line]
    python3 - "$@" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
if len(sys.argv) > 2:
    lines = lines[:-1]
ids = []
for l in lines:
    for o in json.loads(l)["objects"]:
        if o["id"] not in ids:
            ids.append(o["id"])
print("\n".join(ids))
PY
}

# check NAME EXPECTED-IDS-FILE CASE: every id arrived (duplicates reported)
check_ids() {
    if [ ! -s "$2" ]; then
        fail "$3" "no expected ids (did the run share anything?)"
    elif out=$(python3 "$SERVER" check --store "$TMP/$1.store" --expect "$2" 2>&1); then
        pass "$3 ($out)"
    else
        fail "$3" "$out"
    fi
}

COMMON_SETS="sharing.home_net=keep taxii.retry_min_ms=100 taxii.retry_max_sec=1 taxii.sync_ms=100"

# run_replay NAME SPOOL DRAIN [S.K=V...] : the driver replaying ALERT_PCAPS
# (EXEC=exec in a background job, so $! is the driver itself)
run_replay() {
    name=$1 spool=$2 drain=$3
    shift 3
    # shellcheck disable=SC2086
    $EXEC "$TMP/driver" replay "$URL" "$TMP/$name.eve" "$TMP/$name.stix" "$ROOT/rules" \
        "$BUILD/plugins" $COMMON_SETS "taxii.spool_dir=$spool" "taxii.drain_sec=$drain" "$@" \
        -- $ALERT_PCAPS
}

# --- cases -------------------------------------------------------------------------

case_deliver_all() {
    start_server plain
    run_replay plain "$TMP/spool-plain" 10 >"$TMP/plain.out" 2>"$TMP/plain.err"
    rc=$?
    stop_server
    if ! clean_run "$TMP/plain.err" "$rc" || [ "$rc" -ne 0 ]; then
        fail deliver-all "driver rc=$rc: $(head -c 600 "$TMP/plain.err")"
        return
    fi
    alerts=$(grep -c '"event_type":"alert"' "$TMP/plain.eve")
    bundles=$(grep -c . "$TMP/plain.stix")
    if [ "$alerts" -gt 0 ] && [ "$alerts" -eq "$bundles" ]; then
        pass "every-alert-shared ($alerts alerts, $bundles bundles)"
    else
        fail every-alert-shared "$alerts alerts but $bundles bundles"
    fi
    stix_ids "$TMP/plain.stix" >"$TMP/plain.ids"
    check_ids plain "$TMP/plain.ids" deliver-all
    if grep -q 'Content-Type\|415\|406' "$TMP/plain.server.log"; then
        fail media-types "$(head -3 "$TMP/plain.server.log")"
    fi
    size=$(find "$TMP/spool-plain" -name '*.seg' -size +16c | wc -l)
    if [ "$size" -eq 0 ]; then pass spool-compacted-when-acked
    else fail spool-compacted-when-acked "$(ls -l "$TMP/spool-plain")"; fi
}

case_kill_restart() {
    PORT=
    start_server kill --delay-ms 400
    : >"$TMP/kill.err"
    EXEC=exec run_replay kill "$TMP/spool-kill" 60 taxii.batch_records=1 \
        >"$TMP/kill.out" 2>"$TMP/kill.err" &
    dpid=$!
    n=0
    while ! grep -q 'replay done' "$TMP/kill.err" && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    while [ "$(stored kill)" -lt 2 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$dpid" 2>/dev/null
    wait "$dpid" 2>/dev/null
    before=$(stored kill)
    stop_server
    stix_ids "$TMP/kill.stix" >"$TMP/kill.ids"
    total=$(wc -l <"$TMP/kill.ids")
    missing=$(python3 "$SERVER" check --store "$TMP/kill.store" --expect "$TMP/kill.ids" |
        sed -n 's/.*missing \([0-9]*\).*/\1/p')
    if [ "$before" -gt 0 ] && [ "${missing:-0}" -gt 0 ]; then
        pass "killed-mid-delivery ($before objects stored, $missing of $total ids still to go)"
    else
        fail killed-mid-delivery "stored $before, missing ${missing:-?} of $total: not mid-run"
    fi
    # restart both: the new run replays nothing and resumes the spool
    start_server kill
    "$TMP/driver" replay "$URL" "$TMP/kill2.eve" "$TMP/kill2.stix" "$ROOT/rules" \
        "$BUILD/plugins" $COMMON_SETS "taxii.spool_dir=$TMP/spool-kill" taxii.drain_sec=30 -- \
        >"$TMP/kill2.out" 2>"$TMP/kill2.err"
    rc=$?
    stop_server
    if [ "$rc" -ne 0 ] || ! grep -q 'resuming [0-9]* undelivered records' "$TMP/kill2.err"; then
        fail resume-after-kill "rc=$rc: $(head -c 600 "$TMP/kill2.err")"
    else
        pass resume-after-kill
    fi
    check_ids kill "$TMP/kill.ids" nothing-lost-after-sigkill
}

case_server_down() {
    PORT=
    start_server down       # learn a free port, then take the server away
    stop_server
    : >"$TMP/down.err"
    EXEC=exec run_replay down "$TMP/spool-down" 60 >"$TMP/down.out" 2>"$TMP/down.err" &
    dpid=$!
    n=0
    while ! grep -q 'replay done' "$TMP/down.err" && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
    sleep 3
    start_server down
    n=0
    while kill -0 "$dpid" 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
    kill "$dpid" 2>/dev/null
    wait "$dpid"
    rc=$?
    stop_server
    retries=$(grep -c 'retrying with backoff' "$TMP/down.err")
    if [ "$rc" -eq 0 ] && [ "$retries" -eq 1 ] && grep -q 'delivering again after' "$TMP/down.err"; then
        pass "retried-while-down (one message, then recovered)"
    else
        fail retried-while-down "rc=$rc, $retries retry messages: $(head -c 600 "$TMP/down.err")"
    fi
    stix_ids "$TMP/down.stix" >"$TMP/down.ids"
    check_ids down "$TMP/down.ids" delivered-after-server-returns
}

case_torn_tail() {
    PORT=
    start_server torn
    stop_server
    # nothing delivered: drain 0, the spool keeps every record
    run_replay torn "$TMP/spool-torn" 0 >"$TMP/torn.out" 2>"$TMP/torn.err"
    seg=$(ls "$TMP"/spool-torn/*.seg 2>/dev/null | tail -1)
    if [ -z "$seg" ] || ! grep -q 'stay in' "$TMP/torn.err"; then
        fail torn-tail "no spool left: $(head -c 400 "$TMP/torn.err")"
        return
    fi
    size=$(wc -c <"$seg")
    truncate -s $((size - 25)) "$seg"
    start_server torn
    "$TMP/driver" replay "$URL" "$TMP/torn2.eve" "$TMP/torn2.stix" "$ROOT/rules" \
        "$BUILD/plugins" $COMMON_SETS "taxii.spool_dir=$TMP/spool-torn" taxii.drain_sec=30 -- \
        >"$TMP/torn2.out" 2>"$TMP/torn2.err"
    rc=$?
    stop_server
    warnings=$(grep -c 'torn record' "$TMP/torn2.err")
    if [ "$rc" -eq 0 ] && [ "$warnings" -eq 1 ]; then
        pass "torn-tail-truncated ($(grep 'torn record' "$TMP/torn2.err" | sed 's/.*: torn/torn/'))"
    else
        fail torn-tail-truncated "rc=$rc, $warnings warnings: $(head -c 600 "$TMP/torn2.err")"
    fi
    stix_ids "$TMP/torn.stix" skip-last >"$TMP/torn.ids"
    check_ids torn "$TMP/torn.ids" records-before-torn-tail-delivered
}

case_auth() {
    PORT=
    printf 's3cret-pass\n' >"$TMP/pw"
    chmod 644 "$TMP/pw"
    start_server auth --user vigil --password s3cret-pass
    run_replay auth "$TMP/spool-auth" 2 taxii.username=vigil "taxii.password_file=$TMP/pw" \
        >"$TMP/auth0.out" 2>"$TMP/auth0.err"
    rc=$?
    if [ "$rc" -ne 0 ] && grep -q 'accessible by group or others.*chmod 600' "$TMP/auth0.err" &&
        [ "$(wc -l <"$TMP/auth0.err")" -eq 1 ]; then
        pass readable-password-file-refused
    else
        fail readable-password-file-refused "rc=$rc: $(head -c 400 "$TMP/auth0.err")"
    fi
    printf 'wrong\n' >"$TMP/pw"
    chmod 600 "$TMP/pw"
    run_replay auth "$TMP/spool-auth" 2 taxii.username=vigil "taxii.password_file=$TMP/pw" \
        >"$TMP/auth1.out" 2>"$TMP/auth1.err"
    if [ "$(grep -c 'refused the credentials (HTTP 401)' "$TMP/auth1.err")" -eq 1 ] &&
        grep -q 'stay in' "$TMP/auth1.err" && [ "$(stored auth)" -eq 0 ]; then
        pass wrong-password-kept-in-spool
    else
        fail wrong-password-kept-in-spool "$(head -c 600 "$TMP/auth1.err")"
    fi
    printf 's3cret-pass\n' >"$TMP/pw"
    "$TMP/driver" replay "$URL" "$TMP/auth2.eve" "$TMP/auth2.stix" "$ROOT/rules" \
        "$BUILD/plugins" $COMMON_SETS "taxii.spool_dir=$TMP/spool-auth" taxii.drain_sec=20 \
        taxii.username=vigil "taxii.password_file=$TMP/pw" -- >"$TMP/auth2.out" 2>"$TMP/auth2.err"
    stop_server
    stix_ids "$TMP/auth.stix" >"$TMP/auth.ids"
    check_ids auth "$TMP/auth.ids" basic-auth-delivers-after-fix

    PORT=
    printf 'tok-123456\n' >"$TMP/tok"
    chmod 600 "$TMP/tok"
    start_server bearer --token tok-123456
    run_replay bearer "$TMP/spool-bearer" 20 "taxii.token_file=$TMP/tok" \
        >"$TMP/bearer.out" 2>"$TMP/bearer.err"
    stop_server
    stix_ids "$TMP/bearer.stix" >"$TMP/bearer.ids"
    check_ids bearer "$TMP/bearer.ids" bearer-token
}

case_dead_letter() {
    PORT=
    start_server dead --reject-id deadbeef-dead-4ead
    "$TMP/driver" synth "$URL" "$TMP/spool-dead" 30 "$TMP/dead.ids" 17 \
        >"$TMP/dead.out" 2>"$TMP/dead.err"
    rc=$?
    stop_server
    lines=$(wc -l <"$TMP/spool-dead/dead-letter.jsonl" 2>/dev/null || echo 0)
    errs=$(grep -c 'server rejected record' "$TMP/dead.err")
    if [ "$rc" -eq 0 ] && [ "$lines" -eq 1 ] && [ "$errs" -eq 1 ] &&
        grep -q 'deadbeef-dead-4ead' "$TMP/spool-dead/dead-letter.jsonl"; then
        pass "rejected-record-dead-lettered (one line, one error)"
    else
        fail rejected-record-dead-lettered "rc=$rc lines=$lines errors=$errs: $(head -c 500 "$TMP/dead.err")"
    fi
    check_ids dead "$TMP/dead.ids" others-delivered-around-rejected
}

case_tls() {
    if ! command -v openssl >/dev/null; then
        skip tls "no openssl"
        return
    fi
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
        >/dev/null 2>&1
    PORT=
    start_server tls --cert "$TMP/cert.pem" --key "$TMP/key.pem"
    URL="https://127.0.0.1:$PORT/api1/collections/$COLL/"
    "$TMP/driver" synth "$URL" "$TMP/spool-tls0" 3 "$TMP/tls0.ids" >"$TMP/tls0.out" 2>"$TMP/tls0.err" &
    dpid=$!
    sleep 2
    kill "$dpid" 2>/dev/null
    wait "$dpid" 2>/dev/null
    if grep -qi 'certificate' "$TMP/tls0.err" && [ "$(stored tls)" -eq 0 ]; then
        pass tls-verified-by-default
    else
        fail tls-verified-by-default "$(head -c 400 "$TMP/tls0.err")"
    fi
    run_replay tls "$TMP/spool-tls" 20 "taxii.ca_file=$TMP/cert.pem" \
        >"$TMP/tls.out" 2>"$TMP/tls.err"
    stop_server
    stix_ids "$TMP/tls.stix" >"$TMP/tls.ids"
    check_ids tls "$TMP/tls.ids" https-with-ca-file
}

case_refusals() {
    "$TMP/driver" synth "http://192.0.2.1/api1/collections/$COLL/" "$TMP/spool-ref" 1 \
        "$TMP/ref.ids" >"$TMP/ref.out" 2>"$TMP/ref.err"
    if grep -q 'only allowed to a loopback address' "$TMP/ref.err"; then
        pass plain-http-to-remote-refused
    else
        fail plain-http-to-remote-refused "$(head -c 300 "$TMP/ref.err")"
    fi
    "$TMP/driver" synth "http://127.0.0.1:9/api1/objects/" "$TMP/spool-ref" 1 \
        "$TMP/ref.ids" >"$TMP/ref.out" 2>"$TMP/ref.err"
    if grep -q 'not a collection URL' "$TMP/ref.err"; then
        pass not-a-collection-url-refused
    else
        fail not-a-collection-url-refused "$(head -c 300 "$TMP/ref.err")"
    fi
}

# The real binary, once its command line has the option.
case_cli() {
    if ! "$VIGIL" --help 2>&1 | grep -q -- '--taxii'; then
        skip vigil-taxii-option "vigil has no --taxii URL option yet"
        return
    fi
    PORT=
    start_server cli
    # shellcheck disable=SC2086
    "$VIGIL" -q -r $ALERT_PCAPS --eve "$TMP/cli.eve" --stix "$TMP/cli.stix" --taxii "$URL" \
        --set sharing.home_net=keep --set "taxii.spool_dir=$TMP/spool-cli" \
        --set taxii.drain_sec=20 >"$TMP/cli.out" 2>"$TMP/cli.err"
    rc=$?
    stop_server
    alerts=$(grep -c '"event_type":"alert"' "$TMP/cli.eve")
    sightings=$(grep '"type":"sighting"' "$TMP/cli.store" 2>/dev/null |
        python3 -c 'import json,sys; print(len({json.loads(l)["id"] for l in sys.stdin}))')
    if [ "$rc" -eq 0 ] && [ "$alerts" -gt 0 ] && [ "$alerts" -eq "$sightings" ]; then
        pass "vigil-taxii-option ($alerts alerts, $sightings sightings received)"
    else
        fail vigil-taxii-option "rc=$rc, $alerts alerts, $sightings sightings: $(head -c 400 "$TMP/cli.err")"
        return
    fi
    stix_ids "$TMP/cli.stix" >"$TMP/cli.ids"
    check_ids cli "$TMP/cli.ids" vigil-taxii-every-object
}

if ! build_driver; then
    fail build-driver "$(head -c 800 "$TMP/driver.cc.log")"
    report
    exit 1
fi
case_deliver_all
case_kill_restart
case_server_down
case_torn_tail
case_auth
case_dead_letter
case_tls
case_refusals
case_cli
# no run may have left a sanitizer report or a crash (ASan builds)
if grep -l -e 'Sanitizer' -e 'runtime error' "$TMP"/*.err >"$TMP/san.list" 2>/dev/null; then
    fail no-sanitizer-reports "$(cat "$TMP/san.list" | tr '\n' ' ')"
else
    pass no-sanitizer-reports
fi
report
