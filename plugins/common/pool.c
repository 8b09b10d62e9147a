/*
 * pool.c - a capped pool of records with a hash index, an LRU list and a
 * watch list (see vgp.h).
 */
#include <stdlib.h>

#include "vgp.h"

#define LINKS(p, off) ((struct vgp_links){ (p)->base, (p)->stride, (off) })

int vgp_pool_init(struct vgp_pool *p, uint32_t cap, size_t stride, size_t lru_off,
                  size_t watch_off, size_t next_off)
{
    memset(p, 0, sizeof *p);
    p->stride = stride;
    p->lru_off = lru_off;
    p->watch_off = watch_off;
    p->next_off = next_off;
    p->cap = cap;
    p->lru.head = p->lru.tail = p->watch.head = p->watch.tail = VGP_NIL;
    uint32_t nb = 16;
    while (nb < cap * 2u)
        nb *= 2;
    p->base = calloc(cap, stride);
    p->buckets = malloc((size_t)nb * sizeof *p->buckets);
    if (p->base == NULL || p->buckets == NULL)
        return VIGIL_ENOMEM;
    memset(p->buckets, 0xff, (size_t)nb * sizeof *p->buckets);
    p->bucket_mask = nb - 1;
    return VIGIL_OK;
}

int32_t *vgp_buckets_new(uint32_t cap, uint32_t *nbuckets)
{
    *nbuckets = vgp_pow2_at_least(2 * (uint64_t)cap, UINT32_C(1) << 31);
    int32_t *b = malloc(*nbuckets * sizeof *b);
    for (uint32_t i = 0; b && i < *nbuckets; i++)
        b[i] = -1;
    return b;
}

void vgp_pool_free(struct vgp_pool *p)
{
    free(p->base);
    free(p->buckets);
    p->base = NULL;
    p->buckets = NULL;
}

static uint32_t *next_of(struct vgp_pool *p, uint32_t i)
{
    return (uint32_t *)(void *)(p->base + (size_t)i * p->stride + p->next_off);
}

uint32_t vgp_pool_fresh(struct vgp_pool *p)
{
    return p->next_fresh < p->cap ? p->next_fresh++ : VGP_NIL;
}

void vgp_pool_insert(struct vgp_pool *p, uint32_t i, uint64_t hash)
{
    struct vgp_link *w = vgp_link_of(LINKS(p, p->watch_off), i);
    w->prev = w->next = VGP_NIL;
    uint32_t *b = vgp_pool_bucket(p, hash);
    *next_of(p, i) = *b;
    *b = i;
    vgp_list_push_head(&p->lru, LINKS(p, p->lru_off), i);
    p->nused++;
}

void vgp_pool_remove(struct vgp_pool *p, uint32_t i, uint64_t hash)
{
    uint32_t *q = vgp_pool_bucket(p, hash);
    while (*q != VGP_NIL && *q != i)
        q = next_of(p, *q);
    if (*q == i)
        *q = *next_of(p, i);
    vgp_list_unlink(&p->lru, LINKS(p, p->lru_off), i);
    p->nused--;
}

void vgp_pool_touch(struct vgp_pool *p, uint32_t i)
{
    if (p->lru.head != i) {
        vgp_list_unlink(&p->lru, LINKS(p, p->lru_off), i);
        vgp_list_push_head(&p->lru, LINKS(p, p->lru_off), i);
    }
}

static int watched(struct vgp_pool *p, uint32_t i)
{
    return p->watch.head == i || vgp_link_of(LINKS(p, p->watch_off), i)->prev != VGP_NIL;
}

void vgp_pool_watch(struct vgp_pool *p, uint32_t i)
{
    if (!watched(p, i))
        vgp_list_push_tail(&p->watch, LINKS(p, p->watch_off), i);
}

void vgp_pool_unwatch(struct vgp_pool *p, uint32_t i)
{
    if (watched(p, i))
        vgp_list_unlink(&p->watch, LINKS(p, p->watch_off), i);
}
