/* test_config.c - the settings parser: good files and every error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static int parse(struct vigil_config *c, const char *text, char *err, size_t errlen)
{
    return vigil_config_parse(c, "rules/t.conf", text, strlen(text), err, errlen);
}

static void test_parses_sections_keys_comments(void **state)
{
    (void)state;
    struct vigil_config c;
    vigil_config_init(&c);
    char err[512];
    const char *text = "# comment\n; also a comment\n\n[vigil]\n  n_tcp_streams = 4096  \n"
                       "[portscan]\r\nwindow_sec=60\r\nname = two words # kept\n";
    assert_int_equal(parse(&c, text, err, sizeof err), 0);
    assert_int_equal(c.count, 3);
    struct vigil_config_entry *e = vigil_config_find(&c, "vigil", "n_tcp_streams");
    assert_non_null(e);
    assert_string_equal(e->value, "4096");
    assert_int_equal(e->line, 5);
    assert_string_equal(e->file, "rules/t.conf");
    assert_int_equal(e->used, 1);
    e = vigil_config_find(&c, "portscan", "name");
    assert_string_equal(e->value, "two words # kept");
    assert_null(vigil_config_find(&c, "portscan", "n_tcp_streams"));
    int64_t v;
    assert_int_equal(vigil_config_int(&c, "portscan", "window_sec", 1, 1, 100, &v, err,
                                      sizeof err), 0);
    assert_int_equal(v, 60);
    assert_int_equal(vigil_config_int(&c, "portscan", "absent", 7, 1, 100, &v, err,
                                      sizeof err), 0);
    assert_int_equal(v, 7);
    vigil_config_free(&c);
}

/* Each malformed input must fail and name the file and the right line. */
static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *expect;
    } cases[] = {
        { "[vigil]\nno equals sign\n", "rules/t.conf:2: expected 'key = value'" },
        { "key = 1\n", "rules/t.conf:1: setting before any [section]" },
        { "[vigil]\n= 3\n", "rules/t.conf:2: missing key" },
        { "[vigil]\nkey =\n", "rules/t.conf:2: missing value" },
        { "[vigil]\nKey = 1\n", "rules/t.conf:2: column 1: keys use" },
        { "[vigil\n", "rules/t.conf:1: section header must be [name]" },
        { "[]\n", "rules/t.conf:1: section header must be [name]" },
        { "[ ]\n", "rules/t.conf:1: empty section name" },
        { "[Vigil]\n", "rules/t.conf:1: column 2: section names" },
        { "[vigil]\na = 1\nb = 2\na = 3\n", "rules/t.conf:4: duplicate key 'a' in [vigil] (first set at rules/t.conf:2)" },
        { "[vigil]\na = \x01\n", "rules/t.conf:2: column 5: control character" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct vigil_config c;
        vigil_config_init(&c);
        char err[512] = "";
        assert_int_equal(parse(&c, cases[i].text, err, sizeof err), -1);
        if (strstr(err, cases[i].expect) == NULL)
            fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].expect);
        vigil_config_free(&c);
    }
}

static void test_nul_and_long_lines(void **state)
{
    (void)state;
    struct vigil_config c;
    vigil_config_init(&c);
    char err[512];
    const char with_nul[] = "[vigil]\na = 1\0x\n";
    assert_int_equal(vigil_config_parse(&c, "n.conf", with_nul, sizeof with_nul - 1, err,
                                        sizeof err), -1);
    assert_non_null(strstr(err, "n.conf:2: NUL byte"));
    vigil_config_free(&c);
    vigil_config_init(&c);
    size_t n = 10000;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    assert_int_equal(vigil_config_parse(&c, "l.conf", big, n, err, sizeof err), -1);
    assert_non_null(strstr(err, "l.conf:1: line longer than"));
    free(big);
    vigil_config_free(&c);
}

static void test_int_values_checked(void **state)
{
    (void)state;
    struct vigil_config c;
    vigil_config_init(&c);
    char err[512];
    assert_int_equal(parse(&c, "[d]\nnotint = 12x\nbig = 101\nneg = -5\nhuge = 99999999999999999999\n",
                           err, sizeof err), 0);
    int64_t v = 0;
    assert_int_equal(vigil_config_int(&c, "d", "notint", 0, 0, 100, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "rules/t.conf:2: notint: '12x' is not an integer"));
    assert_int_equal(vigil_config_int(&c, "d", "big", 0, 0, 100, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "rules/t.conf:3: big: 101 is outside [0, 100]"));
    assert_int_equal(vigil_config_int(&c, "d", "neg", 0, -10, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, -5);
    assert_int_equal(vigil_config_int(&c, "d", "huge", 0, 0, 100, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "rules/t.conf:5"));
    vigil_config_free(&c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_load_dir_reads_conf_files_in_order(void **state)
{
    (void)state;
    char dir[] = "/tmp/vigil-conf-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[256], b[256], other[256];
    snprintf(a, sizeof a, "%s/b.conf", dir);
    snprintf(b, sizeof b, "%s/a.conf", dir);
    snprintf(other, sizeof other, "%s/notes.txt", dir);
    write_file(a, "[x]\nk2 = 2\n");
    write_file(b, "[x]\nk1 = 1\n");
    write_file(other, "this is not parsed\n");
    struct vigil_config c;
    vigil_config_init(&c);
    char err[512];
    assert_int_equal(vigil_config_load_dir(&c, dir, err, sizeof err), 0);
    assert_int_equal(c.count, 2);
    assert_string_equal(c.entries[0].key, "k1");     /* a.conf first */
    assert_non_null(strstr(c.entries[1].file, "b.conf"));
    vigil_config_free(&c);
    /* A duplicate across files names both places. */
    write_file(a, "[x]\nk1 = 3\n");
    vigil_config_init(&c);
    assert_int_equal(vigil_config_load_dir(&c, dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "b.conf:2: duplicate key 'k1'"));
    assert_non_null(strstr(err, "a.conf:2"));
    vigil_config_free(&c);
    vigil_config_init(&c);
    assert_int_equal(vigil_config_load_dir(&c, "/nonexistent-vigil", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent-vigil: No such file"));
    vigil_config_free(&c);
    unlink(a);
    unlink(b);
    unlink(other);
    rmdir(dir);
}

static void test_repository_rules_parse(void **state)
{
    (void)state;
    struct vigil_config c;
    vigil_config_init(&c);
    char err[512] = "";
    int rc = vigil_config_load_dir(&c, "rules", err, sizeof err);
    if (rc != 0)
        fail_msg("rules/: %s", err);
    assert_non_null(vigil_config_find(&c, "vigil", "n_tcp_streams"));
    vigil_config_free(&c);
}

/* A path in a settings file is read from that file's directory; one given
 * on the command line (line 0) from the working directory. */
static void test_paths_relative_to_their_file(void **state)
{
    (void)state;
    struct vigil_config c;
    vigil_config_init(&c);
    char err[512];
    assert_int_equal(parse(&c, "[sharing]\nkey = keys/cp.key\nabs = /etc/cp.key\n", err,
                           sizeof err), 0);
    char *p = vigil_config_entry_path(vigil_config_find(&c, "sharing", "key"));
    assert_string_equal(p, "rules/keys/cp.key");
    free(p);
    p = vigil_config_entry_path(vigil_config_find(&c, "sharing", "abs"));
    assert_string_equal(p, "/etc/cp.key");
    free(p);
    assert_int_equal(vigil_config_set(&c, "--set", "sharing", "key", "cp.key", err, sizeof err), 0);
    p = vigil_config_entry_path(vigil_config_find(&c, "sharing", "key"));
    assert_string_equal(p, "cp.key");
    free(p);
    vigil_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_sections_keys_comments),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_nul_and_long_lines),
        cmocka_unit_test(test_int_values_checked),
        cmocka_unit_test(test_load_dir_reads_conf_files_in_order),
        cmocka_unit_test(test_repository_rules_parse),
        cmocka_unit_test(test_paths_relative_to_their_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
