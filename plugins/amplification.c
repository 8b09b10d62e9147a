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
#include "vgp.h"

#define NIL VGP_NIL
#define BITMAP_WORDS 4
#define SKETCH_KEY 0x6a09e667f3bcc909ULL
#define SKETCH_SATURATED 1420   /* bitmap_estimate() of a full bitmap */
#define META_MAX 20

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

#define KNOB(k, d, lo, hi, sc, field) VGP_KNOB(struct am_config, k, d, lo, hi, sc, field)

static const struct vgp_knob knobs[] = {
    KNOB("window_sec", 1, 1, 3600, VGP_US_PER_SEC, window_us),
    KNOB("udp_min_packets", 100, 2, 100000000, 1, udp_min_packets),
    KNOB("min_byte_ratio", 10, 1, 100000, 1, min_byte_ratio),
    KNOB("min_reflectors", 3, 1, 100000, 1, min_reflectors),
    KNOB("single_reflector_min_bytes", 1000000, 1, INT64_C(1) << 40, 1,
         single_reflector_min_bytes),
    KNOB("synack_min_packets", 100, 2, 100000000, 1, synack_min_packets),
    KNOB("synack_max_syn_percent", 10, 0, 100, 1, synack_max_syn_percent),
    KNOB("settle_sec", 5, 0, 86400, VGP_US_PER_SEC, settle_us),
    KNOB("report_delay_sec", 10, 0, 86400, VGP_US_PER_SEC, report_delay_us),
    KNOB("alert_interval_sec", 60, 1, 86400, VGP_US_PER_SEC, alert_interval_us),
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
    uint8_t service;
    uint32_t hash_next;
    struct vgp_link lru, watch;
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
    struct vgp_pool pool;       /* of struct record */
    int64_t now_us;
    struct counters stats;
};

/* ---- helpers ------------------------------------------------------------------ */

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
    return vgp_mix64(vgp_mix64(key ^ ((uint64_t)service << 8) ^ a->family ^ w0) ^ w1);
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
    if (w->top_votes > 0 && vgp_addr_same(&w->top, refl)) {
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

static struct record *R(const struct amp *am, uint32_t i)
{
    return vgp_pool_at(&am->pool, i);
}

static uint64_t record_hash(const struct amp *am, const vigil_addr *a, uint8_t service)
{
    return key_hash(am->hash_key, a, service);
}

static uint32_t record_find(struct amp *am, const vigil_addr *a, uint8_t service)
{
    uint32_t i = *vgp_pool_bucket(&am->pool, record_hash(am, a, service));
    for (; i != NIL; i = R(am, i)->hash_next)
        if (R(am, i)->service == service && vgp_addr_same(&R(am, i)->victim, a))
            return i;
    return NIL;
}

/* ---- reporting ------------------------------------------------------------------- */

struct alert_text {
    char sig[160], pkts[24], bytes[24], req_pkts[24], req_bytes[24], ratio[24], pps[24];
    char bps[24], peak[24], windows[16], duration[24], refl[16], top[64], top_share[16];
    char first[24], last[24], window[16], port[8];
};

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
             busy ? ep->resp_pkts * (uint64_t)VGP_US_PER_SEC / busy : ep->resp_pkts);
    snprintf(x->bps, sizeof x->bps, "%" PRIu64,
             busy ? ep->resp_bytes * 8 * (uint64_t)VGP_US_PER_SEC / busy : ep->resp_bytes * 8);
    snprintf(x->peak, sizeof x->peak, "%" PRIu32, ep->peak_pkts);
    snprintf(x->windows, sizeof x->windows, "%" PRIu32, ep->windows);
    snprintf(x->duration, sizeof x->duration, "%" PRId64, (span > 0 ? span : 0) / VGP_US_PER_SEC);
    snprintf(x->window, sizeof x->window, "%" PRId64, am->cfg.window_us / VGP_US_PER_SEC);
    snprintf(x->refl, sizeof x->refl, "%" PRIu32, ep->max_reflectors);
    vgp_format_addr(&ep->top, x->top, sizeof x->top);
    snprintf(x->top_share, sizeof x->top_share, "%" PRIu64,
             ep->resp_pkts ? ep->top_hits * 100 / ep->resp_pkts : 0);
    vgp_format_ts(ep->period_start_us, x->first, sizeof x->first);
    vgp_format_ts(ep->last_qual_us, x->last, sizeof x->last);
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
    vgp_format_addr(&r->victim, target, sizeof target);
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
    if (!single || !vgp_addr_same(&ep->top, &w->top))
        ep->single = 0;
    if (ep->windows == 0 && ep->alerted)
        ep->period_start_us = r->win_start_us;
    ep->last_qual_us = win_end_us;
    ep->resp_pkts += w->resp_pkts;
    ep->resp_bytes += w->resp_bytes;
    ep->req_pkts += w->req_pkts;
    ep->req_bytes += w->req_bytes;
    ep->top_hits += vgp_addr_same(&ep->top, &w->top) ? w->top_hits : 0;
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
    vgp_pool_unwatch(&am->pool, i);
}

static uint32_t record_get(struct amp *am, vigil_ctx *ctx, const vigil_addr *a, uint8_t service)
{
    uint32_t i = record_find(am, a, service);
    if (i != NIL) {
        vgp_pool_touch(&am->pool, i);
        return i;
    }
    i = vgp_pool_fresh(&am->pool);
    if (i == NIL) {
        i = am->pool.lru.tail;
        record_flush(am, ctx, i);
        vgp_pool_remove(&am->pool, i, record_hash(am, &R(am, i)->victim, R(am, i)->service));
        am->stats.records_evicted++;
    }
    struct record *r = R(am, i);
    memset(r, 0, sizeof *r);
    r->victim = *a;
    r->service = service;
    r->win_start_us = am->now_us;
    vgp_pool_insert(&am->pool, i, record_hash(am, a, service));
    am->stats.records_created++;
    return i;
}

/* A response from reflector `pkt->src` to victim `pkt->dst`. */
static void count_response(struct amp *am, vigil_ctx *ctx, const vigil_packet *pkt,
                           uint8_t service)
{
    vigil_addr victim = vgp_addr_norm(&pkt->dst);
    if (addr_is_group(&victim))
        return;
    am->stats.responses++;
    uint32_t i = record_get(am, ctx, &victim, service);
    struct record *r = R(am, i);
    roll_window(am, r);
    vigil_addr refl = vgp_addr_norm(&pkt->src);
    r->w.resp_pkts++;
    r->w.resp_bytes += pkt->wire_len;
    vote(&r->w, &refl);
    /* A fixed key: the sketch (and so the alerts) must not vary by run. */
    bitmap_add(r->w.reflbits, key_hash(SKETCH_KEY, &refl, 0));
    if (r->w.resp_pkts == min_packets(am, service))
        vgp_pool_watch(&am->pool, i);
}

/* A request the victim `pkt->src` sent itself: its responses are solicited. */
static void count_request(struct amp *am, const vigil_packet *pkt, uint8_t service)
{
    vigil_addr victim = vgp_addr_norm(&pkt->src);
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
    if (!VGP_HAS_MEMBER(pkt, vigil_packet, tcp_ack))
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
    for (uint32_t i = am->pool.watch.head; i != NIL; i = next) {
        struct record *r = R(am, i);
        next = r->watch.next;
        roll_window(am, r);
        review_episode(am, ctx, r, 0);
        if (r->ep == NULL && r->w.resp_pkts < min_packets(am, r->service))
            vgp_pool_unwatch(&am->pool, i);
    }
}

static void am_on_finish(void *state, vigil_ctx *ctx)
{
    struct amp *am = state;
    while (am->pool.watch.head != NIL)
        record_flush(am, ctx, am->pool.watch.head);
    const struct counters *c = &am->stats;
    am->host->log(ctx, VIGIL_LOG_INFO,
                  "responses=%" PRIu64 " records_tracked=%" PRIu32 " records_created=%" PRIu64
                  " records_evicted=%" PRIu64 " episodes=%" PRIu64 " alerts=%" PRIu64,
                  c->responses, am->pool.nused, c->records_created, c->records_evicted, c->episodes,
                  c->alerts);
}

/* ---- life cycle ------------------------------------------------------------------ */

static void am_fini(void *state);

static int am_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    if (host == NULL || host->abi_major != VIGIL_ABI_MAJOR ||
        !VGP_HAS_MEMBER(host, vigil_host_api, now_us) || !host->log || !host->emit_alert ||
        !host->config_int)
        return VIGIL_EINVAL;
    struct amp *am = calloc(1, sizeof *am);
    if (am == NULL)
        return VIGIL_ENOMEM;
    am->host = host;
    am->now_us = INT64_MIN / 2;
    int rc = vgp_read_knobs(ctx, host, knobs, sizeof knobs / sizeof knobs[0], &am->cfg);
    if (rc != VIGIL_OK) {
        free(am);
        return rc;
    }
    if (VGP_POOL_INIT(&am->pool, (uint32_t)am->cfg.max_records, struct record, lru, watch,
                      hash_next) != VIGIL_OK) {
        am_fini(am);
        return VIGIL_ENOMEM;
    }
    am->hash_key = vgp_random_key(0x2545f4914f6cdd1dULL);
    *state = am;
    return VIGIL_OK;
}

static void am_fini(void *state)
{
    struct amp *am = state;
    if (am == NULL)
        return;
    if (am->pool.base)
        for (uint32_t i = 0; i < am->pool.next_fresh; i++)
            free(R(am, i)->ep);
    vgp_pool_free(&am->pool);
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
