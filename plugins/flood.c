/*
 * flood.c - volumetric floods against one victim: TCP SYN, UDP and ICMP.
 *
 * The victim is the key. Every SYN (without ACK), UDP datagram and ICMP
 * request is counted against its destination in a window of packet time
 * that opens at the victim's first packet after the previous window
 * closed. A window "qualifies" for a kind when:
 *
 *   SYN:  at least syn_min_packets SYNs, few of them (syn_max_complete_percent)
 *         ending in a completed handshake (the ESTABLISHED stream events),
 *         and either one port takes most of them or the sources are many
 *         (a single host spraying many ports is a port scan, not a flood);
 *   UDP:  at least udp_min_packets datagrams from at least udp_min_flows
 *         distinct source endpoints, the victim answering few of them, and
 *         the same port-or-many-sources test as SYN;
 *   ICMP: at least icmp_min_packets echo (or other request) messages.
 *
 * Consecutive qualifying windows form an episode; it is reported once it
 * has been quiet settle_sec, after report_delay_sec of activity, or at the
 * end of input, and again every alert_interval_sec while it lasts, each
 * alert carrying the counts since the previous one. The attacker is the
 * source that sent most packets of every qualifying window when there is
 * one; otherwise (spoofed or distributed) the alert has no source address
 * and meta says how many distinct sources were seen.
 *
 * Memory: a fixed pool of max_victims records (LRU eviction, an evicted
 * victim's pending report is flushed first) plus one small episode per
 * flooding victim and kind. Reports come out in the order victims became
 * interesting (the watch list), never in hash order.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/plugin.h"
#include "vgp.h"

#define NIL VGP_NIL
#define BITMAP_WORDS 4          /* 256-bit distinct-count sketches */
#define META_MAX 18
#define SKETCH_KEY 0x6a09e667f3bcc909ULL
#define SKETCH_SATURATED 1420   /* bitmap_estimate() of a full bitmap */

/* ---- configuration ------------------------------------------------------ */

struct fl_config {
    int64_t window_us;
    int64_t syn_min_packets;
    int64_t syn_max_complete_percent;
    int64_t udp_min_packets;
    int64_t udp_min_flows;
    int64_t udp_max_reply_percent;
    int64_t icmp_min_packets;
    int64_t udp_sustained_packets;  /* a lower rate, held for sustained_windows */
    int64_t icmp_sustained_packets;
    int64_t sustained_windows;
    int64_t port_min_percent;       /* one port takes this share: a flood */
    int64_t dominant_percent;       /* one source sends this share: the attacker */
    int64_t distributed_min_sources;
    int64_t settle_us;
    int64_t report_delay_us;
    int64_t alert_interval_us;
    int64_t max_victims;
    int64_t udp_skip_reflector_ports;
};

#define KNOB(k, d, lo, hi, sc, field) VGP_KNOB(struct fl_config, k, d, lo, hi, sc, field)

static const struct vgp_knob knobs[] = {
    KNOB("window_sec", 1, 1, 3600, VGP_US_PER_SEC, window_us),
    KNOB("syn_min_packets", 100, 2, 100000000, 1, syn_min_packets),
    KNOB("syn_max_complete_percent", 20, 0, 100, 1, syn_max_complete_percent),
    KNOB("udp_min_packets", 1000, 2, 100000000, 1, udp_min_packets),
    KNOB("udp_min_flows", 32, 1, 100000, 1, udp_min_flows),
    KNOB("udp_max_reply_percent", 50, 0, 100, 1, udp_max_reply_percent),
    KNOB("icmp_min_packets", 500, 2, 100000000, 1, icmp_min_packets),
    KNOB("udp_sustained_packets", 300, 2, 100000000, 1, udp_sustained_packets),
    KNOB("icmp_sustained_packets", 300, 2, 100000000, 1, icmp_sustained_packets),
    KNOB("sustained_windows", 3, 1, 3600, 1, sustained_windows),
    KNOB("port_min_percent", 50, 1, 100, 1, port_min_percent),
    KNOB("dominant_percent", 50, 1, 100, 1, dominant_percent),
    KNOB("distributed_min_sources", 16, 2, 100000, 1, distributed_min_sources),
    KNOB("settle_sec", 5, 0, 86400, VGP_US_PER_SEC, settle_us),
    KNOB("report_delay_sec", 10, 0, 86400, VGP_US_PER_SEC, report_delay_us),
    KNOB("alert_interval_sec", 60, 1, 86400, VGP_US_PER_SEC, alert_interval_us),
    KNOB("max_victims", 16384, 16, 4194304, 1, max_victims),
    KNOB("udp_skip_reflector_ports", 1, 0, 1, 1, udp_skip_reflector_ports),
};

/* ---- vocabulary ----------------------------------------------------------- */

enum kind { K_SYN, K_UDP, K_ICMP, K_COUNT };

struct technique {
    uint32_t sid;
    const char *name;
    const char *label;
    const char *unit;           /* what was counted, in meta keys */
    uint8_t proto4;
};

static const struct technique techniques[K_COUNT] = {
    [K_SYN] = { 9200001, "tcp_syn_flood", "TCP SYN flood", "syn", 6 },
    [K_UDP] = { 9200002, "udp_flood", "UDP flood", "udp", 17 },
    [K_ICMP] = { 9200003, "icmp_flood", "ICMP flood", "icmp", 1 },
};

/* ---- state ------------------------------------------------------------------ */

/* One kind's counts in the current window of one victim. */
struct kwin {
    uint32_t pkts;
    uint32_t answered;          /* SYN: handshakes completed; UDP/ICMP: replies */
    uint64_t bytes;
    vigil_addr src;             /* majority-vote candidate (Boyer-Moore) */
    uint32_t src_votes, src_hits; /* hits: packets from it since it became candidate */
    uint16_t port;              /* majority-vote destination port */
    uint32_t port_votes, port_hits;
    uint64_t srcbits[BITMAP_WORDS];  /* distinct sources */
    uint64_t flowbits[BITMAP_WORDS]; /* distinct source endpoints (addr, port) */
};

/* Consecutive qualifying windows of one kind; counts since the last alert. */
struct episode {
    int64_t start_us, last_qual_us, period_start_us, last_alert_us;
    uint64_t pkts, bytes, answered, src_hits;
    uint32_t windows, peak_pkts, max_sources, max_flows;
    int64_t peak_window_us;
    vigil_addr src;             /* the dominant source, or family 0 */
    uint16_t port;              /* the dominant port, 0 when none */
    uint8_t dominated, port_fixed, alerted;
};

struct victim {
    vigil_addr addr;
    uint8_t used;
    uint32_t hash_next;
    struct vgp_link lru, watch;
    int64_t win_start_us, last_seen_us;
    int64_t last_close_us;          /* end of the last closed window */
    uint16_t run[K_COUNT];          /* consecutive windows at the sustained rate */
    struct kwin k[K_COUNT];
    struct episode *ep[K_COUNT];
};

struct counters {
    uint64_t packets, victims_created, victims_evicted, episodes, alerts;
};

struct flood {
    const vigil_host_api *host;
    struct fl_config cfg;
    uint64_t hash_key;
    struct vgp_pool pool;       /* of struct victim */
    int64_t now_us;
    struct counters stats;
};

/* ---- helpers ------------------------------------------------------------------ */

/* Multicast and broadcast: many receivers, not one victim. */
static int addr_is_group(const vigil_addr *a)
{
    if (a->family == 6)
        return a->bytes[0] == 0xff;
    return a->bytes[0] >= 224 || (a->bytes[0] == 0 && a->bytes[1] == 0 && a->bytes[2] == 0 &&
                                  a->bytes[3] == 0);
}

static uint64_t addr_hash(uint64_t key, const vigil_addr *a)
{
    uint64_t w0, w1;
    memcpy(&w0, a->bytes, 8);
    memcpy(&w1, a->bytes + 8, 8);
    return vgp_mix64(vgp_mix64(key ^ a->family ^ w0) ^ w1);
}

static void bitmap_add(uint64_t *bits, uint64_t h)
{
    unsigned bit = (unsigned)(h >> 56);  /* 0..255 */
    bits[bit >> 6] |= 1ULL << (bit & 63);
}

/* Linear counting: distinct items behind a 256-bit bitmap. */
static uint32_t bitmap_estimate(const uint64_t *bits)
{
    unsigned set = 0;
    for (int i = 0; i < BITMAP_WORDS; i++)
        set += (unsigned)__builtin_popcountll(bits[i]);
    const double m = 64.0 * BITMAP_WORDS;
    if (set >= m)
        set = (unsigned)m - 1;  /* saturated: report the largest estimate */
    return (uint32_t)(m * log(m / (m - set)) + 0.5);
}

/* Boyer-Moore majority vote with an exact count for the current candidate. */
static void vote_addr(struct kwin *w, const vigil_addr *src)
{
    if (w->src_votes > 0 && vgp_addr_same(&w->src, src)) {
        w->src_votes++;
        w->src_hits++;
    } else if (w->src_votes == 0) {
        w->src = *src;
        w->src_votes = w->src_hits = 1;
    } else {
        w->src_votes--;
    }
}

static void vote_port(struct kwin *w, uint16_t port)
{
    if (w->port_votes > 0 && w->port == port) {
        w->port_votes++;
        w->port_hits++;
    } else if (w->port_votes == 0) {
        w->port = port;
        w->port_votes = w->port_hits = 1;
    } else {
        w->port_votes--;
    }
}

static int percent_at_least(uint64_t part, uint64_t whole, int64_t pct)
{
    return part * 100 >= whole * (uint64_t)pct;
}

/* ---- the victim table ------------------------------------------------------------ */

static struct victim *V(const struct flood *fl, uint32_t i)
{
    return vgp_pool_at(&fl->pool, i);
}

static uint64_t victim_hash(const struct flood *fl, const vigil_addr *a)
{
    return addr_hash(fl->hash_key, a);
}

static uint32_t victim_find(struct flood *fl, const vigil_addr *a)
{
    uint32_t i = *vgp_pool_bucket(&fl->pool, victim_hash(fl, a));
    for (; i != NIL; i = V(fl, i)->hash_next)
        if (vgp_addr_same(&V(fl, i)->addr, a))
            return i;
    return NIL;
}

static void reset_window(struct victim *v, int64_t now_us)
{
    memset(v->k, 0, sizeof v->k);
    v->win_start_us = now_us;
}

/* ---- reporting ------------------------------------------------------------------- */

struct alert_text {
    char sig[160], pkts[24], bytes[24], pps[24], peak[24], windows[16], duration[24];
    char answered[24], srcs[16], flows[16], top_src[64], top_share[16], first[24], last[24];
    char port[8], window[16];
};

static size_t fill_meta(const struct flood *fl, const struct episode *ep, enum kind k,
                        struct alert_text *x, vigil_meta *meta)
{
    const struct technique *te = &techniques[k];
    int64_t span = fl->now_us - ep->period_start_us;
    int64_t busy = (int64_t)ep->windows * fl->cfg.window_us;
    snprintf(x->pkts, sizeof x->pkts, "%" PRIu64, ep->pkts);
    snprintf(x->bytes, sizeof x->bytes, "%" PRIu64, ep->bytes);
    snprintf(x->pps, sizeof x->pps, "%" PRIu64,
             busy > 0 ? ep->pkts * (uint64_t)VGP_US_PER_SEC / (uint64_t)busy : ep->pkts);
    snprintf(x->peak, sizeof x->peak, "%" PRIu32, ep->peak_pkts);
    snprintf(x->windows, sizeof x->windows, "%" PRIu32, ep->windows);
    snprintf(x->duration, sizeof x->duration, "%" PRId64, (span > 0 ? span : 0) / VGP_US_PER_SEC);
    snprintf(x->window, sizeof x->window, "%" PRId64, fl->cfg.window_us / VGP_US_PER_SEC);
    snprintf(x->answered, sizeof x->answered, "%" PRIu64, ep->answered);
    snprintf(x->srcs, sizeof x->srcs, "%" PRIu32, ep->max_sources);
    snprintf(x->flows, sizeof x->flows, "%" PRIu32, ep->max_flows);
    snprintf(x->top_share, sizeof x->top_share, "%" PRIu64,
             ep->pkts ? ep->src_hits * 100 / ep->pkts : 0);
    vgp_format_ts(ep->period_start_us, x->first, sizeof x->first);
    vgp_format_ts(ep->last_qual_us, x->last, sizeof x->last);
    size_t n = 0;
    meta[n++] = (vigil_meta){ "packets", x->pkts };
    meta[n++] = (vigil_meta){ "bytes", x->bytes };
    meta[n++] = (vigil_meta){ "avg_pps", x->pps };
    meta[n++] = (vigil_meta){ "peak_packets_per_window", x->peak };
    meta[n++] = (vigil_meta){ "window_sec", x->window };
    meta[n++] = (vigil_meta){ "flood_windows", x->windows };
    meta[n++] = (vigil_meta){ "duration_sec", x->duration };
    meta[n++] = (vigil_meta){ "first_seen", x->first };
    meta[n++] = (vigil_meta){ "last_seen", x->last };
    meta[n++] = (vigil_meta){ "distinct_sources", x->srcs };
    if (ep->max_sources >= SKETCH_SATURATED)
        meta[n++] = (vigil_meta){ "distinct_sources_is_lower_bound", "true" };
    meta[n++] = (vigil_meta){ k == K_SYN ? "handshakes_completed" : "replies", x->answered };
    if (k == K_UDP)
        meta[n++] = (vigil_meta){ "distinct_source_endpoints", x->flows };
    if (ep->dominated) {
        vgp_format_addr(&ep->src, x->top_src, sizeof x->top_src);
        meta[n++] = (vigil_meta){ "top_source", x->top_src };
        meta[n++] = (vigil_meta){ "top_source_percent", x->top_share };
    }
    meta[n++] = (vigil_meta){ "spoofed_or_distributed", ep->dominated ? "false" : "true" };
    if (ep->port_fixed && k != K_ICMP) {
        snprintf(x->port, sizeof x->port, "%u", ep->port);
        meta[n++] = (vigil_meta){ "dest_port", x->port };
    }
    (void)te;
    return n;
}

static void emit(struct flood *fl, vigil_ctx *ctx, const struct victim *v, enum kind k,
                 struct episode *ep)
{
    const struct technique *te = &techniques[k];
    struct alert_text x;
    vigil_meta meta[META_MAX];
    size_t nmeta = fill_meta(fl, ep, k, &x, meta);
    char target[64];
    vgp_format_addr(&v->addr, target, sizeof target);
    if (ep->dominated)
        snprintf(x.sig, sizeof x.sig, "VIGIL DOS %s against %s", te->label, target);
    else
        snprintf(x.sig, sizeof x.sig, "VIGIL DOS %s against %s from %s%s sources", te->label,
                 target, x.srcs, ep->max_sources >= SKETCH_SATURATED ? "+" : "");

    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.gid = 1;
    a.signature_id = te->sid;
    a.rev = 1;
    a.severity = 2;
    a.signature = x.sig;
    a.category = "Attempted Denial of Service";
    a.attack_category = "dos_flood";
    a.attack_technique = te->name;
    a.mitre_attack = "T1498.001";
    if (ep->dominated)
        a.src = ep->src;
    a.dst = v->addr;
    a.dport = (ep->port_fixed && k != K_ICMP) ? ep->port : 0;
    a.ip_proto = (k == K_ICMP && v->addr.family == 6) ? 58 : te->proto4;
    a.ts_us = fl->now_us;
    a.meta = meta;
    a.meta_count = nmeta;
    fl->host->emit_alert(ctx, &a);
    fl->stats.alerts++;

    ep->alerted = 1;
    ep->last_alert_us = fl->now_us;
    ep->period_start_us = fl->now_us;
    ep->pkts = ep->bytes = ep->answered = ep->src_hits = 0;
    ep->windows = ep->peak_pkts = ep->max_sources = ep->max_flows = 0;
}

/* ---- windows and episodes -------------------------------------------------------- */

static uint64_t min_packets(const struct flood *fl, enum kind k);

/* Everything but the count: one target port or many sources, and for UDP
 * many flows and few replies; SYN: few completed handshakes. */
static int window_shape_ok(const struct flood *fl, enum kind k, const struct kwin *w)
{
    const struct fl_config *c = &fl->cfg;
    if (k == K_ICMP)
        return 1;
    int one_port = percent_at_least(w->port_hits, w->pkts, c->port_min_percent);
    int dominated = percent_at_least(w->src_hits, w->pkts, c->dominant_percent);
    int many_sources = !dominated && bitmap_estimate(w->srcbits) >= c->distributed_min_sources;
    if (!one_port && !many_sources)
        return 0;               /* one host, many ports: a scan */
    if (k == K_SYN)
        return !percent_at_least(w->answered, w->pkts, c->syn_max_complete_percent + 1);
    return bitmap_estimate(w->flowbits) >= c->udp_min_flows &&
           !percent_at_least(w->answered, w->pkts, c->udp_max_reply_percent + 1);
}

static uint64_t sustained_packets(const struct flood *fl, enum kind k)
{
    switch (k) {
    case K_UDP: return (uint64_t)fl->cfg.udp_sustained_packets;
    case K_ICMP: return (uint64_t)fl->cfg.icmp_sustained_packets;
    default: return (uint64_t)fl->cfg.syn_min_packets;
    }
}

/*
 * A window qualifies at the flood rate, or at the lower sustained rate once
 * that rate has held for sustained_windows windows in a row: a steady
 * 500 packets/s for seconds is a flood too, where one busy second is not.
 */
static int window_qualifies(const struct flood *fl, struct victim *v, enum kind k,
                            const struct kwin *w)
{
    int shape = w->pkts > 0 && window_shape_ok(fl, k, w);
    int sustained = shape && w->pkts >= sustained_packets(fl, k);
    v->run[k] = sustained ? (uint16_t)(v->run[k] < UINT16_MAX ? v->run[k] + 1 : v->run[k]) : 0;
    if (!shape)
        return 0;
    return w->pkts >= min_packets(fl, k) || v->run[k] >= fl->cfg.sustained_windows;
}

/* Fold one qualifying window into the kind's episode. */
static void episode_add(struct flood *fl, struct victim *v, enum kind k, const struct kwin *w,
                        int64_t win_end_us)
{
    struct episode *ep = v->ep[k];
    int dominated = percent_at_least(w->src_hits, w->pkts, fl->cfg.dominant_percent);
    int one_port = percent_at_least(w->port_hits, w->pkts, fl->cfg.port_min_percent);
    if (ep == NULL) {
        ep = calloc(1, sizeof *ep);
        if (ep == NULL)
            return;
        v->ep[k] = ep;
        ep->start_us = ep->period_start_us = v->win_start_us;
        ep->dominated = (uint8_t)dominated;
        ep->src = w->src;
        ep->port_fixed = (uint8_t)one_port;
        ep->port = w->port;
        fl->stats.episodes++;
    }
    if (!dominated || !vgp_addr_same(&ep->src, &w->src))
        ep->dominated = 0;
    if (!one_port || ep->port != w->port)
        ep->port_fixed = 0;
    if (ep->windows == 0 && ep->alerted)
        ep->period_start_us = v->win_start_us;
    ep->last_qual_us = win_end_us;
    ep->pkts += w->pkts;
    ep->bytes += w->bytes;
    ep->answered += w->answered;
    ep->src_hits += vgp_addr_same(&ep->src, &w->src) ? w->src_hits : 0;
    ep->windows++;
    if (w->pkts > ep->peak_pkts) {
        ep->peak_pkts = w->pkts;
        ep->peak_window_us = v->win_start_us;
    }
    uint32_t srcs = bitmap_estimate(w->srcbits);
    if (srcs > ep->max_sources)
        ep->max_sources = srcs;
    uint32_t flows = bitmap_estimate(w->flowbits);
    if (flows > ep->max_flows)
        ep->max_flows = flows;
}

/* Close the victim's current window: fold qualifying kinds into episodes. */
static void close_window(struct flood *fl, struct victim *v)
{
    int64_t end = v->win_start_us + fl->cfg.window_us;
    if (end > fl->now_us)
        end = fl->now_us;
    /* A silent window in between breaks a sustained run. */
    if (v->last_close_us && v->win_start_us - v->last_close_us >= fl->cfg.window_us)
        memset(v->run, 0, sizeof v->run);
    v->last_close_us = end;
    for (int k = 0; k < K_COUNT; k++)
        if (window_qualifies(fl, v, (enum kind)k, &v->k[k]))
            episode_add(fl, v, (enum kind)k, &v->k[k], end);
}

/* Report and retire episodes as their time comes; final: everything now. */
static void review_episodes(struct flood *fl, vigil_ctx *ctx, struct victim *v, int final)
{
    for (int k = 0; k < K_COUNT; k++) {
        struct episode *ep = v->ep[k];
        if (ep == NULL)
            continue;
        int over = final || fl->now_us - ep->last_qual_us >= fl->cfg.settle_us;
        int since_alert_ok = !ep->alerted ||
                             fl->now_us - ep->last_alert_us >= fl->cfg.alert_interval_us;
        int first_due = !ep->alerted && fl->now_us - ep->start_us >= fl->cfg.report_delay_us;
        /* Counts since an alert younger than the interval stay unreported. */
        if (ep->windows > 0 && since_alert_ok && (over || first_due || ep->alerted))
            emit(fl, ctx, v, (enum kind)k, ep);
        if (over) {
            free(ep);
            v->ep[k] = NULL;
        }
    }
}

static int has_episode(const struct victim *v)
{
    for (int k = 0; k < K_COUNT; k++)
        if (v->ep[k])
            return 1;
    return 0;
}

/* Flush everything a victim holds (eviction, end of input). */
static void victim_flush(struct flood *fl, vigil_ctx *ctx, uint32_t i)
{
    struct victim *v = V(fl, i);
    close_window(fl, v);
    reset_window(v, fl->now_us);
    review_episodes(fl, ctx, v, 1);
    vgp_pool_unwatch(&fl->pool, i);
}

static uint32_t victim_get(struct flood *fl, vigil_ctx *ctx, const vigil_addr *a)
{
    uint32_t i = victim_find(fl, a);
    if (i != NIL) {
        vgp_pool_touch(&fl->pool, i);
        return i;
    }
    i = vgp_pool_fresh(&fl->pool);
    if (i == NIL) {
        i = fl->pool.lru.tail;
        victim_flush(fl, ctx, i);
        vgp_pool_remove(&fl->pool, i, victim_hash(fl, &V(fl, i)->addr));
        fl->stats.victims_evicted++;
    }
    struct victim *v = V(fl, i);
    memset(v, 0, sizeof *v);
    v->addr = *a;
    v->used = 1;
    v->win_start_us = fl->now_us;
    vgp_pool_insert(&fl->pool, i, victim_hash(fl, a));
    fl->stats.victims_created++;
    return i;
}

/* Move to a new window when the current one is over. */
static void roll_window(struct flood *fl, struct victim *v)
{
    if (fl->now_us - v->win_start_us < fl->cfg.window_us)
        return;
    close_window(fl, v);
    reset_window(v, fl->now_us);
}

static uint64_t min_packets(const struct flood *fl, enum kind k)
{
    switch (k) {
    case K_SYN: return (uint64_t)fl->cfg.syn_min_packets;
    case K_UDP: return (uint64_t)fl->cfg.udp_min_packets;
    default: return (uint64_t)fl->cfg.icmp_min_packets;
    }
}

/* One attack packet src -> dst of kind k. */
static void count_attack(struct flood *fl, vigil_ctx *ctx, const vigil_packet *pkt, enum kind k)
{
    vigil_addr dst = vgp_addr_norm(&pkt->dst);
    if (addr_is_group(&dst))
        return;
    uint32_t i = victim_get(fl, ctx, &dst);
    struct victim *v = V(fl, i);
    roll_window(fl, v);
    v->last_seen_us = fl->now_us;
    struct kwin *w = &v->k[k];
    vigil_addr src = vgp_addr_norm(&pkt->src);
    /* A fixed key: the sketches (and so the alerts) must not vary by run. */
    uint64_t h = addr_hash(SKETCH_KEY, &src);
    w->pkts++;
    w->bytes += pkt->wire_len;
    vote_addr(w, &src);
    if (k != K_ICMP)
        vote_port(w, pkt->dport);
    bitmap_add(w->srcbits, h);
    if (k == K_UDP)
        bitmap_add(w->flowbits, vgp_mix64(h ^ pkt->sport));
    /* Watched from the lower of the two rates: a sustained flood needs its
     * windows reviewed too. */
    uint64_t watch_at = sustained_packets(fl, k) < min_packets(fl, k) ? sustained_packets(fl, k)
                                                                       : min_packets(fl, k);
    if (w->pkts == watch_at)
        vgp_pool_watch(&fl->pool, i);
}

/* An answer from `from` (a reply, a completed handshake) for kind k. */
static void count_answer(struct flood *fl, const vigil_addr *from, enum kind k)
{
    vigil_addr a = vgp_addr_norm(from);
    uint32_t i = victim_find(fl, &a);
    if (i == NIL)
        return;
    struct victim *v = V(fl, i);
    if (fl->now_us - v->win_start_us < fl->cfg.window_us)
        v->k[k].answered++;
}

/* ---- packet classification ------------------------------------------------------- */

/* ICMP messages that ask for something: requests, or unknown types. */
static int icmp_is_request(int v6, uint8_t type)
{
    if (v6)
        return type == 128 || type >= 200;
    switch (type) {
    case 0: case 3: case 4: case 5: case 11: case 12: case 14: case 16: case 18:
        return 0;               /* replies and errors */
    default:
        return 1;
    }
}

static int icmp_is_echo_reply(int v6, uint8_t type)
{
    return v6 ? type == 129 : type == 0;
}

/*
 * Replies from the services that reflection attacks abuse belong to the
 * amplification detector, which judges them by their byte ratio.
 */
static int from_reflector_port(const vigil_packet *pkt)
{
    switch (pkt->sport) {
    case 19: case 53: case 123: case 161: case 389: case 1900: case 11211:
        return pkt->dport != pkt->sport;
    default:
        return 0;
    }
}

static void fl_on_packet(void *state, vigil_ctx *ctx, const vigil_packet *pkt)
{
    struct flood *fl = state;
    if (!VGP_HAS_MEMBER(pkt, vigil_packet, tcp_ack))
        return;
    if (pkt->l3 != VIGIL_L3_IPV4 && pkt->l3 != VIGIL_L3_IPV6)
        return;
    if (!(pkt->flags & VIGIL_PKT_HAS_L4))
        return;
    if (pkt->ts_us > fl->now_us)
        fl->now_us = pkt->ts_us;
    fl->stats.packets++;
    switch (pkt->ip_proto) {
    case 6:
        if ((pkt->tcp_flags & (VIGIL_TCP_SYN | VIGIL_TCP_ACK | VIGIL_TCP_RST)) == VIGIL_TCP_SYN)
            count_attack(fl, ctx, pkt, K_SYN);
        break;
    case 17:
        if (!(fl->cfg.udp_skip_reflector_ports && from_reflector_port(pkt)))
            count_attack(fl, ctx, pkt, K_UDP);
        count_answer(fl, &pkt->src, K_UDP);
        break;
    case 1:
    case 58: {
        int v6 = pkt->ip_proto == 58;
        if (icmp_is_request(v6, pkt->icmp_type))
            count_attack(fl, ctx, pkt, K_ICMP);
        else if (icmp_is_echo_reply(v6, pkt->icmp_type))
            count_answer(fl, &pkt->src, K_ICMP);
        break;
    }
    default:
        break;
    }
}

static void fl_on_stream(void *state, vigil_ctx *ctx, const vigil_stream *st)
{
    struct flood *fl = state;
    (void)ctx;
    if (!VGP_HAS_MEMBER(st, vigil_stream, server) || st->event != VIGIL_STREAM_ESTABLISHED)
        return;
    count_answer(fl, &st->server, K_SYN);
}

static void fl_on_tick(void *state, vigil_ctx *ctx, int64_t now_us)
{
    struct flood *fl = state;
    if (now_us > fl->now_us)
        fl->now_us = now_us;
    uint32_t next;
    for (uint32_t i = fl->pool.watch.head; i != NIL; i = next) {
        struct victim *v = V(fl, i);
        next = v->watch.next;
        roll_window(fl, v);
        review_episodes(fl, ctx, v, 0);
        int hot = 0;
        for (int k = 0; k < K_COUNT; k++)
            hot |= v->k[k].pkts >= min_packets(fl, (enum kind)k);
        if (!hot && !has_episode(v))
            vgp_pool_unwatch(&fl->pool, i);
    }
}

static void fl_on_finish(void *state, vigil_ctx *ctx)
{
    struct flood *fl = state;
    while (fl->pool.watch.head != NIL)
        victim_flush(fl, ctx, fl->pool.watch.head);
    const struct counters *c = &fl->stats;
    fl->host->log(ctx, VIGIL_LOG_INFO,
                  "packets=%" PRIu64 " victims_tracked=%" PRIu32 " victims_created=%" PRIu64
                  " victims_evicted=%" PRIu64 " episodes=%" PRIu64 " alerts=%" PRIu64,
                  c->packets, fl->pool.nused, c->victims_created, c->victims_evicted, c->episodes,
                  c->alerts);
}

/* ---- life cycle ------------------------------------------------------------------ */

static void fl_fini(void *state);

static int fl_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    if (host == NULL || host->abi_major != VIGIL_ABI_MAJOR ||
        !VGP_HAS_MEMBER(host, vigil_host_api, now_us) || !host->log || !host->emit_alert ||
        !host->config_int)
        return VIGIL_EINVAL;
    struct flood *fl = calloc(1, sizeof *fl);
    if (fl == NULL)
        return VIGIL_ENOMEM;
    fl->host = host;
    fl->now_us = INT64_MIN / 2;
    int rc = vgp_read_knobs(ctx, host, knobs, sizeof knobs / sizeof knobs[0], &fl->cfg);
    if (rc != VIGIL_OK) {
        free(fl);
        return rc;
    }
    if (VGP_POOL_INIT(&fl->pool, (uint32_t)fl->cfg.max_victims, struct victim, lru, watch,
                      hash_next) != VIGIL_OK) {
        fl_fini(fl);
        return VIGIL_ENOMEM;
    }
    fl->hash_key = vgp_random_key(0x9e3779b97f4a7c15ULL);
    *state = fl;
    return VIGIL_OK;
}

static void fl_fini(void *state)
{
    struct flood *fl = state;
    if (fl == NULL)
        return;
    if (fl->pool.base)
        for (uint32_t i = 0; i < fl->pool.next_fresh; i++)
            for (int k = 0; k < K_COUNT; k++)
                free(V(fl, i)->ep[k]);
    vgp_pool_free(&fl->pool);
    free(fl);
}

static const vigil_plugin flood_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "flood",
    .version = "1.0.0",
    .description = "TCP SYN, UDP and ICMP floods against one victim, spoofed or not",
    .init = fl_init,
    .fini = fl_fini,
    .on_packet = fl_on_packet,
    .on_stream = fl_on_stream,
    .on_tick = fl_on_tick,
    .on_finish = fl_on_finish,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &flood_plugin;
}
