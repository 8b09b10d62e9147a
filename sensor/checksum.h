/*
 * checksum.h - TCP/UDP checksum verification for live capture.
 *
 * Offloading NICs and virtual interfaces hand the capture packets whose
 * checksums the hardware fills in later, so a sensor that verified them
 * would throw most traffic away. Modes (--checksums):
 *   off   never verify (the default, as before)
 *   on    a TCP or UDP packet with a wrong checksum is not inspected:
 *         it is counted and dropped before the engine, as the host would
 *   auto  look at the first VIGIL_CHECKSUM_SAMPLE checkable packets; when
 *         more than a tenth are wrong (offload), stay off, else turn on.
 * IPv4 (not fragmented) and IPv6 without extension headers are checked;
 * everything else passes. UDP over IPv4 with checksum 0 is valid.
 */
#ifndef VIGIL_CHECKSUM_H
#define VIGIL_CHECKSUM_H

#include <stdint.h>

#include "vigil/plugin.h"

#define VIGIL_CHECKSUM_SAMPLE 1000

enum vigil_checksum_mode { VIGIL_CHECKSUMS_OFF = 0, VIGIL_CHECKSUMS_ON, VIGIL_CHECKSUMS_AUTO };

/* 1 right, 0 wrong, -1 not checkable (not TCP/UDP, cut, fragment, ...). */
int vigil_checksum_verify(const vigil_packet *p);

struct vigil_checksum_state {
    int mode;                   /* enum vigil_checksum_mode; AUTO until decided */
    uint64_t sampled, sample_bad;
    uint64_t dropped;           /* packets not inspected for a wrong checksum */
};

/* "off", "on", "auto" -> mode; -1 when unknown. */
int vigil_checksum_parse_mode(const char *s);

/* Whether the frame goes on to the engine (0: wrong checksum, dropped). */
int vigil_checksum_filter(struct vigil_checksum_state *cs, int dlt, const uint8_t *data,
                          uint32_t caplen, uint32_t wirelen);

#endif
