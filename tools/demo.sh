#!/bin/sh
# demo.sh - replay the bundled captures with the default rules and plugins,
# write build/demo/eve.json and print the alerts readably.
set -eu
cd "$(dirname "$0")/.."
out=build/demo
mkdir -p "$out"
rm -f "$out/eve.json"
# Every capture at the top of pcaps/, read as one capture in time order.
echo "== vigil -r pcaps -l $out"
rc=0
./vigil -r pcaps -l "$out" || rc=$?
echo
echo "== alerts ($out/eve.json)"
python3 - "$out/eve.json" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]):
    ev = json.loads(line)
    if ev["event_type"] == "alert":
        a, md = ev["alert"], ev["alert"]["metadata"]
        src = ev.get("src_ip", "-")
        dst = ev.get("dest_ip", "-")
        if ev.get("dest_port"):
            dst += ":%d" % ev["dest_port"]
        print("%s  [%s:%s:%s] %s" % (ev["timestamp"], a["gid"], a["signature_id"], a["rev"], a["signature"]))
        print("    %s -> %s  %s/%s  %s  %s" % (src, dst, md.get("detector", ["?"])[0],
              md.get("attack_category", ["?"])[0], ",".join(md.get("mitre_attack", [])),
              " ".join("%s=%s" % (k, ",".join(v)) for k, v in md.items()
                       if k not in ("detector", "attack_category", "attack_technique", "mitre_attack"))))
        n += 1
    elif ev["event_type"] == "stats":
        s = ev["stats"]
        print("\n== stats: %d packets, %d decoded, %d truncated, %d malformed, %d streams, %d alerts"
              % (s["capture"]["packets"], s["decoder"]["decoded"], s["decoder"]["truncated"],
                 s["decoder"]["malformed"], s["reassembly"]["streams_established"], s["detect"]["alerts"]))
print("%d alerts" % n)
PY
exit $rc
