#!/usr/bin/env python3
"""Write fuzz seeds from capture files: one file per packet, prefixed with
the fuzz_decode header (link-type selector, extra wire bytes)."""
import os
import struct
import sys

DLTS = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276]


def packets(path):
    data = open(path, "rb").read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        yield linktype, frame


def main(out_dir, paths):
    os.makedirs(out_dir, exist_ok=True)
    n = 0
    for path in paths:
        for linktype, frame in packets(path):
            if linktype not in DLTS:
                continue
            with open(os.path.join(out_dir, "seed-%05d" % n), "wb") as f:
                f.write(bytes([DLTS.index(linktype), 0]) + frame)
            n += 1
    print("%d seeds in %s" % (n, out_dir))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
