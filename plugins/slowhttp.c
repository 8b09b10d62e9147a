/*
 * slowhttp.c - slow HTTP denial of service (slowloris, slow POST): one
 * source holds many connections to one web server open with requests it
 * never finishes.
 *
 * The first client bytes of every reassembled TCP stream are checked for
 * an HTTP/1 request line. A request whose header block (up to the empty
 * line) is complete in those bytes, and whose body, if any, is too, costs
 * nothing more. Otherwise the connection is tracked as incomplete: in the
 * header phase (slowloris: header lines dribbled one at a time) or in the
 * body phase (slow POST: a Content-Length body sent a few bytes at a time)
 * until the request completes or the connection ends.
 *
 * Incomplete connections hang off a pair (client, server, port), oldest
 * first. Once per second of packet time each pair counts those at least
 * min_age_sec old; min_connections or more raise one alert, then at most
 * one per alert_interval_sec. Pairs live in a capped table with
 * least-recently-used eviction; the tick walks pairs in creation order,
 * so the same capture always gives the same alerts.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/plugin.h"
#include "vgp.h"

#define HEADER_SCAN_MAX 8192    /* first-segment bytes searched for the header end */

/* ---- configuration ------------------------------------------------------ */

struct sh_config {
    int64_t min_connections;    /* aged incomplete requests at once */
    int64_t min_age_us;         /* an incomplete request this old counts */
    int64_t alert_interval_us;
    int64_t max_pairs;
    int64_t max_conns;
};

#define KNOB(k, d, lo, hi, sc, field) VGP_KNOB(struct sh_config, k, d, lo, hi, sc, field)

static const struct vgp_knob knobs[] = {
    KNOB("min_connections", 20, 2, 1000000, 1, min_connections),
    KNOB("min_age_sec", 10, 1, 86400, VGP_US_PER_SEC, min_age_us),
    KNOB("alert_interval_sec", 300, 1, 86400, VGP_US_PER_SEC, alert_interval_us),
    KNOB("max_pairs", 16384, 16, 1 << 24, 1, max_pairs),
    KNOB("max_conns", 65536, 16, 1 << 24, 1, max_conns),
};

/* ---- state ------------------------------------------------------------------ */

enum phase { PH_HEADERS = 1, PH_BODY = 2 };

struct pair;

/* One incomplete request (the flow's state slot). */
struct conn {
    struct pair *pair;          /* NULL once complete, ended or evicted */
    struct conn *prev, *next;   /* in the pair's list, oldest first */
    uint8_t phase;              /* enum phase */
    uint8_t match;              /* header end: bytes of "\r\n\r\n" matched */
    uint64_t body_left;
    int64_t start_us, last_us;
    uint64_t bytes;
    uint32_t segments;
};

struct pair {
    vigil_addr client, server;
    uint16_t port;
    uint32_t hash;
    struct pair *hash_next;
    struct pair *lru_prev, *lru_next;   /* least recently touched first */
    struct pair *all_prev, *all_next;   /* creation order, for the tick */
    struct conn *head, *tail;
    uint32_t incomplete;
    uint64_t opened;            /* incomplete requests ever tracked */
    uint64_t peak;
    int64_t last_us, last_alert_us;
    uint8_t has_alerted;
};

struct slowhttp {
    const vigil_host_api *host;
    struct sh_config cfg;
    uint64_t hash_key;
    struct pair **buckets;
    uint32_t bucket_mask, npairs, nconns;
    struct pair *lru_head, *lru_tail;
    struct pair *all_head, *all_tail;
    int64_t now_us;
    uint64_t alerts, pairs_evicted, conns_refused;
};

/* ---- helpers -------------------------------------------------------------------- */

/* An HTTP/1 request line starts here: an upper-case method, a space. */
static int looks_like_request(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z')
        i++;
    return i >= 3 && i < n && p[i] == ' ';
}

/* Feed bytes to the "\r\n\r\n" (or "\n\n") matcher; returns bytes consumed
 * up to and including the end of the headers, or 0 when not reached. */
static size_t find_header_end(uint8_t *match, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t b = p[i];
        if (b == '\n') {
            /* match counts newlines seen with only '\r' between them */
            if (*match >= 1) {
                *match = 0;
                return i + 1;
            }
            *match = 1;
        } else if (b != '\r') {
            *match = 0;
        }
    }
    return 0;
}

/* Content-Length of a complete header block p[0..n), or 0. */
static uint64_t content_length(const uint8_t *p, size_t n)
{
    static const char key[] = "\ncontent-length:";
    size_t kl = sizeof key - 1;
    for (size_t i = 0; i + kl <= n; i++) {
        size_t k = 0;
        while (k < kl && vgp_lower(p[i + k]) == key[k])
            k++;
        if (k < kl)
            continue;
        size_t j = i + kl;
        while (j < n && p[j] == ' ')
            j++;
        uint64_t v = 0;
        for (; j < n && p[j] >= '0' && p[j] <= '9'; j++) {
            if (v > UINT64_MAX / 20)
                return 0;
            v = v * 10 + (uint64_t)(p[j] - '0');
        }
        return v;
    }
    return 0;
}

/* ---- pairs ------------------------------------------------------------------------ */

static uint32_t pair_hash(const struct slowhttp *sh, const vigil_addr *c, const vigil_addr *s,
                          uint16_t port)
{
    uint64_t h = sh->hash_key ^ port ^ ((uint64_t)c->family << 32);
    for (size_t i = 0; i < 16; i += 8) {
        uint64_t a, b;
        memcpy(&a, c->bytes + i, 8);
        memcpy(&b, s->bytes + i, 8);
        h = vgp_mix64(h ^ a);
        h = vgp_mix64(h ^ b);
    }
    return (uint32_t)(h >> 32);
}

static void lru_unlink(struct slowhttp *sh, struct pair *p)
{
    if (p->lru_prev)
        p->lru_prev->lru_next = p->lru_next;
    else
        sh->lru_head = p->lru_next;
    if (p->lru_next)
        p->lru_next->lru_prev = p->lru_prev;
    else
        sh->lru_tail = p->lru_prev;
    p->lru_prev = p->lru_next = NULL;
}

static void lru_append(struct slowhttp *sh, struct pair *p)
{
    p->lru_prev = sh->lru_tail;
    p->lru_next = NULL;
    if (sh->lru_tail)
        sh->lru_tail->lru_next = p;
    else
        sh->lru_head = p;
    sh->lru_tail = p;
}

static void conn_detach(struct conn *c)
{
    struct pair *p = c->pair;
    if (p == NULL)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        p->tail = c->prev;
    c->prev = c->next = NULL;
    c->pair = NULL;
    p->incomplete--;
}

static void pair_remove(struct slowhttp *sh, struct pair *p)
{
    while (p->head)
        conn_detach(p->head);   /* the flows keep their (now idle) state */
    struct pair **pp = &sh->buckets[p->hash & sh->bucket_mask];
    while (*pp && *pp != p)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = p->hash_next;
    lru_unlink(sh, p);
    if (p->all_prev)
        p->all_prev->all_next = p->all_next;
    else
        sh->all_head = p->all_next;
    if (p->all_next)
        p->all_next->all_prev = p->all_prev;
    else
        sh->all_tail = p->all_prev;
    sh->npairs--;
    free(p);
}

static struct pair *pair_get(struct slowhttp *sh, const vigil_stream *st)
{
    vigil_addr c = vgp_addr_norm(&st->client), s = vgp_addr_norm(&st->server);
    uint32_t h = pair_hash(sh, &c, &s, st->server_port);
    for (struct pair *p = sh->buckets[h & sh->bucket_mask]; p; p = p->hash_next) {
        if (p->hash == h && p->port == st->server_port && vgp_addr_same(&p->client, &c) &&
            vgp_addr_same(&p->server, &s)) {
            lru_unlink(sh, p);
            lru_append(sh, p);
            return p;
        }
    }
    if (sh->npairs >= (uint64_t)sh->cfg.max_pairs && sh->lru_head) {
        pair_remove(sh, sh->lru_head);
        sh->pairs_evicted++;
    }
    struct pair *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->client = c;
    p->server = s;
    p->port = st->server_port;
    p->hash = h;
    p->hash_next = sh->buckets[h & sh->bucket_mask];
    sh->buckets[h & sh->bucket_mask] = p;
    lru_append(sh, p);
    p->all_prev = sh->all_tail;
    if (sh->all_tail)
        sh->all_tail->all_next = p;
    else
        sh->all_head = p;
    sh->all_tail = p;
    sh->npairs++;
    return p;
}

/* ---- connections --------------------------------------------------------------------- */

static void track(struct slowhttp *sh, vigil_ctx *ctx, const vigil_stream *st, uint8_t phase,
                  uint8_t match, uint64_t body_left)
{
    if (sh->nconns >= (uint64_t)sh->cfg.max_conns) {
        sh->conns_refused++;
        return;
    }
    struct pair *p = pair_get(sh, st);
    struct conn *c = p ? calloc(1, sizeof *c) : NULL;
    if (c == NULL)
        return;
    if (sh->host->set_flow_state(ctx, c) != VIGIL_OK) {
        free(c);
        return;
    }
    sh->nconns++;
    c->phase = phase;
    c->match = match;
    c->body_left = body_left;
    c->start_us = c->last_us = st->ts_us;
    c->bytes = st->len;
    c->segments = 1;
    c->pair = p;
    c->prev = p->tail;
    if (p->tail)
        p->tail->next = c;
    else
        p->head = c;
    p->tail = c;
    p->incomplete++;
    p->opened++;
    p->last_us = st->ts_us;
}

/* The first client bytes: a request complete at once costs no state. */
static void first_bytes(struct slowhttp *sh, vigil_ctx *ctx, const vigil_stream *st)
{
    if (!looks_like_request(st->data, st->len))
        return;
    size_t scan = st->len < HEADER_SCAN_MAX ? st->len : HEADER_SCAN_MAX;
    uint8_t match = 0;
    size_t end = find_header_end(&match, st->data, scan);
    if (end == 0) {
        if (st->len <= HEADER_SCAN_MAX)
            track(sh, ctx, st, PH_HEADERS, match, 0);
        return;                 /* a huge header block is not a slow one */
    }
    uint64_t body = content_length(st->data, end), have = st->len - end;
    if (body > have)
        track(sh, ctx, st, PH_BODY, 0, body - have);
}

/* Later client bytes of a tracked request. */
static void more_bytes(struct conn *c, const vigil_stream *st)
{
    if (c->pair == NULL)
        return;
    c->bytes += st->len;
    c->segments++;
    c->last_us = st->ts_us;
    c->pair->last_us = st->ts_us;
    if (c->phase == PH_HEADERS) {
        if (find_header_end(&c->match, st->data, st->len) > 0)
            conn_detach(c);     /* headers done: a request like any other */
        return;
    }
    if (st->len >= c->body_left)
        conn_detach(c);
    else
        c->body_left -= st->len;
}

static void sh_on_stream(void *state, vigil_ctx *ctx, const vigil_stream *st)
{
    struct slowhttp *sh = state;
    if (st->ts_us > sh->now_us)
        sh->now_us = st->ts_us;
    if (st->event == VIGIL_STREAM_DATA) {
        if (st->dir != VIGIL_DIR_TO_SERVER || st->len == 0 || st->data == NULL)
            return;
        if (st->offset == 0) {
            first_bytes(sh, ctx, st);
            return;
        }
        struct conn *c = sh->host->flow_state(ctx);
        if (c)
            more_bytes(c, st);
        return;
    }
    if (st->event == VIGIL_STREAM_CLOSED || st->event == VIGIL_STREAM_RESET ||
        st->event == VIGIL_STREAM_TIMEOUT) {
        struct conn *c = sh->host->flow_state(ctx);
        if (c)
            sh->host->set_flow_state(ctx, NULL);    /* flow_free detaches it */
    }
}

/* ---- alerts ------------------------------------------------------------------------ */

struct census {
    uint32_t aged, aged_headers, aged_body;
    int64_t oldest_start;
    uint64_t bytes, segments;
};

static struct census count_aged(const struct slowhttp *sh, const struct pair *p)
{
    struct census k;
    memset(&k, 0, sizeof k);
    int64_t cutoff = sh->now_us - sh->cfg.min_age_us;
    for (const struct conn *c = p->head; c && c->start_us <= cutoff; c = c->next) {
        if (k.aged == 0)
            k.oldest_start = c->start_us;
        k.aged++;
        k.aged_headers += c->phase == PH_HEADERS;
        k.aged_body += c->phase == PH_BODY;
        k.bytes += c->bytes;
        k.segments += c->segments;
    }
    return k;
}

static void report(struct slowhttp *sh, vigil_ctx *ctx, struct pair *p, const struct census *k)
{
    int body = k->aged_body > k->aged_headers;
    char sig[160], aged[16], open[16], opened[24], oldest[24], mbytes[24], msegs[24], age[16];
    char port[8];
    snprintf(sig, sizeof sig, "VIGIL DOS slow HTTP %s (%" PRIu32 " incomplete requests held open)",
             body ? "body (slow POST)" : "headers (slowloris)", k->aged);
    snprintf(aged, sizeof aged, "%" PRIu32, k->aged);
    snprintf(open, sizeof open, "%" PRIu32, p->incomplete);
    snprintf(opened, sizeof opened, "%" PRIu64, p->opened);
    snprintf(oldest, sizeof oldest, "%.1f", (double)(sh->now_us - k->oldest_start) / 1e6);
    snprintf(mbytes, sizeof mbytes, "%" PRIu64, k->bytes / k->aged);
    snprintf(msegs, sizeof msegs, "%.1f", (double)k->segments / k->aged);
    snprintf(age, sizeof age, "%" PRId64, sh->cfg.min_age_us / VGP_US_PER_SEC);
    snprintf(port, sizeof port, "%u", (unsigned)p->port);
    vigil_meta meta[] = {
        { "dst_port", port },
        { "incomplete_aged", aged },
        { "incomplete_open", open },
        { "incomplete_seen", opened },
        { "oldest_age_sec", oldest },
        { "mean_bytes_sent", mbytes },
        { "mean_segments_sent", msegs },
        { "min_age_sec", age },
    };
    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.gid = 1;
    a.signature_id = body ? 9310002 : 9310001;
    a.rev = 1;
    a.severity = 2;
    a.signature = sig;
    a.category = "Denial of Service";
    a.attack_category = "dos_slow_http";
    a.attack_technique = body ? "slow_http_body" : "slow_http_headers";
    a.mitre_attack = "T1499.002";
    a.src = p->client;
    a.dst = p->server;
    a.dport = p->port;
    a.ip_proto = 6;
    a.meta = meta;
    a.meta_count = sizeof meta / sizeof meta[0];
    sh->host->emit_alert(ctx, &a);
    sh->alerts++;
    p->has_alerted = 1;
    p->last_alert_us = sh->now_us;
}

static void check_pair(struct slowhttp *sh, vigil_ctx *ctx, struct pair *p)
{
    if (p->incomplete < (uint64_t)sh->cfg.min_connections)
        return;
    if (p->has_alerted && sh->now_us - p->last_alert_us < sh->cfg.alert_interval_us)
        return;
    struct census k = count_aged(sh, p);
    if (k.aged > p->peak)
        p->peak = k.aged;
    if (k.aged >= (uint64_t)sh->cfg.min_connections)
        report(sh, ctx, p, &k);
}

static void sh_on_tick(void *state, vigil_ctx *ctx, int64_t now_us)
{
    struct slowhttp *sh = state;
    if (now_us > sh->now_us)
        sh->now_us = now_us;
    for (struct pair *p = sh->all_head, *next; p; p = next) {
        next = p->all_next;
        check_pair(sh, ctx, p);
        /* Nothing open and quiet past the alert interval: forget it. */
        if (p->incomplete == 0 && sh->now_us - p->last_us > sh->cfg.alert_interval_us)
            pair_remove(sh, p);
    }
}

static void sh_on_finish(void *state, vigil_ctx *ctx)
{
    struct slowhttp *sh = state;
    for (struct pair *p = sh->all_head; p; p = p->all_next)
        check_pair(sh, ctx, p);
    sh->host->log(ctx, VIGIL_LOG_INFO,
                  "alerts=%" PRIu64 " pairs=%" PRIu32 " pairs_evicted=%" PRIu64
                  " conns_refused=%" PRIu64,
                  sh->alerts, sh->npairs, sh->pairs_evicted, sh->conns_refused);
}

static void sh_flow_free(void *state, void *flow_state)
{
    struct slowhttp *sh = state;
    struct conn *c = flow_state;
    if (c == NULL)
        return;
    conn_detach(c);
    sh->nconns--;
    free(c);
}

/* ---- life cycle ------------------------------------------------------------------------ */

static int sh_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    struct slowhttp *sh = calloc(1, sizeof *sh);
    if (sh == NULL)
        return VIGIL_ENOMEM;
    sh->host = host;
    if (vgp_read_knobs(ctx, host, knobs, sizeof knobs / sizeof knobs[0], &sh->cfg) != VIGIL_OK) {
        free(sh);
        return VIGIL_EINVAL;
    }
    uint32_t nb = vgp_pow2_at_least((uint64_t)sh->cfg.max_pairs, 1u << 24);
    sh->buckets = calloc(nb, sizeof *sh->buckets);
    if (sh->buckets == NULL) {
        free(sh);
        return VIGIL_ENOMEM;
    }
    sh->bucket_mask = nb - 1;
    /* Bucket choice only; alerts never depend on it. */
    sh->hash_key = vgp_mix64((uint64_t)(uintptr_t)sh ^ 0x9e3779b97f4a7c15ULL);
    *state = sh;
    return VIGIL_OK;
}

static void sh_fini(void *state)
{
    struct slowhttp *sh = state;
    if (sh == NULL)
        return;
    while (sh->all_head)
        pair_remove(sh, sh->all_head);
    free(sh->buckets);
    free(sh);
}

static const vigil_plugin slowhttp_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "slowhttp",
    .version = "1.0.0",
    .description = "slow HTTP denial of service: many concurrent requests from one source "
                   "whose headers or body never complete",
    .init = sh_init,
    .fini = sh_fini,
    .on_stream = sh_on_stream,
    .on_tick = sh_on_tick,
    .on_finish = sh_on_finish,
    .flow_free = sh_flow_free,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &slowhttp_plugin;
}
