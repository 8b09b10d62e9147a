/* embryo.c - a bounded table of TCP handshakes that have not completed. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "embryo.h"

/* Links are entry index + 1; 0 ends a list. */
struct pending {
    uint32_t hash_next;         /* bucket chain, or the free list */
    uint32_t older, newer;      /* age list, least recently active first */
    uint8_t cli_ip[4], srv_ip[4];
    uint16_t cli_port, srv_port;
    uint32_t cli_isn, srv_isn;  /* srv_isn only with a SYN-ACK */
    uint8_t has_synack;
    int64_t active_us;          /* packet time of the last SYN or SYN-ACK */
    struct vigil_embryo_segment syn, synack;
};

struct vigil_embryo {
    struct pending *e;          /* max entries, touched only as they are first used */
    uint32_t *buckets;
    size_t mask, max, count;
    uint32_t used;              /* entries ever handed out; the rest were never touched */
    uint32_t free_list;
    uint32_t oldest, newest;
    uint64_t k0, k1;
    struct vigil_embryo_counts *counts;
};

struct vigil_embryo *vigil_embryo_new(size_t max_pending, const uint8_t *key,
                                      struct vigil_embryo_counts *counts)
{
    if (max_pending == 0 || max_pending > UINT32_MAX / 2)
        return NULL;
    struct vigil_embryo *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    size_t n = 16;
    while (n < max_pending)
        n <<= 1;
    t->e = calloc(max_pending, sizeof *t->e);
    t->buckets = calloc(n, sizeof *t->buckets);
    uint8_t k[16] = { 0 };
    if (key)
        memcpy(k, key, sizeof k);
    else if (getrandom(k, sizeof k, 0) != (ssize_t)sizeof k)
        memcpy(k, &t, sizeof t < sizeof k ? sizeof t : sizeof k);  /* placement only */
    if (t->e == NULL || t->buckets == NULL) {
        vigil_embryo_free(t);
        return NULL;
    }
    memcpy(&t->k0, k, 8);
    memcpy(&t->k1, k + 8, 8);
    t->mask = n - 1;
    t->max = max_pending;
    t->counts = counts;
    return t;
}

void vigil_embryo_free(struct vigil_embryo *t)
{
    if (t) {
        free(t->e);
        free(t->buckets);
        free(t);
    }
}

size_t vigil_embryo_count(const struct vigil_embryo *t)
{
    return t->count;
}

/* ---- keyed hash: SipHash-1-3 over (lower endpoint, higher endpoint) ---- */

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                              \
    do {                                                                      \
        v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);             \
        v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                                \
        v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                                \
        v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);             \
    } while (0)

static uint64_t siphash13(const struct vigil_embryo *t, uint64_t m0, uint64_t m1)
{
    uint64_t v0 = t->k0 ^ 0x736f6d6570736575ULL, v1 = t->k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = t->k0 ^ 0x6c7967656e657261ULL, v3 = t->k1 ^ 0x7465646279746573ULL;
    v3 ^= m0;
    SIPROUND;
    v0 ^= m0;
    m1 |= (uint64_t)12 << 56;   /* message length in the last word */
    v3 ^= m1;
    SIPROUND;
    v0 ^= m1;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t endpoint(const uint8_t ip[4], uint16_t port)
{
    return (uint64_t)ip[0] << 40 | (uint64_t)ip[1] << 32 | (uint64_t)ip[2] << 24 |
           (uint64_t)ip[3] << 16 | port;
}

/* The same bucket from either direction. */
static size_t bucket_of(const struct vigil_embryo *t, const uint8_t a_ip[4], uint16_t a_port,
                        const uint8_t b_ip[4], uint16_t b_port)
{
    uint64_t a = endpoint(a_ip, a_port), b = endpoint(b_ip, b_port);
    uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
    /* 12 bytes: both addresses, then both ports. */
    uint64_t m0 = (lo >> 16) | (hi >> 16) << 32;
    uint64_t m1 = (lo & 0xffff) | (hi & 0xffff) << 16;
    return (size_t)siphash13(t, m0, m1) & t->mask;
}

/* ---- lists ------------------------------------------------------------- */

static struct pending *at(const struct vigil_embryo *t, uint32_t ref)
{
    return &t->e[ref - 1];
}

static void age_unlink(struct vigil_embryo *t, uint32_t ref)
{
    struct pending *p = at(t, ref);
    if (p->older)
        at(t, p->older)->newer = p->newer;
    else
        t->oldest = p->newer;
    if (p->newer)
        at(t, p->newer)->older = p->older;
    else
        t->newest = p->older;
    p->older = p->newer = 0;
}

/* Most recently active now: last in line for eviction and expiry. */
static void touch(struct vigil_embryo *t, uint32_t ref, int64_t now_us)
{
    struct pending *p = at(t, ref);
    if (t->newest != ref) {
        if (t->oldest == ref || p->older || p->newer)
            age_unlink(t, ref);
        p->older = t->newest;
        if (t->newest)
            at(t, t->newest)->newer = ref;
        else
            t->oldest = ref;
        t->newest = ref;
    }
    p->active_us = now_us;
}

static void drop(struct vigil_embryo *t, uint32_t ref)
{
    struct pending *p = at(t, ref);
    uint32_t *link = &t->buckets[bucket_of(t, p->cli_ip, p->cli_port, p->srv_ip, p->srv_port)];
    while (*link != ref)
        link = &at(t, *link)->hash_next;
    *link = p->hash_next;
    age_unlink(t, ref);
    p->hash_next = t->free_list;
    t->free_list = ref;
    t->count--;
    t->counts->pending--;
}

static void expire(struct vigil_embryo *t, int64_t now_us)
{
    while (t->oldest) {
        const struct pending *p = at(t, t->oldest);
        if (now_us < p->active_us ||
            (uint64_t)now_us - (uint64_t)p->active_us < (uint64_t)VIGIL_EMBRYO_LIFETIME_US)
            return;
        drop(t, t->oldest);
        t->counts->expired++;
    }
}

/* The pending handshake of this packet's connection; *from_client tells the side. */
static uint32_t find(const struct vigil_embryo *t, const vigil_packet *pkt, int *from_client)
{
    const uint8_t *s = pkt->src.bytes, *d = pkt->dst.bytes;
    uint32_t ref = t->buckets[bucket_of(t, s, pkt->sport, d, pkt->dport)];
    for (; ref; ref = at(t, ref)->hash_next) {
        const struct pending *p = at(t, ref);
        if (p->cli_port == pkt->sport && p->srv_port == pkt->dport &&
            memcmp(p->cli_ip, s, 4) == 0 && memcmp(p->srv_ip, d, 4) == 0) {
            *from_client = 1;
            return ref;
        }
        if (p->cli_port == pkt->dport && p->srv_port == pkt->sport &&
            memcmp(p->cli_ip, d, 4) == 0 && memcmp(p->srv_ip, s, 4) == 0) {
            *from_client = 0;
            return ref;
        }
    }
    return 0;
}

/* Unfragmented IPv4 TCP with its whole header: what the table acts on. */
static int eligible(const vigil_packet *pkt)
{
    return pkt->l3 == VIGIL_L3_IPV4 && pkt->ip_proto == 6 &&
           (pkt->flags & VIGIL_PKT_HAS_L4) && !(pkt->flags & VIGIL_PKT_FRAGMENT) &&
           pkt->l3_hdr != NULL;
}

/* Copy the IPv4 and TCP headers, total length set to them; 0 if they are
 * not both whole within the datagram. */
static int keep_headers(struct vigil_embryo_segment *seg, const vigil_packet *pkt)
{
    const uint8_t *ip = pkt->l3_hdr;
    if (pkt->l3_len < 40)
        return 0;
    uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
    if ((ip[0] >> 4) != 4 || ihl < 20 || ihl + 20 > pkt->l3_len)
        return 0;
    uint32_t doff = (uint32_t)(ip[ihl + 12] >> 4) * 4;
    if (doff < 20 || ihl + doff > pkt->l3_len)
        return 0;
    seg->len = ihl + doff;      /* at most 120 */
    seg->ts_us = pkt->ts_us;
    memcpy(seg->bytes, ip, seg->len);
    /* A SYN's payload is ignored by libnids; checksums are not verified. */
    seg->bytes[2] = (uint8_t)(seg->len >> 8);
    seg->bytes[3] = (uint8_t)seg->len;
    return 1;
}

/* ---- the handshake ----------------------------------------------------- */

static enum vigil_embryo_verdict new_handshake(struct vigil_embryo *t, const vigil_packet *pkt)
{
    struct vigil_embryo_segment syn;
    if (!keep_headers(&syn, pkt))
        return VIGIL_EMBRYO_PASS;
    if (t->count >= t->max) {
        drop(t, t->oldest);
        t->counts->evicted++;
    }
    uint32_t ref;
    if (t->free_list) {
        ref = t->free_list;
        t->free_list = at(t, ref)->hash_next;
    } else {
        ref = ++t->used;
    }
    struct pending *p = at(t, ref);
    memcpy(p->cli_ip, pkt->src.bytes, 4);
    memcpy(p->srv_ip, pkt->dst.bytes, 4);
    p->cli_port = pkt->sport;
    p->srv_port = pkt->dport;
    p->cli_isn = pkt->tcp_seq;
    p->has_synack = 0;
    p->syn = syn;
    p->older = p->newer = 0;
    uint32_t *b = &t->buckets[bucket_of(t, p->cli_ip, p->cli_port, p->srv_ip, p->srv_port)];
    p->hash_next = *b;
    *b = ref;
    touch(t, ref, pkt->ts_us);
    t->count++;
    t->counts->held++;
    t->counts->pending++;
    return VIGIL_EMBRYO_HOLD;
}

static enum vigil_embryo_verdict syn(struct vigil_embryo *t, const vigil_packet *pkt,
                                     uint32_t ref, int from_client)
{
    struct pending *p = at(t, ref);
    if (!from_client)
        return VIGIL_EMBRYO_HOLD;       /* the server's own SYN: libnids ignores it */
    if (!keep_headers(&p->syn, pkt))
        return VIGIL_EMBRYO_PASS;
    if (pkt->tcp_seq != p->cli_isn) {
        p->cli_isn = pkt->tcp_seq;
        p->has_synack = 0;              /* it acknowledged the old SYN */
    }
    touch(t, ref, pkt->ts_us);
    return VIGIL_EMBRYO_HOLD;
}

static enum vigil_embryo_verdict synack(struct vigil_embryo *t, const vigil_packet *pkt,
                                        uint32_t ref)
{
    struct pending *p = at(t, ref);
    if (pkt->tcp_ack != p->cli_isn + 1)
        return VIGIL_EMBRYO_PASS;       /* libnids ignores it too */
    if (!p->has_synack) {
        if (!keep_headers(&p->synack, pkt))
            return VIGIL_EMBRYO_PASS;
        p->has_synack = 1;
        p->srv_isn = pkt->tcp_seq;
    }
    /* A repeated SYN-ACK is dropped: libnids keeps the first one. */
    touch(t, ref, pkt->ts_us);
    return VIGIL_EMBRYO_HOLD;
}

enum vigil_embryo_verdict vigil_embryo_packet(struct vigil_embryo *t, const vigil_packet *pkt,
                                              int tracked, struct vigil_embryo_release *rel)
{
    expire(t, pkt->ts_us);
    if (!eligible(pkt))
        return VIGIL_EMBRYO_PASS;
    uint8_t f = pkt->tcp_flags;
    int from_client = 0;
    uint32_t ref = t->count ? find(t, pkt, &from_client) : 0;
    if (f & VIGIL_TCP_SYN) {
        if (!(f & (VIGIL_TCP_ACK | VIGIL_TCP_RST))) {
            if (ref)
                return syn(t, pkt, ref, from_client);
            return tracked ? VIGIL_EMBRYO_PASS : new_handshake(t, pkt);
        }
        if ((f & VIGIL_TCP_ACK) && ref && !from_client)
            return synack(t, pkt, ref);
        return VIGIL_EMBRYO_PASS;
    }
    if (!ref)
        return VIGIL_EMBRYO_PASS;
    struct pending *p = at(t, ref);
    if (f & VIGIL_TCP_RST) {
        int accepted = from_client ? pkt->tcp_seq == p->cli_isn + 1
                                   : (f & VIGIL_TCP_ACK) && pkt->tcp_ack == p->cli_isn + 1;
        if (accepted) {
            drop(t, ref);
            t->counts->reset++;
        }
        return VIGIL_EMBRYO_PASS;
    }
    if (from_client && (f & VIGIL_TCP_ACK) && p->has_synack &&
        pkt->tcp_ack == p->srv_isn + 1) {
        rel->syn = p->syn;
        rel->synack = p->synack;
        drop(t, ref);
        t->counts->completed++;
        return VIGIL_EMBRYO_RELEASE;
    }
    return VIGIL_EMBRYO_PASS;
}
