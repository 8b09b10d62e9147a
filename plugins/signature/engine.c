/*
 * engine.c - dispatch: which rules run on which buffer, the Hyperscan
 * prefilter, flow keywords, flowbits, thresholds, pass rules and alerts.
 *
 * Every rule belongs to one or more buffer groups (engine.h). A group
 * holds one block-mode Hyperscan database made of each member's fast
 * pattern (its fast_pattern content, else its longest positive content),
 * a short list of payload rules with no usable pattern (pcre only, byte_*
 * only, negated contents only), and a list of rules with no payload items
 * (header checks only). A buffer is scanned once; the rules whose pattern
 * occurs, plus the two short lists, are evaluated fully in rule order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define US_PER_SEC ((int64_t)1000000)
#define MAX_FLOW_TH 64          /* by_flow trackers per flow */

/* ---- per-flow state ------------------------------------------------------------ */

struct flow_th {
    uint32_t rule;
    uint32_t count;
    int64_t start_us;
};

struct sfs {
    uint8_t stream;             /* libnids reassembles this flow */
    uint8_t passed;             /* a pass rule matched: not inspected any more */
    uint8_t have_client;
    uint8_t syn_seen;           /* the flow began with a handshake */
    uint8_t seen_dirs;          /* 1 to_server, 2 to_client */
    vigil_addr client;
    uint16_t cport;
    uint8_t *tail[2];
    uint32_t tail_len[2];
    struct flow_th *th;
    uint32_t nth;
    uint32_t nwords;
    uint64_t bits[];            /* flowbits */
};

/* ---- threshold table (by_src / by_dst / by_rule) ----------------------------------- */

struct th_entry {
    struct th_entry *next;
    uint32_t rule;
    uint8_t which;              /* 0 threshold, 1 detection_filter */
    uint8_t family;
    uint8_t addr[16];
    uint32_t count;
    int64_t start_us;
    int64_t window_us;
    uint16_t *ports;            /* unique_on dst_port */
    uint32_t nports, ports_cap;
};

static uint32_t th_hash(uint32_t rule, uint8_t which, uint8_t family, const uint8_t *addr)
{
    uint32_t h = 2166136261u ^ rule ^ ((uint32_t)which << 24) ^ ((uint32_t)family << 16);
    for (int i = 0; i < 16; i++)
        h = (h ^ addr[i]) * 16777619u;
    return h;
}

static struct th_entry *th_lookup(struct sig_engine *e, uint32_t rule, uint8_t which,
                                  const vigil_addr *a, int64_t window)
{
    uint8_t addr[16] = { 0 };
    uint8_t fam = 0;
    if (a) {
        fam = a->family;
        memcpy(addr, a->bytes, fam == 4 ? 4 : 16);
    }
    if (e->th_buckets == NULL) {
        e->th_nbuckets = 4096;
        e->th_buckets = calloc(e->th_nbuckets, sizeof *e->th_buckets);
        if (e->th_buckets == NULL)
            return NULL;
    }
    uint32_t h = th_hash(rule, which, fam, addr) % (uint32_t)e->th_nbuckets;
    for (struct th_entry *t = e->th_buckets[h]; t; t = t->next)
        if (t->rule == rule && t->which == which && t->family == fam &&
            memcmp(t->addr, addr, 16) == 0)
            return t;
    if ((int64_t)e->th_count >= e->max_trackers) {
        e->th_full++;
        return NULL;
    }
    struct th_entry *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->rule = rule;
    t->which = which;
    t->family = fam;
    memcpy(t->addr, addr, 16);
    t->window_us = window;
    t->next = e->th_buckets[h];
    e->th_buckets[h] = t;
    e->th_count++;
    return t;
}

static void th_free_all(struct sig_engine *e)
{
    for (size_t i = 0; i < e->th_nbuckets; i++) {
        struct th_entry *t = e->th_buckets[i];
        while (t) {
            struct th_entry *n = t->next;
            free(t->ports);
            free(t);
            t = n;
        }
    }
    free(e->th_buckets);
    e->th_buckets = NULL;
    e->th_count = 0;
}

void sig_engine_tick(struct sig_engine *e, int64_t now_us)
{
    if (e->th_buckets == NULL || now_us - e->last_expire_us < 10 * US_PER_SEC)
        return;
    e->last_expire_us = now_us;
    for (size_t i = 0; i < e->th_nbuckets; i++) {
        struct th_entry **pp = &e->th_buckets[i];
        while (*pp) {
            struct th_entry *t = *pp;
            if (now_us - t->start_us > t->window_us) {
                *pp = t->next;
                free(t->ports);
                free(t);
                e->th_count--;
            } else {
                pp = &t->next;
            }
        }
    }
}

/*
 * One match against a tracker: 1 when it may alert. count/start live in
 * the tracker (a th_entry or a flow_th); dport feeds unique_on dst_port.
 */
static int th_decide(const struct sig_threshold *t, uint32_t *count, int64_t *start,
                     int64_t now, struct th_entry *uniq, uint16_t dport)
{
    int64_t window = (int64_t)t->seconds * US_PER_SEC;
    if (*count == 0 || now - *start >= window) {
        *start = now;
        *count = 0;
        if (uniq)
            uniq->nports = 0;
    }
    switch (t->type) {
    case TH_LIMIT:
        if (*count < UINT32_MAX)
            (*count)++;
        return *count <= t->count;
    case TH_THRESHOLD:
        (*count)++;
        if (*count >= t->count) {
            *count = 0;
            *start = now;
            return 1;
        }
        return 0;
    case TH_BOTH:
        if (*count < UINT32_MAX)
            (*count)++;
        return *count == t->count;
    case TH_DETECTION:
        if (t->unique_dport && uniq) {
            uint32_t i;
            for (i = 0; i < uniq->nports; i++)
                if (uniq->ports[i] == dport)
                    break;
            if (i == uniq->nports && uniq->nports <= t->count) {
                if (uniq->nports == uniq->ports_cap) {
                    uint32_t cap = uniq->ports_cap ? uniq->ports_cap * 2 : 8;
                    uint16_t *np = realloc(uniq->ports, cap * sizeof *np);
                    if (np == NULL)
                        return 1;
                    uniq->ports = np;
                    uniq->ports_cap = cap;
                }
                uniq->ports[uniq->nports++] = dport;
            }
            *count = 1;     /* keeps the window open */
            return uniq->nports > t->count;
        }
        if (*count < UINT32_MAX)
            (*count)++;
        return *count > t->count;
    default:
        return 1;
    }
}

struct match_ctx {
    const vigil_addr *src, *dst;
    uint16_t sport, dport;
    uint8_t ip_proto;
    int64_t now;
};

/* Apply threshold and detection_filter of rule r; 1 when the alert goes out. */
static int th_pass(struct sig_engine *e, const struct sig_rule *r, struct sfs *fs,
                   const struct match_ctx *mc)
{
    const struct sig_threshold *list[2] = { &r->detection, &r->threshold };
    int ok = 1;
    for (int k = 0; k < 2; k++) {
        const struct sig_threshold *t = list[k];
        if (t->type == TH_NONE)
            continue;
        uint8_t which = k == 0 ? 1 : 0;
        int64_t window = (int64_t)t->seconds * US_PER_SEC;
        int res;
        if (t->track == TRACK_FLOW) {
            if (fs == NULL) {
                res = 1;
            } else {
                struct flow_th *ft = NULL;
                uint32_t key = r->index * 2 + which;
                for (uint32_t i = 0; i < fs->nth; i++)
                    if (fs->th[i].rule == key)
                        ft = &fs->th[i];
                if (ft == NULL && fs->nth < MAX_FLOW_TH) {
                    struct flow_th *n = realloc(fs->th, (fs->nth + 1) * sizeof *n);
                    if (n) {
                        fs->th = n;
                        ft = &n[fs->nth++];
                        memset(ft, 0, sizeof *ft);
                        ft->rule = key;
                    }
                }
                res = ft ? th_decide(t, &ft->count, &ft->start_us, mc->now, NULL, 0) : 1;
            }
        } else {
            const vigil_addr *a = t->track == TRACK_SRC ? mc->src
                                  : t->track == TRACK_DST ? mc->dst : NULL;
            struct th_entry *te = th_lookup(e, r->index, which, a, window);
            res = te ? th_decide(t, &te->count, &te->start_us, mc->now, te, mc->dport) : 1;
        }
        /* detection_filter first: a match it holds back does not reach threshold */
        if (!res) {
            ok = 0;
            break;
        }
    }
    return ok;
}

/* ---- flowbits ------------------------------------------------------------------------ */

static int bit_get(const struct sfs *fs, uint32_t id)
{
    return fs && id / 64 < fs->nwords && (fs->bits[id / 64] >> (id % 64)) & 1;
}

static void bit_set(struct sfs *fs, uint32_t id, int v)
{
    if (fs == NULL || id / 64 >= fs->nwords)
        return;
    if (v)
        fs->bits[id / 64] |= (uint64_t)1 << (id % 64);
    else
        fs->bits[id / 64] &= ~((uint64_t)1 << (id % 64));
}

static int flowbits_ok(const struct sig_rule *r, const struct sfs *fs)
{
    for (size_t i = 0; i < r->nflowbits; i++) {
        const struct sig_flowbit *f = &r->flowbits[i];
        if (f->cmd == FB_ISSET) {
            int any = 0;
            for (size_t k = 0; k < f->n; k++)
                any |= bit_get(fs, f->ids[k]);
            if (!any)
                return 0;
        } else if (f->cmd == FB_ISNOTSET) {
            int any = 0;
            for (size_t k = 0; k < f->n; k++)
                any |= !bit_get(fs, f->ids[k]);
            if (!any)
                return 0;
        }
    }
    return 1;
}

static void flowbits_apply(const struct sig_rule *r, struct sfs *fs)
{
    for (size_t i = 0; i < r->nflowbits; i++) {
        const struct sig_flowbit *f = &r->flowbits[i];
        if (f->cmd == FB_SET)
            bit_set(fs, f->ids[0], 1);
        else if (f->cmd == FB_UNSET)
            bit_set(fs, f->ids[0], 0);
        else if (f->cmd == FB_TOGGLE)
            bit_set(fs, f->ids[0], !bit_get(fs, f->ids[0]));
    }
}

/* ---- building ------------------------------------------------------------------------ */

static int push_u32(uint32_t **a, size_t *n, uint32_t v)
{
    uint32_t *na = realloc(*a, (*n + 1) * sizeof *na);
    if (na == NULL)
        return -1;
    na[(*n)++] = v;
    *a = na;
    return 0;
}

/* Suricata-like order: pass first, then flowbit writers before readers. */
static int rule_rank(const struct sig_rule *r)
{
    int set = 0, read = 0;
    for (size_t i = 0; i < r->nflowbits; i++) {
        uint8_t c = r->flowbits[i].cmd;
        if (c == FB_SET || c == FB_UNSET || c == FB_TOGGLE)
            set = 1;
        else if (c == FB_ISSET || c == FB_ISNOTSET)
            read = 1;
    }
    int fb = set && !read ? 0 : set && read ? 1 : read ? 2 : 1;
    return (r->action == SIG_PASS ? 0 : 10) + fb;
}

static int cmp_rules(const void *a, const void *b)
{
    const struct sig_rule *x = a, *y = b;
    int rx = rule_rank(x), ry = rule_rank(y);
    if (rx != ry)
        return rx - ry;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int add_to_group(struct sig_group *g, const struct sig_rule *r, uint32_t idx)
{
    if (!r->payload)
        return push_u32(&g->nop, &g->nnop, idx);
    if (r->fast >= 0)
        return push_u32(&g->fast, &g->nfast, idx);
    return push_u32(&g->always, &g->nalways, idx);
}

static int build_db(struct sig_engine *e, struct sig_group *g, vigil_ctx *ctx, const char *name)
{
    if (g->nfast == 0)
        return 0;
    char **exprs = calloc(g->nfast, sizeof *exprs);
    unsigned *flags = calloc(g->nfast, sizeof *flags);
    unsigned *ids = calloc(g->nfast, sizeof *ids);
    int rc = -1;
    if (exprs == NULL || flags == NULL || ids == NULL)
        goto out;
    for (size_t i = 0; i < g->nfast; i++) {
        const struct sig_rule *r = &e->rules[g->fast[i]];
        const struct sig_sm *m = &r->sm[r->fast];
        exprs[i] = malloc((size_t)m->len * 4 + 1);
        if (exprs[i] == NULL)
            goto out;
        for (uint32_t k = 0; k < m->len; k++)
            snprintf(exprs[i] + k * 4, 5, "\\x%02x", m->pat[k]);
        flags[i] = HS_FLAG_SINGLEMATCH | (m->nocase ? HS_FLAG_CASELESS : 0);
        ids[i] = (unsigned)i;
    }
    hs_compile_error_t *err = NULL;
    if (hs_compile_multi((const char *const *)exprs, flags, ids, (unsigned)g->nfast,
                         HS_MODE_BLOCK, NULL, &g->db, &err) != HS_SUCCESS) {
        e->host->log(ctx, VIGIL_LOG_ERROR, "hyperscan: %s database: %s", name,
                     err && err->message ? err->message : "compile failed");
        if (err)
            hs_free_compile_error(err);
        goto out;
    }
    if (hs_database_size(g->db, &g->db_bytes) != HS_SUCCESS)
        g->db_bytes = 0;
    if (hs_alloc_scratch(g->db, &e->scratch) != HS_SUCCESS) {
        e->host->log(ctx, VIGIL_LOG_ERROR, "hyperscan: cannot allocate scratch space");
        goto out;
    }
    rc = 0;
out:
    if (exprs)
        for (size_t i = 0; i < g->nfast; i++)
            free(exprs[i]);
    free(exprs);
    free(flags);
    free(ids);
    return rc;
}

int sig_engine_build(struct sig_engine *e, vigil_ctx *ctx)
{
    /* evaluation order, then indexes */
    for (size_t i = 0; i < e->nrules; i++)
        e->rules[i].index = (uint32_t)i;
    if (e->nrules > 1)
        qsort(e->rules, e->nrules, sizeof *e->rules, cmp_rules);
    for (size_t i = 0; i < e->nrules; i++)
        e->rules[i].index = (uint32_t)i;
    /* flowbit names -> ids */
    for (size_t i = 0; i < e->nrules; i++) {
        struct sig_rule *r = &e->rules[i];
        if (r->nflowbits || (r->flow & (FL_TO_SERVER | FL_TO_CLIENT | FL_ESTABLISHED |
                                        FL_NOT_ESTABLISHED)) ||
            r->threshold.track == TRACK_FLOW || r->detection.track == TRACK_FLOW ||
            r->action == SIG_PASS)
            e->need_flow = 1;
        for (size_t k = 0; k < r->nflowbits; k++) {
            struct sig_flowbit *f = &r->flowbits[k];
            f->ids = calloc(f->n, sizeof *f->ids);
            if (f->ids == NULL)
                return -1;
            for (size_t j = 0; j < f->n; j++) {
                size_t id;
                for (id = 0; id < e->nflowbits; id++)
                    if (strcmp(e->flowbit_names[id], f->names[j]) == 0)
                        break;
                if (id == e->nflowbits) {
                    char **nn = realloc(e->flowbit_names, (id + 1) * sizeof *nn);
                    if (nn == NULL)
                        return -1;
                    e->flowbit_names = nn;
                    if ((nn[id] = strdup(f->names[j])) == NULL)
                        return -1;
                    e->nflowbits++;
                }
                f->ids[j] = (uint32_t)id;
            }
        }
    }
    for (size_t i = 0; i < e->nrules; i++) {
        struct sig_rule *r = &e->rules[i];
        uint32_t idx = (uint32_t)i;
        int rc = 0;
        if (r->dsize.op && r->tcp_mode == SIG_TCP_ANY)
            r->tcp_mode = SIG_TCP_PKT;  /* dsize is a packet property */
        if (r->proto == SIG_P_TCP || r->proto == SIG_P_IP) {
            if (!r->payload) {
                if (r->tcp_mode == SIG_TCP_STREAM)
                    rc |= push_u32(&e->g[G_STREAM].always, &e->g[G_STREAM].nalways, idx);
                else
                    rc |= add_to_group(&e->g[G_TCP_PKT], r, idx);
            } else if (r->tcp_mode == SIG_TCP_PKT) {
                rc |= add_to_group(&e->g[G_TCP_PKT], r, idx);
            } else if (r->tcp_mode == SIG_TCP_STREAM) {
                rc |= add_to_group(&e->g[G_STREAM], r, idx);
                rc |= add_to_group(&e->g[G_TCP_FALLBACK], r, idx);
            } else {
                rc |= add_to_group(&e->g[G_STREAM], r, idx);
                rc |= add_to_group(&e->g[G_TCP_FALLBACK], r, idx);
            }
        }
        if (r->proto == SIG_P_UDP || r->proto == SIG_P_IP)
            rc |= add_to_group(&e->g[G_UDP], r, idx);
        if (r->proto == SIG_P_ICMP || r->proto == SIG_P_IP)
            rc |= add_to_group(&e->g[G_ICMP], r, idx);
        if (r->proto == SIG_P_IP)
            rc |= add_to_group(&e->g[G_OTHER], r, idx);
        if (rc)
            return -1;
    }
    static const char *const names[G_COUNT] = { "tcp-pkt", "tcp-fallback", "stream", "udp",
                                                "icmp", "other" };
    for (int k = 0; k < G_COUNT; k++)
        if (build_db(e, &e->g[k], ctx, names[k]) < 0)
            return -1;
    size_t cap = e->nrules + 1;
    e->cand = calloc(cap, sizeof *e->cand);
    e->merged = calloc(cap * 3, sizeof *e->merged);
    e->hits = calloc(cap, sizeof *e->hits);
    e->cand_cap = cap;
    if (e->cand == NULL || e->merged == NULL || e->hits == NULL)
        return -1;
    return 0;
}

void sig_engine_free(struct sig_engine *e)
{
    for (int k = 0; k < G_COUNT; k++) {
        free(e->g[k].fast);
        free(e->g[k].always);
        free(e->g[k].nop);
        if (e->g[k].db)
            hs_free_database(e->g[k].db);
    }
    if (e->scratch)
        hs_free_scratch(e->scratch);
    for (size_t i = 0; i < e->nrules; i++) {
        sig_rule_release(&e->rules[i]);
        sig_rule_free(&e->rules[i]);
    }
    free(e->rules);
    for (size_t i = 0; i < e->nflowbits; i++)
        free(e->flowbit_names[i]);
    free(e->flowbit_names);
    sig_classes_free(&e->classes);
    th_free_all(e);
    free(e->cand);
    free(e->merged);
    free(e->hits);
    free(e->sbuf);
    free(e->skips);
    memset(e, 0, sizeof *e);
}

/* ---- candidates ---------------------------------------------------------------------- */

struct scan_ctx {
    struct sig_engine *e;
    const struct sig_group *g;
};

static int on_hs_match(unsigned id, unsigned long long from, unsigned long long to,
                       unsigned flags, void *user)
{
    (void)from;
    (void)to;
    (void)flags;
    struct scan_ctx *sc = user;
    if (sc->e->ncand < sc->e->cand_cap)
        sc->e->cand[sc->e->ncand++] = sc->g->fast[id];
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted union of the group's lists and the prefilter hits; returns count. */
static size_t candidates(struct sig_engine *e, const struct sig_group *g, const uint8_t *data,
                         size_t len, int payload)
{
    e->ncand = 0;
    if (payload && len > 0 && g->db) {
        struct scan_ctx sc = { e, g };
        hs_scan(g->db, (const char *)data, (unsigned)(len > 0xffffffffu ? 0xffffffffu : len),
                0, e->scratch, on_hs_match, &sc);
        if (e->ncand > 1)
            qsort(e->cand, e->ncand, sizeof *e->cand, cmp_u32);
    }
    /* three sorted lists -> merged */
    const uint32_t *l[3] = { e->cand, g->always, g->nop };
    size_t n[3] = { e->ncand, payload && len > 0 ? g->nalways : 0, g->nnop };
    size_t at[3] = { 0, 0, 0 }, out = 0;
    for (;;) {
        int best = -1;
        for (int k = 0; k < 3; k++)
            if (at[k] < n[k] && (best < 0 || l[k][at[k]] < l[best][at[best]]))
                best = k;
        if (best < 0)
            break;
        uint32_t v = l[best][at[best]++];
        if (out == 0 || e->merged[out - 1] != v)
            e->merged[out++] = v;
    }
    return out;
}

/* ---- alerts --------------------------------------------------------------------------- */

const char *sig_attack_category(const char *ct)
{
    static const struct { const char *ct, *cat; } map[] = {
        { "attempted-dos", "dos_flood" },
        { "successful-dos", "dos_flood" },
        { "denial-of-service", "dos_flood" },
        { "attempted-admin", "exploit" },
        { "attempted-user", "exploit" },
        { "successful-admin", "exploit" },
        { "successful-user", "exploit" },
        { "web-application-attack", "exploit" },
        { "shellcode-detect", "exploit" },
        { "unsuccessful-user", "exploit" },
        { "rpc-portmap-decode", "recon" },
        { "attempted-recon", "recon" },
        { "successful-recon-limited", "recon" },
        { "successful-recon-largescale", "recon" },
        { "network-scan", "recon" },
        { "trojan-activity", "malware" },
        { "command-and-control", "malware" },
        { "domain-c2", "malware" },
        { "exploit-kit", "malware" },
        { "credential-theft", "credential_access" },
        { "default-login-attempt", "credential_access" },
        { "suspicious-login", "credential_access" },
        { NULL, NULL },
    };
    if (ct)
        for (int i = 0; map[i].ct; i++)
            if (strcmp(map[i].ct, ct) == 0)
                return map[i].cat;
    return "signature";
}

static void emit(struct sig_engine *e, vigil_ctx *ctx, const struct sig_rule *r,
                 const struct match_ctx *mc)
{
    const struct sig_class *cl = r->classtype ? sig_class_find(&e->classes, r->classtype) : NULL;
    uint32_t prio = r->priority ? r->priority : cl ? cl->priority : 3;
    if (prio < 1)
        prio = 1;
    if (prio > 4)
        prio = 4;
    vigil_meta meta[32];
    size_t nm = 0;
    for (size_t i = 0; i < r->nmeta && nm < 31; i++) {
        meta[nm].key = r->meta[i].key;
        meta[nm].value = r->meta[i].value;
        nm++;
    }
    if (r->action == SIG_DROP) {
        meta[nm].key = "action";
        meta[nm].value = "drop";
        nm++;
    }
    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.gid = r->gid;
    a.signature_id = r->sid;
    a.rev = r->rev ? r->rev : 1;
    a.severity = prio;
    a.signature = r->msg ? r->msg : "";
    a.category = cl ? cl->desc : (r->classtype ? r->classtype : "");
    a.attack_category = sig_attack_category(r->classtype);
    a.attack_technique = r->classtype ? r->classtype : "signature_match";
    const vigil_addr *src = mc->src, *dst = mc->dst;
    uint16_t sp = mc->sport, dp = mc->dport;
    if (r->target == 1) {       /* target:src_ip - the source is the victim */
        src = mc->dst;
        dst = mc->src;
        sp = mc->dport;
        dp = mc->sport;
    }
    a.src = *src;
    a.dst = *dst;
    a.sport = sp;
    a.dport = dp;
    a.ip_proto = mc->ip_proto;
    a.meta = nm ? meta : NULL;
    a.meta_count = nm;
    e->alerts++;
    e->host->emit_alert(ctx, &a);
}

/* ---- rule checks ---------------------------------------------------------------------- */

struct home_arg {
    struct sig_engine *e;
    vigil_ctx *ctx;
};

static int home_cb(void *user, uint8_t family, const uint8_t *bytes)
{
    struct home_arg *h = user;
    vigil_addr a;
    memset(&a, 0, sizeof a);
    a.family = family;
    memcpy(a.bytes, bytes, family == 4 ? 4 : 16);
    return h->e->host->in_home_net(h->ctx, &a) == 1;
}

static int header_dir(const struct sig_rule *r, const vigil_addr *s, uint16_t sp,
                      const vigil_addr *d, uint16_t dp, int ported, struct home_arg *h)
{
    return sig_addr_match(&r->src, s->family, s->bytes, home_cb, h) &&
           sig_addr_match(&r->dst, d->family, d->bytes, home_cb, h) &&
           (!ported || (sig_port_match(&r->sport, sp) && sig_port_match(&r->dport, dp)));
}

static int header_ok(const struct sig_rule *r, const struct match_ctx *mc, int ported,
                     struct home_arg *h)
{
    if (header_dir(r, mc->src, mc->sport, mc->dst, mc->dport, ported, h))
        return 1;
    return r->bidir && header_dir(r, mc->dst, mc->dport, mc->src, mc->sport, ported, h);
}

/* flow: keywords; dir 1 to_server, 2 to_client, 0 unknown. */
static int flow_ok(const struct sig_rule *r, int established, int dir)
{
    if ((r->flow & FL_ESTABLISHED) && !established)
        return 0;
    if ((r->flow & FL_NOT_ESTABLISHED) && established)
        return 0;
    if ((r->flow & FL_TO_SERVER) && dir != 1)
        return 0;
    if ((r->flow & FL_TO_CLIENT) && dir != 2)
        return 0;
    return 1;
}

static int packet_ok(const struct sig_rule *r, const vigil_packet *p, uint32_t plen,
                     const uint8_t *icmp_rest)
{
    if (r->has_flags) {
        if (p->ip_proto != 6)
            return 0;
        uint8_t f = p->tcp_flags & (uint8_t)~r->flags_ignore;
        uint8_t w = r->flags_want;
        switch (r->flags_mode) {
        case '+': if ((f & w) != w) return 0; break;
        case '*': if ((f & w) == 0 && w) return 0; break;
        case '!': if ((f & w) != 0) return 0; break;
        default: if (f != w) return 0; break;
        }
    }
    if (r->dsize.op && !sig_num_match(&r->dsize, plen))
        return 0;
    if (r->dsize.op == NUM_NE && plen == 0)
        return 0;               /* as Suricata: dsize:!n needs a payload */
    if (r->ttl.op && !sig_num_match(&r->ttl, p->ttl))
        return 0;
    int icmp = p->ip_proto == 1 || p->ip_proto == 58;
    if (r->itype.op && (!icmp || !sig_num_match(&r->itype, p->icmp_type)))
        return 0;
    if (r->icode.op && (!icmp || !sig_num_match(&r->icode, p->icmp_code)))
        return 0;
    if (r->icmp_id.op || r->icmp_seq.op) {
        /* echo-like messages carry id and sequence in the rest of the header */
        int echo = icmp && (p->icmp_type == 0 || p->icmp_type == 8 || p->icmp_type == 13 ||
                            p->icmp_type == 14 || p->icmp_type == 15 || p->icmp_type == 16 ||
                            p->icmp_type == 17 || p->icmp_type == 18 || p->icmp_type == 128 ||
                            p->icmp_type == 129);
        if (!echo || icmp_rest == NULL)
            return 0;
        const uint8_t *h = icmp_rest;
        uint16_t id = (uint16_t)(h[0] << 8 | h[1]), seq = (uint16_t)(h[2] << 8 | h[3]);
        if (r->icmp_id.op && !sig_num_match(&r->icmp_id, id))
            return 0;
        if (r->icmp_seq.op && !sig_num_match(&r->icmp_seq, seq))
            return 0;
    }
    if (r->ip_proto >= 0) {
        int v = p->ip_proto;
        switch (r->ip_proto_op) {
        case '!': if (v == r->ip_proto) return 0; break;
        case '<': if (!(v < r->ip_proto)) return 0; break;
        case '>': if (!(v > r->ip_proto)) return 0; break;
        default: if (v != r->ip_proto) return 0; break;
        }
    }
    return 1;
}

static struct sfs *flow_get(struct sig_engine *e, vigil_ctx *ctx, int create)
{
    struct sfs *fs = e->host->flow_state(ctx);
    if (fs || !create)
        return fs;
    uint32_t words = (uint32_t)((e->nflowbits + 63) / 64);
    fs = calloc(1, sizeof *fs + words * sizeof(uint64_t));
    if (fs == NULL)
        return NULL;
    fs->nwords = words;
    if (e->host->set_flow_state(ctx, fs) != VIGIL_OK) {
        free(fs);
        return NULL;
    }
    return fs;
}

void sig_engine_flow_free(struct sig_engine *e, void *p)
{
    (void)e;
    struct sfs *fs = p;
    if (fs == NULL)
        return;
    free(fs->tail[0]);
    free(fs->tail[1]);
    free(fs->th);
    free(fs);
}

/*
 * Evaluate the candidates: pass rules sort first and stop the rest (and
 * the flow); flowbits of a match apply at once, so later rules of the
 * same packet see them.
 */
struct pkt_view {
    const vigil_packet *p;
    uint32_t plen;
    const uint8_t *icmp_rest;
};

static void run(struct sig_engine *e, vigil_ctx *ctx, size_t n, const struct pkt_view *pv,
                const struct sig_buf *buf, const struct match_ctx *mc, int ported, int dir,
                int established, struct sfs *fs, int fallback_ok, int group)
{
    struct home_arg h = { e, ctx };
    size_t nhits = 0;
    for (size_t i = 0; i < n; i++) {
        const struct sig_rule *r = &e->rules[e->merged[i]];
        if (group == G_TCP_PKT && r->payload && r->tcp_mode == SIG_TCP_ANY)
            continue;       /* the fallback group evaluates those */
        (void)fallback_ok;
        e->evaluated++;
        if (!header_ok(r, mc, ported, &h))
            continue;
        if (r->flow && !flow_ok(r, established, dir))
            continue;
        if (pv && !packet_ok(r, pv->p, pv->plen, pv->icmp_rest))
            continue;
        if (r->nflowbits && !flowbits_ok(r, fs))
            continue;
        if (r->payload && !sig_match_payload(r, buf))
            continue;
        e->matched++;
        if (r->action == SIG_PASS) {
            e->passed++;
            if (fs)
                fs->passed = 1;
            return;
        }
        flowbits_apply(r, fs);
        e->hits[nhits++] = (uint32_t)e->merged[i];
    }
    for (size_t i = 0; i < nhits; i++) {
        const struct sig_rule *r = &e->rules[e->hits[i]];
        if (r->noalert)
            continue;
        if ((r->threshold.type || r->detection.type) && !th_pass(e, r, fs, mc)) {
            e->suppressed++;
            continue;
        }
        emit(e, ctx, r, mc);
    }
}

static int addr_eq(const vigil_addr *a, const vigil_addr *b)
{
    return a->family == b->family &&
           memcmp(a->bytes, b->bytes, a->family == 4 ? 4 : 16) == 0;
}

void sig_engine_packet(struct sig_engine *e, vigil_ctx *ctx, const vigil_packet *p)
{
    if (p->l3 != VIGIL_L3_IPV4 && p->l3 != VIGIL_L3_IPV6)
        return;
    e->packets++;
    int group;
    int ported = 0;
    switch (p->ip_proto) {
    case 6: group = G_TCP_PKT; ported = 1; break;
    case 17: group = G_UDP; ported = 1; break;
    case 1: case 58: group = G_ICMP; break;
    default: group = G_OTHER; break;
    }
    if (ported && !(p->flags & VIGIL_PKT_HAS_L4))
        return;         /* a later fragment: no ports, no header */
    int fallback = p->ip_proto == 6 && (e->g[G_TCP_FALLBACK].nfast ||
                                        e->g[G_TCP_FALLBACK].nalways);
    struct sfs *fs = flow_get(e, ctx, e->need_flow ||
                                      (fallback && (p->tcp_flags & VIGIL_TCP_SYN)));
    if (fs && fs->passed)
        return;
    int dir = 0, established = 0;
    if (fs) {
        if (!fs->have_client) {
            fs->have_client = 1;
            fs->syn_seen = p->ip_proto == 6 && (p->tcp_flags & VIGIL_TCP_SYN);
            int synack = p->ip_proto == 6 && (p->tcp_flags & VIGIL_TCP_SYN) &&
                         (p->tcp_flags & VIGIL_TCP_ACK);
            fs->client = synack ? p->dst : p->src;
            fs->cport = synack ? p->dport : p->sport;
        }
        int from_client = addr_eq(&p->src, &fs->client) && (!ported || p->sport == fs->cport);
        if (addr_eq(&p->src, &p->dst) && ported)
            from_client = p->sport == fs->cport;
        dir = from_client ? 1 : 2;
        fs->seen_dirs |= (uint8_t)dir;
        if (p->ip_proto == 6)
            established = fs->stream ||
                          (e->midstream && !(p->tcp_flags & VIGIL_TCP_SYN));
        else
            established = fs->seen_dirs == 3;
    }
    struct match_ctx mc = { &p->src, &p->dst, ported ? p->sport : 0, ported ? p->dport : 0,
                            p->ip_proto, p->ts_us };
    /* ICMP: the payload starts after the 8-byte header, as in Suricata */
    struct pkt_view pv = { p, p->payload_len, NULL };
    const uint8_t *pl = p->payload;
    if (group == G_ICMP) {
        if (p->payload_len >= 4) {
            pv.icmp_rest = p->payload;
            pl += 4;
            pv.plen -= 4;
        } else {
            pv.plen = 0;
        }
    }
    struct sig_buf buf = { pl, pv.plen, 0, 0, 0 };
    size_t n = candidates(e, &e->g[group], pl, pv.plen, 1);
    if (n)
        run(e, ctx, n, &pv, &buf, &mc, ported, dir, established, fs, 0, group);
    /* segments of flows libnids does not reassemble: IPv6, handshakes it
     * does not follow (split handshake), midstream pickups when enabled */
    if (fallback && p->payload_len > 0 && !(fs && (fs->stream || fs->passed)) &&
        (e->midstream || p->l3 == VIGIL_L3_IPV6 || (fs && fs->syn_seen))) {
        n = candidates(e, &e->g[G_TCP_FALLBACK], p->payload, p->payload_len, 1);
        if (n) {
            /* header-only rules ran above already */
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (e->rules[e->merged[i]].payload)
                    e->merged[k++] = e->merged[i];
            if (k)
                run(e, ctx, k, &pv, &buf, &mc, ported, dir, established, fs, 1, G_TCP_FALLBACK);
        }
    }
}

void sig_engine_stream(struct sig_engine *e, vigil_ctx *ctx, const vigil_stream *st)
{
    if (st->event == VIGIL_STREAM_ESTABLISHED) {
        struct sfs *fs = flow_get(e, ctx, 1);
        if (fs) {
            fs->stream = 1;
            fs->have_client = 1;
            fs->client = st->client;
            fs->cport = st->client_port;
        }
        return;
    }
    if (st->event != VIGIL_STREAM_DATA) {
        struct sfs *fs = flow_get(e, ctx, 0);
        if (fs) {
            for (int d = 0; d < 2; d++) {
                free(fs->tail[d]);
                fs->tail[d] = NULL;
                fs->tail_len[d] = 0;
            }
        }
        return;
    }
    const struct sig_group *g = &e->g[G_STREAM];
    if (st->len == 0 || (g->nfast == 0 && g->nalways == 0))
        return;
    struct sfs *fs = flow_get(e, ctx, 1);
    if (fs == NULL || fs->passed)
        return;
    fs->stream = 1;
    int d = st->dir == VIGIL_DIR_TO_CLIENT ? 1 : 0;
    uint32_t tl = fs->tail_len[d];
    if (tl > st->offset)
        tl = (uint32_t)st->offset;     /* never older than the stream */
    size_t total = (size_t)tl + st->len;
    if (total > e->sbuf_cap) {
        size_t cap = total < 65536 ? 65536 : total;
        uint8_t *nb = realloc(e->sbuf, cap);
        if (nb == NULL)
            return;
        e->sbuf = nb;
        e->sbuf_cap = cap;
    }
    if (tl)
        memcpy(e->sbuf, fs->tail[d] + (fs->tail_len[d] - tl), tl);
    memcpy(e->sbuf + tl, st->data, st->len);
    e->stream_chunks++;
    e->stream_bytes += st->len;
    struct sig_buf buf = { e->sbuf, total, tl, st->offset - tl, 1 };
    const vigil_addr *src = d ? &st->server : &st->client;
    const vigil_addr *dst = d ? &st->client : &st->server;
    struct match_ctx mc = { src, dst, d ? st->server_port : st->client_port,
                            d ? st->client_port : st->server_port, 6, st->ts_us };
    size_t n = candidates(e, g, e->sbuf, total, 1);
    if (n)
        run(e, ctx, n, NULL, &buf, &mc, 1, d ? 2 : 1, 1, fs, 0, G_STREAM);
    /* keep the tail for a pattern that crosses into the next chunk */
    uint32_t keep = e->stream_context;
    if (keep > total)
        keep = (uint32_t)total;
    if (fs->tail[d] == NULL) {
        fs->tail[d] = malloc(e->stream_context);
        if (fs->tail[d] == NULL) {
            fs->tail_len[d] = 0;
            return;
        }
    }
    memcpy(fs->tail[d], e->sbuf + total - keep, keep);
    fs->tail_len[d] = keep;
}
