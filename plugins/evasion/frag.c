/*
 * frag.c - IP fragment bookkeeping, IPv4 and IPv6. Per datagram (source,
 * destination, protocol, id) it keeps the byte ranges seen and a hash of
 * each range's data. Reported, once per datagram each:
 *  - overlapping fragments: a partial overlap (no sender fragments that
 *    way), or the same range again with different bytes (an exact copy is
 *    a network duplicate and stays silent);
 *  - a tiny first fragment, shorter than the transport header (the ports
 *    and flags travel in a later fragment: nmap -f, RFC 1858);
 *  - a non-last fragment whose length is not a multiple of 8 (RFC 791);
 *  - more than max_fragments fragments.
 * Datagrams live in a fixed ring: the oldest is replaced when full, and a
 * datagram older than frag_timeout_sec starts afresh.
 */
#include "evasion.h"
#include "vgp.h"

#include <stdlib.h>
#include <string.h>

#include "cursor.h"

#define MAX_RANGES 16

struct frag_range {
    uint16_t off;
    uint32_t end;
    uint64_t hash;
};

struct datagram {
    int used;
    uint8_t family, proto, reported; /* reported: bit per technique - TQ_FRAG_OVERLAP */
    vigil_addr src, dst;
    uint32_t id;
    int64_t first_us;
    uint32_t nfrags, nranges;
    struct frag_range r[MAX_RANGES];
    int32_t next;
};

struct frag_table {
    struct datagram *slots;
    uint32_t cap, head;
    int32_t *buckets;
    uint32_t nbuckets;
};

/* What one fragment says about itself. */
struct frag_info {
    uint32_t id, off, len;      /* len: data bytes claimed by the header */
    int more;
    const uint8_t *data;
    uint32_t cap;               /* data bytes captured */
};

struct frag_table *frag_new(int64_t max_datagrams)
{
    struct frag_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->cap = (uint32_t)max_datagrams;
    t->slots = calloc(t->cap, sizeof *t->slots);
    t->buckets = vgp_buckets_new(t->cap, &t->nbuckets);
    if (t->slots == NULL || t->buckets == NULL) {
        frag_free(t);
        return NULL;
    }
    return t;
}

void frag_free(struct frag_table *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t->buckets);
    free(t);
}

/* ---- parsing the fragment header (bounds-checked) ---------------------- */

static int info_ipv4(const vigil_packet *p, struct frag_info *fi)
{
    vg_cursor c = vg_cursor_make(p->l3_hdr, p->l3_len);
    uint32_t ihl = (uint32_t)(vg_u8(&c) & 0x0f) * 4;
    vg_skip(&c, 1);
    uint32_t total = vg_be16(&c);
    fi->id = vg_be16(&c);
    uint16_t frag = vg_be16(&c);
    if (c.bad || ihl < 20 || total < ihl || ihl > p->l3_len)
        return 0;
    fi->more = (frag & 0x2000) != 0;
    fi->off = (uint32_t)(frag & 0x1fff) * 8;
    fi->len = total - ihl;
    fi->data = p->l3_hdr + ihl;
    fi->cap = (total < p->l3_len ? total : p->l3_len) - ihl;
    return 1;
}

static int ipv6_ext(uint8_t nxt)
{
    return nxt == 0 || nxt == 43 || nxt == 60 || nxt == 51 || nxt == 44;
}

static int info_ipv6(const vigil_packet *p, struct frag_info *fi)
{
    vg_cursor c = vg_cursor_make(p->l3_hdr, p->l3_len);
    vg_skip(&c, 4);
    uint32_t plen = vg_be16(&c);
    uint8_t nxt = vg_u8(&c);
    vg_skip(&c, 33); /* hop limit, addresses */
    for (int i = 0; i < 16 && !c.bad && ipv6_ext(nxt); i++) {
        size_t at = c.off;
        uint8_t next = vg_u8(&c), hlen = vg_u8(&c);
        if (nxt == 44) {
            uint16_t offlg = vg_be16(&c);
            fi->id = vg_be32(&c);
            if (c.bad || 40 + plen < c.off)
                return 0;
            fi->more = offlg & 1;
            fi->off = offlg & 0xfff8u;
            fi->len = 40 + plen - (uint32_t)c.off;
            fi->data = vg_here(&c);
            fi->cap = (uint32_t)vg_left(&c) < fi->len ? (uint32_t)vg_left(&c) : fi->len;
            return 1;
        }
        size_t n = nxt == 51 ? ((size_t)hlen + 2) * 4 : ((size_t)hlen + 1) * 8;
        vg_skip(&c, at + n - c.off);
        nxt = next;
    }
    return 0;
}

/* ---- the datagram table ------------------------------------------------- */

static uint64_t dgram_hash(const vigil_packet *p, uint32_t id)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ p->ip_proto;
    h = ev_hash_bytes(h, p->src.bytes, ev_addr_len(&p->src));
    h = ev_hash_bytes(h, p->dst.bytes, ev_addr_len(&p->dst));
    return ev_hash_bytes(h, (const uint8_t *)&id, sizeof id);
}

static int dgram_match(const struct datagram *g, const vigil_packet *p, uint32_t id)
{
    size_t n = ev_addr_len(&p->src);
    return g->id == id && g->proto == p->ip_proto && g->family == p->src.family
           && memcmp(g->src.bytes, p->src.bytes, n) == 0
           && memcmp(g->dst.bytes, p->dst.bytes, n) == 0;
}

static void unlink_slot(struct frag_table *t, int32_t idx, uint64_t h)
{
    int32_t *pp = &t->buckets[h & (t->nbuckets - 1)];
    while (*pp >= 0 && *pp != idx)
        pp = &t->slots[*pp].next;
    if (*pp == idx)
        *pp = t->slots[idx].next;
}

static uint64_t slot_hash(const struct datagram *g)
{
    vigil_packet k;
    memset(&k, 0, sizeof k);
    k.src = g->src;
    k.dst = g->dst;
    k.ip_proto = g->proto;
    return dgram_hash(&k, g->id);
}

static struct datagram *dgram_get(struct evasion *ev, const vigil_packet *p, uint32_t id)
{
    struct frag_table *t = ev->frags;
    uint64_t h = dgram_hash(p, id);
    int32_t *b = &t->buckets[h & (t->nbuckets - 1)];
    for (int32_t i = *b; i >= 0; i = t->slots[i].next) {
        struct datagram *g = &t->slots[i];
        if (!dgram_match(g, p, id))
            continue;
        if (ev->now_us - g->first_us > ev->cfg.frag_timeout_us) {
            /* expired: the same id reused later is a new datagram */
            g->nfrags = g->nranges = 0;
            g->reported = 0;
            g->first_us = ev->now_us;
        }
        return g;
    }
    int32_t idx = (int32_t)t->head;
    struct datagram *g = &t->slots[idx];
    if (g->used) {
        unlink_slot(t, idx, slot_hash(g));
        ev->stats.frag_evicted++;
    }
    t->head = (t->head + 1) % t->cap;
    memset(g, 0, sizeof *g);
    g->used = 1;
    g->family = p->src.family;
    g->proto = p->ip_proto;
    g->src = p->src;
    g->dst = p->dst;
    g->id = id;
    g->first_us = ev->now_us;
    g->next = *b;
    *b = idx;
    return g;
}

/* ---- checks -------------------------------------------------------------- */

static void report(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p,
                   struct datagram *g, enum technique_id tq, uint32_t bytes)
{
    unsigned bit = 1u << (tq - TQ_FRAG_OVERLAP);
    if (g->reported & bit)
        return;
    g->reported |= (uint8_t)bit;
    struct evidence e;
    memset(&e, 0, sizeof e);
    e.tq = tq;
    e.src = p->src;
    e.dst = p->dst;
    e.ip_proto = p->ip_proto;
    e.bytes = bytes;
    if (p->flags & VIGIL_PKT_HAS_L4)
        e.sport = p->sport, e.dport = p->dport;
    report_add(ev, ctx, &e);
}

/* The smallest header of the protocols whose ports or flags a filter reads. */
static uint32_t l4_min_header(uint8_t proto)
{
    switch (proto) {
    case 6: return 20;
    case 17: case 1: case 58: return 8;
    default: return 0;
    }
}

/* Overlap with a range already seen; 0 when none or an exact duplicate. */
static uint32_t overlap_bytes(const struct datagram *g, uint32_t off, uint32_t end, uint64_t h)
{
    for (uint32_t i = 0; i < g->nranges; i++) {
        const struct frag_range *r = &g->r[i];
        uint32_t lo = off > r->off ? off : r->off, hi = end < r->end ? end : r->end;
        if (lo >= hi)
            continue;
        if (r->off == off && r->end == end && r->hash == h)
            continue;
        return hi - lo;
    }
    return 0;
}

void frag_observe(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p)
{
    struct frag_info fi;
    memset(&fi, 0, sizeof fi);
    if (p->l3_hdr == NULL)
        return;
    int ok = p->l3 == VIGIL_L3_IPV4 ? info_ipv4(p, &fi) : info_ipv6(p, &fi);
    if (!ok)
        return;
    struct datagram *g = dgram_get(ev, p, fi.id);
    g->nfrags++;
    uint32_t end = fi.off + fi.len;
    uint64_t h = ev_hash_bytes(0xcbf29ce484222325ULL ^ fi.len, fi.data, fi.cap);

    if (fi.more && (fi.len & 7) != 0)
        report(ev, ctx, p, g, TQ_FRAG_MISALIGNED, fi.len);
    uint32_t need = l4_min_header(p->ip_proto);
    if (fi.off == 0 && fi.more && fi.len < need)
        report(ev, ctx, p, g, TQ_FRAG_TINY, fi.len);
    uint32_t ob = overlap_bytes(g, fi.off, end, h);
    if (ob)
        report(ev, ctx, p, g, TQ_FRAG_OVERLAP, ob);
    if (g->nfrags > (uint32_t)ev->cfg.max_frags)
        report(ev, ctx, p, g, TQ_FRAG_EXCESSIVE, 0);
    if (g->nranges < MAX_RANGES)
        g->r[g->nranges++] = (struct frag_range){ (uint16_t)fi.off, end, h };
}
