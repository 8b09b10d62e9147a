/*
 * arpspoof.c - ARP cache poisoning and ARP storms (arp_spoofing, T1557.002).
 *
 * The detector learns IP -> MAC bindings from ARP sender fields and keeps,
 * per sending MAC (the Ethernet source of the frame), evidence that it is
 * impersonating someone:
 *   conflict       it claims an IP already bound to another MAC (+2)
 *   unsolicited    a unicast reply nobody asked for, or competing with the
 *                  answer another MAC already gave (+1)
 *   self query     it asks who has an IP it claimed itself: a MITM must
 *                  learn the real owner's MAC to forward (+2)
 *   eth mismatch   Ethernet source differs from the ARP sender MAC (+1)
 *   several IPs    it claims a second IP (+1, once)
 * At min_score the MAC is reported as an ARP cache poisoner; the attacker
 * is the IP it owns (claimed and never queried), the target the first
 * victim (the host the forged claim was sent to). Separately, more than
 * storm_packets gratuitous ARPs from one MAC within storm_window_sec is a
 * gratuitous ARP storm. One gratuitous ARP, or one change of a binding
 * (DHCP, failover), stays silent.
 *
 * State is three fixed rings (bindings, recent requests, sending MACs),
 * each replacing its oldest entry when full; alerts go out in the order
 * the MACs were first seen.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/plugin.h"
#include "vgp.h"

#define US_PER_SEC ((int64_t)1000000)
#define MAX_IPS 8

enum { SID_POISON = 9500001, SID_STORM = 9500002 };

struct as_config {
    int64_t min_score, binding_ttl_us, request_window_us, window_us;
    int64_t storm_packets, storm_window_us, alert_interval_us;
    int64_t max_bindings, max_requests, max_senders;
};

/* ---- a fixed ring with a hash index, keyed by the first bytes of an entry ---- */

struct ring {
    uint8_t *slots;
    size_t esize, keylen;
    uint32_t cap, head, nbuckets;
    int32_t *buckets, *next;
    uint8_t *used;
};

static uint32_t key_hash(const uint8_t *k, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 16777619u;
    return h;
}

static int ring_init(struct ring *r, uint32_t cap, size_t esize, size_t keylen)
{
    memset(r, 0, sizeof *r);
    r->cap = cap, r->esize = esize, r->keylen = keylen;
    r->slots = calloc(cap, esize);
    r->used = calloc(cap, 1);
    r->next = calloc(cap, sizeof *r->next);
    r->buckets = vgp_buckets_new(cap, &r->nbuckets);
    if (!r->slots || !r->used || !r->next || !r->buckets)
        return -1;
    return 0;
}

static void ring_release(struct ring *r)
{
    free(r->slots), free(r->used), free(r->next), free(r->buckets);
}

static void *ring_at(const struct ring *r, uint32_t i)
{
    return r->slots + (size_t)i * r->esize;
}

static void *ring_find(const struct ring *r, const void *key)
{
    int32_t i = r->buckets[key_hash(key, r->keylen) & (r->nbuckets - 1)];
    for (; i >= 0; i = r->next[i])
        if (memcmp(ring_at(r, (uint32_t)i), key, r->keylen) == 0)
            return ring_at(r, (uint32_t)i);
    return NULL;
}

/* A zeroed entry holding `key`, replacing the oldest one when full. */
static void *ring_add(struct ring *r, const void *key, uint64_t *evicted)
{
    uint32_t idx = r->head;
    r->head = (r->head + 1) % r->cap;
    uint8_t *e = ring_at(r, idx);
    if (r->used[idx]) {
        int32_t *p = &r->buckets[key_hash(e, r->keylen) & (r->nbuckets - 1)];
        while (*p >= 0 && *p != (int32_t)idx)
            p = &r->next[*p];
        if (*p == (int32_t)idx)
            *p = r->next[idx];
        (*evicted)++;
    }
    memset(e, 0, r->esize);
    memcpy(e, key, r->keylen);
    r->used[idx] = 1;
    int32_t *b = &r->buckets[key_hash(key, r->keylen) & (r->nbuckets - 1)];
    r->next[idx] = *b;
    *b = (int32_t)idx;
    return e;
}

/* ---- entries ---------------------------------------------------------- */

struct binding {                /* key: ip */
    uint8_t ip[4];
    uint8_t mac[6], owner[6];   /* current holder; the first one seen */
    int64_t last_us;
};

struct request {                /* key: asker ip, asked ip */
    uint8_t asker[4], asked[4];
    int64_t ts_us;
    uint8_t answered, answer_mac[6];
};

struct sender {                 /* key: mac */
    uint8_t mac[6];
    int64_t first_us, last_us, last_alert_us, storm_start_us, storm_alert_us;
    uint32_t conflicts, unsolicited, self_queries, eth_mismatch, claims;
    uint32_t score, new_evidence, storm_count, storm_total;
    uint8_t multi_ip, alerted;
    uint8_t nips, nspoofed, nvictims;
    uint8_t ips[MAX_IPS][4], spoofed[MAX_IPS][4], victims[MAX_IPS][4];
    uint8_t legit_mac[6], have_legit;
};

struct arpspoof {
    const vigil_host_api *host;
    struct as_config cfg;
    struct ring bindings, requests, senders;
    int64_t now_us;
    uint64_t evicted, alerts;
};

/* ---- small helpers ------------------------------------------------------ */

static int ip_in(uint8_t list[][4], uint8_t n, const uint8_t *ip)
{
    for (uint8_t i = 0; i < n; i++)
        if (memcmp(list[i], ip, 4) == 0)
            return 1;
    return 0;
}

static void ip_add(uint8_t list[][4], uint8_t *n, const uint8_t *ip)
{
    if (*n < MAX_IPS && !ip_in(list, *n, ip))
        memcpy(list[(*n)++], ip, 4);
}

static int mac_zero(const uint8_t *m)
{
    static const uint8_t z[6];
    return memcmp(m, z, 6) == 0;
}

static int ip_zero(const uint8_t *ip)
{
    return (ip[0] | ip[1] | ip[2] | ip[3]) == 0;
}

static void fmt_mac(char *buf, size_t len, const uint8_t *m)
{
    snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void fmt_ip(char *buf, size_t len, const uint8_t *ip)
{
    if (inet_ntop(AF_INET, ip, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
}

static vigil_addr v4(const uint8_t *ip)
{
    vigil_addr a;
    memset(&a, 0, sizeof a);
    a.family = 4;
    memcpy(a.bytes, ip, 4);
    return a;
}

/* ---- alerts -------------------------------------------------------------- */

/* The IP the MAC owns: one it claimed that is neither spoofed nor queried. */
static const uint8_t *own_ip(const struct sender *s)
{
    for (uint8_t i = 0; i < s->nips; i++)
        if (!ip_in((uint8_t(*)[4])s->spoofed, s->nspoofed, s->ips[i]))
            return s->ips[i];
    return s->nspoofed ? s->spoofed[0] : s->ips[0];
}

static void join_ips(char *buf, size_t len, uint8_t list[][4], uint8_t n)
{
    size_t used = 0;
    buf[0] = 0;
    for (uint8_t i = 0; i < n && used < len; i++) {
        char ip[INET_ADDRSTRLEN];
        fmt_ip(ip, sizeof ip, list[i]);
        int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "", ip);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

struct poison_text {
    char sig[256], mac[24], legit[24], spoofed[160], victims[160];
    char conflicts[16], unsolicited[16], self_q[16], mismatch[16], claims[16];
};

static void emit_poison(struct arpspoof *as, vigil_ctx *ctx, struct sender *s)
{
    struct poison_text x;
    vigil_meta meta[10];
    size_t n = 0;
    fmt_mac(x.mac, sizeof x.mac, s->mac);
    join_ips(x.spoofed, sizeof x.spoofed, s->spoofed, s->nspoofed);
    join_ips(x.victims, sizeof x.victims, s->victims, s->nvictims);
    snprintf(x.conflicts, sizeof x.conflicts, "%" PRIu32, s->conflicts);
    snprintf(x.unsolicited, sizeof x.unsolicited, "%" PRIu32, s->unsolicited);
    snprintf(x.self_q, sizeof x.self_q, "%" PRIu32, s->self_queries);
    snprintf(x.mismatch, sizeof x.mismatch, "%" PRIu32, s->eth_mismatch);
    snprintf(x.claims, sizeof x.claims, "%" PRIu32, s->claims);
    meta[n++] = (vigil_meta){ "attacker_mac", x.mac };
    if (s->nspoofed)
        meta[n++] = (vigil_meta){ "spoofed_ips", x.spoofed };
    if (s->have_legit) {
        fmt_mac(x.legit, sizeof x.legit, s->legit_mac);
        meta[n++] = (vigil_meta){ "legitimate_mac", x.legit };
    }
    if (s->nvictims)
        meta[n++] = (vigil_meta){ "victims", x.victims };
    meta[n++] = (vigil_meta){ "arp_claims", x.claims };
    meta[n++] = (vigil_meta){ "binding_conflicts", x.conflicts };
    meta[n++] = (vigil_meta){ "unsolicited_replies", x.unsolicited };
    meta[n++] = (vigil_meta){ "self_queries", x.self_q };
    meta[n++] = (vigil_meta){ "eth_sender_mismatch", x.mismatch };
    snprintf(x.sig, sizeof x.sig, "VIGIL ARP cache poisoning by %s claiming %s", x.mac,
             s->nspoofed ? x.spoofed : "other hosts' addresses");

    const uint8_t *target = s->nvictims ? s->victims[0] : (s->nspoofed ? s->spoofed[0] : own_ip(s));
    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.gid = 1;
    a.signature_id = SID_POISON;
    a.rev = 1;
    a.severity = 1;
    a.signature = x.sig;
    a.category = "Attempted Information Leak";
    a.attack_category = "arp_spoofing";
    a.attack_technique = "arp_cache_poisoning";
    a.mitre_attack = "T1557.002";
    a.src = v4(own_ip(s));
    a.dst = v4(target);
    a.meta = meta;
    a.meta_count = n;
    as->host->emit_alert(ctx, &a);
    as->alerts++;
    s->alerted = 1;
    s->new_evidence = 0;
    s->last_alert_us = as->now_us;
}

static void emit_storm(struct arpspoof *as, vigil_ctx *ctx, struct sender *s)
{
    char sig[160], mac[24], count[16], window[16];
    fmt_mac(mac, sizeof mac, s->mac);
    snprintf(count, sizeof count, "%" PRIu32, s->storm_count);
    snprintf(window, sizeof window, "%" PRId64, as->cfg.storm_window_us / US_PER_SEC);
    snprintf(sig, sizeof sig, "VIGIL ARP gratuitous ARP storm from %s (%" PRIu32 " in %s s)",
             mac, s->storm_count, window);
    vigil_meta meta[] = { { "attacker_mac", mac }, { "gratuitous_arps", count },
                          { "window_sec", window } };
    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.gid = 1;
    a.signature_id = SID_STORM;
    a.rev = 1;
    a.severity = 2;
    a.signature = sig;
    a.category = "Potentially Bad Traffic";
    a.attack_category = "arp_spoofing";
    a.attack_technique = "gratuitous_arp_storm";
    a.mitre_attack = "T1557.002";
    a.src = v4(own_ip(s));
    a.dst = a.src;
    a.meta = meta;
    a.meta_count = sizeof meta / sizeof meta[0];
    as->host->emit_alert(ctx, &a);
    as->alerts++;
    s->storm_alert_us = as->now_us;
}

/* Report when the score first holds, then at most once per interval. */
static void maybe_alert(struct arpspoof *as, vigil_ctx *ctx, struct sender *s)
{
    if (s->score < (uint32_t)as->cfg.min_score || s->new_evidence == 0)
        return;
    if (s->alerted && as->now_us - s->last_alert_us < as->cfg.alert_interval_us)
        return;
    emit_poison(as, ctx, s);
}

/* ---- evidence ------------------------------------------------------------ */

static struct sender *sender_get(struct arpspoof *as, const uint8_t *mac)
{
    struct sender *s = ring_find(&as->senders, mac);
    if (s && as->now_us - s->last_us > as->cfg.window_us) {
        /* old evidence expires: start over, keeping nothing */
        memset((uint8_t *)s + 6, 0, sizeof *s - 6);
    }
    if (s == NULL)
        s = ring_add(&as->senders, mac, &as->evicted);
    if (s->first_us == 0)
        s->first_us = as->now_us;
    s->last_us = as->now_us;
    return s;
}

static void add_score(struct sender *s, uint32_t points)
{
    s->score += points;
    s->new_evidence++;
}

/* The claim "ip is at mac" made by sender s. */
static void claim(struct arpspoof *as, struct sender *s, const uint8_t *ip, const uint8_t *mac,
                  const uint8_t *victim)
{
    s->claims++;
    ip_add(s->ips, &s->nips, ip);
    if (s->nips >= 2 && !s->multi_ip) {
        s->multi_ip = 1;
        add_score(s, 1);
    }
    struct binding *b = ring_find(&as->bindings, ip);
    if (b == NULL) {
        b = ring_add(&as->bindings, ip, &as->evicted);
        memcpy(b->mac, mac, 6);
        memcpy(b->owner, mac, 6);
    } else if (memcmp(b->mac, mac, 6) != 0) {
        int recent = as->now_us - b->last_us <= as->cfg.binding_ttl_us;
        if (memcmp(b->owner, mac, 6) != 0 && recent) {
            s->conflicts++;
            add_score(s, 2);
            ip_add(s->spoofed, &s->nspoofed, ip);
            if (victim)
                ip_add(s->victims, &s->nvictims, victim);
            if (!s->have_legit)
                memcpy(s->legit_mac, b->owner, 6), s->have_legit = 1;
        }
        if (!recent)
            memcpy(b->owner, mac, 6); /* the old holder is gone: a new owner */
        memcpy(b->mac, mac, 6);
    }
    b->last_us = as->now_us;
}

static void on_request(struct arpspoof *as, struct sender *s, const vigil_packet *p,
                       const uint8_t *spa, const uint8_t *tpa)
{
    uint8_t key[8];
    memcpy(key, spa, 4), memcpy(key + 4, tpa, 4);
    struct request *r = ring_find(&as->requests, key);
    if (r == NULL)
        r = ring_add(&as->requests, key, &as->evicted);
    r->ts_us = as->now_us;
    r->answered = 0;
    /* asking for an address it claims itself: it needs the real owner */
    if (ip_in(s->ips, s->nips, tpa) && !ip_in(s->spoofed, s->nspoofed, tpa)) {
        (void)p;
        s->self_queries++;
        add_score(s, 2);
        ip_add(s->spoofed, &s->nspoofed, tpa);
    } else if (ip_in(s->spoofed, s->nspoofed, tpa)) {
        s->self_queries++;
        add_score(s, 2);
    }
}

static void on_reply(struct arpspoof *as, struct sender *s, const uint8_t *sha,
                     const uint8_t *spa, const uint8_t *tpa)
{
    uint8_t key[8];
    memcpy(key, tpa, 4), memcpy(key + 4, spa, 4);
    struct request *r = ring_find(&as->requests, key);
    int asked = r && as->now_us - r->ts_us <= as->cfg.request_window_us;
    if (asked && !r->answered) {
        r->answered = 1;
        memcpy(r->answer_mac, sha, 6);
        return;
    }
    if (asked && memcmp(r->answer_mac, sha, 6) == 0)
        return; /* the same answer twice */
    s->unsolicited++;
    add_score(s, 1);
    ip_add(s->victims, &s->nvictims, tpa);
}

static void gratuitous(struct arpspoof *as, vigil_ctx *ctx, struct sender *s)
{
    if (as->now_us - s->storm_start_us > as->cfg.storm_window_us) {
        s->storm_start_us = as->now_us;
        s->storm_count = 0;
    }
    s->storm_count++;
    if (s->storm_count >= (uint32_t)as->cfg.storm_packets
        && (s->storm_alert_us == 0 || as->now_us - s->storm_alert_us >= as->cfg.alert_interval_us))
        emit_storm(as, ctx, s);
}

static void as_packet(void *state, vigil_ctx *ctx, const vigil_packet *p)
{
    struct arpspoof *as = state;
    if (p->l3 != VIGIL_L3_ARP || p->src.family != 4)
        return;
    as->now_us = p->ts_us;
    const uint8_t *spa = p->src.bytes, *tpa = p->dst.bytes, *sha = p->arp_sha;
    /* The frame's real sender is its Ethernet source when the link has one. */
    const uint8_t *who = mac_zero(p->eth_src) ? sha : p->eth_src;
    if (mac_zero(who))
        return;
    struct sender *s = sender_get(as, who);
    if (!mac_zero(p->eth_src) && memcmp(p->eth_src, sha, 6) != 0) {
        s->eth_mismatch++;
        add_score(s, 1);
    }
    int is_gratuitous = memcmp(spa, tpa, 4) == 0;
    const uint8_t *victim = (!is_gratuitous && !ip_zero(tpa)) ? tpa : NULL;
    if (!ip_zero(spa) && memcmp(sha, who, 6) == 0)
        claim(as, s, spa, sha, victim);
    if (is_gratuitous && !ip_zero(spa))
        gratuitous(as, ctx, s);
    else if (p->arp_op == 1 && !ip_zero(spa))
        on_request(as, s, p, spa, tpa);
    else if (p->arp_op == 2)
        on_reply(as, s, sha, spa, tpa);
    maybe_alert(as, ctx, s);
}

/* Evidence that came after an alert is reported once the interval is over. */
static void as_tick(void *state, vigil_ctx *ctx, int64_t now_us)
{
    struct arpspoof *as = state;
    as->now_us = now_us;
    struct ring *r = &as->senders;
    for (uint32_t k = 0; k < r->cap; k++) {
        uint32_t i = (r->head + k) % r->cap;
        if (r->used[i])
            maybe_alert(as, ctx, ring_at(r, i));
    }
}

static void as_finish(void *state, vigil_ctx *ctx)
{
    struct arpspoof *as = state;
    as->host->log(ctx, VIGIL_LOG_INFO, "alerts %" PRIu64 ", entries evicted %" PRIu64,
                  as->alerts, as->evicted);
}

/* ---- configuration -------------------------------------------------------- */

#define KNOB(k, d, lo, hi, sc, field) VGP_KNOB(struct as_config, k, d, lo, hi, sc, field)

static const struct vgp_knob knobs[] = {
    KNOB("min_score", 4, 1, 1000, 1, min_score),
    KNOB("binding_ttl_sec", 1800, 1, 604800, US_PER_SEC, binding_ttl_us),
    KNOB("request_window_sec", 5, 1, 3600, US_PER_SEC, request_window_us),
    KNOB("window_sec", 600, 1, 604800, US_PER_SEC, window_us),
    KNOB("storm_packets", 30, 2, 1000000, 1, storm_packets),
    KNOB("storm_window_sec", 60, 1, 86400, US_PER_SEC, storm_window_us),
    KNOB("alert_interval_sec", 60, 1, 86400, US_PER_SEC, alert_interval_us),
    KNOB("max_bindings", 65536, 16, 1 << 22, 1, max_bindings),
    KNOB("max_requests", 4096, 16, 1 << 22, 1, max_requests),
    KNOB("max_senders", 4096, 16, 1 << 22, 1, max_senders),
};

static void as_fini(void *state)
{
    struct arpspoof *as = state;
    if (as == NULL)
        return;
    ring_release(&as->bindings);
    ring_release(&as->requests);
    ring_release(&as->senders);
    free(as);
}

static int as_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    struct arpspoof *as = calloc(1, sizeof *as);
    if (as == NULL)
        return VIGIL_ENOMEM;
    as->host = host;
    if (vgp_read_knobs(ctx, host, knobs, sizeof knobs / sizeof knobs[0], &as->cfg) != VIGIL_OK) {
        as_fini(as);
        return VIGIL_EINVAL;
    }
    const struct as_config *c = &as->cfg;
    if (ring_init(&as->bindings, (uint32_t)c->max_bindings, sizeof(struct binding), 4) < 0
        || ring_init(&as->requests, (uint32_t)c->max_requests, sizeof(struct request), 8) < 0
        || ring_init(&as->senders, (uint32_t)c->max_senders, sizeof(struct sender), 6) < 0) {
        as_fini(as);
        return VIGIL_ENOMEM;
    }
    *state = as;
    return VIGIL_OK;
}

static const vigil_plugin descriptor = {
    VIGIL_PLUGIN_HEADER,
    .name = "arpspoof",
    .version = "1.0.0",
    .description = "ARP cache poisoning (conflicting bindings, unsolicited replies) and ARP storms",
    .init = as_init,
    .fini = as_fini,
    .on_packet = as_packet,
    .on_tick = as_tick,
    .on_finish = as_finish,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &descriptor;
}
