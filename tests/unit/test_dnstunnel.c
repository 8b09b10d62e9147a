/*
 * test_dnstunnel.c - the DNS parser and name analysis called directly, and
 * the dnstunnel plugin driven through its ABI by a fake host.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_host.h"

/* The parser is pure code with no host dependency: test it in place. */
#include "../../plugins/dnstunnel/dns_name.c"
#include "../../plugins/dnstunnel/dns_parse.c"

/* ---- DNS message builder ------------------------------------------------------ */

static size_t build_msg(uint8_t *buf, size_t size, uint16_t id, int response, int rcode,
                        uint16_t qtype, const char *name)
{
    size_t n = 0;
    uint16_t flags = (uint16_t)((response ? 0x8000u : 0) | 0x0100u | (unsigned)rcode);
    uint8_t hdr[12] = { (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(flags >> 8), (uint8_t)flags,
                        0, 1, 0, 0, 0, 0, 0, 0 };
    memcpy(buf, hdr, sizeof hdr);
    n = sizeof hdr;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        assert_true(n + 1 + len + 5 < size);
        buf[n++] = (uint8_t)len;
        memcpy(buf + n, p, len);
        n += len;
        p += len + (dot ? 1 : 0);
    }
    buf[n++] = 0;
    buf[n++] = (uint8_t)(qtype >> 8);
    buf[n++] = (uint8_t)qtype;
    buf[n++] = 0;
    buf[n++] = 1;
    return n;
}

/* ---- parser and name analysis ------------------------------------------------ */

static void test_parse_query(void **unused)
{
    (void)unused;
    uint8_t msg[300];
    struct dns_question q;
    size_t n = build_msg(msg, sizeof msg, 0x1234, 0, 0, DNS_TYPE_TXT, "AbC.Example.COM");
    assert_int_equal(dns_parse_question(msg, n, &q), 0);
    assert_int_equal(q.id, 0x1234);
    assert_int_equal(q.is_response, 0);
    assert_int_equal(q.qtype, DNS_TYPE_TXT);
    assert_int_equal(q.nlabels, 3);
    char text[64];
    dns_format_labels(&q, 0, text, sizeof text);
    assert_string_equal(text, "abc.example.com");
    dns_format_labels(&q, 1, text, sizeof text);
    assert_string_equal(text, "example.com");
    /* every truncation is refused */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(dns_parse_question(msg, cut, &q), -1);
}

static void test_parse_hostile_names(void **unused)
{
    (void)unused;
    struct dns_question q;
    /* a pointer to itself, a pointer forward, a reserved label type */
    uint8_t self[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1 };
    assert_int_equal(dns_parse_question(self, sizeof self, &q), -1);
    uint8_t fwd[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 1, 'a', 0, 0, 1, 0, 1 };
    assert_int_equal(dns_parse_question(fwd, sizeof fwd, &q), -1);
    uint8_t rsv[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1 };
    assert_int_equal(dns_parse_question(rsv, sizeof rsv, &q), -1);
    /* a backward pointer is followed: "x" + pointer to "a" placed earlier
     * in the header's spare bytes is impossible, so build a two-part name
     * in an answer-like layout: name at 12 is 1 'b' 0; a second message
     * region is not needed: check a name of exactly 255 wire bytes passes
     * and 256 fails. */
    uint8_t big[600];
    memset(big, 0, sizeof big);
    big[5] = 1;
    size_t n = 12;
    for (int i = 0; i < 4; i++) {       /* 4 x (1 + 63) = 256 > 255 */
        big[n++] = 63;
        memset(big + n, 'a', 63);
        n += 63;
    }
    big[n++] = 0;
    n += 4;
    assert_int_equal(dns_parse_question(big, n, &q), -1);
    n = 12;
    for (int i = 0; i < 3; i++) {
        big[n++] = 63;
        memset(big + n, 'a', 63);
        n += 63;
    }
    big[n++] = 61;                      /* 3 * 64 + 62 + root = 255 */
    memset(big + n, 'a', 61);
    n += 61;
    big[n++] = 0;
    big[n++] = 0;
    big[n++] = 1;
    big[n++] = 0;
    big[n++] = 1;
    assert_int_equal(dns_parse_question(big, n, &q), 0);
    assert_int_equal(q.nlabels, 4);
    /* a compressed question: the name at 18 points back to a label at 12 */
    uint8_t comp[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                       3, 'c', 'o', 'm', 0, 0,
                       1, 'x', 0xC0, 12, 0, 16, 0, 1 };
    /* header says the question is at 12: "com", then type 0x0000 0x0101 */
    assert_int_equal(dns_parse_question(comp, sizeof comp, &q), 0);
    assert_int_equal(q.nlabels, 1);
}

static void test_split_and_features(void **unused)
{
    (void)unused;
    uint8_t msg[300];
    struct dns_question q;
    struct dns_split s;
    size_t n = build_msg(msg, sizeof msg, 1, 0, 0, 1, "a.b.example.com");
    assert_int_equal(dns_parse_question(msg, n, &q), 0);
    dns_split_name(&q, &s);
    assert_int_equal(s.parent_labels, 2);
    assert_int_equal(s.sub_labels, 2);
    n = build_msg(msg, sizeof msg, 1, 0, 0, 1, "www.shop.co.uk");
    assert_int_equal(dns_parse_question(msg, n, &q), 0);
    dns_split_name(&q, &s);
    assert_int_equal(s.parent_labels, 3);
    n = build_msg(msg, sizeof msg, 1, 0, 0, 1, "dnscat.546b03f5.19e4d098dc8c");
    assert_int_equal(dns_parse_question(msg, n, &q), 0);
    dns_split_name(&q, &s);
    assert_int_equal(s.parent_labels, 0);
    assert_int_equal(s.sub_labels, 3);
    n = build_msg(msg, sizeof msg, 1, 0, 0, 12, "4.3.2.1.in-addr.arpa");
    assert_int_equal(dns_parse_question(msg, n, &q), 0);
    assert_true(dns_is_arpa(&q));

    assert_true(dns_label_looks_random((const uint8_t *)"xkqwzlvbnmfghjd", 15, 8));
    assert_true(dns_label_looks_random((const uint8_t *)"k3j9x0q7zt2m", 12, 8));
    assert_false(dns_label_looks_random((const uint8_t *)"wikipedia", 9, 8));
    assert_false(dns_label_looks_random((const uint8_t *)"stackoverflow", 13, 8));
    assert_false(dns_label_looks_random((const uint8_t *)"xkqwz", 5, 8));
    assert_int_equal(dns_entropy_x100((const uint8_t *)"aaaa", 4), 0);
    assert_int_equal(dns_entropy_x100((const uint8_t *)"abcd", 4), 200);
}

/* ---- the plugin through the fake host (tests/unit/support/fake_host.h) ---------- */

static int setup(void **st)
{
    (void)st;
    return fh_load("dnstunnel");
}

static void send_dns(fh_host *ctx, int64_t ts_us, vigil_addr src, vigil_addr dst, int response,
                     int rcode, uint16_t qtype, const char *name)
{
    uint8_t msg[320];
    size_t n = build_msg(msg, sizeof msg, 7, response, rcode, qtype, name);
    vigil_packet p = fh_udp(ts_us, src, response ? 53 : 40000, dst, response ? 40000 : 53);
    fh_payload(&p, msg, n);
    fh_packet(ctx, &p);
}

static void random_label(uint32_t *seed, char *out, size_t len, const char *alphabet)
{
    size_t k = strlen(alphabet);
    for (size_t i = 0; i < len; i++) {
        *seed = *seed * 1103515245u + 12345u;
        out[i] = alphabet[(*seed >> 16) % k];
    }
    out[len] = '\0';
}

#define CLIENT fh_v4(FH_IP(198, 18, 0, 10))
#define RESOLVER fh_v4(FH_IP(198, 18, 0, 53))

static void tunnel_queries(fh_host *ctx, vigil_addr client, int count, uint16_t qtype,
                           const char *parent)
{
    uint32_t seed = 42;
    for (int i = 0; i < count; i++) {
        char label[40], name[128];
        random_label(&seed, label, 32, "abcdefghijklmnopqrstuvwxyz234567");
        snprintf(name, sizeof name, "%s.t.%s", label, parent);
        send_dns(ctx, FH_T0 + i * (FH_US / 2), client, RESOLVER, 0, 0, qtype, name);
    }
}

/* ---- plugin behaviour ------------------------------------------------------- */

static void test_tunnel_alerts_once_with_counts(void **unused)
{
    (void)unused;
    fh_host *ctx = fh_new();
    assert_int_equal(fh_init(ctx), VIGIL_OK);
    tunnel_queries(ctx, CLIENT, 40, DNS_TYPE_TXT, "evil.example");
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    fh_alert *a = &ctx->alerts[0];
    assert_int_equal(a->sid, 9400001);
    assert_string_equal(a->attack_category, "dns_tunnel");
    assert_memory_equal(a->src.bytes, CLIENT.bytes, 4);
    assert_memory_equal(a->dst.bytes, RESOLVER.bytes, 4);
    assert_non_null(strstr(a->meta_str, "parent_domain=evil.example;"));
    assert_non_null(strstr(a->meta_str, "queries=40;"));
    assert_non_null(strstr(a->meta_str, "record_types=TXT:40;"));
    fh_free(ctx);
}

static void test_report_delay_and_window(void **unused)
{
    (void)unused;
    fh_host *ctx = fh_new();
    fh_set_int(ctx, "report_delay_sec", 5);
    assert_int_equal(fh_init(ctx), VIGIL_OK);
    tunnel_queries(ctx, CLIENT, 40, DNS_TYPE_NULL, "evil.example"); /* 20 s */
    /* reported 5 s after the rule first held (query 10, t=4.5 s): by then
     * about 20 queries were counted, the rest of the window stays silent */
    assert_int_equal(ctx->nalerts, 1);
    assert_null(strstr(ctx->alerts[0].meta_str, "queries=40;"));
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    fh_free(ctx);
}

static void test_benign_cdn_and_short_names_silent(void **unused)
{
    (void)unused;
    fh_host *ctx = fh_new();
    assert_int_equal(fh_init(ctx), VIGIL_OK);
    for (int i = 0; i < 200; i++) {
        char name[96];
        snprintf(name, sizeof name, "e%d.a.akamaiedge.net", 1000 + i * 37);
        send_dns(ctx, FH_T0 + i * FH_US / 4, CLIENT, RESOLVER, 0, 0, i % 2 ? DNS_TYPE_A : DNS_TYPE_AAAA, name);
        snprintf(name, sizeof name, "r%d---sn-4g5e6nsz.googlevideo.com", i % 20);
        send_dns(ctx, FH_T0 + i * FH_US / 4, CLIENT, RESOLVER, 0, 0, DNS_TYPE_A, name);
        snprintf(name, sizeof name, "%d.%d.2.1.in-addr.arpa", i, i % 7);
        send_dns(ctx, FH_T0 + i * FH_US / 4, CLIENT, RESOLVER, 0, 0, DNS_TYPE_PTR, name);
        snprintf(name, sizeof name, "_dmarc.host%d.example.org", i % 15);
        send_dns(ctx, FH_T0 + i * FH_US / 4, CLIENT, RESOLVER, 0, 0, DNS_TYPE_TXT, name);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void test_no_tld_names_grouped(void **unused)
{
    (void)unused;
    fh_host *ctx = fh_new();
    assert_int_equal(fh_init(ctx), VIGIL_OK);
    uint32_t seed = 7;
    for (int i = 0; i < 30; i++) {
        char a[64], b[64], c[24], name[200];
        random_label(&seed, a, 60, "0123456789abcdef");
        random_label(&seed, b, 60, "0123456789abcdef");
        random_label(&seed, c, 20, "0123456789abcdef");
        snprintf(name, sizeof name, "dnscat.%s.%s.%s", a, b, c);
        send_dns(ctx, FH_T0 + i * FH_US, CLIENT, RESOLVER, 0, 0, i % 2 ? DNS_TYPE_MX : DNS_TYPE_CNAME, name);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_non_null(strstr(ctx->alerts[0].signature, "no valid TLD"));
    fh_free(ctx);
}

static void test_ignore_domains(void **unused)
{
    (void)unused;
    fh_host *ctx = fh_new();
    fh_set(ctx, "ignore_domains", "Example.ORG, evil.example");
    assert_int_equal(fh_init(ctx), VIGIL_OK);
    tunnel_queries(ctx, CLIENT, 40, DNS_TYPE_TXT, "evil.example");
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void dga_answers(fh_host *ctx, int count, int random)
{
    uint32_t seed = 99;
    for (int i = 0; i < count; i++) {
        char label[24], name[64];
        if (random)
            random_label(&seed, label, 14, "abcdefghijklmnopqrstuvwxyz0123456789");
        else
            snprintf(label, sizeof label, "%s", i % 2 ? "wpad" : "intranet");
        snprintf(name, sizeof name, "%s.%s", label, i % 3 ? "com" : "net");
        send_dns(ctx, FH_T0 + i * FH_US / 2, RESOLVER, CLIENT, 1, DNS_RCODE_NXDOMAIN, DNS_TYPE_A, name);
    }
}

static void test_dga(void **unused)
{
    (void)unused;
    fh_host *ctx = fh_new();
    assert_int_equal(fh_init(ctx), VIGIL_OK);
    dga_answers(ctx, 50, 1);
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].sid, 9400010);
    assert_string_equal(ctx->alerts[0].attack_category, "dga");
    assert_memory_equal(ctx->alerts[0].src.bytes, CLIENT.bytes, 4);
    assert_memory_equal(ctx->alerts[0].dst.bytes, RESOLVER.bytes, 4);
    fh_free(ctx);

    ctx = fh_new();
    assert_int_equal(fh_init(ctx), VIGIL_OK);
    dga_answers(ctx, 50, 0);    /* the same few typos and search names */
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 0);
    fh_free(ctx);
}

static void test_dns_over_tcp(void **unused)
{
    (void)unused;
    fh_host *ctx = fh_new();
    assert_int_equal(fh_init(ctx), VIGIL_OK);
    uint32_t seed = 3;
    uint8_t data[2048];
    fh_conn c = { CLIENT, RESOLVER, 40001, 53, { 0, 0 } };
    for (int round = 0; round < 6; round++) {
        size_t used = 0;
        for (int k = 0; k < 3; k++) {       /* three messages per DATA event */
            char label[40], name[96];
            random_label(&seed, label, 36, "abcdefghijklmnopqrstuvwxyz234567");
            snprintf(name, sizeof name, "%s.tcp.evil.example", label);
            size_t n = build_msg(data + used + 2, sizeof data - used - 2, 1, 0, 0, DNS_TYPE_TXT, name);
            data[used] = (uint8_t)(n >> 8);
            data[used + 1] = (uint8_t)n;
            used += n + 2;
        }
        fh_conn_event(ctx, &c, FH_T0 + round * FH_US, VIGIL_STREAM_DATA, VIGIL_DIR_TO_SERVER, data,
                      used);
    }
    fh_finish(ctx);
    assert_int_equal(ctx->nalerts, 1);
    assert_int_equal(ctx->alerts[0].ip_proto, 6);
    assert_non_null(strstr(ctx->alerts[0].meta_str, "queries=18;"));
    fh_free(ctx);
}

static void test_bounded_under_random_flood(void **unused)
{
    (void)unused;
    fh_host *ctx = fh_new();
    fh_set_int(ctx, "max_trackers", 256);
    fh_set_int(ctx, "max_clients", 64);
    assert_int_equal(fh_init(ctx), VIGIL_OK);
    uint32_t seed = 5;
    for (int i = 0; i < 200000; i++) {
        char a[16], b[16], name[64];
        random_label(&seed, a, 10, "abcdefghijklmnopqrstuvwxyz");
        random_label(&seed, b, 8, "abcdefghijklmnopqrstuvwxyz");
        snprintf(name, sizeof name, "%s.%s.com", a, b);
        vigil_addr src = fh_v4(FH_IP(198, 18, (uint8_t)(i >> 8), (uint8_t)i));
        send_dns(ctx, FH_T0 + i * 1000, src, RESOLVER, 0, 0, DNS_TYPE_A, name);
        send_dns(ctx, FH_T0 + i * 1000, RESOLVER, src, 1, DNS_RCODE_NXDOMAIN, DNS_TYPE_A, name);
    }
    fh_finish(ctx);
    assert_non_null(strstr(ctx->last_log, "trackers=256 "));
    assert_non_null(strstr(ctx->last_log, "clients=64 "));
    fh_free(ctx);
}

static void test_deterministic(void **unused)
{
    (void)unused;
    fh_host *run[2];
    for (int r = 0; r < 2; r++) {
        fh_host *ctx = run[r] = fh_new();
        assert_int_equal(fh_init(ctx), VIGIL_OK);
        tunnel_queries(ctx, fh_v4(FH_IP(198, 18, 0, 11)), 30, DNS_TYPE_TXT, "one.example");
        tunnel_queries(ctx, fh_v4(FH_IP(198, 18, 0, 12)), 30, DNS_TYPE_NULL, "two.example");
        dga_answers(ctx, 30, 1);
        fh_finish(ctx);
        assert_int_equal(ctx->nalerts, 3);
    }
    assert_int_equal(run[0]->nalerts, run[1]->nalerts);
    for (size_t i = 0; i < run[0]->nalerts; i++)
        fh_assert_alert_equal(&run[0]->alerts[i], &run[1]->alerts[i]);
    fh_free(run[0]);
    fh_free(run[1]);
}

static void test_bad_config_refused(void **unused)
{
    (void)unused;
    fh_host *ctx = fh_new();
    fh_set_int(ctx, "min_encoded_percent", 0);
    assert_int_not_equal(fh_init(ctx), VIGIL_OK);
    fh_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_query),
        cmocka_unit_test(test_parse_hostile_names),
        cmocka_unit_test(test_split_and_features),
        cmocka_unit_test(test_tunnel_alerts_once_with_counts),
        cmocka_unit_test(test_report_delay_and_window),
        cmocka_unit_test(test_benign_cdn_and_short_names_silent),
        cmocka_unit_test(test_no_tld_names_grouped),
        cmocka_unit_test(test_ignore_domains),
        cmocka_unit_test(test_dga),
        cmocka_unit_test(test_dns_over_tcp),
        cmocka_unit_test(test_bounded_under_random_flood),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_bad_config_refused),
    };
    return cmocka_run_group_tests(tests, setup, fh_unload_group) != 0;
}
