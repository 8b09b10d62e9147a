/*
 * beacon.c - command-and-control beaconing and outbound volume spikes.
 *
 * Beaconing (T1071): an internal host that keeps calling the same external
 * peer:port at a steady rhythm. Every TCP connection attempt (the first SYN
 * of a flow) and every outbound UDP datagram from the client side is an
 * event of its (host, peer, port, protocol) pair; events closer together
 * than merge_sec form one session (a callback that opens several
 * connections at once, or a UDP exchange), and the pair remembers the start
 * times of its last sessions. Once min_connections sessions are known, the
 * intervals between them are scored: mean interval and jitter (standard
 * deviation / mean, after dropping the single longest interval, so one
 * missed callback does not hide a beacon).
 *
 * Exfiltration (T1048): the outbound payload bytes of an internal host to
 * external peers, summed per fixed window of packet time, against an EWMA
 * baseline of the host's earlier active windows. After a learning period, a
 * window above ratio x baseline and above an absolute floor raises one alert.
 *
 * Who is inside: the `internal` list of rules/beacon.conf, or [vigil]
 * home_net when that key is absent. A peer is external when it is not
 * inside, not multicast/broadcast and not in `allow_peers`.
 *
 * Work per packet is a few comparisons; address lookups happen only for
 * SYNs and packets that carry payload. All state lives in two fixed-size
 * tables with least-recently-used eviction; alerts are emitted while the
 * packet that completes the evidence is processed, so their order follows
 * the capture.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/plugin.h"
#include "vgp.h"

#define US INT64_C(1000000)
#define MB UINT64_C(1000000)
#define NIL UINT32_MAX
#define HISTORY 16              /* session starts kept per pair */
#define TOP_PEERS 4             /* heaviest peers kept per host and window */
#define TRIM_MIN_INTERVALS 8    /* drop the longest of this many intervals */
#define RECENT_PORTS 4          /* source ports of the last attempts per pair */

enum {
    SID_BEACON_TCP = 9600001,
    SID_BEACON_UDP = 9600002,
    SID_EXFIL = 9600011,
};

/* ---- a fixed-capacity hash index with least-recently-used eviction ------ */

struct lru_node {
    uint32_t hnext, prev, next, hash;
};

struct lru {
    uint32_t cap, used, mask, head, tail;
    uint32_t *bucket;
    struct lru_node *node;
};

static int lru_init(struct lru *l, uint32_t cap)
{
    uint32_t nb = 16;
    while (nb < cap * 2)
        nb *= 2;
    l->cap = cap;
    l->used = 0;
    l->mask = nb - 1;
    l->head = l->tail = NIL;
    l->bucket = malloc(nb * sizeof *l->bucket);
    l->node = calloc(cap, sizeof *l->node);
    if (l->bucket == NULL || l->node == NULL)
        return VIGIL_ENOMEM;
    memset(l->bucket, 0xff, nb * sizeof *l->bucket);
    return VIGIL_OK;
}

static void lru_free(struct lru *l)
{
    free(l->bucket);
    free(l->node);
}

static void lru_unlink(struct lru *l, uint32_t i)
{
    struct lru_node *n = &l->node[i];
    if (n->prev != NIL)
        l->node[n->prev].next = n->next;
    else
        l->head = n->next;
    if (n->next != NIL)
        l->node[n->next].prev = n->prev;
    else
        l->tail = n->prev;
}

static void lru_push_front(struct lru *l, uint32_t i)
{
    l->node[i].prev = NIL;
    l->node[i].next = l->head;
    if (l->head != NIL)
        l->node[l->head].prev = i;
    l->head = i;
    if (l->tail == NIL)
        l->tail = i;
}

static void lru_unhash(struct lru *l, uint32_t i)
{
    uint32_t *link = &l->bucket[l->node[i].hash & l->mask];
    while (*link != i)
        link = &l->node[*link].hnext;
    *link = l->node[i].hnext;
}

static void lru_touch(struct lru *l, uint32_t i)
{
    if (l->head == i)
        return;
    lru_unlink(l, i);
    lru_push_front(l, i);
}

static uint32_t lru_chain(const struct lru *l, uint32_t hash)
{
    return l->bucket[hash & l->mask];
}

/* A slot for a new key: a free one, or the least recently used (*evicted). */
static uint32_t lru_take(struct lru *l, uint32_t hash, int *evicted)
{
    uint32_t i;
    *evicted = 0;
    if (l->used < l->cap) {
        i = l->used++;
    } else {
        i = l->tail;
        lru_unhash(l, i);
        lru_unlink(l, i);
        *evicted = 1;
    }
    l->node[i].hash = hash;
    l->node[i].hnext = l->bucket[hash & l->mask];
    l->bucket[hash & l->mask] = i;
    lru_push_front(l, i);
    return i;
}

/* FNV-1a with a fixed basis: the same capture always fills the same slots. */
static uint32_t hash_bytes(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h ^ (h >> 15);
}

/* ---- state ---------------------------------------------------------------- */

/* A (internal host, external peer, port, protocol) pair. Zeroed, then filled,
 * so padding never differs between equal keys. */
struct pair_key {
    vigil_addr host, peer;
    uint16_t port;
    uint8_t proto;
    uint8_t unused;
};

struct pair {
    struct pair_key key;
    int64_t first_us;           /* first event */
    int64_t last_us;            /* last event (merging) */
    int64_t alerted_us;         /* last alert, 0 = never */
    int64_t start[HISTORY];     /* ring of session start times */
    uint32_t head, count;       /* next write; valid entries */
    uint32_t series;            /* sessions since the series (re)started */
    uint32_t events, sessions;  /* totals since the pair was created */
    uint16_t recent_sport[RECENT_PORTS]; /* of the last TCP attempts */
};

struct peer_bytes {
    vigil_addr addr;
    uint16_t port;
    uint8_t proto;
    uint64_t bytes;
};

struct host {
    vigil_addr addr;
    int64_t window_start;       /* us, a multiple of the window */
    uint64_t bytes;             /* outbound payload bytes in this window */
    double baseline;            /* EWMA of earlier active windows */
    uint32_t active_windows;    /* completed windows with outbound bytes */
    uint32_t npeers;
    int alerted;                /* this window */
    struct peer_bytes top[TOP_PEERS];
};

struct settings {
    int64_t min_connections, min_interval_us, max_interval_us, max_jitter_pct;
    int64_t merge_us, alert_interval_us;
    int64_t window_us, learn_windows, ratio, min_bytes, weight_pct;
    int64_t max_pairs, max_hosts;
};

struct beacon {
    const vigil_host_api *api;
    struct settings set;
    int use_internal_list, use_allow_list;
    uint8_t ignore_udp[65536 / 8];  /* bit per UDP port never scored */
    struct lru pair_index, host_index;
    struct pair *pairs;
    struct host *hosts;
    uint64_t pairs_evicted, hosts_evicted, alerts;
};

/* ---- configuration ---------------------------------------------------------- */

#define KNOB(k, d, lo, hi, sc, field) VGP_KNOB(struct settings, k, d, lo, hi, sc, field)
static const struct vgp_knob knobs[] = {
    KNOB("beacon_min_connections", 10, 4, HISTORY, 1, min_connections),
    KNOB("beacon_min_interval_sec", 10, 1, 86400, US, min_interval_us),
    KNOB("beacon_max_interval_sec", 14400, 1, 604800, US, max_interval_us),
    KNOB("beacon_max_jitter_pct", 15, 1, 100, 1, max_jitter_pct),
    KNOB("beacon_merge_sec", 2, 0, 3600, US, merge_us),
    KNOB("beacon_alert_interval_sec", 3600, 0, 604800, US, alert_interval_us),
    KNOB("exfil_window_sec", 3600, 10, 604800, US, window_us),
    KNOB("exfil_learn_windows", 6, 1, 10000, 1, learn_windows),
    KNOB("exfil_ratio", 10, 2, 100000, 1, ratio),
    KNOB("exfil_min_mb", 50, 0, 1000000, (int64_t)MB, min_bytes),
    KNOB("exfil_baseline_weight_pct", 20, 1, 100, 1, weight_pct),
    KNOB("max_pairs", 16384, 16, 1 << 22, 1, max_pairs),
    KNOB("max_hosts", 16384, 16, 1 << 22, 1, max_hosts),
};

static int read_knobs(struct beacon *b, vigil_ctx *ctx)
{
    if (vgp_read_knobs(ctx, b->api, knobs, sizeof knobs / sizeof knobs[0], &b->set) != VIGIL_OK)
        return VIGIL_EINVAL;
    if (b->set.min_interval_us > b->set.max_interval_us) {
        b->api->log(ctx, VIGIL_LOG_ERROR,
                    "beacon_min_interval_sec is above beacon_max_interval_sec");
        return VIGIL_EINVAL;
    }
    return VIGIL_OK;
}

/* "53, 123 5353": ports, separated by commas or blanks. */
static int parse_ports(struct beacon *b, vigil_ctx *ctx, const char *text)
{
    const char *p = text;
    while (*p) {
        if (*p == ',' || *p == ' ' || *p == '\t') {
            p++;
            continue;
        }
        char *end;
        long port = strtol(p, &end, 10);
        if (end == p || port < 0 || port > 65535 ||
            (*end && *end != ',' && *end != ' ' && *end != '\t')) {
            b->api->log(ctx, VIGIL_LOG_ERROR, "ignore_udp_ports: bad port list '%s'", text);
            return VIGIL_EINVAL;
        }
        b->ignore_udp[port / 8] |= (uint8_t)(1u << (port % 8));
        p = end;
    }
    return VIGIL_OK;
}

static const char default_udp_ports[] = "53 67 68 123 137 138 500 1900 4500 5353";

/* An address list: absent is fine (0), malformed refuses the load. */
static int probe_list(struct beacon *b, vigil_ctx *ctx, const char *key, int *present)
{
    vigil_addr any;
    memset(&any, 0, sizeof any);
    any.family = 4;
    int r = b->api->config_addr_match(ctx, key, &any);
    if (r == VIGIL_ENOENT) {
        *present = 0;
        return VIGIL_OK;
    }
    *present = 1;
    return r < 0 ? VIGIL_EINVAL : VIGIL_OK;
}

static int read_config(struct beacon *b, vigil_ctx *ctx)
{
    if (read_knobs(b, ctx) != VIGIL_OK)
        return VIGIL_EINVAL;
    const char *ports = default_udp_ports;
    if (b->api->config_str(ctx, "ignore_udp_ports", &ports) != VIGIL_OK)
        ports = default_udp_ports;
    if (parse_ports(b, ctx, ports) != VIGIL_OK)
        return VIGIL_EINVAL;
    if (probe_list(b, ctx, "internal", &b->use_internal_list) != VIGIL_OK ||
        probe_list(b, ctx, "allow_peers", &b->use_allow_list) != VIGIL_OK)
        return VIGIL_EINVAL;
    return VIGIL_OK;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void beacon_fini(void *state);

static int beacon_init(vigil_ctx *ctx, const vigil_host_api *api, void **state)
{
    struct beacon *b = calloc(1, sizeof *b);
    if (b == NULL)
        return VIGIL_ENOMEM;
    b->api = api;
    *state = b;
    if (read_config(b, ctx) != VIGIL_OK) {
        beacon_fini(b);
        *state = NULL;
        return VIGIL_EINVAL;
    }
    uint32_t np = (uint32_t)b->set.max_pairs, nh = (uint32_t)b->set.max_hosts;
    b->pairs = calloc(np, sizeof *b->pairs);
    b->hosts = calloc(nh, sizeof *b->hosts);
    if (b->pairs == NULL || b->hosts == NULL || lru_init(&b->pair_index, np) != VIGIL_OK ||
        lru_init(&b->host_index, nh) != VIGIL_OK) {
        beacon_fini(b);
        *state = NULL;
        return VIGIL_ENOMEM;
    }
    return VIGIL_OK;
}

static void beacon_fini(void *state)
{
    struct beacon *b = state;
    if (b == NULL)
        return;
    lru_free(&b->pair_index);
    lru_free(&b->host_index);
    free(b->pairs);
    free(b->hosts);
    free(b);
}

static void beacon_finish(void *state, vigil_ctx *ctx)
{
    struct beacon *b = state;
    if (b->pairs_evicted || b->hosts_evicted)
        b->api->log(ctx, VIGIL_LOG_INFO, "%" PRIu64 " alerts; evicted %" PRIu64
                    " pairs and %" PRIu64 " hosts at the table caps",
                    b->alerts, b->pairs_evicted, b->hosts_evicted);
}

/* ---- who is inside ---------------------------------------------------------- */

static int is_internal(const struct beacon *b, vigil_ctx *ctx, const vigil_addr *a)
{
    if (b->use_internal_list)
        return b->api->config_addr_match(ctx, "internal", a) == 1;
    return b->api->in_home_net(ctx, a) == 1;
}

/* Multicast, broadcast and unspecified peers are nobody's C2 server. */
static int is_group_or_null(const vigil_addr *a)
{
    if (a->family == 4)
        return a->bytes[0] >= 224 || a->bytes[0] == 0;
    return a->bytes[0] == 0xff;
}

static int is_outbound(const struct beacon *b, vigil_ctx *ctx, const vigil_packet *pkt)
{
    if (is_group_or_null(&pkt->dst) || !is_internal(b, ctx, &pkt->src) ||
        is_internal(b, ctx, &pkt->dst))
        return 0;
    return !(b->use_allow_list && b->api->config_addr_match(ctx, "allow_peers", &pkt->dst) == 1);
}

/* ---- formatting ------------------------------------------------------------- */

static void emit(struct beacon *b, vigil_ctx *ctx, vgp_alert *al)
{
    vgp_alert_emit(al, ctx, b->api);
    b->alerts++;
}

/* ---- beaconing ---------------------------------------------------------------- */

static uint32_t pair_find(struct beacon *b, const struct pair_key *k, uint32_t h)
{
    for (uint32_t i = lru_chain(&b->pair_index, h); i != NIL; i = b->pair_index.node[i].hnext)
        if (b->pair_index.node[i].hash == h && memcmp(&b->pairs[i].key, k, sizeof *k) == 0)
            return i;
    return NIL;
}

static struct pair *pair_get(struct beacon *b, const struct pair_key *k, int64_t ts)
{
    uint32_t h = hash_bytes(k, sizeof *k);
    uint32_t i = pair_find(b, k, h);
    if (i != NIL) {
        lru_touch(&b->pair_index, i);
        return &b->pairs[i];
    }
    int evicted;
    i = lru_take(&b->pair_index, h, &evicted);
    b->pairs_evicted += (uint64_t)evicted;
    struct pair *p = &b->pairs[i];
    memset(p, 0, sizeof *p);
    p->key = *k;
    p->first_us = ts;
    return p;
}

static int64_t start_at(const struct pair *p, uint32_t age)
{
    /* age 0 = the oldest kept start */
    return p->start[(p->head + HISTORY - p->count + age) % HISTORY];
}

struct rhythm {
    double mean_us, jitter;     /* jitter = stddev / mean */
    int64_t min_us, max_us;
    uint32_t intervals, used;   /* measured; used after trimming */
};

static void sort_i64(int64_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        int64_t x = v[i];
        uint32_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* Mean and jitter of the intervals between the kept session starts. */
static struct rhythm measure(const struct pair *p)
{
    struct rhythm r;
    memset(&r, 0, sizeof r);
    int64_t iv[HISTORY] = { 0 };
    r.intervals = p->count - 1;
    for (uint32_t i = 0; i < r.intervals; i++)
        iv[i] = start_at(p, i + 1) - start_at(p, i);
    sort_i64(iv, r.intervals);
    r.min_us = iv[0];
    r.max_us = iv[r.intervals - 1];
    uint32_t lo = 0, hi = r.intervals;
    if (r.intervals >= TRIM_MIN_INTERVALS)
        hi--;                   /* a missed callback; never trim short ones */
    r.used = hi - lo;
    double sum = 0, sq = 0;
    for (uint32_t i = lo; i < hi; i++)
        sum += (double)iv[i];
    r.mean_us = sum / r.used;
    for (uint32_t i = lo; i < hi; i++)
        sq += ((double)iv[i] - r.mean_us) * ((double)iv[i] - r.mean_us);
    r.jitter = r.mean_us > 0 ? sqrt(sq / r.used) / r.mean_us : 1.0;
    return r;
}

static void beacon_alert(struct beacon *b, vigil_ctx *ctx, const struct pair *p,
                         const struct rhythm *r, int64_t ts)
{
    char peer[64];
    vgp_addr_ntop(&p->key.peer, peer, sizeof peer);
    int udp = p->key.proto == 17;
    char sig[192];
    snprintf(sig, sizeof sig, "VIGIL C2 periodic %s callbacks to %s port %u every %.1f s (jitter %.1f%%)",
             udp ? "UDP" : "TCP", peer, p->key.port, r->mean_us / US, r->jitter * 100);
    vgp_alert al;
    vgp_alert_init(&al, 16, 64);
    vgp_meta_add(&al, "connections", "%" PRIu32, p->events);
    vgp_meta_add(&al, "sessions", "%" PRIu32, p->sessions);
    vgp_meta_add(&al, "intervals_scored", "%" PRIu32, r->used);
    vgp_meta_add(&al, "mean_interval_sec", "%.2f", r->mean_us / US);
    vgp_meta_add(&al, "jitter", "%.4f", r->jitter);
    vgp_meta_add(&al, "interval_min_sec", "%.2f", (double)r->min_us / US);
    vgp_meta_add(&al, "interval_max_sec", "%.2f", (double)r->max_us / US);
    vgp_meta_add(&al, "window_sec", "%.0f", (double)(start_at(p, p->count - 1) - start_at(p, 0)) / US);
    vgp_meta_add(&al, "first_seen", "%.6f", (double)p->first_us / US);
    vgp_meta_add(&al, "last_seen", "%.6f", (double)ts / US);
    vgp_meta_add(&al, "max_jitter", "%.2f", (double)b->set.max_jitter_pct / 100);
    al.a.signature_id = udp ? SID_BEACON_UDP : SID_BEACON_TCP;
    al.a.severity = 2;
    al.a.signature = sig;
    al.a.category = "A Network Trojan was Detected";
    al.a.attack_category = "beaconing";
    al.a.attack_technique = "periodic_callback";
    al.a.mitre_attack = "T1071";
    al.a.src = p->key.host;
    al.a.dst = p->key.peer;
    al.a.dport = p->key.port;
    al.a.ip_proto = p->key.proto;
    al.a.ts_us = ts;
    emit(b, ctx, &al);
}

/* Scored when the series first reaches min_connections sessions, then once
 * per HISTORY new sessions: fresh samples each time, so a long irregular
 * series gets few chances to look regular by luck. */
static int due(const struct beacon *b, const struct pair *p)
{
    uint32_t min = (uint32_t)b->set.min_connections;
    return p->series == min || (p->series > min && (p->series - min) % HISTORY == 0);
}

static void score(struct beacon *b, vigil_ctx *ctx, struct pair *p, int64_t ts)
{
    if (!due(b, p))
        return;
    if (p->alerted_us != 0 && ts - p->alerted_us < b->set.alert_interval_us)
        return;
    struct rhythm r = measure(p);
    if (r.mean_us < (double)b->set.min_interval_us || r.mean_us > (double)b->set.max_interval_us ||
        r.jitter * 100 > (double)b->set.max_jitter_pct)
        return;
    p->alerted_us = ts;
    beacon_alert(b, ctx, p, &r, ts);
}

/* A SYN from a source port one of the last attempts used is retransmitted. */
static int is_retransmission(struct pair *p, uint16_t sport)
{
    if (sport == 0)
        return 0;
    for (uint32_t i = 0; i < RECENT_PORTS; i++)
        if (p->recent_sport[i] == sport)
            return 1;
    memmove(p->recent_sport + 1, p->recent_sport, (RECENT_PORTS - 1) * sizeof p->recent_sport[0]);
    p->recent_sport[0] = sport;
    return 0;
}

/* One connection attempt (sport: its source port) or datagram (sport 0) of
 * a pair at time ts. */
static void beacon_event(struct beacon *b, vigil_ctx *ctx, const struct pair_key *k, int64_t ts,
                         uint16_t sport)
{
    struct pair *p = pair_get(b, k, ts);
    if (is_retransmission(p, sport))
        return;
    p->events++;
    if (p->count > 0 && ts - p->last_us < b->set.merge_us) {
        if (ts > p->last_us)
            p->last_us = ts;
        return;                 /* part of the current session */
    }
    if (p->count > 0 && ts - start_at(p, p->count - 1) > b->set.max_interval_us)
        p->count = p->series = 0; /* a long silence starts a new series */
    p->start[p->head] = ts;
    p->head = (p->head + 1) % HISTORY;
    if (p->count < HISTORY)
        p->count++;
    p->sessions++;
    p->series++;
    p->last_us = ts;
    score(b, ctx, p, ts);
}

static void make_key(struct pair_key *k, const vigil_packet *pkt)
{
    memset(k, 0, sizeof *k);
    k->host = pkt->src;
    k->peer = pkt->dst;
    k->port = pkt->dport;
    k->proto = pkt->ip_proto;
}

/* A connection attempt. A retransmitted SYN repeats the source port of one
 * of the pair's last attempts; dropping it needs no per-flow lookup. */
static void on_tcp_attempt(struct beacon *b, vigil_ctx *ctx, const vigil_packet *pkt)
{
    struct pair_key k;
    make_key(&k, pkt);
    beacon_event(b, ctx, &k, pkt->ts_us, pkt->sport);
}

/* A client usually sends from a higher (ephemeral) port than the service's;
 * this keeps an internal UDP server's replies from being scored. */
static void on_udp_datagram(struct beacon *b, vigil_ctx *ctx, const vigil_packet *pkt)
{
    if (pkt->dport > pkt->sport || (b->ignore_udp[pkt->dport / 8] >> (pkt->dport % 8)) & 1)
        return;
    struct pair_key k;
    make_key(&k, pkt);
    beacon_event(b, ctx, &k, pkt->ts_us, 0);
}

/* ---- exfiltration ------------------------------------------------------------- */

static struct host *host_get(struct beacon *b, const vigil_addr *a, int64_t window)
{
    uint32_t h = hash_bytes(a, sizeof *a);
    for (uint32_t i = lru_chain(&b->host_index, h); i != NIL; i = b->host_index.node[i].hnext)
        if (b->host_index.node[i].hash == h && memcmp(&b->hosts[i].addr, a, sizeof *a) == 0) {
            lru_touch(&b->host_index, i);
            return &b->hosts[i];
        }
    int evicted;
    uint32_t i = lru_take(&b->host_index, h, &evicted);
    b->hosts_evicted += (uint64_t)evicted;
    struct host *ho = &b->hosts[i];
    memset(ho, 0, sizeof *ho);
    ho->addr = *a;
    ho->window_start = window;
    return ho;
}

static int learned(const struct beacon *b, const struct host *h)
{
    return h->active_windows >= (uint32_t)b->set.learn_windows;
}

static double threshold(const struct beacon *b, const struct host *h)
{
    double t = h->baseline * (double)b->set.ratio;
    return t > (double)b->set.min_bytes ? t : (double)b->set.min_bytes;
}

/* Fold a finished window into the baseline. A window above the threshold
 * counts at the threshold only, so one burst does not teach the baseline
 * that bursts are normal, while a lasting change still adapts it. */
static void close_window(const struct beacon *b, struct host *h)
{
    if (h->bytes == 0)
        return;                 /* idle windows say nothing about uploads */
    double v = (double)h->bytes;
    if (learned(b, h) && v > threshold(b, h))
        v = threshold(b, h);
    if (h->active_windows == 0)
        h->baseline = v;
    else
        h->baseline += (v - h->baseline) * (double)b->set.weight_pct / 100.0;
    h->active_windows++;
}

static void roll_window(const struct beacon *b, struct host *h, int64_t window)
{
    if (window <= h->window_start)
        return;                 /* same window (or time stepped back) */
    close_window(b, h);
    h->window_start = window;
    h->bytes = 0;
    h->npeers = 0;
    h->alerted = 0;
    memset(h->top, 0, sizeof h->top);
}

/* Space-saving count of the heaviest peers: exact up to TOP_PEERS peers. */
static void count_peer(struct host *h, const vigil_packet *pkt, uint64_t n)
{
    uint32_t smallest = 0;
    for (uint32_t i = 0; i < h->npeers; i++) {
        if (memcmp(&h->top[i].addr, &pkt->dst, sizeof pkt->dst) == 0) {
            h->top[i].bytes += n;
            return;
        }
        if (h->top[i].bytes < h->top[smallest].bytes)
            smallest = i;
    }
    uint32_t slot = smallest;
    uint64_t carried = h->top[smallest].bytes; /* the evicted peer's count */
    if (h->npeers < TOP_PEERS) {
        slot = h->npeers++;
        carried = 0;
    }
    h->top[slot].addr = pkt->dst;
    h->top[slot].port = pkt->dport;
    h->top[slot].proto = pkt->ip_proto;
    h->top[slot].bytes = carried + n;
}

static const struct peer_bytes *top_peer(const struct host *h)
{
    const struct peer_bytes *best = &h->top[0];
    for (uint32_t i = 1; i < h->npeers; i++)
        if (h->top[i].bytes > best->bytes)
            best = &h->top[i];
    return best;
}

static void exfil_alert(struct beacon *b, vigil_ctx *ctx, const struct host *h, int64_t ts)
{
    const struct peer_bytes *peer = top_peer(h);
    char peer_s[64];
    vgp_addr_ntop(&peer->addr, peer_s, sizeof peer_s);
    double ratio = h->baseline > 0 ? (double)h->bytes / h->baseline : 0;
    char sig[192];
    snprintf(sig, sizeof sig, "VIGIL EXFIL outbound volume spike: %.1f MB in %" PRId64
             " s, %.0fx the host's baseline, mostly to %s", (double)h->bytes / MB,
             b->set.window_us / US, ratio, peer_s);
    vgp_alert al;
    vgp_alert_init(&al, 16, 64);
    vgp_meta_add(&al, "bytes", "%" PRIu64, h->bytes);
    vgp_meta_add(&al, "baseline_bytes", "%.0f", h->baseline);
    vgp_meta_add(&al, "ratio", "%.1f", ratio);
    vgp_meta_add(&al, "threshold_bytes", "%.0f", threshold(b, h));
    vgp_meta_add(&al, "peer_bytes", "%" PRIu64, peer->bytes);
    vgp_meta_add(&al, "window_sec", "%" PRId64, b->set.window_us / US);
    vgp_meta_add(&al, "window_start", "%" PRId64, h->window_start / US);
    vgp_meta_add(&al, "learning_windows", "%" PRId64, b->set.learn_windows);
    vgp_meta_add(&al, "active_windows", "%" PRIu32, h->active_windows);
    al.a.signature_id = SID_EXFIL;
    al.a.severity = 2;
    al.a.signature = sig;
    al.a.category = "Potential Corporate Privacy Violation";
    al.a.attack_category = "exfiltration";
    al.a.attack_technique = "outbound_volume_spike";
    al.a.mitre_attack = "T1048";
    al.a.src = h->addr;
    al.a.dst = peer->addr;
    al.a.dport = peer->port;
    al.a.ip_proto = peer->proto;
    al.a.ts_us = ts;
    emit(b, ctx, &al);
}

static void on_upload(struct beacon *b, vigil_ctx *ctx, const vigil_packet *pkt)
{
    int64_t window = pkt->ts_us - pkt->ts_us % b->set.window_us;
    struct host *h = host_get(b, &pkt->src, window);
    roll_window(b, h, window);
    h->bytes += pkt->payload_wire_len;
    count_peer(h, pkt, pkt->payload_wire_len);
    if (!h->alerted && learned(b, h) && (double)h->bytes > threshold(b, h)) {
        h->alerted = 1;
        exfil_alert(b, ctx, h, pkt->ts_us);
    }
}

/* ---- dispatch ------------------------------------------------------------------ */

static void beacon_packet(void *state, vigil_ctx *ctx, const vigil_packet *pkt)
{
    struct beacon *b = state;
    if ((pkt->l3 != VIGIL_L3_IPV4 && pkt->l3 != VIGIL_L3_IPV6) || !(pkt->flags & VIGIL_PKT_HAS_L4))
        return;
    int syn = pkt->ip_proto == 6 &&
              (pkt->tcp_flags & (VIGIL_TCP_SYN | VIGIL_TCP_ACK | VIGIL_TCP_RST)) == VIGIL_TCP_SYN;
    if (!syn && pkt->payload_wire_len == 0)
        return;                 /* the common case: no lookups at all */
    if (!is_outbound(b, ctx, pkt))
        return;
    if (pkt->payload_wire_len > 0)
        on_upload(b, ctx, pkt);
    if (syn)
        on_tcp_attempt(b, ctx, pkt);
    else if (pkt->ip_proto == 17)
        on_udp_datagram(b, ctx, pkt);
}

static const vigil_plugin beacon_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "beacon",
    .version = "1.0.0",
    .description = "periodic command-and-control callbacks and outbound volume spikes",
    .init = beacon_init,
    .fini = beacon_fini,
    .on_packet = beacon_packet,
    .on_finish = beacon_finish,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &beacon_plugin;
}
