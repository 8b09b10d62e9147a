/*
 * table.h - a bounded table of entries keyed by a 64-bit hash, with a
 * least-recently-used list (eviction at the cap) and an "armed" list
 * (entries waiting to report, in the order they became ready). Nothing is
 * ever iterated in hash order, so output never depends on the hash seed.
 *
 * An entry is a caller struct whose first member is a struct tbl_node.
 */
#ifndef DNSTUNNEL_TABLE_H
#define DNSTUNNEL_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct tbl_node {
    uint64_t hash;
    struct tbl_node *hnext;
    struct tbl_node *lru_prev, *lru_next;
    struct tbl_node *armed_prev, *armed_next;
    int64_t armed_us;
    uint8_t armed;
};

struct tbl {
    struct tbl_node **buckets;
    size_t mask;
    size_t count, cap;
    size_t entry_size;
    struct tbl_node *lru_head, *lru_tail;       /* head: least recent */
    struct tbl_node *armed_head, *armed_tail;   /* head: armed first */
    uint64_t evicted;
};

int tbl_init(struct tbl *t, size_t cap, size_t entry_size);
/* Frees every entry; the table is unusable until tbl_init. */
void tbl_destroy(struct tbl *t);

/* The entry with this hash for which same(node, key) holds, or NULL. */
struct tbl_node *tbl_find(const struct tbl *t, uint64_t hash,
                          int (*same)(const struct tbl_node *, const void *), const void *key);

/* A zeroed entry, inserted as most recent. At the cap the least recent
 * entry is first passed to on_evict (which may report it) and freed. NULL
 * only when memory is exhausted. */
struct tbl_node *tbl_insert(struct tbl *t, uint64_t hash,
                            void (*on_evict)(struct tbl_node *, void *), void *arg);

/* Mark as most recently used. */
void tbl_touch(struct tbl *t, struct tbl_node *n);

void tbl_arm(struct tbl *t, struct tbl_node *n, int64_t now_us);
void tbl_disarm(struct tbl *t, struct tbl_node *n);

/* Linear counting (Whang et al., 1990): distinct items in a bitmap of
 * nbytes * 8 bits, accurate to a few percent up to a few times its size
 * and exact in practice for counts far below it. */
void lc_add(uint8_t *bits, size_t nbytes, uint64_t hash);
uint32_t lc_estimate(const uint8_t *bits, size_t nbytes);
/* 1 when the hash's bit was already set (a repeat, or a rare collision). */
int lc_test(const uint8_t *bits, size_t nbytes, uint64_t hash);

#endif
