#!/bin/sh
# report_chromium.sh - `vigil report` in a real browser: the page from disk
# (file://) in headless Chromium; the rendered DOM has the sections, the
# incident rows and counts, and nothing a hostile signature injected; the
# screenshots at desktop and phone width are made and are not blank.
. "$(dirname "$0")/lib.sh"

CHROMIUM=
for c in chromium chromium-browser; do
    command -v "$c" >/dev/null 2>&1 && { CHROMIUM=$c; break; }
done
if [ -z "$CHROMIUM" ]; then
    echo "SKIP report_chromium: chromium is not installed"
    echo "0 passed, 0 failed"
    exit 0
fi
[ -x "$VIGIL" ] || { echo "no $VIGIL: run make first"; exit 1; }

browser() { # output-option url [more options]
    out=$1 url=$2
    shift 2
    prof=$(mktemp -d "$TMP/prof.XXXXXX")
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
        --disable-background-networking --disable-component-update --disable-sync \
        --no-first-run --hide-scrollbars --user-data-dir="$prof" "$@" "$out" "$url" \
        2>>"$TMP/chromium.err"
}

# --- input: every capture in pcaps/, then a hostile EVE file --------------
"$VIGIL" -q -r "$PCAPS"/*.pcap --eve "$TMP/replay.json" 2>"$TMP/err"
nalerts=$(grep -c '"event_type":"alert"' "$TMP/replay.json")
if [ "$nalerts" -gt 0 ]; then pass report-input-replay; else fail report-input-replay "no alerts"; fi
cat >"$TMP/hostile.json" <<'JSON'
{"timestamp":"2023-11-14T22:14:00.000000+0000","event_type":"alert","src_ip":"203.0.113.66","src_port":4444,"dest_ip":"10.1.2.3","dest_port":80,"proto":"TCP","alert":{"signature_id":9999001,"signature":"HOSTILE <script>document.title='pwned1'</script> \"><img src=x onerror=\"document.title='pwned2'\">","category":"Potentially Bad Traffic","severity":1,"metadata":{"detector":["hostile<script>document.title='pwned3'</script>"],"attack_category":["web_attack"],"uri":["'><svg onload=document.title='pwned4'>"]}}}
this line is not JSON
JSON
cat "$TMP/replay.json" "$TMP/hostile.json" >"$TMP/eve.json"

"$VIGIL" report -o "$TMP/report.html" "$TMP/eve.json" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && [ -s "$TMP/report.html" ] && [ "$(wc -l <"$TMP/err")" -eq 2 ] &&
    grep -q 'skipped 1 malformed line (first at line' "$TMP/err"; then
    pass report-written-one-warning
else
    fail report-written-one-warning "rc=$rc: $(cat "$TMP/err")"
fi
if grep -q -i -e '<script' -e '<img' -e '<svg onload' -e 'src="http' -e "href=\"http" \
    -e '<link' "$TMP/report.html"; then
    fail report-self-contained "raw markup or an external reference in the page"
else
    pass report-self-contained
fi

# --- the DOM as Chromium rendered it --------------------------------------
browser --dump-dom "file://$TMP/report.html" >"$TMP/dom.html"
if ! grep -q '</html>' "$TMP/dom.html"; then
    fail report-dom "chromium produced no DOM: $(tail -3 "$TMP/chromium.err")"
else
    python3 - "$TMP/dom.html" "$TMP/eve.json" >"$TMP/dom.out" 2>&1 <<'PY'
import json, sys
from html.parser import HTMLParser

class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = {}
        self.h2 = []
        self.in_h2 = False
        self.incident_rows = 0
        self.title = ""
        self.in_title = False
        self.text = []
        self.bad_attrs = []
    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = dict(attrs)
        if tag == "h2":
            self.in_h2 = True
            self.h2.append("")
        if tag == "title" and not self.title:
            self.in_title = True
        if tag == "tr" and a.get("class") == "incident":
            self.incident_rows += 1
        for k, _ in attrs:
            if k.startswith("on"):
                self.bad_attrs.append((tag, k))
    def handle_endtag(self, tag):
        if tag == "h2":
            self.in_h2 = False
        if tag == "title":
            self.in_title = False
    def handle_data(self, d):
        if self.in_h2:
            self.h2[-1] += d
        if self.in_title:
            self.title += d
        self.text.append(d)

dom = open(sys.argv[1], encoding="utf-8").read()
p = P()
p.feed(dom)
text = "".join(p.text)

# What the page must show, computed from the EVE file independently.
alerts, groups, detectors = 0, set(), set()
for line in open(sys.argv[2]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("event_type") != "alert":
        continue
    alerts += 1
    md = ev["alert"]["metadata"]
    groups.add((md["detector"][0], ev.get("src_ip", "-"), ev.get("dest_ip", "-"),
                md.get("attack_category", [ev["alert"].get("category")])[0]))
    detectors.add(md["detector"][0])

fails = []
def check(name, ok, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))
    if not ok:
        fails.append(name)

want = ["Timeline of alerts by detector", "Incidents", "Top attackers", "Top targets",
        "Alerts per detector", "Capture statistics", "What the sharing policy would send"]
check("dom-sections", all(w in p.h2 for w in want), "headings: %r" % p.h2)
check("dom-incident-rows", p.incident_rows == len(groups),
      "%d rows, %d groups" % (p.incident_rows, len(groups)))
check("dom-alert-count", ("%d\n" % alerts) in text or ("%dalerts" % alerts) in text.replace("\n", ""),
      "no card with %d alerts" % alerts)
check("dom-detectors", all(d in text for d in detectors), "missing detector names")
check("dom-timeline-svg", p.tags.get("svg", 0) == 1 and p.tags.get("rect", 0) > 0,
      "svg=%d rect=%d" % (p.tags.get("svg", 0), p.tags.get("rect", 0)))
check("dom-stats", "decode errors" in text and "kernel drops" in text and "uninspected" in text,
      "stats cards missing")
check("dom-sharing", "withheld" in text and "203.0.113.66" in text, "sharing preview")
# Nothing injected: no script/img/iframe elements, no on* attributes, and
# the scripts would have renamed the document: its title is ours.
check("dom-no-script", p.tags.get("script", 0) == 0 and p.tags.get("img", 0) == 0 and
      p.tags.get("iframe", 0) == 0 and not p.bad_attrs,
      "tags=%r attrs=%r" % ({k: p.tags.get(k) for k in ("script", "img", "iframe")}, p.bad_attrs))
check("dom-title-untouched", p.title.startswith("Vigil report") and "pwned" not in p.title,
      "title=%r" % p.title)
check("dom-hostile-text-shown", "<script>document.title='pwned1'</script>" in text and
      "onerror=" in text, "the hostile signature is not shown as text")
sys.exit(1 if fails else 0)
PY
    while IFS= read -r line; do
        case $line in
        "PASS "*) pass "${line#PASS }" ;;
        "FAIL "*) fail "$(echo "${line#FAIL }" | cut -d: -f1)" "${line#*: }" ;;
        *) echo "    $line" ;;
        esac
    done <"$TMP/dom.out"
fi

# --- screenshots at desktop and phone width --------------------------------
SHOTS=${VIGIL_SCREENSHOTS:-$TMP}
mkdir -p "$SHOTS"
for size in 1280,900 390,844; do
    w=${size%,*}
    png=$SHOTS/report-$w.png
    rm -f "$png"
    browser "--screenshot=$png" "file://$TMP/report.html" "--window-size=$size" >/dev/null
    bytes=$(wc -c <"$png" 2>/dev/null || echo 0)
    # PNG signature and the size in the IHDR chunk; a blank page compresses
    # to a few hundred bytes, a rendered report to tens of kilobytes.
    dims=$(python3 -c 'import struct,sys
d=open(sys.argv[1],"rb").read(24)
print("%d,%d" % struct.unpack(">II", d[16:24]) if d[:8]==b"\x89PNG\r\n\x1a\n" else "bad")' "$png" 2>/dev/null)
    if [ "$dims" = "$size" ] && [ "$bytes" -gt 10000 ]; then
        pass "report-screenshot-$w"
    else
        fail "report-screenshot-$w" "dims=$dims bytes=$bytes"
    fi
done

[ -n "${VIGIL_SCREENSHOTS:-}" ] && echo "screenshots in $SHOTS"

# --- --report on a replay writes the page from the EVE just written ---------
mkdir -p "$TMP/logs"
"$VIGIL" -q -r "$PCAPS/scan-syn.pcap" -l "$TMP/logs" --report "$TMP/logs/r.html" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q 'class="incident"' "$TMP/logs/r.html"; then
    pass replay-report-option
else
    fail replay-report-option "rc=$rc: $(cat "$TMP/err")"
fi
"$VIGIL" -q -r "$PCAPS/scan-syn.pcap" --report "$TMP/x.html" >/dev/null 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 2 ] && grep -q 'report needs' "$TMP/err"; then
    pass replay-report-needs-file
else
    fail replay-report-needs-file "rc=$rc: $(cat "$TMP/err")"
fi

# --- empty input is a page, not an error ------------------------------------
: >"$TMP/empty.json"
"$VIGIL" report -q -o "$TMP/empty.html" "$TMP/empty.json" 2>"$TMP/err"
rc=$?
if [ "$rc" -eq 0 ] && grep -q 'No alerts in this file' "$TMP/empty.html"; then
    pass report-empty-input
else
    fail report-empty-input "rc=$rc: $(cat "$TMP/err")"
fi
report
