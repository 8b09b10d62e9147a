#!/usr/bin/env python3
"""eval.py - replay every capture of the shared corpus (and pcaps/) and score
the alerts against the ground truth.

Ground truth: corpus/expect.tsv (file, kind, attack_category alternatives,
attacker, expect) and, for the lab captures, NAME.json (expected.must_alert
and must_not_alert). Prints, per category: captures, detected (right category
and attacker), missed, and false alerts; then the misses and false alerts.
Exit status 1 when something was missed or a benign capture alerted,
except for the captures listed in tests/eval-known.tsv (file, reason): those
cannot be detected from what they hold, and docs/detectors.md says why.

usage: eval.py VIGIL SHARED_DIR
"""
import collections
import json
import os
import subprocess
import sys
import tempfile


def alerts_of(vigil, path):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([vigil, "-q", "-r", path, "--eve", out.name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        alerts = []
        for line in open(out.name):
            ev = json.loads(line)
            if ev.get("event_type") == "alert":
                md = ev["alert"].get("metadata", {})
                alerts.append({
                    "sid": ev["alert"].get("signature_id"),
                    "src": ev.get("src_ip"),
                    "dst": ev.get("dest_ip"),
                    "category": md.get("attack_category", ["?"])[0],
                    "detector": md.get("detector", ["?"])[0],
                    "signature": ev["alert"].get("signature", ""),
                })
        return alerts


def read_expect(shared):
    rows = []
    path = os.path.join(shared, "corpus", "expect.tsv")
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            rows.append(dict(zip(header, line.rstrip("\n").split("\t"))))
    return rows


def lab_truth(shared, rel):
    path = os.path.join(shared, "corpus", os.path.splitext(rel)[0] + ".json")
    if not os.path.exists(path):
        return None
    return json.load(open(path)).get("expected", {})


def read_known():
    known = {}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "eval-known.tsv")
    if os.path.exists(path):
        for line in open(path):
            if line.strip() and not line.startswith("#"):
                name, _, why = line.rstrip("\n").partition("\t")
                known[name] = why
    return known


def matches(alert, categories, attacker, victim):
    if alert["category"] not in categories:
        return False
    if attacker not in ("*", "-", "") and alert["src"] != attacker:
        return False
    if victim and alert["dst"] != victim:
        return False
    return True


def eval_own_captures(vigil):
    """The project's own captures against their expected-alert files."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    expected_dir = os.path.join(root, "tests", "e2e", "expected")
    checked, problems = 0, []
    for name in sorted(os.listdir(expected_dir)):
        if not name.endswith(".alerts"):
            continue
        pcap = os.path.join(root, "pcaps", name[:-len(".alerts")] + ".pcap")
        if not os.path.exists(pcap):
            continue
        want = sorted(l.strip() for l in open(os.path.join(expected_dir, name)) if l.strip())
        got = sorted("%s %s %s %s %s" % (a["detector"], a["sid"], a["src"] or "-", a["dst"] or "-",
                                         a["category"]) for a in alerts_of(vigil, pcap))
        checked += 1
        if want != got:
            problems.append("DIFF pcaps/%s: want %s; got %s" % (name[:-7] + ".pcap", want, got))
    return checked, problems


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    vigil, shared = sys.argv[1], sys.argv[2]
    if not os.path.isdir(os.path.join(shared, "corpus")):
        print("SKIP eval (no %s/corpus)" % shared)
        return 0
    # Group expectations by file (a file may expect several categories).
    by_file = collections.OrderedDict()
    for row in read_expect(shared):
        if row["kind"] in ("attack", "benign"):
            by_file.setdefault(row["file"], []).append(row)
    table = collections.OrderedDict()
    problems = []
    known = read_known()
    for rel, rows in by_file.items():
        alerts = alerts_of(vigil, os.path.join(shared, "corpus", rel))
        truth = lab_truth(shared, rel) if rel.startswith("lab/") else None
        never = {m["src_ip"] for m in (truth or {}).get("must_not_alert", []) if "src_ip" in m}
        for row in rows:
            cat = row["attack_category"] if row["kind"] == "attack" else "benign"
            t = table.setdefault(cat.split("|")[0], collections.Counter())
            t["captures"] += 1
            if row["kind"] == "benign":
                if alerts:
                    t["false"] += 1
                    problems.append("FALSE %s: %s" % (rel, "; ".join(
                        "%s %s->%s (%s)" % (a["category"], a["src"], a["dst"], a["detector"]) for a in alerts[:3])))
                else:
                    t["detected"] += 1
                continue
            victim = row["expect"][7:] if row["expect"].startswith("victim=") else None
            cats = row["attack_category"].split("|")
            if any(matches(a, cats, row["attacker"], victim) for a in alerts):
                t["detected"] += 1
            elif rel in known:
                t["known"] += 1
                problems.append("KNOWN %s: %s" % (rel, known[rel]))
            else:
                t["missed"] += 1
                seen = ", ".join(sorted({"%s from %s" % (a["category"], a["src"]) for a in alerts})) or "no alert"
                problems.append("MISS %s: want %s from %s; got %s" % (rel, row["attack_category"], row["attacker"], seen))
        for a in alerts:
            if a["src"] in never:
                problems.append("FALSE %s: %s alert names the benign client %s" % (rel, a["category"], a["src"]))
                table.setdefault("benign", collections.Counter())["false"] += 1
    own_checked, own_problems = eval_own_captures(vigil)
    problems += own_problems
    fmt = "%-20s %9s %9s %7s %7s %7s"
    print(fmt % ("category", "captures", "detected", "missed", "known", "false"))
    total = collections.Counter()
    for cat, t in table.items():
        print(fmt % (cat, t["captures"], t["detected"], t["missed"], t["known"], t["false"]))
        total.update(t)
    print(fmt % ("total", total["captures"], total["detected"], total["missed"], total["known"], total["false"]))
    print("own captures (pcaps/ vs tests/e2e/expected): %d checked, %d differ"
          % (own_checked, len(own_problems)))
    for p in problems:
        print(p)
    return 1 if total["missed"] or total["false"] or own_problems else 0


if __name__ == "__main__":
    sys.exit(main())
