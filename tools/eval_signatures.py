#!/usr/bin/env python3
"""eval_signatures.py - compare the signature detector's alert counts per sid
with the counts suricata-verify expects for the shared signature captures.

usage: eval_signatures.py VIGIL SHARED_DIR

For every MANIFEST.tsv row of category f_signatures (and the g_evasion rows
whose capture has a .rules file next to it) that has a rules file, runs
    VIGIL -q -S RULES -r PCAP --eve OUT --set vigil.alert_dedup_sec=0 [args]
counts the signature detector's alerts per sid and compares them with the
counts written in the row's expected_ground_truth. Prints a table; exit 1 on
any difference, 0 when all match (or when SHARED_DIR has no corpus: skipped).
"""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile

EVASION = {"g_evasion/sv_tcp_overlap_same_seq.pcap", "g_evasion/sv_tcp_split_handshake_4whs.pcap"}

SID_RE = re.compile(r"sid\s*(\d+)(?:\s*\([^)]*\))?[^;,]*?->\s*(\d+)")
EXACTLY_RE = re.compile(r"exactly\s+(\d+)\s+alerts?,\s*sid\s+(\d+)")


def expected_counts(text):
    exp = {}
    for sid, n in SID_RE.findall(text):
        exp[int(sid)] = int(n)
    if not exp:
        m = EXACTLY_RE.search(text)
        if m:
            exp[int(m.group(2))] = int(m.group(1))
    return exp


def extra_args(text):
    """Sensor settings the suricata-verify args imply."""
    args = []
    if re.search(r"stream\.midstream\s*=\s*true", text):
        args += ["--set", "signature.midstream=1"]
    # -k none (checksums not checked): the sensor never checks them.
    return args


def count_alerts(eve):
    counts = {}
    if not os.path.exists(eve):
        return counts
    with open(eve) as f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if ev.get("event_type") != "alert":
                continue
            al = ev.get("alert", {})
            det = al.get("metadata", {}).get("detector", [])
            if "signature" not in det:
                continue
            sid = al.get("signature_id")
            counts[sid] = counts.get(sid, 0) + 1
    return counts


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    vigil, shared = sys.argv[1], sys.argv[2]
    corpus = os.path.join(shared, "corpus")
    manifest = os.path.join(corpus, "MANIFEST.tsv")
    if not os.path.exists(manifest):
        print("eval_signatures: %s not found; skipped" % manifest)
        return 0
    rows = []
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            file = row["file"]
            if row["category"] != "f_signatures" and file not in EVASION:
                continue
            rules = os.path.join(corpus, os.path.splitext(file)[0] + ".rules")
            if not os.path.exists(rules):
                continue            # no rules: a robustness capture, not a count test
            rows.append((file, rules, row["expected_ground_truth"]))
    failures = 0
    print("%-52s %10s %8s %8s  %s" % ("capture", "sid", "expected", "got", "verdict"))
    with tempfile.TemporaryDirectory() as tmp:
        for file, rules, truth in rows:
            exp = expected_counts(truth)
            eve = os.path.join(tmp, "eve.json")
            if os.path.exists(eve):
                os.unlink(eve)
            cmd = [vigil, "-q", "-S", rules, "-r", os.path.join(corpus, file), "--eve", eve,
                   "--set", "vigil.alert_dedup_sec=0"] + extra_args(truth)
            res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if res.returncode != 0:
                print("%-52s %10s %8s %8s  %s" % (file, "-", "-", "-", "FAIL (exit %d)" % res.returncode))
                sys.stderr.write(res.stderr[-2000:])
                failures += 1
                continue
            got = count_alerts(eve)
            for sid in sorted(set(exp) | set(got)):
                e, g = exp.get(sid, 0), got.get(sid, 0)
                ok = e == g
                failures += not ok
                print("%-52s %10d %8d %8d  %s" % (file, sid, e, g, "ok" if ok else "DIFF"))
    print()
    if failures:
        print("eval_signatures: %d difference(s)" % failures)
        return 1
    print("eval_signatures: all %d captures match" % len(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
