/*
 * test_stix.c - STIX 2.1 building blocks: deterministic SCO ids against
 * the shared vector table (read in place) and the spec's own example,
 * timestamps, TLP 2.0 marking definitions, ATT&CK references.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stix.h"

static void check_sco(const char *type, const char *json, const char *expect)
{
    json_error_t jerr;
    json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    char id[VIGIL_STIX_ID_LEN];

    if (!o)
        fail_msg("%s: %s", json, jerr.text);
    assert_int_equal(vigil_stix_sco_id(type, o, id, sizeof id), 0);
    json_decref(o);
    if (strcmp(id, expect) != 0)
        fail_msg("%s %s -> %s, want %s", type, json, id, expect);
}

/* STIX 2.1 section 2.9: the spec's own example. */
static void test_spec_example(void **state)
{
    (void)state;
    check_sco("ipv4-addr", "{\"value\":\"198.51.100.3\"}",
              "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4");
    char id[VIGIL_STIX_ID_LEN];
    json_t *o = vigil_stix_addr_sco(4, "198.51.100.3", id, sizeof id);
    assert_non_null(o);
    assert_string_equal(id, "ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4");
    assert_string_equal(json_string_value(json_object_get(o, "id")), id);
    json_decref(o);
}

static void test_sco_vectors(void **state)
{
    (void)state;
    const char *root = getenv("VIGIL_SHARED");
    char path[PATH_MAX], line[2048];
    snprintf(path, sizeof path, "%s/vectors/stix21-sco-ids.tsv",
             root && *root ? root : "../shared");
    FILE *fp = fopen(path, "r");
    if (!fp)
        skip();
    size_t n = 0;
    while (fgets(line, sizeof line, fp)) {
        char *f[4] = { line, NULL, NULL, NULL };
        for (int i = 1; i < 4; i++) {
            char *t = f[i - 1] ? strchr(f[i - 1], '\t') : NULL;
            if (t) {
                *t = '\0';
                f[i] = t + 1;
            }
        }
        if (!f[2] || strcmp(f[0], "type") == 0)
            continue;
        f[2][strcspn(f[2], "\t\r\n")] = '\0';
        check_sco(f[0], f[1], f[2]);
        n++;
    }
    fclose(fp);
    assert_int_equal(n, 14);
    print_message("STIX SCO id vectors: %zu/14\n", n);
}

static void test_timestamps(void **state)
{
    (void)state;
    char b[VIGIL_STIX_TS_LEN];
    assert_int_equal(vigil_stix_ts(INT64_C(1700000000123456), b, sizeof b), 0);
    assert_string_equal(b, "2023-11-14T22:13:20.123Z");
    assert_int_equal(vigil_stix_ts(0, b, sizeof b), 0);
    assert_string_equal(b, "1970-01-01T00:00:00.000Z");
    assert_int_equal(vigil_stix_ts(-1, b, sizeof b), 0);
    assert_string_equal(b, "1969-12-31T23:59:59.999Z");
    assert_int_equal(vigil_stix_ts(INT64_MAX, b, sizeof b), 0);
    assert_string_equal(b, "9999-12-31T23:59:59.999Z");
    assert_int_equal(vigil_stix_ts(0, b, 10), -1);
}

static void test_tlp_markings(void **state)
{
    (void)state;
    static const char *const want[] = {
        "{\"type\":\"marking-definition\",\"spec_version\":\"2.1\",\"id\":\"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487\",\"created\":\"2022-10-01T00:00:00.000Z\",\"name\":\"TLP:CLEAR\",\"extensions\":{\"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d\":{\"extension_type\":\"property-extension\",\"tlp_2_0\":\"clear\"}}}",
        "{\"type\":\"marking-definition\",\"spec_version\":\"2.1\",\"id\":\"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb\",\"created\":\"2022-10-01T00:00:00.000Z\",\"name\":\"TLP:GREEN\",\"extensions\":{\"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d\":{\"extension_type\":\"property-extension\",\"tlp_2_0\":\"green\"}}}",
        "{\"type\":\"marking-definition\",\"spec_version\":\"2.1\",\"id\":\"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421\",\"created\":\"2022-10-01T00:00:00.000Z\",\"name\":\"TLP:AMBER\",\"extensions\":{\"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d\":{\"extension_type\":\"property-extension\",\"tlp_2_0\":\"amber\"}}}",
        "{\"type\":\"marking-definition\",\"spec_version\":\"2.1\",\"id\":\"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003\",\"created\":\"2022-10-01T00:00:00.000Z\",\"name\":\"TLP:AMBER+STRICT\",\"extensions\":{\"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d\":{\"extension_type\":\"property-extension\",\"tlp_2_0\":\"amber+strict\"}}}",
        "{\"type\":\"marking-definition\",\"spec_version\":\"2.1\",\"id\":\"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1\",\"created\":\"2022-10-01T00:00:00.000Z\",\"name\":\"TLP:RED\",\"extensions\":{\"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d\":{\"extension_type\":\"property-extension\",\"tlp_2_0\":\"red\"}}}",
    };
    for (int t = VIGIL_TLP_CLEAR; t <= VIGIL_TLP_RED; t++) {
        json_t *m = vigil_stix_tlp_marking((enum vigil_tlp)t);
        char *s = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_string_equal(s, want[t]);
        assert_string_equal(json_string_value(json_object_get(m, "id")),
                            vigil_stix_tlp_marking_id((enum vigil_tlp)t));
        free(s);
        json_decref(m);
    }
    assert_int_equal(vigil_tlp_parse("AMBER+STRICT"), VIGIL_TLP_AMBER_STRICT);
    assert_int_equal(vigil_tlp_parse("tlp:white"), VIGIL_TLP_CLEAR);
    assert_int_equal(vigil_tlp_parse("purple"), -1);
    assert_string_equal(vigil_tlp_name(VIGIL_TLP_AMBER_STRICT), "amber+strict");
}

static void test_sdo_ids(void **state)
{
    (void)state;
    char a[VIGIL_STIX_ID_LEN], b[VIGIL_STIX_ID_LEN], c[VIGIL_STIX_ID_LEN];
    vigil_stix_sdo_id("indicator", "x", a, sizeof a);
    vigil_stix_sdo_id("indicator", "x", b, sizeof b);
    vigil_stix_sdo_id("indicator", "y", c, sizeof c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strncmp(a, "indicator--", 11), 0);
    assert_int_equal(a[11 + 14], '5');      /* version 5 */
    for (const char *p = a; *p; p++)
        assert_false(*p >= 'A' && *p <= 'Z');
    /* not the SCO namespace: the same name gives a different UUID */
    char u1[37], u2[37];
    vigil_uuid5(vigil_stix_sco_namespace, "x", 1, u1);
    vigil_uuid5(vigil_stix_producer_namespace, "x", 1, u2);
    assert_string_not_equal(u1, u2);
}

static void test_attack(void **state)
{
    (void)state;
    char url[96];
    vigil_attack_url("T1046", url, sizeof url);
    assert_string_equal(url, "https://attack.mitre.org/techniques/T1046/");
    vigil_attack_url("T1110.001", url, sizeof url);
    assert_string_equal(url, "https://attack.mitre.org/techniques/T1110/001/");
    assert_string_equal(vigil_attack_name("T1046"), "Network Service Discovery");
    assert_null(vigil_attack_name("T9999"));
    assert_true(vigil_attack_id_valid("T1071.004"));
    assert_false(vigil_attack_id_valid("T10"));
    assert_false(vigil_attack_id_valid("X1046"));
    assert_false(vigil_attack_id_valid("T1046.1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_sco_vectors),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_tlp_markings),
        cmocka_unit_test(test_sdo_ids),
        cmocka_unit_test(test_attack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL) != 0;
}
