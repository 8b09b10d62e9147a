/*
 * report.c - turn evidence into alerts: one alert per (attacker, target,
 * technique) per alert interval, carrying counts. Evidence for a key is
 * gathered until it has been quiet for settle_sec (or max_delay_sec after
 * the first piece, or the end of input), so the alert holds the whole
 * burst. Reports live in a fixed ring in insertion order: the oldest is
 * replaced when the ring is full, and alerts go out in insertion order,
 * never hash order.
 */
#include "evasion.h"
#include "vgp.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TARGETS 16

struct report {
    int used, alerted;
    enum technique_id tq;
    vigil_addr src, dst;        /* the key; dst is empty for per-source reports */
    vigil_addr target;          /* what the alert names: the first target */
    uint16_t sport, dport;
    uint8_t ip_proto, ttl_seen, ttl_usual;
    uint64_t events, bytes, pending;
    int64_t first_us, last_us, pending_since_us, last_alert_us;
    uint32_t target_hash[MAX_TARGETS];
    uint32_t ntargets;          /* distinct, saturates at MAX_TARGETS */
    int32_t next;               /* hash chain */
};

struct report_table {
    struct report *slots;
    uint32_t cap, head;         /* head: where the next new report goes */
    int32_t *buckets;
    uint32_t nbuckets;
};

const struct technique technique_table[TQ_COUNT] = {
    [TQ_TCP_OVERLAP] = { 9510001, "overlap_different_data", "tcp_evasion",
        "TCP segment overlaps earlier data with different bytes", 2, 0 },
    [TQ_TCP_LOW_TTL] = { 9510002, "low_ttl_insertion", "tcp_evasion",
        "TCP conflicting overlap from a segment with an unusual TTL (insertion)", 1, 0 },
    [TQ_TCP_RST_SEQ] = { 9510003, "rst_wrong_seq", "tcp_evasion",
        "TCP RST with an unexpected sequence number, then more data", 2, 0 },
    [TQ_TCP_URGENT] = { 9510004, "urgent_data", "tcp_evasion",
        "TCP urgent pointer inside the payload (ambiguous urgent byte)", 3, 0 },
    [TQ_FRAG_OVERLAP] = { 9510011, "overlapping_fragments", "ip_fragment_attack",
        "IP fragments of one datagram overlap", 2, 0 },
    [TQ_FRAG_TINY] = { 9510012, "tiny_fragment", "ip_fragment_attack",
        "IP first fragment too small to hold the transport header", 2, 0 },
    [TQ_FRAG_MISALIGNED] = { 9510013, "misaligned_fragment", "ip_fragment_attack",
        "IP non-last fragment whose length is not a multiple of 8", 2, 0 },
    [TQ_FRAG_EXCESSIVE] = { 9510014, "excessive_fragments", "ip_fragment_attack",
        "IP datagram split into an excessive number of fragments", 3, 0 },
    [TQ_FLAGS_NULL] = { 9510021, "null_flags", "invalid_tcp_flags",
        "TCP segment with no flags set", 3, 1 },
    [TQ_FLAGS_XMAS] = { 9510022, "xmas_flags", "invalid_tcp_flags",
        "TCP segment with FIN, PSH and URG but no ACK", 3, 1 },
    [TQ_FLAGS_SYN_FIN] = { 9510023, "syn_fin", "invalid_tcp_flags",
        "TCP segment with both SYN and FIN", 3, 1 },
    [TQ_FLAGS_SYN_RST] = { 9510024, "syn_rst", "invalid_tcp_flags",
        "TCP segment with both SYN and RST", 3, 1 },
    [TQ_FLAGS_FIN_NO_ACK] = { 9510025, "fin_without_ack", "invalid_tcp_flags",
        "TCP FIN without ACK", 3, 1 },
    [TQ_FLAGS_NO_ACK] = { 9510026, "flags_without_ack", "invalid_tcp_flags",
        "TCP segment with data-phase flags but no ACK", 3, 1 },
};

size_t ev_addr_len(const vigil_addr *a)
{
    return a->family == 6 ? 16 : 4;
}

uint64_t ev_hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static uint64_t key_hash(enum technique_id tq, const vigil_addr *src, const vigil_addr *dst)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)tq;
    h = ev_hash_bytes(h, &src->family, 1);
    h = ev_hash_bytes(h, src->bytes, ev_addr_len(src));
    h = ev_hash_bytes(h, &dst->family, 1);
    return ev_hash_bytes(h, dst->bytes, ev_addr_len(dst));
}

struct report_table *report_new(int64_t max_reports)
{
    struct report_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->cap = (uint32_t)max_reports;
    t->slots = calloc(t->cap, sizeof *t->slots);
    t->buckets = vgp_buckets_new(t->cap, &t->nbuckets);
    if (t->slots == NULL || t->buckets == NULL) {
        report_free(t);
        return NULL;
    }
    return t;
}

void report_free(struct report_table *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t->buckets);
    free(t);
}

static int32_t *bucket_of(struct report_table *t, enum technique_id tq, const vigil_addr *src,
                          const vigil_addr *dst)
{
    return &t->buckets[key_hash(tq, src, dst) & (t->nbuckets - 1)];
}

static struct report *find(struct report_table *t, enum technique_id tq, const vigil_addr *src,
                           const vigil_addr *dst)
{
    for (int32_t i = *bucket_of(t, tq, src, dst); i >= 0; i = t->slots[i].next) {
        struct report *r = &t->slots[i];
        if (r->tq == tq && vgp_addr_eq(&r->src, src) && vgp_addr_eq(&r->dst, dst))
            return r;
    }
    return NULL;
}

static void unlink_slot(struct report_table *t, int32_t idx)
{
    struct report *r = &t->slots[idx];
    int32_t *p = bucket_of(t, r->tq, &r->src, &r->dst);
    while (*p >= 0 && *p != idx)
        p = &t->slots[*p].next;
    if (*p == idx)
        *p = r->next;
}

/* ---- alert text ------------------------------------------------------- */

struct alert_text {
    char sig[192], events[24], bytes[24], first[32], last[32], targets[16];
    char ttl_seen[8], ttl_usual[8];
};

static size_t fill_meta(const struct report *r, struct alert_text *x, vigil_meta *meta)
{
    const struct technique *te = &technique_table[r->tq];
    size_t n = 0;
    snprintf(x->events, sizeof x->events, "%" PRIu64, r->events);
    snprintf(x->bytes, sizeof x->bytes, "%" PRIu64, r->bytes);
    vgp_format_ts(r->first_us, x->first, sizeof x->first);
    vgp_format_ts(r->last_us, x->last, sizeof x->last);
    meta[n++] = (vigil_meta){ te->per_source ? "packets" : "events", x->events };
    if (r->bytes)
        meta[n++] = (vigil_meta){ "bytes", x->bytes };
    meta[n++] = (vigil_meta){ "first_seen", x->first };
    meta[n++] = (vigil_meta){ "last_seen", x->last };
    if (te->per_source) {
        snprintf(x->targets, sizeof x->targets, "%" PRIu32 "%s", r->ntargets,
                 r->ntargets >= MAX_TARGETS ? "+" : "");
        meta[n++] = (vigil_meta){ "targets", x->targets };
    }
    if (r->tq == TQ_TCP_LOW_TTL) {
        snprintf(x->ttl_seen, sizeof x->ttl_seen, "%u", (unsigned)r->ttl_seen);
        snprintf(x->ttl_usual, sizeof x->ttl_usual, "%u", (unsigned)r->ttl_usual);
        meta[n++] = (vigil_meta){ "ttl_seen", x->ttl_seen };
        meta[n++] = (vigil_meta){ "ttl_usual", x->ttl_usual };
    }
    return n;
}

static void emit(struct evasion *ev, vigil_ctx *ctx, struct report *r)
{
    const struct technique *te = &technique_table[r->tq];
    struct alert_text x;
    vigil_meta meta[8];
    size_t nmeta = fill_meta(r, &x, meta);
    snprintf(x.sig, sizeof x.sig, "VIGIL EVASION %s (%" PRIu64 " %s)", te->text, r->events,
             te->per_source ? "packets" : "times");

    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.gid = 1;
    a.signature_id = te->sid;
    a.rev = 1;
    a.severity = te->severity;
    a.signature = x.sig;
    a.category = te->per_source ? "Potentially Bad Traffic" : "Generic Protocol Command Decode";
    a.attack_category = te->category;
    a.attack_technique = te->name;
    a.mitre_attack = te->per_source ? "T1046" : NULL;
    a.src = r->src;
    a.dst = r->target;
    a.sport = te->per_source ? 0 : r->sport;
    a.dport = te->per_source ? 0 : r->dport;
    a.ip_proto = r->ip_proto;
    a.ts_us = r->last_us;
    a.meta = meta;
    a.meta_count = nmeta;
    ev->host->emit_alert(ctx, &a);
    ev->stats.alerts++;
    r->alerted = 1;
    r->pending = 0;
    r->last_alert_us = ev->now_us;
}

/* ---- evidence ---------------------------------------------------------- */

static void note_target(struct report *r, const vigil_addr *dst)
{
    uint32_t h = (uint32_t)key_hash(0, dst, dst);
    for (uint32_t i = 0; i < r->ntargets; i++)
        if (r->target_hash[i] == h)
            return;
    if (r->ntargets < MAX_TARGETS)
        r->target_hash[r->ntargets++] = h;
}

static struct report *create(struct evasion *ev, vigil_ctx *ctx, const struct evidence *e,
                             const vigil_addr *key_dst)
{
    struct report_table *t = ev->reports;
    int32_t idx = (int32_t)t->head;
    struct report *r = &t->slots[idx];
    if (r->used) {
        /* The oldest report goes; say what it still held rather than lose it. */
        if (r->pending && (!r->alerted || ev->now_us - r->last_alert_us >= ev->cfg.alert_interval_us)
            && r->events >= (technique_table[r->tq].per_source ? (uint64_t)ev->cfg.flags_min_packets : 1))
            emit(ev, ctx, r);
        unlink_slot(t, idx);
        ev->stats.reports_evicted++;
    }
    t->head = (t->head + 1) % t->cap;
    memset(r, 0, sizeof *r);
    r->used = 1;
    r->tq = e->tq;
    r->src = e->src;
    r->dst = *key_dst;
    r->target = e->dst;
    r->sport = e->sport;
    r->dport = e->dport;
    r->ip_proto = e->ip_proto;
    r->first_us = ev->now_us;
    int32_t *b = bucket_of(t, r->tq, &r->src, &r->dst);
    r->next = *b;
    *b = idx;
    return r;
}

void report_add(struct evasion *ev, vigil_ctx *ctx, const struct evidence *e)
{
    const struct technique *te = &technique_table[e->tq];
    vigil_addr none;
    memset(&none, 0, sizeof none);
    none.family = e->dst.family;
    /* Per-source reports are keyed by the attacker alone; dst is the first target. */
    const vigil_addr *key_dst = te->per_source ? &none : &e->dst;
    struct report *r = find(ev->reports, e->tq, &e->src, key_dst);
    if (r == NULL)
        r = create(ev, ctx, e, key_dst);
    if (r->pending == 0)
        r->pending_since_us = ev->now_us;
    r->events++;
    r->pending++;
    r->bytes += e->bytes;
    r->last_us = ev->now_us;
    if (e->tq == TQ_TCP_LOW_TTL) {
        r->ttl_seen = e->ttl_seen;
        r->ttl_usual = e->ttl_usual;
    }
    if (te->per_source) {
        if (r->ntargets == 0)
            r->sport = e->sport, r->dport = e->dport;
        note_target(r, &e->dst);
    }
}

void report_tick(struct evasion *ev, vigil_ctx *ctx, int final)
{
    struct report_table *t = ev->reports;
    for (uint32_t k = 0; k < t->cap; k++) {
        struct report *r = &t->slots[(t->head + k) % t->cap];
        if (!r->used || r->pending == 0)
            continue;
        uint64_t min = technique_table[r->tq].per_source ? (uint64_t)ev->cfg.flags_min_packets : 1;
        if (r->events < min)
            continue;
        if (r->alerted && ev->now_us - r->last_alert_us < ev->cfg.alert_interval_us) {
            if (final)
                ev->stats.updates_dropped++;
            continue;
        }
        int quiet = ev->now_us - r->last_us >= ev->cfg.settle_us;
        int overdue = ev->now_us - r->pending_since_us >= ev->cfg.max_delay_us;
        if (final || quiet || overdue)
            emit(ev, ctx, r);
    }
}
