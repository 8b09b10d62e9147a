/*
 * test_arpspoof.c - the arpspoof plugin through its ABI with a fake host:
 * defaults for every setting, alerts collected.
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

#include "vigil/plugin.h"

#define US 1000000LL
#define T0 (1700000000LL * US)
#define MAX_ALERTS 64
#define FLOWS 64

struct seen { uint32_t sid; char technique[40]; vigil_addr src, dst; };

struct flow { int used; uint8_t key[40]; void *state; };

struct vigil_ctx {
    const vigil_plugin *desc;
    void *state;
    struct seen alerts[MAX_ALERTS];
    size_t nalerts;
    struct flow flows[FLOWS];
    struct flow *cur;
    int64_t now;
};

static void fake_log(vigil_ctx *ctx, int level, const char *fmt, ...)
{
    (void)ctx, (void)level, (void)fmt;
}

static int fake_emit(vigil_ctx *ctx, const vigil_alert *a)
{
    if (a->size != sizeof *a || ctx->nalerts == MAX_ALERTS)
        return VIGIL_OK;
    struct seen *s = &ctx->alerts[ctx->nalerts++];
    s->sid = a->signature_id;
    snprintf(s->technique, sizeof s->technique, "%s", a->attack_technique);
    s->src = a->src;
    s->dst = a->dst;
    return VIGIL_OK;
}

static int fake_str(vigil_ctx *c, const char *k, const char **o)
{
    (void)c, (void)k, (void)o;
    return VIGIL_ENOENT;
}

static int fake_int(vigil_ctx *c, const char *k, int64_t d, int64_t lo, int64_t hi, int64_t *o)
{
    (void)c, (void)k, (void)lo, (void)hi;
    *o = d;
    return VIGIL_OK;
}

static void *fake_flow_state(vigil_ctx *c)
{
    return c->cur ? c->cur->state : NULL;
}

static int fake_set_flow_state(vigil_ctx *c, void *s)
{
    if (c->cur == NULL)
        return VIGIL_ENOENT;
    c->cur->state = s;
    return VIGIL_OK;
}

static int64_t fake_now(vigil_ctx *c)
{
    return c->now;
}

static const vigil_host_api api = {
    .size = sizeof(vigil_host_api), .abi_major = VIGIL_ABI_MAJOR, .abi_minor = VIGIL_ABI_MINOR,
    .log = fake_log, .emit_alert = fake_emit, .config_str = fake_str, .config_int = fake_int,
    .flow_state = fake_flow_state, .set_flow_state = fake_set_flow_state, .now_us = fake_now,
};

static void *so_handle;

static int load(void **st)
{
    char path[512];
    const char *dir = getenv("VIGIL_BUILD");
    snprintf(path, sizeof path, "%s/plugins/arpspoof.so", dir ? dir : "build");
    so_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (so_handle == NULL)
        return -1;
    vigil_plugin_entry_fn fn = (vigil_plugin_entry_fn)(uintptr_t)dlsym(so_handle, VIGIL_PLUGIN_ENTRY_SYMBOL);
    vigil_ctx *ctx = calloc(1, sizeof *ctx);
    ctx->desc = fn();
    if (ctx->desc->init(ctx, &api, &ctx->state) != VIGIL_OK)
        return -1;
    *st = ctx;
    return 0;
}

static int unload(void **st)
{
    vigil_ctx *ctx = *st;
    ctx->desc->fini(ctx->state);
    free(ctx);
    dlclose(so_handle);
    return 0;
}


static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void arp(vigil_ctx *ctx, int64_t t, uint16_t op, const uint8_t *eth, const uint8_t *sha,
                uint8_t spa, uint8_t tpa, const uint8_t *dst)
{
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.ts_us = T0 + t;
    p.l3 = VIGIL_L3_ARP;
    p.arp_op = op;
    memcpy(p.eth_src, eth, 6);
    memcpy(p.eth_dst, dst, 6);
    memcpy(p.arp_sha, sha, 6);
    p.src.family = p.dst.family = 4;
    p.src.bytes[0] = 198, p.src.bytes[1] = 18, p.src.bytes[2] = 20, p.src.bytes[3] = spa;
    p.dst.bytes[0] = 198, p.dst.bytes[1] = 18, p.dst.bytes[2] = 20, p.dst.bytes[3] = tpa;
    ctx->now = p.ts_us;
    ctx->desc->on_packet(ctx->state, ctx, &p);
}

static const uint8_t GW[6] = { 2, 0, 0, 0, 0, 254 }, VIC[6] = { 2, 0, 0, 0, 0, 147 },
                     ATT[6] = { 2, 0, 0, 0, 0, 23 };

static void test_poisoning_names_attacker(void **st)
{
    vigil_ctx *ctx = *st;
    arp(ctx, 0, 1, VIC, VIC, 147, 254, BCAST);          /* victim asks for the gateway */
    arp(ctx, 1000, 2, GW, GW, 254, 147, VIC);           /* gateway answers */
    arp(ctx, US, 1, ATT, ATT, 23, 147, BCAST);          /* attacker shows its own IP */
    arp(ctx, 2 * US, 2, ATT, ATT, 254, 147, VIC);       /* forged: gateway is at ATT */
    for (int i = 3; i < 10; i++)
        arp(ctx, i * US, 2, ATT, ATT, 254, 147, VIC);
    ctx->desc->on_finish(ctx->state, ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9500001);
    assert_int_equal(ctx->alerts[0].src.bytes[3], 23);
    assert_int_equal(ctx->alerts[0].dst.bytes[3], 147);
}

static void test_normal_resolution_silent(void **st)
{
    vigil_ctx *ctx = *st;
    for (int i = 0; i < 100; i++) {
        arp(ctx, i * 10 * US, 1, VIC, VIC, 147, 254, BCAST);
        arp(ctx, i * 10 * US + 1000, 2, GW, GW, 254, 147, VIC);
    }
    arp(ctx, 2000 * US, 1, ATT, ATT, 23, 23, BCAST);    /* one gratuitous ARP */
    ctx->desc->on_finish(ctx->state, ctx);
    assert_int_equal(ctx->nalerts, 0);
}

static void test_one_binding_change_silent(void **st)
{
    vigil_ctx *ctx = *st;
    arp(ctx, 0, 1, GW, GW, 254, 254, BCAST);            /* announce */
    arp(ctx, 10 * US, 1, ATT, ATT, 254, 254, BCAST);    /* failover: a new MAC announces */
    ctx->desc->on_finish(ctx->state, ctx);
    assert_int_equal(ctx->nalerts, 0);
}

static void test_gratuitous_storm(void **st)
{
    vigil_ctx *ctx = *st;
    for (int i = 0; i < 40; i++)
        arp(ctx, i * 100000, 1, ATT, ATT, 23, 23, BCAST);
    ctx->desc->on_finish(ctx->state, ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9500002);
}

/* A million spoofed MACs and IPs: fixed rings, no growth, no crash. */
static void test_spoofed_flood_bounded(void **st)
{
    vigil_ctx *ctx = *st;
    for (uint32_t i = 0; i < 1000000; i++) {
        uint8_t mac[6] = { 2, 1, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 1 };
        arp(ctx, (int64_t)i * 10, 2, mac, mac, (uint8_t)(i % 250 + 1), 147, VIC);
    }
    ctx->desc->on_finish(ctx->state, ctx);
    assert_true(ctx->nalerts <= MAX_ALERTS);
}

#define T(f) cmocka_unit_test_setup_teardown(f, load, unload)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_poisoning_names_attacker), T(test_normal_resolution_silent),
        T(test_one_binding_change_silent), T(test_gratuitous_storm), T(test_spoofed_flood_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
