/*
 * test_community_id.c - Community ID v1 against the published baseline and
 * the flow_id properties the EVE writer relies on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "community_id.h"

/* Parse a textual IPv4/IPv6 address into a vigil_addr; 0 on success. */
static int parse_addr(const char *text, vigil_addr *out)
{
    memset(out, 0, sizeof *out);
    if (strchr(text, ':')) {
        out->family = 6;
        return inet_pton(AF_INET6, text, out->bytes) == 1 ? 0 : -1;
    }
    out->family = 4;
    return inet_pton(AF_INET, text, out->bytes) == 1 ? 0 : -1;
}

struct vector {
    uint8_t proto;
    const char *saddr, *daddr;
    uint16_t sport, dport;
    uint16_t seed;
    int base64;
    const char *expect;
};

/*
 * A few tuples from the corelight/community-id-spec baseline (the
 * baseline_deflt, baseline_seed1 and baseline_nob64 outputs), kept here so
 * the test asserts something when the shared vector folder is absent.
 */
static const struct vector embedded[] = {
    {6, "128.232.110.120", "66.35.250.204", 34855, 80, 0, 1,
     "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
    {17, "8.8.8.8", "192.168.1.52", 53, 54585, 0, 1,
     "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
    {1, "192.168.0.1", "192.168.0.89", 0, 8, 0, 1,
     "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
    {1, "10.0.0.1", "10.0.0.2", 11, 0, 0, 1,
     "1:YHxtAirCG//0OzkcVAukqKQN9xM="},
    {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, 0, 1,
     "1:zavyT/cezQr1fmImYCwYnMXbgck="},
    {46, "10.1.12.2", "10.1.12.1", 0, 0, 0, 1,
     "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
    {132, "192.168.170.8", "192.168.170.56", 7, 7, 1, 1,
     "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
    {6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a",
     63943, 25, 0, 0, "1:fea15a78047e8057b52988cccd50ec32ffb0814e"},
};

static void check_vector(const struct vector *v)
{
    vigil_addr s, d;
    char out[VIGIL_COMMUNITY_ID_LEN];

    assert_int_equal(parse_addr(v->saddr, &s), 0);
    assert_int_equal(parse_addr(v->daddr, &d), 0);
    assert_int_equal(vigil_community_id(&s, &d, v->sport, v->dport, v->proto,
                                        v->seed, v->base64, out, sizeof out), 0);
    if (strcmp(out, v->expect) != 0)
        fail_msg("proto %u %s:%u -> %s:%u seed %u: got %s, want %s", v->proto,
                 v->saddr, v->sport, v->daddr, v->dport, v->seed, out, v->expect);
}

static void test_embedded_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof embedded / sizeof embedded[0]; i++)
        check_vector(&embedded[i]);
}

/* The shared vector folder, or NULL when this checkout has none. */
static const char *vector_dir(char *buf, size_t len)
{
    const char *root = getenv("VIGIL_SHARED");
    struct stat st;

    snprintf(buf, len, "%s/vectors/community-id", root && *root ? root : "../shared");
    return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? buf : NULL;
}

static uint16_t port_of(json_t *v)
{
    return json_is_integer(v) ? (uint16_t)json_integer_value(v) : 0;
}

/* Check every tuple of one baseline file; returns how many were checked. */
static size_t check_baseline(const char *dir, const char *file, uint16_t seed, int base64)
{
    char path[PATH_MAX];
    json_error_t err;

    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        fail_msg("%s:%d: %s", path, err.line, err.text);
    assert_true(json_is_array(root));

    size_t i;
    json_t *t;
    json_array_foreach(root, i, t) {
        struct vector v = {
            .proto = (uint8_t)json_integer_value(json_object_get(t, "proto")),
            .saddr = json_string_value(json_object_get(t, "saddr")),
            .daddr = json_string_value(json_object_get(t, "daddr")),
            .sport = port_of(json_object_get(t, "sport")),
            .dport = port_of(json_object_get(t, "dport")),
            .seed = seed,
            .base64 = base64,
            .expect = json_string_value(json_object_get(t, "communityid")),
        };
        assert_non_null(v.saddr);
        assert_non_null(v.daddr);
        assert_non_null(v.expect);
        check_vector(&v);
    }
    size_t n = json_array_size(root);
    json_decref(root);
    return n;
}

static void test_baseline_files(void **state)
{
    char buf[PATH_MAX];
    const char *dir = vector_dir(buf, sizeof buf);

    (void)state;
    if (!dir) {
        skip();
        return;
    }
    size_t n = check_baseline(dir, "baseline_deflt.json", 0, 1);
    n += check_baseline(dir, "baseline_seed1.json", 1, 1);
    n += check_baseline(dir, "baseline_nob64.json", 0, 0);
    assert_true(n >= 3 * 20);
}

static void test_both_directions_match(void **state)
{
    static const uint8_t protos[] = {6, 17, 132, 1, 58, 47};
    vigil_addr a, b;
    char fwd[VIGIL_COMMUNITY_ID_LEN], rev[VIGIL_COMMUNITY_ID_LEN];

    (void)state;
    for (size_t i = 0; i < sizeof protos; i++) {
        int v6 = protos[i] == 58;
        parse_addr(v6 ? "2001:db8::10" : "198.18.0.10", &a);
        parse_addr(v6 ? "2001:db8::1" : "198.19.3.1", &b);
        /* echo request/reply for ICMP, ordinary ports otherwise */
        uint16_t sp = protos[i] == 1 ? 8 : protos[i] == 58 ? 128 : 40000;
        uint16_t dp = protos[i] == 1 ? 0 : protos[i] == 58 ? 0 : 443;
        uint16_t rsp = protos[i] == 1 ? 0 : protos[i] == 58 ? 129 : 443;
        uint16_t rdp = protos[i] == 1 || protos[i] == 58 ? 0 : 40000;
        assert_int_equal(vigil_community_id(&a, &b, sp, dp, protos[i], 0, 1, fwd, sizeof fwd), 0);
        assert_int_equal(vigil_community_id(&b, &a, rsp, rdp, protos[i], 0, 1, rev, sizeof rev), 0);
        assert_string_equal(fwd, rev);
        assert_int_equal(strlen(fwd), 30);
        assert_memory_equal(fwd, "1:", 2);
    }
}

static void test_icmp_one_way(void **state)
{
    vigil_addr a, b;
    char fwd[VIGIL_COMMUNITY_ID_LEN], rev[VIGIL_COMMUNITY_ID_LEN];

    (void)state;
    parse_addr("198.18.0.10", &a);
    parse_addr("198.18.0.2", &b);
    /* destination unreachable (3) has no counterpart: endpoints keep their order */
    assert_int_equal(vigil_community_id(&a, &b, 3, 1, 1, 0, 1, fwd, sizeof fwd), 0);
    assert_int_equal(vigil_community_id(&b, &a, 3, 1, 1, 0, 1, rev, sizeof rev), 0);
    assert_string_not_equal(fwd, rev);
    /* ...and the ports of a TCP flow with the same numbers would be swapped */
    assert_int_equal(vigil_community_id(&a, &b, 3, 1, 6, 0, 1, fwd, sizeof fwd), 0);
    assert_int_equal(vigil_community_id(&b, &a, 1, 3, 6, 0, 1, rev, sizeof rev), 0);
    assert_string_equal(fwd, rev);
}

static void test_hex_mode(void **state)
{
    vigil_addr a, b;
    char out[VIGIL_COMMUNITY_ID_LEN];

    (void)state;
    parse_addr("198.18.0.1", &a);
    parse_addr("198.18.0.2", &b);
    assert_int_equal(vigil_community_id(&a, &b, 1, 2, 17, 0, 0, out, sizeof out), 0);
    assert_int_equal(strlen(out), 42);
    assert_memory_equal(out, "1:", 2);
    for (const char *p = out + 2; *p; p++)
        assert_non_null(strchr("0123456789abcdef", *p));
    /* the buffer must fit the whole id */
    assert_int_equal(vigil_community_id(&a, &b, 1, 2, 17, 0, 0, out, 42), -1);
    assert_int_equal(vigil_community_id(&a, &b, 1, 2, 17, 0, 1, out, 31), 0);
    assert_int_equal(vigil_community_id(&a, &b, 1, 2, 17, 0, 1, out, 30), -1);
}

static void test_bad_families(void **state)
{
    vigil_addr v4, v6, none = {0};
    char out[VIGIL_COMMUNITY_ID_LEN];

    (void)state;
    parse_addr("198.18.0.1", &v4);
    parse_addr("2001:db8::1", &v6);
    assert_int_equal(vigil_community_id(&v4, &v6, 1, 2, 6, 0, 1, out, sizeof out), -1);
    assert_int_equal(vigil_community_id(&v6, &v4, 1, 2, 6, 0, 1, out, sizeof out), -1);
    assert_int_equal(vigil_community_id(&none, &none, 1, 2, 6, 0, 1, out, sizeof out), -1);
    assert_int_equal(vigil_community_id(NULL, &v4, 1, 2, 6, 0, 1, out, sizeof out), -1);
}

static void test_flow_id(void **state)
{
    vigil_addr a, b, c, d;
    const uint64_t limit = UINT64_C(1) << 53;

    (void)state;
    parse_addr("198.18.0.1", &a);
    parse_addr("198.18.0.2", &b);
    parse_addr("2001:db8::1", &c);
    parse_addr("2001:db8::2", &d);

    uint64_t f = vigil_flow_id(&a, &b, 40000, 80, 6, 1700000000000000);
    assert_int_equal(f, vigil_flow_id(&b, &a, 80, 40000, 6, 1700000000000000));
    assert_int_equal(f, vigil_flow_id(&a, &b, 40000, 80, 6, 1700000000000000));
    assert_true(f != 0 && f < limit);
    assert_int_not_equal(f, vigil_flow_id(&a, &b, 40000, 80, 6, 1700000000000001));
    assert_int_not_equal(f, vigil_flow_id(&a, &b, 40000, 80, 17, 1700000000000000));
    assert_int_not_equal(f, vigil_flow_id(&a, &b, 40001, 80, 6, 1700000000000000));

    uint64_t g = vigil_flow_id(&c, &d, 5353, 5353, 17, -5);
    assert_int_equal(g, vigil_flow_id(&d, &c, 5353, 5353, 17, -5));
    assert_true(g != 0 && g < limit);

    /* many flows: always nonzero and below 2^53, and the bits spread */
    uint64_t seen_or = 0;
    for (uint16_t port = 1; port < 2000; port++) {
        uint64_t id = vigil_flow_id(&a, &b, port, 443, 6, 0);
        assert_true(id != 0 && id < limit);
        assert_int_equal(id, vigil_flow_id(&b, &a, 443, port, 6, 0));
        seen_or |= id;
    }
    assert_int_equal(seen_or, limit - 1);
    assert_true(vigil_flow_id(NULL, NULL, 0, 0, 0, 0) != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_vectors),
        cmocka_unit_test(test_baseline_files),
        cmocka_unit_test(test_both_directions_match),
        cmocka_unit_test(test_icmp_one_way),
        cmocka_unit_test(test_hex_mode),
        cmocka_unit_test(test_bad_families),
        cmocka_unit_test(test_flow_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
