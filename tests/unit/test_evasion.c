/*
 * test_evasion.c - the evasion plugin through its ABI with the fake host
 * (tests/unit/support/fake_host.h): defaults for every setting, one flow
 * per direction-less 5-tuple (fragments have none), alerts collected.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fake_host.h"

static int setup(void **st)
{
    (void)st;
    return fh_load("evasion");
}

/* The client (198.18.0.1) or the server (198.19.0.1). */
static vigil_addr endpoint(int client)
{
    return fh_v4(client ? FH_IP(198, 18, 0, 1) : FH_IP(198, 19, 0, 1));
}

static void tcp(fh_host *ctx, int64_t t, int c2s, uint8_t fl, uint32_t seq, uint8_t ttl,
                const char *data)
{
    vigil_packet p = fh_tcp(FH_T0 + t, endpoint(c2s), c2s ? 40000 : 80, endpoint(!c2s),
                            c2s ? 80 : 40000, fl);
    p.ttl = ttl;
    p.tcp_seq = seq;
    fh_payload(&p, data, data ? strlen(data) : 0);
    fh_packet(ctx, &p);
}

static void handshake(fh_host *ctx)
{
    tcp(ctx, 0, 1, VIGIL_TCP_SYN, 1000, 64, NULL);
    tcp(ctx, 1, 0, VIGIL_TCP_SYN | VIGIL_TCP_ACK, 5000, 64, NULL);
    tcp(ctx, 2, 1, VIGIL_TCP_ACK, 1001, 64, NULL);
}

static void test_overlap_different_data(void **st)
{
    fh_host *ctx = *st;
    handshake(ctx);
    tcp(ctx, 10, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "GOOD");
    tcp(ctx, 11, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "EVIL");
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9510001);
    assert_int_equal(ctx->alerts[0].src.bytes[2], 0); /* the client sent it */
}

static void test_identical_retransmission_silent(void **st)
{
    fh_host *ctx = *st;
    handshake(ctx);
    for (int i = 0; i < 4; i++)
        tcp(ctx, 10 + i, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "SSH-2.0-x");
    tcp(ctx, 20, 1, VIGIL_TCP_ACK, 1009, 64, "Z"); /* keep-alive: last byte, other contents */
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 0);
}

static void test_low_ttl_insertion(void **st)
{
    fh_host *ctx = *st;
    handshake(ctx);
    tcp(ctx, 10, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 1, "GOOD");
    tcp(ctx, 11, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "EVIL");
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_string_equal(ctx->alerts[0].attack_technique, "low_ttl_insertion");
}

static void test_partial_out_of_order_overlap(void **st)
{
    fh_host *ctx = *st;
    handshake(ctx);
    tcp(ctx, 10, 1, VIGIL_TCP_ACK, 1005, 64, "AAAAAAAA");
    tcp(ctx, 11, 1, VIGIL_TCP_ACK, 1009, 64, "BBBBBBBB");
    tcp(ctx, 12, 1, VIGIL_TCP_ACK, 1001, 64, "CCCC");
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9510001);
}

static void test_rst_wrong_seq_then_data(void **st)
{
    fh_host *ctx = *st;
    handshake(ctx);
    tcp(ctx, 10, 1, VIGIL_TCP_RST | VIGIL_TCP_ACK, 1011, 64, NULL);
    tcp(ctx, 11, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "EVIL");
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9510003);
}

static void test_exact_rst_silent(void **st)
{
    fh_host *ctx = *st;
    handshake(ctx);
    tcp(ctx, 10, 1, VIGIL_TCP_ACK | VIGIL_TCP_PSH, 1001, 64, "GET /");
    tcp(ctx, 11, 1, VIGIL_TCP_RST | VIGIL_TCP_ACK, 1006, 64, NULL);
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 0);
}

static void frag(fh_host *ctx, int64_t t, uint32_t src, uint16_t id, uint16_t off_units,
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
    vigil_packet p = fh_ip(FH_T0 + t, fh_v4(FH_IP(198, 18, (uint8_t)(src >> 8), (uint8_t)src)),
                           fh_v4(FH_IP(198, 19, 0, 9)), 17);
    p.ttl = 0;
    p.flags = VIGIL_PKT_FRAGMENT | (off_units == 0 ? VIGIL_PKT_FRAG_FIRST : 0);
    p.frag_offset = (uint16_t)(off_units * 8);
    p.l3_hdr = buf;
    p.l3_len = total;
    fh_payload(&p, buf + 20, len);
    fh_packet(ctx, &p);
}

static void test_fragment_overlap_and_duplicate(void **st)
{
    fh_host *ctx = *st;
    uint8_t a[16], b[16];
    memset(a, 'A', sizeof a), memset(b, 'B', sizeof b);
    /* exact duplicate: silent */
    frag(ctx, 0, 1, 7, 0, 1, a, 16);
    frag(ctx, 1, 1, 7, 0, 1, a, 16);
    frag(ctx, 2, 1, 7, 2, 0, a, 16);
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 0);
    /* partial overlap from another source */
    frag(ctx, 10, 2, 8, 0, 1, a, 16);
    frag(ctx, 11, 2, 8, 1, 0, b, 16);
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9510011);
}

static void test_tiny_and_misaligned(void **st)
{
    fh_host *ctx = *st;
    uint8_t a[16];
    memset(a, 'A', sizeof a);
    frag(ctx, 0, 1, 9, 0, 1, a, 4);  /* UDP needs 8 bytes; 4 is not a multiple of 8 either */
    frag(ctx, 1, 1, 9, 1, 0, a, 16);
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 2);
}

/* A million fragment ids from 65536 sources: fixed tables, bounded alerts. */
static void test_fragment_flood_bounded(void **st)
{
    fh_host *ctx = *st;
    uint8_t a[8];
    memset(a, 'A', sizeof a);
    for (uint32_t i = 0; i < 1000000; i++)
        frag(ctx, (int64_t)i, i & 0xffff, (uint16_t)(i >> 4), 1, 0, a, 8);
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 0);
}

static void test_invalid_flags_per_source(void **st)
{
    fh_host *ctx = *st;
    for (int i = 0; i < 50; i++) {
        vigil_packet p = fh_tcp(FH_T0 + i * 1000, fh_v4(FH_IP(198, 18, 0, 66)), 5555,
                                fh_v4(FH_IP(198, 19, 0, (uint8_t)(1 + i % 5))), (uint16_t)(1 + i),
                                VIGIL_TCP_FIN | VIGIL_TCP_PSH | VIGIL_TCP_URG);
        p.ttl = 0;
        fh_packet(ctx, &p);
    }
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9510022);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fh_setup_host, fh_teardown_host)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_overlap_different_data), T(test_identical_retransmission_silent),
        T(test_low_ttl_insertion), T(test_partial_out_of_order_overlap),
        T(test_rst_wrong_seq_then_data), T(test_exact_rst_silent),
        T(test_fragment_overlap_and_duplicate), T(test_tiny_and_misaligned),
        T(test_fragment_flood_bounded), T(test_invalid_flags_per_source),
    };
    return cmocka_run_group_tests(tests, setup, fh_unload_group) != 0;
}
