/*
 * test_slowhttp.c - the slowhttp plugin driven through its ABI by the fake host
 * (tests/unit/support/fake_host.h), replaying reassembled-stream events:
 * configuration from a table, alerts collected, a small flow map, ticks once
 * per second of packet time.
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
    return fh_load("slowhttp");
}

#define ATT FH_IP(198, 18, 0, 10)
#define SRV FH_IP(198, 18, 0, 20)
#define NCONN 40

/* NCONN slowloris connections: a partial request, then one header line every 5 s. */
static void slowloris(fh_host *ctx, fh_conn *c, int64_t until)
{
    for (int i = 0; i < NCONN; i++) {
        c[i] = fh_conn_v4(ATT, SRV, (uint16_t)(40000 + i), 80);
        fh_conn_open(ctx, &c[i], FH_T0 + i * 10000);
        fh_conn_send(ctx, &c[i], FH_T0 + i * 10000 + 1, VIGIL_DIR_TO_SERVER,
                 "GET /?123 HTTP/1.1\r\nHost: v\r\nUser-Agent: x\r\n");
    }
    for (int64_t t = FH_T0 + 5 * FH_US; t < until; t += 5 * FH_US)
        for (int i = 0; i < NCONN; i++)
            fh_conn_send(ctx, &c[i], t + i * 10000, VIGIL_DIR_TO_SERVER, "X-a: 1\r\n");
}

static void test_slowloris_alerts_once(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    fh_conn c[NCONN];
    slowloris(ctx, c, FH_T0 + 60 * FH_US);
    fh_advance(ctx, FH_T0 + 61 * FH_US);
    assert_int_equal(ctx->nalerts, 1);
    const fh_alert *a = &ctx->alerts[0];
    assert_int_equal(a->sid, 9310001);
    assert_string_equal(a->attack_technique, "slow_http_headers");
    assert_memory_equal(a->src.bytes, fh_v4(ATT).bytes, 4);
    assert_memory_equal(a->dst.bytes, fh_v4(SRV).bytes, 4);
    assert_string_equal(fh_meta(a, "incomplete_aged"), "40");
    assert_string_equal(fh_meta(a, "dst_port"), "80");
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    fh_free(ctx);
}

static void test_completed_requests_are_silent(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    fh_conn c[NCONN];
    slowloris(ctx, c, FH_T0 + 6 * FH_US);
    /* every request completes before it is min_age_sec old */
    for (int i = 0; i < NCONN; i++)
        fh_conn_send(ctx, &c[i], FH_T0 + 7 * FH_US + i, VIGIL_DIR_TO_SERVER, "\r\n");
    /* ordinary browsing: many complete requests, long-lived keep-alive */
    for (int i = 0; i < 100; i++) {
        fh_conn b = fh_conn_v4(FH_IP(198, 18, 0, 11), SRV, (uint16_t)(50000 + i), 80);
        fh_conn_open(ctx, &b, FH_T0 + 8 * FH_US + i);
        fh_conn_send(ctx, &b, FH_T0 + 8 * FH_US + i, VIGIL_DIR_TO_SERVER, "GET / HTTP/1.1\r\nHost: v\r\n\r\n");
    }
    fh_advance(ctx, FH_T0 + 120 * FH_US);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void test_closed_connections_do_not_count(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    fh_conn c[NCONN];
    slowloris(ctx, c, FH_T0 + 6 * FH_US);
    for (int i = 0; i < NCONN; i++)
        fh_conn_close(ctx, &c[i], FH_T0 + 7 * FH_US + i);
    fh_advance(ctx, FH_T0 + 60 * FH_US);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void test_slow_post_body(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    fh_conn c[NCONN];
    for (int i = 0; i < NCONN; i++) {
        c[i] = fh_conn_v4(ATT, SRV, (uint16_t)(41000 + i), 8080);
        fh_conn_open(ctx, &c[i], FH_T0 + i * 1000);
        fh_conn_send(ctx, &c[i], FH_T0 + i * 1000 + 1, VIGIL_DIR_TO_SERVER,
                 "POST /form HTTP/1.1\r\nHost: v\r\nContent-Length: 100000\r\n\r\nab");
    }
    for (int64_t t = FH_T0 + 2 * FH_US; t < FH_T0 + 30 * FH_US; t += 2 * FH_US)
        for (int i = 0; i < NCONN; i++)
            fh_conn_send(ctx, &c[i], t + i, VIGIL_DIR_TO_SERVER, "c");
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9310002);
    assert_string_equal(ctx->alerts[0].attack_technique, "slow_http_body");
    fh_free(ctx);
}

static void test_caps_bound_memory(void **st)
{
    (void)st;
    fh_setting conf[] = { { "max_pairs", "64" }, { "max_conns", "128" } };
    fh_host *ctx = fh_start(conf, 2);
    for (uint32_t i = 0; i < 100000; i++) {
        fh_conn c = fh_conn_v4(FH_IP(198, 18, 0, 0) + 256 + i, SRV, 40000, 80);
        int64_t t = FH_T0 + (int64_t)i * 100;
        fh_conn_open(ctx, &c, t);
        fh_conn_send(ctx, &c, t + 1, VIGIL_DIR_TO_SERVER, "GET / HTTP/1.1\r\n");
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    assert_non_null(strstr(ctx->last_log, "pairs=64 "));
    assert_null(strstr(ctx->last_log, "conns_refused=0"));
    fh_free(ctx);
}

static void test_hostile_bytes(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    static char junk[9000];
    uint32_t x = 99;
    for (int round = 0; round < 40; round++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (char)(x >> 16);
        }
        memcpy(junk, round % 2 ? "GET " : "POST ", round % 2 ? 4 : 5);
        fh_conn c = fh_conn_v4(ATT, SRV, (uint16_t)(48000 + round), 80);
        fh_conn_open(ctx, &c, FH_T0 + round * 1000);
        fh_conn_event(ctx, &c, FH_T0 + round * 1000 + 1, VIGIL_STREAM_DATA, VIGIL_DIR_TO_SERVER, junk,
                     (size_t)(round * 200 + 5));
        fh_conn_event(ctx, &c, FH_T0 + round * 1000 + 2, VIGIL_STREAM_DATA, VIGIL_DIR_TO_SERVER, junk,
                     sizeof junk);
    }
    fh_finish(ctx);
    fh_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slowloris_alerts_once),
        cmocka_unit_test(test_completed_requests_are_silent),
        cmocka_unit_test(test_closed_connections_do_not_count),
        cmocka_unit_test(test_slow_post_body),
        cmocka_unit_test(test_caps_bound_memory),
        cmocka_unit_test(test_hostile_bytes),
    };
    return cmocka_run_group_tests(tests, setup, fh_unload_group) != 0;
}
