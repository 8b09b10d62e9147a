/* test_progress.c - the replay progress line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "progress.h"

static void test_full_line(void **state)
{
    (void)state;
    char buf[256];
    /* 1 GiB of 2 GiB in 10 s, 3.5 M packets, 12 alerts: 10 s left. */
    size_t n = vigil_progress_format(buf, sizeof buf, 1ull << 30, 2ull << 30, 3500000, 12,
                                     10.0, 100);
    assert_int_equal(n, strlen(buf));
    assert_true(n <= 99);
    assert_non_null(strstr(buf, " 50.0%"));
    assert_non_null(strstr(buf, "1.00 GiB / 2.00 GiB"));
    assert_non_null(strstr(buf, "350k pkt/s"));
    assert_non_null(strstr(buf, "12 alerts"));
    assert_non_null(strstr(buf, "ETA 0:10"));
    assert_true(buf[0] == '[');
    /* Half the bar is filled. */
    const char *end = strchr(buf, ']');
    assert_non_null(end);
    size_t bar = (size_t)(end - buf - 1), fill = strspn(buf + 1, "=");
    assert_true(fill == bar / 2);
    for (const char *p = buf; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);     /* no control characters */
}

static void test_narrow_terminal(void **state)
{
    (void)state;
    char buf[256];
    size_t n = vigil_progress_format(buf, sizeof buf, 500, 1000, 10, 1, 2.0, 40);
    assert_true(n <= 39);
    assert_true(buf[0] != '[');                 /* no room: no bar */
    assert_non_null(strstr(buf, "50.0%"));
    n = vigil_progress_format(buf, sizeof buf, 500, 1000, 10, 1, 2.0, 200);
    assert_true(n <= 199);
    assert_non_null(strstr(buf, "1 alert "));  /* singular */
    /* The bar never grows past its maximum. */
    assert_true(strchr(buf, ']') - buf <= 41);
}

static void test_eta_and_edges(void **state)
{
    (void)state;
    char buf[256];
    /* Too early for an estimate. */
    vigil_progress_format(buf, sizeof buf, 10, 1000, 5, 0, 0.2, 120);
    assert_non_null(strstr(buf, "ETA --:--"));
    assert_non_null(strstr(buf, "0 alerts"));
    /* Done. */
    vigil_progress_format(buf, sizeof buf, 1000, 1000, 5, 0, 30, 120);
    assert_non_null(strstr(buf, "100.0%"));
    assert_non_null(strstr(buf, "ETA 0:00"));
    /* Estimates read past the total are clamped. */
    vigil_progress_format(buf, sizeof buf, 2000, 1000, 5, 0, 30, 120);
    assert_non_null(strstr(buf, "100.0%"));
    /* Hours. */
    vigil_progress_format(buf, sizeof buf, 1, 3601, 5, 0, 1.0, 120);
    assert_non_null(strstr(buf, "ETA 1:00:00"));
    /* Unknown total: bytes, rate, elapsed time. */
    vigil_progress_format(buf, sizeof buf, 1536, 0, 100, 2, 65, 120);
    assert_non_null(strstr(buf, "1.50 KiB read"));
    assert_non_null(strstr(buf, "1:05 elapsed"));
    assert_null(strchr(buf, '%'));
    /* A tiny buffer is never overrun. */
    char small[8];
    size_t n = vigil_progress_format(small, sizeof small, 1, 2, 3, 4, 5, 80);
    assert_true(n < sizeof small);
    assert_int_equal(n, strlen(small));
}

static void test_bytes(void **state)
{
    (void)state;
    char b[32];
    vigil_progress_bytes(b, sizeof b, 512);
    assert_string_equal(b, "512 B");
    vigil_progress_bytes(b, sizeof b, 1536);
    assert_string_equal(b, "1.50 KiB");
    vigil_progress_bytes(b, sizeof b, 50ull << 20);
    assert_string_equal(b, "50.0 MiB");
    vigil_progress_bytes(b, sizeof b, 200ull << 30);
    assert_string_equal(b, "200 GiB");
}

static void test_disabled_when_not_a_terminal(void **state)
{
    (void)state;
    struct vigil_progress p;
    FILE *f = tmpfile();
    assert_non_null(f);
    vigil_progress_init(&p, f, 0);
    assert_null(p.out);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(vigil_progress_tick(&p), 0);
    vigil_progress_draw(&p, 1, 2, 3, 1);
    vigil_progress_finish(&p);
    assert_int_equal(ftell(f), 0);              /* nothing written */
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_line),
        cmocka_unit_test(test_narrow_terminal),
        cmocka_unit_test(test_eta_and_edges),
        cmocka_unit_test(test_bytes),
        cmocka_unit_test(test_disabled_when_not_a_terminal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
