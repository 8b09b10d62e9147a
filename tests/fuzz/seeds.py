#!/usr/bin/env python3
"""Write fuzz seeds from capture files: one file per packet, prefixed with
the fuzz_decode header (link-type selector, extra wire bytes); with --dns,
the DNS messages (UDP port 53) of Ethernet captures, for fuzz_dns."""
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


def dns_payload(linktype, frame):
    """The UDP payload of an untagged Ethernet IPv4 packet to or from port 53."""
    if linktype != 1 or len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 17 or len(ip) < ihl + 8:
        return None
    sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
    return ip[ihl + 8:] if 53 in (sport, dport) else None


def main(out_dir, paths, mode):
    os.makedirs(out_dir, exist_ok=True)
    n = 0
    for path in paths:
        for linktype, frame in packets(path):
            if mode == "dns":
                seed = dns_payload(linktype, frame)
            elif linktype in DLTS:
                seed = bytes([DLTS.index(linktype), 0]) + frame
            else:
                seed = None
            if seed is None:
                continue
            with open(os.path.join(out_dir, "seed-%05d" % n), "wb") as f:
                f.write(seed)
            n += 1
    print("%d seeds in %s" % (n, out_dir))


if __name__ == "__main__":
    # seeds.py [--dns] OUT_DIR PCAP...
    dns = len(sys.argv) > 1 and sys.argv[1] == "--dns"
    args = sys.argv[2:] if dns else sys.argv[1:]
    main(args[0], args[1:], "dns" if dns else "frame")
