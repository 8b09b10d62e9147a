/*
 * test_amplification.c - the amplification plugin driven through its ABI by the fake host
 * (tests/unit/support/fake_host.h): configuration from a table, alerts
 * collected, ticks once per second of packet time, packets of a given size on the wire.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fake_host.h"

static int setup(void **st)
{
    (void)st;
    return fh_load("amplification");
}

static void send_pkt(fh_host *ctx, int64_t ts, uint32_t src, uint32_t dst, uint8_t proto,
                     uint16_t sport, uint16_t dport, uint8_t flags, uint32_t wire_len)
{
    vigil_packet p = fh_ip(ts, fh_v4(src), fh_v4(dst), proto);
    p.wire_len = p.cap_len = wire_len;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    fh_packet(ctx, &p);
}

static uint32_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

#define VICTIM FH_IP(198, 18, 0, 10)

/* ---- tests ---------------------------------------------------------------------- */

static void dns_amplification_from_many_resolvers(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 3000; i++)    /* 1000 big answers/s from 200 resolvers */
        send_pkt(ctx, FH_T0 + i * 1000, FH_IP(198, 19, 2, 1 + i % 200), VICTIM, 17, 53,
                 (uint16_t)(1024 + i % 50), 0, 3000);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9210001);
    assert_string_equal(ctx->alerts[0].attack_category, "dos_amplification");
    assert_string_equal(ctx->alerts[0].attack_technique, "dns_amplification");
    assert_int_equal(ctx->alerts[0].src.family, 0);
    assert_memory_equal(ctx->alerts[0].dst.bytes, fh_v4(VICTIM).bytes, 4);
    assert_non_null(strstr(ctx->alerts[0].meta_str, "response_packets=3000;"));
    assert_non_null(strstr(ctx->alerts[0].meta_str, "amplification_ratio=unsolicited;"));
    fh_free(ctx);
}

static void busy_resolver_client_asking_is_silent(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 3000; i++) {  /* it asks, they answer: ratio ~5 */
        uint32_t server = FH_IP(198, 19, 2, 1 + i % 200);
        send_pkt(ctx, FH_T0 + i * 1000, VICTIM, server, 17, (uint16_t)(1024 + i), 53, 0, 80);
        send_pkt(ctx, FH_T0 + i * 1000 + 300, server, VICTIM, 17, 53, (uint16_t)(1024 + i), 0, 400);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void ntp_symmetric_peers_are_ignored(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 3000; i++)
        send_pkt(ctx, FH_T0 + i * 1000, FH_IP(198, 19, 3, 1 + i % 50), VICTIM, 17, 123, 123, 0, 500);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void synack_reflection_without_syns(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 5000; i++)
        send_pkt(ctx, FH_T0 + i * 100, FH_IP(198, 19, 4, 1 + i % 250), VICTIM, 6, 80,
                 (uint16_t)(1024 + i), VIGIL_TCP_SYN | VIGIL_TCP_ACK, 60);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9210008);
    assert_string_equal(ctx->alerts[0].attack_technique, "tcp_synack_reflection");
    assert_int_equal(ctx->alerts[0].src.family, 0);
    fh_free(ctx);
}

static void syn_flooder_receiving_synacks_is_not_a_victim(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    uint32_t flooder = FH_IP(198, 18, 0, 66), server = FH_IP(198, 18, 0, 80);
    for (int i = 0; i < 5000; i++) {
        send_pkt(ctx, FH_T0 + i * 200, flooder, server, 6, (uint16_t)(1024 + i), 80,
                 VIGIL_TCP_SYN, 60);
        send_pkt(ctx, FH_T0 + i * 200 + 50, server, flooder, 6, 80, (uint16_t)(1024 + i),
                 VIGIL_TCP_SYN | VIGIL_TCP_ACK, 60);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void single_big_reflector_is_named(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 3000; i++)    /* one memcached server, 1400-byte answers */
        send_pkt(ctx, FH_T0 + i * 500, FH_IP(198, 19, 5, 5), VICTIM, 17, 11211, 4444, 0, 1400);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9210004);
    assert_int_equal(ctx->alerts[0].src.family, 4);
    assert_memory_equal(ctx->alerts[0].src.bytes, fh_v4(FH_IP(198, 19, 5, 5)).bytes, 4);
    fh_free(ctx);
}

static void million_spoofed_victims_stay_bounded(void **st)
{
    (void)st;
    static const fh_setting conf[] = { { "max_records", "1024" } };
    fh_host *ctx = fh_start(conf, 1);
    uint64_t seed = 11;
    for (int i = 0; i < 1000000; i++)
        send_pkt(ctx, FH_T0 + i * 10, rng_next(&seed), rng_next(&seed) & 0xdfffffffu, 17, 53,
                 (uint16_t)rng_next(&seed), 0, 512);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    assert_non_null(strstr(ctx->last_log, "records_tracked=1024 "));
    fh_free(ctx);
}

static void bad_config_refuses_the_load(void **st)
{
    (void)st;
    static const fh_setting conf[] = { { "min_byte_ratio", "0" } };
    fh_host *ctx = fh_new();
    fh_set_all(ctx, conf, 1);
    assert_int_not_equal(fh_init(ctx), VIGIL_OK);
    fh_free(ctx);
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
    return cmocka_run_group_tests(tests, setup, fh_unload_group) != 0;
}
