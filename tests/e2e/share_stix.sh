#!/bin/sh
# share_stix.sh - shared outputs end to end: replay every pcaps/*.pcap, turn
# the alerts into STIX 2.1 bundles and MISP events with the default sharing
# policy, validate every bundle against the OASIS STIX 2.1 JSON schemas
# (read in place from the shared vector folder), run the checks the schemas
# miss (references resolve inside the bundle, sighting_of_ref is an SDO,
# lowercase ids, SCO ids recomputed), and prove that no HOME_NET address
# appears anywhere in the shared outputs.
#
# When the sensor has --stix/--misp it is used directly; otherwise the
# alerts of its EVE output are fed to the stix/misp sinks by a small driver
# linked against the sensor objects. Skips cleanly without the shared folder.
. "$(dirname "$0")/lib.sh"

SCHEMAS=$SHARED/vectors/stix2-json-schemas/schemas
if [ ! -d "$SCHEMAS" ]; then
    skip share_stix "no STIX schemas under $SHARED/vectors"
    report
    exit $?
fi
PY=python3
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import jsonschema" 2>/dev/null && PY=/usr/bin/python3
if ! $PY -c "import jsonschema" 2>/dev/null; then
    skip share_stix "python3-jsonschema not installed"
    report
    exit $?
fi

# The default policy anonymizes HOME_NET addresses: give it a key file.
KEY=$TMP/cryptopan.key
head -c 32 /dev/urandom > "$KEY"
chmod 600 "$KEY"
SET_KEY="sharing.cryptopan_key_file=$KEY"
# A second pass (SHARE_HOME_NET) narrows the home networks so that the
# bundled scanners are outside them: their addresses become indicators.
SET_HOME="vigil.home_net=${SHARE_HOME_NET:-}"

STIX=$TMP/stix.ndjson
MISP=$TMP/misp.ndjson
: > "$STIX"
: > "$MISP"

if "$VIGIL" --help 2>&1 | grep -q -- '--stix'; then
    MODE=sensor
else
    MODE=driver
    cat > "$TMP/driver.c" <<'EOF'
/* Feed EVE alert lines (stdin) to the stix and misp sinks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <jansson.h>
#include "addrset.h"
#include "config.h"
#include "share.h"

static void addr(vigil_addr *a, const char *s)
{
    memset(a, 0, sizeof *a);
    if (s && inet_pton(AF_INET, s, a->bytes) == 1) a->family = 4;
    else if (s && inet_pton(AF_INET6, s, a->bytes) == 1) a->family = 6;
}

static const char *md(json_t *m, const char *k)
{
    return json_string_value(json_array_get(json_object_get(m, k), 0));
}

int main(int argc, char **argv)
{
    struct vigil_config cfg;
    struct vigil_addrset home = { 0 };
    char err[1024], line[1 << 16];
    if (argc < 5) return 2;
    vigil_config_init(&cfg);
    if (vigil_config_load_dir(&cfg, argv[1], err, sizeof err) < 0 ||
        vigil_config_set_text(&cfg, "--set", argv[2], err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err); return 2;
    }
    struct vigil_config_entry *h = vigil_config_find(&cfg, "vigil", "home_net");
    if (vigil_addrset_parse(&home, h ? h->value : "", err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err); return 2;
    }
    struct vigil_output_env env = { &cfg, &home, "sensor-e2e" };
    struct vigil_output st, mi;
    if (vigil_output_open_stix(argv[3], &env, &st, err, sizeof err) < 0 ||
        vigil_output_open_misp(argv[4], &env, &mi, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err); return 2;
    }
    int rc = 0;
    while (fgets(line, sizeof line, stdin)) {
        json_t *e = json_loads(line, 0, NULL);
        json_t *al = json_object_get(e, "alert");
        if (!al) { json_decref(e); continue; }
        json_t *m = json_object_get(al, "metadata");
        vigil_meta meta[64];
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach(m, k, v) {
            size_t i; json_t *x;
            json_array_foreach(v, i, x)
                if (n < 64 && json_is_string(x)) meta[n++] = (vigil_meta){ k, json_string_value(x) };
        }
        const char *proto = json_string_value(json_object_get(e, "proto"));
        vigil_alert a = { .size = sizeof a };
        a.gid = (uint32_t)json_integer_value(json_object_get(al, "gid"));
        a.signature_id = (uint32_t)json_integer_value(json_object_get(al, "signature_id"));
        a.rev = (uint32_t)json_integer_value(json_object_get(al, "rev"));
        a.severity = (uint32_t)json_integer_value(json_object_get(al, "severity"));
        a.signature = json_string_value(json_object_get(al, "signature"));
        a.category = json_string_value(json_object_get(al, "category"));
        a.attack_category = md(m, "attack_category");
        a.attack_technique = md(m, "attack_technique");
        a.mitre_attack = md(m, "mitre_attack");
        addr(&a.src, json_string_value(json_object_get(e, "src_ip")));
        addr(&a.dst, json_string_value(json_object_get(e, "dest_ip")));
        a.sport = (uint16_t)json_integer_value(json_object_get(e, "src_port"));
        a.dport = (uint16_t)json_integer_value(json_object_get(e, "dest_port"));
        a.ip_proto = !proto ? 0 : !strcmp(proto, "TCP") ? 6 : !strcmp(proto, "UDP") ? 17 :
                     !strcmp(proto, "ICMP") ? 1 : !strcmp(proto, "IPv6-ICMP") ? 58 : 0;
        const char *last = md(m, "last_seen");
        a.ts_us = last ? (int64_t)(strtod(last, NULL) * 1e6) : 1;
        a.meta = meta;
        a.meta_count = n;
        struct vigil_alert_event ev = { &a, md(m, "detector"), a.ts_us,
                                        (uint64_t)json_integer_value(json_object_get(e, "flow_id")) };
        if (!ev.detector) ev.detector = "unknown";
        if (st.alert(st.self, &ev) < 0 || mi.alert(mi.self, &ev) < 0) rc = 1;
        json_decref(e);
    }
    if (st.close(st.self) < 0 || mi.close(mi.self) < 0) rc = 1;
    vigil_addrset_free(&home);
    vigil_config_free(&cfg);
    return rc;
}
EOF
    OBJS=$(ls "$BUILD"/sensor/*.o | grep -v '/main\.o$')
    if ! cc -std=c11 -D_DEFAULT_SOURCE -I"$ROOT/include" -I"$ROOT/sensor" -o "$TMP/driver" \
            "$TMP/driver.c" $OBJS -lnids -lpcap -ljansson -lcrypto -luuid -lcurl -lhiredis \
            -lpthread -ldl -lm 2> "$TMP/cc.err"; then
        fail driver_build "$(head -5 "$TMP/cc.err")"
        report
        exit $?
    fi
fi

n=0
for p in "$PCAPS"/*.pcap; do
    [ -f "$p" ] || continue
    n=$((n + 1))
    name=$(basename "$p" .pcap)
    if [ "$MODE" = sensor ]; then
        if [ -n "${SHARE_HOME_NET:-}" ]; then
            "$VIGIL" -r "$p" --eve /dev/null --stix "$TMP/s.$name" --misp "$TMP/m.$name" \
                --set "$SET_KEY" --set "$SET_HOME" 2> "$TMP/err.$name"
        else
            "$VIGIL" -r "$p" --eve /dev/null --stix "$TMP/s.$name" --misp "$TMP/m.$name" \
                --set "$SET_KEY" 2> "$TMP/err.$name"
        fi
        rc=$?
    else
        "$VIGIL" -r "$p" --eve "$TMP/eve.$name" 2> "$TMP/err.$name"
        rc=$?
        if [ $rc -eq 0 ]; then
            "$TMP/driver" "$ROOT/rules" "$SET_KEY" "$TMP/s.$name" "$TMP/m.$name" \
                < "$TMP/eve.$name" 2>> "$TMP/err.$name"
            rc=$?
        fi
    fi
    if [ $rc -ne 0 ] || ! clean_run "$TMP/err.$name" $rc; then
        fail "run_$name" "rc=$rc: $(tail -3 "$TMP/err.$name")"
        continue
    fi
    cat "$TMP/s.$name" >> "$STIX" 2>/dev/null
    cat "$TMP/m.$name" >> "$MISP" 2>/dev/null
done
[ $n -gt 0 ] && pass "replayed $n captures ($MODE)" || fail replay "no pcaps in $PCAPS"

HOME_NET=$(sed -n 's/^[[:space:]]*home_net[[:space:]]*=[[:space:]]*//p' "$ROOT/rules/vigil.conf" | head -1)
[ -z "${SHARE_HOME_NET:-}" ] || HOME_NET=$SHARE_HOME_NET

SHARE_PY_RESULT=$TMP/py.result $PY - "$SCHEMAS" "$STIX" "$MISP" "$HOME_NET" <<'PY'
import ipaddress, json, os, re, sys, uuid

schemas, stix_path, misp_path, home_text = sys.argv[1:5]
from jsonschema import Draft202012Validator, RefResolver

passed = failed = 0
def result(name, errors):
    global passed, failed
    if errors:
        failed += 1
        print("FAIL %s: %s" % (name, "; ".join(errors[:5])))
    else:
        passed += 1
        print("PASS %s" % name)

store = {}
by_name = {}
for root, _, files in os.walk(schemas):
    for f in files:
        if f.endswith(".json"):
            with open(os.path.join(root, f)) as fh:
                s = json.load(fh)
            sid = s.get("$id", "")
            for v in (sid, sid.replace("http://", "https://"), sid.replace("https://", "http://")):
                store[v] = s
            by_name[os.path.relpath(os.path.join(root, f), schemas)] = s
def schema_for(t):
    for d in ("sdos", "sros", "observables", "common"):
        k = "%s/%s.json" % (d, t)
        if k in by_name:
            return by_name[k]
    return None
def validate(obj, schema):
    r = RefResolver(schema.get("$id", ""), schema, store=store)
    return ["%s: %s" % ("/".join(map(str, e.path)), e.message)
            for e in Draft202012Validator(schema, resolver=r).iter_errors(obj)]

SCO_NS = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
ID_PROPS = {"ipv4-addr": ["value"], "ipv6-addr": ["value"],
            "network-traffic": ["start", "end", "src_ref", "dst_ref", "src_port", "dst_port",
                                "protocols", "extensions"]}
SCOS = set(ID_PROPS)
ID_RE = re.compile(r"^[a-z][a-z0-9-]+[a-z0-9]--[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)\.\d{3}Z$")
TLP = {"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
       "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}
PATTERN_RE = re.compile(r"^\[(ipv4-addr|ipv6-addr):value = '[0-9a-fA-F.:]+'\]$")

def jcs(o):
    return json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

def own_checks(b):
    errs = []
    if b.get("type") != "bundle" or "spec_version" in b:
        errs.append("bundle type/spec_version")
    objs = b.get("objects", [])
    ids = {}
    for o in objs:
        i = o.get("id", "")
        if i in ids:
            errs.append("duplicate id " + i)
        ids[i] = o
    for i, o in ids.items():
        t = o.get("type")
        if not ID_RE.match(i) or not i.startswith(t + "--"):
            errs.append("bad id " + i)
        if t in SCOS:
            c = {k: o[k] for k in ID_PROPS[t] if k in o}
            want = "%s--%s" % (t, uuid.uuid5(SCO_NS, jcs(c)))
            if want != i:
                errs.append("SCO id %s != %s" % (i, want))
            continue
        if t == "marking-definition":
            if i not in TLP:
                errs.append("unknown marking " + i)
            continue
        for k in ("created", "modified"):
            if not TS_RE.match(o.get(k, "")):
                errs.append("%s %s %s" % (i, k, o.get(k)))
        if o.get("modified", "") < o.get("created", ""):
            errs.append("modified < created " + i)
        cb = ids.get(o.get("created_by_ref"))
        if not cb or cb["type"] != "identity":
            errs.append("created_by_ref of " + i)
        om = o.get("object_marking_refs") or []
        if not om or any(ids.get(m, {}).get("type") != "marking-definition" for m in om):
            errs.append("object_marking_refs of " + i)
        if t == "sighting":
            so = ids.get(o.get("sighting_of_ref"))
            if not so or so["type"] in SCOS or so["type"] in ("relationship", "sighting", "marking-definition", "bundle"):
                errs.append("sighting_of_ref of %s is not an SDO in the bundle" % i)
            if any(ids.get(r, {}).get("type") != "observed-data" for r in o.get("observed_data_refs", [])):
                errs.append("observed_data_refs of " + i)
            if any(ids.get(r, {}).get("type") not in ("identity", "location") for r in o.get("where_sighted_refs", [])):
                errs.append("where_sighted_refs of " + i)
            if o.get("last_seen", "") < o.get("first_seen", ""):
                errs.append("last_seen < first_seen")
        if t == "observed-data":
            refs = o.get("object_refs", [])
            if not refs or any(ids.get(r, {}).get("type") not in SCOS for r in refs):
                errs.append("object_refs of " + i)
            if o.get("last_observed", "") < o.get("first_observed", ""):
                errs.append("last_observed < first_observed")
        if t == "indicator":
            if not PATTERN_RE.match(o.get("pattern", "")):
                errs.append("pattern " + o.get("pattern", ""))
            if "valid_until" in o and o["valid_until"] <= o["valid_from"]:
                errs.append("valid_until <= valid_from")
        if t == "relationship":
            for k in ("source_ref", "target_ref"):
                if o.get(k) not in ids:
                    errs.append("%s of %s does not resolve" % (k, i))
    # every *_ref / *_refs anywhere resolves inside the bundle
    def walk(x, path=""):
        if isinstance(x, dict):
            for k, v in x.items():
                if k.endswith("_ref") and isinstance(v, str) and v not in ids:
                    errs.append("%s%s -> %s unresolved" % (path, k, v))
                if k.endswith("_refs") and isinstance(v, list):
                    for r in v:
                        if r not in ids:
                            errs.append("%s%s -> %s unresolved" % (path, k, r))
                walk(v, path + k + ".")
        elif isinstance(x, list):
            for v in x:
                walk(v, path)
    walk(objs)
    return errs

home = [ipaddress.ip_network(t.strip(), strict=False) for t in re.split(r"[,\s]+", home_text) if t.strip()]
TOKEN = re.compile(r"[0-9A-Fa-f.:]{2,}")
def home_addresses(text):
    found = set()
    for m in TOKEN.finditer(text):
        tok = m.group(0)
        # every substring that parses as an address (glued text included)
        for i in range(len(tok)):
            for j in range(len(tok), i + 1, -1):
                try:
                    a = ipaddress.ip_address(tok[i:j])
                except ValueError:
                    continue
                if any(a in n for n in home):
                    found.add(str(a))
                break
    return found

def lines(path):
    with open(path) as fh:
        return [l for l in fh if l.strip()]

stix_lines = lines(stix_path)
misp_lines = lines(misp_path)
result("stix output not empty (%d bundles)" % len(stix_lines), [] if stix_lines else ["no bundles"])
result("misp output not empty (%d events)" % len(misp_lines), [] if misp_lines else ["no events"])

schema_errs, own_errs, objects = [], [], 0
bundle_schema = by_name.get("common/bundle.json")
for n, l in enumerate(stix_lines, 1):
    b = json.loads(l)
    if bundle_schema:
        schema_errs += ["bundle %d: %s" % (n, e) for e in validate(b, bundle_schema)]
    for o in b.get("objects", []):
        objects += 1
        s = schema_for(o.get("type"))
        if s is None:
            schema_errs.append("bundle %d: no schema for %s" % (n, o.get("type")))
        else:
            schema_errs += ["bundle %d %s: %s" % (n, o.get("id"), e) for e in validate(o, s)]
    own_errs += ["bundle %d: %s" % (n, e) for e in own_checks(b)]
result("STIX JSON schemas (%d bundles, %d objects)" % (len(stix_lines), objects), schema_errs)
result("STIX own checks: refs resolve, sighting_of_ref SDO, lowercase ids, SCO ids recomputed", own_errs)

types = set()
for l in stix_lines:
    for o in json.loads(l)["objects"]:
        types.add(o["type"])
need = {"identity", "marking-definition", "network-traffic", "observed-data", "sighting", "attack-pattern"}
result("STIX object types present: %s" % ",".join(sorted(types)), ["missing " + t for t in need - types])

misp_errs = []
for n, l in enumerate(misp_lines, 1):
    e = json.loads(l).get("Event")
    if not e:
        misp_errs.append("line %d: no Event" % n)
        continue
    for k in ("uuid", "info", "date", "threat_level_id", "analysis", "distribution", "Tag", "Object"):
        if k not in e:
            misp_errs.append("line %d: no %s" % (n, k))
    if not any(t["name"].startswith("tlp:") for t in e.get("Tag", [])):
        misp_errs.append("line %d: no tlp tag" % n)
result("MISP events well-formed", misp_errs)

leaks = []
for name, ls in (("stix", stix_lines), ("misp", misp_lines)):
    for n, l in enumerate(ls, 1):
        for a in sorted(home_addresses(l)):
            leaks.append("%s line %d: %s" % (name, n, a))
result("no HOME_NET address in shared outputs (home_net %s)" % home_text, leaks)

if os.environ.get("SHARE_HOME_NET"):
    n_ind = sum(1 for l in stix_lines for o in json.loads(l).get("objects", [])
                if o.get("type") == "indicator")
    result("indicators for attackers outside home_net (%d)" % n_ind,
           [] if n_ind > 0 else ["no indicator in any bundle"])

# replay gives the same bytes: run-independent ids (checked on the first bundle's ids)
ids = [json.loads(l)["id"] for l in stix_lines]
result("bundle ids unique", [] if len(ids) == len(set(ids)) else ["duplicate bundle ids"])

with open(os.environ.get("SHARE_PY_RESULT", "/dev/null"), "w") as fh:
    fh.write("%d %d\n" % (passed, failed))
PY
if [ -s "$TMP/py.result" ]; then
    read -r pp pf < "$TMP/py.result"
    PASSED=$((PASSED + pp))
    FAILED=$((FAILED + pf))
else
    fail validate "the validation script did not finish"
fi

# Determinism: the same capture shared twice gives the same bytes.
first=$(ls "$TMP"/s.* 2>/dev/null | while read -r f; do [ -s "$f" ] && echo "$f" && break; done)
if [ -n "$first" ]; then
    name=${first##*/s.}
    if [ "$MODE" = sensor ]; then
        "$VIGIL" -r "$PCAPS/$name.pcap" --eve /dev/null --stix "$TMP/again.s" --misp "$TMP/again.m" \
            --set "$SET_KEY" 2> /dev/null
    else
        "$TMP/driver" "$ROOT/rules" "$SET_KEY" "$TMP/again.s" "$TMP/again.m" < "$TMP/eve.$name" 2> /dev/null
    fi
    if cmp -s "$first" "$TMP/again.s" && cmp -s "$TMP/m.$name" "$TMP/again.m"; then
        pass "replay of $name.pcap gives identical STIX and MISP output"
    else
        fail determinism "second replay of $name.pcap differs"
    fi
fi
# The second pass, with the scanners outside the home networks.
if [ -z "${SHARE_HOME_NET:-}" ] && [ "$MODE" = sensor ]; then
    SHARE_HOME_NET="198.18.0.0/24, 198.18.1.0/24, 198.18.2.0/24, 198.18.5.0/24" \
        sh "$0" >"$TMP/narrow.log" 2>&1
    rc=$?
    sed 's/^/    narrow: /' "$TMP/narrow.log"
    if [ $rc -eq 0 ]; then pass "second pass with external attackers"; else fail narrow "see above"; fi
fi
report
