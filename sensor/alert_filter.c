/* alert_filter.c - allow lists and the deduplication window. */
#include <stdlib.h>
#include <string.h>

#include "addrset.h"
#include "alert_filter.h"
#include "log.h"

#define CORE "vigil"

struct allow {
    struct vigil_addrset src, dst;
};

/* One remembered alert: a hash of its identity and when it was written. */
struct seen {
    uint64_t key;
    int64_t ts_us;
};

struct vigil_alert_filter {
    struct allow core;
    struct allow *per;          /* one per detector */
    int64_t *window_per;        /* per detector: its own alert_dedup_sec, or the core's */
    size_t nper;
    int64_t window_us;          /* the core's; 0: no deduplication */
    struct seen *table;         /* open addressing, power of two */
    size_t cap;
};

static int read_set(struct vigil_config *cfg, const char *section, const char *key,
                    struct vigil_addrset *set, char *err, size_t errlen)
{
    struct vigil_config_entry *e = vigil_config_find(cfg, section, key);
    if (e == NULL)
        return 0;
    char why[256];
    if (vigil_addrset_parse(set, e->value, why, sizeof why) < 0) {
        vigil_seterr(err, errlen, "%s:%d: %s: %s", e->file, e->line, key, why);
        return -1;
    }
    return 0;
}

static int read_allow(struct vigil_config *cfg, const char *section, struct allow *a,
                      char *err, size_t errlen)
{
    return read_set(cfg, section, "allow_src", &a->src, err, errlen) < 0 ||
                   read_set(cfg, section, "allow_dst", &a->dst, err, errlen) < 0
               ? -1 : 0;
}

static void free_allow(struct allow *a)
{
    vigil_addrset_free(&a->src);
    vigil_addrset_free(&a->dst);
}

struct vigil_alert_filter *vigil_alert_filter_new(struct vigil_config *cfg,
                                                  const char *const *detectors,
                                                  size_t ndetectors, char *err,
                                                  size_t errlen)
{
    struct vigil_alert_filter *f = calloc(1, sizeof *f);
    if (f == NULL || (f->per = calloc(ndetectors + 1, sizeof *f->per)) == NULL ||
        (f->window_per = calloc(ndetectors + 1, sizeof *f->window_per)) == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        if (f)
            free(f->per);
        free(f);
        return NULL;
    }
    f->nper = ndetectors;
    int64_t window, max;
    if (read_allow(cfg, CORE, &f->core, err, errlen) < 0 ||
        vigil_config_int(cfg, CORE, "alert_dedup_sec", 60, 0, 86400, &window, err,
                         errlen) < 0 ||
        vigil_config_int(cfg, CORE, "dedup_max", 65536, 16, 1 << 22, &max, err,
                         errlen) < 0)
        goto fail;
    for (size_t i = 0; i < ndetectors; i++) {
        /* A detector whose alerts are counted by design (signature rules
         * with their own thresholds) may opt out with its own window. */
        int64_t own;
        if (read_allow(cfg, detectors[i], &f->per[i], err, errlen) < 0 ||
            vigil_config_int(cfg, detectors[i], "alert_dedup_sec", window, 0, 86400, &own,
                             err, errlen) < 0)
            goto fail;
        f->window_per[i] = own * 1000000;
    }
    f->window_us = window * 1000000;
    for (f->cap = 16; f->cap < (size_t)max; f->cap <<= 1)
        ;
    if ((f->table = calloc(f->cap, sizeof *f->table)) == NULL) {
        vigil_seterr(err, errlen, "out of memory");
        goto fail;
    }
    return f;
fail:
    vigil_alert_filter_free(f);
    return NULL;
}

void vigil_alert_filter_free(struct vigil_alert_filter *f)
{
    if (f == NULL)
        return;
    free_allow(&f->core);
    for (size_t i = 0; i < f->nper; i++)
        free_allow(&f->per[i]);
    free(f->per);
    free(f->window_per);
    free(f->table);
    free(f);
}

static int allowed(const struct allow *a, const vigil_alert *al)
{
    return vigil_addrset_contains(&a->src, &al->src) ||
           vigil_addrset_contains(&a->dst, &al->dst);
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* Identity: detector, attacker, target, technique (or the signature). */
static uint64_t alert_key(size_t index, const vigil_alert *a)
{
    uint64_t h = mix(0xcbf29ce484222325ULL, &index, sizeof index);
    h = mix(h, &a->src.family, 1);
    h = mix(h, a->src.bytes, sizeof a->src.bytes);
    h = mix(h, &a->dst.family, 1);
    h = mix(h, a->dst.bytes, sizeof a->dst.bytes);
    const char *tech = a->attack_technique ? a->attack_technique : a->signature;
    h = mix(h, tech, strlen(tech));
    h = mix(h, &a->signature_id, sizeof a->signature_id);
    return h | 1;               /* 0 marks an empty slot */
}

/*
 * A bounded table: a key probes at most 8 slots; when all are taken the
 * oldest of them is overwritten, so a flood of distinct alerts can never
 * grow it (at worst a repeat gets written again).
 */
static int repeated(struct vigil_alert_filter *f, int64_t window_us, uint64_t key, int64_t now)
{
    size_t mask = f->cap - 1, victim = key & mask;
    for (size_t i = 0; i < 8; i++) {
        struct seen *s = &f->table[(key + i) & mask];
        if (s->key == key) {
            if (now - s->ts_us < window_us)
                return 1;
            s->ts_us = now;
            return 0;
        }
        if (s->key == 0 || s->ts_us < f->table[victim].ts_us)
            victim = (key + i) & mask;
        if (s->key == 0)
            break;
    }
    f->table[victim].key = key;
    f->table[victim].ts_us = now;
    return 0;
}

int vigil_alert_filter_pass(struct vigil_alert_filter *f, size_t index,
                            const vigil_alert *a, struct vigil_stats *stats)
{
    if (allowed(&f->core, a) || (index < f->nper && allowed(&f->per[index], a))) {
        stats->alerts_suppressed++;
        return 0;
    }
    int64_t window = index < f->nper ? f->window_per[index] : f->window_us;
    if (window > 0 && f->table && repeated(f, window, alert_key(index, a), a->ts_us)) {
        stats->alerts_deduplicated++;
        return 0;
    }
    return 1;
}
