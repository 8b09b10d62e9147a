/* flow.c - bounded bidirectional flow table with LRU eviction. */
#include <stdlib.h>
#include <string.h>

#include "community_id.h"
#include "flow.h"

/* Expiry is amortised: each packet looks at a few entries at the LRU tail. */
#define FLOW_EXPIRE_PER_CALL 8

struct vigil_flow_table {
    struct vigil_flow **buckets;
    size_t nbuckets;            /* a power of two */
    size_t count, max_flows, nslots;
    int64_t timeout_us;
    struct vigil_flow *lru_head, *lru_tail;
    vigil_flow_release_fn release;
    void *user;
    struct vigil_stats *stats;
};

struct flow_key {
    vigil_addr lo, hi;
    uint16_t lo_port, hi_port;
    uint8_t proto;
};

static int addr_cmp(const vigil_addr *a, const vigil_addr *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    return memcmp(a->bytes, b->bytes, sizeof a->bytes);
}

static void make_key(struct flow_key *k, const vigil_addr *src, const vigil_addr *dst,
                     uint16_t sport, uint16_t dport, uint8_t proto)
{
    int c = addr_cmp(src, dst);
    int swap = c > 0 || (c == 0 && sport > dport);
    memset(k, 0, sizeof *k);
    k->lo = swap ? *dst : *src;
    k->hi = swap ? *src : *dst;
    k->lo_port = swap ? dport : sport;
    k->hi_port = swap ? sport : dport;
    k->proto = proto;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;      /* FNV-1a */
    }
    return h;
}

static uint64_t key_hash(const struct flow_key *k)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    h = mix(h, &k->lo, sizeof k->lo);
    h = mix(h, &k->hi, sizeof k->hi);
    h = mix(h, &k->lo_port, sizeof k->lo_port);
    h = mix(h, &k->hi_port, sizeof k->hi_port);
    h = mix(h, &k->proto, 1);
    return h ^ (h >> 29);
}

static int key_eq(const struct flow_key *k, const struct vigil_flow *f)
{
    return f->proto == k->proto && f->lo_port == k->lo_port &&
           f->hi_port == k->hi_port && addr_cmp(&f->lo, &k->lo) == 0 &&
           addr_cmp(&f->hi, &k->hi) == 0;
}

struct vigil_flow_table *vigil_flow_table_new(size_t max_flows, size_t nslots,
                                              int64_t timeout_us,
                                              vigil_flow_release_fn release,
                                              void *user, struct vigil_stats *stats)
{
    struct vigil_flow_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    if (max_flows == 0)
        max_flows = 1;
    t->nbuckets = 16;
    while (t->nbuckets < max_flows && t->nbuckets < ((size_t)1 << 30))
        t->nbuckets <<= 1;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (t->buckets == NULL) {
        free(t);
        return NULL;
    }
    t->max_flows = max_flows;
    t->nslots = nslots;
    t->timeout_us = timeout_us;
    t->release = release;
    t->user = user;
    t->stats = stats;
    return t;
}

static void lru_unlink(struct vigil_flow_table *t, struct vigil_flow *f)
{
    if (f->lru_prev)
        f->lru_prev->lru_next = f->lru_next;
    else
        t->lru_head = f->lru_next;
    if (f->lru_next)
        f->lru_next->lru_prev = f->lru_prev;
    else
        t->lru_tail = f->lru_prev;
    f->lru_prev = f->lru_next = NULL;
}

static void lru_push_head(struct vigil_flow_table *t, struct vigil_flow *f)
{
    f->lru_prev = NULL;
    f->lru_next = t->lru_head;
    if (t->lru_head)
        t->lru_head->lru_prev = f;
    t->lru_head = f;
    if (t->lru_tail == NULL)
        t->lru_tail = f;
}

static struct vigil_flow **bucket_of(struct vigil_flow_table *t, const struct flow_key *k)
{
    return &t->buckets[key_hash(k) & (t->nbuckets - 1)];
}

static void flow_remove(struct vigil_flow_table *t, struct vigil_flow *f)
{
    struct flow_key k = { f->lo, f->hi, f->lo_port, f->hi_port, f->proto };
    struct vigil_flow **pp = bucket_of(t, &k);
    while (*pp && *pp != f)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = f->hash_next;
    lru_unlink(t, f);
    if (t->release)
        t->release(t->user, f);
    free(f);
    t->count--;
    t->stats->flows_active = t->count;
}

void vigil_flow_table_free(struct vigil_flow_table *t)
{
    if (t == NULL)
        return;
    while (t->lru_tail)
        flow_remove(t, t->lru_tail);
    free(t->buckets);
    free(t);
}

void vigil_flow_expire(struct vigil_flow_table *t, int64_t now_us)
{
    for (int i = 0; i < FLOW_EXPIRE_PER_CALL && t->lru_tail; i++) {
        if (now_us - t->lru_tail->last_us <= t->timeout_us)
            break;
        flow_remove(t, t->lru_tail);
        t->stats->flows_expired++;
    }
}

static struct vigil_flow *flow_create(struct vigil_flow_table *t, const struct flow_key *k,
                                      int64_t now_us)
{
    if (t->count >= t->max_flows && t->lru_tail) {
        flow_remove(t, t->lru_tail);
        t->stats->flows_evicted++;
    }
    struct vigil_flow *f = calloc(1, sizeof *f + t->nslots * sizeof(void *));
    if (f == NULL)
        return NULL;
    f->lo = k->lo;
    f->hi = k->hi;
    f->lo_port = k->lo_port;
    f->hi_port = k->hi_port;
    f->proto = k->proto;
    f->first_us = f->last_us = now_us;
    f->flow_id = vigil_flow_id(&k->lo, &k->hi, k->lo_port, k->hi_port, k->proto, now_us);
    struct vigil_flow **b = bucket_of(t, k);
    f->hash_next = *b;
    *b = f;
    lru_push_head(t, f);
    t->count++;
    t->stats->flows_created++;
    t->stats->flows_active = t->count;
    return f;
}

struct vigil_flow *vigil_flow_get(struct vigil_flow_table *t, const vigil_addr *src,
                                  const vigil_addr *dst, uint16_t sport,
                                  uint16_t dport, uint8_t proto, int64_t now_us,
                                  int create)
{
    struct flow_key k;
    make_key(&k, src, dst, sport, dport, proto);
    for (struct vigil_flow *f = *bucket_of(t, &k); f; f = f->hash_next) {
        if (key_eq(&k, f)) {
            if (now_us > f->last_us)
                f->last_us = now_us;
            if (t->lru_head != f) {
                lru_unlink(t, f);
                lru_push_head(t, f);
            }
            return f;
        }
    }
    return create ? flow_create(t, &k, now_us) : NULL;
}

size_t vigil_flow_count(const struct vigil_flow_table *t)
{
    return t->count;
}
