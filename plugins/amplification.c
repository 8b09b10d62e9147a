/*
 * amplification.c - reflection and amplification attacks against one victim.
 *
 * In a reflection attack the attacker sends requests with the victim's
 * address as source to many servers (reflectors); their answers, often many
 * times larger than the requests, converge on the victim. Seen from the
 * victim's side, that is a stream of responses from a service port (DNS 53,
 * NTP 123, SSDP 1900, memcached 11211, CLDAP 389, SNMP 161, chargen 19)
 * or of TCP SYN-ACKs, answering requests the victim never sent.
 *
 * Every (victim, service) pair gets a record: response packets and bytes
 * received, request packets and bytes the victim sent to that service
 * port, distinct reflectors (a 256-bit linear-counting sketch) and the top
 * reflector (majority vote), in a window of packet time that opens at the
 * record's first packet after the previous window closed. A window
 * qualifies when:
 *
 *   UDP:     at least udp_min_packets responses, response bytes at least
 *            min_byte_ratio times the request bytes (any amount when the
 *            victim sent nothing), and at least min_reflectors reflectors
 *            or single_reflector_min_bytes bytes;
 *   SYN-ACK: at least synack_min_packets SYN-ACKs from at least
 *            min_reflectors hosts while the victim sent at most
 *            synack_max_syn_percent as many SYNs.
 *
 * Consecutive qualifying windows form an episode, reported once quiet for
 * settle_sec, after report_delay_sec, at the end of input, then every
 * alert_interval_sec while it lasts. The reflectors are not the attacker
 * (they are abused, and the real attacker is not in the packets): the alert
 * has no source address unless a single reflector sent everything, and
 * meta names the reflector count and the top reflector.
 *
 * Memory: a fixed pool of max_records (LRU eviction; an evicted record's
 * pending report is flushed first) and one small episode per attacked
 * record. Reports come out in the order records became interesting.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/plugin.h"

#define US_PER_SEC ((int64_t)1000000)
#define NIL UINT32_MAX
#define BITMAP_WORDS 4
#define SKETCH_KEY 0x6a09e667f3bcc909ULL
#define SKETCH_SATURATED 1420   /* bitmap_estimate() of a full bitmap */
#define META_MAX 20

#define HAS_MEMBER(ptr, type, member)                                     \
    ((ptr)->size >= offsetof(type, member) + sizeof((ptr)->member))

/* ---- configuration ------------------------------------------------------ */

struct am_config {
    int64_t window_us;
    int64_t udp_min_packets;
    int64_t min_byte_ratio;
    int64_t min_reflectors;
    int64_t single_reflector_min_bytes;
    int64_t synack_min_packets;
    int64_t synack_max_syn_percent;
    int64_t settle_us;
    int64_t report_delay_us;
    int64_t alert_interval_us;
    int64_t max_records;
};

struct knob {
    const char *key;
    int64_t def, min, max, scale;
    size_t offset;
};

#define KNOB(k, d, lo, hi, sc, field)                                     \
    { k, d, lo, hi, sc, offsetof(struct am_config, field) }

static const struct knob knobs[] = {
    KNOB("window_sec", 1, 1, 3600, US_PER_SEC, window_us),
    KNOB("udp_min_packets", 100, 2, 100000000, 1, udp_min_packets),
    KNOB("min_byte_ratio", 10, 1, 100000, 1, min_byte_ratio),
    KNOB("min_reflectors", 3, 1, 100000, 1, min_reflectors),
    KNOB("single_reflector_min_bytes", 1000000, 1, INT64_C(1) << 40, 1,
         single_reflector_min_bytes),
    KNOB("synack_min_packets", 100, 2, 100000000, 1, synack_min_packets),
    KNOB("synack_max_syn_percent", 10, 0, 100, 1, synack_max_syn_percent),
    KNOB("settle_sec", 5, 0, 86400, US_PER_SEC, settle_us),
    KNOB("report_delay_sec", 10, 0, 86400, US_PER_SEC, report_delay_us),
    KNOB("alert_interval_sec", 60, 1, 86400, US_PER_SEC, alert_interval_us),
    KNOB("max_records", 16384, 16, 4194304, 1, max_records),
};

/* ---- vocabulary ----------------------------------------------------------- */

enum service {
    S_DNS, S_NTP, S_SSDP, S_MEMCACHED, S_CLDAP, S_SNMP, S_CHARGEN, S_SYNACK, S_COUNT
};

struct service_desc {
    uint32_t sid;
    uint16_t port;              /* UDP service port; 0 for SYN-ACK */
    const char *name;           /* attack_technique */
    const char *label;          /* in the signature text */
};

static const struct service_desc services[S_COUNT] = {
    [S_DNS] = { 9210001, 53, "dns_amplification", "DNS amplification" },
    [S_NTP] = { 9210002, 123, "ntp_amplification", "NTP amplification" },
    [S_SSDP] = { 9210003, 1900, "ssdp_amplification", "SSDP amplification" },
    [S_MEMCACHED] = { 9210004, 11211, "memcached_amplification", "memcached amplification" },
    [S_CLDAP] = { 9210005, 389, "cldap_amplification", "CLDAP amplification" },
    [S_SNMP] = { 9210006, 161, "snmp_amplification", "SNMP amplification" },
    [S_CHARGEN] = { 9210007, 19, "chargen_amplification", "chargen amplification" },
    [S_SYNACK] = { 9210008, 0, "tcp_synack_reflection", "TCP SYN-ACK reflection" },
};

static int service_of_port(uint16_t port)
{
    switch (port) {
    case 53: return S_DNS;
    case 123: return S_NTP;
    case 1900: return S_SSDP;
    case 11211: return S_MEMCACHED;
    case 389: return S_CLDAP;
    case 161: return S_SNMP;
    case 19: return S_CHARGEN;
    default: return -1;
    }
}

/* ---- state ------------------------------------------------------------------ */

/* One window of one (victim, service). */
struct awin {
    uint32_t resp_pkts, req_pkts;
    uint64_t resp_bytes, req_bytes;
    vigil_addr top;             /* majority-vote reflector */
    uint32_t top_votes, top_hits;
    uint64_t reflbits[BITMAP_WORDS];
};

/* Consecutive qualifying windows; counts since the last alert. */
struct episode {
    int64_t start_us, last_qual_us, period_start_us, last_alert_us;
    uint64_t resp_pkts, resp_bytes, req_pkts, req_bytes, top_hits;
    uint32_t windows, peak_pkts, max_reflectors;
    vigil_addr top;
    uint8_t single, alerted;    /* single: one reflector sent everything */
};

struct record {
    vigil_addr victim;
    uint8_t service, watched;
    uint32_t hash_next, lru_prev, lru_next, watch_prev, watch_next;
    int64_t win_start_us;
    struct awin w;
    struct episode *ep;
};

struct counters {
    uint64_t responses, records_created, records_evicted, episodes, alerts;
};

struct amp {
    const vigil_host_api *host;
    struct am_config cfg;
    uint64_t hash_key;
    struct record *pool;
    uint32_t npool, nused, next_fresh;
    uint32_t *buckets;
    uint32_t bucket_mask;
    uint32_t lru_head, lru_tail;
    uint32_t watch_head, watch_tail;
    int64_t now_us;
    struct counters stats;
};

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static vigil_addr addr_norm(const vigil_addr *a)
{
    vigil_addr n;
    memset(&n, 0, sizeof n);
    n.family = a->family;
    memcpy(n.bytes, a->bytes, a->family == 6 ? 16 : 4);
    return n;
}

static int addr_same(const vigil_addr *a, const vigil_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

static int addr_is_group(const vigil_addr *a)
{
    if (a->family == 6)
        return a->bytes[0] == 0xff;
    return a->bytes[0] >= 224;
}

static uint64_t key_hash(uint64_t key, const vigil_addr *a, uint8_t service)
{
    uint64_t w0, w1;
    memcpy(&w0, a->bytes, 8);
    memcpy(&w1, a->bytes + 8, 8);
    return mix64(mix64(key ^ ((uint64_t)service << 8) ^ a->family ^ w0) ^ w1);
}

static void bitmap_add(uint64_t *bits, uint64_t h)
{
    unsigned bit = (unsigned)(h >> 56);
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
        set = (unsigned)m - 1;
    return (uint32_t)(m * log(m / (m - set)) + 0.5);
}

static void vote(struct awin *w, const vigil_addr *refl)
{
    if (w->top_votes > 0 && addr_same(&w->top, refl)) {
        w->top_votes++;
        w->top_hits++;
    } else if (w->top_votes == 0) {
        w->top = *refl;
        w->top_votes = w->top_hits = 1;
    } else {
        w->top_votes--;
    }
}

/* ---- the record table ------------------------------------------------------------ */

static struct record *R(struct amp *am, uint32_t i)
{
    return &am->pool[i];
}

static void lru_unlink(struct amp *am, uint32_t i)
{
    struct record *r = R(am, i);
    if (r->lru_prev != NIL)
        R(am, r->lru_prev)->lru_next = r->lru_next;
    else
        am->lru_head = r->lru_next;
    if (r->lru_next != NIL)
        R(am, r->lru_next)->lru_prev = r->lru_prev;
    else
        am->lru_tail = r->lru_prev;
    r->lru_prev = r->lru_next = NIL;
}

static void lru_push_head(struct amp *am, uint32_t i)
{
    struct record *r = R(am, i);
    r->lru_prev = NIL;
    r->lru_next = am->lru_head;
    if (am->lru_head != NIL)
        R(am, am->lru_head)->lru_prev = i;
    else
        am->lru_tail = i;
    am->lru_head = i;
}

static void watch(struct amp *am, uint32_t i)
{
    struct record *r = R(am, i);
    if (r->watched)
        return;
    r->watched = 1;
    r->watch_next = NIL;
    r->watch_prev = am->watch_tail;
    if (am->watch_tail != NIL)
        R(am, am->watch_tail)->watch_next = i;
    else
        am->watch_head = i;
    am->watch_tail = i;
}

static void unwatch(struct amp *am, uint32_t i)
{
    struct record *r = R(am, i);
    if (!r->watched)
        return;
    if (r->watch_prev != NIL)
        R(am, r->watch_prev)->watch_next = r->watch_next;
    else
        am->watch_head = r->watch_next;
    if (r->watch_next != NIL)
        R(am, r->watch_next)->watch_prev = r->watch_prev;
    else
        am->watch_tail = r->watch_prev;
    r->watched = 0;
    r->watch_prev = r->watch_next = NIL;
}

static uint32_t *bucket_of(struct amp *am, const vigil_addr *a, uint8_t service)
{
    return &am->buckets[(uint32_t)(key_hash(am->hash_key, a, service) >> 32) & am->bucket_mask];
}

static uint32_t record_find(struct amp *am, const vigil_addr *a, uint8_t service)
{
    for (uint32_t i = *bucket_of(am, a, service); i != NIL; i = R(am, i)->hash_next)
        if (R(am, i)->service == service && addr_same(&R(am, i)->victim, a))
            return i;
    return NIL;
}

static void hash_remove(struct amp *am, uint32_t i)
{
    uint32_t *p = bucket_of(am, &R(am, i)->victim, R(am, i)->service);
    while (*p != NIL && *p != i)
        p = &R(am, *p)->hash_next;
    if (*p == i)
        *p = R(am, i)->hash_next;
}

/* ---- reporting ------------------------------------------------------------------- */

struct alert_text {
    char sig[160], pkts[24], bytes[24], req_pkts[24], req_bytes[24], ratio[24], pps[24];
    char bps[24], peak[24], windows[16], duration[24], refl[16], top[64], top_share[16];
    char first[24], last[24], window[16], port[8];
};

static void format_addr(const vigil_addr *a, char *buf, size_t len)
{
    if (a->family == 4) {
        snprintf(buf, len, "%u.%u.%u.%u", a->bytes[0], a->bytes[1], a->bytes[2], a->bytes[3]);
        return;
    }
    size_t used = 0;
    for (int i = 0; i < 16 && used < len; i += 2) {
        int w = snprintf(buf + used, len - used, "%s%x", i ? ":" : "",
                         (unsigned)(a->bytes[i] << 8 | a->bytes[i + 1]));
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

static void format_ts(int64_t us, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRId64 ".%06" PRId64, us / US_PER_SEC, us % US_PER_SEC);
}

static size_t fill_meta(const struct amp *am, const struct record *r, const struct episode *ep,
                        struct alert_text *x, vigil_meta *meta)
{
    int64_t span = am->now_us - ep->period_start_us;
    uint64_t busy = (uint64_t)ep->windows * (uint64_t)am->cfg.window_us;
    snprintf(x->pkts, sizeof x->pkts, "%" PRIu64, ep->resp_pkts);
    snprintf(x->bytes, sizeof x->bytes, "%" PRIu64, ep->resp_bytes);
    snprintf(x->req_pkts, sizeof x->req_pkts, "%" PRIu64, ep->req_pkts);
    snprintf(x->req_bytes, sizeof x->req_bytes, "%" PRIu64, ep->req_bytes);
    if (ep->req_bytes)
        snprintf(x->ratio, sizeof x->ratio, "%" PRIu64, ep->resp_bytes / ep->req_bytes);
    else
        snprintf(x->ratio, sizeof x->ratio, "unsolicited");
    snprintf(x->pps, sizeof x->pps, "%" PRIu64,
             busy ? ep->resp_pkts * (uint64_t)US_PER_SEC / busy : ep->resp_pkts);
    snprintf(x->bps, sizeof x->bps, "%" PRIu64,
             busy ? ep->resp_bytes * 8 * (uint64_t)US_PER_SEC / busy : ep->resp_bytes * 8);
    snprintf(x->peak, sizeof x->peak, "%" PRIu32, ep->peak_pkts);
    snprintf(x->windows, sizeof x->windows, "%" PRIu32, ep->windows);
    snprintf(x->duration, sizeof x->duration, "%" PRId64, (span > 0 ? span : 0) / US_PER_SEC);
    snprintf(x->window, sizeof x->window, "%" PRId64, am->cfg.window_us / US_PER_SEC);
    snprintf(x->refl, sizeof x->refl, "%" PRIu32, ep->max_reflectors);
    format_addr(&ep->top, x->top, sizeof x->top);
    snprintf(x->top_share, sizeof x->top_share, "%" PRIu64,
             ep->resp_pkts ? ep->top_hits * 100 / ep->resp_pkts : 0);
    format_ts(ep->period_start_us, x->first, sizeof x->first);
    format_ts(ep->last_qual_us, x->last, sizeof x->last);
    int synack = r->service == S_SYNACK;
    size_t n = 0;
    meta[n++] = (vigil_meta){ synack ? "synack_packets" : "response_packets", x->pkts };
    meta[n++] = (vigil_meta){ synack ? "synack_bytes" : "response_bytes", x->bytes };
    meta[n++] = (vigil_meta){ synack ? "syn_packets_from_victim" : "request_packets", x->req_pkts };
    if (!synack) {
        meta[n++] = (vigil_meta){ "request_bytes", x->req_bytes };
        meta[n++] = (vigil_meta){ "amplification_ratio", x->ratio };
    }
    meta[n++] = (vigil_meta){ "avg_pps", x->pps };
    meta[n++] = (vigil_meta){ "avg_bps", x->bps };
    meta[n++] = (vigil_meta){ "peak_packets_per_window", x->peak };
    meta[n++] = (vigil_meta){ "window_sec", x->window };
    meta[n++] = (vigil_meta){ "attack_windows", x->windows };
    meta[n++] = (vigil_meta){ "duration_sec", x->duration };
    meta[n++] = (vigil_meta){ "first_seen", x->first };
    meta[n++] = (vigil_meta){ "last_seen", x->last };
    meta[n++] = (vigil_meta){ "reflectors", x->refl };
    if (ep->max_reflectors >= SKETCH_SATURATED)
        meta[n++] = (vigil_meta){ "reflectors_is_lower_bound", "true" };
    /* A majority-vote winner means something only when it sent a fair share. */
    if (ep->top_hits * 10 >= ep->resp_pkts) {
        meta[n++] = (vigil_meta){ "top_reflector", x->top };
        meta[n++] = (vigil_meta){ "top_reflector_percent", x->top_share };
    }
    if (!synack) {
        snprintf(x->port, sizeof x->port, "%u", services[r->service].port);
        meta[n++] = (vigil_meta){ "service_port", x->port };
    }
    return n;
}

static void emit(struct amp *am, vigil_ctx *ctx, const struct record *r, struct episode *ep)
{
    const struct service_desc *sd = &services[r->service];
    struct alert_text x;
    vigil_meta meta[META_MAX];
    size_t nmeta = fill_meta(am, r, ep, &x, meta);
    char target[64];
    format_addr(&r->victim, target, sizeof target);
    snprintf(x.sig, sizeof x.sig, "VIGIL DOS %s against %s via %s%s reflectors", sd->label,
             target, x.refl, ep->max_reflectors >= SKETCH_SATURATED ? "+" : "");

    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.gid = 1;
    a.signature_id = sd->sid;
    a.rev = 1;
    a.severity = 2;
    a.signature = x.sig;
    a.category = "Attempted Denial of Service";
    a.attack_category = "dos_amplification";
    a.attack_technique = sd->name;
    a.mitre_attack = "T1498.002";
    if (ep->single)
        a.src = ep->top;        /* one reflector: name it */
    a.dst = r->victim;
    a.sport = sd->port;
    a.ip_proto = r->service == S_SYNACK ? 6 : 17;
    a.ts_us = am->now_us;
    a.meta = meta;
    a.meta_count = nmeta;
    am->host->emit_alert(ctx, &a);
    am->stats.alerts++;

    ep->alerted = 1;
    ep->last_alert_us = am->now_us;
    ep->period_start_us = am->now_us;
    ep->resp_pkts = ep->resp_bytes = ep->req_pkts = ep->req_bytes = ep->top_hits = 0;
    ep->windows = ep->peak_pkts = ep->max_reflectors = 0;
}

/* ---- windows and episodes -------------------------------------------------------- */

static uint64_t min_packets(const struct amp *am, uint8_t service)
{
    return (uint64_t)(service == S_SYNACK ? am->cfg.synack_min_packets : am->cfg.udp_min_packets);
}

static int window_qualifies(const struct amp *am, const struct record *r)
{
    const struct am_config *c = &am->cfg;
    const struct awin *w = &r->w;
    if (w->resp_pkts < min_packets(am, r->service))
        return 0;
    uint32_t refl = bitmap_estimate(w->reflbits);
    if (r->service == S_SYNACK)
        return refl >= (uint64_t)c->min_reflectors &&
               (uint64_t)w->req_pkts * 100 <= (uint64_t)w->resp_pkts * (uint64_t)c->synack_max_syn_percent;
    if (w->resp_bytes < w->req_bytes * (uint64_t)c->min_byte_ratio)
        return 0;
    return refl >= (uint64_t)c->min_reflectors ||
           w->resp_bytes >= (uint64_t)c->single_reflector_min_bytes;
}

static void episode_add(struct amp *am, struct record *r, int64_t win_end_us)
{
    const struct awin *w = &r->w;
    struct episode *ep = r->ep;
    int single = w->top_hits == w->resp_pkts;
    if (ep == NULL) {
        ep = calloc(1, sizeof *ep);
        if (ep == NULL)
            return;
        r->ep = ep;
        ep->start_us = ep->period_start_us = r->win_start_us;
        ep->top = w->top;
        ep->single = (uint8_t)single;
        am->stats.episodes++;
    }
    if (!single || !addr_same(&ep->top, &w->top))
        ep->single = 0;
    if (ep->windows == 0 && ep->alerted)
        ep->period_start_us = r->win_start_us;
    ep->last_qual_us = win_end_us;
    ep->resp_pkts += w->resp_pkts;
    ep->resp_bytes += w->resp_bytes;
    ep->req_pkts += w->req_pkts;
    ep->req_bytes += w->req_bytes;
    ep->top_hits += addr_same(&ep->top, &w->top) ? w->top_hits : 0;
    ep->windows++;
    if (w->resp_pkts > ep->peak_pkts)
        ep->peak_pkts = w->resp_pkts;
    uint32_t refl = bitmap_estimate(w->reflbits);
    if (refl > ep->max_reflectors)
        ep->max_reflectors = refl;
}

static void close_window(struct amp *am, struct record *r)
{
    int64_t end = r->win_start_us + am->cfg.window_us;
    if (end > am->now_us)
        end = am->now_us;
    if (r->w.resp_pkts && window_qualifies(am, r))
        episode_add(am, r, end);
    memset(&r->w, 0, sizeof r->w);
    r->win_start_us = am->now_us;
}

static void roll_window(struct amp *am, struct record *r)
{
    if (am->now_us - r->win_start_us >= am->cfg.window_us)
        close_window(am, r);
}

static void review_episode(struct amp *am, vigil_ctx *ctx, struct record *r, int final)
{
    struct episode *ep = r->ep;
    if (ep == NULL)
        return;
    int over = final || am->now_us - ep->last_qual_us >= am->cfg.settle_us;
    int since_alert_ok = !ep->alerted || am->now_us - ep->last_alert_us >= am->cfg.alert_interval_us;
    int first_due = !ep->alerted && am->now_us - ep->start_us >= am->cfg.report_delay_us;
    /* Counts since an alert younger than the interval stay unreported. */
    if (ep->windows > 0 && since_alert_ok && (over || first_due || ep->alerted))
        emit(am, ctx, r, ep);
    if (over) {
        free(ep);
        r->ep = NULL;
    }
}

static void record_flush(struct amp *am, vigil_ctx *ctx, uint32_t i)
{
    struct record *r = R(am, i);
    close_window(am, r);
    review_episode(am, ctx, r, 1);
    unwatch(am, i);
}

static uint32_t record_get(struct amp *am, vigil_ctx *ctx, const vigil_addr *a, uint8_t service)
{
    uint32_t i = record_find(am, a, service);
    if (i != NIL) {
        if (am->lru_head != i) {
            lru_unlink(am, i);
            lru_push_head(am, i);
        }
        return i;
    }
    if (am->next_fresh < am->npool) {
        i = am->next_fresh++;
    } else {
        i = am->lru_tail;
        record_flush(am, ctx, i);
        hash_remove(am, i);
        lru_unlink(am, i);
        am->nused--;
        am->stats.records_evicted++;
    }
    struct record *r = R(am, i);
    memset(r, 0, sizeof *r);
    r->victim = *a;
    r->service = service;
    r->watch_prev = r->watch_next = NIL;
    r->win_start_us = am->now_us;
    uint32_t *b = bucket_of(am, a, service);
    r->hash_next = *b;
    *b = i;
    lru_push_head(am, i);
    am->nused++;
    am->stats.records_created++;
    return i;
}

/* A response from reflector `pkt->src` to victim `pkt->dst`. */
static void count_response(struct amp *am, vigil_ctx *ctx, const vigil_packet *pkt,
                           uint8_t service)
{
    vigil_addr victim = addr_norm(&pkt->dst);
    if (addr_is_group(&victim))
        return;
    am->stats.responses++;
    uint32_t i = record_get(am, ctx, &victim, service);
    struct record *r = R(am, i);
    roll_window(am, r);
    vigil_addr refl = addr_norm(&pkt->src);
    r->w.resp_pkts++;
    r->w.resp_bytes += pkt->wire_len;
    vote(&r->w, &refl);
    /* A fixed key: the sketch (and so the alerts) must not vary by run. */
    bitmap_add(r->w.reflbits, key_hash(SKETCH_KEY, &refl, 0));
    if (r->w.resp_pkts == min_packets(am, service))
        watch(am, i);
}

/* A request the victim `pkt->src` sent itself: its responses are solicited. */
static void count_request(struct amp *am, const vigil_packet *pkt, uint8_t service)
{
    vigil_addr victim = addr_norm(&pkt->src);
    uint32_t i = record_find(am, &victim, service);
    if (i == NIL)
        return;
    struct record *r = R(am, i);
    roll_window(am, r);
    r->w.req_pkts++;
    r->w.req_bytes += pkt->wire_len;
}

static void am_on_packet(void *state, vigil_ctx *ctx, const vigil_packet *pkt)
{
    struct amp *am = state;
    if (!HAS_MEMBER(pkt, vigil_packet, tcp_ack))
        return;
    if ((pkt->l3 != VIGIL_L3_IPV4 && pkt->l3 != VIGIL_L3_IPV6) ||
        !(pkt->flags & VIGIL_PKT_HAS_L4))
        return;
    if (pkt->ts_us > am->now_us)
        am->now_us = pkt->ts_us;
    if (pkt->ip_proto == 17) {
        if (pkt->sport == pkt->dport)
            return;             /* peer-to-peer (NTP symmetric, DNS 53-53) */
        int s = service_of_port(pkt->sport);
        if (s >= 0)
            count_response(am, ctx, pkt, (uint8_t)s);
        s = service_of_port(pkt->dport);
        if (s >= 0)
            count_request(am, pkt, (uint8_t)s);
    } else if (pkt->ip_proto == 6) {
        uint8_t f = pkt->tcp_flags & (VIGIL_TCP_SYN | VIGIL_TCP_ACK | VIGIL_TCP_RST);
        if (f == (VIGIL_TCP_SYN | VIGIL_TCP_ACK))
            count_response(am, ctx, pkt, S_SYNACK);
        else if (f == VIGIL_TCP_SYN)
            count_request(am, pkt, S_SYNACK);
    }
}

static void am_on_tick(void *state, vigil_ctx *ctx, int64_t now_us)
{
    struct amp *am = state;
    if (now_us > am->now_us)
        am->now_us = now_us;
    uint32_t next;
    for (uint32_t i = am->watch_head; i != NIL; i = next) {
        struct record *r = R(am, i);
        next = r->watch_next;
        roll_window(am, r);
        review_episode(am, ctx, r, 0);
        if (r->ep == NULL && r->w.resp_pkts < min_packets(am, r->service))
            unwatch(am, i);
    }
}

static void am_on_finish(void *state, vigil_ctx *ctx)
{
    struct amp *am = state;
    while (am->watch_head != NIL)
        record_flush(am, ctx, am->watch_head);
    const struct counters *c = &am->stats;
    am->host->log(ctx, VIGIL_LOG_INFO,
                  "responses=%" PRIu64 " records_tracked=%" PRIu32 " records_created=%" PRIu64
                  " records_evicted=%" PRIu64 " episodes=%" PRIu64 " alerts=%" PRIu64,
                  c->responses, am->nused, c->records_created, c->records_evicted, c->episodes,
                  c->alerts);
}

/* ---- life cycle ------------------------------------------------------------------ */

static int read_config(vigil_ctx *ctx, const vigil_host_api *host, struct am_config *cfg)
{
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
        const struct knob *k = &knobs[i];
        int64_t v;
        if (host->config_int(ctx, k->key, k->def, k->min, k->max, &v) != VIGIL_OK)
            return VIGIL_EINVAL;
        v *= k->scale;
        memcpy((char *)cfg + k->offset, &v, sizeof v);
    }
    return VIGIL_OK;
}

static uint64_t random_key(void)
{
    uint64_t key = 0x2545f4914f6cdd1dULL;
    if (getentropy(&key, sizeof key) != 0)
        key = 0x2545f4914f6cdd1dULL; /* still correct, only predictable */
    return key;
}

static void am_fini(void *state);

static int am_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    if (host == NULL || host->abi_major != VIGIL_ABI_MAJOR ||
        !HAS_MEMBER(host, vigil_host_api, now_us) || !host->log || !host->emit_alert ||
        !host->config_int)
        return VIGIL_EINVAL;
    struct amp *am = calloc(1, sizeof *am);
    if (am == NULL)
        return VIGIL_ENOMEM;
    am->host = host;
    am->now_us = INT64_MIN / 2;
    int rc = read_config(ctx, host, &am->cfg);
    if (rc != VIGIL_OK) {
        free(am);
        return rc;
    }
    am->npool = (uint32_t)am->cfg.max_records;
    uint32_t nb = 16;
    while (nb < am->npool * 2u)
        nb *= 2;
    /* calloc: pages of the pool are only touched as records appear. */
    am->pool = calloc(am->npool, sizeof *am->pool);
    am->buckets = malloc((size_t)nb * sizeof *am->buckets);
    if (am->pool == NULL || am->buckets == NULL) {
        am_fini(am);
        return VIGIL_ENOMEM;
    }
    memset(am->buckets, 0xff, (size_t)nb * sizeof *am->buckets);
    am->bucket_mask = nb - 1;
    am->lru_head = am->lru_tail = am->watch_head = am->watch_tail = NIL;
    am->hash_key = random_key();
    *state = am;
    return VIGIL_OK;
}

static void am_fini(void *state)
{
    struct amp *am = state;
    if (am == NULL)
        return;
    if (am->pool)
        for (uint32_t i = 0; i < am->next_fresh; i++)
            free(am->pool[i].ep);
    free(am->pool);
    free(am->buckets);
    free(am);
}

static const vigil_plugin amplification_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "amplification",
    .version = "1.0.0",
    .description = "reflection/amplification (DNS, NTP, SSDP, memcached, CLDAP, SNMP, chargen, "
                   "TCP SYN-ACK) converging on one victim",
    .init = am_init,
    .fini = am_fini,
    .on_packet = am_on_packet,
    .on_tick = am_on_tick,
    .on_finish = am_on_finish,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &amplification_plugin;
}
