/*
 * test_evasion.c - the evasion plugin through its ABI with a fake host:
 * defaults for every setting, one flow slot per direction-less 5-tuple
 * (a small table), alerts collected.
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
    snprintf(path, sizeof path, "%s/plugins/evasion.so", dir ? dir : "build");
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
    for (int i = 0; i < FLOWS; i++)
        if (ctx->flows[i].state)
            ctx->desc->flow_free(ctx->state, ctx->flows[i].state);
    ctx->desc->fini(ctx->state);
    free(ctx);
    dlclose(so_handle);
    return 0;
}

static vigil_addr ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    vigil_addr x;
    memset(&x, 0, sizeof x);
    x.family = 4;
    x.bytes[0] = a, x.bytes[1] = b, x.bytes[2] = c, x.bytes[3] = d;
    return x;
}

/* The flow slot of a TCP packet: both directions share it. */
static struct flow *flow_of(vigil_ctx *ctx, const vigil_packet *p)
{
    uint8_t k[40];
    memset(k, 0, sizeof k);
    int fwd = memcmp(p->src.bytes, p->dst.bytes, 4) < 0;
    memcpy(k, fwd ? p->src.bytes : p->dst.bytes, 4);
    memcpy(k + 4, fwd ? p->dst.bytes : p->src.bytes, 4);
    uint16_t a = fwd ? p->sport : p->dport, b = fwd ? p->dport : p->sport;
    memcpy(k + 8, &a, 2), memcpy(k + 10, &b, 2);
    for (int i = 0; i < FLOWS; i++)
        if (ctx->flows[i].used && memcmp(ctx->flows[i].key, k, sizeof k) == 0)
            return &ctx->flows[i];
    for (int i = 0; i < FLOWS; i++)
        if (!ctx->flows[i].used) {
            ctx->flows[i].used = 1;
            memcpy(ctx->flows[i].key, k, sizeof k);
            return &ctx->flows[i];
        }
    return NULL;
}

static void deliver(vigil_ctx *ctx, vigil_packet *p)
{
    p->size = sizeof *p;
    ctx->now = p->ts_us;
    ctx->cur = (p->flags & VIGIL_PKT_FRAGMENT) ? NULL : flow_of(ctx, p);
    ctx->desc->on_packet(ctx->state, ctx, p);
    ctx->cur = NULL;
}

static void tcp(vigil_ctx *ctx, int64_t t, int c2s, uint8_t fl, uint32_t seq, uint8_t ttl,
                const char *data)
{
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.ts_us = T0 + t;
    p.l3 = VIGIL_L3_IPV4;
    p.ip_proto = 6;
    p.ttl = ttl;
    p.flags = VIGIL_PKT_HAS_L4;
    p.src = c2s ? ip4(198, 18, 0, 1) : ip4(198, 19, 0, 1);
    p.dst = c2s ? ip4(198, 19, 0, 1) : ip4(198, 18, 0, 1);
    p.sport = c2s ? 40000 : 80;
    p.dport = c2s ? 80 : 40000;
    p.tcp_flags = fl;
    p.tcp_seq = seq;
    p.payload = (const uint8_t *)data;
    p.payload_len = p.payload_wire_len = data ? (uint32_t)strlen(data) : 0;
    deliver(ctx, &p);
}

static void handshake(vigil_ctx *ctx)
{
    tcp(ctx, 0, 1, VIGIL_TCP_SYN, 1000, 64, NULL);
    tcp(ctx, 1, 0, VIGIL_TCP_SYN | VIGIL_TCP_ACK, 5000, 64, NULL);
    tcp(ctx, 2, 1, VIGIL_TCP_ACK, 1001, 64, NULL);
}

static void finish(vigil_ctx *ctx)
{
    ctx->desc->on_finish(ctx->state, ctx);
}

static void test_overlap_different_data(void **st)
{
    vigil_ctx *ctx = *st;
    handshake(ctx);
    tcp(ctx, 10, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "GOOD");
    tcp(ctx, 11, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "EVIL");
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9510001);
    assert_int_equal(ctx->alerts[0].src.bytes[2], 0); /* the client sent it */
}

static void test_identical_retransmission_silent(void **st)
{
    vigil_ctx *ctx = *st;
    handshake(ctx);
    for (int i = 0; i < 4; i++)
        tcp(ctx, 10 + i, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "SSH-2.0-x");
    tcp(ctx, 20, 1, VIGIL_TCP_ACK, 1009, 64, "Z"); /* keep-alive: last byte, other contents */
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
}

static void test_low_ttl_insertion(void **st)
{
    vigil_ctx *ctx = *st;
    handshake(ctx);
    tcp(ctx, 10, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 1, "GOOD");
    tcp(ctx, 11, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "EVIL");
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_string_equal(ctx->alerts[0].technique, "low_ttl_insertion");
}

static void test_partial_out_of_order_overlap(void **st)
{
    vigil_ctx *ctx = *st;
    handshake(ctx);
    tcp(ctx, 10, 1, VIGIL_TCP_ACK, 1005, 64, "AAAAAAAA");
    tcp(ctx, 11, 1, VIGIL_TCP_ACK, 1009, 64, "BBBBBBBB");
    tcp(ctx, 12, 1, VIGIL_TCP_ACK, 1001, 64, "CCCC");
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9510001);
}

static void test_rst_wrong_seq_then_data(void **st)
{
    vigil_ctx *ctx = *st;
    handshake(ctx);
    tcp(ctx, 10, 1, VIGIL_TCP_RST | VIGIL_TCP_ACK, 1011, 64, NULL);
    tcp(ctx, 11, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "EVIL");
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9510003);
}

static void test_exact_rst_silent(void **st)
{
    vigil_ctx *ctx = *st;
    handshake(ctx);
    tcp(ctx, 10, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "GET /");
    tcp(ctx, 11, 1, VIGIL_TCP_RST | VIGIL_TCP_ACK, 1006, 64, NULL);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
}

static void frag(vigil_ctx *ctx, int64_t t, uint32_t src, uint16_t id, uint16_t off_units,
                 int more, const uint8_t *data, uint16_t len)
{
    static uint8_t buf[20 + 1500];
    memset(buf, 0, 20);
    buf[0] = 0x45;
    uint16_t total = (uint16_t)(20 + len);
    buf[2] = (uint8_t)(total >> 8), buf[3] = (uint8_t)total;
    buf[4] = (uint8_t)(id >> 8), buf[5] = (uint8_t)id;
    uint16_t fr = (uint16_t)(off_units | (more ? 0x2000 : 0));
    buf[6] = (uint8_t)(fr >> 8), buf[7] = (uint8_t)fr;
    buf[9] = 17;
    memcpy(buf + 20, data, len);
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.ts_us = T0 + t;
    p.l3 = VIGIL_L3_IPV4;
    p.ip_proto = 17;
    p.flags = VIGIL_PKT_FRAGMENT | (off_units == 0 ? VIGIL_PKT_FRAG_FIRST : 0);
    p.frag_offset = (uint16_t)(off_units * 8);
    p.src = ip4(198, 18, (uint8_t)(src >> 8), (uint8_t)src);
    p.dst = ip4(198, 19, 0, 9);
    p.l3_hdr = buf;
    p.l3_len = total;
    p.payload = buf + 20;
    p.payload_len = p.payload_wire_len = len;
    deliver(ctx, &p);
}

static void test_fragment_overlap_and_duplicate(void **st)
{
    vigil_ctx *ctx = *st;
    uint8_t a[16], b[16];
    memset(a, 'A', sizeof a), memset(b, 'B', sizeof b);
    /* exact duplicate: silent */
    frag(ctx, 0, 1, 7, 0, 1, a, 16);
    frag(ctx, 1, 1, 7, 0, 1, a, 16);
    frag(ctx, 2, 1, 7, 2, 0, a, 16);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    /* partial overlap from another source */
    frag(ctx, 10, 2, 8, 0, 1, a, 16);
    frag(ctx, 11, 2, 8, 1, 0, b, 16);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9510011);
}

static void test_tiny_and_misaligned(void **st)
{
    vigil_ctx *ctx = *st;
    uint8_t a[16];
    memset(a, 'A', sizeof a);
    frag(ctx, 0, 1, 9, 0, 1, a, 4);  /* UDP needs 8 bytes; 4 is not a multiple of 8 either */
    frag(ctx, 1, 1, 9, 1, 0, a, 16);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 2);
}

/* A million fragment ids from 65536 sources: fixed tables, bounded alerts. */
static void test_fragment_flood_bounded(void **st)
{
    vigil_ctx *ctx = *st;
    uint8_t a[8];
    memset(a, 'A', sizeof a);
    for (uint32_t i = 0; i < 1000000; i++)
        frag(ctx, (int64_t)i, i & 0xffff, (uint16_t)(i >> 4), 1, 0, a, 8);
    finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
}

static void test_invalid_flags_per_source(void **st)
{
    vigil_ctx *ctx = *st;
    for (int i = 0; i < 50; i++) {
        vigil_packet p;
        memset(&p, 0, sizeof p);
        p.ts_us = T0 + i * 1000;
        p.l3 = VIGIL_L3_IPV4;
        p.ip_proto = 6;
        p.flags = VIGIL_PKT_HAS_L4;
        p.src = ip4(198, 18, 0, 66);
        p.dst = ip4(198, 19, 0, (uint8_t)(1 + i % 5));
        p.sport = 5555;
        p.dport = (uint16_t)(1 + i);
        p.tcp_flags = VIGIL_TCP_FIN | VIGIL_TCP_PSH | VIGIL_TCP_URG;
        deliver(ctx, &p);
    }
    finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9510022);
}

#define T(f) cmocka_unit_test_setup_teardown(f, load, unload)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_overlap_different_data), T(test_identical_retransmission_silent),
        T(test_low_ttl_insertion), T(test_partial_out_of_order_overlap),
        T(test_rst_wrong_seq_then_data), T(test_exact_rst_silent),
        T(test_fragment_overlap_and_duplicate), T(test_tiny_and_misaligned),
        T(test_fragment_flood_bounded), T(test_invalid_flags_per_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
