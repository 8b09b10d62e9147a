/* test_alert_filter.c - address lists, allow lists and deduplication. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "addrset.h"
#include "alert_filter.h"

static vigil_addr addr(const char *text)
{
    vigil_addr a;
    memset(&a, 0, sizeof a);
    if (inet_pton(AF_INET, text, a.bytes) == 1)
        a.family = 4;
    else if (inet_pton(AF_INET6, text, a.bytes) == 1)
        a.family = 6;
    return a;
}

static void test_addrset_matches_networks(void **state)
{
    (void)state;
    struct vigil_addrset s;
    char err[256];
    assert_int_equal(vigil_addrset_parse(&s, "198.18.0.0/15, 10.1.2.3 2001:db8::/32,,fe80::1/128",
                                         err, sizeof err), 0);
    assert_int_equal(s.count, 4);
    vigil_addr yes[] = { addr("198.18.0.1"), addr("198.19.255.255"), addr("10.1.2.3"),
                         addr("2001:db8:ffff::1"), addr("fe80::1") };
    vigil_addr no[] = { addr("198.20.0.0"), addr("198.17.255.255"), addr("10.1.2.4"),
                        addr("2001:db9::1"), addr("fe80::2") };
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(vigil_addrset_contains(&s, &yes[i]), 1);
        assert_int_equal(vigil_addrset_contains(&s, &no[i]), 0);
    }
    vigil_addrset_free(&s);
    assert_int_equal(vigil_addrset_parse(&s, "/8 bad", err, sizeof err), -1);
    assert_non_null(strstr(err, "'/8' is not an address or network"));
    assert_int_equal(vigil_addrset_parse(&s, "10.0.0.0/33", err, sizeof err), -1);
    assert_int_equal(vigil_addrset_parse(&s, "::/129", err, sizeof err), -1);
    assert_int_equal(vigil_addrset_parse(&s, "10.0.0.0/8x", err, sizeof err), -1);
    assert_int_equal(vigil_addrset_parse(&s, "", err, sizeof err), 0);
    assert_int_equal(s.count, 0);
    vigil_addrset_free(&s);
}

static vigil_alert alert(const char *src, const char *dst, const char *tech, int64_t ts)
{
    vigil_alert a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.signature = "TEST";
    a.attack_technique = tech;
    a.src = addr(src);
    a.dst = addr(dst);
    a.ts_us = ts;
    return a;
}

static struct vigil_alert_filter *filter(const char *text, struct vigil_config *cfg)
{
    static const char *const names[] = { "one", "two" };
    char err[256];
    vigil_config_init(cfg);
    assert_int_equal(vigil_config_parse(cfg, "t.conf", text, strlen(text), err, sizeof err), 0);
    return vigil_alert_filter_new(cfg, names, 2, err, sizeof err);
}

static void test_allow_lists(void **state)
{
    (void)state;
    struct vigil_config cfg;
    struct vigil_stats st;
    memset(&st, 0, sizeof st);
    struct vigil_alert_filter *f = filter("[vigil]\nallow_src = 198.18.0.53\nalert_dedup_sec = 0\n"
                                          "[two]\nallow_dst = 198.19.0.0/16\n", &cfg);
    assert_non_null(f);
    vigil_alert a = alert("198.18.0.53", "198.18.0.1", "x", 1);
    assert_int_equal(vigil_alert_filter_pass(f, 0, &a, &st), 0);
    a = alert("198.18.0.54", "198.19.0.1", "x", 1);
    assert_int_equal(vigil_alert_filter_pass(f, 0, &a, &st), 1);   /* [two] only */
    assert_int_equal(vigil_alert_filter_pass(f, 1, &a, &st), 0);
    assert_int_equal(st.alerts_suppressed, 2);
    vigil_alert_filter_free(f);
    vigil_config_free(&cfg);
}

static void test_bad_list_names_file_and_line(void **state)
{
    (void)state;
    struct vigil_config cfg;
    static const char *const names[] = { "one" };
    char err[256];
    const char *text = "[one]\n\nallow_src = 10.0.0.0/8, nonsense\n";
    vigil_config_init(&cfg);
    assert_int_equal(vigil_config_parse(&cfg, "t.conf", text, strlen(text), err, sizeof err), 0);
    assert_null(vigil_alert_filter_new(&cfg, names, 1, err, sizeof err));
    assert_non_null(strstr(err, "t.conf:3: allow_src: 'nonsense'"));
    vigil_config_free(&cfg);
}

static void test_dedup_window(void **state)
{
    (void)state;
    struct vigil_config cfg;
    struct vigil_stats st;
    memset(&st, 0, sizeof st);
    struct vigil_alert_filter *f = filter("[vigil]\nalert_dedup_sec = 60\n", &cfg);
    vigil_alert a = alert("198.18.0.1", "198.18.0.2", "syn", 0);
    assert_int_equal(vigil_alert_filter_pass(f, 0, &a, &st), 1);
    a.ts_us = 59000000;
    assert_int_equal(vigil_alert_filter_pass(f, 0, &a, &st), 0);
    vigil_alert other = alert("198.18.0.1", "198.18.0.2", "fin", 59000000);
    assert_int_equal(vigil_alert_filter_pass(f, 0, &other, &st), 1);   /* technique */
    assert_int_equal(vigil_alert_filter_pass(f, 1, &a, &st), 1);       /* detector */
    a.ts_us = 61000000;
    assert_int_equal(vigil_alert_filter_pass(f, 0, &a, &st), 1);       /* window over */
    assert_int_equal(st.alerts_deduplicated, 1);
    vigil_alert_filter_free(f);
    vigil_config_free(&cfg);
}

static void test_dedup_per_detector(void **state)
{
    (void)state;
    struct vigil_config cfg;
    struct vigil_stats st;
    memset(&st, 0, sizeof st);
    struct vigil_alert_filter *f = filter("[vigil]\nalert_dedup_sec = 60\n[two]\nalert_dedup_sec = 0\n",
                                          &cfg);
    vigil_alert a = alert("198.18.0.1", "198.18.0.2", "syn", 0);
    assert_int_equal(vigil_alert_filter_pass(f, 1, &a, &st), 1);
    assert_int_equal(vigil_alert_filter_pass(f, 1, &a, &st), 1);   /* [two]: never folded */
    assert_int_equal(vigil_alert_filter_pass(f, 0, &a, &st), 1);
    assert_int_equal(vigil_alert_filter_pass(f, 0, &a, &st), 0);   /* [one]: the core's 60 s */
    assert_int_equal(st.alerts_deduplicated, 1);
    vigil_alert_filter_free(f);
    vigil_config_free(&cfg);
}

/* A flood of distinct alerts cannot grow the table past dedup_max. */
static void test_dedup_bounded(void **state)
{
    (void)state;
    struct vigil_config cfg;
    struct vigil_stats st;
    memset(&st, 0, sizeof st);
    struct vigil_alert_filter *f = filter("[vigil]\ndedup_max = 16\n", &cfg);
    for (uint32_t i = 0; i < 100000; i++) {
        vigil_alert a = alert("198.18.0.1", "198.18.0.2", "x", i);
        memcpy(a.src.bytes, &i, 4);
        assert_int_equal(vigil_alert_filter_pass(f, 0, &a, &st), 1);
    }
    assert_int_equal(st.alerts_deduplicated, 0);
    vigil_alert_filter_free(f);
    vigil_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addrset_matches_networks),
        cmocka_unit_test(test_allow_lists),
        cmocka_unit_test(test_bad_list_names_file_and_line),
        cmocka_unit_test(test_dedup_window),
        cmocka_unit_test(test_dedup_per_detector),
        cmocka_unit_test(test_dedup_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
