/* test_fragbudget.c - the cap on datagrams waiting in libnids' defragmenter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fragbudget.h"

static uint8_t g_hdr[20];

/* A TCP fragment of datagram `id` from 198.18.x.y to 198.18.0.1. */
static vigil_packet frag(uint32_t src, uint16_t id, uint16_t offset, uint32_t len, int more,
                         int64_t ts)
{
    vigil_packet p;
    memset(&p, 0, sizeof p);
    p.size = sizeof p;
    p.flags = VIGIL_PKT_FRAGMENT | (offset == 0 ? VIGIL_PKT_FRAG_FIRST : 0);
    p.l3 = VIGIL_L3_IPV4;
    p.ip_proto = 6;
    p.ip_id = id;
    p.frag_offset = offset;
    p.ts_us = ts;
    p.src.family = p.dst.family = 4;
    p.src.bytes[0] = 198, p.src.bytes[1] = 18;
    p.src.bytes[2] = (uint8_t)(src >> 8), p.src.bytes[3] = (uint8_t)src;
    p.dst.bytes[0] = 198, p.dst.bytes[1] = 18, p.dst.bytes[3] = 1;
    memset(g_hdr, 0, sizeof g_hdr);
    g_hdr[6] = more ? 0x20 : 0;
    g_hdr[9] = 6;
    p.l3_hdr = g_hdr;
    p.payload_len = p.payload_wire_len = len;
    return p;
}

static void test_cap_holds_and_completion_frees(void **state)
{
    (void)state;
    struct vigil_fragbudget *b = vigil_fragbudget_new(64);
    assert_non_null(b);
    int admitted = 0;
    for (uint32_t i = 0; i < 10000; i++) {  /* first fragments that never complete */
        vigil_packet p = frag(i, (uint16_t)i, 0, 1480, 1, 0);
        admitted += vigil_fragbudget_admit(b, &p, 0);
    }
    assert_int_equal(vigil_fragbudget_count(b), 64);
    assert_int_equal(admitted, 64);
    /* A tracked datagram's other fragments are admitted; completing it frees
     * its slot for a new datagram. */
    /* (frag() reuses one header buffer: build each packet just before use.) */
    vigil_packet middle = frag(0, 0, 1480, 1480, 1, 0);
    assert_int_equal(vigil_fragbudget_admit(b, &middle, 0), 1);
    assert_int_equal(vigil_fragbudget_count(b), 64);
    vigil_packet last = frag(0, 0, 2960, 20, 0, 0);
    assert_int_equal(vigil_fragbudget_admit(b, &last, 0), 1);
    assert_int_equal(vigil_fragbudget_count(b), 63);
    vigil_fragbudget_free(b);
}

static void test_expiry_needs_both_clocks(void **state)
{
    (void)state;
    struct vigil_fragbudget *b = vigil_fragbudget_new(16);
    for (uint32_t i = 0; i < 16; i++) {
        vigil_packet p = frag(i, 7, 0, 1480, 1, 0);
        assert_int_equal(vigil_fragbudget_admit(b, &p, 0), 1);
    }
    /* 60 s of packet time but no wall time: libnids still holds them. */
    vigil_packet late = frag(500, 7, 0, 1480, 1, 60000000);
    assert_int_equal(vigil_fragbudget_admit(b, &late, 1000), 0);
    /* Both clocks past 30 s: the old datagrams make room (probing releases
     * the expired entries it meets). */
    int admitted = 0;
    for (uint32_t i = 1000; i < 1100; i++) {
        vigil_packet p = frag(i, 7, 0, 1480, 1, 60000000);
        admitted += vigil_fragbudget_admit(b, &p, 31000000);
    }
    assert_true(admitted > 0);
    assert_true(vigil_fragbudget_count(b) <= 16);
    vigil_fragbudget_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_holds_and_completion_frees),
        cmocka_unit_test(test_expiry_needs_both_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
