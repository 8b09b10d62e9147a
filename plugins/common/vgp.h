/*
 * vgp.h - helpers shared by the in-tree detector plugins.
 *
 * Every plugin .so is built from its own sources plus the sources of
 * plugins/common, with -fvisibility=hidden: nothing declared here is
 * exported, a plugin still exports vigil_plugin_entry only. Names carry the vgp_ prefix so
 * they never meet a plugin's own.
 *
 * The small address and hash helpers are static inline: they sit on the
 * per-packet paths.
 */
#ifndef VIGIL_PLUGINS_COMMON_VGP_H
#define VIGIL_PLUGINS_COMMON_VGP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vigil/plugin.h"

#define VGP_US_PER_SEC ((int64_t)1000000)

/* Whether a struct written by the host (it starts with `size`) has member. */
#define VGP_HAS_MEMBER(ptr, type, member)                                  \
    ((ptr)->size >= offsetof(type, member) + sizeof((ptr)->member))

/* ---- hashing and addresses ------------------------------------------------------ */

/* A 64-bit finaliser (murmur3's): every input bit affects every output bit. */
static inline uint64_t vgp_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* The bytes of an address that carry it: 16 for IPv6, else 4. */
static inline size_t vgp_addr_len(const vigil_addr *a)
{
    return a->family == 6 ? 16 : 4;
}

/* A copy with the unused bytes zeroed, so comparisons and hashes agree. */
static inline vigil_addr vgp_addr_norm(const vigil_addr *a)
{
    vigil_addr n;
    memset(&n, 0, sizeof n);
    n.family = a->family;
    memcpy(n.bytes, a->bytes, vgp_addr_len(a));
    return n;
}

/* Equality of the family and the bytes that carry the address. */
static inline int vgp_addr_eq(const vigil_addr *a, const vigil_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, vgp_addr_len(a)) == 0;
}

/* Equality of the family and all 16 bytes (for normalised addresses). */
static inline int vgp_addr_same(const vigil_addr *a, const vigil_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

/* ASCII lower case, whatever the locale. */
static inline int vgp_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* The smallest power of two >= n, from 16 up to max (a power of two). */
static inline uint32_t vgp_pow2_at_least(uint64_t n, uint32_t max)
{
    uint32_t p = 16;
    while (p < n && p < max)
        p *= 2;
    return p;
}

/* ---- lists threaded through a pool ---------------------------------------------------- */

/*
 * Doubly linked lists of pool elements, by index: each element embeds a
 * struct vgp_link per list it can be on, the owner keeps a struct vgp_list.
 * A struct vgp_links says where element i's link lives.
 */
#define VGP_NIL UINT32_MAX

struct vgp_link {
    uint32_t prev, next;
};

struct vgp_list {
    uint32_t head, tail;
};

struct vgp_links {
    char *base;
    size_t stride, offset;
};

/* The links of `field` (a struct vgp_link) in an array of `type` at pool. */
#define VGP_LINKS(pool, type, field)                                       \
    ((struct vgp_links){ (char *)(pool), sizeof(type), offsetof(type, field) })

static inline struct vgp_link *vgp_link_of(struct vgp_links ls, uint32_t i)
{
    return (struct vgp_link *)(void *)(ls.base + (size_t)i * ls.stride + ls.offset);
}

static inline void vgp_list_unlink(struct vgp_list *l, struct vgp_links ls, uint32_t i)
{
    struct vgp_link *e = vgp_link_of(ls, i);
    if (e->prev != VGP_NIL)
        vgp_link_of(ls, e->prev)->next = e->next;
    else
        l->head = e->next;
    if (e->next != VGP_NIL)
        vgp_link_of(ls, e->next)->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = VGP_NIL;
}

static inline void vgp_list_push_head(struct vgp_list *l, struct vgp_links ls, uint32_t i)
{
    struct vgp_link *e = vgp_link_of(ls, i);
    e->prev = VGP_NIL;
    e->next = l->head;
    if (l->head != VGP_NIL)
        vgp_link_of(ls, l->head)->prev = i;
    else
        l->tail = i;
    l->head = i;
}

static inline void vgp_list_push_tail(struct vgp_list *l, struct vgp_links ls, uint32_t i)
{
    struct vgp_link *e = vgp_link_of(ls, i);
    e->next = VGP_NIL;
    e->prev = l->tail;
    if (l->tail != VGP_NIL)
        vgp_link_of(ls, l->tail)->next = i;
    else
        l->head = i;
    l->tail = i;
}

/* ---- a capped pool of records ---------------------------------------------------------- */

/*
 * At most `cap` records of `stride` bytes, found through a chained hash
 * index (bucket heads and each record's `next` are indexes, VGP_NIL ends),
 * kept on an LRU list (most recently used at the head: the tail is the one
 * to evict) and, when interesting, on a watch list in order of interest.
 * Records are handed out by index, fresh ones first; the pool's memory is
 * calloc'ed, so its pages are touched only as records appear.
 */
struct vgp_pool {
    char *base;
    size_t stride;
    size_t lru_off, watch_off, next_off;    /* struct vgp_link, vgp_link, uint32_t */
    uint32_t cap, nused, next_fresh;
    uint32_t *buckets;          /* at least 2 * cap, a power of two */
    uint32_t bucket_mask;
    struct vgp_list lru, watch;
};

/* VIGIL_OK, or VIGIL_ENOMEM (then vgp_pool_free what was allocated). */
#define VGP_POOL_INIT(p, cap, type, lru, watch, next)                     \
    vgp_pool_init(p, cap, sizeof(type), offsetof(type, lru), offsetof(type, watch), \
                  offsetof(type, next))
/*
 * The bucket array of a chained table of cap entries: the smallest power of
 * two >= 2 * cap (16 at least) buckets, all empty (-1); its size in
 * *nbuckets. NULL when out of memory.
 */
int32_t *vgp_buckets_new(uint32_t cap, uint32_t *nbuckets);

int vgp_pool_init(struct vgp_pool *p, uint32_t cap, size_t stride, size_t lru_off,
                  size_t watch_off, size_t next_off);
void vgp_pool_free(struct vgp_pool *p);

static inline void *vgp_pool_at(const struct vgp_pool *p, uint32_t i)
{
    return p->base + (size_t)i * p->stride;
}

/* The head of the hash chain for a 64-bit hash (its high half picks it). */
static inline uint32_t *vgp_pool_bucket(const struct vgp_pool *p, uint64_t hash)
{
    return &p->buckets[(uint32_t)(hash >> 32) & p->bucket_mask];
}

/* A record never used yet, or VGP_NIL when all are: then evict p->lru.tail. */
uint32_t vgp_pool_fresh(struct vgp_pool *p);
/* Index record i (filled by the caller) under hash: on the LRU head, unwatched. */
void vgp_pool_insert(struct vgp_pool *p, uint32_t i, uint64_t hash);
/* Take record i (indexed under hash) out of the index and the LRU list. */
void vgp_pool_remove(struct vgp_pool *p, uint32_t i, uint64_t hash);
/* Record i was used: to the LRU head. */
void vgp_pool_touch(struct vgp_pool *p, uint32_t i);
/* On and off the watch list (no-ops when already on or off). */
void vgp_pool_watch(struct vgp_pool *p, uint32_t i);
void vgp_pool_unwatch(struct vgp_pool *p, uint32_t i);

/* ---- configuration ------------------------------------------------------------------ */

/* An integer setting: read within [min, max], default def, stored times scale
 * into the int64_t at offset of the plugin's configuration struct. */
struct vgp_knob {
    const char *key;
    int64_t def, min, max;
    int64_t scale;              /* config unit -> internal unit */
    size_t offset;
};

#define VGP_KNOB(type, k, d, lo, hi, sc, field)                            \
    { k, d, lo, hi, sc, offsetof(type, field) }

/* Read every knob into cfg: VIGIL_OK, or VIGIL_EINVAL at the first bad value
 * (the host has named it). */
int vgp_read_knobs(vigil_ctx *ctx, const vigil_host_api *host, const struct vgp_knob *knobs,
                   size_t n, void *cfg);

/* A random 64-bit hash key, or `fallback` without entropy (still correct,
 * only predictable). Bucket choice only: alerts never depend on it. */
uint64_t vgp_random_key(uint64_t fallback);

/* ---- text ------------------------------------------------------------------------------- */

/* "a.b.c.d", or IPv6 as eight hex groups without "::" compression. */
void vgp_format_addr(const vigil_addr *a, char *buf, size_t len);
/* inet_ntop's text ("?" when it fails). */
void vgp_addr_ntop(const vigil_addr *a, char *buf, size_t len);
/* Microseconds as "seconds.micros" (negative times floor to the second below). */
void vgp_format_ts(int64_t us, char *buf, size_t len);

/* ---- alerts ------------------------------------------------------------------------------ */

#define VGP_META_MAX 32
#define VGP_META_VALUE_MAX 256

/*
 * An alert with its metadata, built in place: vgp_alert_init, fill x->a's
 * fields, vgp_meta_add values printf-style, vgp_alert_emit. Values longer
 * than value_max - 1 are cut; entries past meta_max are dropped.
 */
typedef struct vgp_alert {
    vigil_alert a;
    vigil_meta meta[VGP_META_MAX];
    char value[VGP_META_MAX][VGP_META_VALUE_MAX];
    size_t meta_max, value_max;
} vgp_alert;

/* size, gid 1, rev 1, no metadata; meta_max <= VGP_META_MAX and
 * value_max <= VGP_META_VALUE_MAX (larger values are clamped). */
void vgp_alert_init(vgp_alert *x, size_t meta_max, size_t value_max);
void vgp_meta_add(vgp_alert *x, const char *key, const char *fmt, ...) VIGIL_PRINTF(3, 4);
/* Attach the metadata and emit through the host: its return code. */
int vgp_alert_emit(vgp_alert *x, vigil_ctx *ctx, const vigil_host_api *host);

#endif
