/* flow.c - bounded bidirectional flow table with CLOCK-style eviction. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "community_id.h"
#include "flow.h"

/* Expiry is amortised: each packet looks at a few entries at the queue tail. */
#define FLOW_EXPIRE_PER_CALL 8
/* Entries given a second chance before one is evicted regardless. */
#define FLOW_SECOND_CHANCES 8

struct vigil_flow_table {
    struct vigil_flow **buckets;
    size_t nbuckets;            /* a power of two */
    uint64_t seed;              /* random: bucket placement only, never output */
    size_t count, max_flows, nslots;
    struct flow_queue {
        struct vigil_flow *head, *tail;
        int64_t timeout_us;
    } q[VIGIL_FLOWQ_COUNT];
    struct vigil_flow *free_list;   /* released entries, reused (no malloc churn) */
    vigil_flow_release_fn release;
    void *user;
    struct vigil_stats *stats;
};

struct flow_key {
    vigil_addr lo, hi;
    uint16_t lo_port, hi_port;
    uint8_t proto;
};

static uint64_t addr_word(const vigil_addr *a, int half)
{
    uint64_t w;
    memcpy(&w, a->bytes + 8 * half, 8);
    return w;
}

static int addr_cmp(const vigil_addr *a, const vigil_addr *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    return memcmp(a->bytes, b->bytes, a->family == 4 ? 4 : sizeof a->bytes);
}

static void make_key(struct flow_key *k, const vigil_addr *src, const vigil_addr *dst,
                     uint16_t sport, uint16_t dport, uint8_t proto)
{
    int c = addr_cmp(src, dst);
    int swap = c > 0 || (c == 0 && sport > dport);
    k->lo = swap ? *dst : *src;
    k->hi = swap ? *src : *dst;
    k->lo_port = swap ? dport : sport;
    k->hi_port = swap ? sport : dport;
    k->proto = proto;
}

static uint64_t mix64(uint64_t h, uint64_t w)
{
    h ^= w;
    h *= 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 31);
}

static uint64_t key_hash(const struct vigil_flow_table *t, const struct flow_key *k)
{
    uint64_t h = t->seed;
    h = mix64(h, addr_word(&k->lo, 0));
    h = mix64(h, addr_word(&k->hi, 0));
    if (k->lo.family == 6) {
        h = mix64(h, addr_word(&k->lo, 1));
        h = mix64(h, addr_word(&k->hi, 1));
    }
    return mix64(h, (uint64_t)k->lo_port << 32 | (uint64_t)k->hi_port << 16 | k->proto);
}

/* Equality on the hot path: whole 8-byte words, no library call. Unused
 * address bytes are always zero, so comparing all 16 is exact. */
static int addr_eq(const vigil_addr *a, const vigil_addr *b)
{
    return a->family == b->family && addr_word(a, 0) == addr_word(b, 0) &&
           addr_word(a, 1) == addr_word(b, 1);
}

static int key_eq(const struct flow_key *k, const struct vigil_flow *f)
{
    return f->proto == k->proto && f->lo_port == k->lo_port &&
           f->hi_port == k->hi_port && addr_eq(&f->lo, &k->lo) && addr_eq(&f->hi, &k->hi);
}

struct vigil_flow_table *vigil_flow_table_new(size_t max_flows, size_t nslots,
                                              const int64_t timeout_us[VIGIL_FLOWQ_COUNT],
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
    if (getrandom(&t->seed, sizeof t->seed, 0) != sizeof t->seed)
        t->seed = (uint64_t)(uintptr_t)t ^ 0x5bd1e9955bd1e995ULL;
    t->max_flows = max_flows;
    t->nslots = nslots;
    for (int i = 0; i < VIGIL_FLOWQ_COUNT; i++)
        t->q[i].timeout_us = timeout_us[i];
    t->release = release;
    t->user = user;
    t->stats = stats;
    return t;
}

static void queue_unlink(struct vigil_flow_table *t, struct vigil_flow *f)
{
    struct flow_queue *q = &t->q[f->queue];
    if (f->q_prev)
        f->q_prev->q_next = f->q_next;
    else
        q->head = f->q_next;
    if (f->q_next)
        f->q_next->q_prev = f->q_prev;
    else
        q->tail = f->q_prev;
    f->q_prev = f->q_next = NULL;
}

static void queue_push_head(struct vigil_flow_table *t, struct vigil_flow *f)
{
    struct flow_queue *q = &t->q[f->queue];
    f->queued_us = f->last_us;
    f->q_prev = NULL;
    f->q_next = q->head;
    if (q->head)
        q->head->q_prev = f;
    q->head = f;
    if (q->tail == NULL)
        q->tail = f;
}

static struct vigil_flow **bucket_of(struct vigil_flow_table *t, const struct flow_key *k)
{
    return &t->buckets[key_hash(t, k) & (t->nbuckets - 1)];
}

static void flow_remove(struct vigil_flow_table *t, struct vigil_flow *f)
{
    struct flow_key k = { f->lo, f->hi, f->lo_port, f->hi_port, f->proto };
    struct vigil_flow **pp = bucket_of(t, &k);
    while (*pp && *pp != f)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = f->hash_next;
    queue_unlink(t, f);
    if (t->release)
        t->release(t->user, f);
    f->hash_next = t->free_list;
    t->free_list = f;
    t->count--;
    t->stats->flows_active = t->count;
}

void vigil_flow_table_free(struct vigil_flow_table *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < VIGIL_FLOWQ_COUNT; i++)
        while (t->q[i].tail)
            flow_remove(t, t->q[i].tail);
    while (t->free_list) {
        struct vigil_flow *f = t->free_list;
        t->free_list = f->hash_next;
        free(f);
    }
    free(t->buckets);
    free(t);
}

/* Seen again since it was queued: requeue it at the head instead. */
static int second_chance(struct vigil_flow_table *t, struct vigil_flow *f)
{
    if (f->last_us <= f->queued_us || f->queue == VIGIL_FLOWQ_CLOSED)
        return 0;
    queue_unlink(t, f);
    queue_push_head(t, f);
    return 1;
}

void vigil_flow_closed(struct vigil_flow_table *t, struct vigil_flow *f)
{
    if (f->queue == VIGIL_FLOWQ_CLOSED)
        return;
    queue_unlink(t, f);
    f->queue = VIGIL_FLOWQ_CLOSED;
    queue_push_head(t, f);
}

static void expire_queue(struct vigil_flow_table *t, struct flow_queue *q, int64_t now_us)
{
    for (int i = 0; i < FLOW_EXPIRE_PER_CALL && q->tail; i++) {
        struct vigil_flow *f = q->tail;
        /* A closed flow's clock starts when it closed, whatever follows. */
        int64_t since = f->queue == VIGIL_FLOWQ_CLOSED ? f->queued_us : f->last_us;
        if (now_us - since > q->timeout_us) {
            flow_remove(t, f);
            t->stats->flows_expired++;
        } else if (!second_chance(t, f)) {
            /* Untouched and not expired: nothing queued after it is either. */
            break;
        }
    }
}

void vigil_flow_expire(struct vigil_flow_table *t, int64_t now_us)
{
    for (int i = 0; i < VIGIL_FLOWQ_COUNT; i++)
        expire_queue(t, &t->q[i], now_us);
}

/* Evict a closed flow if there is one, else the older of the other tails. */
static void evict_one(struct vigil_flow_table *t)
{
    struct flow_queue *q = &t->q[VIGIL_FLOWQ_CLOSED];
    if (q->tail == NULL) {
        struct flow_queue *tcp = &t->q[VIGIL_FLOWQ_TCP], *other = &t->q[VIGIL_FLOWQ_OTHER];
        if (tcp->tail == NULL)
            q = other;
        else if (other->tail == NULL)
            q = tcp;
        else
            q = tcp->tail->last_us <= other->tail->last_us ? tcp : other;
    }
    if (q->tail == NULL)
        return;
    for (int i = 0; i < FLOW_SECOND_CHANCES && second_chance(t, q->tail); i++)
        ;
    flow_remove(t, q->tail);
    t->stats->flows_evicted++;
}

static struct vigil_flow *flow_create(struct vigil_flow_table *t, const struct flow_key *k,
                                      int64_t now_us)
{
    if (t->count >= t->max_flows)
        evict_one(t);
    size_t size = sizeof(struct vigil_flow) + t->nslots * sizeof(void *);
    struct vigil_flow *f = t->free_list;
    if (f) {
        t->free_list = f->hash_next;
        memset(f, 0, size);
    } else if ((f = calloc(1, size)) == NULL) {
        return NULL;
    }
    f->lo = k->lo;
    f->hi = k->hi;
    f->lo_port = k->lo_port;
    f->hi_port = k->hi_port;
    f->proto = k->proto;
    f->queue = k->proto == 6 ? VIGIL_FLOWQ_TCP : VIGIL_FLOWQ_OTHER;
    f->first_us = f->last_us = now_us;
    f->flow_id = vigil_flow_id(&k->lo, &k->hi, k->lo_port, k->hi_port, k->proto, now_us);
    struct vigil_flow **b = bucket_of(t, k);
    f->hash_next = *b;
    *b = f;
    queue_push_head(t, f);
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
    if (t->count == 0 && !create)
        return NULL;            /* spares the bucket array a cache miss */
    struct flow_key k;
    make_key(&k, src, dst, sport, dport, proto);
    for (struct vigil_flow *f = *bucket_of(t, &k); f; f = f->hash_next) {
        if (key_eq(&k, f)) {
            if (now_us > f->last_us)
                f->last_us = now_us;
            return f;
        }
    }
    return create ? flow_create(t, &k, now_us) : NULL;
}

size_t vigil_flow_count(const struct vigil_flow_table *t)
{
    return t->count;
}
