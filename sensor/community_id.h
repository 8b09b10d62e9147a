/*
 * community_id.h - Community ID v1 flow hashes and the EVE flow_id.
 *
 * Spec: corelight/community-id-spec: "1:" + base64(SHA1(seed(2, BE) |
 * saddr | daddr | proto | 0 | sport(BE) | dport(BE))), endpoints ordered
 * so both directions hash the same, ICMP/ICMPv6 type/code mapped to
 * pseudo-ports with the one-way flag.
 */
#ifndef VIGIL_COMMUNITY_ID_H
#define VIGIL_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/plugin.h"

#define VIGIL_COMMUNITY_ID_LEN 64   /* buffer size; "1:" + 28 base64 + NUL fits */

/*
 * Write the Community ID of the flow into out (NUL-terminated). For TCP,
 * UDP and SCTP sport/dport are the ports; for ICMP (1) and ICMPv6 (58)
 * they are the type and code. For other protocols the ports are ignored.
 * base64 = 0 writes the SHA1 as lowercase hex instead.
 * Returns 0, or -1 when the addresses are not both IPv4 or both IPv6.
 */
int vigil_community_id(const vigil_addr *src, const vigil_addr *dst,
                       uint16_t sport, uint16_t dport, uint8_t proto,
                       uint16_t seed, int base64, char *out, size_t outlen);

/* Prepare the SHA-1 the ids need; call once at start. 0, or -1. */
int vigil_community_id_init(void);

/*
 * A 64-bit flow id in the style of Suricata's EVE `flow_id`: the same for
 * both directions, deterministic for a given flow and start time, and
 * below 2^53 so JSON readers that use doubles keep it exact.
 */
uint64_t vigil_flow_id(const vigil_addr *a, const vigil_addr *b,
                       uint16_t aport, uint16_t bport, uint8_t proto,
                       int64_t start_us);

#endif
