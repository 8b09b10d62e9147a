/*
 * test_amplification.c - the amplification plugin driven through its ABI by a fake host:
 * configuration from a table, alerts collected in an array, ticks once per
 * second of packet time.
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
    snprintf(path, sizeof path, "%s/plugins/amplification.so", build && *build ? build : "build");
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
                     uint16_t sport, uint16_t dport, uint8_t flags, uint32_t wire_len)
{
    advance(ctx, ts);
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.flags = VIGIL_PKT_HAS_L4;
    p.ts_us = ts;
    p.wire_len = p.cap_len = wire_len;
    p.l3 = VIGIL_L3_IPV4;
    p.ip_proto = proto;
    p.src = ip4(src);
    p.dst = ip4(dst);
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    plugin_desc->on_packet(ctx->state, ctx, &p);
}

static uint32_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

#define VICTIM IP(198, 18, 0, 10)

/* ---- tests ---------------------------------------------------------------------- */

static void dns_amplification_from_many_resolvers(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 3000; i++)    /* 1000 big answers/s from 200 resolvers */
        send_pkt(ctx, T0 + i * 1000, IP(198, 19, 2, 1 + i % 200), VICTIM, 17, 53,
                 (uint16_t)(1024 + i % 50), 0, 3000);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9210001);
    assert_string_equal(ctx->alerts[0].category, "dos_amplification");
    assert_string_equal(ctx->alerts[0].technique, "dns_amplification");
    assert_int_equal(ctx->alerts[0].src.family, 0);
    assert_memory_equal(ctx->alerts[0].dst.bytes, ip4(VICTIM).bytes, 4);
    assert_non_null(strstr(ctx->alerts[0].meta, "response_packets=3000;"));
    assert_non_null(strstr(ctx->alerts[0].meta, "amplification_ratio=unsolicited;"));
    free(ctx);
}

static void busy_resolver_client_asking_is_silent(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 3000; i++) {  /* it asks, they answer: ratio ~5 */
        uint32_t server = IP(198, 19, 2, 1 + i % 200);
        send_pkt(ctx, T0 + i * 1000, VICTIM, server, 17, (uint16_t)(1024 + i), 53, 0, 80);
        send_pkt(ctx, T0 + i * 1000 + 300, server, VICTIM, 17, 53, (uint16_t)(1024 + i), 0, 400);
    }
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    free(ctx);
}

static void ntp_symmetric_peers_are_ignored(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 3000; i++)
        send_pkt(ctx, T0 + i * 1000, IP(198, 19, 3, 1 + i % 50), VICTIM, 17, 123, 123, 0, 500);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    free(ctx);
}

static void synack_reflection_without_syns(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 5000; i++)
        send_pkt(ctx, T0 + i * 100, IP(198, 19, 4, 1 + i % 250), VICTIM, 6, 80,
                 (uint16_t)(1024 + i), VIGIL_TCP_SYN | VIGIL_TCP_ACK, 60);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9210008);
    assert_string_equal(ctx->alerts[0].technique, "tcp_synack_reflection");
    assert_int_equal(ctx->alerts[0].src.family, 0);
    free(ctx);
}

static void syn_flooder_receiving_synacks_is_not_a_victim(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    uint32_t flooder = IP(198, 18, 0, 66), server = IP(198, 18, 0, 80);
    for (int i = 0; i < 5000; i++) {
        send_pkt(ctx, T0 + i * 200, flooder, server, 6, (uint16_t)(1024 + i), 80,
                 VIGIL_TCP_SYN, 60);
        send_pkt(ctx, T0 + i * 200 + 50, server, flooder, 6, 80, (uint16_t)(1024 + i),
                 VIGIL_TCP_SYN | VIGIL_TCP_ACK, 60);
    }
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    free(ctx);
}

static void single_big_reflector_is_named(void **st)
{
    (void)st;
    vigil_ctx *ctx = start(NULL, 0);
    for (int i = 0; i < 3000; i++)    /* one memcached server, 1400-byte answers */
        send_pkt(ctx, T0 + i * 500, IP(198, 19, 5, 5), VICTIM, 17, 11211, 4444, 0, 1400);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9210004);
    assert_int_equal(ctx->alerts[0].src.family, 4);
    assert_memory_equal(ctx->alerts[0].src.bytes, ip4(IP(198, 19, 5, 5)).bytes, 4);
    free(ctx);
}

static void million_spoofed_victims_stay_bounded(void **st)
{
    (void)st;
    static const struct conf_entry conf[] = { { "max_records", 1024 } };
    vigil_ctx *ctx = start(conf, 1);
    uint64_t seed = 11;
    for (int i = 0; i < 1000000; i++)
        send_pkt(ctx, T0 + i * 10, rng_next(&seed), rng_next(&seed) & 0xdfffffffu, 17, 53,
                 (uint16_t)rng_next(&seed), 0, 512);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    assert_non_null(strstr(ctx->last_log, "records_tracked=1024 "));
    free(ctx);
}

static void bad_config_refuses_the_load(void **st)
{
    (void)st;
    static const struct conf_entry conf[] = { { "min_byte_ratio", 0 } };
    vigil_ctx *ctx = calloc(1, sizeof *ctx);
    assert_non_null(ctx);
    ctx->desc = plugin_desc;
    ctx->conf[0] = conf[0];
    ctx->nconf = 1;
    assert_int_not_equal(plugin_desc->init(ctx, &fake_api, &ctx->state), VIGIL_OK);
    free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dns_amplification_from_many_resolvers),
        cmocka_unit_test(busy_resolver_client_asking_is_silent),
        cmocka_unit_test(ntp_symmetric_peers_are_ignored),
        cmocka_unit_test(synack_reflection_without_syns),
        cmocka_unit_test(syn_flooder_receiving_synacks_is_not_a_victim),
        cmocka_unit_test(single_big_reflector_is_named),
        cmocka_unit_test(million_spoofed_victims_stay_bounded),
        cmocka_unit_test(bad_config_refuses_the_load),
    };
    return cmocka_run_group_tests(tests, load_plugin, unload_plugin) != 0;
}
