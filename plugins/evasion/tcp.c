/*
 * tcp.c - a thin TCP observer in front of libnids. Per flow direction it
 * remembers the highest sequence number seen and the last history_bytes of
 * payload (a ring indexed by sequence number, with a bitmap of the bytes
 * actually seen). A segment that lands on bytes already seen is compared
 * with them: different bytes mean the endpoint and any reassembler may
 * pick different data (Ptacek & Newsham insertion/evasion). The in-order
 * common case costs one copy into the ring.
 *
 * Also: an RST whose sequence number is not the sender's next one,
 * followed by more data from that sender (the endpoint ignored the RST;
 * libnids did not), and an urgent pointer inside the payload (the urgent
 * byte is in or out of the stream depending on the receiver's settings).
 */
#include "evasion.h"

#include <stdlib.h>
#include <string.h>

struct tcp_dir {
    uint32_t hi;                /* next expected seq: highest end seen */
    uint32_t rst_seq;
    uint32_t odd_lo, odd_hi;    /* last payload range sent with an odd TTL */
    uint8_t init, ttl, rst_pending, odd_valid, odd_ttl, fin, closed;
    uint8_t *ring;              /* history bytes, then history/8 bitmap bytes */
};

struct tcp_flow {
    vigil_addr side0;
    uint16_t side0_port;
    uint8_t urgent_reported;
    struct tcp_dir d[2];
};

static int seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static uint32_t seq_max(uint32_t a, uint32_t b)
{
    return seq_lt(a, b) ? b : a;
}

static uint32_t seq_min(uint32_t a, uint32_t b)
{
    return seq_lt(a, b) ? a : b;
}

static size_t ring_bytes(const struct evasion *ev)
{
    return (size_t)ev->cfg.history_bytes + (size_t)ev->cfg.history_bytes / 8;
}

void tcp_state_free(struct evasion *ev, void *state)
{
    struct tcp_flow *f = state;
    for (int i = 0; i < 2; i++) {
        if (f->d[i].ring) {
            free(f->d[i].ring);
            ev->tcp_mem -= (int64_t)ring_bytes(ev);
        }
    }
    free(f);
    ev->tcp_mem -= (int64_t)sizeof *f;
}

static struct tcp_flow *flow_get(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p)
{
    struct tcp_flow *f = ev->host->flow_state(ctx);
    if (f)
        return f;
    if (ev->tcp_mem + (int64_t)sizeof *f > ev->cfg.memcap_bytes) {
        ev->stats.tcp_untracked++;
        return NULL;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    if (ev->host->set_flow_state(ctx, f) != VIGIL_OK) {
        free(f);
        return NULL;
    }
    ev->tcp_mem += (int64_t)sizeof *f;
    ev->stats.tcp_tracked++;
    f->side0 = p->src;
    f->side0_port = p->sport;
    return f;
}

static struct tcp_dir *dir_of(struct tcp_flow *f, const vigil_packet *p)
{
    int fwd = f->side0_port == p->sport && f->side0.family == p->src.family
              && memcmp(f->side0.bytes, p->src.bytes, ev_addr_len(&p->src)) == 0;
    return &f->d[fwd ? 0 : 1];
}

/* ---- the history ring ------------------------------------------------ */

static uint8_t *bitmap(const struct evasion *ev, const struct tcp_dir *d)
{
    return d->ring + ev->cfg.history_bytes;
}

/* Set or clear bits [lo, lo+n) of a bitmap, n within one pass of the ring. */
static void bits_linear(uint8_t *bm, uint32_t lo, uint32_t n, int value)
{
    while (n > 0 && (lo & 7) != 0) {
        bm[lo >> 3] = value ? (uint8_t)(bm[lo >> 3] | 1u << (lo & 7))
                            : (uint8_t)(bm[lo >> 3] & ~(1u << (lo & 7)));
        lo++, n--;
    }
    if (n >= 8) {
        memset(bm + (lo >> 3), value ? 0xff : 0, n >> 3);
        lo += n & ~7u;
        n &= 7;
    }
    while (n > 0) {
        bm[lo >> 3] = value ? (uint8_t)(bm[lo >> 3] | 1u << (lo & 7))
                            : (uint8_t)(bm[lo >> 3] & ~(1u << (lo & 7)));
        lo++, n--;
    }
}

/* The same over the ring: the range may wrap once. */
static void bits_range(const struct evasion *ev, struct tcp_dir *d, uint32_t seq, uint32_t n,
                       int value)
{
    uint32_t w = (uint32_t)ev->cfg.history_bytes;
    if (n >= w) {
        memset(bitmap(ev, d), value ? 0xff : 0, w / 8);
        return;
    }
    uint32_t slot = seq & (w - 1), first = w - slot < n ? w - slot : n;
    bits_linear(bitmap(ev, d), slot, first, value);
    bits_linear(bitmap(ev, d), 0, n - first, value);
}

static int bit_test(const struct evasion *ev, const struct tcp_dir *d, uint32_t seq)
{
    uint32_t slot = seq & (uint32_t)(ev->cfg.history_bytes - 1);
    return (bitmap(ev, d)[slot >> 3] >> (slot & 7)) & 1;
}

/* Copy new in-window bytes [seq, seq+n) into the ring (n < history). */
static void ring_write(const struct evasion *ev, struct tcp_dir *d, uint32_t seq,
                       const uint8_t *data, uint32_t n)
{
    uint32_t w = (uint32_t)ev->cfg.history_bytes;
    uint32_t slot = seq & (w - 1), first = w - slot < n ? w - slot : n;
    memcpy(d->ring + slot, data, first);
    memcpy(d->ring, data + first, n - first);
    bits_range(ev, d, seq, n, 1);
}

/*
 * Compare [s, s+n) with what the ring holds below d->hi and fill the
 * holes; returns the number of bytes that differ. The first copy wins, as
 * the later conflicting one is the suspect either way.
 */
static uint32_t ring_compare_fill(const struct evasion *ev, struct tcp_dir *d, uint32_t s,
                                  const uint8_t *data, uint32_t n)
{
    uint32_t w = (uint32_t)ev->cfg.history_bytes;
    uint32_t lo = seq_max(s, d->hi - w), end = seq_min(s + n, d->hi), diff = 0;
    for (uint32_t q = lo; seq_lt(q, end); q++) {
        uint32_t slot = q & (w - 1);
        uint8_t b = data[q - s];
        if (bit_test(ev, d, q)) {
            diff += d->ring[slot] != b;
        } else {
            d->ring[slot] = b;
            bits_linear(bitmap(ev, d), slot, 1, 1);
        }
    }
    return diff;
}

/* Move hi forward to new_hi, writing [from, new_hi) of the segment. */
static void ring_advance(const struct evasion *ev, struct tcp_dir *d, uint32_t s,
                         const uint8_t *data, uint32_t ncap, uint32_t new_hi)
{
    uint32_t w = (uint32_t)ev->cfg.history_bytes;
    uint32_t gap = new_hi - d->hi;
    uint32_t from = seq_max(seq_max(s, d->hi), new_hi - w);
    uint32_t cap_end = s + ncap;
    /* The slots of [hi, new_hi) held bytes now out of the window; the
     * in-order case overwrites them all, so only a gap needs clearing. */
    if (from != d->hi || cap_end != new_hi)
        bits_range(ev, d, d->hi, gap, 0);
    if (seq_lt(from, cap_end))
        ring_write(ev, d, from, data + (from - s), seq_min(cap_end, new_hi) - from);
}

static int f_closed(const struct tcp_dir *d)
{
    return d->closed;
}

static void ring_drop(struct evasion *ev, struct tcp_dir *d)
{
    if (d->ring) {
        free(d->ring);
        d->ring = NULL;
        ev->tcp_mem -= (int64_t)ring_bytes(ev);
    }
    d->closed = 1;
}

static int ring_alloc(struct evasion *ev, struct tcp_dir *d)
{
    if (d->ring)
        return 1;
    size_t n = ring_bytes(ev);
    if (ev->tcp_mem + (int64_t)n > ev->cfg.memcap_bytes) {
        ev->stats.tcp_memcap_refusals++;
        return 0;
    }
    if (f_closed(d))
        return 0;
    /* only the bitmap needs zeroing: a byte is read only where its bit is set */
    d->ring = malloc(n);
    if (d->ring == NULL)
        return 0;
    memset(d->ring + ev->cfg.history_bytes, 0, n - (size_t)ev->cfg.history_bytes);
    ev->tcp_mem += (int64_t)n;
    return 1;
}

/* ---- evidence ---------------------------------------------------------- */

static void report(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p,
                   enum technique_id tq, uint32_t bytes, uint8_t ttl_usual)
{
    struct evidence e;
    memset(&e, 0, sizeof e);
    e.tq = tq;
    e.src = p->src;
    e.dst = p->dst;
    e.sport = p->sport;
    e.dport = p->dport;
    e.ip_proto = 6;
    e.bytes = bytes;
    e.ttl_seen = p->ttl;
    e.ttl_usual = ttl_usual;
    report_add(ev, ctx, &e);
}

static int ttl_odd(const struct evasion *ev, const struct tcp_dir *d, uint8_t ttl)
{
    int delta = (int)ttl - (int)d->ttl;
    return delta >= ev->cfg.ttl_delta || -delta >= ev->cfg.ttl_delta;
}

static void conflict(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p,
                     struct tcp_dir *d, uint32_t s, uint32_t e, uint32_t diff)
{
    int odd_here = ttl_odd(ev, d, p->ttl);
    int odd_before = d->odd_valid && seq_lt(d->odd_lo, e) && seq_lt(s, d->odd_hi);
    if (odd_here || odd_before) {
        report(ev, ctx, p, TQ_TCP_LOW_TTL, diff, d->ttl);
        return;
    }
    report(ev, ctx, p, TQ_TCP_OVERLAP, diff, d->ttl);
}

/* Data segment [s, s+len) of which ncap bytes were captured. */
static void data_segment(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p,
                         struct tcp_dir *d, uint32_t s, uint32_t len)
{
    uint32_t ncap = p->payload_len < len ? p->payload_len : len;
    uint32_t e = s + len;
    if (ttl_odd(ev, d, p->ttl)) {
        d->odd_valid = 1, d->odd_lo = s, d->odd_hi = e, d->odd_ttl = p->ttl;
    }
    /* A keep-alive repeats the last byte with arbitrary contents. */
    if (len == 1 && s == d->hi - 1)
        return;
    if (!ring_alloc(ev, d)) {
        if (seq_lt(d->hi, e))
            d->hi = e;
        return;
    }
    if (seq_lt(s, d->hi) && ncap > 0) {
        uint32_t diff = ring_compare_fill(ev, d, s, p->payload, seq_min(s + ncap, d->hi) - s);
        if (diff)
            conflict(ev, ctx, p, d, s, e, diff);
    }
    if (seq_lt(d->hi, e)) {
        ring_advance(ev, d, s, p->payload, ncap, e);
        d->hi = e;
    }
}

/* Urgent pointer (IPv4 only: the TCP header is found from the IP header). */
static void urgent(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p,
                   struct tcp_flow *f)
{
    if (p->l3 != VIGIL_L3_IPV4 || p->l3_hdr == NULL || p->l3_len < 20 || f->urgent_reported)
        return;
    uint32_t ihl = (uint32_t)(p->l3_hdr[0] & 0x0f) * 4;
    if (ihl < 20 || (uint64_t)ihl + 20 > p->l3_len)
        return;
    const uint8_t *tcp = p->l3_hdr + ihl;
    uint32_t urp = (uint32_t)tcp[18] << 8 | tcp[19];
    if (urp > 0 && urp <= p->payload_wire_len) {
        f->urgent_reported = 1;
        report(ev, ctx, p, TQ_TCP_URGENT, 1, 0);
    }
}

static void first_packet(struct tcp_dir *d, const vigil_packet *p, uint32_t len)
{
    d->init = 1;
    d->ttl = p->ttl;
    d->hi = p->tcp_seq + len + ((p->tcp_flags & VIGIL_TCP_SYN) ? 1 : 0)
            + ((p->tcp_flags & VIGIL_TCP_FIN) ? 1 : 0);
}

void tcp_observe(struct evasion *ev, vigil_ctx *ctx, const vigil_packet *p)
{
    uint8_t fl = p->tcp_flags;
    uint32_t len = p->payload_wire_len;
    /* Pure ACKs tell nothing here: the common case stops at this test. */
    if (len == 0 && (fl & (VIGIL_TCP_SYN | VIGIL_TCP_FIN | VIGIL_TCP_RST)) == 0)
        return;
    struct tcp_flow *f = flow_get(ev, ctx, p);
    if (f == NULL)
        return;
    struct tcp_dir *d = dir_of(f, p);
    if (!d->init) {
        first_packet(d, p, 0);
        if (len > 0 && !(fl & VIGIL_TCP_SYN)) {
            /* midstream: this is the first data we know of, nothing to compare */
            d->hi = p->tcp_seq;
            data_segment(ev, ctx, p, d, p->tcp_seq, len);
        }
        return;
    }
    if (fl & VIGIL_TCP_RST) {
        if (p->tcp_seq != d->hi && !(fl & VIGIL_TCP_SYN))
            d->rst_pending = 1, d->rst_seq = p->tcp_seq;
        return;
    }
    if (d->rst_pending && (len > 0 || (fl & VIGIL_TCP_FIN))) {
        d->rst_pending = 0;
        report(ev, ctx, p, TQ_TCP_RST_SEQ, 0, d->ttl);
    }
    uint32_t s = p->tcp_seq + ((fl & VIGIL_TCP_SYN) ? 1 : 0);
    if (len > 0) {
        if (fl & VIGIL_TCP_URG)
            urgent(ev, ctx, p, f);
        data_segment(ev, ctx, p, d, s, len);
    }
    if ((fl & VIGIL_TCP_FIN) && seq_lt(d->hi, s + len + 1)) {
        if (d->ring) /* the FIN's sequence number holds no byte */
            bits_range(ev, d, d->hi, s + len + 1 - d->hi, 0);
        d->hi = s + len + 1;
    }
    if (fl & VIGIL_TCP_FIN)
        d->fin = 1;
    /* Both sides closed: the histories go (most flows end here, which keeps
     * memory to the open flows); later data is still checked for RSTs. */
    if (f->d[0].fin && f->d[1].fin && !f->d[0].closed) {
        ring_drop(ev, &f->d[0]);
        ring_drop(ev, &f->d[1]);
    }
}
