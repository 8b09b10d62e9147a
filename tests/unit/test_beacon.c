/*
 * test_beacon.c - the beacon plugin driven through its ABI by the fake host
 * (tests/unit/support/fake_host.h): integer and string settings from tables,
 * address lists, home_net 198.18.0.0/15 (as the shipped vigil.conf), alerts
 * collected. The plugin keeps no per-flow state and the tests deliver no
 * ticks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "fake_host.h"

#define INSIDE(x) FH_IP(198, 18, 0, x)
#define OUTSIDE(x) FH_IP(198, 19, 0, x)

static int setup(void **st)
{
    (void)st;
    return fh_load("beacon");
}

/* The shipped inside: 198.18.0.0/16; 198.19.0.0/16 is the Internet. */
static const fh_setting default_strs[] = { { "internal", "198.18.0.0/16" } };

static fh_host *host_new_with(const fh_setting *ints, size_t nints, const fh_setting *strs,
                              size_t nstrs, int want)
{
    fh_host *ctx = fh_new();
    ctx->ticks = 0;
    ctx->home_net = "198.18.0.0/15";
    fh_set_all(ctx, ints, nints);
    fh_set_all(ctx, strs, nstrs);
    assert_int_equal(fh_init(ctx) == VIGIL_OK, want == VIGIL_OK);
    return ctx;
}

static fh_host *host_new(const fh_setting *ints, size_t nints)
{
    return host_new_with(ints, nints, default_strs, 1, VIGIL_OK);
}

static void host_free(fh_host *ctx)
{
    if (ctx->state)
        fh_finish(ctx);
    fh_free(ctx);
}

/* ---- packets ------------------------------------------------------------------ */

static void deliver(fh_host *ctx, int64_t ts, uint32_t src, uint16_t sport, uint32_t dst,
                    uint16_t dport, uint8_t proto, uint8_t flags, uint32_t payload)
{
    vigil_packet p = fh_ip(ts, fh_v4(src), fh_v4(dst), proto);
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    p.payload_wire_len = payload;
    fh_packet(ctx, &p);
}

static void syn(fh_host *ctx, int64_t ts, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport)
{
    deliver(ctx, ts, src, sport, dst, dport, 6, VIGIL_TCP_SYN, 0);
}

static void upload(fh_host *ctx, int64_t ts, uint32_t src, uint32_t dst, uint32_t len)
{
    deliver(ctx, ts, src, 40000, dst, 443, 6, VIGIL_TCP_ACK | VIGIL_TCP_PSH, len);
}

static uint64_t rng_state = 88172645463325252ULL;

static int64_t rnd(int64_t lo, int64_t hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (int64_t)(rng_state % (uint64_t)(hi - lo + 1));
}

/* n connections every period_us +- jitter_us; returns the time after. */
static int64_t beacon_run(fh_host *ctx, int64_t ts, uint32_t src, uint32_t dst, uint16_t port, int n,
                          int64_t period_us, int64_t jitter_us)
{
    for (int i = 0; i < n; i++) {
        syn(ctx, ts, src, (uint16_t)(40000 + i), dst, port);
        ts += period_us + rnd(-jitter_us, jitter_us);
    }
    return ts;
}

/* ---- beaconing ------------------------------------------------------------------ */

static void test_periodic_tcp_alerts_once(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    beacon_run(ctx, FH_T0, INSIDE(10), OUTSIDE(66), 443, 40, 30 * FH_US, FH_US);
    assert_int_equal(ctx->nalerts, 1);
    const fh_alert *a = &ctx->alerts[0];
    assert_int_equal(a->sid, 9600001);
    assert_string_equal(a->attack_category, "beaconing");
    assert_string_equal(a->attack_technique, "periodic_callback");
    assert_string_equal(a->mitre_attack, "T1071");
    assert_int_equal(fh_u32(&a->src), INSIDE(10));
    assert_int_equal(fh_u32(&a->dst), OUTSIDE(66));
    assert_int_equal(a->dport, 443);
    assert_non_null(strstr(a->meta_str, "connections=10;"));
    assert_non_null(strstr(a->meta_str, "mean_interval_sec=30."));
    host_free(ctx);
}

static void test_realerts_after_interval(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    beacon_run(ctx, FH_T0, INSIDE(10), OUTSIDE(66), 443, 280, 30 * FH_US, FH_US); /* ~2.3 h */
    assert_int_equal(fh_count_sid(ctx, 9600001), 3);
    host_free(ctx);
}

static void test_one_missed_callback_still_alerts(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    int64_t ts = beacon_run(ctx, FH_T0, INSIDE(10), OUTSIDE(66), 443, 5, 60 * FH_US, 2 * FH_US);
    beacon_run(ctx, ts + 60 * FH_US, INSIDE(10), OUTSIDE(66), 443, 8, 60 * FH_US, 2 * FH_US);
    assert_int_equal(fh_count_sid(ctx, 9600001), 1);
    host_free(ctx);
}

static void test_irregular_browsing_is_quiet(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    int64_t ts = FH_T0;
    for (int i = 0; i < 400; i++) {
        syn(ctx, ts, INSIDE(11), (uint16_t)(30000 + i), OUTSIDE((uint8_t)(1 + i % 3)), 443);
        ts += rnd(1 * FH_US, 120 * FH_US);
    }
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_fast_polling_is_quiet(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    beacon_run(ctx, FH_T0, INSIDE(12), OUTSIDE(30), 443, 500, 1300000, 100000);
    beacon_run(ctx, FH_T0, INSIDE(13), OUTSIDE(31), 443, 500, 5 * FH_US, 100000);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_internal_peer_is_quiet(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    beacon_run(ctx, FH_T0, INSIDE(14), INSIDE(200), 8080, 60, 30 * FH_US, 0);
    /* without `internal`, home_net covers 198.19 too */
    fh_host *home = host_new_with(NULL, 0, NULL, 0, VIGIL_OK);
    beacon_run(home, FH_T0, INSIDE(14), OUTSIDE(66), 443, 60, 30 * FH_US, 0);
    assert_int_equal(ctx->nalerts + home->nalerts, 0);
    host_free(ctx);
    host_free(home);
}

static void test_allow_peers_is_quiet(void **st)
{
    (void)st;
    const fh_setting strs[] = { { "internal", "198.18.0.0/16" }, { "allow_peers", "198.19.0.66/32" } };
    fh_host *ctx = host_new_with(NULL, 0, strs, 2, VIGIL_OK);
    beacon_run(ctx, FH_T0, INSIDE(10), OUTSIDE(66), 443, 40, 30 * FH_US, 0);
    beacon_run(ctx, FH_T0, INSIDE(10), OUTSIDE(67), 443, 40, 30 * FH_US, 0);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(fh_u32(&ctx->alerts[0].dst), OUTSIDE(67));
    host_free(ctx);
}

static void test_udp_ignored_ports_and_udp_beacon(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    for (int i = 0; i < 60; i++) {
        int64_t ts = FH_T0 + i * 30 * FH_US;
        deliver(ctx, ts, INSIDE(20), 50000, OUTSIDE(53), 53, 17, 0, 40);      /* DNS */
        deliver(ctx, ts, INSIDE(20), 50001, OUTSIDE(123), 123, 17, 0, 48);    /* NTP */
        deliver(ctx, ts, OUTSIDE(9), 50002, INSIDE(20), 9999, 17, 0, 48);     /* inbound */
        deliver(ctx, ts, INSIDE(21), 9999, OUTSIDE(9), 50003, 17, 0, 48);     /* a reply */
        deliver(ctx, ts + 100000, INSIDE(22), 50004, OUTSIDE(9), 9999, 17, 0, 48);
        deliver(ctx, ts + 200000, INSIDE(22), 50004, OUTSIDE(9), 9999, 17, 0, 48); /* same session */
    }
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9600002);
    assert_int_equal(fh_u32(&ctx->alerts[0].src), INSIDE(22));
    assert_non_null(strstr(ctx->alerts[0].meta_str, "connections=19;sessions=10;"));
    host_free(ctx);
}

static void test_retransmits_and_parallel_connections(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    for (int i = 0; i < 10; i++) {
        int64_t ts = FH_T0 + i * 45 * FH_US;
        uint16_t port = (uint16_t)(41000 + 3 * i);
        syn(ctx, ts, INSIDE(30), port, OUTSIDE(5), 443);
        syn(ctx, ts + 300000, INSIDE(30), (uint16_t)(port + 1), OUTSIDE(5), 443);
        syn(ctx, ts + 1 * FH_US, INSIDE(30), port, OUTSIDE(5), 443);     /* retransmission */
        syn(ctx, ts + 3 * FH_US, INSIDE(30), port, OUTSIDE(5), 443);     /* retransmission */
    }
    assert_int_equal(ctx->nalerts, 1);
    assert_non_null(strstr(ctx->alerts[0].meta_str, "sessions=10;"));
    assert_non_null(strstr(ctx->alerts[0].meta_str, "mean_interval_sec=45.00;"));
    host_free(ctx);
}

static void test_thresholds_are_settings(void **st)
{
    (void)st;
    const fh_setting ints[] = { { "beacon_min_connections", "16" }, { "beacon_max_jitter_pct", "1" } };
    fh_host *ctx = host_new(ints, 2);
    beacon_run(ctx, FH_T0, INSIDE(10), OUTSIDE(66), 443, 15, 30 * FH_US, 0);
    assert_int_equal(ctx->nalerts, 0);                           /* 15 < 16 */
    beacon_run(ctx, FH_T0 + 15 * 30 * FH_US, INSIDE(10), OUTSIDE(66), 443, 5, 30 * FH_US, 0);
    assert_int_equal(ctx->nalerts, 1);
    beacon_run(ctx, FH_T0, INSIDE(11), OUTSIDE(66), 443, 40, 30 * FH_US, 3 * FH_US); /* jitter ~6% */
    assert_int_equal(ctx->nalerts, 1);
    host_free(ctx);
}

/* ---- exfiltration ------------------------------------------------------------ */

/* hours of `per_hour` bytes in 10 uploads; returns the time after. */
static int64_t baseline_hours(fh_host *ctx, int64_t ts, uint32_t src, int hours, uint32_t per_hour)
{
    for (int h = 0; h < hours; h++)
        for (int i = 0; i < 10; i++)
            upload(ctx, ts + h * 3600 * FH_US + rnd(0, 3500) * FH_US, src, OUTSIDE(20), per_hour / 10);
    return ts + hours * 3600 * FH_US;
}

static void spike(fh_host *ctx, int64_t ts, uint32_t src, uint32_t dst, uint64_t bytes)
{
    for (uint64_t sent = 0; sent < bytes; sent += 64000, ts += 10000)
        upload(ctx, ts, src, dst, 64000);
}

static void test_exfil_spike_alerts_once(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    int64_t ts = baseline_hours(ctx, FH_T0 - FH_T0 % (3600 * FH_US), INSIDE(40), 8, 1000000);
    upload(ctx, ts, INSIDE(40), OUTSIDE(20), 500000);
    spike(ctx, ts + FH_US, INSIDE(40), OUTSIDE(99), 120000000);
    assert_int_equal(ctx->nalerts, 1);
    const fh_alert *a = &ctx->alerts[0];
    assert_int_equal(a->sid, 9600011);
    assert_string_equal(a->attack_category, "exfiltration");
    assert_string_equal(a->attack_technique, "outbound_volume_spike");
    assert_string_equal(a->mitre_attack, "T1048");
    assert_int_equal(fh_u32(&a->src), INSIDE(40));
    assert_int_equal(fh_u32(&a->dst), OUTSIDE(99));
    assert_non_null(strstr(a->meta_str, "baseline_bytes=1000000;"));
    assert_non_null(strstr(a->meta_str, "active_windows=8;"));
    host_free(ctx);
}

static void test_exfil_needs_learning(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    int64_t ts = baseline_hours(ctx, FH_T0 - FH_T0 % (3600 * FH_US), INSIDE(41), 3, 1000000);
    spike(ctx, ts, INSIDE(41), OUTSIDE(99), 120000000);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_exfil_floor_and_ratio(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    int64_t t = FH_T0 - FH_T0 % (3600 * FH_US);
    /* 100x a small baseline, but below the 50 MB floor */
    int64_t ts = baseline_hours(ctx, t, INSIDE(42), 8, 100000);
    spike(ctx, ts, INSIDE(42), OUTSIDE(99), 10000000);
    /* above the floor, but only 5x a large baseline */
    ts = baseline_hours(ctx, t, INSIDE(43), 8, 40000000);
    spike(ctx, ts, INSIDE(43), OUTSIDE(99), 200000000);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

static void test_exfil_inside_is_quiet(void **st)
{
    (void)st;
    fh_host *ctx = host_new(NULL, 0);
    int64_t ts = baseline_hours(ctx, FH_T0 - FH_T0 % (3600 * FH_US), INSIDE(44), 8, 1000000);
    spike(ctx, ts, INSIDE(44), INSIDE(1), 200000000);
    spike(ctx, ts, OUTSIDE(7), INSIDE(44), 200000000);
    assert_int_equal(ctx->nalerts, 0);
    host_free(ctx);
}

/* ---- bounds, determinism, configuration -------------------------------------------- */

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A million spoofed inside sources each calling out and uploading. */
static void test_flood_stays_bounded(void **st)
{
    (void)st;
    const fh_setting ints[] = { { "max_pairs", "1024" }, { "max_hosts", "1024" } };
    fh_host *ctx = host_new(ints, 2);
    long before = max_rss_kb();
    for (uint32_t i = 0; i < 1000000; i++) {
        int64_t ts = FH_T0 + (int64_t)i * 1000;
        uint32_t src = FH_IP(198, 18, (i >> 8) & 0xff, i & 0xff) ^ (i >> 16);
        syn(ctx, ts, src, (uint16_t)i, OUTSIDE(1), 443);
        upload(ctx, ts, src, OUTSIDE(1), 100);
    }
    assert_true(max_rss_kb() - before < 8 * 1024);
    /* a real beacon still shows afterwards */
    beacon_run(ctx, FH_T0 + 2000 * FH_US, INSIDE(10), OUTSIDE(66), 443, 12, 30 * FH_US, FH_US);
    assert_int_equal(fh_count_sid(ctx, 9600001), 1);
    host_free(ctx);
}

static void run_mix(fh_host *ctx)
{
    rng_state = 7;
    beacon_run(ctx, FH_T0, INSIDE(10), OUTSIDE(66), 443, 40, 30 * FH_US, FH_US);
    beacon_run(ctx, FH_T0 + 5 * FH_US, INSIDE(11), OUTSIDE(67), 8443, 40, 20 * FH_US, FH_US);
    int64_t ts = baseline_hours(ctx, FH_T0 - FH_T0 % (3600 * FH_US), INSIDE(40), 8, 1000000);
    spike(ctx, ts, INSIDE(40), OUTSIDE(99), 60000000);
}

static void test_deterministic(void **st)
{
    (void)st;
    fh_host *a = host_new(NULL, 0), *b = host_new(NULL, 0);
    run_mix(a);
    run_mix(b);
    assert_int_equal(a->nalerts, 3);
    assert_int_equal(a->nalerts, b->nalerts);
    for (size_t i = 0; i < a->nalerts; i++)
        fh_assert_alert_equal(&a->alerts[i], &b->alerts[i]);
    host_free(a);
    host_free(b);
}

static void test_bad_config_refused(void **st)
{
    (void)st;
    const fh_setting bad_ports[] = { { "ignore_udp_ports", "53, dns" } };
    host_free(host_new_with(NULL, 0, bad_ports, 1, VIGIL_EINVAL));
    const fh_setting bad_list[] = { { "internal", "bad" } };
    host_free(host_new_with(NULL, 0, bad_list, 1, VIGIL_EINVAL));
    const fh_setting bad_range[] = { { "beacon_min_interval_sec", "600" },
                                          { "beacon_max_interval_sec", "60" } };
    host_free(host_new_with(bad_range, 2, default_strs, 1, VIGIL_EINVAL));
    const fh_setting too_many[] = { { "beacon_min_connections", "17" } };
    host_free(host_new_with(too_many, 1, default_strs, 1, VIGIL_EINVAL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periodic_tcp_alerts_once),
        cmocka_unit_test(test_realerts_after_interval),
        cmocka_unit_test(test_one_missed_callback_still_alerts),
        cmocka_unit_test(test_irregular_browsing_is_quiet),
        cmocka_unit_test(test_fast_polling_is_quiet),
        cmocka_unit_test(test_internal_peer_is_quiet),
        cmocka_unit_test(test_allow_peers_is_quiet),
        cmocka_unit_test(test_udp_ignored_ports_and_udp_beacon),
        cmocka_unit_test(test_retransmits_and_parallel_connections),
        cmocka_unit_test(test_thresholds_are_settings),
        cmocka_unit_test(test_exfil_spike_alerts_once),
        cmocka_unit_test(test_exfil_needs_learning),
        cmocka_unit_test(test_exfil_floor_and_ratio),
        cmocka_unit_test(test_exfil_inside_is_quiet),
        cmocka_unit_test(test_flood_stays_bounded),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_config_refused),
    };
    return cmocka_run_group_tests(tests, setup, fh_unload_group) != 0;
}
