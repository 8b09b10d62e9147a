/*
 * test_flood.c - the flood plugin driven through its ABI by the fake host
 * (tests/unit/support/fake_host.h): configuration from a table, alerts
 * collected, ticks once per second of packet time, ESTABLISHED stream events delivered by hand.
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
    return fh_load("flood");
}

/* An IPv4 packet of 60 bytes on the wire. */
static void send_pkt(fh_host *ctx, int64_t ts, uint32_t src, uint32_t dst, uint8_t proto,
                     uint16_t sport, uint16_t dport, uint8_t flags, uint8_t icmp_type)
{
    vigil_packet p = fh_ip(ts, fh_v4(src), fh_v4(dst), proto);
    p.wire_len = p.cap_len = 60;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    p.icmp_type = icmp_type;
    fh_packet(ctx, &p);
}

static void established(fh_host *ctx, uint32_t client, uint32_t server, uint16_t cport,
                        uint16_t sport)
{
    vigil_stream s = fh_stream_event(ctx->now_us, VIGIL_STREAM_ESTABLISHED, fh_v4(client), cport,
                                     fh_v4(server), sport);
    fh_stream(ctx, &s);
}

static uint32_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

#define VICTIM FH_IP(198, 18, 0, 10)
#define ATTACKER FH_IP(198, 19, 1, 1)

/* ---- tests ---------------------------------------------------------------------- */

static void spoofed_syn_flood_has_no_source(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    uint64_t seed = 1;
    for (int i = 0; i < 20000; i++)   /* 5000 pps for 4 s, every source new */
        send_pkt(ctx, FH_T0 + i * 200, rng_next(&seed), VICTIM, 6, (uint16_t)rng_next(&seed), 80,
                 VIGIL_TCP_SYN, 0);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9200001);
    assert_string_equal(ctx->alerts[0].attack_category, "dos_flood");
    assert_string_equal(ctx->alerts[0].attack_technique, "tcp_syn_flood");
    assert_int_equal(ctx->alerts[0].src.family, 0);
    assert_memory_equal(ctx->alerts[0].dst.bytes, fh_v4(VICTIM).bytes, 4);
    assert_int_equal(ctx->alerts[0].dport, 80);
    assert_non_null(strstr(ctx->alerts[0].meta_str, "packets=20000;"));
    assert_non_null(strstr(ctx->alerts[0].meta_str, "spoofed_or_distributed=true;"));
    fh_free(ctx);
}

static void single_source_syn_burst_names_the_source(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 200; i++)     /* 200 SYNs in 0.2 s, new port each */
        send_pkt(ctx, FH_T0 + i * 1000, ATTACKER, VICTIM, 6, (uint16_t)(40000 + i), 443,
                 VIGIL_TCP_SYN, 0);
    /* background: one client completes a few connections */
    for (int i = 0; i < 5; i++) {
        send_pkt(ctx, FH_T0 + 250000 + i * 1000, FH_IP(198, 18, 0, 20), VICTIM, 6,
                 (uint16_t)(50000 + i), 443, VIGIL_TCP_SYN, 0);
        established(ctx, FH_IP(198, 18, 0, 20), VICTIM, (uint16_t)(50000 + i), 443);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_memory_equal(ctx->alerts[0].src.bytes, fh_v4(ATTACKER).bytes, 4);
    assert_int_equal(ctx->alerts[0].src.family, 4);
    assert_non_null(strstr(ctx->alerts[0].meta_str, "top_source=198.19.1.1;"));
    fh_free(ctx);
}

static void busy_server_completing_handshakes_is_silent(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    uint64_t seed = 7;
    for (int i = 0; i < 20000; i++) { /* 2000 connections/s, all complete */
        uint32_t client = FH_IP(198, 18, 1, 0) + rng_next(&seed) % 5000;
        uint16_t cport = (uint16_t)(1024 + i % 60000);
        send_pkt(ctx, FH_T0 + i * 500, client, VICTIM, 6, cport, 443, VIGIL_TCP_SYN, 0);
        established(ctx, client, VICTIM, cport, 443);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void fast_port_scan_is_not_a_flood(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 3000; i++)    /* 3000 ports in 1.5 s from one host */
        send_pkt(ctx, FH_T0 + i * 500, ATTACKER, VICTIM, 6, 55555, (uint16_t)(1 + i),
                 VIGIL_TCP_SYN, 0);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void udp_flood_with_rotating_ports(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 12000; i++)   /* 5000 pps, source port +1 each */
        send_pkt(ctx, FH_T0 + i * 200, ATTACKER, VICTIM, 17, (uint16_t)(2000 + i), 9999, 0, 0);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9200002);
    assert_string_equal(ctx->alerts[0].attack_technique, "udp_flood");
    assert_memory_equal(ctx->alerts[0].src.bytes, fh_v4(ATTACKER).bytes, 4);
    assert_int_equal(ctx->alerts[0].dport, 9999);
    fh_free(ctx);
}

static void single_udp_stream_and_answered_dns_are_silent(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 12000; i++)   /* one bulk stream: 5000 pps, one flow */
        send_pkt(ctx, FH_T0 + i * 200, FH_IP(198, 18, 0, 30), VICTIM, 17, 40000, 5201, 0, 0);
    uint64_t seed = 3;
    for (int i = 0; i < 12000; i++) { /* a busy DNS server answering everything */
        uint32_t client = FH_IP(198, 18, 2, 0) + rng_next(&seed) % 3000;
        uint16_t cport = (uint16_t)(1024 + rng_next(&seed) % 60000);
        int64_t ts = FH_T0 + 5 * FH_US + i * 200;
        send_pkt(ctx, ts, client, FH_IP(198, 18, 0, 53), 17, cport, 53, 0, 0);
        send_pkt(ctx, ts + 50, FH_IP(198, 18, 0, 53), client, 17, 53, cport, 0, 0);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void icmp_flood_blames_the_sender_not_the_replier(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 15000; i++) { /* 5000 echo requests/s, all answered */
        send_pkt(ctx, FH_T0 + i * 200, ATTACKER, VICTIM, 1, 8, 0, 0, 8);
        send_pkt(ctx, FH_T0 + i * 200 + 50, VICTIM, ATTACKER, 1, 0, 0, 0, 0);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9200003);
    assert_memory_equal(ctx->alerts[0].src.bytes, fh_v4(ATTACKER).bytes, 4);
    assert_memory_equal(ctx->alerts[0].dst.bytes, fh_v4(VICTIM).bytes, 4);
    assert_non_null(strstr(ctx->alerts[0].meta_str, "replies=15000;"));
    fh_free(ctx);
}

/* 400 echo requests/s is below the 500/s flood rate: held for 10 s it is a
 * flood all the same; a 2-second burst at that rate is not. */
static void sustained_lower_rate_is_a_flood(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 800; i++)       /* 2 s at 400/s: too short */
        send_pkt(ctx, FH_T0 + i * 2500, ATTACKER, VICTIM, 1, 8, 0, 0, 8);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);

    ctx = fh_start(NULL, 0);
    for (int i = 0; i < 4000; i++)      /* 10 s at 400/s */
        send_pkt(ctx, FH_T0 + i * 2500, ATTACKER, VICTIM, 1, 8, 0, 0, 8);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9200003);
    assert_memory_equal(ctx->alerts[0].src.bytes, fh_v4(ATTACKER).bytes, 4);
    fh_free(ctx);

    ctx = fh_start(NULL, 0);
    for (int s = 0; s < 10; s++)        /* 250/s, below the sustained rate */
        for (int i = 0; i < 250; i++)
            send_pkt(ctx, FH_T0 + s * 1000000LL + i * 4000, ATTACKER, VICTIM, 1, 8, 0, 0, 8);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void long_flood_is_reported_once_per_interval(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 150 * 500; i++) /* 500 pps SYN flood for 150 s */
        send_pkt(ctx, FH_T0 + i * 2000, ATTACKER, VICTIM, 6, (uint16_t)i, 80, VIGIL_TCP_SYN, 0);
    fh_finish(ctx);
    /* at 10 s (report delay), at 70 s and 130 s (interval), then the rest at
     * the end would be younger than the interval: not reported */
    assert_int_equal(ctx->nalerts, 3);
    for (size_t i = 0; i < ctx->nalerts; i++)
        assert_int_equal(ctx->alerts[i].sid, 9200001);
    fh_free(ctx);
}

static void million_spoofed_victims_stay_bounded(void **st)
{
    (void)st;
    static const fh_setting conf[] = { { "max_victims", "1024" } };
    fh_host *ctx = fh_start(conf, 1);
    uint64_t seed = 11;
    for (int i = 0; i < 1000000; i++)  /* random sources to random targets */
        send_pkt(ctx, FH_T0 + i * 10, rng_next(&seed), rng_next(&seed) & 0xdfffffffu, 17,
                 (uint16_t)rng_next(&seed), 53, 0, 0);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    assert_non_null(strstr(ctx->last_log, "victims_tracked=1024 "));
    fh_free(ctx);
}

static void bad_config_refuses_the_load(void **st)
{
    (void)st;
    static const fh_setting conf[] = { { "syn_max_complete_percent", "101" } };
    fh_host *ctx = fh_new();
    fh_set_all(ctx, conf, 1);
    assert_int_not_equal(fh_init(ctx), VIGIL_OK);
    fh_free(ctx);
}

static void same_input_same_alerts(void **st)
{
    (void)st;
    char first[2][2048];
    for (int run = 0; run < 2; run++) {
        fh_host *ctx = fh_start(NULL, 0);
        uint64_t seed = 5;
        for (int i = 0; i < 6000; i++)
            send_pkt(ctx, FH_T0 + i * 300, rng_next(&seed), FH_IP(198, 18, 0, 1 + i % 3), 6,
                     (uint16_t)i, 25565, VIGIL_TCP_SYN, 0);
        fh_finish(ctx);
        assert_int_equal(ctx->nalerts, 3);
        snprintf(first[run], sizeof first[run], "%s|%s|%s", ctx->alerts[0].meta_str,
                 ctx->alerts[1].signature, ctx->alerts[2].signature);
        fh_free(ctx);
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
        cmocka_unit_test(sustained_lower_rate_is_a_flood),
        cmocka_unit_test(long_flood_is_reported_once_per_interval),
        cmocka_unit_test(million_spoofed_victims_stay_bounded),
        cmocka_unit_test(bad_config_refuses_the_load),
        cmocka_unit_test(same_input_same_alerts),
    };
    return cmocka_run_group_tests(tests, setup, fh_unload_group) != 0;
}
