/* test_flow.c - the bounded flow table: keys, caps, expiry, eviction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/resource.h>

#include "flow.h"

static vigil_addr v4(uint32_t host_order)
{
    vigil_addr a;
    memset(&a, 0, sizeof a);
    a.family = 4;
    a.bytes[0] = (uint8_t)(host_order >> 24);
    a.bytes[1] = (uint8_t)(host_order >> 16);
    a.bytes[2] = (uint8_t)(host_order >> 8);
    a.bytes[3] = (uint8_t)host_order;
    return a;
}

static int g_released;

static void on_release(void *user, struct vigil_flow *f)
{
    (void)user;
    (void)f;
    g_released++;
}

static struct vigil_flow_table *table(size_t max, struct vigil_stats *st)
{
    static const int64_t timeouts[VIGIL_FLOWQ_COUNT] = { 60000000, 10000000, 1000000 };
    memset(st, 0, sizeof *st);
    g_released = 0;
    struct vigil_flow_table *t = vigil_flow_table_new(max, 2, timeouts, on_release, NULL, st);
    assert_non_null(t);
    return t;
}

static void test_both_directions_share_one_flow(void **state)
{
    (void)state;
    struct vigil_stats st;
    struct vigil_flow_table *t = table(16, &st);
    vigil_addr a = v4(0xc6120001), b = v4(0xc6120002);
    struct vigil_flow *f1 = vigil_flow_get(t, &a, &b, 40000, 80, 6, 1, 1);
    struct vigil_flow *f2 = vigil_flow_get(t, &b, &a, 80, 40000, 6, 2, 1);
    assert_ptr_equal(f1, f2);
    assert_int_equal(f1->last_us, 2);
    assert_int_equal(f1->queue, VIGIL_FLOWQ_TCP);
    /* Other protocol or port: another flow. */
    assert_ptr_not_equal(vigil_flow_get(t, &a, &b, 40000, 80, 17, 3, 1), f1);
    assert_ptr_not_equal(vigil_flow_get(t, &a, &b, 40001, 80, 6, 3, 1), f1);
    assert_null(vigil_flow_get(t, &a, &b, 40002, 80, 6, 3, 0));
    assert_int_equal(vigil_flow_count(t), 3);
    assert_int_equal(st.flows_created, 3);
    /* Same flow, same id, in both directions; differs from others. */
    assert_true(f1->flow_id != 0);
    vigil_flow_table_free(t);
    assert_int_equal(g_released, 3);
}

static void test_ipv6_keys(void **state)
{
    (void)state;
    struct vigil_stats st;
    struct vigil_flow_table *t = table(16, &st);
    vigil_addr a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.family = b.family = 6;
    a.bytes[0] = b.bytes[0] = 0x20;
    a.bytes[15] = 1;
    b.bytes[15] = 2;
    struct vigil_flow *f = vigil_flow_get(t, &a, &b, 1, 2, 6, 1, 1);
    assert_ptr_equal(vigil_flow_get(t, &b, &a, 2, 1, 6, 1, 1), f);
    b.bytes[8] = 9;     /* differs only in the second half */
    assert_ptr_not_equal(vigil_flow_get(t, &a, &b, 1, 2, 6, 1, 1), f);
    vigil_flow_table_free(t);
}

static void test_idle_flows_expire_by_queue(void **state)
{
    (void)state;
    struct vigil_stats st;
    struct vigil_flow_table *t = table(16, &st);
    vigil_addr a = v4(0xc6120001), b = v4(0xc6120002);
    vigil_flow_get(t, &a, &b, 1, 53, 17, 0, 1);             /* other: 10 s */
    struct vigil_flow *tcp = vigil_flow_get(t, &a, &b, 2, 80, 6, 0, 1);  /* 60 s */
    vigil_flow_expire(t, 10000000);
    assert_int_equal(vigil_flow_count(t), 2);
    vigil_flow_expire(t, 10000001);
    assert_int_equal(vigil_flow_count(t), 1);
    assert_int_equal(st.flows_expired, 1);
    /* Traffic keeps a flow alive. */
    vigil_flow_get(t, &a, &b, 2, 80, 6, 50000000, 1);
    vigil_flow_expire(t, 70000000);
    assert_int_equal(vigil_flow_count(t), 1);
    /* Once closed (at its last packet), it goes after the closed timeout
     * even with traffic. */
    assert_ptr_equal(vigil_flow_get(t, &a, &b, 2, 80, 6, 70000000, 1), tcp);
    vigil_flow_closed(t, tcp);
    assert_int_equal(tcp->queue, VIGIL_FLOWQ_CLOSED);
    vigil_flow_get(t, &a, &b, 2, 80, 6, 70500000, 1);
    vigil_flow_expire(t, 70500000);
    assert_int_equal(vigil_flow_count(t), 1);
    vigil_flow_expire(t, 71000001);
    assert_int_equal(vigil_flow_count(t), 0);
    assert_int_equal(st.flows_expired, 2);
    vigil_flow_table_free(t);
}

static void test_cap_evicts_and_prefers_idle(void **state)
{
    (void)state;
    struct vigil_stats st;
    struct vigil_flow_table *t = table(4, &st);
    vigil_addr a = v4(0xc6120001), b = v4(0xc6120002);
    struct vigil_flow *busy = vigil_flow_get(t, &a, &b, 1, 80, 6, 1, 1);
    for (uint16_t p = 2; p <= 4; p++)
        vigil_flow_get(t, &a, &b, p, 80, 6, p, 1);
    vigil_flow_get(t, &a, &b, 1, 80, 6, 10, 1);    /* the oldest is busy again */
    vigil_flow_get(t, &a, &b, 5, 80, 6, 11, 1);    /* full: evict an idle one */
    assert_int_equal(vigil_flow_count(t), 4);
    assert_int_equal(st.flows_evicted, 1);
    assert_ptr_equal(vigil_flow_get(t, &a, &b, 1, 80, 6, 12, 0), busy);
    assert_null(vigil_flow_get(t, &a, &b, 2, 80, 6, 12, 0));
    assert_int_equal(g_released, 1);
    vigil_flow_table_free(t);
}

/* A flood of spoofed sources never holds more than the cap. */
static void test_spoofed_flood_stays_under_cap(void **state)
{
    (void)state;
    struct vigil_stats st;
    struct vigil_flow_table *t = table(1024, &st);
    vigil_addr dst = v4(0xc6130001);
    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before);
    for (uint32_t i = 0; i < 1000000; i++) {
        vigil_addr src = v4(0xc6120000u + i);
        assert_non_null(vigil_flow_get(t, &src, &dst, 1024, 80, 6, i, 1));
        assert_true(vigil_flow_count(t) <= 1024);
    }
    getrusage(RUSAGE_SELF, &after);
    assert_int_equal(st.flows_created, 1000000);
    assert_int_equal(st.flows_evicted, 1000000 - 1024);
    assert_int_equal(st.flows_active, 1024);
    /* Reused entries: the flood costs (almost) no memory. */
    assert_true(after.ru_maxrss - before.ru_maxrss < 8 * 1024);
    vigil_flow_table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_both_directions_share_one_flow),
        cmocka_unit_test(test_ipv6_keys),
        cmocka_unit_test(test_idle_flows_expire_by_queue),
        cmocka_unit_test(test_cap_evicts_and_prefers_idle),
        cmocka_unit_test(test_spoofed_flood_stays_under_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
