/*
 * test_portscan.c - the portscan plugin driven through its ABI by the fake
 * host (tests/unit/support/fake_host.h): configuration from a table, alerts
 * collected, a small bidirectional flow map, ticks once per second of packet
 * time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fake_host.h"

static int setup(void **st)
{
    (void)st;
    return fh_load("portscan");
}

/* ---- packets ------------------------------------------------------------------ */

static void tcp(fh_host *ctx, int64_t ts, uint32_t src, uint16_t sport, uint32_t dst,
                uint16_t dport, uint8_t flags)
{
    vigil_packet p = fh_tcp(ts, fh_v4(src), sport, fh_v4(dst), dport, flags);
    fh_packet(ctx, &p);
}

static void udp(fh_host *ctx, int64_t ts, uint32_t src, uint16_t sport, uint32_t dst,
                uint16_t dport)
{
    vigil_packet p = fh_udp(ts, fh_v4(src), sport, fh_v4(dst), dport);
    fh_packet(ctx, &p);
}

static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* ICMP port unreachable from `from` about a UDP probe prober:sport -> from:dport. */
static void icmp_port_unreachable(fh_host *ctx, int64_t ts, uint32_t from, uint32_t prober,
                                  uint16_t sport, uint16_t dport)
{
    uint8_t raw[20 + 8 + 20 + 8];
    memset(raw, 0, sizeof raw);
    raw[0] = 0x45;
    raw[9] = 1;
    put32(raw + 12, from);
    put32(raw + 16, prober);
    raw[20] = 3;                /* destination unreachable */
    raw[21] = 3;                /* port */
    uint8_t *in = raw + 28;
    in[0] = 0x45;
    in[9] = 17;
    put32(in + 12, prober);
    put32(in + 16, from);
    in[20] = (uint8_t)(sport >> 8);
    in[21] = (uint8_t)sport;
    in[22] = (uint8_t)(dport >> 8);
    in[23] = (uint8_t)dport;
    vigil_packet p = fh_icmp(ts, fh_v4(from), fh_v4(prober), 3, 3);
    p.l3_hdr = raw;
    p.l3_len = sizeof raw;
    fh_payload(&p, raw + 24, sizeof raw - 24);
    fh_packet(ctx, &p);
}

static void arp(fh_host *ctx, int64_t ts, uint16_t op, uint32_t sender, uint32_t target)
{
    vigil_packet p = fh_arp(ts, op, fh_v4(sender), fh_v4(target), NULL, NULL, NULL);
    fh_packet(ctx, &p);
}

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20 };

static const uint32_t ATTACKER = FH_IP(10, 0, 0, 66);
static const uint32_t VICTIM = FH_IP(10, 0, 0, 2);

/*
 * A stealth scan of `nports` ports, each answered by RST (closed). Like
 * nmap, each scan type uses its own source port, hence its own flows.
 */
static void stealth_scan(fh_host *ctx, int64_t start, uint8_t flags, int nports)
{
    uint16_t sport = (uint16_t)(40000 + flags);
    for (int i = 0; i < nports; i++) {
        int64_t ts = start + i * 1000;
        tcp(ctx, ts, ATTACKER, sport, VICTIM, (uint16_t)(1 + i), flags);
        tcp(ctx, ts + 100, VICTIM, (uint16_t)(1 + i), ATTACKER, sport, RST | ACK);
    }
}

/* ---- assertions ---------------------------------------------------------------- */

static void assert_alert(const fh_alert *a, const char *category, const char *technique,
                         uint32_t src, uint32_t dst)
{
    assert_string_equal(a->attack_category, category);
    assert_string_equal(a->attack_technique, technique);
    vigil_addr s = fh_v4(src);
    assert_memory_equal(&a->src, &s, sizeof s);
    if (dst) {
        vigil_addr d = fh_v4(dst);
        assert_memory_equal(&a->dst, &d, sizeof d);
    }
    assert_true(a->sid >= 9100001 && a->sid <= 9100099);
    assert_string_equal(a->mitre_attack, strcmp(category, "port_scan") == 0 ? "T1046" : "T1018");
}

static void assert_meta(const fh_alert *a, const char *key, const char *want)
{
    const char *got = fh_meta(a, key);
    if (got == NULL)
        fail_msg("no %s in the alert's meta", key);
    assert_string_equal(got, want);
}

/* ---- tests ----------------------------------------------------------------------- */

static void test_descriptor(void **st)
{
    (void)st;
    assert_string_equal(fh_plugin()->name, "portscan");
    assert_int_equal(fh_plugin()->abi_major, VIGIL_ABI_MAJOR);
    assert_true(fh_plugin()->size == sizeof(vigil_plugin));
    assert_non_null(fh_plugin()->on_packet);
    assert_non_null(fh_plugin()->on_tick);
    assert_non_null(fh_plugin()->on_finish);
}

static void test_bad_config_refused(void **st)
{
    (void)st;
    fh_setting conf[] = { { "min_ports", "1" } };
    fh_host *ctx = fh_new();
    fh_set_all(ctx, conf, 1);
    assert_int_not_equal(fh_init(ctx), VIGIL_OK);
    fh_free(ctx);
}

static void test_syn_scan_100_ports(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    stealth_scan(ctx, FH_T0, SYN, 100);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    const fh_alert *a = &ctx->alerts[0];
    assert_alert(a, "port_scan", "tcp_syn_scan", ATTACKER, VICTIM);
    assert_int_equal(a->sid, 9100001);
    assert_meta(a, "distinct_ports", "100");
    assert_meta(a, "probes", "100");
    assert_meta(a, "responses", "rst=100,synack=0,icmp_unreachable=0,reply=0,none=0");
    assert_meta(a, "ports_sample", "1,2,3,4,5,6,7,8");
    assert_non_null(strstr(a->signature, "TCP SYN port scan (100 ports"));
    fh_free(ctx);
}

static void check_stealth(uint8_t flags, const char *technique)
{
    fh_host *ctx = fh_start(NULL, 0);
    stealth_scan(ctx, FH_T0, flags, 50);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "port_scan", technique, ATTACKER, VICTIM);
    assert_meta(&ctx->alerts[0], "distinct_ports", "50");
    fh_free(ctx);
}

static void test_fin_null_xmas_ack_scans(void **st)
{
    (void)st;
    check_stealth(FIN, "tcp_fin_scan");
    check_stealth(0, "tcp_null_scan");
    check_stealth(FIN | PSH | URG, "tcp_xmas_scan");
    check_stealth(ACK, "tcp_ack_scan");
}

static void test_connect_scan(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 40; i++) {
        int64_t ts = FH_T0 + i * 2000;
        uint16_t sport = (uint16_t)(30000 + i), port = (uint16_t)(100 + i);
        tcp(ctx, ts, ATTACKER, sport, VICTIM, port, SYN);
        if (i % 10 == 0) {      /* open: full handshake, then reset */
            tcp(ctx, ts + 10, VICTIM, port, ATTACKER, sport, SYN | ACK);
            tcp(ctx, ts + 20, ATTACKER, sport, VICTIM, port, ACK);
            tcp(ctx, ts + 30, ATTACKER, sport, VICTIM, port, RST | ACK);
        } else {
            tcp(ctx, ts + 10, VICTIM, port, ATTACKER, sport, RST | ACK);
        }
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "port_scan", "tcp_connect_scan", ATTACKER, VICTIM);
    assert_meta(&ctx->alerts[0], "distinct_ports", "40");
    fh_free(ctx);
}

static void test_udp_scan_with_unreachables(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 30; i++) {
        int64_t ts = FH_T0 + i * 5000;
        udp(ctx, ts, ATTACKER, 50000, VICTIM, (uint16_t)(1000 + i));
        if (i != 7)             /* one open|filtered port stays silent */
            icmp_port_unreachable(ctx, ts + 50, VICTIM, ATTACKER, 50000, (uint16_t)(1000 + i));
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "port_scan", "udp_scan", ATTACKER, VICTIM);
    assert_meta(&ctx->alerts[0], "distinct_ports", "30");
    assert_meta(&ctx->alerts[0], "responses", "rst=0,synack=0,icmp_unreachable=29,reply=0,none=1");
    fh_free(ctx);
}

static void test_sweep_445_unanswered(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 40; i++)
        tcp(ctx, FH_T0 + i * 50000, ATTACKER, 40000, FH_IP(10, 9, 9, i), 445, SYN);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    const fh_alert *a = &ctx->alerts[0];
    assert_alert(a, "host_sweep", "horizontal_sweep", ATTACKER, FH_IP(10, 9, 9, 0));
    assert_int_equal(a->dport, 445);
    assert_meta(a, "distinct_hosts", "40");
    assert_meta(a, "hosts_sample", "10.9.9.0,10.9.9.1,10.9.9.2,10.9.9.3,10.9.9.4,10.9.9.5,10.9.9.6,10.9.9.7");
    fh_free(ctx);
}

static void test_arp_sweep(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 1; i < 255; i++) {
        arp(ctx, FH_T0 + i * 10000, 1, ATTACKER, FH_IP(10, 0, 0, i));
        if (i == 1 || i == 2)
            arp(ctx, FH_T0 + i * 10000 + 50, 2, FH_IP(10, 0, 0, i), ATTACKER);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "host_sweep", "arp_sweep", ATTACKER, 0);
    assert_meta(&ctx->alerts[0], "distinct_hosts", "253"); /* not itself */
    fh_free(ctx);
}

static void test_benign_client_443(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    uint32_t client = FH_IP(192, 168, 1, 20);
    for (int i = 0; i < 50; i++) {
        int64_t ts = FH_T0 + i * 200000;
        uint32_t server = FH_IP(93, 184, 0, i + 1);
        uint16_t sport = (uint16_t)(50000 + i);
        tcp(ctx, ts, client, sport, server, 443, SYN);
        tcp(ctx, ts + 20000, server, 443, client, sport, SYN | ACK);
        tcp(ctx, ts + 20100, client, sport, server, 443, ACK);
        tcp(ctx, ts + 20200, client, sport, server, 443, PSH | ACK);
        tcp(ctx, ts + 60000, server, 443, client, sport, PSH | ACK);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void test_server_answering_clients(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    uint32_t server = FH_IP(10, 1, 1, 1);
    for (int i = 0; i < 100; i++) {
        int64_t ts = FH_T0 + i * 100000;
        uint32_t client = FH_IP(172, 16, i / 250, i % 250 + 1);
        uint16_t sport = (uint16_t)(1024 + i * 7);
        tcp(ctx, ts, client, sport, server, 80, SYN);
        tcp(ctx, ts + 100, server, 80, client, sport, SYN | ACK);
        tcp(ctx, ts + 200, client, sport, server, 80, ACK);
        tcp(ctx, ts + 300, server, 80, client, sport, PSH | ACK);
        tcp(ctx, ts + 400, server, 80, client, sport, FIN | ACK);
        udp(ctx, ts + 500, client, (uint16_t)(20000 + i), server, 53);
        udp(ctx, ts + 600, server, 53, client, (uint16_t)(20000 + i));
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void test_below_thresholds(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    stealth_scan(ctx, FH_T0, SYN, 3);      /* under slow_min_ports */
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);

    fh_setting no_slow[] = { { "slow_min_ports", "0" } };
    ctx = fh_start(no_slow, 1);
    stealth_scan(ctx, FH_T0, SYN, 19);     /* one under min_ports */
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);

    ctx = fh_start(no_slow, 1);
    stealth_scan(ctx, FH_T0, SYN, 20);     /* exactly min_ports */
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    fh_free(ctx);
}

static void test_spread_beyond_window(void **st)
{
    (void)st;
    fh_setting no_slow[] = { { "slow_min_ports", "0" } };
    fh_host *ctx = fh_start(no_slow, 1);
    /* 40 ports, one every 5 s: never more than 13 in a 60 s window. */
    for (int i = 0; i < 40; i++) {
        int64_t ts = FH_T0 + (int64_t)i * 5 * FH_US;
        tcp(ctx, ts, ATTACKER, 40000, VICTIM, (uint16_t)(1 + i), SYN);
        tcp(ctx, ts + 100, VICTIM, (uint16_t)(1 + i), ATTACKER, 40000, RST | ACK);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void test_slow_scan(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    static const uint16_t ports[] = { 21, 22, 80, 443 };
    for (int i = 0; i < 4; i++) {
        int64_t ts = FH_T0 + (int64_t)i * 8 * FH_US;
        tcp(ctx, ts, ATTACKER, 52664, VICTIM, ports[i], SYN);
        tcp(ctx, ts + 30, VICTIM, ports[i], ATTACKER, 52664, SYN | ACK);
        tcp(ctx, ts + 40, ATTACKER, 52664, VICTIM, ports[i], RST);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "port_scan", "tcp_syn_scan", ATTACKER, VICTIM);
    assert_meta(&ctx->alerts[0], "rule", "slow");
    fh_free(ctx);
}

/* A scan going on for three alert intervals: one alert per interval at most. */
static void test_dedup_long_scan(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    for (int i = 0; i < 900; i++) {     /* 180 s, a new port every 200 ms */
        int64_t ts = FH_T0 + (int64_t)i * 200000;
        tcp(ctx, ts, ATTACKER, 40000, VICTIM, (uint16_t)(1 + i), SYN);
        tcp(ctx, ts + 100, VICTIM, (uint16_t)(1 + i), ATTACKER, 40000, RST | ACK);
    }
    fh_finish(ctx);
    assert_true(ctx->nalerts >= 1 && ctx->nalerts <= 3);
    for (size_t i = 1; i < ctx->nalerts; i++)
        assert_true(ctx->alerts[i].ts_us - ctx->alerts[i - 1].ts_us >= 60 * FH_US);
    unsigned total = 0;
    for (size_t i = 0; i < ctx->nalerts; i++) {
        assert_alert(&ctx->alerts[i], "port_scan", "tcp_syn_scan", ATTACKER, VICTIM);
        total += (unsigned)atoi(fh_meta(&ctx->alerts[i], "distinct_ports"));
    }
    assert_true(total <= 900);
    fh_free(ctx);
}

static void mixed_traffic(fh_host *ctx)
{
    stealth_scan(ctx, FH_T0, SYN, 60);
    for (int i = 0; i < 30; i++)
        tcp(ctx, FH_T0 + 100000 + i * 1000, FH_IP(10, 5, 5, 5), 41000, FH_IP(10, 7, 0, i), 22, SYN);
    for (int i = 0; i < 25; i++)
        udp(ctx, FH_T0 + 200000 + i * 1000, FH_IP(10, 6, 6, 6), 5000, VICTIM, (uint16_t)(2000 + i));
    stealth_scan(ctx, FH_T0 + 90 * FH_US, FIN, 30);
}

static void test_deterministic(void **st)
{
    (void)st;
    fh_host *a = fh_start(NULL, 0), *b = fh_start(NULL, 0);
    mixed_traffic(a);
    mixed_traffic(b);
    fh_finish(a);
    fh_finish(b);
    assert_true(a->nalerts >= 4);
    assert_int_equal(a->nalerts, b->nalerts);
    for (size_t i = 0; i < a->nalerts; i++)
        fh_assert_alert_equal(&a->alerts[i], &b->alerts[i]);
    fh_free(a);
    fh_free(b);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* A million spoofed sources with a small cap; a real scan still shows. */
static void test_source_cap_flood(void **st)
{
    (void)st;
    fh_setting conf[] = { { "max_sources", "1024" } };
    fh_host *ctx = fh_start(conf, 1);
    long rss_before = max_rss_kb();
    const uint32_t flood = 1000000;
    for (uint32_t i = 0; i < flood; i++) {
        uint32_t spoofed = FH_IP(100, 64, 0, 0) + i;
        tcp(ctx, FH_T0 + i, spoofed, (uint16_t)(1024 + i % 60000), VICTIM, 80, SYN);
    }
    long rss_growth_kb = max_rss_kb() - rss_before;
    stealth_scan(ctx, FH_T0 + 2 * FH_US, SYN, 100);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_alert(&ctx->alerts[0], "port_scan", "tcp_syn_scan", ATTACKER, VICTIM);
    assert_meta(&ctx->alerts[0], "distinct_ports", "100");
    assert_true(fh_log_counter(ctx, "sources_peak") <= 1024);
    assert_true(fh_log_counter(ctx, "sources_evicted_cap") >= flood - 1024);
    assert_true(fh_log_counter(ctx, "sources_created") >= flood);
#if !defined(__SANITIZE_ADDRESS__)
    /* ASan keeps freed memory in quarantine, so RSS says nothing there. */
    assert_true(rss_growth_kb < 64 * 1024);
#else
    (void)rss_growth_kb;
#endif
    fh_free(ctx);
}

/* A tiny memcap still holds: sources are evicted instead of growing. */
static void test_memcap(void **st)
{
    (void)st;
    fh_setting conf[] = { { "memcap_mb", "1" } };
    fh_host *ctx = fh_start(conf, 1);
    for (uint32_t s = 0; s < 200; s++)
        for (int p = 0; p < 200; p++)
            tcp(ctx, FH_T0 + (int64_t)s * 1000 + p, FH_IP(100, 65, 0, 0) + s, 40000, VICTIM,
                (uint16_t)(1 + p), SYN);
    fh_finish(ctx);
    assert_true(fh_log_counter(ctx, "sources_evicted_memory") > 0);
    char *end = NULL;
    const char *mem = strstr(ctx->last_log, "memory_bytes=");
    assert_non_null(mem);
    assert_true(strtoull(mem + 13, &end, 10) <= 1024 * 1024);
    fh_free(ctx);
}

/* A busy benign client: 10,000 successful connections create no tracker. */
static void test_successes_cost_little(void **st)
{
    (void)st;
    fh_host *ctx = fh_start(NULL, 0);
    uint32_t client = FH_IP(192, 168, 7, 7);
    for (int i = 0; i < 10000; i++) {
        int64_t ts = FH_T0 + (int64_t)i * 1000;
        uint32_t server = FH_IP(203, 0, (uint32_t)(i / 250) % 40, (uint32_t)(i % 250) + 1);
        uint16_t sport = (uint16_t)(20000 + i), dport = (uint16_t)(1 + i % 1000);
        tcp(ctx, ts, client, sport, server, dport, SYN);
        tcp(ctx, ts + 100, server, dport, client, sport, SYN | ACK);
        tcp(ctx, ts + 200, client, sport, server, dport, ACK);
        tcp(ctx, ts + 300, client, sport, server, dport, PSH | ACK);
        tcp(ctx, ts + 400, server, dport, client, sport, ACK);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    assert_int_equal(fh_log_counter(ctx, "probes"), 10000);
    assert_int_equal(fh_log_counter(ctx, "trackers_created"), 0);
    assert_int_equal(fh_log_counter(ctx, "sources_created"), 1);
    /* The empty tracker index (8 KB) and one source record. */
    assert_true(fh_log_counter(ctx, "memory_bytes") < 8192 + 1024);
    fh_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_descriptor),
        cmocka_unit_test(test_bad_config_refused),
        cmocka_unit_test(test_syn_scan_100_ports),
        cmocka_unit_test(test_fin_null_xmas_ack_scans),
        cmocka_unit_test(test_connect_scan),
        cmocka_unit_test(test_udp_scan_with_unreachables),
        cmocka_unit_test(test_sweep_445_unanswered),
        cmocka_unit_test(test_arp_sweep),
        cmocka_unit_test(test_benign_client_443),
        cmocka_unit_test(test_server_answering_clients),
        cmocka_unit_test(test_below_thresholds),
        cmocka_unit_test(test_spread_beyond_window),
        cmocka_unit_test(test_slow_scan),
        cmocka_unit_test(test_dedup_long_scan),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_source_cap_flood),
        cmocka_unit_test(test_memcap),
        cmocka_unit_test(test_successes_cost_little),
    };
    return cmocka_run_group_tests(tests, setup, fh_unload_group) != 0;
}
