#!/usr/bin/env python3
"""gen_rules.py - write N generated signature rules to stdout, deterministically.

usage: gen_rules.py N [SEED] > generated.rules

A benchmark rule set: random-looking 8-16 byte literals (letters, digits and
a few binary bytes), about 1 in 5 nocase, 1 in 10 with a second content at a
distance, 1 in 50 a pcre behind a content; protocols mostly tcp, some udp.
Sids start at 8000001. The same N and SEED always give the same file.
"""
import random
import sys

ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/.="


def literal(rng, lo=8, hi=16):
    n = rng.randint(lo, hi)
    out = []
    for _ in range(n):
        if rng.random() < 0.08:
            out.append("|%02X|" % rng.randint(0, 255))
        else:
            out.append(rng.choice(ALPHA))
    return "".join(out)


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    n = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 5000)
    out = sys.stdout
    out.write("# %d generated benchmark rules (tools/gen_rules.py %d)\n" % (n, n))
    for i in range(n):
        sid = 8000001 + i
        proto = "udp" if rng.random() < 0.15 else "tcp"
        opts = ['msg:"GEN rule %d"' % sid, 'content:"%s"' % literal(rng)]
        if rng.random() < 0.2:
            opts.append("nocase")
        if rng.random() < 0.1:
            opts.append('content:"%s"' % literal(rng, 4, 8))
            opts.append("distance:0")
        if rng.random() < 0.02:
            opts.append('pcre:"/%s[0-9]{2,}/i"' % "".join(rng.choice("abcdefghij") for _ in range(6)))
        if proto == "tcp" and rng.random() < 0.3:
            opts.append("flow:established,to_server")
        opts.append("classtype:misc-activity")
        opts.append("sid:%d" % sid)
        opts.append("rev:1")
        port = rng.choice(["any", "any", "any", "80", "[80,443,8080]", "1024:"])
        out.write("alert %s any any -> any %s (%s;)\n" % (proto, port, "; ".join(opts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
