/*
 * share.c - the sharing policy and the shared forms of an alert: a STIX 2.1
 * bundle (OASIS STIX Version 2.1, with TLP 2.0 markings) and a MISP event
 * (MISP core format, MISP/misp-rfc misp-core-format). See share.h and
 * docs/sharing.md.
 *
 * One alert gives one "view" first: its TLP, its two addresses as they may
 * be shared (clear, pseudonym, or absent), the evidence allowed out, and
 * the free text scrubbed of customer addresses. Both formats are built
 * from the view only, never from the raw alert, so neither can leak what
 * the policy removed.
 */
#include "share.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "community_id.h"
#include "cryptopan.h"
#include "log.h"
#include "misp.h"
#include "stix.h"

#define SECTION "sharing"
#define ADDR_TEXT_LEN 64
#define FIXED_CREATED "2020-01-01T00:00:00.000Z"

struct tlp_override {
    char *detector;
    enum vigil_tlp tlp;
};

struct vigil_share {
    char *sensor_name;
    const struct vigil_addrset *home_net;
    enum vigil_tlp tlp_default;
    struct tlp_override *over;
    size_t nover;
    enum vigil_share_home home;
    struct vigil_cryptopan *cp;
    int payload_excerpts;
    int64_t valid_days;
    enum vigil_tlp max_stix, max_misp, max_taxii;
};

/* ---- TLP names ------------------------------------------------------ */

static const char *const tlp_names[] = {
    [VIGIL_TLP_CLEAR] = "clear", [VIGIL_TLP_GREEN] = "green", [VIGIL_TLP_AMBER] = "amber",
    [VIGIL_TLP_AMBER_STRICT] = "amber+strict", [VIGIL_TLP_RED] = "red",
};

int vigil_tlp_parse(const char *name)
{
    if (!name)
        return -1;
    if (strncasecmp(name, "tlp:", 4) == 0)
        name += 4;
    for (size_t i = 0; i < sizeof tlp_names / sizeof tlp_names[0]; i++)
        if (strcasecmp(name, tlp_names[i]) == 0)
            return (int)i;
    if (strcasecmp(name, "white") == 0)
        return VIGIL_TLP_CLEAR;
    return -1;
}

const char *vigil_tlp_name(enum vigil_tlp t)
{
    return (unsigned)t <= VIGIL_TLP_RED ? tlp_names[t] : "red";
}

/* ---- settings ------------------------------------------------------- */

static int read_tlp(struct vigil_config *cfg, const char *key, enum vigil_tlp def,
                    enum vigil_tlp *out, char *err, size_t errlen)
{
    struct vigil_config_entry *e = cfg ? vigil_config_find(cfg, SECTION, key) : NULL;

    *out = def;
    if (!e)
        return 0;
    int t = vigil_tlp_parse(e->value);
    if (t < 0) {
        vigil_seterr(err, errlen,
                     "%s:%d: %s: '%s' is not a TLP 2.0 level "
                     "(clear, green, amber, amber+strict, red)",
                     e->file, e->line, key, e->value);
        return -1;
    }
    *out = (enum vigil_tlp)t;
    return 0;
}

void vigil_share_free(struct vigil_share *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nover; i++)
        free(s->over[i].detector);
    free(s->over);
    free(s->sensor_name);
    vigil_cryptopan_free(s->cp);
    free(s);
}

static int read_overrides(struct vigil_share *s, struct vigil_config *cfg, char *err,
                          size_t errlen)
{
    if (!cfg)
        return 0;
    for (size_t i = 0; i < cfg->count; i++) {
        struct vigil_config_entry *e = &cfg->entries[i];
        if (strcmp(e->section, SECTION) != 0 || strncmp(e->key, "tlp.", 4) != 0 ||
            strcmp(e->key, "tlp.default") == 0)
            continue;
        if (e->key[4] == '\0') {
            vigil_seterr(err, errlen, "%s:%d: tlp.: no detector name", e->file, e->line);
            return -1;
        }
        enum vigil_tlp t;
        if (read_tlp(cfg, e->key, VIGIL_TLP_AMBER, &t, err, errlen) < 0)
            return -1;
        struct tlp_override *n = realloc(s->over, (s->nover + 1) * sizeof *n);
        if (!n)
            goto nomem;
        s->over = n;
        s->over[s->nover].detector = strdup(e->key + 4);
        if (!s->over[s->nover].detector)
            goto nomem;
        s->over[s->nover++].tlp = t;
    }
    return 0;
nomem:
    vigil_seterr(err, errlen, "out of memory");
    return -1;
}

struct vigil_share *vigil_share_new(const struct vigil_output_env *env, char *err,
                                    size_t errlen)
{
    struct vigil_config *cfg = env ? env->cfg : NULL;
    struct vigil_share *s = calloc(1, sizeof *s);
    struct vigil_config_entry *e;
    int64_t v;

    if (!s) {
        vigil_seterr(err, errlen, "out of memory");
        return NULL;
    }
    s->home_net = env ? env->home_net : NULL;
    s->sensor_name = strdup(env && env->sensor_name && *env->sensor_name ? env->sensor_name
                                                                         : "vigil");
    if (!s->sensor_name) {
        vigil_seterr(err, errlen, "out of memory");
        goto fail;
    }
    if (read_tlp(cfg, "tlp.default", VIGIL_TLP_AMBER, &s->tlp_default, err, errlen) < 0 ||
        read_overrides(s, cfg, err, errlen) < 0 ||
        read_tlp(cfg, "stix.max_tlp", VIGIL_TLP_AMBER, &s->max_stix, err, errlen) < 0 ||
        read_tlp(cfg, "misp.max_tlp", VIGIL_TLP_AMBER, &s->max_misp, err, errlen) < 0 ||
        read_tlp(cfg, "taxii.max_tlp", VIGIL_TLP_AMBER, &s->max_taxii, err, errlen) < 0)
        goto fail;

    s->home = VIGIL_SHARE_ANONYMIZE;
    e = cfg ? vigil_config_find(cfg, SECTION, "home_net") : NULL;
    if (e) {
        if (strcmp(e->value, "omit") == 0)
            s->home = VIGIL_SHARE_OMIT;
        else if (strcmp(e->value, "anonymize") == 0)
            s->home = VIGIL_SHARE_ANONYMIZE;
        else if (strcmp(e->value, "keep") == 0)
            s->home = VIGIL_SHARE_KEEP;
        else {
            vigil_seterr(err, errlen, "%s:%d: home_net: '%s': want omit, anonymize or keep",
                         e->file, e->line, e->value);
            goto fail;
        }
    }

    if (vigil_config_int(cfg, SECTION, "payload_excerpts", 0, 0, 1, &v, err, errlen) < 0)
        goto fail;
    s->payload_excerpts = (int)v;
    if (vigil_config_int(cfg, SECTION, "indicator_valid_days", 7, 0, 3650, &s->valid_days,
                         err, errlen) < 0)
        goto fail;

    /* Read even when unused (home_net = omit/keep), so it is never "unknown". */
    e = cfg ? vigil_config_find(cfg, SECTION, "cryptopan_key_file") : NULL;
    if (s->home == VIGIL_SHARE_ANONYMIZE) {
        uint8_t key[VIGIL_CRYPTOPAN_KEY_LEN];
        char why[512];
        if (!e || !*e->value) {
            vigil_seterr(err, errlen,
                         "[sharing] home_net = anonymize (the default) needs "
                         "cryptopan_key_file: a file of 32 random bytes, mode 0600 "
                         "(head -c 32 /dev/urandom > FILE; chmod 600 FILE), shared only "
                         "with the community that may link pseudonyms; or set "
                         "home_net = omit");
            goto fail;
        }
        char *path = vigil_config_entry_path(e);
        int loaded = path ? vigil_cryptopan_load_key(path, key, why, sizeof why) : -1;
        if (!path)
            snprintf(why, sizeof why, "out of memory");
        free(path);
        if (loaded < 0) {
            vigil_seterr(err, errlen, "%s:%d: cryptopan_key_file: %s", e->file, e->line, why);
            goto fail;
        }
        s->cp = vigil_cryptopan_new(key);
        memset(key, 0, sizeof key);
        if (!s->cp) {
            vigil_seterr(err, errlen, "Crypto-PAn: cannot set up AES-128 (OpenSSL)");
            goto fail;
        }
    }
    return s;
fail:
    vigil_share_free(s);
    return NULL;
}

const char *vigil_share_max_tlp(const struct vigil_share *s, const char *sink)
{
    if (!s || !sink)
        return "amber";
    if (strcmp(sink, "stix") == 0)
        return vigil_tlp_name(s->max_stix);
    if (strcmp(sink, "misp") == 0)
        return vigil_tlp_name(s->max_misp);
    if (strcmp(sink, "taxii") == 0)
        return vigil_tlp_name(s->max_taxii);
    return "amber";
}

enum vigil_tlp vigil_share_tlp_for(const struct vigil_share *s, const char *detector)
{
    if (!s)
        return VIGIL_TLP_RED;
    for (size_t i = 0; detector && i < s->nover; i++)
        if (strcmp(s->over[i].detector, detector) == 0)
            return s->over[i].tlp;
    return s->tlp_default;
}

/* ---- the policy applied to one alert -------------------------------- */

struct shared_addr {
    int present;            /* shared at all */
    int family;             /* 4 or 6 */
    int home;               /* inside home_net */
    int anon;               /* text is a Crypto-PAn pseudonym */
    char text[ADDR_TEXT_LEN];
};

struct view {
    enum vigil_tlp tlp;
    struct shared_addr src, dst;
    int any_anon;
    char *signature;        /* scrubbed */
    char *category;         /* scrubbed */
    char *evidence;         /* "k=v; ..." allowed and scrubbed, may be "" */
    char community_id[VIGIL_COMMUNITY_ID_LEN]; /* "" unless both addresses are clear */
    int64_t ts, first, last;
    char key[1024];         /* what the deterministic ids are made of */
};

static int share_addr(struct vigil_share *s, const vigil_addr *a, struct shared_addr *out)
{
    memset(out, 0, sizeof *out);
    if (a->family != 4 && a->family != 6)
        return 0;
    out->family = a->family;
    out->home = s->home_net && vigil_addrset_contains(s->home_net, a);
    if (out->home && s->home == VIGIL_SHARE_OMIT)
        return 0;
    vigil_addr v = *a;
    if (out->home && s->home == VIGIL_SHARE_ANONYMIZE) {
        int rc = a->family == 4 ? vigil_cryptopan_ipv4(s->cp, a->bytes, v.bytes)
                                : vigil_cryptopan_ipv6(s->cp, a->bytes, v.bytes);
        if (rc < 0)
            return -1;
        out->anon = 1;
    }
    if (vigil_addr_text(&v, out->text, sizeof out->text) < 0)
        return -1;
    out->present = 1;
    return 0;
}

/* Growable string. */
struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static char *sb_take(struct sbuf *b)
{
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (!b->p)
        return strdup("");
    return b->p;
}

static int addr_char(int c)
{
    return isxdigit(c) || c == '.' || c == ':';
}

/* Parse text (n bytes) as an address; 1 when it is one. */
static int parse_addr(const char *t, size_t n, vigil_addr *a)
{
    char buf[ADDR_TEXT_LEN];

    if (n == 0 || n >= sizeof buf)
        return 0;
    memcpy(buf, t, n);
    buf[n] = '\0';
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, buf, a->bytes) == 1) {
        a->family = 4;
        return 1;
    }
    if (strchr(buf, ':') && inet_pton(AF_INET6, buf, a->bytes) == 1) {
        a->family = 6;
        return 1;
    }
    return 0;
}

/*
 * Copy text, replacing every address inside home_net by what the policy
 * shares for it: its pseudonym (anonymize), "[internal]" (omit), itself
 * (keep). Candidates are runs of hex digits, dots and colons; inside a run
 * every start position is tried with the longest address first, so an
 * address glued to other hex text ("port198.18.0.5", "198.18.0.5:22") is
 * still found. Over-matching only ever hides more.
 */
static char *scrub(struct vigil_share *s, const char *in)
{
    struct sbuf b = { 0 };
    const char *p = in ? in : "";

    while (*p) {
        if (!addr_char((unsigned char)*p)) {
            sb_put(&b, p, 1);
            p++;
            continue;
        }
        size_t n = 0;
        while (addr_char((unsigned char)p[n]))
            n++;
        size_t done = 0, i = 0;
        while (i < n) {
            vigil_addr a;
            size_t len = 0;
            size_t maxlen = n - i < ADDR_TEXT_LEN - 1 ? n - i : ADDR_TEXT_LEN - 1;
            for (size_t l = maxlen; l >= 2; l--)
                if (parse_addr(p + i, l, &a)) {
                    len = l;
                    break;
                }
            if (!len) {
                i++;
                continue;
            }
            struct shared_addr sa;
            if (share_addr(s, &a, &sa) < 0) {
                free(b.p);
                return NULL;
            }
            sb_put(&b, p + done, i - done);
            if (sa.present)
                sb_put(&b, sa.text, strlen(sa.text));
            else
                sb_put(&b, "[internal]", 10);
            i += len;
            done = i;
        }
        sb_put(&b, p + done, n - done);
        p += n;
    }
    return sb_take(&b);
}

/* Meta keys whose values are counts, ports, rates, durations or packet
 * times: shared by default (and only when the value is numeric). */
static const char *const meta_allow[] = {
    "active_windows", "amplification_ratio", "answers", "arp_claims", "attack_windows",
    "attempts_per_min", "avg_bps", "avg_pps", "binding_conflicts", "bytes", "connections",
    "dest_port", "distinct_source_endpoints", "distinct_sources", "dst_port", "duration_sec",
    "encoded_queries", "first_seen", "flood_windows", "gratuitous_arps", "interval_max_sec",
    "interval_min_sec", "intervals_scored", "jitter", "last_seen", "longest_label",
    "max_entropy", "max_jitter", "mean_interval_sec", "mean_server_bytes",
    "mean_subdomain_len", "median_client_bytes", "nxdomain_answers", "nxdomain_domains",
    "packets", "peak_packets_per_window", "port", "probes", "queries",
    "random_nxdomain_domains", "ratio", "reflectors", "request_bytes", "responses",
    "self_queries", "service_port", "sessions", "targets", "top_reflector_percent",
    "top_source_percent", "ttl_seen", "ttl_usual", "tunnel_type_queries",
    "unique_subdomains", "unsolicited_replies", "usernames_distinct", "victims",
    "window_sec",
};

static int meta_key_allowed(const char *key)
{
    for (size_t i = 0; i < sizeof meta_allow / sizeof meta_allow[0]; i++)
        if (strcmp(meta_allow[i], key) == 0)
            return 1;
    return 0;
}

/* A number or a list of numbers ("1000", "41.250", "22,80"), never an address. */
static int meta_value_numeric(const char *v)
{
    size_t n = strlen(v), dots = 0;

    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '.') {
            if (++dots > 1)
                return 0;
        } else if (v[i] == ',') {
            dots = 0;
        } else if (!isdigit((unsigned char)v[i]) && !(i == 0 && v[i] == '-')) {
            return 0;
        }
    }
    return 1;
}

static char *evidence(struct vigil_share *s, const vigil_alert *al)
{
    struct sbuf b = { 0 };

    for (size_t i = 0; al->meta && i < al->meta_count; i++) {
        const char *k = al->meta[i].key, *v = al->meta[i].value;
        if (!k || !v)
            continue;
        if (!s->payload_excerpts && (!meta_key_allowed(k) || !meta_value_numeric(v)))
            continue;
        char *sv = scrub(s, v);
        if (!sv) {
            free(b.p);
            return NULL;
        }
        if (b.len)
            sb_put(&b, "; ", 2);
        sb_put(&b, k, strlen(k));
        sb_put(&b, "=", 1);
        sb_put(&b, sv, strlen(sv));
        free(sv);
    }
    return sb_take(&b);
}

/* "1699999999.123456" (a detector's packet time) -> microseconds; -1 if not. */
static int64_t parse_epoch(const char *v)
{
    int64_t sec = 0, us = 0;
    const char *p = v;
    int digits = 0;

    if (!v)
        return -1;
    for (; isdigit((unsigned char)*p) && digits < 12; p++, digits++)
        sec = sec * 10 + (*p - '0');
    if (digits == 0)
        return -1;
    if (*p == '.') {
        p++;
        int fd = 0;
        for (; isdigit((unsigned char)*p) && fd < 6; p++, fd++)
            us = us * 10 + (*p - '0');
        for (; fd < 6; fd++)
            us *= 10;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p ? -1 : sec * 1000000 + us;
}

static const char *meta_get(const vigil_alert *al, const char *key)
{
    for (size_t i = 0; al->meta && i < al->meta_count; i++)
        if (al->meta[i].key && strcmp(al->meta[i].key, key) == 0)
            return al->meta[i].value;
    return NULL;
}

static void view_free(struct view *v)
{
    free(v->signature);
    free(v->category);
    free(v->evidence);
    memset(v, 0, sizeof *v);
}

static enum vigil_tlp max_of(const char *max_tlp)
{
    int t = vigil_tlp_parse(max_tlp);
    return t < 0 ? VIGIL_TLP_AMBER : (enum vigil_tlp)t;
}

/* 1: view built; 0: not shared; -1: failure. */
static int make_view(struct vigil_share *s, const struct vigil_alert_event *ev,
                     const char *max_tlp, struct view *v)
{
    const vigil_alert *al = ev ? ev->alert : NULL;

    memset(v, 0, sizeof *v);
    if (!s || !al)
        return -1;
    v->tlp = vigil_share_tlp_for(s, ev->detector);
    if (v->tlp > max_of(max_tlp))
        return 0;
    if (share_addr(s, &al->src, &v->src) < 0 || share_addr(s, &al->dst, &v->dst) < 0)
        return -1;
    if (!v->src.present && !v->dst.present)
        return 0;   /* nothing but customer addresses, and they are omitted */
    v->any_anon = v->src.anon || v->dst.anon;

    v->ts = ev->ts_us ? ev->ts_us : al->ts_us;
    v->last = parse_epoch(meta_get(al, "last_seen"));
    if (v->last < 0 || v->last > v->ts)
        v->last = v->ts;
    v->first = parse_epoch(meta_get(al, "first_seen"));
    if (v->first < 0 || v->first > v->last)
        v->first = v->last;

    v->signature = scrub(s, al->signature && *al->signature ? al->signature : ev->detector);
    v->category = scrub(s, al->category ? al->category : "");
    v->evidence = evidence(s, al);
    if (!v->signature || !v->category || !v->evidence) {
        view_free(v);
        return -1;
    }
    /* A Community ID hashes both addresses: guessable from a clear one, so
     * only when neither address is withheld or pseudonymised. */
    if (v->src.present && v->dst.present && !v->src.anon && !v->dst.anon &&
        vigil_community_id(&al->src, &al->dst, al->sport, al->dport, al->ip_proto, 0, 1,
                           v->community_id, sizeof v->community_id) < 0)
        v->community_id[0] = '\0';

    /* The ids are made only of what is shared (never of a withheld address,
     * which could otherwise be recovered by trying every candidate). */
    snprintf(v->key, sizeof v->key,
             "%s\x1f%s\x1f%" PRIu32 "\x1f%" PRIu32 "\x1f%s\x1f%s\x1f%s\x1f%u\x1f%u\x1f%u\x1f%" PRId64,
             s->sensor_name, ev->detector ? ev->detector : "", al->gid, al->signature_id,
             al->attack_technique ? al->attack_technique : "", v->src.text, v->dst.text,
             (unsigned)al->sport, (unsigned)al->dport, (unsigned)al->ip_proto, v->ts);
    return 1;
}

int vigil_share_allowed(struct vigil_share *s, const struct vigil_alert_event *ev,
                        const char *max_tlp)
{
    struct view v;
    int rc = make_view(s, ev, max_tlp, &v);

    view_free(&v);
    return rc == 1;
}

/* ---- STIX ----------------------------------------------------------- */

static const char *l4_name(uint8_t proto)
{
    switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 58: return "ipv6-icmp";
    case 132: return "sctp";
    default: return NULL;
    }
}

static int has_ports(uint8_t proto)
{
    return proto == 6 || proto == 17 || proto == 132;
}

static const char *indicator_type(const char *cat)
{
    if (!cat)
        return "anomalous-activity";
    if (strcmp(cat, "port_scan") == 0 || strcmp(cat, "host_sweep") == 0)
        return "anomalous-activity";
    if (strcmp(cat, "beaconing") == 0 || strcmp(cat, "dga") == 0 ||
        strcmp(cat, "dns_tunnel") == 0 || strcmp(cat, "exfiltration") == 0)
        return "compromised";
    return "malicious-activity";
}

/* Add the common SDO/SRO properties in a fixed order. */
static json_t *sdo(const char *type, const char *id, const char *created,
                   const char *identity, const char *marking)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s]}", "type", type,
                     "spec_version", "2.1", "id", id, "created", created, "modified", created,
                     "created_by_ref", identity, "object_marking_refs", marking);
}

static void id_for(const struct view *v, const char *type, const char *extra, char *out,
                   size_t len)
{
    char name[1200];

    snprintf(name, sizeof name, "%s\x1f%s\x1f%s", type, v->key, extra ? extra : "");
    vigil_stix_sdo_id(type, name, out, len);
}

/* The technique ids of the alert ("T1071.004,T1048"), valid ones only, max 8. */
static size_t techniques(const vigil_alert *al, char out[8][16])
{
    size_t n = 0;
    const char *p = al->mitre_attack ? al->mitre_attack : "";

    while (*p && n < 8) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t len = strcspn(p, ", ");
        if (len > 0 && len < 16) {
            memcpy(out[n], p, len);
            out[n][len] = '\0';
            if (vigil_attack_id_valid(out[n]))
                n++;
        }
        p += len;
    }
    return n;
}

static int add(json_t *arr, json_t *obj)
{
    return obj ? json_array_append_new(arr, obj) : -1;
}

json_t *vigil_share_stix_bundle(struct vigil_share *s, const struct vigil_alert_event *ev,
                                const char *max_tlp)
{
    struct view v;
    char identity[VIGIL_STIX_ID_LEN], src_id[VIGIL_STIX_ID_LEN] = "",
         dst_id[VIGIL_STIX_ID_LEN] = "", nt_id[VIGIL_STIX_ID_LEN] = "",
         od_id[VIGIL_STIX_ID_LEN], ind_id[VIGIL_STIX_ID_LEN] = "", si_id[VIGIL_STIX_ID_LEN],
         bundle_id[VIGIL_STIX_ID_LEN], name[512];
    char created[VIGIL_STIX_TS_LEN], first[VIGIL_STIX_TS_LEN], last[VIGIL_STIX_TS_LEN],
         until[VIGIL_STIX_TS_LEN];
    char tech[8][16], ap_ids[8][VIGIL_STIX_ID_LEN];
    const vigil_alert *al;
    json_t *objs = NULL, *bundle = NULL;
    int err = 0;

    if (make_view(s, ev, max_tlp, &v) != 1)
        return NULL;
    al = ev->alert;
    const char *marking = vigil_stix_tlp_marking_id(v.tlp);
    if (vigil_stix_ts(v.ts, created, sizeof created) < 0 ||
        vigil_stix_ts(v.first, first, sizeof first) < 0 ||
        vigil_stix_ts(v.last, last, sizeof last) < 0)
        goto out;

    objs = json_array();
    if (!objs)
        goto out;

    /* the sensor */
    snprintf(name, sizeof name, "identity\x1f%s", s->sensor_name);
    vigil_stix_sdo_id("identity", name, identity, sizeof identity);
    json_t *o = sdo("identity", identity, FIXED_CREATED, identity, marking);
    if (o) {
        err |= json_object_set_new(o, "name", json_string(s->sensor_name));
        err |= json_object_set_new(o, "identity_class", json_string("system"));
        err |= json_object_set_new(o, "description",
                                   json_string("Network traffic anomaly sensor"));
    }
    err |= add(objs, o);
    err |= add(objs, vigil_stix_tlp_marking(v.tlp));

    /* SCOs */
    if (v.src.present)
        err |= add(objs, vigil_stix_addr_sco(v.src.family, v.src.text, src_id, sizeof src_id));
    if (v.dst.present && !(v.src.present && strcmp(v.src.text, v.dst.text) == 0))
        err |= add(objs, vigil_stix_addr_sco(v.dst.family, v.dst.text, dst_id, sizeof dst_id));
    else if (v.dst.present)
        snprintf(dst_id, sizeof dst_id, "%s", src_id);
    int fam = v.src.present ? v.src.family : v.dst.family;
    json_t *contrib = json_object();
    json_t *protos = json_array();
    err |= json_array_append_new(protos, json_string(fam == 6 ? "ipv6" : "ipv4"));
    if (l4_name(al->ip_proto))
        err |= json_array_append_new(protos, json_string(l4_name(al->ip_proto)));
    err |= json_object_set_new(contrib, "protocols", protos);
    if (*src_id)
        err |= json_object_set_new(contrib, "src_ref", json_string(src_id));
    if (*dst_id)
        err |= json_object_set_new(contrib, "dst_ref", json_string(dst_id));
    if (has_ports(al->ip_proto)) {
        if (al->sport)
            err |= json_object_set_new(contrib, "src_port", json_integer(al->sport));
        if (al->dport)
            err |= json_object_set_new(contrib, "dst_port", json_integer(al->dport));
    } else if ((al->ip_proto == 1 || al->ip_proto == 58) && (al->sport || al->dport)) {
        char t[3], c[3];
        snprintf(t, sizeof t, "%02x", al->sport & 0xff);
        snprintf(c, sizeof c, "%02x", al->dport & 0xff);
        err |= json_object_set_new(contrib, "extensions",
                                   json_pack("{s:{s:s, s:s}}", "icmp-ext", "icmp_type_hex", t,
                                             "icmp_code_hex", c));
    }
    if (err || vigil_stix_sco_id("network-traffic", contrib, nt_id, sizeof nt_id) < 0) {
        json_decref(contrib);
        goto out;
    }
    o = json_pack("{s:s, s:s, s:s}", "type", "network-traffic", "spec_version", "2.1", "id",
                  nt_id);
    if (o)
        err |= json_object_update(o, contrib);
    json_decref(contrib);
    err |= add(objs, o);

    /* observed-data */
    id_for(&v, "observed-data", NULL, od_id, sizeof od_id);
    o = sdo("observed-data", od_id, created, identity, marking);
    if (o) {
        json_t *refs = json_array();
        err |= json_array_append_new(refs, json_string(nt_id));
        if (*src_id)
            err |= json_array_append_new(refs, json_string(src_id));
        if (*dst_id && strcmp(dst_id, src_id) != 0)
            err |= json_array_append_new(refs, json_string(dst_id));
        err |= json_object_set_new(o, "first_observed", json_string(first));
        err |= json_object_set_new(o, "last_observed", json_string(last));
        err |= json_object_set_new(o, "number_observed", json_integer(1));
        err |= json_object_set_new(o, "object_refs", refs);
    }
    err |= add(objs, o);

    /* description shared by indicator and sighting */
    struct sbuf d = { 0 };
    char sev[64];
    sb_put(&d, v.signature, strlen(v.signature));
    snprintf(sev, sizeof sev, " (detector %s, severity %u)", ev->detector ? ev->detector : "?",
             (unsigned)al->severity);
    sb_put(&d, sev, strlen(sev));
    if (*v.category) {
        sb_put(&d, ". Category: ", 12);
        sb_put(&d, v.category, strlen(v.category));
    }
    if (*v.evidence) {
        sb_put(&d, ". Evidence: ", 12);
        sb_put(&d, v.evidence, strlen(v.evidence));
    }
    if (v.any_anon) {
        const char *note = ". Addresses inside the reporting network are Crypto-PAn "
                           "pseudonyms (prefix-preserving), not real addresses";
        sb_put(&d, note, strlen(note));
    }
    char *desc = sb_take(&d);
    if (!desc)
        goto out;

    /* indicator: only for an attacker shared in the clear */
    if (v.src.present && !v.src.anon) {
        char pattern[128];
        snprintf(pattern, sizeof pattern, "[%s:value = '%s']",
                 v.src.family == 6 ? "ipv6-addr" : "ipv4-addr", v.src.text);
        id_for(&v, "indicator", NULL, ind_id, sizeof ind_id);
        o = sdo("indicator", ind_id, created, identity, marking);
        if (o) {
            err |= json_object_set_new(o, "name", json_string(v.signature));
            err |= json_object_set_new(o, "description", json_string(desc));
            err |= json_object_set_new(o, "indicator_types",
                                       json_pack("[s]", indicator_type(al->attack_category)));
            err |= json_object_set_new(o, "pattern", json_string(pattern));
            err |= json_object_set_new(o, "pattern_type", json_string("stix"));
            err |= json_object_set_new(o, "pattern_version", json_string("2.1"));
            err |= json_object_set_new(o, "valid_from", json_string(last));
            if (s->valid_days > 0 &&
                vigil_stix_ts(v.last + s->valid_days * 86400 * INT64_C(1000000), until,
                              sizeof until) == 0)
                err |= json_object_set_new(o, "valid_until", json_string(until));
        }
        err |= add(objs, o);
    }

    /* ATT&CK: one attack-pattern per technique; the indicator indicates each */
    size_t nt = techniques(al, tech);
    for (size_t i = 0; i < nt; i++) {
        char url[96], apname[160];
        const char *an = vigil_attack_name(tech[i]);
        snprintf(name, sizeof name, "attack-pattern\x1f%s\x1f%s", s->sensor_name, tech[i]);
        vigil_stix_sdo_id("attack-pattern", name, ap_ids[i], sizeof ap_ids[i]);
        snprintf(apname, sizeof apname, "%s", an ? an : tech[i]);
        vigil_attack_url(tech[i], url, sizeof url);
        o = sdo("attack-pattern", ap_ids[i], FIXED_CREATED, identity, marking);
        if (o) {
            err |= json_object_set_new(o, "name", json_string(apname));
            err |= json_object_set_new(o, "external_references",
                                       json_pack("[{s:s, s:s, s:s}]", "source_name",
                                                 "mitre-attack", "external_id", tech[i],
                                                 "url", url));
        }
        err |= add(objs, o);
        if (*ind_id) {
            char rel_id[VIGIL_STIX_ID_LEN];
            id_for(&v, "relationship", tech[i], rel_id, sizeof rel_id);
            o = sdo("relationship", rel_id, created, identity, marking);
            if (o) {
                err |= json_object_set_new(o, "relationship_type", json_string("indicates"));
                err |= json_object_set_new(o, "source_ref", json_string(ind_id));
                err |= json_object_set_new(o, "target_ref", json_string(ap_ids[i]));
            }
            err |= add(objs, o);
        }
    }

    /* sighting: of the indicator, else of the (first) attack-pattern */
    const char *of = *ind_id ? ind_id : nt ? ap_ids[0] : NULL;
    if (of) {
        id_for(&v, "sighting", NULL, si_id, sizeof si_id);
        o = sdo("sighting", si_id, created, identity, marking);
        if (o) {
            err |= json_object_set_new(o, "description", json_string(desc));
            err |= json_object_set_new(o, "first_seen", json_string(first));
            err |= json_object_set_new(o, "last_seen", json_string(last));
            err |= json_object_set_new(o, "count", json_integer(1));
            err |= json_object_set_new(o, "sighting_of_ref", json_string(of));
            err |= json_object_set_new(o, "observed_data_refs", json_pack("[s]", od_id));
            err |= json_object_set_new(o, "where_sighted_refs", json_pack("[s]", identity));
        }
        err |= add(objs, o);
    }
    free(desc);
    if (err)
        goto out;

    id_for(&v, "bundle", NULL, bundle_id, sizeof bundle_id);
    bundle = json_pack("{s:s, s:s, s:O}", "type", "bundle", "id", bundle_id, "objects", objs);
out:
    json_decref(objs);
    view_free(&v);
    return bundle;
}

/* ---- MISP ----------------------------------------------------------- */

json_t *vigil_share_misp_event(struct vigil_share *s, const struct vigil_alert_event *ev,
                               const char *max_tlp)
{
    struct view v;
    struct vigil_misp_input in;
    char tech[8][16];
    json_t *out;

    if (make_view(s, ev, max_tlp, &v) != 1)
        return NULL;
    memset(&in, 0, sizeof in);
    in.key = v.key;
    in.sensor = s->sensor_name;
    in.detector = ev->detector ? ev->detector : "";
    in.tlp = vigil_tlp_name(v.tlp);
    in.signature = v.signature;
    in.category = v.category;
    in.evidence = v.evidence;
    in.severity = ev->alert->severity;
    in.ts_us = v.ts;
    in.first_us = v.first;
    in.last_us = v.last;
    in.src = v.src.present ? v.src.text : NULL;
    in.src_anon = v.src.anon;
    in.dst = v.dst.present ? v.dst.text : NULL;
    in.dst_anon = v.dst.anon;
    in.proto = ev->alert->ip_proto;
    in.sport = has_ports(in.proto) ? ev->alert->sport : 0;
    in.dport = has_ports(in.proto) ? ev->alert->dport : 0;
    in.community_id = v.community_id;
    in.ntech = techniques(ev->alert, tech);
    for (size_t i = 0; i < in.ntech; i++)
        in.tech[i] = tech[i];
    out = vigil_misp_event(&in);
    view_free(&v);
    return out;
}
