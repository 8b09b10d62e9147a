/*
 * table.c - bounded hash table with LRU and armed lists (see table.h).
 */
#include "table.h"

#include <math.h>
#include <stdlib.h>

static size_t bucket_of(const struct tbl *t, uint64_t hash)
{
    return (size_t)(hash ^ (hash >> 29)) & t->mask;
}

int tbl_init(struct tbl *t, size_t cap, size_t entry_size)
{
    size_t nb = 16;
    while (nb < cap && nb < ((size_t)1 << 26))
        nb *= 2;
    struct tbl fresh = { 0 };
    fresh.buckets = calloc(nb, sizeof *fresh.buckets);
    if (fresh.buckets == NULL)
        return -1;
    fresh.mask = nb - 1;
    fresh.cap = cap;
    fresh.entry_size = entry_size;
    *t = fresh;
    return 0;
}

void tbl_destroy(struct tbl *t)
{
    struct tbl_node *n = t->lru_head;
    while (n) {
        struct tbl_node *next = n->lru_next;
        free(n);
        n = next;
    }
    free(t->buckets);
    t->buckets = NULL;
    t->lru_head = t->lru_tail = t->armed_head = t->armed_tail = NULL;
    t->count = 0;
}

struct tbl_node *tbl_find(const struct tbl *t, uint64_t hash,
                          int (*same)(const struct tbl_node *, const void *), const void *key)
{
    for (struct tbl_node *n = t->buckets[bucket_of(t, hash)]; n; n = n->hnext)
        if (n->hash == hash && same(n, key))
            return n;
    return NULL;
}

static void lru_unlink(struct tbl *t, struct tbl_node *n)
{
    if (n->lru_prev)
        n->lru_prev->lru_next = n->lru_next;
    else
        t->lru_head = n->lru_next;
    if (n->lru_next)
        n->lru_next->lru_prev = n->lru_prev;
    else
        t->lru_tail = n->lru_prev;
    n->lru_prev = n->lru_next = NULL;
}

static void lru_append(struct tbl *t, struct tbl_node *n)
{
    n->lru_prev = t->lru_tail;
    n->lru_next = NULL;
    if (t->lru_tail)
        t->lru_tail->lru_next = n;
    else
        t->lru_head = n;
    t->lru_tail = n;
}

static void remove_entry(struct tbl *t, struct tbl_node *n)
{
    struct tbl_node **pp = &t->buckets[bucket_of(t, n->hash)];
    while (*pp && *pp != n)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = n->hnext;
    tbl_disarm(t, n);
    lru_unlink(t, n);
    t->count--;
    free(n);
}

struct tbl_node *tbl_insert(struct tbl *t, uint64_t hash,
                            void (*on_evict)(struct tbl_node *, void *), void *arg)
{
    if (t->count >= t->cap && t->lru_head) {
        struct tbl_node *victim = t->lru_head;
        if (on_evict)
            on_evict(victim, arg);
        remove_entry(t, victim);
        t->evicted++;
    }
    struct tbl_node *n = calloc(1, t->entry_size);
    if (n == NULL)
        return NULL;
    n->hash = hash;
    size_t b = bucket_of(t, hash);
    n->hnext = t->buckets[b];
    t->buckets[b] = n;
    lru_append(t, n);
    t->count++;
    return n;
}

void tbl_touch(struct tbl *t, struct tbl_node *n)
{
    if (t->lru_tail == n)
        return;
    lru_unlink(t, n);
    lru_append(t, n);
}

void tbl_arm(struct tbl *t, struct tbl_node *n, int64_t now_us)
{
    if (n->armed)
        return;
    n->armed = 1;
    n->armed_us = now_us;
    n->armed_prev = t->armed_tail;
    n->armed_next = NULL;
    if (t->armed_tail)
        t->armed_tail->armed_next = n;
    else
        t->armed_head = n;
    t->armed_tail = n;
}

void tbl_disarm(struct tbl *t, struct tbl_node *n)
{
    if (!n->armed)
        return;
    if (n->armed_prev)
        n->armed_prev->armed_next = n->armed_next;
    else
        t->armed_head = n->armed_next;
    if (n->armed_next)
        n->armed_next->armed_prev = n->armed_prev;
    else
        t->armed_tail = n->armed_prev;
    n->armed_prev = n->armed_next = NULL;
    n->armed = 0;
}

static size_t lc_bit(size_t nbytes, uint64_t hash)
{
    uint64_t h = hash * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) % (nbytes * 8);
}

void lc_add(uint8_t *bits, size_t nbytes, uint64_t hash)
{
    size_t b = lc_bit(nbytes, hash);
    bits[b / 8] |= (uint8_t)(1u << (b % 8));
}

int lc_test(const uint8_t *bits, size_t nbytes, uint64_t hash)
{
    size_t b = lc_bit(nbytes, hash);
    return (bits[b / 8] >> (b % 8)) & 1;
}

uint32_t lc_estimate(const uint8_t *bits, size_t nbytes)
{
    size_t m = nbytes * 8, set = 0;
    for (size_t i = 0; i < nbytes; i++)
        set += (size_t)__builtin_popcount(bits[i]);
    if (set == 0)
        return 0;
    if (set >= m)               /* saturated: the best lower bound */
        return (uint32_t)(m * log((double)m));
    double est = -(double)m * log((double)(m - set) / (double)m);
    return (uint32_t)(est + 0.5);
}
