/*
 * test_bruteforce.c - the bruteforce plugin driven through its ABI by the fake host
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
    return fh_load("bruteforce");
}

#define ATT FH_IP(198, 18, 0, 10)
#define SRV FH_IP(198, 18, 0, 20)

/* One FTP connection with `tries` failed USER/PASS pairs. */
static void ftp_session(fh_host *ctx, uint16_t cport, int64_t t, int tries, const char *user)
{
    fh_conn c = fh_conn_v4(ATT, SRV, cport, 21);
    char line[64];
    fh_conn_open(ctx, &c, t);
    fh_conn_send(ctx, &c, t + 1000, VIGIL_DIR_TO_CLIENT, "220 (vsFTPd 3.0.3)\r\n");
    for (int i = 0; i < tries; i++) {
        int64_t ti = t + 10000 + i * 100000;
        snprintf(line, sizeof line, "USER %s\r\n", user);
        fh_conn_send(ctx, &c, ti, VIGIL_DIR_TO_SERVER, line);
        fh_conn_send(ctx, &c, ti + 1000, VIGIL_DIR_TO_CLIENT, "331 Please specify the password.\r\n");
        /* the command arrives split over two segments */
        fh_conn_send(ctx, &c, ti + 2000, VIGIL_DIR_TO_SERVER, "PA");
        fh_conn_send(ctx, &c, ti + 2500, VIGIL_DIR_TO_SERVER, "SS secret\r\n");
        fh_conn_send(ctx, &c, ti + 50000, VIGIL_DIR_TO_CLIENT, "530 Login incorrect.\r\n");
    }
    fh_conn_close(ctx, &c, t + 10000 + tries * 100000);
}

static void test_ftp_guessing_alerts_once_with_counts(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 8; i++)
        ftp_session(ctx, (uint16_t)(40000 + i), FH_T0 + i * 400000, 2, "admin");
    fh_advance(ctx, FH_T0 + 30 * FH_US);
    assert_int_equal(ctx->nalerts, 1);
    const fh_alert *a = &ctx->alerts[0];
    assert_int_equal(a->sid, 9300001);
    assert_string_equal(a->attack_technique, "ftp_password_guessing");
    assert_memory_equal(a->src.bytes, fh_v4(ATT).bytes, 4);
    assert_memory_equal(a->dst.bytes, fh_v4(SRV).bytes, 4);
    assert_string_equal(fh_meta(a, "failed_logins"), "16");
    assert_string_equal(fh_meta(a, "connections"), "8");
    assert_string_equal(fh_meta(a, "usernames"), "admin");
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    fh_free(ctx);
}

static void test_single_failure_is_silent(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    ftp_session(ctx, 40000, FH_T0, 1, "hello");
    /* a few more, but below the threshold, spread beyond the window */
    for (int i = 1; i < 6; i++)
        ftp_session(ctx, (uint16_t)(40000 + i), FH_T0 + i * 200 * FH_US, 1, "alice");
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void test_http_basic_401(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 10; i++) {
        fh_conn c = fh_conn_v4(ATT, SRV, (uint16_t)(50000 + i), 80);
        int64_t t = FH_T0 + i * 200000;
        fh_conn_open(ctx, &c, t);
        fh_conn_send(ctx, &c, t + 100, VIGIL_DIR_TO_SERVER,
                 "GET /admin/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46cGFzcw==\r\n");
        fh_conn_send(ctx, &c, t + 200, VIGIL_DIR_TO_SERVER, "\r\n");
        fh_conn_send(ctx, &c, t + 900, VIGIL_DIR_TO_CLIENT,
                 "HTTP/1.1 401 Unauthorized\r\nContent-Length: 5\r\n\r\nno!\r\n");
        fh_conn_close(ctx, &c, t + 1000);
    }
    /* a benign client: a 401 without credentials, then 200 with them */
    fh_conn b = fh_conn_v4(FH_IP(198, 18, 0, 11), SRV, 50100, 80);
    fh_conn_open(ctx, &b, FH_T0 + 3 * FH_US);
    fh_conn_send(ctx, &b, FH_T0 + 3 * FH_US, VIGIL_DIR_TO_SERVER, "GET /admin/ HTTP/1.1\r\nHost: x\r\n\r\n");
    fh_conn_send(ctx, &b, FH_T0 + 3 * FH_US + 10, VIGIL_DIR_TO_CLIENT,
             "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9300002);
    assert_string_equal(fh_meta(&ctx->alerts[0], "failed_logins"), "10");
    assert_string_equal(fh_meta(&ctx->alerts[0], "usernames"), "admin");
    fh_free(ctx);
}

static void test_smtp_pop3_imap_telnet(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 7; i++) {
        int64_t t = FH_T0 + i * 300000;
        fh_conn s = fh_conn_v4(ATT, SRV, (uint16_t)(41000 + i), 25);
        fh_conn_open(ctx, &s, t);
        fh_conn_send(ctx, &s, t + 1, VIGIL_DIR_TO_CLIENT, "220 mx ESMTP\r\n");
        fh_conn_send(ctx, &s, t + 2, VIGIL_DIR_TO_SERVER, "AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n");
        fh_conn_send(ctx, &s, t + 3, VIGIL_DIR_TO_CLIENT, "535 5.7.8 Authentication failed\r\n");
        fh_conn_close(ctx, &s, t + 4);
        fh_conn p = fh_conn_v4(ATT, SRV, (uint16_t)(42000 + i), 110);
        fh_conn_open(ctx, &p, t);
        fh_conn_send(ctx, &p, t + 1, VIGIL_DIR_TO_CLIENT, "+OK ready\r\n");
        fh_conn_send(ctx, &p, t + 2, VIGIL_DIR_TO_SERVER, "USER carol\r\n");
        fh_conn_send(ctx, &p, t + 3, VIGIL_DIR_TO_CLIENT, "+OK\r\n");
        fh_conn_send(ctx, &p, t + 4, VIGIL_DIR_TO_SERVER, "PASS x\r\n");
        fh_conn_send(ctx, &p, t + 5, VIGIL_DIR_TO_CLIENT, "-ERR auth failed\r\n");
        fh_conn_close(ctx, &p, t + 6);
        fh_conn m = fh_conn_v4(ATT, SRV, (uint16_t)(43000 + i), 143);
        fh_conn_open(ctx, &m, t);
        fh_conn_send(ctx, &m, t + 1, VIGIL_DIR_TO_CLIENT, "* OK IMAP ready\r\n");
        fh_conn_send(ctx, &m, t + 2, VIGIL_DIR_TO_SERVER, "a1 LOGIN \"dave\" pw\r\n");
        fh_conn_send(ctx, &m, t + 3, VIGIL_DIR_TO_CLIENT, "* BYE\r\na1 NO [AUTHENTICATIONFAILED]\r\n");
        fh_conn_close(ctx, &m, t + 4);
        fh_conn n = fh_conn_v4(ATT, SRV, (uint16_t)(44000 + i), 23);
        fh_conn_open(ctx, &n, t);
        fh_conn_send(ctx, &n, t + 1, VIGIL_DIR_TO_CLIENT, "\xff\xfd\x18login: ");
        fh_conn_send(ctx, &n, t + 2, VIGIL_DIR_TO_SERVER, "root\r\n");
        fh_conn_send(ctx, &n, t + 3, VIGIL_DIR_TO_CLIENT, "Password: \r\n\r\nLogin incorrect\r\n");
        fh_conn_close(ctx, &n, t + 4);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 4);
    uint32_t want[4] = { 9300004, 9300005, 9300006, 9300003 };
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ctx->alerts[i].sid, want[i]);
        assert_string_equal(fh_meta(&ctx->alerts[i], "failed_logins"), "7");
    }
    assert_string_equal(fh_meta(&ctx->alerts[0], "usernames"), "bob");
    assert_string_equal(fh_meta(&ctx->alerts[1], "usernames"), "carol");
    assert_string_equal(fh_meta(&ctx->alerts[2], "usernames"), "dave");
    fh_free(ctx);
}

static char big[4096];

static void ssh_session(fh_host *ctx, uint32_t client, uint16_t cport, int64_t t, size_t kex,
                        int64_t dur)
{
    fh_conn c = fh_conn_v4(client, SRV, cport, 22);
    fh_conn_open(ctx, &c, t);
    fh_conn_send(ctx, &c, t + 1, VIGIL_DIR_TO_CLIENT, "SSH-2.0-OpenSSH_9.2\r\n");
    fh_conn_send(ctx, &c, t + 2, VIGIL_DIR_TO_SERVER, "SSH-2.0-libssh_0.11\r\n");
    fh_conn_event(ctx, &c, t + 3, VIGIL_STREAM_DATA, VIGIL_DIR_TO_SERVER, big, kex);
    fh_conn_event(ctx, &c, t + 4, VIGIL_STREAM_DATA, VIGIL_DIR_TO_CLIENT, big, kex + 300);
    fh_conn_close(ctx, &c, t + dur);
}

static void test_ssh_short_sessions(void **st)
{
    (void)st;
    memset(big, 'x', sizeof big);
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 9; i++)
        ssh_session(ctx, ATT, (uint16_t)(45000 + i), FH_T0 + i * 100000, 1100 + (size_t)i * 20,
                    200000);
    /* an admin: two sessions, one long */
    ssh_session(ctx, FH_IP(198, 18, 0, 12), 46000, FH_T0, 1200, 200000);
    ssh_session(ctx, FH_IP(198, 18, 0, 12), 46001, FH_T0 + FH_US, 3000, 120 * FH_US);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9300007);
    assert_memory_equal(ctx->alerts[0].src.bytes, fh_v4(ATT).bytes, 4);
    assert_string_equal(fh_meta(&ctx->alerts[0], "sessions"), "9");
    fh_free(ctx);
}

static void test_scan_connections_do_not_count(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    /* connect() scans and banner grabs: no key exchange */
    for (int i = 0; i < 20; i++) {
        fh_conn c = fh_conn_v4(ATT, SRV, (uint16_t)(47000 + i), 22);
        fh_conn_open(ctx, &c, FH_T0 + i * 1000);
        fh_conn_send(ctx, &c, FH_T0 + i * 1000 + 1, VIGIL_DIR_TO_CLIENT, "SSH-2.0-OpenSSH_9.2\r\n");
        fh_conn_close(ctx, &c, FH_T0 + i * 1000 + 2);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void test_tracker_cap_bounds_memory(void **st)
{
    (void)st;
    fh_setting conf[] = { { "max_trackers", "64" }, { "max_conns", "32" } };
    fh_host *ctx = fh_start(conf, 2);
    /* 100000 sources, one failure each: a spoofed-looking crowd */
    for (uint32_t i = 0; i < 100000; i++) {
        fh_conn c = fh_conn_v4(FH_IP(198, 18, 0, 0) + 256 + i, SRV, 40000, 21);
        int64_t t = FH_T0 + (int64_t)i * 100;
        fh_conn_open(ctx, &c, t);
        fh_conn_send(ctx, &c, t + 1, VIGIL_DIR_TO_SERVER, "USER a\r\nPASS b\r\n");
        fh_conn_send(ctx, &c, t + 2, VIGIL_DIR_TO_CLIENT, "530 no\r\n");
        if (i % 2)
            fh_conn_close(ctx, &c, t + 3);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    assert_non_null(strstr(ctx->last_log, "peak_trackers=64 "));
    assert_non_null(strstr(ctx->last_log, "peak_conns=32 "));
    fh_free(ctx);
}

static void test_hostile_bytes(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    static char junk[3000];
    uint32_t x = 12345;
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (char)(x >> 16);
            if ((x >> 8) % 13 == 0)
                junk[i] = '\n';
        }
        uint16_t ports[] = { 21, 25, 80, 110, 143, 23 };
        fh_conn c = fh_conn_v4(ATT, SRV, (uint16_t)(48000 + round), ports[round % 6]);
        fh_conn_open(ctx, &c, FH_T0 + round * 1000);
        fh_conn_send(ctx, &c, FH_T0 + round * 1000, VIGIL_DIR_TO_SERVER, "GET / HTTP/1.1\r\nAuthorization: Basic ====\r\n");
        fh_conn_event(ctx, &c, FH_T0 + round * 1000 + 1, VIGIL_STREAM_DATA, VIGIL_DIR_TO_SERVER, junk, sizeof junk);
        fh_conn_event(ctx, &c, FH_T0 + round * 1000 + 2, VIGIL_STREAM_DATA, VIGIL_DIR_TO_CLIENT, junk, sizeof junk);
    }
    fh_finish(ctx);
    fh_free(ctx);
}

static fh_host *run_ftp(void)
{
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 12; i++)
        ftp_session(ctx, (uint16_t)(40000 + i), FH_T0 + i * 300000, 1, i % 2 ? "root" : "admin");
    fh_finish(ctx);
    return ctx;
}

static void test_deterministic(void **st)
{
    (void)st;
    fh_host *a = run_ftp(), *b = run_ftp();
    assert_int_equal(a->nalerts, 1);
    assert_int_equal(a->nalerts, b->nalerts);
    for (size_t i = 0; i < a->nalerts; i++)
        fh_assert_alert_equal(&a->alerts[i], &b->alerts[i]);
    assert_string_equal(fh_meta(&a->alerts[0], "usernames"), "admin,root");
    fh_free(a);
    fh_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ftp_guessing_alerts_once_with_counts),
        cmocka_unit_test(test_single_failure_is_silent),
        cmocka_unit_test(test_http_basic_401),
        cmocka_unit_test(test_smtp_pop3_imap_telnet),
        cmocka_unit_test(test_ssh_short_sessions),
        cmocka_unit_test(test_scan_connections_do_not_count),
        cmocka_unit_test(test_tracker_cap_bounds_memory),
        cmocka_unit_test(test_hostile_bytes),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, setup, fh_unload_group) != 0;
}
