/* fragbudget.c - a fixed table of the datagrams libnids is reassembling. */
#include <stdlib.h>
#include <string.h>

#include "fragbudget.h"

#define FRAG_LIFETIME_US (30 * 1000000LL)  /* libnids' IPFRAG_TIME */
#define FRAG_PROBES 16

struct slot {
    uint8_t used;
    uint8_t proto;
    uint16_t id;
    uint8_t src[4], dst[4];
    uint32_t fed;               /* fragment bytes handed over */
    uint32_t end;               /* datagram length, once the last fragment came */
    int64_t first_us, first_wall_us;
};

struct vigil_fragbudget {
    struct slot *slots;
    size_t mask, count, max;
};

struct vigil_fragbudget *vigil_fragbudget_new(size_t max_datagrams)
{
    struct vigil_fragbudget *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    size_t n = 16;
    while (n < 2 * max_datagrams)
        n <<= 1;
    b->slots = calloc(n, sizeof *b->slots);
    if (b->slots == NULL) {
        free(b);
        return NULL;
    }
    b->mask = n - 1;
    b->max = max_datagrams;
    return b;
}

void vigil_fragbudget_free(struct vigil_fragbudget *b)
{
    if (b) {
        free(b->slots);
        free(b);
    }
}

size_t vigil_fragbudget_count(const struct vigil_fragbudget *b)
{
    return b->count;
}

static size_t slot_hash(const vigil_packet *p, uint8_t proto)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const uint8_t parts[] = { p->src.bytes[0], p->src.bytes[1], p->src.bytes[2],
                              p->src.bytes[3], p->dst.bytes[0], p->dst.bytes[1],
                              p->dst.bytes[2], p->dst.bytes[3], (uint8_t)(p->ip_id >> 8),
                              (uint8_t)p->ip_id, proto };
    for (size_t i = 0; i < sizeof parts; i++)
        h = (h ^ parts[i]) * 0x100000001b3ULL;
    return (size_t)(h ^ (h >> 32));
}

static int same(const struct slot *s, const vigil_packet *p, uint8_t proto)
{
    return s->used && s->proto == proto && s->id == p->ip_id &&
           memcmp(s->src, p->src.bytes, 4) == 0 && memcmp(s->dst, p->dst.bytes, 4) == 0;
}

static int expired(const struct slot *s, const vigil_packet *p, int64_t wall_us)
{
    return p->ts_us - s->first_us >= FRAG_LIFETIME_US &&
           wall_us - s->first_wall_us >= FRAG_LIFETIME_US;
}

static void release(struct vigil_fragbudget *b, struct slot *s)
{
    memset(s, 0, sizeof *s);
    b->count--;
}

/* Account the fragment to its datagram; release it once complete. */
static void account(struct vigil_fragbudget *b, struct slot *s, const vigil_packet *p)
{
    s->fed += p->payload_len;
    int more_fragments = (p->l3_hdr[6] & 0x20) != 0;
    if (!more_fragments)
        s->end = (uint32_t)p->frag_offset + p->payload_len;
    if (s->end && s->fed >= s->end)
        release(b, s);
}

int vigil_fragbudget_admit(struct vigil_fragbudget *b, const vigil_packet *p, int64_t wall_us)
{
    uint8_t proto = p->l3_hdr[9];
    size_t h = slot_hash(p, proto);
    struct slot *free_slot = NULL;
    for (size_t i = 0; i < FRAG_PROBES; i++) {
        struct slot *s = &b->slots[(h + i) & b->mask];
        if (same(s, p, proto)) {
            account(b, s, p);
            return 1;
        }
        if (s->used && expired(s, p, wall_us))
            release(b, s);
        if (!s->used && free_slot == NULL)
            free_slot = s;
    }
    if (free_slot == NULL || b->count >= b->max)
        return 0;
    free_slot->used = 1;
    free_slot->proto = proto;
    free_slot->id = p->ip_id;
    memcpy(free_slot->src, p->src.bytes, 4);
    memcpy(free_slot->dst, p->dst.bytes, 4);
    free_slot->first_us = p->ts_us;
    free_slot->first_wall_us = wall_us;
    b->count++;
    account(b, free_slot, p);
    return 1;
}
