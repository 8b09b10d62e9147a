/*
 * dnstunnel.c - DNS tunnels (iodine, dnscat2, dns2tcp, exfiltration in
 * query names) and domain generation algorithms.
 *
 * Every DNS query (UDP, or TCP reassembled by the host) is charged to a
 * tracker keyed by (client, parent domain): query count, distinct
 * subdomains, queries whose subdomain looks like encoded data (long and
 * high-entropy, or holding bytes no hostname has), record types. A tunnel
 * shows as many distinct encoded subdomains under one parent, usually in
 * TXT/NULL/CNAME/MX queries; a very large number of distinct subdomains
 * alone is reported as well. Every NXDOMAIN answer is charged to its
 * client: many distinct registered domains that do not exist, most of
 * them random-looking, is a DGA.
 *
 * Counts live in tumbling windows of packet time. When a rule first holds
 * the tracker is armed; it reports report_delay_sec later (or when its
 * window ends, it is evicted or the input ends) with the counts gathered
 * by then, once per window. Tables are bounded (LRU eviction); alerts
 * leave in arming order. docs/detectors/dnstunnel.md has every knob.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/plugin.h"
#include "vgp.h"

#include "dns_name.h"
#include "dns_parse.h"
#include "table.h"

#define DNS_PORT 53
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define UNIQ_BYTES 128          /* 1024-bit distinct-subdomain counter */
#define DOMAIN_BYTES 64         /* 512-bit distinct-domain counters */
#define SHOWN 64                /* bytes of a name kept for an alert */
#define SAMPLES 3
#define META_MAX 16
#define IGNORE_MAX 32
/* Hashes that feed distinct counts use a fixed seed, so the (rare)
 * collisions, and so the counts in alerts, are the same on every run;
 * the random seed only places entries in hash buckets. */
#define COUNT_SEED 0

#define SID_TUNNEL_ENCODED 9400001
#define SID_TUNNEL_RECORDS 9400002
#define SID_TUNNEL_VOLUME 9400003
#define SID_DGA 9400010

/* ---- configuration ------------------------------------------------------ */

struct dt_config {
    int64_t window_us;
    int64_t report_delay_us;
    int64_t min_queries;
    int64_t min_unique_subdomains;
    int64_t min_encoded_len;
    int64_t min_entropy_x100;
    int64_t min_encoded_percent;
    int64_t min_rare_type_percent;
    int64_t min_rare_encoded_percent;
    int64_t volume_min_unique;
    int64_t dga_min_nx_domains;
    int64_t dga_min_random_percent;
    int64_t dga_min_label_len;
    int64_t max_trackers;
    int64_t max_clients;
};

#define KNOB(k, d, lo, hi, sc, field) VGP_KNOB(struct dt_config, k, d, lo, hi, sc, field)

static const struct vgp_knob knobs[] = {
    KNOB("window_sec", 300, 1, 86400, VGP_US_PER_SEC, window_us),
    KNOB("report_delay_sec", 30, 0, 86400, VGP_US_PER_SEC, report_delay_us),
    KNOB("min_queries", 10, 1, 1000000, 1, min_queries),
    KNOB("min_unique_subdomains", 10, 2, 1000000, 1, min_unique_subdomains),
    KNOB("min_encoded_len", 24, 8, 253, 1, min_encoded_len),
    KNOB("min_entropy_x100", 350, 0, 800, 1, min_entropy_x100),
    KNOB("min_encoded_percent", 50, 1, 100, 1, min_encoded_percent),
    KNOB("min_rare_type_percent", 50, 1, 100, 1, min_rare_type_percent),
    KNOB("min_rare_encoded_percent", 20, 0, 100, 1, min_rare_encoded_percent),
    KNOB("volume_min_unique", 300, 0, 1000000, 1, volume_min_unique),
    KNOB("dga_min_nx_domains", 10, 0, 100000, 1, dga_min_nx_domains),
    KNOB("dga_min_random_percent", 50, 1, 100, 1, dga_min_random_percent),
    KNOB("dga_min_label_len", 8, 4, 63, 1, dga_min_label_len),
    KNOB("max_trackers", 8192, 16, 4194304, 1, max_trackers),
    KNOB("max_clients", 4096, 16, 4194304, 1, max_clients),
};

/* ---- state ---------------------------------------------------------------- */

enum qtype_slot { TY_A, TY_AAAA, TY_TXT, TY_NULL, TY_CNAME, TY_MX, TY_OTHER, TY_COUNT };

static const char *const type_names[TY_COUNT] = {
    "A", "AAAA", "TXT", "NULL", "CNAME", "MX", "other",
};

enum rule { RULE_NONE, RULE_ENCODED, RULE_RECORDS, RULE_VOLUME };

/* Queries of one client under one parent domain in the current window. */
struct tracker {
    struct tbl_node node;
    vigil_addr client, resolver;
    uint64_t parent_hash;
    uint8_t proto, rule, reported, nsamples;
    int64_t window_start_us, first_us, last_us;
    uint32_t queries, encoded, rare, types[TY_COUNT];
    uint64_t sub_bytes_sum;
    uint16_t longest_label, max_entropy_x100;
    char parent[SHOWN];
    char samples[SAMPLES][SHOWN];
    uint8_t uniq[UNIQ_BYTES];
};

/* NXDOMAIN answers received by one client in the current window. */
struct client {
    struct tbl_node node;
    vigil_addr addr, resolver;
    uint8_t reported, nsamples;
    int64_t window_start_us, first_us, last_us;
    uint32_t answers, nx_answers;
    uint8_t nx_domains[DOMAIN_BYTES], random_nx[DOMAIN_BYTES];
    char samples[SAMPLES][SHOWN];
};

struct dnstunnel {
    const vigil_host_api *host;
    struct dt_config cfg;
    struct tbl trackers, clients;
    uint64_t seed;
    int64_t now_us;
    char *ignore_buf;           /* owned copy of ignore_domains */
    const char *ignore[IGNORE_MAX];
    size_t nignore;
    uint64_t queries_seen, answers_seen, malformed, alerts;
};

/* Per TCP connection: where the next length-prefixed message starts. */
struct tcp_dns {
    uint64_t next[2];           /* per VIGIL_DIR_*; UINT64_MAX: lost sync */
};

struct emit_ctx {
    struct dnstunnel *dt;
    vigil_ctx *ctx;
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t addr_hash(const vigil_addr *a, uint64_t seed)
{
    uint64_t h = seed ^ a->family;
    for (int i = 0; i < 16; i++)
        h = (h ^ a->bytes[i]) * 0x100000001b3ULL;
    return vgp_mix64(h);
}

static enum qtype_slot type_slot(uint16_t qtype)
{
    switch (qtype) {
    case DNS_TYPE_A: return TY_A;
    case DNS_TYPE_AAAA: return TY_AAAA;
    case DNS_TYPE_TXT: return TY_TXT;
    case DNS_TYPE_NULL: return TY_NULL;
    case DNS_TYPE_CNAME: return TY_CNAME;
    case DNS_TYPE_MX: return TY_MX;
    default: return TY_OTHER;
    }
}

/* Types that carry arbitrary bytes back to a tunnel client. */
static int rare_type(uint16_t qtype)
{
    return qtype == DNS_TYPE_TXT || qtype == DNS_TYPE_NULL || qtype == DNS_TYPE_CNAME ||
           qtype == DNS_TYPE_MX || qtype == DNS_TYPE_ANY || qtype >= 65280;
}

static void keep_sample(char samples[][SHOWN], uint8_t *n, const struct dns_question *q)
{
    if (*n >= SAMPLES)
        return;
    dns_format_labels(q, 0, samples[*n], SHOWN);
    (*n)++;
}

/* ---- ignore list: parent domains never tracked -------------------------- */

static int name_matches_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    if (s > n || strcmp(name + n - s, suffix) != 0)
        return 0;
    return s == n || name[n - s - 1] == '.';
}

static int ignored(const struct dnstunnel *dt, const char *full_name)
{
    for (size_t i = 0; i < dt->nignore; i++)
        if (name_matches_suffix(full_name, dt->ignore[i]))
            return 1;
    return 0;
}

static int parse_ignore_list(struct dnstunnel *dt, vigil_ctx *ctx, const char *list)
{
    dt->ignore_buf = strdup(list);
    if (dt->ignore_buf == NULL)
        return VIGIL_ENOMEM;
    for (char *p = dt->ignore_buf; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    char *save = NULL;
    for (char *tok = strtok_r(dt->ignore_buf, ", \t", &save); tok;
         tok = strtok_r(NULL, ", \t", &save)) {
        while (*tok == '.')
            tok++;
        size_t len = strlen(tok);
        while (len > 0 && tok[len - 1] == '.')
            tok[--len] = '\0';
        if (len == 0)
            continue;
        if (dt->nignore == IGNORE_MAX) {
            dt->host->log(ctx, VIGIL_LOG_ERROR, "ignore_domains: more than %d entries", IGNORE_MAX);
            return VIGIL_EINVAL;
        }
        dt->ignore[dt->nignore++] = tok;
    }
    return VIGIL_OK;
}

/* ---- alerts ------------------------------------------------------------------ */

static void format_types(const struct tracker *t, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < TY_COUNT; i++) {
        if (t->types[i] == 0 || used >= size)
            continue;
        int w = snprintf(buf + used, size - used, "%s%s:%" PRIu32, used ? "," : "",
                         type_names[i], t->types[i]);
        if (w > 0)
            used += (size_t)w;
    }
}

static const char *dominant_type(const struct tracker *t)
{
    int best = 0;
    for (int i = 1; i < TY_COUNT; i++)
        if (t->types[i] > t->types[best])
            best = i;
    return type_names[best];
}

static void send_alert(struct dnstunnel *dt, vigil_ctx *ctx, vgp_alert *al)
{
    vgp_alert_emit(al, ctx, dt->host);
    dt->alerts++;
}

static void emit_tracker(struct dnstunnel *dt, vigil_ctx *ctx, struct tracker *t)
{
    static const struct { uint32_t sid; const char *technique, *what; } rules[] = {
        [RULE_ENCODED] = { SID_TUNNEL_ENCODED, "encoded_query_names",
                           "encoded data in query names" },
        [RULE_RECORDS] = { SID_TUNNEL_RECORDS, "tunnel_record_types",
                           "encoded queries for tunnel-friendly record types" },
        [RULE_VOLUME] = { SID_TUNNEL_VOLUME, "high_volume_subdomains",
                          "very many distinct subdomains" },
    };
    uint32_t unique = lc_estimate(t->uniq, sizeof t->uniq);
    const char *parent = t->parent[0] ? t->parent : "(no valid TLD)";
    char sig[192], types[96];
    snprintf(sig, sizeof sig, "DNS tunnel: %s under %s (%" PRIu32 " queries, %" PRIu32
             " distinct subdomains, mostly %s)", rules[t->rule].what, parent, t->queries,
             unique, dominant_type(t));
    format_types(t, types, sizeof types);
    vgp_alert al;
    vgp_alert_init(&al, META_MAX, 96);
    vgp_meta_add(&al, "parent_domain", "%s", parent);
    vgp_meta_add(&al, "queries", "%" PRIu32, t->queries);
    vgp_meta_add(&al, "unique_subdomains", "%" PRIu32, unique);
    vgp_meta_add(&al, "encoded_queries", "%" PRIu32, t->encoded);
    vgp_meta_add(&al, "tunnel_type_queries", "%" PRIu32, t->rare);
    vgp_meta_add(&al, "record_types", "%s", types);
    vgp_meta_add(&al, "longest_label", "%u", (unsigned)t->longest_label);
    vgp_meta_add(&al, "mean_subdomain_len", "%" PRIu64, t->sub_bytes_sum / (t->queries ? t->queries : 1));
    vgp_meta_add(&al, "max_entropy", "%u.%02u", t->max_entropy_x100 / 100u, t->max_entropy_x100 % 100u);
    vgp_meta_add(&al, "duration_sec", "%" PRId64, (t->last_us - t->first_us) / VGP_US_PER_SEC);
    vgp_meta_add(&al, "window_sec", "%" PRId64, dt->cfg.window_us / VGP_US_PER_SEC);
    for (uint8_t i = 0; i < t->nsamples; i++)
        vgp_meta_add(&al, "sample", "%s", t->samples[i]);
    al.a.signature_id = rules[t->rule].sid;
    al.a.severity = t->rule == RULE_VOLUME ? 3 : 2;
    al.a.signature = sig;
    al.a.category = "Potential Corporate Privacy Violation";
    al.a.attack_category = "dns_tunnel";
    al.a.attack_technique = rules[t->rule].technique;
    al.a.mitre_attack = "T1071.004,T1048";
    al.a.src = t->client;
    al.a.dst = t->resolver;
    al.a.dport = DNS_PORT;
    al.a.ip_proto = t->proto;
    send_alert(dt, ctx, &al);
}

static void emit_client(struct dnstunnel *dt, vigil_ctx *ctx, struct client *c)
{
    uint32_t nx = lc_estimate(c->nx_domains, sizeof c->nx_domains);
    uint32_t rnd = lc_estimate(c->random_nx, sizeof c->random_nx);
    char sig[160];
    snprintf(sig, sizeof sig, "DGA: %" PRIu32 " non-existent domains resolved, %" PRIu32
             " of them random-looking", nx, rnd);
    vgp_alert al;
    vgp_alert_init(&al, META_MAX, 96);
    vgp_meta_add(&al, "nxdomain_domains", "%" PRIu32, nx);
    vgp_meta_add(&al, "random_nxdomain_domains", "%" PRIu32, rnd);
    vgp_meta_add(&al, "nxdomain_answers", "%" PRIu32, c->nx_answers);
    vgp_meta_add(&al, "answers", "%" PRIu32, c->answers);
    vgp_meta_add(&al, "duration_sec", "%" PRId64, (c->last_us - c->first_us) / VGP_US_PER_SEC);
    vgp_meta_add(&al, "window_sec", "%" PRId64, dt->cfg.window_us / VGP_US_PER_SEC);
    for (uint8_t i = 0; i < c->nsamples; i++)
        vgp_meta_add(&al, "sample", "%s", c->samples[i]);
    al.a.signature_id = SID_DGA;
    al.a.severity = 2;
    al.a.signature = sig;
    al.a.category = "A Network Trojan was Detected";
    al.a.attack_category = "dga";
    al.a.attack_technique = "dga_nxdomain";
    al.a.mitre_attack = "T1568.002";
    al.a.src = c->addr;
    al.a.dst = c->resolver;
    al.a.dport = DNS_PORT;
    al.a.ip_proto = IPPROTO_UDP_;
    send_alert(dt, ctx, &al);
}

/* Report an armed entry now: it is due, its window ends, or it leaves. */
static void flush_tracker(struct dnstunnel *dt, vigil_ctx *ctx, struct tracker *t)
{
    if (!t->node.armed)
        return;
    tbl_disarm(&dt->trackers, &t->node);
    t->reported = 1;
    emit_tracker(dt, ctx, t);
}

static void flush_client(struct dnstunnel *dt, vigil_ctx *ctx, struct client *c)
{
    if (!c->node.armed)
        return;
    tbl_disarm(&dt->clients, &c->node);
    c->reported = 1;
    emit_client(dt, ctx, c);
}

static void evict_tracker(struct tbl_node *n, void *arg)
{
    struct emit_ctx *e = arg;
    flush_tracker(e->dt, e->ctx, (struct tracker *)n);
}

static void evict_client(struct tbl_node *n, void *arg)
{
    struct emit_ctx *e = arg;
    flush_client(e->dt, e->ctx, (struct client *)n);
}

/* ---- tunnel rules -------------------------------------------------------- */

static int percent_at_least(uint32_t part, uint32_t whole, int64_t percent)
{
    return (uint64_t)part * 100u >= (uint64_t)whole * (uint64_t)percent;
}

static enum rule tunnel_rule(const struct dt_config *cfg, const struct tracker *t)
{
    uint32_t unique = lc_estimate(t->uniq, sizeof t->uniq);
    if (t->queries < cfg->min_queries || unique < cfg->min_unique_subdomains)
        return RULE_NONE;
    if (percent_at_least(t->encoded, t->queries, cfg->min_encoded_percent))
        return RULE_ENCODED;
    if (percent_at_least(t->rare, t->queries, cfg->min_rare_type_percent) &&
        percent_at_least(t->encoded, t->queries, cfg->min_rare_encoded_percent) && t->encoded > 0)
        return RULE_RECORDS;
    if (cfg->volume_min_unique > 0 && unique >= cfg->volume_min_unique)
        return RULE_VOLUME;
    return RULE_NONE;
}

static int query_is_encoded(const struct dt_config *cfg, const struct dns_sub_stats *st)
{
    /* Bytes outside [a-z0-9-_] (base64 '+/=', iodine's 8-bit codecs) in
     * more than one place: no hostname has them. */
    if (st->non_ldh >= 2 && st->sub_bytes >= 8)
        return 1;
    return st->sub_bytes >= cfg->min_encoded_len && st->entropy_x100 >= cfg->min_entropy_x100;
}

static int same_tracker(const struct tbl_node *n, const void *key)
{
    const struct tracker *t = (const struct tracker *)n;
    const struct tracker *k = key;
    return t->parent_hash == k->parent_hash && vgp_addr_same(&t->client, &k->client);
}

static void reset_tracker_window(struct tracker *t, int64_t now_us)
{
    t->rule = RULE_NONE;
    t->reported = 0;
    t->nsamples = 0;
    t->queries = t->encoded = t->rare = 0;
    memset(t->types, 0, sizeof t->types);
    t->sub_bytes_sum = 0;
    t->longest_label = t->max_entropy_x100 = 0;
    memset(t->uniq, 0, sizeof t->uniq);
    t->window_start_us = t->first_us = t->last_us = now_us;
}

static struct tracker *tracker_for(struct dnstunnel *dt, vigil_ctx *ctx, const vigil_addr *client,
                                   const struct dns_question *q, unsigned sub_labels)
{
    struct tracker key;
    key.client = *client;
    key.parent_hash = dns_hash_labels(q, sub_labels, COUNT_SEED);
    uint64_t h = vgp_mix64(key.parent_hash ^ addr_hash(client, dt->seed));
    struct tracker *t = (struct tracker *)tbl_find(&dt->trackers, h, same_tracker, &key);
    if (t) {
        tbl_touch(&dt->trackers, &t->node);
        if (dt->now_us - t->window_start_us >= dt->cfg.window_us) {
            flush_tracker(dt, ctx, t);
            reset_tracker_window(t, dt->now_us);
        }
        return t;
    }
    struct emit_ctx e = { dt, ctx };
    t = (struct tracker *)tbl_insert(&dt->trackers, h, evict_tracker, &e);
    if (t == NULL)
        return NULL;
    t->client = *client;
    t->parent_hash = key.parent_hash;
    if (sub_labels < q->nlabels)
        dns_format_labels(q, sub_labels, t->parent, sizeof t->parent);
    reset_tracker_window(t, dt->now_us);
    return t;
}

static void count_query(struct dnstunnel *dt, struct tracker *t, const struct dns_question *q,
                        const struct dns_sub_stats *st, int encoded)
{
    t->queries++;
    t->last_us = dt->now_us;
    t->types[type_slot(q->qtype)]++;
    t->rare += (uint32_t)rare_type(q->qtype);
    t->encoded += (uint32_t)encoded;
    t->sub_bytes_sum += st->sub_bytes;
    if (st->longest_label > t->longest_label)
        t->longest_label = st->longest_label;
    if (st->entropy_x100 > t->max_entropy_x100)
        t->max_entropy_x100 = st->entropy_x100;
    uint64_t name_hash = dns_hash_labels(q, 0, COUNT_SEED);
    if (!lc_test(t->uniq, sizeof t->uniq, name_hash) && (encoded || t->nsamples == 0))
        keep_sample(t->samples, &t->nsamples, q);
    lc_add(t->uniq, sizeof t->uniq, name_hash);
}

static void handle_query(struct dnstunnel *dt, vigil_ctx *ctx, const vigil_addr *client,
                         const vigil_addr *resolver, uint8_t proto, const struct dns_question *q)
{
    if (dns_is_arpa(q))
        return;                 /* reverse lookups: numbers, never payload */
    struct dns_split split;
    dns_split_name(q, &split);
    if (split.sub_labels == 0)
        return;
    if (dt->nignore) {
        char full[DNS_MAX_WIRE_NAME + 1];
        dns_format_labels(q, 0, full, sizeof full);
        if (ignored(dt, full))
            return;
    }
    struct tracker *t = tracker_for(dt, ctx, client, q, split.sub_labels);
    if (t == NULL)
        return;
    t->resolver = *resolver;
    t->proto = proto;
    struct dns_sub_stats st;
    dns_sub_stats(q, split.sub_labels, &st);
    count_query(dt, t, q, &st, query_is_encoded(&dt->cfg, &st));
    if (t->reported || t->node.armed)
        return;
    enum rule r = tunnel_rule(&dt->cfg, t);
    if (r != RULE_NONE) {
        t->rule = (uint8_t)r;
        tbl_arm(&dt->trackers, &t->node, dt->now_us);
    }
}

/* ---- DGA rule ------------------------------------------------------------- */

static int same_client(const struct tbl_node *n, const void *key)
{
    return vgp_addr_same(&((const struct client *)n)->addr, key);
}

static void reset_client_window(struct client *c, int64_t now_us)
{
    c->reported = 0;
    c->nsamples = 0;
    c->answers = c->nx_answers = 0;
    memset(c->nx_domains, 0, sizeof c->nx_domains);
    memset(c->random_nx, 0, sizeof c->random_nx);
    c->window_start_us = c->first_us = c->last_us = now_us;
}

static struct client *client_for(struct dnstunnel *dt, vigil_ctx *ctx, const vigil_addr *addr)
{
    uint64_t h = addr_hash(addr, dt->seed);
    struct client *c = (struct client *)tbl_find(&dt->clients, h, same_client, addr);
    if (c) {
        tbl_touch(&dt->clients, &c->node);
        if (dt->now_us - c->window_start_us >= dt->cfg.window_us) {
            flush_client(dt, ctx, c);
            reset_client_window(c, dt->now_us);
        }
        return c;
    }
    struct emit_ctx e = { dt, ctx };
    c = (struct client *)tbl_insert(&dt->clients, h, evict_client, &e);
    if (c == NULL)
        return NULL;
    c->addr = *addr;
    reset_client_window(c, dt->now_us);
    return c;
}

static int dga_rule(const struct dt_config *cfg, const struct client *c)
{
    uint32_t nx = lc_estimate(c->nx_domains, sizeof c->nx_domains);
    uint32_t rnd = lc_estimate(c->random_nx, sizeof c->random_nx);
    return cfg->dga_min_nx_domains > 0 && nx >= cfg->dga_min_nx_domains &&
           percent_at_least(rnd, nx, cfg->dga_min_random_percent);
}

static void handle_answer(struct dnstunnel *dt, vigil_ctx *ctx, const vigil_addr *client,
                          const vigil_addr *resolver, const struct dns_question *q)
{
    if (q->rcode != DNS_RCODE_NXDOMAIN || dns_is_arpa(q))
        return;
    struct dns_split split;
    dns_split_name(q, &split);
    if (split.parent_labels == 0)
        return;
    struct client *c = client_for(dt, ctx, client);
    if (c == NULL)
        return;
    c->resolver = *resolver;
    c->answers++;
    c->nx_answers++;
    c->last_us = dt->now_us;
    uint64_t domain = dns_hash_labels(q, split.sub_labels, COUNT_SEED);
    int fresh = !lc_test(c->nx_domains, sizeof c->nx_domains, domain);
    lc_add(c->nx_domains, sizeof c->nx_domains, domain);
    unsigned reg = split.sub_labels;    /* the registered label */
    int random = dns_label_looks_random(q->name + q->label_off[reg], q->label_len[reg],
                                        (unsigned)dt->cfg.dga_min_label_len);
    if (random) {
        lc_add(c->random_nx, sizeof c->random_nx, domain);
        if (fresh)
            keep_sample(c->samples, &c->nsamples, q);
    }
    if (!c->reported && !c->node.armed && dga_rule(&dt->cfg, c))
        tbl_arm(&dt->clients, &c->node, dt->now_us);
}

/* ---- input ------------------------------------------------------------------- */

static void handle_message(struct dnstunnel *dt, vigil_ctx *ctx, const vigil_addr *from,
                           const vigil_addr *to, uint8_t proto, const uint8_t *msg, size_t len)
{
    struct dns_question q;
    if (dns_parse_question(msg, len, &q) != 0) {
        dt->malformed++;
        return;
    }
    if (q.opcode != 0)
        return;
    if (!q.is_response) {
        dt->queries_seen++;
        handle_query(dt, ctx, from, to, proto, &q);
    } else {
        dt->answers_seen++;
        handle_answer(dt, ctx, to, from, &q);
    }
}

static void dt_on_packet(void *state, vigil_ctx *ctx, const vigil_packet *pkt)
{
    struct dnstunnel *dt = state;
    if (pkt->ip_proto != IPPROTO_UDP_ || !(pkt->flags & VIGIL_PKT_HAS_L4))
        return;
    if (pkt->dport != DNS_PORT && pkt->sport != DNS_PORT)
        return;
    if (pkt->ts_us > dt->now_us)
        dt->now_us = pkt->ts_us;
    handle_message(dt, ctx, &pkt->src, &pkt->dst, IPPROTO_UDP_, pkt->payload, pkt->payload_len);
}

/* DNS over TCP: 2-byte length, then the message. A message whose length
 * or question straddles two DATA events is skipped (queries fit one). */
static void scan_tcp_data(struct dnstunnel *dt, vigil_ctx *ctx, const vigil_stream *st,
                          uint64_t *next)
{
    const vigil_addr *from = st->dir == VIGIL_DIR_TO_SERVER ? &st->client : &st->server;
    const vigil_addr *to = st->dir == VIGIL_DIR_TO_SERVER ? &st->server : &st->client;
    uint64_t end = st->offset + st->len;
    while (*next != UINT64_MAX && *next >= st->offset && *next < end) {
        size_t at = (size_t)(*next - st->offset);
        if (st->len - at < 2) {
            *next = UINT64_MAX;
            return;
        }
        size_t msg_len = (size_t)st->data[at] << 8 | st->data[at + 1];
        size_t avail = st->len - at - 2;
        handle_message(dt, ctx, from, to, IPPROTO_TCP_, st->data + at + 2,
                       msg_len < avail ? msg_len : avail);
        *next += 2u + msg_len;
    }
    if (*next != UINT64_MAX && *next < st->offset)
        *next = UINT64_MAX;     /* a gap: framing is lost */
}

static void dt_on_stream(void *state, vigil_ctx *ctx, const vigil_stream *st)
{
    struct dnstunnel *dt = state;
    if (!VGP_HAS_MEMBER(st, vigil_stream, bytes_to_client) || st->server_port != DNS_PORT ||
        st->event != VIGIL_STREAM_DATA || st->dir > VIGIL_DIR_TO_CLIENT || st->data == NULL)
        return;
    if (st->ts_us > dt->now_us)
        dt->now_us = st->ts_us;
    struct tcp_dns *fs = dt->host->flow_state(ctx);
    if (fs == NULL) {
        fs = calloc(1, sizeof *fs);
        if (fs == NULL || dt->host->set_flow_state(ctx, fs) != VIGIL_OK) {
            free(fs);
            return;
        }
    }
    scan_tcp_data(dt, ctx, st, &fs->next[st->dir]);
}

static void dt_flow_free(void *state, void *flow_state)
{
    (void)state;
    free(flow_state);
}

static void report_due(struct dnstunnel *dt, vigil_ctx *ctx, int all)
{
    while (dt->trackers.armed_head &&
           (all || dt->now_us - dt->trackers.armed_head->armed_us >= dt->cfg.report_delay_us))
        flush_tracker(dt, ctx, (struct tracker *)dt->trackers.armed_head);
    while (dt->clients.armed_head &&
           (all || dt->now_us - dt->clients.armed_head->armed_us >= dt->cfg.report_delay_us))
        flush_client(dt, ctx, (struct client *)dt->clients.armed_head);
}

static void dt_on_tick(void *state, vigil_ctx *ctx, int64_t now_us)
{
    struct dnstunnel *dt = state;
    if (now_us > dt->now_us)
        dt->now_us = now_us;
    report_due(dt, ctx, 0);
}

static void dt_on_finish(void *state, vigil_ctx *ctx)
{
    struct dnstunnel *dt = state;
    report_due(dt, ctx, 1);
    dt->host->log(ctx, VIGIL_LOG_INFO,
                  "queries=%" PRIu64 " answers=%" PRIu64 " malformed=%" PRIu64 " alerts=%" PRIu64
                  " trackers=%zu (evicted %" PRIu64 ") clients=%zu (evicted %" PRIu64 ")",
                  dt->queries_seen, dt->answers_seen, dt->malformed, dt->alerts,
                  dt->trackers.count, dt->trackers.evicted, dt->clients.count, dt->clients.evicted);
}

/* ---- life cycle ------------------------------------------------------------ */

static int host_usable(const vigil_host_api *host)
{
    return host && host->abi_major == VIGIL_ABI_MAJOR &&
           VGP_HAS_MEMBER(host, vigil_host_api, now_us) && host->log && host->emit_alert &&
           host->config_int && host->config_str && host->flow_state && host->set_flow_state;
}

static int read_config(struct dnstunnel *dt, vigil_ctx *ctx)
{
    if (vgp_read_knobs(ctx, dt->host, knobs, sizeof knobs / sizeof knobs[0], &dt->cfg) != VIGIL_OK)
        return VIGIL_EINVAL;
    if (dt->cfg.report_delay_us > dt->cfg.window_us)
        dt->cfg.report_delay_us = dt->cfg.window_us;
    const char *list = NULL;
    if (dt->host->config_str(ctx, "ignore_domains", &list) == VIGIL_OK && list)
        return parse_ignore_list(dt, ctx, list);
    return VIGIL_OK;
}

static void dt_fini(void *state);

static int dt_init(vigil_ctx *ctx, const vigil_host_api *host, void **state)
{
    if (!host_usable(host))
        return VIGIL_EINVAL;
    struct dnstunnel *dt = calloc(1, sizeof *dt);
    if (dt == NULL)
        return VIGIL_ENOMEM;
    dt->host = host;
    dt->now_us = INT64_MIN / 2;
    int rc = read_config(dt, ctx);
    if (rc == VIGIL_OK &&
        (tbl_init(&dt->trackers, (size_t)dt->cfg.max_trackers, sizeof(struct tracker)) != 0 ||
         tbl_init(&dt->clients, (size_t)dt->cfg.max_clients, sizeof(struct client)) != 0))
        rc = VIGIL_ENOMEM;
    if (rc != VIGIL_OK) {
        dt_fini(dt);
        return rc;
    }
    /* The seed only places entries in buckets; output never depends on it. */
    if (getentropy(&dt->seed, sizeof dt->seed) != 0)
        dt->seed = 0x9E3779B97F4A7C15ULL;
    *state = dt;
    return VIGIL_OK;
}

static void dt_fini(void *state)
{
    struct dnstunnel *dt = state;
    if (dt == NULL)
        return;
    if (dt->trackers.buckets)
        tbl_destroy(&dt->trackers);
    if (dt->clients.buckets)
        tbl_destroy(&dt->clients);
    free(dt->ignore_buf);
    free(dt);
}

static const vigil_plugin dnstunnel_plugin = {
    VIGIL_PLUGIN_HEADER,
    .name = "dnstunnel",
    .version = "1.0.0",
    .description = "DNS tunnels (encoded query names, TXT/NULL/CNAME-heavy, subdomain floods) and DGA NXDOMAIN bursts",
    .init = dt_init,
    .fini = dt_fini,
    .on_packet = dt_on_packet,
    .on_stream = dt_on_stream,
    .on_tick = dt_on_tick,
    .on_finish = dt_on_finish,
    .flow_free = dt_flow_free,
};

VIGIL_EXPORT const vigil_plugin *vigil_plugin_entry(void)
{
    return &dnstunnel_plugin;
}
