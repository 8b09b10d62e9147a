/*
 * fake_host.c - a small stand-in for the sensor, for the unit tests of the
 * detector plugins (see fake_host.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"

/* ---- the plugin ---------------------------------------------------------------------- */

static void *plugin_handle;
static const vigil_plugin *plugin_desc;

int fh_load(const char *name)
{
    const char *build = getenv("VIGIL_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/%s.so", build && *build ? build : "build", name);
    plugin_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (plugin_handle == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    vigil_plugin_entry_fn entry;
    void *sym = dlsym(plugin_handle, VIGIL_PLUGIN_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry);
    plugin_desc = entry ? entry() : NULL;
    if (plugin_desc == NULL) {
        fprintf(stderr, "%s: no plugin descriptor\n", path);
        fh_unload();
        return -1;
    }
    return 0;
}

const vigil_plugin *fh_plugin(void)
{
    return plugin_desc;
}

void fh_unload(void)
{
    if (plugin_handle)
        dlclose(plugin_handle);
    plugin_handle = NULL;
    plugin_desc = NULL;
}

int fh_unload_group(void **state)
{
    (void)state;
    fh_unload();
    return 0;
}

/* ---- alerts ------------------------------------------------------------------------------ */

static char *dup_str(const char *s)
{
    if (s == NULL)
        return NULL;
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

static void alert_free(fh_alert *a)
{
    free(a->signature);
    free(a->category);
    free(a->attack_category);
    free(a->attack_technique);
    free(a->mitre_attack);
    for (size_t i = 0; i < a->meta_count; i++) {
        free((char *)a->meta[i].key);
        free((char *)a->meta[i].value);
    }
    free(a->meta);
    free(a->meta_str);
}

static int valid_addr(const vigil_addr *a)
{
    return a->family == 0 || a->family == 4 || a->family == 6;
}

static int fake_emit(vigil_ctx *h, const vigil_alert *a)
{
    if (a == NULL || a->size != sizeof *a || a->signature == NULL || a->attack_category == NULL ||
        !valid_addr(&a->src) || !valid_addr(&a->dst) || a->severity > 4 ||
        (a->meta_count > 0 && a->meta == NULL))
        return VIGIL_EINVAL;
    for (size_t i = 0; i < a->meta_count; i++)
        if (a->meta[i].key == NULL || a->meta[i].value == NULL)
            return VIGIL_EINVAL;
    if (h->nalerts == h->max_alerts) {
        h->dropped_alerts++;
        return VIGIL_OK;
    }
    if (h->nalerts == h->alerts_cap) {
        size_t cap = h->alerts_cap ? 2 * h->alerts_cap : 16;
        fh_alert *n = realloc(h->alerts, cap * sizeof *n);
        assert_non_null(n);
        h->alerts = n;
        h->alerts_cap = cap;
    }
    fh_alert *s = &h->alerts[h->nalerts++];
    memset(s, 0, sizeof *s);
    s->gid = a->gid;
    s->sid = a->signature_id;
    s->rev = a->rev;
    s->severity = a->severity;
    s->signature = dup_str(a->signature);
    s->category = dup_str(a->category);
    s->attack_category = dup_str(a->attack_category);
    s->attack_technique = dup_str(a->attack_technique);
    s->mitre_attack = dup_str(a->mitre_attack);
    s->src = a->src;
    s->dst = a->dst;
    s->sport = a->sport;
    s->dport = a->dport;
    s->ip_proto = a->ip_proto;
    s->ts_us = a->ts_us;
    size_t len = 1;
    if (a->meta_count) {
        s->meta = calloc(a->meta_count, sizeof *s->meta);
        assert_non_null(s->meta);
        s->meta_count = a->meta_count;
    }
    for (size_t i = 0; i < a->meta_count; i++) {
        s->meta[i].key = dup_str(a->meta[i].key);
        s->meta[i].value = dup_str(a->meta[i].value);
        len += strlen(a->meta[i].key) + strlen(a->meta[i].value) + 2;
    }
    s->meta_str = malloc(len);
    assert_non_null(s->meta_str);
    size_t used = 0;
    s->meta_str[0] = '\0';
    for (size_t i = 0; i < a->meta_count; i++)
        used += (size_t)snprintf(s->meta_str + used, len - used, "%s=%s;", a->meta[i].key,
                                 a->meta[i].value);
    return VIGIL_OK;
}

const char *fh_meta(const fh_alert *a, const char *key)
{
    for (size_t i = 0; i < a->meta_count; i++)
        if (strcmp(a->meta[i].key, key) == 0)
            return a->meta[i].value;
    return NULL;
}

size_t fh_count_sid(const fh_host *h, uint32_t sid)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nalerts; i++)
        n += h->alerts[i].sid == sid;
    return n;
}

static void assert_same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

void fh_assert_alert_equal(const fh_alert *a, const fh_alert *b)
{
    assert_int_equal(a->gid, b->gid);
    assert_int_equal(a->sid, b->sid);
    assert_int_equal(a->rev, b->rev);
    assert_int_equal(a->severity, b->severity);
    assert_same_str(a->signature, b->signature);
    assert_same_str(a->category, b->category);
    assert_same_str(a->attack_category, b->attack_category);
    assert_same_str(a->attack_technique, b->attack_technique);
    assert_same_str(a->mitre_attack, b->mitre_attack);
    assert_memory_equal(&a->src, &b->src, sizeof a->src);
    assert_memory_equal(&a->dst, &b->dst, sizeof a->dst);
    assert_int_equal(a->sport, b->sport);
    assert_int_equal(a->dport, b->dport);
    assert_int_equal(a->ip_proto, b->ip_proto);
    assert_int_equal(a->ts_us, b->ts_us);
    assert_int_equal(a->meta_count, b->meta_count);
    assert_string_equal(a->meta_str, b->meta_str);
}

uint64_t fh_log_counter(const fh_host *h, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *log = h->last_log;
    const char *p = strstr(log, pat);
    if (p == NULL && strncmp(log, pat + 1, strlen(pat + 1)) == 0)
        p = log - 1;
    if (p == NULL)
        fail_msg("no %s= in the last log line: %s", key, log);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* ---- addresses ---------------------------------------------------------------------------- */

vigil_addr fh_v4(uint32_t a)
{
    vigil_addr r;
    memset(&r, 0, sizeof r);
    r.family = 4;
    r.bytes[0] = (uint8_t)(a >> 24);
    r.bytes[1] = (uint8_t)(a >> 16);
    r.bytes[2] = (uint8_t)(a >> 8);
    r.bytes[3] = (uint8_t)a;
    return r;
}

static int parse_addr(const char *text, vigil_addr *out)
{
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->bytes) == 1) {
        out->family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, text, out->bytes) == 1) {
        out->family = 6;
        return 0;
    }
    return -1;
}

vigil_addr fh_addr(const char *text)
{
    vigil_addr a;
    if (parse_addr(text, &a) != 0)
        fail_msg("bad address %s", text);
    return a;
}

uint32_t fh_u32(const vigil_addr *a)
{
    if (a->family != 4)
        return 0;
    return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
           (uint32_t)a->bytes[2] << 8 | a->bytes[3];
}

static int prefix_match(const vigil_addr *net, unsigned len, const vigil_addr *a)
{
    if (net->family != a->family)
        return 0;
    size_t full = len / 8;
    if (memcmp(net->bytes, a->bytes, full) != 0)
        return 0;
    unsigned rest = len % 8;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net->bytes[full] & mask) == (a->bytes[full] & mask);
}

int fh_addr_in_list(const char *list, const vigil_addr *a)
{
    int hit = 0;
    const char *p = list;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strcspn(p, ",");
        char item[64];
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 0 || n >= sizeof item)
            return VIGIL_EINVAL;
        memcpy(item, p, n);
        item[n] = '\0';
        char *slash = strchr(item, '/');
        vigil_addr net;
        if (slash)
            *slash = '\0';
        if (parse_addr(item, &net) != 0)
            return VIGIL_EINVAL;
        unsigned max = net.family == 4 ? 32 : 128, len = max;
        if (slash) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(slash + 1, &end, 10);
            if (errno || end == slash + 1 || *end != '\0' || v > max)
                return VIGIL_EINVAL;
            len = (unsigned)v;
        }
        if (prefix_match(&net, len, a))
            hit = 1;
        p = strchr(p, ',');
        if (p == NULL)
            return hit;
        p++;
    }
}

/* ---- the host API ---------------------------------------------------------------------- */

static void fake_log(vigil_ctx *h, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->last_log, sizeof h->last_log, fmt, ap);
    va_end(ap);
    h->last_log_level = level;
    if (getenv("VIGIL_TEST_LOG"))
        fprintf(stderr, "[%s] %s\n", h->desc ? h->desc->name : "?", h->last_log);
}

static const char *find_setting(const fh_host *h, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < h->nsettings; i++)
        if (strcmp(h->settings[i].key, key) == 0)
            v = h->settings[i].value;     /* the last one wins, as in a config file */
    return v;
}

static int fake_config_str(vigil_ctx *h, const char *key, const char **out)
{
    const char *v = find_setting(h, key);
    if (v == NULL)
        return VIGIL_ENOENT;
    *out = v;
    return VIGIL_OK;
}

static int fake_config_int(vigil_ctx *h, const char *key, int64_t def, int64_t min, int64_t max,
                           int64_t *out)
{
    *out = def;
    const char *v = find_setting(h, key);
    if (v == NULL)
        return VIGIL_OK;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0' || n < min || n > max) {
        snprintf(h->last_log, sizeof h->last_log, "%s = %s: not an integer in [%lld, %lld]", key,
                 v, (long long)min, (long long)max);
        return VIGIL_EINVAL;
    }
    *out = n;
    return VIGIL_OK;
}

static void release_flow(fh_host *h, struct fh_flow *f)
{
    if (f->used && f->state && h->state && h->desc->flow_free)
        h->desc->flow_free(h->state, f->state);
    memset(f, 0, sizeof *f);
}

static void *fake_flow_state(vigil_ctx *h)
{
    return h->cur_flow ? h->cur_flow->state : NULL;
}

static int fake_set_flow_state(vigil_ctx *h, void *state)
{
    if (h->cur_flow == NULL)
        return VIGIL_ENOENT;
    void *old = h->cur_flow->state;
    if (old && old != state && h->desc->flow_free)
        h->desc->flow_free(h->state, old);
    h->cur_flow->state = state;
    return VIGIL_OK;
}

static int64_t fake_now(vigil_ctx *h)
{
    return h->now_us;
}

static int fake_in_home_net(vigil_ctx *h, const vigil_addr *a)
{
    return h->home_net ? fh_addr_in_list(h->home_net, a) == 1 : 0;
}

static int fake_addr_match(vigil_ctx *h, const char *key, const vigil_addr *a)
{
    const char *v = find_setting(h, key);
    if (v == NULL)
        return VIGIL_ENOENT;
    return fh_addr_in_list(v, a);
}

/* Paths are given absolute by the tests; relative ones are left as they are. */
static int fake_config_path(vigil_ctx *h, const char *key, const char **out)
{
    return fake_config_str(h, key, out);
}

static const vigil_host_api fake_api = {
    .size = sizeof(vigil_host_api),
    .abi_major = VIGIL_ABI_MAJOR,
    .abi_minor = VIGIL_ABI_MINOR,
    .log = fake_log,
    .emit_alert = fake_emit,
    .config_str = fake_config_str,
    .config_int = fake_config_int,
    .flow_state = fake_flow_state,
    .set_flow_state = fake_set_flow_state,
    .now_us = fake_now,
    .in_home_net = fake_in_home_net,
    .config_addr_match = fake_addr_match,
    .config_path = fake_config_path,
};

const vigil_host_api *fh_api(void)
{
    return &fake_api;
}

/* ---- a host ---------------------------------------------------------------------------- */

fh_host *fh_new(void)
{
    assert_non_null(plugin_desc);
    fh_host *h = calloc(1, sizeof *h);
    assert_non_null(h);
    h->flows = calloc(FH_FLOW_SLOTS, sizeof *h->flows);
    assert_non_null(h->flows);
    h->desc = plugin_desc;
    h->ticks = 1;
    h->max_alerts = FH_MAX_ALERTS_DEFAULT;
    return h;
}

void fh_set(fh_host *h, const char *key, const char *value)
{
    assert_true(h->nsettings < FH_MAX_SETTINGS);
    h->settings[h->nsettings].key = key;
    h->settings[h->nsettings].value = value;
    h->nsettings++;
}

void fh_set_int(fh_host *h, const char *key, int64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)value);
    char *copy = dup_str(buf);          /* the host's copy, freed by fh_free */
    fh_set(h, key, copy);
    h->owned_values[h->nowned++] = copy;
}

void fh_set_all(fh_host *h, const fh_setting *settings, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fh_set(h, settings[i].key, settings[i].value);
}

void fh_set_clock(fh_host *h, int64_t ts)
{
    h->now_us = h->last_tick_us = ts;
}

int fh_init(fh_host *h)
{
    void *state = NULL;
    h->cur_flow = NULL;
    int rc = h->desc->init(h, &fake_api, &state);
    h->state = rc == VIGIL_OK ? state : NULL;
    return rc;
}

fh_host *fh_start(const fh_setting *settings, size_t n)
{
    fh_host *h = fh_new();
    fh_set_all(h, settings, n);
    assert_int_equal(fh_init(h), VIGIL_OK);
    return h;
}

int fh_setup_host(void **state)
{
    fh_host *h = fh_new();
    if (fh_init(h) != VIGIL_OK) {
        fh_free(h);
        return -1;
    }
    *state = h;
    return 0;
}

int fh_teardown_host(void **state)
{
    fh_free(*state);
    *state = NULL;
    return 0;
}

void fh_end(fh_host *h)
{
    assert_non_null(h->state);
    h->cur_flow = NULL;
    if (h->desc->on_finish)
        h->desc->on_finish(h->state, h);
}

static void release_all(fh_host *h)
{
    h->cur_flow = NULL;
    for (size_t i = 0; i < FH_FLOW_SLOTS; i++)
        release_flow(h, &h->flows[i]);
    if (h->state)
        h->desc->fini(h->state);
    h->state = NULL;
}

void fh_finish(fh_host *h)
{
    fh_end(h);
    release_all(h);
}

void fh_free(fh_host *h)
{
    if (h == NULL)
        return;
    release_all(h);
    for (size_t i = 0; i < h->nalerts; i++)
        alert_free(&h->alerts[i]);
    for (size_t i = 0; i < h->nowned; i++)
        free(h->owned_values[i]);
    free(h->alerts);
    free(h->flows);
    free(h);
}

/* ---- time and events ------------------------------------------------------------------ */

void fh_advance(fh_host *h, int64_t ts)
{
    if (h->ticks && h->desc->on_tick) {
        if (h->last_tick_us == 0)
            h->last_tick_us = ts - ts % FH_US;
        while (ts - h->last_tick_us >= FH_US) {
            h->last_tick_us += FH_US;
            h->now_us = h->last_tick_us;
            h->cur_flow = NULL;
            h->desc->on_tick(h->state, h, h->last_tick_us);
        }
    }
    h->now_us = ts;
}

static int endpoint_less(const vigil_addr *a, uint16_t ap, const vigil_addr *b, uint16_t bp)
{
    int c = memcmp(a->bytes, b->bytes, 16);
    return c < 0 || (c == 0 && ap < bp);
}

static struct fh_flow *flow_slot(fh_host *h, const vigil_addr *a, uint16_t ap,
                                 const vigil_addr *b, uint16_t bp, uint8_t proto, int create)
{
    struct fh_flow key;
    memset(&key, 0, sizeof key);
    int fwd = endpoint_less(a, ap, b, bp);
    key.lo = fwd ? *a : *b;
    key.hi = fwd ? *b : *a;
    key.lo_port = fwd ? ap : bp;
    key.hi_port = fwd ? bp : ap;
    key.proto = proto;
    uint32_t x = 2166136261u;
    const uint8_t *parts[2] = { key.lo.bytes, key.hi.bytes };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 16; i++)
            x = (x ^ parts[k][i]) * 16777619u;
    x = (x ^ key.lo_port) * 16777619u;
    x = (x ^ key.hi_port) * 16777619u;
    x = (x ^ key.proto) * 16777619u;
    struct fh_flow *f = &h->flows[x % FH_FLOW_SLOTS];
    int same = f->used && memcmp(&f->lo, &key.lo, sizeof key.lo) == 0 &&
               memcmp(&f->hi, &key.hi, sizeof key.hi) == 0 && f->lo_port == key.lo_port &&
               f->hi_port == key.hi_port && f->proto == key.proto;
    if (!create)
        return same ? f : NULL;
    if (f->used && !same) {
        release_flow(h, f);     /* evicted, as from a full table */
        h->flows_evicted++;
    }
    if (!f->used) {
        *f = key;
        f->used = 1;
    }
    return f;
}

static struct fh_flow *packet_flow(fh_host *h, const vigil_packet *p)
{
    if ((p->l3 != VIGIL_L3_IPV4 && p->l3 != VIGIL_L3_IPV6) || (p->flags & VIGIL_PKT_FRAGMENT))
        return NULL;
    int ported = p->ip_proto == 6 || p->ip_proto == 17;
    return flow_slot(h, &p->src, ported ? p->sport : 0, &p->dst, ported ? p->dport : 0,
                     p->ip_proto, 1);
}

void fh_packet(fh_host *h, const vigil_packet *p)
{
    assert_non_null(h->state);
    fh_advance(h, p->ts_us);
    h->cur_flow = packet_flow(h, p);
    h->desc->on_packet(h->state, h, p);
    h->cur_flow = NULL;
}

void fh_stream(fh_host *h, const vigil_stream *st)
{
    assert_non_null(h->state);
    fh_advance(h, st->ts_us);
    h->cur_flow = flow_slot(h, &st->client, st->client_port, &st->server, st->server_port, 6, 1);
    h->desc->on_stream(h->state, h, st);
    h->cur_flow = NULL;
}

void fh_flow_drop(fh_host *h, const vigil_addr *a, uint16_t aport, const vigil_addr *b,
                  uint16_t bport, uint8_t proto)
{
    struct fh_flow *f = flow_slot(h, a, aport, b, bport, proto, 0);
    if (f)
        release_flow(h, f);
}

/* ---- packets and streams --------------------------------------------------------------------- */

vigil_packet fh_ip(int64_t ts, vigil_addr src, vigil_addr dst, uint8_t proto)
{
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.ts_us = ts;
    p.l3 = src.family == 6 ? VIGIL_L3_IPV6 : VIGIL_L3_IPV4;
    p.ip_proto = proto;
    p.ttl = 64;
    p.src = src;
    p.dst = dst;
    p.flags = VIGIL_PKT_HAS_L4;
    return p;
}

vigil_packet fh_tcp(int64_t ts, vigil_addr src, uint16_t sport, vigil_addr dst, uint16_t dport,
                    uint8_t tcp_flags)
{
    vigil_packet p = fh_ip(ts, src, dst, 6);
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = tcp_flags;
    return p;
}

vigil_packet fh_udp(int64_t ts, vigil_addr src, uint16_t sport, vigil_addr dst, uint16_t dport)
{
    vigil_packet p = fh_ip(ts, src, dst, 17);
    p.sport = sport;
    p.dport = dport;
    return p;
}

vigil_packet fh_icmp(int64_t ts, vigil_addr src, vigil_addr dst, uint8_t type, uint8_t code)
{
    vigil_packet p = fh_ip(ts, src, dst, src.family == 6 ? 58 : 1);
    p.icmp_type = type;
    p.icmp_code = code;
    p.sport = type;
    p.dport = code;
    return p;
}

void fh_payload(vigil_packet *p, const void *data, size_t n)
{
    p->payload = data;
    p->payload_len = p->payload_wire_len = (uint32_t)n;
}

vigil_packet fh_arp(int64_t ts, uint16_t op, vigil_addr sender, vigil_addr target,
                    const uint8_t *sha, const uint8_t *eth_src, const uint8_t *eth_dst)
{
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.ts_us = ts;
    p.l3 = VIGIL_L3_ARP;
    p.arp_op = op;
    p.src = sender;
    p.dst = target;
    if (sha)
        memcpy(p.arp_sha, sha, 6);
    if (eth_src)
        memcpy(p.eth_src, eth_src, 6);
    if (eth_dst)
        memcpy(p.eth_dst, eth_dst, 6);
    return p;
}

vigil_stream fh_stream_event(int64_t ts, uint32_t event, vigil_addr client, uint16_t cport,
                             vigil_addr server, uint16_t sport)
{
    vigil_stream st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    st.event = event;
    st.ts_us = ts;
    st.client = client;
    st.server = server;
    st.client_port = cport;
    st.server_port = sport;
    return st;
}

fh_conn fh_conn_v4(uint32_t client, uint32_t server, uint16_t cport, uint16_t sport)
{
    fh_conn c;
    memset(&c, 0, sizeof c);
    c.client = fh_v4(client);
    c.server = fh_v4(server);
    c.cport = cport;
    c.sport = sport;
    return c;
}

void fh_conn_event(fh_host *h, fh_conn *c, int64_t ts, uint32_t event, uint32_t dir,
                   const void *data, size_t len)
{
    vigil_stream st = fh_stream_event(ts, event, c->client, c->cport, c->server, c->sport);
    if (event == VIGIL_STREAM_DATA) {
        assert_true(dir <= VIGIL_DIR_TO_CLIENT);
        st.dir = dir;
        st.offset = c->sent[dir];
        st.data = data;
        st.len = (uint32_t)len;
        c->sent[dir] += len;
    }
    st.bytes_to_server = c->sent[VIGIL_DIR_TO_SERVER];
    st.bytes_to_client = c->sent[VIGIL_DIR_TO_CLIENT];
    fh_stream(h, &st);
}

void fh_conn_open(fh_host *h, fh_conn *c, int64_t ts)
{
    c->sent[0] = c->sent[1] = 0;
    fh_conn_event(h, c, ts, VIGIL_STREAM_ESTABLISHED, 0, NULL, 0);
}

void fh_conn_send(fh_host *h, fh_conn *c, int64_t ts, uint32_t dir, const char *s)
{
    fh_conn_event(h, c, ts, VIGIL_STREAM_DATA, dir, s, strlen(s));
}

void fh_conn_close(fh_host *h, fh_conn *c, int64_t ts)
{
    fh_conn_event(h, c, ts, VIGIL_STREAM_CLOSED, 0, NULL, 0);
}
