/*
 * test_beacon.c - the beacon plugin driven through its ABI by a fake host:
 * integer and string settings from tables, address lists of IPv4 networks,
 * alerts collected in an array. The plugin keeps no per-flow state, so the
 * fake host has no flow table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "vigil/plugin.h"

#define US 1000000LL
#define T0 (1700000000LL * US)
#define MAX_ALERTS 64
#define MAX_CONF 16

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define INSIDE(x) IP(198, 18, 0, x)
#define OUTSIDE(x) IP(198, 19, 0, x)

/* ---- the fake host ---------------------------------------------------------- */

struct seen_alert {
    uint32_t sid;
    char signature[192], category[32], technique[32], mitre[16];
    uint32_t src, dst;
    uint16_t dport;
    char meta[768];
};

struct conf_int {
    const char *key;
    int64_t value;
};

struct conf_str {
    const char *key, *value;
};

struct vigil_ctx {
    const vigil_plugin *desc;
    void *state;
    struct conf_int ints[MAX_CONF];
    struct conf_str strs[MAX_CONF];
    size_t nints, nstrs;
    struct seen_alert alerts[MAX_ALERTS];
    size_t nalerts;
    int64_t now_us;
};

static void fake_log(vigil_ctx *ctx, int level, const char *fmt, ...)
{
    (void)ctx;
    (void)level;
    (void)fmt;
}

static uint32_t addr_u32(const vigil_addr *a)
{
    return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 | (uint32_t)a->bytes[2] << 8 |
           a->bytes[3];
}

static int fake_emit(vigil_ctx *ctx, const vigil_alert *a)
{
    if (a->size != sizeof *a || a->signature == NULL)
        return VIGIL_EINVAL;
    if (ctx->nalerts == MAX_ALERTS)
        return VIGIL_OK;
    struct seen_alert *s = &ctx->alerts[ctx->nalerts++];
    memset(s, 0, sizeof *s);
    s->sid = a->signature_id;
    snprintf(s->signature, sizeof s->signature, "%s", a->signature);
    snprintf(s->category, sizeof s->category, "%s", a->attack_category);
    snprintf(s->technique, sizeof s->technique, "%s", a->attack_technique);
    snprintf(s->mitre, sizeof s->mitre, "%s", a->mitre_attack);
    s->src = addr_u32(&a->src);
    s->dst = addr_u32(&a->dst);
    s->dport = a->dport;
    size_t used = 0;
    for (size_t i = 0; i < a->meta_count && used < sizeof s->meta; i++) {
        int w = snprintf(s->meta + used, sizeof s->meta - used, "%s=%s;", a->meta[i].key,
                         a->meta[i].value);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return VIGIL_OK;
}

static const char *find_str(vigil_ctx *ctx, const char *key)
{
    for (size_t i = 0; i < ctx->nstrs; i++)
        if (strcmp(ctx->strs[i].key, key) == 0)
            return ctx->strs[i].value;
    return NULL;
}

static int fake_config_str(vigil_ctx *ctx, const char *key, const char **out)
{
    const char *v = find_str(ctx, key);
    if (v == NULL)
        return VIGIL_ENOENT;
    *out = v;
    return VIGIL_OK;
}

static int fake_config_int(vigil_ctx *ctx, const char *key, int64_t def, int64_t min,
                           int64_t max, int64_t *out)
{
    *out = def;
    for (size_t i = 0; i < ctx->nints; i++) {
        if (strcmp(ctx->ints[i].key, key) != 0)
            continue;
        if (ctx->ints[i].value < min || ctx->ints[i].value > max)
            return VIGIL_EINVAL;
        *out = ctx->ints[i].value;
    }
    return VIGIL_OK;
}

static void *fake_flow_state(vigil_ctx *ctx)
{
    (void)ctx;
    return NULL;
}

static int fake_set_flow_state(vigil_ctx *ctx, void *state)
{
    (void)ctx;
    (void)state;
    return VIGIL_ENOENT;
}

static int64_t fake_now(vigil_ctx *ctx)
{
    return ctx->now_us;
}

/* home_net of the tests: all of 198.18.0.0/15 (as the shipped vigil.conf). */
static int fake_in_home_net(vigil_ctx *ctx, const vigil_addr *a)
{
    (void)ctx;
    return a->family == 4 && a->bytes[0] == 198 && (a->bytes[1] & 0xfe) == 18;
}

/* "a.b.c.d/n, ..." lists, IPv4 only; "bad" in the list makes it malformed. */
static int fake_addr_match(vigil_ctx *ctx, const char *key, const vigil_addr *a)
{
    const char *v = find_str(ctx, key);
    if (v == NULL)
        return VIGIL_ENOENT;
    if (strstr(v, "bad"))
        return VIGIL_EINVAL;
    const char *p = v;
    unsigned b0, b1, b2, b3, len;
    int used;
    while (sscanf(p, " %u.%u.%u.%u/%u%n", &b0, &b1, &b2, &b3, &len, &used) == 5) {
        uint32_t net = IP(b0, b1, b2, b3);
        uint32_t mask = len == 0 ? 0 : ~0u << (32 - len);
        if (a->family == 4 && (addr_u32(a) & mask) == (net & mask))
            return 1;
        p += used;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return 0;
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
};

/* ---- the plugin under test ----------------------------------------------------- */

static void *plugin_handle;
static const vigil_plugin *plugin_desc;

static int load_plugin(void **st)
{
    (void)st;
    const char *build = getenv("VIGIL_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/beacon.so", build && *build ? build : "build");
    plugin_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (plugin_handle == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    vigil_plugin_entry_fn entry;
    void *sym = dlsym(plugin_handle, VIGIL_PLUGIN_ENTRY_SYMBOL);
    memcpy(&entry, &sym, sizeof entry);
    plugin_desc = entry ? entry() : NULL;
    return plugin_desc ? 0 : -1;
}

static int unload_plugin(void **st)
{
    (void)st;
    if (plugin_handle)
        dlclose(plugin_handle);
    return 0;
}

/* The shipped inside: 198.18.0.0/16; 198.19.0.0/16 is the Internet. */
static const struct conf_str default_strs[] = { { "internal", "198.18.0.0/16" } };

static vigil_ctx *host_new_with(const struct conf_int *ints, size_t nints, const struct conf_str *strs,
                                size_t nstrs, int want)
{
    vigil_ctx *ctx = calloc(1, sizeof *ctx);
    assert_non_null(ctx);
    ctx->desc = plugin_desc;
    assert_true(nints <= MAX_CONF && nstrs <= MAX_CONF);
    for (size_t i = 0; i < nints; i++)
        ctx->ints[i] = ints[i];
    for (size_t i = 0; i < nstrs; i++)
        ctx->strs[i] = strs[i];
    ctx->nints = nints;
    ctx->nstrs = nstrs;
    assert_int_equal(plugin_desc->init(ctx, &fake_api, &ctx->state) == VIGIL_OK, want == VIGIL_OK);
    return ctx;
}

static vigil_ctx *host_new(const struct conf_int *ints, size_t nints)
{
    return host_new_with(ints, nints, default_strs, 1, VIGIL_OK);
}

static void host_free(vigil_ctx *ctx)
{
    if (ctx->state) {
        plugin_desc->on_finish(ctx->state, ctx);
        plugin_desc->fini(ctx->state);
    }
    free(ctx);
}

/* ---- packets ------------------------------------------------------------------ */

static vigil_addr v4(uint32_t a)
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

static void deliver(vigil_ctx *ctx, int64_t ts, uint32_t src, uint16_t sport, uint32_t dst,
                    uint16_t dport, uint8_t proto, uint8_t flags, uint32_t payload)
{
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.ts_us = ts;
    p.l3 = VIGIL_L3_IPV4;
    p.ip_proto = proto;
    p.src = v4(src);
    p.dst = v4(dst);
    p.flags = VIGIL_PKT_HAS_L4;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    p.payload_wire_len = payload;
    ctx->now_us = ts;
    plugin_desc->on_packet(ctx->state, ctx, &p);
}

static void syn(vigil_ctx *ctx, int64_t ts, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
    deliver(ctx, ts, src, sport, dst, dport, 6, VIGIL_TCP_SYN, 0);
}

static void upload(vigil_ctx *ctx, int64_t ts, uint32_t src, uint32_t dst, uint32_t len)
{
    deliver(ctx, ts, src, 40000, dst, 443, 6, VIGIL_TCP_ACK | VIGIL_TCP_PSH, len);
}

static uint64_t rng_state = 88172645463325252ULL;

static int64_t rnd(int64_t lo, int64_t hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (int64_t)(rng_state % (uint64_t)(hi - lo + 1));
}

/* n connections every period_us +- jitter_us; returns the time after. */
static int64_t beacon_run(vigil_ctx *ctx, int64_t ts, uint32_t src, uint32_t dst, uint16_t port, int n,
                          int64_t period_us, int64_t jitter_us)
{
    for (int i = 0; i < n; i++) {
        syn(ctx, ts, src, (uint16_t)(40000 + i), dst, port);
        ts += period_us + rnd(-jitter_us, jitter_us);
    }
    return ts;
}

static size_t count_sid(const vigil_ctx *ctx, uint32_t sid)
{
    size_t n = 0;
    for (size_t i = 0; i < ctx->nalerts; i++)
        n += ctx->alerts[i].sid == sid;
    return n;
}

/* ---- beaconing ------------------------------------------------------------------ */

static void test_periodic_tcp_alerts_once(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    beacon_run(ctx, T0, INSIDE(10), OUTSIDE(66), 443, 40, 30 * US, US);
    assert_int_equal(ctx->nalerts, 1);
    const struct seen_alert *a = &ctx->alerts[0];
    assert_int_equal(a->sid, 9600001);
    assert_string_equal(a->category, "beaconing");
    assert_string_equal(a->technique, "periodic_callback");
    assert_string_equal(a->mitre, "T1071");
    assert_int_equal(a->src, INSIDE(10));
    assert_int_equal(a->dst, OUTSIDE(66));
    assert_int_equal(a->dport, 443);
    assert_non_null(strstr(a->meta, "connections=10;"));
    assert_non_null(strstr(a->meta, "mean_interval_sec=30."));
    host_free(ctx);
}

static void test_realerts_after_interval(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    beacon_run(ctx, T0, INSIDE(10), OUTSIDE(66), 443, 280, 30 * US, US); /* ~2.3 h */
    assert_int_equal(count_sid(ctx, 9600001), 3);
    host_free(ctx);
}

static void test_one_missed_callback_still_alerts(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    int64_t ts = beacon_run(ctx, T0, INSIDE(10), OUTSIDE(66), 443, 5, 60 * US, 2 * US);
    beacon_run(ctx, ts + 60 * US, INSIDE(10), OUTSIDE(66), 443, 8, 60 * US, 2 * US);
    assert_int_equal(count_sid(ctx, 9600001), 1);
    host_free(ctx);
}

static void test_irregular_browsing_is_quiet(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    int64_t ts = T0;
    for (int i = 0; i < 400; i++) {
        syn(ctx, ts, INSIDE(11), (uint16_t)(30000 + i), OUTSIDE((uint8_t)(1 + i % 3)), 443);
        ts += rnd(1 * US, 120 * US);
    }
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_fast_polling_is_quiet(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    beacon_run(ctx, T0, INSIDE(12), OUTSIDE(30), 443, 500, 1300000, 100000);
    beacon_run(ctx, T0, INSIDE(13), OUTSIDE(31), 443, 500, 5 * US, 100000);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_internal_peer_is_quiet(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    beacon_run(ctx, T0, INSIDE(14), INSIDE(200), 8080, 60, 30 * US, 0);
    /* without `internal`, home_net covers 198.19 too */
    vigil_ctx *home = host_new_with(NULL, 0, NULL, 0, VIGIL_OK);
    beacon_run(home, T0, INSIDE(14), OUTSIDE(66), 443, 60, 30 * US, 0);
    assert_int_equal(ctx->nalerts + home->nalerts, 0);
    host_free(ctx);
    host_free(home);
}

static void test_allow_peers_is_quiet(void **st)
{
    (void)st;
    const struct conf_str strs[] = { { "internal", "198.18.0.0/16" }, { "allow_peers", "198.19.0.66/32" } };
    vigil_ctx *ctx = host_new_with(NULL, 0, strs, 2, VIGIL_OK);
    beacon_run(ctx, T0, INSIDE(10), OUTSIDE(66), 443, 40, 30 * US, 0);
    beacon_run(ctx, T0, INSIDE(10), OUTSIDE(67), 443, 40, 30 * US, 0);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].dst, OUTSIDE(67));
    host_free(ctx);
}

static void test_udp_ignored_ports_and_udp_beacon(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 60; i++) {
        int64_t ts = T0 + i * 30 * US;
        deliver(ctx, ts, INSIDE(20), 50000, OUTSIDE(53), 53, 17, 0, 40);      /* DNS */
        deliver(ctx, ts, INSIDE(20), 50001, OUTSIDE(123), 123, 17, 0, 48);    /* NTP */
        deliver(ctx, ts, OUTSIDE(9), 50002, INSIDE(20), 9999, 17, 0, 48);     /* inbound */
        deliver(ctx, ts, INSIDE(21), 9999, OUTSIDE(9), 50003, 17, 0, 48);     /* a reply */
        deliver(ctx, ts + 100000, INSIDE(22), 50004, OUTSIDE(9), 9999, 17, 0, 48);
        deliver(ctx, ts + 200000, INSIDE(22), 50004, OUTSIDE(9), 9999, 17, 0, 48); /* same session */
    }
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9600002);
    assert_int_equal(ctx->alerts[0].src, INSIDE(22));
    assert_non_null(strstr(ctx->alerts[0].meta, "connections=19;sessions=10;"));
    host_free(ctx);
}

static void test_retransmits_and_parallel_connections(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    for (int i = 0; i < 10; i++) {
        int64_t ts = T0 + i * 45 * US;
        uint16_t port = (uint16_t)(41000 + 3 * i);
        syn(ctx, ts, INSIDE(30), port, OUTSIDE(5), 443);
        syn(ctx, ts + 300000, INSIDE(30), (uint16_t)(port + 1), OUTSIDE(5), 443);
        syn(ctx, ts + 1 * US, INSIDE(30), port, OUTSIDE(5), 443);     /* retransmission */
        syn(ctx, ts + 3 * US, INSIDE(30), port, OUTSIDE(5), 443);     /* retransmission */
    }
    assert_int_equal(ctx->nalerts, 1);
    assert_non_null(strstr(ctx->alerts[0].meta, "sessions=10;"));
    assert_non_null(strstr(ctx->alerts[0].meta, "mean_interval_sec=45.00;"));
    host_free(ctx);
}

static void test_thresholds_are_settings(void **st)
{
    (void)st;
    const struct conf_int ints[] = { { "beacon_min_connections", 16 }, { "beacon_max_jitter_pct", 1 } };
    vigil_ctx *ctx = host_new(ints, 2);
    beacon_run(ctx, T0, INSIDE(10), OUTSIDE(66), 443, 15, 30 * US, 0);
    assert_int_equal(ctx->nalerts, 0);                           /* 15 < 16 */
    beacon_run(ctx, T0 + 15 * 30 * US, INSIDE(10), OUTSIDE(66), 443, 5, 30 * US, 0);
    assert_int_equal(ctx->nalerts, 1);
    beacon_run(ctx, T0, INSIDE(11), OUTSIDE(66), 443, 40, 30 * US, 3 * US); /* jitter ~6% */
    assert_int_equal(ctx->nalerts, 1);
    host_free(ctx);
}

/* ---- exfiltration ------------------------------------------------------------ */

/* hours of `per_hour` bytes in 10 uploads; returns the time after. */
static int64_t baseline_hours(vigil_ctx *ctx, int64_t ts, uint32_t src, int hours, uint32_t per_hour)
{
    for (int h = 0; h < hours; h++)
        for (int i = 0; i < 10; i++)
            upload(ctx, ts + h * 3600 * US + rnd(0, 3500) * US, src, OUTSIDE(20), per_hour / 10);
    return ts + hours * 3600 * US;
}

static void spike(vigil_ctx *ctx, int64_t ts, uint32_t src, uint32_t dst, uint64_t bytes)
{
    for (uint64_t sent = 0; sent < bytes; sent += 64000, ts += 10000)
        upload(ctx, ts, src, dst, 64000);
}

static void test_exfil_spike_alerts_once(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    int64_t ts = baseline_hours(ctx, T0 - T0 % (3600 * US), INSIDE(40), 8, 1000000);
    upload(ctx, ts, INSIDE(40), OUTSIDE(20), 500000);
    spike(ctx, ts + US, INSIDE(40), OUTSIDE(99), 120000000);
    assert_int_equal(ctx->nalerts, 1);
    const struct seen_alert *a = &ctx->alerts[0];
    assert_int_equal(a->sid, 9600011);
    assert_string_equal(a->category, "exfiltration");
    assert_string_equal(a->technique, "outbound_volume_spike");
    assert_string_equal(a->mitre, "T1048");
    assert_int_equal(a->src, INSIDE(40));
    assert_int_equal(a->dst, OUTSIDE(99));
    assert_non_null(strstr(a->meta, "baseline_bytes=1000000;"));
    assert_non_null(strstr(a->meta, "active_windows=8;"));
    host_free(ctx);
}

static void test_exfil_needs_learning(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    int64_t ts = baseline_hours(ctx, T0 - T0 % (3600 * US), INSIDE(41), 3, 1000000);
    spike(ctx, ts, INSIDE(41), OUTSIDE(99), 120000000);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_exfil_floor_and_ratio(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    int64_t t = T0 - T0 % (3600 * US);
    /* 100x a small baseline, but below the 50 MB floor */
    int64_t ts = baseline_hours(ctx, t, INSIDE(42), 8, 100000);
    spike(ctx, ts, INSIDE(42), OUTSIDE(99), 10000000);
    /* above the floor, but only 5x a large baseline */
    ts = baseline_hours(ctx, t, INSIDE(43), 8, 40000000);
    spike(ctx, ts, INSIDE(43), OUTSIDE(99), 200000000);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_exfil_inside_is_quiet(void **st)
{
    (void)st;
    vigil_ctx *ctx = host_new(NULL, 0);
    int64_t ts = baseline_hours(ctx, T0 - T0 % (3600 * US), INSIDE(44), 8, 1000000);
    spike(ctx, ts, INSIDE(44), INSIDE(1), 200000000);
    spike(ctx, ts, OUTSIDE(7), INSIDE(44), 200000000);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

/* ---- bounds, determinism, configuration -------------------------------------------- */

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A million spoofed inside sources each calling out and uploading. */
static void test_flood_stays_bounded(void **st)
{
    (void)st;
    const struct conf_int ints[] = { { "max_pairs", 1024 }, { "max_hosts", 1024 } };
    vigil_ctx *ctx = host_new(ints, 2);
    long before = max_rss_kb();
    for (uint32_t i = 0; i < 1000000; i++) {
        int64_t ts = T0 + (int64_t)i * 1000;
        uint32_t src = IP(198, 18, (i >> 8) & 0xff, i & 0xff) ^ (i >> 16);
        syn(ctx, ts, src, (uint16_t)i, OUTSIDE(1), 443);
        upload(ctx, ts, src, OUTSIDE(1), 100);
    }
    assert_true(max_rss_kb() - before < 8 * 1024);
    /* a real beacon still shows afterwards */
    beacon_run(ctx, T0 + 2000 * US, INSIDE(10), OUTSIDE(66), 443, 12, 30 * US, US);
    assert_int_equal(count_sid(ctx, 9600001), 1);
    host_free(ctx);
}

static void run_mix(vigil_ctx *ctx)
{
    rng_state = 7;
    beacon_run(ctx, T0, INSIDE(10), OUTSIDE(66), 443, 40, 30 * US, US);
    beacon_run(ctx, T0 + 5 * US, INSIDE(11), OUTSIDE(67), 8443, 40, 20 * US, US);
    int64_t ts = baseline_hours(ctx, T0 - T0 % (3600 * US), INSIDE(40), 8, 1000000);
    spike(ctx, ts, INSIDE(40), OUTSIDE(99), 60000000);
}

static void test_deterministic(void **st)
{
    (void)st;
    vigil_ctx *a = host_new(NULL, 0), *b = host_new(NULL, 0);
    run_mix(a);
    run_mix(b);
    assert_int_equal(a->nalerts, 3);
    assert_int_equal(a->nalerts, b->nalerts);
    for (size_t i = 0; i < a->nalerts; i++) {
        assert_string_equal(a->alerts[i].signature, b->alerts[i].signature);
        assert_string_equal(a->alerts[i].meta, b->alerts[i].meta);
    }
    host_free(a);
    host_free(b);
}

static void test_bad_config_refused(void **st)
{
    (void)st;
    const struct conf_str bad_ports[] = { { "ignore_udp_ports", "53, dns" } };
    host_free(host_new_with(NULL, 0, bad_ports, 1, VIGIL_EINVAL));
    const struct conf_str bad_list[] = { { "internal", "bad" } };
    host_free(host_new_with(NULL, 0, bad_list, 1, VIGIL_EINVAL));
    const struct conf_int bad_range[] = { { "beacon_min_interval_sec", 600 },
                                          { "beacon_max_interval_sec", 60 } };
    host_free(host_new_with(bad_range, 2, default_strs, 1, VIGIL_EINVAL));
    const struct conf_int too_many[] = { { "beacon_min_connections", 17 } };
    host_free(host_new_with(too_many, 1, default_strs, 1, VIGIL_EINVAL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periodic_tcp_alerts_once),
        cmocka_unit_test(test_realerts_after_interval),
        cmocka_unit_test(test_one_missed_callback_still_alerts),
        cmocka_unit_test(test_irregular_browsing_is_quiet),
        cmocka_unit_test(test_fast_polling_is_quiet),
        cmocka_unit_test(test_internal_peer_is_quiet),
        cmocka_unit_test(test_allow_peers_is_quiet),
        cmocka_unit_test(test_udp_ignored_ports_and_udp_beacon),
        cmocka_unit_test(test_retransmits_and_parallel_connections),
        cmocka_unit_test(test_thresholds_are_settings),
        cmocka_unit_test(test_exfil_spike_alerts_once),
        cmocka_unit_test(test_exfil_needs_learning),
        cmocka_unit_test(test_exfil_floor_and_ratio),
        cmocka_unit_test(test_exfil_inside_is_quiet),
        cmocka_unit_test(test_flood_stays_bounded),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_config_refused),
    };
    return cmocka_run_group_tests(tests, load_plugin, unload_plugin) != 0;
}
