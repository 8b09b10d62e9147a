/*
 * test_cryptopan.c - Crypto-PAn against the published vectors (the
 * original Crypto-PAn 1.0 sample trace, the IPv6 extension vectors, other
 * keys) read in place from the shared vector folder, a few embedded pairs
 * so something is always checked, prefix preservation, and the key-file
 * rules (mode, length, formats).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cryptopan.h"

/* The sample key of the Crypto-PAn 1.0 distribution (sample.cpp). */
static const char sample_key_hex[] =
    "1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202";

/* A few pairs of the Crypto-PAn 1.0 sample trace and of the IPv6 extension. */
static const struct {
    const char *in, *out;
} embedded[] = {
    { "24.5.0.80", "100.9.15.210" },
    { "24.13.62.231", "100.2.192.247" },
    { "208.234.120.210", "227.154.67.17" },
    { "::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed" },
    { "2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e" },
};

static struct vigil_cryptopan *sample_cp(void)
{
    uint8_t key[32];
    assert_int_equal(vigil_cryptopan_parse_hex(sample_key_hex, 64, key), 0);
    struct vigil_cryptopan *cp = vigil_cryptopan_new(key);
    assert_non_null(cp);
    return cp;
}

/* Anonymise text with cp; returns 0 and the result text, -1 on bad input. */
static int anon_text(struct vigil_cryptopan *cp, const char *in, char *out, size_t len)
{
    uint8_t a[16], b[16];
    if (inet_pton(AF_INET, in, a) == 1) {
        assert_int_equal(vigil_cryptopan_ipv4(cp, a, b), 0);
        assert_non_null(inet_ntop(AF_INET, b, out, (socklen_t)len));
        return 0;
    }
    if (inet_pton(AF_INET6, in, a) == 1) {
        assert_int_equal(vigil_cryptopan_ipv6(cp, a, b), 0);
        assert_non_null(inet_ntop(AF_INET6, b, out, (socklen_t)len));
        return 0;
    }
    return -1;
}

static void check_pair(struct vigil_cryptopan *cp, const char *in, const char *expect)
{
    char got[64];
    assert_int_equal(anon_text(cp, in, got, sizeof got), 0);
    /* compare as addresses: the vectors may be written differently */
    uint8_t g[16], e[16];
    int fam = strchr(expect, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(fam, expect, e), 1);
    assert_int_equal(inet_pton(fam, got, g), 1);
    if (memcmp(g, e, fam == AF_INET ? 4 : 16) != 0)
        fail_msg("%s -> %s, want %s", in, got, expect);
}

static void test_embedded(void **state)
{
    (void)state;
    struct vigil_cryptopan *cp = sample_cp();
    for (size_t i = 0; i < sizeof embedded / sizeof embedded[0]; i++)
        check_pair(cp, embedded[i].in, embedded[i].out);
    vigil_cryptopan_free(cp);
}

static FILE *open_vector(const char *name)
{
    const char *root = getenv("VIGIL_SHARED");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/vectors/%s", root && *root ? root : "../shared", name);
    return fopen(path, "r");
}

/* Check every "in<TAB>out" line of a two-column file; returns the count. */
static size_t check_file(const char *name, size_t *lines)
{
    FILE *fp = open_vector(name);
    char line[512];
    size_t n = 0;

    *lines = 0;
    if (!fp)
        return 0;
    struct vigil_cryptopan *cp = sample_cp();
    while (fgets(line, sizeof line, fp)) {
        char *tab = strchr(line, '\t');
        if (!tab || strncmp(line, "original", 8) == 0)
            continue;
        (*lines)++;
        *tab = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        char *out = tab + 1;
        out[strcspn(out, "\t\r\n")] = '\0';
        check_pair(cp, line, out);
        n++;
    }
    fclose(fp);
    vigil_cryptopan_free(cp);
    return n;
}

static void test_ipv4_vectors(void **state)
{
    (void)state;
    size_t lines, n = check_file("cryptopan-ipv4.tsv", &lines);
    if (lines == 0)
        skip();
    assert_int_equal(n, 70);
    print_message("cryptopan IPv4 vectors: %zu/70\n", n);
}

static void test_ipv6_vectors(void **state)
{
    (void)state;
    size_t lines, n = check_file("cryptopan-ipv6.tsv", &lines);
    if (lines == 0)
        skip();
    assert_int_equal(n, 5);
    print_message("cryptopan IPv6 vectors: %zu/5\n", n);
}

static void test_other_keys(void **state)
{
    (void)state;
    FILE *fp = open_vector("cryptopan-otherkeys.tsv");
    char line[512];
    size_t n = 0;

    if (!fp)
        skip();
    while (fgets(line, sizeof line, fp)) {
        char *f[4] = { line, NULL, NULL, NULL };
        for (int i = 1; i < 4; i++) {
            char *t = f[i - 1] ? strchr(f[i - 1], '\t') : NULL;
            if (t) {
                *t = '\0';
                f[i] = t + 1;
            }
        }
        if (!f[2] || strcmp(f[0], "key_hex") == 0)
            continue;
        f[2][strcspn(f[2], "\t\r\n")] = '\0';
        uint8_t key[32];
        assert_int_equal(vigil_cryptopan_parse_hex(f[0], strlen(f[0]), key), 0);
        struct vigil_cryptopan *cp = vigil_cryptopan_new(key);
        assert_non_null(cp);
        check_pair(cp, f[1], f[2]);
        vigil_cryptopan_free(cp);
        n++;
    }
    fclose(fp);
    assert_int_equal(n, 5);
}

/* A shared k-bit prefix stays a shared k-bit prefix (and no more). */
static unsigned common_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    for (unsigned i = 0; i < bits; i++)
        if (((a[i / 8] >> (7 - i % 8)) & 1) != ((b[i / 8] >> (7 - i % 8)) & 1))
            return i;
    return bits;
}

static void test_prefix_preserving(void **state)
{
    (void)state;
    struct vigil_cryptopan *cp = sample_cp();
    uint32_t x = 0x12345678;
    for (int i = 0; i < 200; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t y = x ^ (1u << (i % 32)) ^ (i & 1 ? 0 : (x >> 7));
        uint8_t a[4], b[4], aa[4], bb[4];
        for (int k = 0; k < 4; k++) {
            a[k] = (uint8_t)(x >> (24 - 8 * k));
            b[k] = (uint8_t)(y >> (24 - 8 * k));
        }
        assert_int_equal(vigil_cryptopan_ipv4(cp, a, aa), 0);
        assert_int_equal(vigil_cryptopan_ipv4(cp, b, bb), 0);
        assert_int_equal(common_prefix(a, b, 32), common_prefix(aa, bb, 32));
    }
    uint8_t v6a[16] = { 0x20, 0x01, 0x0d, 0xb8 }, v6b[16] = { 0x20, 0x01, 0x0d, 0xb9 };
    uint8_t o6a[16], o6b[16];
    assert_int_equal(vigil_cryptopan_ipv6(cp, v6a, o6a), 0);
    assert_int_equal(vigil_cryptopan_ipv6(cp, v6b, o6b), 0);
    assert_int_equal(common_prefix(o6a, o6b, 128), common_prefix(v6a, v6b, 128));
    vigil_cryptopan_free(cp);
}

/* ---- key files ------------------------------------------------------ */

static void write_key(char *path, size_t len, const void *data, size_t n, mode_t mode)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, len, "%s/vigil_cpkey_XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void test_key_file_raw_and_hex(void **state)
{
    (void)state;
    char path[PATH_MAX], err[512];
    uint8_t raw[32], key[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)(i * 7 + 1);

    write_key(path, sizeof path, raw, 32, 0600);
    assert_int_equal(vigil_cryptopan_load_key(path, key, err, sizeof err), 0);
    assert_memory_equal(key, raw, 32);
    unlink(path);

    write_key(path, sizeof path, raw, 32, 0400);
    assert_int_equal(vigil_cryptopan_load_key(path, key, err, sizeof err), 0);
    unlink(path);

    char hex[80];
    snprintf(hex, sizeof hex, "%s\n", sample_key_hex);
    write_key(path, sizeof path, hex, strlen(hex), 0600);
    assert_int_equal(vigil_cryptopan_load_key(path, key, err, sizeof err), 0);
    assert_int_equal(key[0], 0x15);
    assert_int_equal(key[31], 0x02);
    unlink(path);
}

static void test_key_file_refused(void **state)
{
    (void)state;
    char path[PATH_MAX], err[512];
    uint8_t raw[40] = { 0 }, key[32];

    /* readable by group or others */
    const mode_t bad[] = { 0644, 0640, 0604, 0660, 0606, 0620, 0602 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_key(path, sizeof path, raw, 32, bad[i]);
        err[0] = '\0';
        assert_int_equal(vigil_cryptopan_load_key(path, key, err, sizeof err), -1);
        assert_non_null(strstr(err, "chmod 600"));
        unlink(path);
    }
    /* wrong lengths */
    const size_t lens[] = { 0, 16, 31, 33, 40 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        write_key(path, sizeof path, raw, lens[i], 0600);
        err[0] = '\0';
        assert_int_equal(vigil_cryptopan_load_key(path, key, err, sizeof err), -1);
        assert_non_null(strstr(err, "32 raw bytes or 64 hex"));
        unlink(path);
    }
    /* 64 characters that are not hex */
    char nothex[65];
    memset(nothex, 'g', 64);
    write_key(path, sizeof path, nothex, 64, 0600);
    assert_int_equal(vigil_cryptopan_load_key(path, key, err, sizeof err), -1);
    unlink(path);
    /* missing file, directory */
    assert_int_equal(vigil_cryptopan_load_key("/nonexistent/vigil.key", key, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/vigil.key"));
    assert_int_equal(vigil_cryptopan_load_key("/", key, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded),
        cmocka_unit_test(test_ipv4_vectors),
        cmocka_unit_test(test_ipv6_vectors),
        cmocka_unit_test(test_other_keys),
        cmocka_unit_test(test_prefix_preserving),
        cmocka_unit_test(test_key_file_raw_and_hex),
        cmocka_unit_test(test_key_file_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
