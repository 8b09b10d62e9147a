/* checksum.c - TCP/UDP checksum checks for live capture (see checksum.h). */
#include <string.h>

#include "checksum.h"
#include "decode.h"
#include "log.h"

static uint32_t sum16(uint32_t acc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        acc += (uint32_t)p[i] << 8 | p[i + 1];
    if (n & 1)
        acc += (uint32_t)p[n - 1] << 8;
    return acc;
}

static uint16_t fold(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)acc;
}

int vigil_checksum_verify(const vigil_packet *p)
{
    if ((p->ip_proto != 6 && p->ip_proto != 17) || !(p->flags & VIGIL_PKT_HAS_L4) ||
        (p->flags & (VIGIL_PKT_PAYLOAD_CUT | VIGIL_PKT_FRAGMENT)) || p->l3_hdr == NULL)
        return -1;
    const uint8_t *ip = p->l3_hdr;
    const uint8_t *l4;
    size_t l4len;
    uint32_t acc = 0;
    if (p->l3 == VIGIL_L3_IPV4) {
        size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
        if (ihl < 20 || ihl > p->l3_len)
            return -1;
        l4 = ip + ihl;
        l4len = p->l3_len - ihl;
        acc = sum16(acc, ip + 12, 8);
    } else if (p->l3 == VIGIL_L3_IPV6) {
        if (p->l3_len < 40 || ip[6] != p->ip_proto)
            return -1;          /* extension headers: not checked */
        l4 = ip + 40;
        l4len = p->l3_len - 40;
        acc = sum16(acc, ip + 8, 32);
    } else {
        return -1;
    }
    if (l4len < (p->ip_proto == 6 ? 20u : 8u))
        return -1;
    if (p->ip_proto == 17 && p->l3 == VIGIL_L3_IPV4 && l4[6] == 0 && l4[7] == 0)
        return 1;               /* UDP over IPv4 without a checksum */
    acc += p->ip_proto;
    acc += (uint32_t)l4len;
    acc = sum16(acc, l4, l4len);
    return fold(acc) == 0xffff ? 1 : 0;
}

int vigil_checksum_parse_mode(const char *s)
{
    if (strcmp(s, "off") == 0)
        return VIGIL_CHECKSUMS_OFF;
    if (strcmp(s, "on") == 0)
        return VIGIL_CHECKSUMS_ON;
    if (strcmp(s, "auto") == 0)
        return VIGIL_CHECKSUMS_AUTO;
    return -1;
}

int vigil_checksum_filter(struct vigil_checksum_state *cs, int dlt, const uint8_t *data,
                          uint32_t caplen, uint32_t wirelen)
{
    if (cs->mode == VIGIL_CHECKSUMS_OFF)
        return 1;
    vigil_packet pkt;
    enum vigil_decode_event ev = VIGIL_DEV_NONE;
    if (vigil_decode(dlt, data, caplen, wirelen < caplen ? caplen : wirelen, &pkt, &ev) !=
        VIGIL_DECODE_OK)
        return 1;               /* the engine counts it */
    int ok = vigil_checksum_verify(&pkt);
    if (ok < 0)
        return 1;
    if (cs->mode == VIGIL_CHECKSUMS_AUTO) {
        cs->sampled++;
        cs->sample_bad += ok == 0;
        if (cs->sampled >= VIGIL_CHECKSUM_SAMPLE) {
            int offload = cs->sample_bad * 10 > cs->sampled;
            cs->mode = offload ? VIGIL_CHECKSUMS_OFF : VIGIL_CHECKSUMS_ON;
            vigil_err("checksums auto: %llu of the first %llu TCP/UDP checksums are wrong; "
                      "%s", (unsigned long long)cs->sample_bad,
                      (unsigned long long)cs->sampled,
                      offload ? "offloaded capture, not verifying"
                              : "verifying from now on");
        }
        return 1;
    }
    if (ok == 0) {
        cs->dropped++;
        return 0;
    }
    return 1;
}
