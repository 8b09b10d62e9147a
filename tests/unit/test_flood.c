/*
 * test_flood.c - the flood plugin driven through its ABI by a fake host:
 * configuration from a table, alerts collected in an array, ticks once per
 * second of packet time, ESTABLISHED stream events delivered by hand.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/plugin.h"

#define US 1000000LL
#define T0 (1700000000LL * US)
#define MAX_ALERTS 32
#define MAX_CONF 8

/* ---- the fake host ---------------------------------------------------------- */

struct seen_alert {
    uint32_t sid;
    char category[32], technique[32], signature[160];
    vigil_addr src, dst;
    uint16_t dport;
    char meta[1024];
};

struct conf_entry {
    const char *key;
    int64_t value;
};

struct vigil_ctx {
    const vigil_plugin *desc;
    void *state;
    struct conf_entry conf[MAX_CONF];
    size_t nconf;
    struct seen_alert alerts[MAX_ALERTS];
    size_t nalerts;
    char last_log[1024];
    int64_t now_us, last_tick_us;
};

static void fake_log(vigil_ctx *ctx, int level, const char *fmt, ...)
{
    (void)level;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->last_log, sizeof ctx->last_log, fmt, ap);
    va_end(ap);
}

static int fake_emit(vigil_ctx *ctx, const vigil_alert *a)
{
    if (a->size != sizeof *a || a->signature == NULL || ctx->nalerts == MAX_ALERTS)
        return VIGIL_EINVAL;
    struct seen_alert *s = &ctx->alerts[ctx->nalerts++];
    memset(s, 0, sizeof *s);
    s->sid = a->signature_id;
    snprintf(s->category, sizeof s->category, "%s", a->attack_category);
    snprintf(s->technique, sizeof s->technique, "%s", a->attack_technique);
    snprintf(s->signature, sizeof s->signature, "%s", a->signature);
    s->src = a->src;
    s->dst = a->dst;
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

static int fake_config_str(vigil_ctx *ctx, const char *key, const char **out)
{
    (void)ctx;
    (void)key;
    (void)out;
    return VIGIL_ENOENT;
}

static int fake_config_int(vigil_ctx *ctx, const char *key, int64_t def, int64_t min,
                           int64_t max, int64_t *out)
{
    *out = def;
    for (size_t i = 0; i < ctx->nconf; i++) {
        if (strcmp(ctx->conf[i].key, key) != 0)
            continue;
        if (ctx->conf[i].value < min || ctx->conf[i].value > max)
            return VIGIL_EINVAL;
        *out = ctx->conf[i].value;
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
};

/* ---- the plugin under test ----------------------------------------------------- */

static void *plugin_handle;
static const vigil_plugin *plugin_desc;

static int load_plugin(void **st)
{
    (void)st;
    const char *build = getenv("VIGIL_BUILD");
    char path[4096];
    snprintf(path, sizeof path, "%s/plugins/flood.so", build && *build ? build : "build");
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

static vigil_ctx *start(const struct conf_entry *conf, size_t nconf)
{
    vigil_ctx *ctx = calloc(1, sizeof *ctx);
    assert_non_null(ctx);
    ctx->desc = plugin_desc;
    for (size_t i = 0; i < nconf && i < MAX_CONF; i++)
        ctx->conf[ctx->nconf++] = conf[i];
    ctx->now_us = ctx->last_tick_us = T0;
    assert_int_equal(plugin_desc->init(ctx, &fake_api, &ctx->state), VIGIL_OK);
    return ctx;
}

static void finish(vigil_ctx *ctx)
{
    plugin_desc->on_finish(ctx->state, ctx);
    plugin_desc->fini(ctx->state);
}

/* Deliver the ticks a host would deliver before a packet at `ts`. */
static void advance(vigil_ctx *ctx, int64_t ts)
{
    while (ts - ctx->last_tick_us >= US) {
        ctx->last_tick_us += US;
        ctx->now_us = ctx->last_tick_us;
        plugin_desc->on_tick(ctx->state, ctx, ctx->last_tick_us);
    }
    ctx->now_us = ts;
}

static vigil_addr ip4(uint32_t v)
{
    vigil_addr a;
    memset(&a, 0, sizeof a);
    a.family = 4;
    a.bytes[0] = (uint8_t)(v >> 24);
    a.bytes[1] = (uint8_t)(v >> 16);
    a.bytes[2] = (uint8_t)(v >> 8);
    a.bytes[3] = (uint8_t)v;
    return a;
}

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static void send_pkt(vigil_ctx *ctx, int64_t ts, uint32_t src, uint32_t dst, uint8_t proto,
                     uint16_t sport, uint16_t dport, uint8_t flags, uint8_t icmp_type)
{
    advance(ctx, ts);
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.flags = VIGIL_PKT_HAS_L4;
    p.ts_us = ts;
    p.wire_len = p.cap_len = 60;
    p.l3 = VIGIL_L3_IPV4;
    p.ip_proto = proto;
    p.src = ip4(src);
    p.dst = ip4(dst);
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    p.icmp_type = icmp_type;
    plugin_desc->on_packet(ctx->state, ctx, &p);
}

static void established(vigil_ctx *ctx, uint32_t client, uint32_t server, uint16_t cport,
                        uint16_t sport)
{
    vigil_stream s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.event = VIGIL_STREAM_ESTABLISHED;
    s.ts_us = ctx->now_us;
    s.client = ip4(client);
    s.server = ip4(server);
    s.client_port = cport;
    s.server_port = sport;
    plugin_desc->on_stream(ctx->state, ctx, &s);
}

static uint32_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

#define VICTIM IP(198, 18, 0, 10)
#define ATTACKER IP(198, 19, 1, 1)

/* ---- tests ---------------------------------------------------------------------- */

static void spoofed_syn_flood_has_no_source(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    uint64_t seed = 1;
    for (int i = 0; i < 20000; i++)   /* 5000 pps for 4 s, every source new */
        send_pkt(ctx, T0 + i * 200, rng_next(&seed), VICTIM, 6, (uint16_t)rng_next(&seed), 80,
                 VIGIL_TCP_SYN, 0);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9200001);
    assert_string_equal(ctx->alerts[0].category, "dos_flood");
    assert_string_equal(ctx->alerts[0].technique, "tcp_syn_flood");
    assert_int_equal(ctx->alerts[0].src.family, 0);
    assert_memory_equal(ctx->alerts[0].dst.bytes, ip4(VICTIM).bytes, 4);
    assert_int_equal(ctx->alerts[0].dport, 80);
    assert_non_null(strstr(ctx->alerts[0].meta, "packets=20000;"));
    assert_non_null(strstr(ctx->alerts[0].meta, "spoofed_or_distributed=true;"));
    free(ctx);
}

static void single_source_syn_burst_names_the_source(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 200; i++)     /* 200 SYNs in 0.2 s, new port each */
        send_pkt(ctx, T0 + i * 1000, ATTACKER, VICTIM, 6, (uint16_t)(40000 + i), 443,
                 VIGIL_TCP_SYN, 0);
    /* background: one client completes a few connections */
    for (int i = 0; i < 5; i++) {
        send_pkt(ctx, T0 + 250000 + i * 1000, IP(198, 18, 0, 20), VICTIM, 6,
                 (uint16_t)(50000 + i), 443, VIGIL_TCP_SYN, 0);
        established(ctx, IP(198, 18, 0, 20), VICTIM, (uint16_t)(50000 + i), 443);
    }
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_memory_equal(ctx->alerts[0].src.bytes, ip4(ATTACKER).bytes, 4);
    assert_int_equal(ctx->alerts[0].src.family, 4);
    assert_non_null(strstr(ctx->alerts[0].meta, "top_source=198.19.1.1;"));
    free(ctx);
}

static void busy_server_completing_handshakes_is_silent(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    uint64_t seed = 7;
    for (int i = 0; i < 20000; i++) { /* 2000 connections/s, all complete */
        uint32_t client = IP(198, 18, 1, 0) + rng_next(&seed) % 5000;
        uint16_t cport = (uint16_t)(1024 + i % 60000);
        send_pkt(ctx, T0 + i * 500, client, VICTIM, 6, cport, 443, VIGIL_TCP_SYN, 0);
        established(ctx, client, VICTIM, cport, 443);
    }
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    free(ctx);
}

static void fast_port_scan_is_not_a_flood(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 3000; i++)    /* 3000 ports in 1.5 s from one host */
        send_pkt(ctx, T0 + i * 500, ATTACKER, VICTIM, 6, 55555, (uint16_t)(1 + i),
                 VIGIL_TCP_SYN, 0);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    free(ctx);
}

static void udp_flood_with_rotating_ports(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 12000; i++)   /* 5000 pps, source port +1 each */
        send_pkt(ctx, T0 + i * 200, ATTACKER, VICTIM, 17, (uint16_t)(2000 + i), 9999, 0, 0);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9200002);
    assert_string_equal(ctx->alerts[0].technique, "udp_flood");
    assert_memory_equal(ctx->alerts[0].src.bytes, ip4(ATTACKER).bytes, 4);
    assert_int_equal(ctx->alerts[0].dport, 9999);
    free(ctx);
}

static void single_udp_stream_and_answered_dns_are_silent(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 12000; i++)   /* one bulk stream: 5000 pps, one flow */
        send_pkt(ctx, T0 + i * 200, IP(198, 18, 0, 30), VICTIM, 17, 40000, 5201, 0, 0);
    uint64_t seed = 3;
    for (int i = 0; i < 12000; i++) { /* a busy DNS server answering everything */
        uint32_t client = IP(198, 18, 2, 0) + rng_next(&seed) % 3000;
        uint16_t cport = (uint16_t)(1024 + rng_next(&seed) % 60000);
        int64_t ts = T0 + 5 * US + i * 200;
        send_pkt(ctx, ts, client, IP(198, 18, 0, 53), 17, cport, 53, 0, 0);
        send_pkt(ctx, ts + 50, IP(198, 18, 0, 53), client, 17, 53, cport, 0, 0);
    }
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    free(ctx);
}

static void icmp_flood_blames_the_sender_not_the_replier(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 15000; i++) { /* 5000 echo requests/s, all answered */
        send_pkt(ctx, T0 + i * 200, ATTACKER, VICTIM, 1, 8, 0, 0, 8);
        send_pkt(ctx, T0 + i * 200 + 50, VICTIM, ATTACKER, 1, 0, 0, 0, 0);
    }
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9200003);
    assert_memory_equal(ctx->alerts[0].src.bytes, ip4(ATTACKER).bytes, 4);
    assert_memory_equal(ctx->alerts[0].dst.bytes, ip4(VICTIM).bytes, 4);
    assert_non_null(strstr(ctx->alerts[0].meta, "replies=15000;"));
    free(ctx);
}

static void long_flood_is_reported_once_per_interval(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 150 * 500; i++) /* 500 pps SYN flood for 150 s */
        send_pkt(ctx, T0 + i * 2000, ATTACKER, VICTIM, 6, (uint16_t)i, 80, VIGIL_TCP_SYN, 0);
    finish(ctx);
    /* at 10 s (report delay), at 70 s and 130 s (interval), then the rest at
     * the end would be younger than the interval: not reported */
    assert_int_equal(ctx->nalerts, 3);
    for (size_t i = 0; i < ctx->nalerts; i++)
        assert_int_equal(ctx->alerts[i].sid, 9200001);
    free(ctx);
}

static void million_spoofed_victims_stay_bounded(void **st)
{
    (void)st;
    static const struct conf_entry conf[] = { { "max_victims", 1024 } };
    vigil_ctx *ctx = start(conf, 1);
    uint64_t seed = 11;
    for (int i = 0; i < 1000000; i++)  /* random sources to random targets */
        send_pkt(ctx, T0 + i * 10, rng_next(&seed), rng_next(&seed) & 0xdfffffffu, 17,
                 (uint16_t)rng_next(&seed), 53, 0, 0);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    assert_non_null(strstr(ctx->last_log, "victims_tracked=1024 "));
    free(ctx);
}

static void bad_config_refuses_the_load(void **st)
{
    (void)st;
    static const struct conf_entry conf[] = { { "syn_max_complete_percent", 101 } };
    vigil_ctx *ctx = calloc(1, sizeof *ctx);
    assert_non_null(ctx);
    ctx->desc = plugin_desc;
    ctx->conf[0] = conf[0];
    ctx->nconf = 1;
    assert_int_not_equal(plugin_desc->init(ctx, &fake_api, &ctx->state), VIGIL_OK);
    free(ctx);
}

static void same_input_same_alerts(void **st)
{
    (void)st;
    char first[2][2048];
    for (int run = 0; run < 2; run++) {
        vigil_ctx *ctx = start(NULL, 0);
        uint64_t seed = 5;
        for (int i = 0; i < 6000; i++)
            send_pkt(ctx, T0 + i * 300, rng_next(&seed), IP(198, 18, 0, 1 + i % 3), 6,
                     (uint16_t)i, 25565, VIGIL_TCP_SYN, 0);
        finish(ctx);
        assert_int_equal(ctx->nalerts, 3);
        snprintf(first[run], sizeof first[run], "%s|%s|%s", ctx->alerts[0].meta,
                 ctx->alerts[1].signature, ctx->alerts[2].signature);
        free(ctx);
    }
    assert_string_equal(first[0], first[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spoofed_syn_flood_has_no_source),
        cmocka_unit_test(single_source_syn_burst_names_the_source),
        cmocka_unit_test(busy_server_completing_handshakes_is_silent),
        cmocka_unit_test(fast_port_scan_is_not_a_flood),
        cmocka_unit_test(udp_flood_with_rotating_ports),
        cmocka_unit_test(single_udp_stream_and_answered_dns_are_silent),
        cmocka_unit_test(icmp_flood_blames_the_sender_not_the_replier),
        cmocka_unit_test(long_flood_is_reported_once_per_interval),
        cmocka_unit_test(million_spoofed_victims_stay_bounded),
        cmocka_unit_test(bad_config_refuses_the_load),
        cmocka_unit_test(same_input_same_alerts),
    };
    return cmocka_run_group_tests(tests, load_plugin, unload_plugin) != 0;
}
