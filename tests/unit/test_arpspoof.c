/*
 * test_arpspoof.c - the arpspoof plugin through its ABI with the fake host
 * (tests/unit/support/fake_host.h): defaults for every setting, alerts
 * collected.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_host.h"

static int setup(void **st)
{
    (void)st;
    return fh_load("arpspoof");
}

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void arp(fh_host *ctx, int64_t t, uint16_t op, const uint8_t *eth, const uint8_t *sha,
                uint8_t spa, uint8_t tpa, const uint8_t *dst)
{
    vigil_packet p = fh_arp(FH_T0 + t, op, fh_v4(FH_IP(198, 18, 20, spa)),
                            fh_v4(FH_IP(198, 18, 20, tpa)), sha, eth, dst);
    fh_packet(ctx, &p);
}

static const uint8_t GW[6] = { 2, 0, 0, 0, 0, 254 }, VIC[6] = { 2, 0, 0, 0, 0, 147 },
                     ATT[6] = { 2, 0, 0, 0, 0, 23 };

static void test_poisoning_names_attacker(void **st)
{
    fh_host *ctx = *st;
    arp(ctx, 0, 1, VIC, VIC, 147, 254, BCAST);          /* victim asks for the gateway */
    arp(ctx, 1000, 2, GW, GW, 254, 147, VIC);           /* gateway answers */
    arp(ctx, FH_US, 1, ATT, ATT, 23, 147, BCAST);          /* attacker shows its own IP */
    arp(ctx, 2 * FH_US, 2, ATT, ATT, 254, 147, VIC);       /* forged: gateway is at ATT */
    for (int i = 3; i < 10; i++)
        arp(ctx, i * FH_US, 2, ATT, ATT, 254, 147, VIC);
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9500001);
    assert_int_equal(ctx->alerts[0].src.bytes[3], 23);
    assert_int_equal(ctx->alerts[0].dst.bytes[3], 147);
}

static void test_normal_resolution_silent(void **st)
{
    fh_host *ctx = *st;
    for (int i = 0; i < 100; i++) {
        arp(ctx, i * 10 * FH_US, 1, VIC, VIC, 147, 254, BCAST);
        arp(ctx, i * 10 * FH_US + 1000, 2, GW, GW, 254, 147, VIC);
    }
    arp(ctx, 2000 * FH_US, 1, ATT, ATT, 23, 23, BCAST);    /* one gratuitous ARP */
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 0);
}

static void test_one_binding_change_silent(void **st)
{
    fh_host *ctx = *st;
    arp(ctx, 0, 1, GW, GW, 254, 254, BCAST);            /* announce */
    arp(ctx, 10 * FH_US, 1, ATT, ATT, 254, 254, BCAST);    /* failover: a new MAC announces */
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 0);
}

static void test_gratuitous_storm(void **st)
{
    fh_host *ctx = *st;
    for (int i = 0; i < 40; i++)
        arp(ctx, i * 100000, 1, ATT, ATT, 23, 23, BCAST);
    fh_end(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9500002);
}

/* A million spoofed MACs and IPs: fixed rings, no growth, no crash. */
static void test_spoofed_flood_bounded(void **st)
{
    fh_host *ctx = *st;
    for (uint32_t i = 0; i < 1000000; i++) {
        uint8_t mac[6] = { 2, 1, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i, 1 };
        arp(ctx, (int64_t)i * 10, 2, mac, mac, (uint8_t)(i % 250 + 1), 147, VIC);
    }
    fh_end(ctx);
    assert_true(ctx->nalerts <= 64);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fh_setup_host, fh_teardown_host)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_poisoning_names_attacker), T(test_normal_resolution_silent),
        T(test_one_binding_change_silent), T(test_gratuitous_storm), T(test_spoofed_flood_bounded),
    };
    return cmocka_run_group_tests(tests, setup, fh_unload_group) != 0;
}
